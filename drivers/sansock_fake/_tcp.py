"""TCP (net/ipv4/tcp*.c, inet_connection_sock.c) on the host's loopback.

A connection is two sockets, each the other's ``peer``.  The three-way
handshake completes inside ``connect`` when the listener's accept queue has
room (:meth:`TcpOps.establish`); otherwise the connector waits on the
listener's SYN queue, as a SYN retried by the client would, until ``accept``
makes room.  What travels between the two ends goes through three methods,
the places where a segment crosses the wire: :meth:`TcpOps.transmit` (data
into the peer's receive queue), :meth:`TcpOps.send_fin` and
:meth:`TcpOps.reset`.

States are ``sock.state`` ("unconnected", "listening", "connecting",
"connected", "closed") with the ``sk_shutdown`` bits; ``connect_in_progress``
is ``SS_CONNECTING`` of a non-blocking connect whose outcome no connect call
has reported yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._addresses import InetName
from ._control import Credentials
from ._inet import InetHost, InetOps
from ._objects import RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, FakeSocket, OpenFile, Segment
from ._oserror import raise_errno
from ._protocol import Received

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["TcpOps", "TCP_SNDBUF_DEFAULT", "TCP_RCVBUF_DEFAULT"]

#: net/ipv4/tcp.c: tcp_wmem[1] and tcp_rmem[1] defaults.
TCP_SNDBUF_DEFAULT = 16384
TCP_RCVBUF_DEFAULT = 131072


class TcpOps(InetOps):
    """``inet_stream_ops`` + ``tcp_prot`` (``tcpv6_prot``) for one family."""

    connection = True
    sndbuf_default = TCP_SNDBUF_DEFAULT
    rcvbuf_default = TCP_RCVBUF_DEFAULT

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        super().__init__(kernel, family, type_)
        self.name = "tcp" if family == self.AF_INET else "tcp6"
        self.option_level = self.c("IPPROTO_TCP")
        self.AF_INET6 = self.c("AF_INET6")

    # -- listen / accept -----------------------------------------------------
    def listen_name(self, sock: FakeSocket) -> None:
        """``inet_listen``: bind an ephemeral port if unbound, then check the port again."""
        self.autobind(sock)
        self.check_listen_port(sock)

    def accepted(self, listener: FakeSocket) -> None:
        """Room in the accept queue: the waiting connectors' SYNs get through."""
        while listener.syn_queue and not self.accept_queue_full(listener):
            connector = listener.syn_queue.popleft()
            self.establish(connector, listener)

    # -- connect -------------------------------------------------------------
    def connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``__inet_stream_connect`` + ``tcp_v4_connect`` on loopback."""
        sock = file.sock
        if sock.connect_in_progress:
            # __inet_stream_connect in SS_CONNECTING: EALREADY while the
            # handshake runs; once it ended, this call reports the outcome.
            if sock.state == "connecting":
                self.fail("EALREADY")
            sock.connect_in_progress = False
            if sock.state == "connected":
                return
            sock.state = "unconnected"
            code, sock.error = sock.error or self.errno("ECONNABORTED"), 0
            raise_errno(code)
        if sock.state == "connected":
            self.fail("EISCONN")
        if sock.state == "listening":
            self.fail("EISCONN")
        if self.is_unspec(addr):
            raise NotImplementedError("the fake kernel does not model connect(AF_UNSPEC) on TCP sockets")
        target = self.parse(sock, addr, for_bind=False)
        destination = self.host.route(self.family, target)  # only the loopback interface exists
        target = InetHost.loopback(target)
        self.autobind(sock)
        sock.peer_name = target
        sock.name = InetHost.source_name(sock, target)
        listener = self.find_listener(destination, sock, target)
        if listener is None:
            # RST in answer to the SYN: tcp_reset in SYN_SENT.
            sock.state = "unconnected"
            sock.peer_name = None
            if file.nonblocking:
                sock.error = self.errno("ECONNREFUSED")
                sock.state = "closed"
                sock.shutdown = SHUTDOWN_MASK
                sock.connect_in_progress = True
                self.fail("EINPROGRESS")
            self.fail("ECONNREFUSED")
        sock.state = "connecting"
        if self.accept_queue_full(listener):
            listener.syn_queue.append(sock)
        else:
            self.establish(sock, listener)
        if file.nonblocking:
            sock.connect_in_progress = True
            self.fail("EINPROGRESS")  # Linux answers EINPROGRESS even on loopback.
        self.block(fd, "connect", lambda: sock.state != "connecting", self.kernel._options.sndtimeo_deadline(sock))
        if sock.state == "connecting":
            self.fail("EINPROGRESS")
        self.check_send_error(sock)

    def find_listener(self, host: InetHost, sock: FakeSocket, target: InetName) -> FakeSocket | None:
        """``__inet_lookup_listener`` on *host*: a listener on the port, this address or the wildcard."""
        for other in host.ports.bound(sock.family, sock.type, target.port):
            assert isinstance(other.name, InetName)
            if other.state == "listening" and (other.name.packed == target.packed or not any(other.name.packed)):
                return other
        if sock.family == self.AF_INET:
            # A dual-stack listener: AF_INET6 bound to :: with IPV6_V6ONLY 0
            # takes IPv4 connections, seen as ::ffff:a.b.c.d (ipv6(7)).
            options = self.kernel._options
            for other in host.ports.bound(self.AF_INET6, sock.type, target.port):
                assert isinstance(other.name, InetName)
                if other.state == "listening" and not any(other.name.packed) and not options.v6only(other):
                    return other
        return None

    def establish(self, client: FakeSocket, listener: FakeSocket) -> None:
        """The handshake completes: the server side joins the listener's accept queue."""
        server = self.kernel._new_socket(listener.ops, client.proto)
        assert isinstance(client.peer_name, InetName) and isinstance(client.name, InetName)
        server.name = client.peer_name
        server.peer_name = client.name
        if listener.family != client.family:
            def mapped(name: InetName) -> InetName:
                return InetName(listener.family, bytes(10) + b"\xff\xff" + name.packed, name.port)

            server.name = mapped(client.peer_name)
            server.peer_name = mapped(client.name)
        server.options = dict(listener.options)
        server.options.pop((self.c("SOL_SOCKET"), self.c("SO_ERROR")), None)
        server.sndbuf, server.rcvbuf = listener.sndbuf, listener.rcvbuf
        server.embryo = True
        server.listener = listener
        server.peer, client.peer = client, server
        server.state = client.state = "connected"
        if listener.family == client.family:
            self.ports.users(server.family, server.type, server.name.port).append(server)
        listener.accept_queue.append(server)

    # -- what crosses the wire -------------------------------------------------
    def transmit(self, sock: FakeSocket, peer: FakeSocket, chunk: bytes) -> None:
        """Data segment: *chunk* lands in the peer's receive queue."""
        segment = Segment(chunk, self.kernel._process_credentials, cost=len(chunk))
        peer.rmem += segment.cost
        peer.receive_queue.append(segment)

    @staticmethod
    def send_fin(peer: FakeSocket) -> None:
        """FIN: the peer reads EOF after its queued data."""
        peer.shutdown |= RCV_SHUTDOWN

    def reset(self, sock: FakeSocket) -> None:
        """``tcp_reset``: ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT, else ECONNRESET."""
        if sock.state == "closed":
            return
        if sock.state == "connecting":
            sock.error = self.errno("ECONNREFUSED")
        elif sock.shutdown & RCV_SHUTDOWN:
            sock.error = self.errno("EPIPE")
        else:
            sock.error = self.errno("ECONNRESET")
        sock.state = "closed"
        sock.shutdown = SHUTDOWN_MASK
        sock.peer = None

    # -- shutdown / close ----------------------------------------------------
    def shutdown_connection(self, sock: FakeSocket, mode: int) -> None:
        peer = sock.peer
        if peer is not None and mode & SEND_SHUTDOWN:
            self.send_fin(peer)

    def disconnect(self, sock: FakeSocket) -> None:
        """``tcp_close``: unread data -> RST (``tcp_disconnect``, the peer's ``tcp_reset``
        gives ECONNRESET, EPIPE in CLOSE_WAIT); otherwise a FIN."""
        peer = sock.peer
        if peer is not None and sock.state == "connected":
            if any(seg.remaining for seg in sock.receive_queue):
                self.reset(peer)
            else:
                self.send_fin(peer)

    # -- data ----------------------------------------------------------------
    def writable(self, sock: FakeSocket) -> bool:
        peer = sock.peer
        return peer is None or peer.rmem < peer.rcvbuf + sock.sndbuf

    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[OpenFile],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``tcp_sendmsg_locked`` on loopback: the bytes land in the peer's queue."""
        self.check_send_error(sock)
        if sock.state == "connecting":
            if nonblocking:
                self.fail("EAGAIN")
            self.block(fd, "sendmsg", lambda: sock.state != "connecting")
        if sock.state != "connected" or sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")  # sk_stream_wait_connect: not connected -> EPIPE
        if cap is not None:
            data = data[:cap]
        sent = 0
        while sent < len(data) or not data:
            peer = sock.peer
            if peer is None or peer.released:
                # The peer is gone: the data draws an RST (tcp_reset).
                self.reset(sock)
                return len(data)
            if not self.writable(sock):
                if sent:
                    return sent
                if nonblocking:
                    self.fail("EAGAIN")
                if not self.block(fd, "sendmsg", lambda: self.writable(sock) or sock.peer is None or bool(sock.error),
                                  self.kernel._options.sndtimeo_deadline(sock)):
                    self.fail("EAGAIN")
                self.check_send_error(sock)
                continue
            if not data:
                return 0
            room = peer.rcvbuf + sock.sndbuf - peer.rmem
            chunk = data[sent : sent + max(room, 1)]
            self.transmit(sock, peer, chunk)
            sent += len(chunk)
        return sent

    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        return self.stream_read(fd, call, sock, size, flags, nonblocking)

    def poll(self, sock: FakeSocket) -> int:
        """``tcp_poll``."""
        mask = self.poll_common(sock)
        state = sock.state
        if state in ("unconnected", "closed"):
            mask |= self.POLLHUP
        if state == "listening" or state == "connecting":
            return mask
        if state == "unconnected" or sock.shutdown & SEND_SHUTDOWN or self.writable(sock):
            mask |= self.POLLOUT
        return mask
