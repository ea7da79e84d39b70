"""Ports, source addresses, UDP and AF_UNIX names: the stdlib, sansock native and the fake.

Each scenario is written once against the socket-module surface and runs on
three backends: the stdlib ``socket`` module (the oracle, the real kernel),
``sansock.using(NativeDriver())`` (the real kernel through sansock) and
``sansock.using(FakeKernel())``.  It records every outcome -- a result, or
the exception's class and errno name -- and the three traces must be equal.
Ports become labels in order of appearance (the kernels pick different
ephemeral ports); abstract AF_UNIX names carry the pid, the same on every
backend.  Nothing here waits in real time except a ``poll`` that is already
ready on the real kernel (ICMP errors arrive before ``sendto`` returns on
loopback).

The scenarios cover issue 18's "Port table", "Source address selection",
"UDP" and "AF_UNIX abstract names"; ``test_scenario_count`` states how many
there are.
"""

from __future__ import annotations

import errno
import os
import select
import socket as stdlib_socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sansock
import sansock_native
from sansock_fake import FakeKernel

#: The host's net.core.{w,r}mem_max: the fake gets the same (its default is the stock 212992).
HOST_WMEM_MAX = int(Path("/proc/sys/net/core/wmem_max").read_text())
HOST_RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())
PID = os.getpid()


