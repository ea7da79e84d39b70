"""Behaviour of the stdlib-shaped API, on every driver, against CPython's socket.

Each test runs on the native driver and on the fake kernel (the ``net``
fixture).  Where the stdlib is the oracle, the same scenario runs on the
stdlib ``socket`` module and the results are compared.
"""

from __future__ import annotations

import gc
import pickle
import socket as stdlib
import sys
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import sansock
from sansock import Binding


def outcome(fn: Callable[[], object]) -> tuple[str, object]:
    """What a call does: ('ok', value) or (exception type name, message)."""
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return (type(exc).__name__, str(exc))


# -- the documentation's examples ---------------------------------------------


def test_recvmsg_into_docs_example(net: Binding) -> None:
    s1, s2 = net.socketpair()
    with s1, s2:
        b1 = bytearray(b"----")
        b2 = bytearray(b"0123456789")
        b3 = bytearray(b"--------------")
        assert s1.send(b"Mary had a little lamb") == 22
        assert s2.recvmsg_into([b1, memoryview(b2)[2:9], b3]) == (22, [], 0, None)
        assert [b1, b2, b3] == [
            bytearray(b"Mary"),
            bytearray(b"01 had a 9"),
            bytearray(b"little lamb---"),
        ]


def test_echo_over_tcp_loopback(net: Binding) -> None:
    with net.create_server(("127.0.0.1", 0)) as server:
        host, port = server.getsockname()
        with net.create_connection((host, port), timeout=5) as client:
            conn, addr = server.accept()
            with conn:
                assert addr == client.getsockname()
                client.sendall(b"Hello, world")
                data = conn.recv(1024)
                conn.sendall(data)
                assert client.recv(1024) == b"Hello, world"


