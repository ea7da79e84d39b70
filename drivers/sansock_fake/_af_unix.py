"""AF_UNIX (net/unix/af_unix.c): stream, datagram and seqpacket sockets, the name
table (path and abstract names, autobind), and what the messages carry
(SCM_RIGHTS files, SCM_CREDENTIALS); the files in flight and their garbage
collector are in ``_unix_garbage``.

A stream connect makes the server-side socket at once (an *embryo* on the
listener's accept queue, as ``unix_stream_connect`` does); data goes straight
into the peer's receive queue, charged to the sender's ``sk_wmem_alloc`` as
an ``sk_buff`` of Linux's ``truesize``, so senders block exactly when
Linux's would.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ._addresses import UnixName, build_unix, family_of, parse_unix
from ._control import Credentials, ReceivedControl
from ._objects import RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, FakeSocket, File, OpenFile, RealFile, Segment, truesize
from ._oserror import raise_errno
from ._protocol import ProtoOps, Received
from ._realfiles import install_real

if TYPE_CHECKING:
    from sansock.driver import ABI

    from ._kernel import FakeKernel

__all__ = [
    "UnixNames",
    "UnixStreamOps",
    "UnixDgramOps",
    "UnixSeqpacketOps",
    "unix_create",
]

#: /proc/sys/net/unix/max_dgram_qlen.
UNIX_MAX_DGRAM_QLEN = 10
#: include/linux/skbuff.h on 4 KiB pages: SKB_MAX_HEAD(0), UNIX_SKB_FRAGS_SZ, SKB_MAX_ALLOC.
SKB_MAX_HEAD = 4096 - 320
#: include/linux/socket.h MSG_SPLICE_PAGES (kernel-internal): a sendfile's turn (``_sendfile``).
MSG_SPLICE_PAGES = 0x8000000
UNIX_SKB_FRAGS_SZ = 32768
UNIX_SKB_MAX = SKB_MAX_HEAD + UNIX_SKB_FRAGS_SZ
#: ``truesize(n)`` of the linear skbs of fewer than SMALL_SKB bytes, by index.
SMALL_SKB = 1024
SMALL_TRUESIZE = tuple(truesize(n) for n in range(SMALL_SKB))
_new = object.__new__
SKB_MAX_ALLOC = 4 * 4096 - 320


def unix_create(abi: ABI, base: int, proto: int) -> tuple[int, int]:
    """``unix_create``: the (type, protocol) an AF_UNIX socket gets, or the errno.

    The protocol is checked before the type; SOCK_RAW is silently a SOCK_DGRAM.
    """
    if proto not in (0, abi.const("AF_UNIX")):
        raise_errno(abi.errno("EPROTONOSUPPORT"))
    if base not in (abi.const("SOCK_STREAM"), abi.const("SOCK_DGRAM"), abi.const("SOCK_SEQPACKET")):
        if base != abi.const("SOCK_RAW"):
            raise_errno(abi.errno("ESOCKTNOSUPPORT"))
        base = abi.const("SOCK_DGRAM")
    return base, 0


class UnixNames:
    """The AF_UNIX name table of one host: path or abstract name -> the socket bound there.

    Path entries outlive their socket (the socket file stays, as on disk,
    until :meth:`unlink`); abstract names go with their socket.  Abstract
    names are per socket type, as in ``unix_socket_table``, whose hash mixes
    in the type (``unix_abstract_hash``): a stream socket may bind the name a
    datagram socket holds, and a lookup of the other type's name finds
    nothing (ECONNREFUSED).  Paths are inodes, one namespace for every type
    (a path of the other type is EPROTOTYPE).
    """

    __slots__ = ("abi", "names", "abstract", "_autobind_next")

    def __init__(self, abi: ABI) -> None:
        self.abi = abi
        #: Path names (the socket files), every type.
        self.names: dict[bytes, FakeSocket] = {}
        #: Abstract names, keyed by (socket type, name).
        self.abstract: dict[tuple[int, bytes], FakeSocket] = {}
        self._autobind_next = 0

    def autobind(self, sock: FakeSocket) -> None:
        """``unix_autobind``: an abstract name of NUL + 5 hex digits, free for the socket's type."""
        for _ in range(0x100000):
            name = UnixName(b"\0" + b"%05x" % self._autobind_next)
            self._autobind_next = (self._autobind_next + 1) & 0xFFFFF
            if (sock.type, name.key) not in self.abstract:
                sock.name = name
                self.abstract[(sock.type, name.key)] = sock
                return
        raise_errno(self.abi.errno("ENOSPC"))

    def bind(self, sock: FakeSocket, addr: bytes) -> None:
        """``unix_bind``: the family alone autobinds (a no-op once bound); EINVAL when
        bound already, EADDRINUSE when taken."""
        name = parse_unix(self.abi, addr, for_bind=True)
        if name is None:
            # unix_bind -> unix_autobind, which returns 0 when the socket has
            # an address already (``if (u->addr) goto out``).
            if sock.name is None:
                self.autobind(sock)
            return
        if sock.name is not None:
            raise_errno(self.abi.errno("EINVAL"))
        if name.is_abstract:
            if (sock.type, name.key) in self.abstract:
                raise_errno(self.abi.errno("EADDRINUSE"))
            sock.name = name
            self.abstract[(sock.type, name.key)] = sock
            return
        if name.key in self.names:
            raise_errno(self.abi.errno("EADDRINUSE"))
        sock.name = name
        self.names[name.key] = sock

    def lookup(self, sock: FakeSocket, addr: bytes) -> FakeSocket:
        """``unix_find_other``: ENOENT (no such path), ECONNREFUSED (no such abstract
        name for this type, or dead), EPROTOTYPE (a path of another type)."""
        name = parse_unix(self.abi, addr, for_bind=False)
        assert name is not None
        if name.is_abstract:
            # unix_find_abstract: -ECONNREFUSED when no socket of this type has the name.
            other = self.abstract.get((sock.type, name.key))
            if other is None or other.released:
                raise_errno(self.abi.errno("ECONNREFUSED"))
            return other
        other = self.names.get(name.key)
        if other is None:
            raise_errno(self.abi.errno("ENOENT"))  # unix_find_bsd: the path lookup fails.
        if other.released:
            raise_errno(self.abi.errno("ECONNREFUSED"))
        if other.type != sock.type:
            raise_errno(self.abi.errno("EPROTOTYPE"))
        return other

    def unhash(self, sock: FakeSocket) -> None:
        """``unix_remove_socket``: an abstract name is free again once its socket is released.

        Only the socket that bound the name holds it: an accepted socket
        reports its listener's name but is not in the table.
        """
        if isinstance(sock.name, UnixName) and sock.name.is_abstract:
            key = (sock.type, sock.name.key)
            if self.abstract.get(key) is sock:
                del self.abstract[key]

    def unlink(self, path: bytes) -> None:
        """``unlink(2)`` of a socket file."""
        if path.startswith(b"\0") or path not in self.names:
            raise_errno(self.abi.errno("ENOENT"))
        del self.names[path]


