"""socket() for families and protocols the fake does not model (issue 12, item 13).

A kernel without a protocol module answers ``socket(AF_CAN, ...)`` with
EAFNOSUPPORT and an unknown protocol with EPROTONOSUPPORT, in the order of
``__sys_socket`` / ``__sock_create`` / ``inet_create`` / ``unix_create``.
Programs probe for features that way (CPython's test_socket does at import),
so the fake answers as such a kernel instead of raising NotImplementedError.
Each case runs on both drivers and against the stdlib.
"""

from __future__ import annotations

import errno
import socket as stdlib
from collections.abc import Callable

import pytest

from sansock import Binding
from sansock_fake import FakeKernel


def errno_of(fn: Callable[[], object]) -> int | str:
    """The errno a call fails with, or 'ok' (the socket is closed)."""
    try:
        made = fn()
    except OSError as exc:
        assert exc.errno is not None
        return exc.errno
    close = getattr(made, "close", None)
    if close is not None:
        close()
    return "ok"


#: (family, type, proto) that fail the same way on every Linux kernel, from
#: __sys_socket, __sock_create, and the family's create function.
CASES = [
    pytest.param(stdlib.AF_INET, stdlib.SOCK_STREAM | 0x100000, 0, id="bad-type-flag-EINVAL"),
    pytest.param(46, stdlib.SOCK_STREAM, 0, id="family-NPROTO-EAFNOSUPPORT"),
    pytest.param(12345, 12, 0, id="family-before-type"),
    pytest.param(stdlib.AF_INET, 12, 0, id="type-SOCK_MAX-EINVAL"),
    pytest.param(14, stdlib.SOCK_STREAM, 0, id="AF_SECURITY-never-registered"),
    pytest.param(stdlib.AF_INET, 4, 0, id="inet-SOCK_RDM-ESOCKTNOSUPPORT"),
    pytest.param(stdlib.AF_INET, stdlib.SOCK_SEQPACKET, 132, id="inet-seqpacket-ESOCKTNOSUPPORT"),
    pytest.param(stdlib.AF_INET, stdlib.SOCK_STREAM, 256, id="inet-stream-proto-EPROTONOSUPPORT"),
    pytest.param(stdlib.AF_INET6, stdlib.SOCK_DGRAM, 6, id="inet6-dgram-tcp-EPROTONOSUPPORT"),
    pytest.param(stdlib.AF_INET, stdlib.SOCK_DGRAM, 300, id="inet-proto-IPPROTO_MAX-EINVAL"),
    pytest.param(stdlib.AF_INET6, stdlib.SOCK_STREAM, -5, id="inet6-negative-proto-EINVAL"),
    pytest.param(stdlib.AF_UNIX, stdlib.SOCK_STREAM, 6, id="unix-proto-EPROTONOSUPPORT"),
    pytest.param(stdlib.AF_UNIX, 4, 6, id="unix-proto-before-type"),
    pytest.param(stdlib.AF_UNIX, 4, 0, id="unix-rdm-ESOCKTNOSUPPORT"),
]


@pytest.mark.parametrize(("family", "type_", "proto"), CASES)
def test_socket_creation_errors_follow_linux_order(net: Binding, family: int, type_: int, proto: int) -> None:
    ours = errno_of(lambda: net.socket(family, type_, proto))
    theirs = errno_of(lambda: stdlib.socket(family, type_, proto))
    assert ours == theirs
    assert ours != "ok"


def test_unmodelled_family_is_eafnosupport_not_notimplemented(net: Binding) -> None:
    """The fake models AF_UNIX/AF_INET/AF_INET6: AF_CAN, AF_PACKET, AF_NETLINK,
    AF_ALG... answer as a kernel without their module.  The real kernel may
    have the module (then the socket is made, and closed)."""
    for family, type_, proto in [
        (stdlib.AF_CAN, stdlib.SOCK_RAW, 1),
        (stdlib.AF_PACKET, stdlib.SOCK_RAW, 0),
        (stdlib.AF_NETLINK, stdlib.SOCK_RAW, 0),
        (stdlib.AF_ALG, stdlib.SOCK_SEQPACKET, 0),
        (stdlib.AF_INET, 10, 0),  # SOCK_PACKET on AF_INET becomes AF_PACKET
    ]:
        got = errno_of(lambda: net.socket(family, type_, proto))
        if isinstance(net.driver, FakeKernel):
            assert got == errno.EAFNOSUPPORT, (family, type_, proto)
            with pytest.raises(OSError) as info:
                net.socketpair(family, type_, proto)
            assert info.value.errno == errno.EAFNOSUPPORT
        else:
            assert got in ("ok", errno.EAFNOSUPPORT, errno.EPERM, errno.EPROTONOSUPPORT), (family, got)


def test_unbuilt_inet_protocols_are_eprotonosupport_on_the_fake() -> None:
    """MPTCP and SCTP: the fake is a kernel built without them.  (UDP-Lite, 136,
    it models: ``test_fake_inet_differential.py::udplite``.)"""
    kernel = FakeKernel()
    for type_, proto in [(stdlib.SOCK_STREAM, 262), (stdlib.SOCK_STREAM, 132)]:
        with pytest.raises(OSError) as info:
            kernel.socket(stdlib.AF_INET, type_, proto)
        assert info.value.errno == errno.EPROTONOSUPPORT
    assert kernel.open_fds() == []


def test_raw_ip_needs_cap_net_raw_on_the_fake() -> None:
    """inet_create: SOCK_RAW without CAP_NET_RAW is EPERM (the fake's process is
    uid 1000 unless told otherwise); for root the fake says it does not model raw IP."""
    with pytest.raises(OSError) as info:
        FakeKernel().socket(stdlib.AF_INET6, stdlib.SOCK_RAW, 58)
    assert info.value.errno == errno.EPERM
    with pytest.raises(NotImplementedError, match="raw IP sockets"):
        FakeKernel(uid=0).socket(stdlib.AF_INET, stdlib.SOCK_RAW, 1)


def test_probing_like_cpython_test_socket(net: Binding) -> None:
    """test_socket's ``_have_socket_can``: ``socket(PF_CAN, SOCK_RAW, CAN_RAW)``
    inside ``except (AttributeError, OSError)``; it must not raise anything else."""
    try:
        s = net.socket(net.PF_CAN, net.SOCK_RAW, net.CAN_RAW)
    except (AttributeError, OSError):
        return
    s.close()
