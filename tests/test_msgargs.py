"""sendmsg/recvmsg/recvmsg_into argument parsing against CPython 3.11.

The oracle is the stdlib called on a *closed* socket: argument parsing and
the checks before the syscall run first, and a call that passes them all
reaches the kernel with fd -1 and fails with EBADF.  So "our parser accepts"
must line up with "the stdlib fails with EBADF", and every other outcome
(type and message) must be equal.
"""

from __future__ import annotations

import array
import ctypes
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansock._convert import (
    RecvmsgArgs,
    bytes_like,
    check_ancbufsize,
    is_sequence,
    arg_int,
    arg_ssize,
    recvmsg_args,
    recvmsg_into_args,
    recvmsg_into_buffers,
    sendmsg_buffers,
    sequence_fast,
    tp_name,
)
from sansock._profiles import PROFILES

HOST = PROFILES["linux-x86_64"]
I386 = PROFILES["linux-i386"]
host_only = pytest.mark.skipif(
    not (sys.platform == "linux" and struct.calcsize("P") == 8),
    reason="the oracle is CPython on 64-bit Linux",
)

Outcome = tuple[str, str]
ACCEPTED: Outcome = ("accepted", "")


def outcome(call: Callable[[], object]) -> Outcome:
    try:
        call()
    except OSError as exc:
        # An errno (EBADF on fd -1, or EINVAL for flags the kernel checks
        # first): the stdlib's checks passed and it reached the syscall.
        if exc.errno is not None:
            return ACCEPTED
        return (type(exc).__name__, str(exc))
    except Exception as exc:  # noqa: BLE001 -- the outcome is what we compare
        return (type(exc).__name__, str(exc))
    return ACCEPTED


@pytest.fixture(scope="module")
def closed() -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.close()
    return sock


class Index:
    def __index__(self) -> int:
        return 7


class BadIndex:
    def __index__(self) -> int:
        raise LookupError("no index")


INT_ARGUMENTS: list[object] = [
    0,
    -1,
    True,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**70,
    -(2**70),
    "x",
    b"x",
    1.5,
    1.0,
    None,
    Index(),
    BadIndex(),
]


# -- "i" and "n" ----------------------------------------------------------------


@host_only
@pytest.mark.parametrize("flags", INT_ARGUMENTS, ids=repr)
def test_parse_c_int_matches_sendmsg_flags(closed: socket.socket, flags: Any) -> None:
    assert outcome(lambda: arg_int(flags)) == outcome(lambda: closed.sendmsg([b""], [], flags))
    assert outcome(lambda: arg_int(flags, HOST)) == outcome(lambda: arg_int(flags))


@host_only
@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.integers(-(2**80), 2**80), st.integers(-(2**32), 2**32)))
def test_parse_c_int_matches_stdlib_for_any_int(closed: socket.socket, value: int) -> None:
    mine = outcome(lambda: arg_int(value))
    assert mine == outcome(lambda: closed.sendmsg([b""], [], value))
    if mine == ACCEPTED:
        assert arg_int(value) == value


def test_parse_c_int_messages() -> None:
    with pytest.raises(OverflowError, match="^signed integer is greater than maximum$"):
        arg_int(2**31)
    with pytest.raises(OverflowError, match="^signed integer is less than minimum$"):
        arg_int(-(2**31) - 1)
    with pytest.raises(OverflowError, match="^Python int too large to convert to C long$"):
        arg_int(2**70)
    with pytest.raises(TypeError, match="^'str' object cannot be interpreted as an integer$"):
        arg_int("x")
    assert type(arg_int(True)) is int and arg_int(Index()) == 7


def test_parse_on_32_bit_profile() -> None:
    # ILP32: long is int-sized, so PyLong_AsLong already overflows at 2**31.
    with pytest.raises(OverflowError, match="^Python int too large to convert to C long$"):
        arg_int(2**31, I386)
    with pytest.raises(OverflowError, match="^Python int too large to convert to C ssize_t$"):
        arg_ssize(2**31, I386)
    assert arg_ssize(-(2**31), I386) == -(2**31)
    assert arg_ssize(2**63 - 1) == 2**63 - 1
    with pytest.raises(OverflowError, match="^Python int too large to convert to C ssize_t$"):
        arg_ssize(-(2**63) - 1)


# -- recvmsg ---------------------------------------------------------------------

RECVMSG_ARGS: list[tuple[object, ...]] = [
    (0,),
    (10, 0, 0),
    (-1,),
    (-1, -1),
    (-1, "x"),
    ("x", -1),
    (1, -1),
    (1, 2**31 - 1),
    (1, 2**31),
    (1, 2**63),
    (2**63,),
    (-(2**63) - 1,),
    (1, "x"),
    (1, 1.0),
    (1, 0, "x"),
    (1, 0, 2**31),
    (1, 0, 1.0),
    (-1, 0, "x"),
    (1.5,),
    (Index(), Index(), Index()),
]


@host_only
@pytest.mark.parametrize("args", RECVMSG_ARGS, ids=repr)
def test_recvmsg_checks_match_stdlib(closed: socket.socket, args: tuple[Any, ...]) -> None:
    parse: Any = recvmsg_args  # *args may be 1 to 3 of its positional parameters

    def mine() -> None:
        parsed = parse(*args, abi=HOST)
        # (the caller's getsockaddrlen(family) runs here)
        check_ancbufsize(parsed.ancbufsize, HOST)

    assert outcome(mine) == outcome(lambda: closed.recvmsg(*args))


