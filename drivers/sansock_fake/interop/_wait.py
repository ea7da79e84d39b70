"""Waiting on many fds: ``select.select``, ``select.poll``, ``select.epoll`` and
the ``selectors`` classes, on the fake kernel and in virtual time.

Every wait is sorted first (:func:`split_fds`): an fd at or above the
kernel's ``fd_base`` is fake, anything else is real.  A wait on fake fds only
is one multi-fd ``poll`` in the kernel (:func:`kernel_poll`): the waiting
thread is blocked *in the kernel*, so the scheduler counts it as blocked and
the virtual clock can jump to its deadline.  A wait on real fds only is
handed to the stdlib object that was there before the patch (a pipe of
``subprocess``, a real socket opened before the patch keep working).  A wait
that mixes both cannot be done by either kernel and raises
:class:`MixedWaitError` at once, never a silent real-time wait.  A wait on
no fd at all is a sleep: in virtual time (a ``poll`` on no fds in the kernel)
while the patch is active and the waiting thread takes part in the kernel,
else the real call in real time (:class:`FakeWaits`).

What Linux reports is what ``fs/select.c`` and ``fs/eventpoll.c`` compute
from a file's poll mask: ``select`` counts ``POLLIN | POLLHUP | POLLERR`` as
readable (``POLLIN_SET``), ``POLLOUT | POLLERR`` as writable
(``POLLOUT_SET``) and ``POLLPRI`` as exceptional (``POLLEX_SET``); ``poll``
and ``epoll`` add ``POLLERR | POLLHUP`` to every interest.
"""

from __future__ import annotations

import math
import select as _select
import selectors as _selectors
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._oserror import errno_name, raise_errno

if TYPE_CHECKING:
    from .._kernel import FakeKernel

__all__ = [
    "MixedWaitError",
    "kernel_poll",
    "split_fds",
    "fileobj_to_fd",
    "FakeWaits",
    "description",
    "refuse_fake_epoll",
    "released",
]

POLLIN, POLLPRI, POLLOUT = _select.POLLIN, _select.POLLPRI, _select.POLLOUT
POLLERR, POLLHUP, POLLNVAL = _select.POLLERR, _select.POLLHUP, _select.POLLNVAL
#: fs/select.c
POLLIN_SET = POLLIN | POLLHUP | POLLERR
POLLOUT_SET = POLLOUT | POLLERR
POLLEX_SET = POLLPRI
EPOLLONESHOT, EPOLLET = _select.EPOLLONESHOT, _select.EPOLLET
EPOLLEXCLUSIVE = getattr(_select, "EPOLLEXCLUSIVE", 1 << 28)


class MixedWaitError(ValueError):
    """A wait names real fds and fake ones: no kernel can do it (a bug in the test)."""


