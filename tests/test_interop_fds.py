"""Issue 16, item 1: a fake fd never names a real file of the process.

By default a :class:`FakeKernel` numbers its fds from a base above the
process's ``RLIMIT_NOFILE`` limits and ``/proc/sys/fs/nr_open``; a real
syscall on a fake fd fails with ``EBADF``.  ``fd_base=0`` keeps Linux's small
numbers (the tests of the fd table's RLIMIT behaviour in test_fake_kernel.py
use it).
"""

from __future__ import annotations

import errno
import os
import resource

import pytest

from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import FakeKernel
from sansock_fake import _kernel

C = ABI.const
AF_UNIX, STREAM = C("AF_UNIX"), C("SOCK_STREAM")


def test_default_fds_lie_above_every_limit_a_real_fd_has() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    k = FakeKernel()
    assert k.fd_base >= 1 << 20
    for limit in (soft, hard):
        if limit != resource.RLIM_INFINITY:
            assert k.fd_base >= limit
    with open("/proc/sys/fs/nr_open", encoding="ascii") as f:
        assert k.fd_base >= int(f.read())
    assert k.fd_base + k.fd_limit < 1 << 31


def test_default_fds_are_lowest_free_above_the_base() -> None:
    k = FakeKernel()
    base = k.fd_base
    assert k.socketpair(AF_UNIX, STREAM, 0) == (base, base + 1)
    assert k.socket(AF_UNIX, STREAM, 0) == base + 2
    k.close(base)
    assert k.dup(base + 2) == base
    assert k.open_fds() == [base, base + 1, base + 2]
    for fd in k.open_fds():
        k.close(fd)


def test_emfile_counts_fd_limit_fds_from_the_base() -> None:
    k = FakeKernel(fd_limit=4)
    fds = [k.socket(AF_UNIX, STREAM, 0) for _ in range(4)]
    assert fds == [k.fd_base + i for i in range(4)]
    with pytest.raises(OSError) as info:
        k.socket(AF_UNIX, STREAM, 0)
    assert info.value.errno == errno.EMFILE
    k.close(fds[1])
    with pytest.raises(OSError) as info:
        k.socketpair(AF_UNIX, STREAM, 0)
    assert info.value.errno == errno.EMFILE
    assert k.socket(AF_UNIX, STREAM, 0) == fds[1]


@pytest.mark.parametrize(
    "real_call",
    [
        lambda fd: os.write(fd, b"ClientHello"),
        lambda fd: os.read(fd, 10),
        lambda fd: os.fstat(fd),
        lambda fd: os.set_inheritable(fd, True),
        lambda fd: os.close(fd),
    ],
    ids=["write", "read", "fstat", "set_inheritable", "close"],
)
def test_a_real_syscall_on_a_fake_fd_fails_with_ebadf(real_call: object) -> None:
    k = FakeKernel()
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    assert callable(real_call)
    with pytest.raises(OSError) as info:
        real_call(a)
    assert info.value.errno == errno.EBADF
    assert k.send(a, b"still fake", 0) == 10
    assert k.recv(b, 20, 0) == b"still fake"
    k.close(a)
    k.close(b)


def test_fd_base_zero_gives_linux_numbers() -> None:
    k = FakeKernel(fd_base=0)
    assert k.socketpair(AF_UNIX, STREAM, 0) == (3, 4)
    k.close(3)
    k.close(4)


@pytest.mark.parametrize("bad", [-1, (1 << 31) - 10])
def test_a_base_with_no_room_below_int_max_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="fd_base"):
        FakeKernel(fd_base=bad)


@pytest.mark.parametrize(
    ("limits", "nr_open", "expected"),
    [
        ((1024, 4096), 1 << 20, 1 << 20),
        ((1024, 1 << 21), 1 << 20, 1 << 21),
        ((1024, resource.RLIM_INFINITY), None, 1 << 20),
        ((resource.RLIM_INFINITY, resource.RLIM_INFINITY), 1 << 22, 1 << 22),
        ((1 << 40, 1 << 40), None, (1 << 31) - 1 - (1 << 24)),
    ],
    ids=["stock", "raised-hard", "unlimited-hard", "unlimited-both", "huge"],
)
def test_safe_base_handles_unlimited_and_huge_limits(
    monkeypatch: pytest.MonkeyPatch,
    limits: tuple[int, int],
    nr_open: int | None,
    expected: int,
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits)
    monkeypatch.setattr(_kernel, "_nr_open", lambda: nr_open)
    assert _kernel.safe_fd_base() == expected
    assert FakeKernel().fd_base == expected
