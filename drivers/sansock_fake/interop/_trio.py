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
count instead of hanging; ``trio.testing.wait_all_tasks_blocked`` with a
cushion (the clock sleeps before trio looks at the cushion); the stdlib is
not patched during the run (trio makes its own wake-up socketpair with the
stdlib, which must stay real); scripted ``poll`` faults do not apply to the
clock's wait.  See ``docs/howto/trio.rst``.
"""

from __future__ import annotations

import math
import os
import socket as _std_socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import outcome
import trio

import sansock

from .._kernel import FakeKernel
from .._scheduler import BlockedForever
from . import _stdsocket
from ._wait import MixedWaitError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["FakeTrioSocket", "KernelClock", "trio_run"]

_T = TypeVar("_T")

#: Linux's poll bits (the kernel checks it speaks Linux's numbers: ``check_abi``).
POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x4, 0x8, 0x10, 0x20
_ALWAYS = POLLERR | POLLHUP | POLLNVAL
_TRIO_DIR = os.path.dirname(os.path.abspath(trio.__file__))
#: trio's thread cache (``trio.to_thread``, ``start_thread_soon``): its workers' job frames are adopted.
_THREAD_CACHE_FILE = trio.lowlevel.start_thread_soon.__code__.co_filename
#: Real seconds trio waits in its epoll while a job is being handed to a thread.
_HANDOVER_S = 0.0005


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
                revents = revents_of(fd) & (events | _ALWAYS)
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
                if revents & (events | _ALWAYS):
                    task = self.waiters.pop((fd, events), None)
                    if task is not None:
                        woken.append(task)
        if woken:
            assert self.token is not None
            self.token.run_sync_soon(self._wake, woken)
        return 0.0

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
    """The tasks of the run with no live child task (the ones actually waiting), from *main* down."""
    todo = [main] if main is not None else []
    while todo:
        task = todo.pop()
        children = [child for nursery in task.child_nurseries for child in nursery.child_tasks]
        if children:
            todo.extend(children)
        else:
            yield task


def _where(task: trio.lowlevel.Task) -> str:
    """The innermost frame of *task* outside trio: "test_x.py:12 in client"."""
    chosen = innermost = None
    for frame, _ in task.iter_await_frames():
        innermost = frame
        if os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_TRIO_DIR):
            continue
        if os.path.abspath(frame.f_code.co_filename) == os.path.abspath(__file__):
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


# -- sockets ------------------------------------------------------------------------------


class FakeTrioSocket(trio.socket.SocketType):
    """A ``trio.socket.SocketType`` over a socket of the fake kernel (non-blocking)."""

    def __init__(self, hub: _Hub, sock: Any) -> None:
        super().__init__()
        self._hub = hub
        self._sock = sock
        self._did_shutdown_SHUT_WR = False
        sock.setblocking(False)
        hub.sockets[sock.fileno()] = self

    # -- synchronous, as trio's own socket ------------------------------------------------
    def detach(self) -> int:
        self._hub.sockets.pop(self._sock.fileno(), None)
        return int(self._sock.detach())

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def getsockname(self) -> Any:
        return self._sock.getsockname()

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        if buflen is None:
            return self._sock.getsockopt(level, optname)
        return self._sock.getsockopt(level, optname, buflen)

    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        if optlen is None:
            if value is None:
                raise TypeError("invalid value for argument 'value', must not be None when specifying optlen")
            self._sock.setsockopt(level, optname, value)
        else:
            if value is not None:
                raise TypeError(f"invalid value for argument 'value': {value!r}, must be None when specifying optlen")
            self._sock.setsockopt(level, optname, value, optlen)

    def listen(self, backlog: int = min(trio.socket.SOMAXCONN, 128)) -> None:
        self._sock.listen(backlog)

    def get_inheritable(self) -> bool:
        return bool(self._sock.get_inheritable())

    def set_inheritable(self, inheritable: bool) -> None:
        self._sock.set_inheritable(inheritable)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def family(self) -> Any:
        return self._sock.family

    @property
    def type(self) -> Any:
        return self._sock.type

    @property
    def proto(self) -> int:
        return int(self._sock.proto)

    @property
    def did_shutdown_SHUT_WR(self) -> bool:
        return self._did_shutdown_SHUT_WR

    def __repr__(self) -> str:
        return repr(self._sock).replace(type(self._sock).__module__ + ".", "sansock_fake.trio.", 1)

    def describe(self) -> str:
        """"127.0.0.1:49152 -> 127.0.0.1:8080" (for the deadlock report)."""
        try:
            local = self._sock.getsockname()
        except OSError:
            return "closed"
        try:
            return f"{_address(local)} -> {_address(self._sock.getpeername())}"
        except OSError:
            return _address(local)

    def dup(self) -> FakeTrioSocket:
        return FakeTrioSocket(self._hub, self._sock.dup())

    def close(self) -> None:
        fd = self._sock.fileno()
        if fd != -1:
            self._hub.sockets.pop(fd, None)
            self._hub.notify_closing(fd)
            self._sock.close()

    def shutdown(self, flag: int) -> None:
        self._sock.shutdown(flag)
        if flag in (trio.socket.SHUT_WR, trio.socket.SHUT_RDWR):
            self._did_shutdown_SHUT_WR = True

    def is_readable(self) -> bool:
        kernel = self._hub.kernel
        with kernel._scheduler.condition:
            return bool(kernel._revents(self.fileno()) & (POLLIN | _ALWAYS))

    # -- waiting ----------------------------------------------------------------------------
    async def wait_writable(self) -> None:
        await self._hub.wait(self.fileno(), POLLOUT)

    async def _nonblocking(self, events: int, fn: Callable[..., _T], *args: Any) -> _T:
        """trio's ``_nonblocking_helper``: try, and on EAGAIN wait for the fd and retry."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            result = fn(*args)
        except BlockingIOError:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return result
        while True:
            await self._hub.wait(self.fileno(), events)
            try:
                return fn(*args)
            except BlockingIOError:
                pass

    async def _resolve(self, address: Any, local: bool) -> Any:
        """Host names in an inet address through trio's resolver (the fake one), as trio does."""
        family = self._sock.family
        if family not in (trio.socket.AF_INET, trio.socket.AF_INET6):
            return os.fspath(address) if isinstance(address, os.PathLike) else address
        if family == trio.socket.AF_INET and (not isinstance(address, tuple) or len(address) != 2):
            raise ValueError("address should be a (host, port) tuple")
        if family == trio.socket.AF_INET6 and (not isinstance(address, tuple) or not 2 <= len(address) <= 4):
            raise ValueError("address should be a (host, port, [flowinfo, [scopeid]]) tuple")
        host, port, *rest = address
        if isinstance(port, int) and isinstance(host, str) and host:
            try:
                _std_socket.inet_pton(family, host)  # parsing only
            except (OSError, TypeError):
                pass
            else:
                return address
        if host == "":
            host = None
        elif host == "<broadcast>" and family == trio.socket.AF_INET:
            host = "255.255.255.255"
        flags = trio.socket.AI_PASSIVE if local else 0
        found = await trio.socket.getaddrinfo(host, port, family, self._sock.type, self._sock.proto, flags)
        resolved = found[0][4]
        if family == trio.socket.AF_INET6 and rest:
            resolved = (resolved[0], resolved[1], *rest)
        return resolved

    # -- asynchronous ---------------------------------------------------------------------
    async def bind(self, address: Any) -> None:
        address = await self._resolve(address, local=True)
        await trio.lowlevel.checkpoint()
        self._sock.bind(address)

    async def accept(self) -> tuple[FakeTrioSocket, Any]:
        sock, addr = await self._nonblocking(POLLIN, self._sock.accept)
        return FakeTrioSocket(self._hub, sock), addr

    async def connect(self, address: Any) -> None:
        # trio's SocketType.connect: a non-blocking connect, then wait for writable.
        try:
            address = await self._resolve(address, local=False)
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                self._sock.connect(address)
            except BlockingIOError:
                pass
            else:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
            await self._hub.wait(self.fileno(), POLLOUT)
        except trio.Cancelled:
            self.close()
            raise
        err = self._sock.getsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_ERROR)
        if err != 0:
            raise OSError(err, f"Error connecting to {address!r}: {os.strerror(err)}")

    def recv(self, buflen: int, flags: int = 0, /) -> Awaitable[bytes]:
        return self._nonblocking(POLLIN, self._sock.recv, buflen, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> Awaitable[int]:
        return self._nonblocking(POLLIN, self._sock.recv_into, buffer, nbytes, flags)

    def recvfrom(self, bufsize: int, flags: int = 0, /) -> Awaitable[tuple[bytes, Any]]:
        return self._nonblocking(POLLIN, self._sock.recvfrom, bufsize, flags)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0, /) -> Awaitable[tuple[int, Any]]:
        return self._nonblocking(POLLIN, self._sock.recvfrom_into, buffer, nbytes, flags)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /) -> Awaitable[Any]:
        return self._nonblocking(POLLIN, self._sock.recvmsg, bufsize, ancbufsize, flags)

    def recvmsg_into(self, buffers: Any, ancbufsize: int = 0, flags: int = 0, /) -> Awaitable[Any]:
        return self._nonblocking(POLLIN, self._sock.recvmsg_into, buffers, ancbufsize, flags)

    def send(self, bytes: Any, flags: int = 0, /) -> Awaitable[int]:
        return self._nonblocking(POLLOUT, self._sock.send, bytes, flags)

    async def sendto(self, *args: Any) -> int:
        # sendto(data, address) or sendto(data, flags, address), as the stdlib.
        args_list = list(args)
        args_list[-1] = await self._resolve(args_list[-1], local=False)
        result: int = await self._nonblocking(POLLOUT, self._sock.sendto, *args_list)
        return result

    async def sendmsg(
        self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None, /
    ) -> int:
        if address is not None:
            address = await self._resolve(address, local=False)
            result: int = await self._nonblocking(POLLOUT, self._sock.sendmsg, buffers, ancdata, flags, address)
        else:
            result = await self._nonblocking(POLLOUT, self._sock.sendmsg, buffers, ancdata, flags)
        return result


