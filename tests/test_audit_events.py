"""Audit events (PEP 578): sansock raises the ``socket.*`` events of CPython's
socket module, at the same points, with the same arguments, on both drivers.

``socketmodule.c`` calls ``PySys_Audit`` after it has parsed the arguments
(so an argument error raises no event) and before the syscall (so a hook that
raises stops the call: nothing is sent, bound, connected or created).  Each
scenario below runs on the stdlib and on a binding; the events are compared
by name and arguments.  The socket object differs between the two: it is
compared by its class name, whether it has an fd yet, and its family, type
and proto as the hook sees them (``socket.__new__`` sees an object with fd -1
and family/type/proto 0, as ``sock_new`` left it).

``sys.addaudithook`` is permanent for the process: one recording hook is
installed on first use and records only in a ``recording()`` block of the
current thread (a context variable), so the rest of the test session and
other threads are not affected.
"""

from __future__ import annotations

import contextvars
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import sansock
from sansock import Binding

Module = Any


class Refused(Exception):
    """What the refusing hook raises."""


class _Sock(tuple):  # type: ignore[type-arg]
    """A socket object as the hook saw it: class name, has an fd, family, type, proto."""


class _Recorder:
    def __init__(self, refuse: frozenset[str], skip: int) -> None:
        self.refuse = refuse
        #: How many of the events in *refuse* pass before the hook refuses.
        self.skip = skip
        self.raw: list[tuple[str, tuple[Any, ...]]] = []
        self.names: list[tuple[object, str]] = []

    def name(self, value: object, label: str) -> None:
        """Show *value* (an address with a kernel-chosen port...) as *label*."""
        self.names.append((value, label))

    def _describe(self, value: object) -> object:
        if isinstance(value, _Sock):
            return tuple(value)
        if isinstance(value, (socket.socket, sansock.SocketType)):
            return _Sock(("sock", type(value).__name__, value.fileno() != -1, int(value.family), int(value.type), value.proto))
        for known, label in self.names:
            if type(known) is type(value) and known == value:
                return label
        if isinstance(value, tuple):
            return tuple(self._describe(v) for v in value)
        return (type(value).__name__, value)

    @property
    def events(self) -> list[tuple[str, object]]:
        return [(event, self._describe(args)) for event, args in self.raw]


_RECORDER: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar("audit_recorder", default=None)
_INSTALLED: list[bool] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not event.startswith("socket."):
        return
    recorder = _RECORDER.get()
    if recorder is None:
        return
    # The socket object is described now: its state at the time of the event.
    recorder.raw.append((event, tuple(recorder._describe(a) if isinstance(a, (socket.socket, sansock.SocketType)) else a for a in args)))
    if event in recorder.refuse:
        if recorder.skip:
            recorder.skip -= 1
        else:
            raise Refused(event)


@contextmanager
def recording(refuse: frozenset[str] = frozenset(), skip: int = 0) -> Iterator[_Recorder]:
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED.append(True)
    recorder = _Recorder(refuse, skip)
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)


def _outcome(call: Callable[[], object]) -> object:
    try:
        call()
        return "ok"
    except Exception as exc:  # noqa: BLE001 -- the outcome is compared
        return (type(exc).__name__, str(exc))


def _compare(scenario: Callable[[Module, _Recorder], object], net: Binding) -> list[tuple[str, object]]:
    with recording() as std:
        std_out = scenario(socket, std)
    with recording() as ours:
        our_out = scenario(net, ours)
    assert ours.events == std.events
    assert our_out == std_out
    return ours.events


# -- sockets -----------------------------------------------------------------------


