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

__all__ = [
    "InetHost", "PortTable", "InetOps", "Packet", "Router", "inet_create", "EPHEMERAL_PORTS",
    "SOCK_BINDADDR_LOCK", "SOCK_BINDPORT_LOCK",
]

#: /proc/sys/net/ipv4/ip_local_port_range.
EPHEMERAL_PORTS = range(32768, 61000)
#: include/uapi/linux/in.h IPPROTO_MAX.
IPPROTO_MAX = 263
#: include/net/sock.h ``sk_userlocks`` bits: what an explicit bind fixed.
SOCK_BINDADDR_LOCK = 4
SOCK_BINDPORT_LOCK = 8
#: /proc/sys/net/ipv4/ip_unprivileged_port_start.
UNPRIVILEGED_PORT_START = 1024
#: INADDR_LOOPBACK and in6addr_loopback.
LOOPBACK4 = b"\x7f\0\0\1"
LOOPBACK6 = bytes(15) + b"\1"


def inet_create(abi: ABI, family: int, base: int, proto: int, uid: int) -> int:
    """``inet_create``/``inet6_create``: the protocol the socket gets, or the errno.

    ``protocol`` outside ``[0, IPPROTO_MAX)`` -> EINVAL; then the walk over
    ``inetsw[type]``: no entry for the type -> ESOCKTNOSUPPORT, entries but
    none for the protocol -> EPROTONOSUPPORT (protocol 0 takes the first).
    The fake registers TCP (SOCK_STREAM), UDP, ping and UDP-Lite (SOCK_DGRAM)
    and the wildcard raw entry (SOCK_RAW): it answers as a kernel built
    without MPTCP, SCTP or any other protocol module.  Raw sockets need
    CAP_NET_RAW (EPERM for a process whose *uid* is not 0); for root the
    fake raises ``NotImplementedError``, since it does not model raw IP.
    """
    c = abi.const
    if proto < 0 or proto >= IPPROTO_MAX:
        raise_errno(abi.errno("EINVAL"))
    tcp, udp = c("IPPROTO_TCP"), c("IPPROTO_UDP")
    ping = c("IPPROTO_ICMP") if family == c("AF_INET") else c("IPPROTO_ICMPV6")
    # UDP-Lite is Linux's (a platform without the constant has no such protocol).
    udplite = abi.constants.get("IPPROTO_UDPLITE")
    dgram = (udp, ping) if udplite is None else (udp, ping, udplite)
    inetsw = {c("SOCK_STREAM"): (tcp,), c("SOCK_DGRAM"): dgram, c("SOCK_RAW"): (0,)}
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

    The lists are per family (what a lookup for delivery walks), but a bind
    is checked against both families' sockets of the type on the port, as
    Linux keeps one ``inet_bind_bucket``/``udp_hslot`` per port for IPv4 and
    IPv6 (see :meth:`InetOps.bind_conflict`).
    """

    __slots__ = ("_bound", "_ephemeral_next", "_families")

    def __init__(self) -> None:
        self._bound: dict[tuple[int, int, int], list[FakeSocket]] = {}
        self._ephemeral_next = EPHEMERAL_PORTS.start
        #: The families that ever had a user, in order.
        self._families: tuple[int, ...] = ()

    def users(self, family: int, type_: int, port: int) -> list[FakeSocket]:
        """The sockets of *family* and *type_* bound to *port* (a live list)."""
        if family not in self._families:
            self._families = tuple(sorted((*self._families, family)))
        return self._bound.setdefault((family, type_, port), [])

    def bound(self, family: int, type_: int, port: int) -> list[FakeSocket]:
        """The sockets bound to *port*, without making an entry."""
        return self._bound.get((family, type_, port), [])

    def sharing(self, type_: int, port: int) -> list[FakeSocket]:
        """The sockets of *type_* bound to *port* in every family (one bind bucket)."""
        bound = self._bound
        return [other for family in self._families for other in bound.get((family, type_, port), ())]

    def ephemeral_port(self, family: int, type_: int) -> int | None:
        """``inet_csk_find_open_port``: the next port of the local range no socket of
        *type_* holds in either family; None when all are taken."""
        for _ in range(len(EPHEMERAL_PORTS)):
            candidate = self._ephemeral_next
            self._ephemeral_next += 1
            if self._ephemeral_next >= EPHEMERAL_PORTS.stop:
                self._ephemeral_next = EPHEMERAL_PORTS.start
            if not self.sharing(type_, candidate):
                return candidate
        return None

    def ephemeral_port_free(self, type_: int) -> bool:
        """Whether :meth:`ephemeral_port` would find a port (it does not move on)."""
        start = self._ephemeral_next
        try:
            return self.ephemeral_port(0, type_) is not None
        finally:
            self._ephemeral_next = start

    def remove(self, sock: FakeSocket) -> None:
        """``inet_put_port``: *sock* leaves the table."""
        if isinstance(sock.name, InetName):
            key = (sock.family, sock.type, sock.name.port)
            bound = self._bound.get(key, [])
            if sock in bound:
                bound.remove(sock)
                if not bound:
                    del self._bound[key]  # (an empty entry per port ever used stayed: ~150 B each)


@attrs.define(unsafe_hash=True)
class Packet:
    """One IP packet between two hosts (or a host and itself).

    *payload* is a TCP ``_tcp_state.Segment`` (``proto`` IPPROTO_TCP) or the
    datagram's bytes (IPPROTO_UDP, IPPROTO_UDPLITE; for ICMP, the protocol
    number of the datagram it answers, one byte); *size* is the payload bytes
    on the wire (headers not counted), for a link's bandwidth.  *cscov* is a
    UDP-Lite datagram's checksum coverage (0: all of it); *hoplimit* and
    *tclass* what UDP's ``recvmsg`` reports (``_ip_ctl``).

    Compared and hashed by value, and never changed once made (not
    ``frozen``: a frozen class's ``__init__`` sets each field through
    ``object.__setattr__``, and one is made per segment, on the hot path of
    every TCP send).
    """

    family: int
    proto: int
    src: InetName
    dst: InetName
    payload: object
    size: int
    cscov: int = 0
    #: The IP header's hop limit (IPv4: TTL) and traffic class (IPv4: TOS).
    hoplimit: int = 64
    tclass: int = 0


class Router(Protocol):
    """What a host's IP layer asks of the network that owns it (``_network``)."""

    def transmit(self, host: InetHost, packet: Packet) -> None:
        """Carry *packet* from *host* to whoever has its destination address (or drop it)."""

    def inet_host_of(self, family: int, packed: bytes) -> InetHost | None:
        """The IP layer of the host that has this address (None: no host has it)."""


