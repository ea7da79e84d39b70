"""The virtual clock and the waiting room: how blocking calls block without real time.

One ``threading.Condition`` per kernel guards all kernel state; every syscall
runs holding it, and every syscall that changes state ends with
``notify_all`` so waiters re-check their condition.

When is it safe to move the virtual clock?  When no thread that could still
change the kernel's state is running.  The kernel's *participants* are:

* the thread that created the kernel and every live thread that has made a
  syscall on it, and
* every live thread started after the kernel was created (it may be a server
  thread that has not reached its first syscall yet).

Threads that existed before the kernel (pytest's own, a thread pool...) and
threads that have exited are not participants.  Then:

* if every participant is waiting inside the kernel and each has looked at
  its condition since the last syscall, the clock jumps at once
  to the earliest deadline among the waiters (a 30 s ``poll`` costs
  microseconds); if no waiter has a deadline, nothing can ever wake them, and
  each gets :class:`BlockedForever` naming its fd and call instead of a hang;
* if some participant is running outside the kernel (a main thread in
  ``Thread.join``, say), waiters sleep in real time for ``idle_grace_s``; a
  grace period with no syscall at all counts as quiescence and the clock
  jumps to the earliest deadline.  A wait with no deadline that sees no
  syscall for ``stall_timeout_s`` of real time also gets
  :class:`BlockedForever`, so a forgotten peer fails a test instead of
  hanging it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs

__all__ = ["BlockedForever", "Scheduler"]


class BlockedForever(RuntimeError):
    """A blocking call that nothing can ever complete (a bug in the test, not an OS error)."""


@attrs.define(eq=False)
class Scheduler:
    """Virtual clock plus the bookkeeping of which threads are waiting."""

    condition: threading.Condition = attrs.field(factory=threading.Condition)
    #: CLOCK_MONOTONIC of the virtual machine, in ns; starts at 1000 s as a
    #: real boot-relative clock would not be 0.
    now_ns: int = 1_000_000_000_000
    idle_grace_s: float = 0.02
    stall_timeout_s: float = 5.0
    #: Bumped by every syscall; a grace period that sees it unchanged is idle.
    activity: int = 0
    _preexisting: frozenset[int] = attrs.field(
        factory=lambda: frozenset(t.ident for t in threading.enumerate() if t.ident is not None)
    )
    #: Threads that have used the kernel -- starting with the one that made it
    #: (a test's main thread that starts a server thread and then connects is
    #: a participant before its first syscall).
    _users: dict[int, threading.Thread] = attrs.field(
        factory=lambda: {threading.get_ident(): threading.current_thread()}
    )
    #: thread ident -> deadline (ns) or None, for threads blocked in the kernel.
    _waiting: dict[int, int | None] = attrs.field(factory=dict)
    _deadlock_round: int = 0
    #: thread ident -> how many times it has evaluated its wait condition.
    _checks: dict[int, int] = attrs.field(factory=dict)
    #: thread ident -> ``activity`` when it last evaluated its wait condition.
    _seen: dict[int, int] = attrs.field(factory=dict)

    def enter(self) -> None:
        """Called (lock held) at the start of every syscall."""
        self.activity += 1
        thread = threading.current_thread()
        if thread.ident is not None and thread.ident not in self._users:
            self._users[thread.ident] = thread

    def _participants(self) -> set[int]:
        alive = {t.ident: t for t in threading.enumerate() if t.ident is not None}
        found = {ident for ident, t in self._users.items() if t.is_alive()}
        found |= {ident for ident in alive if ident not in self._preexisting}
        return found

    def _earliest_deadline(self) -> int | None:
        deadlines = [d for d in self._waiting.values() if d is not None]
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
            self.condition.wait(timeout=self.idle_grace_s)
            alive = {t.ident for t in threading.enumerate()}
        # A waiter that re-checked and is not ready is back in _waiting, or on
        # its way there: its wait() releases the lock only once it is.

    def wait_until(
        self, ready: Callable[[], bool], deadline_ns: int | None, describe: Callable[[], str]
    ) -> bool:
        """Block (lock held) until ``ready()`` or the virtual deadline: True when ready."""
        me = threading.get_ident()
        stalled_since = time.monotonic()
        last_activity = self.activity
        while True:
            self._checks[me] = self._checks.get(me, 0) + 1
            self._seen[me] = self.activity
            if ready():
                return True
            if deadline_ns is not None and self.now_ns >= deadline_ns:
                return False
            self._waiting[me] = deadline_ns
            try:
                participants = self._participants()
                if participants <= set(self._waiting):
                    if any(self._seen.get(ident) != self.activity for ident in self._waiting):
                        # A waiter was notified of a syscall but has not run
                        # since: its call may be ready.  Neither a deadlock nor
                        # a clock jump can be decided until it has looked.
                        self.condition.notify_all()
                        self.condition.wait(timeout=self.idle_grace_s)
                        continue
                    earliest = self._earliest_deadline()
                    if earliest is None:
                        self._deadlock_round += 1
                        self.condition.notify_all()
                        raise BlockedForever(
                            f"{describe()} would block forever: every thread using this "
                            "fake kernel is waiting and none has a deadline"
                        )
                    if earliest <= self.now_ns:
                        # Another waiter's deadline has passed already: it
                        # must run before the clock can move again.
                        self.condition.notify_all()
                        self.condition.wait(timeout=self.idle_grace_s)
                        continue
                    self.now_ns = earliest
                    self.condition.notify_all()
                    continue
                round_before = self._deadlock_round
                woken = self.condition.wait(timeout=self.idle_grace_s)
                if deadline_ns is None and self._deadlock_round != round_before:
                    raise BlockedForever(
                        f"{describe()} would block forever: every thread using this "
                        "fake kernel is waiting and none has a deadline"
                    )
                if self.activity != last_activity:
                    last_activity = self.activity
                    stalled_since = time.monotonic()
                    continue
                if woken:
                    continue
                # A grace period without any syscall: the kernel is quiescent.
                earliest = self._earliest_deadline()
                if earliest is not None:
                    self.now_ns = max(self.now_ns, earliest)
                    self.condition.notify_all()
                elif time.monotonic() - stalled_since > self.stall_timeout_s:
                    raise BlockedForever(
                        f"{describe()} has waited {self.stall_timeout_s} s of real time "
                        "with no syscall on this fake kernel from any thread"
                    )
            finally:
                del self._waiting[me]
