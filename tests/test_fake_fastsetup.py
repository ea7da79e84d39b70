"""The fake kernel's TCP setup fast work (issue 13, "fakeperf2") changes nothing a test can see.

What was made cheaper, and what each test holds to:

* ``Resolver.getaddrinfo`` remembers the answers for a numeric host (or none):
  they equal a fresh computation, a caller cannot change them through the list
  it got, errors are raised every time, host names are looked up afresh, and
  arguments of another type than exact ``bytes``/``int`` are not remembered.
* ``Families.create`` remembers ``socket()``'s protocol choice per exact
  (family, type, protocol, uid); errors are not remembered, and the uid counts.
* ``Packet`` is set directly (not a frozen class): still compared and hashed
  by value, and ``attrs.evolve`` works on it (the simulated network uses it).
* The trace's outcome of a tuple or None result is what ``_summary`` gives.
* ``getsockname``/``accept`` addresses come from a per-protocol cache keyed by
  the (frozen) name: IPv6 flow labels and scopes stay apart.

Driver level: these are the fake kernel's own properties.
"""

from __future__ import annotations

import struct
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansock._profiles import LINUX_X86_64 as ABI
from sansock.driver import gaierror
from sansock_fake import FakeKernel, _syscall
from sansock_fake._addresses import InetName, build_inet
from sansock_fake._inet import InetOps, Packet
from sansock_fake._resolver import Resolver
from sansock_fake._tcp_output import ACK, SYN, Segment

C = ABI.const
AF_INET, AF_INET6, AF_UNSPEC = C("AF_INET"), C("AF_INET6"), C("AF_UNSPEC")
STREAM, DGRAM = C("SOCK_STREAM"), C("SOCK_DGRAM")
IPPROTO_TCP = C("IPPROTO_TCP")
SOL_SOCKET, SO_PROTOCOL = C("SOL_SOCKET"), C("SO_PROTOCOL")


class Int(int):
    pass


def fresh(host: bytes | None, port: bytes | None, family: int, type_: int, proto: int, flags: int) -> object:
    """The answer (or the error) of a resolver that never answered before."""
    try:
        return Resolver(ABI).getaddrinfo(host, port, family, type_, proto, flags)
    except gaierror as exc:
        return ("gaierror", exc.args)


@given(
    host=st.sampled_from([None, b"127.0.0.1", b"127.1", b"::1", b"fe80::1%lo", b"10.0.0.7", b"0x7f000001", b"*"]),
    port=st.sampled_from([None, b"80", b"0", b"http", b"echo", b"-1", b"70000", b""]),
    family=st.sampled_from([AF_UNSPEC, AF_INET, AF_INET6, 99]),
    type_=st.sampled_from([0, STREAM, DGRAM, 3]),
    flags=st.sampled_from([0, C("AI_PASSIVE"), C("AI_CANONNAME"), C("AI_V4MAPPED"), C("AI_NUMERICSERV"), 0x10000]),
)
def test_remembered_numeric_answers_equal_fresh_ones(
    host: bytes | None, port: bytes | None, family: int, type_: int, flags: int
) -> None:
    resolver = Resolver(ABI)
    expected = fresh(host, port, family, type_, 0, flags)
    for _ in range(3):
        try:
            got: object = resolver.getaddrinfo(host, port, family, type_, 0, flags)
        except gaierror as exc:
            got = ("gaierror", exc.args)
        assert got == expected


def test_a_caller_cannot_change_a_remembered_answer() -> None:
    resolver = Resolver(ABI)
    first = resolver.getaddrinfo(b"127.0.0.1", b"80", AF_INET, STREAM, 0, 0)
    expected = list(first)
    first.clear()
    assert resolver.getaddrinfo(b"127.0.0.1", b"80", AF_INET, STREAM, 0, 0) == expected
    second = resolver.getaddrinfo(b"127.0.0.1", b"80", AF_INET, STREAM, 0, 0)
    second.append(second[0])
    assert resolver.getaddrinfo(b"127.0.0.1", b"80", AF_INET, STREAM, 0, 0) == expected


