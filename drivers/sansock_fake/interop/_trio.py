"""trio on the fake kernel, in virtual time, through trio's public hooks only.

:func:`trio_run` is ``trio.run`` on a :class:`~sansock_fake.FakeKernel`.  Three
public trio hooks put trio on the kernel; nothing of trio is patched:

* ``trio.socket.set_custom_socket_factory``: every ``trio.socket.socket()``
  (so ``open_tcp_stream``, ``open_tcp_listeners``/``serve_tcp``, and the
  libraries built on them) is a :class:`FakeTrioSocket`, a
  ``trio.socket.SocketType`` over a non-blocking socket of the kernel;
* ``trio.socket.set_custom_hostname_resolver``: ``trio.socket.getaddrinfo``
  and ``getnameinfo`` answer from the fake resolver, inline (no thread);
* the ``clock=`` of ``trio.run``: :class:`KernelClock`, a ``trio.abc.Clock``
  whose time is the kernel's virtual ``CLOCK_MONOTONIC``.

How a task waits on a fake fd
-----------------------------

trio waits for I/O in its own ``epoll``; a fake fd cannot enter it.  trio
asks its clock ``deadline_to_sleep_time(deadline)`` exactly when no task is
runnable, just before that wait (``trio/_core/_run.py``, ``unrolled_run``):
that is the one moment trio would sleep, so :class:`KernelClock` sleeps
*there*, in the kernel -- one multi-fd ``poll`` over the fds trio tasks wait
on (a task waits with ``wait_task_rescheduled``, registered in the run's
:class:`_Hub`), with trio's next deadline as its virtual deadline.  The trio
thread is then *blocked in the kernel*, as any thread of the sync fake: the
scheduler jumps the clock to the deadline once every other participant is
blocked or parked, and a wait that nothing can end is a
:class:`~sansock_fake.BlockedForever`.  When the poll returns, the ready
tasks are rescheduled through ``TrioToken.run_sync_soon`` and the clock
answers 0, so trio only looks at its own epoll (its wake-up socket, signals)
and runs them.

A thread that wakes trio (``trio.to_thread``'s result, ``from_thread``,
``run_sync_soon`` from outside) does it through trio's real wake-up socket,
which the kernel cannot see: the kernel wait also ends when
``trio.lowlevel.current_statistics().run_sync_soon_queue_size`` is non-zero
(it is re-checked each time the scheduler looks, at least every
``idle_grace_s`` while another thread takes part).  trio's thread cache is
process-wide, so a worker may predate the kernel and be no participant: the
clock adopts every worker running a job (``Scheduler.adopt``), and while a
job is handed over but not started yet it lets trio wait a moment in real
time instead of sleeping in the kernel.

Deadlocks: when the scheduler finds the wait can never end, :func:`trio_run`
cancels everything (the whole run is in one cancel scope) and raises
:class:`~sansock_fake.BlockedForever` naming every task waiting on a fake fd
and every other task still waiting, with where each is suspended.

What is not modelled: a task waiting on a real fd (a real trio socket, a
pipe, a subprocess) while the clock sleeps in the kernel cannot be woken --
:func:`trio_run` raises :class:`~sansock_fake.MixedWaitError` naming the
count instead of hanging; the cushion of ``trio.testing.wait_all_tasks_blocked``
passes in real time (while a task waits in it the clock only looks at the
kernel, then lets trio apply the cushion in its epoll); the stdlib is
not patched during the run (trio makes its own wake-up socketpair with the
stdlib, which must stay real); scripted ``poll`` faults do not apply to the
clock's wait.  See ``docs/howto/trio.rst``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import outcome
import trio
import trio.testing

import sansock

from .._kernel import FakeKernel
from .._scheduler import BlockedForever
from . import _stdsocket, _trio_socket
from ._trio_socket import ALWAYS, POLLIN, POLLOUT, FakeTrioSocket, Resolver, SocketFactory
from ._wait import MixedWaitError

__all__ = ["FakeTrioSocket", "KernelClock", "trio_run"]

_T = TypeVar("_T")

_TRIO_DIR = os.path.dirname(os.path.abspath(trio.__file__))
#: trio's thread cache (``trio.to_thread``, ``start_thread_soon``): its workers' job frames are adopted.
_THREAD_CACHE_FILE = trio.lowlevel.start_thread_soon.__code__.co_filename
#: Real seconds trio waits in its epoll while a job is being handed to a thread.
_HANDOVER_S = 0.0005
#: ``trio.testing.wait_all_tasks_blocked``'s code: a task suspended in it waits for "idle".
_WAIT_IDLE_CODE = trio.testing.wait_all_tasks_blocked.__code__
#: What the clock answers while a task waits for idle: more than any cushion, so trio uses the cushion.
_IDLE_S = 86400.0
#: This module and the sockets': not where a task "is" in a deadlock report.
_OWN_FILES = frozenset(os.path.abspath(f) for f in (__file__, _trio_socket.__file__))


class _Hub:
    """One trio run on one kernel: the tasks waiting on fake fds, and the deadlock verdict."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self.binding = sansock.using(kernel)
        self.socket_class = _stdsocket.socket_class_for(self.binding)
        self.functions = _stdsocket.module_functions(
            kernel, self.binding, self.socket_class, {"dup": os.dup, "close": os.close}
        )
        #: (fd, POLLIN or POLLOUT) -> the task waiting for it (one per direction, as trio).
        self.waiters: dict[tuple[int, int], trio.lowlevel.Task] = {}
        #: fd -> the socket, for the deadlock report.
        self.sockets: dict[int, FakeTrioSocket] = {}
        self.token: trio.lowlevel.TrioToken | None = None
        self.root_scope: trio.CancelScope | None = None
        #: Set when the run cannot go on: raised by trio_run once everything is cancelled.
        self.verdict: BaseException | None = None
        #: The run's main task (trio_run's wrapper) is reported under the user's function's name.
        self.main_task: trio.lowlevel.Task | None = None
        self.main_name = ""

    # -- a task waits ------------------------------------------------------------------
    async def wait(self, fd: int, events: int) -> None:
        key = (fd, events)
        if key in self.waiters:
            # trio/_core/_io_epoll.py's words
            raise trio.BusyResourceError("another task is already reading / writing this fd")
        task = self.waiters[key] = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            if self.waiters.get(key) is not task:
                return trio.lowlevel.Abort.FAILED  # its wake-up is already queued
            del self.waiters[key]
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def notify_closing(self, fd: int) -> None:
        """``trio.lowlevel.notify_closing``: the tasks waiting on *fd* get ClosedResourceError."""
        for events in (POLLIN, POLLOUT):
            task = self.waiters.pop((fd, events), None)
            if task is not None:
                error = trio.ClosedResourceError("another task closed this fd")
                trio.lowlevel.reschedule(task, outcome.Error(error))

    def _wake(self, tasks: list[trio.lowlevel.Task]) -> None:
        for task in tasks:
            trio.lowlevel.reschedule(task)

    # -- the clock sleeps ----------------------------------------------------------------
    def _adopt_workers(self) -> bool:
        """Adopt the threads of trio's thread cache running a job; False while one is being handed over.

        trio's thread cache is process-wide: a worker made before this kernel
        (by an earlier run) is no participant until its first syscall, and
        would not hold the clock while it runs ``to_thread.run_sync``'s
        function.  Every thread inside the cache's ``_handle_job`` is adopted
        (:meth:`Scheduler.adopt`).  A job handed over but not yet started
        (the default limiter lends more tokens than there are such threads)
        cannot be seen at all: the caller then waits a moment in real time.
        """
        scheduler = self.kernel._scheduler
        me = threading.current_thread()
        running = 0
        frames = sys._current_frames()
        try:
            for thread in threading.enumerate():
                frame = frames.get(thread.ident) if thread is not me and thread.ident is not None else None
                while frame is not None:
                    code = frame.f_code
                    if code.co_name == "_handle_job" and code.co_filename == _THREAD_CACHE_FILE:
                        running += 1
                        with scheduler.condition:
                            scheduler.adopt(thread)
                        break
                    frame = frame.f_back
        finally:
            del frames
        lent = trio.to_thread.current_default_thread_limiter().borrowed_tokens
        return lent <= running

    def sleep(self, deadline: float) -> float:
        """Wait in the kernel until a waited fd is ready, *deadline* (virtual) or a thread's wake-up.

        Returns the real seconds trio should still wait in its own epoll: 0,
        or a moment while a job is being handed to a thread (:meth:`_adopt_workers`).
        """
        if self.verdict is not None:
            return 0.0
        stats = trio.lowlevel.current_statistics()
        if stats.run_sync_soon_queue_size:
            return 0.0
        if threading.active_count() > 1 and not self._adopt_workers():
            return _HANDOVER_S
        io = stats.io_statistics
        # trio's own run_sync_soon task always waits on its wake-up socket.
        real = getattr(io, "tasks_waiting_read", 1) - 1 + getattr(io, "tasks_waiting_write", 0)
        if real > 0:
            self._stop(MixedWaitError(
                f"{real} trio task(s) wait on real fds (a real trio socket, a pipe, a subprocess) "
                "while others wait on the fake kernel: trio's epoll and the fake kernel cannot be "
                "waited on together; make every socket through trio.socket inside "
                "sansock_fake.trio_run, or use trio.run"
            ))
            return 0.0
        scheduler = self.kernel._scheduler
        deadline_ns: int | None = None
        if not math.isinf(deadline):
            deadline_ns = math.ceil(deadline * 1e9)
            while deadline_ns / 1e9 < deadline:
                deadline_ns += 1
        idle = self._waits_for_idle()
        if idle:
            # A task in wait_all_tasks_blocked: trio wakes it when its cushion
            # passes with every task blocked -- before any deadline, as trio
            # does before a MockClock autojump.  Only look, then let trio
            # apply the cushion (in real time, in its epoll).
            deadline_ns = scheduler.now_ns
        merged: dict[int, int] = {}
        for fd, events in self.waiters:
            merged[fd] = merged.get(fd, 0) | events
        interest = sorted(merged.items())
        fds = tuple(fd for fd, _ in interest)
        found: list[tuple[int, int]] = []
        revents_of = self.kernel._revents

        def ready() -> bool:
            found.clear()
            for fd, events in interest:
                revents = revents_of(fd) & (events | ALWAYS)
                if revents:
                    found.append((fd, revents))
            if found:
                return True
            return trio.lowlevel.current_statistics().run_sync_soon_queue_size > 0

        verdict: BlockedForever | None = None
        shown = (fds, None if deadline_ns is None else max(deadline_ns - scheduler.now_ns, 0))
        with scheduler.condition:
            scheduler.enter()
            try:
                if deadline_ns is None or scheduler.now_ns < deadline_ns:
                    scheduler.wait_until(ready, deadline_ns, "poll", fds[0] if fds else -1, fds=fds)
                else:
                    ready()
            except BlockedForever as exc:
                self.kernel.trace.record("poll", shown, "BlockedForever")
                verdict = exc
            else:
                self.kernel.trace.record("poll", shown, f"ok {found!r}")
            finally:
                scheduler.condition.notify_all()
        if verdict is not None:
            self._stop(self.describe(verdict))
            return 0.0
        woken: list[trio.lowlevel.Task] = []
        for fd, revents in found:
            for events in (POLLIN, POLLOUT):
                if revents & (events | ALWAYS):
                    task = self.waiters.pop((fd, events), None)
                    if task is not None:
                        woken.append(task)
        if woken:
            assert self.token is not None
            self.token.run_sync_soon(self._wake, woken)
            return 0.0
        return _IDLE_S if idle else 0.0

    def _waits_for_idle(self) -> bool:
        """Whether a task is suspended in ``trio.testing.wait_all_tasks_blocked``.

        Tasks waiting on a fake fd are skipped (they wait in the hub); for
        the others the await chain is walked from the outermost coroutine.
        """
        in_hub = {id(task) for task in self.waiters.values()}
        root = trio.lowlevel.current_root_task()
        todo = [root] if root is not None else []
        while todo:
            task = todo.pop()
            for nursery in task.child_nurseries:
                todo.extend(nursery.child_tasks)
            if id(task) in in_hub:
                continue
            coro: Any = task.coro
            for _ in range(256):
                if coro is None:
                    break
                if getattr(coro, "cr_code", None) is _WAIT_IDLE_CODE:
                    return True
                coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        return False

    def _stop(self, verdict: BaseException) -> None:
        self.verdict = verdict
        assert self.root_scope is not None and self.token is not None
        # Through the entry queue: the clock runs outside any task.
        self.token.run_sync_soon(self.root_scope.cancel)

    # -- the deadlock report -------------------------------------------------------------
    def _fd_text(self, fd: int) -> str:
        sock = self.sockets.get(fd)
        if sock is None:
            return f"fd {fd}"
        return f"fd {fd} ({sock.describe()})"

    def describe(self, exc: BlockedForever) -> BlockedForever:
        """Every task, where it is suspended and what it waits on."""
        lines = [
            "the trio run would block forever: no task is runnable, no deadline is pending "
            "and no thread can wake it"
        ]
        waiting = {id(task): (fd, events) for (fd, events), task in self.waiters.items()}
        tasks = {id(task): task for task in _waiting_tasks(self.main_task)}
        tasks.update((id(task), task) for task in self.waiters.values())
        for task in sorted(tasks.values(), key=lambda t: (t.name, id(t))):
            name = self.main_name if task is self.main_task else task.name
            where = f"task {name!r} at {_where(task)}"
            key = waiting.get(id(task))
            if key is not None:
                fd, events = key
                what = "readable" if events == POLLIN else "writable"
                lines.append(f"  {where}: waits for {self._fd_text(fd)} to become {what}")
            else:
                lines.append(f"  {where}: waits on something no task or thread will provide")
        lines.append(f"  (the kernel: {exc})")
        return BlockedForever("\n".join(lines))


