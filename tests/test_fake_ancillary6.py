"""IP-level ancillary data on UDP: the stdlib (the real kernel), sansock native and the fake.

RFC 3542 on IPv6 (IPV6_RECVPKTINFO / IPV6_RECVHOPLIMIT / IPV6_RECVTCLASS on
receive, IPV6_HOPLIMIT / IPV6_TCLASS items on send) and the IPv4 analogues
(IP_PKTINFO / IP_RECVTTL / IP_RECVTOS, IP_TTL / IP_TOS items).  Each scenario
is written once against the socket-module surface and records every outcome
-- ``(data, ancdata, flags, address)`` of each ``recvmsg`` (the address's
port replaced by the sender's label), a result, or the exception's class and
errno name, and any RuntimeWarning -- on three backends; the traces must be
equal to the stdlib's.  Everything happens on loopback within one call (a
UDP datagram to ``::1`` is queued before ``sendto`` returns): nothing waits.
"""

from __future__ import annotations

import array
import errno
import socket as stdlib_socket
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sansock
import sansock_native
from sansock_fake import FakeKernel

#: Linux's values (the stdlib of an older Python lacks some of the names).
_ABI = sansock.using(FakeKernel()).abi
C = _ABI.const
IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP = C("IPPROTO_IP"), C("IPPROTO_IPV6"), C("IPPROTO_UDP")
IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS = C("IPV6_RECVPKTINFO"), C("IPV6_RECVHOPLIMIT"), C("IPV6_RECVTCLASS")
IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_UNICAST_HOPS = C("IPV6_HOPLIMIT"), C("IPV6_TCLASS"), C("IPV6_UNICAST_HOPS")
IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_TTL, IP_TOS = (
    C("IP_PKTINFO"), C("IP_RECVTTL"), C("IP_RECVTOS"), C("IP_TTL"), C("IP_TOS")
)


def ints(*values: int) -> bytes:
    return array.array("i", values).tobytes()


class Trace:
    def __init__(self, m: Any) -> None:
        self.m = m
        self.log: list[Any] = []
        self.sockets: list[Any] = []
        self.ports: dict[int, str] = {}

    def sock(self, family: Any, host: str | None = None, type_: Any = None) -> Any:
        s = self.m.socket(family, type_ if type_ is not None else self.m.SOCK_DGRAM)
        self.sockets.append(s)
        if host is not None:
            s.bind((host, 0))
        return s

    def label(self, s: Any) -> None:
        self.ports.setdefault(s.getsockname()[1], f"port{len(self.ports)}")

    def do(self, what: str, call: Callable[[], Any]) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = call()
            except OSError as exc:
                self.log.append((what, type(exc).__name__, errno.errorcode.get(exc.errno or 0, exc.errno)))
                return None
        if isinstance(result, tuple) and len(result) == 4 and isinstance(result[3], tuple):
            address = result[3]
            result = (*result[:3], (address[0], self.ports.get(address[1], address[1]), *address[2:]))
        self.log.append((what, result, [str(w.message) for w in caught]))
        return result

    def close_all(self) -> None:
        for s in self.sockets:
            s.close()


def backends() -> Iterator[tuple[str, Any, Callable[[], None]]]:
    yield "stdlib", stdlib_socket, lambda: None
    yield "native", sansock.using(sansock_native.NativeDriver()), lambda: None
    kernel = FakeKernel()

    def leak_check() -> None:
        assert kernel.fd_count() == 0, f"the scenario leaked fake fds {kernel.open_fds()}"

    yield "fake", sansock.using(kernel), leak_check