class Trace:
    """One scenario on one backend: calls, normalised outcomes, cleanup."""

    def __init__(self, name: str, m: Any, poll: Callable[[Any, int, int], int]) -> None:
        self.backend = name
        self.m = m
        self._poll = poll
        self.log: list[tuple[Any, ...]] = []
        self.ports: dict[int, str] = {}
        self.sockets: list[Any] = []

    # -- normalisation --------------------------------------------------------
    def port(self, port: int) -> str:
        if port not in self.ports:
            self.ports[port] = f"port{len(self.ports)}"
        return self.ports[port]

    def norm(self, value: Any) -> Any:
        if isinstance(value, tuple) and len(value) in (2, 4) and isinstance(value[0], str) and isinstance(value[1], int):
            return (value[0], self.port(value[1]), *value[2:])
        if isinstance(value, tuple):
            return tuple(self.norm(v) for v in value)
        if isinstance(value, list):
            return [self.norm(v) for v in value]
        if hasattr(value, "fileno") and hasattr(value, "getsockname"):
            return "<socket>"
        return value

    # -- calls ----------------------------------------------------------------
    def do(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except OSError as exc:
            self.log.append((what, type(exc).__name__, errno.errorcode.get(exc.errno or 0, exc.errno)))
            return None
        if isinstance(result, tuple) and len(result) == 2 and hasattr(result[0], "getsockname"):
            self.sockets.append(result[0])
        self.log.append((what, self.norm(result)))
        return result

    def note(self, *what: Any) -> None:
        self.log.append(what)

    def socket(self, family: int, type_: int) -> Any:
        sock = self.m.socket(family, type_)
        self.sockets.append(sock)
        return sock

    def bound(self, family: int, type_: int, host: str, port: int = 0) -> tuple[Any, int]:
        sock = self.socket(family, type_)
        sock.bind((host, port))
        return sock, sock.getsockname()[1]

    def poll(self, sock: Any, events: int, timeout_ms: int = 0) -> int:
        """``poll`` on one socket: the revents."""
        return self._poll(sock, events, timeout_ms)

    def pollmask(self, what: str, sock: Any, timeout_ms: int = 0, wait: str = "POLLIN") -> None:
        """Record what ``poll`` reports, after waiting up to *timeout_ms* for *wait*
        (``""``: for POLLERR alone, which poll reports unasked) -- on the real
        kernel a datagram or an ICMP error may come a moment after ``sendto``."""
        m = self.m
        if timeout_ms:
            self.poll(sock, getattr(m, wait) if wait else 0, timeout_ms)
        mask = self.poll(sock, m.POLLIN | m.POLLOUT | m.POLLRDHUP, 0)
        names = [n for n in ("POLLIN", "POLLOUT", "POLLERR", "POLLHUP", "POLLRDHUP") if mask & getattr(select, n)]
        self.log.append((what, "poll", "|".join(names)))

    def settle(self, sender: Any) -> None:
        """On the real kernel, wait until the datagrams *sender* sent have been
        processed: loopback delivers them in ``sendto`` unless softirqs are
        deferred to ksoftirqd under load, and a datagram to a sentinel socket
        queues behind them (one backlog per CPU).  Not traced; the fake
        delivers in ``sendto``."""
        if self.backend == "fake":
            return
        family = sender.family
        sentinel = self.m.socket(family, S.SOCK_DGRAM)
        try:
            sentinel.bind(("127.0.0.1" if family == S.AF_INET else "::1", 0))
            sender.sendto(b"", sentinel.getsockname())
            assert self.poll(sentinel, self.m.POLLIN, 5000), "loopback did not deliver in 5 s"
        finally:
            sentinel.close()

    def close_all(self) -> None:
        for sock in self.sockets:
            sock.close()


# ------------------------------------------------------------------ backends


def _stdlib_poll(sock: Any, events: int, timeout_ms: int) -> int:
    poller = select.poll()
    poller.register(sock.fileno(), events)
    ready = poller.poll(timeout_ms)
    return ready[0][1] if ready else 0


def _binding_poll(net: sansock.Binding) -> Callable[[Any, int, int], int]:
    def poll(sock: Any, events: int, timeout_ms: int) -> int:
        result: int = net.driver.poll(sock.fileno(), events, timeout_ms)
        return result

    return poll


class _StdlibModule:
    """The stdlib ``socket`` module with the poll constants the scenarios use."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("POLL"):
            return getattr(select, name)
        return getattr(stdlib_socket, name)


def backends() -> Iterator[tuple[str, Any, Callable[[Any, int, int], int], Callable[[], None]]]:
    yield "stdlib", _StdlibModule(), _stdlib_poll, lambda: None
    native = sansock.using(sansock_native.NativeDriver())
    yield "native", _WithPoll(native), _binding_poll(native), lambda: None
    kernel = FakeKernel(wmem_max=HOST_WMEM_MAX, rmem_max=HOST_RMEM_MAX)
    fake = sansock.using(kernel)

    def leak_check() -> None:
        assert kernel.fd_count() == 0, f"the scenario leaked fake fds {kernel.open_fds()}"

    yield "fake", _WithPoll(fake), _binding_poll(fake), leak_check


class _WithPoll:
    """A binding with the POLL* constants of its ABI, like :class:`_StdlibModule`."""

    def __init__(self, net: sansock.Binding) -> None:
        self._net = net

    def __getattr__(self, name: str) -> Any:
        if name.startswith("POLL"):
            return self._net.abi.const(name)
        return getattr(self._net, name)


Scenario = Callable[[Trace], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def run_everywhere(fn: Scenario) -> dict[str, list[tuple[Any, ...]]]:
    logs: dict[str, list[tuple[Any, ...]]] = {}
    for name, m, poll, leak_check in backends():
        trace = Trace(name, m, poll)
        try:
            fn(trace)
        finally:
            trace.close_all()
        leak_check()
        logs[name] = trace.log
    return logs


def first_difference(oracle: list[tuple[Any, ...]], other: list[tuple[Any, ...]]) -> str | None:
    for index, (a, b) in enumerate(zip(oracle, other)):
        if a != b:
            return f"step {index}: stdlib {a!r}, got {b!r}"
    if len(oracle) != len(other):
        return f"stdlib made {len(oracle)} steps, got {len(other)}"
    return None


# ------------------------------------------------------------------ port table

S = stdlib_socket  # constants only: the values are Linux's on every backend


@scenario
def tcp_listen_per_address(t: Trace) -> None:
    """Binding is per (address, port): 127.0.0.2:P listens beside 127.0.0.1:P."""
    a, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    t.do("listen 127.0.0.1:P", lambda: a.listen())
    b = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("bind 127.0.0.2:P", lambda: b.bind(("127.0.0.2", port)))
    t.do("listen 127.0.0.2:P", lambda: b.listen())
    c = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("bind 0.0.0.0:P", lambda: c.bind(("0.0.0.0", port)))
    c.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    t.do("bind 0.0.0.0:P, SO_REUSEADDR on one side only", lambda: c.bind(("0.0.0.0", port)))
    d = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("bind 127.0.0.1:P again", lambda: d.bind(("127.0.0.1", port)))
    # each listener gets the connections to its own address
    for host in ("127.0.0.1", "127.0.0.2"):
        client = t.socket(S.AF_INET, S.SOCK_STREAM)
        t.do(f"connect {host}", lambda: client.connect((host, port)))
    for listener in (a, b):
        conn = t.do("accept", lambda: listener.accept())
        t.do("its name", lambda: conn[0].getsockname())


@scenario
def tcp_reuseaddr(t: Trace) -> None:
    """SO_REUSEADDR on both sides shares a port until one of them listens."""
    a, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.1")
    t.note("a bound without SO_REUSEADDR")
    a.close()
    for name in ("x", "y"):
        sock = t.socket(S.AF_INET, S.SOCK_STREAM)
        sock.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
        t.do(f"{name}: bind 127.0.0.1:P with SO_REUSEADDR", lambda: sock.bind(("127.0.0.1", port)))
    x, y = t.sockets[-2:]
    t.do("x listens", lambda: x.listen())
    t.do("y listens", lambda: y.listen())
    z = t.socket(S.AF_INET, S.SOCK_STREAM)
    z.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    t.do("z: bind 0.0.0.0:P with SO_REUSEADDR beside a listener", lambda: z.bind(("0.0.0.0", port)))
    # an accepted connection keeps the port after its listener closes
    client = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("connect", lambda: client.connect(("127.0.0.1", port)))
    t.do("accept", lambda: x.accept())
    x.close()
    y.close()
    plain = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("bind without SO_REUSEADDR beside an accepted socket", lambda: plain.bind(("127.0.0.1", port)))
    again = t.socket(S.AF_INET, S.SOCK_STREAM)
    again.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    t.do("bind with SO_REUSEADDR beside an accepted socket", lambda: again.bind(("127.0.0.1", port)))
    t.do("listen there", lambda: again.listen())


@scenario
def reuseport(t: Trace) -> None:
    """SO_REUSEPORT on both sides shares a port, listeners included (same owner)."""
    for type_ in (S.SOCK_STREAM, S.SOCK_DGRAM):
        a = t.socket(S.AF_INET, type_)
        a.setsockopt(S.SOL_SOCKET, S.SO_REUSEPORT, 1)
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        if type_ == S.SOCK_STREAM:
            t.do("a listens", lambda: a.listen())
        b = t.socket(S.AF_INET, type_)
        b.setsockopt(S.SOL_SOCKET, S.SO_REUSEPORT, 1)
        t.do(f"{type_}: b binds with SO_REUSEPORT", lambda: b.bind(("127.0.0.1", port)))
        if type_ == S.SOCK_STREAM:
            t.do("b listens", lambda: b.listen())
        c = t.socket(S.AF_INET, type_)
        t.do(f"{type_}: c binds without", lambda: c.bind(("0.0.0.0", port)))
        d = t.socket(S.AF_INET, type_)
        d.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
        t.do(f"{type_}: d binds with SO_REUSEADDR only", lambda: d.bind(("127.0.0.1", port)))


@scenario
def udp_bind_per_address(t: Trace) -> None:
    a, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    b = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("bind 127.0.0.2:P", lambda: b.bind(("127.0.0.2", port)))
    c = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("bind 0.0.0.0:P", lambda: c.bind(("0.0.0.0", port)))
    for sock in (a, c):
        sock.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    t.do("bind 0.0.0.0:P, SO_REUSEADDR on one side", lambda: c.bind(("0.0.0.0", port)))
    b.close()
    t.do("bind 0.0.0.0:P, SO_REUSEADDR on both sides", lambda: c.bind(("0.0.0.0", port)))
    # the more specific socket gets the datagram
    sender = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("sendto 127.0.0.1:P", lambda: sender.sendto(b"hi", ("127.0.0.1", port)))
    t.pollmask("127.0.0.1:P", a, 100)
    t.pollmask("0.0.0.0:P", c)
    t.do("recv on 127.0.0.1:P", lambda: a.recv(10))
    bad = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("bind 10.1.2.3 (not local)", lambda: bad.bind(("10.1.2.3", 0)))
    t.do("rebind a bound socket to a foreign address", lambda: a.bind(("10.1.2.3", 0)))
    t.do("rebind a bound socket", lambda: a.bind(("127.0.0.1", 0)))


@scenario
def v4_v6_conflicts(t: Trace) -> None:
    """IPv6 ``::`` without IPV6_V6ONLY holds the IPv4 wildcard too, in both orders."""
    for type_ in (S.SOCK_STREAM, S.SOCK_DGRAM):
        for v6only in (0, 1):
            # IPv4 first
            for v4host in ("127.0.0.1", "0.0.0.0"):
                a, port = t.bound(S.AF_INET, type_, v4host)
                if type_ == S.SOCK_STREAM:
                    a.listen()
                for v6host in ("::", "::1"):
                    b = t.socket(S.AF_INET6, type_)
                    b.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, v6only)
                    t.do(f"{type_} v6only={v6only}: {v4host} then [{v6host}]", lambda: b.bind((v6host, port)))
                    b.close()
                a.close()
            # IPv6 first
            for v6host in ("::", "::1"):
                b = t.socket(S.AF_INET6, type_)
                b.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, v6only)
                b.bind((v6host, 0))
                port = b.getsockname()[1]
                t.do(f"IPV6_V6ONLY after binding [{v6host}]", lambda: b.getsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY))
                if type_ == S.SOCK_STREAM:
                    b.listen()
                for v4host in ("127.0.0.1", "0.0.0.0"):
                    a = t.socket(S.AF_INET, type_)
                    t.do(f"{type_} v6only={v6only}: [{v6host}] then {v4host}", lambda: a.bind((v4host, port)))
                    a.close()
                b.close()


@scenario
def dual_stack_udp(t: Trace) -> None:
    """An IPv4 datagram reaches an AF_INET6 socket on ``::`` without IPV6_V6ONLY."""
    r = t.socket(S.AF_INET6, S.SOCK_DGRAM)
    r.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, 0)
    r.bind(("::", 0))
    port = r.getsockname()[1]
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("sendto 127.0.0.1", lambda: s.sendto(b"four", ("127.0.0.1", port)))
    t.pollmask("dual-stack receiver", r, 100)
    t.do("recvfrom", lambda: r.recvfrom(10))
    # an IPv4 socket on the same port is preferred
    s.close()


# ------------------------------------------------------- source address selection


@scenario
def tcp_source_address(t: Trace) -> None:
    """A connection to 127.0.0.2 comes from 127.0.0.1 (the loopback route's src)."""
    listener, port = t.bound(S.AF_INET, S.SOCK_STREAM, "127.0.0.2")
    listener.listen()
    for bind_to in (None, ("0.0.0.0", 0), ("127.0.0.3", 0)):
        client = t.socket(S.AF_INET, S.SOCK_STREAM)
        if bind_to is not None:
            client.bind(bind_to)
        t.do(f"connect 127.0.0.2 bound to {bind_to}", lambda: client.connect(("127.0.0.2", port)))
        t.do("client getsockname", lambda: client.getsockname())
        t.do("client getpeername", lambda: client.getpeername())
        accepted = t.do("accept", lambda: listener.accept())
        if accepted is not None:
            conn = accepted[0]
            t.do("accepted getsockname", lambda: conn.getsockname())
            t.do("accepted getpeername", lambda: conn.getpeername())
    wildcard, wport = t.bound(S.AF_INET, S.SOCK_STREAM, "0.0.0.0")
    wildcard.listen()
    client = t.socket(S.AF_INET, S.SOCK_STREAM)
    t.do("connect 0.0.0.0", lambda: client.connect(("0.0.0.0", wport)))
    t.do("client getpeername", lambda: client.getpeername())
    conn = t.do("accept from a wildcard listener", lambda: wildcard.accept())
    t.do("its name", lambda: conn[0].getsockname())


@scenario
def udp_source_address(t: Trace) -> None:
    """UDP ``connect`` to 0.0.0.0/:: means loopback; an unbound sender to 127.0.0.2 is 127.0.0.1."""
    for family, anyhost in ((S.AF_INET, "0.0.0.0"), (S.AF_INET6, "::")):
        u = t.socket(family, S.SOCK_DGRAM)
        t.do(f"connect {anyhost}:9", lambda: u.connect((anyhost, 9)))
        t.do("getpeername", lambda: u.getpeername())
        t.do("getsockname", lambda: u.getsockname())
    r, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.2")
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("sendto 127.0.0.2", lambda: s.sendto(b"x", ("127.0.0.2", port)))
    t.pollmask("receiver", r, 100)
    t.do("recvfrom", lambda: r.recvfrom(10))
    t.do("sender getsockname", lambda: s.getsockname())
    bound3 = t.socket(S.AF_INET, S.SOCK_DGRAM)
    bound3.bind(("127.0.0.3", 0))
    t.do("connect 127.0.0.2 from 127.0.0.3", lambda: bound3.connect(("127.0.0.2", port)))
    t.do("getsockname", lambda: bound3.getsockname())
    t.do("send", lambda: bound3.send(b"y"))
    t.do("recvfrom", lambda: r.recvfrom(10))
    # a datagram to 0.0.0.0:P goes to 127.0.0.1:P, not to 127.0.0.2:P
    one, port1 = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    t.do("sendto 0.0.0.0", lambda: s.sendto(b"z", ("0.0.0.0", port1)))
    t.pollmask("127.0.0.1 receiver", one, 100)
    t.do("recvfrom", lambda: one.recvfrom(10))


# ----------------------------------------------------------------------- UDP


@scenario
def udp_icmp_errors(t: Trace) -> None:
    """Port unreachable: ConnectionRefusedError on the next send or recv, only for
    the connected destination."""
    for how in ("send", "recv"):
        a, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
        b = t.socket(S.AF_INET, S.SOCK_DGRAM)
        b.connect(("127.0.0.1", port))
        a.close()
        t.do("send to a closed port", lambda: b.send(b"1"))
        t.pollmask("after the ICMP", b, 1000, wait="")
        if how == "send":
            t.do("next send", lambda: b.send(b"2"))
        else:
            t.do("next recv", lambda: b.recv(10))
        t.do("SO_ERROR", lambda: b.getsockopt(S.SOL_SOCKET, S.SO_ERROR))
        b.setblocking(False)
        t.do("recv again", lambda: b.recv(10))
    # an unconnected socket never hears it
    u = t.socket(S.AF_INET, S.SOCK_DGRAM)
    u.setblocking(False)
    closed, cport = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    closed.close()
    t.do("unconnected sendto a closed port", lambda: u.sendto(b"x", ("127.0.0.1", cport)))
    t.do("send again", lambda: u.sendto(b"x", ("127.0.0.1", cport)))
    t.do("recv", lambda: u.recv(10))
    # a connected socket does not hear about another destination
    peer, pport = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    c = t.socket(S.AF_INET, S.SOCK_DGRAM)
    c.connect(("127.0.0.1", pport))
    c.setblocking(False)
    t.do("connected sendto another closed port", lambda: c.sendto(b"x", ("127.0.0.1", cport)))
    t.do("send", lambda: c.send(b"ok"))
    t.do("recv", lambda: c.recv(10))
    t.do("peer got", lambda: peer.recv(10))
    # a pending error comes before a queued datagram
    t.do("peer answers", lambda: peer.sendto(b"answer", c.getsockname()))
    peer.close()
    t.do("send to the now closed peer", lambda: c.send(b"x"))
    t.pollmask("error and data", c, 1000, wait="")
    t.do("recv", lambda: c.recv(10))
    t.do("recv", lambda: c.recv(10))


@scenario
def udp_shutdown(t: Trace) -> None:
    """shutdown(SHUT_RD) on an unconnected socket: ENOTCONN, but it takes effect."""
    u, port = t.bound(S.AF_INET, S.SOCK_DGRAM, "127.0.0.1")
    t.pollmask("fresh", u)
    t.do("shutdown(SHUT_RD) unconnected", lambda: u.shutdown(S.SHUT_RD))
    t.pollmask("after SHUT_RD", u)
    t.do("blocking recv", lambda: u.recv(10))
    t.do("recv MSG_DONTWAIT", lambda: u.recv(10, S.MSG_DONTWAIT))
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    t.do("a datagram still arrives", lambda: s.sendto(b"late", ("127.0.0.1", port)))
    t.do("recv", lambda: u.recv(10))
    t.do("sendto after SHUT_RD", lambda: u.sendto(b"x", ("127.0.0.1", port)))
    t.do("shutdown(SHUT_WR) unconnected", lambda: u.shutdown(S.SHUT_WR))
    t.pollmask("after SHUT_RD and SHUT_WR", u)
    t.do("sendto after SHUT_WR", lambda: u.sendto(b"x", ("127.0.0.1", port)))
    # connected: SHUT_WR -> EPIPE
    c = t.socket(S.AF_INET, S.SOCK_DGRAM)
    c.connect(("127.0.0.1", port))
    t.do("shutdown(SHUT_WR) connected", lambda: c.shutdown(S.SHUT_WR))
    t.pollmask("connected after SHUT_WR", c)
    t.do("send", lambda: c.send(b"x"))
    t.do("sendto", lambda: c.sendto(b"x", ("127.0.0.1", port)))
    t.do("shutdown(SHUT_RD) connected", lambda: c.shutdown(S.SHUT_RD))
    t.pollmask("connected after SHUT_RDWR", c)
    t.do("recv", lambda: c.recv(10))
    t.do("bad how", lambda: c.shutdown(7))


def _fill(t: Trace, r: Any, s: Any, size: int, count: int) -> int:
    """Send *count* datagrams of *size* bytes to *r*; how many are queued."""
    for _ in range(count):
        s.sendto(b"x" * size, r.getsockname())
    t.settle(s)
    r.setblocking(False)
    got = 0
    while True:
        try:
            r.recv(70000)
        except BlockingIOError:
            return got
        got += 1


@scenario
def udp_rcvbuf_capacity(t: Trace) -> None:
    """How many datagrams fit a given SO_RCVBUF: Linux's per-skb truesize."""
    for family, host in ((S.AF_INET, "127.0.0.1"), (S.AF_INET6, "::1")):
        for rcvbuf in (None, 1, 4096, 10000):
            for size in (0, 1, 184, 185, 197, 198, 1000, 3000, 16000, 65000):
                if rcvbuf is not None and rcvbuf < 4096 and size > 1000:
                    continue
                r = t.socket(family, S.SOCK_DGRAM)
                if rcvbuf is not None:
                    r.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, rcvbuf)
                r.bind((host, 0))
                s = t.socket(family, S.SOCK_DGRAM)
                count = 300 if size < 2000 else 20
                t.note("fits", family, rcvbuf, size, _fill(t, r, s, size, count))
                r.close()
                s.close()


@scenario
def udp_rcvbuf_release(t: Trace) -> None:
    """Read memory goes back in batches (udp_rmem_release): room appears late."""
    for rcvbuf, reads in ((None, (1, 63, 64, 100)), (10000, (1, 6, 7, 24))):
        for k in reads:
            r = t.socket(S.AF_INET, S.SOCK_DGRAM)
            if rcvbuf is not None:
                r.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, rcvbuf)
            r.bind(("127.0.0.1", 0))
            r.setblocking(False)
            s = t.socket(S.AF_INET, S.SOCK_DGRAM)
            for _ in range(300):
                s.sendto(b"x", r.getsockname())
            t.settle(s)
            for _ in range(k):
                r.recv(10)
            t.note("after reads", rcvbuf, k, _fill(t, r, s, 1, 300))
            r.close()
            s.close()
    # a peek splices the queue: later datagrams wait for the next batch
    r = t.socket(S.AF_INET, S.SOCK_DGRAM)
    r.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 4096)
    r.bind(("127.0.0.1", 0))
    r.setblocking(False)
    s = t.socket(S.AF_INET, S.SOCK_DGRAM)
    for _ in range(2):
        s.sendto(b"x", r.getsockname())
    t.settle(s)
    t.do("peek", lambda: r.recv(10, S.MSG_PEEK))
    for _ in range(7):
        s.sendto(b"y", r.getsockname())
    t.settle(s)
    t.do("recv", lambda: r.recv(10))
    for _ in range(7):
        s.sendto(b"z", r.getsockname())
    t.settle(s)
    t.do("recv", lambda: r.recv(10))
    for _ in range(7):
        s.sendto(b"w", r.getsockname())
    t.settle(s)
    t.note("then", _fill(t, r, s, 1, 0))
    # one datagram always fits an empty queue
    big = t.socket(S.AF_INET, S.SOCK_DGRAM)
    big.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 1)
    big.bind(("127.0.0.1", 0))
    t.note("3000 bytes into 2304", _fill(t, big, s, 3000, 3))


