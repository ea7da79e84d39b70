"""TCP between hosts of a simulated network, over the loopback TCP model (interim).

The fake's TCP (``_tcp``) links the two ends of a connection directly (each
socket holds its ``peer``), which is right on one host's loopback and wrong
between hosts: nothing may cross but packets.  Until the segment state
machine of the "fake fidelity" work (docs/notes SEAM) replaces it, a host of
a :class:`~sansock_fake.Network` gets :class:`NetTcpOps`: the same TCP for
connections inside the host (loopback, its own addresses), and for a
connection to another host, segments in packets through ``InetHost.output``
-- SYN, SYN-ACK, data, ACK (with the receiver's free space: flow control),
FIN and RST -- each end found on arrival by its 4-tuple in the receiving
host's port table, never by an object reference.  So a crashed and
restarted host, which has no socket for the 4-tuple, answers RST.

The network delivers segments reliably and in order (a lost one arrives
late) and retransmits one the path drops; when it gives up (``ETIMEDOUT``)
it tells :meth:`NetTcpOps.give_up_on`.

What this model leaves out: sequence numbers, a local send buffer (a send
blocks until the peer's advertised window has room; ``SO_SNDBUF`` does not
add to it), urgent data, keep-alives, TIME_WAIT, SYN cookies, dual-stack
(IPv4 to an IPv6 listener) across hosts.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import attrs

from ._addresses import InetName
from ._control import Credentials
from ._inet import Packet
from ._objects import RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, FakeSocket, OpenFile, Segment
from ._tcp import TcpOps

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["NetTcpOps", "TcpSegment"]

#: The most a data segment carries (a TSO-sized burst; keeps packet counts low).
MAX_SEGMENT = 65536


@attrs.frozen
class TcpSegment:
    """What a TCP packet carries in this model."""

    kind: str  # "SYN", "SYN-ACK", "DATA", "ACK", "FIN", "RST"
    data: bytes = b""
    #: For an ACK: how many bytes it acknowledges.
    acked: int = 0
    #: The sender's free receive space (the advertised window).
    window: int = 0

    @property
    def syn(self) -> bool:
        return self.kind in ("SYN", "SYN-ACK")

    @property
    def rst(self) -> bool:
        return self.kind == "RST"

    def __repr__(self) -> str:
        if self.kind == "DATA":
            return f"DATA {len(self.data)} bytes"
        if self.kind == "ACK":
            return f"ACK {self.acked} bytes win {self.window}"
        return f"{self.kind} win {self.window}" if self.syn else self.kind


@attrs.define(eq=False)
class _Conn:
    """The sender's view of a connection to another host."""

    #: Bytes sent and not acknowledged yet.
    in_flight: int = 0
    #: The peer's free receive space, as its last segment advertised it.
    peer_free: int = 0
    #: The free space this end advertised last.
    advertised: int = 0


def _same(a: object, b: InetName) -> bool:
    return isinstance(a, InetName) and a.packed == b.packed and a.port == b.port


