"""Address codecs: Python address values <-> raw ``struct sockaddr`` bytes.

This module is CPython's ``getsockaddrarg`` (parse), ``makesockaddr``
(format), ``getsockaddrlen``, ``setipaddr`` and ``idna_converter`` from
``Modules/socketmodule.c`` (3.11), written against an :class:`~sansock.ABI`
instead of the host's headers, with no I/O: where CPython asks the C library
or the kernel (``getaddrinfo`` for a host name, ``ioctl(SIOCGIFINDEX)`` for an
interface name) the codec asks an :class:`AddressServices` -- in practice the
socket's driver.

The bytes :func:`encode_address` returns are exactly what CPython hands the
kernel, and their length *is* the ``addrlen`` argument (for ``AF_UNIX`` that
is ``2 + len(path)`` for abstract names and ``2 + len(path) + 1`` otherwise).
:func:`decode_address` takes what the kernel gave back, trimmed to the
``socklen_t`` it returned (``b""`` means the kernel reported length 0 and gives
``None``), and reads missing trailing bytes as zeros as CPython's zeroed
``sock_addr_t`` buffer does.

Exceptions follow CPython, including the order of the checks (the host is
resolved before the port range is checked) and the ``{caller}():`` prefixes.

Performance: ``sendto``/``recvfrom`` call these once per datagram, so every
per-ABI fact (constants, ``struct.Struct`` objects, the family dispatch
tables) is computed once into a cached :class:`_SockaddrCodec`.
"""

from __future__ import annotations

import codecs
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, Union

from ._abi import derived
from ._convert import arg_int, converterr_name, tp_name
from ._inet import (
    buffer_bytes,
    c_uint_mask,
    ntop4,
    ntop6,
    pton4,
    pton6,
)

if TYPE_CHECKING:
    from ._abi import ABI
    from ._driver import AddrInfo

__all__ = [
    "AddressServices",
    "AlgAddress",
    "CanAddress",
    "Inet4Address",
    "Inet6Address",
    "NetlinkAddress",
    "PacketAddress",
    "QipcrtrAddress",
    "SockAddress",
    "TipcAddress",
    "UnixAddress",
    "UnknownAddress",
    "VsockAddress",
    "decode_address",
    "encode_address",
    "sockaddr_family",
    "sockaddr_len",
]

# -- address shapes (what makesockaddr returns) ---------------------------------------

#: ``AF_UNIX``: a filesystem path as ``str``; an abstract name as ``bytes``.
UnixAddress = Union[str, bytes]
#: ``AF_INET`` (and ``AF_RDS``): ``(host, port)``.
Inet4Address = tuple[str, int]
#: ``AF_INET6``: ``(host, port, flowinfo, scope_id)``.
Inet6Address = tuple[str, int, int, int]
#: ``AF_NETLINK``: ``(pid, groups)``.
NetlinkAddress = tuple[int, int]
#: ``AF_PACKET``: ``(ifname, proto, pkttype, hatype, addr)``.
PacketAddress = tuple[str, int, int, int, bytes]
#: ``AF_CAN``: ``(ifname,)`` for CAN_RAW/CAN_BCM, ``(ifname, rx_id, tx_id)`` for
#: CAN_ISOTP, ``(ifname, name, pgn, addr)`` for CAN_J1939.
CanAddress = Union[tuple[str], tuple[str, int, int], tuple[str, int, int, int]]
#: ``AF_TIPC``: ``(addr_type, v1, v2, v3, scope)``.
TipcAddress = tuple[int, int, int, int, int]
#: ``AF_VSOCK``: ``(cid, port)``.
VsockAddress = tuple[int, int]
#: ``AF_ALG``: ``(type, name, feat, mask)``.
AlgAddress = tuple[str, str, int, int]
#: ``AF_QIPCRTR``: ``(node, port)``.
QipcrtrAddress = tuple[int, int]
#: A family makesockaddr does not know: ``(sa_family, sa_data[14])``.
UnknownAddress = tuple[int, bytes]
#: Anything :func:`decode_address` can return.
SockAddress = Union[
    None,
    UnixAddress,
    Inet4Address,
    Inet6Address,
    NetlinkAddress,
    PacketAddress,
    CanAddress,
    TipcAddress,
    AlgAddress,
    UnknownAddress,
]


class AddressServices(Protocol):
    """What the codecs ask of the outside world: the resolver and the
    interface table.  Any :class:`~sansock.Driver` is one."""

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        """``getaddrinfo(3)``; failure raises :class:`sansock.gaierror`."""
        ...

    def if_nametoindex(self, name: bytes) -> int:
        """The index of interface *name*; ``OSError`` (ENODEV) when unknown."""
        ...

    def if_indextoname(self, index: int) -> bytes:
        """The name of interface *index*; ``OSError`` (ENXIO) when unknown."""
        ...