@scenario
def udplite(t: Trace) -> None:
    """UDP-Lite: UDP in its own port table, with checksum coverage options."""
    for family, host in ((S.AF_INET, "127.0.0.1"), (S.AF_INET6, "::1")):
        lite = t.do("socket", lambda: t.m.socket(family, S.SOCK_DGRAM, S.IPPROTO_UDPLITE))
        t.sockets.append(lite)
        t.do("proto", lambda: lite.proto)
        t.do("SO_PROTOCOL", lambda: lite.getsockopt(S.SOL_SOCKET, S.SO_PROTOCOL))
        lite.bind((host, 0))
        port = lite.getsockname()[1]
        plain = t.socket(family, S.SOCK_DGRAM)
        t.do("UDP binds the UDP-Lite port", lambda: plain.bind((host, port)))
        for level in (S.IPPROTO_UDP, S.IPPROTO_UDPLITE):
            for option in (S.UDPLITE_SEND_CSCOV, S.UDPLITE_RECV_CSCOV):
                t.do(f"get {level} {option}", lambda: lite.getsockopt(level, option))
                t.do(f"UDP get {level} {option}", lambda: plain.getsockopt(level, option))
                t.do(f"UDP set {level} {option}", lambda: plain.setsockopt(level, option, 20))
        for value in (0, 3, 8, 20, 70000, -5):
            t.do(f"set SEND_CSCOV {value}", lambda: lite.setsockopt(S.IPPROTO_UDPLITE, S.UDPLITE_SEND_CSCOV, value))
            t.do("reads", lambda: lite.getsockopt(S.IPPROTO_UDP, S.UDPLITE_SEND_CSCOV))
        lite.setsockopt(S.IPPROTO_UDPLITE, S.UDPLITE_SEND_CSCOV, 0)
        sender = t.do("sender", lambda: t.m.socket(family, S.SOCK_DGRAM, S.IPPROTO_UDPLITE))
        t.sockets.append(sender)
        t.do("sendto the UDP-Lite socket", lambda: sender.sendto(b"lite", (host, port)))
        t.pollmask("UDP-Lite receiver", lite, 100)
        t.pollmask("UDP receiver", plain)
        t.do("recvfrom", lambda: lite.recvfrom(10)[0])
        lite.setblocking(False)
        # coverage: the receiver wants at least 20 bytes covered
        t.do("RECV_CSCOV 20", lambda: lite.setsockopt(S.IPPROTO_UDPLITE, S.UDPLITE_RECV_CSCOV, 20))
        for cover, size in ((0, 100), (20, 100), (12, 100), (12, 3), (30, 100)):
            sender.setsockopt(S.IPPROTO_UDPLITE, S.UDPLITE_SEND_CSCOV, cover)
            sender.sendto(b"c" * size, (host, port))
            t.pollmask(f"covered {cover} of {size}", lite, 100 if cover in (0, 20, 30) or size == 3 else 0)
            t.do("recv", lambda: lite.recv(200))
        t.do("RECV_CSCOV 0: full coverage only", lambda: lite.setsockopt(S.IPPROTO_UDPLITE, S.UDPLITE_RECV_CSCOV, 0))
        sender.setsockopt(S.IPPROTO_UDPLITE, S.UDPLITE_SEND_CSCOV, 30)
        sender.sendto(b"c" * 100, (host, port))
        t.do("recv", lambda: lite.recv(200))
        # a UDP socket connected to a port only UDP-Lite holds gets port unreachable
        lonely = t.do("lonely", lambda: t.m.socket(family, S.SOCK_DGRAM, S.IPPROTO_UDPLITE))
        t.sockets.append(lonely)
        lonely.bind((host, 0))
        u = t.socket(family, S.SOCK_DGRAM)
        u.connect((host, lonely.getsockname()[1]))
        t.do("UDP send to a UDP-Lite-only port", lambda: u.send(b"x"))
        t.pollmask("after", u, 1000, wait="")
        t.do("UDP send again", lambda: u.send(b"x"))


