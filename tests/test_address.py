"""Address codecs: the host's CPython 3.11 as the oracle for parse errors,
hand-checked byte layouts from the C headers, and round trips for every
family on every ABI profile."""

from __future__ import annotations

import socket as stdlib_socket
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansock._abi import ABI
from sansock._address import (
    decode_address,
    encode_address,
    sockaddr_family,
    sockaddr_len,
)
from sansock._driver import AddrInfo
from sansock._errors import gaierror
from sansock._profiles import LINUX_X86_64, PROFILES

LINUX = LINUX_X86_64
# A BSD-layout personality (until a darwin profile lands): sa_len byte,
# 1-byte family, AF_INET6 = 30, 104-byte sun_path.
BSD = attrs.evolve(
    LINUX,
    name="test-bsd",
    sockaddr=attrs.evolve(
        LINUX.sockaddr,
        has_sa_len=True,
        sun_path_size=104,
        sizes={"sockaddr": 16, "sockaddr_in": 16, "sockaddr_in6": 28, "sockaddr_un": 106},
    ),
    constants={**LINUX.constants, "AF_INET6": 30},
)
ALL_ABIS = [*PROFILES.values(), BSD]
ABI_IDS = [abi.name for abi in ALL_ABIS]


class FakeServices:
    """glibc's answers for 'localhost', the wildcard and unknown names, and a
    two-interface table."""

    def __init__(self, abi: ABI) -> None:
        self.abi = abi
        self.calls: list[tuple[object, ...]] = []

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        self.calls.append((host, port, family, type, proto, flags))
        af_inet, af_inet6 = self.abi.const("AF_INET"), self.abi.const("AF_INET6")
        if host is None:
            ip = "0.0.0.0" if family == af_inet else "::"
        elif host == b"localhost" and family == af_inet:
            ip = "127.0.0.1"
        elif host.startswith(b"fe80::1%"):
            if host[8:] != b"lo":
                raise gaierror(-2, "Name or service not known")
            ip = "fe80::1"
        else:
            raise gaierror(-2, "Name or service not known")
        address = (ip, 0) if family == af_inet else (ip, 0, 0, 1)
        raw = encode_address(family, address, self.abi, "getaddrinfo", self)
        return [(family, 2, 17, "", raw)]

    def if_nametoindex(self, name: bytes) -> int:
        table = {b"lo": 1, b"eth0": 2}
        if name not in table:
            raise OSError(19, "No such device")
        return table[name]

    def if_indextoname(self, index: int) -> bytes:
        table = {1: b"lo", 2: b"eth0"}
        if index not in table:
            raise OSError(6, "No such device or address")
        return table[index]


def outcome(func: Callable[..., Any], *args: object) -> tuple[str, object]:
    try:
        return ("ok", func(*args))
    except OSError as exc:
        if exc.errno is not None and not isinstance(exc, gaierror):
            return ("ok", "kernel error")  # parsing passed; the kernel answered
        return (type(exc).__name__, str(exc))
    except Exception as exc:  # noqa: BLE001
        return (type(exc).__name__, str(exc))


def stdlib_outcome(family: int, type_: int, method: str, address: object) -> tuple[str, object]:
    sock = stdlib_socket.socket(family, type_)
    try:
        result = outcome(getattr(sock, method), address)
    finally:
        sock.close()
    return ("ok", "kernel error") if result[0] == "ok" else result


def our_outcome(family: int, method: str, address: object) -> tuple[str, object]:
    result = outcome(encode_address, family, address, LINUX, method, FakeServices(LINUX))
    return ("ok", "kernel error") if result[0] == "ok" else result


class Weird:
    def __index__(self) -> int:
        return 7