Scenario = Callable[[Trace], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def pair6(t: Trace, *options: int) -> tuple[Any, Any, Any]:
    r = t.sock(t.m.AF_INET6, "::1")
    s = t.sock(t.m.AF_INET6, "::1")
    t.label(s)
    for option in options:
        r.setsockopt(IPPROTO_IPV6, option, 1)
    return r, s, r.getsockname()


def pair4(t: Trace, *options: int) -> tuple[Any, Any, Any]:
    r = t.sock(t.m.AF_INET, "127.0.0.1")
    s = t.sock(t.m.AF_INET, "127.0.0.1")
    t.label(s)
    for option in options:
        r.setsockopt(IPPROTO_IP, option, 1)
    return r, s, r.getsockname()


ALL6 = (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS)
ALL4 = (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS)


# ------------------------------------------------------------------ IPv6
@scenario
def v6_socket_values(t: Trace) -> None:
    """The socket's IPV6_UNICAST_HOPS / IPV6_TCLASS, defaults, and each RECV option alone."""
    r, s, dest = pair6(t)
    s.sendto(b"none", dest)
    t.do("no option", lambda: r.recvmsg(16, 1024))
    for option in ALL6:
        r.setsockopt(IPPROTO_IPV6, option, 1)
        s.sendto(b"one", dest)
        t.do(f"option {option}", lambda: r.recvmsg(16, 1024))
        r.setsockopt(IPPROTO_IPV6, option, 0)
    for option in ALL6:
        r.setsockopt(IPPROTO_IPV6, option, 7)
    t.do("getsockopt RECVTCLASS", lambda: r.getsockopt(IPPROTO_IPV6, IPV6_RECVTCLASS))
    for hops, tclass in ((5, 0x28), (255, 0xFF), (-1, -1), (0, 0)):
        t.do(f"hops {hops}", lambda: s.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, hops))
        t.do(f"tclass {tclass}", lambda: s.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, tclass))
        t.do("get hops", lambda: s.getsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS))
        t.do("get tclass", lambda: s.getsockopt(IPPROTO_IPV6, IPV6_TCLASS))
        s.sendto(b"all", dest)
        t.do("recvmsg", lambda: r.recvmsg(16, 1024))
    for bad in (256, -2):
        t.do(f"hops {bad}", lambda: s.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, bad))
        t.do(f"tclass {bad}", lambda: s.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, bad))


@scenario
def v6_send_items(t: Trace) -> None:
    """IPV6_HOPLIMIT / IPV6_TCLASS items: values, -1, range and length errors, other levels."""
    r, s, dest = pair6(t, *ALL6)
    s.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, 5)
    s.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9)
    cases: list[tuple[str, list[tuple[int, int, bytes]]]] = [
        ("both", [(IPPROTO_IPV6, IPV6_TCLASS, ints(0x10)), (IPPROTO_IPV6, IPV6_HOPLIMIT, ints(2))]),
        ("hoplimit only", [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(0))]),
        ("tclass only", [(IPPROTO_IPV6, IPV6_TCLASS, ints(255))]),
        ("minus one", [(IPPROTO_IPV6, IPV6_TCLASS, ints(-1)), (IPPROTO_IPV6, IPV6_HOPLIMIT, ints(-1))]),
        ("hoplimit 256", [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(256))]),
        ("tclass -2", [(IPPROTO_IPV6, IPV6_TCLASS, ints(-2))]),
        ("odd size", [(IPPROTO_IPV6, IPV6_TCLASS, ints(1) + b"\0"), (IPPROTO_IPV6, IPV6_HOPLIMIT, ints(3))]),
        ("short", [(IPPROTO_IPV6, IPV6_HOPLIMIT, b"\1\0")]),
        ("long", [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(1, 0))]),
        ("unknown type", [(IPPROTO_IPV6, 9999, ints(1))]),
        ("receive-only type", [(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, ints(1))]),
        ("IPv4 level skipped", [(IPPROTO_IP, IP_TTL, ints(3)), (IPPROTO_IPV6, IPV6_HOPLIMIT, ints(4))]),
        ("SOL_UDP unknown", [(IPPROTO_UDP, 1, ints(1))]),
        ("last wins", [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(4)), (IPPROTO_IPV6, IPV6_HOPLIMIT, ints(6))]),
        ("error after a good one", [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(4)), (IPPROTO_IPV6, IPV6_TCLASS, ints(300))]),
    ]
    for what, items in cases:
        t.do(what, lambda: s.sendmsg([what.encode()], items, 0, dest))
        t.do(what + " recv", lambda: r.recvmsg(32, 1024, t.m.MSG_DONTWAIT))
    s.connect(dest)
    t.do("connected", lambda: s.sendmsg([b"c"], [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(1))]))
    t.do("connected recv", lambda: r.recvmsg(32, 1024))


