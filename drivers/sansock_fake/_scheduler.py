"""The virtual clock and the waiting room: how blocking calls block without real time.

One ``threading.Condition`` per kernel guards all kernel state; every syscall
runs holding it, and every syscall that changes state ends with
``notify_all`` so waiters re-check their condition.

The virtual-time rule
---------------------

Virtual time models computation as instantaneous: the clock moves only when
no thread that could still change the kernel's state is doing anything.

*Participants* are the thread that created the kernel, every live thread that
has made a syscall on it, and every live thread started after the kernel was
created (a server thread that has not reached its first syscall yet).
Threads that existed before the kernel (pytest's own, a thread pool...) and
threads that have exited are not participants.  Threads are told apart by
their ``Thread`` object: an ident is reused by the next thread as soon as
one exits (a ``_thread`` thread, with none before its first syscall, takes
part once it runs Python code under an ident that ran none when the kernel
was made).  Each participant is, at any moment, in one of three states:

* **blocked in the kernel** -- waiting inside a syscall of this kernel, with
  a deadline or without;
* **parked** -- waiting on something the kernel cannot see but does not wait
  for.  Two kinds are recognised:

  - *at once*: the thread's innermost Python frame is inside a stdlib wait
    that nothing has signalled yet -- ``threading.Condition.wait`` with its
    waiter still queued (so ``Event.wait``, ``queue.Queue.get``,
    ``Semaphore.acquire``, ``Barrier.wait``, ``Future.result``...), or
    ``Thread.join`` of a thread that still runs Python code.  A notified
    waiter or a finished join counts as running until it has run;
  - *after a real-time grace* (``idle_grace_s``, default 0.1 s): any other
    wait (``time.sleep``, a bare ``Lock.acquire``, ``select`` on real fds,
    ``SimpleQueue.get``, a read on a pipe): the thread counts as parked when,
    over a whole grace period, it stayed at the same instruction of the same
    frame, used less than a fifth of the period in CPU time and was not
    working when looked at (state R, running or queued for a CPU, or D, an
    uninterruptible sleep such as a page fault, in
    ``/proc/self/task/<tid>/stat``), *and* no other thread of the process --
    participant or not, threads blocked in the kernel aside -- used more than
    a fifth of the period in CPU time or was working when looked at, *and*
    all those threads together wanted a CPU (ran, or waited in the run queue:
    ``/proc/self/task/<tid>/schedstat``) for less than half of the period.
    A thread waits for the GIL only while another thread holds it, and that
    thread wants a CPU all along -- even when other processes leave it a few
    percent of one: so a thread starved of the GIL by a busy thread (even
    one that is no participant) is never taken as parked;

* **running** -- anything else: computing, in a garbage collection, waiting
  for the CPU or for the GIL, entering a syscall (waiting for the kernel's
  lock included).

The clock moves when, and only when, every participant is blocked in the
kernel or parked, and every blocked thread has re-checked its condition since
the last syscall: it jumps at once to the earliest deadline among the
blocked threads (a 30 s ``poll`` costs microseconds).  A running thread holds
the clock however long it runs: 200 ms of work, a GC pause, or a thread
starved of CPU never lets another thread's timeout expire.

When every participant is blocked in the kernel and none has a deadline
(for ``idle_grace_s`` with no syscall), nothing can ever wake them: each
gets :class:`BlockedForever` (its call, fd, wait and the other waiters).
When some are parked outside the kernel, a wait with no deadline that sees
no syscall for ``stall_timeout_s`` of real time gets it instead.  A one-shot
``SIGALRM`` due first holds the clock (``_threads.pending_alarm_ns``).
Limits: ``docs/reference/fake.rst``, "Virtual time and threads".
"""

from __future__ import annotations

import heapq
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable

import attrs

from ._threads import (
    UNKNOWN_USE,
    State,
    Use,
    add_raw_threads,
    classify,
    current_frames,
    delta,
    describe_outside,
    outside_native_id,
    pending_alarm_ns,
    process_threads,
    use_of,
)

__all__ = ["BlockedForever", "Scheduler", "WaitInfo", "report_unraisable"]


