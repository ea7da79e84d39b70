"""sansock: Python's socket module as a typed sans-IO core with swappable drivers."""

from __future__ import annotations

from ._abi import ABI, CmsgLayout, SockaddrLayout
from ._driver import Driver
from ._errors import error, gaierror, herror, timeout

__all__ = [
    "ABI",
    "CmsgLayout",
    "Driver",
    "SockaddrLayout",
    "error",
    "gaierror",
    "herror",
    "timeout",
]
