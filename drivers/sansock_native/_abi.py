"""The host's ABI value, produced from the C headers at build time.

``_facts.h`` and the tables ``_build.py`` generates hold every constant of
the linux-x86_64 profile's name list that the host's headers define, the
errno values, the ``struct sockaddr_*`` sizes and the ``cmsghdr`` layout;
IOV_MAX comes from ``sysconf(_SC_IOV_MAX)`` (sysconf(3)) at run time.
"""

from __future__ import annotations

import functools
import os
from typing import Literal

from sansock.driver import ABI, CmsgLayout, SockaddrLayout

from ._lib import ffi, lib

__all__ = ["host_abi", "native_cmsg_len", "native_cmsg_space", "native_cmsg_walk"]

_CONSTANTS, _ERRNOS, _SIZES = 0, 1, 2


def _table(table: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in range(lib.sansock_table_size(table)):
        raw = ffi.string(lib.sansock_table_name(table, i))
        assert isinstance(raw, bytes)
        out[raw.decode("ascii")] = lib.sansock_table_value(table, i)
    return out


#: What ``sansock_layout`` (``_facts.h``) writes, in its order.
_LAYOUT_FACTS = (
    "sizeof_int",
    "sizeof_long",
    "sizeof_socklen_t",
    "sizeof_size_t",
    "cmsg_len_size",  # sizeof(((struct cmsghdr *)0)->cmsg_len)
    "cmsghdr_size",  # sizeof(struct cmsghdr)
    "cmsg_level_offset",
    "cmsg_type_offset",
    "cmsg_align",  # CMSG_ALIGN(1)
    "sun_path_size",
    "somaxconn",
    "sockaddr_storage_size",
    "little_endian",
)


def _layout_facts() -> dict[str, int]:
    """The host's layout facts, by name (``sansock_layout``)."""
    out = ffi.new("long long[]", len(_LAYOUT_FACTS))
    lib.sansock_layout(out)
    return dict(zip(_LAYOUT_FACTS, (int(v) for v in ffi.unpack(out, len(_LAYOUT_FACTS)))))


@functools.lru_cache(maxsize=None)
def host_abi() -> ABI:
    """The host's :class:`sansock.ABI`, read once from the compiled extension."""
    facts = _layout_facts()
    byteorder: Literal["little", "big"] = "little" if facts["little_endian"] else "big"
    storage = facts["sockaddr_storage_size"]
    if storage != 128:  # pragma: no cover - _native.py sizes its scratch by it
        raise ImportError(f"sansock_native: unexpected sizeof(struct sockaddr_storage) {storage}")
    return ABI(
        name=f"{os.uname().sysname.lower()}-{os.uname().machine}",
        byteorder=byteorder,
        sizeof_int=facts["sizeof_int"],
        sizeof_long=facts["sizeof_long"],
        sizeof_socklen_t=facts["sizeof_socklen_t"],
        sizeof_size_t=facts["sizeof_size_t"],
        cmsg=CmsgLayout(
            len_size=facts["cmsg_len_size"],
            hdr_size=facts["cmsghdr_size"],
            level_offset=facts["cmsg_level_offset"],
            type_offset=facts["cmsg_type_offset"],
            align=facts["cmsg_align"],
        ),
        sockaddr=SockaddrLayout(
            has_sa_len=False,  # Linux: no sa_len byte (<bits/sockaddr.h>)
            sun_path_size=facts["sun_path_size"],
            sizes=_table(_SIZES),
        ),
        iov_max=lib.sansock_iov_max(),
        somaxconn=facts["somaxconn"],
        constants=_table(_CONSTANTS),
        errnos=_table(_ERRNOS),
        sources=("the host's C headers, read by sansock_native's CFFI build",),
    )


def native_cmsg_len(n: int) -> int:
    """The C library's ``CMSG_LEN(n)`` (cmsg(3))."""
    return lib.sansock_cmsg_len(n)


def native_cmsg_space(n: int) -> int:
    """The C library's ``CMSG_SPACE(n)`` (cmsg(3))."""
    return lib.sansock_cmsg_space(n)


def native_cmsg_walk(control: bytes, max_items: int = 64) -> list[tuple[int, int, int, int, int]]:
    """Walk *control* with the real ``CMSG_FIRSTHDR``/``CMSG_NXTHDR``.

    One ``(offset, cmsg_len, level, type, data offset)`` per header, as
    CPython's ``sock_recvmsg_guts`` visits them.
    """
    # A copy, aligned by the allocator as a real control buffer would be.
    buf = ffi.new("char[]", max(len(control), 1))
    ffi.memmove(buf, control, len(control))
    out = ffi.new("long long[]", 5 * max_items)
    n = lib.sansock_cmsg_walk(buf, len(control), out, max_items)
    flat = [int(v) for v in ffi.unpack(out, 5 * n)]
    return [
        (flat[5 * i], flat[5 * i + 1], flat[5 * i + 2], flat[5 * i + 3], flat[5 * i + 4])
        for i in range(n)
    ]
