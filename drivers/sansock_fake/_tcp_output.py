"""TCP's control block and what one end sends (net/ipv4/tcp_output.c, tcp.c):
segments, the send queue and the window, FIN and RST, and the state changes
that end a connection.  The receiving side is ``_tcp_state``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import attrs

from ._addresses import InetName
from ._inet import InetHost, Packet
from ._objects import SHUTDOWN_MASK, FakeSocket

__all__ = [
    "Segment", "TcpControl", "SYN", "ACK", "FIN", "RST", "IPPROTO_TCP", "LOOPBACK_MSS",
    "TCP_TIMEWAIT_LEN_NS", "TCP_CORK_CEILING_NS", "CONNECTED_STATES", "SOCK_SNDBUF_LOCK", "SOCK_RCVBUF_LOCK",
    "wire_name", "receive_space", "send_segment", "reply_reset", "push", "schedule_uncork", "send_fin",
    "close_state", "active_reset", "done", "reset", "send_allowed", "grow_sndbuf",
]

#: IANA's protocol number, the same in every ABI.
IPPROTO_TCP = 6
#: Segment flag bits (the header's, in its order).
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_FLAG_NAMES = ((SYN, "SYN"), (ACK, "ACK"), (FIN, "FIN"), (RST, "RST"))

#: include/net/tcp.h TCP_TIMEWAIT_LEN: 60 s (also the orphan FIN_WAIT2 time, tcp_fin_timeout).
TCP_TIMEWAIT_LEN_NS = 60 * 1_000_000_000
#: How long a cork (MSG_MORE, TCP_CORK) holds a partial segment at most.
TCP_CORK_CEILING_NS = 200_000_000
#: The MSS over loopback (MTU 65536 - 40 bytes of headers - 12 of timestamps).
LOOPBACK_MSS = 65483
#: ``sk_userlocks`` bits: SO_SNDBUF / SO_RCVBUF set by the user stop autotuning.
SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK = 1, 2

#: The states in which ``tcp_disconnect``/an abort sends an RST (``tcp_need_reset``).
_NEED_RESET = frozenset({"ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV"})
#: States in which the socket still holds its connection (``getpeername`` works).
CONNECTED_STATES = frozenset({"ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK"})



class Segment(NamedTuple):
    """One TCP segment: flags, sequence and acknowledgement numbers, window, payload.

    Immutable (a tuple: one is made per segment, on the hot path of every send).
    """

    flags: int
    seq: int = 0
    ack: int = 0
    window: int = 0
    data: bytes = b""

    def __repr__(self) -> str:
        names = "|".join(name for bit, name in _FLAG_NAMES if self.flags & bit) or "-"
        return f"<{names} seq={self.seq} ack={self.ack} win={self.window} len={len(self.data)}>"


#: ``Segment`` made from a full tuple without NamedTuple's Python-level ``__new__``
#: (one per segment: the hot path).
_new_segment = tuple.__new__
_new_packet = object.__new__


@attrs.define(eq=False)
class TcpControl:
    """``struct tcp_sock``'s part the fake models, for one socket."""

    host: InetHost
    state: str = "CLOSED"
    #: The connection's names as on the wire (an IPv4 connection to a
    #: dual-stack listener is AF_INET here, whatever the socket reports).
    local: InetName | None = None
    remote: InetName | None = None
    #: Send side: bytes sent (a FIN counts one), acknowledged, the peer's window
    #: at ``snd_una``, and bytes written but not sent yet.
    snd_nxt: int = 0
    snd_una: int = 0
    snd_wnd: int = 0
    unsent: bytearray = attrs.field(factory=bytearray)
    #: MSG_MORE: hold a partial segment until a send without it (``TCP_NAGLE_CORK``).
    corked: bool = False
    #: A timer will release the cork (see :func:`schedule_uncork`).
    cork_timer: bool = False
    fin_queued: bool = False
    fin_sent: bool = False
    #: Receive side: bytes received (a FIN counts one) and the right edge of
    #: the window last advertised (``rcv_wup + rcv_wnd``).
    rcv_nxt: int = 0
    rcv_edge: int = 0
    #: Listener: SYNs that found the accept queue full, waiting for their retransmission timer.
    held_syns: list[Packet] = attrs.field(factory=list)
    #: Those of them past the client's first retransmission: let in as ``accept`` makes room.
    retried_syns: list[Packet] = attrs.field(factory=list)
    #: A FIN arrived (``SOCK_DONE``): reads give EOF before a pending error.
    fin_received: bool = False
    #: TIME_WAIT / orphan FIN_WAIT2: the virtual time it ends.
    deadline_ns: int = 0

    @property
    def key(self) -> tuple[bytes, int, bytes, int]:
        """The connection's key in the established hash."""
        local, remote = self.local, self.remote
        assert local is not None and remote is not None
        return local.packed, local.port, remote.packed, remote.port

    @property
    def queued(self) -> int:
        """Send-queue bytes: not sent yet, or in flight and not acknowledged."""
        fin = 1 if self.fin_sent and self.snd_una < self.snd_nxt else 0
        return len(self.unsent) + self.snd_nxt - self.snd_una - fin