def test_fd_passing_between_socketpair_ends(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        assert net.send_fds(a, [b"fds"], [x.fileno()]) == 3
        msg, fds, flags, addr = net.recv_fds(b, 16, 4)
        assert (msg, len(fds), flags, addr) == (b"fds", 1, 0, None)
        with net.socket(fileno=fds[0]) as x2:
            x2.sendall(b"through the passed fd")
            assert y.recv(64) == b"through the passed fd"


# -- attributes, repr, lifecycle -------------------------------------------------


def test_repr_matches_stdlib_format(net: Binding) -> None:
    # The enums' str() is the running Python's: "AddressFamily.AF_UNIX" on
    # 3.10, "1" from 3.11 (IntEnum.__str__ became int.__str__).
    x, y = stdlib.socketpair()
    with x, y:
        open_repr = repr(x).replace("socket.socket", "sansock.socket").replace(f"fd={x.fileno()}", "fd={}")
    closed_repr = repr(x).replace("socket.socket", "sansock.socket")
    a, b = net.socketpair()
    with a, b:
        assert repr(a) == open_repr.format(a.fileno())
    assert repr(a) == closed_repr
    assert sansock.SocketType.__repr__(a) == stdlib.SocketType.__repr__(x)
    assert closed_repr.endswith(f", family={stdlib.AF_UNIX!s}, type={stdlib.SOCK_STREAM!s}, proto=0>")


def test_family_and_type_are_enums_and_type_is_masked(net: Binding) -> None:
    with net.socket(net.AF_INET, net.SOCK_STREAM | net.SOCK_NONBLOCK | net.SOCK_CLOEXEC) as s:
        assert s.family is net.AddressFamily.AF_INET
        assert s.type is net.SocketKind.SOCK_STREAM
        assert s.proto == 0
        assert s.gettimeout() == 0.0
        # str() of the members is the running Python's (3.10: "AddressFamily.AF_INET").
        assert str(s.family) == str(stdlib.AF_INET) and str(s.type) == str(stdlib.SOCK_STREAM)
        assert repr(s.type) == repr(stdlib.SOCK_STREAM)


def test_close_detach_fileno_lifecycle(net: Binding) -> None:
    a, b = net.socketpair()
    fd = b.detach()
    assert b.fileno() == -1
    net.close(fd)
    a.close()
    a.close()  # a second close is a no-op
    assert a.fileno() == -1
    with pytest.raises(OSError) as info:
        a.recv(1)
    assert info.value.errno == 9
    with pytest.raises(OSError) as info:
        a.settimeout(1.0)
    assert info.value.errno == 9
    assert a.gettimeout() == 1.0  # stored before the ioctl failed, as in CPython


def test_pickling_refused_weakref_and_subclass(net: Binding) -> None:
    class MySocket(net.socket):  # type: ignore[name-defined, misc]
        pass

    a, b = net.socketpair()
    with a, b:
        with pytest.raises(TypeError, match="cannot pickle 'socket' object"):
            pickle.dumps(a)
        ref = weakref.ref(a)
        assert ref() is a
        with MySocket(fileno=net.dup(a.fileno())) as mine:
            assert isinstance(mine, sansock.socket)
            dup = mine.dup()
            with dup:
                assert type(dup) is MySocket
                assert dup.get_inheritable() is False


def test_unclosed_socket_warns_resource_warning(net: Binding) -> None:
    a, b = net.socketpair()
    b.close()
    expected = f"unclosed {a!r}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del a
        gc.collect()
    messages = [str(w.message) for w in caught if w.category is ResourceWarning]
    assert messages == [expected]


def _drop_under_error_filter(make: Callable[[], Any], close_fd: Callable[[int], None]) -> tuple[object, ...]:
    """Drop a new socket while ResourceWarning is an error: what reaches
    ``sys.unraisablehook``, and whether its fd is still open afterwards."""
    seen: list[tuple[object, str]] = []

    def hook(args: Any) -> None:
        seen.append((args.exc_type, str(args.exc_value)))

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            s = make()
            fd = s.fileno()
            expected = f"unclosed {s!r}"
            del s  # the last reference: finalized here, no gc.collect()
    finally:
        sys.unraisablehook = previous
    return seen == [(ResourceWarning, expected)], outcome(lambda: close_fd(fd))


def test_a_dropped_socket_is_closed_when_its_resource_warning_is_an_error(net: Binding) -> None:
    # sock_finalize: the raised warning goes to PyErr_WriteUnraisable and the
    # fd is closed anyway (so closing it again is EBADF); the stdlib is the oracle.
    ours = _drop_under_error_filter(lambda: net.socket(net.AF_INET, net.SOCK_DGRAM), net.close)
    theirs = _drop_under_error_filter(lambda: stdlib.socket(stdlib.AF_INET, stdlib.SOCK_DGRAM), stdlib.close)
    assert ours == theirs == (True, ("OSError", "[Errno 9] Bad file descriptor"))


def test_family_and_type_are_instances_of_the_module_enums(net: Binding) -> None:
    # The static type of s.family is sansock.AddressFamily whatever binding
    # made the socket; the run time agrees, as the stdlib's does for its own.
    def kinds(mod: Any, s: Any) -> tuple[bool, ...]:
        return (
            isinstance(s.family, mod.AddressFamily),
            isinstance(s.type, mod.SocketKind),
            isinstance(mod.MSG_PEEK, mod.MsgFlag),
            isinstance(int(s.family), mod.AddressFamily),
        )

    with net.socket(net.AF_INET, net.SOCK_DGRAM) as ours, stdlib.socket(stdlib.AF_INET, stdlib.SOCK_DGRAM) as theirs:
        assert kinds(sansock, ours) == kinds(stdlib, theirs) == (True, True, True, False)
        assert isinstance(net.MSG_PEEK, sansock.MsgFlag) and isinstance(net.AI_PASSIVE, sansock.AddressInfo)
        assert issubclass(net.AddressFamily, sansock.AddressFamily)
        assert not isinstance(ours.family, stdlib.AddressFamily)  # the stdlib's classes are others


def test_dup_copies_timeout_and_is_not_inheritable(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        a.settimeout(2.5)
        with a.dup() as c:
            assert c.gettimeout() == 2.5
            assert not c.get_inheritable()
        a.set_inheritable(True)
        assert a.get_inheritable()


# -- argument errors: exact type and message against the stdlib -------------------

BAD_CALLS: list[tuple[str, Callable[[Any], object]]] = [
    ("recv negative", lambda s: s.recv(-1)),
    ("recv str", lambda s: s.recv("x")),
    ("recv huge", lambda s: s.recv(2**70)),
    ("recv flags float", lambda s: s.recv(1, 1.0)),
    ("recv flags big", lambda s: s.recv(1, 2**40)),
    ("recv flags huge", lambda s: s.recv(1, 2**70)),
    ("recv zero", lambda s: s.recv(0)),
    ("recv_into bytes", lambda s: s.recv_into(b"x")),
    ("recv_into too small", lambda s: s.recv_into(bytearray(2), 3)),
    ("recv_into negative", lambda s: s.recv_into(bytearray(2), -1)),
    ("recv_into empty", lambda s: s.recv_into(bytearray(0))),
    ("recvfrom negative", lambda s: s.recvfrom(-1)),
    ("recvfrom_into too many", lambda s: s.recvfrom_into(bytearray(2), 3)),
    ("send str", lambda s: s.send("x")),
    ("send flags str", lambda s: s.send(b"x", "f")),
    ("sendall str", lambda s: s.sendall("x")),
    ("sendto 1 arg", lambda s: s.sendto(b"x")),
    ("sendto 4 args", lambda s: s.sendto(b"x", 1, 2, 3)),
    ("sendto bad flags", lambda s: s.sendto(b"x", "a", "b")),
    ("listen big", lambda s: s.listen(2**40)),
    ("listen str", lambda s: s.listen("x")),
    ("shutdown big", lambda s: s.shutdown(2**40)),
    ("shutdown bad how", lambda s: s.shutdown(7)),
    ("setblocking huge", lambda s: s.setblocking(2**70)),
    ("setblocking str", lambda s: s.setblocking("x")),
    ("settimeout negative", lambda s: s.settimeout(-1)),
    ("settimeout nan", lambda s: s.settimeout(float("nan"))),
    ("settimeout str", lambda s: s.settimeout("x")),
    ("getsockopt buflen", lambda s: s.getsockopt(1, 2, 2000)),
    ("getsockopt buflen negative", lambda s: s.getsockopt(1, 2, -1)),
    ("setsockopt None", lambda s: s.setsockopt(1, 2, None)),
    ("setsockopt str", lambda s: s.setsockopt(1, 2, "x")),
    ("setsockopt big int", lambda s: s.setsockopt(1, 2, 2**40)),
    ("recvmsg negative", lambda s: s.recvmsg(-1)),
    ("recvmsg ancbufsize", lambda s: s.recvmsg(1, 2**31)),
    ("recvmsg ancbufsize negative", lambda s: s.recvmsg(1, -1)),
    ("recvmsg_into not iterable", lambda s: s.recvmsg_into(1)),
    ("recvmsg_into bytes item", lambda s: s.recvmsg_into([b"x"])),
    ("sendmsg not iterable", lambda s: s.sendmsg(1)),
    ("sendmsg str item", lambda s: s.sendmsg(["x"])),
    ("sendmsg bad ancdata", lambda s: s.sendmsg([b"x"], [(1, 2)])),
    ("sendmsg ancdata object", lambda s: s.sendmsg([b"x"], [object()])),
    ("sendmsg ancdata str data", lambda s: s.sendmsg([b"x"], [(1, 1, "s")])),
    ("bind int", lambda s: s.bind(1)),
    ("connect missing path", lambda s: s.connect("/nonexistent/sansock/path")),
    ("bind too long", lambda s: s.bind("x" * 108)),
]


@pytest.mark.parametrize("name, call", BAD_CALLS, ids=[n for n, _ in BAD_CALLS])
def test_argument_errors_match_stdlib(net: Binding, name: str, call: Callable[[Any], object]) -> None:
    ours_a, ours_b = net.socketpair()
    theirs_a, theirs_b = stdlib.socketpair()
    with ours_a, ours_b, theirs_a, theirs_b:
        ours_b.setblocking(False)
        theirs_b.setblocking(False)
        ours_b.send(b"z")
        theirs_b.send(b"z")
        assert outcome(lambda: call(ours_a)) == outcome(lambda: call(theirs_a))


MODULE_CALLS: list[tuple[str, Callable[[Any], object]]] = [
    ("CMSG_LEN -1", lambda m: m.CMSG_LEN(-1)),
    ("CMSG_LEN 0", lambda m: m.CMSG_LEN(0)),
    ("CMSG_SPACE 1", lambda m: m.CMSG_SPACE(1)),
    ("CMSG_SPACE max", lambda m: m.CMSG_SPACE(2147483623)),
    ("CMSG_SPACE over", lambda m: m.CMSG_SPACE(2147483624)),
    ("CMSG_LEN str", lambda m: m.CMSG_LEN("x")),
    ("htons -1", lambda m: m.htons(-1)),
    ("htons 65536", lambda m: m.htons(65536)),
    ("htonl 2**32", lambda m: m.htonl(2**32)),
    ("htonl float", lambda m: m.htonl(1.0)),
    ("ntohl", lambda m: m.ntohl(0x01020304)),
    ("inet_aton bad", lambda m: m.inet_aton("1.2.3.4.5")),
    ("inet_aton short", lambda m: m.inet_aton("127.1")),
    ("inet_ntoa bad", lambda m: m.inet_ntoa(b"123")),
    ("inet_pton v6", lambda m: m.inet_pton(m.AF_INET6, "::ffff:1.2.3.4")),
    ("inet_pton bad", lambda m: m.inet_pton(m.AF_INET, "1.2.3")),
    ("inet_ntop v6", lambda m: m.inet_ntop(m.AF_INET6, bytes(range(16)))),
    ("inet_ntop bad", lambda m: m.inet_ntop(m.AF_INET, b"12345")),
    ("setdefaulttimeout bad", lambda m: m.setdefaulttimeout(-1)),
    ("getdefaulttimeout", lambda m: m.getdefaulttimeout()),
    ("getaddrinfo numeric", lambda m: m.getaddrinfo("127.0.0.1", 80, m.AF_INET, m.SOCK_STREAM)),
    ("getaddrinfo bad host type", lambda m: m.getaddrinfo(1, 80)),
    ("getaddrinfo bad port type", lambda m: m.getaddrinfo("127.0.0.1", 1.5)),
    ("getnameinfo not tuple", lambda m: m.getnameinfo("x", 0)),
    ("getnameinfo flowinfo", lambda m: m.getnameinfo(("::1", 80, 2**20), 0)),
    ("getnameinfo v4 4-tuple", lambda m: m.getnameinfo(("127.0.0.1", 80, 0, 0), 0)),
    ("socket bad family", lambda m: m.socket(2**40)),
    ("socket negative fd", lambda m: m.socket(fileno=-1)),
    ("socketpair AF_INET", lambda m: m.socketpair(m.AF_INET)),
]


@pytest.mark.parametrize("name, call", MODULE_CALLS, ids=[n for n, _ in MODULE_CALLS])
def test_module_functions_match_stdlib(net: Binding, name: str, call: Callable[[Any], object]) -> None:
    ours = outcome(lambda: call(net))
    theirs = outcome(lambda: call(stdlib))
    if ours[0] == "ok" and isinstance(ours[1], list) and isinstance(theirs[1], list):
        # getaddrinfo: enum members of two different modules compare as ints.
        assert [tuple(map(int, r[:3])) + r[3:] for r in ours[1]] == [
            tuple(map(int, r[:3])) + r[3:] for r in theirs[1]
        ]
    else:
        assert ours == theirs


# -- timeouts -------------------------------------------------------------------


def test_recv_times_out_with_stdlib_exception(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        b.settimeout(0.01)
        with pytest.raises(TimeoutError) as info:
            b.recv(1)
        assert info.value.args == ("timed out",)
        assert info.value.errno is None
        assert info.value.__context__ is None
        a.send(b"x")
        assert b.recv(1) == b"x"


def _rcvlowat_recv(mod: Any) -> list[object]:
    """SO_RCVLOWAT 10, 5 bytes queued on TCP: poll reports nothing to read."""
    import time

    with mod.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with mod.create_connection(server.getsockname()) as a:
            b, _ = server.accept()
            with b:
                b.setsockopt(mod.SOL_SOCKET, mod.SO_RCVLOWAT, 10)
                a.send(b"hello")
                time.sleep(0.05)
                b.settimeout(0.2)
                result: list[object] = []
                start = time.monotonic()
                try:
                    result.append(b.recv(100))
                except TimeoutError as exc:
                    result.append(("TimeoutError", exc.args, exc.__context__))
                result.append(time.monotonic() - start >= 0.15)
                b.setblocking(False)
                result.append(b.recv(100))  # a non-blocking recv tries at once
                return result


def test_timeout_mode_polls_before_recv_so_rcvlowat(native_net: Binding) -> None:
    """Issue 18: sock_call_ex polls first in timeout mode; trying first would
    return the 5 bytes the stdlib never reads."""
    assert _rcvlowat_recv(native_net) == _rcvlowat_recv(stdlib) == [
        ("TimeoutError", ("timed out",), None), True, b"hello",
    ]


def _unix_send_when_not_writable(mod: Any) -> list[object]:
    """An AF_UNIX end filled until poll(POLLOUT) reports 0, not until EAGAIN."""
    import select

    a, b = mod.socketpair()
    with a, b:
        a.setblocking(False)
        poller = select.poll()
        poller.register(a.fileno(), select.POLLOUT)
        while poller.poll(0):
            a.send(b"x" * 1000)
        a.settimeout(0.05)
        result: list[object] = []
        try:
            result.append(a.send(b"y"))
        except TimeoutError as exc:
            result.append(("TimeoutError", exc.args))
        a.setblocking(False)
        result.append(a.send(b"y"))  # the send itself still fits
        return result


def test_timeout_mode_polls_before_send_unix(native_net: Binding) -> None:
    assert _unix_send_when_not_writable(native_net) == _unix_send_when_not_writable(stdlib) == [
        ("TimeoutError", ("timed out",)), 1,
    ]


def test_timeout_mode_polls_before_every_call(net: Binding) -> None:
    """A timeout socket polls, then calls (the fake's trace shows the order);
    blocking and non-blocking sockets call at once."""
    a, b = net.socketpair()
    with a, b:
        a.send(b"ab")
        b.settimeout(5.0)
        trace = getattr(net.driver, "trace", None)
        start = len(trace) if trace is not None else 0
        assert b.recv(1) == b"a"
        b.settimeout(None)
        assert b.recv(1) == b"b"
        if trace is not None:
            calls = [entry.call for entry in list(trace)[start:]]
            assert calls == ["poll", "recv", "set_nonblocking", "recv"]


def test_released_memoryview_into_recv_into_is_w_star_type_error(net: Binding) -> None:
    """getargs.c "w*" clears whatever PyObject_GetBuffer raised (a released
    memoryview's ValueError) and reports its own TypeError; "y*" does not."""

    def errors(mod: Any) -> list[tuple[str, str]]:
        a, b = mod.socketpair()
        found: list[tuple[str, str]] = []
        with a, b:
            view = memoryview(bytearray(4))
            view.release()
            calls: list[Callable[[], object]] = [
                lambda: b.recv_into(view), lambda: b.recvfrom_into(view), lambda: a.send(view),
            ]
            for call in calls:
                try:
                    call()
                except (TypeError, ValueError) as exc:
                    found.append((type(exc).__name__, str(exc)))
        return found

    assert errors(net) == errors(stdlib)


def test_setsockopt_four_arguments_clears_any_parse_error(net: Binding) -> None:
    """sock_setsockopt: "iiO!I" failing for any reason (an __index__ raising
    ZeroDivisionError too) is cleared, and "iiy*" reports the argument count."""

    class BadIndex:
        def __index__(self) -> int:
            raise ZeroDivisionError("bad __index__")

    def error(mod: Any) -> tuple[str, str, object]:
        with mod.socket(mod.AF_UNIX) as sock:
            with pytest.raises(Exception) as info:
                sock.setsockopt(0, 0, None, BadIndex())
            return type(info.value).__name__, str(info.value), info.value.__context__

    assert error(net) == error(stdlib) == ("TypeError", "setsockopt() takes exactly 3 arguments (4 given)", None)


def _sendfile_errors(mod: Any, path: Any) -> list[object]:
    result: list[object] = []
    with open(path, "rb") as f:
        for timeout in ("closed", 2**31 / 1000 + 1, 9223372036.854775):
            a, b = mod.socketpair()
            with a, b:
                if timeout == "closed":
                    a.close()
                else:
                    a.settimeout(timeout)
                try:
                    result.append(a.sendfile(f))
                except (ValueError, OverflowError) as exc:
                    result.append((type(exc).__name__, str(exc)))
    return result


def test_sendfile_errors_match_stdlib(native_net: Binding, tmp_path: Any) -> None:
    """selector.register refuses a closed socket's -1; select.poll refuses a
    wait above INT_MAX ms, and one beyond _PyTime_t with _PyTime's message."""
    path = tmp_path / "payload.bin"
    path.write_bytes(b"abc" * 10)
    ours, theirs = _sendfile_errors(native_net, path), _sendfile_errors(stdlib, path)
    assert ours == theirs
    assert theirs[:2] == [("ValueError", "Invalid file descriptor: -1"), ("OverflowError", "timeout is too large")]


def test_nonblocking_recv_raises_blocking_io_error(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        b.setblocking(False)
        assert b.getblocking() is False
        with pytest.raises(BlockingIOError) as info:
            b.recv(1)
        assert info.value.errno == 11


def test_timeout_values_match_stdlib(net: Binding) -> None:
    for value in (None, 0, 0.0, 1, 1.5, 1e-12, 3600, True):
        with net.socket() as ours, stdlib.socket() as theirs:
            ours.settimeout(value)
            theirs.settimeout(value)
            assert (ours.gettimeout(), ours.timeout, ours.getblocking()) == (
                theirs.gettimeout(),
                theirs.timeout,
                theirs.getblocking(),
            )


def test_default_timeout_applies_to_new_and_accepted_sockets(net: Binding) -> None:
    assert net.getdefaulttimeout() is None
    net.setdefaulttimeout(3.5)
    try:
        a, b = net.socketpair()
        with a, b:
            assert a.gettimeout() == 3.5
        with net.create_server(("127.0.0.1", 0)) as server:
            with net.create_connection(server.getsockname()) as client:
                conn, _ = server.accept()
                with conn:
                    assert conn.gettimeout() == 3.5
                    assert client.gettimeout() == 3.5
    finally:
        net.setdefaulttimeout(None)


def test_accept_from_listener_with_timeout_gives_blocking_socket(net: Binding) -> None:
    with net.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5.0)
        with net.create_connection(server.getsockname()):
            conn, _ = server.accept()
            with conn:
                assert conn.gettimeout() is None


def test_connect_ex_refused_returns_errno(net: Binding) -> None:
    with net.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with net.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) == 111
    with net.socket() as s:
        s.settimeout(5)
        assert s.connect_ex(("127.0.0.1", port)) == 111
    with net.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


def test_sendall_with_timeout_delivers_everything(net: Binding) -> None:
    a, b = net.socketpair()
    payload = bytes(range(256)) * 4096  # 1 MiB: more than the socket buffers
    received = bytearray()
    with a, b:
        a.settimeout(5.0)
        b.setblocking(False)
        view = memoryview(payload)
        sent = 0
        while sent < len(payload):
            chunk = view[sent : sent + 65536]
            a.sendall(chunk)
            sent += len(chunk)
            while True:
                try:
                    data = b.recv(1 << 20)
                except BlockingIOError:
                    break
                received += data
        assert bytes(received) == payload


def test_makefile_roundtrip_keeps_socket_open(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        wfile = a.makefile("wb")
        rfile = b.makefile("r", encoding="utf-8")
        wfile.write(b"line one\nline two\n")
        wfile.flush()
        assert rfile.readline() == "line one\n"
        wfile.close()
        a.close()
        assert rfile.readline() == "line two\n"
        assert rfile.readline() == ""
        rfile.close()
        assert b.fileno() != -1


def test_udp_datagrams_and_addresses(net: Binding) -> None:
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as rx, net.socket(net.AF_INET, net.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        assert tx.sendto(b"datagram one", rx.getsockname()) == 12
        data, addr = rx.recvfrom(5)
        assert (data, addr) == (b"datag", tx.getsockname())
        tx.sendto(b"two", 0, rx.getsockname())
        data, ancdata, flags, addr = rx.recvmsg(64)
        assert (data, ancdata, flags, addr) == (b"two", [], 0, tx.getsockname())


def test_unix_abstract_and_autobind_names(net: Binding) -> None:
    with net.socket(net.AF_UNIX, net.SOCK_DGRAM) as s, net.socket(net.AF_UNIX, net.SOCK_DGRAM) as t:
        assert s.getsockname() == ""
        s.bind(b"\0sansock-test-abstract")
        assert s.getsockname() == b"\0sansock-test-abstract"
        t.bind("")
        name = t.getsockname()
        assert isinstance(name, bytes) and name[:1] == b"\0" and len(name) == 6
        t.sendto(b"hi", b"\0sansock-test-abstract")
        assert s.recvfrom(8) == (b"hi", name)


def test_recvmsg_ctrunc_closes_nothing_it_returns(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        fds = [x.fileno(), y.fileno()]
        net.send_fds(a, [b"m"], fds)
        # Room for one fd only (CMSG_LEN(4)): Linux trims the item and sets MSG_CTRUNC.
        data, ancdata, flags, addr = b.recvmsg(1, net.CMSG_LEN(4))
        assert flags & net.MSG_CTRUNC
        assert data == b"m"
        assert len(ancdata) == 1 and len(ancdata[0][2]) == 4
        (fd,) = (int.from_bytes(ancdata[0][2], "little"),)
        net.close(fd)


def test_error_after_recvmsg_closes_received_fds(net: Binding) -> None:
    """CPython's err_closefds: an error after the syscall closes the received fds."""

    class FailingDecode(net.socket):  # type: ignore[name-defined, misc]
        def _decode(self, raw: bytes) -> Any:
            raise RuntimeError("address decoding failed")

    # Named datagram sockets, so that recvmsg has a sender address to decode.
    names = (b"\0sansock-closefds-rx", b"\0sansock-closefds-tx")
    rx = FailingDecode(net.AF_UNIX, net.SOCK_DGRAM)
    tx = net.socket(net.AF_UNIX, net.SOCK_DGRAM)
    x, y = net.socketpair()
    with rx, tx, x, y:
        rx.bind(names[0])
        tx.bind(names[1])
        tx.connect(names[0])
        probe = net.dup(x.fileno())  # the fd number the kernel hands out next
        net.close(probe)
        net.send_fds(tx, [b"m"], [x.fileno()])
        with pytest.raises(RuntimeError, match="address decoding failed"):
            rx.recvmsg(1, net.CMSG_SPACE(4))
        with pytest.raises(OSError) as info:
            net.driver.getsockname(probe)
        assert info.value.errno == 9


def test_truncation_warning_as_error_closes_received_fds(net: Binding) -> None:
    """With warnings as errors, the RuntimeWarning of a truncated item closes the fds."""
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        probe = net.dup(a.fileno())
        net.close(probe)
        net.send_fds(a, [b"m"], [x.fileno(), y.fileno()])
        # A control buffer that ends inside the second fd: Linux trims cmsg_len
        # (no warning); BSD-like kernels keep it (the warning).
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                data, ancdata, flags, _ = b.recvmsg(1, net.CMSG_LEN(6))
            except RuntimeWarning as exc:
                assert str(exc) == "received malformed or improperly-truncated ancillary data"
                with pytest.raises(OSError):
                    net.driver.getsockname(probe)
            else:
                assert flags & net.MSG_CTRUNC
                for _, _, fd_bytes in ancdata:
                    for i in range(0, len(fd_bytes) - len(fd_bytes) % 4, 4):
                        net.close(int.from_bytes(fd_bytes[i : i + 4], "little"))


@pytest.mark.skipif(
    not hasattr(__import__("sansock_fake"), "FakeKernel"), reason="needs the fake kernel"
)
class TestBsdTruncation:
    """A BSD-like kernel keeps the untrimmed cmsg_len of a cut item: CPython warns.

    The fake kernel's darwin personality reproduces it, so the warning path
    (and the fd closing when the warning is an error) runs on Linux.
    """

    @pytest.fixture
    def bsd(self) -> Binding:
        from sansock_fake import FakeKernel

        return sansock.using(FakeKernel(personality="darwin"))

    def test_truncated_item_warns_and_returns_the_part_inside(self, bsd: Binding) -> None:
        a, b = bsd.socketpair()
        x, y = bsd.socketpair()
        with a, b, x, y:
            bsd.send_fds(a, [b"m"], [x.fileno(), y.fileno()])
            with pytest.warns(RuntimeWarning, match="improperly-truncated ancillary data"):
                data, ancdata, flags, addr = b.recvmsg(1, bsd.CMSG_LEN(6))
            assert (data, flags & bsd.MSG_CTRUNC, addr) == (b"m", bsd.MSG_CTRUNC, None)
            assert [(level, kind, len(d)) for level, kind, d in ancdata] == [(1, 1, 6)]
            bsd.close(int.from_bytes(ancdata[0][2][:4], "little"))

    def test_warning_as_error_closes_every_received_fd(self, bsd: Binding) -> None:
        a, b = bsd.socketpair()
        x, y = bsd.socketpair()
        with a, b, x, y:
            probe = bsd.dup(a.fileno())
            bsd.close(probe)
            bsd.send_fds(a, [b"m"], [x.fileno(), y.fileno()])
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with pytest.raises(RuntimeWarning):
                    b.recvmsg(1, bsd.CMSG_LEN(6))
            with pytest.raises(OSError) as info:
                bsd.driver.getsockname(probe)
            assert info.value.errno == 9


# -- sockets from existing fds (native: real fds from the stdlib) ------------------


@pytest.mark.native_only
def test_fileno_infers_family_type_proto_like_stdlib(native_net: Binding) -> None:
    import os

    with stdlib.socket(stdlib.AF_INET6, stdlib.SOCK_DGRAM) as theirs:
        with native_net.socket(fileno=os.dup(theirs.fileno())) as ours, stdlib.socket(
            fileno=os.dup(theirs.fileno())
        ) as oracle:
            assert (int(ours.family), int(ours.type), ours.proto) == (
                int(oracle.family),
                int(oracle.type),
                oracle.proto,
            )
        # Explicit arguments win, even when wrong (as in CPython).
        with native_net.socket(
            native_net.AF_INET, native_net.SOCK_STREAM, fileno=os.dup(theirs.fileno())
        ) as ours:
            assert (ours.family, ours.type) == (native_net.AF_INET, native_net.SOCK_STREAM)
        with native_net.fromfd(theirs.fileno(), native_net.AF_INET6, native_net.SOCK_DGRAM) as dup:
            assert dup.fileno() != theirs.fileno()
            assert dup.getsockname() == theirs.getsockname()


@pytest.mark.native_only
def test_fileno_of_a_pipe_is_refused_like_stdlib(native_net: Binding) -> None:
    import os

    r, w = os.pipe()
    try:
        theirs = outcome(lambda: stdlib.socket(fileno=r))
        ours = outcome(lambda: native_net.socket(fileno=r))
        assert ours == theirs
        assert ours[0] == "OSError"
    finally:
        os.close(r)
        os.close(w)


def test_create_server_dualstack_accepts_ipv4(net: Binding) -> None:
    if not net.has_dualstack_ipv6():
        pytest.skip("no dual-stack IPv6 here")
    with net.create_server(("::", 0), family=net.AF_INET6, dualstack_ipv6=True) as server:
        port = server.getsockname()[1]
        with net.create_connection(("127.0.0.1", port)) as client:
            conn, addr = server.accept()
            with conn:
                assert addr[0] == "::ffff:127.0.0.1"
                client.sendall(b"v4 to v6")
                assert conn.recv(16) == b"v4 to v6"


def test_create_server_bind_error_message(net: Binding) -> None:
    with net.create_server(("127.0.0.1", 0)) as first:
        address = first.getsockname()
        with pytest.raises(OSError) as info:
            net.create_server(address)
        assert info.value.errno == 98
        assert str(info.value).endswith(f"(while attempting to bind on address {address!r})")


def test_shutdown_gives_eof(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        a.sendall(b"last words")
        a.shutdown(net.SHUT_WR)
        assert b.recv(64) == b"last words"
        assert b.recv(64) == b""
        with pytest.raises(BrokenPipeError):
            a.send(b"more")


def test_msg_trunc_reports_the_real_length_without_reading_past_the_buffer(net: Binding) -> None:
    """recv/recvfrom return the datagram's real length (CPython resizes up to it);
    what did not fit is zeros, never bytes past the buffer; recvmsg keeps what fit."""
    modules: list[Any] = [net, stdlib]
    for mod in modules:
        a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_DGRAM)
        with a, b:
            results: list[bytes] = []
            receives: list[Callable[[], bytes]] = [
                lambda: b.recv(4, mod.MSG_TRUNC),
                lambda: b.recvfrom(4, mod.MSG_TRUNC)[0],
                lambda: b.recvmsg(4, 0, mod.MSG_TRUNC)[0],
            ]
            for receive in receives:
                a.send(b"0123456789")
                results.append(receive())
            assert [len(r) for r in results] == [10, 10, 4]
            assert [r[:4] for r in results] == [b"0123"] * 3
            if mod is net:
                assert results[0][4:] == results[1][4:] == bytes(6)


@pytest.mark.threads
def test_threaded_echo_server(net: Binding) -> None:
    """The documentation's echo server in a thread: on the fake kernel the
    client's recv waits while the server thread is still to be woken by the
    connect (the scheduler must let it look before declaring a deadlock)."""
    import threading

    ready = threading.Event()
    where: list[Any] = []
    errors: list[BaseException] = []

    def server() -> None:
        try:
            with net.socket(net.AF_INET, net.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                s.listen(1)
                where.append(s.getsockname())
                ready.set()
                conn, _ = s.accept()
                with conn:
                    while data := conn.recv(1024):
                        conn.sendall(data)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=server)
    thread.start()
    ready.wait()
    with net.socket(net.AF_INET, net.SOCK_STREAM) as client:
        client.connect(where[0])
        for _ in range(20):
            client.sendall(b"Hello, world")
            assert client.recv(1024) == b"Hello, world"
    thread.join()
    assert errors == []


@pytest.mark.threads
def test_sendfile_sends_a_real_file(net: Binding, tmp_path: Any) -> None:
    """sendfile(2) from a real file: os.sendfile on the native driver, the
    fake kernel's own sendfile (drivers/sansock_fake/_sendfile.py) on the fake."""
    import threading

    payload = bytes(range(256)) * 1000
    path = tmp_path / "payload.bin"
    path.write_bytes(payload)
    a, b = net.socketpair()
    received = bytearray()

    def reader() -> None:
        while len(received) < len(payload) - 100:
            chunk = b.recv(65536)
            if not chunk:
                break
            received.extend(chunk)

    with a, b, open(path, "rb") as f:
        thread = threading.Thread(target=reader)
        thread.start()
        assert a.sendfile(f, offset=100) == len(payload) - 100
        thread.join()
        assert f.tell() == len(payload)
    assert bytes(received) == payload[100:]
