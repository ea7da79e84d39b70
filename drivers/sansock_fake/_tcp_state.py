"""TCP's connection state machine: segments in, segments out (net/ipv4/tcp_input.c,
tcp_output.c, tcp_minisocks.c, tcp_timewait, inet_connection_sock.c).

Everything that crosses between two TCP endpoints is a :class:`Segment` in a
``_inet.Packet`` handed to ``InetHost.output``; :func:`tcp_input` is what a
host calls for an arriving one (``tcp_v4_rcv``).  No endpoint ever touches
the other's socket: the listener, the connector and the two ends of a
connection find each other through the host's tables only (the port table
for listeners, ``InetHost.tcp_connections`` -- the established hash -- for
everything else).

The model, and what it leaves out:

* States: CLOSED, LISTEN, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1,
  FIN_WAIT2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT, with the transitions
  of ``tcp_rcv_state_process``/``tcp_fin``/``tcp_close_state``.
* Sequence numbers count payload bytes from 0 in each direction (a FIN takes
  one); the wire is assumed reliable and in order (a network layer that loses
  packets retransmits them: loss is delay).  So there are no retransmission
  timers, no out-of-order queue, no checksum, no options, no urgent data.
* Flow control: every segment carries ``ack`` and ``window`` (the receive
  space its sender has left); a sender keeps at most ``snd_una + snd_wnd -
  snd_nxt`` bytes in flight, the rest waits in its send queue (charged to
  SO_SNDBUF).  A receiver acknowledges every data segment at once (no delayed
  ACK) and sends a window update when reading opens its window.
* A listener with a full accept queue holds the SYN as Linux drops it: it
  gets in no sooner than the client's first retransmission (1 s), then as
  soon as ``accept`` makes room; the client gives up with ETIMEDOUT after
  127 s (:func:`hold_syn`).
* TIME_WAIT (and an orphan's FIN_WAIT2) is a separate socket holding the port
  for :data:`TCP_TIMEWAIT_LEN` of virtual time, checked lazily against the
  clock (no timer): it conflicts with a ``bind`` unless both it and the new
  socket have SO_REUSEADDR (``inet_bind_conflict``).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import TYPE_CHECKING

from ._addresses import InetName
from ._inet import InetHost, Packet
from ._objects import RCV_SHUTDOWN, SHUTDOWN_MASK, FakeSocket
from ._objects import Segment as Skb
from ._tcp_output import (
    ACK, CONNECTED_STATES, FIN, LOOPBACK_MSS, RST, SYN, TCP_TIMEWAIT_LEN_NS, Segment, TcpControl,
    active_reset, close_state, done, grow_sndbuf, push, receive_space, reply_reset, reset, send_allowed,
    send_fin, send_segment, wire_name,
)

if TYPE_CHECKING:
    from ._protocol import ProtoOps

__all__ = [
    "Segment", "TcpControl", "tcp_input", "SYN", "ACK", "FIN", "RST", "TCP_TIMEWAIT_LEN_NS", "LOOPBACK_MSS",
    "CONNECTED_STATES", "active_reset", "close_state", "done", "grow_sndbuf", "listen_input", "push",
    "reap_time_wait", "receive_space", "reply_reset", "send_allowed", "send_fin", "send_segment",
    "time_wait_conflict", "window_update", "wire_name", "TCP_TIMEOUT_INIT_NS", "TCP_SYN_RETRIES",
    "admit_retried_syns",
]

_order = itertools.count()


def now_ns(sock: FakeSocket) -> int:
    return sock.ops.kernel._scheduler.now_ns


#: The queues of every TIME_WAIT (and orphan FIN_WAIT2) socket: such a socket
#: receives no data, has no fd and never listens, so its own would stay empty
#: (three deques, about 2 KB, where a host keeps one such socket per recently
#: closed connection: up to one per ephemeral port).  A deque of maxlen 0
#: keeps nothing, so it stays empty whatever happens.
_NO_SEGMENTS: deque[Skb] = deque(maxlen=0)
_NO_SOCKETS: deque[FakeSocket] = deque(maxlen=0)


def time_wait(sock: FakeSocket, substate: str) -> None:
    """``tcp_time_wait``: a TIME_WAIT socket takes over the port; the socket itself is done.

    An orphan (closed by its owner) becomes the TIME_WAIT socket itself; an
    open socket is done (CLOSED, its fd stays) and a new one holds the port.
    """
    tcp = sock.tcp
    assert tcp is not None and isinstance(sock.name, InetName)
    host = tcp.host
    key = tcp.key
    if sock.released:
        host.ports.remove(sock)
        tcp.state = substate
        tcp.unsent.clear()
        tw = sock
        if not (sock.receive_queue or sock.accept_queue or sock.syn_queue):
            # Its queues go (about 2 KB: three deques), as nothing can fill them now.
            sock.receive_queue, sock.accept_queue, sock.syn_queue = _NO_SEGMENTS, _NO_SOCKETS, _NO_SOCKETS
    else:
        done(sock)
        ops: ProtoOps = sock.ops
        tw = FakeSocket(ops, ops.family, ops.type, sock.proto, ops.sndbuf_default, ops.rcvbuf_default,
                        receive_queue=_NO_SEGMENTS, accept_queue=_NO_SOCKETS, syn_queue=_NO_SOCKETS)
        tw.name = sock.name
        tw.peer_name = sock.peer_name
        tw.options = dict(sock.options)  # SO_REUSEADDR decides bind conflicts (tw_reuse)
        tw.state = "closed"
        tw.shutdown = SHUTDOWN_MASK
        tw.released = True
        tw.tcp = TcpControl(host, substate, tcp.local, tcp.remote, snd_nxt=tcp.snd_nxt, snd_una=tcp.snd_una,
                            rcv_nxt=tcp.rcv_nxt)
        host.tcp_connections[key] = tw
    host.tcp_time_wait_ports.setdefault((tw.family, sock.name.port), set()).add(tw)
    schedule_time_wait(tw)


def schedule_time_wait(tw: FakeSocket) -> None:
    tcp = tw.tcp
    assert tcp is not None
    deadline = now_ns(tw) + TCP_TIMEWAIT_LEN_NS
    if tcp.deadline_ns == deadline:
        return  # a FIN_WAIT2 become TIME_WAIT at the same instant: its entry stands
    tcp.deadline_ns = deadline
    host = tcp.host
    heap = host.tcp_time_wait
    if len(heap) >= 2 * host.tcp_time_wait_kept + 1024:
        # Entries of sockets gone before their time (a connect took the
        # 4-tuple over, a FIN_WAIT2 became TIME_WAIT and was scheduled again):
        # while virtual time stands still nothing reaps them.  Dropped here,
        # so the heap stays within twice the live ones (amortised).
        heap[:] = [entry for entry in heap if _live_time_wait(entry)]
        heapq.heapify(heap)
        host.tcp_time_wait_kept = len(heap)
    heapq.heappush(heap, (tcp.deadline_ns, next(_order), tw))


def _live_time_wait(entry: tuple[int, int, FakeSocket]) -> bool:
    tcp = entry[2].tcp
    return tcp is not None and tcp.state in ("TIME_WAIT", "FIN_WAIT2") and tcp.deadline_ns == entry[0]


def kill_time_wait(tw: FakeSocket) -> None:
    """``inet_twsk_deschedule_put``: the TIME_WAIT socket is gone, and its port with it."""
    tcp = tw.tcp
    assert tcp is not None
    tcp.state = "CLOSED"
    host = tcp.host
    if host.tcp_connections.get(tcp.key) is tw:
        del host.tcp_connections[tcp.key]
    assert isinstance(tw.name, InetName)
    holders = host.tcp_time_wait_ports.get((tw.family, tw.name.port))
    if holders is not None:
        holders.discard(tw)
        if not holders:
            del host.tcp_time_wait_ports[(tw.family, tw.name.port)]


def time_wait_conflict(host: InetHost, sock: FakeSocket, name: InetName, reuse: bool) -> bool:
    """``inet_bind_conflict`` against the TIME_WAIT sockets on *name*'s port:
    the addresses overlap and not both have SO_REUSEADDR."""
    for tw in host.tcp_time_wait_ports.get((sock.family, name.port), ()):
        assert isinstance(tw.name, InetName)
        overlap = tw.name.packed == name.packed or not any(tw.name.packed) or not any(name.packed)
        if overlap and not (reuse and tw.ops.kernel._options.reuseaddr(tw)):
            return True
    return False


def reap_time_wait(host: InetHost, now: int) -> None:
    """The TIME_WAIT sockets whose time has passed leave (the timer, run lazily)."""
    heap = host.tcp_time_wait
    while heap and heap[0][0] <= now:
        deadline, _, tw = heapq.heappop(heap)
        tcp = tw.tcp
        if tcp is not None and tcp.state in ("TIME_WAIT", "FIN_WAIT2") and tcp.deadline_ns == deadline:
            kill_time_wait(tw)


# -- input --------------------------------------------------------------------------------------
def find_listener(host: InetHost, packet: Packet) -> FakeSocket | None:
    """``__inet_lookup_listener``: a listener on the port, this address or the wildcard."""
    stream = host.sock_stream
    target = packet.dst
    for other in host.ports.bound(packet.family, stream, target.port):
        assert isinstance(other.name, InetName)
        if other.state == "listening" and (other.name.packed == target.packed or not any(other.name.packed)):
            return other
    inet6 = host.af_inet6
    if packet.family == host.af_inet:
        # A dual-stack listener: AF_INET6 bound to :: with IPV6_V6ONLY 0
        # takes IPv4 connections, seen as ::ffff:a.b.c.d (ipv6(7)).
        for other in host.ports.bound(inet6, stream, target.port):
            assert isinstance(other.name, InetName)
            if (other.state == "listening" and not any(other.name.packed)
                    and not other.ops.kernel._options.v6only(other)):
                return other
    return None


def tcp_input(host: InetHost, packet: Packet) -> None:
    """``tcp_v4_rcv``/``tcp_v6_rcv``: find the socket a segment is for and process it."""
    segment = packet.payload
    assert isinstance(segment, Segment)
    dst, src = packet.dst, packet.src
    key = (dst.packed, dst.port, src.packed, src.port)
    sock = host.tcp_connections.get(key)
    if sock is not None:
        tcp = sock.tcp
        if tcp is not None and tcp.state == "ESTABLISHED" and segment.flags == ACK:
            # The common case (tcp_rcv_established's fast path): an ACK, maybe with data.
            if segment.ack >= tcp.snd_una:
                tcp.snd_una = segment.ack
                tcp.snd_wnd = segment.window
            data = segment.data
            if data:
                queue_data(sock, tcp, segment)
            if tcp.unsent or tcp.fin_queued:
                push(sock)
            return
    if sock is not None and sock.tcp is not None and sock.tcp.state in ("TIME_WAIT", "FIN_WAIT2") and sock.released:
        reap_time_wait(host, now_ns(sock))
        sock = host.tcp_connections.get(key)
    if sock is None:
        if segment.flags & SYN and not segment.flags & (ACK | RST):
            listener = find_listener(host, packet)
            if listener is not None:
                listen_input(listener, packet)
                return
        reply_reset(host, packet)
        return
    tcp = sock.tcp
    assert tcp is not None
    if sock.released and tcp.state in ("TIME_WAIT", "FIN_WAIT2"):
        time_wait_input(sock, packet)
        return
    state_process(sock, packet)


#: TCP_TIMEOUT_INIT (1 s, include/net/tcp.h): the first SYN retransmission
#: timeout, doubled at each retry; net.ipv4.tcp_syn_retries (6) retries, so a
#: connect gives up with ETIMEDOUT 127 s after its first SYN.
TCP_TIMEOUT_INIT_NS = 1_000_000_000
TCP_SYN_RETRIES = 6


def hold_syn(listener: FakeSocket, packet: Packet) -> None:
    """A SYN that found the accept queue full (``tcp_conn_request`` drops it).

    The client retransmits it 1 s later (``TCP_TIMEOUT_INIT``): until then a
    connection ``accept`` makes room for does not get in (a non-blocking
    ``accept`` right after the previous one gets EAGAIN, as on Linux).  From
    its first retransmission on, the SYN gets in as soon as there is room --
    Linux waits for the next retransmission (3 s, 7 s ... after the first),
    but a burst of clients whose retransmissions the fake fires at the same
    virtual instant would otherwise find the queue full together, where
    Linux's accept loop runs between them.  A connect no ``accept`` lets in
    gives up with ETIMEDOUT 127 s after its first SYN (``tcp_syn_retries`` 6).
    """
    ltcp = listener.tcp
    assert ltcp is not None
    ltcp.held_syns.append(packet)
    scheduler = listener.ops.kernel._scheduler

    def retransmission(count: int) -> None:
        """The client's *count*-th retransmission of the SYN (its give-up after the last)."""
        if packet not in ltcp.held_syns:
            return  # let in, or the listener stopped (and answered with an RST)
        client = client_waiting(ltcp.host, packet)
        if not client:
            ltcp.held_syns.remove(packet)
            if packet in ltcp.retried_syns:
                ltcp.retried_syns.remove(packet)
            return
        if count > TCP_SYN_RETRIES:
            ltcp.held_syns.remove(packet)
            if packet in ltcp.retried_syns:
                ltcp.retried_syns.remove(packet)
            if isinstance(client, FakeSocket):  # tcp_write_timeout: ETIMEDOUT, then CLOSED
                if not client.released:
                    client.error = client.ops.errno("ETIMEDOUT")
                done(client)
            return
        if packet not in ltcp.retried_syns:
            ltcp.retried_syns.append(packet)
            admit_retried_syns(listener)
        if packet in ltcp.held_syns:  # the timer doubles (tcp_retransmit_timer)
            scheduler.call_at(scheduler.now_ns + (TCP_TIMEOUT_INIT_NS << count), lambda: retransmission(count + 1))

    scheduler.call_at(scheduler.now_ns + TCP_TIMEOUT_INIT_NS, lambda: retransmission(1))


