"""UDP (net/ipv4/udp.c, net/ipv6/udp.c) on the host's loopback.

A datagram is delivered during ``sendto`` (:meth:`UdpOps.deliver`, where a
link would later carry it): to the socket bound to the destination port
whose address and connection match, or dropped when its receive buffer is
full; with no receiver, the ICMP port unreachable that loopback answers
gives a connected sender ``ECONNREFUSED``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ._addresses import InetName, build_inet
from ._control import Credentials
from ._inet import InetHost, InetOps
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
        sock.name = InetHost.source_name(sock, target)
        sock.state = "connected"

    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[OpenFile],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``udp_sendmsg`` on loopback: delivered at once, dropped when the receiver is full."""
        if addr:
            target = self.parse(sock, addr, for_bind=False)
        else:
            if sock.peer_name is None:
                self.fail("EDESTADDRREQ")
            assert isinstance(sock.peer_name, InetName)
            target = sock.peer_name
        if len(data) > UDP_MAX_PAYLOAD[len(target.packed)]:
            self.fail("EMSGSIZE")
        destination = self.host.route(self.family, target)
        if target.port == 0:
            self.fail("EINVAL")
        self.autobind(sock)
        source = InetHost.source_name(sock, InetHost.loopback(target))
        self.deliver(destination, sock, source, target, data)
        return len(data)

    def deliver(self, host: InetHost, sock: FakeSocket, source: InetName, target: InetName, data: bytes) -> None:
        """The datagram arrives at *host* (``__udp4_lib_lookup`` + ``udp_queue_rcv_skb``)."""
        receiver = None
        for other in host.ports.bound(sock.family, sock.type, target.port):
            assert isinstance(other.name, InetName)
            if other.name.packed == target.packed or not any(other.name.packed) or not any(target.packed):
                # A connected receiver takes only datagrams from its peer.
                if other.peer_name is None or other.peer_name == attrs.evolve(source, flowinfo=0, scope_id=0):
                    receiver = other
                    break
        if receiver is None:
            # ICMP port unreachable: a connected socket learns ECONNREFUSED.
            if sock.peer_name is not None:
                sock.error = self.errno("ECONNREFUSED")
            return
        cost = truesize(len(data))
        if receiver.rmem + cost > receiver.rcvbuf:
            return  # __udp_enqueue_schedule_skb: dropped, not an error.
        segment = Segment(data, self.kernel._process_credentials, source=build_inet(self.abi, source), cost=cost)
        receiver.rmem += cost
        receiver.receive_queue.append(segment)

    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        return self.datagram_read(fd, call, sock, size, flags, nonblocking)

    def poll(self, sock: FakeSocket) -> int:
        """``udp_poll`` / ``datagram_poll``: writable while ``sock_writeable``."""
        mask = self.poll_common(sock)
        if sock.wmem < sock.sndbuf // 2:
            mask |= self.POLLOUT
        return mask
