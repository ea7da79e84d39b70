"""Typed control messages: values, their codecs per ABI, and the decoder registry.

Every layout is read from the :class:`~sansock.ABI` the caller passes (sizes,
byte order, constant values), never from the host, so a ``linux-i386``
timestamp is decoded as two 4-byte longs even on x86-64.  The layouts, each
cited where it is defined:

=====================  ==========================================================
message                data (Linux UAPI / glibc unless said otherwise)
=====================  ==========================================================
``SCM_RIGHTS``         ``int[]`` (``net/core/scm.c`` ``scm_detach_fds``)
``SCM_CREDENTIALS``    ``struct ucred { pid_t pid; uid_t uid; gid_t gid; }``:
                       three 32-bit ints (``<linux/socket.h>``, ``<bits/socket.h>``)
``SCM_TIMESTAMP``      ``struct timeval``: two ``long`` on Linux
                       (``__kernel_old_timeval``, ``<linux/time_types.h>``),
                       so 16 bytes on LP64 and 8 on i386; on Darwin
                       ``{ long tv_sec; __int32_t tv_usec; }`` padded to 16
                       (``<sys/_types/_timeval.h>``)
``SCM_TIMESTAMPNS``    ``struct timespec``: two ``long`` (``__kernel_old_timespec``)
``IP_PKTINFO``         ``struct in_pktinfo { int ipi_ifindex; struct in_addr
                       ipi_spec_dst; struct in_addr ipi_addr; }`` (``<linux/in.h>``)
``IPV6_PKTINFO``       ``struct in6_pktinfo { struct in6_addr ipi6_addr; int
                       ipi6_ifindex; }`` (``<linux/ipv6.h>``, RFC 3542)
``IP_TTL``             ``int`` (``net/ipv4/ip_sockglue.c`` ``ip_cmsg_recv_ttl``)
``IP_TOS``             one byte received (``ip_cmsg_recv_tos``); ``ip_cmsg_send``
                       takes an ``int`` or a byte
``IPV6_HOPLIMIT``      ``int`` (RFC 3542 section 6.3)
``IPV6_TCLASS``        ``int`` (RFC 3542 section 6.5)
``UDP_GRO``            ``int`` gso_size (``net/ipv4/udp.c`` ``udp_cmsg_recv``)
``UDP_SEGMENT``        ``__u16`` (``udp_cmsg_send``: ``CMSG_LEN(sizeof(__u16))``)
``IP_RECVERR``         ``struct sock_extended_err { __u32 ee_errno; __u8
                       ee_origin, ee_type, ee_code, ee_pad; __u32 ee_info,
                       ee_data; }`` (``<linux/errqueue.h>``) followed by the
                       offender ``sockaddr_in`` (``SO_EE_OFFENDER``); the
                       IPv6 form (``IPV6_RECVERR``) carries a ``sockaddr_in6``
=====================  ==========================================================

Integers inside these structs are in the ABI's byte order, except addresses
and ports, which are in network order as everywhere.

Adding a message type is one class: ``@_message(level, type, size=...,
space=...)`` above it declares its item's ``(level, type)`` by constant name,
the data size of one on an ABI and the :func:`ancillary_space` keyword that
reserves room for one, and registers it; :data:`DEFAULT_REGISTRY` and the
sizes are built from those declarations.  The class has ``encode`` and
``decode``; the messages whose data is one C ``int`` get both from ``_CInt``.
(The :data:`ControlMessage` union names the classes too: a type checker
needs them written out.)

A decoder takes ``(data, abi)`` and returns a value; it raises ``ValueError``
when the data does not have the size the layout requires (an item cut short
by truncation, for instance), and the item is then returned raw.  Items no
decoder knows are returned raw too, as the stdlib's ``(level, type, data)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, final, overload

import attrs

from . import _address
from ._abi import ABI
from ._cmsg import RawItem, cmsg_space
from ._cmsg_registry import CmsgRegistry, Decoder
from ._inet import buffer_bytes, ntop4, ntop6, pton4, pton6

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._binding import Binding
    from ._socket import SocketType

__all__ = [
    "ControlMessage",
    "Credentials",
    "CmsgRegistry",
    "DEFAULT_REGISTRY",
    "Decoder",
    "ExtendedError",
    "Fds",
    "GroSegmentSize",
    "GsoSegmentSize",
    "HopLimit",
    "Ipv6PacketInfo",
    "PacketInfo",
    "RawItem",
    "TimeToLive",
    "Timestamp",
    "TimestampNs",
    "TrafficClass",
    "TypeOfService",
    "ancillary_space",
    "decode_item",
    "encode",
]


def _int_from(data: bytes, abi: ABI, *, signed: bool = True) -> int:
    return int.from_bytes(data, abi.byteorder, signed=signed)


def _int_to(value: int, size: int, abi: ABI, *, signed: bool = True) -> bytes:
    return value.to_bytes(size, abi.byteorder, signed=signed)


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise ValueError(f"{what} needs {size} bytes of data, not {len(data)}")


def _is_darwin(abi: ABI) -> bool:
    # XNU's struct timeval has a 32-bit tv_usec (<sys/_types/_timeval.h>:
    # __darwin_suseconds_t is __int32_t); Linux's has a long.
    return abi.name.startswith("darwin")


# -- what every message declares ----------------------------------------------


@attrs.frozen
class _Kind:
    """One ``(level, type)`` a message class stands for (see :func:`_message`)."""

    level: str
    type: str
    decode: Decoder
    #: The data size of one such item on an ABI.
    data_size: Callable[[ABI], int]
    #: The :func:`ancillary_space` keyword that reserves room for one, if any.
    space: str | None


#: Every registered ``(level, type)``, in registration order.
_KINDS: list[_Kind] = []

_C = TypeVar("_C", bound=type)


def _message(
    level: str,
    type: str,
    *,
    size: Callable[[ABI], int],
    space: str | None = None,
    decoder: str = "decode",
) -> Callable[[_C], _C]:
    """Declare and register a message class: its item's ``(level, type)`` by
    constant name, the data *size* of one on an ABI, the :func:`ancillary_space`
    keyword reserving room for one received (*space*), and the classmethod
    that decodes it (*decoder*).  :data:`DEFAULT_REGISTRY` and the sizes are
    built from these declarations."""

    def register(cls: _C) -> _C:
        cls._LEVEL = level  # type: ignore[attr-defined]
        cls._TYPE = type  # type: ignore[attr-defined]
        _KINDS.append(_Kind(level, type, getattr(cls, decoder), size, space))
        return cls

    return register


def _sizeof_int(abi: ABI) -> int:
    return abi.sizeof_int


class _Message:
    """What the message classes share: the ``sendmsg`` item of their data."""

    __slots__ = ()
    #: Set by :func:`_message`.
    _LEVEL: ClassVar[str]
    _TYPE: ClassVar[str]

    def _item(self, abi: ABI, data: bytes) -> RawItem:
        """The ``sendmsg`` item with *data*, at this class's level and type."""
        return (abi.const(self._LEVEL), abi.const(self._TYPE), data)