def wire_name(name: InetName) -> InetName:
    """A name as the established hash keys it: no flow label or scope."""
    if name.flowinfo or name.scope_id:
        return attrs.evolve(name, flowinfo=0, scope_id=0)
    return name


# -- output ---------------------------------------------------------------------------------
def receive_space(sock: FakeSocket) -> int:
    """The window this end advertises: what its receive buffer has left."""
    return max(sock.rcvbuf - sock.rmem, 0)


def send_segment(sock: FakeSocket, flags: int, data: bytes = b"", seq: int | None = None) -> None:
    """``tcp_transmit_skb``: a segment of this connection onto the wire (ACK and window filled in)."""
    tcp = sock.tcp
    if TYPE_CHECKING:
        assert tcp is not None and tcp.local is not None and tcp.remote is not None
    window = sock.rcvbuf - sock.rmem
    if window < 0:
        window = 0
    rcv_nxt = tcp.rcv_nxt
    if flags & ACK:
        tcp.rcv_edge = rcv_nxt + window
    segment = _new_segment(Segment, (flags, tcp.snd_nxt if seq is None else seq, rcv_nxt, window, data))
    local = tcp.local
    # Packet(local.family, IPPROTO_TCP, local, tcp.remote, segment, len(data)), its
    # slots stored here (a class call costs as much again, nine times a connection;
    # every field is set: tests/test_fake_fastpath2.py).
    packet = _new_packet(Packet)
    packet.family = local.family
    packet.proto = IPPROTO_TCP
    packet.src = local
    packet.dst = tcp.remote
    packet.payload = segment
    packet.size = len(data)
    packet.cscov = 0
    packet.hoplimit = 64
    packet.tclass = 0
    tcp.host.output(packet)


def reply_reset(host: InetHost, packet: Packet) -> None:
    """``tcp_v4_send_reset``: an RST in answer to *packet* (no socket involved)."""
    segment = packet.payload
    assert isinstance(segment, Segment)
    if segment.flags & RST:
        return
    answer = Segment(RST | ACK, segment.ack, segment.seq + len(segment.data) + (1 if segment.flags & (SYN | FIN) else 0))
    host.output(Packet(packet.family, packet.proto, packet.dst, packet.src, answer, 0))


def push(sock: FakeSocket) -> None:
    """``tcp_push``/``tcp_write_xmit``: send what the peer's window allows, then a queued FIN."""
    tcp = sock.tcp
    assert tcp is not None
    while tcp.unsent:
        usable = tcp.snd_una + tcp.snd_wnd - tcp.snd_nxt
        if usable <= 0:
            return
        size = min(len(tcp.unsent), usable, LOOPBACK_MSS)
        if tcp.corked and size < LOOPBACK_MSS and size == len(tcp.unsent) and not tcp.fin_queued:
            schedule_uncork(sock)
            return  # MSG_MORE / TCP_CORK: a partial segment waits for more data
        chunk = bytes(tcp.unsent[:size])
        del tcp.unsent[:size]
        seq = tcp.snd_nxt
        tcp.snd_nxt += size
        send_segment(sock, ACK, chunk, seq)
    if tcp.fin_queued and not tcp.fin_sent:
        tcp.fin_sent = True
        seq = tcp.snd_nxt
        tcp.snd_nxt += 1
        send_segment(sock, FIN | ACK, seq=seq)


