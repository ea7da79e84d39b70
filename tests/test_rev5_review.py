"""An outside review of this session's fake-kernel caches, fd-passing fast paths
and UDP IP-level ancillary data: each test showed a defect (failing first).

Behaviour comparisons run on both drivers with the stdlib on the real kernel
as the oracle; the cache tests are about the fake kernel alone.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from sansock import Binding

# -- IP_TOS / IPV6_TCLASS on TCP: the ECN bits are the kernel's ------------------------


def _tcp_tos_values(mod: Any, family: Any, level: int, option: int) -> list[object]:
    got: list[object] = []
    with mod.socket(family, mod.SOCK_STREAM) as sock:
        for value in (0x13, 0xFF, 3, -1, 0x10):
            try:
                sock.setsockopt(level, option, value)
                got.append(sock.getsockopt(level, option))
            except OSError as exc:
                got.append((type(exc).__name__, exc.errno))
    return got


@pytest.mark.parametrize(
    "family, level, option",
    [
        ("AF_INET", "IPPROTO_IP", "IP_TOS"),
        ("AF_INET6", "IPPROTO_IP", "IP_TOS"),
        ("AF_INET6", "IPPROTO_IPV6", "IPV6_TCLASS"),
    ],
)
def test_tcp_tos_and_tclass_keep_the_ecn_bits_as_linux_does(net: Binding, family: str, level: str, option: str) -> None:
    # __ip_sock_set_tos / do_ipv6_setsockopt(IPV6_TCLASS): on a SOCK_STREAM
    # socket "val &= ~INET_ECN_MASK; val |= inet->tos & INET_ECN_MASK" -- the
    # two ECN bits are TCP's; the fake stored 0x13 and answered 0x13 (Linux: 0x10).
    def run(mod: Any) -> list[object]:
        return _tcp_tos_values(mod, getattr(mod, family), getattr(mod, level), getattr(mod, option))

    assert run(net) == run(socket)
