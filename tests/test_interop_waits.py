"""Waits of the stdlib on the fake: the corners the first implementation missed.

* a socket closed while registered in a selector: each selector reports what
  the syscall under it reports on Linux (scenarios run on real sockets
  outside the patch and on fake ones inside it, compared);
* a wait on no fd at all is a sleep in virtual time for a thread that takes
  part in the kernel, in real time otherwise;
* a fake epoll waited on from another wait (nested epoll) is refused at once.
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

pytestmark = pytest.mark.threads

SELECTORS = ("SelectSelector", "PollSelector", "EpollSelector", "DefaultSelector")


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except OSError as exc:
        return (type(exc).__name__, exc.errno, str(exc))


def ready_data(sel: selectors.BaseSelector) -> list[tuple[Any, int]]:
    return [(key.data, events) for key, events in sel.select(0)]


def closed_while_registered(name: str) -> list[Any]:
    """A registered socket closed without unregister; then its number reused; then a dup kept."""
    seen: list[Any] = []
    sel: selectors.BaseSelector = getattr(selectors, name)()
    a, b = socket.socketpair()
    try:
        sel.register(a, selectors.EVENT_READ, "dead")
        b.sendall(b"x")
        seen.append(outcome(lambda: ready_data(sel)))
        fd = a.fileno()
        a.close()
        seen.append(outcome(lambda: ready_data(sel)))
        # The number is reused by a new, readable socket that is not registered.
        c, d = socket.socketpair()
        with c, d:
            seen.append(c.fileno() == fd)
            d.sendall(b"y")
            seen.append(outcome(lambda: ready_data(sel)))
        seen.append(sel.unregister(a).data)
    finally:
        sel.close()
        b.close()
    return seen


def closed_while_a_dup_keeps_the_file(name: str) -> list[Any]:
    seen: list[Any] = []
    sel: selectors.BaseSelector = getattr(selectors, name)()
    a, b = socket.socketpair()
    try:
        sel.register(a, selectors.EVENT_READ, "kept")
        kept = a.dup()
        a.close()
        with kept:
            b.sendall(b"x")
            seen.append(outcome(lambda: ready_data(sel)))
        seen.append(outcome(lambda: ready_data(sel)))
    finally:
        sel.close()
        b.close()
    return seen


@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize("scenario", [closed_while_registered, closed_while_a_dup_keeps_the_file])
def test_a_socket_closed_while_registered_is_reported_as_linux_does(
    name: str, scenario: Callable[[str], list[Any]]
) -> None:
    real = scenario(name)
    with patch_stdlib():
        fake = scenario(name)
    assert fake == real
    if name in ("EpollSelector", "DefaultSelector") and scenario is closed_while_registered:
        assert real[1:4] == [("ok", []), True, ("ok", [])]  # the released file left epoll


def epoll_object_scenario() -> list[Any]:
    seen: list[Any] = []
    a, b = socket.socketpair()
    with select.epoll() as ep, b:
        ep.register(a, select.EPOLLIN)
        fd = a.fileno()
        b.sendall(b"x")
        a.close()
        seen.append(ep.poll(0))
        seen.append(outcome(lambda: ep.modify(fd, select.EPOLLIN)))
        seen.append(outcome(lambda: ep.unregister(fd)))
        c, d = socket.socketpair()
        with c, d:
            d.sendall(b"y")
            seen.append((c.fileno() == fd, [(f == fd, ev) for f, ev in ep.poll(0)]))
            seen.append(outcome(lambda: ep.modify(fd, select.EPOLLIN)))
            seen.append(outcome(lambda: ep.unregister(fd)))
            seen.append(outcome(lambda: ep.register(fd, select.EPOLLIN)))
            seen.append([(f == fd, ev) for f, ev in ep.poll(0)])
    return seen


def test_an_epoll_entry_goes_with_its_file_not_its_number() -> None:
    real = epoll_object_scenario()
    with patch_stdlib():
        fake = epoll_object_scenario()
    assert fake == real
    assert real[0] == [] and real[1][1] == 9 and real[4][1] == 2


# -- a wait on no fd -------------------------------------------------------------------------


def nothing_to_wait_on() -> list[Callable[[float], Any]]:
    """Every stdlib way of waiting *seconds* on no fd, with its answer."""
    calls: list[Callable[[float], Any]] = [
        lambda t: select.select([], [], [], t),
        lambda t: select.poll().poll(t * 1000),
        lambda t: select.epoll().poll(t),
    ]

    def selector_call(name: str) -> Callable[[float], Any]:
        return lambda t: getattr(selectors, name)().select(t)

    calls.extend(selector_call(name) for name in SELECTORS)
    return calls


def test_the_answers_of_a_wait_on_no_fd_are_the_stdlibs() -> None:
    real = [call(0) for call in nothing_to_wait_on()]
    with patch_stdlib():
        fake = [call(0) for call in nothing_to_wait_on()]
    assert fake == real == [([], [], []), [], [], [], [], [], []]


@pytest.mark.parametrize("index", range(len(SELECTORS) + 3))
def test_a_wait_on_no_fd_sleeps_in_virtual_time(fake_stdlib: FakeKernel, index: int) -> None:
    call = nothing_to_wait_on()[index]
    start, real_start = fake_stdlib.monotonic_ns(), time.monotonic()
    call(30.0)
    assert fake_stdlib.monotonic_ns() - start == 30_000_000_000
    assert time.monotonic() - real_start < 5
    assert [(e.call, e.args) for e in fake_stdlib.trace][-1] == ("poll", ((), 30_000_000_000))


def test_a_wait_on_no_fd_holds_while_another_thread_works(fake_stdlib: FakeKernel) -> None:
    """The sleep is a wait in the kernel: a server's reply before its deadline arrives first."""
    a, b = socket.socketpair()
    got: list[bytes] = []

    def server() -> None:
        select.select([], [], [], 10)  # a virtual 10 s sleep in the server thread
        b.sendall(b"late")

    thread = threading.Thread(target=server)
    thread.start()
    with a, b:
        a.settimeout(60)
        start = fake_stdlib.monotonic_ns()
        got.append(a.recv(10))
        assert fake_stdlib.monotonic_ns() - start == 10_000_000_000
        thread.join()
    assert got == [b"late"]


