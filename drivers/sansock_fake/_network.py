"""A simulated network: hosts (fake kernels) joined by links, sharing one virtual clock.

:class:`Network` owns the hosts it makes with :meth:`~sansock_fake.Network.add_host`: each
is a :class:`~sansock_fake.FakeKernel` with its own fd table, ports, host
name and loopback, whose IP layer (``_inet.InetHost``) hands every packet
for another host to the network (``Network.transmit``).  The network
puts it on the link between the two hosts (``_links``) and delivers it to
the destination's ``InetHost.input`` from a timer of the shared scheduler
at the virtual time it arrives -- or drops it.

All hosts share one lock (the scheduler's condition), one scheduler and one
clock: a thread blocked in ``recv`` on one host and a thread blocked in
``accept`` on another are both "waiting", and the clock jumps to the earliest
of their deadlines and the packets in flight.

Determinism: every random draw comes from a ``random.Random`` per direction
of a link, seeded from the network's seed and the two host names (strings,
so the seeds are the same in every process); nothing recorded depends on
dict or set order of unordered things, on ``id()`` or on real time.  A
program whose own order of operations is fixed (one thread, or an asyncio
loop) gives the same :attr:`~sansock_fake.Network.trace` for the same seed.
"""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from collections.abc import Callable

import attrs

from sansock.driver import ABI, LINUX_X86_64

from ._addresses import InetName
from ._dns import Dns
from ._faults import TRACE_LIMIT, Trace
from ._inet import InetHost, Packet
from ._kernel import FakeKernel
from ._links import TCP_RTO_MIN_NS, TCP_TIMEOUT_INIT_NS, Fate, Link, Wire, real_number as _real
from ._nettrace import NetEvent, NetTrace, describe, packet_facts, packet_text, syscall_text
from ._oserror import raise_errno
from ._scheduler import Scheduler, report_unraisable
from ._tcp_state import FIN, RST, SYN, Segment

__all__ = ["Network", "NetEvent", "NetTrace"]

#: net.ipv4.tcp_syn_retries and tcp_retries2: how often a SYN / another
#: segment is sent again into a path that drops it before the connection fails.
TCP_SYN_RETRIES = 6
TCP_RETRIES2 = 15
#: include/net/tcp.h TCP_RTO_MAX: the backoff stops doubling at 120 s.
TCP_RTO_MAX_NS = 120_000_000_000


class _HostTrace(Trace):
    """A host's syscall trace that also writes each syscall into the network's trace."""

    __slots__ = ("_network", "_host")

    def __init__(self, network: Network, host: str, limit: int | None) -> None:
        super().__init__(limit)
        self._network = network
        self._host = host

    def record(self, call: str, args: tuple[object, ...], outcome: str) -> None:
        super().record(call, args, outcome)
        network = self._network
        if network._tracing:
            network.trace.record_later(network._scheduler.now_ns, self._host, "syscall", syscall_text, (call, args, outcome))

    def record_exact(self, call: str, args: tuple[object, ...], outcome: str) -> None:
        # (The syscall fast path's entry: without this, since that path came,
        # the network's trace had only the syscalls that took the general one.)
        super().record_exact(call, args, outcome)
        network = self._network
        if network._tracing:
            network.trace.record_later(network._scheduler.now_ns, self._host, "syscall", syscall_text, (call, args, outcome))


def _pure_ack(packet: Packet) -> bool:
    """A TCP segment that only acknowledges (no data, SYN, FIN or RST): never retransmitted."""
    segment = packet.payload
    return isinstance(segment, Segment) and not segment.data and not segment.flags & (SYN | FIN | RST)


def _flag(packet: Packet, bit: int) -> bool:
    """A TCP segment's flag (SYN, RST)."""
    return isinstance(packet.payload, Segment) and bool(packet.payload.flags & bit)