def _constructors(m: Module, rec: _Recorder) -> object:
    out: list[object] = []
    makers: tuple[Callable[[], Any], ...] = (
        lambda: m.socket(),
        lambda: m.socket(m.AF_INET, m.SOCK_DGRAM),
        lambda: m.socket(family=m.AF_INET6, type=m.SOCK_STREAM, proto=0),
        lambda: m.socket(m.AF_UNIX, m.SOCK_DGRAM | m.SOCK_NONBLOCK),
        lambda: m.socket(True, 1),  # a bool family: the event has the parsed int
    )
    for make in makers:
        try:
            make().close()
            out.append("ok")
        except OSError as exc:
            out.append(exc.errno)
    # Argument errors come first: no event.
    out.append(_outcome(lambda: m.socket(2**40)))
    out.append(_outcome(lambda: m.socket("x")))
    # fileno=: the event has -1 for what is not given, and fires before the fd is read.
    a, b = m.socketpair()
    c = m.socket(fileno=a.detach())
    d = m.socket(m.AF_UNIX, m.SOCK_STREAM, fileno=b.detach())
    e = c.dup()
    for s in (c, d, e):
        s.close()
    out.append(_outcome(lambda: m.socket(fileno=-1)))  # event, then "negative file descriptor"
    return out


def test_socket_new_events(net: Binding) -> None:
    events = _compare(_constructors, net)
    assert events[0] == ("socket.__new__", (("sock", "socket", False, 0, 0, 0), ("int", 2), ("int", 1), ("int", 0)))


def _udp(m: Module, rec: _Recorder) -> object:
    out: list[object] = []
    rx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    tx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        addr = rx.getsockname()
        rec.name(addr, "RX")
        tx.sendto(b"a", addr)
        tx.sendto(b"b", addr)  # sansock's fast path (an address sent before)
        tx.sendto(b"c", 0, addr)
        tx.sendto(b"d", ("127.0.0.1", addr[1]))
        tx.sendmsg([b"e"], [], 0, addr)
        out.append(_outcome(lambda: tx.sendto(b"x", ("127.0.0.1", 70000))))  # no event
        out.append(_outcome(lambda: tx.sendto("x", addr)))  # no event
        out.append(_outcome(lambda: tx.sendto(b"x", 0, 0, addr)))  # no event
        out.append(_outcome(lambda: tx.sendmsg([b"x"], [], "f", addr)))  # no event
        out.append(_outcome(lambda: tx.sendmsg([b"x"], [], 0, ("127.0.0.1", -1))))  # no event
        out.append(_outcome(lambda: tx.bind(("127.0.0.1", 2**16))))  # no event
        out.append(_outcome(lambda: tx.connect("x")))  # no event
        tx.connect(addr)
        out.append(tx.connect_ex(addr))
        tx.sendmsg([b"f"])  # no address: the event has None
        tx.sendmsg([b"g"], (), 0, None)
        tx.sendmsg((b"h", bytearray(b"i")))  # sansock's general path
        # The buffers and the control data are parsed after the event.
        out.append(_outcome(lambda: tx.sendmsg([1])))
        out.append(_outcome(lambda: tx.sendmsg([b"x"], [1])))
        out.append(_outcome(lambda: tx.sendmsg(1)))
        tx.send(b"j")  # no event for send/sendall/recv
        tx.sendall(b"k")
        out.append([rx.recvfrom(16)[0] for _ in range(10)])
    finally:
        rx.close()
        tx.close()
    return out


def test_bind_connect_sendto_sendmsg_events(net: Binding) -> None:
    events = _compare(_udp, net)
    names = [name for name, _ in events]
    assert names == [
        "socket.__new__", "socket.__new__", "socket.bind",
        "socket.sendto", "socket.sendto", "socket.sendto", "socket.sendto", "socket.sendmsg",
        "socket.connect", "socket.connect",
        "socket.sendmsg", "socket.sendmsg", "socket.sendmsg", "socket.sendmsg", "socket.sendmsg",
        "socket.sendmsg",
    ]