def client_waiting(host: InetHost, packet: Packet) -> FakeSocket | bool:
    """Whether the client that sent a held SYN still retransmits it: its socket
    when it is still in SYN_SENT -- on *host*, or on another host of the network
    that owns *host* --, True when no such host is known (assumed still waiting),
    False when it closed or was answered."""
    src, dst = packet.src, packet.dst
    if not host.is_local(src.family, src.packed):
        remote = None if host.router is None else host.router.inet_host_of(src.family, src.packed)
        if remote is None:
            return True
        host = remote
    client = host.tcp_connections.get((src.packed, src.port, dst.packed, dst.port))
    if client is None or client.tcp is None or client.tcp.state != "SYN_SENT":
        return False
    return client


def admit_retried_syns(listener: FakeSocket) -> None:
    """Room in the accept queue: the held SYNs past their first retransmission get in, in order."""
    ltcp = listener.tcp
    assert ltcp is not None
    while ltcp.retried_syns and ltcp.state == "LISTEN" and not listener.ops.accept_queue_full(listener):
        packet = ltcp.retried_syns.pop(0)
        ltcp.held_syns.remove(packet)
        if client_waiting(ltcp.host, packet):
            listen_input(listener, packet)


def listen_input(listener: FakeSocket, packet: Packet) -> None:
    """A SYN for a listener (``tcp_conn_request``): a child in SYN_RECV and a SYN-ACK,
    or, with the accept queue full, the SYN waits (Linux drops it; the client retries)."""
    ltcp = listener.tcp
    assert ltcp is not None
    if listener.ops.accept_queue_full(listener):
        hold_syn(listener, packet)
        return
    segment = packet.payload
    assert isinstance(segment, Segment)
    ops = listener.ops
    kernel = ops.kernel
    child = kernel._new_socket(ops, listener.proto)
    child.credentials = listener.credentials
    child.name, child.peer_name = packet.dst, packet.src
    if listener.family != packet.family:
        def mapped(name: InetName) -> InetName:
            return InetName(listener.family, bytes(10) + b"\xff\xff" + name.packed, name.port)

        child.name, child.peer_name = mapped(packet.dst), mapped(packet.src)
    child.options = dict(listener.options)
    child.options.pop(ops.SO_ERROR, None)
    child.sndbuf, child.rcvbuf, child.userlocks = listener.sndbuf, listener.rcvbuf, listener.userlocks
    child.embryo = True
    child.listener = listener
    child.state = "connecting"
    child.tcp = TcpControl(ltcp.host, "SYN_RECV", packet.dst, packet.src, snd_wnd=segment.window, rcv_nxt=segment.seq + 1)
    ltcp.host.tcp_connections[child.tcp.key] = child
    if listener.family == packet.family:
        assert isinstance(child.name, InetName)
        ltcp.host.ports.users(child.family, child.type, child.name.port).append(child)
    child.tcp.snd_nxt = 1  # the SYN takes one
    send_segment(child, SYN | ACK, seq=0)


