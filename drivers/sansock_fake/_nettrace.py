"""A simulated network's trace (``Network.trace``): its events, their text made when read.

The network records a syscall or a packet it sends or delivers as what its
text is made from -- the syscall's traced arguments and outcome (exact
values: ``_syscall``'s trace entries), the packet's protocol, names, size
and TCP header (a packet never changes once made, nor its names or segment)
-- and formats it when the trace is read.  Formatting every event as it
happened (``ipaddress`` for each name, the segment's ``repr``, a frozen
``NetEvent`` per event) was a third of a traced workload's CPU time; a
trace is mostly never read, or read once at the end of a test.  The text
read is the text formatted then (``tests/test_fake_threadcheck.py``), and
no packet's data is kept for it.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast, overload

import attrs

from ._addresses import InetName
from ._faults import TRACE_LIMIT
from ._inet import Packet
from ._tcp_output import Segment

__all__ = ["NetEvent", "NetTrace", "describe", "packet_facts", "packet_text", "syscall_text"]


@attrs.frozen
class NetEvent:
    """One thing that happened on the network: a syscall on a host, a packet, a lookup."""

    #: Virtual CLOCK_MONOTONIC in ns.
    time_ns: int
    host: str
    #: "syscall", "send", "deliver", "drop", "dns", "crash", "restart", "partition", "heal".
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.time_ns / 1e9:.9f} {self.host} {self.kind} {self.text}"


#: A recorded event: (time_ns, host, kind, text_of, subject) -- its text is
#: ``text_of(subject)``, or *subject* is the NetEvent itself (text_of None).
_Entry = tuple[int, str, str, "Callable[[Any], str] | None", object]


class NetTrace(Sequence[NetEvent]):
    """The network's events, oldest first (the last *limit* of them)."""

    __slots__ = ("_events", "total")

    def __init__(self, limit: int | None = TRACE_LIMIT) -> None:
        self._events: deque[_Entry] = deque(maxlen=limit)
        self.total = 0

    def record(self, event: NetEvent) -> None:
        self._events.append((event.time_ns, event.host, event.kind, None, event))
        self.total += 1

    def record_later(self, time_ns: int, host: str, kind: str, text_of: Callable[[Any], str], subject: object) -> None:
        """An event whose text is ``text_of(subject)``, made when it is read
        (*subject* must not change: exact values, frozen names, tuples of them)."""
        self._events.append((time_ns, host, kind, text_of, subject))
        self.total += 1

    @staticmethod
    def _event(entry: _Entry) -> NetEvent:
        time_ns, host, kind, text_of, subject = entry
        if text_of is None:
            return cast(NetEvent, subject)
        return NetEvent(time_ns, host, kind, text_of(subject))

    def of(self, host: str) -> list[NetEvent]:
        """The events of one host."""
        return [self._event(e) for e in list(self._events) if e[1] == host]

    def packets(self) -> list[NetEvent]:
        """The packet events (send, deliver, drop), without the syscalls."""
        return [self._event(e) for e in list(self._events) if e[2] in ("send", "deliver", "drop")]

    def clear(self) -> None:
        self._events.clear()
        self.total = 0

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> NetEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[NetEvent]: ...

    def __getitem__(self, index: int | slice) -> NetEvent | list[NetEvent]:
        if isinstance(index, slice):
            return [self._event(e) for e in list(self._events)[index]]
        return self._event(self._events[index])

    def __iter__(self) -> Iterator[NetEvent]:
        return iter([self._event(e) for e in list(self._events)])

    def __repr__(self) -> str:
        return f"<NetTrace: {len(self)} of {self.total} events>"


#: What a packet's text is made of: proto, source, destination, size, and the
#: TCP header (flags, seq, ack, window, data length), None for a datagram, or
#: the text of another payload.
PacketFacts = tuple[int, InetName, InetName, int, "tuple[int, int, int, int, int] | str | None"]


def packet_facts(packet: Packet) -> PacketFacts:
    """What :func:`describe` needs of *packet*, without its data."""
    payload = packet.payload
    if type(payload) is Segment:
        header: tuple[int, int, int, int, int] | str | None = (
            payload.flags, payload.seq, payload.ack, payload.window, len(payload.data))
    elif isinstance(payload, bytes):
        header = None
    else:
        header = repr(payload)
    return (packet.proto, packet.src, packet.dst, packet.size, header)


def _name(n: InetName) -> str:
    text = str(ipaddress.ip_address(n.packed))
    return f"[{text}]:{n.port}" if len(n.packed) == 16 else f"{text}:{n.port}"


def _facts_text(facts: PacketFacts) -> str:
    proto_number, src, dst, size, header = facts
    proto = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}.get(proto_number, str(proto_number))
    if header is None:
        payload = f"{size} bytes"
    elif isinstance(header, str):
        payload = header
    else:
        flags, seq, ack, window, length = header
        payload = repr(Segment(flags, seq, ack, window, bytes(length)))
    return f"{proto} {_name(src)} > {_name(dst)} {payload}"


def describe(packet: Packet) -> str:
    """A packet as the trace shows it: ``tcp 10.0.0.1:32768 > 10.0.0.2:80 <SYN seq=0 ...>``."""
    return _facts_text(packet_facts(packet))


def packet_text(subject: tuple[PacketFacts, str]) -> str:
    """A send or deliver event's text: the packet and its note (``retransmitted 1x``)."""
    facts, note = subject
    return _facts_text(facts) + (f" ({note})" if note else "")


def syscall_text(subject: tuple[str, tuple[object, ...], str]) -> str:
    """A syscall event's text: ``send(3, b'x', 0) -> ok 1``."""
    call, args, outcome = subject
    return f"{call}{args!r} -> {outcome}"