def test_event_arguments_are_the_objects_given(net: Binding) -> None:
    """bind/connect/sendto/sendmsg pass the address object itself (``"OO"``)."""
    rx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    tx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    try:
        here = ("127.0.0.1", 0)
        with recording() as rec:
            rx.bind(here)
        there = rx.getsockname()
        with recording() as rec2:
            tx.sendto(b"x", there)
            tx.sendto(b"x", there)
            tx.sendmsg([b"x"], [], 0, there)
            tx.connect(there)
        assert rec.raw[0][1][1] is here
        assert [args[1] for _, args in rec2.raw] == [there] * 4
        assert all(args[1] is there for _, args in rec2.raw)
    finally:
        rx.close()
        tx.close()


def _tcp(m: Module, rec: _Recorder) -> object:
    out: list[object] = []
    srv = m.create_server(("127.0.0.1", 0))
    try:
        addr = srv.getsockname()
        rec.name(addr, "SRV")
        rec.name(addr[1], "PORT")
        cli = m.create_connection(addr)
        conn, peer = srv.accept()
        dup = m.fromfd(conn.fileno(), m.AF_INET, m.SOCK_STREAM)
        for s in (cli, conn, dup):
            s.close()
    finally:
        srv.close()
    return out


def test_server_client_accept_fromfd_events(net: Binding) -> None:
    events = _compare(_tcp, net)
    assert [name for name, _ in events] == [
        "socket.__new__", "socket.bind",  # create_server
        "socket.getaddrinfo", "socket.__new__", "socket.connect",  # create_connection
        "socket.__new__",  # accept: socket(family, type, proto, fileno=fd)
        "socket.__new__",  # fromfd
    ]


# -- module functions --------------------------------------------------------------


def _resolver(m: Module, rec: _Recorder) -> object:
    out: list[object] = []
    calls: tuple[Callable[[], object], ...] = (
        lambda: m.getaddrinfo("127.0.0.1", 80),
        lambda: m.getaddrinfo(b"127.0.0.1", "80", m.AF_INET, m.SOCK_STREAM, 0, m.AI_NUMERICHOST),
        lambda: m.getaddrinfo(None, None, family=m.AF_INET6, type=m.SOCK_DGRAM, proto=m.IPPROTO_UDP, flags=m.AI_PASSIVE),
        lambda: m.getaddrinfo("127.0.0.1", b"81", True),
        lambda: m.getaddrinfo(1, 80),  # TypeError: no event
        lambda: m.getaddrinfo("127.0.0.1", 1.5),  # OSError "Int or String expected": no event
        lambda: m.getaddrinfo("a..b", 80),  # idna error: no event
        lambda: m.gethostbyname("127.0.0.1"),
        lambda: m.gethostbyname(b"127.0.0.1"),
        lambda: m.gethostbyname(bytearray(b"127.0.0.2")),
        lambda: m.gethostbyname(1),  # no event
        lambda: m.gethostbyname_ex("127.0.0.1"),
        lambda: m.gethostbyaddr("127.0.0.1"),
        lambda: m.gethostbyaddr(b"::1"),
        lambda: m.gethostname(),
        lambda: m.getservbyname("http"),
        lambda: m.getservbyname("http", "tcp"),
        lambda: m.getservbyname(1),  # no event
        lambda: m.getservbyport(80),
        lambda: m.getservbyport(80, "udp"),
        lambda: m.getservbyport(70000),  # OverflowError: no event
        lambda: m.getnameinfo(("127.0.0.1", 80), 0),
        lambda: m.getnameinfo(("::1", 80, 0, 0), m.NI_NUMERICHOST),
        lambda: m.getnameinfo(("::1", 80, 0x100000), 0),  # flowinfo: no event
        lambda: m.getnameinfo(["127.0.0.1", 80], 0),  # not a tuple: no event
        lambda: m.getprotobyname("tcp"),  # no event
    )
    for call in calls:
        try:
            call()
            out.append("ok")
        except (TypeError, ValueError, UnicodeError, OverflowError) as exc:
            out.append(type(exc).__name__)
        except OSError:
            # The resolvers may answer differently (the fake kernel's
            # database is its own): only the events are compared.
            out.append("OSError")
    return [o if o != "OSError" else "ok" for o in out]


