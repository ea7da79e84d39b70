"""The driver protocol (mypy-checked, never run).

Both shipped drivers are structurally ``sansock.Driver``; a class missing a
method, or with a wrong signature, is rejected where a Driver is expected.
"""

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

import sansock
from sansock import Binding, Driver
from sansock._abi import ABI
from sansock._address import AddressServices
from sansock_fake import FakeKernel
from sansock_native import NativeDriver


def check_both_drivers_are_drivers() -> None:
    native: Driver = NativeDriver()
    fake: Driver = FakeKernel()
    assert_type(sansock.using(native), Binding)
    assert_type(sansock.using(fake), Binding)
    services: AddressServices = FakeKernel()  # a driver resolves addresses too
    assert_type(native.abi, ABI)
    assert_type(fake.recv(3, 10, 0), bytes)
    assert_type(fake.recvmsg(3, 10, 64, 0), tuple[bytes, bytes, int, bytes])
    del services


class NoRecv:
    """A would-be driver with only a clock: not a Driver."""

    def monotonic_ns(self) -> int:
        return 0


def check_incomplete_drivers_are_rejected() -> None:
    sansock.using(NoRecv())  # type: ignore[arg-type]
    missing: Driver = NoRecv()  # type: ignore[assignment]
    del missing