@scenario
def v6_truncation(t: Trace) -> None:
    """Every control buffer size from 0 to past the three items: put_cmsg's MSG_CTRUNC rules."""
    r, s, dest = pair6(t, *ALL6)
    s.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, 0x2C)
    full = t.m.CMSG_SPACE(20) + 2 * t.m.CMSG_SPACE(4)
    for size in range(full + 9):
        s.sendto(b"x" * 4, dest)
        t.do(f"size {size}", lambda: r.recvmsg(2, size))


@scenario
def v6_peek_and_recvmsg_into(t: Trace) -> None:
    """MSG_PEEK reports the items too; recvmsg_into and plain recv."""
    r, s, dest = pair6(t, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS)
    s.sendmsg([b"peeked"], [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(33))], 0, dest)
    t.do("peek", lambda: r.recvmsg(16, 1024, t.m.MSG_PEEK))
    buf = bytearray(3)
    t.do("into", lambda: r.recvmsg_into([buf], t.m.CMSG_SPACE(4)))
    t.do("buf", lambda: bytes(buf))
    s.sendto(b"plain", dest)
    t.do("recv", lambda: r.recv(16))
    s.sendto(b"after", dest)
    t.do("recvmsg", lambda: r.recvmsg(16, 1024))


@scenario
def v6_tcp_ignores_ip_items(t: Trace) -> None:
    """tcp_sendmsg reads only SOL_SOCKET items: IPv6 ones are ignored, even bad ones."""
    listener = t.sock(t.m.AF_INET6, "::1", t.m.SOCK_STREAM)
    listener.listen()
    c = t.sock(t.m.AF_INET6, None, t.m.SOCK_STREAM)
    c.connect(listener.getsockname())
    a, _ = listener.accept()
    t.sockets.append(a)
    t.do("send", lambda: c.sendmsg([b"tcp"], [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(999)), (IPPROTO_IPV6, 9999, b"")]))
    t.do("recv", lambda: a.recv(16))


# ------------------------------------------------------------------ IPv4
@scenario
def v4_items(t: Trace) -> None:
    """IP_PKTINFO / IP_RECVTTL / IP_RECVTOS, IP_TTL / IP_TOS options and items, truncation."""
    r, s, dest = pair4(t, *ALL4)
    for what, level, option, value in (
        ("ttl 0", IPPROTO_IP, IP_TTL, 0), ("ttl 256", IPPROTO_IP, IP_TTL, 256), ("ttl -1", IPPROTO_IP, IP_TTL, -1),
        ("ttl 17", IPPROTO_IP, IP_TTL, 17), ("tos 0x1ff", IPPROTO_IP, IP_TOS, 0x1FF), ("tos -1", IPPROTO_IP, IP_TOS, -1),
        ("tos 0x20", IPPROTO_IP, IP_TOS, 0x20),
    ):
        t.do(what, lambda: s.setsockopt(level, option, value))
        t.do(what + " get", lambda: s.getsockopt(level, option))
    s.sendto(b"socket", dest)
    t.do("socket values", lambda: r.recvmsg(16, 1024))
    cases: list[tuple[str, list[tuple[int, int, bytes]]]] = [
        ("ttl+tos", [(IPPROTO_IP, IP_TTL, ints(3)), (IPPROTO_IP, IP_TOS, ints(0x48))]),
        ("tos byte", [(IPPROTO_IP, IP_TOS, b"\x0c")]),
        ("tos 256", [(IPPROTO_IP, IP_TOS, ints(256))]),
        ("tos short", [(IPPROTO_IP, IP_TOS, b"\1\0")]),
        ("ttl 0", [(IPPROTO_IP, IP_TTL, ints(0))]),
        ("ttl byte", [(IPPROTO_IP, IP_TTL, b"\3")]),
        ("unknown", [(IPPROTO_IP, 9999, ints(1))]),
        ("IPv6 level skipped", [(IPPROTO_IPV6, IPV6_HOPLIMIT, ints(3))]),
    ]
    for what, items in cases:
        t.do(what, lambda: s.sendmsg([what.encode()], items, 0, dest))
        t.do(what + " recv", lambda: r.recvmsg(32, 1024, t.m.MSG_DONTWAIT))
    full = t.m.CMSG_SPACE(12) + t.m.CMSG_SPACE(4) + t.m.CMSG_SPACE(1)
    for size in range(0, full + 9, 3):
        s.sendto(b"y", dest)
        t.do(f"size {size}", lambda: r.recvmsg(2, size))


