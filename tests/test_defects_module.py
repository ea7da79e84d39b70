"""Regression tests for issue 12, items 5, 7 and 15: the module functions.

* **Item 5** -- ``send_fds`` converts its fds with ``array.array("i", fds)``
  exactly as ``Lib/socket.py`` does (bytes-like objects through
  ``frombytes``, items through the ``"i"`` unit), and ``recv_fds`` reads
  them back as ``Lib/socket.py`` does.  Compared with the stdlib on real
  socket pairs in both worlds, and on a recording stand-in socket, where
  the very arguments handed to ``sendmsg``/``recvmsg`` are compared.
* **Item 7** -- ``gethostbyname``, ``gethostbyname_ex`` and
  ``gethostbyaddr`` parse their host with ``"et"`` and the ``idna`` codec
  (``socket_gethostbyname`` in ``socketmodule.c``), so a name the codec
  rejects (``"a..b"``, ``"."``, a 64-character label) is a local
  ``UnicodeError`` and never a lookup; ``getaddrinfo`` and ``getnameinfo``
  are checked for the same class.  The stdlib is the oracle for the type and
  message; a driver whose resolver entry points raise shows that nothing was
  looked up.
* **Item 15** -- a binding, and the module, carry every public name of the
  stdlib ``socket`` module on Linux, differences only through
  :data:`NOT_ON_A_BINDING`.

The random counterpart of item 7 is
``test_reliability_fuzz.py::test_random_host_arguments_match_stdlib``.
"""

from __future__ import annotations

import array
import os
import socket as stdlib
import sys
from collections.abc import Callable
from typing import Any, cast

import pytest

import sansock
from sansock import Binding, Driver

Outcome = tuple[str, str]


def outcome(call: Callable[[], object]) -> Outcome:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 -- the comparison is the point
        return type(exc).__name__, str(exc)
    return "ok", ""


# -- item 5: send_fds / recv_fds ------------------------------------------------------


def _as_bytes(fd: int) -> bytes:
    return array.array("i", [fd]).tobytes()


#: fds arguments built from one open fd number *v* of the world they run in
#: (the stdlib's process or the driver's kernel), with what the stdlib does.
FDS_CASES: list[tuple[str, Callable[[int], object]]] = [
    ("list", lambda v: [v]),
    ("two", lambda v: [v, v]),
    ("empty", lambda v: []),
    ("iterator", lambda v: iter([v, v])),
    ("tuple", lambda v: (v,)),
    ("array-i", lambda v: array.array("i", [v])),
    ("bytes-one-int", _as_bytes),  # frombytes: one fd, not four
    ("bytes-two-ints", lambda v: _as_bytes(v) * 2),
    ("bytes-empty", lambda v: b""),
    ("bytearray-one-int", lambda v: bytearray(_as_bytes(v))),
    ("bytearray-short", lambda v: bytearray(_as_bytes(v)[:1])),  # ValueError
    ("bytes-short", lambda v: _as_bytes(v)[:3]),  # ValueError
    ("memoryview-items", lambda v: memoryview(array.array("i", [v, v]))),  # iterated: ints
    ("str-item", lambda v: [str(v)]),  # TypeError
    ("float-item", lambda v: [v + 0.5]),  # TypeError
    ("none-item", lambda v: [None]),  # TypeError
    ("int-max-plus-one", lambda v: [2**31]),  # OverflowError
    ("int-min-minus-one", lambda v: [-(2**31) - 1]),  # OverflowError
    ("huge", lambda v: [2**70]),  # OverflowError
    ("str", lambda v: "abc"),  # TypeError: cannot use a str
    ("array-d", lambda v: array.array("d", [float(v)])),  # TypeError
    ("none", lambda v: None),  # TypeError: not iterable
    ("int", lambda v: v),  # TypeError: not iterable
]


def _send_fds_world(make_pair: Callable[[], tuple[Any, Any]], send_fds: Callable[..., int],
                    recv_fds: Callable[..., tuple[bytes, list[int], int, Any]],
                    close: Callable[[int], None], fds_of: Callable[[int], object]) -> tuple[Outcome, int]:
    """Send ``fds_of(v)`` (v: an open fd) over a pair; the outcome and how many fds arrived."""
    a, b, x, y = *make_pair(), *make_pair()
    with a, b, x, y:
        got = outcome(lambda: send_fds(a, [b"m"], fds_of(x.fileno())))
        received = 0
        if got[0] == "ok":
            _, fds, _, _ = recv_fds(b, 16, 8)
            received = len(fds)
            for fd in fds:
                close(fd)
        return got, received


