"""Fuzzing: hostile control buffers, hostile sockaddrs, hostile arguments.

* **cmsg walker** (extends ``test_cmsg.py``, which fuzzes ``unpack_ancdata``
  alone): the one walk of a received control buffer (``_cmsg.walk``) agrees
  with a reference transcription of CPython's loop written here the long way
  (``get_cmsg_data_len`` and ``CMSG_NXTHDR`` as separate steps), and the views
  derived from it -- the stdlib's (``unpack_ancdata``), the fds to close and
  the truncation record of ``sansock.ancillary`` -- agree with each other, on
  every input for every ABI profile: nothing raised, each fd reported once,
  never more items than the bytes allow.  A seeded ``random`` loop pushes a
  million buffers through them under ``make stress``.
* **address decoding**: ``_address.decode_address`` on arbitrary bytes for
  every family of every profile raises nothing but what CPython's
  ``makesockaddr`` raises: ``UnicodeDecodeError`` for an AF_ALG name that is
  not UTF-8 (``Py_BuildValue("s#")``) and ``ValueError("Invalid address
  type")`` for an AF_TIPC address of an unknown type.
* **arguments**: random argument lists (wrong types, negatives, huge ints,
  read-only and non-contiguous buffers, number-likes: ``Decimal``,
  ``Fraction``, ``__int__``-only and ``__index__`` objects, ``bool``, ``int``
  subclasses including ones whose comparisons lie) to the socket methods in
  ``METHODS`` (on a non-blocking AF_UNIX stream socket of a pair) and the
  module functions in ``FUNCTIONS``, on both drivers, give the stdlib's
  outcome: the same exception type and message, or success on both -- and
  leave the same bytes queued on the socket (an argument error consumes
  nothing).  Left out: ``sendfile``, ``makefile``, ``sendmsg_afalg``; the
  module functions that act on real fds or process state (``close``, ``dup``,
  ``fromfd``, ``setdefaulttimeout``, ``sethostname``) or connect
  (``create_connection``, ``create_server``, ``send_fds``, ``recv_fds``); the
  resolver functions, fuzzed by their host argument below.
"""

from __future__ import annotations

import array
import os
import random
import re
import socket as stdlib
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sansock
from sansock import Binding
from sansock._abi import ABI
from sansock._address import _codec_for, decode_address
from sansock._cmsg import codec, rights_fds, truncation, unpack_ancdata, walk
from sansock._profiles import PROFILES

ALL_PROFILES = sorted(PROFILES.values(), key=lambda abi: abi.name)

#: ``make stress`` sets SANSOCK_STRESS=1: the long runs.
STRESS = os.environ.get("SANSOCK_STRESS", "") not in ("", "0")


def scaled(short: int, long: int) -> int:
    """*short* under ``make test``, *long* under ``make stress``."""
    return long if STRESS else short


EXAMPLES = scaled(200, 5000)


# -- the cmsg walker -------------------------------------------------------------------


def header(abi: ABI, length: int, level: int, kind: int) -> bytes:
    layout = abi.cmsg
    order = "<" if abi.byteorder == "little" else ">"
    raw = bytearray(layout.aligned(layout.hdr_size))
    struct.pack_into(order + {4: "I", 8: "Q"}[layout.len_size], raw, 0, length)
    struct.pack_into(order + "i", raw, layout.level_offset, level)
    struct.pack_into(order + "i", raw, layout.type_offset, kind)
    return bytes(raw)


def random_control(rng: random.Random, abi: ABI) -> bytes:
    """Plausible and implausible headers, random payloads, random cut."""
    if rng.random() < 0.2:
        return rng.randbytes(rng.randrange(0, 96))
    layout = abi.cmsg
    len0 = layout.aligned(layout.hdr_size)
    parts: list[bytes] = []
    for _ in range(rng.randrange(0, 5)):
        data = rng.randbytes(rng.choice((0, 1, 3, 4, 8, 12, 16, rng.randrange(0, 40))))
        choice = rng.random()
        if choice < 0.6:
            length = len0 + len(data)
        elif choice < 0.8:
            length = rng.randrange(0, 80)
        else:
            length = rng.randrange(0, 2 ** (8 * layout.len_size))
        level = rng.choice((abi.const("SOL_SOCKET"), 0, -1, rng.randrange(-(2**31), 2**31)))
        kind = rng.choice((abi.const("SCM_RIGHTS"), 2, rng.randrange(-(2**31), 2**31)))
        parts.append(header(abi, length, level, kind) + data + bytes(-len(data) % layout.align))
    control = b"".join(parts) + rng.randbytes(rng.choice((0, 0, 1, 4, 8)))
    return control[: rng.randrange(0, len(control) + 1)]


