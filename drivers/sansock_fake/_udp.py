"""UDP (net/ipv4/udp.c, net/ipv6/udp.c).

A datagram leaves in a :class:`~._inet.Packet` through the host's ``output``:
on loopback it arrives during ``sendto``; on a simulated network a link
carries it (late, or never).  :meth:`UdpOps.input` gives it to the socket
bound to the destination port whose address and connection match, or drops
it when that socket's receive buffer is full; with no receiver, the ICMP
port unreachable sent back (:meth:`UdpOps.icmp_input`) gives a connected
sender ``ECONNREFUSED``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ._addresses import InetName, build_inet
from ._control import Credentials
from ._inet import InetHost, InetOps, Packet
from ._objects import FakeSocket, OpenFile, Segment, truesize
from ._protocol import Received

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["UdpOps", "UDP_MAX_PAYLOAD"]

#: Largest UDP payload over IPv4 / IPv6 (65535 - headers), by address length.
UDP_MAX_PAYLOAD = {4: 65507, 16: 65527}


class UdpOps(InetOps):
    """``inet_dgram_ops`` + ``udp_prot`` (``udpv6_prot``) for one family."""

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        super().__init__(kernel, family, type_)
        self.name = "udp" if family == self.AF_INET else "udp6"
        self.option_level = self.c("IPPROTO_UDP")
        self.IPPROTO_UDP = self.c("IPPROTO_UDP")
        self.IPPROTO_ICMP = self.c("IPPROTO_ICMP") if family == self.AF_INET else self.c("IPPROTO_ICMPV6")
        self.host.handlers[(family, self.IPPROTO_UDP)] = self.input
        self.host.handlers[(family, self.IPPROTO_ICMP)] = self.icmp_input

    def connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``ip4_datagram_connect``: the default destination; AF_UNSPEC dissolves it."""
        sock = file.sock
        if self.is_unspec(addr):
            sock.peer_name = None
            sock.state = "unconnected"
            return
        target = self.parse(sock, addr, for_bind=False)
        self.host.route(self.family, target)
        self.autobind(sock)
        sock.peer_name = target
        sock.name = self.host.local_name(sock, target)
        sock.state = "connected"

    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[OpenFile],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``udp_sendmsg``: the datagram leaves through the host's ``output``."""
        if addr:
            target = self.parse(sock, addr, for_bind=False)
        else:
            if sock.peer_name is None:
                self.fail("EDESTADDRREQ")
            assert isinstance(sock.peer_name, InetName)
            target = sock.peer_name
        if len(data) > UDP_MAX_PAYLOAD[len(target.packed)]:
            self.fail("EMSGSIZE")
        self.host.route(self.family, target)
        if target.port == 0:
            self.fail("EINVAL")
        self.autobind(sock)
        target = InetHost.loopback(target)
        source = self.host.local_name(sock, target)
        self.host.output(Packet(self.family, self.IPPROTO_UDP, source, target, bytes(data), len(data)))
        return len(data)

    def input(self, packet: Packet) -> None:
        """``udp_rcv``: the datagram arrives (``__udp4_lib_lookup`` + ``udp_queue_rcv_skb``)."""
        source, target = packet.src, packet.dst
        assert isinstance(packet.payload, bytes)
        data = packet.payload
        receiver = None
        for other in self.ports.bound(self.family, self.type, target.port):
            assert isinstance(other.name, InetName)
            if other.name.packed == target.packed or not any(other.name.packed) or not any(target.packed):
                # A connected receiver takes only datagrams from its peer.
                if other.peer_name is None or other.peer_name == attrs.evolve(source, flowinfo=0, scope_id=0):
                    receiver = other
                    break
        if receiver is None:
            # ICMP port unreachable (icmp_send from __udp4_lib_rcv) back to the sender.
            self.host.output(Packet(self.family, self.IPPROTO_ICMP, target, source, b"port unreachable", 0))
            return
        cost = truesize(len(data))
        if receiver.rmem + cost > receiver.rcvbuf:
            return  # __udp_enqueue_schedule_skb: dropped, not an error.
        segment = Segment(data, self.kernel._process_credentials, source=build_inet(self.abi, source), cost=cost)
        receiver.rmem += cost
        receiver.receive_queue.append(segment)

    def icmp_input(self, packet: Packet) -> None:
        """``__udp4_lib_err``: port unreachable gives the connected sender ECONNREFUSED."""
        sender, origin = packet.dst, packet.src
        for sock in self.ports.bound(self.family, self.type, sender.port):
            peer = sock.peer_name
            if isinstance(peer, InetName) and InetHost.loopback(attrs.evolve(peer, flowinfo=0, scope_id=0)) == attrs.evolve(
                origin, flowinfo=0, scope_id=0
            ):
                sock.error = self.errno("ECONNREFUSED")
                return
    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        return self.datagram_read(fd, call, sock, size, flags, nonblocking)

    def poll(self, sock: FakeSocket) -> int:
        """``udp_poll`` / ``datagram_poll``: writable while ``sock_writeable``."""
        mask = self.poll_common(sock)
        if sock.wmem < sock.sndbuf // 2:
            mask |= self.POLLOUT
        return mask
