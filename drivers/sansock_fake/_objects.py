"""Kernel objects: open file descriptions, sockets, and the segments queued on them.

Names follow the kernel: an :class:`OpenFile` is a ``struct file`` (shared by
``dup``; carries ``O_NONBLOCK``; referenced by fd table slots and by messages in
flight through SCM_RIGHTS), a :class:`FakeSocket` is a ``struct sock``, a
:class:`Segment` is an ``sk_buff`` on a receive queue.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

import attrs

from ._addresses import SocketName
from ._control import Credentials

if TYPE_CHECKING:
    from ._inet import Packet
    from ._protocol import ProtoOps
    from ._tcp_state import TcpControl

__all__ = ["OpenFile", "RealFile", "File", "FdSlot", "FakeSocket", "Segment", "SocketState", "truesize", "shared_credentials"]

SocketState = Literal["unconnected", "listening", "connecting", "connected", "closed"]

#: ``SKB_DATA_ALIGN(sizeof(struct sk_buff))`` and ``SKB_DATA_ALIGN(sizeof(struct
#: skb_shared_info))`` on x86-64: the fixed costs of every sk_buff.
SKB_STRUCT_SIZE = 256
SKB_SHARED_INFO_SIZE = 320

#: ``sk_shutdown`` bits (include/net/sock.h).
RCV_SHUTDOWN = 1
SEND_SHUTDOWN = 2
SHUTDOWN_MASK = 3


#: ``Credentials(pid, uid, gid)``, one shared object per value (they are frozen):
#: the process credentials every send carries are not built per call.
shared_credentials = functools.lru_cache(maxsize=64, typed=True)(Credentials)


@functools.lru_cache(maxsize=4096)
def truesize(header_len: int, paged_len: int = 0) -> int:
    """``skb->truesize`` of an skb with *header_len* linear bytes and *paged_len* in pages.

    ``__alloc_skb`` kmallocs ``header_len + sizeof(skb_shared_info)`` (rounded
    up to a power-of-two cache, at least 512 here) and charges it plus the
    ``sk_buff`` itself; ``alloc_skb_with_frags`` adds whole pages.  This is
    what makes 278 one-byte AF_UNIX messages fill the default 212992-byte
    SO_SNDBUF on Linux, as on the real kernel.
    """
    linear = max(512, 1 << (header_len + SKB_SHARED_INFO_SIZE - 1).bit_length())
    return SKB_STRUCT_SIZE + linear + paged_len


@attrs.define(eq=False)
class OpenFile:
    """``struct file``: what an fd refers to; shared by dup'ed fds and in-flight messages."""

    sock: FakeSocket
    nonblocking: bool = False
    #: The other status flags ``fcntl(F_SETFL)`` set (``O_APPEND``, ``O_NOATIME``).
    status_flags: int = 0
    #: fd table slots plus in-flight SCM_RIGHTS references.
    refs: int = 0
    #: How many of ``refs`` are in flight (``unix_sk(sk)->inflight``).
    inflight: int = 0


@attrs.define(eq=False)
class RealFile:
    """A ``struct file`` of the real process (a pipe, a regular file) carried
    through SCM_RIGHTS over a fake AF_UNIX socket (see ``_realfiles``).

    Files are real, only sockets are fake: the kernel holds its own dup of the
    file (*fd*) while messages carry it, and a reader gets a new dup.
    """

    #: The fake kernel's own real fd on the open file description.
    fd: int
    #: In-flight SCM_RIGHTS references (a real file has no fake fd table slot).
    refs: int = 0
    #: How many of ``refs`` are in flight (all of them).
    inflight: int = 0
    #: Closes *fd* once: called when the last reference goes, or by the
    #: garbage collector if the kernel is dropped with the message unread.
    closer: Callable[[], object] | None = attrs.field(default=None, repr=False)


#: What an SCM_RIGHTS message carries: a fake socket's open file or a real file.
File: TypeAlias = "OpenFile | RealFile"


@attrs.define(eq=False)
class FdSlot:
    """One fd table entry: the file and the per-fd close-on-exec flag."""

    file: OpenFile
    cloexec: bool