INET_CASES: list[object] = [
    ("127.0.0.1", 0), ["127.0.0.1", 0], "127.0.0.1", None, ("127.0.0.1",), ("127.0.0.1", 0, 0),
    ("127.0.0.1", -1), ("127.0.0.1", 65536), ("127.0.0.1", 2**31), ("127.0.0.1", 2**70),
    ("127.0.0.1", "80"), ("127.0.0.1", 80.0), ("127.0.0.1", None), ("127.0.0.1", Weird()),
    (None, 0), (1, 0), (memoryview(b"x"), 0), (b"127.0.0.1", 0), (bytearray(b"127.0.0.1"), 0),
    ("127.0.0.1\x00", 0), ("localhost", 0), ("localhost", 70000), ("", 0), ("", -1),
    ("<broadcast>", 0), ("255.255.255.255", 0), ("\udcff", 0), ("bücher.example", 2**70),
    ("x" * 64 + "\xe9", 0), (b"\xff\x00", 0), ("127.0.0.1", True),
]
INET6_CASES: list[object] = [
    ("::1", 0), ("::1", 0, 0, 0), ("::1", 0, 1048575), ("::1", 0, 1048576), ("::1", 0, -1),
    ("::1", 0, -10), ("::1", 0, 0, -1), ("::1", 0, 0, 2**32), ("::1", 0, 0, 0, 0), ("::1",),
    ("::1", -1), ("::1", 65536, 2**21), ("::1", 2**40), ("::1", 0, "x"), ("::1", 0, 0, 1.5),
    ["::1", 0], "::1", ("", 0), ("<broadcast>", 0), ("255.255.255.255", 0), (None, 0),
    ("::1\x00", 0), ("::1", 0, 2**32 + 5), ("::ffff:1.2.3.4", 0),
]
UNIX_CASES: list[object] = [
    "/nonexistent/x", b"/nonexistent/x", bytearray(b"/nonexistent"), memoryview(b"/nonexistent"),
    "\0abstract", b"\0" * 108, b"\0" * 109, "/" + "x" * 106, "/" + "x" * 107, b"x" * 200,
    1, None, ("x",), "/non\udcffexistent", "\ud800", b"a\0b", 1.5,
]


@pytest.mark.parametrize("address", INET_CASES, ids=repr)
def test_inet_errors_match_stdlib(address: object) -> None:
    ours = our_outcome(stdlib_socket.AF_INET, "bind", address)
    assert ours == stdlib_outcome(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM, "bind", address)


@pytest.mark.parametrize("address", INET6_CASES, ids=repr)
def test_inet6_errors_match_stdlib(address: object) -> None:
    ours = our_outcome(stdlib_socket.AF_INET6, "connect", address)
    assert ours == stdlib_outcome(stdlib_socket.AF_INET6, stdlib_socket.SOCK_DGRAM, "connect", address)


@pytest.mark.parametrize("address", UNIX_CASES, ids=repr)
def test_unix_errors_match_stdlib(address: object) -> None:
    # connect, not bind: a parse that passes must not create files.
    ours = our_outcome(stdlib_socket.AF_UNIX, "connect", address)
    assert ours == stdlib_outcome(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_DGRAM, "connect", address)


def _can_create(family_name: str, type_: int) -> bool:
    family = getattr(stdlib_socket, family_name, None)
    if family is None:
        return False
    try:
        stdlib_socket.socket(family, type_).close()
    except OSError:
        return False
    return True


