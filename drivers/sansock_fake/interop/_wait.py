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
no fd at all goes to the real call (it sleeps in real time, as the stdlib's).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._oserror import raise_errno

if TYPE_CHECKING:
    from .._kernel import FakeKernel

__all__ = [
    "MixedWaitError",
    "kernel_poll",
    "split_fds",
    "fileobj_to_fd",
    "FakeWaits",
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


def split_fds(kernel: FakeKernel, fds: Iterable[int], call: str) -> bool:
    """True if *fds* are all fake, False if all real (or none); else :class:`MixedWaitError`."""
    fake: list[int] = []
    real: list[int] = []
    base = kernel.fd_base
    for fd in fds:
        (fake if fd >= base else real).append(fd)
    if fake and real:
        raise MixedWaitError(
            f"{call}() waits on real fds {sorted(set(real))} and on fake fds "
            f"{sorted(set(fake))} of the fake kernel at once: no kernel can do that wait. "
            "Under sansock_fake.patch_stdlib() a socket opened before the patch is real; "
            "wait on it separately or open it inside the patch."
        )
    return bool(fake)


def kernel_poll(
    kernel: FakeKernel,
    interest: Sequence[tuple[int, int]],
    timeout_ns: int | None,
    fds: tuple[int, ...] | None = None,
) -> list[tuple[int, int]]:
    """``poll(2)`` on many fds of *kernel*, blocking in virtual time: :meth:`FakeKernel.poll_many`.

    *interest* is ``(fd, events)`` pairs; the answer is ``(fd, revents)`` for
    every ready fd (``POLLERR``/``POLLHUP``/``POLLNVAL`` reported unasked),
    in the order of *interest*.  ``timeout_ns`` None waits until one is ready;
    0 only looks.  One syscall, traced as ``poll``.  *fds* (the fds of
    *interest* in order, from a caller that polls the same set many times)
    is accepted for the asyncio loop's calls and not needed.
    """
    return kernel.poll_many(interest, timeout_ns)


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
    """

    def __init__(self, kernel: FakeKernel, real: Mapping[str, Any]) -> None:
        self.kernel = kernel
        self.real = dict(real)
        self.select = self._make_select()
        self.poll = self._make_poll()
        self.epoll = self._make_epoll()
        self.selector_classes = self._make_selectors()

    # -- select.select ------------------------------------------------------
    def _make_select(self) -> Callable[..., tuple[list[Any], list[Any], list[Any]]]:
        kernel = self.kernel
        real_select = self.real["select"]

        def select(
            rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any], timeout: float | None = None, /
        ) -> tuple[list[Any], list[Any], list[Any]]:
            """``select.select`` on the fake kernel (see ``sansock_fake.interop``)."""
            lists = [list(rlist), list(wlist), list(xlist)]
            ns = _seconds_to_ns(timeout)
            if ns is not None and ns < 0:
                raise ValueError("timeout must be non-negative")
            fds = [[fileobj_to_fd(obj) for obj in objs] for objs in lists]
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
                self._fds[fd] = eventmask & 0xFFFF
                if fd < kernel.fd_base:
                    self._real_poller().register(fd, eventmask)

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
                if not split_fds(kernel, self._fds, "poll"):
                    result: list[tuple[int, int]] = self._real_poller().poll(timeout)
                    return result
                return kernel_poll(kernel, list(self._fds.items()), ns)

        return poll

    # -- select.epoll -------------------------------------------------------
    def _make_epoll(self) -> type[Any]:
        kernel = self.kernel
        real_epoll = self.real["epoll"]

        class epoll:
            """``select.epoll()`` on the fake kernel (level-triggered; EPOLLONESHOT honoured)."""

            def __init__(self, sizehint: int = -1, flags: int = 0) -> None:
                if sizehint == 0 or sizehint < -1:
                    raise ValueError("negative sizehint")
                self._fds: dict[int, int] = {}
                self._disabled: set[int] = set()
                self._real: Any = None
                self._closed = False

            def _real_epoll(self) -> Any:
                if self._real is None:
                    self._real = real_epoll()
                return self._real

            def _check(self) -> None:
                if self._closed:
                    raise ValueError("I/O operation on closed epoll object")

            @property
            def closed(self) -> bool:
                return self._closed

            def close(self) -> None:
                self._closed = True
                if self._real is not None:
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
                    if fd not in kernel.open_fds():
                        raise_errno(kernel.abi.errno("EBADF"))
                    if fd in self._fds:
                        raise_errno(kernel.abi.errno("EEXIST"))
                else:
                    self._real_epoll().register(fd, eventmask)
                self._fds[fd] = eventmask
                self._disabled.discard(fd)

            def modify(self, fd: Any, eventmask: int) -> None:
                self._check()
                fd = fileobj_to_fd(fd)
                if fd not in self._fds:
                    raise_errno(kernel.abi.errno("ENOENT"))
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
                if fd not in self._fds:
                    raise_errno(kernel.abi.errno("ENOENT"))
                del self._fds[fd]
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
                if not split_fds(kernel, self._fds, "epoll.poll"):
                    result: list[tuple[int, int]] = self._real_epoll().poll(timeout, maxevents)
                    return result
                # A closed fd leaves the interest list (eventpoll_release).
                open_now = set(kernel.open_fds())
                for fd in [fd for fd in self._fds if fd not in open_now]:
                    del self._fds[fd]
                interest = [
                    (fd, mask & ~(EPOLLONESHOT | EPOLLEXCLUSIVE))
                    for fd, mask in self._fds.items()
                    if fd not in self._disabled
                ]
                ready = [(fd, ev & ~POLLNVAL) for fd, ev in kernel_poll(kernel, interest, ns)]
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
        kernel = self.kernel
        classes: dict[str, type[Any]] = {}
        EVENT_READ, EVENT_WRITE = _selectors.EVENT_READ, _selectors.EVENT_WRITE

        class _FakeSelector(_selectors._BaseSelectorImpl):
            """A selector on the fake kernel; real fds go to the real selector it stands in for."""

            _real_class: type[Any]

            def __init__(self) -> None:
                super().__init__()
                self._real: Any = None

            def _real_selector(self) -> Any:
                if self._real is None:
                    self._real = self._real_class()
                return self._real

            def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
                key = super().register(fileobj, events, data)
                if key.fd < kernel.fd_base:
                    try:
                        self._real_selector().register(fileobj, events, data)
                    except BaseException:
                        super().unregister(fileobj)
                        raise
                return key

            def unregister(self, fileobj: Any) -> Any:
                key = super().unregister(fileobj)
                if key.fd < kernel.fd_base and self._real is not None:
                    self._real.unregister(fileobj)
                return key

            def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
                keys: dict[int, Any] = self._fd_to_key  # type: ignore[attr-defined]
                if not split_fds(kernel, keys, "select"):
                    if not keys and self._real is None:
                        self._real_selector()
                    result: list[tuple[Any, int]] = [
                        (keys[key.fd], events) for key, events in self._real.select(timeout)
                        if key.fd in keys
                    ]
                    return result
                ns = None if timeout is None else max(_seconds_to_ns(timeout) or 0, 0)
                interest = []
                for fd, key in keys.items():
                    mask = (POLLIN if key.events & EVENT_READ else 0) | (
                        POLLOUT if key.events & EVENT_WRITE else 0
                    )
                    interest.append((fd, mask))
                try:
                    found = kernel_poll(kernel, interest, ns)
                except InterruptedError:
                    return []
                ready = []
                for fd, revents in found:
                    events = 0
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
                if self._real is not None:
                    self._real.close()
                    self._real = None

        for name in ("SelectSelector", "PollSelector", "EpollSelector"):
            real_class = self.real.get(name)
            if real_class is None:
                continue
            attrs: dict[str, Any] = {"_real_class": real_class, "__module__": "selectors", "__qualname__": name}
            if name == "EpollSelector":

                def fileno(self: Any) -> int:
                    return int(self._real_selector().fileno())

                attrs["fileno"] = fileno
            classes[name] = type(name, (_FakeSelector,), attrs)
        default = self.real.get("DefaultSelector")
        for name, real_class in list(self.real.items()):
            if real_class is default and name in classes:
                classes["DefaultSelector"] = classes[name]
        return classes
