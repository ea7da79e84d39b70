"""What the threads outside the kernel are doing, for the scheduler's virtual-time rule.

Python's view: the innermost frame of each thread (``sys._current_frames``),
classified as running, parked in a recognised stdlib wait, or other (for the
real-time grace to judge).  Linux's view: how much CPU time each thread of
the process has used and how long it has waited in the run queue
(``/proc/self/task/<tid>/schedstat``), and whether it is working now (its
state in ``/proc/self/task/<tid>/stat``).  The rule itself is in
``_scheduler``.
"""

from __future__ import annotations

import dis
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import CodeType, FrameType
from typing import Literal

import attrs

__all__ = [
    "KERNEL_FILES", "UNKNOWN_USE", "State", "Use", "add_raw_threads", "classify", "current_frames", "delta",
    "describe_outside", "outside_native_id", "pending_alarm_ns", "process_threads", "use_of",
]

State = Literal["running", "parked", "other"]

_gc_toggle = threading.Lock()


def current_frames() -> dict[int, FrameType]:
    """``sys._current_frames()``, safe from CPython 3.11's deadlock with the collector.

    Up to 3.11, ``_PyThread_CurrentFrames`` holds the runtime's thread-list
    lock (``HEAD_LOCK``) while it allocates the frames and the dict; an
    allocation may start a collection, and a collected ``threading.local``
    (``local_dealloc``) takes ``HEAD_LOCK`` again: the process hangs for good
    (cpython gh-106883; 3.12 holds the collector off inside the call, the
    fix was not backported).  The scheduler looks at frames many times a
    second while tests make and drop kernels (each with a thread-local), so
    it hit this: the collector is held off here as 3.12 does.
    """
    if sys.version_info >= (3, 12):
        return sys._current_frames()
    with _gc_toggle:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return sys._current_frames()
        finally:
            if enabled:
                gc.enable()


def _call_lines(function: Callable[..., object], names: Iterable[str]) -> frozenset[int]:
    """The source lines of *function* that call a method named in *names* (blocking calls)."""
    wanted = set(names)
    lines: set[int] = set()
    line: int | None = None
    for ins in dis.get_instructions(function):
        positions = getattr(ins, "positions", None)
        if positions is not None and positions.lineno is not None:
            line = positions.lineno
        elif isinstance(ins.starts_line, int) and not isinstance(ins.starts_line, bool):
            line = ins.starts_line  # 3.10
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in wanted and line is not None:
            lines.add(line)
    return frozenset(lines)


_CONDITION_WAIT = threading.Condition.wait.__code__
_CONDITION_ENTER = threading.Condition.__enter__.__code__
#: Stdlib frames a thread parks in, and the lines of the blocking call.
#: ``Thread.join`` waits in ``_wait_for_tstate_lock`` up to 3.12, in
#: ``self._handle.join`` from 3.13.
_PARKING_LINES: dict[CodeType, frozenset[int]] = {
    _CONDITION_WAIT: _call_lines(threading.Condition.wait, ["acquire"]),
    threading.Thread.join.__code__: _call_lines(threading.Thread.join, ["join"]),
}
if hasattr(threading.Thread, "_wait_for_tstate_lock"):
    _tstate_wait = threading.Thread._wait_for_tstate_lock
    _PARKING_LINES[_tstate_wait.__code__] = _call_lines(_tstate_wait, ["acquire"])
#: The kernel's own modules (the syscall layer, every protocol, the
#: scheduler): a thread in one of them is inside a syscall of the kernel.
_KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))
KERNEL_FILES = frozenset(os.path.join(_KERNEL_DIR, n) for n in os.listdir(_KERNEL_DIR) if n.endswith(".py"))


def _stdlib_wait_files() -> frozenset[str]:
    """Stdlib modules whose frames a "parked in ..." description skips over."""
    return frozenset(
        os.path.abspath(path)
        for path in (
            getattr(sys.modules.get(name), "__file__", None)
            for name in ("threading", "queue", "concurrent.futures._base")
        )
        if isinstance(path, str)
    )