def test_recvmsg_args_result() -> None:
    assert recvmsg_args(10) == RecvmsgArgs(10, 0, 0)
    assert recvmsg_args(Index(), True, Index()) == (7, 1, 7)
    # The range check is separate so the family check can run in between.
    assert recvmsg_args(1, -5).ancbufsize == -5
    with pytest.raises(ValueError, match="^invalid ancillary data buffer length$"):
        check_ancbufsize(-5, HOST)
    assert check_ancbufsize(HOST.socklen_max, HOST) == HOST.socklen_max


# -- recvmsg_into ----------------------------------------------------------------


def _released() -> memoryview:
    view = memoryview(bytearray(1))
    view.release()
    return view


BAD_INTO_BUFFERS: list[object] = [
    5,
    None,
    [b"ab"],
    bytearray(3),
    b"",
    [bytearray(2), b"x"],
    [memoryview(bytearray(4))[::2]],
    [memoryview(bytearray(2)).toreadonly()],
    [_released()],
    ["s"],
    [None],
    [array.array("i", [1]), 3],
]
GOOD_INTO_BUFFERS: list[object] = [
    [],
    [bytearray(2)],
    (bytearray(2), memoryview(bytearray(3))),
    [array.array("d", [1.0])],
    [(ctypes.c_int * 3)()],
    [memoryview(bytearray(8)).cast("i", (2,))],
]


@host_only
@pytest.mark.parametrize("buffers", BAD_INTO_BUFFERS + GOOD_INTO_BUFFERS, ids=lambda b: repr(b)[:40])
@pytest.mark.parametrize("ancbufsize", [0, -1, "x"])
def test_recvmsg_into_checks_match_stdlib(closed: socket.socket, buffers: Any, ancbufsize: Any) -> None:
    def mine() -> None:
        parsed = recvmsg_into_args(buffers, ancbufsize, 0, HOST)
        check_ancbufsize(parsed.ancbufsize, HOST)

    assert outcome(mine) == outcome(lambda: closed.recvmsg_into(buffers, ancbufsize))


def test_recvmsg_into_views_write_through() -> None:
    target = bytearray(4)
    numbers = array.array("i", [0, 0])
    views = recvmsg_into_buffers(iter([target, numbers]))
    assert [len(view) for view in views] == [4, 8]
    assert all(view.format == "B" and not view.readonly for view in views)
    views[0][:] = b"abcd"
    views[1][:4] = struct.pack("i", 42)
    assert target == b"abcd" and numbers[0] == 42
    for view in views:
        view.release()
    target.append(0)  # no export left


def test_recvmsg_into_releases_views_on_error() -> None:
    target = bytearray(4)
    with pytest.raises(TypeError, match="single-segment read-write buffers$"):
        recvmsg_into_buffers([target, b"ro"])
    target.append(0)


# -- sendmsg buffers ---------------------------------------------------------------

BAD_SEND_BUFFERS: list[object] = [
    5,
    None,
    b"abc",
    ["s"],
    [b"a", "s"],
    [None],
    [memoryview(b"abcdef")[::2]],
    [_released()],
    [memoryview(bytearray(4))[::2]],
    [{}],
]
GOOD_SEND_BUFFERS: list[object] = [
    [],
    [b"a", bytearray(b"b"), memoryview(b"c")],
    (array.array("i", [1, 2]),),
    "",
    [(ctypes.c_int * 2)()],
]


@host_only
@pytest.mark.parametrize("buffers", BAD_SEND_BUFFERS + GOOD_SEND_BUFFERS, ids=lambda b: repr(b)[:40])
def test_sendmsg_buffers_match_stdlib(closed: socket.socket, buffers: Any) -> None:
    assert outcome(lambda: sendmsg_buffers(buffers)) == outcome(lambda: closed.sendmsg(buffers))


@host_only
def test_sendmsg_buffers_from_a_failing_iterator(closed: socket.socket) -> None:
    def parts() -> Iterator[Any]:
        yield b"x"
        raise LookupError("from the iterator")

    assert outcome(lambda: sendmsg_buffers(parts())) == outcome(lambda: closed.sendmsg(parts()))


def test_sendmsg_buffers_are_flat_bytes() -> None:
    views = sendmsg_buffers([array.array("h", [1, 2, 3]), b"xy", (ctypes.c_char * 3).from_buffer_copy(b"abc")])
    assert [bytes(view) for view in views] == [struct.pack("3h", 1, 2, 3), b"xy", b"abc"]
    assert [len(view) for view in views] == [6, 2, 3]


# -- building blocks -----------------------------------------------------------------


def test_bytes_like_messages() -> None:
    with pytest.raises(TypeError, match="^a bytes-like object is required, not 'str'$") as info:
        bytes_like("s")
    assert info.value.__context__ is None
    with pytest.raises(BufferError, match="^memoryview: underlying buffer is not C-contiguous$"):
        bytes_like(memoryview(b"abcd")[::2])


def test_tp_name() -> None:
    import collections

    assert tp_name("s") == "str"
    assert tp_name(Index()) == "Index"
    assert tp_name(collections.OrderedDict()) == "collections.OrderedDict"


def test_is_sequence_is_pysequence_check() -> None:
    import types

    assert is_sequence([]) and is_sequence("abc") and is_sequence(range(2)) and is_sequence(Index.__mro__)
    assert not is_sequence({}) and not is_sequence(types.MappingProxyType({})) and not is_sequence(5)
    assert not is_sequence(list)  # list[int] is the metaclass's __getitem__


def test_sequence_fast_keeps_lists_and_tuples() -> None:
    items = [1, 2]
    assert sequence_fast(items, "m") is items
    assert sequence_fast(iter(items), "m") == [1, 2]
    with pytest.raises(TypeError, match="^m$") as info:
        sequence_fast(5, "m")
    assert info.value.__context__ is None