def test_resolver_events(net: Binding) -> None:
    events = _compare(_resolver, net)
    assert ("socket.gethostname", ()) in events
    assert ("socket.getservbyname", (("str", "http"), ("NoneType", None))) in events
    assert ("socket.getaddrinfo", (("str", "127.0.0.1"), ("bytes", b"81"), ("int", 1), ("int", 0), ("int", 0))) in events


def test_sethostname_event_refused(net: Binding) -> None:
    """sethostname raises its event with the bytes it will pass (a str is
    FS-encoded, a bytes object is passed as it is); a refusing hook stops it
    before the syscall (so no hostname is changed here)."""
    for m in (socket, net):
        name = b"audit-test"
        for value in (name, "audit-test"):
            with recording(frozenset({"socket.sethostname"})) as rec:
                with pytest.raises(Refused):
                    m.sethostname(value)
            assert rec.raw == [("socket.sethostname", (name,))]
            if isinstance(value, bytes):
                assert rec.raw[0][1][0] is value
        with recording(frozenset({"socket.sethostname"})) as rec:
            with pytest.raises(TypeError):
                m.sethostname(1)  # type: ignore[arg-type]
        assert rec.raw == []


# -- a hook that refuses -------------------------------------------------------------


_ALL = frozenset({
    "socket.__new__", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.connect",
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.gethostname",
    "socket.getnameinfo", "socket.getservbyname", "socket.getservbyport",
})