def classify(frame: FrameType | None, kernel_condition: object, frames: dict[int, FrameType]) -> State:
    """Running, parked (in a recognised stdlib wait nobody signalled), or other."""
    if frame is None:
        return "other"
    code = frame.f_code
    if os.path.abspath(code.co_filename) in KERNEL_FILES:
        return "running"  # entering a syscall, or reading kernel state
    if code is _CONDITION_ENTER:
        # ``with condition:`` waiting for the lock: for the kernel's lock,
        # entering a syscall (the lock is released at once after every look
        # and every syscall, but a thread starved of the CPU may miss it a
        # whole grace long while other threads take it in turn).
        try:
            return "running" if frame.f_locals.get("self") is kernel_condition else "other"
        except Exception:  # noqa: BLE001 -- a frame changing under us: ask again later
            return "other"
    lines = _PARKING_LINES.get(code)
    if lines is None:
        return "other"
    if frame.f_lineno not in lines:
        return "running"
    try:
        owner = frame.f_locals.get("self")
        if code is _CONDITION_WAIT:
            if owner is kernel_condition:
                return "running"  # FakeKernel.settle()
            waiter = frame.f_locals.get("waiter")
            # Condition.notify removes the waiter before releasing it: a
            # waiter no longer queued has been woken and is about to run.
            queued = waiter is not None and any(w is waiter for w in getattr(owner, "_waiters", ()))
            return "parked" if queued else "running"
        # Thread.join: parked while the joined thread still runs Python code.
        ident = getattr(owner, "ident", None)
        return "parked" if ident is not None and ident in frames else "running"
    except Exception:  # noqa: BLE001 -- a frame changing under us: ask again later
        return "other"


def _cpu_ns(native_id: int | None) -> int | None:
    """CPU time of a thread of this process (``CLOCK_THREAD_CPUTIME_ID`` from outside it).

    The clock id is Linux's ``MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)``, as
    ``pthread_getcpuclockid`` computes it; a thread that has gone gives
    ``EINVAL`` instead of undefined behaviour.
    """
    if native_id is None or not hasattr(time, "clock_gettime_ns"):
        return None
    try:
        return time.clock_gettime_ns(((~native_id) << 3) | 6)
    except (OSError, OverflowError):
        return None


def _read_task(native_id: int, name: str) -> bytes | None:
    """``/proc/self/task/<tid>/<name>``, or None (no ``/proc``, a thread that has gone)."""
    try:
        fd = os.open(f"/proc/self/task/{native_id}/{name}", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 512)
    except OSError:
        return None
    finally:
        os.close(fd)


#: ``/proc`` task states of a thread that is doing something: running or
#: runnable (R), in an uninterruptible sleep -- a page fault reading a module
#: from a slow disk, memory reclaim -- (D), paging (W, old kernels).  A thread
#: waiting for the GIL, a lock, a timer or a pipe sleeps in state S.
_WORKING_STATES = frozenset((b"R", b"D", b"W"))


@attrs.frozen
class Use:
    """What one thread of the process has done so far, as Linux tells it."""

    #: CPU time used, in ns (None: unknown).
    cpu_ns: int | None
    #: Time spent runnable but waiting for a CPU, in ns: ``run_delay`` of
    #: ``/proc/self/task/<tid>/schedstat`` (None without schedstats).
    queued_ns: int | None
    #: Working now: state R, D or W (see ``_WORKING_STATES``).
    working: bool


UNKNOWN_USE = Use(None, None, False)


def use_of(native_id: int | None) -> Use:
    """How much a thread of this process has run and waited to run, and whether it works now."""
    if native_id is None:
        return UNKNOWN_USE
    cpu = queued = None
    schedstat = _read_task(native_id, "schedstat")  # "<cpu ns> <run queue ns> <slices>"
    if schedstat is not None:
        fields = schedstat.split()
        if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            cpu, queued = int(fields[0]), int(fields[1])
    if cpu is None:
        cpu = _cpu_ns(native_id)
    stat = _read_task(native_id, "stat")
    state = b"" if stat is None else stat.rpartition(b")")[2][1:2]
    return Use(cpu, queued, state in _WORKING_STATES)


def outside_native_id(thread: threading.Thread, entered: int | None, in_kernel: set[int]) -> int | None:
    """The OS thread id of *thread*, outside the kernel, or None when unknown.

    *entered* is the id it entered the kernel with, if it is the thread that
    did; else ``Thread.native_id`` -- which a stale ``_DummyThread`` (a
    ``_thread`` thread with the ident of an exited one) keeps from the dead
    thread, and which the OS may have given to another thread since.  An id
    in *in_kernel* (the threads blocked in the kernel, the one looking
    included) is that thread's, not this one's: unknown (the scheduler looks
    at the rest of the process anyway).
    """
    native = entered if entered is not None else getattr(thread, "native_id", None)
    return None if native in in_kernel else native


