"""TCP on three kernels: the stdlib, sansock's native driver and the fake, one scenario each.

Each scenario drives a :class:`sansock.Driver`-shaped object with raw sockaddr
bytes and records every outcome (result, or the errno's message), poll masks
included.  It runs on the stdlib ``socket`` module through :class:`StdlibDriver`
(the oracle: CPython's own C code on the real kernel), on
``sansock_native.NativeDriver`` and on ``sansock_fake.FakeKernel``; the three
logs must be equal.  Fd numbers and ports become labels in order of
appearance.  A few steps wait in real time on the real kernel (a SYN
retransmitted after 1 s); on the fake the same steps take virtual time.

Issue 18's TCP items, one scenario each or more: teardown states after FIN both
ways, SO_LINGER (1, 0), TIME_WAIT and rebinding, a connect in progress, MSG_TRUNC,
MSG_MORE, SO_RCVLOWAT (TCP and AF_UNIX stream), buffer sizes.
"""

from __future__ import annotations

import os
import select
import socket as stdlib_socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sansock_native
from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import FakeKernel

# It compares with the running CPython's stdlib socket module (through StdlibDriver).
pytestmark = pytest.mark.differential

C = ABI.const
AF_UNIX, AF_INET, AF_INET6 = C("AF_UNIX"), C("AF_INET"), C("AF_INET6")
STREAM, CLOEXEC, NONBLOCK = C("SOCK_STREAM"), C("SOCK_CLOEXEC"), C("SOCK_NONBLOCK")
SOL_SOCKET = C("SOL_SOCKET")
MSG_DONTWAIT, MSG_TRUNC, MSG_MORE, MSG_PEEK = C("MSG_DONTWAIT"), C("MSG_TRUNC"), C("MSG_MORE"), C("MSG_PEEK")
POLLIN, POLLOUT, POLLRDHUP = C("POLLIN"), C("POLLOUT"), C("POLLRDHUP")
SHUT_RD, SHUT_WR, SHUT_RDWR = C("SHUT_RD"), C("SHUT_WR"), C("SHUT_RDWR")
ALL = POLLIN | POLLOUT | POLLRDHUP
HOST_WMEM_MAX = int(Path("/proc/sys/net/core/wmem_max").read_text())
HOST_RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())
HOST_TCP_RMEM_MAX = int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[2])
HOST_TCP_WMEM_MAX = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


def host_like_fake() -> FakeKernel:
    """A fake kernel with this host's buffer limits (sysctls)."""
    return FakeKernel(wmem_max=HOST_WMEM_MAX, rmem_max=HOST_RMEM_MAX,
                      tcp_rmem_max=HOST_TCP_RMEM_MAX, tcp_wmem_max=HOST_TCP_WMEM_MAX)


def inet_addr(port: int, host: bytes = b"\x7f\0\0\1") -> bytes:
    return struct.pack("H", AF_INET) + struct.pack("!H", port) + host + bytes(8)


def inet6_addr(port: int, host: bytes = bytes(15) + b"\1") -> bytes:
    return struct.pack("H", AF_INET6) + struct.pack("!HI", port, 0) + host + bytes(4)


def timeval(seconds: float) -> bytes:
    return struct.pack("qq", int(seconds), int(seconds % 1 * 1_000_000))


