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

Adding a message type is one class: it declares its ``(level, type)`` by
constant name, its data size on an ABI and the :func:`ancillary_space`
keyword that reserves room for one (``_LEVEL``, ``_TYPE``, ``_data_size``,
``_SPACE``), has ``encode``/``decode``, and registers itself with
``@_registered``; :data:`DEFAULT_REGISTRY` and the sizes are built from the
registered classes.  The messages whose data is one C ``int`` share
``_CInt``.  (The :data:`ControlMessage` union lists the classes too: a type
checker needs the names written out.)

A decoder takes ``(data, abi)`` and returns a value; it raises ``ValueError``
when the data does not have the size the layout requires (an item cut short
by truncation, for instance), and the item is then returned raw.  Items no
decoder knows are returned raw too, as the stdlib's ``(level, type, data)``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, final, overload

import attrs

from . import _address
from ._abi import ABI, derived
from ._cmsg import RawItem, cmsg_space
from ._inet import ntop4, ntop6, pton4, pton6

if TYPE_CHECKING:
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

#: A decoder: ``(data, abi) -> value``; ``ValueError`` for a wrong size.
Decoder = Callable[[bytes, "ABI"], object]

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
    """One ``(level, type)`` a message class stands for."""

    level: str
    type: str
    decode: Decoder
    #: The data size of one such item on an ABI.
    data_size: Callable[[ABI], int]
    #: The :func:`ancillary_space` keyword that reserves room for one, if any.
    space: str | None


class _Message:
    """The declarations of a typed control message (see the module docstring)."""

    __slots__ = ()
    #: The item's ``(cmsg_level, cmsg_type)``, by constant name.
    _LEVEL: ClassVar[str]
    _TYPE: ClassVar[str]
    #: The :func:`ancillary_space` keyword reserving room for one received.
    _SPACE: ClassVar[str | None] = None

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        """The size of the item's data on *abi*."""
        raise NotImplementedError

    @classmethod
    def _kinds(cls) -> list[_Kind]:
        """The items this class decodes (one, with its ``decode``, unless it overrides this)."""
        decode: Decoder = getattr(cls, "decode")  # noqa: B009 -- declared by each class, typed there
        return [_Kind(cls._LEVEL, cls._TYPE, decode, cls._data_size, cls._SPACE)]

    def _item(self, abi: ABI, data: bytes) -> RawItem:
        """The ``sendmsg`` item with *data*, at this class's level and type."""
        return (abi.const(self._LEVEL), abi.const(self._TYPE), data)


#: Every message class, in the order they register (the registry's order).
_MESSAGE_TYPES: list[type[_Message]] = []

_M = TypeVar("_M", bound=type[_Message])


def _registered(cls: _M) -> _M:
    """Register a message class: its decoders and sizes come from its declarations."""
    _MESSAGE_TYPES.append(cls)
    return cls


_CI = TypeVar("_CI", bound="_CInt")