def _waiting_tasks(main: trio.lowlevel.Task | None) -> Iterable[trio.lowlevel.Task]:
    """The tasks of the run that wait on something themselves, from *main* down.

    A task with live children counts only when it is not waiting for them
    (in a nursery's ``__aexit__``): a nursery body can wait on its own.
    """
    todo = [main] if main is not None else []
    while todo:
        task = todo.pop()
        children = [child for nursery in task.child_nurseries for child in nursery.child_tasks]
        todo.extend(children)
        if not children or not _in_nursery_exit(task):
            yield task


def _in_nursery_exit(task: trio.lowlevel.Task) -> bool:
    for frame, _ in task.iter_await_frames():
        code = frame.f_code
        if code.co_name == "__aexit__" and os.path.abspath(code.co_filename).startswith(_TRIO_DIR):
            return True
    return False


def _where(task: trio.lowlevel.Task) -> str:
    """The innermost frame of *task* outside trio: "test_x.py:12 in client"."""
    chosen = innermost = None
    for frame, _ in task.iter_await_frames():
        innermost = frame
        if os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_TRIO_DIR):
            continue
        if os.path.abspath(frame.f_code.co_filename) in _OWN_FILES:
            continue
        chosen = frame
    chosen = chosen or innermost
    if chosen is None:
        return "not started"
    return f"{os.path.basename(chosen.f_code.co_filename)}:{chosen.f_lineno} in {chosen.f_code.co_name}"


