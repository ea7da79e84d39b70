"""The resolver answers as glibc does (issue 12, item 12 and the ``make stress``
finding on ``getnameinfo``).  Both drivers, the stdlib as the oracle.

* numeric hosts: glibc's ``getaddrinfo`` takes every ``inet_aton`` form
  (``127.1``, ``0``, ``2130706433``, ``0x7f000001``, octal parts) and
  ``inet_pton(AF_INET6)`` text with a ``%scope``; an IPv4-mapped address asked
  for as AF_INET is its IPv4 address;
* names are bytes to glibc (no ``AI_IDN``): ``xn--`` names that the ``idna``
  codec cannot decode are unknown names (``gaierror``), not ``UnicodeError``;
* the service is resolved before the host, so ``getnameinfo(('', -1), 0)``
  is EAI_SERVICE; a service is numeric when ``strtoul`` reads it whole, and
  the number is stored in an ``int`` (``-1`` and ``4294967295`` are names).

Only numeric hosts (or ``AI_NUMERICHOST``) are used, so the native runs make
no DNS query, except for the ``xn--`` names, which the stdlib looks up too.
"""

from __future__ import annotations

import socket as stdlib
from collections.abc import Callable
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock_fake import FakeKernel


def outcome(fn: Callable[[], object]) -> tuple[str, object]:
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return (type(exc).__name__, str(exc))


def addresses(module: Any, *args: object) -> tuple[str, object]:
    """getaddrinfo's (family, type, proto, sockaddr) tuples, as plain ints."""
    return outcome(lambda: [(int(f), int(t), p, a) for f, t, p, _c, a in module.getaddrinfo(*args)])


NUMERIC_HOSTS = [
    "127.1", "0", "2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1", "127.0.1", "127.256",
    "127.0.0.01", "010", "::ffff:127.0.0.1", "::ffff:7f00:1", "::1", "fe80::1%lo", "fe80::1%7",
    "::1%5",
    # not numeric: with AI_NUMERICHOST, EAI_NONAME on both
    "08", "0x", "1.2.3.4.5", "256.1.1.1", "4294967296", "0x100000000", "1.0x1000000", " 127.0.0.1",
    "127.0.0.1 ", "127.0.0.1.", "127.0.0.1%lo", "::1%lo", "fe80::1%eth9", "", "::ffff:127.0.0.01",
]


@pytest.mark.parametrize("host", NUMERIC_HOSTS)
@pytest.mark.parametrize("family", [0, stdlib.AF_INET, stdlib.AF_INET6])
def test_numeric_hosts_like_glibc(net: Binding, host: str, family: int) -> None:
    args = (host, 80, family, stdlib.SOCK_STREAM, 0, stdlib.AI_NUMERICHOST)
    assert addresses(net, *args) == addresses(stdlib, *args)


@pytest.mark.parametrize("flags", [stdlib.AI_V4MAPPED, stdlib.AI_V4MAPPED | stdlib.AI_ALL])
def test_v4mapped_numeric_hosts(net: Binding, flags: int) -> None:
    for host in ("127.0.0.1", "127.1", "::1"):
        args = (host, 80, stdlib.AF_INET6, stdlib.SOCK_STREAM, 0, flags | stdlib.AI_NUMERICHOST)
        assert addresses(net, *args) == addresses(stdlib, *args)


@pytest.mark.parametrize("host", ["127.1", "0", "2130706433", "0x7f000001", "::ffff:127.0.0.1", "010", "08"])
def test_numeric_forms_in_gethostbyname_bind_and_connect(net: Binding, host: str) -> None:
    assert outcome(lambda: net.gethostbyname(host)) == outcome(lambda: stdlib.gethostbyname(host))
    ours, theirs = net.socket(), stdlib.socket()
    with ours, theirs:

        def bound(sock: Any) -> object:
            sock.bind((host, 0))
            return sock.getsockname()[0]

        assert outcome(lambda: bound(ours)) == outcome(lambda: bound(theirs))


@pytest.mark.parametrize("host", ["127.1", "0", "2130706433", "1.2.3", "127.0.0.01", "010"])
def test_gethostbyname_ex_digits_and_dots(net: Binding, host: str) -> None:
    """``__nss_hostname_digits_dots``: digits-and-dots names are parsed, not looked up."""
    assert outcome(lambda: net.gethostbyname_ex(host)) == outcome(lambda: stdlib.gethostbyname_ex(host))


@pytest.mark.parametrize("host", ["xn--", "xn--zz", "xn--a..b"])
def test_undecodable_idna_names_are_unknown_names(net: Binding, host: str) -> None:
    """The resolver takes bytes; glibc without AI_IDN never runs the idna codec."""
    ours, theirs = net.socket(), stdlib.socket()
    with ours, theirs:
        for method in ("bind", "connect_ex"):
            got = outcome(lambda: getattr(ours, method)((host, 80)))
            assert got[0] == "gaierror", (method, got)
            assert got == outcome(lambda: getattr(theirs, method)((host, 80)))
    if host != "xn--a..b":  # gethostbyname idna-encodes a str first (issue 12, item 7)
        assert outcome(lambda: net.gethostbyname(host)) == outcome(lambda: stdlib.gethostbyname(host))
    args = (host.encode(), 80, 0, stdlib.SOCK_STREAM)
    assert addresses(net, *args)[0] == "gaierror"