def test_host_names_are_looked_up_afresh() -> None:
    kernel = FakeKernel()
    resolver = kernel.resolver
    resolver.add("svc.example", "10.0.0.1")
    first = resolver.getaddrinfo(b"svc.example", b"80", AF_INET, STREAM, 0, 0)
    resolver.add("svc.example", "10.0.0.2")
    second = resolver.getaddrinfo(b"svc.example", b"80", AF_INET, STREAM, 0, 0)
    assert len(first) == 1 and len(second) == 2
    # The host name itself resolves through the hosts table, which can change too.
    resolver.hostname = b"other"
    with pytest.raises(gaierror):
        resolver.getaddrinfo(b"fakehost", b"80", AF_INET, STREAM, 0, 0)


def test_int_subclasses_are_answered_as_before() -> None:
    """SOCK_RAW answers the protocol asked for: an int subclass comes back as itself, never
    as a remembered plain int (and a plain int never as a remembered subclass)."""
    resolver = Resolver(ABI)
    raw = C("SOCK_RAW")
    plain = resolver.getaddrinfo(b"127.0.0.1", None, AF_INET, raw, 7, 0)
    sub = resolver.getaddrinfo(b"127.0.0.1", None, AF_INET, raw, Int(7), 0)
    again = resolver.getaddrinfo(b"127.0.0.1", None, AF_INET, raw, 7, 0)
    assert [type(info[2]) for info in plain] == [int] == [type(info[2]) for info in again]
    assert [type(info[2]) for info in sub] == [Int]


def test_errors_are_raised_every_time() -> None:
    resolver = Resolver(ABI)
    for _ in range(3):
        with pytest.raises(gaierror) as info:
            resolver.getaddrinfo(b"127.0.0.1", b"80", AF_INET, STREAM, 0, 0x10000)
        assert info.value.args[0] == -1  # EAI_BADFLAGS


def test_socket_protocol_choice_is_remembered_per_uid_and_errors_are_not() -> None:
    kernel = FakeKernel()
    for _ in range(2):
        fd = kernel.socket(AF_INET, STREAM, 0)
        assert kernel.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP
        kernel.close(fd)
    for _ in range(2):
        with pytest.raises(PermissionError):  # ping sockets: EACCES
            kernel.socket(AF_INET, DGRAM, C("IPPROTO_ICMP"))
    raw = C("SOCK_RAW")
    kernel.uid = 1000
    for _ in range(2):
        with pytest.raises(PermissionError):  # EPERM without CAP_NET_RAW
            kernel.socket(AF_INET, raw, 0)
    kernel.uid = 0
    with pytest.raises(NotImplementedError):  # root may; the fake does not model raw IP
        kernel.socket(AF_INET, raw, 0)
    # A privileged port: the uid is part of what bind checks, not socket(); socket()
    # answers the same for both uids once remembered.
    for uid in (0, 1000, 0):
        kernel.uid = uid
        fd = kernel.socket(AF_INET, STREAM, IPPROTO_TCP)
        assert kernel.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP
        kernel.close(fd)


def test_packets_compare_and_hash_by_value_and_evolve() -> None:
    src, dst = InetName(AF_INET, b"\x7f\0\0\1", 40000), InetName(AF_INET, b"\x7f\0\0\1", 80)
    one = Packet(AF_INET, 6, src, dst, Segment(SYN), 0)
    two = Packet(AF_INET, 6, src, dst, Segment(SYN), 0)
    assert one == two and hash(one) == hash(two) and one is not two
    assert one != Packet(AF_INET, 6, src, dst, Segment(SYN | ACK), 0)
    back = attrs.evolve(one, src=one.dst, dst=one.src)
    assert (back.src, back.dst, back.payload, back.cscov) == (dst, src, Segment(SYN), 0)
    assert one in [two] and {one: 1}[two] == 1


