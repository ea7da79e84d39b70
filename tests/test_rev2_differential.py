"""Reviewer's differential scenarios (task rev2): TCP teardown, RST, accept queue,
shutdown on unconnected and listening sockets, names after connect, UDP errors and
buffers -- the stdlib (the oracle), sansock native and the fake, identical traces.

The harness (``Trace``, ``run_everywhere``) is ``test_fake_inet_differential``'s;
the scenarios here register in their own table.
"""

from __future__ import annotations

import socket as S
import struct
from collections.abc import Callable
from typing import Any

import pytest

# A sibling test module (pytest puts tests/ on sys.path); mypy does not see it.
from test_fake_inet_differential import Trace, differences  # type: ignore[import-not-found]

pytestmark = pytest.mark.differential

SCENARIOS: dict[str, Callable[[Trace], None]] = {}


def scenario(fn: Callable[[Trace], None]) -> Callable[[Trace], None]:
    SCENARIOS[fn.__name__] = fn
    return fn


def pair(t: Trace, nb: bool = True) -> tuple[Any, Any, Any]:
    l, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    l.listen()
    c = t.socket(S.AF_INET, S.SOCK_STREAM)
    c.connect(("127.0.0.1", port))
    a, _ = l.accept()
    t.sockets.append(a)
    if nb:
        a.setblocking(False); c.setblocking(False)
    return l, c, a

