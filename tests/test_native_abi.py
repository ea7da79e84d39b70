"""The native driver's build-time ABI and the real CMSG macros, checked
against the stdlib (the oracle), the core's linux-x86_64 profile and the
core's pure CMSG arithmetic."""

from __future__ import annotations

import errno
import importlib
import os
import platform
import socket
import struct
from collections.abc import Iterator

import attrs
import pytest

from sansock_native import (
    NativeDriver,
    host_abi,
    native_cmsg_len,
    native_cmsg_space,
    native_cmsg_walk,
)

pytestmark = [pytest.mark.native_only, pytest.mark.linux_only]


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_cached() -> None:
    assert host_abi() is host_abi()
    assert NativeDriver().abi is host_abi()


def test_constants_match_the_stdlib() -> None:
    abi = host_abi()
    assert len(abi.constants) > 300
    mismatched = {
        name: (value, getattr(socket, name))
        for name, value in abi.constants.items()
        if isinstance(getattr(socket, name, None), int) and getattr(socket, name) != value
    }
    assert mismatched == {}
    # Every int the stdlib exports under a constant-like name is in the table.
    exported = {
        n
        for n in dir(socket)
        if n.isupper() and type(getattr(socket, n)) in (int,) and not n.startswith("_")
    }
    assert exported - set(abi.constants) == set()


def test_errnos_match_the_stdlib() -> None:
    abi = host_abi()
    assert {name: getattr(errno, name) for name in abi.errnos} == dict(abi.errnos)
    assert set(errno.errorcode.values()) <= set(abi.errnos)


def test_layout_matches_the_stdlib() -> None:
    abi = host_abi()
    assert abi.cmsg.hdr_size == socket.CMSG_LEN(0)
    assert abi.cmsg.hdr_size + abi.cmsg.aligned(1) == socket.CMSG_SPACE(1)
    assert abi.sockaddr.sizes["sockaddr_in6"] == 28
    assert abi.sockaddr.sun_path_size == 108
    assert abi.sizeof_socklen_t == 4 and abi.sizeof_int == struct.calcsize("i")
    assert abi.sizeof_long == struct.calcsize("l") and abi.sizeof_size_t == struct.calcsize("N")
    assert abi.iov_max == os.sysconf("SC_IOV_MAX")
    assert abi.somaxconn == socket.SOMAXCONN
    assert abi.byteorder == __import__("sys").byteorder


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the linux-x86_64 profile describes x86_64 only")
def test_equals_the_linux_x86_64_profile() -> None:
    try:
        profiles = importlib.import_module("sansock._profiles")
    except ImportError:  # pragma: no cover
        pytest.skip("sansock._profiles is not there yet")
    profile = profiles.LINUX_X86_64
    assert attrs.evolve(host_abi(), sources=profile.sources) == profile


def test_cmsg_macros_match_the_stdlib() -> None:
    for n in range(0, 4097):
        assert native_cmsg_len(n) == socket.CMSG_LEN(n)
        assert native_cmsg_space(n) == socket.CMSG_SPACE(n)


def test_cmsg_macros_match_the_core() -> None:
    try:
        cmsg = importlib.import_module("sansock._cmsg")
    except ImportError:  # pragma: no cover
        pytest.skip("sansock._cmsg is not there yet")
    abi = host_abi()
    for n in range(0, 4097):
        assert cmsg.cmsg_len(n, abi) == native_cmsg_len(n)
        assert cmsg.cmsg_space(n, abi) == native_cmsg_space(n)


def _cmsg(level: int, kind: int, data: bytes, last: bool = False) -> bytes:
    raw = struct.pack("=QiI", 16 + len(data), level, kind) + data
    return raw if last else raw.ljust(socket.CMSG_SPACE(len(data)), b"\0")


def test_cmsg_walk() -> None:
    control = _cmsg(1, 1, b"\1\0\0\0") + _cmsg(41, 50, b"abcdefghi") + _cmsg(0, 2, b"z", last=True)
    assert native_cmsg_walk(control) == [
        (0, 20, 1, 1, 16),
        (24, 25, 41, 50, 40),
        (56, 17, 0, 2, 72),
    ]
    assert native_cmsg_walk(b"") == []
    assert native_cmsg_walk(b"\0" * 15) == []  # shorter than a cmsghdr: CMSG_FIRSTHDR is NULL
    # A malformed cmsg_len below sizeof(cmsghdr) stops the walk (glibc __cmsg_nxthdr).
    assert native_cmsg_walk(struct.pack("=QiI", 3, 1, 1) + bytes(16))[1:] == []


def test_cmsg_walk_matches_the_core_packing() -> None:
    try:
        cmsg = importlib.import_module("sansock._cmsg")
    except ImportError:  # pragma: no cover
        pytest.skip("sansock._cmsg is not there yet")
    abi = host_abi()
    items = [(1, 1, b"\1\0\0\0\2\0\0\0"), (0, 2, b"x" * 13), (41, 50, b"")]
    control = cmsg.pack_ancdata(items, abi)
    walked = native_cmsg_walk(control)
    assert [(level, kind) for _, _, level, kind, _ in walked] == [(1, 1), (0, 2), (41, 50)]
    assert [length for _, length, _, _, _ in walked] == [socket.CMSG_LEN(len(d)) for *_, d in items]
