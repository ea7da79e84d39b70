"""The Python value (``sansock._pyrules``): the rules of the running CPython's
``socket`` module, compared with that module itself.

Run on every interpreter ``make test`` finds (3.10 to 3.13 here), these tests
are what proves sansock follows the version it runs on: which constants exist,
the argument rules that changed between versions, and that the version
differences live in the rules value alone.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import io
import socket as stdlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sansock
import sansock._pyrules as pyrules_module
from sansock import Binding
from sansock._pyrules import CONSTANT_VERSIONS, KNOWN, RULES, describe_rules, rules_for

CORE = Path(__file__).resolve().parent.parent / "core" / "sansock"


def outcome(fn: Callable[[], object]) -> tuple[str, object]:
    try:
        return ("ok", fn())
    except SystemError:
        # CPython's text for a C function that failed without an exception
        # depends on the call site: "error return without exception set", or
        # "<built-in function f> returned NULL without setting an exception"
        # once the adaptive interpreter has specialised the call.
        return ("SystemError", "")
    except Exception as exc:  # noqa: BLE001 - the oracle comparison wants any type
        return (type(exc).__name__, str(exc))


def test_doctests() -> None:
    assert doctest.testmod(pyrules_module).failed == 0


def test_the_rules_in_force_are_the_running_versions() -> None:
    running = sys.version_info[:2]
    assert RULES is rules_for(running)
    if running <= max(KNOWN):
        assert RULES.version == running
    assert describe_rules().startswith(f"CPython {RULES.version[0]}.{RULES.version[1]} rules (running CPython ")
    assert sansock.python_rules() == describe_rules()


def test_rules_for_picks_the_newest_known_not_newer() -> None:
    assert [rules_for(v).version for v in ((3, 9), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (4, 0))] == [
        (3, 10), (3, 10), (3, 11), (3, 12), (3, 13), (3, 13), (3, 13),
    ]
    assert "newer than the last version" in describe_rules(rules_for((3, 14)), (3, 14, 0))
    assert "newer" not in describe_rules(rules_for((3, 13)), (3, 13, 0))


def test_only_the_rules_module_reads_the_python_version() -> None:
    """No ``sys.version_info`` checks scattered through the core: the rules
    value is the one place that knows the version.  (Declarations for type
    checkers, under ``if TYPE_CHECKING:``, never run: there a version check
    is what a type checker reads, and tests/test_static_names.py generates
    those of ``_constant_types.py`` and ``_enums.py`` from the rules.)"""
    readers = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        static = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            for stmt in node.body
            for inner in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in static:
                continue
            if isinstance(node, ast.Attribute) and node.attr in ("version_info", "hexversion", "version"):
                if isinstance(node.value, ast.Name) and node.value.id == "sys":
                    readers.append(f"{path.relative_to(CORE)}:{node.lineno}")
    assert readers and all(r.startswith("_pyrules.py:") for r in readers), readers


# -- constants: availability follows the running version ----------------------


@pytest.mark.parametrize("name", sorted(CONSTANT_VERSIONS))
def test_version_dependent_constants_exist_as_in_the_stdlib(net: Binding, name: str) -> None:
    """A constant a later CPython added (or an earlier one had) exists exactly
    when the running stdlib has it, with its value; ``dir`` agrees."""
    assert hasattr(net, name) == hasattr(stdlib, name)
    if hasattr(stdlib, name):
        assert getattr(net, name) == getattr(stdlib, name)
        assert net.abi.const(name) == getattr(stdlib, name)
    else:
        with pytest.raises(AttributeError):
            getattr(net, name)
    assert (name in dir(sansock)) == (name in dir(stdlib))


def test_every_stdlib_constant_is_exported_with_its_value(native_net: Binding) -> None:
    names = [n for n in dir(stdlib) if n.isupper() and isinstance(getattr(stdlib, n), int)]
    assert len(names) > 300
    ours = {}
    for name in names:
        try:
            ours[name] = getattr(native_net, name)
        except AttributeError:
            pass
    assert ours == {name: getattr(stdlib, name) for name in names}


def test_the_enums_have_the_stdlib_members() -> None:
    for enum_name in ("AddressFamily", "SocketKind", "MsgFlag", "AddressInfo"):
        theirs = getattr(stdlib, enum_name).__members__
        ours = getattr(sansock, enum_name).__members__
        # Same names (aliases included), same values, same canonical members.
        assert {n: int(v) for n, v in ours.items()} == {n: int(v) for n, v in theirs.items()}, enum_name
        assert [m.name for m in getattr(sansock, enum_name)] == [m.name for m in getattr(stdlib, enum_name)]
    # A mixed-case name is a plain int, as socket.py's _convert_ leaves it.
    assert type(sansock.AF_DECnet) is int and sansock.AF_DECnet == stdlib.AF_DECnet


# -- arguments whose rules changed ----------------------------------------------

SOCKET_ARGS: list[tuple[str, int]] = [
    (kw, value)
    for kw in ("family", "type", "proto")
    for value in (2**31, -(2**31) - 1, 2**63, 2**64, -(2**70))
]


@pytest.mark.parametrize(("keyword", "value"), SOCKET_ARGS, ids=lambda x: str(x))
def test_socket_argument_overflow_messages_match_stdlib(net: Binding, keyword: str, value: int) -> None:
    # 3.10 parsed them with "|iiiO"; 3.11 moved socket() to Argument Clinic.
    def make(factory: Callable[..., object]) -> Callable[[], object]:
        return lambda: factory(**{keyword: value})

    assert outcome(make(net.socket)) == outcome(make(stdlib.socket))


IF_INDEXES: list[object] = [
    1, True, 0, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -1, -(2**63), 2**70,
    1.0, "1", None,
]


@pytest.mark.parametrize("index", IF_INDEXES, ids=repr)
def test_if_indextoname_matches_stdlib(native_net: Binding, index: object) -> None:
    # 3.13 refuses what does not fit unsigned int; earlier versions wrapped it,
    # and took ULONG_MAX for an error return (SystemError).
    assert outcome(lambda: native_net.if_indextoname(index)) == outcome(  # type: ignore[arg-type]
        lambda: stdlib.if_indextoname(index)  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("index", [2**32, 2**63, 2**64 - 1, -1, "x"], ids=repr)
def test_if_indextoname_argument_errors_on_the_fake(net: Binding, index: object) -> None:
    """The argument rules come before the driver, so the fake gives them too."""
    expected = outcome(lambda: stdlib.if_indextoname(index))  # type: ignore[arg-type]
    if expected[0] == "OSError":
        pytest.skip("the index reaches the C library: which interfaces exist is the host's")
    assert outcome(lambda: net.if_indextoname(index)) == expected  # type: ignore[arg-type]


def test_create_connection_signature_matches_stdlib(net: Binding) -> None:
    """``all_errors`` exists from 3.11; 3.10's ``create_connection`` refuses it."""
    has_it = "all_errors" in inspect.signature(stdlib.create_connection).parameters
    assert RULES.create_connection_all_errors == has_it
    with net.socket(net.AF_INET, net.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
    # Nothing listens on the port: a refusal, as the stdlib would get.
    got = outcome(lambda: net.create_connection(("127.0.0.1", port), all_errors=True))
    if has_it:
        assert got[0] == "ExceptionGroup"
    else:
        assert got == outcome(lambda: stdlib.create_connection(("127.0.0.1", 1), all_errors=True))  # type: ignore[call-arg,unused-ignore]
    assert outcome(lambda: net.create_connection(("127.0.0.1", port)))[0] == "ConnectionRefusedError"


class BoolRaises:
    def __bool__(self) -> bool:
        raise ZeroDivisionError("mine")


@pytest.mark.parametrize("flag", [1.0, 0.0, "", "x", None, [], 2**70, BoolRaises()], ids=repr)
def test_setblocking_argument_matches_stdlib(net: Binding, flag: object) -> None:
    # 3.12: any object's truth value; before, a C long.
    def run(sock: stdlib.socket | sansock.socket) -> Callable[[], object]:
        def call() -> object:
            sock.setblocking(flag)  # type: ignore[arg-type]
            return (sock.gettimeout(), sock.getblocking())

        return call

    with net.socket(net.AF_INET, net.SOCK_STREAM) as ours, stdlib.socket() as theirs:
        assert outcome(run(ours)) == outcome(run(theirs))


class IntSub(int):
    pass


@pytest.mark.parametrize(
    "port", [80, 70000, -1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 2**70, True, IntSub(80)], ids=repr
)
def test_getaddrinfo_int_port_matches_stdlib(native_net: Binding, port: int) -> None:
    # 3.12 passes any exact int's digits to the C library (gh-74895); before,
    # a C long.  bool and int subclasses are not ints there (PyLong_CheckExact).
    def call(module: Any) -> Callable[[], object]:
        return lambda: module.getaddrinfo("127.0.0.1", port, type=stdlib.SOCK_STREAM)

    ours, theirs = outcome(call(native_net)), outcome(call(stdlib))
    if ours[0] == "ok":
        assert theirs[0] == "ok"
        assert [item[4] for item in ours[1]] == [item[4] for item in theirs[1]]  # type: ignore[attr-defined]
    else:
        assert ours == theirs


def test_private_module_names_match_stdlib() -> None:
    """``Lib/socket.py``'s private names that CPython's ``test_socket`` uses."""
    for name in ("_LOCALHOST", "_LOCALHOST_V6", "_GiveupOnSendfile", "_fallback_socketpair"):
        assert hasattr(sansock, name) == hasattr(stdlib, name), name
    assert (sansock._LOCALHOST, sansock._LOCALHOST_V6) == (stdlib._LOCALHOST, stdlib._LOCALHOST_V6)  # type: ignore[attr-defined]


@pytest.mark.parametrize("family", ["AF_INET", "AF_INET6"])
def test_fallback_socketpair_is_a_connected_loopback_pair(native_net: Binding, family: str) -> None:
    if not RULES.fallback_socketpair:
        pytest.skip("this CPython's socket module has no _fallback_socketpair")
    a, b = native_net._fallback_socketpair(getattr(native_net, family))
    with a, b:
        assert a.getpeername() == b.getsockname() and a.type == native_net.SOCK_STREAM
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"
    for args, message in (
        ((native_net.AF_UNIX,), "Only AF_INET and AF_INET6 socket address families are supported"),
        ((native_net.AF_INET, native_net.SOCK_DGRAM), "Only SOCK_STREAM socket type is supported"),
        ((native_net.AF_INET, native_net.SOCK_STREAM, 6), "Only protocol zero is supported"),
    ):
        with pytest.raises(ValueError, match=f"^{message}$"):
            native_net._fallback_socketpair(*args)


class RecordingFile(io.BytesIO):
    """A file that is not a regular file (no fileno): ``sendfile`` falls back to ``send``."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


def test_sendfile_fallback_reads_as_stdlib(net: Binding) -> None:
    """``sendfile`` of a file that is not a regular one falls back to ``send``
    and reads the file in the stdlib's block sizes."""
    data = bytes(range(256)) * 100

    def reads(pair: Callable[[], tuple[Any, Any]]) -> tuple[list[int], int, bytes]:
        a, b = pair()
        with a, b:
            file = RecordingFile(data)
            sent = a.sendfile(file, 100, 20000)
            received = b""
            while len(received) < sent:
                received += b.recv(65536)
            return file.reads, sent, received

    ours, theirs = reads(net.socketpair), reads(stdlib.socketpair)
    assert ours == theirs and ours[2] == data[100:20100]