# --------------------------------------------------------- AF_UNIX abstract names


@scenario
def unix_abstract_names_per_type(t: Trace) -> None:
    name = b"\0sansock-inet-%d" % PID
    d = t.socket(S.AF_UNIX, S.SOCK_DGRAM)
    t.do("dgram binds", lambda: d.bind(name))
    s = t.socket(S.AF_UNIX, S.SOCK_STREAM)
    t.do("stream binds the same name", lambda: s.bind(name))
    d2 = t.socket(S.AF_UNIX, S.SOCK_DGRAM)
    t.do("another dgram binds it", lambda: d2.bind(name))
    q = t.socket(S.AF_UNIX, S.SOCK_SEQPACKET)
    t.do("seqpacket binds it", lambda: q.bind(name))
    c = t.socket(S.AF_UNIX, S.SOCK_STREAM)
    t.do("stream connect: stream socket not listening", lambda: c.connect(name))
    s.listen()
    t.do("stream connect: listening", lambda: c.connect(name))
    other = b"\0sansock-inet-dgram-only-%d" % PID
    only = t.socket(S.AF_UNIX, S.SOCK_DGRAM)
    only.bind(other)
    c2 = t.socket(S.AF_UNIX, S.SOCK_STREAM)
    t.do("stream connect to a dgram-only name", lambda: c2.connect(other))
    q2 = t.socket(S.AF_UNIX, S.SOCK_SEQPACKET)
    t.do("seqpacket connect to a dgram-only name", lambda: q2.connect(other))
    x = t.socket(S.AF_UNIX, S.SOCK_DGRAM)
    t.do("dgram sendto a stream name", lambda: x.sendto(b"a", name + b"-none"))
    t.do("dgram sendto the shared name", lambda: x.sendto(b"a", name))
    t.do("dgram got it", lambda: d.recv(10))