@given(st.lists(st.one_of(
    st.integers(), st.booleans(), st.binary(max_size=40), st.binary(max_size=4).map(bytearray), st.none(),
    st.text(max_size=3), st.tuples(st.integers(), st.binary(max_size=3)),
), max_size=4).map(tuple))
def test_tuple_outcomes_are_the_summary(result: tuple[object, ...]) -> None:
    assert _syscall._outcome(result) == f"ok {_syscall._summary(result)}"


def test_none_outcome_is_the_summary() -> None:
    assert _syscall._outcome(None) == f"ok {_syscall._summary(None)}" == "ok None"


def sockaddr_in6(port: int, flowinfo: int) -> bytes:
    return struct.pack("=H", AF_INET6) + struct.pack("!HI", port, flowinfo) + bytes(15) + b"\1" + struct.pack("=I", 0)


def test_inet6_names_with_flow_labels_stay_apart() -> None:
    """The remembered addresses are keyed by the whole name: each socket's
    getsockname/getpeername/accept address is what ``build_inet`` makes of it."""
    kernel = FakeKernel()
    listener = kernel.socket(AF_INET6, STREAM, 0)
    kernel.bind(listener, sockaddr_in6(0, 0))
    kernel.listen(listener, 8)
    port = struct.unpack("!H", kernel.getsockname(listener)[2:4])[0]
    for flowinfo in (0, 5, 0, 5):
        client = kernel.socket(AF_INET6, STREAM, 0)
        addr = sockaddr_in6(port, flowinfo)
        kernel.connect(client, addr)
        server, peer = kernel.accept(listener, 0)
        csock, ssock = kernel._sock(client), kernel._sock(server)
        assert isinstance(csock.peer_name, InetName) and isinstance(ssock.peer_name, InetName)
        assert kernel.getpeername(client) == build_inet(ABI, csock.peer_name)
        assert peer == kernel.getpeername(server) == build_inet(ABI, ssock.peer_name)
        for fd in (client, server):
            assert kernel.getsockname(fd) == build_inet(ABI, kernel._sock(fd).name)  # type: ignore[arg-type]
        for fd in (client, server):
            kernel.close(fd)


def test_remembered_parsed_names_equal_fresh_ones_and_errors_repeat() -> None:
    """``InetOps.parse`` remembers a name per (exact bytes, for_bind): connect and bind
    read the same as before, and a bad address fails every time."""
    kernel = FakeKernel()
    ops = kernel._families.create(AF_INET, STREAM, 0)[0]
    assert isinstance(ops, InetOps)
    good = struct.pack("=H", AF_INET) + struct.pack("!H", 80) + b"\x7f\0\0\1" + bytes(8)
    unspec_any = struct.pack("=H", AF_UNSPEC) + bytes(14)
    sock = kernel._sock(kernel.socket(AF_INET, STREAM, 0))
    for _ in range(2):
        assert ops.parse(sock, good, for_bind=False) == InetName(AF_INET, b"\x7f\0\0\1", 80)
        assert ops.parse(sock, unspec_any, for_bind=True) == InetName(AF_INET, bytes(4), 0)
        with pytest.raises(OSError) as info:
            ops.parse(sock, unspec_any, for_bind=False)
        assert info.value.errno == ABI.errno("EAFNOSUPPORT")
        with pytest.raises(OSError):
            ops.parse(sock, good[:8], for_bind=False)
    # A bytearray is read as itself each time (not remembered: it can change).
    raw = bytearray(good)  # what a caller bypassing the syscall layer might pass
    read: Any = ops.parse
    assert read(sock, raw, for_bind=False).port == 80
    raw[2:4] = struct.pack("!H", 81)
    assert read(sock, raw, for_bind=False).port == 81