def reference_walk(control: bytes, abi: ABI) -> tuple[list[tuple[int, int, bytes]], bool, tuple[int, int] | None]:
    """CPython's ``sock_recvmsg_guts`` loop, step by step as the C reads:
    ``(items, malformed, (kept, claimed) of a cut item or None)``."""
    layout = abi.cmsg
    order = "<" if abi.byteorder == "little" else ">"
    len_fmt = order + {4: "I", 8: "Q"}[layout.len_size]
    int_fmt = order + {4: "i", 8: "q"}[abi.sizeof_int]
    len0 = layout.aligned(layout.hdr_size)  # CMSG_LEN(0), CMSG_DATA offset
    bsd = abi.sockaddr.has_sa_len
    controllen = len(control)
    items: list[tuple[int, int, bytes]] = []
    offset: int | None = 0 if controllen >= layout.hdr_size else None  # CMSG_FIRSTHDR
    while offset is not None:
        # get_cmsg_data_len
        if offset + max(len0, layout.len_size) > controllen:  # cmsg_min_space
            return items, True, None
        (cmsg_len,) = struct.unpack_from(len_fmt, control, offset)
        if cmsg_len < len0:
            return items, True, None
        data_start = offset + len0
        if data_start > controllen:
            return items, True, None
        space = controllen - data_start  # get_cmsg_data_space
        wanted = cmsg_len - len0
        (level,) = struct.unpack_from(int_fmt, control, offset + layout.level_offset)
        (kind,) = struct.unpack_from(int_fmt, control, offset + layout.type_offset)
        if space < wanted:
            items.append((level, kind, control[data_start:]))
            return items, False, (space, wanted)
        items.append((level, kind, control[data_start : data_start + wanted]))
        # CMSG_NXTHDR
        if bsd:
            following = offset + layout.aligned(cmsg_len)
            offset = None if following + len0 > controllen else following
        else:
            remaining = controllen - offset
            size_needed = layout.hdr_size + (-cmsg_len % layout.align)
            if cmsg_len < layout.hdr_size or remaining < size_needed or remaining - size_needed < cmsg_len:
                offset = None
            else:
                offset += layout.aligned(cmsg_len)
    return items, False, None


def check_walks(abi: ABI, control: bytes, msg_flags: int) -> int:
    """The walk agrees with the reference, its views with each other; the fd count."""
    found = walk(control, abi)
    items, malformed, cut = reference_walk(control, abi)
    assert found.items == items
    assert found.malformed == malformed
    assert (found.cut.kept, found.cut.claimed) == cut if found.cut is not None else cut is None
    result = unpack_ancdata(control, msg_flags, abi)
    geometry = codec(abi)
    # Never more items than the bytes allow, never more data than the buffer holds.
    assert len(result.items) <= len(control) // geometry.len0
    assert sum(len(d) for _, _, d in result.items) + len(result.items) * geometry.len0 <= len(control)
    # The views: the stdlib's items, fds and warning; the truncation record.
    assert result.items == found.items
    fds = rights_fds(found.items, abi)
    assert result.fds == fds
    record = truncation(found, len(fds), msg_flags, abi)
    assert record.stdlib_warns == result.truncated == found.stdlib_warns
    assert record.control == (result.truncated or result.ctrunc)
    rights = [
        len(d) // abi.sizeof_int
        for level, kind, d in result.items
        if (level, kind) == (abi.const("SOL_SOCKET"), abi.const("SCM_RIGHTS"))
    ]
    assert len(result.fds) == sum(rights)
    return len(result.fds)


@pytest.mark.parametrize("abi", ALL_PROFILES, ids=lambda abi: abi.name)
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data(), msg_flags=st.integers(-(2**31), 2**32 - 1))
def test_the_cmsg_walk_and_its_views_agree(abi: ABI, data: st.DataObject, msg_flags: int) -> None:
    seed = data.draw(st.integers(0, 2**64 - 1))
    control = data.draw(st.one_of(st.just(random_control(random.Random(seed), abi)), st.binary(max_size=96)))
    check_walks(abi, control, msg_flags)