class KernelClock(trio.abc.Clock):
    """A ``trio.abc.Clock`` on the kernel's virtual clock; it sleeps in the kernel (see the module)."""

    def __init__(self, hub: _Hub) -> None:
        self._hub = hub
        self._scheduler = hub.kernel._scheduler

    def start_clock(self) -> None:
        """Nothing to start: the kernel's clock runs from the kernel's creation."""

    def current_time(self) -> float:
        """The kernel's ``CLOCK_MONOTONIC`` in seconds."""
        return self._scheduler.now_ns / 1e9

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Sleep in the kernel until something happens (trio has nothing runnable), then 0.

        Or, while a job is being handed to a thread, a moment of real time
        at once (see :meth:`_Hub.sleep`).
        """
        return self._hub.sleep(deadline)


def trio_run(
    async_fn: Callable[..., Awaitable[_T]], *args: Any, kernel: FakeKernel | None = None, **run_kwargs: Any
) -> _T:
    """``trio.run(async_fn, *args)`` on *kernel* (a new :class:`~sansock_fake.FakeKernel` when None).

    ``trio.socket`` makes fake sockets and resolves on the fake resolver, and
    trio's clock is the kernel's virtual clock: ``trio.sleep(3600)`` and
    ``move_on_after`` cost no real time.  A run that would wait forever
    raises :class:`~sansock_fake.BlockedForever` naming its tasks.
    *run_kwargs* go to ``trio.run`` (not ``clock``).

    >>> import trio, sansock_fake
    >>> async def main():
    ...     start = trio.current_time()
    ...     await trio.sleep(3600)
    ...     return trio.current_time() - start
    >>> sansock_fake.trio_run(main)   # an hour of virtual time, in microseconds
    3600.0
    """
    if "clock" in run_kwargs:
        raise TypeError("trio_run() sets trio's clock itself (the kernel's virtual clock): do not pass clock=")
    if kernel is None:
        kernel = FakeKernel()
    if kernel.fd_base <= 2:
        raise ValueError(
            "trio_run() needs a kernel whose fds cannot name real files: "
            f"fd_base={kernel.fd_base} gives small fd numbers (leave fd_base at its default)"
        )
    _stdsocket.check_abi(kernel)
    hub = _Hub(kernel)

    async def root() -> _T:
        hub.token = trio.lowlevel.current_trio_token()
        hub.main_task = trio.lowlevel.current_task()
        hub.main_name = getattr(async_fn, "__name__", repr(async_fn))
        trio.socket.set_custom_socket_factory(SocketFactory(hub))
        trio.socket.set_custom_hostname_resolver(Resolver(hub))
        try:
            with trio.CancelScope() as scope:
                hub.root_scope = scope
                result = await async_fn(*args)
        except BaseException:
            if hub.verdict is not None:
                raise hub.verdict  # what the cancellation raised on the way out is its __context__
            raise
        if hub.verdict is not None:
            raise hub.verdict
        if scope.cancelled_caught:
            raise AssertionError("sansock_fake.trio_run: the run was cancelled without a verdict")
        return result

    return trio.run(root, clock=KernelClock(hub), **run_kwargs)
