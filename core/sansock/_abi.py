"""The ABI value: every platform fact the core needs, passed in, never read.

The core encodes addresses and control messages for *a* platform, not for the
host it runs on.  Everything that differs between platforms -- constant values,
integer sizes, struct layouts, the CMSG alignment unit, errno numbers -- lives
in one immutable :class:`ABI` value.  The native driver builds the host's ABI
from the C headers at build time; the core ships profiles for the platforms we
test codecs against (``sansock._profiles``), so the darwin layout can be
exercised on Linux and the fake kernel can wear a platform's personality.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal, TypeVar

import attrs

__all__ = ["ABI", "CmsgLayout", "SockaddrLayout", "derived"]

_T = TypeVar("_T")


def _frozen_mapping(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(value))


def _frozen_texts(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class CmsgLayout:
    """``struct cmsghdr`` and the ``CMSG_*`` macros of one platform.

    Linux (``<bits/socket.h>``): ``size_t cmsg_len; int cmsg_level; int
    cmsg_type;`` aligned to ``sizeof(size_t)``.  Darwin (``<sys/socket.h>``):
    ``socklen_t cmsg_len; int cmsg_level; int cmsg_type;`` aligned to 4
    (``__DARWIN_ALIGN32``).
    """

    #: ``sizeof(cmsg_len)``: 8 on LP64 Linux, 4 on ILP32 Linux and on Darwin.
    len_size: int
    #: ``sizeof(struct cmsghdr)``.
    hdr_size: int
    #: Offsets of ``cmsg_level`` and ``cmsg_type`` inside the header.
    level_offset: int
    type_offset: int
    #: The alignment unit of ``CMSG_ALIGN`` (a power of two).
    align: int

    def aligned(self, n: int) -> int:
        """``CMSG_ALIGN(n)``."""
        mask = self.align - 1
        return (n + mask) & ~mask


@attrs.frozen
class SockaddrLayout:
    """``struct sockaddr_*`` facts of one platform.

    On BSD-derived systems every sockaddr starts with a ``uint8_t sa_len``
    byte followed by a ``uint8_t sa_family``; on Linux ``sa_family`` is a
    native-endian ``unsigned short`` at offset 0.
    """

    #: True on BSD/Darwin: ``sa_len`` byte then 1-byte family.
    has_sa_len: bool
    #: ``sizeof(((struct sockaddr_un *)0)->sun_path)``: 108 on Linux, 104 on Darwin.
    sun_path_size: int
    #: ``sizeof`` of each ``struct sockaddr_*`` the platform has, keyed by the
    #: struct name without ``struct`` (``"sockaddr_in6": 28``).
    sizes: Mapping[str, int] = attrs.field(converter=_frozen_mapping)


@attrs.frozen
class ABI:
    """One platform's layout facts and constant values.

    ``constants`` holds every integer constant of the platform's socket API
    under the stdlib ``socket`` module's names (``AF_INET``, ``SO_TYPE``,
    ``MSG_CTRUNC``...); ``errnos`` the ``errno`` values (``EAGAIN``...).  A
    profile that does not know a value leaves it out rather than guess.
    """

    name: str
    byteorder: Literal["little", "big"]
    sizeof_int: int
    sizeof_long: int
    sizeof_socklen_t: int
    sizeof_size_t: int
    cmsg: CmsgLayout
    sockaddr: SockaddrLayout
    iov_max: int
    somaxconn: int
    constants: Mapping[str, int] = attrs.field(converter=_frozen_mapping)
    errnos: Mapping[str, int] = attrs.field(converter=_frozen_mapping)
    #: Where the values come from (headers, man pages), for the reader.
    sources: tuple[str, ...] = ()
    #: ``strerror`` texts of the platform's C library by errno name, for a
    #: driver that wears this platform on another (the fake kernel with the
    #: darwin profile on Linux).  Empty: the driver's host answers (a native
    #: driver, or a profile of the platform the fake runs on).  ``gai_strerror``
    #: texts too, by ``EAI_*`` name (the fake's resolver errors on that platform).
    messages: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_texts)
    #: The per-ABI cache of :func:`derived`: values the codecs compute from
    #: this ABI once (not part of the value: no init, eq, hash or repr).
    _derived: dict[Callable[[ABI], object], object] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    def const(self, name: str) -> int:
        """The value of constant *name*; ``KeyError`` naming the profile if absent."""
        try:
            return self.constants[name]
        except KeyError:
            raise KeyError(f"the {self.name} ABI profile has no value for {name}") from None

    def errno(self, name: str) -> int:
        """The value of errno *name* (``"EAGAIN"``) on this platform."""
        try:
            return self.errnos[name]
        except KeyError:
            raise KeyError(f"the {self.name} ABI profile has no errno {name}") from None

    def errno_name(self, code: int) -> str | None:
        """The name of errno *code* on this platform (``"EAGAIN"`` for 35 on
        Darwin, 11 on Linux), or None; of two names of one value
        (``EWOULDBLOCK``), the first the profile lists."""
        for name, value in self.errnos.items():
            if value == code:
                return name
        return None

    def strerror(self, code: int) -> str | None:
        """``strerror(code)`` of this platform's C library from :attr:`messages`,
        or None when the profile does not carry the text."""
        name = self.errno_name(code)
        return None if name is None else self.messages.get(name)

    @property
    def socklen_max(self) -> int:
        """CPython's ``SOCKLEN_T_LIMIT``: ``min(socklen_t max, INT_MAX)``."""
        int_max = (1 << (8 * self.sizeof_int - 1)) - 1
        # socklen_t is unsigned on Linux and Darwin but CPython caps it at INT_MAX.
        return min(int_max, (1 << (8 * self.sizeof_socklen_t)) - 1)

    @property
    def ssize_max(self) -> int:
        """``PY_SSIZE_T_MAX`` for a build on this platform."""
        return (1 << (8 * self.sizeof_size_t - 1)) - 1


def derived(abi: ABI, build: Callable[[ABI], _T]) -> _T:
    """``build(abi)``, computed once per ABI value and kept with it.

    The one cache of what the core derives from an ABI (the sockaddr codec,
    the ``CMSG_*`` geometry, the timeout machine's numbers, a registry's
    resolved table...): keyed by *build*, stored on the ABI itself, so it
    lives exactly as long as the ABI and an ``attrs.evolve``-d copy starts
    empty.  (ABI values are unhashable, their mappings being mappingproxy
    objects, which is why the cache is not a dict keyed by ABI.)  Two threads
    may both build a value the first time; the last one stored wins, and both
    are equal.
    """
    cache = abi._derived
    try:
        return cache[build]  # type: ignore[return-value]
    except KeyError:
        value = cache[build] = build(abi)
        return value