def delta(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before


def process_threads(exclude: set[int]) -> dict[int, Use]:
    """Native thread id -> its use of the CPU, for every thread of the process
    (Python's or not) except those in *exclude*; empty without ``/proc``."""
    try:
        names = os.listdir("/proc/self/task")
    except OSError:
        return {}
    return {tid: use_of(tid) for tid in map(int, names) if tid not in exclude}


def _qualname(frame: FrameType) -> str:
    """``Event.wait``: the qualified name of *frame*'s function.

    ``co_qualname`` from Python 3.11; before it, the class is found among the
    classes of the function's module whose attribute of that name has this
    code (``threading.Event.wait``), without reading the frame's locals (a
    frame of another thread, which may be running).
    """
    code = frame.f_code
    qualname = getattr(code, "co_qualname", None)
    if isinstance(qualname, str):
        return qualname
    return qualname_in_module(code, frame.f_globals)


def qualname_in_module(code: CodeType, namespace: dict[str, object]) -> str:
    """``Class.name`` when a class of *namespace* (a module's globals) has a
    method with *code*, else the function's bare name (Python 3.10's frames)."""
    name = code.co_name
    for value in list(namespace.values()):
        if isinstance(value, type):
            member = value.__dict__.get(name)
            function = getattr(member, "__func__", member)  # classmethod, staticmethod
            if getattr(function, "__code__", None) is code:
                return f"{value.__name__}.{name}"
    return name


def describe_outside(thread: threading.Thread, frame: FrameType | None) -> str:
    """"MainThread (in Thread.join() at test_x.py:12)": where a thread outside the kernel is."""
    if frame is None:
        return f"{thread.name} (outside the kernel, no Python frame)"
    wait = None
    stdlib = _stdlib_wait_files()
    while frame is not None and os.path.abspath(frame.f_code.co_filename) in stdlib:
        wait = _qualname(frame)
        frame = frame.f_back
    if frame is None:
        return f"{thread.name} (in {wait}())"
    where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    if wait is not None:
        return f"{thread.name} (in {wait}() at {where})"
    return f"{thread.name} (outside the kernel, at {where} in {frame.f_code.co_name})"


def add_raw_threads(found: dict[int, threading.Thread], preexisting: frozenset[int],
                    cache: dict[int, threading.Thread]) -> None:
    """Add to *found* the threads started with ``_thread.start_new_thread``
    after the kernel (CPython's ``test_socket`` starts its clients so).

    They have no ``Thread`` until their first syscall, or the ident of a stale
    ``_DummyThread`` made before the kernel: one that runs Python code under
    an ident that ran none when the kernel was made (*preexisting*) was
    started after it.  *cache* keeps one stand-in per ident.
    """
    frames = current_frames()
    try:
        for ident in frames:
            if ident not in found and ident not in preexisting:
                found[ident] = cache.get(ident) or cache.setdefault(ident, _RawThread(ident))
    finally:
        del frames  # (this frame is in it: a cycle through every caller's locals)


def pending_alarm_ns() -> int | None:
    """Nanoseconds of real time until a one-shot ``ITIMER_REAL`` (``setitimer``,
    ``alarm``) fires, when ``SIGALRM`` has a Python handler; else None.

    A repeating timer (an interval) is left out: it would hold the virtual
    clock for ever.  ``signal.getsignal`` answers from any thread.
    """
    if not callable(signal.getsignal(signal.SIGALRM)):
        return None
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    if remaining <= 0 or interval > 0:
        return None
    return int(remaining * 1e9)


class _RawThread(threading.Thread):
    """A thread started with ``_thread.start_new_thread`` (no ``Thread``
    object of its own) as a participant: alive while it runs Python code."""

    def __init__(self, ident: int) -> None:
        super().__init__(name=f"thread {ident:#x} (started with _thread)", daemon=True)
        self._raw_ident = ident

    @property
    def ident(self) -> int:
        return self._raw_ident

    def is_alive(self) -> bool:
        return self._raw_ident in current_frames()