@scenario
def dual_stack(t: Trace) -> None:
    """An IPv4 datagram on an AF_INET6 socket: a mapped IPV6_PKTINFO, then the IPv4 items."""
    r = t.sock(t.m.AF_INET6, "::")
    for option in ALL6:
        r.setsockopt(IPPROTO_IPV6, option, 1)
    s = t.sock(t.m.AF_INET, "127.0.0.1")
    t.label(s)
    s.setsockopt(IPPROTO_IP, IP_TOS, 0x10)
    s.sendto(b"v4", ("127.0.0.1", r.getsockname()[1]))
    t.do("v6 options only", lambda: r.recvmsg(16, 1024))
    r.setsockopt(IPPROTO_IP, IP_RECVTTL, 1)
    r.setsockopt(IPPROTO_IP, IP_RECVTOS, 1)
    s.sendto(b"v4", ("127.0.0.1", r.getsockname()[1]))
    t.do("and v4 options", lambda: r.recvmsg(16, 1024))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str) -> None:
    logs: dict[str, list[Any]] = {}
    for backend, m, leak_check in backends():
        trace = Trace(m)
        try:
            SCENARIOS[name](trace)
        finally:
            trace.close_all()
        leak_check()
        logs[backend] = trace.log
    oracle = logs["stdlib"]
    assert oracle, "the scenario recorded nothing"
    for backend in ("native", "fake"):
        for index, (a, b) in enumerate(zip(oracle, logs[backend])):
            assert a == b, f"{backend}, step {index}: stdlib {a!r}, got {b!r}"
        assert len(oracle) == len(logs[backend])


def test_scenario_count() -> None:
    assert len(SCENARIOS) == 7


def test_unmodelled_send_items_raise_not_implemented() -> None:
    """What Linux accepts and the fake does not model says so, and sends nothing."""
    net = sansock.using(FakeKernel())
    with net.socket(net.AF_INET6, net.SOCK_DGRAM) as r, net.socket(net.AF_INET6, net.SOCK_DGRAM) as s:
        r.bind(("::1", 0))
        for level, name, data in (
            (IPPROTO_IPV6, "IPV6_PKTINFO", bytes(16) + ints(0)),
            (IPPROTO_IPV6, "IPV6_DONTFRAG", ints(1)),
            (IPPROTO_UDP, "UDP_SEGMENT", b"\x00\x04"),
        ):
            with pytest.raises(NotImplementedError, match=name):
                s.sendmsg([b"x"], [(level, C(name), data)], 0, r.getsockname())
        with pytest.raises(BlockingIOError):
            r.recvmsg(16, 1024, net.MSG_DONTWAIT)
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as s4:
        with pytest.raises(NotImplementedError, match="IP_PKTINFO"):
            s4.sendmsg([b"x"], [(IPPROTO_IP, IP_PKTINFO, bytes(12))], 0, ("127.0.0.1", 9))
