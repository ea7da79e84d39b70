"""Types of the ABI value and the error classes (mypy-checked, never run)."""

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

import sansock
from sansock import ABI

def check_abi(abi: ABI) -> None:
    assert_type(abi.const("AF_INET"), int)
    assert_type(abi.cmsg.aligned(3), int)
    assert_type(abi.socklen_max, int)
    abi.name = "x"  # type: ignore[misc]

def check_errors() -> None:
    assert issubclass(sansock.gaierror, OSError)
    assert_type(sansock.timeout("timed out"), TimeoutError)