class BlockedForever(RuntimeError):
    """A blocking call that nothing can ever complete (a bug in the test, not an OS error).

    The message names the call, its fd, what it waited for, and what every
    other thread using the kernel was doing.
    """


def _hide_from_pytest(excinfo: object) -> bool:
    """pytest's ``__tracebackhide__`` hook: the kernel's frames are noise under a BlockedForever."""
    return isinstance(getattr(excinfo, "value", None), BlockedForever)


# pytest reads ``__tracebackhide__`` from a frame's globals too, and calls it
# with the ExceptionInfo when it is callable: a BlockedForever traceback then
# ends at the user's call (``_kernel`` imports the same hook).
__tracebackhide__ = _hide_from_pytest


def report_unraisable(exc: BaseException, callback: object, message: str) -> None:
    """Hand an exception no caller can receive (a timer's, run by whichever
    thread moved the clock) to :func:`sys.unraisablehook`, with *message*.

    The hook gets an object with the attributes of ``sys.UnraisableHookArgs``
    (pytest's hook, and any hook written in Python, reads those); the
    interpreter's own hook accepts only its C type, so for it the report is
    printed as it prints one (``Exception ignored in ...: obj`` and the traceback).
    """
    hook = sys.unraisablehook
    if hook is sys.__unraisablehook__:
        stream = sys.stderr
        if stream is not None:
            print(f"{message}: {callback!r}", file=stream)
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
        return
    hook(types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__, err_msg=message, object=callback,
    ))


#: What no thread can do for a blocked call, by call: completes "no thread can ...".
_WAITS_FOR = {
    "accept": "connect to listening fd {fd}",
    "connect": "accept the connection of fd {fd}",
    "sendmsg": "read from the peer of fd {fd} to make room for what it sends",
}


@attrs.frozen
class WaitInfo:
    """What a blocked syscall waits for, for the :class:`BlockedForever` message."""

    call: str
    fd: int
    #: For ``poll``: the names of the events asked for ("POLLIN|POLLOUT").
    events: str | None = None
    #: For a poll over several fds (the interop's select/poll/selectors): all of them.
    fds: tuple[int, ...] | None = None

    @property
    def waits_for(self) -> str:
        """What no thread can do: "make fd 5 readable", "connect to listening fd 3"..."""
        if self.fds is not None:
            return f"make any of fds {list(self.fds)} ready"
        if self.events is not None:
            return f"make fd {self.fd} report {self.events}"
        template = _WAITS_FOR.get(self.call, "make fd {fd} readable")
        return template.format(fd=self.fd)

    def __str__(self) -> str:
        if self.fds is not None:
            return f"{self.call}(fds={list(self.fds)})"
        return f"{self.call}(fd={self.fd})"


@attrs.frozen
class _Sample:
    state: State
    position: tuple[int, int] | None
    #: For a thread in a wait the grace judges ("other"): its use of the CPU.
    use: Use = UNKNOWN_USE


@attrs.frozen
class _Watch:
    """What the participants outside the kernel were doing at the start of an observation."""

    activity: int
    since: float
    samples: dict[int, _Sample]
    #: Every other thread of the process (see :func:`process_threads`), when
    #: some sample needs the grace rule.
    others: dict[int, Use]


