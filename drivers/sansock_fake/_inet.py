"""AF_INET and AF_INET6 (net/ipv4/af_inet.c, net/ipv6/af_inet6.c): what TCP and
UDP share -- ``inet_create``, reading a ``sockaddr_in``/``sockaddr_in6`` for a
socket of either family, the host's addresses (loopback only) and source
address selection, and the port table (``inet_hashinfo``/``udp_table``).

The network seam: :class:`InetHost` is one host's view -- its addresses, its
:class:`PortTable` and :meth:`InetHost.route`, which says which host answers a
destination.  Today only this host's loopback exists, so a route either comes
back here or fails with ENETUNREACH; a simulated network would answer with
another host's :class:`InetHost` (behind a link), and TCP's connect/transmit
and UDP's send would go through it unchanged.

The packet seam: everything TCP and UDP put on the wire is a :class:`Packet`
(its payload a ``_tcp_state.Segment`` or a datagram's bytes) handed to
:meth:`InetHost.output`, the only way a packet leaves a host;
:meth:`InetHost.input` is the only way one arrives (it calls the input
function the protocol registered in ``handlers`` for the packet's family and
protocol).  A local destination is delivered to this host's ``input`` at
once, in the same syscall, under the kernel lock, in order (never
re-entrantly).  A host a :class:`~sansock_fake.Network` owns (``router``)
hands every other packet to the network, which carries it over a link and
calls the destination's ``input`` later in virtual time, from a timer (or
drops it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from ._addresses import InetName, build_inet, family_of, parse_inet, parse_inet6
from ._objects import RCV_SHUTDOWN, FakeSocket
from ._oserror import raise_errno
from ._protocol import ProtoOps

if TYPE_CHECKING:
    from sansock.driver import ABI

    from ._kernel import FakeKernel

__all__ = ["InetHost", "PortTable", "InetOps", "Packet", "Router", "inet_create", "EPHEMERAL_PORTS"]

#: /proc/sys/net/ipv4/ip_local_port_range.
EPHEMERAL_PORTS = range(32768, 61000)
#: include/uapi/linux/in.h IPPROTO_MAX.
IPPROTO_MAX = 263


def inet_create(abi: ABI, family: int, base: int, proto: int, uid: int) -> int:
    """``inet_create``/``inet6_create``: the protocol the socket gets, or the errno.

    ``protocol`` outside ``[0, IPPROTO_MAX)`` -> EINVAL; then the walk over
    ``inetsw[type]``: no entry for the type -> ESOCKTNOSUPPORT, entries but
    none for the protocol -> EPROTONOSUPPORT (protocol 0 takes the first).
    The fake registers TCP (SOCK_STREAM), UDP and ping (SOCK_DGRAM) and the
    wildcard raw entry (SOCK_RAW): it answers as a kernel built without
    MPTCP, UDP-Lite, SCTP or any other protocol module.  Raw sockets need
    CAP_NET_RAW (EPERM for a process whose *uid* is not 0); for root the
    fake raises ``NotImplementedError``, since it does not model raw IP.
    """
    c = abi.const
    if proto < 0 or proto >= IPPROTO_MAX:
        raise_errno(abi.errno("EINVAL"))
    tcp, udp = c("IPPROTO_TCP"), c("IPPROTO_UDP")
    ping = c("IPPROTO_ICMP") if family == c("AF_INET") else c("IPPROTO_ICMPV6")
    inetsw = {c("SOCK_STREAM"): (tcp,), c("SOCK_DGRAM"): (udp, ping), c("SOCK_RAW"): (0,)}
    registered = inetsw.get(base)
    if registered is None:
        raise_errno(abi.errno("ESOCKTNOSUPPORT"))
    if base == c("SOCK_RAW"):
        # The raw entry's protocol is IPPROTO_IP, the wildcard: any protocol matches.
        if uid != 0:
            raise_errno(abi.errno("EPERM"))  # inet_create: SOCK_RAW without CAP_NET_RAW.
        raise NotImplementedError(
            "the fake kernel does not model raw IP sockets (SOCK_RAW on AF_INET/AF_INET6)"
        )
    if proto == 0:
        proto = registered[0]
    if proto not in registered:
        raise_errno(abi.errno("EPROTONOSUPPORT"))
    if proto == ping:
        # ping sockets: ping_init_sock refuses every group outside
        # net.ipv4.ping_group_range, whose default "1 0" is empty.
        raise_errno(abi.errno("EACCES"))
    return proto


class PortTable:
    """Who is bound to which port on one host: (family, type, port) -> sockets.

    Binding is checked per port with the address overlap rule of
    ``inet_csk_bind_conflict``/``udp_lib_lport_inuse`` (same address, or
    either side the wildcard), relaxed only when both sockets set
    SO_REUSEADDR and the other is not listening.
    """

    __slots__ = ("_bound", "_ephemeral_next")

    def __init__(self) -> None:
        self._bound: dict[tuple[int, int, int], list[FakeSocket]] = {}
        self._ephemeral_next = EPHEMERAL_PORTS.start

    def users(self, family: int, type_: int, port: int) -> list[FakeSocket]:
        """The sockets of *family* and *type_* bound to *port* (a live list)."""
        return self._bound.setdefault((family, type_, port), [])

    def bound(self, family: int, type_: int, port: int) -> list[FakeSocket]:
        """The sockets bound to *port*, without making an entry."""
        return self._bound.get((family, type_, port), [])

    def ephemeral_port(self, family: int, type_: int) -> int | None:
        """``inet_csk_find_open_port``: the next free port of the local range, None when all are taken."""
        for _ in range(len(EPHEMERAL_PORTS)):
            candidate = self._ephemeral_next
            self._ephemeral_next += 1
            if self._ephemeral_next >= EPHEMERAL_PORTS.stop:
                self._ephemeral_next = EPHEMERAL_PORTS.start
            if not self.users(family, type_, candidate):
                return candidate
        return None

    def remove(self, sock: FakeSocket) -> None:
        """``inet_put_port``: *sock* leaves the table."""
        if isinstance(sock.name, InetName):
            bound = self._bound.get((sock.family, sock.type, sock.name.port), [])
            if sock in bound:
                bound.remove(sock)


@attrs.frozen
class Packet:
    """One IP packet between two hosts (or a host and itself).

    *payload* is a TCP ``_tcp_state.Segment`` (``proto`` IPPROTO_TCP) or the
    datagram's bytes (IPPROTO_UDP); *size* is the payload bytes on the wire
    (headers not counted), for a link's bandwidth.
    """

    family: int
    proto: int
    src: InetName
    dst: InetName
    payload: object
    size: int


class Router(Protocol):
    """What a host's IP layer asks of the network that owns it (``_network``)."""

    def transmit(self, host: InetHost, packet: Packet) -> None:
        """Carry *packet* from *host* to whoever has its destination address (or drop it)."""


