"""One mechanism for a refused fast path (issue 14, task "regroup" item 1).

A method of ``SocketType`` with a fast path hands the driver exact values
unchecked; what the fast path does not take, or what the driver's C types
refuse (``sansock._general.REFUSED``), goes to the function of the same name
in ``sansock._general`` with the arguments exactly as the caller gave them,
and only there is it parsed as CPython does.  Checked here by replacing each
general path with a recorder, on both drivers; the exact messages are
compared with the stdlib in test_defects_core.py and test_api_behaviour.py.
"""

from __future__ import annotations

import socket as stdlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from sansock import Binding
from sansock import _general

BIG = 2**40  # beyond a C int: the driver's C types refuse it
ONE = Decimal(1)  # not an int: no fast path takes it
PARTS = [b"x"]
NO_ANCDATA: list[tuple[int, int, bytes]] = []

#: (general path, the call, the arguments the general path must receive after the socket)
CASES: list[tuple[str, Callable[[Any, bytearray], object], Callable[[bytearray], tuple[object, ...]]]] = [
    ("recv", lambda s, buf: s.recv(1, BIG), lambda buf: (1, BIG)),
    ("recv", lambda s, buf: s.recv(ONE), lambda buf: (ONE, 0)),
    ("recv_into", lambda s, buf: s.recv_into(buf, 0, BIG), lambda buf: (buf, 0, BIG)),
    ("send", lambda s, buf: s.send(b"x", BIG), lambda buf: (b"x", BIG)),
    ("send", lambda s, buf: s.send("text"), lambda buf: ("text", 0)),
    ("sendall", lambda s, buf: s.sendall(b"x", BIG), lambda buf: (b"x", BIG)),
    ("getsockopt", lambda s, buf: s.getsockopt(BIG, 1), lambda buf: (BIG, 1, 0)),
    ("setsockopt", lambda s, buf: s.setsockopt(1, 2, BIG), lambda buf: (1, 2, BIG)),
    ("sendmsg", lambda s, buf: s.sendmsg(PARTS, NO_ANCDATA, BIG), lambda buf: (PARTS, NO_ANCDATA, BIG, None)),
]


class Reached(Exception):
    pass


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_refused_values_reach_the_general_path_as_given(
    net: Binding, monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    name, call, expected = CASES[index]
    seen: list[tuple[object, ...]] = []

    def recorder(sock: object, *args: object) -> object:
        seen.append((sock, *args))
        raise Reached

    monkeypatch.setattr(_general, name, recorder)
    a, b = net.socketpair()
    buf = bytearray(4)
    with a, b:
        with pytest.raises(Reached):
            call(a, buf)
        assert len(seen) == 1
        sock, *args = seen[0]
        assert sock is a
        want = expected(buf)
        assert len(args) == len(want)
        for got, given in zip(args, want):
            # The very objects the caller passed (equal ints may be distinct objects).
            assert got is given or (type(got) is type(given) is int and got == given)


@pytest.mark.parametrize("name", ["recv", "recv_into", "send", "sendall", "getsockopt", "setsockopt", "sendmsg"])
def test_the_fast_paths_do_not_reach_the_general_path(net: Binding, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def recorder(sock: object, *args: object) -> object:
        raise AssertionError(f"the fast path of {name} went to the general path with {args!r}")

    monkeypatch.setattr(_general, name, recorder)
    a, b = net.socketpair()
    with a, b:
        a.send(b"ping")
        a.sendall(b"pong")
        a.sendmsg([b"!"])
        assert b.recv(4) == b"ping"
        buf = bytearray(4)
        assert b.recv_into(buf) == 4 and buf == b"pong"
        assert b.recv(1) == b"!"
        a.setsockopt(net.SOL_SOCKET, net.SO_SNDBUF, 65536)
        assert a.getsockopt(net.SOL_SOCKET, net.SO_SNDBUF) > 0


def test_refused_values_raise_the_stdlib_s_exception(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = stdlib.socketpair()
    with a, b, x, y:
        calls: list[Callable[[Any], object]] = [
            lambda s: s.recv(1, BIG),
            lambda s: s.recv_into(bytearray(1), 0, BIG),
            lambda s: s.send(b"x", BIG),
            lambda s: s.send("text"),
            lambda s: s.sendall(b"x", BIG),
            lambda s: s.getsockopt(BIG, 1),
            lambda s: s.sendmsg([b"x"], [], BIG),
        ]
        for call in calls:
            with pytest.raises(Exception) as ours:
                call(a)
            with pytest.raises(Exception) as theirs:
                call(x)
            assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
            assert ours.value.__context__ is None and theirs.value.__context__ is None
        y.setblocking(False)
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            y.recv(1)  # nothing was sent by the refused calls
        with pytest.raises(BlockingIOError):
            b.recv(1)
