"""Links of the simulated network: what happens to a packet between two hosts.

A :class:`Link` is the parameters of a cable (latency, jitter, bandwidth,
loss, duplication, reordering); a :class:`Wire` is one direction of it, with
its own seeded ``random.Random`` and its serialisation queue.  Each direction
draws from its own generator, seeded from the network's seed and the two
host names: what happens on one wire never depends on how much traffic
another carried, or on which thread sent first on another wire.

Datagrams (UDP, ICMP) are dropped, duplicated and reordered as the link
says.  TCP segments are never lost or reordered: a lost segment arrives
after the retransmissions it took (``TCP_RTO_MIN`` doubling each time, as
``tcp_retransmit_timer`` backs off), so loss shows up as delay, and every
segment arrives no earlier than the one sent before it on the same wire.
"""

from __future__ import annotations

import math
import random
from typing import SupportsFloat

import attrs

__all__ = ["Link", "Wire", "Fate", "TCP_RTO_MIN_NS", "TCP_TIMEOUT_INIT_NS", "real_number"]

#: include/net/tcp.h: TCP_RTO_MIN (200 ms) and TCP_TIMEOUT_INIT (1 s, the SYN's RTO).
TCP_RTO_MIN_NS = 200_000_000
TCP_TIMEOUT_INIT_NS = 1_000_000_000
#: How many times a lost TCP segment is sent again at most before the wire
#: stops drawing (a loss of 1.0 would otherwise loop): net.ipv4.tcp_retries2.
_TCP_RETRIES = 15
#: A bound on a packet's size for the bandwidth's check (its time on the wire).
_LARGEST_PACKET = 1 << 32


def real_number(name: str, value: object) -> float:
    """*value* as a float, or ``TypeError`` naming *name*: a number, not text.

    What ``float()`` takes from an object (``int``, ``Fraction``, ``Decimal``,
    anything with ``__float__`` or ``__index__``), as ``settimeout`` does --
    but not ``str`` or bytes, which ``float()`` would parse: ``"0.1"`` given
    for a latency is a mistake to report, not a number to read.
    """
    if not isinstance(value, (str, bytes, bytearray, memoryview)):
        try:
            return float(value)  # type: ignore[arg-type]
        except TypeError:
            pass
    raise TypeError(f"{name} must be a real number, not {type(value).__name__}")


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a probability between 0 and 1, not {value!r}")
    return value


def _seconds(name: str, value: float) -> float:
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} is a finite number of seconds, not negative: {value!r}")
    return value


# The converters of Link's fields (named functions: what attrs' mypy plugin reads).
def _latency(value: SupportsFloat) -> float:
    return real_number("latency", value)


def _jitter(value: SupportsFloat) -> float:
    return real_number("jitter", value)


def _bandwidth(value: SupportsFloat | None) -> float | None:
    return None if value is None else real_number("bandwidth", value)


def _loss(value: SupportsFloat) -> float:
    return real_number("loss", value)


def _duplicate(value: SupportsFloat) -> float:
    return real_number("duplicate", value)


def _reorder(value: SupportsFloat) -> float:
    return real_number("reorder", value)


@attrs.frozen
class Link:
    """A cable between two hosts (both directions alike).

    ``latency`` and ``jitter`` in seconds (each packet takes ``latency`` plus
    a uniform draw in ``[-jitter, +jitter]``, never less than 0);
    ``bandwidth`` in bytes per second (a packet of *n* bytes occupies the
    wire for *n*/``bandwidth`` seconds; None: no limit); ``loss``,
    ``duplicate``, ``reorder`` probabilities per packet.
    """

    latency: float = attrs.field(default=0.0, converter=_latency)
    jitter: float = attrs.field(default=0.0, converter=_jitter)
    bandwidth: float | None = attrs.field(default=None, converter=_bandwidth)
    loss: float = attrs.field(default=0.0, converter=_loss)
    duplicate: float = attrs.field(default=0.0, converter=_duplicate)
    reorder: float = attrs.field(default=0.0, converter=_reorder)

    def __attrs_post_init__(self) -> None:
        _seconds("latency", self.latency)
        _seconds("jitter", self.jitter)
        if self.bandwidth is not None and not (self.bandwidth > 0 and math.isfinite(self.bandwidth)):
            raise ValueError(f"bandwidth is a positive number of bytes per second, not {self.bandwidth!r}")
        for name in ("loss", "duplicate", "reorder"):
            _probability(name, getattr(self, name))
        # The wire counts nanoseconds as int(seconds * 1e9): a delay whose
        # product is no finite float would fail later, in an unrelated
        # syscall (OverflowError), so it is refused here.
        if not math.isfinite((self.latency + self.jitter) * 1_000_000_000):
            raise ValueError(f"latency + jitter is too large: {self.latency!r} + {self.jitter!r} seconds")
        if self.bandwidth is not None and not math.isfinite(_LARGEST_PACKET * 1_000_000_000 / self.bandwidth):
            raise ValueError(f"bandwidth is too small: {self.bandwidth!r} bytes per second")