@attrs.define(eq=False)
class Scheduler:
    """Virtual clock plus the bookkeeping of which threads are waiting."""

    condition: threading.Condition = attrs.field(factory=threading.Condition)
    #: CLOCK_MONOTONIC of the virtual machine, in ns; starts at 1000 s as a
    #: real boot-relative clock would not be 0.
    now_ns: int = 1_000_000_000_000
    #: Real seconds a thread outside the kernel must stay still in an
    #: unrecognised wait before it counts as parked.
    idle_grace_s: float = 0.1
    stall_timeout_s: float = 5.0
    #: Real seconds between two looks that confirm recognised stdlib waits.
    confirm_s: float = 0.001
    #: A thread using more than this fraction of the grace in CPU time is running.
    busy_fraction: float = 0.2
    #: The threads outside the kernel wanting a CPU (running or queued for
    #: one) for more than this fraction of the grace, together, are computing.
    demand_fraction: float = 0.5
    #: Names the events of a ``poll`` (the kernel sets it from its ABI).
    event_names: Callable[[int], str] = attrs.field(default=lambda events: f"events {events:#x}")
    #: Bumped by every syscall.
    activity: int = 0
    #: id() -> the Thread objects alive when the kernel was made.  Objects, not
    #: idents: an ident is the address of the thread's pthread, which the C
    #: library reuses as soon as the thread exits, so a server thread started
    #: after the kernel often has the ident of one that existed before it.
    _preexisting: dict[int, threading.Thread] = attrs.field(
        factory=lambda: {id(t): t for t in threading.enumerate()}
    )
    #: The idents running Python code when the kernel was made, and stand-ins
    #: for ``_thread`` threads started after it (``add_raw_threads``).
    _preexisting_idents: frozenset[int] = attrs.field(factory=lambda: frozenset(current_frames()))
    _raw_threads: dict[int, threading.Thread] = attrs.field(factory=dict)
    #: Threads that have used the kernel -- starting with the one that made it
    #: (a test's main thread that starts a server thread and then connects is
    #: a participant before its first syscall).  Keyed by ident, holding the
    #: Thread: a new thread with the ident of an exited one replaces it.
    _users: dict[int, threading.Thread] = attrs.field(
        factory=lambda: {threading.get_ident(): threading.current_thread()}
    )
    #: thread ident -> the OS thread id of the thread that last entered with it
    #: (not ``Thread.native_id``: a stale ``_DummyThread`` keeps a dead one's).
    _native_ids: dict[int, int] = attrs.field(factory=dict)
    #: thread ident -> deadline (ns) or None, for threads blocked in the kernel.
    _waiting: dict[int, int | None] = attrs.field(factory=dict)
    #: thread ident -> what it waits for, for the messages.
    _waiting_for: dict[int, WaitInfo] = attrs.field(factory=dict)
    _deadlock_round: int = 0
    #: What every participant was doing when the last deadlock was found.
    _deadlock_picture: dict[int, str] = attrs.field(factory=dict)
    #: thread ident -> how many times it has evaluated its wait condition.
    _checks: dict[int, int] = attrs.field(factory=dict)
    #: thread ident -> ``activity`` when it last evaluated its wait condition.
    _seen: dict[int, int] = attrs.field(factory=dict)
    #: Timers (a simulated network's packets in flight): a heap of
    #: (when_ns, sequence, callback); the sequence keeps equal times in the
    #: order they were set, so firing never depends on callback identity.
    _timers: list[tuple[int, int, Callable[[], None]]] = attrs.field(factory=list)
    _timer_sequence: int = 0
    #: The thread running a timer's callback now (None: none is): a wait there
    #: is refused (``wait_until``), as the clock moves only around timers.
    _firing: int | None = None

    # -- timers ------------------------------------------------------------------------------

    def call_at(self, when_ns: int, callback: Callable[[], None]) -> None:
        """Run *callback* (lock held) once the virtual clock reaches *when_ns*.

        The clock jumps to the earliest of the blocked threads' deadlines and
        the timers when every participant waits, as it does for deadlines; a
        timer whose time has come fires before any waiter re-checks.
        """
        self._timer_sequence += 1
        heapq.heappush(self._timers, (when_ns, self._timer_sequence, callback))

    def next_timer(self) -> int | None:
        """When the earliest pending timer fires, or None."""
        return self._timers[0][0] if self._timers else None

    def pending_timers(self) -> int:
        """How many timers are set and not fired."""
        return len(self._timers)

    def fire_due(self) -> bool:
        """Fire every timer due at the current virtual time (lock held): True if any fired."""
        fired = False
        while self._timers and self._timers[0][0] <= self.now_ns:
            _when, _sequence, callback = heapq.heappop(self._timers)
            outer = self._firing
            self._firing = threading.get_ident()
            try:
                callback()
            finally:
                self._firing = outer
            fired = True
        if fired:
            self.activity += 1
            self.condition.notify_all()
        return fired

    def advance_to(self, when_ns: int) -> None:
        """Move the clock to *when_ns* (never back), firing the timers on the way in order."""
        while self._timers and self._timers[0][0] <= when_ns:
            self.now_ns = max(self.now_ns, self._timers[0][0])
            self.fire_due()
        self.now_ns = max(self.now_ns, when_ns)
        self.condition.notify_all()

    #: Set in a thread once its first syscall has registered it in ``_users``
    #: (a thread-local: a new thread, even with a reused ident, starts unset).
    _entered: threading.local = attrs.field(factory=threading.local)

    def enter(self) -> None:
        """Called (lock held) at the start of every syscall."""
        self.activity += 1
        entered = self._entered
        if entered.__dict__:
            return  # registered by an earlier syscall of this thread, which is alive
        entered.yes = True
        self._native_ids[threading.get_ident()] = threading.get_native_id()
        thread = threading.current_thread()
        ident = thread.ident
        if ident is not None and self._users.get(ident) is not thread:
            self._users[ident] = thread

    def adopt(self, thread: threading.Thread) -> None:
        """Count *thread* as a participant from now on (lock held).

        For a thread that existed before the kernel and now works for it
        before its first syscall -- a worker of a process-wide pool, such as
        trio's thread cache, handed a job that will use the kernel: until it
        makes a syscall it would not hold the clock.  A thread that has not
        started, or has exited, is ignored.
        """
        ident = thread.ident
        if ident is not None and thread.is_alive():
            self._users[ident] = thread

    def _participants(self) -> dict[int, threading.Thread]:
        found = {ident: t for ident, t in self._users.items() if t.is_alive()}
        for t in threading.enumerate():
            if t.ident is not None and self._preexisting.get(id(t)) is not t:
                found[t.ident] = t
        add_raw_threads(found, self._preexisting_idents, self._raw_threads)
        return found

    def _earliest_deadline(self) -> int | None:
        deadlines = [d for d in self._waiting.values() if d is not None]
        if self._timers:
            deadlines.append(self._timers[0][0])
        return min(deadlines) if deadlines else None

    def blocked_threads(self) -> set[int]:
        """Idents of the threads blocked in the kernel now (lock held by the caller)."""
        return set(self._waiting)

    def settle(self) -> None:
        """Return once every thread blocked now has re-checked its condition (lock held).

        After a syscall that may have made a waiter ready, this tells "it is
        still blocked" from "it has not woken up yet" without sleeping.
        """
        snapshot = {ident: self._checks.get(ident, 0) for ident in self._waiting}
        self.condition.notify_all()
        alive = {t.ident for t in threading.enumerate()}
        while any(
            ident in alive and self._checks.get(ident, 0) == count
            for ident, count in snapshot.items()
        ):
            self.condition.wait(timeout=self.confirm_s)
            alive = {t.ident for t in threading.enumerate()}
        # A waiter that re-checked and is not ready is back in _waiting, or on
        # its way there: its wait() releases the lock only once it is.

    # -- the threads outside the kernel --------------------------------------------------------

    def _sample(self, outside: dict[int, threading.Thread]) -> dict[int, _Sample]:
        frames = current_frames()
        try:
            samples = {}
            in_kernel: set[int] | None = None
            for ident, thread in outside.items():
                frame = frames.get(ident)
                state = classify(frame, self.condition, frames)
                position = None if frame is None else (id(frame), frame.f_lasti)
                if state == "other":
                    if in_kernel is None:  # (this thread's own id among them)
                        in_kernel = {self._native_ids[i] for i in self._waiting if i in self._native_ids}
                        in_kernel.add(threading.get_native_id())
                    entered = self._native_ids.get(ident) if self._users.get(ident) is thread else None
                    samples[ident] = _Sample(state, position, use_of(outside_native_id(thread, entered, in_kernel)))
                else:
                    samples[ident] = _Sample(state, position)
            return samples
        finally:
            del frames

    def _still(self, before: _Sample, after: _Sample, elapsed: float) -> bool:
        """Whether a thread outside the kernel stayed parked between two samples."""
        if after.state == "running" or before.state != after.state or before.position != after.position:
            return False
        if after.state == "parked":
            return True
        if elapsed < self.idle_grace_s or after.use.working:
            return False
        cpu = delta(before.use.cpu_ns, after.use.cpu_ns)
        return cpu is None or cpu <= self.busy_fraction * elapsed * 1e9

    def _rest_of_process(self, samples: dict[int, _Sample]) -> dict[int, Use]:
        """The other threads of the process, if a sample needs the grace rule."""
        if all(s.state != "other" for s in samples.values()):
            return {}
        # The threads blocked in the kernel (this one included) wake now and
        # then to re-check their condition: that is no computation.
        return process_threads({self._native_ids[i] for i in self._waiting if i in self._native_ids})

    def _others_busy(self, before: dict[int, Use], after: dict[int, Use], elapsed: float) -> bool:
        """Whether some thread computed over the observation.

        A thread is computing when it works now (may hold the GIL) or used more
        than ``busy_fraction`` of the observation in CPU time.  Under CPU
        contention from other processes a computing thread gets a small share
        of a CPU and, while the thread looking holds the GIL, may sleep waiting
        for it: so the threads together computed too when they *wanted* a CPU
        -- ran, or waited in the run queue -- for more than ``demand_fraction``
        of the observation.  A thread holds the GIL only while it wants a CPU.
        """
        window = elapsed * 1e9
        limit = self.busy_fraction * window
        demand = 0
        for tid, use in after.items():
            if use.working:
                return True
            start = before.get(tid)
            if start is None:
                continue  # started during the observation
            cpu = delta(start.cpu_ns, use.cpu_ns)
            if cpu is not None and cpu > limit:
                return True
            demand += (cpu or 0) + (delta(start.queued_ns, use.queued_ns) or 0)
        return demand > self.demand_fraction * window

    def _look_outside(self, outside: dict[int, threading.Thread], watch: _Watch | None) -> tuple[bool, _Watch, float]:
        """(every thread outside the kernel is parked, the observation to keep, how long to wait)."""
        now = time.monotonic()
        samples = self._sample(outside)
        others = self._rest_of_process(samples)
        if watch is not None and watch.activity == self.activity and watch.samples.keys() == samples.keys():
            elapsed = now - watch.since
            if all(self._still(watch.samples[i], s, elapsed) for i, s in samples.items()) and not (
                others and self._others_busy(watch.others, others, elapsed)
            ):
                return True, watch, self.idle_grace_s
        watch = _Watch(self.activity, now, samples, others)
        if any(s.state == "running" for s in samples.values()):
            return False, watch, self.idle_grace_s
        if all(s.state == "parked" for s in samples.values()):
            return False, watch, self.confirm_s
        return False, watch, self.idle_grace_s

    # -- messages ----------------------------------------------------------------------------

    def _picture(self) -> dict[int, str]:
        """Thread ident -> what it is doing, for every participant (BlockedForever messages)."""
        picture = {}
        frames = current_frames()
        try:
            for ident, thread in self._participants().items():
                info = self._waiting_for.get(ident)
                if info is not None:
                    picture[ident] = f"{thread.name} in {info}"
                else:
                    picture[ident] = describe_outside(thread, frames.get(ident))
        finally:
            del frames
        return picture

    @staticmethod
    def _others(picture: dict[int, str], me: int) -> str:
        return "; ".join(sorted(text for ident, text in picture.items() if ident != me)) or "none"

    def _forever(self, info: WaitInfo, me: int) -> BlockedForever:
        # Every waiter of a deadlock names the others as they were when it was found.
        return BlockedForever(
            f"{info} would block forever: no thread can {info.waits_for} "
            "(every thread using this fake kernel is waiting in it, none with a deadline); "
            f"other threads: {self._others(self._deadlock_picture, me)}"
        )

    def _stalled(self, info: WaitInfo, me: int) -> BlockedForever:
        return BlockedForever(
            f"{info} would block forever: no thread can {info.waits_for} "
            f"(no syscall on this fake kernel for {self.stall_timeout_s} s of real time, and every "
            f"other thread using it is waiting); other threads: {self._others(self._picture(), me)}"
        )

    # -- waiting -----------------------------------------------------------------------------

    def wait_until(
        self,
        ready: Callable[[], bool],
        deadline_ns: int | None,
        call: str,
        fd: int,
        events: int | None = None,
        fds: tuple[int, ...] | None = None,
    ) -> bool:
        """Block (lock held) until ``ready()`` or the virtual deadline: True when ready.

        *call*, *fd* and the *events* of a ``poll`` name the wait in messages.
        """
        if ready():
            return True  # the common case: nothing to wait for
        if deadline_ns is not None and self.now_ns >= deadline_ns:
            return False  # a zero timeout
        me = threading.get_ident()
        if self._firing == me:
            # A timer's callback (net.call_later, in the thread that moved the
            # clock, inside its own wait): a nested wait would corrupt that one.
            raise RuntimeError(
                f"{call} would block in a timer's callback (net.call_later): the virtual clock "
                "cannot move while a timer runs; make the call non-blocking or from a thread"
            )
        info = WaitInfo(call, fd, None if events is None else self.event_names(events), fds)
        stalled_since = time.monotonic()
        last_activity = self.activity
        watch: _Watch | None = None
        round_at_entry = self._deadlock_round
        suspected: tuple[int, float] | None = None  # (activity, real time) of a deadlock seen
        while True:
            if deadline_ns is None and self._deadlock_round != round_at_entry:
                # Another waiter found the deadlock this wait is part of.
                raise self._forever(info, me)
            self._checks[me] = self._checks.get(me, 0) + 1
            self._seen[me] = self.activity
            if ready():
                return True
            if deadline_ns is not None and self.now_ns >= deadline_ns:
                return False
            if self.activity != last_activity:
                last_activity = self.activity
                stalled_since = time.monotonic()
            self._waiting[me] = deadline_ns
            self._waiting_for[me] = info
            try:
                outside = {i: t for i, t in self._participants().items() if i not in self._waiting}
                if threading._limbo:  # type: ignore[attr-defined]
                    # A thread started but not running yet (Thread.start()
                    # waits for it; it has no ident, so it is in no list
                    # above) is about to take part: it holds the clock.
                    quiet, watch, pause = False, None, self.confirm_s
                elif outside:
                    quiet, watch, pause = self._look_outside(outside, watch)
                else:
                    quiet, watch, pause = True, None, self.idle_grace_s
                if quiet:
                    if self._timers and self._timers[0][0] <= self.now_ns:
                        # Packets due now arrive before anyone looks again.
                        self.fire_due()
                        continue
                    if any(self._seen.get(ident) != self.activity for ident in self._waiting):
                        # A waiter was notified of a syscall but has not run
                        # since: its call may be ready.  Neither a deadlock nor
                        # a clock jump can be decided until it has looked.
                        self.condition.notify_all()
                        self.condition.wait(timeout=self.confirm_s)
                        continue
                    earliest = self._earliest_deadline()
                    alarm = pending_alarm_ns()
                    if alarm is not None and (earliest is None or alarm < earliest - self.now_ns):
                        # A real-time alarm due first interrupts the call on Linux: wait for it.
                        self.condition.wait(timeout=min(alarm / 1e9, self.idle_grace_s))
                        continue
                    if earliest is None and not outside:
                        # Confirmed after idle_grace_s with no syscall: a _thread thread not run yet needs the GIL.
                        if suspected is None or suspected[0] != self.activity:
                            suspected = (self.activity, time.monotonic())
                        if time.monotonic() - suspected[1] < self.idle_grace_s:
                            self.condition.wait(timeout=self.confirm_s)
                            continue
                        self._deadlock_round += 1
                        self._deadlock_picture = self._picture()
                        self.condition.notify_all()
                        raise self._forever(info, me)
                    if earliest is not None and earliest <= self.now_ns:
                        # Another waiter's deadline has passed already: it
                        # must run before the clock can move again.
                        self.condition.notify_all()
                        self.condition.wait(timeout=self.confirm_s)
                        continue
                    if earliest is not None:
                        self.now_ns = earliest
                        self.fire_due()
                        self.condition.notify_all()
                        continue
                    # Parked threads outside and no deadline: they may yet
                    # wake in real time; the stall timeout decides.
                    if time.monotonic() - stalled_since > self.stall_timeout_s:
                        raise self._stalled(info, me)
                self.condition.wait(timeout=pause)
            finally:
                del self._waiting[me]
                del self._waiting_for[me]