@pytest.mark.parametrize("label, fds_of", FDS_CASES, ids=[c[0] for c in FDS_CASES])
def test_send_fds_converts_fds_as_array_i(net: Binding, label: str, fds_of: Callable[[int], object]) -> None:
    """Issue 12 item 5: the same exception (type and message) or the same fd count as the stdlib."""
    ours = _send_fds_world(net.socketpair, net.send_fds, net.recv_fds, net.close, fds_of)
    theirs = _send_fds_world(stdlib.socketpair, stdlib.send_fds, stdlib.recv_fds, os.close, fds_of)
    assert ours == theirs


class Recorder:
    """A stand-in socket: records what send_fds/recv_fds hand to sendmsg/recvmsg."""

    def __init__(self, ancdata: list[tuple[int, int, bytes]] | None = None) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.ancdata = ancdata or []

    def sendmsg(self, *args: object) -> int:
        self.calls.append(args)
        return 1

    def recvmsg(self, *args: object) -> tuple[bytes, list[tuple[int, int, bytes]], int, None]:
        self.calls.append(args)
        return b"m", self.ancdata, 0, None


def _normalise(calls: list[tuple[object, ...]]) -> list[object]:
    """Items of the control data as (level, type, bytes, type name of the data)."""
    out: list[object] = []
    for buffers, *rest in calls:
        out.append(buffers)
        for items in rest:
            out.append([(lvl, kind, bytes(data), type(data).__name__) for lvl, kind, data in cast(Any, items)])
    return out


@pytest.mark.parametrize("label, fds_of", FDS_CASES, ids=[c[0] for c in FDS_CASES])
def test_send_fds_hands_sendmsg_what_lib_socket_hands_it(
    net: Binding, label: str, fds_of: Callable[[int], object]
) -> None:
    """``sock.sendmsg(buffers, [(SOL_SOCKET, SCM_RIGHTS, array.array("i", fds))])``: the
    same call, with an ``array('i')`` as the data, or the same exception before it."""
    ours, theirs = Recorder(), Recorder()
    got = outcome(lambda: net.send_fds(cast(Any, ours), [b"m"], cast(Any, fds_of(5))))
    expected = outcome(lambda: stdlib.send_fds(cast(Any, theirs), [b"m"], cast(Any, fds_of(5))))
    assert got == expected
    assert _normalise(ours.calls) == _normalise(theirs.calls)


def test_send_fds_checks_the_socket_before_the_fds(net: Binding) -> None:
    """``sock.sendmsg`` is looked up before the array is built, as in Lib/socket.py."""
    ours = outcome(lambda: net.send_fds(cast(Any, object()), [b"m"], cast(Any, None)))
    theirs = outcome(lambda: stdlib.send_fds(cast(Any, object()), [b"m"], cast(Any, None)))
    assert ours == theirs == ("AttributeError", "'object' object has no attribute 'sendmsg'")


RECV_ANCDATA: list[tuple[str, list[tuple[int, int, bytes]]]] = [
    ("none", []),
    ("two-fds", [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, _as_bytes(7) + _as_bytes(9))]),
    ("partial-int", [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, _as_bytes(7) + b"\x01\x02")]),
    ("negative", [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, _as_bytes(-1))]),
    ("other-level", [(stdlib.SOL_IP, stdlib.SCM_RIGHTS, _as_bytes(7))]),
    ("credentials-then-fds", [(stdlib.SOL_SOCKET, stdlib.SCM_CREDENTIALS, b"\0" * 12),
                              (stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, _as_bytes(8))]),
    ("two-items", [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, _as_bytes(3)),
                   (stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, _as_bytes(4))]),
]