SOCKADDRS = [("", -1), ("", -2), ("127.0.0.1", -1), ("", 0), ("", 70000), ("127.0.0.1", 65536),
             ("::1", -1), ("0x7f000001", 80), ("::ffff:127.0.0.1", 80), ("127.1", 22)]


@pytest.mark.parametrize("sockaddr", SOCKADDRS)
@pytest.mark.parametrize("flags", [0, stdlib.NI_NUMERICHOST | stdlib.NI_NUMERICSERV])
def test_getnameinfo_checks_the_service_first(net: Binding, sockaddr: tuple[str, int], flags: int) -> None:
    ours = outcome(lambda: net.getnameinfo(sockaddr, flags))
    theirs = outcome(lambda: stdlib.getnameinfo(sockaddr, flags))
    if ours[0] == theirs[0] == "ok" and not flags:
        return  # host names come from each system's own hosts file
    assert ours == theirs


NI_FLAGS = sorted({1 << bit for bit in range(31)} | {
    stdlib.NI_NUMERICHOST | stdlib.NI_NAMEREQD, stdlib.NI_NAMEREQD | stdlib.NI_NUMERICSERV,
    stdlib.NI_NUMERICHOST | stdlib.NI_NAMEREQD | stdlib.NI_DGRAM, 0xFF, 0x100, 0xC0, 200_000,
    -1, -(2**31), 2**31 - 1,
})


@pytest.mark.parametrize("flags", NI_FLAGS)
@pytest.mark.parametrize("sockaddr", [("127.0.0.1", 22), ("127.0.0.1", 0)])
def test_getnameinfo_flags_like_glibc(net: Binding, sockaddr: tuple[str, int], flags: int) -> None:
    """Unknown flags are EAI_BADFLAGS; NI_NAMEREQD with NI_NUMERICHOST is EAI_NONAME
    (``make stress``: the fake answered both)."""
    ours = outcome(lambda: net.getnameinfo(sockaddr, flags))
    theirs = outcome(lambda: stdlib.getnameinfo(sockaddr, flags))
    if ours[0] == theirs[0] == "ok":
        assert isinstance(ours[1], tuple) and isinstance(theirs[1], tuple)
        assert ours[1][1] == theirs[1][1]  # the service; host names are each system's own
    else:
        assert ours == theirs


SERVICES = ["-1", "-2", "4294967295", "4294967296", "2147483648", "18446744073709551616", "+5", " 5", "",
            "5x", "-0", "65536", "http", "domain", "*", "x"]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(("type_", "proto"), [(0, 0), (stdlib.SOCK_DGRAM, 0), (stdlib.SOCK_RAW, 0),
                                             (0, 17), (0, 99), (stdlib.SOCK_STREAM, 17), (99, 0)])
def test_getaddrinfo_services_like_glibc(net: Binding, service: str, type_: int, proto: int) -> None:
    for flags in (stdlib.AI_NUMERICHOST, stdlib.AI_NUMERICHOST | stdlib.AI_NUMERICSERV):
        args = ("127.0.0.1", service, 0, type_, proto, flags)
        assert addresses(net, *args) == addresses(stdlib, *args)


def test_star_means_no_host_or_no_service(net: Binding) -> None:
    for args in [("*", 80, 0, stdlib.SOCK_STREAM), ("*", "*", 0, 0), ("127.0.0.1", "*", 0, stdlib.SOCK_STREAM)]:
        assert addresses(net, *args) == addresses(stdlib, *args)


def test_resolver_add_answers_in_the_order_given() -> None:
    kernel = FakeKernel()
    kernel.resolver.add("api.example.com", "10.0.0.2", "fd00::2")
    kernel.resolver.add("API.example.com", "10.0.0.3")
    net = sansock.using(kernel)
    infos = net.getaddrinfo("api.example.com", 443, type=net.SOCK_STREAM)
    assert [info[4][0] for info in infos] == ["10.0.0.2", "fd00::2", "10.0.0.3"]
    assert [info[4][0] for info in net.getaddrinfo("api.example.com", 443, net.AF_INET6, net.SOCK_STREAM)] == ["fd00::2"]
    assert net.gethostbyname_ex("api.example.com") == ("api.example.com", [], ["10.0.0.2", "10.0.0.3"])
    assert net.gethostbyaddr("fd00::2")[0] == "api.example.com"
    assert net.getnameinfo(("10.0.0.3", 443), 0) == ("api.example.com", "https")
    with pytest.raises(ValueError):
        kernel.resolver.add("bad.example.com", "10.0.0.300")
    with pytest.raises(ValueError):
        kernel.resolver.add("", "10.0.0.1")
