"""inet_pton/inet_ntop/inet_aton/inet_ntoa and the byte-order functions
against the host's CPython 3.11 (glibc) as the oracle: same results, same
exception types, same messages -- garbage included."""

from __future__ import annotations

import socket as stdlib_socket
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sansock._inet import (
    htonl,
    htons,
    inet_aton,
    inet_ntoa,
    inet_ntop,
    inet_pton,
    ntohl,
    ntohs,
)
from sansock._profiles import LINUX_X86_64

ABI = LINUX_X86_64


def outcome(func: Callable[..., Any], *args: object) -> tuple[str, object]:
    """``('ok', result)`` or ``(exception type name, str(exception))``."""
    try:
        return ("ok", func(*args))
    except Exception as exc:  # noqa: BLE001 -- the point is to compare them
        return (type(exc).__name__, str(exc))


V4_TEXT = st.text(alphabet="0123456789.xX abcdef\t\n", max_size=20)
V6_TEXT = st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=45)
GARBAGE = st.text(max_size=20)


def ipv6_packed() -> st.SearchStrategy[bytes]:
    word = st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x1234, 0xFE80])
    return st.lists(word, min_size=8, max_size=8).map(
        lambda ws: b"".join(w.to_bytes(2, "big") for w in ws)
    )


# -- inet_aton ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1", "127.1", "0x7f.1", "0X7F.0.0.1", "017.1", "08", "09.1", "0x", "0x.1", "1.",
        ".1", "1..2", "1.2.3.4.5", "1.2.3.4 junk", "1.2.3.4\tx", "1.2.3.4\n", "1.2.3.4x",
        "4294967295", "4294967296", "1.16777215", "1.16777216", "1.2.65535", "1.2.65536",
        "256.1.1.1", " 1.2.3.4", "+1", "-1", "", "1.2.3.4\xe9", "0xffffffffffffffffff",
        "99999999999999999999999", "1 ", "1.2.3.4\v",
    ],
)
def test_inet_aton_table(text: str) -> None:
    assert outcome(inet_aton, text) == outcome(stdlib_socket.inet_aton, text)


@settings(max_examples=400)
@given(st.one_of(V4_TEXT, GARBAGE))
def test_inet_aton_matches_glibc(text: str) -> None:
    assert outcome(inet_aton, text) == outcome(stdlib_socket.inet_aton, text)


@pytest.mark.parametrize("arg", [b"1.2.3.4", 1, None, "1\x00", "\udcff"])
def test_inet_aton_argument_errors(arg: object) -> None:
    assert outcome(inet_aton, arg) == outcome(stdlib_socket.inet_aton, arg)


# -- inet_ntoa ---------------------------------------------------------------


@pytest.mark.parametrize(
    "arg", [b"\x01\x02\x03\x04", bytearray(b"1234"), memoryview(b"\xff\0\0\x01"), b"123", b"12345", "1234", 1]
)
def test_inet_ntoa(arg: object) -> None:
    assert outcome(inet_ntoa, arg) == outcome(stdlib_socket.inet_ntoa, arg)


# -- inet_pton ---------------------------------------------------------------

PTON_CASES = [
    (2, "1.2.3.4"), (2, "01.2.3.4"), (2, "0.0.0.0"), (2, "256.1.1.1"), (2, "1.2.3"),
    (2, "1.2.3.4 "), (2, "127.1"), (10, "::"), (10, "::1"), (10, "1::"), (10, ":1"),
    (10, "1:"), (10, "1:::2"), (10, "1::2::3"), (10, "::ffff:1.2.3.4"), (10, "::1.2.3.4"),
    (10, "1:2:3:4:5:6:7:8"), (10, "1:2:3:4:5:6:7:8:9"), (10, "1:2:3:4:5:6:7::"),
    (10, "::2:3:4:5:6:7:8"), (10, "1:2:3:4:5:6:7::8"), (10, "12345::"), (10, "fe80::1%lo"),
    (10, "1:2:3:4:5:6:1.2.3.4"), (10, "1:2:3:4:5:6:7:1.2.3.4"), (10, "::1.2.3"),
    (10, "::01.2.3.4"), (10, "ABCD::"), (10, ""), (10, "1.2.3.4"), (2, "::1"),
    (99, "1.2.3.4"), ("2", "1.2.3.4"), (2, b"1.2.3.4"), (2**40, "1"), (2, "1\x00"),
    (2, "\udcff"), (1.0, "1"), (10, "::1:"), (10, "1::2:"),
]


@pytest.mark.parametrize(("family", "text"), PTON_CASES)
def test_inet_pton_table(family: object, text: object) -> None:
    assert outcome(inet_pton, family, text, ABI) == outcome(stdlib_socket.inet_pton, family, text)


@settings(max_examples=400)
@given(st.sampled_from([2, 10]), st.one_of(V6_TEXT, V4_TEXT, GARBAGE))
def test_inet_pton_matches_glibc(family: int, text: str) -> None:
    assert outcome(inet_pton, family, text, ABI) == outcome(stdlib_socket.inet_pton, family, text)


@settings(max_examples=300)
@given(ipv6_packed())
def test_inet_pton_parses_what_ntop_prints(packed: bytes) -> None:
    text = inet_ntop(10, packed, ABI)
    assert inet_pton(10, text, ABI) == packed


# -- inet_ntop ---------------------------------------------------------------


@settings(max_examples=400)
@given(st.one_of(ipv6_packed(), st.binary(min_size=16, max_size=16)))
@example(bytes(16))
@example(bytes(15) + b"\x01")
@example(bytes(10) + b"\xff\xff\x01\x02\x03\x04")
@example(bytes(12) + b"\x01\x02\x03\x04")
@example(bytes(12) + b"\x00\x00\x01\x02")
@example(b"\x00\x01" + bytes(2) + b"\x00\x02" + bytes(10))
def test_inet_ntop6_matches_glibc(packed: bytes) -> None:
    assert inet_ntop(10, packed, ABI) == stdlib_socket.inet_ntop(10, packed)


@given(st.binary(min_size=4, max_size=4))
def test_inet_ntop4_matches_glibc(packed: bytes) -> None:
    assert inet_ntop(2, packed, ABI) == stdlib_socket.inet_ntop(2, packed)


@pytest.mark.parametrize(
    ("family", "packed"),
    [(2, b"123"), (10, b"1234"), (99, b"1234"), (2, "1234"), ("2", b"1234"), (2**40, b"1234"), (2, bytearray(b"1234"))],
)
def test_inet_ntop_errors(family: object, packed: object) -> None:
    assert outcome(inet_ntop, family, packed, ABI) == outcome(stdlib_socket.inet_ntop, family, packed)


# -- byte order ----------------------------------------------------------------

ORDER_ARGS: list[object] = [
    0, 1, 0x1234, 65535, 65536, -1, 2**31, 2**32 - 1, 2**32, 2**40, -(2**40), 2**64, 2**70,
    1.0, "1", None, True,
]


@pytest.mark.parametrize("arg", ORDER_ARGS)
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(htons, stdlib_socket.htons), (ntohs, stdlib_socket.ntohs), (htonl, stdlib_socket.htonl), (ntohl, stdlib_socket.ntohl)],
    ids=["htons", "ntohs", "htonl", "ntohl"],
)
def test_byte_order_functions(ours: Callable[..., int], theirs: Callable[..., int], arg: object) -> None:
    assert outcome(ours, arg, ABI) == outcome(theirs, arg)