class Network:
    """Hosts joined by links, one virtual clock, one seeded RNG.

    >>> from sansock_fake import Network
    >>> net = Network(seed=7)
    >>> client = net.add_host("client", "10.0.0.1")
    >>> server = net.add_host("server", "10.0.0.2", "fd00::2")
    >>> net.link("client", "server", latency=0.040)
    >>> client.gethostname(), server.gethostname()
    (b'client', b'server')
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        abi: ABI = LINUX_X86_64,
        trace_limit: int | None = TRACE_LIMIT,
        idle_grace_s: float = 0.1,
        stall_timeout_s: float = 5.0,
    ) -> None:
        if not isinstance(seed, int):
            raise TypeError(f"the seed is an int, not {type(seed).__name__}")
        # An exact int: an int subclass's __str__/__format__ cannot change the wires' seeds.
        self.seed = int.__index__(seed)
        self.abi = abi
        self._kernel_options = {"idle_grace_s": idle_grace_s, "stall_timeout_s": stall_timeout_s}
        self._trace_limit = trace_limit
        self._scheduler = Scheduler(idle_grace_s=idle_grace_s, stall_timeout_s=stall_timeout_s)
        #: Every event, timestamped, per host (see :class:`NetTrace`).
        self.trace = NetTrace(trace_limit)
        self._tracing = trace_limit != 0
        #: The names every host resolves (``net.dns.add/fail/delay``).
        self.dns = Dns()
        self.hosts: dict[str, FakeKernel] = {}
        self._owners: dict[tuple[int, bytes], str] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._wires: dict[tuple[str, str], Wire] = {}
        #: Directed (from, to) pairs whose packets are dropped; "*" matches any host.
        self._partitions: set[tuple[str, str]] = set()
        self._down: set[str] = set()
        #: Per host: how many times it crashed (a call that outlived a crash fails).
        self._crashes: dict[str, int] = {}
        #: Per host: the virtual times it crashed (what it had not sent yet is lost).
        self._crash_times: dict[str, list[int]] = {}
        #: Per host: the fds a crash closed that its program has not closed since.
        self._dead_fds: dict[str, set[int]] = {}
        #: TCP packets waiting for a path that drops them, per connection and direction.
        self._stalled: dict[tuple[str, InetName, InetName], deque[Packet]] = {}

    # -- clock and trace -------------------------------------------------------------------

    @property
    def lock(self) -> object:
        """The lock every host's syscalls hold (a ``threading.Condition``)."""
        return self._scheduler.condition

    def monotonic_ns(self) -> int:
        """The shared virtual ``CLOCK_MONOTONIC`` of every host, in ns."""
        with self._scheduler.condition:
            return self._scheduler.now_ns

    def in_flight(self) -> int:
        """How many deliveries and retransmissions are pending."""
        with self._scheduler.condition:
            return self._scheduler.pending_timers()

    def call_later(self, seconds: float, callback: Callable[[], object]) -> None:
        """Run *callback* when *seconds* of virtual time have passed (a fault on a schedule:
        ``net.call_later(2.5, net.heal)``).  It runs holding the network's lock, in
        whichever thread moved the clock; it may call the network's and hosts' methods.

        An exception it raises is not the business of that thread's syscall (an
        unrelated program's ``recv``): it is reported to :func:`sys.unraisablehook`
        (pytest turns it into a warning, an error under ``-W error``), as an
        exception in a ``__del__`` or a callback of a dying object is, and the
        clock goes on.
        """
        seconds = _real("seconds", seconds)
        if not (seconds >= 0 and seconds != float("inf")):
            raise ValueError("a delay is a finite number of seconds, not negative")

        def fire() -> None:
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 (reported, as an unraisable exception)
                report_unraisable(exc, callback, "Exception ignored in net.call_later callback")

        with self._scheduler.condition:
            self._scheduler.call_at(self._scheduler.now_ns + int(seconds * 1_000_000_000), fire)

    def _record(self, host: str, kind: str, text: str) -> None:
        self.trace.record(NetEvent(self._scheduler.now_ns, host, kind, text))

    # -- hosts -------------------------------------------------------------------------------

    def add_host(self, name: str, *addresses: str) -> FakeKernel:
        """A new host: a :class:`FakeKernel` named *name* with *addresses* (IPv4/IPv6 text).

        Its ``gethostname()`` is *name*, which every host resolves to
        *addresses* (as a DNS entry); it reaches other hosts over links.
        """
        if not isinstance(name, str) or not name or name == "*":
            raise ValueError("a host name is a non-empty str other than '*'")
        if name in self.hosts:
            raise ValueError(f"there is already a host named {name!r}")
        parsed = []
        for text in addresses:
            ip = ipaddress.ip_address(text)
            if ip.is_loopback or ip.is_unspecified or (ip.version == 6 and ip.ipv4_mapped is not None):
                raise ValueError(f"{text} cannot be a host's address (loopback, wildcard or v4-mapped)")
            family = self.abi.const("AF_INET" if ip.version == 4 else "AF_INET6")
            owner = self._owners.get((family, ip.packed))
            if owner is not None:
                raise ValueError(f"{text} is already the address of {owner!r}")
            parsed.append((family, ip.packed))
        kernel = FakeKernel(self.abi, hostname=name.encode("ascii"), trace_limit=self._trace_limit,
                            idle_grace_s=self._kernel_options["idle_grace_s"],
                            stall_timeout_s=self._kernel_options["stall_timeout_s"])
        with self._scheduler.condition:
            kernel._join_network(self, self._scheduler, _HostTrace(self, name, self._trace_limit))
            host = kernel._inet
            host.name = name
            host.addresses = parsed
            host.router = self
            kernel.resolver.dns = self._resolver_for(kernel)
            for key in parsed:
                self._owners[key] = name
            self.hosts[name] = kernel
            if addresses:
                self.dns.add(name, *addresses)
        return kernel

    def host(self, name: str) -> FakeKernel:
        """The host named *name* (``KeyError`` if none)."""
        return self.hosts[name]

    def _name_of(self, kernel: FakeKernel) -> str:
        name = kernel._inet.name
        if self.hosts.get(name) is not kernel:
            raise ValueError("that kernel is not a host of this network")
        return name

    def _resolver_for(self, kernel: FakeKernel) -> Callable[[str], list[str] | None]:
        def lookup(name: str) -> list[str] | None:
            # Called from getaddrinfo, outside any syscall: take the lock, and
            # wait in virtual time when the name is slow.
            scheduler = self._scheduler
            with scheduler.condition:
                scheduler.enter()
                delay = self.dns.delay_of(name)
                if delay:
                    host = kernel._inet.name
                    boot = self._crashes.get(host, 0)
                    deadline = scheduler.now_ns + int(delay * 1_000_000_000)
                    scheduler.wait_until(
                        lambda: scheduler.now_ns >= deadline or self._crashes.get(host, 0) != boot,
                        deadline, "getaddrinfo", -1,
                    )
                    if self._crashes.get(host, 0) != boot:
                        # The host crashed during the lookup: glibc's query socket is
                        # gone, getaddrinfo answers EAI_SYSTEM with errno EBADF, which
                        # CPython raises as OSError(EBADF) -- as every other call the
                        # crash interrupted fails (``HostMethods._power_off``).
                        self._record(host, "dns", f"{name} -> interrupted by the crash")
                        raise_errno(kernel._e("EBADF"))
                try:
                    found = self.dns.lookup(name)
                except OSError as exc:
                    self._record(kernel._inet.name, "dns", f"{name} -> {exc.args[1]}")
                    raise
                self._record(kernel._inet.name, "dns", f"{name} -> {', '.join(found) if found else 'unknown'}")
                return found

        return lookup

    # -- links and faults -----------------------------------------------------------------

    def _check_name(self, name: str) -> None:
        if name != "*" and name not in self.hosts:
            raise ValueError(f"no host named {name!r} (add it with add_host first)")

    def link(
        self,
        a: str,
        b: str,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        bandwidth: float | None = None,
        loss: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
    ) -> None:
        """Join hosts *a* and *b* (both directions); ``link("*", "*", ...)`` is the default
        for every pair without a link of its own.  Linking a pair again changes its link."""
        self._check_name(a)
        self._check_name(b)
        spec = Link(latency, jitter, bandwidth, loss, duplicate, reorder)
        with self._scheduler.condition:
            self._links[(a, b) if a <= b else (b, a)] = spec
            for key, wire in self._wires.items():
                wire.link = self._link_between(*key) or wire.link

    def _link_between(self, a: str, b: str) -> Link | None:
        for key in ((a, b) if a <= b else (b, a), (a, "*") if a <= "*" else ("*", a),
                    (b, "*") if b <= "*" else ("*", b), ("*", "*")):
            found = self._links.get(key)
            if found is not None:
                return found
        return None

    def _wire(self, a: str, b: str) -> Wire | None:
        wire = self._wires.get((a, b))
        if wire is None:
            link = self._link_between(a, b)
            if link is None:
                return None
            # A str seed is hashed with SHA-512: the same in every process.
            wire = Wire(link, random.Random(f"{self.seed}/{a}->{b}"))
            self._wires[(a, b)] = wire
        return wire

    def partition(self, a: str, b: str = "*", *, one_way: bool = False) -> None:
        """Drop everything between *a* and *b* ("*": every other host) until :meth:`heal`;
        with ``one_way=True`` only what *a* sends to *b*."""
        self._check_name(a)
        self._check_name(b)
        with self._scheduler.condition:
            self._partitions.add((a, b))
            if not one_way:
                self._partitions.add((b, a))
            self._record("*", "partition", f"{a} {'->' if one_way else '<->'} {b}")

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """End partitions: all of them; with *a* alone, every one that involves *a*
        (``partition(a)``, ``partition(a, x)``, ``partition(x, a)``); with *a* and *b*,
        those made between exactly *a* and *b* (both directions) -- a partition
        made with ``"*"`` that also separates them stays until ``heal()`` or
        ``heal`` of its named host."""
        if a is not None:
            self._check_name(a)
        if b is not None:
            self._check_name(b)
        with self._scheduler.condition:
            if a is None:
                self._partitions.clear()
            elif b is None:
                self._partitions = {key for key in self._partitions if a not in key}
            else:
                self._partitions.discard((a, b))
                self._partitions.discard((b, a))
            self._record("*", "heal", "all" if a is None else f"{a} <-> {b or '*'}")
            self._scheduler.condition.notify_all()

    def _blocked(self, src: str, dst: str, *, in_flight: bool = False) -> str | None:
        """Why nothing passes from *src* to *dst* now, or None (*in_flight*: for a
        packet already on the wire, which its sender being down does not stop)."""
        if src in self._down and not in_flight:
            return f"{src} is down"
        if dst in self._down:
            return f"{dst} is down"
        for key in ((src, dst), (src, "*"), ("*", dst), ("*", "*")):
            if key in self._partitions:
                return "partitioned"
        if self._link_between(src, dst) is None:
            return f"no link between {src} and {dst}"
        return None

    def crash(self, kernel: FakeKernel) -> None:
        """The host stops: every fd closes without a packet sent, its retransmissions die,
        and it answers nothing until :meth:`restart` (peers see timeouts)."""
        with self._scheduler.condition:
            name = self._name_of(kernel)
            self._down.add(name)
            kernel._crashed = True
            self._crashes[name] = self._crashes.get(name, 0) + 1
            self._crash_times.setdefault(name, []).append(self._scheduler.now_ns)
            self._record(name, "crash", f"its {len(kernel._fds)} open fds closed; silent until restart")
            for key in [k for k in self._stalled if k[0] == name]:
                del self._stalled[key]
            kernel._power_off()
            self._scheduler.condition.notify_all()

    def restart(self, kernel: FakeKernel) -> None:
        """The host is back, with no sockets: segments of old connections get RST."""
        with self._scheduler.condition:
            name = self._name_of(kernel)
            if name in self._down and kernel._fds:
                # Sockets its programs made while it was down (they ran on a dead
                # machine): gone too, so the host comes back empty.
                for key in [k for k in self._stalled if k[0] == name]:
                    del self._stalled[key]
                kernel._power_off()
            self._down.discard(name)
            kernel._crashed = False
            self._record(name, "restart", "no sockets")
            self._scheduler.condition.notify_all()

    # -- carrying packets -----------------------------------------------------------------

    def transmit(self, host: InetHost, packet: Packet) -> None:
        """``InetHost.output`` of a host of this network, for a packet to another host (lock held)."""
        src = host.name
        dst = self._owners.get((packet.family, packet.dst.packed))
        if self._tracing:
            self.trace.record_later(self._scheduler.now_ns, src, "send", packet_text, (packet_facts(packet), ""))
        stream = packet.proto == self.abi.const("IPPROTO_TCP")
        key = (src, packet.src, packet.dst)
        if stream and key in self._stalled:
            self._stalled[key].append(packet)  # in order, behind the segment being retried
            return
        why = f"no host has {ipaddress.ip_address(packet.dst.packed)}" if dst is None else self._blocked(src, dst)
        if why is not None:
            if stream and not _flag(packet, RST) and src not in self._down:
                self._stall(key, packet)
            else:
                self._record(src, "drop", f"{describe(packet)} ({why})")
            return
        assert dst is not None
        self._put_on_wire(src, dst, packet, stream)

    def inet_host_of(self, family: int, packed: bytes) -> InetHost | None:
        """``Router.inet_host_of``: the IP layer of the host with this address (lock held)."""
        name = self._owners.get((family, packed))
        return None if name is None else self.hosts[name]._inet

    def _put_on_wire(self, src: str, dst: str, packet: Packet, stream: bool) -> None:
        wire = self._wire(src, dst)
        assert wire is not None
        scheduler = self._scheduler
        fate = wire.carry(scheduler.now_ns, packet.size, stream=stream, syn=_flag(packet, SYN))
        if not fate.arrivals:
            self._record(src, "drop", f"{describe(packet)} ({fate.note})")
            return
        put = scheduler.now_ns
        for when in fate.arrivals:
            scheduler.call_at(when, lambda: self._deliver(src, dst, packet, stream, fate, put))

    def _deliver(self, src: str, dst: str, packet: Packet, stream: bool, fate: Fate, put_ns: int) -> None:
        note = fate.note
        # A frame already on the wire when its sender crashed still arrives (the
        # cable does not know; Linux's NIC has sent it): only the receiver being
        # down, a partition or a removed link stop it now.  One the sender had
        # not sent yet -- waiting its turn for the bandwidth, or a retransmission
        # a loss would have taken -- died with it.
        if any(put_ns <= crash < fate.left_ns for crash in self._crash_times.get(src, ())):
            self._record(dst, "drop", f"{describe(packet)} ({src} crashed before sending it)")
            return
        why = self._blocked(src, dst, in_flight=True)
        if why is not None:
            # Cut while in flight: a datagram is lost, a segment retransmitted.
            key = (src, packet.src, packet.dst)
            if stream and not _flag(packet, RST) and src not in self._down:
                if key in self._stalled:
                    self._stalled[key].appendleft(packet)
                else:
                    self._stall(key, packet)
            else:
                self._record(dst, "drop", f"{describe(packet)} ({why})")
            return
        if self._tracing:
            self.trace.record_later(self._scheduler.now_ns, dst, "deliver", packet_text, (packet_facts(packet), note))
        self.hosts[dst]._inet.input(packet)

    def _stall(self, key: tuple[str, InetName, InetName], packet: Packet) -> None:
        """A TCP segment the path drops: sent again on TCP's backoff until it passes or TCP gives up."""
        self._stalled[key] = deque([packet])
        syn = _flag(packet, SYN)
        rto = TCP_TIMEOUT_INIT_NS if syn else TCP_RTO_MIN_NS
        self._schedule_retry(key, rto, 0, TCP_SYN_RETRIES if syn else TCP_RETRIES2)

    def _still_wanted(self, host: InetHost, packet: Packet) -> bool:
        """Whether the connection that sent *packet* still exists on its host (Linux
        stops a socket's retransmission timer when the socket is closed before it
        connected, or reset; an orphan finishing its close keeps retransmitting)."""
        src, dst = packet.src, packet.dst
        return (src.packed, src.port, dst.packed, dst.port) in host.tcp_connections

    @staticmethod
    def _unacknowledged(host: InetHost, packet: Packet) -> bool:
        """Whether the connection that would send *packet* has data in flight not acknowledged."""
        src, dst = packet.src, packet.dst
        sock = host.tcp_connections.get((src.packed, src.port, dst.packed, dst.port))
        tcp = None if sock is None else sock.tcp
        return tcp is not None and tcp.snd_una < tcp.snd_nxt

    def _schedule_retry(self, key: tuple[str, InetName, InetName], rto: int, attempt: int, limit: int) -> None:
        def retry() -> None:
            queue = self._stalled.get(key)
            if queue is None:
                return  # the host crashed
            src, head = key[0], queue[0]
            if not self._still_wanted(self.hosts[src]._inet, head):
                del self._stalled[key]
                self._record(src, "drop", f"{describe(head)} (not sent again: its socket is gone)")
                return
            dst = self._owners.get((head.family, head.dst.packed))
            why = "no such host" if dst is None else self._blocked(src, dst)
            if why is None:
                assert dst is not None
                del self._stalled[key]
                self._record(src, "send", f"{describe(head)} (retransmitted after {attempt + 1} timeouts)")
                for packet in queue:
                    self._put_on_wire(src, dst, packet, True)
                return
            if attempt >= limit:
                del self._stalled[key]
                self._record(src, "drop", f"{describe(head)} (gave up after {attempt + 1} timeouts: {why})")
                if _pure_ack(head):
                    # Linux never retransmits a pure ACK: the stall stood for the
                    # peer retransmitting the data this ACK acknowledges, so the
                    # peer gives up (tcp_write_timeout) ...
                    if dst is not None and dst not in self._down:
                        peer = self.hosts[dst]._inet
                        back = attrs.evolve(head, src=head.dst, dst=head.src)
                        if self._unacknowledged(peer, back):
                            peer.unreachable(back, self.abi.errno("ETIMEDOUT"))
                # ... and this host only if it has more than ACKs waiting behind.
                owed = [packet for packet in queue if not _pure_ack(packet)]
                if owed:
                    self.hosts[src]._inet.unreachable(owed[0], self.abi.errno("ETIMEDOUT"))
                return
            self._schedule_retry(key, min(rto * 2, TCP_RTO_MAX_NS), attempt + 1, limit)

        self._scheduler.call_at(self._scheduler.now_ns + rto, retry)
