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



# -- no ephemeral port left: each call's errno, and the failed send's items --------------


@pytest.fixture
def one_ephemeral_port(monkeypatch: pytest.MonkeyPatch) -> Binding:
    """A fake kernel whose local port range is the one port 40000, taken."""
    import sansock
    import sansock_fake._inet as fake_inet
    from sansock_fake import FakeKernel

    monkeypatch.setattr(fake_inet, "EPHEMERAL_PORTS", range(40000, 40001))
    return sansock.using(FakeKernel())


def _errno_of(call: Any) -> str:
    import errno

    try:
        call()
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]
    return "no error"


@pytest.mark.parametrize("family, host", [("AF_INET", "127.0.0.1"), ("AF_INET6", "::1")])
def test_no_ephemeral_port_left_gives_each_call_linux_errno(one_ephemeral_port: Binding, family: str, host: str) -> None:
    # inet_autobind (inet_send_prepare for sendmsg, inet_dgram_connect for a
    # datagram connect): "if (sk->sk_prot->get_port(sk, 0)) return -EAGAIN";
    # __inet_hash_connect (TCP connect): -EADDRNOTAVAIL; __inet_bind and
    # inet_csk_listen_start: -EADDRINUSE.  The fake said EADDRINUSE for all.
    net = one_ephemeral_port
    fam = getattr(net, family)
    with net.socket(fam, net.SOCK_DGRAM) as holder_udp, net.socket(fam, net.SOCK_STREAM) as holder_tcp, \
            net.socket(fam, net.SOCK_DGRAM) as udp, net.socket(fam, net.SOCK_STREAM) as tcp, \
            net.socket(fam, net.SOCK_STREAM) as listener, net.socket(fam, net.SOCK_STREAM) as bound:
        holder_udp.bind((host, 0))
        holder_tcp.bind((host, 0))
        target = (host, 41000)
        assert {
            "udp sendto": _errno_of(lambda: udp.sendto(b"x", target)),
            "udp sendmsg": _errno_of(lambda: udp.sendmsg([b"x"], [], 0, target)),
            "udp connect": _errno_of(lambda: udp.connect(target)),
            "tcp connect": _errno_of(lambda: tcp.connect(target)),
            "listen": _errno_of(lambda: listener.listen()),
            "bind port 0": _errno_of(lambda: bound.bind((host, 0))),
        } == {
            "udp sendto": "EAGAIN", "udp sendmsg": "EAGAIN", "udp connect": "EAGAIN",
            "tcp connect": "EADDRNOTAVAIL", "listen": "EADDRINUSE", "bind port 0": "EADDRINUSE",
        }


def test_udp_items_of_a_send_that_failed_in_autobind_do_not_apply_to_the_next_send(
    one_ephemeral_port: Binding,
) -> None:
    # The autobind fails before udp_sendmsg reads the control data; the next
    # sendto has no items, so its datagram has the socket's TTL (64).  The
    # fake kept the failed call's IP_TTL item on the socket: TTL 3.
    net = one_ephemeral_port
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as r, net.socket(net.AF_INET, net.SOCK_DGRAM) as s, \
            net.socket(net.AF_INET, net.SOCK_DGRAM) as holder:
        r.bind(("127.0.0.1", 41000))
        r.setsockopt(net.IPPROTO_IP, net.abi.const("IP_RECVTTL"), 1)
        holder.bind(("127.0.0.1", 0))  # the only ephemeral port
        ttl = (net.IPPROTO_IP, net.IP_TTL, (3).to_bytes(4, "little"))
        with pytest.raises(OSError):
            s.sendmsg([b"x"], [ttl], 0, ("127.0.0.1", 41000))
        s.bind(("127.0.0.1", 41001))
        s.sendto(b"y", ("127.0.0.1", 41000))
        data, ancdata, _, _ = r.recvmsg(16, 64)
        assert data == b"y"
        assert ancdata == [(net.IPPROTO_IP, net.IP_TTL, (64).to_bytes(4, "little"))]


# -- sendmsg items Linux accepts on UDP that the fake refused -----------------------------


def _ints(*values: int) -> bytes:
    import array

    return array.array("i", values).tobytes()


