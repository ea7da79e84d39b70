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

A decoder takes ``(data, abi)`` and returns a value; it raises ``ValueError``
when the data does not have the size the layout requires (an item cut short
by truncation, for instance), and the item is then returned raw.  Items no
decoder knows are returned raw too, as the stdlib's ``(level, type, data)``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, final, overload

import attrs

from . import _address
from ._abi import derived
from ._inet import ntop4, ntop6, pton4, pton6

if TYPE_CHECKING:
    from ._abi import ABI

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
    "decode_item",
    "encode",
    "item_data_size",
]

#: An item as the stdlib returns it: ``(cmsg_level, cmsg_type, data)``.
RawItem = tuple[int, int, bytes]

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


# -- the values -----------------------------------------------------------------


@final
@attrs.frozen
class Fds:
    """``SOL_SOCKET``/``SCM_RIGHTS``: file descriptors (an ``int`` array).

    Decoding keeps the whole ints only (a trailing partial int, left by a
    truncated item, is ignored as CPython's ``err_closefds`` walk does).
    """

    fds: tuple[int, ...]

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        size = abi.sizeof_int
        data = b"".join(_int_to(fd, size, abi) for fd in self.fds)
        return (abi.const("SOL_SOCKET"), abi.const("SCM_RIGHTS"), data)

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Fds:
        """The fds in *data* (whole ints only)."""
        size = abi.sizeof_int
        count = len(data) // size
        return cls(tuple(_int_from(data[i * size : (i + 1) * size], abi) for i in range(count)))


@final
@attrs.frozen
class Credentials:
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
        return (abi.const("SOL_SOCKET"), abi.const("SCM_CREDENTIALS"), data)

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


@final
@attrs.frozen
class Timestamp:
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
        return (abi.const("SOL_SOCKET"), abi.const("SCM_TIMESTAMP"), data.ljust(total, b"\0"))

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


@final
@attrs.frozen
class TimestampNs:
    """``SOL_SOCKET``/``SCM_TIMESTAMPNS`` (``SO_TIMESTAMPNS``): ``struct timespec``.

    Two ``long`` in the ABI's size (8 bytes each on LP64, 4 on linux-i386).
    """

    seconds: int
    nanoseconds: int

    def encode(self, abi: ABI) -> RawItem:
        """The item as the kernel would deliver it (for tests and replay)."""
        size = abi.sizeof_long
        data = _int_to(self.seconds, size, abi) + _int_to(self.nanoseconds, size, abi)
        return (abi.const("SOL_SOCKET"), abi.const("SCM_TIMESTAMPNS"), data)

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


@final
@attrs.frozen
class PacketInfo:
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
        return (abi.const("IPPROTO_IP"), abi.const("IP_PKTINFO"), data)

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> PacketInfo:
        """``struct in_pktinfo`` from *data*."""
        n = abi.sizeof_int
        _need(data, n + 8, "struct in_pktinfo")
        return cls(_int_from(data[:n], abi), ntop4(data[n : n + 4]), ntop4(data[n + 4 : n + 8]))


@final
@attrs.frozen
class Ipv6PacketInfo:
    """``IPPROTO_IPV6``/``IPV6_PKTINFO``: ``struct in6_pktinfo`` (20 bytes)."""

    addr: str
    ifindex: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        data = _packed6(self.addr) + _int_to(self.ifindex, abi.sizeof_int, abi, signed=False)
        return (abi.const("IPPROTO_IPV6"), abi.const("IPV6_PKTINFO"), data)

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> Ipv6PacketInfo:
        """``struct in6_pktinfo`` from *data*."""
        _need(data, 16 + abi.sizeof_int, "struct in6_pktinfo")
        return cls(ntop6(data[:16]), _int_from(data[16:], abi, signed=False))


