"""sansock_native: the real kernel, through CFFI.

:class:`NativeDriver` implements :class:`sansock.Driver` with one syscall
per call (out-of-line API mode: the C side is compiled at install time from
``_cdefs.h``, ``_helpers.h`` and ``_facts.h``).  :func:`host_abi` is the
host's :class:`sansock.ABI` as the C headers describe it at build time.

Importing this package without the built extension raises an ImportError
that says how to build it (``pip install -e .`` or ``make test``; a C
compiler and the Python headers are needed).
"""

from __future__ import annotations

from ._abi import host_abi, native_cmsg_len, native_cmsg_space, native_cmsg_walk
from ._native import NativeDriver

__all__ = [
    "NativeDriver",
    "host_abi",
    "native_cmsg_len",
    "native_cmsg_space",
    "native_cmsg_walk",
]