LINUX_FAMILY_CASES: list[tuple[str, int, list[object]]] = [
    ("AF_NETLINK", stdlib_socket.SOCK_DGRAM, [(0, 0), (1.0, 0), ("1", 0), (2**40, 0), (-1, 0), (1,), (1, 2, 3), [1, 2], None]),
    ("AF_VSOCK", stdlib_socket.SOCK_STREAM, [(1.0, 0), (1,), (1, 2, 3), [1, 2], ("x", 1)]),
    (
        "AF_PACKET",
        stdlib_socket.SOCK_DGRAM,
        [
            ("lo", 0), ("lo",), ("lo", 1, 2, 3, b"", 5), [b"lo", 0], (b"lo", 0), ("lo", 2**31),
            ("lo", 0, 2**40), ("lo", "x"), ("lo", 0, 0, 0, "abc"), ("lo", 0, 0, 0, b"123456789"),
            ("lo", 70000), ("lo", -1), ("nosuchif0", 0), ("lo\x00", 0), (None, 0),
            ("lo", 0, 0, 0, b"12345678"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("family_name", "type_", "address"),
    [(name, t, a) for name, t, cases in LINUX_FAMILY_CASES for a in cases],
    ids=repr,
)
def test_linux_family_errors_match_stdlib(family_name: str, type_: int, address: object) -> None:
    if not _can_create(family_name, type_):
        pytest.skip(f"this kernel cannot create {family_name} sockets")
    family = getattr(stdlib_socket, family_name)
    ours = outcome(encode_address, family, address, LINUX, "connect", FakeServices(LINUX))
    if ours[0] == "ok":
        ours = ("ok", "kernel error")
    if address == ("nosuchif0", 0):
        ours = ("ok", "kernel error")  # both fail in SIOCGIFINDEX with ENODEV
    assert ours == stdlib_outcome(family, type_, "connect", address)


# -- exact layouts from the headers -------------------------------------------


def test_sockaddr_in_layout() -> None:
    # <netinet/in.h>: sa_family_t (host order), in_port_t (network), in_addr, zero[8]
    raw = encode_address(2, ("1.2.3.4", 0x1234), LINUX, "bind", FakeServices(LINUX))
    assert raw == b"\x02\x00\x12\x34\x01\x02\x03\x04" + bytes(8)


def test_sockaddr_in6_layout() -> None:
    raw = encode_address(10, ("::1", 0x1234, 0xABCDE, 0x01020304), LINUX, "bind", FakeServices(LINUX))
    # family, port (network), flowinfo (network), addr, scope_id (host order)
    assert raw == b"\x0a\x00\x12\x34\x00\x0a\xbc\xde" + bytes(15) + b"\x01" + b"\x04\x03\x02\x01"
    assert len(raw) == sockaddr_len(10, LINUX) == 28


def test_sockaddr_un_addrlen() -> None:
    services = FakeServices(LINUX)
    assert encode_address(1, "/tmp/s", LINUX, "bind", services) == b"\x01\x00/tmp/s\x00"
    assert encode_address(1, b"\0ab", LINUX, "bind", services) == b"\x01\x00\x00ab"
    assert encode_address(1, "", LINUX, "bind", services) == b"\x01\x00"  # autobind
    assert len(encode_address(1, "x" * 107, LINUX, "bind", services)) == 110
    assert len(encode_address(1, b"\0" * 108, LINUX, "bind", services)) == 110


def test_bsd_layout_writes_sa_len_and_one_byte_family() -> None:
    services = FakeServices(BSD)
    raw = encode_address(2, ("1.2.3.4", 80), BSD, "bind", services)
    assert raw[:2] == b"\x10\x02" and len(raw) == 16
    raw6 = encode_address(30, ("::1", 80), BSD, "bind", services)
    assert raw6[:2] == b"\x1c\x1e" and len(raw6) == 28
    assert encode_address(1, "/s", BSD, "bind", services) == b"\x05\x01/s\x00"
    # No abstract namespace: '' and a leading NUL are ordinary paths.
    assert encode_address(1, "", BSD, "bind", services) == b"\x03\x01\x00"
    assert decode_address(b"\x05\x01/s\x00", BSD) == "/s"
    assert sockaddr_family(raw6, BSD) == 30
    with pytest.raises(OSError, match="^AF_UNIX path too long$"):
        encode_address(1, "x" * 104, BSD, "bind", services)
    with pytest.raises(OSError, match=r"^bind\(\): bad family$"):
        encode_address(16, (0, 0), BSD, "bind", services)  # no AF_NETLINK there


def test_packet_layout_and_ifname() -> None:
    services = FakeServices(LINUX)
    raw = encode_address(17, ("eth0", 0x0800, 1, 2, b"\xaa\xbb"), LINUX, "bind", services)
    # sockaddr_ll: family, protocol (network), ifindex, hatype, pkttype, halen, addr[8]
    assert raw == b"\x11\x00\x08\x00\x02\x00\x00\x00\x02\x00\x01\x02\xaa\xbb" + bytes(6)
    assert decode_address(raw, LINUX, services) == ("eth0", 0x0800, 1, 2, b"\xaa\xbb")
    assert decode_address(raw, LINUX) == ("", 0x0800, 1, 2, b"\xaa\xbb")
    assert services.if_nametoindex(b"lo") == 1
    # Interface names are cut to IFNAMSIZ - 1 bytes as strncpy + NUL does.
    with pytest.raises(OSError) as info:
        encode_address(17, ("eth0" + "x" * 20, 0), LINUX, "bind", services)
    assert info.value.errno == 19


# -- decoding -------------------------------------------------------------------


def test_decode_special_cases() -> None:
    assert decode_address(b"", LINUX) is None
    assert decode_address(b"\x01\x00", LINUX) == ""  # unbound AF_UNIX getsockname
    assert decode_address(b"\x01\x00\x00abc", LINUX) == b"\x00abc"
    assert decode_address(b"\x01\x00/p\x00junk", LINUX) == "/p"
    assert decode_address(b"\x01\x00/p\xff", LINUX) == "/p\udcff"
    assert decode_address(b"\x63\x00abc", LINUX) == (99, b"abc" + bytes(11))
    assert decode_address(b"\x02\x00\x00\x50\x7f\x00\x00\x01", LINUX) == ("127.0.0.1", 80)
    tipc = encode_address(30, (3, 5, 6, 7), LINUX, "bind", FakeServices(LINUX))
    assert decode_address(tipc, LINUX) == (3, 5, 6, 0, 2)
    with pytest.raises(ValueError, match="^Invalid address type$"):
        decode_address(b"\x1e\x00\x09\x00" + bytes(12), LINUX)


def test_sockaddr_len() -> None:
    assert [sockaddr_len(f, LINUX) for f in (1, 2, 10, 16, 17, 21, 29, 30, 38, 40, 42)] == [
        110, 16, 28, 12, 20, 16, 24, 16, 88, 16, 12,
    ]
    with pytest.raises(OSError, match="^getsockaddrlen: bad family$"):
        sockaddr_len(99, LINUX)
    with pytest.raises(OSError, match=r"^sendto\(\): bad family$"):
        encode_address(99, ("x", 1), LINUX, "sendto", FakeServices(LINUX))


def test_resolution_happens_before_the_port_check() -> None:
    services = FakeServices(LINUX)
    with pytest.raises(gaierror):
        encode_address(2, ("no.such.host", 70000), LINUX, "connect", services)
    assert services.calls == [(b"no.such.host", None, 2, 0, 0, 0)]


def test_wildcard_and_scope_resolution() -> None:
    services = FakeServices(LINUX)
    raw = encode_address(2, ("", 5), LINUX, "bind", services)
    assert decode_address(raw, LINUX) == ("0.0.0.0", 5)
    assert services.calls == [(None, b"0", 2, 2, 0, 1)]  # SOCK_DGRAM, AI_PASSIVE
    raw6 = encode_address(10, ("fe80::1%lo", 5), LINUX, "bind", services)
    # getsockaddrarg overwrites sin6_scope_id with the tuple's (default 0).
    assert decode_address(raw6, LINUX) == ("fe80::1", 5, 0, 0)
    with pytest.raises(gaierror):
        encode_address(10, ("fe80::1%nosuch", 5), LINUX, "bind", services)


def test_wildcard_resolved_to_multiple_addresses() -> None:
    class Twice(FakeServices):
        def getaddrinfo(self, *args: Any) -> list[AddrInfo]:
            return super().getaddrinfo(*args) * 2

    with pytest.raises(OSError, match="^wildcard resolved to multiple address$"):
        encode_address(2, ("", 0), LINUX, "bind", Twice(LINUX))


def test_can_forms() -> None:
    services = FakeServices(LINUX)
    raw = encode_address(29, ("eth0",), LINUX, "bind", services, proto=1)
    assert decode_address(raw, LINUX, services, proto=1) == ("eth0",)
    isotp = encode_address(29, ("lo", 2**32 + 5, 6), LINUX, "bind", services, proto=6)
    assert decode_address(isotp, LINUX, services, proto=6) == ("lo", 5, 6)
    with pytest.raises(OSError, match="^AF_CAN interface name too long$"):
        encode_address(29, ("x" * 16,), LINUX, "bind", services, proto=1)
    with pytest.raises(OSError, match=r"^bind\(\): unsupported CAN protocol$"):
        encode_address(29, ("lo",), LINUX, "bind", services, proto=3)
    with pytest.raises(TypeError, match=r"^function takes exactly 3 arguments \(1 given\)$"):
        encode_address(29, ("lo",), LINUX, "bind", services, proto=6)
    with pytest.raises(TypeError, match="^argument 2 must be int, not None$"):
        encode_address(29, ("lo", None, 1, 2), LINUX, "bind", services, proto=7)


def test_alg_limits() -> None:
    services = FakeServices(LINUX)
    assert decode_address(encode_address(38, ("hash", "sha256"), LINUX, "bind", services), LINUX) == (
        "hash", "sha256", 0, 0,
    )
    with pytest.raises(ValueError, match=r"^AF_ALG type too long\.$"):
        encode_address(38, ("x" * 14, "n"), LINUX, "bind", services)
    with pytest.raises(ValueError, match=r"^AF_ALG name too long\.$"):
        encode_address(38, ("t", "n" * 64), LINUX, "bind", services)
    with pytest.raises(TypeError, match=r"^AF_ALG address must be a tuple \(type, name\[, feat\[, mask\]\]\)$"):
        encode_address(38, (b"t", "n"), LINUX, "bind", services)


# -- round trips on every profile ------------------------------------------------

u32 = st.integers(0, 2**32 - 1)
port = st.integers(0, 65535)
ipv4 = st.binary(min_size=4, max_size=4).map(lambda b: ".".join(str(x) for x in b))
ipv6_words = st.lists(st.sampled_from([0, 0, 1, 0xFFFF, 0xFE80, 0x1234]), min_size=8, max_size=8)
ipv6 = ipv6_words.map(lambda ws: stdlib_socket.inet_ntop(stdlib_socket.AF_INET6, b"".join(w.to_bytes(2, "big") for w in ws)))
path_text = st.text(st.characters(codec="utf-8", blacklist_characters="\0"), min_size=1, max_size=30)


def family_strategies(abi: ABI) -> Iterator[tuple[str, int, st.SearchStrategy[object]]]:
    c = abi.constants
    yield "AF_INET", 0, st.tuples(ipv4, port)
    yield "AF_INET6", 0, st.tuples(ipv6, port, st.integers(0, 0xFFFFF), u32)
    paths = path_text.map(lambda p: "/" + p)
    if abi.sockaddr.has_sa_len:  # no abstract namespace off Linux
        yield "AF_UNIX", 0, paths
        return
    yield "AF_UNIX", 0, st.one_of(paths, st.binary(max_size=100).map(lambda b: b"\0" + b))
    yield "AF_NETLINK", 0, st.tuples(u32, u32)
    yield "AF_VSOCK", 0, st.tuples(u32, u32)
    yield "AF_QIPCRTR", 0, st.tuples(u32, u32)
    yield "AF_PACKET", 0, st.tuples(st.sampled_from(["lo", "eth0"]), port, st.integers(0, 255), port, st.binary(max_size=8))
    yield "AF_TIPC", 0, st.tuples(st.just(c.get("TIPC_ADDR_NAMESEQ", 1)), u32, u32, u32, st.integers(0, 127))
    yield "AF_CAN", c.get("CAN_RAW", 1), st.tuples(st.sampled_from(["lo", "eth0", ""]))
    yield "AF_CAN", c.get("CAN_ISOTP", 6), st.tuples(st.sampled_from(["lo", ""]), u32, u32)
    yield "AF_CAN", c.get("CAN_J1939", 7), st.tuples(st.just("eth0"), st.integers(0, 2**64 - 1), u32, st.integers(0, 255))
    yield "AF_ALG", 0, st.tuples(st.sampled_from(["hash", "skcipher"]), st.text("abcdef()-0123456789", max_size=63), port, port)


ROUND_TRIP_CASES = [
    pytest.param(abi, name, proto, strategy, id=f"{abi.name}-{name}-{proto}")
    for abi in ALL_ABIS
    for name, proto, strategy in family_strategies(abi)
]


@pytest.mark.parametrize(("abi", "name", "proto", "strategy"), ROUND_TRIP_CASES)
def test_round_trip(abi: ABI, name: str, proto: int, strategy: st.SearchStrategy[object]) -> None:
    family = abi.const(name)
    services = FakeServices(abi)

    @settings(max_examples=150, deadline=None)
    @given(strategy)
    def check(address: object) -> None:
        raw = encode_address(family, address, abi, "sendto", services, proto=proto)
        assert sockaddr_family(raw, abi) == (abi.const("AF_INET") if name == "AF_RDS" else family)
        assert decode_address(raw, abi, services, proto=proto) == address

    check()


@settings(max_examples=200)
@given(st.tuples(st.sampled_from([1, 2, 3]), u32, u32, u32, u32))
def test_tipc_decode_is_a_projection(address: tuple[int, int, int, int, int]) -> None:
    services = FakeServices(LINUX)
    once = decode_address(encode_address(30, address, LINUX, "bind", services), LINUX)
    assert decode_address(encode_address(30, once, LINUX, "bind", services), LINUX) == once
