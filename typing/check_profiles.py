"""Types of the ABI profiles (mypy-checked, never run)."""

from collections.abc import Mapping
from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

from sansock._abi import ABI
from sansock._profiles import (
    DARWIN_ARM64,
    LINUX_AARCH64,
    LINUX_I386,
    LINUX_X86_64,
    PROFILES,
    get_profile,
)
from sansock._profiles.linux_x86_64 import CONSTANTS, ERRNOS


def check_profiles() -> None:
    assert_type(LINUX_X86_64, ABI)
    assert_type(LINUX_AARCH64, ABI)
    assert_type(LINUX_I386, ABI)
    assert_type(DARWIN_ARM64, ABI)
    assert_type(PROFILES, Mapping[str, ABI])
    assert_type(get_profile("linux-x86_64"), ABI)
    assert_type(CONSTANTS["AF_INET"], int)
    assert_type(ERRNOS["EAGAIN"], int)
    assert_type(LINUX_X86_64.constants, Mapping[str, int])


def check_rejected() -> None:
    get_profile(1)  # type: ignore[arg-type]
    PROFILES["x"] = LINUX_X86_64  # type: ignore[index]
    LINUX_X86_64.somaxconn = 1  # type: ignore[misc]
    LINUX_X86_64.constants["AF_INET"] = 3  # type: ignore[index]
