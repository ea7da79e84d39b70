"""Typed control messages the real kernel produces on loopback.

Each test takes the ``net`` fixture and is skipped on the fake kernel with
the reason "the fake kernel does not model X yet", so it starts running there
once the fake models X.  Sizes come from ``ancillary_space_for`` (the
socket's options), which these tests check against the real kernel too.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from sansock import Binding
from sansock import ancillary as anc


def real_kernel_only(net: Binding, what: str) -> None:
    from sansock_fake import FakeKernel

    if isinstance(net.driver, FakeKernel):
        pytest.skip(f"the fake kernel does not model {what} yet")


def udp_pair(net: Binding, family: Any, host: str) -> tuple[Any, Any]:
    rx = net.socket(family, net.SOCK_DGRAM)
    tx = net.socket(family, net.SOCK_DGRAM)
    try:
        rx.bind((host, 0))
        tx.connect(rx.getsockname()[:2])
    except BaseException:
        rx.close()
        tx.close()
        raise
    return rx, tx


def test_timestamps_ns_on_udp(net: Binding) -> None:
    real_kernel_only(net, "SO_TIMESTAMPNS")
    rx, tx = udp_pair(net, net.AF_INET, "127.0.0.1")
    with rx, tx:
        rx.setsockopt(net.SOL_SOCKET, net.SO_TIMESTAMPNS, 1)
        space = anc.ancillary_space_for(rx)
        assert space == net.CMSG_SPACE(16)
        before = time.time_ns()
        tx.send(b"tick")
        got = anc.recvmsg_ex(rx, 16, space, policy="raise")
        after = time.time_ns()
        stamp = got.get(anc.TimestampNs)
        assert stamp is not None and 0 <= stamp.nanoseconds < 1_000_000_000
        assert before - 1_000_000_000 <= stamp.ns <= after + 1_000_000_000
        assert got.truncation.control is False


def test_timestamp_us_on_udp(net: Binding) -> None:
    real_kernel_only(net, "SO_TIMESTAMP")
    rx, tx = udp_pair(net, net.AF_INET, "127.0.0.1")
    with rx, tx:
        rx.setsockopt(net.SOL_SOCKET, net.SO_TIMESTAMP, 1)
        tx.send(b"tick")
        got = anc.recvmsg_ex(rx, 16, anc.ancillary_space_for(rx), policy="raise")
        stamp = got.get(anc.Timestamp)
        assert stamp is not None and 0 <= stamp.microseconds < 1_000_000
        assert abs(stamp.ns - time.time_ns()) < 60 * 1_000_000_000


def test_ipv4_pktinfo_ttl_tos(net: Binding) -> None:
    rx, tx = udp_pair(net, net.AF_INET, "127.0.0.1")
    with rx, tx:
        for option in (net.abi.const("IP_PKTINFO"), net.abi.const("IP_RECVTTL"), net.IP_RECVTOS):
            rx.setsockopt(net.IPPROTO_IP, option, 1)
        tx.setsockopt(net.IPPROTO_IP, net.IP_TOS, 0x10)
        space = anc.ancillary_space_for(rx)
        assert space == net.CMSG_SPACE(12) + net.CMSG_SPACE(4) + net.CMSG_SPACE(1)
        tx.send(b"hello")
        got = anc.recvmsg_ex(rx, 16, space, policy="raise")
        assert got.get(anc.PacketInfo) == anc.PacketInfo(1, "127.0.0.1", "127.0.0.1")
        assert got.get(anc.TimeToLive) == anc.TimeToLive(64)
        assert got.get(anc.TypeOfService) == anc.TypeOfService(0x10)
        assert not any(isinstance(m, tuple) for m in got.ancdata)
        # Room for the first item only: Linux drops the others and sets MSG_CTRUNC.
        tx.send(b"hello")
        with pytest.raises(anc.ControlTruncatedError) as info:
            anc.recvmsg_ex(rx, 16, net.CMSG_SPACE(12), policy="raise")
        assert info.value.truncation.ctrunc and info.value.truncation.fds_lost is None


def test_ipv4_send_side_items(net: Binding) -> None:
    real_kernel_only(net, "IP_PKTINFO on sendmsg")
    rx, tx = udp_pair(net, net.AF_INET, "127.0.0.1")
    with rx, tx:
        rx.setsockopt(net.IPPROTO_IP, net.abi.const("IP_RECVTTL"), 1)
        abi = net.abi
        items = [anc.encode(anc.TimeToLive(7), abi), anc.encode(anc.PacketInfo(0, "127.0.0.1", "0.0.0.0"), abi)]
        tx.sendmsg([b"ttl"], items)
        got = anc.recvmsg_ex(rx, 16, anc.ancillary_space_for(rx), policy="raise")
        assert got.get(anc.TimeToLive) == anc.TimeToLive(7)


def test_ipv6_pktinfo_hoplimit_tclass(net: Binding) -> None:
    try:
        rx, tx = udp_pair(net, net.AF_INET6, "::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    with rx, tx:
        for option in (net.IPV6_RECVPKTINFO, net.IPV6_RECVHOPLIMIT, net.IPV6_RECVTCLASS):
            rx.setsockopt(net.IPPROTO_IPV6, option, 1)
        tx.setsockopt(net.IPPROTO_IPV6, net.IPV6_TCLASS, 0x28)
        space = anc.ancillary_space_for(rx)
        assert space == net.CMSG_SPACE(20) + 2 * net.CMSG_SPACE(4)
        tx.send(b"hello6")
        got = anc.recvmsg_ex(rx, 16, space, policy="raise")
        assert got.get(anc.Ipv6PacketInfo) == anc.Ipv6PacketInfo("::1", 1)
        assert got.get(anc.HopLimit) == anc.HopLimit(64)
        assert got.get(anc.TrafficClass) == anc.TrafficClass(0x28)


def test_udp_gso_then_gro(net: Binding) -> None:
    real_kernel_only(net, "UDP_SEGMENT and UDP_GRO")
    rx, tx = udp_pair(net, net.AF_INET, "127.0.0.1")
    with rx, tx:
        try:
            rx.setsockopt(net.SOL_UDP, net.UDP_GRO, 1)
            tx.sendmsg([b"a" * 3000], [anc.encode(anc.GsoSegmentSize(1000), net.abi)])
        except OSError as exc:
            pytest.skip(f"this kernel does not support UDP GSO/GRO on loopback: {exc}")
        space = anc.ancillary_space_for(rx)
        assert space == net.CMSG_SPACE(4)
        got = anc.recvmsg_ex(rx, 4000, space, policy="raise")
        gro = got.get(anc.GroSegmentSize)
        if gro is None:
            pytest.skip("the kernel split the GSO packet instead of delivering it coalesced")
        assert (len(got.data), gro) == (3000, anc.GroSegmentSize(1000))


def test_recverr_from_a_closed_port(net: Binding) -> None:
    real_kernel_only(net, "socket error queues (MSG_ERRQUEUE)")
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        target = closed.getsockname()
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as tx:
        tx.setsockopt(net.IPPROTO_IP, net.abi.const("IP_RECVERR"), 1)
        tx.sendto(b"anyone?", target)
        assert net.driver.poll(tx.fileno(), net.abi.const("POLLERR"), 5000)
        space = anc.ancillary_space_for(tx, errqueue=True)
        assert space == net.CMSG_SPACE(32)
        got = anc.recvmsg_ex(tx, 64, space, net.MSG_ERRQUEUE, policy="raise")
        err = got.get(anc.ExtendedError)
        assert err == anc.ExtendedError(
            errno=111, origin=anc.SO_EE_ORIGIN_ICMP, type=3, code=3, info=0, data=0,
            offender=("127.0.0.1", 0),
        )
        assert got.data == b"anyone?" and got.address == target