@final
@attrs.frozen
class TimeToLive:
    """``IPPROTO_IP``/``IP_TTL`` (``IP_RECVTTL``): the packet's TTL, an ``int``."""

    value: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi* (sets the outgoing TTL)."""
        return (abi.const("IPPROTO_IP"), abi.const("IP_TTL"), _int_to(self.value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> TimeToLive:
        """The ``int`` in *data*."""
        _need(data, abi.sizeof_int, "IP_TTL")
        return cls(_int_from(data, abi))


@final
@attrs.frozen
class TypeOfService:
    """``IPPROTO_IP``/``IP_TOS`` (``IP_RECVTOS``): the TOS byte.

    Linux delivers one byte (``ip_cmsg_recv_tos``); an ``int`` is accepted
    too when decoding, as ``ip_cmsg_send`` accepts both.  Encoded as an ``int``.
    """

    value: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return (abi.const("IPPROTO_IP"), abi.const("IP_TOS"), _int_to(self.value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> TypeOfService:
        """One byte, or an ``int``."""
        if len(data) == 1:
            return cls(data[0])
        _need(data, abi.sizeof_int, "IP_TOS")
        return cls(_int_from(data, abi))


@final
@attrs.frozen
class HopLimit:
    """``IPPROTO_IPV6``/``IPV6_HOPLIMIT`` (``IPV6_RECVHOPLIMIT``): an ``int``."""

    value: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return (abi.const("IPPROTO_IPV6"), abi.const("IPV6_HOPLIMIT"), _int_to(self.value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> HopLimit:
        """The ``int`` in *data*."""
        _need(data, abi.sizeof_int, "IPV6_HOPLIMIT")
        return cls(_int_from(data, abi))


@final
@attrs.frozen
class TrafficClass:
    """``IPPROTO_IPV6``/``IPV6_TCLASS`` (``IPV6_RECVTCLASS``): an ``int``."""

    value: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return (abi.const("IPPROTO_IPV6"), abi.const("IPV6_TCLASS"), _int_to(self.value, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> TrafficClass:
        """The ``int`` in *data*."""
        _need(data, abi.sizeof_int, "IPV6_TCLASS")
        return cls(_int_from(data, abi))


@final
@attrs.frozen
class GroSegmentSize:
    """``SOL_UDP``/``UDP_GRO``: the segment size of a coalesced datagram (an ``int``)."""

    size: int

    def encode(self, abi: ABI) -> RawItem:
        """The item as the kernel delivers it."""
        return (abi.const("SOL_UDP"), abi.const("UDP_GRO"), _int_to(self.size, abi.sizeof_int, abi))

    @classmethod
    def decode(cls, data: bytes, abi: ABI) -> GroSegmentSize:
        """The ``int`` in *data*."""
        _need(data, abi.sizeof_int, "UDP_GRO")
        return cls(_int_from(data, abi))


@final
@attrs.frozen
class GsoSegmentSize:
    """``SOL_UDP``/``UDP_SEGMENT``: send one buffer as datagrams of *size* bytes (``__u16``)."""

    size: int

    def encode(self, abi: ABI) -> RawItem:
        """The ``sendmsg`` item for *abi*."""
        return (abi.const("SOL_UDP"), abi.const("UDP_SEGMENT"), _int_to(self.size, 2, abi, signed=False))

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


DEFAULT_REGISTRY: Final = CmsgRegistry(
    [
        (("SOL_SOCKET", "SCM_RIGHTS"), Fds.decode),
        (("SOL_SOCKET", "SCM_CREDENTIALS"), Credentials.decode),
        (("SOL_SOCKET", "SCM_TIMESTAMP"), Timestamp.decode),
        (("SOL_SOCKET", "SCM_TIMESTAMPNS"), TimestampNs.decode),
        (("IPPROTO_IP", "IP_PKTINFO"), PacketInfo.decode),
        (("IPPROTO_IP", "IP_TTL"), TimeToLive.decode),
        (("IPPROTO_IP", "IP_TOS"), TypeOfService.decode),
        (("IPPROTO_IP", "IP_RECVERR"), ExtendedError.decode_ipv4),
        (("IPPROTO_IPV6", "IPV6_PKTINFO"), Ipv6PacketInfo.decode),
        (("IPPROTO_IPV6", "IPV6_HOPLIMIT"), HopLimit.decode),
        (("IPPROTO_IPV6", "IPV6_TCLASS"), TrafficClass.decode),
        (("IPPROTO_IPV6", "IPV6_RECVERR"), ExtendedError.decode_ipv6),
        (("SOL_UDP", "UDP_GRO"), GroSegmentSize.decode),
        (("SOL_UDP", "UDP_SEGMENT"), GsoSegmentSize.decode),
    ]
)


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


def item_data_size(name: str, abi: ABI) -> int:
    """The data size of one message of kind *name* on *abi* (see :func:`sansock.ancillary.ancillary_space`)."""
    int_size = abi.sizeof_int
    sizes = {
        "credentials": 12,
        "timestamp": _timeval_layout(abi)[2],
        "timestamp_ns": 2 * abi.sizeof_long,
        "pktinfo": int_size + 8,
        "ipv6_pktinfo": 16 + int_size,
        "ttl": int_size,
        # ip_cmsg_recv_tos puts one byte.
        "tos": 1,
        "hoplimit": int_size,
        "tclass": int_size,
        "gro": int_size,
        "recverr": _EE_SIZE + abi.sockaddr.sizes["sockaddr_in"],
        "ipv6_recverr": _EE_SIZE + abi.sockaddr.sizes["sockaddr_in6"],
    }
    return sizes[name]
