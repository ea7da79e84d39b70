"""The ABI profiles: linux-x86_64 against the host's stdlib, and the shape of
every profile (names the codecs need, CMSG arithmetic, literal-only tables)."""

from __future__ import annotations

import ast
import enum
import errno
import os
import platform
import select
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest

from sansock._abi import ABI
from sansock._profiles import (
    DARWIN_ARM64,
    LINUX_AARCH64,
    LINUX_I386,
    LINUX_X86_64,
    PROFILES,
    get_profile,
)

PROFILE_DIR = Path(__file__).resolve().parent.parent / "core" / "sansock" / "_profiles"
ALL = list(PROFILES.values())
LINUX = [LINUX_X86_64, LINUX_AARCH64, LINUX_I386]

host_is_linux_x86_64 = pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() == "x86_64"),
    reason="linux-x86_64 is compared with the stdlib only on an x86_64 Linux host",
)

#: What the codecs and the timeout machine look up in every profile.
CODEC_CONSTANTS = (
    "AF_UNIX AF_INET AF_INET6 SOL_SOCKET SCM_RIGHTS MSG_CTRUNC MSG_TRUNC MSG_PEEK "
    "MSG_DONTWAIT MSG_WAITALL POLLIN POLLOUT POLLERR"
).split()
CODEC_ERRNOS = "EINTR EAGAIN EWOULDBLOCK EINPROGRESS EISCONN EBADF EINVAL".split()


def stdlib_int_constants() -> dict[str, int]:
    """Every integer constant the stdlib socket module exports, as plain ints."""
    found: dict[str, int] = {}
    for name in dir(socket):
        value = getattr(socket, name)
        # Every int but the bool has_ipv6 (AF_DECnet is the one mixed-case name).
        if isinstance(value, int) and not isinstance(value, bool):
            found[name] = int(value)
    return found