def test_a_wait_on_no_fd_and_no_deadline_is_blocked_forever(fake_stdlib: FakeKernel) -> None:
    with pytest.raises(BlockedForever):
        select.select([], [], [])


def test_a_thread_that_takes_no_part_sleeps_in_real_time() -> None:
    go, done = threading.Event(), threading.Event()
    took: list[float] = []

    def outsider() -> None:  # started before the kernel, never uses it
        go.wait(10)
        start = time.monotonic()
        select.select([], [], [], 0.05)
        took.append(time.monotonic() - start)
        done.set()

    thread = threading.Thread(target=outsider)
    thread.start()
    with patch_stdlib() as kernel:
        before = kernel.monotonic_ns()
        go.set()
        assert done.wait(10)
        assert kernel.monotonic_ns() == before and list(kernel.trace) == []
    thread.join()
    assert took[0] >= 0.05


def test_a_stand_in_used_after_its_patch_ended_sleeps_in_real_time() -> None:
    with patch_stdlib() as kernel:
        held = select.select
    before = kernel.monotonic_ns()
    start = time.monotonic()
    assert held([], [], [], 0.05) == ([], [], [])
    assert time.monotonic() - start >= 0.05 and kernel.monotonic_ns() == before


# -- nested epoll ---------------------------------------------------------------------------


def test_waiting_on_a_fake_epoll_from_another_wait_is_refused(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    inner = select.epoll()
    inner.register(a, select.EPOLLIN)
    sel = selectors.EpollSelector()
    sel.register(b, selectors.EVENT_READ)
    try:
        for fd in (inner.fileno(), sel.fileno()):
            outer = select.epoll()
            with pytest.raises(NotImplementedError, match=rf"epoll.register\(\): fd {fd} .*nested epoll"):
                outer.register(fd, select.EPOLLIN)
            outer.close()
            with pytest.raises(NotImplementedError, match="nested epoll"):
                select.select([fd], [], [], 0)
            with pytest.raises(NotImplementedError, match="nested epoll"):
                select.poll().register(fd, select.POLLIN)
            for name in SELECTORS:
                with getattr(selectors, name)() as other:
                    with pytest.raises(NotImplementedError, match="nested epoll"):
                        other.register(fd, selectors.EVENT_READ)
                    assert other.get_map() == {}
        b.sendall(b"x")
        assert inner.poll(0) == [(a.fileno(), select.EPOLLIN)]  # the inner one still works
        fd = inner.fileno()
    finally:
        inner.close()
        sel.close()
        a.close()
        b.close()
    # Closed: the number is an ordinary (closed) real fd again.
    with pytest.raises(OSError) as info:
        select.select([fd], [], [], 0)
    assert info.value.errno == 9


def test_a_real_epoll_in_a_real_epoll_still_works_inside_the_patch(fake_stdlib: FakeKernel) -> None:
    # Waits on real fds only are the real calls; a real pipe in a fake epoll's
    # real epoll, waited on from outside, is the fake epoll's fileno: refused.
    r, w = os.pipe()
    try:
        holder = select.epoll()
        holder.register(r, select.EPOLLIN)
        os.write(w, b"x")
        assert holder.poll(0) == [(r, select.EPOLLIN)]
        with pytest.raises(NotImplementedError, match="nested epoll"):
            select.select([holder.fileno()], [], [], 0)
        holder.close()
    finally:
        os.close(r)
        os.close(w)