@attrs.define(eq=False)
class InetHost:
    """One host's IP layer: its addresses, its :class:`PortTable`, its routes."""

    abi: ABI
    ports: PortTable = attrs.field(factory=PortTable)
    #: UDP-Lite has its own table (``udplite_table``): its ports are not UDP's.
    udplite_ports: PortTable = attrs.field(factory=PortTable)

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
    #: How many entries the heap kept at its last clean-up (``schedule_time_wait``).
    tcp_time_wait_kept: int = 0
    #: Packets output while another is being delivered (``softirq`` backlog):
    #: the default output delivers them in order, never re-entrantly.
    _backlog: deque[Packet] = attrs.field(factory=deque)
    _delivering: bool = False
    #: AF_INET in the ABI (``is_local`` runs for every packet).
    af_inet: int = attrs.field(init=False, repr=False)
    #: AF_INET6 and SOCK_STREAM in the ABI (a listener's lookup, once per SYN).
    af_inet6: int = attrs.field(init=False, repr=False)
    sock_stream: int = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        const = self.abi.const
        self.af_inet = const("AF_INET")
        self.af_inet6 = const("AF_INET6")
        self.sock_stream = const("SOCK_STREAM")

    def is_local(self, family: int, packed: bytes) -> bool:
        """An address of this host (the wildcard, 127.0.0.0/8, ``::``, ``::1``, its interface's)."""
        if family == self.af_inet:
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
        """The source address for *target* (``inet_select_addr``/``ipv6_dev_get_saddr``).

        A local target takes the loopback route's preferred source: every
        loopback route (``local 127.0.0.0/8 dev lo src 127.0.0.1``) has
        127.0.0.1, so a connection to 127.0.0.2 (or to the wildcard) comes
        from 127.0.0.1; IPv6 has only ``::1``; an interface address is its own
        source.  Any other target leaves by the interface: its first address
        of the family.
        """
        if self.is_local(family, target):
            return self.preferred_source(target)
        for fam, packed in self.addresses:
            if fam == family:
                return packed
        return target

    def local_name(self, sock: FakeSocket, peer: InetName) -> InetName:
        """The local name a socket sending to *peer* reports: a socket bound to
        an address keeps it; a wildcard one takes the route's source address
        (the port stays)."""
        assert isinstance(sock.name, InetName)
        if any(sock.name.packed):
            return sock.name
        name = sock.name
        return InetName(name.family, self.source_address(sock.family, peer.packed), name.port, name.flowinfo,
                        name.scope_id)

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
        dst = packet.dst.packed
        if not (dst[0] == 127 and packet.family == self.af_inet) and not self.is_local(packet.family, dst):
            if self.router is not None:
                self.router.transmit(self, packet)
            return
        self._delivering = True
        backlog = self._backlog
        handlers = self.handlers
        try:
            # self.input(packet), then the backlog's (inlined: once per segment).
            handler = handlers.get((packet.family, packet.proto))
            if handler is not None:
                handler(packet)
            while backlog:
                packet = backlog.popleft()
                handler = handlers.get((packet.family, packet.proto))
                if handler is not None:
                    handler(packet)
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
        return attrs.evolve(target, packed=LOOPBACK4 if len(target.packed) == 4 else LOOPBACK6)

    @staticmethod
    def preferred_source(destination: bytes) -> bytes:
        """The source address the route to the local *destination* prefers."""
        if len(destination) == 4 and (destination[0] == 127 or not any(destination)):
            return LOOPBACK4
        if len(destination) == 16 and destination in (bytes(16), LOOPBACK6):
            return LOOPBACK6
        return destination