def fileobj_to_fd(fileobj: object) -> int:
    """An int fd, or ``fileobj.fileno()``, checked as ``PyObject_AsFileDescriptor``."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        fileno = getattr(fileobj, "fileno", None)
        if fileno is None:
            raise TypeError("argument must be an int, or have a fileno() method.")
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return int(fd)


#: The real fds that stand for fake epoll objects and fake ``EpollSelector``s
#: (their ``fileno()``), to the object: waiting on one is refused
#: (:func:`refuse_fake_epoll`).  Weak: a collected object's real epoll is closed too.
_FAKE_EPOLL_FDS: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def refuse_fake_epoll(fd: int, call: str) -> None:
    """Raise ``NotImplementedError`` if *fd* is the ``fileno()`` of a fake epoll.

    A fake epoll object's ``fileno()`` is a real epoll fd (made on first use)
    that holds only the real fds registered in it: a wait on it in another
    epoll, ``select`` or ``poll`` would be a real wait that the fake fds
    never wake.  Nested epolls are not modelled; the error says so at once.
    """
    owner = _FAKE_EPOLL_FDS.get(fd)
    if owner is not None:
        raise NotImplementedError(
            f"{call}(): fd {fd} is the fileno() of a fake {type(owner).__name__} object; waiting on a fake "
            "epoll from another wait (nested epoll) is not modelled by the fake kernel: wait on "
            "the fds registered in it instead"
        )


def split_fds(kernel: FakeKernel, fds: Iterable[int], call: str) -> bool:
    """True if *fds* are all fake, False if all real (or none); else :class:`MixedWaitError`."""
    fake: list[int] = []
    real: list[int] = []
    base = kernel.fd_base
    for fd in fds:
        (fake if fd >= base else real).append(fd)
    for fd in real:
        refuse_fake_epoll(fd, call)
    if fake and real:
        raise MixedWaitError(
            f"{call}() waits on real fds {sorted(set(real))} and on fake fds "
            f"{sorted(set(fake))} of the fake kernel at once: no kernel can do that wait. "
            "Under sansock_fake.patch_stdlib() a socket opened before the patch is real; "
            "wait on it separately or open it inside the patch."
        )
    return bool(fake)


def description(kernel: FakeKernel, fd: int) -> object | None:
    """The open file description *fd* names now (``struct file``), None if it is closed.

    What an epoll entry is keyed by besides the fd number (``epitem->ffd``):
    closing the fd and opening another on the same number does not make the
    new file registered.  Reads the kernel's fd table: the kernel's driver
    interface has no call for it yet.
    """
    with kernel._scheduler.condition:
        slot = kernel._fds.get(fd)
        return None if slot is None else slot.file


def _fd_of(kernel: FakeKernel, fd: int, file: Any) -> int | None:
    """An fd naming *file* (lock held): *fd* itself, else a dup of it; None if none does.

    ``eventpoll_release`` drops an epoll entry when its file is released
    (the last reference gone), not when the registered fd is closed: a dup
    keeps it, and its events are still reported under the registered fd.
    """
    slot = kernel._fds.get(fd)
    if slot is not None and slot.file is file:
        return fd
    if file.refs <= 0:
        return None
    for other, other_slot in kernel._fds.items():
        if other_slot.file is file:
            return other
    return None  # alive only in flight (SCM_RIGHTS): no fd to ask


def released(kernel: FakeKernel, file: Any) -> bool:
    """Whether *file* (from :func:`description`) is released: its epoll entries are gone."""
    with kernel._scheduler.condition:
        return bool(file.refs <= 0)


def kernel_poll(
    kernel: FakeKernel,
    interest: Sequence[tuple[int, int]],
    timeout_ns: int | None,
    fds: tuple[int, ...] | None = None,
    files: Sequence[object] | None = None,
) -> list[tuple[int, int]]:
    """``poll(2)`` on many fds of *kernel*, blocking in virtual time: :meth:`FakeKernel.poll_many`.

    *interest* is ``(fd, events)`` pairs; the answer is ``(fd, revents)`` for
    every ready fd (``POLLERR``/``POLLHUP``/``POLLNVAL`` reported unasked),
    in the order of *interest*.  ``timeout_ns`` None waits until one is ready;
    0 only looks.  *fds*, when given, is the fds of *interest* in order,
    built once by a caller that polls the same set many times (the asyncio
    loop): the trace then shares one tuple instead of copying it per call.
    *files*, when given, is the open file description each fd of *interest*
    named when it was registered (:func:`description`): epoll's rule, an fd
    is asked through any fd that still names its file, and one whose file is
    released is left out, never ``POLLNVAL``.  One syscall: it takes the kernel's lock, bumps the
    scheduler's activity, is traced as ``poll`` and may get a scripted errno
    (on the first fd), as the kernel's single-fd ``poll`` does.

    Without *files* this is :meth:`FakeKernel.poll_many`; with them (epoll's
    rule) it uses the kernel's scheduler and readiness function directly,
    until the kernel's poll can be asked by open file.
    """
    if files is None:
        return kernel.poll_many(interest, timeout_ns)
    scheduler = kernel._scheduler
    always = POLLERR | POLLHUP | POLLNVAL
    if fds is None:
        fds = tuple(fd for fd, _ in interest)
    shown: tuple[object, ...] = (fds, timeout_ns)
    with scheduler.condition:
        scheduler.enter()
        try:
            code = kernel.faults.errno_for("poll", fds[0] if fds else None)
            if code is not None:
                raise_errno(code)
            deadline = None if timeout_ns is None else scheduler.now_ns + max(timeout_ns, 0)
            found: list[tuple[int, int]] = []

            def ready() -> bool:
                found.clear()
                if files is None:
                    for fd, events in interest:
                        revents = kernel._revents(fd) & (events | always)
                        if revents:
                            found.append((fd, revents))
                    return bool(found)
                for (fd, events), file in zip(interest, files):
                    asked = _fd_of(kernel, fd, file)
                    if asked is None:
                        continue
                    revents = kernel._revents(asked) & (events | always)
                    if revents:
                        found.append((fd, revents))
                return bool(found)

            scheduler.wait_until(ready, deadline, "poll", fds[0] if fds else -1, fds=fds)
        except OSError as exc:
            kernel.trace.record("poll", shown, errno_name(exc.errno or 0))
            raise
        finally:
            scheduler.condition.notify_all()
        kernel.trace.record("poll", shown, f"ok {found!r}")
        return list(found)


def _seconds_to_ns(timeout: object, *, name: str = "timeout") -> int | None:
    """A timeout in seconds (None: forever) as ns, rejecting what the stdlib rejects."""
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)):
        try:
            timeout = float(timeout)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a float or None") from None
    seconds = float(timeout)
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    return math.ceil(seconds * 1_000_000_000) if seconds > 0 else (0 if seconds == 0 else -1)


class FakeWaits:
    """The stand-ins for ``select`` and ``selectors`` bound to one kernel.

    ``select``, ``poll`` and ``epoll`` are the functions/classes put into the
    ``select`` module; ``selector_classes`` maps the names of the ``selectors``
    module (``SelectSelector``, ``PollSelector``, ``EpollSelector``,
    ``DefaultSelector``) to their stand-ins.  ``real`` holds the objects that
    were there before, used for waits on real fds.

    A wait on *no* fd (``select([], [], [], 0.3)``, a ``poll``/``epoll`` or a
    selector with nothing registered) is a sleep: while the patch is active
    (``active``, set by ``patch_stdlib``) and the waiting thread takes part
    in the kernel (the scheduler's participants: made the kernel, used it, or
    started after it), it is a ``poll`` on no fds in the kernel, so it sleeps
    in virtual time -- the clock jumps to its deadline once every other
    participant waits too; without a deadline it is a
    :class:`~sansock_fake.BlockedForever` when nothing else can run.
    Otherwise it is the real call, in real time, as the stdlib's.
    """

    def __init__(self, kernel: FakeKernel, real: Mapping[str, Any]) -> None:
        self.kernel = kernel
        self.real = dict(real)
        #: True while the patch that put these stand-ins in place is active.
        self.active = False
        self.select = self._make_select()
        self.poll = self._make_poll()
        self.epoll = self._make_epoll()
        self.selector_classes = self._make_selectors()

    def sleeps_virtually(self) -> bool:
        """Whether a wait on no fd sleeps on the kernel's clock (see the class docstring)."""
        if not self.active:
            return False
        scheduler = self.kernel._scheduler
        with scheduler.condition:
            return threading.get_ident() in scheduler._participants()

    # -- select.select ------------------------------------------------------
    def _make_select(self) -> Callable[..., tuple[list[Any], list[Any], list[Any]]]:
        kernel = self.kernel
        real_select = self.real["select"]
        waits = self

        def select(
            rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any], timeout: float | None = None, /
        ) -> tuple[list[Any], list[Any], list[Any]]:
            """``select.select`` on the fake kernel (see ``sansock_fake.interop``)."""
            lists = [list(rlist), list(wlist), list(xlist)]
            ns = _seconds_to_ns(timeout)
            if ns is not None and ns < 0:
                raise ValueError("timeout must be non-negative")
            fds = [[fileobj_to_fd(obj) for obj in objs] for objs in lists]
            if not any(fds) and waits.sleeps_virtually():
                kernel_poll(kernel, [], ns)
                return ([], [], [])
            if not split_fds(kernel, (fd for group in fds for fd in group), "select"):
                result: tuple[list[Any], list[Any], list[Any]] = real_select(*lists, timeout)
                return result
            interest: dict[int, int] = {}
            for group, events in zip(fds, (POLLIN, POLLOUT, POLLPRI)):
                for fd in group:
                    interest[fd] = interest.get(fd, 0) | events
            pairs = list(interest.items())
            revents = dict(kernel_poll(kernel, pairs, ns))
            if any(mask & POLLNVAL for mask in revents.values()):
                raise_errno(kernel.abi.errno("EBADF"))
            out: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
            for objs, group, mask, target in zip(lists, fds, (POLLIN_SET, POLLOUT_SET, POLLEX_SET), out):
                for obj, fd in zip(objs, group):
                    if revents.get(fd, 0) & mask:
                        target.append(obj)
            return out

        return select

    # -- select.poll --------------------------------------------------------
    def _make_poll(self) -> type[Any]:
        kernel = self.kernel
        real_poll = self.real["poll"]
        waits = self

        class poll:
            """``select.poll()`` on the fake kernel: fake fds wait in virtual time."""

            def __init__(self) -> None:
                self._fds: dict[int, int] = {}
                self._real: Any = None

            def _real_poller(self) -> Any:
                if self._real is None:
                    self._real = real_poll()
                return self._real

            def register(self, fd: Any, eventmask: int = POLLIN | POLLPRI | POLLOUT, /) -> None:
                fd = fileobj_to_fd(fd)
                if fd < kernel.fd_base:
                    refuse_fake_epoll(fd, "poll.register")
                    self._real_poller().register(fd, eventmask)
                self._fds[fd] = eventmask & 0xFFFF

            def modify(self, fd: Any, eventmask: int, /) -> None:
                fd = fileobj_to_fd(fd)
                if fd not in self._fds:
                    raise_errno(kernel.abi.errno("ENOENT"))
                self._fds[fd] = eventmask & 0xFFFF
                if fd < kernel.fd_base:
                    self._real_poller().modify(fd, eventmask)

            def unregister(self, fd: Any, /) -> None:
                fd = fileobj_to_fd(fd)
                if fd not in self._fds:
                    raise KeyError(fd)
                del self._fds[fd]
                if fd < kernel.fd_base:
                    self._real_poller().unregister(fd)

            def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]:
                # timeout in ms, rounded up (_PyTime_ROUND_TIMEOUT); None or negative: forever.
                ns: int | None = None
                if timeout is not None:
                    try:
                        ms = float(timeout)
                    except (TypeError, ValueError):
                        raise TypeError("timeout must be an integer or None") from None
                    ns = None if ms < 0 else math.ceil(ms * 1_000_000)
                if not self._fds and waits.sleeps_virtually():
                    return kernel_poll(kernel, [], ns)
                if not split_fds(kernel, self._fds, "poll"):
                    result: list[tuple[int, int]] = self._real_poller().poll(timeout)
                    return result
                return kernel_poll(kernel, list(self._fds.items()), ns)

        return poll

    # -- select.epoll -------------------------------------------------------
    def _make_epoll(self) -> type[Any]:
        kernel = self.kernel
        real_epoll = self.real["epoll"]
        waits = self

        class epoll:
            """``select.epoll()`` on the fake kernel (level-triggered; EPOLLONESHOT honoured).

            An entry is an fd and the open file it named when registered
            (``epitem->ffd``): the entry goes when that file is released (the
            fd closed and no dup left), even if the fd number is reused.  Its
            ``fileno()`` is a real epoll (holding the real fds registered in
            it); waiting on it from another wait is refused
            (:func:`refuse_fake_epoll`): nested epolls are not modelled.
            """

            def __init__(self, sizehint: int = -1, flags: int = 0) -> None:
                if sizehint == 0 or sizehint < -1:
                    raise ValueError("negative sizehint")
                self._fds: dict[int, int] = {}
                #: fd -> the open file it named at register (fake fds only).
                self._files: dict[int, object] = {}
                self._disabled: set[int] = set()
                self._real: Any = None
                self._closed = False

            def _real_epoll(self) -> Any:
                if self._real is None:
                    self._real = real_epoll()
                    _FAKE_EPOLL_FDS[self._real.fileno()] = self
                return self._real

            def _check(self) -> None:
                if self._closed:
                    raise ValueError("I/O operation on closed epoll object")

            def _forget_released(self) -> None:
                # eventpoll_release: a released file leaves every interest list.
                for fd in [fd for fd, file in self._files.items() if released(kernel, file)]:
                    del self._fds[fd]
                    del self._files[fd]
                    self._disabled.discard(fd)

            def _entry(self, fd: int) -> None:
                """ep_find for epoll_ctl(MOD/DEL): EBADF if *fd* is closed, ENOENT if not registered."""
                if fd >= kernel.fd_base:
                    file = description(kernel, fd)
                    if file is None:
                        raise_errno(kernel.abi.errno("EBADF"))
                    self._forget_released()
                    if self._files.get(fd) is not file:
                        raise_errno(kernel.abi.errno("ENOENT"))
                elif fd not in self._fds:
                    raise_errno(kernel.abi.errno("ENOENT"))

            @property
            def closed(self) -> bool:
                return self._closed

            def close(self) -> None:
                self._closed = True
                if self._real is not None:
                    _FAKE_EPOLL_FDS.pop(self._real.fileno(), None)
                    self._real.close()

            def fileno(self) -> int:
                """The fd of the real epoll that holds the real fds (made on first use)."""
                self._check()
                return int(self._real_epoll().fileno())

            def __enter__(self) -> Any:
                self._check()
                return self

            def __exit__(self, *args: object) -> None:
                self.close()

            def register(self, fd: Any, eventmask: int = POLLIN | POLLPRI | POLLOUT) -> None:
                self._check()
                fd = fileobj_to_fd(fd)
                if fd >= kernel.fd_base:
                    if eventmask & EPOLLET:
                        raise NotImplementedError(
                            "the fake kernel's epoll is level-triggered: EPOLLET is not modelled"
                        )
                    file = description(kernel, fd)
                    if file is None:
                        raise_errno(kernel.abi.errno("EBADF"))
                    self._forget_released()
                    if self._files.get(fd) is file:
                        raise_errno(kernel.abi.errno("EEXIST"))
                    # (An entry for another file still alive under this number
                    # -- closed, the number reused, a dup kept -- is replaced:
                    # Linux would keep both.)
                    self._files[fd] = file
                else:
                    refuse_fake_epoll(fd, "epoll.register")
                    self._real_epoll().register(fd, eventmask)
                self._fds[fd] = eventmask
                self._disabled.discard(fd)

            def modify(self, fd: Any, eventmask: int) -> None:
                self._check()
                fd = fileobj_to_fd(fd)
                self._entry(fd)
                if fd < kernel.fd_base:
                    self._real_epoll().modify(fd, eventmask)
                elif eventmask & EPOLLET:
                    raise NotImplementedError(
                        "the fake kernel's epoll is level-triggered: EPOLLET is not modelled"
                    )
                self._fds[fd] = eventmask
                self._disabled.discard(fd)

            def unregister(self, fd: Any) -> None:
                self._check()
                fd = fileobj_to_fd(fd)
                self._entry(fd)
                del self._fds[fd]
                self._files.pop(fd, None)
                self._disabled.discard(fd)
                if fd < kernel.fd_base:
                    self._real_epoll().unregister(fd)

            def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]:
                self._check()
                ns = _seconds_to_ns(timeout)
                if ns is not None and ns < 0:
                    ns = None
                if maxevents == 0 or maxevents < -1:
                    raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
                if not self._fds and waits.sleeps_virtually():
                    return kernel_poll(kernel, [], ns)
                if not split_fds(kernel, self._fds, "epoll.poll"):
                    result: list[tuple[int, int]] = self._real_epoll().poll(timeout, maxevents)
                    return result
                self._forget_released()
                interest = []
                files = []
                for fd, mask in self._fds.items():
                    if fd not in self._disabled:
                        interest.append((fd, mask & ~(EPOLLONESHOT | EPOLLEXCLUSIVE)))
                        files.append(self._files[fd])
                ready = [(fd, ev & ~POLLNVAL) for fd, ev in kernel_poll(kernel, interest, ns, files=files)]
                if maxevents > 0:
                    ready = ready[:maxevents]
                for fd, _ in ready:
                    if self._fds[fd] & EPOLLONESHOT:
                        self._disabled.add(fd)
                return ready

            @classmethod
            def fromfd(cls, fd: int) -> Any:
                raise NotImplementedError("the fake kernel does not model epoll.fromfd()")

        return epoll

    # -- selectors ------------------------------------------------------------
    def _make_selectors(self) -> dict[str, type[Any]]:
        """The three selector classes, each with the rules of the stdlib class it stands in for.

        What a registered fd that was closed without ``unregister`` gives is
        what the syscall under each gives on Linux: ``SelectSelector`` raises
        ``OSError(EBADF)`` (``select(2)``), ``PollSelector`` reports it ready
        for what it was registered for (``POLLNVAL``), ``EpollSelector`` no
        longer reports it (its file was released, so epoll dropped it).
        """
        kernel = self.kernel
        waits = self
        classes: dict[str, type[Any]] = {}
        EVENT_READ, EVENT_WRITE = _selectors.EVENT_READ, _selectors.EVENT_WRITE

        class _FakeSelector(_selectors._BaseSelectorImpl):
            """A selector on the fake kernel; real fds go to the real selector it stands in for."""

            _real_class: type[Any]
            #: "select", "poll" or "epoll": the syscall of the stdlib class.
            _kind: str

            def __init__(self) -> None:
                super().__init__()
                self._real: Any = None
                #: fd -> the open file it named at register (epoll's entries).
                self._files: dict[int, object] = {}

            def _real_selector(self) -> Any:
                if self._real is None:
                    self._real = self._real_class()
                return self._real

            def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
                key = super().register(fileobj, events, data)
                if key.fd < kernel.fd_base:
                    try:
                        refuse_fake_epoll(key.fd, "register")
                        self._real_selector().register(fileobj, events, data)
                    except BaseException:
                        super().unregister(fileobj)
                        raise
                elif self._kind == "epoll":
                    file = description(kernel, key.fd)
                    if file is None:
                        super().unregister(fileobj)
                        raise_errno(kernel.abi.errno("EBADF"))
                    self._files[key.fd] = file
                return key

            def unregister(self, fileobj: Any) -> Any:
                key = super().unregister(fileobj)
                self._files.pop(key.fd, None)
                if key.fd < kernel.fd_base and self._real is not None:
                    self._real.unregister(fileobj)
                return key

            def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
                keys: dict[int, Any] = self._fd_to_key  # type: ignore[attr-defined]
                if timeout is None:
                    ns = None
                elif self._kind == "select":
                    ns = max(_seconds_to_ns(timeout) or 0, 0)
                else:
                    # PollSelector and EpollSelector wait whole milliseconds, rounded up.
                    ns = math.ceil(timeout * 1e3) * 1_000_000 if timeout > 0 else 0
                if not keys and waits.sleeps_virtually():
                    kernel_poll(kernel, [], ns)
                    return []
                if not split_fds(kernel, keys, "select"):
                    if not keys and self._real is None:
                        self._real_selector()
                    result: list[tuple[Any, int]] = [
                        (keys[key.fd], events) for key, events in self._real.select(timeout)
                        if key.fd in keys
                    ]
                    return result
                interest = []
                files: list[object] | None = None
                if self._kind == "epoll":
                    files = []
                    for fd in [fd for fd, file in self._files.items() if released(kernel, file)]:
                        # epoll dropped it; the stdlib's map keeps the key.
                        del self._files[fd]
                for fd, key in keys.items():
                    if files is not None:
                        file = self._files.get(fd)
                        if file is None:
                            continue
                        files.append(file)
                    mask = (POLLIN if key.events & EVENT_READ else 0) | (
                        POLLOUT if key.events & EVENT_WRITE else 0
                    )
                    interest.append((fd, mask))
                try:
                    found = kernel_poll(kernel, interest, ns, files=files)
                except InterruptedError:
                    return []
                ready = []
                for fd, revents in found:
                    events = 0
                    if self._kind == "select":
                        if revents & POLLNVAL:
                            raise_errno(kernel.abi.errno("EBADF"))
                        if revents & POLLIN_SET:
                            events |= EVENT_READ
                        if revents & POLLOUT_SET:
                            events |= EVENT_WRITE
                    else:
                        if revents & ~POLLIN:
                            events |= EVENT_WRITE
                        if revents & ~POLLOUT:
                            events |= EVENT_READ
                    key = keys[fd]
                    if events & key.events:
                        ready.append((key, events & key.events))
                return ready

            def close(self) -> None:
                super().close()
                self._files.clear()
                if self._real is not None:
                    _FAKE_EPOLL_FDS.pop(getattr(self._real, "_fake_epoll_fd", -1), None)
                    self._real.close()
                    self._real = None

        for name, kind in (("SelectSelector", "select"), ("PollSelector", "poll"), ("EpollSelector", "epoll")):
            real_class = self.real.get(name)
            if real_class is None:
                continue
            attrs: dict[str, Any] = {
                "_real_class": real_class, "_kind": kind, "__module__": "selectors", "__qualname__": name,
            }
            if name == "EpollSelector":

                def fileno(self: Any) -> int:
                    real = self._real_selector()
                    fd = int(real.fileno())
                    if getattr(real, "_fake_epoll_fd", None) != fd:
                        real._fake_epoll_fd = fd
                        _FAKE_EPOLL_FDS[fd] = self
                    return fd

                attrs["fileno"] = fileno
            classes[name] = type(name, (_FakeSelector,), attrs)
        default = self.real.get("DefaultSelector")
        for name, real_class in list(self.real.items()):
            if real_class is default and name in classes:
                classes["DefaultSelector"] = classes[name]
        return classes
