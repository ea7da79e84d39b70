"""Kernel-side ``struct sockaddr`` parsing and building.

The fake kernel takes and gives raw sockaddr bytes exactly as Linux does, so
the core's address codecs run unchanged.  This module is the kernel's side of
that boundary: what ``net/unix/af_unix.c`` (``unix_validate_addr``,
``unix_mkname_bsd``, ``unix_autobind``), ``net/ipv4/af_inet.c``
(``inet_bind``) and ``net/ipv6/af_inet6.c`` (``inet6_bind``) read out of the
bytes userspace passes, and what ``getsockname``/``getpeername``/``recvfrom``
write back.
"""

from __future__ import annotations

import struct
from typing import Union

import attrs

from sansock.driver import ABI

from ._oserror import raise_errno

__all__ = [
    "UnixName",
    "InetName",
    "SocketName",
    "parse_unix",
    "parse_inet",
    "parse_inet6",
    "build_unix",
    "build_inet",
    "family_of",
]


@attrs.frozen
class UnixName:
    """An AF_UNIX name: a path (no NUL inside) or an abstract name (leading NUL).

    ``raw_path`` is exactly the ``sun_path`` bytes Linux stores: for a path
    name it includes the terminating NUL (``unix_mkname_bsd`` returns
    ``strlen + 1``), for an abstract name it is the bytes as given.
    """

    raw_path: bytes

    @property
    def is_abstract(self) -> bool:
        return self.raw_path[:1] == b"\0"

    @property
    def key(self) -> bytes:
        """The namespace key: the path without its NUL, or the whole abstract name."""
        return self.raw_path if self.is_abstract else self.raw_path.rstrip(b"\0")


@attrs.frozen
class InetName:
    """An AF_INET or AF_INET6 endpoint: packed address (4 or 16 bytes) and port."""

    family: int
    packed: bytes
    port: int
    flowinfo: int = 0
    scope_id: int = 0


SocketName = Union[UnixName, InetName]


def _endian(abi: ABI) -> str:
    return "<" if abi.byteorder == "little" else ">"


def family_of(abi: ABI, raw: bytes) -> int:
    """``sa_family`` of *raw*; -1 when the buffer is too short to hold one."""
    if len(raw) < 2:
        return -1
    if abi.sockaddr.has_sa_len:
        return raw[1]
    # struct.unpack(_endian(abi) + "H", raw[:2]), without the format string.
    return int.from_bytes(raw[:2], "little" if abi.byteorder == "little" else "big")


def _family_header(abi: ABI, family: int, total_len: int) -> bytes:
    if abi.sockaddr.has_sa_len:
        return bytes([total_len & 0xFF, family])
    return struct.pack(_endian(abi) + "H", family)


def parse_unix(abi: ABI, raw: bytes, *, for_bind: bool) -> UnixName | None:
    """Read a ``sockaddr_un``; ``None`` asks for autobind (``bind`` with family only).

    ``unix_validate_addr``: EINVAL when the length is not in
    ``(offsetof(sun_path), sizeof(sockaddr_un)]`` or the family is not AF_UNIX.
    ``unix_bind``: exactly ``offsetof(sun_path)`` bytes with AF_UNIX autobinds.
    """
    einval = abi.errno("EINVAL")
    if family_of(abi, raw) != abi.const("AF_UNIX"):
        raise_errno(einval)
    if len(raw) == 2 and for_bind:
        return None
    if len(raw) <= 2 or len(raw) > abi.sockaddr.sizes["sockaddr_un"]:
        raise_errno(einval)
    path = raw[2:]
    if path[:1] == b"\0":
        return UnixName(path)
    # unix_mkname_bsd: the path ends at the first NUL; the stored length
    # includes one terminating NUL.
    return UnixName(path.split(b"\0", 1)[0] + b"\0")


def build_unix(abi: ABI, name: UnixName | None) -> bytes:
    """The sockaddr Linux reports: family only (length 2) when unbound."""
    raw_path = b"" if name is None else name.raw_path
    return _family_header(abi, abi.const("AF_UNIX"), 2 + len(raw_path)) + raw_path


def parse_inet(abi: ABI, raw: bytes, *, for_bind: bool) -> InetName:
    """Read a ``sockaddr_in`` (``inet_bind``/``inet_stream_connect``/``udp_sendmsg``).

    EINVAL when shorter than ``sizeof(sockaddr_in)``; EAFNOSUPPORT for another
    family (``inet_bind``: AF_UNSPEC is accepted only with INADDR_ANY).
    """
    if len(raw) < abi.sockaddr.sizes["sockaddr_in"]:
        raise_errno(abi.errno("EINVAL"))
    family = family_of(abi, raw)
    if family != abi.const("AF_INET"):
        if not (for_bind and family == abi.const("AF_UNSPEC") and raw[4:8] == b"\0\0\0\0"):
            raise_errno(abi.errno("EAFNOSUPPORT"))
    (port,) = struct.unpack("!H", raw[2:4])
    return InetName(abi.const("AF_INET"), bytes(raw[4:8]), int(port))


def parse_inet6(abi: ABI, raw: bytes) -> InetName:
    """Read a ``sockaddr_in6`` (``inet6_bind``: EINVAL below SIN6_LEN_RFC2133 = 24)."""
    if len(raw) < 24:
        raise_errno(abi.errno("EINVAL"))
    if family_of(abi, raw) != abi.const("AF_INET6"):
        raise_errno(abi.errno("EAFNOSUPPORT"))
    (port,) = struct.unpack("!H", raw[2:4])
    (flowinfo,) = struct.unpack("!I", raw[4:8])
    scope_id = 0
    if len(raw) >= 28:
        (scope_id,) = struct.unpack(_endian(abi) + "I", raw[24:28])
    return InetName(abi.const("AF_INET6"), bytes(raw[8:24]), int(port), int(flowinfo), int(scope_id))


def build_inet(abi: ABI, name: InetName) -> bytes:
    """``sockaddr_in`` (16 bytes) or ``sockaddr_in6`` (28 bytes) as Linux fills them."""
    if name.family == abi.const("AF_INET"):
        size = abi.sockaddr.sizes["sockaddr_in"]
        body = struct.pack("!H", name.port) + name.packed
        raw = _family_header(abi, name.family, size) + body
        return raw + b"\0" * (size - len(raw))
    size = abi.sockaddr.sizes["sockaddr_in6"]
    raw = (
        _family_header(abi, name.family, size)
        + struct.pack("!HI", name.port, name.flowinfo)
        + name.packed
        + struct.pack(_endian(abi) + "I", name.scope_id)
    )
    return raw