@attrs.define(eq=False)
class InetHost:
    """One host's IP layer: its addresses, its :class:`PortTable`, its routes."""

    abi: ABI
    ports: PortTable = attrs.field(factory=PortTable)
    #: The host's name in a network (traces, messages).
    name: str = "localhost"
    #: The addresses of its network interface (eth0): (family, packed), in the
    #: order given; loopback addresses are not listed (they are always local).
    addresses: list[tuple[int, bytes]] = attrs.field(factory=list)
    #: The network that carries packets to other hosts (None: loopback only).
    router: Router | None = None
    #: (family, protocol) -> the protocol's input function (``tcp_v4_rcv``, ``udp_rcv``).
    handlers: dict[tuple[int, int], Callable[[Packet], None]] = attrs.field(factory=dict)
    #: (family, protocol) -> what the protocol does when the network gives up
    #: on a packet it sent (TCP: the connection fails with the errno, ETIMEDOUT).
    give_up: dict[tuple[int, int], Callable[[Packet, int], None]] = attrs.field(factory=dict)
    #: TCP's established hash (``inet_ehash``): (local address, local port,
    #: remote address, remote port) -> the socket (a connection, an orphan
    #: finishing its close, a TIME_WAIT).
    tcp_connections: dict[tuple[bytes, int, bytes, int], FakeSocket] = attrs.field(factory=dict)
    #: TIME_WAIT sockets by deadline (a heap of (deadline ns, order, socket)),
    #: reaped lazily against the clock, and by (family, port) for ``bind``.
    tcp_time_wait: list[tuple[int, int, FakeSocket]] = attrs.field(factory=list)
    tcp_time_wait_ports: dict[tuple[int, int], set[FakeSocket]] = attrs.field(factory=dict)
    #: Packets output while another is being delivered (``softirq`` backlog):
    #: the default output delivers them in order, never re-entrantly.
    _backlog: deque[Packet] = attrs.field(factory=deque)
    _delivering: bool = False

    def is_local(self, family: int, packed: bytes) -> bool:
        """An address of this host (the wildcard, 127.0.0.0/8, ``::``, ``::1``, its interface's)."""
        if family == self.abi.const("AF_INET"):
            if packed == b"\0\0\0\0" or packed[0] == 127:
                return True
        elif packed in (bytes(16), bytes(15) + b"\1"):
            return True
        return (family, packed) in self.addresses

    def route(self, family: int, target: InetName) -> InetHost:
        """The host that answers *target* (``ip_route_connect``): ENETUNREACH when none.

        Without a network only the loopback interface exists, so that is this
        host or nothing.  On a network every host has a default route out of
        its interface for each family it has an address of (so an address no
        host has is reachable as far as ``connect``/``sendto`` can tell: its
        packets are black-holed); this host is returned, and what leaves goes
        through :meth:`output`.
        """
        if not self.is_local(family, target.packed):
            if self.router is None or not any(fam == family for fam, _packed in self.addresses):
                raise_errno(self.abi.errno("ENETUNREACH"))
        return self

    def source_address(self, family: int, target: bytes) -> bytes:
        """The source address for *target* (``inet_select_addr``/``ipv6_dev_get_saddr``):
        the target itself when local, else the interface's first address of the family."""
        if self.is_local(family, target) and any(target):
            return target
        for fam, packed in self.addresses:
            if fam == family and not self.is_local(family, target):
                return packed
        return target

    def local_name(self, sock: FakeSocket, peer: InetName) -> InetName:
        """The local name a socket sending to *peer* has: a wildcard address
        becomes the route's source address (the port stays)."""
        assert isinstance(sock.name, InetName)
        if any(sock.name.packed):
            return sock.name
        return attrs.evolve(sock.name, packed=self.source_address(sock.family, self.loopback(peer).packed))

    def output(self, packet: Packet) -> None:
        """``ip_queue_xmit``: the packet leaves this host (the only way out).

        A local destination is delivered at once, in order (a packet output
        while another is delivered waits in the backlog).  Any other goes to
        the network (``router``); without one it is dropped (no route: the
        socket's connect or send decided that already).
        """
        if self._delivering:
            self._backlog.append(packet)  # an answer to a packet being delivered: after it
            return
        if not self.is_local(packet.family, packet.dst.packed):
            if self.router is not None:
                self.router.transmit(self, packet)
            return
        self._delivering = True
        backlog = self._backlog
        try:
            self.input(packet)
            while backlog:
                self.input(backlog.popleft())
        finally:
            self._delivering = False
            backlog.clear()

    def unreachable(self, packet: Packet, errno: int) -> None:
        """The network stopped retransmitting *packet*, sent by this host: the protocol learns *errno*."""
        handler = self.give_up.get((packet.family, packet.proto))
        if handler is not None:
            handler(packet, errno)

    def input(self, packet: Packet) -> None:
        """``ip_local_deliver``: the protocol's input function takes it (dropped when none)."""
        handler = self.handlers.get((packet.family, packet.proto))
        if handler is not None:
            handler(packet)

    @staticmethod
    def loopback(target: InetName) -> InetName:
        """A wildcard destination means the loopback address (``ip_route_connect``)."""
        if any(target.packed):
            return target
        return attrs.evolve(target, packed=b"\x7f\0\0\1" if len(target.packed) == 4 else bytes(15) + b"\1")

    @staticmethod
    def source_name(sock: FakeSocket, peer: InetName) -> InetName:
        """The local name a connected socket reports: the wildcard becomes the route's source."""
        assert isinstance(sock.name, InetName)
        if any(sock.name.packed):
            return sock.name
        return attrs.evolve(sock.name, packed=peer.packed if peer.packed and any(peer.packed) else sock.name.packed)