class _UnixOps(ProtoOps):
    """What the three AF_UNIX types share: names, shutdown, poll, release, credentials."""

    unix = True

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        super().__init__(kernel, family, type_)
        self.names = kernel._unix_names
        self.SOL_SOCKET = self.c("SOL_SOCKET")
        self.SCM_CREDENTIALS = self.abi.constants.get("SCM_CREDENTIALS", -1)
        self.MSG_CMSG_CLOEXEC = self.abi.constants.get("MSG_CMSG_CLOEXEC", 0)
        self._ucred = ("<" if self.abi.byteorder == "little" else ">") + "iII"

    def bind(self, sock: FakeSocket, addr: bytes) -> None:
        self.names.bind(sock, addr)

    def listen_name(self, sock: FakeSocket) -> None:
        if sock.name is None:
            self.fail("EINVAL")  # unix_listen: "No listens on an unbound socket".

    def getname(self, sock: FakeSocket) -> bytes:
        assert sock.name is None or isinstance(sock.name, UnixName)
        return build_unix(self.abi, sock.name)

    def getpeername(self, sock: FakeSocket) -> bytes:
        if sock.peer is None or sock.state != "connected":
            self.fail("ENOTCONN")
        return self.peer_address(sock)

    def peer_address(self, sock: FakeSocket) -> bytes:
        peer = sock.peer
        name = peer.name if peer is not None else None
        assert name is None or isinstance(name, UnixName)
        return build_unix(self.abi, name)

    def autobind_for_credentials(self, sock: FakeSocket) -> None:
        """``unix_stream_connect``/``unix_dgram_sendmsg``: with SO_PASSCRED an unbound socket autobinds."""
        if self.kernel._options.passcred(sock) and sock.name is None:
            self.names.autobind(sock)

    def shutdown(self, sock: FakeSocket, mode: int) -> None:
        """``unix_shutdown``: on a connection, the peer's opposite direction closes too."""
        sock.shutdown |= mode
        peer = sock.peer
        if peer is not None and self.connection:
            if mode & RCV_SHUTDOWN:
                peer.shutdown |= SEND_SHUTDOWN
            if mode & SEND_SHUTDOWN:
                peer.shutdown |= RCV_SHUTDOWN

    def poll(self, sock: FakeSocket) -> int:
        """``unix_poll`` / ``unix_dgram_poll``."""
        mask = self.poll_common(sock)
        if self.connection and sock.state in ("unconnected", "closed"):
            mask |= self.POLLHUP
        if sock.state != "listening" and self.writable(sock):
            mask |= self.POLLOUT
        return mask

    def writable(self, sock: FakeSocket) -> bool:
        # unix_writable: (sk_wmem_alloc << 2) <= sk_sndbuf (the refcount starts at 1).
        if ((sock.wmem + 1) << 2) > sock.sndbuf:
            return False
        other = sock.peer
        if (
            not self.connection
            and other is not None
            and other.peer is not sock
            and len(other.receive_queue) > UNIX_MAX_DGRAM_QLEN
        ):
            return False  # unix_dgram_poll: the peer's queue is full.
        return True

    def disconnect(self, sock: FakeSocket) -> None:
        """``unix_release_sock``: the peer can write no more; unread data -> ECONNRESET."""
        peer = sock.peer
        if peer is not None and self.connection:
            had_unread = any(seg.remaining for seg in sock.receive_queue)
            peer.shutdown = SHUTDOWN_MASK
            if had_unread or sock.embryo:
                peer.error = self.errno("ECONNRESET")

    def unhash(self, sock: FakeSocket) -> None:
        self.names.unhash(sock)

    def scm_pending(self, sock: FakeSocket, creds: Credentials | None, files: list[File]) -> bool:
        return bool(files) or (creds is not None and bool(sock.options) and self.kernel._options.passcred(sock))

    def scm_recv(
        self, sock: FakeSocket, control: ReceivedControl, creds: Credentials | None,
        files: list[File], flags: int,
    ) -> None:
        """``scm_recv``: credentials first (if SO_PASSCRED), then the fds (``scm_detach_fds``)."""
        kernel = self.kernel
        if creds is not None and kernel._options.passcred(sock):
            control.put_cmsg(self.SOL_SOCKET, self.SCM_CREDENTIALS,
                             struct.pack(self._ucred, creds.pid, creds.uid, creds.gid))
        if files:
            cloexec = bool(flags & self.MSG_CMSG_CLOEXEC)

            def install(file: object) -> int:
                code = kernel.faults.errno_for("install_fd", None)
                if code is not None:
                    raise_errno(code)
                if isinstance(file, RealFile):
                    return install_real(kernel, file, cloexec)  # a real fd (_realfiles)
                assert isinstance(file, OpenFile)
                return kernel._install(file, cloexec)

            control.detach_fds(files, install)
            for file in files:
                kernel._unref(file)  # __scm_destroy: installed ones hold their own ref

    # -- connect -------------------------------------------------------------
    def stream_connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``unix_stream_connect``: the server side is created at once, before accept."""
        sock = file.sock
        parse_unix(self.abi, addr, for_bind=False)
        self.autobind_for_credentials(sock)
        # The lookup and the listener's state come before our own state is
        # checked: connecting a connected socket to a missing path is ENOENT.
        while True:
            listener = self.names.lookup(sock, addr)
            if listener.state != "listening":
                self.fail("ECONNREFUSED")
            if not self.accept_queue_full(listener):
                break
            if file.nonblocking:
                self.fail("EAGAIN")
            self.block(fd, "connect", lambda: listener.released or not self.accept_queue_full(listener),
                       self.kernel._options.sndtimeo_deadline(sock))
            if self.accept_queue_full(listener) and not listener.released:
                self.fail("EAGAIN")
        if sock.state == "connected":
            self.fail("EISCONN")
        if sock.state != "unconnected":
            self.fail("EINVAL")
        server = self.kernel._new_socket(self, sock.proto)
        server.name = listener.name
        server.options = dict(listener.options)
        server.sndbuf, server.rcvbuf = listener.sndbuf, listener.rcvbuf
        server.credentials = listener.credentials
        server.peer_credentials = sock.credentials
        sock.peer_credentials = listener.credentials
        server.embryo = True
        server.listener = listener
        server.peer, sock.peer = sock, server
        server.state = sock.state = "connected"
        listener.accept_queue.append(server)

    def dgram_connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``unix_dgram_connect``: AF_UNSPEC disconnects; otherwise the peer must exist."""
        sock = file.sock
        if family_of(self.abi, addr) == self.c("AF_UNSPEC") and len(addr) >= 2:
            sock.peer = None
            sock.peer_name = None
            return
        self.autobind_for_credentials(sock)
        other = self.names.lookup(sock, addr)
        sock.peer = other
        sock.peer_name = other.name
        sock.state = "connected"

    # -- send ----------------------------------------------------------------
    def stream_sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[File],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``unix_stream_sendmsg`` (SOCK_STREAM only; SEQPACKET goes the datagram way)."""
        if addr is not None and len(addr) > 0:
            self.fail("EISCONN" if sock.state == "connected" else "EOPNOTSUPP")
        if sock.peer is None and sock.state != "connected":
            self.fail("ENOTCONN")
        if sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")
        if cap is not None:
            data = data[:cap]
        spliced = sock.send_flags & MSG_SPLICE_PAGES
        total = len(data)
        sent = 0
        fds_sent = False
        while sent < total:
            size = total - sent
            if spliced:
                # sendfile's pipe pages (skb_splice_from_iter): one skb of them all,
                # admitted while wmem < sndbuf as any other.
                paged = size
            else:
                # Keep two messages in the pipe: chunks of min(sndbuf/2 - 64, 36544)
                # (by comparisons: min() of three is a generic call).
                if size > (half := (sock.sndbuf >> 1) - 64):
                    size = half
                if size > UNIX_SKB_MAX:
                    size = UNIX_SKB_MAX
                paged = min(size, -(-(size - SKB_MAX_HEAD) // 4096) * 4096) if size > SKB_MAX_HEAD else 0
            if sock.wmem >= sock.sndbuf:  # (wait_for_wmem returns at once otherwise)
                try:
                    self.wait_for_wmem(fd, "sendmsg", sock, nonblocking)
                except OSError:
                    if sent:
                        return sent
                    raise
            other = sock.peer
            if other is None or other.released or other.shutdown & RCV_SHUTDOWN:
                if sent:
                    return sent
                self.fail("EPIPE")
            # Segment(data, credentials, b"", files, 0, sock, cost), its slots
            # stored here (a class call costs as much again; every field is set:
            # tests/test_fake_fastpath2.py).
            segment = _new(Segment)
            segment.data = data[sent : sent + size] if size != total else data
            segment.credentials = credentials
            segment.source = b""
            segment.files = self.kernel._in_flight.inflight(files) if files and not fds_sent else []
            segment.consumed = 0
            segment.charged_to = sock
            segment.cost = cost = SMALL_TRUESIZE[size] if size < SMALL_SKB and not paged else truesize(size - paged, paged)
            segment.rx = None
            fds_sent = True
            sock.wmem += cost
            other.receive_queue.append(segment)
            sent += size
        return sent

    def dgram_sendmsg(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[File],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``unix_dgram_sendmsg`` (and ``unix_seqpacket_sendmsg``)."""
        seqpacket = self.seqpacket
        if seqpacket:
            if sock.state != "connected":
                self.fail("ENOTCONN")
            if sock.shutdown & SEND_SHUTDOWN:
                self.fail("EPIPE")
            if addr:
                addr = None  # unix_seqpacket_sendmsg ignores msg_name when connected
        if not seqpacket and sock.shutdown & SEND_SHUTDOWN:
            self.fail("EPIPE")
        if len(data) > sock.sndbuf - 32:
            self.fail("EMSGSIZE")
        self.autobind_for_credentials(sock)
        if addr:
            other = self.names.lookup(sock, addr)
        else:
            if sock.peer is None:
                self.fail("ENOTCONN")
            other = sock.peer
        if other.released:
            if seqpacket:
                self.fail("EPIPE")
            if sock.peer is other:
                sock.peer = None  # unix_dgram_sendmsg: disconnect from the dead peer.
            self.fail("ECONNREFUSED")
        if not seqpacket and other.peer is not None and other.peer is not sock and other is not sock:
            self.fail("EPERM")  # unix_may_send: the target is connected elsewhere.
        if other.shutdown & RCV_SHUTDOWN:
            self.fail("EPIPE")  # unix_dgram_sendmsg: the receiver shut down reading.
        self.wait_for_wmem(fd, "sendmsg", sock, nonblocking)
        # unix_recvq_full: a receiver not connected back to us holds max_dgram_qlen.
        if not seqpacket and other.peer is not sock and len(other.receive_queue) > UNIX_MAX_DGRAM_QLEN:
            if nonblocking:
                self.fail("EAGAIN")
            if not self.block(fd, "sendmsg", lambda: other.released or len(other.receive_queue) <= UNIX_MAX_DGRAM_QLEN,
                              self.kernel._options.sndtimeo_deadline(sock)):
                self.fail("EAGAIN")
            if other.released:
                self.fail("ECONNREFUSED")
        paged = 0
        if len(data) > SKB_MAX_ALLOC:
            paged = -(-min(len(data) - SKB_MAX_ALLOC, 17 * 4096) // 4096) * 4096
        source = b""
        if isinstance(sock.name, UnixName):
            source = build_unix(self.abi, sock.name)
        segment = Segment(data, credentials, source=source, files=self.kernel._in_flight.inflight(files),
                          charged_to=sock, cost=truesize(len(data) - paged, paged))
        sock.wmem += segment.cost
        other.receive_queue.append(segment)
        return len(data)


class UnixStreamOps(_UnixOps):
    """``unix_stream_ops``."""

    name = "unix stream"
    connection = True
    connect = _UnixOps.stream_connect
    sendmsg = _UnixOps.stream_sendmsg
    recvmsg = _UnixOps.stream_read  # (the method itself: one frame less per receive)


class UnixSeqpacketOps(_UnixOps):
    """``unix_seqpacket_ops``: connected like a stream, records like datagrams."""

    name = "unix seqpacket"
    connection = True
    seqpacket = True
    connect = _UnixOps.stream_connect
    sendmsg = _UnixOps.dgram_sendmsg

    def before_scm_send(self, sock: FakeSocket) -> None:
        """``unix_seqpacket_sendmsg``: ENOTCONN before ``unix_dgram_sendmsg``'s ``scm_send``."""
        if sock.state != "connected":
            self.fail("ENOTCONN")

    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        return self.datagram_read(fd, call, sock, size, flags, nonblocking)


class UnixDgramOps(_UnixOps):
    """``unix_dgram_ops``."""

    name = "unix dgram"
    connect = _UnixOps.dgram_connect
    sendmsg = _UnixOps.dgram_sendmsg

    def recvmsg(self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool) -> Received:
        return self.datagram_read(fd, call, sock, size, flags, nonblocking)