@pytest.mark.parametrize("label, ancdata", RECV_ANCDATA, ids=[c[0] for c in RECV_ANCDATA])
@pytest.mark.parametrize("maxfds", [0, 1, 2, 1.5, "a", -1, 2**62, None, [1]])
def test_recv_fds_reads_as_lib_socket(
    net: Binding, label: str, ancdata: list[tuple[int, int, bytes]], maxfds: object
) -> None:
    """The same recvmsg call (``CMSG_LEN(maxfds * 4)``) and the same result or exception."""
    ours, theirs = Recorder(ancdata), Recorder(ancdata)
    results: list[object] = []
    got = outcome(lambda: results.append(net.recv_fds(cast(Any, ours), 16, cast(Any, maxfds))))
    expected = outcome(lambda: results.append(stdlib.recv_fds(cast(Any, theirs), 16, cast(Any, maxfds))))
    assert got == expected
    assert ours.calls == theirs.calls
    if got[0] == "ok":
        assert results[0] == results[1]


# -- item 7: host arguments of the resolver functions --------------------------------


class ResolverReached(BaseException):
    """Raised by :class:`NoResolver` when a call gets past its argument parsing."""


class NoResolver:
    """A driver whose resolver entry points raise :class:`ResolverReached`.

    Everything else is the wrapped driver's; so a call through it ends in
    ``ResolverReached`` exactly when sansock decided its arguments were fine
    and asked the resolver.
    """

    RESOLVER = ("getaddrinfo", "getnameinfo", "gethostbyname_ex", "gethostbyaddr")

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def __getattr__(self, name: str) -> Any:
        if name in self.RESOLVER:
            def reached(*args: object) -> Any:
                raise ResolverReached(name, args)
            return reached
        return getattr(self._driver, name)


def no_resolver(net: Binding) -> Binding:
    return sansock.using(cast(Driver, NoResolver(net.driver)))


def reached(call: Callable[[], object]) -> bool:
    try:
        call()
    except ResolverReached:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


HOST_FUNCTIONS = ["gethostbyname", "gethostbyname_ex", "gethostbyaddr"]


class Str(str):
    pass


class Bytes(bytes):
    pass


#: Hosts the idna codec rejects (UnicodeError), ASCII ones included.
CODEC_ERRORS: list[object] = [
    "a..b", ".", "..", ".a", "a" * 64, "a" * 64 + ".com", "b." + "a" * 64 + ".c",
    "\x80", "\udc80", "a\udc80b", "é" * 70, "\u3002", "a\u3002\u3002b", Str("a..b"),
]

#: Hosts the stdlib rejects before any lookup (TypeError, UnicodeError).
LOCAL_ERRORS: list[object] = CODEC_ERRORS + [
    None, 1, 1.5, True, memoryview(b"localhost"), ["localhost"], ("localhost",), object(),
    "a\0b", "\0", b"a\0b", bytearray(b"\0"), "é\0", Bytes(b"a\0"),
]

#: Hosts the stdlib answers without the network: numbers, the wildcard, localhost.
LOCAL_ANSWERS: list[object] = [
    "127.0.0.1", b"127.0.0.1", bytearray(b"127.0.0.1"), Str("127.0.0.1"), Bytes(b"127.0.0.1"),
    "255.255.255.255", "<broadcast>", "::1", "0.0.0.0", "",
]


@pytest.mark.parametrize("host", LOCAL_ERRORS, ids=repr)
@pytest.mark.parametrize("func", HOST_FUNCTIONS)
def test_host_argument_errors_match_stdlib_without_a_lookup(net: Binding, func: str, host: object) -> None:
    """Issue 12 item 7: the stdlib's exception type and message, raised before the resolver."""
    theirs = outcome(lambda: getattr(stdlib, func)(host))
    # The oracle is local.  (3.13's idna codec raises UnicodeEncodeError, a
    # UnicodeError with the position; earlier ones a plain UnicodeError.)
    assert theirs[0] in ("TypeError", "UnicodeError", "UnicodeEncodeError", "ValueError")
    assert outcome(lambda: getattr(net, func)(host)) == theirs
    assert not reached(lambda: getattr(no_resolver(net), func)(host))


