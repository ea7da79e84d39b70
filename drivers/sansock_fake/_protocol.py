"""The protocol interface (``struct proto_ops``) and what every protocol shares (net/core).

Linux gives a socket its ``struct proto_ops`` when it is created
(``unix_stream_ops``, ``unix_dgram_ops``, ``unix_seqpacket_ops``,
``inet_stream_ops`` with ``tcp_prot``, ``inet_dgram_ops`` with ``udp_prot``),
and ``net/socket.c`` calls through it without asking the family again.  The
fake does the same: ``FakeKernel.socket`` gets the :class:`ProtoOps` of the
(family, type) from ``_families``, stores it on the socket (``sock.ops``),
and each syscall in ``_kernel`` does the fd-table part and then calls
``sock.ops.<call>``.

The interface, one method per syscall (defaults answer as ``sock_no_*`` do):

====================  ===================================================
``bind``              ``sock.ops.bind(sock, addr)``
``listen``            ``listen(sock, backlog)``; default EOPNOTSUPP
``accept``            ``accept(fd, file, flags) -> (new fd, peer address)``
``connect``           ``connect(fd, file, addr)``
``shutdown``          ``shutdown(sock, mode)`` (mode = how + 1: the RCV/SEND bits)
``getsockname``       ``getname(sock)``; ``getpeername``: ``getpeername(sock)``
                      (``peer_address(sock)``: what ``accept`` reports)
``sendmsg`` family    ``sendmsg(fd, sock, data, files, credentials, nonblocking, addr, cap)``
``recvmsg`` family    ``recvmsg(fd, call, sock, size, flags, nonblocking) -> Received``,
                      then ``scm_recv`` fills the control buffer (AF_UNIX)
``poll``              ``poll(sock) -> revents``
``close`` (last ref)  ``release(sock)``
====================  ===================================================

The kernel hands a protocol what it owns: the fd table (``kernel._install``,
``kernel._unref``), the scheduler (:meth:`ProtoOps.block`), the socket
options (``kernel._options``) and the per-host tables (``kernel._unix_names``,
``kernel._inet``).  Below the interface are the pieces of ``net/core`` that
several protocols share: waiting for send-buffer room (``sock_alloc_send_pskb``
/ ``sk_stream_wait_memory``), the stream read (``unix_stream_read_generic``,
``tcp_recvmsg`` on loopback), the datagram read (``__skb_recv_datagram``),
freeing an skb, and the part of ``poll`` every family reports alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from ._control import Credentials, ReceivedControl
from ._filerefs import hold_for_call
from ._objects import RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, FakeSocket, File, OpenFile, Segment
from ._oserror import raise_errno

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["ProtoOps", "Received", "WMEM_DEFAULT", "RMEM_DEFAULT"]

#: /proc/sys/net/core/{w,r}mem_default: a new socket's buffers (TCP has its own).
WMEM_DEFAULT = 212992
RMEM_DEFAULT = 212992

#: What a protocol's ``recvmsg`` gives back: ``(data, credentials, files,
#: source address, return value, msg_flags)``.
Received: TypeAlias = "tuple[bytes, Credentials | None, list[File], bytes, int, int]"


class ProtoOps(ABC):
    """``struct proto_ops`` of one family and type on one kernel (see the module docstring).

    One instance per kernel and (family, type), shared by every socket of
    that kind; it keeps the constants it uses, resolved from the kernel's ABI.
    """

    #: For messages and ``repr``: "unix stream", "tcp6"...
    name = "?"
    #: AF_UNIX: SCM_RIGHTS and SCM_CREDENTIALS travel with the data
    #: (``__scm_send``); inet families check and ignore them.
    unix = False
    #: SOCK_STREAM / SOCK_SEQPACKET: listen, accept, a peer socket.
    connection = False
    #: SOCK_SEQPACKET: record boundaries on a connection.
    seqpacket = False
    #: The protocol's own ``setsockopt`` level (IPPROTO_TCP...), None when it has none.
    option_level: int | None = None
    #: SO_SNDBUF / SO_RCVBUF of a new socket.
    sndbuf_default = WMEM_DEFAULT
    rcvbuf_default = RMEM_DEFAULT

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        self.kernel = kernel
        self.abi = kernel.abi
        self.family = family
        self.type = type_
        c = self.abi.const
        self.MSG_PEEK = c("MSG_PEEK")
        self.MSG_WAITALL = c("MSG_WAITALL")
        self.MSG_TRUNC = c("MSG_TRUNC")
        self.POLLIN, self.POLLOUT = c("POLLIN"), c("POLLOUT")
        self.POLLERR, self.POLLHUP = c("POLLERR"), c("POLLHUP")
        self.POLLRDHUP = self.abi.constants.get("POLLRDHUP", 0)  # Linux only
        #: The options key of SO_ERROR (a listener's child drops it).
        self.SO_ERROR = (c("SOL_SOCKET"), c("SO_ERROR"))
        # No SOCK_NONBLOCK/SOCK_CLOEXEC in the profile (Darwin's accept has no flags): no bit.
        self.SOCK_NONBLOCK = self.abi.constants.get("SOCK_NONBLOCK", 0)
        self.SOCK_CLOEXEC = self.abi.constants.get("SOCK_CLOEXEC", 0)

    def __repr__(self) -> str:
        return f"<{self.name} ops>"

    # -- helpers --------------------------------------------------------------
    def c(self, name: str) -> int:
        """The ABI's value of constant *name*."""
        return self.abi.const(name)

    def errno(self, name: str) -> int:
        return self.abi.errno(name)

    def fail(self, name: str) -> NoReturn:
        """Raise ``OSError`` for errno *name* (``"EAGAIN"``)."""
        raise_errno(self.abi.errno(name))

    def block(
        self, fd: int, call: str, ready: Callable[[], bool], deadline_ns: int | None = None
    ) -> bool:
        """Wait in virtual time until ``ready()`` or the deadline; True when ready.

        The call holds the file while it waits (``fdget``): a ``close`` of the
        fd from another thread leaves the socket alive until this call returns
        (the peer can still send to it; the wait is not ended by the close).
        """
        kernel = self.kernel
        hold_for_call(kernel, fd)
        return kernel._scheduler.wait_until(ready, deadline_ns, call, fd)

    # -- the interface (listen and accept answer as sock_no_* without connections) --
    @abstractmethod
    def bind(self, sock: FakeSocket, addr: bytes) -> None:
        """``bind``: take the name in the ``struct sockaddr`` *addr*."""

    def listen(self, sock: FakeSocket, backlog: int) -> None:
        """``unix_listen`` / ``inet_listen``; ``sock_no_listen`` (EOPNOTSUPP) without connections."""
        if not self.connection:
            self.fail("EOPNOTSUPP")
        if sock.state not in ("unconnected", "listening"):
            self.fail("EINVAL")
        self.listen_name(sock)
        # The accept queue holds backlog + 1.
        sock.backlog = min(max(backlog, 0), self.abi.somaxconn)
        sock.state = "listening"

    def listen_name(self, sock: FakeSocket) -> None:
        """Before listening: the name the listener is found by (checked or bound)."""

    def accept(self, fd: int, file: OpenFile, flags: int) -> tuple[int, bytes]:
        """``accept4``: the next connection; EINVAL when not listening, EAGAIN when none."""
        if not self.connection:
            self.fail("EOPNOTSUPP")  # sock_no_accept
        kernel = self.kernel
        listener = file.sock
        if listener.state != "listening":
            self.fail("EINVAL")
        nonblock, cloexec = self.SOCK_NONBLOCK, self.SOCK_CLOEXEC
        if flags & ~(nonblock | cloexec):
            self.fail("EINVAL")
        if not listener.accept_queue:
            if file.nonblocking:
                self.fail("EAGAIN")
            self.block(fd, "accept", lambda: bool(listener.accept_queue) or listener.state != "listening",
                       kernel._options.rcvtimeo_deadline(listener))
            if listener.state != "listening":
                self.fail("EINVAL")
            if not listener.accept_queue:
                self.fail("EAGAIN")
        new_fd = kernel._lowest_free_fd()
        conn = listener.accept_queue.popleft()
        conn.embryo = False
        conn.listener = None
        self.accepted(listener)
        kernel._install(OpenFile(conn, bool(flags & nonblock)), bool(flags & cloexec))
        return new_fd, self.peer_address(conn)

    @abstractmethod
    def connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``connect``: to *addr*, blocking unless *file* is non-blocking."""

    @abstractmethod
    def shutdown(self, sock: FakeSocket, mode: int) -> None:
        """``shutdown``: *mode* holds the RCV_SHUTDOWN/SEND_SHUTDOWN bits."""

    @abstractmethod
    def getname(self, sock: FakeSocket) -> bytes:
        """``getsockname``: the socket's own ``struct sockaddr``."""

    @abstractmethod
    def getpeername(self, sock: FakeSocket) -> bytes:
        """``getpeername``: the peer's ``struct sockaddr``; ENOTCONN when not connected."""

    @abstractmethod
    def peer_address(self, sock: FakeSocket) -> bytes:
        """The peer's address as ``accept`` reports it (no state check)."""

    def before_scm_send(self, sock: FakeSocket) -> None:
        """AF_UNIX: what the protocol checks before ``scm_send`` reads the control data
        (nothing but for seqpacket); the MSG_OOB refusals come after it."""

    @abstractmethod
    def sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[File],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``sendmsg``: *data* (and *files*, *credentials* on AF_UNIX) to *addr* or the peer;
        *cap* is a scripted short write."""

    @abstractmethod
    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        """``recvmsg``: up to *size* bytes, with the credentials and files they carry."""

    def scm_recv(
        self, sock: FakeSocket, control: ReceivedControl, creds: Credentials | None,
        files: list[File], flags: int,
    ) -> None:
        """``scm_recv``: what the control buffer gets besides the data (AF_UNIX only).

        Called only when :meth:`scm_pending` says there is something to put
        (a protocol that overrides one overrides both).
        """

    def scm_pending(self, sock: FakeSocket, creds: Credentials | None, files: list[File]) -> bool:
        """Whether :meth:`scm_recv` would put anything (else the control buffer
        stays empty and untruncated, and ``recvmsg`` skips it).

        Never true without *files* on a socket with no option set (every
        item asks for an option: ``SO_PASSCRED``, ``IP_PKTINFO``...):
        ``sys_recvmsg`` does not ask then."""
        return bool(files)

    def poll(self, sock: FakeSocket) -> int:
        """What ``poll`` reports for *sock*."""
        return self.poll_common(sock)

    # -- close ---------------------------------------------------------------
    def release(self, sock: FakeSocket) -> None:
        """The last reference is gone (``unix_release_sock``, ``tcp_close``, ``udp_lib_close``)."""
        if sock.released:
            return
        sock.released = True
        self.disconnect(sock)
        if sock.accept_queue:
            for pending in list(sock.accept_queue):
                pending.ops.release(pending)
            sock.accept_queue.clear()
        if sock.syn_queue:
            for connector in list(sock.syn_queue):
                connector.state = "closed"
                connector.error = self.errno("ECONNREFUSED")
            sock.syn_queue.clear()
        if sock.listener is not None and sock in sock.listener.accept_queue:
            sock.listener.accept_queue.remove(sock)
        self.unhash(sock)
        sock.state = "closed"
        sock.peer = None
        self.purge(sock)

    def disconnect(self, sock: FakeSocket) -> None:
        """On release, before the queues go: what the peer learns (FIN, RST, EOF)."""

    def unhash(self, sock: FakeSocket) -> None:
        """On release: leave the name or port table."""

    # -- net/core: what the protocols share ----------------------------------
    @staticmethod
    def accept_queue_full(listener: FakeSocket) -> bool:
        # sk_acceptq_is_full / unix_recvq_full: strictly more than the backlog.
        return len(listener.accept_queue) > listener.backlog

    def accepted(self, listener: FakeSocket) -> None:
        """After ``accept`` took a connection off the queue (TCP: promote a waiting SYN)."""

    def check_send_error(self, sock: FakeSocket) -> None:
        """``sock_error``: report and clear a pending error."""
        if sock.error:
            code, sock.error = sock.error, 0
            raise_errno(code)

    def wait_for_wmem(self, fd: int, call: str, sock: FakeSocket, nonblocking: bool) -> None:
        """``sock_alloc_send_pskb``: wait while sk_wmem_alloc >= sk_sndbuf."""
        if sock.wmem < sock.sndbuf:
            return
        if nonblocking:
            self.fail("EAGAIN")
        ready = self.block(
            fd, call,
            lambda: sock.wmem < sock.sndbuf or bool(sock.error) or bool(sock.shutdown & SEND_SHUTDOWN) or sock.peer is None,
            self.kernel._options.sndtimeo_deadline(sock),
        )
        if not ready:
            self.fail("EAGAIN")
        self.check_send_error(sock)
        if sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")

    def drop_segment(self, sock: FakeSocket, segment: Segment) -> None:
        """``kfree_skb`` of a queued segment: uncharge both ends, drop the fds it carries."""
        sock.rmem -= segment.cost
        if segment.charged_to is not None:
            segment.charged_to.wmem -= segment.cost
        if segment.files:
            kernel = self.kernel
            for file in kernel._in_flight.notinflight(segment):
                kernel._unref(file)

    def purge(self, sock: FakeSocket) -> None:
        """``skb_queue_purge`` of the receive queue."""
        while sock.receive_queue:
            self.drop_segment(sock, sock.receive_queue.popleft())

    def poll_common(self, sock: FakeSocket) -> int:
        """The bits of ``unix_poll``, ``tcp_poll``, ``datagram_poll`` that every family sets alike."""
        mask = 0
        if sock.error:
            mask |= self.POLLERR
        if sock.shutdown == SHUTDOWN_MASK:
            mask |= self.POLLHUP
        if sock.shutdown & RCV_SHUTDOWN:
            mask |= self.POLLIN | self.POLLRDHUP
        if sock.receive_queue or (sock.state == "listening" and sock.accept_queue):
            mask |= self.POLLIN
        return mask

    def stream_read(
        self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool
    ) -> Received:
        """``unix_stream_read_generic`` (and ``tcp_recvmsg`` on loopback).

        Reads across segments, but never past one that carried fds, and never
        glues segments with different credentials once SO_PASSCRED is on.
        """
        unix = self.unix
        if sock.state == "listening" or (sock.state in ("unconnected", "connecting") and not sock.receive_queue):
            self.fail("EINVAL" if unix else "ENOTCONN")
        queue = sock.receive_queue
        if queue and not flags and not sock.options:
            # The commonest read, the loop below in short: no flags, no option
            # (SO_RCVLOWAT 1, no SO_PASSCRED), from a head segment without fds,
            # which holds all that is asked or is the only one queued.
            head = queue[0]
            if not head.files:
                data = head.data
                consumed = head.consumed
                end = consumed + size
                whole = len(data)
                if end < whole:
                    head.consumed = end
                    return data[consumed:end], head.credentials, [], b"", size, 0
                if end == whole or (whole > consumed and len(queue) == 1):
                    head.consumed = whole
                    queue.popleft()
                    self.drop_segment(sock, head)
                    if consumed:
                        data = data[consumed:]
                    return data, head.credentials, [], b"", len(data), 0
        kernel = self.kernel
        options = kernel._options
        peek = bool(flags & self.MSG_PEEK) if flags else False
        waitall = bool(flags & self.MSG_WAITALL) if flags else False
        # sock_rcvlowat: MSG_WAITALL waits for all, else for SO_RCVLOWAT bytes.
        # (No option set, the common socket: SO_RCVLOWAT is 1, SO_PASSCRED off.)
        target = (size if waitall else min(options.rcvlowat(sock), size) if sock.options else 1) or 1
        # The bytes read: the first chunk as it is, a bytearray from the second.
        out: bytes | bytearray = b""
        creds: Credentials | None = None
        check_creds = False
        files: list[File] = []
        index = 0
        # SO_RCVTIMEO as a deadline from the call's start (the clock cannot
        # move before the first wait): computed when first needed.
        deadline: int | None = None
        deadline_known = False
        while True:
            queue = sock.receive_queue
            segment = queue[index] if index < len(queue) else None
            if segment is None:
                if len(out) >= target:
                    break
                if sock.error:
                    if out:
                        break
                    code, sock.error = sock.error, 0
                    raise_errno(code)
                if sock.shutdown & RCV_SHUTDOWN:
                    break
                if peek and out:
                    break
                if nonblocking:
                    if out:
                        break
                    self.fail("EAGAIN")
                if not deadline_known:
                    deadline, deadline_known = options.rcvtimeo_deadline(sock), True
                if not self.block(fd, call, lambda: len(sock.receive_queue) > index or bool(sock.error) or bool(sock.shutdown & RCV_SHUTDOWN), deadline):
                    if out:
                        break
                    self.fail("EAGAIN")
                continue
            if check_creds:
                if segment.credentials != creds:
                    break
            elif unix and sock.options and options.passcred(sock):
                creds = segment.credentials
                check_creds = True
            if creds is None:
                creds = segment.credentials
            consumed = segment.consumed
            chunk = segment.data[consumed : consumed + size - len(out)]
            if not out:
                out = chunk
            else:
                if type(out) is bytes:
                    out = bytearray(out)
                out += chunk
            if not peek:
                segment.consumed = consumed + len(chunk)
                if segment.files:
                    files += kernel._in_flight.notinflight(segment)  # unix_detach_fds: the refs move to the reader
                if len(segment.data) > segment.consumed:  # (segment.remaining)
                    break
                queue.popleft()
                self.drop_segment(sock, segment)
                if files:
                    break
            else:
                if segment.files:
                    files += kernel._in_flight.peek(segment.files)  # unix_peek_fds
                    break
                index += 1
            if len(out) >= size:
                break
        return bytes(out) if type(out) is not bytes else out, creds, files, b"", len(out), 0

    def datagram_read(
        self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool
    ) -> Received:
        """``unix_dgram_recvmsg`` / ``udp_recvmsg``: one datagram per call, MSG_TRUNC when cut."""
        seqpacket = self.seqpacket
        if seqpacket and sock.state != "connected":
            self.fail("ENOTCONN")
        peek = bool(flags & self.MSG_PEEK)
        while not sock.receive_queue:
            if sock.error:
                code, sock.error = sock.error, 0
                raise_errno(code)
            if sock.shutdown & RCV_SHUTDOWN and (not nonblocking or seqpacket):
                # unix_dgram_recvmsg: EOF when a blocking wait sees RCV_SHUTDOWN;
                # non-blocking, only SOCK_SEQPACKET signals EOF (others EAGAIN).
                return b"", None, [], b"", 0, 0
            if nonblocking:
                self.fail("EAGAIN")
            if not self.block(fd, call, lambda: bool(sock.receive_queue) or bool(sock.error) or bool(sock.shutdown & RCV_SHUTDOWN),
                              self.kernel._options.rcvtimeo_deadline(sock)):
                self.fail("EAGAIN")
        segment = sock.receive_queue[0]
        sock.last_rx = segment.rx  # (UDP's recvmsg control data: _ip_ctl)
        data = segment.data[:size]
        msg_flags = self.MSG_TRUNC if len(segment.data) > size else 0
        length = len(segment.data) if flags & self.MSG_TRUNC else len(data)
        files: list[File]
        if peek:
            files = self.kernel._in_flight.peek(segment.files)
        else:
            files = self.kernel._in_flight.notinflight(segment)
            sock.receive_queue.popleft()
            self.drop_segment(sock, segment)
        addr = b"" if seqpacket else segment.source
        return data, segment.credentials, files, addr, length, msg_flags