class StdlibDriver:
    """The driver calls the scenarios make, done by the stdlib ``socket`` module.

    Raw sockaddrs are read and written as the kernel lays them out; every
    call goes through the socket object CPython's socketmodule.c made.
    """

    def __init__(self) -> None:
        self.socks: dict[int, stdlib_socket.socket] = {}

    def _s(self, fd: int) -> stdlib_socket.socket:
        sock = self.socks.get(fd)
        if sock is None:
            raise OSError(9, os.strerror(9))
        return sock

    @staticmethod
    def _tuple(raw: bytes) -> Any:
        family = struct.unpack("H", raw[:2])[0]
        port = struct.unpack("!H", raw[2:4])[0]
        if family == AF_INET:
            return (stdlib_socket.inet_ntop(AF_INET, raw[4:8]), port)
        return (stdlib_socket.inet_ntop(AF_INET6, raw[8:24]), port, 0, 0)

    @staticmethod
    def _raw(family: int, address: Any) -> bytes:
        if family == AF_INET:
            return inet_addr(address[1], stdlib_socket.inet_pton(AF_INET, address[0]))
        if family == AF_INET6:
            return inet6_addr(address[1], stdlib_socket.inet_pton(AF_INET6, address[0]))
        return struct.pack("H", AF_UNIX) + (address.encode() if isinstance(address, str) else address)

    def _keep(self, sock: stdlib_socket.socket) -> int:
        self.socks[sock.fileno()] = sock
        return sock.fileno()

    def socket(self, family: int, type_: int, proto: int) -> int:
        return self._keep(stdlib_socket.socket(family, type_, proto))

    def socketpair(self, family: int, type_: int, proto: int) -> tuple[int, int]:
        a, b = stdlib_socket.socketpair(family, type_, proto)
        return self._keep(a), self._keep(b)

    def close(self, fd: int) -> None:
        self._s(fd)
        self.socks.pop(fd).close()

    def close_everything(self) -> None:
        """Close what the scenario left open, labelled or not: a socket left to
        the collector would close its fd during a later test (whose fd-leak
        check then fails)."""
        while self.socks:
            self.socks.popitem()[1].close()

    def bind(self, fd: int, addr: bytes) -> None:
        self._s(fd).bind(self._tuple(addr))

    def listen(self, fd: int, backlog: int) -> None:
        self._s(fd).listen(backlog)

    def connect(self, fd: int, addr: bytes) -> None:
        self._s(fd).connect(self._tuple(addr))

    def accept(self, fd: int, flags: int) -> tuple[int, bytes]:
        listener = self._s(fd)
        conn, address = listener.accept()
        return self._keep(conn), self._raw(listener.family, address)

    def getsockname(self, fd: int) -> bytes:
        sock = self._s(fd)
        return self._raw(sock.family, sock.getsockname())

    def getpeername(self, fd: int) -> bytes:
        sock = self._s(fd)
        return self._raw(sock.family, sock.getpeername())

    def shutdown(self, fd: int, how: int) -> None:
        self._s(fd).shutdown(how)

    def send(self, fd: int, data: bytes, flags: int) -> int:
        return self._s(fd).send(data, flags)

    def recv(self, fd: int, size: int, flags: int) -> bytes:
        return self._s(fd).recv(size, flags)

    def recv_into(self, fd: int, buf: bytearray, size: int, flags: int) -> int:
        return self._s(fd).recv_into(buf, size, flags)

    def set_nonblocking(self, fd: int, nonblocking: bool) -> None:
        self._s(fd).setblocking(not nonblocking)

    def getsockopt(self, fd: int, level: int, option: int) -> int:
        return self._s(fd).getsockopt(level, option)

    def getsockopt_bytes(self, fd: int, level: int, option: int, buflen: int) -> bytes:
        return self._s(fd).getsockopt(level, option, buflen)

    def setsockopt(self, fd: int, level: int, option: int, value: int) -> None:
        self._s(fd).setsockopt(level, option, value)

    def setsockopt_bytes(self, fd: int, level: int, option: int, value: bytes, optlen: int) -> None:
        self._s(fd).setsockopt(level, option, value[:optlen])

    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        poller = select.poll()
        poller.register(self._s(fd), events)
        ready = poller.poll(timeout_ms)
        return ready[0][1] if ready else 0

    def monotonic_ns(self) -> int:
        import time

        return time.monotonic_ns()