def test_a_million_cmsg_inputs() -> None:
    """A seeded tight loop (hypothesis is ~50x slower per input): 1,000,000 under make stress."""
    total = scaled(20_000, 1_000_000)
    seed = 20260601
    rng = random.Random(seed)
    fds = 0
    started = time.perf_counter()
    for i in range(total):
        abi = ALL_PROFILES[i % len(ALL_PROFILES)]
        control = random_control(rng, abi)
        msg_flags = rng.randrange(-(2**31), 2**32)
        fds += check_walks(abi, control, msg_flags)
    elapsed = time.perf_counter() - started
    print(f"\n[reliability] cmsg fuzz: {total} inputs (seed {seed}), {fds} fds decoded, {elapsed:.1f} s")


# -- address decoding ---------------------------------------------------------------------


class NoInterfaces:
    """AddressServices whose interface lookups fail (``if_indextoname`` ENXIO)."""

    def if_indextoname(self, index: int) -> bytes:
        raise OSError(6, "No such device or address")

    def if_nametoindex(self, name: bytes) -> int:
        raise OSError(19, "No such device")

    def getaddrinfo(self, *args: object) -> list[Any]:
        raise OSError(-2, "Name or service not known")


class SomeInterfaces(NoInterfaces):
    def if_indextoname(self, index: int) -> bytes:
        return b"eth%d" % (index % 10)


def assert_documented(exc: ValueError, raw: bytes, abi: ABI) -> None:
    """The exceptions CPython's makesockaddr raises for hostile bytes."""
    family = _codec_for(abi).family_of(raw)
    if isinstance(exc, UnicodeDecodeError):
        # case AF_ALG: Py_BuildValue("s#") of a name that is not UTF-8.
        assert family == abi.constants.get("AF_ALG")
    else:
        # case AF_TIPC: "Invalid address type".
        assert family == abi.constants.get("AF_TIPC") and str(exc) == "Invalid address type"


@st.composite
def sockaddrs(draw: st.DrawFn, abi: ABI) -> bytes:
    codec = _codec_for(abi)
    families = sorted(codec.decoders) + [0, 255, 0xFFFF]
    family = draw(st.sampled_from(families))
    size = draw(st.one_of(st.sampled_from(sorted(set(codec.lengths.values()))), st.integers(0, 140)))
    body = draw(st.binary(min_size=0, max_size=max(0, size)))
    return codec.header(family, size)[:size] + body


@pytest.mark.parametrize("abi", ALL_PROFILES, ids=lambda abi: abi.name)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), proto=st.sampled_from([0, 1, 2, 6, 7, -1, 2**31 - 1]))
def test_decode_address_raises_only_what_cpython_raises(abi: ABI, data: st.DataObject, proto: int) -> None:
    raw = data.draw(st.one_of(sockaddrs(abi), st.binary(max_size=140)))
    for services in (None, NoInterfaces(), SomeInterfaces()):
        try:
            value = decode_address(raw, abi, services, proto=proto)
        except (UnicodeDecodeError, ValueError) as exc:
            assert_documented(exc, raw, abi)
            continue
        if not raw:
            assert value is None
        else:
            assert isinstance(value, (tuple, str, bytes))


def test_decode_address_loop() -> None:
    total = scaled(20_000, 300_000)
    rng = random.Random(7)
    services = SomeInterfaces()
    for i in range(total):
        abi = ALL_PROFILES[i % len(ALL_PROFILES)]
        codec = _codec_for(abi)
        family = rng.choice(sorted(codec.decoders) + [rng.randrange(0, 65536)])
        raw = codec.header(family, 0) + rng.randbytes(rng.randrange(0, 120))
        raw = raw[: rng.randrange(0, len(raw) + 1)]
        try:
            decode_address(raw, abi, services, proto=rng.choice((0, 1, 6, 7)))
        except (UnicodeDecodeError, ValueError) as exc:
            assert_documented(exc, raw, abi)


# -- random arguments against the stdlib ----------------------------------------------------


class Weird:
    """An object with an __index__ that lies about nothing but is not an int."""

    def __index__(self) -> int:
        return 3


class BadIndex:
    def __index__(self) -> int:
        raise ZeroDivisionError("bad __index__")