class InetOps(ProtoOps):
    """What TCP and UDP sockets share: addresses, bind, names, the port table."""

    def __init__(self, kernel: FakeKernel, family: int, type_: int) -> None:
        super().__init__(kernel, family, type_)
        self.host = kernel._inet
        self.ports = kernel._inet.ports
        self.AF_INET = self.c("AF_INET")
        self.any_addr = bytes(4 if family == self.AF_INET else 16)
        self.REUSEPORT = (self.c("SOL_SOCKET"), self.c("SO_REUSEPORT"))
        self.V6ONLY = (self.c("IPPROTO_IPV6"), self.c("IPV6_V6ONLY"))
        self.AF_UNSPEC = self.c("AF_UNSPEC")
        #: The wildcard name with no port (a frozen value: one serves every socket).
        self.any_name = InetName(family, self.any_addr, 0)
        self._built: dict[InetName, bytes] = {}
        self._parsed: dict[tuple[bytes, bool], InetName] = {}

    def parse(self, sock: FakeSocket, addr: bytes, *, for_bind: bool) -> InetName:
        """The ``sockaddr_in``/``sockaddr_in6`` *addr* as a socket of this family reads it.

        A name read from an exact ``bytes`` is remembered (bounded): it is a
        frozen value that depends on the bytes, *for_bind* and the ABI only
        (errors are raised every time).
        """
        if type(addr) is not bytes:
            return self._parse(addr, for_bind)
        key = (addr, for_bind)
        name = self._parsed.get(key)
        if name is None:
            name = self._parse(addr, for_bind)
            if len(self._parsed) >= 1024:
                self._parsed.clear()
            self._parsed[key] = name
        return name

    def _parse(self, addr: bytes, for_bind: bool) -> InetName:
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
        return family_of(self.abi, addr) == self.AF_UNSPEC and len(addr) >= 2

    def bind(self, sock: FakeSocket, addr: bytes) -> None:
        """``inet_bind``/``inet6_bind``: EADDRNOTAVAIL (not a local address) and
        EACCES (a privileged port) come before EINVAL (bound already); IPv6
        checks the port before the address (``__inet6_bind``)."""
        name = self.parse(sock, addr, for_bind=True)
        # inet_port_requires_bind_service: below ip_unprivileged_port_start
        # a port needs CAP_NET_BIND_SERVICE (the fake's root has it).
        privileged = 0 < name.port < UNPRIVILEGED_PORT_START and self.kernel.uid != 0
        if privileged and self.family != self.AF_INET:
            self.fail("EACCES")
        if not self.host.is_local(self.family, name.packed):
            self.fail("EADDRNOTAVAIL")
        if privileged:
            self.fail("EACCES")
        if isinstance(sock.name, InetName) and sock.name.port:
            self.fail("EINVAL")  # __inet_bind: inet_num set already
        self.bind_name(sock, name)
        if any(name.packed):
            sock.userlocks |= SOCK_BINDADDR_LOCK
        if name.port:
            sock.userlocks |= SOCK_BINDPORT_LOCK
        if self.family != self.AF_INET and any(name.packed):
            # __inet6_bind: a socket bound to a (non-mapped) IPv6 address can
            # only ever speak IPv6, and says so in IPV6_V6ONLY.
            sock.options[self.V6ONLY] = 1

    def bind_name(self, sock: FakeSocket, name: InetName) -> None:
        """``inet_csk_get_port`` / ``udp_lib_get_port``: EADDRINUSE on a conflict."""
        ports = self.ports
        port = name.port
        if port == 0:
            found = ports.ephemeral_port(sock.family, sock.type)
            if found is None:
                self.fail("EADDRINUSE")
            port = found
        if any(self.bind_conflict(sock, name.packed, other) for other in ports.sharing(sock.type, port)):
            self.fail("EADDRINUSE")
        sock.name = InetName(name.family, name.packed, port, 0, name.scope_id)
        ports.users(sock.family, sock.type, port).append(sock)

    def check_listen_port(self, sock: FakeSocket) -> None:
        """``inet_csk_listen_start``: the port is checked again, *sock* now listening
        (another socket that shared it through SO_REUSEADDR and listens first wins)."""
        assert isinstance(sock.name, InetName)
        for other in self.ports.sharing(sock.type, sock.name.port):
            if self.bind_conflict(sock, sock.name.packed, other):
                self.fail("EADDRINUSE")

    def addresses(self, sock: FakeSocket, packed: bytes) -> tuple[bytes | None, bytes | None]:
        """The (IPv4, IPv6) addresses a socket bound to *packed* receives on.

        An AF_INET6 socket bound to ``::`` without IPV6_V6ONLY also holds the
        IPv4 wildcard (``ipv6_rcv_saddr_equal``: the "any" address with
        ``!ipv6only`` matches a mapped one); bound to another IPv6 address it
        is IPv6-only (``__inet6_bind`` sets ``sk_ipv6only``).
        """
        if sock.family == self.AF_INET:
            return packed, None
        if not any(packed) and not self.kernel._options.v6only(sock):
            return bytes(4), packed
        return None, packed

    def bind_conflict(self, sock: FakeSocket, packed: bytes, other: FakeSocket) -> bool:
        """Whether *other* keeps *sock* from binding *packed* on its port.

        The addresses overlap (``inet_rcv_saddr_equal`` with wildcards: the
        same address, or either side the wildcard, IPv4 and IPv6 apart, see
        :meth:`addresses`), and the sockets do not share the port:

        * TCP (``inet_bind_conflict``, relaxed as ``bind`` and ``listen`` call
          it): both SO_REUSEADDR and *other* not listening, or both
          SO_REUSEPORT (same owner: the fake has one uid);
        * UDP (``udp_lib_lport_inuse``): both SO_REUSEADDR, or both SO_REUSEPORT.
        """
        if other is sock or not isinstance(other.name, InetName):
            return False
        mine = self.addresses(sock, packed)
        theirs = self.addresses(other, other.name.packed)
        if not any(
            a is not None and b is not None and (a == b or not any(a) or not any(b))
            for a, b in zip(mine, theirs)
        ):
            return False
        options = self.kernel._options
        if options.reuseaddr(sock) and options.reuseaddr(other) and (
            not self.connection or other.state != "listening"
        ):
            return False
        return not (self.reuseport(sock) and self.reuseport(other))

    def reuseport(self, sock: FakeSocket) -> bool:
        """SO_REUSEPORT (``sk_reuseport``)."""
        return bool(sock.options.get(self.REUSEPORT))

    def autobind(self, sock: FakeSocket, busy: str = "EAGAIN") -> None:
        """``inet_autobind``: a socket without a port gets an ephemeral one (and the
        wildcard address, unless it kept one: see ``UdpOps.disconnect_udp``).

        No ephemeral port left: *busy* -- ``inet_autobind``'s EAGAIN (a datagram
        send or connect), ``__inet_hash_connect``'s EADDRNOTAVAIL (TCP connect),
        ``inet_csk_listen_start``'s EADDRINUSE (listen).
        """
        if sock.name is None:
            name = self.any_name
        elif isinstance(sock.name, InetName) and sock.name.port == 0:
            name = sock.name
        else:
            return
        if self.ports.ephemeral_port_free(sock.type):
            self.bind_name(sock, name)
        else:
            self.fail(busy)

    def unhash(self, sock: FakeSocket) -> None:
        self.ports.remove(sock)

    def getname(self, sock: FakeSocket) -> bytes:
        if sock.name is None:
            return self.built(self.any_name)
        assert isinstance(sock.name, InetName)
        return self.built(sock.name)

    def built(self, name: InetName) -> bytes:
        """``build_inet(abi, name)``, remembered (bounded): a name is a frozen value."""
        raw = self._built.get(name)
        if raw is None:
            if len(self._built) >= 1024:
                self._built.clear()
            raw = self._built[name] = build_inet(self.abi, name)
        return raw

    def getpeername(self, sock: FakeSocket) -> bytes:
        # inet_getname / inet6_getname: ENOTCONN also when the peer's port is
        # 0 (!inet->inet_dport: a UDP connect to port 0 succeeds, names no peer).
        peer = sock.peer_name
        if sock.state != "connected" or peer is None or (isinstance(peer, InetName) and peer.port == 0):
            self.fail("ENOTCONN")
        return self.peer_address(sock)

    def peer_address(self, sock: FakeSocket) -> bytes:
        assert isinstance(sock.peer_name, InetName)
        return self.built(sock.peer_name)

    def shutdown(self, sock: FakeSocket, mode: int) -> None:
        """``inet_shutdown``: ENOTCONN unless connected; a listener just stops listening.

        On a socket in TCP_CLOSE (unconnected UDP, an unconnected or closed TCP
        socket) the shutdown still takes effect before the ENOTCONN ("Hack to
        wake up other listeners, who can poll for EPOLLHUP, even on eg.
        unconnected UDP sockets"): poll reports it, a blocked reader wakes.
        """
        if sock.state in ("unconnected", "closed"):
            sock.shutdown |= mode
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
