"""Control data beyond net.core.optmem_max gets ENOBUFS (issue 12, item 11).

``____sys_sendmsg`` copies a control buffer larger than its on-stack one into
``sock_kmalloc`` memory, which refuses a size of ``optmem_max`` or more: the
call fails with ENOBUFS before any item is parsed (so even items that would be
EINVAL).  Both drivers; the native kernel's limit is read from /proc.
"""

from __future__ import annotations

import errno
import socket as stdlib
import struct
from pathlib import Path

import pytest

from sansock import Binding
from sansock_fake import FakeKernel

UNKNOWN_TYPE = 99  # an SOL_SOCKET cmsg type no kernel knows: EINVAL once parsed


def optmem_max(net: Binding) -> int:
    if isinstance(net.driver, FakeKernel):
        return net.driver.optmem_max
    return int(Path("/proc/sys/net/core/optmem_max").read_text())


def send_errno(sock: object, ancdata: list[tuple[int, int, bytes]]) -> int | str:
    try:
        getattr(sock, "sendmsg")([b"x"], ancdata)
    except OSError as exc:
        assert exc.errno is not None
        return exc.errno
    return "ok"


@pytest.mark.parametrize(
    "ancdata",
    [
        pytest.param([(stdlib.SOL_SOCKET, UNKNOWN_TYPE, bytes(1 << 20))], id="one-1MiB-item"),
        pytest.param([(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, b"")] * 100_000, id="100000-empty-items"),
        pytest.param([(stdlib.SOL_SOCKET, stdlib.SCM_CREDENTIALS, b"")] * 20_000, id="20000-empty-items"),
    ],
)
def test_control_data_beyond_optmem_max_is_enobufs(net: Binding, ancdata: list[tuple[int, int, bytes]]) -> None:
    a, b = net.socketpair()
    ours = send_errno(a, ancdata)
    sa, sb = stdlib.socketpair()
    with a, b, sa, sb:
        assert ours == send_errno(sa, ancdata) == errno.ENOBUFS
        assert ours == errno.ENOBUFS
    # TCP/UDP take the same path (____sys_sendmsg is protocol independent).
    u = net.socket(net.AF_INET, net.SOCK_DGRAM)
    with u:
        u.connect(("127.0.0.1", 9))
        assert send_errno(u, ancdata) == errno.ENOBUFS


def test_optmem_max_boundary(net: Binding) -> None:
    """``sock_kmalloc``: size < optmem_max passes (then the unknown item is
    EINVAL), size == optmem_max is ENOBUFS."""
    limit = optmem_max(net)
    header = net.CMSG_LEN(0)
    a, b = net.socketpair()
    with a, b:
        below = [(net.SOL_SOCKET, UNKNOWN_TYPE, bytes(limit - 8 - header))]
        at = [(net.SOL_SOCKET, UNKNOWN_TYPE, bytes(limit - header))]
        assert send_errno(a, below) == errno.EINVAL
        assert send_errno(a, at) == errno.ENOBUFS


def test_optmem_max_is_a_kernel_option() -> None:
    kernel = FakeKernel(optmem_max=20480)  # the default before Linux 6.9
    assert FakeKernel().optmem_max == 131072
    a, b = kernel.socketpair(1, 1, 0)
    control = struct.pack("Qii", 20480, stdlib.SOL_SOCKET, UNKNOWN_TYPE) + bytes(20480 - 16)
    with pytest.raises(OSError) as info:
        kernel.sendmsg(a, [b"x"], control, 0, None)
    assert info.value.errno == errno.ENOBUFS