@scenario
def half_close(t: Trace) -> None:
    l, c, a = pair(t)
    t.pollmask("est c", c); t.pollmask("est a", a)
    t.do("c shut wr", lambda: c.shutdown(S.SHUT_WR))
    t.pollmask("a after fin", a, 1000); t.pollmask("c after shutwr", c)
    t.do("a recv", lambda: a.recv(10))
    t.do("a recv again", lambda: a.recv(10))
    t.do("a send", lambda: a.send(b"hi"))
    t.pollmask("c data", c, 1000)
    t.do("c recv", lambda: c.recv(10))
    t.do("c send", lambda: c.send(b"x"))
    t.do("c shut wr again", lambda: c.shutdown(S.SHUT_WR))
    t.do("a shut rd", lambda: a.shutdown(S.SHUT_RD))
    t.pollmask("a after shut rd", a)
    t.do("a shut wr", lambda: a.shutdown(S.SHUT_WR))
    t.pollmask("c after both", c, 1000); t.pollmask("a after both", a, 1000)
    t.do("c recv", lambda: c.recv(10))
    t.do("c getpeername", lambda: c.getpeername())
    t.do("a getpeername", lambda: a.getpeername())
    t.do("c getsockname", lambda: c.getsockname()[0])
    t.do("a send", lambda: a.send(b"x"))
    t.do("a SO_ERROR", lambda: a.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
    t.do("c shut rdwr", lambda: c.shutdown(S.SHUT_RDWR))

@scenario
def rst_with_unread(t: Trace) -> None:
    l, c, a = pair(t)
    t.do("c send", lambda: c.send(b"unread"))
    t.pollmask("a data", a, 1000)
    t.do("a send", lambda: a.send(b"to c"))
    a.close(); t.sockets.remove(a)
    t.pollmask("c after rst", c, 1000, wait="")
    t.do("c SO_ERROR", lambda: c.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
    t.pollmask("c after so_error", c)
    t.do("c recv", lambda: c.recv(10))
    t.do("c recv2", lambda: c.recv(10))
    t.do("c send", lambda: c.send(b"x"))
    t.do("c getpeername", lambda: c.getpeername())

@scenario
def rst_recv_first(t: Trace) -> None:
    l, c, a = pair(t)
    t.do("c send", lambda: c.send(b"unread"))
    t.pollmask("a data", a, 1000)
    t.do("a send", lambda: a.send(b"to c"))
    a.close(); t.sockets.remove(a)
    t.pollmask("c after rst", c, 1000, wait="")
    t.do("c recv", lambda: c.recv(10))
    t.do("c recv2", lambda: c.recv(10))
    t.pollmask("c after", c)
    t.do("c send", lambda: c.send(b"x"))
    t.do("c send2", lambda: c.send(b"x"))
    t.do("c shutdown", lambda: c.shutdown(S.SHUT_RDWR))

@scenario
def linger_rst(t: Trace) -> None:
    l, c, a = pair(t)
    t.do("c send", lambda: c.send(b"pending"))
    a.setsockopt(S.SOL_SOCKET, S.SO_LINGER, struct.pack("ii", 1, 0))
    t.do("linger get", lambda: a.getsockopt(S.SOL_SOCKET, S.SO_LINGER, 8))
    a.close(); t.sockets.remove(a)
    t.pollmask("c", c, 1000, wait="")
    t.do("c send", lambda: c.send(b"x"))
    t.do("c recv", lambda: c.recv(10))
    t.do("c recv", lambda: c.recv(10))

@scenario
def simultaneous_close(t: Trace) -> None:
    l, c, a = pair(t)
    t.do("c shut", lambda: c.shutdown(S.SHUT_WR))
    t.do("a shut", lambda: a.shutdown(S.SHUT_WR))
    t.pollmask("c", c, 1000); t.pollmask("a", a, 1000)
    t.do("c recv", lambda: c.recv(1)); t.do("a recv", lambda: a.recv(1))
    t.do("c peer", lambda: c.getpeername()); t.do("a peer", lambda: a.getpeername())
    t.do("a shutrd", lambda: a.shutdown(S.SHUT_RD))
    c.close(); t.sockets.remove(c)
    t.pollmask("a after c close", a, 100)
    t.do("a send", lambda: a.send(b"x"))

@scenario
def accept_queue(t: Trace) -> None:
    l, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    l.listen(0)
    res = []
    for i in range(3):
        c = t.socket(S.AF_INET, S.SOCK_STREAM)
        c.setblocking(False)
        t.do(f"connect {i}", lambda: c.connect_ex(("127.0.0.1", port)))
        res.append(c)
    for i, c in enumerate(res):
        t.pollmask(f"c{i}", c, 1000 if i == 0 else 0, wait="POLLOUT")
    l.setblocking(False)
    for i in range(3):
        r = t.do("accept", lambda: l.accept())

@scenario
def shutdown_listener(t: Trace) -> None:
    l, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    t.do("shut unbound-unconnected", lambda: l.shutdown(S.SHUT_WR))
    t.pollmask("after", l)
    l.listen()
    t.pollmask("listening", l)
    t.do("shut wr listener", lambda: l.shutdown(S.SHUT_WR))
    t.pollmask("after shut wr", l)
    t.do("shut rd listener", lambda: l.shutdown(S.SHUT_RD))
    t.pollmask("after shut rd", l)
    l.setblocking(False)
    t.do("accept", lambda: l.accept())
    c = t.socket(S.AF_INET, S.SOCK_STREAM); c.setblocking(False)
    t.do("connect", lambda: c.connect_ex(("127.0.0.1", port)))
    t.do("listen again", lambda: l.listen())
    t.pollmask("relisten", l)
    u = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("shut rdwr fresh", lambda: u.shutdown(S.SHUT_RDWR))
    t.pollmask("fresh after", u)
    t.do("fresh recv", lambda: u.recv(1))
    t.do("fresh send", lambda: u.send(b"x"))
    t.do("fresh getsockname", lambda: u.getsockname())

@scenario
def names_after_connect(t: Trace) -> None:
    c = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("fresh name", lambda: c.getsockname())
    t.do("fresh peer", lambda: c.getpeername())
    c6 = t.socket(S.AF_INET6, S.SOCK_STREAM)
    t.do("fresh6 name", lambda: c6.getsockname())
    l, port = t.bound(S.AF_INET6, S.SOCK_STREAM, "::")
    l.listen()
    t.do("connect6", lambda: c6.connect(("::1", port)))
    t.do("c6 name", lambda: c6.getsockname())
    t.do("c6 peer", lambda: c6.getpeername())
    a = t.do("accept", lambda: l.accept())
    t.do("a name", lambda: a[0].getsockname())
    u = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("udp connect", lambda: u.connect(("127.0.0.3", 9)))
    t.do("udp name", lambda: u.getsockname()[0])
    t.do("udp connect 0.0.0.0:0", lambda: u.connect(("0.0.0.0", 0)))
    t.do("udp name2", lambda: u.getsockname()[0])
    t.do("udp peer2", lambda: u.getpeername())
    u6 = t.socket(S.AF_INET6, S.SOCK_DGRAM)
    t.do("u6 connect v6", lambda: u6.connect(("::1", 9)))
    t.do("u6 name2", lambda: u6.getsockname())

@scenario
def refused_nb(t: Trace) -> None:
    c = t.socket(S.AF_INET, S.SOCK_STREAM)
    x, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    x.close()
    c.setblocking(False)
    t.do("connect", lambda: c.connect_ex(("127.0.0.1", port)))
    t.pollmask("after", c, 1000, wait="POLLOUT")
    t.do("connect again", lambda: c.connect_ex(("127.0.0.1", port)))
    t.do("so_error", lambda: c.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
    t.do("connect again", lambda: c.connect_ex(("127.0.0.1", port)))
    t.do("recv", lambda: c.recv(1))
    t.do("send", lambda: c.send(b"x"))

@scenario
def udp_rcvbuf_small(t: Trace) -> None:
    r, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    r.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 1)
    t.do("rcvbuf", lambda: r.getsockopt(S.SOL_SOCKET, S.SO_RCVBUF))
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    n = 0
    for i in range(20):
        s.sendto(b"x" * 100, ("127.0.0.1", port))
    t.settle(s)
    r.setblocking(False)
    def count() -> int:
        k = 0
        while True:
            try:
                r.recv(200)
            except BlockingIOError:
                return k
            k += 1
    t.do("count", count)
    t.do("big", lambda: s.sendto(b"y" * 5000, ("127.0.0.1", port)))
    t.settle(s)
    t.do("count", count)

@scenario
def udp_closed_port_variants(t: Trace) -> None:
    dead, port = t.bound(S.AF_INET6, S.SOCK_DGRAM, "::1")
    dead.close()
    u = t.socket(S.AF_INET6, S.SOCK_DGRAM); u.setblocking(False)
    t.do("connect6", lambda: u.connect(("::1", port)))
    t.do("send", lambda: u.send(b"a"))
    t.pollmask("err", u, 1000, wait="")
    t.do("recvfrom", lambda: u.recvfrom(10))
    t.do("recvfrom2", lambda: u.recvfrom(10))
    t.do("send", lambda: u.send(b"a"))
    t.pollmask("err", u, 1000, wait="")
    t.do("SO_ERROR", lambda: u.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
    t.do("SO_ERROR", lambda: u.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
    t.do("recv", lambda: u.recv(10))



@scenario
def closed_state_recv(t: Trace) -> None:
    x, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    x.close()
    c = t.socket(S.AF_INET, S.SOCK_STREAM); c.setblocking(False)
    t.do("connect", lambda: c.connect_ex(("127.0.0.1", port)))
    t.pollmask("after", c, 1000, wait="POLLOUT")
    t.do("recv with error pending", lambda: c.recv(1))
    t.do("recv again", lambda: c.recv(1))
    t.do("shut rd", lambda: c.shutdown(S.SHUT_RD))
    t.do("recv after shut", lambda: c.recv(1))
    t.do("recv_into after shut", lambda: c.recv_into(bytearray(3)))
    t.do("recvfrom after shut", lambda: c.recvfrom(3))
    t.do("recvmsg after shut", lambda: c.recvmsg(3)[:2])
    t.do("recv peek", lambda: c.recv(1, S.MSG_PEEK))
    d = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("shut wr", lambda: d.shutdown(S.SHUT_WR))
    t.do("recv dontwait after shut wr", lambda: d.recv(1, S.MSG_DONTWAIT))
    u = t.socket(S.AF_UNIX, S.SOCK_STREAM)
    t.do("unix shut", lambda: u.shutdown(S.SHUT_RD))
    t.do("unix recv", lambda: u.recv(1))
    l, c2, a = pair(t)
    a.close(); t.sockets.remove(a)
    t.pollmask("c2", c2, 1000)
    t.do("c2 recv", lambda: c2.recv(1))
    t.do("c2 send", lambda: c2.send(b"x"))
    t.pollmask("c2 after send", c2, 1000, wait="")
    t.do("c2 send", lambda: c2.send(b"x"))
    t.do("c2 recv", lambda: c2.recv(1))
    t.do("c2 name", lambda: c2.getsockname()[0])
    t.do("c2 peer", lambda: c2.getpeername())
    t.do("c2 so_error", lambda: c2.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
    t.do("c2 shutdown", lambda: c2.shutdown(S.SHUT_RD))
    t.do("c2 recv", lambda: c2.recv(1))

@scenario
def udp_recv_variants(t: Trace) -> None:
    r, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    r.setblocking(False)
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    s.sendto(b"hello world", ("127.0.0.1", port)); t.settle(s)
    t.do("recv trunc", lambda: (lambda d: (len(d), d[:4]))(r.recv(4, S.MSG_TRUNC)))
    s.sendto(b"hello world", ("127.0.0.1", port)); t.settle(s)
    buf = bytearray(4)
    t.do("recv_into trunc", lambda: (r.recv_into(buf, 0, S.MSG_TRUNC), bytes(buf)))
    s.sendto(b"hello world", ("127.0.0.1", port)); t.settle(s)
    t.do("recvmsg trunc", lambda: r.recvmsg(4, 0, S.MSG_TRUNC)[::2])
    s.sendto(b"", ("127.0.0.1", port)); t.settle(s)
    t.do("recv empty", lambda: r.recv(4))
    t.do("recv none", lambda: r.recv(4))
    s.sendto(b"abc", ("127.0.0.1", port)); t.settle(s)
    t.do("recv 0", lambda: r.recv(0))
    t.do("recv after 0", lambda: r.recv(4))
    t.do("sendto big", lambda: s.sendto(b"x" * 65508, ("127.0.0.1", port)))
    t.do("sendto max", lambda: s.sendto(b"x" * 65507, ("127.0.0.1", port)))
    t.settle(s)
    t.do("recv max", lambda: len(r.recv(70000)))

@scenario
def fresh_shutdown_recv(t: Trace) -> None:
    for how in (S.SHUT_RD, S.SHUT_RDWR):
        u = t.socket(S.AF_INET, S.SOCK_STREAM)
        t.do("shut", lambda: u.shutdown(how))
        t.do("recv dontwait", lambda: u.recv(1, S.MSG_DONTWAIT))
        t.do("recv", lambda: u.recv(1))
        t.do("recv_into", lambda: u.recv_into(bytearray(2)))
        t.do("recvmsg", lambda: u.recvmsg(1)[:2])
        t.do("connect after shut", lambda: u.connect_ex(("127.0.0.1", 1)))
        t.do("recv", lambda: u.recv(1))
    b, port = t.bound(S.AF_INET6, S.SOCK_STREAM, "::1")
    t.do("bound shut", lambda: b.shutdown(S.SHUT_RD))
    t.do("bound recv", lambda: b.recv(1))
    b.listen()
    t.do("listener recv", lambda: b.recv(1))
    t.do("listener send", lambda: b.send(b"x"))


@scenario
def udp_connect_port_zero(t: Trace) -> None:
    """A UDP connect to port 0 succeeds, but there is no peer: getpeername ENOTCONN."""
    for family, host in ((S.AF_INET, "127.0.0.1"), (S.AF_INET6, "::1"), (S.AF_INET, "0.0.0.0")):
        u = t.socket(family, S.SOCK_DGRAM)
        u.setblocking(False)
        t.do("connect port 0", lambda: u.connect((host, 0)))
        t.do("getpeername", lambda: u.getpeername())
        t.do("getsockname", lambda: u.getsockname()[0])
        t.do("send", lambda: u.send(b"x"))
        t.pollmask("after send", u, 1000, wait="")
        t.do("recv", lambda: u.recv(1))
        t.do("sendto port 0", lambda: u.sendto(b"x", (host, 0)))

@scenario
def tcp_misuse(t: Trace) -> None:
    l, c, a = pair(t)
    port = l.getsockname()[1]
    t.do("connect connected", lambda: c.connect_ex(("127.0.0.1", port)))
    t.do("connect listener", lambda: l.connect_ex(("127.0.0.1", port)))
    t.do("listen connected", lambda: c.listen())
    t.do("bind again", lambda: c.bind(("127.0.0.1", 0)))
    t.do("accept on connected", lambda: c.accept())
    t.do("shutdown bad how", lambda: c.shutdown(3))
    t.do("shutdown -1", lambda: c.shutdown(-1))
    x = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("accept unbound", lambda: x.accept())
    t.do("listen unbound then name", lambda: (x.listen(), x.getsockname()[0]))
    y = t.socket(S.AF_INET, S.SOCK_STREAM)
    y.bind(("127.0.0.1", 0))
    yp = y.getsockname()[1]
    t.do("self connect", lambda: y.connect_ex(("127.0.0.1", yp)))
    t.do("self peer", lambda: y.getpeername() == y.getsockname())
    t.do("self send", lambda: y.send(b"me"))
    t.do("self recv", lambda: y.recv(10))
    t.do("c send to 0.0.0.0", lambda: c.sendto(b"x", ("127.0.0.1", 9)))
    z = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("sendto unconnected tcp", lambda: z.sendto(b"x", ("127.0.0.1", port)))
    t.do("send unconnected tcp", lambda: z.send(b"x"))
    t.do("connect 0.0.0.0", lambda: z.connect_ex(("0.0.0.0", port)))
    t.do("name after 0.0.0.0", lambda: (z.getsockname()[0], z.getpeername()))
    w = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("connect port 0", lambda: w.connect_ex(("127.0.0.1", 0)))
    v = t.socket(S.AF_INET, S.SOCK_STREAM); v.setblocking(False)
    t.do("connect nb unspec", lambda: v.connect_ex(("127.0.0.1", port)))
    t.pollmask("v", v, 1000, wait="POLLOUT")
    t.do("accept and close", lambda: l.accept()[0].close())

@scenario
def udp_misc(t: Trace) -> None:
    r, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    r.setblocking(False)
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("send unconnected", lambda: s.send(b"x"))
    t.do("sendto port 0", lambda: s.sendto(b"x", ("127.0.0.1", 0)))
    t.do("name after", lambda: s.getsockname())
    t.do("sendto", lambda: s.sendto(b"abcdef", ("127.0.0.1", port)))
    t.settle(s)
    t.do("peek", lambda: r.recvfrom(3, S.MSG_PEEK)[0])
    t.do("peek trunc len", lambda: len(r.recv(2, S.MSG_PEEK | S.MSG_TRUNC)))
    t.do("recv", lambda: r.recv(100))
    t.do("listen udp", lambda: r.listen())
    t.do("accept udp", lambda: r.accept())
    t.do("shutdown bad", lambda: r.shutdown(5))
    t.do("connect then bind", lambda: (s.connect(("127.0.0.1", port)), s.bind(("127.0.0.1", 0))))
    t.do("send big", lambda: s.send(b"x" * 70000))
    t.do("sendto other while connected", lambda: s.sendto(b"y", ("127.0.0.1", port)))
    t.settle(s)
    t.do("recv", lambda: r.recvfrom(10)[0])
    t.do("SO_TYPE", lambda: r.getsockopt(S.SOL_SOCKET, S.SO_TYPE))
    t.do("SO_ACCEPTCONN", lambda: r.getsockopt(S.SOL_SOCKET, S.SO_ACCEPTCONN))
    t.do("SO_RCVBUF default", lambda: r.getsockopt(S.SOL_SOCKET, S.SO_RCVBUF))


# ------------------------------------------------------------------- runner


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_rev2_matches_stdlib(name: str) -> None:
    assert not differences(SCENARIOS[name])