class _CInt(_Message):
    """A message whose data is one C ``int`` in the ABI's size and byte order.

    Its one field (``value`` or ``size``) is the int; a subclass declares
    only its level, type, space keyword and field.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __init__(self, value: int, /) -> None: ...

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi* (or the item as the kernel delivers it)."""
        (value,) = attrs.astuple(self, recurse=False)  # type: ignore[arg-type]
        return self._item(abi, _int_to(value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls: type[_CI], data: bytes, abi: ABI) -> _CI:
        """The ``int`` in *data*."""
        _need(data, abi.sizeof_int, cls._TYPE)
        return cls(_int_from(data, abi))

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return abi.sizeof_int


# -- the values -----------------------------------------------------------------


@_registered
@final
@attrs.frozen
class Fds(_Message):
    """``SOL_SOCKET``/``SCM_RIGHTS``: file descriptors (an ``int`` array).

    Decoding keeps the whole ints only (a trailing partial int, left by a
    truncated item, is ignored as CPython's ``err_closefds`` walk does).
    """

    _LEVEL = "SOL_SOCKET"
    _TYPE = "SCM_RIGHTS"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        # One fd; ancillary_space's fds= multiplies.
        return abi.sizeof_int


@_registered
@final
@attrs.frozen
class Credentials(_Message):
    """``SOL_SOCKET``/``SCM_CREDENTIALS``: ``struct ucred`` (Linux; needs ``SO_PASSCRED``)."""

    _LEVEL = "SOL_SOCKET"
    _TYPE = "SCM_CREDENTIALS"
    _SPACE = "credentials"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return 12


def _timeval_layout(abi: ABI) -> tuple[int, int, int]:
    """``(sizeof tv_sec, sizeof tv_usec, sizeof struct timeval)`` on *abi*."""
    long_size = abi.sizeof_long
    if _is_darwin(abi):
        return long_size, 4, 2 * long_size  # padded to the alignment of long
    return long_size, long_size, 2 * long_size


@_registered
@final
@attrs.frozen
class Timestamp(_Message):
    """``SOL_SOCKET``/``SCM_TIMESTAMP`` (``SO_TIMESTAMP``): ``struct timeval``.

    The layout follows the ABI: two 64-bit longs on LP64 Linux, two 32-bit
    longs on linux-i386 (the ``*_OLD`` values of 32-bit ``time_t``), and
    ``{long; int32}`` padded to 16 bytes on Darwin.
    """

    _LEVEL = "SOL_SOCKET"
    _TYPE = "SCM_TIMESTAMP"
    _SPACE = "timestamp"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return _timeval_layout(abi)[2]

    @property
    def ns(self) -> int:
        """The timestamp in nanoseconds since the epoch."""
        return self.seconds * 1_000_000_000 + self.microseconds * 1000


@_registered
@final
@attrs.frozen
class TimestampNs(_Message):
    """``SOL_SOCKET``/``SCM_TIMESTAMPNS`` (``SO_TIMESTAMPNS``): ``struct timespec``.

    Two ``long`` in the ABI's size (8 bytes each on LP64, 4 on linux-i386).
    """

    _LEVEL = "SOL_SOCKET"
    _TYPE = "SCM_TIMESTAMPNS"
    _SPACE = "timestamp_ns"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return 2 * abi.sizeof_long

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


@_registered
@final
@attrs.frozen
class PacketInfo(_Message):
    """``IPPROTO_IP``/``IP_PKTINFO``: ``struct in_pktinfo`` (12 bytes).

    *ifindex* is the interface the packet came in on, *spec_dst* the local
    address a reply would come from, *addr* the header's destination address.
    On send, a non-zero *ifindex* or *spec_dst* selects the source.
    """

    _LEVEL = "IPPROTO_IP"
    _TYPE = "IP_PKTINFO"
    _SPACE = "pktinfo"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return abi.sizeof_int + 8


@_registered
@final
@attrs.frozen
class Ipv6PacketInfo(_Message):
    """``IPPROTO_IPV6``/``IPV6_PKTINFO``: ``struct in6_pktinfo`` (20 bytes)."""

    _LEVEL = "IPPROTO_IPV6"
    _TYPE = "IPV6_PKTINFO"
    _SPACE = "ipv6_pktinfo"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return 16 + abi.sizeof_int


@_registered
@final
@attrs.frozen
class TimeToLive(_CInt):
    """``IPPROTO_IP``/``IP_TTL`` (``IP_RECVTTL``): the packet's TTL, an ``int``.

    As a ``sendmsg`` item it sets the outgoing TTL.
    """

    _LEVEL = "IPPROTO_IP"
    _TYPE = "IP_TTL"
    _SPACE = "ttl"

    value: int


@_registered
@final
@attrs.frozen
class TypeOfService(_Message):
    """``IPPROTO_IP``/``IP_TOS`` (``IP_RECVTOS``): the TOS byte.

    Linux delivers one byte (``ip_cmsg_recv_tos``); an ``int`` is accepted
    too when decoding, as ``ip_cmsg_send`` accepts both.  Encoded as an ``int``.
    """

    _LEVEL = "IPPROTO_IP"
    _TYPE = "IP_TOS"
    _SPACE = "tos"

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

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return 1  # ip_cmsg_recv_tos puts one byte


@_registered
@final
@attrs.frozen
class HopLimit(_CInt):
    """``IPPROTO_IPV6``/``IPV6_HOPLIMIT`` (``IPV6_RECVHOPLIMIT``): an ``int``."""

    _LEVEL = "IPPROTO_IPV6"
    _TYPE = "IPV6_HOPLIMIT"
    _SPACE = "hoplimit"

    value: int


@_registered
@final
@attrs.frozen
class TrafficClass(_CInt):
    """``IPPROTO_IPV6``/``IPV6_TCLASS`` (``IPV6_RECVTCLASS``): an ``int``."""

    _LEVEL = "IPPROTO_IPV6"
    _TYPE = "IPV6_TCLASS"
    _SPACE = "tclass"

    value: int


@_registered
@final
@attrs.frozen
class GroSegmentSize(_CInt):
    """``SOL_UDP``/``UDP_GRO``: the segment size of a coalesced datagram (an ``int``)."""

    _LEVEL = "SOL_UDP"
    _TYPE = "UDP_GRO"
    _SPACE = "gro"

    size: int


@_registered
@final
@attrs.frozen
class GsoSegmentSize(_Message):
    """``SOL_UDP``/``UDP_SEGMENT``: send one buffer as datagrams of *size* bytes (``__u16``)."""

    _LEVEL = "SOL_UDP"
    _TYPE = "UDP_SEGMENT"

    size: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return self._item(abi, _int_to(self.size, 2, abi, signed=False))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> GsoSegmentSize:
        """The ``__u16`` in *data*."""
        _need(data, 2, "UDP_SEGMENT")
        return cls(_int_from(data, abi, signed=False))

    @classmethod
    def _data_size(cls, abi: ABI) -> int:
        return 2  # udp_cmsg_send: CMSG_LEN(sizeof(__u16))


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


@_registered
@final
@attrs.frozen
class ExtendedError(_Message):
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

    @classmethod
    def _kinds(cls) -> list[_Kind]:
        # Two messages, one class: the IPv4 and IPv6 forms differ in the
        # offender's sockaddr.
        return [
            _Kind("IPPROTO_IP", "IP_RECVERR", cls.decode_ipv4, cls._size_ipv4, "recverr"),
            _Kind("IPPROTO_IPV6", "IPV6_RECVERR", cls.decode_ipv6, cls._size_ipv6, "ipv6_recverr"),
        ]

    @classmethod
    def _size_ipv4(cls, abi: ABI) -> int:
        return _EE_SIZE + abi.sockaddr.sizes["sockaddr_in"]

    @classmethod
    def _size_ipv6(cls, abi: ABI) -> int:
        return _EE_SIZE + abi.sockaddr.sizes["sockaddr_in6"]

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


# -- the registry ---------------------------------------------------------------

#: A key names the level and type by constant name (resolved in each ABI,
#: absent names never match) or gives their values.
_Key = tuple["int | str", "int | str"]


def _resolved_tables(abi: ABI) -> weakref.WeakKeyDictionary[CmsgRegistry, tuple[int, dict[tuple[int, int], Decoder]]]:
    """Per ABI (:func:`sansock._abi.derived`): each registry's keys resolved in it,
    with the registry version they were resolved for.  Weak, so that a registry
    copied for one call does not live as long as a shipped profile."""
    return weakref.WeakKeyDictionary()


@final
class CmsgRegistry:
    """Which decoder handles which ``(cmsg_level, cmsg_type)``.

    Keys are constant names (``("SOL_SOCKET", "SCM_CREDENTIALS")``), resolved
    in the ABI of each receive (a name the ABI lacks never matches), or
    integer values.  :data:`DEFAULT_REGISTRY` knows every message of this
    module; :meth:`~CmsgRegistry.copy` it to add decoders for one call or one program only.

    >>> from sansock.driver import LINUX_X86_64 as abi
    >>> from sansock.ancillary import DEFAULT_REGISTRY
    >>> registry = DEFAULT_REGISTRY.copy()
    >>> registry.register(0, 99, lambda data, abi: ("mine", data))
    >>> registry.decode(0, 99, b"x", abi)
    ('mine', b'x')
    >>> registry.decode(0, 98, b"x", abi)
    (0, 98, b'x')
    """

    __slots__ = ("_decoders", "_version", "_read_only", "__weakref__")

    def __init__(self, decoders: Iterable[tuple[tuple[int | str, int | str], Decoder]] = ()) -> None:
        self._decoders: dict[_Key, Decoder] = dict(decoders)
        #: Bumped by every change: a table resolved for an older version is stale.
        self._version = 0
        self._read_only = False

    def _check_writable(self) -> None:
        # DEFAULT_REGISTRY is shared by every receive of the program, and what
        # it decodes is typed (ControlMessage): a decoder added to it would
        # change both behind the back of every other caller.
        if self._read_only:
            raise TypeError("DEFAULT_REGISTRY is read-only; register on DEFAULT_REGISTRY.copy()")

    def __repr__(self) -> str:
        keys = ", ".join(f"{level!r}/{kind!r}" for level, kind in self._decoders)
        return f"<CmsgRegistry {keys}>"

    def register(
        self, level: int | str, type: int | str, decoder: Decoder, *, replace: bool = False
    ) -> None:
        """Decode ``(level, type)`` items with *decoder* (``(data, abi) -> value``).

        ``ValueError`` if a decoder is already registered under the same key,
        unless *replace*.
        """
        self._check_writable()
        key = (level, type)
        if key in self._decoders and not replace:
            raise ValueError(f"a decoder is already registered for {key!r}; pass replace=True")
        self._decoders[key] = decoder
        self._version += 1

    def unregister(self, level: int | str, type: int | str) -> None:
        """Forget the decoder of ``(level, type)``; ``KeyError`` if there is none."""
        self._check_writable()
        del self._decoders[(level, type)]
        self._version += 1

    def copy(self) -> CmsgRegistry:
        """A registry with the same decoders, changed independently."""
        return CmsgRegistry(self._decoders.items())

    def decoder_for(self, level: int, type: int, abi: ABI) -> Decoder | None:
        """The decoder of ``(level, type)`` on *abi*, or None."""
        return self._table(abi).get((level, type))

    def _table(self, abi: ABI) -> dict[tuple[int, int], Decoder]:
        """The keys resolved in *abi*, kept in the ABI's cache (weakly by registry)."""
        tables = derived(abi, _resolved_tables)
        entry = tables.get(self)
        if entry is not None and entry[0] == self._version:
            return entry[1]
        table: dict[tuple[int, int], Decoder] = {}
        for (level, kind), decoder in self._decoders.items():
            level_value = abi.constants.get(level) if isinstance(level, str) else level
            kind_value = abi.constants.get(kind) if isinstance(kind, str) else kind
            if level_value is not None and kind_value is not None:
                # Integer keys win over names that resolve to the same pair.
                if isinstance(level, int) and isinstance(kind, int):
                    table[(level_value, kind_value)] = decoder
                else:
                    table.setdefault((level_value, kind_value), decoder)
        tables[self] = (self._version, table)
        return table

    def decode(self, level: int, type: int, data: bytes, abi: ABI) -> object:
        """The value of one item, or the raw ``(level, type, data)`` when no
        decoder knows it or the decoder raised ``ValueError``."""
        decoder = self._table(abi).get((level, type))
        if decoder is None:
            return (level, type, data)
        try:
            return decoder(data, abi)
        except ValueError:
            return (level, type, data)


#: Every registered ``(level, type)``, in registration order.
_KINDS: Final = tuple(kind for cls in _MESSAGE_TYPES for kind in cls._kinds())

DEFAULT_REGISTRY: Final = CmsgRegistry(((kind.level, kind.type), kind.decode) for kind in _KINDS)
DEFAULT_REGISTRY._read_only = True


@overload
def decode_item(item: RawItem, abi: ABI, registry: None = None) -> ControlMessage: ...
@overload
def decode_item(item: RawItem, abi: ABI, registry: CmsgRegistry) -> object: ...
def decode_item(item: RawItem, abi: ABI, registry: CmsgRegistry | None = None) -> object:
    """One stdlib ``(level, type, data)`` item as a value (raw if unknown)."""
    level, kind, data = item
    return (registry or DEFAULT_REGISTRY).decode(level, kind, bytes(data), abi)


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
        return (int(level), int(kind), bytes(data))
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
    is a message class's ``_SPACE``; the size is the class's.
    """
    abi = _abi_of(target)
    if fds < 0:
        raise ValueError("fds must not be negative")
    sizes: list[int] = []
    if fds:
        sizes.append(fds * Fds._data_size(abi))
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