def _legacy_items(mod: Any, family: str) -> list[object]:
    # Linux numbers (the stdlib has no name for either): IPV6_2292HOPLIMIT 8,
    # IP_PROTOCOL 52; IPV6_RECVHOPLIMIT 51, IP_RECVTTL 12.
    got: list[object] = []
    fam = getattr(mod, family)
    host, level, item, recv = (
        ("::1", 41, 8, 51) if family == "AF_INET6" else ("127.0.0.1", 0, 52, 12)
    )
    with mod.socket(fam, mod.SOCK_DGRAM) as r, mod.socket(fam, mod.SOCK_DGRAM) as s:
        r.bind((host, 0))
        r.setsockopt(level, recv, 1)
        for data in (_ints(7), _ints(17), _ints(300), _ints(0), _ints(-1), b"\x07", _ints(7, 7)):
            try:
                got.append(s.sendmsg([b"x"], [(level, item, data)], 0, r.getsockname()))
                got.append(r.recvmsg(16, 64, mod.MSG_DONTWAIT)[:3])
            except OSError as exc:
                got.append((type(exc).__name__, exc.errno))
    return got


@pytest.mark.parametrize("family", ["AF_INET6", "AF_INET"])
def test_udp_legacy_hoplimit_and_ip_protocol_items_as_linux(net: Binding, family: str) -> None:
    # ip6_datagram_send_ctl: "case IPV6_2292HOPLIMIT: case IPV6_HOPLIMIT:" (RFC
    # 2292's number, the same rules); ip_cmsg_send: IP_PROTOCOL, an int in
    # [1, 255] of exactly CMSG_LEN(sizeof(int)), which UDP does not use.  The
    # fake said EINVAL for both.
    assert _legacy_items(net, family) == _legacy_items(socket, family)


def _recverr_item(mod: Any) -> object:
    with mod.socket(mod.AF_INET, mod.SOCK_DGRAM) as r, mod.socket(mod.AF_INET, mod.SOCK_DGRAM) as s:
        r.bind(("127.0.0.1", 0))
        try:
            # IP_RECVERR (11) is a socket option, never a sendmsg item.
            return s.sendmsg([b"x"], [(mod.IPPROTO_IP, 11, _ints(1))], 0, r.getsockname())
        except OSError as exc:
            return type(exc).__name__, exc.errno


def test_ip_recverr_item_is_einval_as_on_linux(net: Binding) -> None:
    # ip_cmsg_send has no IP_RECVERR case: "default: return -EINVAL".  The
    # fake raised NotImplementedError ("does not model IP_RECVERR").
    assert _recverr_item(net) == _recverr_item(socket)


@pytest.mark.parametrize(
    "option, data",
    [
        (11, _ints(0)),  # IPV6_FLOWINFO: a flow label and traffic class for this datagram
        (2, bytes(16) + _ints(0)),  # IPV6_2292PKTINFO: RFC 2292's IPV6_PKTINFO
        (3, bytes(8)),  # IPV6_2292HOPOPTS
        (4, bytes(8)),  # IPV6_2292DSTOPTS
        (5, bytes(8)),  # IPV6_2292RTHDR
    ],
    ids=["IPV6_FLOWINFO", "IPV6_2292PKTINFO", "IPV6_2292HOPOPTS", "IPV6_2292DSTOPTS", "IPV6_2292RTHDR"],
)
def test_unmodelled_ipv6_items_without_a_stdlib_name_raise_not_implemented(option: int, data: bytes) -> None:
    # ip6_datagram_send_ctl accepts these (IPV6_FLOWINFO 0 is sent as it is on
    # Linux); the profile has no name for them, so the fake said EINVAL, a
    # lie about Linux, where its rule is NotImplementedError for what it does
    # not model.
    import sansock
    from sansock_fake import FakeKernel

    net = sansock.using(FakeKernel())
    with net.socket(net.AF_INET6, net.SOCK_DGRAM) as r, net.socket(net.AF_INET6, net.SOCK_DGRAM) as s:
        r.bind(("::1", 0))
        with pytest.raises(NotImplementedError):
            s.sendmsg([b"x"], [(net.IPPROTO_IPV6, option, data)], 0, r.getsockname())
        r.setblocking(False)
        with pytest.raises(BlockingIOError):
            r.recv(16)
