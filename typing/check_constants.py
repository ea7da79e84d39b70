"""Static types of the lazily served constants, enums and enum-typed results
(mypy-checked, never run).

The constants come from the driver's ABI at run time (``__getattr__``); the
declarations generated into ``sansock/_constant_types.py`` (a binding's in
``sansock/_binding_constant_types.py``) and
``sansock/_enums.py`` give each its type.  A name no ABI profile serves is an
error: ``# type: ignore[attr-defined]`` under ``warn_unused_ignores`` proves it.
"""

from typing import Any, Literal

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

import sansock
from sansock import Binding


def check_module_constants() -> None:
    # Each enum constant is its member, as typeshed's ``AF_INET: Final = AddressFamily.AF_INET``.
    assert_type(sansock.AF_INET, Literal[sansock.AddressFamily.AF_INET])
    assert_type(sansock.AF_UNIX, Literal[sansock.AddressFamily.AF_UNIX])
    assert_type(sansock.SOCK_STREAM, Literal[sansock.SocketKind.SOCK_STREAM])
    assert_type(sansock.SOCK_NONBLOCK, Literal[sansock.SocketKind.SOCK_NONBLOCK])
    assert_type(sansock.MSG_PEEK, Literal[sansock.MsgFlag.MSG_PEEK])
    assert_type(sansock.AI_PASSIVE, Literal[sansock.AddressInfo.AI_PASSIVE])
    family: sansock.AddressFamily = sansock.AF_INET
    assert_type(family, sansock.AddressFamily)
    assert_type(sansock.SOL_SOCKET, int)
    assert_type(sansock.SCM_RIGHTS, int)
    assert_type(sansock.SO_REUSEADDR, int)
    assert_type(sansock.IPPROTO_TCP, int)
    assert_type(sansock.MSG_PEEK | sansock.MSG_DONTWAIT, sansock.MsgFlag)
    sansock.NOT_A_CONSTANT_TYPO  # type: ignore[attr-defined]
    sansock.AF_INETT  # type: ignore[attr-defined]
    # The platform facts the core reads are not socket-module names.
    sansock.POLLIN  # type: ignore[attr-defined]
    # The binding's own attributes are not module attributes either.
    sansock.abi  # type: ignore[attr-defined]


def check_enum_members() -> None:
    assert_type(sansock.AddressFamily.AF_INET6, Literal[sansock.AddressFamily.AF_INET6])
    assert_type(sansock.SocketKind.SOCK_DGRAM, Literal[sansock.SocketKind.SOCK_DGRAM])
    assert_type(sansock.AddressFamily.AF_INET.value, int)
    assert_type(sansock.AddressFamily(2), sansock.AddressFamily)
    sansock.AddressFamily.AF_TYPO  # type: ignore[attr-defined]


def check_binding_constants(net: Binding) -> None:
    assert_type(net.AF_UNIX, Literal[sansock.AddressFamily.AF_UNIX])
    assert_type(net.SOCK_SEQPACKET, Literal[sansock.SocketKind.SOCK_SEQPACKET])
    assert_type(net.MSG_WAITALL, Literal[sansock.MsgFlag.MSG_WAITALL])
    assert_type(net.AI_CANONNAME, Literal[sansock.AddressInfo.AI_CANONNAME])
    assert_type(net.MSG_PEEK | net.MSG_DONTWAIT, sansock.MsgFlag)
    assert_type(net.AI_PASSIVE | net.AI_CANONNAME, sansock.AddressInfo)
    net.AF_INET = net.AF_INET6  # type: ignore[misc]
    assert_type(net.SOL_SOCKET, int)
    assert_type(net.SCM_RIGHTS, int)
    assert_type(net.AddressFamily, type[sansock.AddressFamily])
    assert_type(net.AddressFamily.AF_INET, Literal[sansock.AddressFamily.AF_INET])
    net.NOT_A_CONSTANT_TYPO  # type: ignore[attr-defined]
    net.SOL_SOCKETT  # type: ignore[attr-defined]


def check_socket_properties(s: sansock.socket) -> None:
    assert_type(s.family, sansock.AddressFamily)
    assert_type(s.type, sansock.SocketKind)
    assert_type(s.proto, int)
    assert_type(s.timeout, float | None)
    if s.family == sansock.AF_UNIX:
        assert_type(s.getsockname(), Any)


def check_getaddrinfo(net: Binding) -> None:
    for family, kind, proto, canonname, address in sansock.getaddrinfo("localhost", 80):
        assert_type(family, Literal[sansock.AddressFamily.AF_INET, sansock.AddressFamily.AF_INET6])
        assert_type(kind, sansock.SocketKind)
        assert_type(proto, int)
        assert_type(canonname, str)
        assert_type(address, tuple[str, int] | tuple[str, int, int, int])
    for info in net.getaddrinfo(None, "http", net.AF_INET6, net.SOCK_STREAM, 0, net.AI_PASSIVE):
        if info[0] == sansock.AddressFamily.AF_INET6:
            assert_type(info[4], tuple[str, int, int, int])
        else:
            assert_type(info[4], tuple[str, int])
    sansock.getaddrinfo("localhost", 80.0)  # type: ignore[arg-type]


def check_narrowing_on_the_constants(net: Binding, s: sansock.socket) -> None:
    # ``==`` against a constant narrows, as with typeshed's socket module.
    for info in sansock.getaddrinfo("localhost", 80):
        if info[0] == sansock.AF_INET6:
            assert_type(info[0], Literal[sansock.AddressFamily.AF_INET6])
            assert_type(info[4], tuple[str, int, int, int])
        else:
            assert_type(info[4], tuple[str, int])
    for info in net.getaddrinfo("localhost", 80):
        if info[0] == net.AF_INET:
            assert_type(info[4], tuple[str, int])
        else:
            assert_type(info[4], tuple[str, int, int, int])
    family = s.family
    if family == sansock.AF_UNIX:
        assert_type(family, Literal[sansock.AddressFamily.AF_UNIX])
    if s.type == net.SOCK_DGRAM:
        assert_type(s.type, Literal[sansock.SocketKind.SOCK_DGRAM])
    if isinstance(family, sansock.AddressFamily):  # true at run time on every driver
        assert_type(family, sansock.AddressFamily)
