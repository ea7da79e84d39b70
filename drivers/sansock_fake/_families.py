"""Which protocol a new socket gets: ``__sys_socket`` and ``__sock_create``
(net/socket.c) over the families the fake registers (``net_families``).

:class:`Families` holds one :class:`~sansock_fake._protocol.ProtoOps` per
(family, type) of one kernel -- AF_UNIX stream, datagram and seqpacket; TCP
and UDP over AF_INET and AF_INET6 -- plus UDP-Lite, which shares UDP's
(family, type), and checks a ``socket()`` request in
Linux's order before handing out the one it names.  A new protocol of the
fake is a ``ProtoOps`` subclass, a ``create`` check in its module, and an
entry here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._af_unix import UnixDgramOps, UnixSeqpacketOps, UnixStreamOps, unix_create
from ._inet import inet_create
from ._oserror import raise_errno
from ._protocol import ProtoOps
from ._tcp import TcpOps
from ._udp import UdpOps

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["Families"]

#: include/linux/net.h SOCK_TYPE_MASK and SOCK_MAX (SOCK_PACKET + 1);
#: include/linux/socket.h NPROTO (AF_MAX).
SOCK_TYPE_MASK = 0xF
SOCK_PACKET = 10
SOCK_MAX = 11
NPROTO = 46


class Families:
    """The protocols of one kernel, by (family, type)."""

    __slots__ = ("_kernel", "_protocols", "_by_protocol", "_created")

    def __init__(self, kernel: FakeKernel) -> None:
        self._kernel = kernel
        #: ``create``'s answers by (family, type, protocol, uid), exact ints
        #: only (a function of them and the ABI; errors are not kept).
        self._created: dict[tuple[int, int, int, int], tuple[ProtoOps, int, bool, bool]] = {}
        c = kernel.abi.const
        unix, inet, inet6 = c("AF_UNIX"), c("AF_INET"), c("AF_INET6")
        stream, dgram, seqpacket = c("SOCK_STREAM"), c("SOCK_DGRAM"), c("SOCK_SEQPACKET")
        self._protocols: dict[tuple[int, int], ProtoOps] = {
            (unix, stream): UnixStreamOps(kernel, unix, stream),
            (unix, dgram): UnixDgramOps(kernel, unix, dgram),
            (unix, seqpacket): UnixSeqpacketOps(kernel, unix, seqpacket),
            (inet, stream): TcpOps(kernel, inet, stream),
            (inet6, stream): TcpOps(kernel, inet6, stream),
            (inet, dgram): UdpOps(kernel, inet, dgram),
            (inet6, dgram): UdpOps(kernel, inet6, dgram),
        }
        #: Protocols that share a (family, type) with another: UDP-Lite.
        udplite = kernel.abi.constants.get("IPPROTO_UDPLITE")
        self._by_protocol: dict[tuple[int, int, int], ProtoOps] = {}
        if udplite is not None:
            self._by_protocol[(inet, dgram, udplite)] = UdpOps(kernel, inet, dgram, lite=True)
            self._by_protocol[(inet6, dgram, udplite)] = UdpOps(kernel, inet6, dgram, lite=True)

    def create(self, family: int, type_: int, proto: int) -> tuple[ProtoOps, int, bool, bool]:
        """``__sys_socket`` + ``__sock_create`` + the family's ``create``, in Linux's order:
        ``(protocol ops, protocol, nonblocking, cloexec)``.

        ``__sys_socket``: flags other than SOCK_NONBLOCK/SOCK_CLOEXEC -> EINVAL.
        ``__sock_create``: family outside ``[0, NPROTO)`` -> EAFNOSUPPORT, type
        outside ``[0, SOCK_MAX)`` -> EINVAL, then the family's module: a family
        the fake does not model answers EAFNOSUPPORT, as a kernel without that
        protocol module does (``net_families[family]`` is NULL), so programs
        that probe for AF_CAN, AF_PACKET, AF_NETLINK... see "not available".
        ``unix_create`` (``_af_unix``) and ``inet_create`` (``_inet``) then
        check the protocol and the type.
        """
        kernel = self._kernel
        uid = kernel.uid
        if not (type(family) is int and type(type_) is int and type(proto) is int and type(uid) is int):
            return self._create(family, type_, proto)
        key = (family, type_, proto, uid)
        known = self._created.get(key)
        if known is None:
            known = self._created[key] = self._create(family, type_, proto)
        return known

    def _create(self, family: int, type_: int, proto: int) -> tuple[ProtoOps, int, bool, bool]:
        kernel = self._kernel
        abi = kernel.abi
        c = abi.const
        # A profile without the type flags (Darwin: O_NONBLOCK through
        # ioctl/fcntl, FD_CLOEXEC through fcntl afterwards) sets no bit here.
        nonblock, cloexec = abi.constants.get("SOCK_NONBLOCK", 0), abi.constants.get("SOCK_CLOEXEC", 0)
        flags = type_ & (nonblock | cloexec)
        base = type_ & ~flags
        if type_ & ~(SOCK_TYPE_MASK | nonblock | cloexec):
            raise_errno(abi.errno("EINVAL"))
        if family < 0 or family >= NPROTO:
            raise_errno(abi.errno("EAFNOSUPPORT"))
        if base < 0 or base >= SOCK_MAX:
            raise_errno(abi.errno("EINVAL"))
        if family == c("AF_INET") and base == SOCK_PACKET:
            # __sock_create: "PF_INET/SOCK_PACKET is deprecated", it becomes
            # PF_PACKET, which the fake does not model.
            family = c("AF_PACKET")
        if family == c("AF_UNIX"):
            base, proto = unix_create(abi, base, proto)
        elif family in (c("AF_INET"), c("AF_INET6")):
            proto = inet_create(abi, family, base, proto, kernel.uid)
        else:
            raise_errno(abi.errno("EAFNOSUPPORT"))
        ops = self._by_protocol.get((family, base, proto)) or self._protocols[(family, base)]
        return ops, proto, bool(flags & nonblock), bool(flags & cloexec)
