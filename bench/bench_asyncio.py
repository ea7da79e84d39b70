"""asyncio benchmark: the fake kernel's event loop against the stdlib's loop on
real loopback sockets, in the same process.

What users write: ``asyncio.start_server`` with an echo handler and a client
from ``asyncio.open_connection`` that writes 4 bytes and ``readexactly(4)``
the echo, in a loop.  One side runs on ``asyncio.new_event_loop()`` (the
stdlib's selector loop, epoll, TCP over 127.0.0.1), the other on
``sansock_fake.new_event_loop()`` (the same asyncio code over the fake
kernel's poll, fake TCP, virtual time).  Each loop is made once per case; a
round times *n* round trips inside one ``run_until_complete`` (the coroutine
measures its own loop, so the fake loop's ``patch_stdlib`` at each
``run_until_complete`` is left out; it is printed apart).  Ratio = stdlib
time / fake time: higher is better, 1.0 = the fake loop is as fast as the
real one.

* echo round trip on one connection (floor 0.30, goal 1.0);
* connection: ``open_connection`` + one echo + close (no floor).

Then the absolute figures: fake echo round trips per second, the real time an
``asyncio.sleep(3600)`` takes on the fake loop, and what ``patch_stdlib``
costs per ``run_until_complete``.

    .venv/bin/python bench/bench_asyncio.py [--rounds N] [--target S] [--only TEXT] [--clock cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sansock_fake
from _harness import Loop, Spec, clock, floors_met, report, select, set_clock

Cleanup = Callable[[], None]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
    writer.close()


class _Side:
    """One event loop with an echo server and a connected client."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.server, self.port, self.reader, self.writer = loop.run_until_complete(self._start())

    async def _start(self) -> tuple[asyncio.Server, int, asyncio.StreamReader, asyncio.StreamWriter]:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return server, port, reader, writer

    def round_trips(self) -> Loop:
        async def run(n: int) -> float:
            write, readexactly = self.writer.write, self.reader.readexactly
            now = clock()
            t0 = now()
            for _ in range(n):
                write(b"ping")
                await readexactly(4)
            return now() - t0

        return lambda n: self.loop.run_until_complete(run(n))

    def connections(self) -> Loop:
        async def run(n: int) -> float:
            now = clock()
            t0 = now()
            for _ in range(n):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(b"ping")
                await reader.readexactly(4)
                writer.close()
                await writer.wait_closed()
            return now() - t0

        return lambda n: self.loop.run_until_complete(run(n))

    def close(self) -> None:
        async def stop() -> None:
            self.writer.close()
            await self.writer.wait_closed()
            self.server.close()
            await self.server.wait_closed()

        self.loop.run_until_complete(stop())
        self.loop.close()


def _case(which: Callable[[_Side], Loop]) -> Callable[[], tuple[Loop, Loop, Cleanup]]:
    def make() -> tuple[Loop, Loop, Cleanup]:
        std = _Side(asyncio.new_event_loop())
        fake = _Side(sansock_fake.new_event_loop())

        def cleanup() -> None:
            std.close()
            fake.close()

        return which(std), which(fake), cleanup

    return make


def specs() -> list[Spec]:
    return [
        Spec("asyncio streams echo round trip (fake loop vs stdlib loop)", _case(_Side.round_trips),
             floor=0.30, goal=1.00),
        Spec("asyncio open_connection+echo+close (fake vs stdlib)", _case(_Side.connections)),
    ]


def fake_round_trips_per_second(n: int) -> float:
    side = _Side(sansock_fake.new_event_loop())
    try:
        return n / side.round_trips()(n)
    finally:
        side.close()


def virtual_sleep() -> float:
    """Real seconds an ``asyncio.sleep(3600)`` takes on the fake loop."""

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.sleep(3600)
        return time.perf_counter() - t0

    return sansock_fake.run(main())


def patch_cost() -> float:
    """Real seconds of one empty ``run_until_complete`` on the fake loop (mostly ``patch_stdlib``)."""
    loop = sansock_fake.new_event_loop()
    try:

        async def nothing() -> None:
            pass

        t0 = time.perf_counter()
        for _ in range(20):
            loop.run_until_complete(nothing())
        return (time.perf_counter() - t0) / 20
    finally:
        loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds per loop (default 11)")
    parser.add_argument("--target", type=float, default=0.05, help="seconds per timed side of a round")
    parser.add_argument("--round-trips", type=int, default=5_000)
    parser.add_argument("--only", metavar="TEXT", help="run only the loops whose name contains TEXT")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time the loops in wall time (default) or this process's CPU time "
                             "(steadier on a machine shared with other work)")
    args = parser.parse_args()
    set_clock(args.clock)
    rows = report(
        "sansock asyncio benchmark (sansock_fake.new_event_loop() vs asyncio.new_event_loop() on loopback)",
        select(specs(), args.only), args.rounds, args.target, ratio="stdlib loop time / fake loop time",
    )
    ok = floors_met(rows)
    if args.only:
        return 0 if ok else 1
    rates = [fake_round_trips_per_second(args.round_trips) for _ in range(3)]
    sleeps = [virtual_sleep() for _ in range(5)]
    print("fake event loop alone, median of runs")
    print(f"  asyncio streams echo round trips per second: {statistics.median(rates):,.0f}")
    print(f"  asyncio.sleep(3600): {statistics.median(sleeps) * 1e3:.3f} ms real")
    print(f"  run_until_complete of an empty coroutine (patch_stdlib in and out): {patch_cost() * 1e3:.2f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