def literal_tables(path: Path) -> dict[str, object]:
    """CONSTANTS and ERRNOS of a profile module, read the way the CFFI build
    script reads them: ast.literal_eval of top-level assignments."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tables: dict[str, object] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("CONSTANTS", "ERRNOS")
        ):
            tables[node.targets[0].id] = ast.literal_eval(node.value)
    return tables


# -- linux-x86_64 against the host stdlib (the oracle) ------------------------


@host_is_linux_x86_64
def test_every_stdlib_socket_constant_is_in_linux_x86_64_with_its_value() -> None:
    expected = stdlib_int_constants()
    assert len(expected) > 300
    missing = sorted(set(expected) - set(LINUX_X86_64.constants))
    wrong = {n: (LINUX_X86_64.constants[n], v) for n, v in expected.items()
             if n in LINUX_X86_64.constants and LINUX_X86_64.constants[n] != v}
    assert not missing, f"absent from linux-x86_64: {missing}"
    assert not wrong, f"(profile, stdlib) differ: {wrong}"


@host_is_linux_x86_64
def test_intenum_members_are_stored_as_plain_ints() -> None:
    assert isinstance(socket.AF_INET6, enum.IntEnum)  # the stdlib stores an IntEnum member
    for name in ("AF_INET6", "SOCK_STREAM", "MSG_PEEK"):
        assert type(LINUX_X86_64.constants[name]) is int


@host_is_linux_x86_64
def test_linux_x86_64_errnos_match_stdlib_errno() -> None:
    expected = {n: getattr(errno, n) for n in dir(errno)
                if n.startswith("E") and isinstance(getattr(errno, n), int)}
    assert dict(LINUX_X86_64.errnos) == expected
    assert set(errno.errorcode.values()) <= set(LINUX_X86_64.errnos)


@host_is_linux_x86_64
def test_linux_x86_64_cmsg_layout_reproduces_stdlib_cmsg_macros() -> None:
    cmsg = LINUX_X86_64.cmsg
    for n in (0, 1, 4, 7, 8, 9, 100):
        assert cmsg.hdr_size + n == socket.CMSG_LEN(n)
        assert cmsg.aligned(cmsg.hdr_size) + cmsg.aligned(n) == socket.CMSG_SPACE(n)
    assert socket.CMSG_LEN(0) == 16 and socket.CMSG_SPACE(1) == 24


@host_is_linux_x86_64
def test_linux_x86_64_somaxconn_and_extras_match_the_host() -> None:
    assert LINUX_X86_64.somaxconn == socket.SOMAXCONN
    assert LINUX_X86_64.const("O_NONBLOCK") == os.O_NONBLOCK
    assert LINUX_X86_64.const("O_CLOEXEC") == os.O_CLOEXEC
    for name in ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDHUP"):
        assert LINUX_X86_64.const(name) == getattr(select, name), name


# -- every profile ------------------------------------------------------------


@pytest.mark.parametrize("abi", ALL, ids=lambda a: a.name)
def test_profile_has_what_the_codecs_need(abi: ABI) -> None:
    missing = [n for n in CODEC_CONSTANTS if n not in abi.constants]
    missing += [n for n in CODEC_ERRNOS if n not in abi.errnos]
    assert not missing, f"{abi.name} lacks {missing}"
    assert abi.errno("EWOULDBLOCK") == abi.errno("EAGAIN")


@pytest.mark.parametrize("abi", ALL, ids=lambda a: a.name)
def test_profile_sizes_are_sane(abi: ABI) -> None:
    c = abi.cmsg
    assert c.align > 0 and c.align & (c.align - 1) == 0
    assert c.len_size in (4, 8) and c.level_offset == c.len_size
    assert c.type_offset == c.level_offset + abi.sizeof_int
    assert c.hdr_size == c.type_offset + abi.sizeof_int
    assert c.aligned(c.hdr_size) == c.hdr_size
    assert abi.sizeof_size_t in (4, 8) and abi.sizeof_socklen_t == 4
    sizes = abi.sockaddr.sizes
    assert sizes["sockaddr_un"] == 2 + abi.sockaddr.sun_path_size
    assert (sizes["sockaddr"], sizes["sockaddr_in"], sizes["sockaddr_in6"]) == (16, 16, 28)
    assert sizes["sockaddr_storage"] == 128
    assert abi.socklen_max == 2**31 - 1
    assert abi.ssize_max == 2 ** (8 * abi.sizeof_size_t - 1) - 1


@pytest.mark.parametrize("abi", LINUX, ids=lambda a: a.name)
def test_linux_cmsg_hdr_is_cmsg_len_0_and_aligns_to_size_t(abi: ABI) -> None:
    # glibc <bits/socket.h>: CMSG_LEN(0) == CMSG_ALIGN(sizeof(struct cmsghdr)),
    # CMSG_ALIGN rounds to sizeof(size_t).
    assert abi.cmsg.len_size == abi.sizeof_size_t == abi.cmsg.align
    assert not abi.sockaddr.has_sa_len and abi.sockaddr.sun_path_size == 108


def test_i386_and_darwin_cmsg_arithmetic() -> None:
    for abi in (LINUX_I386, DARWIN_ARM64):
        assert abi.cmsg.hdr_size == 12
        assert abi.cmsg.aligned(abi.cmsg.hdr_size) + abi.cmsg.aligned(1) == 16
    assert LINUX_I386.sizeof_long == 4 and DARWIN_ARM64.sizeof_long == 8


def test_darwin_values_differ_from_linux_where_the_headers_say() -> None:
    d = DARWIN_ARM64
    assert d.sockaddr.has_sa_len and d.sockaddr.sun_path_size == 104
    assert d.sockaddr.sizes["sockaddr_un"] == 106
    assert (d.const("AF_INET6"), d.const("SOL_SOCKET"), d.const("SO_TYPE")) == (30, 0xFFFF, 0x1008)
    assert (d.const("MSG_DONTWAIT"), d.const("MSG_WAITALL"), d.const("MSG_CTRUNC")) == (0x80, 0x40, 0x20)
    assert (d.errno("EAGAIN"), d.errno("EINPROGRESS"), d.errno("EALREADY")) == (35, 36, 37)
    assert d.errno("EOPNOTSUPP") == 102 and d.errno("ENOTSUP") == 45
    assert d.somaxconn == 128
    assert "POLLRDHUP" not in d.constants


def test_linux_arches_share_the_generic_values() -> None:
    assert dict(LINUX_AARCH64.constants) == dict(LINUX_X86_64.constants)
    assert dict(LINUX_I386.constants) == dict(LINUX_X86_64.constants)
    assert dict(LINUX_AARCH64.errnos) == dict(LINUX_I386.errnos) == dict(LINUX_X86_64.errnos)


# -- the module format the CFFI build script relies on ------------------------


LITERAL_PROFILES = [abi for abi in ALL if abi.name in ("linux-x86_64", "darwin-arm64")]


@pytest.mark.parametrize("abi", LITERAL_PROFILES, ids=lambda a: a.name)
def test_profile_tables_are_pure_literals(abi: ABI) -> None:
    path = PROFILE_DIR / (abi.name.replace("-", "_") + ".py")
    tables = literal_tables(path)
    assert set(tables) == {"CONSTANTS", "ERRNOS"}
    for table_name, table in tables.items():
        assert isinstance(table, dict) and table, table_name
        assert all(isinstance(k, str) and type(v) is int for k, v in table.items())
    assert tables["CONSTANTS"] == dict(abi.constants)
    assert tables["ERRNOS"] == dict(abi.errnos)


@pytest.mark.parametrize("name", ["linux-aarch64", "linux-i386"])
def test_other_linux_profiles_share_the_generic_tables(name: str) -> None:
    from sansock._profiles import LINUX_X86_64, get_profile

    abi = get_profile(name)
    assert abi.constants == LINUX_X86_64.constants
    assert abi.errnos == LINUX_X86_64.errnos
    assert abi.cmsg != LINUX_X86_64.cmsg or name == "linux-aarch64"


@pytest.mark.parametrize("abi", ALL, ids=lambda a: a.name)
def test_profile_names_its_sources(abi: ABI) -> None:
    assert abi.sources and all(isinstance(s, str) and s for s in abi.sources)


# -- the registry and immutability ---------------------------------------------


def test_profiles_registry() -> None:
    assert sorted(PROFILES) == ["darwin-arm64", "linux-aarch64", "linux-i386", "linux-x86_64"]
    for name, abi in PROFILES.items():
        assert abi.name == name and get_profile(name) is abi


def test_get_profile_unknown_name_lists_known_ones() -> None:
    with pytest.raises(KeyError) as info:
        get_profile("linux-sparc")
    message = info.value.args[0]
    assert "linux-sparc" in message
    assert all(name in message for name in PROFILES)


def test_abi_values_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        LINUX_X86_64.name = "x"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        DARWIN_ARM64.cmsg.align = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        LINUX_X86_64.constants["AF_INET"] = 99  # type: ignore[index]
    with pytest.raises(TypeError):
        LINUX_I386.sockaddr.sizes["sockaddr"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        PROFILES["x"] = LINUX_X86_64  # type: ignore[index]
    assert isinstance(PROFILES, Mapping)


def test_missing_value_raises_keyerror_naming_the_profile() -> None:
    with pytest.raises(KeyError, match="darwin-arm64 ABI profile has no value for POLLRDHUP"):
        DARWIN_ARM64.const("POLLRDHUP")


# -- the per-ABI cache (issue 14) ------------------------------------------------------


def test_derived_values_are_built_once_per_abi_and_not_shared_with_an_evolved_copy() -> None:
    from sansock._abi import derived
    from sansock.driver import LINUX_X86_64

    calls: list[str] = []

    def build(abi: ABI) -> tuple[str, int]:
        calls.append(abi.name)
        return (abi.name, abi.sizeof_long)

    assert derived(LINUX_X86_64, build) is derived(LINUX_X86_64, build)
    ilp32 = attrs.evolve(LINUX_X86_64, sizeof_long=4)
    assert derived(ilp32, build) == ("linux-x86_64", 4)
    assert calls == ["linux-x86_64", "linux-x86_64"]
    # The cache is not part of the value.
    assert ilp32 == attrs.evolve(LINUX_X86_64, sizeof_long=4)
    assert "derived" not in repr(LINUX_X86_64)


def test_a_registry_change_is_seen_by_an_abi_it_resolved_for_before() -> None:
    from sansock.ancillary import DEFAULT_REGISTRY
    from sansock.driver import LINUX_X86_64

    registry = DEFAULT_REGISTRY.copy()
    assert registry.decode(0, 99, b"x", LINUX_X86_64) == (0, 99, b"x")
    registry.register(0, 99, lambda data, abi: ("mine", data))
    assert registry.decode(0, 99, b"x", LINUX_X86_64) == ("mine", b"x")
    registry.unregister(0, 99)
    assert registry.decode(0, 99, b"x", LINUX_X86_64) == (0, 99, b"x")
