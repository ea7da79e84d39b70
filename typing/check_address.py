"""Types of the address codecs and inet functions (mypy-checked, never run)."""

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

from sansock._abi import ABI
from sansock._address import (
    AddressServices,
    Inet4Address,
    Inet6Address,
    UnixAddress,
    decode_address,
    encode_address,
    sockaddr_family,
    sockaddr_len,
)
from sansock._driver import Driver
from sansock._inet import htonl, htons, inet_aton, inet_ntoa, inet_ntop, inet_pton


def check_driver_is_address_services(driver: Driver, abi: ABI) -> None:
    services: AddressServices = driver  # a Driver is structurally one
    assert_type(encode_address(2, ("127.0.0.1", 80), abi, "bind", services), bytes)
    assert_type(encode_address(29, ("can0",), abi, "bind", driver, proto=1), bytes)
    assert_type(decode_address(b"", abi), object)
    assert_type(decode_address(b"", abi, driver, proto=6), object)
    assert_type(sockaddr_len(2, abi), int)
    assert_type(sockaddr_family(b"\x02\x00", abi), int)
    encode_address(2, ("h", 1), abi, "bind", services, 6)  # type: ignore[call-arg]
    encode_address(2, ("h", 1), abi)  # type: ignore[call-arg]


def check_not_services(abi: ABI) -> None:
    encode_address(2, ("h", 1), abi, "bind", object())  # type: ignore[arg-type]


def check_shapes(unix: UnixAddress, v4: Inet4Address, v6: Inet6Address) -> None:
    assert_type(v4[1], int)
    assert_type(v6[3], int)
    v4_wrong: Inet4Address = ("h", 1, 2)  # type: ignore[assignment]
    unix_wrong: UnixAddress = 3  # type: ignore[assignment]


def check_inet(abi: ABI) -> None:
    assert_type(inet_pton(2, "1.2.3.4", abi), bytes)
    assert_type(inet_ntop(2, b"\x01\x02\x03\x04", abi), str)
    assert_type(inet_aton("1.2.3.4"), bytes)
    assert_type(inet_ntoa(b"1234"), str)
    assert_type(htons(1, abi), int)
    assert_type(htonl(1, abi), int)