class Run:
    """One scenario on one driver: calls, normalised outcomes, cleanup."""

    def __init__(self, driver: Any) -> None:
        self.d = driver
        self.log: list[tuple[Any, ...]] = []
        self.labels: dict[int, str] = {}
        self.ports: dict[int, str] = {}

    def label(self, fd: int) -> str:
        if fd not in self.labels:
            self.labels[fd] = f"fd{len(self.labels)}"
        return self.labels[fd]

    def addr(self, raw: bytes) -> Any:
        family = struct.unpack("H", raw[:2])[0]
        if family not in (AF_INET, AF_INET6):
            return raw
        port = struct.unpack("!H", raw[2:4])[0]
        if port not in self.ports:
            self.ports[port] = f"port{len(self.ports)}"
        host = raw[4:8] if family == AF_INET else raw[8:24]
        return ("inet", family, host, self.ports[port])

    def do(self, name: str, *args: Any, note: str = "") -> Any:
        if args and args[0] is None:
            self.log.append((name, note, "skipped: an earlier call failed"))
            return None
        try:
            result = getattr(self.d, name)(*args)
        except OSError as exc:
            self.log.append((name, note, "error", type(exc).__name__, os.strerror(exc.errno or 0)))
            return None
        self.log.append((name, note, self.norm(name, result)))
        return result

    def norm(self, name: str, result: Any) -> Any:
        if name == "socket":
            return self.label(result)
        if name == "socketpair":
            return (self.label(result[0]), self.label(result[1]))
        if name == "accept":
            return (self.label(result[0]), self.addr(result[1]))
        if name in ("getsockname", "getpeername"):
            return self.addr(result)
        return result

    def note(self, *what: Any) -> None:
        self.log.append(what)

    def forget(self, fd: int) -> None:
        self.labels.pop(fd, None)

    def close(self, fd: int | None, note: str = "") -> None:
        self.do("close", fd, note=note)
        if fd is not None:
            self.forget(fd)

    def close_all(self) -> None:
        for fd in list(self.labels):
            try:
                self.d.close(fd)
            except OSError:
                pass

    # -- building blocks ----------------------------------------------------
    def listener(self, family: int = AF_INET, backlog: int = 5, reuse: bool = False) -> tuple[Any, int]:
        make = inet_addr if family == AF_INET else inet6_addr
        srv = self.do("socket", family, STREAM | CLOEXEC, 0)
        if reuse:
            self.do("setsockopt", srv, SOL_SOCKET, C("SO_REUSEADDR"), 1)
        self.do("bind", srv, make(0))
        self.do("listen", srv, backlog)
        port: int = struct.unpack("!H", self.d.getsockname(srv)[2:4])[0]
        return srv, port

    def connection(self, srv: int, port: int, family: int = AF_INET) -> tuple[Any, Any]:
        make = inet_addr if family == AF_INET else inet6_addr
        cli = self.do("socket", family, STREAM | CLOEXEC, 0)
        self.do("connect", cli, make(port))
        accepted = self.do("accept", srv, CLOEXEC)
        return cli, accepted[0] if accepted else None


def conn_of(accepted: Any) -> Any:
    return None if accepted is None else accepted[0]


