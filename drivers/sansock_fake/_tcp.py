"""TCP (net/ipv4/tcp*.c, inet_connection_sock.c): the socket calls.

The connection state machine lives in ``_tcp_state``: everything that
crosses between two sockets is a segment through ``InetHost.output``, and
every blocking call here (connect, send with a full window, recv) waits on
the kernel condition until a later segment changes the state, so it works
whether the answer arrives in the same syscall (one host, loopback) or
later (a simulated network).

``sock.state`` is the socket-level state the rest of the fake reads
("unconnected", "listening", "connecting" = SYN_SENT, "connected" =
ESTABLISHED through LAST_ACK, "closed" = CLOSED after a connection);
``sock.tcp.state`` is TCP's own.  ``connect_in_progress`` is
``SS_CONNECTING`` of a non-blocking connect whose outcome no connect call
has reported yet.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ._addresses import InetName
from ._control import Credentials, parse_control
from ._inet import InetHost, InetOps, Packet
from ._objects import RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, FakeSocket, File, OpenFile
from ._oserror import raise_errno
from ._protocol import Received
from ._tcp_output import notsent_free
from ._tcp_state import (
    CONNECTED_STATES, SYN, TcpControl, active_reset, admit_retried_syns, close_state, done, grow_sndbuf, push,
    kill_time_wait, reap_time_wait, reply_reset, send_allowed, send_fin, send_segment, tcp_input, time_wait_conflict, window_update, wire_name,
)

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
        self.MSG_MORE = self.abi.constants.get("MSG_MORE", 0)  # Linux only
        self.MSG_FASTOPEN = self.abi.constants.get("MSG_FASTOPEN", 0)
        self.MSG_OOB = self.abi.constants.get("MSG_OOB", 0)
        self.SO_LINGER = (self.c("SOL_SOCKET"), self.c("SO_LINGER"))
        # tcp_v4_rcv / tcp_v6_rcv: the host hands this family's TCP packets to the state machine.
        self.host.handlers[(family, self.c("IPPROTO_TCP"))] = functools.partial(tcp_input, self.host)
        self.host.give_up[(family, self.c("IPPROTO_TCP"))] = self.give_up_on

    def control(self, sock: FakeSocket) -> TcpControl:
        """The socket's TCP control block (made on first use)."""
        if sock.tcp is None:
            sock.tcp = TcpControl(self.host)
        return sock.tcp

    # -- bind / listen / accept ------------------------------------------------
    def bind_name(self, sock: FakeSocket, name: InetName) -> None:
        """TIME_WAIT sockets whose time is up leave the port table first (lazily)."""
        reap_time_wait(self.host, self.kernel._scheduler.now_ns)
        if name.port and time_wait_conflict(self.host, sock, name, self.kernel._options.reuseaddr(sock)):
            self.fail("EADDRINUSE")
        super().bind_name(sock, name)

    def listen(self, sock: FakeSocket, backlog: int) -> None:
        """``inet_listen``; TCP's state becomes LISTEN."""
        super().listen(sock, backlog)
        self.control(sock).state = "LISTEN"

    def listen_name(self, sock: FakeSocket) -> None:
        """``inet_listen``: bind an ephemeral port if unbound, then check the port again."""
        self.autobind(sock, "EADDRINUSE")
        self.check_listen_port(sock)

    def accepted(self, listener: FakeSocket) -> None:
        """Room in the accept queue: the held SYNs past their first
        retransmission get through (``_tcp_state.hold_syn``)."""
        admit_retried_syns(listener)

    # -- connect -------------------------------------------------------------
    def connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``__inet_stream_connect`` + ``tcp_v4_connect``."""
        sock = file.sock
        tcp = self.control(sock)
        if sock.connect_in_progress:
            # __inet_stream_connect in SS_CONNECTING: EALREADY while the
            # handshake runs (a blocking call waits for it); once it ended,
            # this call reports the outcome.
            if tcp.state == "SYN_SENT":
                if file.nonblocking:
                    self.fail("EALREADY")
                self.wait_connected(fd, sock)
                if tcp.state == "SYN_SENT":
                    self.fail("EALREADY")
            sock.connect_in_progress = False
            if sock.state == "connected":
                return
            # sock_error: the socket is unconnected again (tcp_disconnect clears sk_shutdown).
            sock.state = "unconnected"
            sock.peer_name = None
            sock.shutdown = 0
            code, sock.error = sock.error or self.errno("ECONNABORTED"), 0
            raise_errno(code)
        if sock.state in ("connected", "listening", "closed"):
            self.fail("EISCONN")
        if self.is_unspec(addr):
            raise NotImplementedError("the fake kernel does not model connect(AF_UNSPEC) on TCP sockets")
        target = self.parse(sock, addr, for_bind=False)
        self.host.route(self.family, target)  # ENETUNREACH without a route
        target = InetHost.loopback(target)
        self.autobind(sock, "EADDRNOTAVAIL")  # __inet_hash_connect: no port left
        name = self.host.local_name(sock, target)  # the route's source address
        local, remote = wire_name(name), wire_name(target)
        held = self.host.tcp_connections.get((local.packed, local.port, remote.packed, remote.port))
        if held is not None:
            if held.released and held.tcp is not None and held.tcp.state == "TIME_WAIT":
                # __inet_check_established -> tcp_twsk_unique: the connect takes the
                # 4-tuple of a TIME_WAIT socket over (tcp_tw_reuse=2, the default,
                # on loopback), which is gone -- port, timer and all.
                kill_time_wait(held)
            else:
                # __inet_check_established's not_unique: the 4-tuple belongs to
                # another connection (an open socket bound to the same port with
                # SO_REUSEADDR, or an orphan in FIN_WAIT2, as Linux 6.18 answers):
                # tcp_v4_connect fails, the socket stays bound and unconnected
                # (tests/test_rev7_review.py).
                self.fail("EADDRNOTAVAIL")
        sock.peer_name = target
        sock.name = name
        tcp.local, tcp.remote = local, remote
        tcp.state = "SYN_SENT"
        tcp.snd_nxt = 1  # the SYN takes one
        sock.state = "connecting"
        sock.error = 0
        self.host.tcp_connections[tcp.key] = sock
        send_segment(sock, SYN, seq=0)
        if file.nonblocking:
            sock.connect_in_progress = True
            self.fail("EINPROGRESS")  # Linux answers EINPROGRESS even on loopback.
        self.wait_connected(fd, sock)
        if tcp.state == "SYN_SENT":
            sock.connect_in_progress = True
            self.fail("EINPROGRESS")
        if tcp.state == "CLOSED":
            # inet_stream_connect's sock_error: the socket is unconnected again.
            sock.state = "unconnected"
            sock.peer_name = None
            sock.shutdown = 0
        self.check_send_error(sock)

    def wait_connected(self, fd: int, sock: FakeSocket) -> bool:
        """``inet_wait_for_connect``: until the handshake ends or SO_SNDTIMEO passes."""
        tcp = self.control(sock)
        if tcp.state != "SYN_SENT":
            return True  # decided already (loopback: in the connect's own segment delivery)
        return self.block(fd, "connect", lambda: tcp.state != "SYN_SENT", self.kernel._options.sndtimeo_deadline(sock))

    # -- shutdown / close ----------------------------------------------------
    def shutdown(self, sock: FakeSocket, mode: int) -> None:
        """``inet_shutdown``; a listener shut for reading stops as ``tcp_disconnect``
        stops it: the connections it had not accepted are reset."""
        if sock.state == "listening" and mode & 1 and sock.tcp is not None:
            self.stop_listening(sock)
            super().shutdown(sock, mode)
            sock.state = "unconnected"  # SS_UNCONNECTED in TCP_CLOSE: it may listen again
            return
        super().shutdown(sock, mode)

    def stop_listening(self, sock: FakeSocket) -> None:
        """``inet_csk_listen_stop``: queued connections get an RST, held SYNs an RST in answer."""
        tcp = self.control(sock)
        tcp.state = "CLOSED"
        for child in list(sock.accept_queue):
            if child.tcp is not None:
                active_reset(child)
        held, tcp.held_syns, tcp.retried_syns = tcp.held_syns, [], []
        for packet in held:
            reply_reset(self.host, packet)

    def shutdown_connection(self, sock: FakeSocket, mode: int) -> None:
        """``tcp_shutdown``: SHUT_WR sends a FIN after the queued data."""
        if mode & SEND_SHUTDOWN and sock.tcp is not None and close_state(sock):
            send_fin(sock)

    def lingers_zero(self, sock: FakeSocket) -> bool:
        """SO_LINGER on with a zero timeout: close aborts with an RST."""
        value = sock.options.get(self.SO_LINGER)
        if not isinstance(value, bytes) or len(value) < 8:
            return False
        order = self.abi.byteorder
        onoff = int.from_bytes(value[:4], order, signed=True)
        seconds = int.from_bytes(value[4:8], order, signed=True)
        return onoff != 0 and seconds == 0

    def disconnect(self, sock: FakeSocket) -> None:
        """``tcp_close``: unread data or SO_LINGER (1, 0) -> RST; otherwise a FIN,
        and the orphan finishes the close on its own (FIN_WAIT*, TIME_WAIT)."""
        tcp = sock.tcp
        if tcp is None:
            return
        state = tcp.state
        if state == "LISTEN":
            sock.state = "closed"
            self.stop_listening(sock)
            return
        unread = bool(sock.receive_queue) and any(seg.remaining for seg in sock.receive_queue)
        sock.shutdown = SHUTDOWN_MASK
        if state in ("CLOSED", "SYN_SENT"):
            if state == "SYN_SENT":
                done(sock)
            return
        if unread or self.lingers_zero(sock):
            active_reset(sock)
            return
        if close_state(sock):
            send_fin(sock)

    def unhash(self, sock: FakeSocket) -> None:
        """An orphan still closing keeps its port until it is done."""
        tcp = sock.tcp
        if tcp is not None and tcp.state not in ("CLOSED", "LISTEN"):
            return
        self.ports.remove(sock)

    def abort(self, sock: FakeSocket, errno: int) -> None:
        """A connection the network gave up on (``tcp_write_err``): the error, then CLOSED."""
        tcp = sock.tcp
        if tcp is None or tcp.state in ("CLOSED", "LISTEN"):
            return
        if not sock.released:
            sock.error = errno
        done(sock)

    def uncork(self, sock: FakeSocket) -> None:
        """TCP_CORK set to 0: what it held leaves now (``tcp_push_pending_frames``)."""
        tcp = sock.tcp
        if tcp is not None and tcp.corked and tcp.state in CONNECTED_STATES:
            tcp.corked = False
            push(sock)

    def give_up_on(self, packet: Packet, errno: int) -> None:
        """The network stopped retransmitting a segment this host sent: its connection fails."""
        src, dst = packet.src, packet.dst
        sock = self.host.tcp_connections.get((src.packed, src.port, dst.packed, dst.port))
        if sock is not None:
            self.abort(sock, errno)

    # -- data ----------------------------------------------------------------
    def writable(self, sock: FakeSocket) -> bool:
        """``sk_stream_is_writeable``: free send space at least half of what is queued."""
        tcp = sock.tcp
        if tcp is None:
            return True
        return sock.sndbuf - tcp.queued >= tcp.queued // 2 and notsent_free(sock, 1)

    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[File],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``tcp_sendmsg_locked``: into the send queue, out as the peer's window allows."""
        control, sock.send_control = sock.send_control, b""
        if sock.send_flags & self.MSG_FASTOPEN:
            raise NotImplementedError("the fake kernel does not model TCP Fast Open (MSG_FASTOPEN)")
        self.check_send_error(sock)
        tcp = self.control(sock)
        if tcp.state == "SYN_SENT":
            # sk_stream_wait_connect
            if nonblocking:
                self.fail("EAGAIN")
            self.block(fd, "sendmsg", lambda: tcp.state != "SYN_SENT", self.kernel._options.sndtimeo_deadline(sock))
            self.check_send_error(sock)
            if tcp.state == "SYN_SENT":
                self.fail("EAGAIN")
        if sock.state != "connected" or sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")  # sk_stream_wait_connect: not connected -> EPIPE
        if control:
            # sock_cmsg_send, after sk_stream_wait_connect: EPIPE before a
            # malformed header's EINVAL; TCP ignores the IP-level items.
            parse_control(self.abi, control, is_unix=False)
        if sock.send_flags & self.MSG_OOB:
            # A send that waited for the handshake (check_send_flags let it
            # through while connecting): Linux now sends urgent data.
            raise NotImplementedError("the fake kernel does not model out-of-band data (MSG_OOB): TCP urgent data")
        if cap is not None:
            data = data[:cap]
        more = bool(sock.send_flags & self.MSG_MORE)
        sent = 0
        while True:
            space = sock.sndbuf - tcp.queued
            if space <= 0 and grow_sndbuf(sock):
                continue
            if not notsent_free(sock, 0):
                space = 0  # TCP_NOTSENT_LOWAT: wait until what is queued has gone out
            if space <= 0 and data:
                if sent:
                    break
                if nonblocking:
                    self.fail("EAGAIN")
                if not self.block(fd, "sendmsg",
                                  lambda: send_allowed(sock) or bool(sock.error) or sock.state != "connected"
                                  or bool(sock.shutdown & SEND_SHUTDOWN),
                                  self.kernel._options.sndtimeo_deadline(sock)):
                    self.fail("EAGAIN")
                self.check_send_error(sock)
                if sock.state != "connected" or sock.shutdown & SEND_SHUTDOWN:
                    self.fail("EPIPE")
                continue
            chunk = data[sent : sent + max(space, 0)]
            tcp.unsent += chunk
            sent += len(chunk)
            tcp.corked = more or self.kernel._options.tcp_cork(sock)
            push(sock)
            if sent >= len(data):
                break
        return sent

    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        """``tcp_recvmsg``: SYN_SENT waits (EAGAIN when non-blocking); MSG_TRUNC discards."""
        tcp = sock.tcp
        if tcp is not None and tcp.state == "SYN_SENT":
            if nonblocking:
                self.fail("EAGAIN")
            if not self.block(fd, call, lambda: tcp.state != "SYN_SENT", self.kernel._options.rcvtimeo_deadline(sock)):
                self.fail("EAGAIN")
        if tcp is not None and tcp.fin_received and not any(seg.remaining for seg in sock.receive_queue):
            # tcp_recvmsg: SOCK_DONE (a FIN came) gives EOF before a pending
            # error, which the next send reports (an RST in CLOSE_WAIT: EPIPE).
            return b"", None, [], b"", 0, 0
        if ((tcp is None or tcp.state == "CLOSED") and sock.state != "listening" and not sock.error
                and sock.shutdown & RCV_SHUTDOWN and not sock.receive_queue):
            # tcp_recvmsg_locked: RCV_SHUTDOWN gives EOF before the TCP_CLOSE
            # check's ENOTCONN ("user tries to read from never connected
            # socket"), so a never-connected socket after shutdown(SHUT_RD) reads b"".
            return b"", None, [], b"", 0, 0
        data, creds, files, addr, length, msg_flags = self.stream_read(fd, call, sock, size, flags, nonblocking)
        if not flags & self.MSG_PEEK:
            window_update(sock)
        if flags & self.MSG_TRUNC:
            # tcp_recvmsg_locked with MSG_TRUNC: the bytes are consumed, not copied.
            return b"", creds, files, addr, length, msg_flags
        return data, creds, files, addr, length, msg_flags

    def poll(self, sock: FakeSocket) -> int:
        """``tcp_poll``: POLLIN once SO_RCVLOWAT bytes are queued."""
        tcp = sock.tcp
        state = tcp.state if tcp is not None else "CLOSED"
        if state == "LISTEN":
            return self.POLLIN if sock.accept_queue else 0
        mask = 0
        if sock.error:
            mask |= self.POLLERR
        if sock.shutdown == SHUTDOWN_MASK or state == "CLOSED":
            mask |= self.POLLHUP
        if sock.shutdown & 1:
            mask |= self.POLLIN | self.POLLRDHUP
        if state == "SYN_SENT":
            return mask
        queued = sum(seg.remaining for seg in sock.receive_queue)
        if queued and queued >= self.kernel._options.rcvlowat(sock):
            mask |= self.POLLIN
        if sock.shutdown & SEND_SHUTDOWN or self.writable(sock):
            mask |= self.POLLOUT
        return mask

