"""Profile one benchmark loop: where does the per-call time go?

Runs one side of one loop of ``bench_api.py``, ``bench_driver.py`` or
``bench_fake.py`` (chosen by a substring of its name) under a profiler,
pinned to one CPU as the benchmarks are:

    .venv/bin/python bench/profile_loop.py api "array.array"
    .venv/bin/python bench/profile_loop.py fake "ping-pong" --tool pyinstrument
    .venv/bin/python bench/profile_loop.py api "TCP" --side std -n 2000

``--side ours`` (the default) is the second loop of the case (sansock, or
the fake kernel in ``bench_fake.py``), ``--side std`` the first.
``--tool cprofile`` (the default, in the stdlib) prints the functions by
internal time, then by cumulative time; ``--tool pyinstrument`` (a sampling
profiler, much lower overhead; ``pip install pyinstrument``, not a
dependency of the project) prints its call tree.  ``--tool none`` only
times the loop (ns per iteration), as a baseline for the profilers'
overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import load, machine, pin_to_one_cpu, select


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bench", choices=["api", "driver", "fake"])
    parser.add_argument("loop", help="a substring of the loop's name")
    parser.add_argument("--side", choices=["ours", "std"], default="ours")
    parser.add_argument("--tool", choices=["cprofile", "pyinstrument", "none"], default="cprofile")
    parser.add_argument("-n", type=int, default=5000, help="iterations (default 5000)")
    parser.add_argument("--top", type=int, default=25, help="rows of the cProfile tables")
    args = parser.parse_args()

    mod = importlib.import_module(f"bench_{args.bench}")
    if args.bench == "api":
        specs = mod.specs(64)
    elif args.bench == "fake":
        specs = mod.specs()
    else:
        raise SystemExit("bench_driver.py builds its specs in main(); profile it with --side on api")
    (spec,) = select(specs, args.loop)[:1]
    print(f"{spec.name} [{args.side}]: {machine()}; {pin_to_one_cpu()}; {load()}")
    std, ours, cleanup = spec.make()
    loop = ours if args.side == "ours" else std
    try:
        loop(min(args.n, 1000))  # warm up
        t0 = time.perf_counter()
        loop(args.n)
        plain = time.perf_counter() - t0
        print(f"unprofiled: {plain / args.n * 1e9:,.0f} ns per iteration ({args.n} iterations)")
        if args.tool == "cprofile":
            profiler = cProfile.Profile()
            profiler.enable()
            loop(args.n)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
        elif args.tool == "pyinstrument":
            from pyinstrument import Profiler

            sampler = Profiler(interval=0.0002)
            sampler.start()
            loop(args.n)
            sampler.stop()
            print(sampler.output_text(unicode=False, color=False, show_all=False))
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