@attrs.frozen
class Fate:
    """What the wire does with one packet: when each copy arrives (empty: lost)."""

    arrivals: tuple[int, ...]
    #: Why nothing arrives, or what happened on the way ("lost", "duplicated",
    #: "reordered", "retransmitted 2x"): for the trace.
    note: str = ""
    #: When the sender started putting the (last transmission of the) packet on
    #: the wire: after its turn in the bandwidth queue, after the RTOs of the
    #: retransmissions a loss cost.  A sender that crashes before then never sends it.
    left_ns: int = 0


@attrs.define(eq=False)
class Wire:
    """One direction of a link: its random draws and its serialisation queue."""

    link: Link
    rng: random.Random
    #: When the wire has finished sending what it was given (bandwidth).
    busy_until_ns: int = 0
    #: When the last TCP segment arrives: later ones never overtake it.
    last_stream_ns: int = 0

    def carry(self, now_ns: int, size: int, *, stream: bool, syn: bool = False) -> Fate:
        """The fate of a packet of *size* bytes put on the wire at *now_ns*.

        *stream*: a TCP segment (reliable and in order; *syn*: its first RTO
        is ``TCP_TIMEOUT_INIT``).  The draws are made in a fixed order, so the
        same packets give the same fates for the same seed.
        """
        link = self.link
        start = max(now_ns, self.busy_until_ns)
        if link.bandwidth is not None:
            self.busy_until_ns = start + int(size * 1_000_000_000 / link.bandwidth)
        else:
            self.busy_until_ns = start
        sent = self.busy_until_ns
        if stream:
            # tcp_retransmit_timer: each loss costs an RTO, doubled every time.
            rto = TCP_TIMEOUT_INIT_NS if syn else TCP_RTO_MIN_NS
            retries = 0
            while link.loss and retries < _TCP_RETRIES and self.rng.random() < link.loss:
                sent += rto
                rto *= 2
                retries += 1
            arrival = max(sent + self._delay(), self.last_stream_ns)
            self.last_stream_ns = arrival
            left = start + (sent - self.busy_until_ns)
            return Fate((arrival,), f"retransmitted {retries}x" if retries else "", left)
        if link.loss and self.rng.random() < link.loss:
            return Fate((), "lost", start)
        arrival = sent + self._delay()
        notes = []
        if link.reorder and self.rng.random() < link.reorder:
            # Held back by up to one more latency (and at least 1 ms): later packets overtake it.
            arrival += max(int(self.rng.uniform(0, link.latency + link.jitter) * 1e9), 1_000_000)
            notes.append("reordered")
        arrivals = [arrival]
        if link.duplicate and self.rng.random() < link.duplicate:
            # The copy is serialised right behind the original: it occupies the
            # wire as long, arrives that much later and delays what follows.
            serialisation = 0
            if link.bandwidth is not None:
                serialisation = int(size * 1_000_000_000 / link.bandwidth)
                self.busy_until_ns += serialisation
            arrivals.append(arrival + serialisation + self._delay() // 2 + 1)
            notes.append("duplicated")
        return Fate(tuple(arrivals), ", ".join(notes), start)

    def _delay(self) -> int:
        link = self.link
        seconds = link.latency
        if link.jitter:
            seconds += self.rng.uniform(-link.jitter, link.jitter)
        return max(int(seconds * 1_000_000_000), 0)
