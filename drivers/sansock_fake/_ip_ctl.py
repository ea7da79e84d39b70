"""IP-level ancillary data on UDP: what ``sendmsg`` control items set on a datagram,
and what ``recvmsg`` reports about it.

Send side, IPv6: ``ip6_datagram_send_ctl`` (net/ipv6/datagram.c), after
``udp_cmsg_send`` (net/ipv4/udp.c) took the SOL_UDP items.  SOL_SOCKET items
were checked by ``__sock_cmsg_send`` already (``_control``); items of another
level are skipped; an unknown SOL_IPV6 type is EINVAL.  IPV6_HOPLIMIT and
IPV6_TCLASS must be exactly ``CMSG_LEN(sizeof(int))`` long and within
[-1, 255] (EINVAL).  An IPV6_HOPLIMIT of -1 means the socket's
IPV6_UNICAST_HOPS; an IPV6_TCLASS of -1 goes into the header as 0xff
(measured on Linux 6.18: ``ip6_flow_hdr`` shifts the int as it is).
IPv4: ``ip_cmsg_send`` (net/ipv4/ip_sockglue.c): IP_TTL an int in [1, 255],
IP_TOS an int or a byte in [0, 255], IP_PROTOCOL (52) an int in [1, 255]
(UDP does not use it), other SOL_IP types EINVAL.

Receive side, in Linux's order: ``udpv6_recvmsg`` puts
``ip6_datagram_recv_common_ctl`` (IPV6_PKTINFO: ``struct in6_pktinfo``,
destination address + ifindex, lo = 1) then ``ip6_datagram_recv_specific_ctl``
(IPV6_HOPLIMIT, then IPV6_TCLASS, each an int), or, for an IPv4 datagram on a
dual-stack socket, ``ip_cmsg_recv_offset`` with the socket's IPv4 flags;
``udp_recvmsg`` puts ``ip_cmsg_recv_offset``: IP_PKTINFO (``struct
in_pktinfo``: ifindex, spec_dst, dst), IP_TTL (an int), IP_TOS (one byte).
Each goes through ``put_cmsg`` (``_control.ReceivedControl``: the MSG_CTRUNC
rules).  Per-packet options the fake does not model (IPV6_PKTINFO and IP_PKTINFO
sent, routing headers, hop-by-hop options, flow labels, UDP_SEGMENT) raise
``NotImplementedError``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._oserror import raise_errno

if TYPE_CHECKING:
    from sansock.driver import ABI

    from ._control import ReceivedControl
    from ._inet import Packet
    from ._objects import FakeSocket

__all__ = ["IpControl", "LOOPBACK_IFINDEX"]

#: ``lo`` is the first interface registered: ifindex 1.
LOOPBACK_IFINDEX = 1


class IpControl:
    """The IP-level ancillary data rules of one ABI, constants resolved once."""

    def __init__(self, abi: ABI) -> None:
        self.abi = abi
        get = abi.constants.get
        c = abi.const
        self.AF_INET, self.AF_INET6 = c("AF_INET"), c("AF_INET6")
        self.SOL_IP, self.SOL_IPV6, self.SOL_UDP = c("IPPROTO_IP"), c("IPPROTO_IPV6"), c("IPPROTO_UDP")
        self.SOL_SOCKET = c("SOL_SOCKET")
        self.SOL_UDPLITE = get("IPPROTO_UDPLITE", -2)
        self.IPV6_HOPLIMIT, self.IPV6_TCLASS = get("IPV6_HOPLIMIT", -2), get("IPV6_TCLASS", -2)
        self.IPV6_PKTINFO = get("IPV6_PKTINFO", -2)
        # Linux's numbers the socket module has no name for: RFC 2292's hop
        # limit item (include/uapi/linux/in6.h) and IP_PROTOCOL (in.h).
        linux = abi.name.startswith("linux")
        self.IPV6_2292HOPLIMIT = get("IPV6_2292HOPLIMIT", 8 if linux else -2)
        self.IP_PROTOCOL = get("IP_PROTOCOL", 52 if linux else -2)
        self._hoplimits = (self.IPV6_HOPLIMIT, self.IPV6_2292HOPLIMIT)
        self.IPV6_UNICAST_HOPS = get("IPV6_UNICAST_HOPS", -2)
        self.rx6 = (get("IPV6_RECVPKTINFO", -2), get("IPV6_RECVHOPLIMIT", -2), get("IPV6_RECVTCLASS", -2))
        self.IP_TTL, self.IP_TOS, self.IP_PKTINFO = get("IP_TTL", -2), get("IP_TOS", -2), get("IP_PKTINFO", -2)
        self.rx4 = (self.IP_PKTINFO, get("IP_RECVTTL", -2), get("IP_RECVTOS", -2))
        #: SOL_IPV6 / SOL_IP types Linux accepts in sendmsg and the fake does not
        #: model (ip6_datagram_send_ctl's and ip_cmsg_send's cases); the Linux
        #: numbers for the names the socket module lacks (include/uapi/linux/in6.h).
        unnamed6 = {"IPV6_2292PKTINFO": 2, "IPV6_2292HOPOPTS": 3, "IPV6_2292DSTOPTS": 4, "IPV6_2292RTHDR": 5,
                    "IPV6_FLOWINFO": 11} if linux else {}
        self.unmodelled6 = {
            get(n, unnamed6.get(n, -2)): n
            for n in ("IPV6_PKTINFO", "IPV6_2292PKTINFO", "IPV6_FLOWINFO", "IPV6_HOPOPTS", "IPV6_2292HOPOPTS",
                      "IPV6_DSTOPTS", "IPV6_2292DSTOPTS", "IPV6_RTHDRDSTOPTS", "IPV6_RTHDR", "IPV6_2292RTHDR",
                      "IPV6_DONTFRAG")
        }
        self.unmodelled6.pop(-2, None)
        self.unmodelled4 = {get(n, -2): n for n in ("IP_PKTINFO", "IP_RETOPTS")}
        self.unmodelled4.pop(-2, None)
        self._end = "<" if abi.byteorder == "little" else ">"
        self._int = abi.sizeof_int

    def _int_value(self, data: bytes) -> int:
        return int.from_bytes(data[: self._int], self.abi.byteorder, signed=True)

    def _einval(self) -> None:
        raise_errno(self.abi.errno("EINVAL"))

    # -- sendmsg -------------------------------------------------------------
    def send(self, sock: FakeSocket, items: Sequence[tuple[int, int, bytes]]) -> tuple[int, int]:
        """``udp_cmsg_send`` + ``ip6_datagram_send_ctl`` / ``ip_cmsg_send``: the
        datagram's (hop limit or TTL, traffic class or TOS); -1 where the
        control data says nothing (the socket's value applies)."""
        hoplimit = tclass = -1
        inet6 = sock.family == self.AF_INET6
        for level, type_, data in items:
            if level in (self.SOL_UDP, self.SOL_UDPLITE):
                # udp_cmsg_send: UDP_SEGMENT (GSO) is the only SOL_UDP item.
                if type_ == self.abi.constants.get("UDP_SEGMENT"):
                    raise NotImplementedError("the fake kernel does not model UDP_SEGMENT (GSO) in sendmsg")
                self._einval()
            if inet6:
                if level != self.SOL_IPV6:
                    continue
                if type_ in (self.IPV6_HOPLIMIT, self.IPV6_2292HOPLIMIT, self.IPV6_TCLASS):
                    # "case IPV6_2292HOPLIMIT: case IPV6_HOPLIMIT:" share the rules.
                    if len(data) != self._int:
                        self._einval()
                    value = self._int_value(data)
                    if not -1 <= value <= 0xFF:
                        self._einval()
                    if type_ in self._hoplimits:
                        hoplimit = value
                    else:
                        tclass = value & 0xFF
                elif type_ in self.unmodelled6:
                    raise NotImplementedError(
                        f"the fake kernel does not model {self.unmodelled6[type_]} in sendmsg control data"
                    )
                else:
                    self._einval()
            else:
                if level != self.SOL_IP:
                    continue
                if type_ == self.IP_TTL:
                    if len(data) != self._int:
                        self._einval()
                    value = self._int_value(data)
                    if not 1 <= value <= 0xFF:
                        self._einval()
                    hoplimit = value
                elif type_ == self.IP_TOS:
                    if len(data) == self._int:
                        value = self._int_value(data)
                    elif len(data) == 1:
                        value = data[0]
                    else:
                        self._einval()
                    if not 0 <= value <= 0xFF:
                        self._einval()
                    tclass = value
                elif type_ == self.IP_PROTOCOL:
                    # ip_cmsg_send: an int in [1, 255]; ipc->protocol is for raw
                    # and ping sockets, UDP sends as UDP.
                    if len(data) != self._int or not 1 <= self._int_value(data) <= 0xFF:
                        self._einval()
                elif type_ in self.unmodelled4:
                    raise NotImplementedError(
                        f"the fake kernel does not model {self.unmodelled4[type_]} in sendmsg control data"
                    )
                else:
                    self._einval()
        return hoplimit, tclass

    def socket_defaults(self, sock: FakeSocket, family: int) -> tuple[int, int]:
        """The socket's own (hop limit or TTL, traffic class or TOS) for a datagram of *family*."""
        options = sock.options
        if family == self.AF_INET6:
            hops = options.get((self.SOL_IPV6, self.IPV6_UNICAST_HOPS), 64)
            tclass = options.get((self.SOL_IPV6, self.IPV6_TCLASS), 0)
        else:
            hops = options.get((self.SOL_IP, self.IP_TTL), 64)
            tclass = options.get((self.SOL_IP, self.IP_TOS), 0)
        hops = hops if isinstance(hops, int) and hops >= 0 else 64
        tclass = tclass & 0xFF if isinstance(tclass, int) and tclass >= 0 else 0
        return hops, tclass

    # -- recvmsg -------------------------------------------------------------
    def _on(self, sock: FakeSocket, level: int, option: int) -> bool:
        return bool(sock.options.get((level, option)))

    def pending(self, sock: FakeSocket, rx: Packet | None) -> bool:
        """Whether :meth:`receive` would put anything for *rx* on *sock*."""
        if rx is None or not sock.options:
            return False
        if sock.family == self.AF_INET6 and any(self._on(sock, self.SOL_IPV6, o) for o in self.rx6):
            return True
        return rx.family == self.AF_INET and any(self._on(sock, self.SOL_IP, o) for o in self.rx4)

    def receive(self, sock: FakeSocket, control: ReceivedControl, rx: Packet) -> None:
        """``udpv6_recvmsg`` / ``udp_recvmsg``: the IP-level items, in Linux's order."""
        end = self._end
        v4 = rx.family == self.AF_INET
        daddr = rx.dst.packed
        if sock.family == self.AF_INET6:
            recvpktinfo, recvhoplimit, recvtclass = (self._on(sock, self.SOL_IPV6, o) for o in self.rx6)
            if recvpktinfo:  # ip6_datagram_recv_common_ctl (a mapped address for IPv4)
                addr6 = bytes(10) + b"\xff\xff" + daddr if v4 else daddr
                control.put_cmsg(self.SOL_IPV6, self.IPV6_PKTINFO, addr6 + struct.pack(end + "I", LOOPBACK_IFINDEX))
            if not v4:  # ip6_datagram_recv_specific_ctl
                if recvhoplimit:
                    control.put_cmsg(self.SOL_IPV6, self.IPV6_HOPLIMIT, struct.pack(end + "i", rx.hoplimit))
                if recvtclass:
                    control.put_cmsg(self.SOL_IPV6, self.IPV6_TCLASS, struct.pack(end + "i", rx.tclass))
                return
        # ip_cmsg_recv_offset: "ordered by supposed usage frequency".
        pktinfo, recvttl, recvtos = (self._on(sock, self.SOL_IP, o) for o in self.rx4)
        if pktinfo:  # ip_cmsg_recv_pktinfo: spec_dst is the local address itself
            control.put_cmsg(self.SOL_IP, self.IP_PKTINFO, struct.pack(end + "i", LOOPBACK_IFINDEX) + daddr + daddr)
        if recvttl:
            control.put_cmsg(self.SOL_IP, self.IP_TTL, struct.pack(end + "i", rx.hoplimit))
        if recvtos:
            control.put_cmsg(self.SOL_IP, self.IP_TOS, bytes([rx.tclass]))
