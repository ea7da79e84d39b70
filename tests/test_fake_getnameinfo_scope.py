"""``getnameinfo`` of an IPv6 address with a scope id, numeric host, on both drivers.

glibc's ``gni_host_inet`` appends ``%`` and the scope: the interface's name
for a link-local or link-local multicast address when ``if_indextoname``
knows the index, else the number (CPython's
``test_getnameinfo_ipv6_scopeid_symbolic``).  Index 1 is ``lo`` on Linux and
on the fake; index 77 is taken to exist on neither.
"""

from __future__ import annotations

import socket as stdlib
from typing import Any

import pytest

from sansock import Binding

CASES = [
    ("fe80::1", 1),
    ("ff02::1de:c0:face:8D", 1),
    ("2001:db8::1", 1),
    ("ff02::1", 77),
    ("fe80::1", 77),
    ("fe80::1", 0),
    ("ff01::1", 1),
]


def _names(mod: Any) -> list[tuple[str, str]]:
    flags = mod.NI_NUMERICHOST | mod.NI_NUMERICSERV
    return [mod.getnameinfo((host, 1234, 0, scope), flags) for host, scope in CASES]


def test_getnameinfo_appends_the_scope_as_glibc_does(net: Binding) -> None:
    if 77 in {index for index, _ in stdlib.if_nameindex()}:
        pytest.skip("this host has an interface of index 77")
    assert _names(net) == _names(stdlib) == [
        ("fe80::1%lo", "1234"),
        ("ff02::1de:c0:face:8d%lo", "1234"),
        ("2001:db8::1%1", "1234"),
        ("ff02::1%77", "1234"),
        ("fe80::1%77", "1234"),
        ("fe80::1", "1234"),
        ("ff01::1%1", "1234"),
    ]