def _address(value: object) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        host, port = value[0], value[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return repr(value)


class _SocketFactory(trio.abc.SocketFactory):
    def __init__(self, hub: _Hub) -> None:
        self._hub = hub

    def socket(self, family: int | None = None, type: int | None = None, proto: int | None = None) -> FakeTrioSocket:
        # trio.socket.socket() passes its defaults (AF_INET, SOCK_STREAM, 0) or -1.
        family = trio.socket.AF_INET if family is None or family == -1 else family
        type = trio.socket.SOCK_STREAM if type is None or type == -1 else type
        proto = 0 if proto is None or proto == -1 else proto
        return FakeTrioSocket(self._hub, self._hub.socket_class(family, type, proto))


class _Resolver(trio.abc.HostnameResolver):
    """The fake resolver, answered inline (it never waits)."""

    def __init__(self, hub: _Hub) -> None:
        self._hub = hub

    async def getaddrinfo(
        self, host: bytes | None, port: bytes | str | int | None, family: int = 0, type: int = 0,
        proto: int = 0, flags: int = 0,
    ) -> list[Any]:
        await trio.lowlevel.checkpoint()
        result: list[Any] = self._hub.functions["getaddrinfo"](host, port, family, type, proto, flags)
        return result

    async def getnameinfo(self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int) -> tuple[str, str]:
        await trio.lowlevel.checkpoint()
        result: tuple[str, str] = self._hub.functions["getnameinfo"](sockaddr, flags)
        return result


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
        trio.socket.set_custom_socket_factory(_SocketFactory(hub))
        trio.socket.set_custom_hostname_resolver(_Resolver(hub))
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