class InetOps(ProtoOps):
    """What TCP and UDP sockets share: addresses, bind, names, the port table."""

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        super().__init__(kernel, family, type_)
        self.host = kernel._inet
        self.ports = kernel._inet.ports
        self.AF_INET = self.c("AF_INET")
        self.any_addr = bytes(4 if family == self.AF_INET else 16)

    def parse(self, sock: FakeSocket, addr: bytes, *, for_bind: bool) -> InetName:
        """The ``sockaddr_in``/``sockaddr_in6`` *addr* as a socket of this family reads it."""
        if self.family == self.AF_INET:
            return parse_inet(self.abi, addr, for_bind=for_bind)
        if family_of(self.abi, addr) == self.AF_INET and not for_bind:
            self.fail("EAFNOSUPPORT")
        name = parse_inet6(self.abi, addr)
        if name.packed[:12] == bytes(10) + b"\xff\xff":
            raise NotImplementedError("the fake kernel does not model IPv4-mapped IPv6 addresses")
        return name

    def is_unspec(self, addr: bytes) -> bool:
        """``connect(AF_UNSPEC)``: dissolve the association."""
        return family_of(self.abi, addr) == self.c("AF_UNSPEC") and len(addr) >= 2

    def bind(self, sock: FakeSocket, addr: bytes) -> None:
        """``inet_bind``/``inet6_bind``."""
        name = self.parse(sock, addr, for_bind=True)
        if sock.name is not None:
            self.fail("EINVAL")
        if not self.host.is_local(self.family, name.packed):
            self.fail("EADDRNOTAVAIL")
        self.bind_name(sock, name)

    def bind_name(self, sock: FakeSocket, name: InetName) -> None:
        """``inet_csk_get_port`` / ``udp_lib_get_port``: EADDRINUSE unless both reuse."""
        ports = self.ports
        port = name.port
        if port == 0:
            found = ports.ephemeral_port(sock.family, sock.type)
            if found is None:
                self.fail("EADDRINUSE")
            port = found
        options = self.kernel._options
        for other in ports.users(sock.family, sock.type, port):
            assert isinstance(other.name, InetName)
            overlap = (
                other.name.packed == name.packed
                or not any(other.name.packed)
                or not any(name.packed)
            )
            both_reuse = options.reuseaddr(sock) and options.reuseaddr(other)
            if overlap and not (both_reuse and other.state != "listening"):
                self.fail("EADDRINUSE")
        sock.name = attrs.evolve(name, port=port, flowinfo=0)
        ports.users(sock.family, sock.type, port).append(sock)

    def autobind(self, sock: FakeSocket) -> None:
        """``inet_autobind``: an unbound socket gets the wildcard and an ephemeral port."""
        if sock.name is None:
            self.bind_name(sock, InetName(sock.family, self.any_addr, 0))

    def unhash(self, sock: FakeSocket) -> None:
        self.ports.remove(sock)

    def getname(self, sock: FakeSocket) -> bytes:
        if sock.name is None:
            return build_inet(self.abi, InetName(sock.family, self.any_addr, 0))
        assert isinstance(sock.name, InetName)
        return build_inet(self.abi, sock.name)

    def getpeername(self, sock: FakeSocket) -> bytes:
        if sock.state != "connected" or sock.peer_name is None:
            self.fail("ENOTCONN")
        return self.peer_address(sock)

    def peer_address(self, sock: FakeSocket) -> bytes:
        assert isinstance(sock.peer_name, InetName)
        return build_inet(self.abi, sock.peer_name)

    def shutdown(self, sock: FakeSocket, mode: int) -> None:
        """``inet_shutdown``: ENOTCONN unless connected; a listener just stops listening."""
        if sock.state in ("unconnected", "closed"):
            self.fail("ENOTCONN")
        if sock.state == "listening":
            if mode & RCV_SHUTDOWN:
                for pending in list(sock.accept_queue):
                    pending.ops.release(pending)
                sock.accept_queue.clear()
                sock.state = "closed"
            return
        sock.shutdown |= mode
        self.shutdown_connection(sock, mode)

    def shutdown_connection(self, sock: FakeSocket, mode: int) -> None:
        """What the peer learns of a shutdown (TCP: a FIN)."""