@scenario
def unix_autobind_again(t: Trace) -> None:
    a = t.socket(S.AF_UNIX, S.SOCK_DGRAM)
    t.do("bind ''", lambda: a.bind(""))
    first = a.getsockname()
    t.do("bind '' again", lambda: a.bind(""))
    t.do("same name", lambda: a.getsockname() == first)
    t.do("bind a name after autobind", lambda: a.bind(b"\0sansock-inet-late-%d" % PID))
    named = t.socket(S.AF_UNIX, S.SOCK_STREAM)
    named.bind(b"\0sansock-inet-named-%d" % PID)
    t.do("bind '' on a named socket", lambda: named.bind(""))
    t.do("name kept", lambda: named.getsockname())
    # an autobind name of one type is free for the other
    st = t.socket(S.AF_UNIX, S.SOCK_STREAM)
    st.bind("")
    dg = t.socket(S.AF_UNIX, S.SOCK_DGRAM)
    t.do("dgram binds the stream's autobind name", lambda: dg.bind(st.getsockname()))


def test_privileged_ports() -> None:
    """Ports below 1024 need CAP_NET_BIND_SERVICE (EACCES), checked after the
    address on IPv4 and before it on IPv6; the fake's process has the uid of
    this one (root has the capability) or 1000."""
    def scenario(m: Any) -> list[Any]:
        log: list[Any] = []
        for family, good, bad in ((S.AF_INET, "127.0.0.2", "10.9.9.9"), (S.AF_INET6, "::1", "2001:db8::1")):
            for type_ in (S.SOCK_STREAM, S.SOCK_DGRAM):
                for host in (good, bad):
                    with m.socket(family, type_) as sock:
                        try:
                            sock.bind((host, 1))
                            log.append("ok")
                        except OSError as exc:
                            log.append(errno.errorcode[exc.errno or 0])
        return log

    expected = scenario(stdlib_socket)
    assert scenario(sansock.using(sansock_native.NativeDriver())) == expected
    assert scenario(sansock.using(FakeKernel(uid=os.getuid()))) == expected
    assert scenario(sansock.using(FakeKernel(uid=1000))) == ["EACCES", "EADDRNOTAVAIL"] * 2 + ["EACCES"] * 4