@attrs.define(eq=False)
class Segment:
    """``struct sk_buff`` on a receive queue, with what ``UNIXCB(skb)`` carries."""

    data: bytes
    credentials: Credentials
    #: The sender's address as ``recvfrom`` reports it (b"" when unnamed).
    source: bytes = b""
    files: list[File] = attrs.field(factory=list)
    consumed: int = 0
    #: The socket whose ``sk_wmem_alloc`` this skb is charged to (AF_UNIX).
    charged_to: FakeSocket | None = None
    cost: int = 0
    #: The packet a datagram came in (UDP): its IP header's facts, which
    #: ``recvmsg`` may report (``_ip_ctl``).
    rx: Packet | None = None

    @property
    def remaining(self) -> int:
        return len(self.data) - self.consumed


@attrs.define(eq=False)
class FakeSocket:
    """``struct sock`` of every family the fake models."""

    #: The protocol (``sk->sk_socket->ops`` + ``sk->sk_prot``), chosen at creation.
    ops: ProtoOps = attrs.field(repr=False)
    family: int
    type: int
    proto: int
    sndbuf: int
    rcvbuf: int
    state: SocketState = "unconnected"
    name: SocketName | None = None
    #: Connected peer socket (AF_UNIX pair, TCP connection) or the AF_UNIX
    #: datagram socket we are connected to.
    peer: FakeSocket | None = None
    #: The remote name of a connected socket (UDP/TCP/AF_UNIX dgram).
    peer_name: SocketName | None = None
    receive_queue: deque[Segment] = attrs.field(factory=deque)
    accept_queue: deque[FakeSocket] = attrs.field(factory=deque)
    #: TCP connectors waiting for room in a full accept queue (SYN retries).
    syn_queue: deque[FakeSocket] = attrs.field(factory=deque)
    backlog: int = 0
    shutdown: int = 0
    error: int = 0
    wmem: int = 0
    rmem: int = 0
    #: UDP's deferred release of receive memory (``udp_sock.forward_deficit``)
    #: and how many datagrams at the head of ``receive_queue`` are in its
    #: ``reader_queue`` (see ``_udp``).
    forward_deficit: int = 0
    reader_queue: int = 0
    #: ``sk_userlocks``: SOCK_SNDBUF_LOCK (1) / SOCK_RCVBUF_LOCK (2), a buffer
    #: size set by the user (no autotuning: ``_sockopt``, ``_tcp_output``), and
    #: SOCK_BINDADDR_LOCK (4) / SOCK_BINDPORT_LOCK (8), what an explicit
    #: ``bind`` fixed (AF_INET/AF_INET6; see ``_inet``).
    userlocks: int = 0
    released: bool = False
    #: A non-blocking TCP connect answered EINPROGRESS and no connect call has
    #: reported its outcome yet (``sock->state == SS_CONNECTING``).
    connect_in_progress: bool = False
    #: The AF_UNIX server-side socket has not been accepted yet (``embrion``).
    embryo: bool = False
    #: The listener an embryo waits on.
    listener: FakeSocket | None = None
    #: The socket's credentials (``sk_peer_cred`` source): pid, uid, gid.
    credentials: Credentials | None = None
    peer_credentials: Credentials | None = None
    #: Options stored and read back: ``(level, option) -> value``.
    options: dict[tuple[int, int], int | bytes] = attrs.field(factory=dict)
    #: The flags of the ``sendmsg`` in progress (MSG_MORE for TCP).
    send_flags: int = 0
    #: AF_INET/AF_INET6: the control data of the ``sendmsg`` in progress, which
    #: the protocol parses where Linux does (UDP's items: ``_ip_ctl``).
    send_control: bytes = b""
    #: The packet of the datagram the last datagram read took (UDP's
    #: ``recvmsg`` control data, ``_ip_ctl``).
    last_rx: Packet | None = None
    #: TCP's connection state (``struct tcp_sock``), None for other protocols.
    tcp: TcpControl | None = None
