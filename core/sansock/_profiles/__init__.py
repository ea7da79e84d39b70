"""ABI profiles: the platform facts of the platforms sansock tests codecs for.

Each profile lives in its own module (``linux_x86_64.py``...) whose
``CONSTANTS`` and ``ERRNOS`` tables are pure literals, readable with
``ast.literal_eval`` by the native driver's build script.  This package only
collects them:

>>> get_profile("linux-x86_64").const("AF_INET6")
10
>>> sorted(PROFILES)[0]
'darwin-arm64'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sansock._abi import ABI
from sansock._profiles.darwin_arm64 import DARWIN_ARM64
from sansock._profiles.linux_aarch64 import LINUX_AARCH64
from sansock._profiles.linux_i386 import LINUX_I386
from sansock._profiles.linux_x86_64 import LINUX_X86_64

__all__ = [
    "DARWIN_ARM64",
    "LINUX_AARCH64",
    "LINUX_I386",
    "LINUX_X86_64",
    "PROFILES",
    "get_profile",
]

#: Every shipped profile, keyed by its name (``"linux-x86_64"``...).
PROFILES: Mapping[str, ABI] = MappingProxyType(
    {abi.name: abi for abi in (LINUX_X86_64, LINUX_AARCH64, LINUX_I386, DARWIN_ARM64)}
)


def get_profile(name: str) -> ABI:
    """The profile called *name*; ``KeyError`` listing the known names if absent."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise KeyError(f"no ABI profile named {name!r}; known profiles: {known}") from None