@pytest.mark.parametrize("host", CODEC_ERRORS, ids=repr)
def test_getaddrinfo_host_errors_match_stdlib_without_a_lookup(net: Binding, host: object) -> None:
    """``getaddrinfo`` encodes a str host with idna too (``socket_getaddrinfo``)."""
    theirs = outcome(lambda: stdlib.getaddrinfo(cast(Any, host), 80))
    assert theirs[0] in ("UnicodeError", "UnicodeEncodeError")  # UnicodeEncodeError from 3.13
    assert outcome(lambda: net.getaddrinfo(cast(Any, host), 80)) == theirs
    assert not reached(lambda: no_resolver(net).getaddrinfo(cast(Any, host), 80))


@pytest.mark.parametrize(
    "host, port",
    [(b"localhost\0junk", 80), ("localhost\0junk", 80), ("127.0.0.1", "80\0junk"), ("127.0.0.1\0", b"8\0")],
    ids=repr,
)
def test_getaddrinfo_reads_c_strings(net: Binding, host: object, port: object) -> None:
    """CPython hands getaddrinfo(3) the C strings unchecked: a NUL ends the name."""
    theirs = stdlib.getaddrinfo(cast(Any, host), cast(Any, port), stdlib.AF_INET, stdlib.SOCK_STREAM)
    ours: list[object] = list(net.getaddrinfo(cast(Any, host), cast(Any, port), net.AF_INET, net.SOCK_STREAM))
    assert ours == list(theirs)


@pytest.mark.parametrize("port", [True, False, Str("80"), Bytes(b"80"), bytearray(b"80")], ids=repr)
def test_getaddrinfo_port_is_an_exact_int_or_a_string(net: Binding, port: object) -> None:
    """``PyLong_CheckExact``: a bool port is 'Int or String expected', a str subclass is a string."""
    args = ("127.0.0.1", port, 2, 1)
    theirs = outcome(lambda: stdlib.getaddrinfo(*cast(Any, args)))
    assert outcome(lambda: net.getaddrinfo(*cast(Any, args))) == theirs


class IntLike:
    def __int__(self) -> int:
        return 80


@pytest.mark.parametrize(
    "sockaddr",
    [("127.0.0.1", "80"), ("127.0.0.1", 1.5), ("127.0.0.1", IntLike()), ("127.0.0.1", 2**40),
     ("127.0.0.1", 2**70), ("::1", 80, "x"), ("::1", 80, 0, 1.5), ("::1", 80, -1),
     (None, 80), (b"127.0.0.1", 80), ("127.0.0.1",), ("a", 1, 2, 3, 4), ("\udc80", 1), ("a\0b", 1)],
    ids=repr,
)
def test_getnameinfo_sockaddr_errors_match_stdlib(net: Binding, sockaddr: tuple[Any, ...]) -> None:
    """``"si|II;getnameinfo(): illegal sockaddr argument"``: the custom message replaces
    only what converterr reports (a host that is not a str, a wrong length); the
    integer units keep their own TypeError/OverflowError."""
    flags = stdlib.NI_NUMERICHOST | stdlib.NI_NUMERICSERV
    theirs = outcome(lambda: stdlib.getnameinfo(sockaddr, flags))
    assert theirs[0] != "ok"
    assert outcome(lambda: net.getnameinfo(sockaddr, flags)) == theirs
    assert not reached(lambda: no_resolver(net).getnameinfo(sockaddr, flags))


@pytest.mark.parametrize("host", LOCAL_ANSWERS, ids=repr)
def test_gethostbyname_of_numbers_matches_stdlib(net: Binding, host: object) -> None:
    """Numbers, the broadcast names and the wildcard are answered as the stdlib
    answers them, after the same "et" parsing (bytearray and subclasses included)."""
    theirs = outcome(lambda: stdlib.gethostbyname(cast(Any, host)))
    assert outcome(lambda: net.gethostbyname(cast(Any, host))) == theirs
    if theirs[0] == "ok":
        assert net.gethostbyname(cast(Any, host)) == stdlib.gethostbyname(cast(Any, host))


#: Names that pass the argument parsing and need the resolver (some the network).
RESOLVED: list[object] = [
    "localhost", Str("localhost"), Bytes(b"localhost"), bytearray(b"localhost"),
    "xn--", "a.", "abé.invalid", b"\xff.invalid", "127.1", "a" * 63 + ".invalid", "\u00df.invalid",
]


