"""Issue 16, item 2: ``select.select``, ``select.poll``, ``select.epoll`` and the
``selectors`` classes on fake sockets, waiting in virtual time.

The readiness scenarios run twice -- on real sockets outside the patch and on
fake ones inside it -- and must report the same.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from sansock_fake import BlockedForever, FakeKernel, patch_stdlib
from sansock_fake.interop import MixedWaitError


def readiness_scenario() -> list[Any]:
    """What select/poll/epoll/DefaultSelector report through a socketpair's life."""
    seen: list[Any] = []
    a, b = socket.socketpair()

    def look(*others: socket.socket) -> None:
        r, w, x = select.select([a, *others], [a, *others], [a, *others], 0)
        seen.append(("select", [s is a for s in r], [s is a for s in w], x))
        p = select.poll()
        p.register(a, select.POLLIN | select.POLLOUT | select.POLLPRI)
        seen.append(("poll", [ev for _, ev in p.poll(0)]))
        with select.epoll() as ep:
            ep.register(a.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            seen.append(("epoll", [ev for _, ev in ep.poll(0)]))
        with selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ | selectors.EVENT_WRITE)
            seen.append(("selector", [ev for _, ev in sel.select(0)]))

    try:
        look(b)
        b.sendall(b"data")
        look(b)
        a.recv(10)
        b.shutdown(socket.SHUT_WR)
        look(b)
        b.close()
        look()
    finally:
        a.close()
        b.close()
    return seen


def test_select_poll_epoll_and_selectors_report_what_linux_reports() -> None:
    real = readiness_scenario()
    with patch_stdlib():
        fake = readiness_scenario()
    assert fake == real