def schedule_uncork(sock: FakeSocket) -> None:
    """The cork's ceiling: held data leaves after :data:`TCP_CORK_CEILING_NS` (200 ms,
    ``TCP_CORK``'s limit; MSG_MORE data waits as long on Linux).

    It needs a kernel timer (``Scheduler.call_at``, which a simulated network
    brings); without one the data waits for the next send without MSG_MORE,
    TCP_CORK 0, shutdown or close, and a wait that only the ceiling would end
    raises ``BlockedForever`` instead of giving a wrong answer.
    """
    tcp = sock.tcp
    assert tcp is not None
    scheduler = sock.ops.kernel._scheduler
    call_at: Callable[[int, Callable[[], None]], None] | None = getattr(scheduler, "call_at", None)
    if call_at is None or tcp.cork_timer:
        return
    tcp.cork_timer = True

    def uncork() -> None:
        tcp.cork_timer = False
        if tcp.corked and tcp.unsent and tcp.state in CONNECTED_STATES:
            tcp.corked = False
            push(sock)

    call_at(scheduler.now_ns + TCP_CORK_CEILING_NS, uncork)


def send_fin(sock: FakeSocket) -> None:
    """``tcp_send_fin``: after the queued data."""
    tcp = sock.tcp
    assert tcp is not None
    tcp.fin_queued = True
    tcp.corked = False
    push(sock)


def close_state(sock: FakeSocket) -> bool:
    """``tcp_close_state``: the state after a close/SHUT_WR; True when a FIN is due."""
    tcp = sock.tcp
    assert tcp is not None
    following = {"ESTABLISHED": "FIN_WAIT1", "SYN_RECV": "FIN_WAIT1", "CLOSE_WAIT": "LAST_ACK", "SYN_SENT": "CLOSED"}
    new = following.get(tcp.state)
    if new is None:
        return False
    if new == "CLOSED":
        done(sock)
        return False
    tcp.state = new
    return True


def active_reset(sock: FakeSocket) -> None:
    """``tcp_send_active_reset`` + ``tcp_done``: abort the connection, telling the peer."""
    tcp = sock.tcp
    assert tcp is not None
    if tcp.state in _NEED_RESET:
        send_segment(sock, RST | ACK)
    done(sock)


# -- state changes ----------------------------------------------------------------------------
def done(sock: FakeSocket) -> None:
    """``tcp_done``: CLOSED; the connection leaves the established hash (an orphan its port)."""
    tcp = sock.tcp
    assert tcp is not None
    tcp.state = "CLOSED"
    tcp.unsent.clear()
    if tcp.local is not None and tcp.host.tcp_connections.get(tcp.key) is sock:
        del tcp.host.tcp_connections[tcp.key]
    if sock.state != "unconnected":
        sock.state = "closed"
    sock.shutdown = SHUTDOWN_MASK
    if sock.released:
        tcp.host.ports.remove(sock)


def reset(sock: FakeSocket) -> None:
    """``tcp_reset``: an RST arrived: ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT, else ECONNRESET."""
    tcp = sock.tcp
    assert tcp is not None
    errors = {"SYN_SENT": "ECONNREFUSED", "CLOSE_WAIT": "EPIPE", "CLOSED": "", "TIME_WAIT": ""}
    name = errors.get(tcp.state, "ECONNRESET")
    if name and not sock.released:
        sock.error = sock.ops.errno(name)
    done(sock)


def send_allowed(sock: FakeSocket) -> bool:
    """Room in the send queue (``sk_stream_memory_free``)."""
    tcp = sock.tcp
    return tcp is None or (tcp.queued < sock.sndbuf and notsent_free(sock, 0))


def notsent_free(sock: FakeSocket, wake: int) -> bool:
    """``tcp_stream_memory_free``: the bytes not sent yet stay under TCP_NOTSENT_LOWAT
    (doubled for poll, whose *wake* is 1: ``(notsent_bytes << wake) < lowat``)."""
    tcp = sock.tcp
    lowat = sock.ops.kernel._options.notsent_lowat(sock)
    return tcp is None or not lowat or (len(tcp.unsent) << wake) < lowat


def grow_sndbuf(sock: FakeSocket) -> bool:
    """``tcp_sndbuf_expand``: autotuning doubles SO_SNDBUF up to tcp_wmem[2] unless the user set it."""
    limit = sock.ops.kernel.tcp_wmem_max
    if sock.userlocks & SOCK_SNDBUF_LOCK or sock.sndbuf >= limit:
        return False
    sock.sndbuf = min(sock.sndbuf * 2, limit)
    return True
