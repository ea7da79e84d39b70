"""AF_UNIX sockets kept alive only by unreachable fds in flight are freed
(issue 12, item 9): Linux's unix garbage collector (net/unix/garbage.c).

The probe is a listening socket sent over SCM_RIGHTS and closed: once the
cycle holding it is collected, a connect to its name is refused.  Linux runs
the collector from ``unix_release_sock`` (since 6.10 on a work queue, a moment
after ``close`` returns, so the native test retries for up to two seconds);
the fake runs it at once.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest

import sansock
from sansock import Binding
from sansock_fake import FakeKernel


@pytest.fixture
def path(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "listener")


def connect_result(net: Binding, path: str) -> int:
    c = net.socket(net.AF_UNIX, net.SOCK_STREAM)
    with c:
        return c.connect_ex(path)


def refused_soon(net: Binding, path: str) -> bool:
    """The listener at *path* is gone: at once on the fake, within 2 s on Linux."""
    fake = isinstance(net.driver, FakeKernel)
    deadline = time.monotonic() + 2
    while True:
        result = connect_result(net, path)
        if result == errno.ECONNREFUSED:
            return True
        assert result == 0, os.strerror(result)
        if fake or time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def in_flight(net: Binding) -> int:
    return net.driver.files_in_flight() if isinstance(net.driver, FakeKernel) else 0


def listener(net: Binding, path: str) -> Any:
    s = net.socket(net.AF_UNIX, net.SOCK_STREAM)
    s.bind(path)
    s.listen()
    return s


def test_a_cycle_of_fds_in_flight_is_collected(net: Binding, path: str) -> None:
    """The issue's reproducer: the listener's fd and b's own fd sent over (a, b)."""
    lst = listener(net, path)
    a, b = net.socketpair()
    net.send_fds(a, [b"x"], [lst.fileno(), b.fileno()])
    for s in (lst, a, b):
        s.close()
    assert refused_soon(net, path)
    assert in_flight(net) == 0


def test_a_cycle_through_two_pairs_is_collected(net: Binding, path: str) -> None:
    lst = listener(net, path)
    a1, b1 = net.socketpair()
    a2, b2 = net.socketpair()
    net.send_fds(a1, [b"x"], [b2.fileno(), lst.fileno()])  # into b1's queue
    net.send_fds(a2, [b"y"], [b1.fileno()])  # into b2's queue
    for s in (lst, a1, b1, a2, b2):
        s.close()
    assert refused_soon(net, path)
    assert in_flight(net) == 0


def test_a_cycle_through_a_listeners_embryo_is_collected(net: Binding, tmp_path: Path) -> None:
    """scan_children: a listener's not-yet-accepted connections are its queue."""
    path1, path2 = str(tmp_path / "one"), str(tmp_path / "two")
    l1, l2 = listener(net, path1), listener(net, path2)
    c = net.socket(net.AF_UNIX, net.SOCK_STREAM)
    c.connect(path1)
    net.send_fds(c, [b"x"], [l1.fileno(), l2.fileno()])
    for s in (l1, l2, c):
        s.close()
    assert refused_soon(net, path2)
    assert in_flight(net) == 0


def test_reachable_fds_in_flight_are_kept(net: Binding, path: str) -> None:
    """Only the unreachable is collected: an fd queued on an open socket survives
    every close, and is received intact."""
    lst = listener(net, path)
    a, b = net.socketpair()
    x, y = net.socketpair()
    net.send_fds(a, [b"x"], [lst.fileno(), x.fileno(), y.fileno()])
    for s in (lst, a, x, y):
        s.close()
    # An unrelated cycle collected meanwhile must not take these.
    p, q = net.socketpair()
    net.send_fds(p, [b"z"], [q.fileno()])
    p.close()
    q.close()
    time.sleep(0.05 if not isinstance(net.driver, FakeKernel) else 0)
    with b:
        c = net.socket(net.AF_UNIX, net.SOCK_STREAM)
        with c:
            assert c.connect_ex(path) == 0
        _msg, fds, _flags, _addr = net.recv_fds(b, 16, 8)
        assert len(fds) == 3
        got = [net.socket(fileno=fd) for fd in fds]
        with got[0], got[1], got[2]:
            conn, _ = got[0].accept()
            conn.close()
            got[1].sendall(b"ping")
            assert got[2].recv(4) == b"ping"
    assert in_flight(net) == 0


def test_collected_sockets_release_what_they_carried_on_the_fake() -> None:
    """A garbage socket's queue holds a TCP listener's only reference: the
    collection releases it too, and its port is free again."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    tcp = net.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    port = tcp.getsockname()[1]
    a, b = net.socketpair()
    net.send_fds(a, [b"x"], [tcp.fileno(), b.fileno()])
    tcp.close()
    a.close()
    assert kernel.files_in_flight() == 2
    b.close()
    assert kernel.files_in_flight() == 0
    probe = net.socket()
    with probe:
        assert probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    assert kernel.open_fds() == []