def test_selector_timeout_passes_in_virtual_time(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    with a, b, selectors.DefaultSelector() as sel:
        assert type(sel).__module__ == "selectors" and isinstance(sel, selectors.BaseSelector)
        sel.register(a, selectors.EVENT_READ, data="a")
        start, real_start = fake_stdlib.monotonic_ns(), time.monotonic()
        assert sel.select(timeout=3600) == []
        assert fake_stdlib.monotonic_ns() - start == 3600 * 10**9
        assert time.monotonic() - real_start < 2
        b.sendall(b"x")
        [(key, events)] = sel.select(timeout=5)
        assert (key.fileobj, key.data, events) == (a, "a", selectors.EVENT_READ)


@pytest.mark.parametrize(
    ("wait", "virtual_s"),
    [
        (lambda s: select.select([s], [], [], 12.5), 12.5),
        (lambda s: _poll_one(s, 250), 0.25),
        (lambda s: _epoll_one(s, 7), 7.0),
        (lambda s: _selector_one(selectors.SelectSelector, s, 3), 3.0),
        (lambda s: _selector_one(selectors.PollSelector, s, 4), 4.0),
        (lambda s: _selector_one(selectors.EpollSelector, s, 5), 5.0),
    ],
    ids=["select", "poll", "epoll", "SelectSelector", "PollSelector", "EpollSelector"],
)
def test_every_wait_times_out_on_the_virtual_clock(
    fake_stdlib: FakeKernel, wait: Callable[[socket.socket], object], virtual_s: float
) -> None:
    a, b = socket.socketpair()
    with a, b:
        start = fake_stdlib.monotonic_ns()
        wait(a)
        assert fake_stdlib.monotonic_ns() - start == int(virtual_s * 10**9)


def _poll_one(s: socket.socket, ms: int) -> object:
    p = select.poll()
    p.register(s, select.POLLIN)
    return p.poll(ms)


def _epoll_one(s: socket.socket, seconds: float) -> object:
    with select.epoll() as ep:
        ep.register(s, select.EPOLLIN)
        return ep.poll(seconds)


def _selector_one(cls: type[selectors.BaseSelector], s: socket.socket, seconds: float) -> object:
    with cls() as sel:
        sel.register(s, selectors.EVENT_READ)
        return sel.select(seconds)


@pytest.mark.threads
def test_a_thread_waiting_in_select_counts_as_blocked_in_the_kernel(fake_stdlib: FakeKernel) -> None:
    """The main thread's 10 s recv timeout fires at once, in virtual time, while
    another thread sits in select() with no deadline: both are blocked in the kernel."""
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    woke: list[Any] = []
    waiter = threading.Thread(target=lambda: woke.append(select.select([a], [], [])))
    waiter.start()
    c.settimeout(10)
    start, real_start = fake_stdlib.monotonic_ns(), time.monotonic()
    with pytest.raises(TimeoutError):
        c.recv(1)
    assert fake_stdlib.monotonic_ns() - start == 10 * 10**9
    assert time.monotonic() - real_start < 3
    b.sendall(b"wake up")
    waiter.join(10)
    assert woke == [([a], [], [])]
    for s in (a, b, c, d):
        s.close()


def test_a_lone_select_with_no_deadline_is_blocked_forever(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    with a, b, selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ)
        with pytest.raises(BlockedForever):
            sel.select()


def test_mixing_real_and_fake_fds_is_an_error_in_every_wait(fake_stdlib: FakeKernel) -> None:
    r, w = os.pipe()
    a, b = socket.socketpair()
    try:
        with pytest.raises(MixedWaitError):
            select.select([r], [a], [], 0)
        p = select.poll()
        p.register(r)
        p.register(a)
        with pytest.raises(MixedWaitError):
            p.poll(0)
        with select.epoll() as ep:
            ep.register(r, select.EPOLLIN)
            ep.register(a, select.EPOLLIN)
            with pytest.raises(MixedWaitError):
                ep.poll(0)
        with selectors.DefaultSelector() as sel:
            sel.register(r, selectors.EVENT_READ)
            sel.register(a, selectors.EVENT_READ)
            with pytest.raises(MixedWaitError, match="no kernel can do that wait"):
                sel.select(0)
        assert issubclass(MixedWaitError, ValueError)
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_waits_on_real_fds_only_go_to_the_real_calls(fake_stdlib: FakeKernel) -> None:
    r, w = os.pipe()
    try:
        assert select.select([r], [w], [], 0) == ([], [w], [])
        os.write(w, b"x")
        p = select.poll()
        p.register(r, select.POLLIN)
        assert p.poll(0) == [(r, select.POLLIN)]
        with select.epoll() as ep:
            ep.register(r, select.EPOLLIN)
            assert ep.poll(0) == [(r, select.EPOLLIN)]
            assert ep.fileno() >= 0
        with selectors.DefaultSelector() as sel:
            sel.register(r, selectors.EVENT_READ, "pipe")
            [(key, events)] = sel.select(0)
            assert (key.fd, key.data, events) == (r, "pipe", selectors.EVENT_READ)
            sel.unregister(r)
            sel.register(w, selectors.EVENT_WRITE)
            assert [k.fd for k, _ in sel.select(0)] == [w]
    finally:
        os.close(r)
        os.close(w)
    assert list(fake_stdlib.trace) == []  # the kernel saw none of it


def test_select_argument_errors_are_the_stdlibs(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(ValueError, match="timeout must be non-negative"):
            select.select([a], [], [], -1)
        with pytest.raises(TypeError, match="argument must be an int, or have a fileno"):
            select.select([object()], [], [], 0)  # type: ignore[type-var]
        with pytest.raises(TypeError, match="timeout must be a float or None"):
            select.select([a], [], [], "soon")  # type: ignore[arg-type]
        fd = a.fileno()
    with pytest.raises(OSError) as info:
        select.select([fd], [], [], 0)
    assert info.value.errno == 9


def test_poll_object_errors_and_pollnval(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    p = select.poll()
    with pytest.raises(KeyError):
        p.unregister(a)
    with pytest.raises(FileNotFoundError):
        p.modify(a, select.POLLIN)
    p.register(a, select.POLLIN)
    p.modify(a, select.POLLOUT)
    assert p.poll(0) == [(a.fileno(), select.POLLOUT)]
    fd = a.fileno()
    a.close()
    assert p.poll(0) == [(fd, select.POLLNVAL)]
    p.unregister(fd)
    b.close()


def test_epoll_object_errors_oneshot_and_closed_fds(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    ep = select.epoll()
    ep.register(a, select.EPOLLOUT | select.EPOLLONESHOT)
    with pytest.raises(FileExistsError):
        ep.register(a, select.EPOLLIN)
    with pytest.raises(FileNotFoundError):
        ep.modify(b, select.EPOLLIN)
    with pytest.raises(FileNotFoundError):
        ep.unregister(b)
    assert ep.poll(0) == [(a.fileno(), select.EPOLLOUT)]
    assert ep.poll(0) == []  # one-shot: disabled until modified
    ep.modify(a, select.EPOLLOUT)
    assert ep.poll(0, maxevents=1) == [(a.fileno(), select.EPOLLOUT)]
    with pytest.raises(NotImplementedError, match="EPOLLET"):
        ep.register(b, select.EPOLLIN | select.EPOLLET)
    a.close()
    assert ep.poll(0) == []  # a closed fd leaves the interest list
    ep.close()
    assert ep.closed
    with pytest.raises(ValueError, match="closed epoll"):
        ep.poll(0)
    b.close()
