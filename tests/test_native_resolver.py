"""The native driver's resolver and host calls, on localhost and numeric
names only (the test machine has loopback networking only).  The stdlib is
the oracle."""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

import pytest

from sansock._errors import gaierror, herror
from sansock_native import NativeDriver

D = NativeDriver()

pytestmark = [pytest.mark.native_only, pytest.mark.linux_only]


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before


def sin(host: str, port: int) -> bytes:
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(host) + bytes(8)


def test_getaddrinfo_numeric() -> None:
    got = D.getaddrinfo(b"127.0.0.1", b"80", socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    assert got == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sin("127.0.0.1", 80))]


def test_getaddrinfo_matches_stdlib() -> None:
    for host, port, flags in [(b"localhost", b"8080", 0), (None, b"53", socket.AI_PASSIVE), (b"127.0.0.1", None, 0)]:
        ours = D.getaddrinfo(host, port, socket.AF_INET, 0, 0, flags)
        theirs = socket.getaddrinfo(host, port, socket.AF_INET, 0, 0, flags)
        assert [(f, t, p, c) for f, t, p, c, _ in ours] == [(int(f), int(t), p, c) for f, t, p, c, _ in theirs]
        assert [raw for *_, raw in ours] == [sin(*addr) for *_, addr in theirs]


def test_getaddrinfo_canonname() -> None:
    ours = D.getaddrinfo(b"127.0.0.1", None, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
    theirs = socket.getaddrinfo("127.0.0.1", None, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
    assert ours[0][3] == theirs[0][3]


def test_getaddrinfo_errors() -> None:
    with pytest.raises(gaierror) as info:
        D.getaddrinfo(b"not an address", None, socket.AF_INET, 0, 0, socket.AI_NUMERICHOST)
    with pytest.raises(socket.gaierror) as oracle:
        socket.getaddrinfo("not an address", None, socket.AF_INET, 0, 0, socket.AI_NUMERICHOST)
    assert info.value.args == oracle.value.args
    with pytest.raises(gaierror) as info:
        D.getaddrinfo(b"127.0.0.1", b"80", 12345, 0, 0, 0)
    assert info.value.errno == socket.EAI_FAMILY
    with pytest.raises(gaierror):
        D.getaddrinfo(None, None, 0, 0, 0, 0)


def test_getnameinfo() -> None:
    flags = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
    assert D.getnameinfo(sin("127.0.0.1", 8080), flags) == ("127.0.0.1", "8080")
    assert D.getnameinfo(sin("127.0.0.1", 80), 0) == socket.getnameinfo(("127.0.0.1", 80), 0)
    with pytest.raises(gaierror) as info:
        D.getnameinfo(sin("127.0.0.1", 80)[:3], 0)
    assert info.value.errno == socket.EAI_FAMILY


def test_gethostbyname_ex_and_gethostbyaddr() -> None:
    name, aliases, family, addrs = D.gethostbyname_ex(b"localhost")
    oracle = socket.gethostbyname_ex("localhost")
    assert (name, aliases) == oracle[:2] and family == socket.AF_INET
    assert [socket.inet_ntoa(a) for a in addrs] == oracle[2]
    name, aliases, family, addrs = D.gethostbyaddr(socket.inet_aton("127.0.0.1"), socket.AF_INET)
    oracle = socket.gethostbyaddr("127.0.0.1")
    assert (name, aliases, [socket.inet_ntoa(a) for a in addrs]) == oracle


def test_herror() -> None:
    with pytest.raises(herror) as info:
        D.gethostbyaddr(socket.inet_aton("192.0.2.77"), socket.AF_INET)  # TEST-NET-1: no PTR
    assert info.value.errno in (1, 2, 4)  # HOST_NOT_FOUND, TRY_AGAIN, NO_DATA
    assert isinstance(info.value.strerror, str) and info.value.strerror


def test_services_and_protocols() -> None:
    assert D.getservbyname(b"http", b"tcp") == socket.getservbyname("http", "tcp")
    assert D.getservbyname(b"http", None) == 80
    assert D.getservbyname(b"no-such-service", b"tcp") is None
    assert D.getservbyport(80, b"tcp") == socket.getservbyport(80, "tcp")
    assert D.getservbyport(80, None) == socket.getservbyport(80)
    assert D.getservbyport(1, b"no-such-proto") is None
    assert D.getprotobyname(b"udp") == socket.getprotobyname("udp")
    assert D.getprotobyname(b"no-such-proto") is None


def test_host_and_interfaces() -> None:
    assert D.gethostname() == socket.gethostname().encode()
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            D.sethostname(D.gethostname())
    assert D.if_nameindex() == [(i, n.encode()) for i, n in socket.if_nameindex()]
    index = D.if_nametoindex(b"lo")
    assert index == socket.if_nametoindex("lo")
    assert D.if_indextoname(index) == b"lo"
    with pytest.raises(OSError) as info:
        D.if_nametoindex(b"no-such-if0")
    assert info.value.errno == errno.ENODEV
    with pytest.raises(OSError) as info:
        D.if_indextoname(987654)
    assert info.value.errno == errno.ENXIO