Scenario = Callable[[Run], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def probe(r: Run, fd: int, note: str) -> None:
    """What a socket answers: poll mask, names, shutdown, send, recv."""
    r.do("poll", fd, ALL, 0, note=note)
    r.do("getpeername", fd, note=note)
    r.do("recv", fd, 10, MSG_DONTWAIT, note=note)
    r.do("send", fd, b"x", MSG_DONTWAIT, note=note)
    r.do("recv", fd, 10, MSG_DONTWAIT, note=note)
    r.do("shutdown", fd, SHUT_RDWR, note=note)
    r.do("poll", fd, ALL, 0, note=note)
    r.do("getsockopt", fd, SOL_SOCKET, C("SO_ERROR"), note=note)


# ---------------------------------------------------------------- scenarios


@scenario
def teardown_fin_both_ways(r: Run) -> None:
    for family in (AF_INET, AF_INET6):
        srv, port = r.listener(family)
        cli, conn = r.connection(srv, port, family)
        r.do("send", cli, b"last words", 0)
        r.do("shutdown", cli, SHUT_WR)
        r.do("poll", conn, ALL, 1000, note="FIN arrived")
        r.do("recv", conn, 100, 0)
        r.do("recv", conn, 100, 0, note="EOF")
        r.do("poll", cli, ALL, 0, note="FIN_WAIT2")
        r.do("getpeername", cli, note="FIN_WAIT2")
        r.do("getpeername", conn, note="CLOSE_WAIT")
        r.do("send", conn, b"reply", 0, note="CLOSE_WAIT sends")
        r.do("shutdown", conn, SHUT_WR)
        r.do("poll", cli, ALL, 1000, note="FIN both ways")
        r.do("recv", cli, 100, 0)
        probe(r, cli, "active side after FIN both ways")
        probe(r, conn, "passive side after FIN both ways")
        r.do("getsockname", cli)
        r.do("shutdown", cli, SHUT_WR, note="again")
        r.close(cli)
        r.close(conn)
        r.close(srv)


@scenario
def close_then_peer_sends(r: Run) -> None:
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    r.close(conn, note="server closes first")
    r.do("poll", cli, ALL, 1000, note="CLOSE_WAIT")
    r.do("recv", cli, 10, 0, note="EOF")
    r.do("send", cli, b"into the void", 0, note="the closed end answers RST")
    r.do("poll", cli, ALL, 1000, note="after RST")
    probe(r, cli, "reset in CLOSE_WAIT")
    # half-closed by shutdown(SHUT_RDWR) but still open: data draws an RST too
    cli, conn = r.connection(srv, port)
    r.do("shutdown", conn, SHUT_RDWR)
    r.do("poll", cli, ALL, 1000)
    r.do("send", cli, b"late", 0)
    r.do("poll", cli, ALL, 1000, note="after late data")
    probe(r, cli, "after late data")
    probe(r, conn, "the side that shut down")


@scenario
def linger_zero_resets(r: Run) -> None:
    linger = struct.pack("ii", 1, 0)
    srv, port = r.listener()
    for order in ("recv first", "send first"):
        cli, conn = r.connection(srv, port)
        r.do("send", cli, b"hi", 0)
        r.do("recv", conn, 10, 0)
        r.do("setsockopt_bytes", conn, SOL_SOCKET, C("SO_LINGER"), linger, 8)
        r.do("getsockopt_bytes", conn, SOL_SOCKET, C("SO_LINGER"), 8)
        r.close(conn, note="linger (1, 0)")
        r.do("poll", cli, ALL, 1000, note=order)
        if order == "recv first":
            r.do("recv", cli, 10, 0)
            r.do("send", cli, b"x", 0)
        else:
            r.do("send", cli, b"x", 0)
            r.do("send", cli, b"x", 0)
        r.do("recv", cli, 10, 0)
        r.do("getpeername", cli)
        r.do("shutdown", cli, SHUT_RDWR)
        r.do("getsockopt", cli, SOL_SOCKET, C("SO_ERROR"))
        r.do("poll", cli, ALL, 0)
    # an RST leaves no TIME_WAIT: the port is free once the listener is closed
    r.close(srv)
    again = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("bind", again, inet_addr(port), note="no TIME_WAIT after an abort")


@scenario
def time_wait_holds_the_port(r: Run) -> None:
    for listener_reuse in (False, True):
        srv, port = r.listener(reuse=listener_reuse)
        cli, conn = r.connection(srv, port)
        r.close(conn, note="active close: the server's end goes to TIME_WAIT")
        r.do("poll", cli, ALL, 1000)
        r.do("recv", cli, 10, 0)
        r.close(cli)
        r.close(srv)
        for reuse in (False, True):
            s = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
            if reuse:
                r.do("setsockopt", s, SOL_SOCKET, C("SO_REUSEADDR"), 1)
            r.do("bind", s, inet_addr(port), note=f"listener reuse {listener_reuse}, new reuse {reuse}")
            if r.log[-1][2] != "error":
                r.do("listen", s, 5, note="a new server on the port")
            r.close(s)
    # the passive closer leaves no TIME_WAIT
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    r.close(cli, note="the client closes first")
    r.do("poll", conn, ALL, 1000)
    r.do("recv", conn, 10, 0)
    r.close(conn)
    r.close(srv)
    s = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("bind", s, inet_addr(port), note="the server closed second")


@scenario
def connect_in_progress(r: Run) -> None:
    srv, port = r.listener(backlog=0)
    first = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", first, inet_addr(port), note="fills the accept queue")
    pending = r.do("socket", AF_INET, STREAM | CLOEXEC | NONBLOCK, 0)
    r.do("connect", pending, inet_addr(port), note="its SYN is dropped")
    r.do("poll", pending, ALL, 0, note="SYN_SENT")
    r.do("recv", pending, 10, 0, note="SYN_SENT")
    r.do("recv", pending, 10, MSG_PEEK, note="SYN_SENT")
    r.do("send", pending, b"x", 0, note="SYN_SENT")
    r.do("connect", pending, inet_addr(port), note="again, non-blocking")
    r.do("getpeername", pending, note="SYN_SENT")
    r.do("getsockopt", pending, SOL_SOCKET, C("SO_ERROR"))
    conn_first = conn_of(r.do("accept", srv, CLOEXEC))
    r.do("set_nonblocking", pending, False)
    r.do("connect", pending, inet_addr(port), note="blocking: waits for the handshake")
    r.do("connect", pending, inet_addr(port), note="then connected")
    r.do("getpeername", pending)
    conn = conn_of(r.do("accept", srv, CLOEXEC))
    r.do("send", pending, b"late but here", 0)
    r.do("recv", conn, 100, 0)
    r.do("getsockname", conn_first)
    # a connect that was refused, then reported by the second connect
    r.close(srv)
    refused = r.do("socket", AF_INET, STREAM | CLOEXEC | NONBLOCK, 0)
    r.do("connect", refused, inet_addr(port))
    r.do("poll", refused, ALL, 1000)
    r.do("connect", refused, inet_addr(port), note="reports the refusal")
    r.do("connect", refused, inet_addr(port), note="then tries again")
    r.do("poll", refused, ALL, 1000)
    r.do("getsockopt", refused, SOL_SOCKET, C("SO_ERROR"))
    r.do("recv", refused, 10, 0, note="refused")
    r.do("connect", refused, inet_addr(port), note="reports the second refusal")
    srv2, port2 = r.listener()
    r.do("connect", refused, inet_addr(port2), note="the same socket to a listener")
    r.do("poll", refused, ALL, 1000)
    r.do("connect", refused, inet_addr(port2), note="connected now")
    conn2 = conn_of(r.do("accept", srv2, CLOEXEC))
    r.do("send", refused, b"works", 0)
    r.do("recv", conn2, 10, 0)


@scenario
def recv_flags(r: Run) -> None:
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    r.do("send", cli, b"0123456789abcdef", 0)
    r.do("poll", conn, POLLIN, 1000)
    buf = bytearray(b"_" * 20)
    r.do("recv_into", conn, buf, 10, MSG_TRUNC)
    r.note("buffer after MSG_TRUNC", bytes(buf))
    r.do("recv_into", conn, buf, 3, MSG_TRUNC | MSG_PEEK)
    r.note("buffer after MSG_TRUNC|MSG_PEEK", bytes(buf))
    r.do("recv_into", conn, buf, 20, 0)
    r.note("buffer", bytes(buf))
    # MSG_MORE holds a partial segment until a send without it
    r.do("send", cli, b"abc", MSG_MORE)
    r.do("recv", conn, 10, MSG_DONTWAIT, note="held by MSG_MORE")
    r.do("poll", conn, POLLIN, 0, note="held by MSG_MORE")
    r.do("send", cli, b"def", MSG_MORE)
    r.do("send", cli, b"ghi", 0)
    r.do("poll", conn, POLLIN, 1000)
    r.do("recv", conn, 100, 0, note="all of it at once")
    r.do("send", cli, b"tail", MSG_MORE)
    r.do("shutdown", cli, SHUT_WR, note="the FIN pushes what MSG_MORE held")
    r.do("poll", conn, POLLIN, 1000)
    r.do("recv", conn, 100, 0)
    r.do("recv", conn, 100, 0)


@scenario
def rcvlowat(r: Run) -> None:
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    a, b = r.d.socketpair(AF_UNIX, STREAM | CLOEXEC, 0)
    r.label(a), r.label(b)
    for kind, sender, receiver in (("tcp", cli, conn), ("unix stream", a, b)):
        r.do("getsockopt", receiver, SOL_SOCKET, C("SO_RCVLOWAT"), note=kind)
        for value in (0, -1, 10):
            r.do("setsockopt", receiver, SOL_SOCKET, C("SO_RCVLOWAT"), value, note=kind)
            r.do("getsockopt", receiver, SOL_SOCKET, C("SO_RCVLOWAT"), note=f"{kind} {value}")
        r.do("send", sender, b"hello", 0)
        r.do("poll", receiver, POLLIN, 100, note=f"{kind}: 5 of 10 bytes")
        r.do("recv", receiver, 100, MSG_DONTWAIT, note=f"{kind}: non-blocking takes what is there")
        r.do("send", sender, b"hello", 0)
        r.do("setsockopt_bytes", receiver, SOL_SOCKET, C("SO_RCVTIMEO"), timeval(0.2), 16)
        start = r.d.monotonic_ns()
        r.do("recv", receiver, 100, 0, note=f"{kind}: blocking waits for 10, then the timeout")
        r.note("waited", (r.d.monotonic_ns() - start) >= 150_000_000)
        r.do("send", sender, b"hello", 0)
        r.do("send", sender, b"world!", 0)
        r.do("poll", receiver, POLLIN, 100, note=f"{kind}: 11 of 10 bytes")
        start = r.d.monotonic_ns()
        r.do("recv", receiver, 100, 0, note=f"{kind}: enough")
        r.note("waited", (r.d.monotonic_ns() - start) >= 150_000_000)
        r.do("send", sender, b"abc", 0)
        r.do("recv", receiver, 2, 0, note=f"{kind}: a buffer smaller than the low mark")
        r.do("shutdown", sender, SHUT_WR)
        r.do("poll", receiver, POLLIN, 100, note=f"{kind}: EOF is readable")
        r.do("recv", receiver, 100, 0, note=f"{kind}: the rest at EOF")


@scenario
def buffer_sizes(r: Run) -> None:
    srv, port = r.listener()
    for name, value in (("SO_SNDBUF", 4096), ("SO_RCVBUF", 8192), ("SO_SNDBUF", 10**7), ("SO_RCVBUF", 10**7),
                        ("SO_SNDBUF", 0), ("SO_RCVBUF", 0), ("SO_SNDBUF", 2**31 - 1)):
        s = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
        r.do("setsockopt", s, SOL_SOCKET, C(name), value, note=f"{name} {value}")
        r.do("getsockopt", s, SOL_SOCKET, C(name), note=f"{name} {value}")
        r.close(s)
    r.do("setsockopt", srv, SOL_SOCKET, C("SO_RCVBUF"), 20000)
    r.do("setsockopt", srv, SOL_SOCKET, C("SO_SNDBUF"), 30000)
    cli, conn = r.connection(srv, port)
    r.do("getsockopt", conn, SOL_SOCKET, C("SO_RCVBUF"), note="accepted: the listener's")
    r.do("getsockopt", conn, SOL_SOCKET, C("SO_SNDBUF"), note="accepted: the listener's")


@scenario
def connect_rules(r: Run) -> None:
    srv, port = r.listener()
    r.do("connect", srv, inet_addr(port), note="a listener")
    cli, conn = r.connection(srv, port)
    r.do("connect", cli, inet_addr(port), note="connected")
    r.do("connect", cli, inet_addr(1), note="connected, elsewhere")
    r.do("shutdown", cli, SHUT_WR)
    r.do("connect", cli, inet_addr(port), note="after SHUT_WR")
    r.do("setsockopt_bytes", conn, SOL_SOCKET, C("SO_LINGER"), struct.pack("ii", 1, 0), 8)
    r.close(conn)
    r.do("poll", cli, ALL, 1000)
    r.do("connect", cli, inet_addr(port), note="after an RST")
    r.do("getsockopt", cli, SOL_SOCKET, C("SO_ERROR"))
    r.do("connect", cli, inet_addr(port), note="after an RST, error read")
    # a blocking connect refused, then a second try on the same socket
    r.close(srv)
    s = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", s, inet_addr(port), note="refused")
    r.do("getsockopt", s, SOL_SOCKET, C("SO_ERROR"))
    r.do("poll", s, ALL, 0, note="after a refused connect")
    srv2, port2 = r.listener()
    r.do("connect", s, inet_addr(port2), note="the same socket, another port")
    r.do("getpeername", s)


@scenario
def listener_queue_and_close(r: Run) -> None:
    srv, port = r.listener(backlog=3)
    clients = []
    for _ in range(3):
        c = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
        r.do("connect", c, inet_addr(port))
        clients.append(c)
    r.do("send", clients[0], b"queued data", 0)
    r.do("shutdown", clients[1], SHUT_WR, note="FIN before accept")
    r.do("setsockopt_bytes", clients[2], SOL_SOCKET, C("SO_LINGER"), struct.pack("ii", 1, 0), 8)
    r.close(clients[2], note="RST before accept")
    r.do("poll", srv, ALL, 0)
    first = conn_of(r.do("accept", srv, CLOEXEC))
    r.do("recv", first, 100, 0)
    second = conn_of(r.do("accept", srv, CLOEXEC))
    r.do("poll", second, ALL, 0, note="accepted after the peer's FIN")
    r.do("recv", second, 100, 0)
    r.do("getpeername", second)
    third = conn_of(r.do("accept", srv, CLOEXEC))
    r.do("poll", third, ALL, 0, note="accepted after the peer's RST")
    r.do("recv", third, 100, 0)
    r.do("recv", third, 100, 0)
    # connections still queued when the listener closes are reset
    waiting = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", waiting, inet_addr(port))
    r.do("send", waiting, b"never read", 0)
    r.close(srv)
    r.do("poll", waiting, ALL, 1000, note="the listener closed")
    r.do("recv", waiting, 100, 0)
    r.do("send", waiting, b"x", 0)
    # a listener shut down for reading stops listening the same way
    srv, port = r.listener()
    queued = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", queued, inet_addr(port))
    r.do("shutdown", srv, SHUT_RD)
    r.do("poll", srv, ALL, 0, note="listener after SHUT_RD")
    r.do("accept", srv, CLOEXEC | NONBLOCK, note="listener after SHUT_RD")
    r.do("poll", queued, ALL, 1000, note="queued when the listener stopped")
    r.do("recv", queued, 100, 0)
    late = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", late, inet_addr(port), note="to a listener shut down for reading")
    r.do("listen", srv, 5, note="listening again")


@scenario
def half_close_and_shut_rd(r: Run) -> None:
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    r.do("shutdown", conn, SHUT_RD)
    r.do("poll", conn, ALL, 0, note="SHUT_RD")
    r.do("recv", conn, 10, 0, note="SHUT_RD")
    r.do("send", conn, b"still sends", 0)
    r.do("recv", cli, 100, 0)
    r.do("send", cli, b"to a SHUT_RD socket", 0)
    r.do("poll", conn, ALL, 100, note="data after SHUT_RD")
    r.do("recv", conn, 100, MSG_DONTWAIT, note="data after SHUT_RD")
    r.do("poll", cli, ALL, 100)
    r.do("getpeername", conn)
    # the ping-pong of a half-closed connection
    cli, conn = r.connection(srv, port)
    r.do("shutdown", cli, SHUT_WR)
    r.do("recv", conn, 10, 0)
    for i in range(3):
        r.do("send", conn, b"line %d" % i, 0)
        r.do("poll", cli, POLLIN, 1000)
        r.do("recv", cli, 100, 0)
    r.do("poll", cli, ALL, 0, note="FIN_WAIT2")
    r.do("poll", conn, ALL, 0, note="CLOSE_WAIT")
    r.do("send", cli, b"x", 0, note="after SHUT_WR")
    r.do("shutdown", conn, SHUT_RDWR)
    r.do("poll", cli, ALL, 1000)
    r.do("recv", cli, 10, 0)
    r.do("poll", conn, ALL, 0, note="after SHUT_RDWR in CLOSE_WAIT")
    r.do("recv", conn, 10, 0)
    r.do("send", conn, b"x", 0)


@scenario
def receive_modes(r: Run) -> None:
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    r.do("send", cli, b"abc", 0)
    r.do("send", cli, b"defgh", 0)
    r.do("poll", conn, POLLIN, 1000)
    r.do("recv", conn, 4, MSG_PEEK)
    r.do("recv", conn, 100, MSG_PEEK)
    r.do("recv_into", conn, bytearray(4), 4, MSG_PEEK | MSG_TRUNC)
    r.do("recv", conn, 2, 0)
    r.do("recv", conn, 100, C("MSG_WAITALL") | MSG_DONTWAIT)
    r.do("send", cli, b"12345", 0)
    r.do("recv", conn, 5, C("MSG_WAITALL"))
    r.do("send", cli, b"xyz", 0)
    r.do("shutdown", cli, SHUT_WR)
    r.do("recv", conn, 100, C("MSG_WAITALL"), note="WAITALL stops at EOF")
    r.do("recv", conn, 0, 0, note="zero bytes at EOF")
    r.do("recv", conn, 0, MSG_DONTWAIT)
    buf = bytearray(b"-" * 8)
    r.do("recv_into", cli, buf, 0, MSG_DONTWAIT, note="nothing queued")
    r.do("send", cli, b"", 0, note="empty send after SHUT_WR")
    r.do("send", conn, b"", 0, note="empty send")


@scenario
def self_connect_and_cork(r: Run) -> None:
    me = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("bind", me, inet_addr(0))
    r.do("connect", me, r.d.getsockname(me), note="a socket connecting to its own name")
    r.do("getpeername", me)
    r.do("send", me, b"echo", 0)
    r.do("poll", me, ALL, 1000)
    r.do("recv", me, 10, 0)
    r.do("shutdown", me, SHUT_WR)
    r.do("poll", me, ALL, 1000)
    r.do("recv", me, 10, 0)
    srv, port = r.listener()
    cli, conn = r.connection(srv, port)
    tcp = C("IPPROTO_TCP")
    r.do("setsockopt", cli, tcp, C("TCP_CORK"), 1)
    r.do("getsockopt", cli, tcp, C("TCP_CORK"))
    r.do("send", cli, b"corked", 0)
    r.do("recv", conn, 100, MSG_DONTWAIT, note="TCP_CORK holds a partial segment")
    r.do("send", cli, b" still", 0)
    r.do("setsockopt", cli, tcp, C("TCP_CORK"), 0)
    r.do("poll", conn, POLLIN, 1000)
    r.do("recv", conn, 100, 0, note="TCP_CORK 0 lets it go")
    r.do("setsockopt", conn, SOL_SOCKET, C("SO_RCVLOWAT"), 100000)
    r.do("getsockopt", conn, SOL_SOCKET, C("SO_RCVBUF"), note="a low mark above half the buffer grows it")
    r.do("setsockopt", cli, SOL_SOCKET, C("SO_RCVBUF"), 10000)
    r.do("setsockopt", cli, SOL_SOCKET, C("SO_RCVLOWAT"), 100000)
    r.do("getsockopt", cli, SOL_SOCKET, C("SO_RCVLOWAT"), note="capped at half a locked buffer")
    r.do("getsockopt", cli, SOL_SOCKET, C("SO_RCVBUF"))


@scenario
def dual_stack_listener(r: Run) -> None:
    srv = r.do("socket", AF_INET6, STREAM | CLOEXEC, 0)
    r.do("setsockopt", srv, C("IPPROTO_IPV6"), C("IPV6_V6ONLY"), 0)
    r.do("bind", srv, inet6_addr(0, bytes(16)))
    r.do("listen", srv, 5)
    port = struct.unpack("!H", r.d.getsockname(srv)[2:4])[0]
    cli = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", cli, inet_addr(port), note="IPv4 to a dual-stack listener")
    conn = conn_of(r.do("accept", srv, CLOEXEC))
    r.do("getsockname", conn)
    r.do("getpeername", conn)
    r.do("getsockname", cli)
    r.do("getpeername", cli)
    r.do("send", cli, b"v4", 0)
    r.do("recv", conn, 10, 0)
    r.do("send", conn, b"v6", 0)
    r.do("recv", cli, 10, 0)
    r.close(conn, note="the IPv6 end closes first")
    r.do("poll", cli, ALL, 1000)
    r.do("recv", cli, 10, 0)
    r.do("send", cli, b"after close", 0)
    r.do("poll", cli, ALL, 1000)
    r.do("send", cli, b"x", 0)
    r.close(srv)
    again = r.do("socket", AF_INET6, STREAM | CLOEXEC, 0)
    r.do("bind", again, inet6_addr(port, bytes(16)), note="after the RST: no TIME_WAIT")
    r.close(again)
    # a clean active close by the IPv6 end leaves a TIME_WAIT on its port
    srv = r.do("socket", AF_INET6, STREAM | CLOEXEC, 0)
    r.do("setsockopt", srv, C("IPPROTO_IPV6"), C("IPV6_V6ONLY"), 0)
    r.do("bind", srv, inet6_addr(0, bytes(16)))
    r.do("listen", srv, 5)
    port = struct.unpack("!H", r.d.getsockname(srv)[2:4])[0]
    cli = r.do("socket", AF_INET, STREAM | CLOEXEC, 0)
    r.do("connect", cli, inet_addr(port))
    conn = conn_of(r.do("accept", srv, CLOEXEC))
    r.close(conn)
    r.do("poll", cli, ALL, 1000)
    r.do("recv", cli, 10, 0)
    r.close(cli)
    r.close(srv)
    again = r.do("socket", AF_INET6, STREAM | CLOEXEC, 0)
    r.do("bind", again, inet6_addr(port, bytes(16)), note="TIME_WAIT of an IPv4 connection on a dual-stack port")


# ------------------------------------------------------------------- runner


def run_on(driver: Any, fn: Scenario) -> list[tuple[Any, ...]]:
    run = Run(driver)
    try:
        fn(run)
    finally:
        run.close_all()
        if isinstance(driver, StdlibDriver):
            driver.close_everything()
    return run.log


def first_difference(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> str | None:
    for index, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            return f"step {index}: expected {e!r}, got {g!r}"
    if len(expected) != len(got):
        return f"logs differ in length: {len(expected)} and {len(got)} steps"
    return None


@pytest.mark.linux_only
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_native_matches_stdlib(name: str) -> None:
    difference = compare(SCENARIOS[name], sansock_native.NativeDriver)
    assert difference is None, f"native driver vs stdlib: {difference}"


@pytest.mark.linux_only
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fake_matches_stdlib(name: str) -> None:
    difference = compare(SCENARIOS[name], host_like_fake)
    assert difference is None, f"fake kernel vs stdlib: {difference}"


def compare(fn: Scenario, make: Callable[[], Any], attempts: int = 3) -> str | None:
    """The first difference between *fn*'s trace on the stdlib and on a driver from
    *make* (None: none).  The real kernel's ports are shared with every other
    process (``make test`` runs two test processes at once), so a run that
    differs is made again with new ports, up to *attempts* times."""
    difference = None
    for _ in range(attempts):
        difference = first_difference(run_on(StdlibDriver(), fn), run_on(make(), fn))
        if difference is None:
            break
    return difference
