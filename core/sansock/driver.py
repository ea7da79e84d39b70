"""sansock.driver: everything a driver needs from the core, and nothing else.

A driver (the native one, the fake kernel, or yours) imports only ``sansock``
and this module; ``tests/test_layering.py`` checks it for the shipped drivers.

* the protocols: :class:`~sansock.Driver` (the syscall boundary) and the
  optional ``MmsgDriver``, ``PollCallDriver`` and ``DirectCalls`` capabilities, with the
  result shapes :data:`~sansock.driver.AddrInfo`,
  :data:`~sansock.driver.HostEnt` and ``Unfinished``;
* the platform description a driver returns as its ``abi``:
  :class:`~sansock.ABI` and its layouts :class:`~sansock.CmsgLayout` and
  :class:`~sansock.SockaddrLayout`;
* the shipped profiles (:data:`~sansock.driver.PROFILES`,
  :func:`~sansock.driver.get_profile`, :data:`~sansock.driver.LINUX_X86_64`...),
  for a driver that speaks a known platform;
* the resolver errors a driver raises: :class:`~sansock.gaierror`,
  :class:`~sansock.herror`; and :func:`~sansock.driver.errno_oserror`, the
  ``OSError`` of an errno as ``PyErr_SetFromErrno`` makes it (errno 0 too).

>>> from sansock.driver import get_profile
>>> get_profile("linux-x86_64").const("SOL_SOCKET")
1
"""

from __future__ import annotations

from ._abi import ABI, CmsgLayout, SockaddrLayout
from ._driver import (
    AddrInfo,
    ByteSlices,
    DirectCalls,
    Driver,
    HostEnt,
    MessageBlock,
    MmsgDriver,
    PollCallDriver,
    Unfinished,
)
from ._errors import errno_oserror, gaierror, herror
from ._profiles import DARWIN_ARM64, LINUX_AARCH64, LINUX_I386, LINUX_X86_64, PROFILES, get_profile

__all__ = [
    "ABI",
    "DARWIN_ARM64",
    "LINUX_AARCH64",
    "LINUX_I386",
    "LINUX_X86_64",
    "PROFILES",
    "AddrInfo",
    "ByteSlices",
    "CmsgLayout",
    "DirectCalls",
    "Driver",
    "HostEnt",
    "MessageBlock",
    "MmsgDriver",
    "PollCallDriver",
    "SockaddrLayout",
    "Unfinished",
    "errno_oserror",
    "gaierror",
    "get_profile",
    "herror",
]
