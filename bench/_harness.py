"""The measuring harness shared by ``bench_api.py`` and ``bench_driver.py``.

A *case* is a pair of loops over the same work, one on the stdlib and one on
sansock, plus a cleanup.  A loop takes an iteration count and returns the
seconds it spent on the measured part (:func:`timed` wraps a plain loop that
measures all of itself; a loop with untimed setup inside, such as refilling a
UDP socket before each batch, adds up its own ``perf_counter`` spans).

Every round times the stdlib loop and the sansock loop back to back,
alternating which goes first, and the figure reported for a case is the
median of the per-round ratios ``stdlib time / sansock time``: higher is
better, 1.0 is parity.  The process is pinned to one CPU first
(``os.sched_setaffinity``; a forked child inherits the mask), so the two
loops meet the same cache and the same scheduler.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: A loop: run *n* iterations, return the measured seconds.
Loop = Callable[[int], float]
#: A case factory: ``() -> (stdlib loop, sansock loop, cleanup)``.
Case = Callable[[], tuple[Loop, Loop, Callable[[], None]]]


#: The clock :func:`timed` reads: wall time (``perf_counter``, the default)
#: or this process's CPU time (``process_time``, user + system, all threads).
#: On a machine shared with other work, CPU time leaves out the time other
#: processes held the CPU, so the rounds scatter far less; it fits loops
#: that never block and run in this process (every :func:`timed` loop here).
#: Loops with a forked peer measure wall time themselves.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock: list[str] = ["wall"]


def set_clock(name: str) -> None:
    """Make :func:`timed` read the clock *name* (a key of :data:`CLOCKS`)."""
    if name not in CLOCKS:
        raise ValueError(f"unknown clock {name!r}")
    _clock[0] = name


def clock() -> Callable[[], float]:
    """The clock :func:`set_clock` chose, for loops that add up their own spans."""
    return CLOCKS[_clock[0]]


def timed(loop: Callable[[int], None]) -> Loop:
    """A :data:`Loop` that measures the whole of *loop* (on the clock :func:`set_clock` chose)."""

    def run(n: int) -> float:
        clock = CLOCKS[_clock[0]]
        t0 = clock()
        loop(n)
        return clock() - t0

    return run


def wall_timed(loop: Callable[[int], None]) -> Loop:
    """A :data:`Loop` that measures *loop* in wall time whatever the clock
    (for a loop whose peer is another process)."""

    def run(n: int) -> float:
        t0 = time.perf_counter()
        loop(n)
        return time.perf_counter() - t0

    return run


def pin_to_one_cpu() -> str:
    """Pin this process to the last CPU it may run on; say what was done."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to CPU {cpus[-1]} (sched_setaffinity)"
    except (AttributeError, OSError) as exc:  # pragma: no cover - not Linux
        return f"not pinned ({exc})"


def machine() -> str:
    """``nproc``, the CPU model and the Python version, on one line."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {sys.version.split()[0]}"


def calibrate(loop: Loop, target: float) -> int:
    """An iteration count for which *loop* takes about *target* seconds."""
    n = 100
    while True:
        t = loop(n)
        if t >= target / 4 or n >= 10_000_000:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 4


@dataclass
class Row:
    """One case's result."""

    name: str
    iterations: int
    ratios: list[float] = field(default_factory=list)
    floor: float | None = None
    goal: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)


@dataclass
class Spec:
    """A case to run: its name, factory, whether to calibrate, and targets."""

    name: str
    make: Case
    calibrated: bool = True
    floor: float | None = None
    goal: float | None = None
    #: Iterations when not calibrated (each iteration is then a whole run).
    iterations: int = 1
    #: Rounds when not calibrated (calibrated cases use the run's --rounds).
    rounds: int = 5


def run_case(spec: Spec, rounds: int, target: float) -> Row:
    """Interleaved rounds of one case (see the module docstring)."""
    std, ours, cleanup = spec.make()
    try:
        if spec.calibrated:
            n = calibrate(std, target)
            std(min(n, 1000))  # warm up both sides
            ours(min(n, 1000))
        else:
            n = spec.iterations
            rounds = spec.rounds
        row = Row(spec.name, n, floor=spec.floor, goal=spec.goal)
        for i in range(rounds):
            if i % 2 == 0:
                t_std = std(n)
                t_ours = ours(n)
            else:
                t_ours = ours(n)
                t_std = std(n)
            row.ratios.append(t_std / t_ours)
        return row
    finally:
        cleanup()


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def load() -> str:
    """The 1/5/15-minute load averages (the machine may be shared)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover
        return "load unknown"
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def select(specs: Sequence[Spec], only: str | None) -> list[Spec]:
    """The specs whose name contains *only* (case-insensitive); all if None."""
    if not only:
        return list(specs)
    chosen = [s for s in specs if only.lower() in s.name.lower()]
    if not chosen:
        raise SystemExit(f"no loop name contains {only!r}")
    return chosen


def floors_met(rows: Sequence[Row]) -> bool:
    """Print which floors held; True when every loop with a floor met it."""
    below = [r for r in rows if r.floor is not None and r.median < r.floor]
    floored = [r for r in rows if r.floor is not None]
    if below:
        for r in below:
            print(f"FLOOR MISSED: {r.name}: {r.median:.2f} < floor {r.floor:.2f}")
    elif floored:
        print(f"every floor met ({len(floored)} loops with a floor)")
    return not below


def report(
    title: str, specs: Sequence[Spec], rounds: int, target: float,
    ratio: str = "stdlib time / sansock time",
) -> list[Row]:
    """Run every case, print the table as it goes and a closing worst-ratio line.

    *ratio* names what the figures divide (the first loop's time by the
    second's), for the closing line.
    """
    pinned = pin_to_one_cpu()
    print(f"{title}: {machine()}; {pinned}; {load()}; {_clock[0]} clock; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'loop':<58} {'iters':>8} {'ratio':>6} {'min':>6} {'max':>6} {'floor':>6} {'goal':>6}")
    rows: list[Row] = []
    start = time.perf_counter()
    for spec in specs:
        row = run_case(spec, rounds, target)
        rows.append(row)
        mark = ""
        if row.floor is not None and row.median < row.floor:
            mark = "  BELOW FLOOR"
        print(
            f"{row.name:<58} {row.iterations:>8} {row.median:>6.2f} {min(row.ratios):>6.2f} "
            f"{max(row.ratios):>6.2f} {_fmt(row.floor):>6} {_fmt(row.goal):>6}{mark}",
            flush=True,
        )
    worst = min(rows, key=lambda r: r.median)
    print(
        f"worst ratio ({ratio}, higher is better): {worst.median:.2f} "
        f"({worst.name}); {time.perf_counter() - start:.0f} s; {load()}"
    )
    return rows