def time_wait_input(tw: FakeSocket, packet: Packet) -> None:
    """``tcp_timewait_state_process``."""
    tcp = tw.tcp
    segment = packet.payload
    assert tcp is not None and isinstance(segment, Segment)
    if segment.flags & RST:
        kill_time_wait(tw)
        return
    if segment.flags & SYN and not segment.flags & ACK:
        # A new connection on the same four names: the TIME_WAIT gives way.
        kill_time_wait(tw)
        tcp_input(tcp.host, packet)
        return
    if tcp.state == "FIN_WAIT2":
        if segment.data:
            # New data after a half-duplex close: reset, and the socket is gone.
            reply_reset(tcp.host, packet)
            kill_time_wait(tw)
            return
        if segment.flags & FIN:
            tcp.rcv_nxt = segment.seq + 1
            tcp.state = "TIME_WAIT"
            schedule_time_wait(tw)
            send_segment(tw, ACK)
        return
    if segment.flags & FIN:
        send_segment(tw, ACK)  # a retransmitted FIN: ACK it again


def state_process(sock: FakeSocket, packet: Packet) -> None:
    """``tcp_rcv_state_process`` for a socket past LISTEN (in-order, reliable wire)."""
    tcp = sock.tcp
    segment = packet.payload
    assert tcp is not None and isinstance(segment, Segment)
    flags = segment.flags
    if flags & RST:
        reset(sock)
        return
    if tcp.state == "SYN_SENT":
        if flags & SYN and not flags & ACK:
            # Simultaneous open (tcp_rcv_synsent_state_process): in practice a
            # socket connecting to its own name.  SYN_RECV, and a SYN-ACK.
            tcp.rcv_nxt = segment.seq + 1
            tcp.snd_wnd = segment.window
            tcp.state = "SYN_RECV"
            send_segment(sock, SYN | ACK, seq=0)
            return
        if flags & SYN and flags & ACK:
            # tcp_rcv_synsent_state_process: the handshake completes.
            tcp.snd_una = segment.ack
            tcp.snd_wnd = segment.window
            tcp.rcv_nxt = segment.seq + 1
            tcp.state = "ESTABLISHED"
            sock.state = "connected"
            send_segment(sock, ACK)
        return
    if tcp.state == "CLOSED":
        return
    if flags & ACK:
        if tcp.state == "SYN_RECV" and not sock.embryo:
            tcp.state = "ESTABLISHED"  # the end of a simultaneous open
            sock.state = "connected"
        elif tcp.state == "SYN_RECV":
            tcp.state = "ESTABLISHED"
            sock.state = "connected"
            listener = sock.listener
            if listener is None or listener.state != "listening" or listener.released:
                active_reset(sock)
                return
            listener.accept_queue.append(sock)
        if segment.ack >= tcp.snd_una:
            tcp.snd_una = segment.ack
            tcp.snd_wnd = segment.window
        if tcp.fin_sent and tcp.snd_una == tcp.snd_nxt:
            # Our FIN is acknowledged.
            if tcp.state == "FIN_WAIT1":
                tcp.state = "FIN_WAIT2"
                if sock.released:
                    time_wait(sock, "FIN_WAIT2")  # tcp_close: an orphan in FIN_WAIT2
                    return
            elif tcp.state == "CLOSING":
                time_wait(sock, "TIME_WAIT")
                return
            elif tcp.state == "LAST_ACK":
                done(sock)
                return
        if tcp.unsent or (tcp.fin_queued and not tcp.fin_sent):
            push(sock)
    if segment.data:
        if tcp.state in ("FIN_WAIT1", "FIN_WAIT2") and sock.shutdown & RCV_SHUTDOWN:
            # Data for a socket that will not read again: reset (tcp_rcv_state_process).
            reply_reset(tcp.host, packet)
            reset(sock)
            return
        if tcp.state in ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"):
            if flags & FIN:
                queue_data(sock, tcp, segment, ack=False)  # the FIN's ACK covers it
            else:
                queue_data(sock, tcp, segment)
    if flags & FIN:
        # tcp_fin: the state changes before the ACK leaves (delivery may re-enter)
        tcp.fin_received = True
        tcp.rcv_nxt = segment.seq + len(segment.data) + 1
        sock.shutdown |= RCV_SHUTDOWN
        if tcp.state in ("ESTABLISHED", "SYN_RECV"):
            tcp.state = "CLOSE_WAIT"
        elif tcp.state == "FIN_WAIT1":
            tcp.state = "CLOSING"
        elif tcp.state == "FIN_WAIT2":
            time_wait(sock, "TIME_WAIT")
            tw = tcp.host.tcp_connections.get(tcp.key)
            if tw is not None:
                send_segment(tw, ACK)
            return
        send_segment(sock, ACK)


def queue_data(sock: FakeSocket, tcp: TcpControl, segment: Segment, ack: bool = True) -> None:
    """In-order data joins the receive queue (``tcp_queue_rcv``) and is acknowledged."""
    data = segment.data
    creds = sock.credentials
    if creds is None:
        creds = sock.credentials = sock.ops.kernel._process_credentials
    size = len(data)
    sock.rmem += size
    sock.receive_queue.append(Skb(data, creds, b"", [], 0, None, size))  # (by position: cost=size)
    tcp.rcv_nxt = segment.seq + size
    if ack:
        send_segment(sock, ACK)


def window_update(sock: FakeSocket) -> None:
    """``tcp_cleanup_rbuf``: after a read, tell the peer when the window opened a lot."""
    tcp = sock.tcp
    if tcp is None or tcp.state not in ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"):
        return
    new_edge = tcp.rcv_nxt + receive_space(sock)
    if new_edge > tcp.rcv_edge and 2 * (tcp.rcv_edge - tcp.rcv_nxt) <= new_edge - tcp.rcv_nxt:
        send_segment(sock, ACK)