class IntOnly:
    """``__int__`` but no ``__index__``: cffi would take it, CPython does not."""

    def __int__(self) -> int:
        return 5


class LyingInt(int):
    """An int subclass whose comparisons all answer True (issue 12, item 1)."""

    def __le__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:  # a failing example must show the type, not just "0"
        return f"LyingInt({int.__repr__(self)})"


class SubInt(int):
    def __repr__(self) -> str:
        return f"SubInt({int.__repr__(self)})"


def _readonly() -> memoryview:
    return memoryview(b"abcd")


def _strided() -> memoryview:
    return memoryview(bytearray(b"abcdefgh"))[::2]


VALUES: list[Callable[[], object]] = [
    lambda: 0,
    lambda: 1,
    lambda: 2,
    lambda: 5,
    lambda: -1,
    lambda: -(2**31) - 1,
    lambda: 2**31,
    lambda: 2**32,
    lambda: 2**63,
    lambda: -(2**63) - 1,
    lambda: 2**70,
    lambda: True,
    lambda: 1.5,
    lambda: float("nan"),
    lambda: float("inf"),
    lambda: None,
    lambda: "",
    lambda: "abc",
    lambda: "\0",
    lambda: b"",
    lambda: b"xyz",
    lambda: bytearray(4),
    lambda: bytearray(0),
    _readonly,
    _strided,
    lambda: array.array("i", [1, 2]),
    lambda: [],
    lambda: [b"ab", b"cd"],
    lambda: [bytearray(2), bytearray(3)],
    lambda: [(1, 1, b"")],
    lambda: [(1, 1, struct.pack("i", -1))],
    lambda: [(0, 0)],
    lambda: (),
    lambda: ("127.0.0.1", 0),
    lambda: ("127.0.0.1", 70000),
    lambda: ("::1", 0, 0, 0),
    lambda: ("", -1),
    lambda: object(),
    lambda: Weird(),
    lambda: BadIndex(),
    # number-likes (issue 12, items 1 and 3)
    lambda: IntOnly(),
    lambda: Decimal("5.5"),
    lambda: Decimal(3),
    lambda: Fraction(7, 2),
    lambda: False,
    lambda: SubInt(4),
    lambda: LyingInt(0),
    lambda: LyingInt(4),
    lambda: LyingInt(200_000),
    lambda: LyingInt(-1),
    lambda: {1: 2},
]

#: Sizes CPython allocates before checking anything (recv's bufsize): kept small.
_HUGE_ALLOCATIONS = {2**31, 2**32}


def allocates_huge(name: str, args: list[object]) -> bool:
    """A receive whose size argument would make both sides allocate gigabytes."""
    position = 1 if name in ("recv_into", "recvfrom_into") else 0
    if name not in ("recv", "recvfrom", "recvmsg", "recv_into", "recvfrom_into") or len(args) <= position:
        return False
    size = args[position]
    return type(size) is int and size in _HUGE_ALLOCATIONS

METHODS: dict[str, tuple[int, int]] = {
    "recv": (0, 3),
    "recv_into": (0, 4),
    "recvfrom": (0, 3),
    "recvfrom_into": (0, 4),
    "recvmsg": (0, 4),
    "recvmsg_into": (0, 4),
    "send": (0, 3),
    "sendall": (0, 3),
    "sendto": (0, 4),
    "sendmsg": (0, 5),
    "setsockopt": (0, 5),
    "getsockopt": (0, 4),
    "settimeout": (0, 2),
    "setblocking": (0, 2),
    "shutdown": (0, 2),
    "listen": (0, 2),
    "bind": (0, 2),
    "connect": (0, 2),
    "connect_ex": (0, 2),
    "accept": (0, 1),
    "getsockname": (0, 1),
    "getpeername": (0, 1),
    "fileno": (0, 1),
    "gettimeout": (0, 1),
    "getblocking": (0, 1),
    "get_inheritable": (0, 1),
    "set_inheritable": (0, 2),
    "detach": (0, 1),
    "close": (0, 1),
    "dup": (0, 1),
}

