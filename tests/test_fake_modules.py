"""The fake kernel's modules stay split the way Linux splits the stack (issue 14).

One module per protocol (``_af_unix``, ``_tcp``, ``_udp``, ``_sockopt``...),
each a size a reader can hold; every socket gets its protocol once, at
creation (``sock.ops``), instead of syscalls branching on the family.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sansock_fake
from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import FakeKernel

MODULES = sorted(Path(sansock_fake.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_module_of_the_fake_is_over_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 600, f"{path.name} has {lines} lines: split it along the kernel's own seams"


def test_each_socket_gets_its_protocol_at_creation() -> None:
    k = FakeKernel()
    c = ABI.const
    expected = {
        (c("AF_UNIX"), c("SOCK_STREAM")): "unix stream",
        (c("AF_UNIX"), c("SOCK_DGRAM")): "unix dgram",
        (c("AF_UNIX"), c("SOCK_SEQPACKET")): "unix seqpacket",
        (c("AF_INET"), c("SOCK_STREAM")): "tcp",
        (c("AF_INET6"), c("SOCK_STREAM")): "tcp6",
        (c("AF_INET"), c("SOCK_DGRAM")): "udp",
        (c("AF_INET6"), c("SOCK_DGRAM")): "udp6",
    }
    for (family, type_), name in expected.items():
        fd = k.socket(family, type_ | c("SOCK_NONBLOCK"), 0)
        assert repr(k._sock(fd).ops) == f"<{name} ops>"
        k.close(fd)