class NetTcpOps(TcpOps):
    """``tcp_prot`` of a network host: loopback as :class:`TcpOps`, other hosts by segments."""

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        super().__init__(kernel, family, type_)
        self.IPPROTO_TCP = self.c("IPPROTO_TCP")
        self.SOCK_STREAM = self.c("SOCK_STREAM")
        self.conns: dict[FakeSocket, _Conn] = {}
        self.pending_syns: dict[FakeSocket, deque[Packet]] = {}
        self.host.handlers[(family, self.IPPROTO_TCP)] = self.input
        self.host.give_up[(family, self.IPPROTO_TCP)] = self.give_up_on

    # -- sending ---------------------------------------------------------------------------
    def _send(self, src: InetName, dst: InetName, segment: TcpSegment) -> None:
        self.host.output(Packet(self.family, self.IPPROTO_TCP, src, dst, segment, len(segment.data)))

    def _send_on(self, sock: FakeSocket, segment: TcpSegment) -> None:
        assert isinstance(sock.name, InetName) and isinstance(sock.peer_name, InetName)
        self._send(sock.name, sock.peer_name, segment)

    @staticmethod
    def _free(sock: FakeSocket) -> int:
        return max(sock.rcvbuf - sock.rmem, 0)

    def remote(self, sock: FakeSocket) -> bool:
        """A connection to another host (this module's), not one inside the host."""
        return sock in self.conns

    # -- connect -----------------------------------------------------------------------------
    def connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        sock = file.sock
        if sock.connect_in_progress or sock.state in ("connected", "listening") or self.is_unspec(addr):
            super().connect(fd, file, addr)
            return
        target = self.parse(sock, addr, for_bind=False)
        if self.host.is_local(self.family, target.packed):
            super().connect(fd, file, addr)
            return
        self.host.route(self.family, target)  # ENETUNREACH without an address of the family
        self.autobind(sock)
        sock.peer_name = attrs.evolve(target, flowinfo=0, scope_id=0)
        sock.name = self.host.local_name(sock, target)
        sock.state = "connecting"
        sock.error = 0
        sock.shutdown = 0
        conn = self.conns[sock] = _Conn()
        conn.advertised = self._free(sock)
        self._send_on(sock, TcpSegment("SYN", window=conn.advertised))
        if file.nonblocking:
            sock.connect_in_progress = True
            self.fail("EINPROGRESS")
        self.block(fd, "connect", lambda: sock.state != "connecting", self.kernel._options.sndtimeo_deadline(sock))
        if sock.state == "connecting":
            self.fail("EINPROGRESS")
        self.check_send_error(sock)

    # -- arriving segments -------------------------------------------------------------------
    def _lookup(self, local: InetName, remote: InetName) -> FakeSocket | None:
        """``__inet_lookup_established``: this host's connection with that 4-tuple."""
        for sock in self.ports.bound(self.family, self.SOCK_STREAM, local.port):
            if sock in self.conns and not sock.released and _same(sock.name, local) and _same(sock.peer_name, remote):
                return sock
        return None

    def _listener(self, local: InetName) -> FakeSocket | None:
        for sock in self.ports.bound(self.family, self.SOCK_STREAM, local.port):
            name = sock.name
            if sock.state == "listening" and isinstance(name, InetName):
                if name.packed == local.packed or not any(name.packed):
                    return sock
        return None

    def input(self, packet: Packet) -> None:
        """``tcp_v4_rcv``: a segment arrives from another host."""
        segment = packet.payload
        assert isinstance(segment, TcpSegment)
        if segment.kind == "SYN":
            self._syn(packet)
            return
        sock = self._lookup(packet.dst, packet.src)
        if sock is None:
            if not segment.rst:
                self._send(packet.dst, packet.src, TcpSegment("RST"))  # tcp_v4_send_reset
            return
        conn = self.conns[sock]
        if segment.kind == "SYN-ACK":
            if sock.state == "connecting":
                sock.state = "connected"
                conn.peer_free = segment.window
        elif segment.kind == "DATA":
            cost = len(segment.data)
            sock.rmem += cost
            sock.receive_queue.append(Segment(segment.data, self.kernel._process_credentials, cost=cost))
            conn.advertised = self._free(sock)
            self._send_on(sock, TcpSegment("ACK", acked=cost, window=conn.advertised))
        elif segment.kind == "ACK":
            conn.in_flight = max(conn.in_flight - segment.acked, 0)
            conn.peer_free = segment.window
        elif segment.kind == "FIN":
            sock.shutdown |= RCV_SHUTDOWN
        elif segment.rst:
            self.reset(sock)

    def _syn(self, packet: Packet) -> None:
        listener = self._listener(packet.dst)
        if listener is None:
            self._send(packet.dst, packet.src, TcpSegment("RST"))
            return
        if self.accept_queue_full(listener):
            # The SYN waits for room (a client's SYN retried until accept() makes some).
            self.pending_syns.setdefault(listener, deque()).append(packet)
            return
        self._establish(listener, packet)

    def _establish(self, listener: FakeSocket, packet: Packet) -> None:
        """The server end of a new connection joins the listener's accept queue; SYN-ACK back."""
        assert isinstance(packet.payload, TcpSegment)
        server = self.kernel._new_socket(listener.ops, listener.proto)
        server.name = attrs.evolve(packet.dst, flowinfo=0, scope_id=0)
        server.peer_name = attrs.evolve(packet.src, flowinfo=0, scope_id=0)
        server.options = dict(listener.options)
        server.options.pop((self.c("SOL_SOCKET"), self.c("SO_ERROR")), None)
        server.sndbuf, server.rcvbuf = listener.sndbuf, listener.rcvbuf
        server.credentials = listener.credentials
        server.embryo = True
        server.listener = listener
        server.state = "connected"
        self.ports.users(server.family, server.type, packet.dst.port).append(server)
        listener.accept_queue.append(server)
        conn = self.conns[server] = _Conn(peer_free=packet.payload.window)
        conn.advertised = self._free(server)
        self._send_on(server, TcpSegment("SYN-ACK", window=conn.advertised))

    def accepted(self, listener: FakeSocket) -> None:
        super().accepted(listener)
        waiting = self.pending_syns.get(listener)
        while waiting and not self.accept_queue_full(listener):
            self._establish(listener, waiting.popleft())

    def give_up_on(self, packet: Packet, errno: int) -> None:
        """The network stopped retransmitting a segment of ours: the connection fails."""
        sock = self._lookup(packet.src, packet.dst)
        if sock is None:
            return
        sock.error = errno
        sock.state = "closed"
        sock.shutdown = SHUTDOWN_MASK

    # -- data ----------------------------------------------------------------------------------
    def _room(self, sock: FakeSocket) -> int:
        conn = self.conns[sock]
        return conn.peer_free - conn.in_flight

    def writable(self, sock: FakeSocket) -> bool:
        if self.remote(sock):
            return sock.state != "connected" or self._room(sock) > 0
        return super().writable(sock)

    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[OpenFile],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``tcp_sendmsg_locked`` to another host: segments as the peer's window allows."""
        if not self.remote(sock):
            return super().sendmsg(fd, sock, data, files, credentials, nonblocking, addr, cap)
        self.check_send_error(sock)
        if sock.state == "connecting":
            if nonblocking:
                self.fail("EAGAIN")
            self.block(fd, "sendmsg", lambda: sock.state != "connecting")
            self.check_send_error(sock)
        if sock.state != "connected" or sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")
        if cap is not None:
            data = data[:cap]
        conn = self.conns[sock]
        sent = 0
        while sent < len(data):
            if sock.state != "connected":
                if sent:
                    return sent
                self.check_send_error(sock)
                self.fail("EPIPE")
            room = self._room(sock)
            if room <= 0:
                if sent:
                    return sent
                if nonblocking:
                    self.fail("EAGAIN")
                if not self.block(fd, "sendmsg", lambda: self._room(sock) > 0 or sock.state != "connected",
                                  self.kernel._options.sndtimeo_deadline(sock)):
                    self.fail("EAGAIN")
                continue
            chunk = data[sent : sent + min(room, MAX_SEGMENT)]
            conn.in_flight += len(chunk)
            self._send_on(sock, TcpSegment("DATA", bytes(chunk)))
            sent += len(chunk)
        return sent

    def drop_segment(self, sock: FakeSocket, segment: Segment) -> None:
        """A read freed receive space: a window update when it opened enough (``tcp_cleanup_rbuf``)."""
        super().drop_segment(sock, segment)
        conn = self.conns.get(sock)
        if conn is not None and sock.state == "connected" and not sock.released:
            free = self._free(sock)
            if free - conn.advertised >= min(sock.rcvbuf // 2, MAX_SEGMENT) or conn.advertised <= 0 < free:
                conn.advertised = free
                self._send_on(sock, TcpSegment("ACK", window=free))

    # -- FIN / RST -------------------------------------------------------------------------------
    def shutdown_connection(self, sock: FakeSocket, mode: int) -> None:
        if self.remote(sock):
            if mode & SEND_SHUTDOWN and sock.state == "connected":
                self._send_on(sock, TcpSegment("FIN"))
            return
        super().shutdown_connection(sock, mode)

    def disconnect(self, sock: FakeSocket) -> None:
        """``tcp_close``: unread data -> RST, else a FIN (unless one went already)."""
        self.pending_syns.pop(sock, None)
        conn = self.conns.pop(sock, None)
        if conn is None:
            super().disconnect(sock)
            return
        if sock.state == "connected":
            if any(seg.remaining for seg in sock.receive_queue):
                self._send_on(sock, TcpSegment("RST"))
            elif not sock.shutdown & SEND_SHUTDOWN:
                self._send_on(sock, TcpSegment("FIN"))