FUNCTIONS: dict[str, tuple[int, int]] = {
    "CMSG_LEN": (0, 2),
    "CMSG_SPACE": (0, 2),
    "htons": (0, 2),
    "ntohs": (0, 2),
    "htonl": (0, 2),
    "ntohl": (0, 2),
    "inet_aton": (0, 2),
    "inet_ntoa": (0, 2),
    "inet_pton": (0, 3),
    "inet_ntop": (0, 3),
    "getservbyname": (0, 3),
    "getservbyport": (0, 3),
    "getprotobyname": (0, 2),
    "if_nametoindex": (0, 2),
    "if_indextoname": (0, 2),
    "if_nameindex": (0, 1),
    "gethostname": (0, 1),
    "getnameinfo": (0, 3),
    "socketpair": (0, 4),
    "socket": (0, 3),
}


def outcome(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 -- the comparison is the point
        return type(exc).__name__, str(exc)
    return "ok", ""


def _close(value: object) -> None:
    """Close what a call returned (accept, dup, socketpair, socket) so nothing leaks."""
    if isinstance(value, tuple):
        for item in value:
            _close(item)
    elif hasattr(value, "close") and hasattr(value, "fileno"):
        value.close()


def left_queued(sock: Any) -> str:
    """What a call left queued on *sock* (read without waiting)."""
    if sock.fileno() == -1:
        return "closed"
    try:
        sock.setblocking(False)
        return repr(sock.recv(100))
    except Exception as exc:  # noqa: BLE001 -- compared, not handled
        return type(exc).__name__


def socket_outcome(
    make: Callable[[], tuple[Any, Any]], name: str, args: list[object], close_fd: Callable[[int], None] = os.close
) -> tuple[str, str, str]:
    a, b = make()
    with a, b:
        a.setblocking(False)
        b.sendall(b"queued")
        result: list[object] = []

        def call() -> None:
            result.append(getattr(a, name)(*args))

        got = outcome(call)
        for value in result:
            if name == "detach" and isinstance(value, int):
                close_fd(value)  # the caller owns a detached fd
            _close(value)
        return got + (left_queued(a),)


def module_outcome(module: Any, name: str, args: list[object]) -> tuple[str, str]:
    result: list[object] = []

    def call() -> None:
        result.append(getattr(module, name)(*args))

    got = outcome(call)
    for value in result:
        _close(value)
    return got


@st.composite
def calls(draw: st.DrawFn, table: dict[str, tuple[int, int]]) -> tuple[str, list[object]]:
    name = draw(st.sampled_from(sorted(table)))
    low, high = table[name]
    count = draw(st.integers(low, high))
    makers = draw(st.lists(st.sampled_from(VALUES), min_size=count, max_size=count))
    return name, [make() for make in makers]


_ARITY = re.compile(r"(takes|expected|missing|positional).*(argument|given|got)")

#: The classes of mismatch the fuzzer found, each pinned by a strict xfail in
#: ``test_known_mismatch``; all fixed so far (the cases stay as regression tests).
KNOWN_BUGS: dict[str, str] = {}


#: Functions that read the machine's own tables: the fake kernel has its own
#: (a small services/protocols database, one interface: ``lo``, index 1).
_MACHINE_TABLES = ("getservbyname", "getservbyport", "getprotobyname", "if_indextoname", "if_nametoindex")


def fake_differs_by_design(name: str, ours: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    """The fake kernel says so when a call needs what it does not model, and a
    lookup in its own tables may find what the host's does not (or the reverse):
    both past the argument parsing, one answering and the other ``OSError``."""
    if ours[0] == "NotImplementedError":
        return True
    return (
        name.split("(")[0] in _MACHINE_TABLES
        and "OSError" in (ours[0], theirs[0])
        and {ours[0], theirs[0]} <= {"ok", "OSError"}
    )


def compare(
    net: Binding, name: str, args: list[object], ours: tuple[str, ...], theirs: tuple[str, ...]
) -> None:
    if ours == theirs:
        return
    if ours[0] == theirs[0] != "ok" and ours[0] in ("TypeError", "ValueError", "OverflowError"):
        # An argument error: nothing may have been consumed, whatever the wording.
        assert ours[2:] == theirs[2:], f"{name}{tuple(args)!r}: sansock left {ours[2:]}, stdlib {theirs[2:]}"
    if isinstance(net.driver, sansock_fake_kernel()) and fake_differs_by_design(name, ours, theirs):
        return
    if ours[0] == theirs[0] == "TypeError" and _ARITY.search(theirs[1]):
        return  # a wrong argument count: the type matches, Python words it differently
    raise AssertionError(f"{name}{tuple(args)!r}: sansock {ours} != stdlib {theirs}")


@pytest.fixture
def in_tmp(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """bind() to a random relative path creates a socket file: do it in scratch dirs,
    one per side so that the two sides do not see each other's files."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@settings(max_examples=scaled(300, 6000), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(call=calls(METHODS))
def test_random_method_arguments_match_stdlib(net: Binding, in_tmp: Any, call: tuple[str, list[object]]) -> None:
    name, args = call
    assume(not allocates_huge(name, args))
    scratch = tempfile.mkdtemp(dir=in_tmp)
    os.chdir(scratch)
    os.mkdir("ours")
    os.mkdir("theirs")
    os.chdir("ours")
    kernel: Any = None
    if isinstance(net.driver, sansock_fake_kernel()):
        # A fresh kernel per example, as each example gets fresh directories:
        # AF_UNIX path names outlive their sockets in a kernel's namespace.
        kernel = sansock_fake_kernel()()
        net = sansock.using(kernel)
    ours = socket_outcome(net.socketpair, name, args, net.close)
    if kernel is not None:
        assert kernel.open_fds() == [], "the call leaked fake fds"
    os.chdir("../theirs")
    theirs = socket_outcome(stdlib.socketpair, name, args)
    compare(net, name, args, ours, theirs)


def sansock_fake_kernel() -> type:
    from sansock_fake import FakeKernel

    return FakeKernel


@settings(max_examples=scaled(300, 6000), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(call=calls(FUNCTIONS))
def test_random_module_function_arguments_match_stdlib(net: Binding, call: tuple[str, list[object]]) -> None:
    name, args = call
    ours = module_outcome(net, name, args)
    theirs = module_outcome(stdlib, name, args)
    compare(net, name, args, ours, theirs)


KNOWN_CASES: list[tuple[str, str, Callable[[Any], object], bool]] = [
    # (bug class, label, call on a socket (True) or on the module (False))
    ("converterr-name", "recv_into(None)", lambda s: s.recv_into(None), True),
    ("tp-name", "getprotobyname(array)", lambda m: m.getprotobyname(array.array("i")), False),
    ("tp-name", "htonl(array)", lambda m: m.htonl(array.array("i")), False),
    ("non-contiguous", "sendto(strided, 2)", lambda s: s.sendto(_strided(), 2), True),
    ("non-contiguous", "sendall(strided, ())", lambda s: s.sendall(_strided(), ()), True),
    ("set_inheritable", "set_inheritable(object())", lambda s: s.set_inheritable(object()), True),
    ("set_inheritable", "set_inheritable(2**32)", lambda s: s.set_inheritable(2**32), True),
    ("arity-order", "setsockopt(2**63, 2, b'x', 4)", lambda s: s.setsockopt(2**63, 2, b"x", 4), True),
    ("if_indextoname", "if_indextoname(-2**31-1)", lambda m: m.if_indextoname(-(2**31) - 1), False),
    ("if_indextoname", "if_indextoname(2**63)", lambda m: m.if_indextoname(2**63), False),
    ("if_indextoname", "if_indextoname(2**70)", lambda m: m.if_indextoname(2**70), False),
    ("if_nametoindex-nul", "if_nametoindex('\\0')", lambda m: m.if_nametoindex("\0"), False),
    ("index-fast-path", "recv(Weird())", lambda s: s.recv(Weird()), True),
    ("index-fast-path", "send(b'x', Weird())", lambda s: s.send(b"x", Weird()), True),
    ("index-fast-path", "getsockopt(Weird(), 2)", lambda s: s.getsockopt(Weird(), 2), True),
    ("optional-none", "getservbyport(80, None)", lambda m: m.getservbyport(80, None), False),
    ("optional-none", "getservbyname('http', None)", lambda m: m.getservbyname("http", None), False),
    ("socketpair-minus-one", "socketpair(AF_UNIX, -1)", lambda m: m.socketpair(1, -1), False),
    # issue 12 items 1 and 3: number-likes on the native fast paths
    ("number-like", "recv(Decimal('5.5'))", lambda s: s.recv(Decimal("5.5")), True),
    ("number-like", "recv(IntOnly())", lambda s: s.recv(IntOnly()), True),
    ("number-like", "send(b'x', Decimal('0.7'))", lambda s: s.send(b"x", Decimal("0.7")), True),
    ("number-like", "getsockopt(Decimal('1.2'), Decimal('3.9'))",
     lambda s: s.getsockopt(Decimal("1.2"), Decimal("3.9")), True),
    ("number-like", "recv_into(bytearray(4), Fraction(7, 2))", lambda s: s.recv_into(bytearray(4), Fraction(7, 2)), True),
    ("lying-int", "recv_into(bytearray(4), LyingInt(200000))",
     lambda s: s.recv_into(bytearray(4), LyingInt(200_000)), True),
    ("lying-int", "recvmsg(5, LyingInt(-1))", lambda s: s.recvmsg(5, LyingInt(-1)), True),
    ("setsockopt-iii-first", "setsockopt(0, 0, Weird())", lambda s: s.setsockopt(0, 0, Weird()), True),
    ("setsockopt-four-arguments", "setsockopt(0, 0, 0, None)", lambda s: s.setsockopt(0, 0, 0, None), True),
    ("setsockopt-four-arguments", "setsockopt(0, 0, None, None)", lambda s: s.setsockopt(0, 0, None, None), True),
    # make stress: the unsigned long converters compared the caller's int subclass
    ("lying-int", "htonl(LyingInt(0))", lambda m: m.htonl(LyingInt(0)), False),
    ("lying-int", "ntohl(LyingInt(4))", lambda m: m.ntohl(LyingInt(4)), False),
    ("lying-int", "htonl(LyingInt(2**32))", lambda m: m.htonl(LyingInt(2**32)), False),
    ("lying-int", "if_indextoname(LyingInt(0))", lambda m: m.if_indextoname(LyingInt(0)), False),
    ("lying-int", "if_indextoname(LyingInt(2**70))", lambda m: m.if_indextoname(LyingInt(2**70)), False),
    # make stress: the fake's getnameinfo took unknown flags and NI_NUMERICHOST|NI_NAMEREQD
    ("getnameinfo-flags", "getnameinfo(('127.0.0.1', 0), 200000)",
     lambda m: m.getnameinfo(("127.0.0.1", 0), 200_000), False),
    ("getnameinfo-flags", "getnameinfo(('127.0.0.1', 0), NI_NUMERICHOST | NI_NAMEREQD)",
     lambda m: m.getnameinfo(("127.0.0.1", 0), 9), False),
]


@pytest.mark.parametrize(
    "bug, label, call, on_socket",
    [pytest.param(*case, id=case[1], marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case[0]])]
                  if case[0] in KNOWN_BUGS else [])
     for case in KNOWN_CASES],
)
def test_known_mismatch(net: Binding, bug: str, label: str, call: Callable[[Any], object], on_socket: bool) -> None:
    """What the fuzzer found, pinned: the stdlib's outcome is the expected one.

    Cases whose class is still in KNOWN_BUGS are strict xfails; the others
    were fixed and stay as regression tests."""
    if on_socket:
        a, b = net.socketpair()
        c, d = stdlib.socketpair()
        with a, b, c, d:
            a.setblocking(False)
            c.setblocking(False)
            ours, theirs = outcome(lambda: call(a)), outcome(lambda: call(c))
    else:
        ours, theirs = module_outcome_of(net, call), module_outcome_of(stdlib, call)
    fake = isinstance(net.driver, sansock_fake_kernel())
    if ours != theirs and fake and fake_differs_by_design(label, ours, theirs):
        pytest.skip(f"the fake kernel does not model this: {ours[1]}")
    assert ours == theirs


def module_outcome_of(module: Any, call: Callable[[Any], object]) -> tuple[str, str]:
    result: list[object] = []
    got = outcome(lambda: result.append(call(module)))
    for value in result:
        _close(value)
    return got


def test_module_level_api_is_the_binding() -> None:
    """The fuzzed surface is the module's: sansock's functions are the default binding's."""
    for name in FUNCTIONS:
        assert callable(getattr(sansock, name))


# -- hostile host arguments of the resolver functions (issue 12 item 7) -------------------
#
# gethostbyname, gethostbyname_ex and gethostbyaddr parse their host with "et" and
# the idna codec, getaddrinfo with the idna codec, getnameinfo with "s": random
# names built from the pieces that trip those parsers (empty and 63+ character
# labels, NUL, lone surrogates, characters nameprep maps to nothing, the
# ideographic full stop the codec splits on) in every type the parsers meet.
# sansock runs on a driver whose resolver entry points raise ResolverReached, so
# on both drivers a call either fails in its argument parsing -- then it must be
# the stdlib's exception, type and message -- or reaches the resolver, and then
# the stdlib must have got past its parsing too (its outcome is an answer or a
# resolver error, never a TypeError/ValueError/UnicodeError).  sansock itself
# looks nothing up, so the run is deterministic; what the stdlib looks up ends in
# ".invalid" (RFC 6761: never a real name).  End-to-end answers of valid names are
# compared in test_defects_module.py.


class ResolverReached(BaseException):
    """A call got past its argument parsing and asked the resolver."""


class NoResolver:
    """The wrapped driver, except that its resolver entry points raise ResolverReached."""

    RESOLVER = ("getaddrinfo", "getnameinfo", "gethostbyname_ex", "gethostbyaddr")

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    def __getattr__(self, name: str) -> Any:
        if name in self.RESOLVER:
            def reached(*args: object) -> Any:
                raise ResolverReached(name)
            return reached
        return getattr(self._driver, name)


class HostStr(str):
    pass


class HostBytes(bytes):
    pass


_HOST_PIECES = ["a", "b", "Z", "0", "9", "-", "xn--", " ", "_", "é", "ß", "\x80", "\udc80",
                "\0", "\u3002", "\u200d", "\u00ad", "\ufb01", "."]

#: Outcomes that mean "parsed fine, then resolved (or failed to)".
_RESOLVER_OUTCOMES = {"ok", "OSError", "gaierror", "herror"}

_HOST_CALLS: dict[str, Callable[[Any, object], object]] = {
    "gethostbyname": lambda m, host: m.gethostbyname(host),
    "gethostbyname_ex": lambda m, host: m.gethostbyname_ex(host),
    "gethostbyaddr": lambda m, host: m.gethostbyaddr(host),
    "getaddrinfo": lambda m, host: m.getaddrinfo(host, 80),
    "getnameinfo": lambda m, host: m.getnameinfo((host, 80), m.NI_NUMERICHOST | m.NI_NUMERICSERV),
}


@st.composite
def hostile_hosts(draw: st.DrawFn) -> object:
    label = st.one_of(
        st.lists(st.sampled_from(_HOST_PIECES), max_size=5).map("".join),
        st.integers(60, 66).map(lambda n: "a" * n),
    )
    name = ".".join(draw(st.lists(label, min_size=1, max_size=4))) + ".invalid"
    kind = draw(st.sampled_from(
        ["str", "str", "str", "HostStr", "bytes", "bytes", "HostBytes", "bytearray", "memoryview",
         "None", "int", "float", "list"]
    ))
    raw = name.encode("utf-8", "surrogatepass")
    made: dict[str, Callable[[], object]] = {
        "str": lambda: name,
        "HostStr": lambda: HostStr(name),
        "bytes": lambda: raw,
        "HostBytes": lambda: HostBytes(raw),
        "bytearray": lambda: bytearray(raw),
        "memoryview": lambda: memoryview(raw),
        "None": lambda: None,
        "int": lambda: len(name),
        "float": lambda: 1.5,
        "list": lambda: [name],
    }
    return made[kind]()


def host_outcome(module: Any, func: str, host: object) -> tuple[str, str]:
    try:
        _HOST_CALLS[func](module, host)
    except ResolverReached:
        return "resolver", ""
    except Exception as exc:  # noqa: BLE001 -- the comparison is the point
        return type(exc).__name__, str(exc)
    return "ok", ""


@settings(max_examples=scaled(150, 4000), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(func=st.sampled_from(sorted(_HOST_CALLS)), host=hostile_hosts())
def test_random_host_arguments_match_stdlib(net: Binding, func: str, host: object) -> None:
    """Issue 12 item 7: the resolver functions parse a host as the stdlib does."""
    ours = host_outcome(sansock.using(NoResolver(net.driver)), func, host)
    theirs = host_outcome(stdlib, func, host)
    if ours[0] == "resolver":
        assert theirs[0] in _RESOLVER_OUTCOMES, f"{func}({host!r}): sansock looked it up, stdlib {theirs}"
    else:
        assert ours == theirs, f"{func}({host!r}): sansock {ours} != stdlib {theirs}"