# -- argument parsing pieces shared by the families -----------------------------------


def _arity_error(fname: str | None, lo: int, hi: int, given: int) -> TypeError:
    # getargs.c vgetargs1_impl: "%.150s%s takes %s %d argument%s (%zd given)".
    bound = lo if given < lo else hi
    how = "exactly" if lo == hi else ("at least" if given < lo else "at most")
    name = f"{fname}()" if fname else "function"
    return TypeError(f"{name} takes {how} {bound} argument{'' if bound == 1 else 's'} ({given} given)")


def _fs_encode(path: str) -> bytes:
    # PyUnicode_EncodeFSDefault: the filesystem encoding, surrogateescape.
    return str.encode(path, sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _fs_decode(data: bytes) -> str:
    # PyUnicode_DecodeFSDefault.
    return data.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _fs_converter(obj: object) -> bytes:
    """``PyUnicode_FSConverter`` (``PyOS_FSPath`` then encode, no NUL)."""
    path: object = obj
    if not isinstance(obj, (str, bytes)):
        fspath = getattr(type(obj), "__fspath__", None)
        if fspath is None:
            # PyOS_FSPath names types with _PyType_Name: tp_name after the last dot.
            raise TypeError(f"expected str, bytes or os.PathLike object, not {type(obj).__name__}")
        path = fspath(obj)
        if not isinstance(path, (str, bytes)):
            raise TypeError(
                f"expected {type(obj).__name__}.__fspath__() to return str or bytes, "
                f"not {type(path).__name__}"
            )
    # A bytes (subclass) is read as PyBytes_AS_STRING reads it, not through __bytes__.
    data = _fs_encode(path) if isinstance(path, str) else buffer_bytes(path)
    if b"\0" in data:
        raise ValueError("embedded null byte")
    return data


def _c_string_or(obj: object, message: str) -> bytes:
    # The "s" unit inside a format with a ";message": a non-str gives the message.
    if not isinstance(obj, str):
        raise TypeError(message)
    data = str.encode(obj, "utf-8")
    if b"\0" in data:
        raise ValueError("embedded null character")
    return data


def _idna_host(obj: object) -> bytes:
    """``idna_converter``: bytes/bytearray as they are, an ASCII ``str`` as it
    is, any other ``str`` through the ``idna`` codec; no NUL."""
    if isinstance(obj, (bytes, bytearray)):
        data = buffer_bytes(obj)  # PyBytes_AS_STRING / PyByteArray_AS_STRING, not __bytes__
    elif isinstance(obj, str):
        # PyUnicode_IS_COMPACT_ASCII: only exact str objects are compact.
        if type(obj) is str and obj.isascii():
            data = str.encode(obj, "ascii")
        else:
            try:
                data = codecs.encode(obj, "idna")
            except Exception:
                raise TypeError("encoding of hostname failed")  # noqa: B904 (CPython chains)
    else:
        raise TypeError(f"str, bytes or bytearray expected, not {tp_name(obj)}")
    if b"\0" in data:
        raise TypeError("host name must not contain null character")
    return data


_Encoder = Callable[[object, str, AddressServices, int], bytes]
_Decoder = Callable[[bytes, Union[AddressServices, None], int], object]

#: Bound on the cache of numeric host parses (pure results, safe to keep).
_NUMERIC_CACHE_SIZE = 512


class _SockaddrCodec:
    """Every sockaddr fact of one ABI, precomputed, and the family dispatch."""

    def __init__(self, abi: ABI) -> None:
        self.abi = abi
        const = abi.constants
        self.bsd = abi.sockaddr.has_sa_len
        self.order: str = "<" if abi.byteorder == "little" else ">"
        order = self.order
        sizes = abi.sockaddr.sizes
        self.sun_path_size = abi.sockaddr.sun_path_size
        self.af_unspec = const.get("AF_UNSPEC", 0)
        self.af_inet = const["AF_INET"]
        self.af_inet6 = const["AF_INET6"]
        self.af_unix = const["AF_UNIX"]
        self.sock_dgram = const["SOCK_DGRAM"]
        # <netdb.h>: AI_PASSIVE is 1 on glibc and on Darwin.
        self.ai_passive = const.get("AI_PASSIVE", 1)
        self.hdr_inet = self.header(self.af_inet, sizes["sockaddr_in"])
        self.hdr_inet6 = self.header(self.af_inet6, sizes["sockaddr_in6"])
        self.size_in = sizes["sockaddr_in"]
        self.size_in6 = sizes["sockaddr_in6"]
        # struct sockaddr_in: family, port (network order), addr, zero[8].
        self.st_in = struct.Struct(">2sH4s8s")
        # struct sockaddr_in6: family, port, flowinfo (network order), addr,
        # then scope_id in host order (packed separately).
        self.st_in6 = struct.Struct(">2sHI16s")
        self.st_u32 = struct.Struct(order + "I")
        self.numeric: dict[tuple[int, bytes], bytes | None] = {}
        #: AF_INET sockaddrs of exact (str, int) pairs with a numeric host.
        self.inet_encoded: dict[tuple[str, int], bytes] = {}
        #: decode_address of whole sockaddr_in values seen (bounded): a
        #: (host, port) pair of immutables, shared by the calls that return it.
        self.inet_decoded: dict[bytes, tuple[str, int]] = {}
        #: ntop4 of the 4-byte addresses decode_address has seen (bounded).
        self.inet_hosts: dict[bytes, str] = {}

        self.encoders: dict[int, _Encoder] = {}
        self.decoders: dict[int, _Decoder] = {}
        self.lengths: dict[int, int] = {}

        def register(name: str, struct_name: str, enc: _Encoder | None, dec: _Decoder | None) -> None:
            family = const.get(name)
            size = sizes.get(struct_name)
            if family is None or size is None:
                return  # the platform has no such family
            self.lengths[family] = size
            if enc is not None:
                self.encoders[family] = enc
            if dec is not None:
                self.decoders[family] = dec

        register("AF_UNIX", "sockaddr_un", self.encode_unix, self.decode_unix)
        register("AF_INET", "sockaddr_in", self.encode_inet, self.decode_inet)
        register("AF_INET6", "sockaddr_in6", self.encode_inet6, self.decode_inet6)
        if not self.bsd:
            # Linux-only families (each behind a Linux header in socketmodule.c).
            # AF_RDS uses the sockaddr_in rules but makesockaddr has no case for it.
            register("AF_RDS", "sockaddr_in", self.encode_inet, None)
            register("AF_NETLINK", "sockaddr_nl", self.encode_netlink, self.decode_netlink)
            register("AF_QIPCRTR", "sockaddr_qrtr", self.encode_qipcrtr, self.decode_qipcrtr)
            register("AF_VSOCK", "sockaddr_vm", self.encode_vsock, self.decode_vsock)
            register("AF_PACKET", "sockaddr_ll", self.encode_packet, self.decode_packet)
            register("AF_TIPC", "sockaddr_tipc", self.encode_tipc, self.decode_tipc)
            register("AF_CAN", "sockaddr_can", self.encode_can, self.decode_can)
            register("AF_ALG", "sockaddr_alg", self.encode_alg, self.decode_alg)
        self.st_nl = struct.Struct(order + "HxxII")  # sockaddr_nl: family, pad, pid, groups
        self.st_qrtr = struct.Struct(order + "HxxII")  # sockaddr_qrtr: family, node, port
        self.st_vm = struct.Struct(order + "HxxII4x")  # sockaddr_vm: family, port, cid, flags+zero
        # sockaddr_ll: family, protocol (network order), ifindex, hatype,
        # pkttype, halen, addr[8].
        self.st_ll = struct.Struct(order + "HHiHBB8s")
        self.st_tipc = struct.Struct(order + "HBbIII")  # family, addrtype, scope, union
        self.st_can = struct.Struct(order + "Hxxi")  # family, ifindex; union at 8
        self.st_can_tp = struct.Struct(order + "II")
        self.st_can_j1939 = struct.Struct(order + "QIB")
        self.st_alg = struct.Struct(order + "H14sII64s")  # family, type, feat, mask, name
        self.tipc_cluster_scope = const.get("TIPC_CLUSTER_SCOPE", 2)
        self.tipc_types = (
            const.get("TIPC_ADDR_NAMESEQ", 1),
            const.get("TIPC_ADDR_NAME", 2),
            const.get("TIPC_ADDR_ID", 3),
        )
        self.can_protos = (
            const.get("CAN_RAW", 1),
            const.get("CAN_BCM", 2),
            const.get("CAN_ISOTP", 6),
            const.get("CAN_J1939", 7),
        )

    # -- layout helpers -----------------------------------------------------------

    def header(self, family: int, sa_len: int) -> bytes:
        """The first two bytes: ``sa_family`` (Linux) or ``sa_len, sa_family`` (BSD)."""
        if self.bsd:
            return bytes((sa_len & 0xFF, family & 0xFF))
        return family.to_bytes(2, "little" if self.order == "<" else "big")

    def family_of(self, raw: bytes) -> int:
        """``sa_family`` of raw bytes (missing bytes read as zero)."""
        if self.bsd:
            return raw[1] if len(raw) > 1 else 0
        return int.from_bytes(raw[:2].ljust(2, b"\0"), "little" if self.order == "<" else "big")

    def net16(self, value: int) -> int:
        """``htons``/``ntohs`` on this ABI."""
        return value if self.order == ">" else ((value & 0xFF) << 8) | (value >> 8)

    def port_error(self, caller: str, what: str = "port") -> OverflowError:
        return OverflowError(f"{caller}(): {what} must be 0-65535.")

    def c_int(self, obj: object) -> int:
        return arg_int(obj, self.abi)

    # -- setipaddr --------------------------------------------------------------------

    def numeric_host(self, af: int, name: bytes) -> bytes | None:
        """The packed address when *name* is numeric for *af* (the inet_pton
        fast path of setipaddr), else None.  Cached: it is a pure function."""
        key = (af, name)
        try:
            return self.numeric[key]
        except KeyError:
            pass
        packed: bytes | None = None
        if af == self.af_inet:
            packed = pton4(name)
        elif af == self.af_inet6 and b"%" not in name:
            # "if the address contains a scope ID, we fallback to getaddrinfo()"
            packed = pton6(name)
        if len(self.numeric) >= _NUMERIC_CACHE_SIZE:
            self.numeric.clear()
        self.numeric[key] = packed
        return packed

    def setipaddr(self, name: bytes, af: int, size: int, services: AddressServices) -> bytearray:
        """``setipaddr``: the sockaddr buffer (``size`` bytes) for host *name*
        when the numeric fast path did not apply."""
        buf = bytearray(size)
        if not name:
            # getaddrinfo(NULL, "0", {af, SOCK_DGRAM, AI_PASSIVE}): the wildcard.
            infos = services.getaddrinfo(None, b"0", af, self.sock_dgram, 0, self.ai_passive)
            if not infos:
                raise OSError("unsupported address family")
            if infos[0][0] not in (self.af_inet, self.af_inet6):
                raise OSError("unsupported address family")
            if len(infos) > 1:
                raise OSError("wildcard resolved to multiple address")
            raw = infos[0][4][:size]
            buf[: len(raw)] = raw
            return buf
        if name in (b"255.255.255.255", b"<broadcast>"):
            if af != self.af_inet and af != self.af_unspec:
                raise OSError("address family mismatched")
            buf[:2] = self.hdr_inet
            buf[4:8] = b"\xff\xff\xff\xff"  # INADDR_BROADCAST
            return buf
        packed = self.numeric_host(af, name)
        if packed is not None:
            if af == self.af_inet:
                buf[:2] = self.hdr_inet
                buf[4:8] = packed
            else:
                buf[:2] = self.hdr_inet6
                buf[8:24] = packed
            return buf
        # getaddrinfo(name, NULL, {ai_family=af}); the first result's sockaddr.
        infos = services.getaddrinfo(name, None, af, 0, 0, 0)
        if infos:
            raw = infos[0][4][:size]
            buf[: len(raw)] = raw
        family = self.family_of(bytes(buf))
        if family != self.af_inet and family != self.af_inet6:
            raise OSError("unknown address family")
        return buf

    # -- AF_INET / AF_INET6 --------------------------------------------------------------

    def encode_inet(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # getsockaddrarg, case AF_INET (and AF_RDS): "O&i;AF_INET address must be a pair (host, port)"
        if not isinstance(address, tuple):
            raise TypeError(f"{caller}(): AF_INET address must be tuple, not {tp_name(address)}")
        if len(address) != 2:
            raise TypeError("AF_INET address must be a pair (host, port)")
        host = _idna_host(address[0])
        try:
            port = self.c_int(address[1])
        except OverflowError:
            raise self.port_error(caller)  # noqa: B904 (CPython replaces the error)
        packed = self.numeric_host(self.af_inet, host) if host else None
        if packed is None:
            buf = self.setipaddr(host, self.af_inet, self.size_in, services)
            if not 0 <= port <= 0xFFFF:
                raise self.port_error(caller)
            self.st_in.pack_into(buf, 0, self.hdr_inet, port, bytes(buf[4:8]), bytes(buf[8:16]))
            return bytes(buf)
        if not 0 <= port <= 0xFFFF:
            raise self.port_error(caller)
        raw = self.st_in.pack(self.hdr_inet, port, packed, b"")
        if type(address) is tuple and type(address[0]) is str and type(address[1]) is int:
            # A numeric host and a port: a pure function of the pair, kept
            # for encode_address's shortcut (names are resolved every time).
            # An exact tuple only: a subclass as the key could answer the
            # lookups of other pairs (its __hash__/__eq__), poisoning the
            # memo (tests/test_rev7_review.py).
            if len(self.inet_encoded) >= _NUMERIC_CACHE_SIZE:
                self.inet_encoded.clear()
            self.inet_encoded[address] = raw
        return raw

    def encode_inet6(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # getsockaddrarg, case AF_INET6:
        # "O&i|II;AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])"
        if not isinstance(address, tuple):
            raise TypeError(f"{caller}(): AF_INET6 address must be tuple, not {tp_name(address)}")
        n = len(address)
        if not 2 <= n <= 4:
            raise TypeError("AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])")
        host = _idna_host(address[0])
        try:
            port = self.c_int(address[1])
        except OverflowError:
            raise self.port_error(caller)  # noqa: B904
        # "I": unsigned int, no overflow check (wraps modulo 2**32).
        flowinfo = c_uint_mask(address[2], 32) if n > 2 else 0
        scope_id = c_uint_mask(address[3], 32) if n > 3 else 0
        packed = self.numeric_host(self.af_inet6, host) if host else None
        if packed is None:
            # A name, '' or '%scope': resolved; sin6_scope_id is then overwritten
            # by the tuple's scope_id as getsockaddrarg does.
            packed = bytes(self.setipaddr(host, self.af_inet6, self.size_in6, services)[8:24])
        if not 0 <= port <= 0xFFFF:
            raise self.port_error(caller)
        if flowinfo > 0xFFFFF:
            raise OverflowError(f"{caller}(): flowinfo must be 0-1048575.")
        return self.st_in6.pack(self.hdr_inet6, port, flowinfo, packed) + self.st_u32.pack(scope_id)

    def decode_inet(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        # makesockaddr, case AF_INET: (inet_ntop(sin_addr), ntohs(sin_port))
        if len(raw) < 16:
            raw = raw.ljust(16, b"\0")
        _, port, addr, _ = self.st_in.unpack_from(raw)
        return (ntop4(addr), port)

    def decode_inet6(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        # makesockaddr, case AF_INET6: (host, ntohs(port), ntohl(flowinfo), scope_id)
        if len(raw) < 28:
            raw = raw.ljust(28, b"\0")
        _, port, flowinfo, addr = self.st_in6.unpack_from(raw)
        (scope_id,) = self.st_u32.unpack_from(raw, 24)
        return (ntop6(addr), port, flowinfo, scope_id)

    # -- AF_UNIX ------------------------------------------------------------------------

    def encode_unix(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # getsockaddrarg, case AF_UNIX (PEP 383: str through the FS encoding).
        path = _fs_encode(address) if isinstance(address, str) else buffer_bytes(address)
        n = len(path)
        if not self.bsd and (n == 0 or path[0] == 0):
            # Linux abstract namespace: '' autobinds, b'\0name' is abstract;
            # addrlen = offsetof(sun_path) + len, no terminating NUL.
            if n > self.sun_path_size:
                raise OSError("AF_UNIX path too long")
            return self.header(self.af_unix, 2 + n) + path
        if n >= self.sun_path_size:
            raise OSError("AF_UNIX path too long")
        # "including the tailing NUL"
        return self.header(self.af_unix, 2 + n + 1) + path + b"\0"

    def decode_unix(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        # makesockaddr, case AF_UNIX.
        path = raw[2:]
        if not self.bsd and path and path[0] == 0:
            return path  # Linux abstract namespace: bytes, NULs and all
        end = path.find(b"\0")
        return _fs_decode(path if end < 0 else path[:end])

    # -- Linux-only families --------------------------------------------------------------

    def _require_tuple(self, address: object, label: str) -> tuple[object, ...]:
        if not isinstance(address, tuple):
            raise TypeError(f"{label} address must be tuple, not {tp_name(address)}")
        return address

    def encode_netlink(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # "II;AF_NETLINK address must be a pair (pid, groups)"
        args = self._require_tuple(address, f"{caller}(): AF_NETLINK")
        if len(args) != 2:
            raise TypeError("AF_NETLINK address must be a pair (pid, groups)")
        pid = c_uint_mask(args[0], 32)
        groups = c_uint_mask(args[1], 32)
        return self.st_nl.pack(self.const("AF_NETLINK"), pid, groups)

    def decode_netlink(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        _, pid, groups = self.st_nl.unpack_from(raw.ljust(self.st_nl.size, b"\0"))
        return (pid, groups)

    def encode_qipcrtr(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # "II:getsockaddrarg" -> (node, port)
        args = self._require_tuple(address, "getsockaddrarg: AF_QIPCRTR")
        if len(args) != 2:
            raise _arity_error("getsockaddrarg", 2, 2, len(args))
        node = c_uint_mask(args[0], 32)
        port = c_uint_mask(args[1], 32)
        return self.st_qrtr.pack(self.const("AF_QIPCRTR"), node, port)

    def decode_qipcrtr(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        _, node, port = self.st_qrtr.unpack_from(raw.ljust(self.st_qrtr.size, b"\0"))
        return (node, port)

    def encode_vsock(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # "II:getsockaddrarg" -> (cid, port)
        args = self._require_tuple(address, "getsockaddrarg: AF_VSOCK")
        if len(args) != 2:
            raise _arity_error("getsockaddrarg", 2, 2, len(args))
        cid = c_uint_mask(args[0], 32)
        port = c_uint_mask(args[1], 32)
        return self.st_vm.pack(self.const("AF_VSOCK"), port, cid)

    def decode_vsock(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        _, port, cid = self.st_vm.unpack_from(raw.ljust(self.st_vm.size, b"\0"))
        return (cid, port)

    def const(self, name: str) -> int:
        return self.abi.const(name)

    def encode_packet(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # "si|iiy*;AF_PACKET address must be a tuple of two to five elements"
        message = "AF_PACKET address must be a tuple of two to five elements"
        args = self._require_tuple(address, f"{caller}(): AF_PACKET")
        if not 2 <= len(args) <= 5:
            raise TypeError(message)
        ifname = _c_string_or(args[0], message)
        try:
            proto_number = self.c_int(args[1])
            pkttype = self.c_int(args[2]) if len(args) > 2 else self.abi.constants.get("PACKET_HOST", 0)
            hatype = self.c_int(args[3]) if len(args) > 3 else 0
        except OverflowError:
            raise OverflowError(f"{caller}(): address argument out of range")  # noqa: B904
        haddr = buffer_bytes(args[4]) if len(args) > 4 else b""
        # ioctl(SIOCGIFINDEX) with strncpy(ifr_name, name, IFNAMSIZ), NUL at [15].
        ifindex = services.if_nametoindex(ifname[:15])
        if len(haddr) > 8:
            raise ValueError("Hardware address must be 8 bytes or less")
        if not 0 <= proto_number <= 0xFFFF:
            raise self.port_error(caller, "proto")
        ifindex_c = ((ifindex + 0x80000000) & 0xFFFFFFFF) - 0x80000000  # int sll_ifindex
        return self.st_ll.pack(
            self.const("AF_PACKET"),
            self.net16(proto_number),
            ifindex_c,
            hatype & 0xFFFF,  # unsigned short sll_hatype
            pkttype & 0xFF,  # unsigned char sll_pkttype
            len(haddr),
            haddr,
        )

    def _ifname(self, ifindex: int, services: AddressServices | None) -> bytes:
        # ioctl(SIOCGIFNAME) when the index is not 0; '' when it fails.
        if ifindex == 0 or services is None:
            return b""
        try:
            return services.if_indextoname(ifindex)
        except OSError:
            return b""

    def decode_packet(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        # makesockaddr: "shbhy#" (ifname, ntohs(proto), pkttype, hatype, addr[:halen]);
        # sll_addr is read past its 8 bytes when halen > 8, as C does.
        padded = raw.ljust(max(20, 12 + 255), b"\0")
        _, protocol, ifindex, hatype, pkttype, halen, _ = self.st_ll.unpack_from(padded)
        ifname = self._ifname(ifindex, services).decode("utf-8")
        return (ifname, self.net16(protocol), pkttype, hatype, bytes(padded[12 : 12 + halen]))

    def encode_tipc(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # "IIII|I;AF_TIPC address must be a tuple (addr_type, v1, v2, v3[, scope])"
        args = self._require_tuple(address, f"{caller}(): AF_TIPC")
        if not 4 <= len(args) <= 5:
            raise TypeError("AF_TIPC address must be a tuple (addr_type, v1, v2, v3[, scope])")
        atype, v1, v2, v3 = (c_uint_mask(a, 32) for a in args[:4])
        scope = c_uint_mask(args[4], 32) if len(args) > 4 else self.tipc_cluster_scope
        nameseq, name, ident = self.tipc_types
        if atype == nameseq:
            union = (v1, v2, v3)  # nameseq {type, lower, upper}
        elif atype == name:
            union = (v1, v2, 0)  # name {name {type, instance}, domain}
        elif atype == ident:
            union = (v2, v1, 0)  # id {ref, node}: node = v1, ref = v2
        else:
            raise TypeError("Invalid address type")
        signed_scope = ((scope & 0xFF) ^ 0x80) - 0x80  # signed char scope
        return self.st_tipc.pack(self.const("AF_TIPC"), atype, signed_scope, *union)

    def decode_tipc(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        _, atype, scope, w0, w1, w2 = self.st_tipc.unpack_from(raw.ljust(16, b"\0"))
        scope &= 0xFFFFFFFF  # a signed char passed to Py_BuildValue("I")
        nameseq, name, ident = self.tipc_types
        if atype == nameseq:
            return (atype, w0, w1, w2, scope)
        if atype == name:
            return (atype, w0, w1, w1, scope)
        if atype == ident:
            return (atype, w1, w0, 0, scope)
        raise ValueError("Invalid address type")

    def _can_ifindex(self, ifname: bytes, services: AddressServices) -> int:
        if not ifname:
            return 0
        if len(ifname) >= 16:  # sizeof(ifr.ifr_name)
            raise OSError("AF_CAN interface name too long")
        return services.if_nametoindex(ifname)

    def encode_can(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        raw_proto, bcm, isotp, j1939 = self.can_protos
        tail = b""
        if proto == raw_proto or proto == bcm:
            args = self._require_tuple(address, f"{caller}(): AF_CAN")
            if len(args) != 1:
                raise TypeError("AF_CAN address must be a tuple (interface, )")
            ifindex = self._can_ifindex(_fs_converter(args[0]), services)
        elif proto == isotp or proto == j1939:
            if not isinstance(address, tuple):
                # PyArg_ParseTuple on a non-tuple (no PyTuple_Check before it).
                raise SystemError("new style getargs format but argument is not a tuple")
            want = 3 if proto == isotp else 4
            if len(address) != want:
                raise _arity_error(None, want, want, len(address))
            ifname = _fs_converter(address[0])
            if not isinstance(address[1], int):  # "k" / "K"
                raise TypeError(f"argument 2 must be int, not {converterr_name(address[1])}")
            if proto == isotp:  # "O&kk" -> canid_t rx_id, tx_id
                if not isinstance(address[2], int):
                    raise TypeError(f"argument 3 must be int, not {converterr_name(address[2])}")
                tail = self.st_can_tp.pack(address[1] & 0xFFFFFFFF, address[2] & 0xFFFFFFFF)
            else:  # "O&KIB" -> name, pgn, addr
                pgn = c_uint_mask(address[2], 32)
                addr = c_uint_mask(address[3], 8)
                tail = self.st_can_j1939.pack(address[1] & 0xFFFFFFFFFFFFFFFF, pgn, addr)
            ifindex = self._can_ifindex(ifname, services)
        else:
            raise OSError(f"{caller}(): unsupported CAN protocol")
        size = self.lengths[self.const("AF_CAN")]
        return (self.st_can.pack(self.const("AF_CAN"), ifindex) + tail).ljust(size, b"\0")

    def decode_can(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        padded = raw.ljust(24, b"\0")
        _, ifindex = self.st_can.unpack_from(padded)
        ifname = _fs_decode(self._ifname(ifindex, services))
        _, _, isotp, j1939 = self.can_protos
        if proto == isotp:
            rx_id, tx_id = self.st_can_tp.unpack_from(padded, 8)
            return (ifname, rx_id, tx_id)
        if proto == j1939:
            name, pgn, addr = self.st_can_j1939.unpack_from(padded, 8)
            return (ifname, name, pgn, addr)
        return (ifname,)

    def encode_alg(self, address: object, caller: str, services: AddressServices, proto: int) -> bytes:
        # "ss|HH;AF_ALG address must be a tuple (type, name[, feat[, mask]])"
        message = "AF_ALG address must be a tuple (type, name[, feat[, mask]])"
        args = self._require_tuple(address, f"{caller}(): AF_ALG")
        if not 2 <= len(args) <= 4:
            raise TypeError(message)
        alg_type = _c_string_or(args[0], message)
        alg_name = _c_string_or(args[1], message)
        feat = c_uint_mask(args[2], 16) if len(args) > 2 else 0
        mask = c_uint_mask(args[3], 16) if len(args) > 3 else 0
        if len(alg_type) >= 14:
            raise ValueError("AF_ALG type too long.")
        if len(alg_name) >= 64:
            raise ValueError("AF_ALG name too long.")
        if self.order == ">":
            # "H" stores an unsigned short into the first half of the __u32 field.
            feat <<= 16
            mask <<= 16
        return self.st_alg.pack(self.const("AF_ALG"), alg_type, feat, mask, alg_name)

    def decode_alg(self, raw: bytes, services: AddressServices | None, proto: int) -> object:
        # "s#s#HH" with strnlen over the fixed arrays.
        _, alg_type, feat, mask, alg_name = self.st_alg.unpack_from(raw.ljust(88, b"\0"))
        return (
            alg_type.split(b"\0", 1)[0].decode("utf-8"),
            alg_name.split(b"\0", 1)[0].decode("utf-8"),
            feat,
            mask,
        )


def _codec_for(abi: ABI) -> _SockaddrCodec:
    """The codec of *abi*, built once per ABI (:func:`sansock._abi.derived`)."""
    return derived(abi, _SockaddrCodec)


def encode_address(
    family: int,
    address: object,
    abi: ABI,
    caller: str,
    services: AddressServices,
    *,
    proto: int = 0,
) -> bytes:
    """The raw ``struct sockaddr`` for *address* on a *family* socket
    (CPython's ``getsockaddrarg``); ``len()`` of the result is the addrlen.

    *caller* names the method in messages (``bind``, ``connect``,
    ``connect_ex``, ``sendto``, ``sendmsg``); *proto* is the socket's protocol
    (it selects the AF_CAN address form).  Host names are resolved through
    *services*; an unknown family raises ``OSError('{caller}(): bad family')``.
    """
    codec = _codec_for(abi)
    if (
        type(address) is tuple
        and len(address) == 2
        and type(address[0]) is str
        and type(address[1]) is int
        and family == codec.af_inet
    ):
        # An AF_INET pair encoded before (the types checked first: the
        # lookup hashes and compares only an exact str and int).
        raw = codec.inet_encoded.get(address)
        if raw is not None:
            return raw
    encoder = codec.encoders.get(family)
    if encoder is None:
        raise OSError(f"{caller}(): bad family")
    return encoder(address, caller, services, proto)


def decode_address(
    raw: bytes, abi: ABI, services: AddressServices | None = None, *, proto: int = 0
) -> object:
    """The Python value of a raw sockaddr, as CPython's ``makesockaddr``.

    ``b""`` (the kernel returned length 0) gives None; an unknown family gives
    ``(sa_family, sa_data)`` with the 14 ``sa_data`` bytes.  *services* maps
    interface indexes to names for AF_PACKET/AF_CAN (``''`` without it).
    """
    if not raw:
        return None
    codec = _codec_for(abi)
    if len(raw) == 16 and raw[:2] == codec.hdr_inet:
        # A whole sockaddr_in (the common case): decode_inet without the
        # family dispatch, the pairs of the few peers a program talks to kept
        # (bounded; recvfrom's fast path looks them up itself).
        pair = codec.inet_decoded.get(raw)
        if pair is None:
            # A new port (each accepted peer's): the host text is kept apart.
            packed = raw[4:8]
            host = codec.inet_hosts.get(packed)
            if host is None:
                host = ntop4(packed)
                if len(codec.inet_hosts) >= _NUMERIC_CACHE_SIZE:
                    codec.inet_hosts.clear()
                codec.inet_hosts[packed] = host
            pair = (host, (raw[2] << 8) | raw[3])
            if len(codec.inet_decoded) >= _NUMERIC_CACHE_SIZE:
                codec.inet_decoded.clear()
            codec.inet_decoded[raw] = pair
        return pair
    family = codec.family_of(raw)
    decoder = codec.decoders.get(family)
    if decoder is None:
        return (family, raw[2:16].ljust(14, b"\0"))
    return decoder(raw, services, proto)


def sockaddr_len(family: int, abi: ABI) -> int:
    """``getsockaddrlen``: the size of the family's sockaddr (the buffer size
    recvfrom/accept/getsockname use); ``OSError('getsockaddrlen: bad family')``."""
    try:
        return _codec_for(abi).lengths[family]
    except KeyError:
        raise OSError("getsockaddrlen: bad family") from None


def sockaddr_family(raw: bytes, abi: ABI) -> int:
    """``sa_family`` of a raw sockaddr on *abi* (missing bytes read as zero)."""
    return _codec_for(abi).family_of(raw)