@pytest.mark.parametrize("host", RESOLVED, ids=repr)
@pytest.mark.parametrize("func", HOST_FUNCTIONS)
def test_valid_names_reach_the_resolver(net: Binding, func: str, host: object) -> None:
    """What the stdlib parses fine is handed to the resolver (on both drivers)."""
    assert reached(lambda: getattr(no_resolver(net), func)(host))


@pytest.mark.parametrize("host", RESOLVED, ids=repr)
@pytest.mark.parametrize("func", HOST_FUNCTIONS)
def test_valid_names_resolve_as_stdlib_on_the_real_kernel(native_net: Binding, func: str, host: object) -> None:
    """End to end on the native driver: the same encoded name reaches the C
    library, so the answer (or the gaierror/herror) is the stdlib's."""
    theirs = outcome(lambda: getattr(stdlib, func)(host))
    assert outcome(lambda: getattr(native_net, func)(host)) == theirs
    if theirs[0] == "ok":
        assert getattr(native_net, func)(host) == getattr(stdlib, func)(host)


# -- user objects are read as C reads them: the buffer, never __bytes__ or encode() ----------


class EvilBytes(bytes):
    def __bytes__(self) -> bytes:
        return b"evil"

    def partition(self, sep: Any) -> Any:
        raise AssertionError("a bytes subclass's method was called")


class EvilByteArray(bytearray):
    def __bytes__(self) -> bytes:
        return b"evil"