def test_udp_disconnect_forgets_what_bind_did_not_fix() -> None:
    """``connect(AF_UNSPEC)`` on UDP (``__udp_disconnect``): an address or port the
    socket did not bind explicitly is given up.  The socket module cannot
    express AF_UNSPEC for an AF_INET socket, so this runs at the driver level
    with the native driver (the real kernel) as the oracle."""
    import struct

    def addr(family: int, port: int, host: bytes) -> bytes:
        if family == S.AF_INET:
            return struct.pack("H", family) + struct.pack("!H", port) + host + bytes(8)
        return struct.pack("H", family) + struct.pack("!HI", port, 0) + host + bytes(4)

    def scenario(d: Any) -> list[Any]:
        ports: dict[int, str] = {}

        def name(fd: int) -> tuple[bytes, str]:
            raw = d.getsockname(fd)
            port = struct.unpack("!H", raw[2:4])[0]
            label = "0" if port == 0 else ports.setdefault(port, f"port{len(ports)}")
            return raw[4:8] if len(raw) == 16 else raw[8:24], label

        log: list[Any] = []
        unspec = struct.pack("H", S.AF_UNSPEC) + bytes(14)
        for family, loop, any_ in ((S.AF_INET, b"\x7f\0\0\1", bytes(4)), (S.AF_INET6, bytes(15) + b"\1", bytes(16))):
            fixed = 40000 + os.getpid() % 20000
            for bind in (None, (any_, 0), (any_, fixed), (loop, 0), (loop, fixed + 1)):
                fd = d.socket(family, S.SOCK_DGRAM, 0)
                try:
                    if bind is not None:
                        d.bind(fd, addr(family, bind[1], bind[0]))
                    d.connect(fd, addr(family, 9, loop))
                    log.append(("connected", name(fd)))
                    d.connect(fd, unspec)
                    log.append(("disconnected", name(fd)))
                    d.sendto(fd, b"x", 0, addr(family, 9, loop))
                    log.append(("after a send", name(fd)))
                    try:
                        d.bind(fd, addr(family, 0, loop))
                        log.append(("bind again", name(fd)))
                    except OSError as exc:
                        log.append(("bind again", errno.errorcode[exc.errno or 0]))
                finally:
                    d.close(fd)
        return log

    expected = scenario(sansock_native.NativeDriver())
    kernel = FakeKernel()
    assert scenario(kernel) == expected
    assert kernel.fd_count() == 0