def _refused(m: Module) -> tuple[list[object], list[tuple[str, object]]]:
    """Each call with its event refused: the hook's exception, and nothing done."""
    out: list[object] = []
    rx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    tx = m.socket(m.AF_INET, m.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        addr = rx.getsockname()
        rx.setblocking(False)
        calls: list[Callable[[], object]] = [
            lambda: m.socket(m.AF_INET, m.SOCK_DGRAM),
            lambda: m.socket(m.AF_UNIX, m.SOCK_STREAM, 0, rx.fileno()),  # the fd stays rx's
            lambda: tx.bind(("127.0.0.1", 0)),
            lambda: tx.sendto(b"x", addr),
            lambda: tx.sendto(b"x", addr),
            lambda: tx.sendto(b"x", 0, ("127.0.0.1", addr[1])),
            lambda: tx.sendmsg([b"x"], [], 0, addr),
            lambda: tx.sendmsg([b"x"]),  # before the kernel's EDESTADDRREQ
            lambda: tx.sendmsg([1]),  # before the buffers' TypeError
            lambda: tx.connect(addr),
            lambda: tx.connect_ex(addr),
            lambda: m.getaddrinfo("127.0.0.1", 80),
            lambda: m.gethostbyname("127.0.0.1"),
            lambda: m.gethostbyname_ex("127.0.0.1"),
            lambda: m.gethostbyaddr("127.0.0.1"),
            lambda: m.gethostname(),
            lambda: m.getnameinfo(("127.0.0.1", 80), 0),
            lambda: m.getservbyname("http"),
            lambda: m.getservbyport(80),
        ]
        with recording(_ALL) as rec:
            rec.name(addr, "RX")
            for call in calls:
                out.append(_outcome(call))
        # Nothing was bound, connected or sent; rx still has its fd.
        out.append(tx.getsockname())
        out.append(_outcome(tx.getpeername))
        out.append(_outcome(lambda: rx.recvfrom(16)))
        out.append(rx.getsockname() == addr)
    finally:
        rx.close()
        tx.close()
    return out, rec.events


def test_refusing_hook_stops_the_call(net: Binding) -> None:
    std_out, std_events = _refused(socket)
    trace = getattr(net.driver, "trace", None)
    before = len(trace) if trace is not None else 0
    our_out, our_events = _refused(net)
    assert our_out == std_out
    assert our_events == std_events
    assert our_out[:19] == [("Refused", event) for event, _ in our_events]
    if trace is not None:
        # On the fake kernel: not one of the refused syscalls was made.
        calls = [entry.call for entry in list(trace)[before:]]
        refused = {"connect", "sendto", "sendmsg", "getaddrinfo", "getnameinfo", "gethostname",
                   "gethostbyaddr", "getservbyname", "getservbyport"}
        assert not set(calls) & refused, calls
        assert calls.count("bind") == 1 and calls.count("socket") == 2  # rx's bind; rx and tx


def test_refused_socket_new_leaks_no_fd(net: Binding) -> None:
    """accept, dup, socketpair and fromfd make an fd and then the object
    (``Lib/socket.py``: ``socket(family, type, proto, fileno=fd)``).  When the
    hook refuses that object, CPython's socket.py leaves the fd open with no
    owner; sansock closes it (the ``net`` fixture checks that no fd leaked).
    The exception is the hook's, as in CPython."""
    srv = net.create_server(("127.0.0.1", 0))
    cli = net.create_connection(srv.getsockname())
    a, b = net.socketpair()
    try:
        with recording(frozenset({"socket.__new__"})) as rec:
            with pytest.raises(Refused):
                srv.accept()
            with pytest.raises(Refused):
                a.dup()
            with pytest.raises(Refused):
                net.fromfd(a.fileno(), net.AF_UNIX, net.SOCK_STREAM)
            with pytest.raises(Refused):
                net.socketpair()
        assert [event for event, _ in rec.raw] == ["socket.__new__"] * 4
        # The accepted connection was closed: the client reads EOF.
        cli.settimeout(5)
        assert cli.recv(1) == b""
        # The second object of a socketpair refused: the first is closed too.
        with recording(frozenset({"socket.__new__"}), skip=1) as rec2:
            with pytest.raises(Refused):
                net.socketpair()
        assert [event for event, _ in rec2.raw] == ["socket.__new__"] * 2
    finally:
        for s in (srv, cli, a, b):
            s.close()


def test_refused_sendto_releases_the_buffer(net: Binding) -> None:
    """CPython's sock_sendto returns without PyBuffer_Release when the hook
    refuses (3.10 to 3.13): the bytearray stays exported for good.  sansock
    releases it (docs/differences.rst)."""
    for m, resizable in ((socket, False), (net, True)):
        s = m.socket(m.AF_INET, m.SOCK_DGRAM)
        try:
            data = bytearray(b"x")
            with recording(frozenset({"socket.sendto"})):
                with pytest.raises(Refused):
                    s.sendto(data, ("127.0.0.1", 9))
            if resizable:
                data.append(1)
            else:
                with pytest.raises(BufferError):
                    data.append(1)
        finally:
            s.close()


def test_sendmmsg_raises_sendmsg_events(net: Binding) -> None:
    """sansock.mmsg.sendmmsg (an extension: a batch of sendmsg(2)) raises
    socket.sendmsg per datagram, so a hook that refuses sendmsg or sendto
    destinations is not bypassed; a refusal stops the whole batch."""
    from sansock.mmsg import sendmmsg

    rx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    tx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        addr = rx.getsockname()
        with recording() as rec:
            assert sendmmsg(tx, [(b"a", addr), (b"b", addr)]) == 2
        assert rec.raw == [("socket.sendmsg", (rec._describe(tx), addr))] * 2
        with recording(frozenset({"socket.sendmsg"}), skip=1):
            with pytest.raises(Refused):
                sendmmsg(tx, [(b"c", addr), (b"d", addr)])
        assert [rx.recv(1) for _ in range(2)] == [b"a", b"b"]
        with pytest.raises(BlockingIOError):
            rx.recv(1)
    finally:
        rx.close()
        tx.close()