class EvilStr(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        return b"evil"


def answer(call: Callable[[], object]) -> tuple[str, object]:
    """What a call gives: ``("ok", value)`` or (exception type name, message)."""
    try:
        return "ok", call()
    except Exception as exc:  # noqa: BLE001 -- the comparison is the point
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("cls", [EvilBytes, EvilByteArray], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "func, name", [("gethostbyname", b"localhost"), ("gethostbyname_ex", b"localhost"), ("gethostbyaddr", b"127.0.0.1")]
)
def test_host_bytes_are_read_through_the_buffer(net: Binding, func: str, name: bytes, cls: type) -> None:
    """The "et" unit reads a bytes/bytearray (subclass) buffer: ``__bytes__`` is never called."""
    theirs = answer(lambda: getattr(stdlib, func)(cls(name)))
    assert theirs == answer(lambda: getattr(stdlib, func)(name)) and theirs[0] == "ok"
    assert answer(lambda: getattr(net, func)(cls(name))) == answer(lambda: getattr(net, func)(name))


def test_getaddrinfo_reads_bytes_through_the_buffer(net: Binding) -> None:
    args = (stdlib.AF_INET, stdlib.SOCK_STREAM)
    theirs = stdlib.getaddrinfo(EvilBytes(b"localhost"), EvilBytes(b"80"), *args)
    assert theirs == stdlib.getaddrinfo(b"localhost", b"80", *args)
    ours: list[object] = list(net.getaddrinfo(EvilBytes(b"localhost"), EvilBytes(b"80"), *args))
    assert ours == list(net.getaddrinfo(b"localhost", b"80", *args))


def test_addresses_and_names_of_subclasses_are_read_as_c_reads_them(net: Binding) -> None:
    # The host of an AF_INET address (idna_converter), an AF_UNIX path, the
    # "s" unit (inet_pton, getnameinfo's host) and the FS converter (if_nametoindex).
    name = b"\0sansock-evil-%d" % os.getpid()
    def scenario(mod: Any) -> list[tuple[str, object]]:
        results: list[tuple[str, object]] = []
        with mod.socket(mod.AF_INET, mod.SOCK_DGRAM) as s:
            s.bind((EvilBytes(b"127.0.0.1"), 0))
            results.append(("ok", s.getsockname()[0]))
        with mod.socket(mod.AF_UNIX, mod.SOCK_DGRAM) as u:
            u.bind(EvilBytes(name))
            results.append(("ok", u.getsockname()))
        numeric = stdlib.NI_NUMERICHOST | stdlib.NI_NUMERICSERV
        results.append(answer(lambda: mod.inet_pton(mod.AF_INET, EvilStr("1.2.3.4"))))
        results.append(answer(lambda: mod.getnameinfo((EvilStr("127.0.0.1"), 80), numeric)))
        results.append(answer(lambda: mod.if_nametoindex(EvilBytes(b"lo")) == mod.if_nametoindex(b"lo")))
        return results
    assert scenario(net) == scenario(stdlib) == [
        ("ok", "127.0.0.1"), ("ok", name), ("ok", b"\x01\x02\x03\x04"), ("ok", ("127.0.0.1", "80")), ("ok", True),
    ]


def test_raw_control_items_are_read_through_the_buffer() -> None:
    # sendmsg's "(iiy*)": the data of a raw item is its buffer.
    from sansock import ancillary
    from sansock._profiles import LINUX_X86_64

    assert ancillary.encode((1, 1, EvilBytes(b"abcd")), LINUX_X86_64) == (1, 1, b"abcd")
    assert ancillary.decode_item((0, 99, EvilBytes(b"xy")), LINUX_X86_64) == (0, 99, b"xy")


# -- item 15: the binding carries the module's names -----------------------------------

#: Public names of the stdlib ``socket`` module that a binding (and the module
#: ``sansock``) deliberately lacks.  Everything else dir(socket) lists on Linux
#: must be there.
NOT_ON_A_BINDING = {
    # The PyCapsule of the C module's API (``_socket.CAPI``, for C extensions
    # such as _ssl); sansock has no C API to export.
    "CAPI",
    # Modules and classes Lib/socket.py imports for its own use and that leak
    # into its namespace; not socket API (not in socket.__all__), and ``os``
    # and ``selectors`` may not even be imported by the pure core.
    "IntEnum", "IntFlag", "array", "errno", "io", "os", "selectors", "sys",
}


def stdlib_public_names() -> set[str]:
    return {name for name in dir(stdlib) if not name.startswith("_")}


def test_allowed_differences_are_real_stdlib_names() -> None:
    """The allow-list names only what the stdlib has (it cannot hide a typo)."""
    if sys.platform.startswith("linux"):
        assert NOT_ON_A_BINDING <= stdlib_public_names()


@pytest.mark.linux_only
def test_binding_has_every_public_name_of_the_stdlib_module(net: Binding) -> None:
    """Issue 12 item 15: every public name of the stdlib socket module, on a
    binding and on the module, found by attribute access and listed by dir()."""
    wanted = stdlib_public_names() - NOT_ON_A_BINDING
    assert sorted(n for n in wanted if not hasattr(net, n)) == []
    assert sorted(wanted - set(dir(net))) == []
    assert sorted(n for n in wanted if not hasattr(sansock, n)) == []
    assert sorted(wanted - set(dir(sansock))) == []


def test_binding_exceptions_and_classes_are_the_module_s(net: Binding) -> None:
    assert net.error is stdlib.error is OSError
    assert net.timeout is stdlib.timeout is TimeoutError
    assert net.herror is sansock.herror and issubclass(net.herror, OSError)
    assert net.gaierror is sansock.gaierror and issubclass(net.gaierror, OSError)
    assert net.SocketType is sansock.SocketType
    assert net.SocketIO is sansock.SocketIO
    assert net.has_ipv6 is sansock.has_ipv6 is stdlib.has_ipv6
    with net.socket() as s:
        assert isinstance(s, net.SocketType) and isinstance(s, sansock.SocketType)
    a, b = net.socketpair()
    with a, b:
        raw = a.makefile("rb", buffering=0)
        with raw:
            assert isinstance(raw, net.SocketIO)


def serve_once(socket_module: Any) -> str:
    """Code written against "a socket module" parameter, as users write it."""
    a, b = socket_module.socketpair()
    with a, b:
        a.settimeout(0.01)
        try:
            a.recv(1)
        except socket_module.timeout:
            return "timed out"
        return "no timeout"


def test_except_binding_timeout_catches_our_timeouts(net: Binding) -> None:
    assert serve_once(net) == serve_once(stdlib) == "timed out"


def test_except_binding_gaierror_catches_resolver_errors(net: Binding) -> None:
    with pytest.raises(net.gaierror) as ours:
        net.getaddrinfo("127.0.0.1", "no-such-service-sansock")
    with pytest.raises(stdlib.gaierror) as theirs:
        stdlib.getaddrinfo("127.0.0.1", "no-such-service-sansock")
    assert (ours.value.errno, str(ours.value)) == (theirs.value.errno, str(theirs.value))
