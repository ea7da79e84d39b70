"""UDP and UDP-Lite (net/ipv4/udp.c, net/ipv6/udp.c, net/ipv4/udplite.c).

A datagram leaves in a :class:`~._inet.Packet` through the host's ``output``:
on loopback it arrives during ``sendto``; on a simulated network a link
carries it (late, or never).  :meth:`UdpOps.input` gives it to the socket
bound to the destination port whose address and connection match best, or
drops it when that socket's receive buffer is full; with no receiver, an
ICMP port unreachable goes back (:meth:`UdpOps.icmp_input`), and reaches the
sender only if it is connected to that very destination (``__udp4_lib_err``
finds it by its 4-tuple; an unconnected socket without IP_RECVERR ignores
it), as ``ECONNREFUSED`` on its next ``send`` or ``recv``.

Receive memory is charged per datagram at the ``truesize`` of the skb the
sender built (:func:`udp_truesize`) and released the way ``udp_rmem_release``
does, in batches, so the number of datagrams a given SO_RCVBUF holds is
Linux's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ._addresses import InetName, build_inet
from ._control import Credentials, ReceivedControl, parse_control
from ._inet import SOCK_BINDADDR_LOCK, SOCK_BINDPORT_LOCK, InetHost, InetOps, Packet, PortTable
from ._ip_ctl import IpControl
from ._objects import SEND_SHUTDOWN, FakeSocket, File, OpenFile, Segment
from ._protocol import Received

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["UdpOps", "UDP_MAX_PAYLOAD", "udp_truesize"]

#: Largest UDP payload over IPv4 / IPv6 (65535 - headers), by address length.
UDP_MAX_PAYLOAD = {4: 65507, 16: 65527}
#: include/linux/socket.h: MSG_PROBE (the socket module has no name for it).
_MSG_PROBE = 0x10

#: ``SKB_DATA_ALIGN(sizeof(struct sk_buff))`` and ``SKB_DATA_ALIGN(sizeof(struct
#: skb_shared_info))`` on x86-64, and ``SKB_SMALL_HEAD_CACHE_SIZE`` (the
#: ``skbuff_small_head`` slab, Linux 6.3+): what a small skb head costs.
_SKB_SIZE = 256
_SHINFO_SIZE = 320
_SMALL_HEAD = 576
#: ``SKB_MAX_ALLOC`` (order-2 pages minus the shared info): a larger linear
#: part makes ``__ip_append_data`` put the payload in page fragments.
_SKB_MAX_ALLOC = 4 * 4096 - _SHINFO_SIZE
#: Bytes of the linear allocation besides the payload, by address length:
#: IPv4 = 20 (iphdr) + 8 (udphdr) + 16 (LL_RESERVED_SPACE of lo) + 15
#: (``alloc_extra = hh_len + 15``); IPv6 = 40 + 8 + 16 + 8 (``sizeof(struct
#: frag_hdr)``, reserved by ``__ip6_append_data``).
_HEAD_EXTRA = {4: 59, 16: 72}
#: Loopback's MTU; an IPv6 datagram above it is fragmented and reassembled,
#: and the reassembled skb measured 67144 bytes for every such size.
_LO_MTU = 65536
_IPV6_REASSEMBLED = 67144


def udp_truesize(payload: int, address_len: int) -> int:
    """``skb->truesize`` of a UDP datagram of *payload* bytes sent over loopback.

    ``__ip_append_data``/``__ip6_append_data`` allocate one skb with
    ``sock_alloc_send_skb(payload + headers + alloc_extra)`` while that stays
    below ``SKB_MAX_ALLOC``; ``__alloc_skb`` then takes the 576-byte small
    head when ``SKB_DATA_ALIGN(size) + shared_info`` fits it, else a kmalloc
    bucket (a power of two; above 8 KiB, whole pages, still a power of two);
    ``truesize`` is that plus the ``sk_buff``.  A larger datagram has a small
    linear head (the headers) and the payload in page fragments, charged
    byte for byte.  Measured on Linux 6.18 (x86-64) with SO_MEMINFO for every
    size from 0 to 20000 and at 65000/max, IPv4 and IPv6: 0-197 bytes cost
    832 (IPv6: 0-184), then 1280, 2304, 4352, 8448, 16640, and from 16005
    (IPv6 15992) 832 + payload.  So the default 212992-byte SO_RCVBUF holds
    256 small datagrams, an 8192-byte one 9.
    """
    head = payload + _HEAD_EXTRA[address_len]
    if address_len == 16 and payload + 48 > _LO_MTU:
        return _IPV6_REASSEMBLED
    paged = 0
    if head >= _SKB_MAX_ALLOC:
        head, paged = _HEAD_EXTRA[address_len], payload
    size = ((head + 63) & ~63) + _SHINFO_SIZE
    size = _SMALL_HEAD if size <= _SMALL_HEAD else 1 << (size - 1).bit_length()
    return _SKB_SIZE + size + paged


class UdpOps(InetOps):
    """``inet_dgram_ops`` + ``udp_prot`` (``udpv6_prot``) for one family."""

    def __init__(self, kernel: FakeKernel, family: int, type_: int, *, lite: bool = False) -> None:
        super().__init__(kernel, family, type_)
        #: UDP-Lite (``udplite_prot``, RFC 3828): UDP with a checksum that may
        #: cover only the start of the datagram, in its own port table.
        self.lite = lite
        self.name = ("udplite" if lite else "udp") + ("" if family == self.AF_INET else "6")
        self.option_level = udp = self.c("IPPROTO_UDP")
        self.AF_INET6 = self.c("AF_INET6")
        constants = self.abi.constants
        self.SEND_CSCOV = (udp, constants.get("UDPLITE_SEND_CSCOV", -1))
        self.RECV_CSCOV = (udp, constants.get("UDPLITE_RECV_CSCOV", -1))
        self.IPPROTO_UDP = udp
        self.IPPROTO_UDPLITE = constants.get("IPPROTO_UDPLITE", -1)
        self.protocol = self.IPPROTO_UDPLITE if lite else udp
        self.IPPROTO_ICMP = self.c("IPPROTO_ICMP") if family == self.AF_INET else self.c("IPPROTO_ICMPV6")
        # udp_rcv / udplite_rcv, and the ICMP errors that answer them (__udp4_lib_err).
        self.host.handlers[(family, self.protocol)] = self.input
        self.ipctl = IpControl(self.abi)
        if lite:
            self.ports = kernel._inet.udplite_ports
        else:
            self.host.handlers[(family, self.IPPROTO_ICMP)] = self.icmp_input

    def table(self, host: InetHost) -> PortTable:
        """The port table datagrams of this protocol are delivered through on *host*."""
        return host.udplite_ports if self.lite else host.ports

    def connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``ip4_datagram_connect``: the default destination; AF_UNSPEC dissolves it.

        A wildcard destination means the loopback address (``ip_route_connect``),
        which ``getpeername`` then reports, and the local name takes the
        route's source address.
        """
        sock = file.sock
        # inet_dgram_connect, in its order: an address shorter than its family
        # field is EINVAL, AF_UNSPEC disconnects, then the autobind (EAGAIN
        # with no free port), and only then ip4_datagram_connect's length and
        # family checks and the route: a connect that fails there leaves the
        # socket bound to its new port, as on Linux.
        if len(addr) < 2:
            self.fail("EINVAL")
        if self.is_unspec(addr):
            self.disconnect_udp(sock)
            return
        self.autobind(sock)
        target = self.parse(sock, addr, for_bind=False)
        self.host.route(self.family, target)
        target = InetHost.loopback(target)
        sock.peer_name = attrs.evolve(target, flowinfo=0, scope_id=0)
        sock.name = self.host.local_name(sock, target)
        sock.state = "connected"

    def disconnect_udp(self, sock: FakeSocket) -> None:
        """``__udp_disconnect``: no peer; the local address and port go back to what
        ``bind`` fixed -- an address not bound explicitly becomes the wildcard
        again, a port not bound explicitly is released (``getsockname`` then
        says port 0, and the next send autobinds a new one)."""
        sock.peer_name = None
        sock.state = "unconnected"
        if not isinstance(sock.name, InetName):
            return
        if not sock.userlocks & SOCK_BINDADDR_LOCK:
            sock.name = attrs.evolve(sock.name, packed=self.any_addr)
        if not sock.userlocks & SOCK_BINDPORT_LOCK:
            self.ports.remove(sock)
            sock.name = None if not sock.userlocks & SOCK_BINDADDR_LOCK else attrs.evolve(sock.name, port=0)

    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[File],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``inet_sendmsg`` + ``udp_sendmsg``: the datagram leaves through the host's
        ``output`` (on loopback: delivered at once, dropped when the receiver is full).

        In Linux's order: the autobind (``inet_send_prepare``), the length
        above 0xFFFF, the destination (EDESTADDRREQ, EINVAL for port 0), the
        control data (``sock.send_control``: EINVAL for a malformed header), the
        route, the payload above the IP limit (EMSGSIZE), then
        ``sock_alloc_send_skb``: a pending error (an ICMP port unreachable:
        ECONNREFUSED, reported once) and SEND_SHUTDOWN (EPIPE).
        """
        # The control data is this call's alone, whatever fails (the autobind's EAGAIN too).
        control, sock.send_control = sock.send_control, b""
        self.autobind(sock)
        if len(data) > 0xFFFF:
            self.fail("EMSGSIZE")
        if addr:
            target = self.parse(sock, addr, for_bind=False)
            if target.port == 0:
                self.fail("EINVAL")
        else:
            if sock.peer_name is None:
                self.fail("EDESTADDRREQ")
            assert isinstance(sock.peer_name, InetName)
            target = sock.peer_name
        # udp_cmsg_send + ip6_datagram_send_ctl / ip_cmsg_send (after the
        # destination: EDESTADDRREQ before a malformed header's EINVAL), then
        # the socket's values.
        items = parse_control(self.abi, control, is_unix=False).ip if control else ()
        hoplimit, tclass = self.ipctl.send(sock, items) if items else (-1, -1)
        if hoplimit < 0 or tclass < 0:
            hops, tos = self.ipctl.socket_defaults(sock, self.family) if sock.options else (64, 0)
            hoplimit = hops if hoplimit < 0 else hoplimit
            tclass = tos if tclass < 0 else tclass
        self.host.route(self.family, target)
        if sock.send_flags & _MSG_PROBE and self.kernel.personality == "linux":
            # ip_make_skb/ip6_make_skb: MSG_PROBE ("do not send, only probe the
            # path") returns before the payload limit and sock_alloc_send_skb.
            return len(data)
        target = InetHost.loopback(target)
        if len(data) > UDP_MAX_PAYLOAD[len(target.packed)]:
            self.fail("EMSGSIZE")
        self.check_send_error(sock)
        if sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")
        source = self.host.local_name(sock, target)
        cscov = sock.options.get(self.SEND_CSCOV, 0) if self.lite else 0
        assert isinstance(cscov, int)
        self.host.output(
            Packet(self.family, self.protocol, source, target, bytes(data), len(data), cscov, hoplimit, tclass)
        )
        return len(data)

    def input(self, packet: Packet) -> None:
        """``udp_rcv``: the datagram arrives (``__udp4_lib_lookup`` + ``udp_queue_rcv_skb``)."""
        source, target = packet.src, packet.dst
        data = packet.payload
        assert isinstance(data, bytes)
        receiver = self.lookup(self.host, packet.family, source, target)
        if receiver is None:
            # ICMP port unreachable (icmp_send from __udp4_lib_rcv) back to the sender,
            # quoting the protocol it answers.
            self.host.output(Packet(packet.family, self.IPPROTO_ICMP, target, source, bytes([packet.proto]), 0))
            return
        if self.lite and not self.coverage_accepted(packet.cscov, receiver, len(data)):
            return
        cost = udp_truesize(len(data), len(target.packed))
        # __udp_enqueue_schedule_skb: drop when the buffer would overflow,
        # unless the queue is empty (one datagram always fits).  Not an error.
        if receiver.rmem and receiver.rmem + cost > receiver.rcvbuf:
            return
        if receiver.family != source.family:
            # A dual-stack AF_INET6 socket sees the IPv4 sender as ::ffff:a.b.c.d.
            source = InetName(receiver.family, bytes(10) + b"\xff\xff" + source.packed, source.port)
        segment = Segment(
            data, self.kernel._process_credentials, source=build_inet(self.abi, source), cost=cost, rx=packet
        )
        receiver.rmem += cost
        receiver.receive_queue.append(segment)

    def icmp_input(self, packet: Packet) -> None:
        """``__udp4_lib_err``: a port unreachable reaches the socket that sent the
        datagram only if it is connected to that destination (found by its 4-tuple)."""
        sender, origin = packet.dst, attrs.evolve(packet.src, flowinfo=0, scope_id=0)
        quoted = packet.payload[0] if isinstance(packet.payload, bytes) and packet.payload else self.IPPROTO_UDP
        table = self.host.udplite_ports if quoted == self.IPPROTO_UDPLITE else self.host.ports
        for sock in table.bound(packet.family, self.type, sender.port):
            if sock.peer_name == origin:
                sock.error = self.errno("ECONNREFUSED")
                return

    def coverage_accepted(self, sent: int, receiver: FakeSocket, size: int) -> bool:
        """UDP-Lite: whether *receiver* takes a datagram of *size* bytes sent with
        checksum coverage *sent*.

        The sender's UDPLITE_SEND_CSCOV below the UDP length (``size`` + 8)
        makes the coverage partial (``udplite_sender_cscov``; 0 means full).
        A receiver that set UDPLITE_RECV_CSCOV drops a partially covered
        datagram when its minimum is 0 (full coverage wanted) or above the
        datagram's coverage (``udp_queue_rcv_one_skb``).  Loopback corrupts
        nothing, so a covered datagram is always intact.
        """
        if not 0 < sent < size + 8:
            return True
        wanted = receiver.options.get(self.RECV_CSCOV)
        if wanted is None:
            return True
        assert isinstance(wanted, int)
        return wanted != 0 and sent >= wanted

    def lookup(self, host: InetHost, family_: int, source: InetName, target: InetName) -> FakeSocket | None:
        """``__udp4_lib_lookup``/``__udp6_lib_lookup``: the best-scoring socket on the port.

        A socket matches when its address is the destination or the wildcard
        and, if connected, its peer is the sender; the exact address, a
        connected socket and (for IPv4) an AF_INET socket score higher
        (``compute_score``).  An IPv4 datagram also reaches an AF_INET6
        socket bound to ``::`` without IPV6_V6ONLY.
        """
        families = [family_]
        if family_ == self.AF_INET:
            families.append(self.AF_INET6)
        sender = attrs.evolve(source, flowinfo=0, scope_id=0)
        best: FakeSocket | None = None
        best_score = -1
        options = self.kernel._options
        for family in families:
            for other in self.table(host).bound(family, self.type, target.port):
                assert isinstance(other.name, InetName)
                if family != family_:
                    if any(other.name.packed) or options.v6only(other):
                        continue
                    score = 0
                elif other.name.packed == target.packed:
                    score = 5
                elif not any(other.name.packed):
                    score = 1
                else:
                    continue
                if other.peer_name is not None:
                    if other.peer_name != sender:
                        continue
                    score += 4
                if score > best_score:
                    best, best_score = other, score
        return best

    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        """``udp_recvmsg``: a pending error comes first, even before queued datagrams
        (``__skb_recv_udp`` checks ``sock_error`` before the queue)."""
        self.check_send_error(sock)
        sock.last_rx = None
        received = self.datagram_read(fd, call, sock, size, flags, nonblocking)
        if flags & self.MSG_PEEK and sock.reader_queue == 0:
            # __skb_recv_udp splices the receive queue into the reader queue
            # when that is empty, for a peek too (a read does it in drop_segment).
            sock.reader_queue = len(sock.receive_queue)
        return received

    def scm_pending(self, sock: FakeSocket, creds: Credentials | None, files: list[File]) -> bool:
        """Whether the datagram just read has IP-level items to report (``_ip_ctl``)."""
        return self.ipctl.pending(sock, sock.last_rx)

    def scm_recv(
        self, sock: FakeSocket, control: ReceivedControl, creds: Credentials | None,
        files: list[File], flags: int,
    ) -> None:
        """``udpv6_recvmsg`` / ``udp_recvmsg``: IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS
        (IP_PKTINFO, IP_TTL, IP_TOS), as the socket asked."""
        if sock.last_rx is not None:
            self.ipctl.receive(sock, control, sock.last_rx)

    def drop_segment(self, sock: FakeSocket, segment: Segment) -> None:
        """``udp_rmem_release``: a read datagram's memory is released in batches.

        Its truesize adds to ``forward_deficit``, which goes back to
        ``sk_rmem_alloc`` only once it reaches ``forward_threshold``
        (SO_RCVBUF / 4) or the reader queue (what the first read after it was
        empty took off the receive queue) is empty.  Measured: with the
        default buffer full of 256 small datagrams, 63 reads make room for
        none, the 64th for 64.
        """
        if sock.reader_queue == 0:
            sock.reader_queue = len(sock.receive_queue) + 1  # the splice, this one included
        sock.reader_queue -= 1
        sock.forward_deficit += segment.cost
        if sock.forward_deficit >= sock.rcvbuf >> 2 or sock.reader_queue == 0:
            sock.rmem -= sock.forward_deficit
            sock.forward_deficit = 0

    def poll(self, sock: FakeSocket) -> int:
        """``udp_poll`` / ``datagram_poll``: writable while ``sock_writeable``."""
        mask = self.poll_common(sock)
        if sock.wmem < sock.sndbuf // 2:
            mask |= self.POLLOUT
        return mask

