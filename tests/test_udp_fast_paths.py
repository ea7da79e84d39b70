"""sendto's and recvfrom's fast paths (AF_INET pairs sent before, a family
getsockaddrlen knows) against the stdlib, on both drivers.

The fast paths look addresses up in the ABI codec's memos
(``SocketConstants.inet_encoded`` / ``inet_decoded``): only exact
``(str, int)`` pairs of numeric hosts are kept, so a value that compares
equal but is another type (a float port, a bool, a str subclass) still gets
CPython's parse, and a host name is resolved on every call.
"""

from __future__ import annotations

import socket
from decimal import Decimal
from typing import Any

import pytest

from sansock import Binding

Module = Any


def _outcome(call: Any) -> object:
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 -- the outcome is compared
        return (type(exc), str(exc))


class Port(int):
    pass


class Host(str):
    pass


def _sends(m: Module, port: int) -> list[object]:
    tx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    try:
        out = []
        for address in [
            ("127.0.0.1", port),  # the first: encoded, then kept
            ("127.0.0.1", port),  # the memo's
            ("127.0.0.1", float(port)),  # equal to the key, a float: TypeError
            ("127.0.0.1", Decimal(port)),
            ("127.0.0.1", True),  # bool: a port 1 (sent: nothing listens)
            ("127.0.0.1", Port(port)),
            (Host("127.0.0.1"), port),
            ("127.0.0.1", port, 0),
            ("127.0.0.1", 70000),
            ("127.0.0.1", -1),
            ("localhost", port),  # a name: resolved each time, never kept
            ("localhost", port),
            ["127.0.0.1", port],
            "127.0.0.1",
        ]:
            out.append(_outcome(lambda: tx.sendto(b"x", address)))
        out.append(_outcome(lambda: tx.sendto(bytearray(b"xy"), ("127.0.0.1", port))))
        out.append(_outcome(lambda: tx.sendto(b"xyz", 0, ("127.0.0.1", port))))
        out.append(_outcome(lambda: tx.sendto(b"x", 2**31, ("127.0.0.1", port))))
        out.append(_outcome(lambda: tx.sendto(b"x")))
        tx.close()
        out.append(_outcome(lambda: tx.sendto(b"x", ("127.0.0.1", port))))
        return out
    finally:
        tx.close()


def test_sendto_outcomes_are_the_stdlib_ones(net: Binding) -> None:
    rx_ours = net.socket(net.AF_INET, net.SOCK_DGRAM)
    rx_std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with rx_ours, rx_std:
        rx_ours.bind(("127.0.0.1", 0))
        rx_std.bind(("127.0.0.1", 0))
        ours = _sends(net, rx_ours.getsockname()[1])
        theirs = _sends(socket, rx_std.getsockname()[1])
        assert ours == theirs
        # What arrived, in order (the bool-port datagram went to port 1).
        rx_ours.setblocking(False)
        got = []
        while True:
            try:
                got.append(rx_ours.recv(10))
            except BlockingIOError:
                break
        assert got == [b"x", b"x", b"x", b"x", b"x", b"x", b"xy", b"xyz"]


def _receives(m: Module) -> list[object]:
    rx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    tx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    tx2 = m.socket(m.AF_INET, m.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        tx2.bind(("127.0.0.1", 0))
        to = rx.getsockname()
        ports = {tx.getsockname()[1]: "tx", tx2.getsockname()[1]: "tx2"}

        def named(result: object) -> object:
            if isinstance(result, tuple) and result[0] == "ok":
                data, (host, port) = result[1]
                return ("ok", data, host, ports[port])
            return result

        out = []
        for sender, size in [(tx, 10), (tx, 10), (tx2, 1), (tx, 0)]:
            sender.sendto(b"hello", to)
            out.append(named(_outcome(lambda: rx.recvfrom(size))))
        tx.sendto(b"peek", to)
        out.append(named(_outcome(lambda: rx.recvfrom(10, m.MSG_PEEK))))
        out.append(named(_outcome(lambda: rx.recvfrom(10))))
        for bad in (-1, 2**63, 1.5, Decimal(1), "1"):
            out.append(_outcome(lambda: rx.recvfrom(bad)))  # noqa: B023
        out.append(_outcome(lambda: rx.recvfrom(10, 2**31)))
        rx.setblocking(False)
        out.append(_outcome(lambda: rx.recvfrom(10)))
        rx.close()
        out.append(_outcome(lambda: rx.recvfrom(10)))
        return out
    finally:
        for s in (rx, tx, tx2):
            s.close()


def test_recvfrom_outcomes_are_the_stdlib_ones(net: Binding) -> None:
    assert _receives(net) == _receives(socket)


def test_a_decoded_pair_is_the_same_value_each_time(net: Binding) -> None:
    rx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    tx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    with rx, tx:
        rx.bind(("127.0.0.1", 0))
        for _ in range(3):
            tx.sendto(b"x", rx.getsockname())
            data, addr = rx.recvfrom(1)
            assert (data, addr) == (b"x", ("127.0.0.1", tx.getsockname()[1]))
            assert type(addr) is tuple and type(addr[0]) is str and type(addr[1]) is int


def test_other_families_take_the_general_paths(net: Binding) -> None:
    a, b = net.socketpair(net.AF_UNIX, net.SOCK_DGRAM)
    with a, b:
        a.send(b"x")
        assert b.recvfrom(1) == (b"x", None)
    six = net.socket(net.AF_INET6, net.SOCK_DGRAM)
    with six:
        six.bind(("::1", 0))
        six.sendto(b"v6", six.getsockname())
        data, addr = six.recvfrom(2)
        assert data == b"v6" and addr == six.getsockname()
