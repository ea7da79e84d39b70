"""Fake-kernel benchmark: the fake kernel against the native driver, and what
a virtual timeout costs.

The fake kernel is a product too: a test suite that opens thousands of
connections on it should not be slower than the same suite on loopback
sockets.  So its loops are written once against a socket module and run
through the full ``sansock`` API on the native driver (``sansock``) and on
``sansock.using(FakeKernel())`` in the same process, interleaved and pinned as
``_harness.py`` does; the ratio is native time / fake time (higher is better,
1.0 = the fake is as fast as real syscalls):

* 1-byte ping-pong on a socketpair (send + recv, both directions);
* TCP connection setup on 127.0.0.1: ``create_connection(addr)`` +
  ``accept()`` + a 5-byte ``sendall``/``recv`` + close both.

Then the absolute figures: fake ping-pong round trips per second, and the
real time a ``recv`` with ``settimeout(30.0)`` takes to time out on the
virtual clock.

    .venv/bin/python bench/bench_fake.py [--rounds N] [--target S] [--only TEXT]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sansock
from _harness import Loop, Spec, floors_met, report, select, set_clock, timed, wall_timed
from sansock_fake import FakeKernel

Cleanup = Callable[[], None]


def _closer(*socks: Any) -> Cleanup:
    def close() -> None:
        for s in socks:
            s.close()

    return close


def _native_vs_fake(body: Callable[[Any], tuple[Callable[[int], None], Cleanup]]) -> Callable[[], tuple[Loop, Loop, Cleanup]]:
    """A case from one loop body: the native driver first, a fresh fake kernel second."""

    def make() -> tuple[Loop, Loop, Cleanup]:
        native, c1 = body(sansock)
        fake, c2 = body(sansock.using(FakeKernel()))

        def cleanup() -> None:
            c1()
            c2()

        return timed(native), timed(fake), cleanup

    return make


def ping_pong(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    a, b = mod.socketpair()

    def loop(n: int) -> None:
        asend, arecv, bsend, brecv = a.send, a.recv, b.send, b.recv
        for _ in range(n):
            asend(b"x")
            brecv(1)
            bsend(b"y")
            arecv(1)

    return loop, _closer(a, b)


def tcp_connection(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    listener = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    addr = listener.getsockname()

    def loop(n: int) -> None:
        for _ in range(n):
            c = mod.create_connection(addr)
            s, _ = listener.accept()
            c.sendall(b"hello")
            s.recv(5)
            c.close()
            s.close()

    return loop, _closer(listener)


def specs() -> list[Spec]:
    return [
        Spec("fake vs native: 1-byte send+recv ping-pong (socketpair)", _native_vs_fake(ping_pong),
             floor=0.20, goal=0.50),
        Spec("fake vs native: TCP create_connection+accept+5 B+close", _native_vs_fake(tcp_connection),
             floor=0.50, goal=1.00),
    ]


def round_trips_per_second(round_trips: int) -> float:
    """Round trips per second on a fake socketpair."""
    net = sansock.using(FakeKernel())
    a, b = net.socketpair()
    with a, b:
        start = time.perf_counter()
        for _ in range(round_trips):
            a.send(b"x")
            b.recv(1)
            b.send(b"y")
            a.recv(1)
        elapsed = time.perf_counter() - start
    return round_trips / elapsed


def virtual_timeout() -> tuple[float, float]:
    """(real seconds, virtual seconds) of a 30 s timeout on the fake kernel."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        b.settimeout(30.0)
        virtual_start = kernel.monotonic_ns()
        start = time.perf_counter()
        try:
            b.recv(1)
        except TimeoutError:
            pass
        real = time.perf_counter() - start
        virtual = (kernel.monotonic_ns() - virtual_start) / 1e9
    return real, virtual


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=11, help="rounds per loop (default 11)")
    parser.add_argument("--target", type=float, default=0.05, help="seconds per timed side of a round")
    parser.add_argument("--round-trips", type=int, default=20_000)
    parser.add_argument("--only", metavar="TEXT", help="run only the loops whose name contains TEXT")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time the in-process loops in wall time (default) or this process's "
                             "CPU time (steadier on a machine shared with other work)")
    args = parser.parse_args()
    set_clock(args.clock)
    rows = report(
        "sansock fake-kernel benchmark (sansock.using(FakeKernel()) vs the native driver)",
        select(specs(), args.only), args.rounds, args.target, ratio="native time / fake time",
    )
    ok = floors_met(rows)
    if args.only:
        return 0 if ok else 1
    rates = [round_trips_per_second(args.round_trips) for _ in range(5)]
    timeouts = [virtual_timeout() for _ in range(5)]
    real = statistics.median(r for r, _ in timeouts)
    virtual = timeouts[0][1]
    print("fake kernel alone (sansock API over sansock_fake.FakeKernel), median of 5 runs")
    print(f"  ping-pong round trips per second: {statistics.median(rates):,.0f}"
          f" ({2 * statistics.median(rates):,.0f} send+recv pairs/s)")
    print(f"  settimeout(30.0) recv timeout: {real * 1e3:.3f} ms real for {virtual:.0f} s virtual")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
