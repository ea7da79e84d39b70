"""Fake-kernel benchmark: operations per second, and what a virtual timeout costs.

The fake kernel is for unit tests, so its figures are throughput and the real
time its virtual clock saves, not ratios against the stdlib:

* 1-byte ping-pong on a fake socketpair through the full ``sansock`` API
  (send + recv, both directions): round trips per second;
* a ``recv`` with ``settimeout(30.0)`` that times out on the virtual clock:
  the real time it takes (the virtual clock advances 30 s).

    .venv/bin/python bench/bench_fake.py [--round-trips N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import sansock
from sansock_fake import FakeKernel


def ping_pong(round_trips: int) -> float:
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=20_000)
    args = parser.parse_args()
    rates = [ping_pong(args.round_trips) for _ in range(5)]
    timeouts = [virtual_timeout() for _ in range(5)]
    real = statistics.median(r for r, _ in timeouts)
    virtual = timeouts[0][1]
    print("fake kernel (sansock API over sansock_fake.FakeKernel), median of 5 runs")
    print(f"  ping-pong round trips per second: {statistics.median(rates):,.0f}"
          f" ({2 * statistics.median(rates):,.0f} send+recv pairs/s)")
    print(f"  settimeout(30.0) recv timeout: {real * 1e3:.3f} ms real for {virtual:.0f} s virtual")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