# ------------------------------------------------------------------- runner


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fake_inet_matches_stdlib(name: str) -> None:
    assert not differences(SCENARIOS[name])


def differences(scenario: Callable[[Trace], None], attempts: int = 3) -> str:
    """How the native driver's and the fake's traces of *scenario* differ from the
    stdlib's ("" when they match).

    The real kernel's ports are shared with every other process of the
    machine (``make test`` runs two test processes at once): an ephemeral port
    one scenario takes for IPv4 may be another's on IPv6, or in TIME_WAIT.  A
    run that differs is made again, with new ports, up to *attempts* times;
    the fake is deterministic, so only interference on the real kernel can
    make a later run match.
    """
    problems: list[str] = []
    for _ in range(attempts):
        logs = run_everywhere(scenario)
        problems = []
        for backend in ("native", "fake"):
            diff = first_difference(logs["stdlib"], logs[backend])
            if diff is not None:
                problems.append(f"{backend}: {diff}")
        if not problems:
            break
    return "\n".join(problems)


def test_scenario_count() -> None:
    assert len(SCENARIOS) == 15


def test_blocked_reader_woken_by_shutdown() -> None:
    """The usual way to wake a thread blocked in ``recv`` on an unbound-peer UDP
    socket: ``shutdown(SHUT_RD)`` raises ENOTCONN and the reader gets ``b""``."""
    for _name, m, _poll, leak_check in backends():
        u = m.socket(S.AF_INET, S.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(u.recv(10)))
        reader.start()
        with pytest.raises(OSError) as info:
            u.shutdown(S.SHUT_RD)
        reader.join(10)
        assert not reader.is_alive()
        u.close()
        leak_check()
        assert (info.value.errno, got) == (errno.ENOTCONN, [b""])
