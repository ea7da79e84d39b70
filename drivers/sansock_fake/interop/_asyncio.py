"""An asyncio event loop on the fake kernel, in virtual time.

:class:`FakeEventLoop` is the stdlib's selector event loop
(``asyncio.SelectorEventLoop``: transports, streams, SSL, datagrams, Unix
sockets, ``sock_*``) with four parts swapped:

* its selector is :class:`KernelSelector`, one multi-fd ``poll`` in the
  kernel per loop iteration (:func:`._wait.kernel_poll`).  The loop's thread
  then waits *in the kernel*, with the deadline of the next timer, so the
  scheduler counts it as blocked and the virtual clock jumps as it does for
  any blocked thread (docs/reference/fake.rst, "Virtual time and threads");
* :meth:`FakeEventLoop.time` reads the kernel's clock, so ``call_later``,
  ``asyncio.sleep``, ``wait_for`` and ``timeout`` count virtual time;
* its self-pipe (``call_soon_threadsafe``) is a fake socketpair, so a thread
  that wakes the loop makes a syscall the kernel sees;
* while it runs (``run_forever``, hence ``run_until_complete``), the stdlib's
  socket machinery is on its kernel (:func:`._patch.patch_stdlib`): the
  sockets asyncio and libraries make (``create_connection``,
  ``start_server``, aiohttp's connector, httpx, websockets...) are fake.

Around them: ``getaddrinfo``/``getnameinfo`` resolve inline on the fake
resolver (no executor thread); ``run_in_executor(None, ...)`` runs each call
in a thread of its own that ends with the call (:class:`_CallThreadExecutor`:
an idle worker would be a thread the scheduler has to wait for);
``sock_sendfile``/``sendfile`` of a real file drive the kernel's
``sendfile(2)`` as the stdlib's Unix loop drives ``os.sendfile`` (anything
else falls back to ``send``, as there).  Subprocesses, signal handlers and pipes are not modelled and raise
``NotImplementedError`` naming what was asked.

Deadlocks: when the loop's ``poll`` would wait forever -- no callback ready,
no timer pending, every thread using the kernel blocked in it -- the
scheduler raises :class:`~sansock_fake.BlockedForever`; the loop re-raises it
naming every task, where it is suspended and the fds (or the future) it
waits on (:func:`describe_blocked`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import io
import itertools
import math
import os
import selectors as _selectors
import socket as _socket_module
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import sansock

from .._kernel import FakeKernel
from .._scheduler import BlockedForever
from . import _stdsocket
from ._patch import patch_stdlib
from ._wait import MixedWaitError, fileobj_to_fd, kernel_poll

if TYPE_CHECKING:
    from .._scheduler import Scheduler

__all__ = ["FakeEventLoop", "FakeEventLoopPolicy", "KernelSelector", "new_event_loop", "run"]

_T = TypeVar("_T")

EVENT_READ, EVENT_WRITE = _selectors.EVENT_READ, _selectors.EVENT_WRITE
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))


class _NotModelled(NotImplementedError):
    """What the fake kernel does not model (a real process, a signal, a pipe)."""


def _not_modelled(what: str) -> _NotModelled:
    return _NotModelled(
        f"{what} is not modelled by the fake kernel's event loop (sansock_fake.new_event_loop): "
        "it has sockets only, no processes, pipes or signals"
    )


# -- The selector ---------------------------------------------------------------------------


class _KeyMapping(Mapping[Any, _selectors.SelectorKey]):
    """``selector.get_map()``: file objects (or fds) to keys, read-only."""

    def __init__(self, keys: dict[int, _selectors.SelectorKey]) -> None:
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, fileobj: object) -> _selectors.SelectorKey:
        try:
            return self._keys[fileobj_to_fd(fileobj)]
        except (TypeError, ValueError):
            raise KeyError(fileobj) from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys)


class KernelSelector(_selectors.BaseSelector):
    """A ``selectors`` selector over the fake kernel's multi-fd ``poll``.

    Level-triggered, as ``EpollSelector``.  The interest list is rebuilt only
    after a ``register``/``modify``/``unregister``, and one tuple of its fds
    is shared by the ``poll`` calls until then (the kernel's trace keeps it).
    A real fd (below the kernel's ``fd_base``) cannot be waited on together
    with fake ones: ``register`` refuses it with :class:`MixedWaitError`.
    """

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self._keys: dict[int, _selectors.SelectorKey] = {}
        self._map = _KeyMapping(self._keys)
        self._interest: list[tuple[int, int]] | None = None
        self._fds: tuple[int, ...] = ()
        #: Set by the loop: turns the scheduler's BlockedForever into its report.
        self.on_blocked: Callable[[BlockedForever], BaseException] | None = None

    def _check(self, fileobj: object, events: int) -> int:
        if self._map is None:
            raise RuntimeError("the selector is closed")
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        fd = fileobj_to_fd(fileobj)
        if fd < self.kernel.fd_base:
            raise MixedWaitError(
                f"the fake kernel's event loop cannot wait on real fd {fd} ({fileobj!r}): its "
                "poll sees only fake fds (a pipe, a subprocess or a socket opened outside the "
                "fake is not modelled; open sockets while the loop runs, or use a real loop)"
            )
        return fd

    def register(self, fileobj: Any, events: int, data: Any = None) -> _selectors.SelectorKey:
        fd = self._check(fileobj, events)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = _selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        self._interest = None
        return key

    def unregister(self, fileobj: Any) -> _selectors.SelectorKey:
        try:
            key = self._keys.pop(fileobj_to_fd(fileobj))
        except (TypeError, ValueError):
            raise KeyError(fileobj) from None
        self._interest = None
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> _selectors.SelectorKey:
        fd = self._check(fileobj, events)
        key = self._keys.get(fd)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        if key.events != events:
            self._interest = None
        key = key._replace(events=events, data=data)
        self._keys[fd] = key
        return key

    def get_map(self) -> Mapping[Any, _selectors.SelectorKey]:
        return self._map

    def close(self) -> None:
        self._keys.clear()
        self._interest = None

    def select(self, timeout: float | None = None) -> list[tuple[_selectors.SelectorKey, int]]:
        """Wait in virtual time (``None``: until an fd is ready) and report the ready keys."""
        if self._interest is None:
            # POLLIN/POLLOUT are Linux's numbers, which the kernel checked it speaks.
            self._interest = [
                (fd, (1 if key.events & EVENT_READ else 0) | (4 if key.events & EVENT_WRITE else 0))
                for fd, key in self._keys.items()
            ]
            self._fds = tuple(fd for fd, _ in self._interest)
        ns = None if timeout is None else (math.ceil(timeout * 1e9) if timeout > 0 else 0)
        try:
            found = kernel_poll(self.kernel, self._interest, ns, self._fds)
        except InterruptedError:
            return []
        except BlockedForever as exc:
            if self.on_blocked is None:
                raise
            raise self.on_blocked(exc) from None
        ready = []
        keys = self._keys
        for fd, revents in found:
            if revents & 0x20:
                # POLLNVAL: the fd was closed while registered.  epoll drops a
                # file from every interest list when its last reference goes
                # (fs/eventpoll.c, eventpoll_release), so EpollSelector never
                # reports it: neither does this selector.
                continue
            events = 0
            if revents & ~1:  # anything but POLLIN: EpollSelector's rule
                events |= EVENT_WRITE
            if revents & ~4:  # anything but POLLOUT
                events |= EVENT_READ
            key = keys.get(fd)
            if key is not None and events & key.events:
                ready.append((key, events & key.events))
        return ready


# -- run_in_executor ------------------------------------------------------------------------


class _CallThreadExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor: each call runs in a new thread that ends with it.

    A pool keeps idle workers, and an idle worker of a pool created after the
    kernel is a participant the scheduler must watch (it waits in
    ``SimpleQueue.get``, which counts as parked only after a real-time
    grace).  A thread per call is a participant exactly while the call runs:
    running, it holds the virtual clock; blocked in the kernel, it lets it
    move; gone, it is out of the picture.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="sansock-fake-loop")
        self._serial = itertools.count()
        self._running: set[threading.Thread] = set()

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        with self._shutdown_lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            thread = threading.Thread(
                target=self._call, args=(future, fn, args, kwargs),
                name=f"{self._thread_name_prefix}_{next(self._serial)}",
            )
            self._running.add(thread)
            thread.start()
        return future

    def _call(self, future: concurrent.futures.Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 -- handed to the future, as the pool does
                future.set_exception(exc)
                del exc
            else:
                future.set_result(result)
        finally:
            with self._shutdown_lock:
                self._running.discard(threading.current_thread())
            del future, fn, args, kwargs

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._shutdown_lock:
            self._shutdown = True
            running = list(self._running)
        if wait:
            for thread in running:
                thread.join()


# -- What the tasks wait on (BlockedForever) -----------------------------------------------


def _coroutine_frames(task: asyncio.Task[Any]) -> list[FrameType]:
    """The frames of a suspended task's await chain, outermost first."""
    frames: list[FrameType] = []
    coro: Any = task.get_coro()
    for _ in range(256):
        if coro is None:
            break
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    return frames


def _where(frames: list[FrameType]) -> str:
    """The innermost frame outside asyncio: "test_x.py:12 in client"."""
    chosen = None
    for frame in frames:
        if os.path.dirname(os.path.abspath(frame.f_code.co_filename)) != _ASYNCIO_DIR:
            chosen = frame
    if chosen is None:
        chosen = frames[-1] if frames else None
    if chosen is None:
        return "not started"
    return f"{os.path.basename(chosen.f_code.co_filename)}:{chosen.f_lineno} in {chosen.f_code.co_name}"


#: Attributes followed from what a registered fd's callback belongs to, down to
#: the futures a task awaits: transport -> protocol -> (SSL) app protocol ->
#: stream reader -> its waiter; a writer's drain waiters.
_OWNER_LINKS = ("_protocol", "_app_protocol", "_ssl_protocol", "_stream_reader", "_waiter",
                "_drain_waiter", "_drain_waiters", "_sock", "_transport", "_app_transport",
                "_payload")


def _reachable(roots: list[object], links: tuple[str, ...], limit: int = 64) -> set[int]:
    """Ids of *roots* and what their *links* attributes lead to (a bounded walk)."""
    seen: set[int] = set()
    todo = list(roots)
    while todo and len(seen) < limit:
        obj = todo.pop()
        if obj is None or id(obj) in seen or isinstance(obj, (int, str, bytes, float, bool)):
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
            todo.extend(obj)  # type: ignore[arg-type]
            continue
        for name in links:
            try:
                value = getattr(obj, name, None)
            except Exception:  # noqa: BLE001 -- a property failing: not a link
                continue
            if value is not None:
                todo.append(value)
    return seen


def _handle_roots(handle: object) -> list[object]:
    """What a registered reader/writer callback belongs to: its transport, its socket, its future."""
    roots: list[object] = []
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if owner is not None and not isinstance(owner, asyncio.AbstractEventLoop):
        roots.append(owner)
    for arg in getattr(handle, "_args", None) or ():
        if isinstance(arg, (asyncio.Future, concurrent.futures.Future, _socket_module.socket)):
            roots.append(arg)
    return roots


class _FdView(NamedTuple):
    fd: int
    text: str
    owners: set[int]


def _address(value: object) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        host, port = value[0], value[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    if isinstance(value, (str, bytes)):
        return repr(value) if value else "unnamed"
    return repr(value)


def _socket_text(handle: object) -> str:
    """"TCP 127.0.0.1:49152 -> 127.0.0.1:8080" from what the transport cached (no syscall)."""
    owner = getattr(getattr(handle, "_callback", None), "__self__", None)
    extra = getattr(owner, "_extra", None)
    if isinstance(extra, dict) and "sockname" in extra:
        local = _address(extra.get("sockname"))
        peer = extra.get("peername")
        return f"{local} -> {_address(peer)}" if peer else local
    name = getattr(getattr(handle, "_callback", None), "__name__", "")
    if name == "_accept_connection":
        for arg in getattr(handle, "_args", None) or ():
            if isinstance(arg, _socket_module.socket):
                try:
                    return f"listening on {_address(arg.getsockname())}"
                except OSError:
                    break
        return "listening"
    return ""


def _fd_views(selector: KernelSelector, skip: set[int]) -> list[_FdView]:
    views = []
    for fd, key in selector._keys.items():
        if fd in skip:
            continue
        reader, writer = key.data if isinstance(key.data, tuple) and len(key.data) == 2 else (None, None)
        roots: list[object] = []
        wants = []
        detail = ""
        for handle, what in ((reader, "to read"), (writer, "to write")):
            if handle is None or getattr(handle, "_cancelled", False):
                continue
            wants.append(what)
            roots.extend(_handle_roots(handle))
            detail = detail or _socket_text(handle)
        if not wants:
            continue
        text = f"fd {fd} ({', '.join(filter(None, [detail, ' and '.join(wants)]))})"
        views.append(_FdView(fd, text, _reachable(roots, _OWNER_LINKS)))
    return views


def _held_objects(frames: list[FrameType]) -> set[int]:
    """Ids of what a task's frames hold: their locals and the locals' attributes."""
    ids: set[int] = set()
    for frame in frames:
        for value in list(frame.f_locals.values()):
            if value is None or isinstance(value, (int, str, bytes, float)):
                continue
            ids.add(id(value))
            attrs = getattr(value, "__dict__", None)
            if isinstance(attrs, dict) and not isinstance(value, (asyncio.AbstractEventLoop, type)):
                ids.update(id(v) for v in attrs.values() if v is not None)
    return ids


def _task_name(task: asyncio.Future[Any]) -> str:
    return f"Task {task.get_name()!r}" if isinstance(task, asyncio.Task) else repr(task)


def _waits_for(task: asyncio.Task[Any], views: list[_FdView]) -> str:
    """One line: the task, where it is suspended, and what it waits on.

    The fd whose callback leads to the very future the task awaits (a stream
    reader's waiter, a ``sock_recv`` future) is named as what it waits on;
    failing that, a future of some other object is named with the fds the
    task's frames hold (a handler awaiting an ``Event`` while holding its
    connection).
    """
    frames = _coroutine_frames(task)
    where = f"{_task_name(task)} at {_where(frames)}"
    waiter = getattr(task, "_fut_waiter", None)
    if waiter is None:
        return f"{where}: ready to run"
    exact = [view.text for view in views if id(waiter) in view.owners]
    if exact:
        return f"{where}: waits on {'; '.join(exact)}"
    if isinstance(waiter, asyncio.Task):
        return f"{where}: waits for {_task_name(waiter)}"
    children = getattr(waiter, "_children", None)
    if isinstance(children, list) and children:
        return f"{where}: waits for {', '.join(_task_name(c) for c in children)}"
    held = _held_objects(frames)
    holds = [view.text for view in views if view.owners & held]
    if holds:
        return f"{where}: waits on {waiter!r}, holding {'; '.join(holds)}"
    return f"{where}: waits on {waiter!r}, which nothing will resolve"


def describe_blocked(loop: FakeEventLoop, exc: BlockedForever) -> BlockedForever:
    """The loop's :class:`BlockedForever`: every task, where it is and what it waits on."""
    selector = loop._selector
    assert isinstance(selector, KernelSelector)
    skip = {loop._ssock.fileno()} if loop._ssock is not None else set()
    views = _fd_views(selector, skip)
    tasks = sorted(
        (t for t in asyncio.all_tasks(loop) if not t.done()), key=lambda t: t.get_name()
    )
    lines = [
        "the event loop would block forever: no callback is ready, no timer is pending "
        "and no thread can wake it"
    ]
    lines.extend(f"  {_waits_for(task, views)}" for task in tasks)
    if not tasks:
        lines.append("  no task is pending")
    lines.append(f"  fds the loop waits on: {', '.join(v.text for v in views) or 'none'}")
    lines.append(f"  (the kernel: {exc})")
    return BlockedForever("\n".join(lines))


# -- The loop -------------------------------------------------------------------------------


class FakeEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on a :class:`~sansock_fake.FakeKernel`, in virtual time.

    Made by :func:`new_event_loop`; see ``sansock_fake.interop._asyncio`` and
    ``docs/howto/asyncio.rst``.  :attr:`kernel` is the kernel it runs on.
    """

    kernel: FakeKernel
    _selector: KernelSelector
    _ssock: Any
    _csock: Any
    # BaseSelectorEventLoop's private parts this class builds on (not in typeshed).
    _internal_fds: int
    _default_executor: concurrent.futures.Executor | None
    _add_reader: Callable[..., Any]
    _read_from_self: Callable[[], None]
    _check_default_executor: Callable[[], None]

    def __init__(self, kernel: FakeKernel | None = None) -> None:
        if kernel is None:
            kernel = FakeKernel()
        if kernel.fd_base <= 2:
            raise ValueError(
                "new_event_loop() needs a kernel whose fds cannot name real files: "
                f"fd_base={kernel.fd_base} gives small fd numbers (leave fd_base at its default)"
            )
        _stdsocket.check_abi(kernel)
        self.kernel = kernel
        self._scheduler_ref: Scheduler = kernel._scheduler
        self._binding = sansock.using(kernel)
        self._socket_class = _stdsocket.socket_class_for(self._binding)
        self._functions = _stdsocket.module_functions(
            kernel, self._binding, self._socket_class, {"dup": os.dup, "close": os.close}
        )
        selector = KernelSelector(kernel)
        me = weakref.ref(self)

        def on_blocked(exc: BlockedForever) -> BaseException:
            loop = me()
            if loop is None:
                return exc
            try:
                return describe_blocked(loop, exc)
            except Exception:  # noqa: BLE001 -- the kernel's own report is still true
                return exc

        selector.on_blocked = on_blocked
        super().__init__(selector)
        # The kernel's clock counts nanoseconds: a timer due within one is due.
        self._clock_resolution = 1e-9

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} running={self.is_running()} closed={self.is_closed()} "
            f"debug={self.get_debug()} fake kernel fds={len(self._selector._keys) if self._selector else 0} "
            "registered>"
        )

    # -- virtual time --------------------------------------------------------------
    def time(self) -> float:
        """The kernel's ``CLOCK_MONOTONIC`` in seconds (virtual time)."""
        return self._scheduler_ref.now_ns / 1e9

    # -- the self-pipe -------------------------------------------------------------
    def _make_self_pipe(self) -> None:
        # BaseSelectorEventLoop._make_self_pipe, on a fake socketpair: a
        # thread's call_soon_threadsafe is then a syscall the kernel sees.
        self._ssock, self._csock = self._functions["socketpair"]()
        self._ssock.setblocking(False)
        self._csock.setblocking(False)
        self._internal_fds += 1
        self._add_reader(self._ssock.fileno(), self._read_from_self)

    # -- the stdlib on the kernel while the loop runs --------------------------------
    def run_forever(self) -> None:
        """Run until ``stop()``, with the stdlib's socket machinery on :attr:`kernel`."""
        with patch_stdlib(self.kernel):
            super().run_forever()

    # -- name resolution, inline ---------------------------------------------------------
    async def getaddrinfo(
        self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        """``socket.getaddrinfo`` on the fake resolver, answered inline (no executor thread)."""
        result: list[Any] = self._functions["getaddrinfo"](host, port, family, type, proto, flags)
        return result

    async def getnameinfo(self, sockaddr: Any, flags: int = 0) -> tuple[str, str]:
        """``socket.getnameinfo`` on the fake resolver, answered inline."""
        result: tuple[str, str] = self._functions["getnameinfo"](sockaddr, flags)
        return result

    # -- threads -------------------------------------------------------------------
    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """``loop.run_in_executor``; the default executor runs each call in its own thread."""
        if executor is None and self._default_executor is None and not self.is_closed():
            self._check_default_executor()
            self._default_executor = _CallThreadExecutor()
        return super().run_in_executor(executor, func, *args)

    # -- sendfile: the kernel's sendfile(2) ---------------------------------------------
    async def _sock_sendfile_native(self, sock: Any, file: Any, offset: int, count: int | None) -> int:
        # _UnixSelectorEventLoop._sock_sendfile_native / _sock_sendfile_native_impl
        # (Lib/asyncio/unix_events.py) with the kernel's sendfile for os.sendfile:
        # a real file to a fake socket; SendfileNotAvailableError (the caller
        # falls back to send) for what has no fd or no size, or when the first
        # call fails (a pipe, a fake socket as the file: ESPIPE).
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation) as err:
            raise asyncio.SendfileNotAvailableError("not a regular file") from err
        try:
            fsize = os.fstat(fileno).st_size
        except OSError as err:
            raise asyncio.SendfileNotAvailableError("not a regular file") from err
        blocksize = count if count else fsize
        if not blocksize:
            return 0  # empty file
        fd = sock.fileno()
        total_sent = 0
        try:
            while True:
                if count:
                    blocksize = count - total_sent
                    if blocksize <= 0:
                        return total_sent
                try:
                    sent = self.kernel.sendfile(fd, fileno, offset, blocksize)
                except (BlockingIOError, InterruptedError):
                    await self._sock_writable(sock)
                    continue
                except OSError as exc:
                    if total_sent == 0:
                        # Not a regular mmap-like file: the caller falls back to send().
                        raise asyncio.SendfileNotAvailableError("os.sendfile call failed") from exc
                    if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
                        # The connection closed in the middle: ConnectionError, as the stdlib normalises it.
                        raise ConnectionError("socket is not connected", errno.ENOTCONN) from exc
                    raise
                if sent == 0:
                    return total_sent  # EOF
                offset += sent
                total_sent += sent
                await self._sock_writable(sock)  # the stdlib's loop, too, sends the next chunk from add_writer
        finally:
            if total_sent > 0:
                os.lseek(fileno, offset, os.SEEK_SET)  # _sock_sendfile_update_filepos

    async def _sock_writable(self, sock: Any) -> None:
        """Wait until *sock* is writable (``add_writer``; removed when done or cancelled)."""
        fd = sock.fileno()
        fut = self.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        self.add_writer(fd, ready)
        try:
            await fut
        finally:
            self.remove_writer(fd)

    # -- not modelled --------------------------------------------------------------
    def add_signal_handler(  # type: ignore[override]
        self, sig: int, callback: Callable[..., object], *args: Any
    ) -> None:
        """Not modelled: raises ``NotImplementedError``."""
        raise _not_modelled(f"add_signal_handler({sig!r}, ...)")

    def remove_signal_handler(self, sig: int) -> bool:
        """No handler is ever set: False."""
        return False

    async def _make_subprocess_transport(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_modelled("a subprocess (subprocess_exec / subprocess_shell / create_subprocess_*)")

    async def connect_read_pipe(self, protocol_factory: Any, pipe: Any) -> Any:
        """Not modelled: raises ``NotImplementedError``."""
        raise _not_modelled(f"connect_read_pipe({pipe!r})")

    async def connect_write_pipe(self, protocol_factory: Any, pipe: Any) -> Any:
        """Not modelled: raises ``NotImplementedError``."""
        raise _not_modelled(f"connect_write_pipe({pipe!r})")


def new_event_loop(kernel: FakeKernel | None = None) -> FakeEventLoop:
    """An asyncio event loop on *kernel* (a new :class:`~sansock_fake.FakeKernel` when None).

    Use it as ``asyncio.Runner(loop_factory=sansock_fake.new_event_loop)``,
    with anyio (``backend_options={"loop_factory": ...}``) or pytest-asyncio
    (``docs/howto/asyncio.rst``).  The loop's time is the kernel's virtual
    clock; while it runs, the stdlib's ``socket``, ``select``, ``selectors``
    and ``ssl`` are on the kernel (:func:`~sansock_fake.patch_stdlib`); a
    loop that would wait forever raises :class:`~sansock_fake.BlockedForever`
    naming its tasks and what they wait on.
    """
    return FakeEventLoop(kernel)


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """``asyncio.runners._cancel_all_tasks`` (for 3.10, which has no Runner)."""
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {"message": "unhandled exception during asyncio.run() shutdown",
                 "exception": task.exception(), "task": task}
            )


def run(
    main: Coroutine[Any, Any, _T], *, kernel: FakeKernel | None = None, debug: bool | None = None
) -> _T:
    """``asyncio.run(main)`` on a fake kernel: a new :class:`FakeEventLoop`, closed at the end.

    >>> import asyncio, sansock_fake
    >>> async def main():
    ...     loop = asyncio.get_running_loop()
    ...     start = loop.time()
    ...     await asyncio.sleep(3600)
    ...     return loop.time() - start
    >>> sansock_fake.run(main())   # an hour of virtual time, in microseconds
    3600.0
    """
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=lambda: FakeEventLoop(kernel)) as runner:
            return runner.run(main)
    if asyncio._get_running_loop() is not None:  # pragma: no cover - 3.10
        raise RuntimeError("sansock_fake.run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):  # pragma: no cover - 3.10
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = FakeEventLoop(kernel)  # pragma: no cover - 3.10
    try:  # pragma: no cover - 3.10
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:  # pragma: no cover - 3.10
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class FakeEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose new loops run on one fake kernel.

    For frameworks that make their loops through the policy (pytest-asyncio's
    ``event_loop_policy`` fixture).  :attr:`kernel` is the kernel every loop
    of this policy runs on (a new one when none is given).
    """

    def __init__(self, kernel: FakeKernel | None = None) -> None:
        super().__init__()
        self.kernel = kernel if kernel is not None else FakeKernel()

    def new_event_loop(self) -> FakeEventLoop:
        """A :class:`FakeEventLoop` on :attr:`kernel`."""
        return FakeEventLoop(self.kernel)