class _CInt(_Message):
    """A message whose data is one C ``int`` in the ABI's size and byte order.

    Its one field (``value`` or ``size``) is the int; a subclass declares
    only its item (:func:`_message`) and its field.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __init__(self, value: int, /) -> None: ...

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi* (or the item as the kernel delivers it)."""
        (value,) = attrs.astuple(self, recurse=False)  # type: ignore[arg-type]
        return self._item(abi, _int_to(value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Self:
        """The ``int`` in *data*."""
        _need(data, abi.sizeof_int, cls._TYPE)
        return cls(_int_from(data, abi))


# -- the values -----------------------------------------------------------------


@_message("SOL_SOCKET", "SCM_RIGHTS", size=_sizeof_int)  # one fd; ancillary_space(fds=n) multiplies
@final
@attrs.frozen
class Fds(_Message):
    """``SOL_SOCKET``/``SCM_RIGHTS``: file descriptors (an ``int`` array).

    Decoding keeps the whole ints only (a trailing partial int, left by a
    truncated item, is ignored as CPython's ``err_closefds`` walk does).
    """


    fds: tuple[int, ...]

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        size = abi.sizeof_int
        return self._item(abi, b"".join(_int_to(fd, size, abi) for fd in self.fds))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Fds:
        """The fds in *data* (whole ints only)."""
        size = abi.sizeof_int
        count = len(data) // size
        return cls(tuple(_int_from(data[i * size : (i + 1) * size], abi) for i in range(count)))



@_message("SOL_SOCKET", "SCM_CREDENTIALS", size=lambda abi: 12, space="credentials")
@final
@attrs.frozen
class Credentials(_Message):
    """``SOL_SOCKET``/``SCM_CREDENTIALS``: ``struct ucred`` (Linux; needs ``SO_PASSCRED``)."""


    pid: int
    uid: int
    gid: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi* (the kernel checks the values)."""
        data = (
            _int_to(self.pid, 4, abi)
            + _int_to(self.uid, 4, abi, signed=False)
            + _int_to(self.gid, 4, abi, signed=False)
        )
        return self._item(abi, data)

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Credentials:
        """``struct ucred`` from *data* (12 bytes)."""
        _need(data, 12, "struct ucred")
        return cls(
            _int_from(data[0:4], abi),
            _int_from(data[4:8], abi, signed=False),
            _int_from(data[8:12], abi, signed=False),
        )



def _timeval_layout(abi: ABI) -> tuple[int, int, int]:
    """``(sizeof tv_sec, sizeof tv_usec, sizeof struct timeval)`` on *abi*."""
    long_size = abi.sizeof_long
    if _is_darwin(abi):
        return long_size, 4, 2 * long_size  # padded to the alignment of long
    return long_size, long_size, 2 * long_size


@_message("SOL_SOCKET", "SCM_TIMESTAMP", size=lambda abi: _timeval_layout(abi)[2], space="timestamp")
@final
@attrs.frozen
class Timestamp(_Message):
    """``SOL_SOCKET``/``SCM_TIMESTAMP`` (``SO_TIMESTAMP``): ``struct timeval``.

    The layout follows the ABI: two 64-bit longs on LP64 Linux, two 32-bit
    longs on linux-i386 (the ``*_OLD`` values of 32-bit ``time_t``), and
    ``{long; int32}`` padded to 16 bytes on Darwin.
    """


    seconds: int
    microseconds: int

    def encode(self, abi: ABI) -> RawItem:
        """The item as the kernel would deliver it (for tests and replay)."""
        sec_size, usec_size, total = _timeval_layout(abi)
        data = _int_to(self.seconds, sec_size, abi) + _int_to(self.microseconds, usec_size, abi)
        return self._item(abi, data.ljust(total, b"\0"))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Timestamp:
        """``struct timeval`` from *data*."""
        sec_size, usec_size, total = _timeval_layout(abi)
        _need(data, total, "struct timeval")
        return cls(
            _int_from(data[:sec_size], abi),
            _int_from(data[sec_size : sec_size + usec_size], abi),
        )


    @property
    def ns(self) -> int:
        """The timestamp in nanoseconds since the epoch."""
        return self.seconds * 1_000_000_000 + self.microseconds * 1000


@_message("SOL_SOCKET", "SCM_TIMESTAMPNS", size=lambda abi: 2 * abi.sizeof_long, space="timestamp_ns")
@final
@attrs.frozen
class TimestampNs(_Message):
    """``SOL_SOCKET``/``SCM_TIMESTAMPNS`` (``SO_TIMESTAMPNS``): ``struct timespec``.

    Two ``long`` in the ABI's size (8 bytes each on LP64, 4 on linux-i386).
    """


    seconds: int
    nanoseconds: int

    def encode(self, abi: ABI) -> RawItem:
        """The item as the kernel would deliver it (for tests and replay)."""
        size = abi.sizeof_long
        return self._item(abi, _int_to(self.seconds, size, abi) + _int_to(self.nanoseconds, size, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> TimestampNs:
        """``struct timespec`` from *data*."""
        size = abi.sizeof_long
        _need(data, 2 * size, "struct timespec")
        return cls(_int_from(data[:size], abi), _int_from(data[size:], abi))


    @property
    def ns(self) -> int:
        """The timestamp in nanoseconds since the epoch."""
        return self.seconds * 1_000_000_000 + self.nanoseconds


def _packed4(host: str) -> bytes:
    packed = pton4(host.encode("ascii"))
    if packed is None:
        raise ValueError(f"not an IPv4 address: {host!r}")
    return packed


def _packed6(host: str) -> bytes:
    packed = pton6(host.encode("ascii"))
    if packed is None:
        raise ValueError(f"not an IPv6 address: {host!r}")
    return packed


@_message("IPPROTO_IP", "IP_PKTINFO", size=lambda abi: abi.sizeof_int + 8, space="pktinfo")
@final
@attrs.frozen
class PacketInfo(_Message):
    """``IPPROTO_IP``/``IP_PKTINFO``: ``struct in_pktinfo`` (12 bytes).

    *ifindex* is the interface the packet came in on, *spec_dst* the local
    address a reply would come from, *addr* the header's destination address.
    On send, a non-zero *ifindex* or *spec_dst* selects the source.
    """


    ifindex: int
    spec_dst: str
    addr: str

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        data = _int_to(self.ifindex, abi.sizeof_int, abi) + _packed4(self.spec_dst) + _packed4(self.addr)
        return self._item(abi, data)

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> PacketInfo:
        """``struct in_pktinfo`` from *data*."""
        n = abi.sizeof_int
        _need(data, n + 8, "struct in_pktinfo")
        return cls(_int_from(data[:n], abi), ntop4(data[n : n + 4]), ntop4(data[n + 4 : n + 8]))



@_message("IPPROTO_IPV6", "IPV6_PKTINFO", size=lambda abi: 16 + abi.sizeof_int, space="ipv6_pktinfo")
@final
@attrs.frozen
class Ipv6PacketInfo(_Message):
    """``IPPROTO_IPV6``/``IPV6_PKTINFO``: ``struct in6_pktinfo`` (20 bytes)."""


    addr: str
    ifindex: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return self._item(abi, _packed6(self.addr) + _int_to(self.ifindex, abi.sizeof_int, abi, signed=False))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Ipv6PacketInfo:
        """``struct in6_pktinfo`` from *data*."""
        _need(data, 16 + abi.sizeof_int, "struct in6_pktinfo")
        return cls(ntop6(data[:16]), _int_from(data[16:], abi, signed=False))



@_message("IPPROTO_IP", "IP_TTL", size=_sizeof_int, space="ttl")
@final
@attrs.frozen
class TimeToLive(_CInt):
    """``IPPROTO_IP``/``IP_TTL`` (``IP_RECVTTL``): the packet's TTL, an ``int``.

    As a ``sendmsg`` item it sets the outgoing TTL.
    """


    value: int


@_message("IPPROTO_IP", "IP_TOS", size=lambda abi: 1, space="tos")  # ip_cmsg_recv_tos: one byte
@final
@attrs.frozen
class TypeOfService(_Message):
    """``IPPROTO_IP``/``IP_TOS`` (``IP_RECVTOS``): the TOS byte.

    Linux delivers one byte (``ip_cmsg_recv_tos``); an ``int`` is accepted
    too when decoding, as ``ip_cmsg_send`` accepts both.  Encoded as an ``int``.
    """


    value: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return self._item(abi, _int_to(self.value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> TypeOfService:
        """One byte, or an ``int``."""
        if len(data) == 1:
            return cls(data[0])
        _need(data, abi.sizeof_int, "IP_TOS")
        return cls(_int_from(data, abi))



@_message("IPPROTO_IPV6", "IPV6_HOPLIMIT", size=_sizeof_int, space="hoplimit")
@final
@attrs.frozen
class HopLimit(_CInt):
    """``IPPROTO_IPV6``/``IPV6_HOPLIMIT`` (``IPV6_RECVHOPLIMIT``): an ``int``."""


    value: int


@_message("IPPROTO_IPV6", "IPV6_TCLASS", size=_sizeof_int, space="tclass")
@final
@attrs.frozen
class TrafficClass(_CInt):
    """``IPPROTO_IPV6``/``IPV6_TCLASS`` (``IPV6_RECVTCLASS``): an ``int``."""


    value: int


@_message("SOL_UDP", "UDP_GRO", size=_sizeof_int, space="gro")
@final
@attrs.frozen
class GroSegmentSize(_CInt):
    """``SOL_UDP``/``UDP_GRO``: the segment size of a coalesced datagram (an ``int``)."""


    size: int


@_message("SOL_UDP", "UDP_SEGMENT", size=lambda abi: 2)  # udp_cmsg_send: CMSG_LEN(sizeof(__u16))
@final
@attrs.frozen
class GsoSegmentSize(_Message):
    """``SOL_UDP``/``UDP_SEGMENT``: send one buffer as datagrams of *size* bytes (``__u16``)."""


    size: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return self._item(abi, _int_to(self.size, 2, abi, signed=False))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> GsoSegmentSize:
        """The ``__u16`` in *data*."""
        _need(data, 2, "UDP_SEGMENT")
        return cls(_int_from(data, abi, signed=False))



class _NumericOnly:
    """Address services for encoding an offender: numeric hosts only."""

    def getaddrinfo(self, *args: object) -> list[Any]:
        raise ValueError("the offender address must be numeric")

    def if_nametoindex(self, name: bytes) -> int:
        raise ValueError("the offender address must be numeric")

    def if_indextoname(self, index: int) -> bytes:
        raise ValueError("the offender address must be numeric")


#: ``<linux/errqueue.h>``: the ``ee_origin`` values.
SO_EE_ORIGIN_NONE: Final = 0
SO_EE_ORIGIN_LOCAL: Final = 1
SO_EE_ORIGIN_ICMP: Final = 2
SO_EE_ORIGIN_ICMP6: Final = 3
SO_EE_ORIGIN_TXSTATUS: Final = 4

#: ``sizeof(struct sock_extended_err)``: u32, four u8, u32, u32.
_EE_SIZE = 16


def _errqueue_size(sockaddr: str) -> Callable[[ABI], int]:
    """The data size of an error-queue message: the error, then the offender."""
    return lambda abi: _EE_SIZE + abi.sockaddr.sizes[sockaddr]


@_message("IPPROTO_IPV6", "IPV6_RECVERR", size=_errqueue_size("sockaddr_in6"), space="ipv6_recverr", decoder="decode_ipv6")
@_message("IPPROTO_IP", "IP_RECVERR", size=_errqueue_size("sockaddr_in"), space="recverr", decoder="decode_ipv4")
@final
@attrs.frozen
class ExtendedError:
    """``IP_RECVERR`` / ``IPV6_RECVERR`` (read with ``MSG_ERRQUEUE``).

    ``struct sock_extended_err`` then ``SO_EE_OFFENDER``: the address of the
    node that reported the error (for ICMP, the router or host that sent it),
    decoded as ``recvfrom`` would (``(host, port)`` / ``(host, port, flowinfo,
    scope_id)``), or None when its family is ``AF_UNSPEC`` (a local error).
    *ipv6* tells which of the two messages it is.
    """

    errno: int
    origin: int
    type: int
    code: int
    info: int
    data: int
    offender: Any = None
    ipv6: bool = False

    def encode(self, abi: ABI) -> RawItem:
        """The item as the kernel delivers it (for tests and replay)."""
        head = (
            _int_to(self.errno, 4, abi, signed=False)
            + bytes([self.origin, self.type, self.code, 0])
            + _int_to(self.info, 4, abi, signed=False)
            + _int_to(self.data, 4, abi, signed=False)
        )
        family = abi.const("AF_INET6" if self.ipv6 else "AF_INET")
        size = abi.sockaddr.sizes["sockaddr_in6" if self.ipv6 else "sockaddr_in"]
        if self.offender is None:
            offender = bytes(size)
        else:
            offender = _address.encode_address(family, self.offender, abi, "ExtendedError", _NumericOnly())
        if self.ipv6:
            return (abi.const("IPPROTO_IPV6"), abi.const("IPV6_RECVERR"), head + offender)
        return (abi.const("IPPROTO_IP"), abi.const("IP_RECVERR"), head + offender)

    @classmethod
    def decode_ipv4(cls, data: bytes, abi: ABI) -> ExtendedError:
        """``IP_RECVERR``: the error and a ``sockaddr_in`` offender."""
        return cls._decode(data, abi, ipv6=False)

    @classmethod
    def decode_ipv6(cls, data: bytes, abi: ABI) -> ExtendedError:
        """``IPV6_RECVERR``: the error and a ``sockaddr_in6`` offender."""
        return cls._decode(data, abi, ipv6=True)

    @classmethod
    def _decode(cls, data: bytes, abi: ABI, *, ipv6: bool) -> ExtendedError:
        size = abi.sockaddr.sizes["sockaddr_in6" if ipv6 else "sockaddr_in"]
        _need(data, _EE_SIZE + size, "struct sock_extended_err and its offender")
        raw = data[_EE_SIZE:]
        family = _address.sockaddr_family(raw, abi)
        offender = None if family == abi.const("AF_UNSPEC") else _address.decode_address(raw, abi)
        return cls(
            errno=_int_from(data[0:4], abi, signed=False),
            origin=data[4],
            type=data[5],
            code=data[6],
            info=_int_from(data[8:12], abi, signed=False),
            data=_int_from(data[12:16], abi, signed=False),
            offender=offender,
            ipv6=ipv6,
        )


#: A control message as :data:`DEFAULT_REGISTRY` decodes it: one of the
#: values above, or the raw ``(level, type, data)`` item when no decoder
#: knows it (or its data has the wrong size).  A registry you add decoders
#: to gives whatever they return: its results are typed ``object``.
ControlMessage = (
    Fds
    | Credentials
    | Timestamp
    | TimestampNs
    | PacketInfo
    | Ipv6PacketInfo
    | TimeToLive
    | HopLimit
    | TypeOfService
    | TrafficClass
    | GroSegmentSize
    | GsoSegmentSize
    | ExtendedError
    | RawItem
)


# -- the default registry ---------------------------------------------------------

DEFAULT_REGISTRY: Final = CmsgRegistry(((kind.level, kind.type), kind.decode) for kind in _KINDS)
DEFAULT_REGISTRY._read_only = True


@overload
def decode_item(item: RawItem, abi: ABI, registry: None = None) -> ControlMessage: ...
@overload
def decode_item(item: RawItem, abi: ABI, registry: CmsgRegistry) -> object: ...
def decode_item(item: RawItem, abi: ABI, registry: CmsgRegistry | None = None) -> object:
    """One stdlib ``(level, type, data)`` item as a value (raw if unknown)."""
    level, kind, data = item
    return (registry or DEFAULT_REGISTRY).decode(level, kind, buffer_bytes(data), abi)


def encode(message: object, abi: ABI) -> RawItem:
    """The ``sendmsg`` item of *message*: a value of this module (its
    ``encode(abi)``), or a raw ``(level, type, data)`` passed through."""
    encoder = getattr(message, "encode", None)
    if callable(encoder):
        item = encoder(abi)
        assert isinstance(item, tuple)
        return item
    if isinstance(message, tuple) and len(message) == 3:
        level, kind, data = message
        return (int(level), int(kind), buffer_bytes(data))
    raise TypeError(f"cannot encode {type(message).__name__} as a control message")


# -- sizes, for CMSG_SPACE ------------------------------------------------------

#: ``ancillary_space`` keyword -> the data size of one such message.
_SPACE_SIZES: Final = {kind.space: kind.data_size for kind in _KINDS if kind.space is not None}


def _abi_of(target: ABI | Binding | SocketType) -> ABI:
    if isinstance(target, ABI):
        return target
    k = getattr(target, "_k", None)  # a socket: its constants carry its ABI
    if k is not None:
        socket_abi: ABI = k.abi
        return socket_abi
    binding_abi = getattr(target, "abi", None)  # a Binding
    if isinstance(binding_abi, ABI):
        return binding_abi
    raise TypeError(f"expected an ABI, a Binding or a socket, not {type(target).__name__}")


def ancillary_space(
    target: ABI | Binding | SocketType,
    *,
    fds: int = 0,
    credentials: bool = False,
    timestamp: bool = False,
    timestamp_ns: bool = False,
    pktinfo: bool = False,
    ipv6_pktinfo: bool = False,
    ttl: bool = False,
    hoplimit: bool = False,
    tos: bool = False,
    tclass: bool = False,
    gro: bool = False,
    recverr: bool = False,
    ipv6_recverr: bool = False,
    extra: Iterable[int] = (),
) -> int:
    """The *ancbufsize* that receives every listed item: ``CMSG_SPACE`` of each, summed.

    *target* gives the ABI (an ABI, a binding or a socket).  *extra* lists
    the data sizes of other items.  Summing ``CMSG_LEN`` instead is the
    classic bug: every item but the last needs its padding.  Each keyword
    and its size are declared by a message class (``@_message``).
    """
    abi = _abi_of(target)
    if fds < 0:
        raise ValueError("fds must not be negative")
    sizes: list[int] = []
    if fds:
        sizes.append(fds * abi.sizeof_int)  # SCM_RIGHTS: an int array
    wanted = {
        "credentials": credentials,
        "timestamp": timestamp,
        "timestamp_ns": timestamp_ns,
        "pktinfo": pktinfo,
        "ipv6_pktinfo": ipv6_pktinfo,
        "ttl": ttl,
        "hoplimit": hoplimit,
        "tos": tos,
        "tclass": tclass,
        "gro": gro,
        "recverr": recverr,
        "ipv6_recverr": ipv6_recverr,
    }
    sizes.extend(size(abi) for name, size in _SPACE_SIZES.items() if wanted[name])
    for size in extra:
        if size < 0:
            raise ValueError("extra sizes must not be negative")
        sizes.append(size)
    return sum(cmsg_space(size, abi) for size in sizes)
