"""CMSG_LEN/CMSG_SPACE and the control-buffer codecs against CPython 3.11 and Linux.

The host stdlib is the oracle for linux-x86_64: exact values, exception types
and messages.  The real kernel checks the bytes we pack (sent with libc's
``sendmsg`` through ctypes, received with the stdlib) and provides the bytes
we unpack (received with libc's ``recvmsg`` through ctypes, compared with what
the stdlib's ``recvmsg`` makes of the same scenario).  Darwin and the
malformed buffers a Linux kernel never returns are checked against the C
macros read from glibc 2.36 and XNU (see ``sansock._cmsg``).
"""

from __future__ import annotations

import array
import ctypes
import mmap
import os
import socket
import struct
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansock._abi import ABI
from sansock._cmsg import (
    TRUNCATION_WARNING,
    Ancdata,
    cmsg_len,
    cmsg_space,
    pack_ancdata,
    scm_rights_fds,
    unpack_ancdata,
)
from sansock._profiles import PROFILES

HOST = PROFILES["linux-x86_64"]
DARWIN = PROFILES["darwin-arm64"]
I386 = PROFILES["linux-i386"]
ALL_PROFILES = sorted(PROFILES.values(), key=lambda abi: abi.name)
LINUX_HOST = sys.platform == "linux" and struct.calcsize("P") == 8

host_only = pytest.mark.skipif(not LINUX_HOST, reason="the oracle is CPython on x86-64/aarch64 Linux")

Outcome = tuple[str, object]


def outcome(call: Callable[[], object]) -> Outcome:
    """``("ok", value)`` or ``(exception type name, str(exception))``."""
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 -- the outcome is what we compare
        return (type(exc).__name__, str(exc))


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    before = open_fds()
    yield
    # listdir's own directory fd is gone by the time it returns.
    assert open_fds() - before == set()


# -- CMSG_LEN / CMSG_SPACE ----------------------------------------------------

LEN_LAST = HOST.socklen_max - 16  # 2147483631
SPACE_LAST = HOST.socklen_max - 24  # 2147483623
ODD_ARGUMENTS: list[object] = [
    -1,
    -(2**63),
    -(2**63) - 1,
    LEN_LAST,
    LEN_LAST + 1,
    SPACE_LAST,
    SPACE_LAST + 1,
    SPACE_LAST + 7,
    2**31,
    sys.maxsize,
    2**63,
    2**70,
    "x",
    1.0,
    None,
    True,
]


@host_only
@pytest.mark.parametrize("argument", ODD_ARGUMENTS, ids=repr)
def test_cmsg_len_and_space_boundaries_match_stdlib(argument: Any) -> None:
    assert outcome(lambda: cmsg_len(argument, HOST)) == outcome(lambda: socket.CMSG_LEN(argument))
    assert outcome(lambda: cmsg_space(argument, HOST)) == outcome(
        lambda: socket.CMSG_SPACE(argument)
    )


@host_only
def test_cmsg_len_and_space_match_stdlib_over_a_range() -> None:
    for n in range(4097):
        assert cmsg_len(n, HOST) == socket.CMSG_LEN(n)
        assert cmsg_space(n, HOST) == socket.CMSG_SPACE(n)


def test_cmsg_len_and_space_messages() -> None:
    with pytest.raises(OverflowError, match=r"^CMSG_LEN\(\) argument out of range$"):
        cmsg_len(LEN_LAST + 1, HOST)
    with pytest.raises(OverflowError, match=r"^CMSG_SPACE\(\) argument out of range$"):
        cmsg_space(-1, HOST)
    with pytest.raises(OverflowError, match="^Python int too large to convert to C ssize_t$"):
        cmsg_space(2**63, HOST)
    with pytest.raises(TypeError, match="^'str' object cannot be interpreted as an integer$"):
        cmsg_len("x", HOST)
    assert cmsg_len(LEN_LAST, HOST) == 2147483647
    assert cmsg_space(SPACE_LAST, HOST) == 2147483640


def test_darwin_cmsg_macros() -> None:
    # XNU: CMSG_LEN(l) = __DARWIN_ALIGN32(sizeof(struct cmsghdr)) + l,
    # CMSG_SPACE(l) = __DARWIN_ALIGN32(sizeof(struct cmsghdr)) + __DARWIN_ALIGN32(l).
    assert [cmsg_len(n, DARWIN) for n in (0, 1, 4, 5)] == [12, 13, 16, 17]
    assert [cmsg_space(n, DARWIN) for n in (0, 1, 4, 5, 12)] == [12, 16, 16, 20, 24]
    assert cmsg_len(2**31 - 13, DARWIN) == 2**31 - 1
    with pytest.raises(OverflowError, match=r"^CMSG_LEN\(\) argument out of range$"):
        cmsg_len(2**31 - 12, DARWIN)
    assert cmsg_space(2**31 - 1 - 16, DARWIN) == 2**31 - 4
    with pytest.raises(OverflowError, match=r"^CMSG_SPACE\(\) argument out of range$"):
        cmsg_space(2**31 - 16, DARWIN)


def test_i386_ssize_t_is_32_bits() -> None:
    assert cmsg_len(0, I386) == 12 and cmsg_space(1, I386) == 16
    with pytest.raises(OverflowError, match="^Python int too large to convert to C ssize_t$"):
        cmsg_len(2**31, I386)
    with pytest.raises(OverflowError, match=r"^CMSG_LEN\(\) argument out of range$"):
        cmsg_len(2**31 - 1, I386)


@pytest.mark.parametrize("abi", ALL_PROFILES, ids=lambda abi: abi.name)
def test_stdlib_guarantees_for_every_profile(abi: ABI) -> None:
    # Lib/test/test_socket.py CmsgMacroTests: CMSG_LEN(n) - CMSG_LEN(0) == n,
    # CMSG_SPACE monotonic and >= CMSG_LEN(n); -1, toobig and maxsize raise.
    previous = 0
    for n in [*range(200), abi.socklen_max - cmsg_space(1, abi)]:
        assert cmsg_len(n, abi) - cmsg_len(0, abi) == n
        assert cmsg_space(n, abi) >= max(cmsg_len(n, abi), previous)
        previous = cmsg_space(n, abi)
    for bad in (-1, abi.socklen_max - cmsg_len(0, abi) + 1, abi.ssize_max):
        with pytest.raises(OverflowError):
            cmsg_len(bad, abi)
        with pytest.raises(OverflowError):
            cmsg_space(bad, abi)


# -- pack_ancdata: validation against the stdlib -----------------------------


class Unretrievable:
    def __getitem__(self, index: int) -> int:
        raise KeyError(index)

    def __len__(self) -> int:
        return 3


class NoLen:
    def __getitem__(self, index: int) -> int:
        return 1


def _released() -> memoryview:
    view = memoryview(b"x")
    view.release()
    return view


BAD_ANCDATA: list[object] = [
    5,
    None,
    [object()],
    [None],
    [b"abc"],
    [(1, 2)],
    [(1, 2, 3, 4)],
    ["abc"],
    [(1.0, 2, b"")],
    [(2**31, 2, b"")],
    [(-(2**31) - 1, 2, b"")],
    [(2**70, 2, b"")],
    [(-(2**70), 2, b"")],
    [(1, "x", b"")],
    [(1, 2, "s")],
    [(1, 2, None)],
    [(1, 2, memoryview(b"abcdef")[::2])],
    [(1, 2, _released())],
    [Unretrievable()],
    [NoLen()],
    [{1: 1, 2: 2, 3: 3}],
    [bytearray(b"abc")],
    [range(3)],
    [(1, 2, b"x"), 5],
    [(1, 2, b"x"), (1, 2)],
]


@host_only
@pytest.mark.parametrize("ancdata", BAD_ANCDATA, ids=lambda value: repr(value)[:40])
def test_bad_ancdata_matches_stdlib(ancdata: Any) -> None:
    mine = outcome(lambda: pack_ancdata(ancdata, HOST))
    left, right = socket.socketpair()
    with left, right:
        theirs = outcome(lambda: left.sendmsg([b"x"], ancdata))
        # The same items through an iterator (PySequence_Fast makes a list).
        if isinstance(ancdata, list):
            assert outcome(lambda: pack_ancdata(iter(ancdata), HOST)) == theirs
    assert mine[0] != "ok"
    assert mine == theirs


@host_only
def test_errors_raised_while_iterating_ancdata_propagate() -> None:
    def items() -> Iterator[Any]:
        yield (1, 1, b"x")
        raise LookupError("from the iterator")

    left, right = socket.socketpair()
    with left, right:
        theirs = outcome(lambda: left.sendmsg([b"x"], items()))
    assert outcome(lambda: pack_ancdata(items(), HOST)) == theirs == ("LookupError", "from the iterator")


@host_only
def test_size_limits_match_stdlib() -> None:
    # mmap'ed anonymous memory is only reserved, never touched: neither side
    # copies the data before the size checks fail.
    with mmap.mmap(-1, 2**31) as huge, mmap.mmap(-1, 2**30) as big:
        cases: list[Any] = [
            [(1, 1, huge)],  # CMSG_SPACE(2**31) is out of range
            [(1, 1, memoryview(huge)[: SPACE_LAST + 1])],
            [(1, 1, big), (1, 1, big)],  # 2 * CMSG_SPACE(2**30) > SOCKLEN_T_LIMIT
            [(1, 1, huge), 5],  # the size check of item 0 comes before item 1's parse
        ]
        left, right = socket.socketpair()
        with left, right:
            for ancdata in cases:
                mine = outcome(lambda: pack_ancdata(ancdata, HOST))
                theirs = outcome(lambda: left.sendmsg([b"x"], ancdata))
                assert mine == theirs
                assert mine[0] == "OSError"
        del cases, ancdata  # release the memoryview before the mmap closes
    with pytest.raises(OSError, match="^too much ancillary data$") as info:
        pack_ancdata([(1, 1, bytes(SPACE_LAST - 100)), (1, 1, bytes(100))], HOST)
    assert info.value.errno is None


def test_empty_ancdata_is_no_control_buffer() -> None:
    assert pack_ancdata([], HOST) == b""
    assert pack_ancdata((), DARWIN) == b""
    assert pack_ancdata(iter([]), HOST) == b""


def test_pack_layout_linux_x86_64() -> None:
    packed = pack_ancdata([(1, 1, b"abcd"), (-1, 2**31 - 1, b"x" * 9)], HOST)
    # CMSG_SPACE(4) + CMSG_SPACE(9) = 24 + 32; last cmsg_len is CMSG_LEN(9) = 25.
    assert packed == (
        struct.pack("<Qii", 20, 1, 1) + b"abcd" + bytes(4)
        + struct.pack("<Qii", 25, -1, 2**31 - 1) + b"x" * 9 + bytes(7)
    )


def test_pack_layout_darwin() -> None:
    packed = pack_ancdata([(0xFFFF, 1, array.array("i", [3, 4, 5])), (6, 7, b"")], DARWIN)
    assert packed == (
        struct.pack("<Iii", 24, 0xFFFF, 1) + struct.pack("<3i", 3, 4, 5)
        + struct.pack("<Iii", 12, 6, 7)
    )


def test_pack_releases_buffers_on_error() -> None:
    data = bytearray(b"abc")
    with pytest.raises(TypeError):
        pack_ancdata([(1, 1, data), (1, 1, "s")], HOST)
    data.append(1)  # BufferError if a view still exported it
    pack_ancdata([(1, 1, data)], HOST)
    data.append(2)


# -- the real kernel: ctypes sendmsg/recvmsg on raw control buffers ----------


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_Iovec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


_libc = ctypes.CDLL(None, use_errno=True)


def raw_sendmsg(fd: int, data: bytes, control: bytes) -> int:
    """libc ``sendmsg`` with a control buffer we built."""
    payload = ctypes.create_string_buffer(data, len(data))
    iov = _Iovec(ctypes.cast(payload, ctypes.c_void_p), len(data))
    cbuf = ctypes.create_string_buffer(control, len(control))
    msg = _Msghdr(None, 0, ctypes.pointer(iov), 1, ctypes.cast(cbuf, ctypes.c_void_p) if control else None, len(control), 0)
    sent = _libc.sendmsg(fd, ctypes.byref(msg), 0)
    if sent < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(sent)


def raw_recvmsg(fd: int, bufsize: int, ancbufsize: int) -> tuple[bytes, bytes, int]:
    """libc ``recvmsg``: (data, the control bytes the kernel wrote, msg_flags)."""
    payload = ctypes.create_string_buffer(bufsize)
    iov = _Iovec(ctypes.cast(payload, ctypes.c_void_p), bufsize)
    cbuf = ctypes.create_string_buffer(max(ancbufsize, 1))
    msg = _Msghdr(None, 0, ctypes.pointer(iov), 1, ctypes.cast(cbuf, ctypes.c_void_p) if ancbufsize else None, ancbufsize, 0)
    received = _libc.recvmsg(fd, ctypes.byref(msg), 0)
    if received < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return payload.raw[:received], cbuf.raw[: msg.msg_controllen], msg.msg_flags


def describe(ancdata: list[tuple[int, int, bytes]]) -> list[tuple[int, int, object]]:
    """Items with SCM_RIGHTS fds replaced by the inodes they refer to; closes the fds."""
    described: list[tuple[int, int, object]] = []
    for level, kind, data in ancdata:
        if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            described.append((level, kind, (len(data), [os.fstat(fd).st_ino for fd in fds])))
            for fd in fds:
                os.close(fd)
        else:
            described.append((level, kind, data))
    return described


@pytest.fixture
def pipes() -> Iterator[list[int]]:
    fds: list[int] = []
    for _ in range(2):
        fds.extend(os.pipe())
    yield fds[:3]
    for fd in fds:
        os.close(fd)


@host_only
@pytest.mark.usefixtures("no_fd_leak")
def test_kernel_accepts_packed_buffers(pipes: list[int]) -> None:
    creds = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
    rights = array.array("i", pipes)
    scenarios: list[list[tuple[int, int, Any]]] = [
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)],
        [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)],
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights[:1]), (socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)],
    ]
    for ancdata in scenarios:
        results = []
        for send in ("stdlib", "sansock"):
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            with left, right:
                right.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
                if send == "stdlib":
                    assert left.sendmsg([b"data"], ancdata) == 4
                else:
                    assert raw_sendmsg(left.fileno(), b"data", pack_ancdata(ancdata, HOST)) == 4
                data, received, flags, _ = right.recvmsg(100, 4096)
                results.append((data, describe(received), flags))
        assert results[0] == results[1]
        # And our unpacker reads our own buffer back.
        assert unpack_ancdata(pack_ancdata(ancdata, HOST), 0, HOST).items == [
            (level, kind, bytes(data)) for level, kind, data in ancdata
        ]


ANCBUFSIZES = [
    1,
    socket.CMSG_LEN(0) - 1,
    socket.CMSG_LEN(0),
    socket.CMSG_LEN(4),
    socket.CMSG_SPACE(4),
    socket.CMSG_LEN(8) - 1,
    socket.CMSG_SPACE(12),
    socket.CMSG_SPACE(12) + socket.CMSG_LEN(0) - 1,
    4096,
]


@host_only
@pytest.mark.usefixtures("no_fd_leak")
@pytest.mark.parametrize("ancbufsize", ANCBUFSIZES)
@pytest.mark.parametrize("with_creds", [False, True], ids=["rights", "rights+creds"])
def test_unpack_matches_stdlib_recvmsg(pipes: list[int], ancbufsize: int, with_creds: bool) -> None:
    outcomes = []
    for receive in ("stdlib", "sansock"):
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        with left, right:
            if with_creds:
                right.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            left.sendmsg([b"data"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", pipes))])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if receive == "stdlib":
                    data, ancdata, flags, _ = right.recvmsg(100, ancbufsize)
                    warned = [str(w.message) for w in caught]
                    fds_seen: list[int] = []
                else:
                    data, control, flags = raw_recvmsg(right.fileno(), 100, ancbufsize)
                    result = unpack_ancdata(control, flags, HOST)
                    ancdata = result.items
                    warned = [TRUNCATION_WARNING] if result.truncated else []
                    fds_seen = result.fds
                    assert result.ctrunc == bool(flags & socket.MSG_CTRUNC)
                    assert scm_rights_fds(control, HOST) == fds_seen
            rights_fds = [
                fd
                for level, kind, payload in ancdata
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
                for fd in array.array("i", payload[: len(payload) // 4 * 4])
            ]
            if receive == "sansock":
                assert fds_seen == rights_fds  # every received fd, exactly once
            outcomes.append((data, describe(ancdata), flags, warned))
    assert outcomes[0] == outcomes[1]


# -- unpack: buffers only a BSD kernel or a corrupt buffer produce -----------


def linux_header(length: int, level: int, kind: int) -> bytes:
    return struct.pack("<Qii", length, level, kind)


def darwin_header(length: int, level: int, kind: int) -> bytes:
    return struct.pack("<Iii", length, level, kind)


def test_darwin_truncated_rights_item_keeps_the_fds_inside_the_buffer() -> None:
    # XNU keeps the original cmsg_len (CMSG_LEN(12) = 24) when it cuts an
    # SCM_RIGHTS array at msg_controllen = 16 and sets MSG_CTRUNC.
    control = darwin_header(24, 0xFFFF, 1) + struct.pack("<i", 7)
    assert unpack_ancdata(control, 0x20, DARWIN) == Ancdata(
        [(0xFFFF, 1, struct.pack("<i", 7))], True, [7], True
    )
    # Cut inside an fd: the partial int is data but not an fd.
    control = darwin_header(24, 0xFFFF, 1) + struct.pack("<i", 7) + b"\x08\x00"
    assert unpack_ancdata(control, 0, DARWIN) == Ancdata(
        [(0xFFFF, 1, struct.pack("<i", 7) + b"\x08\x00")], True, [7], False
    )


def test_darwin_walk_uses_the_bsd_nxthdr() -> None:
    first = darwin_header(16, 0xFFFF, 1) + struct.pack("<i", 3)
    second = darwin_header(20, 0xFFFF, 1) + struct.pack("<2i", 4, 5)
    assert unpack_ancdata(first + second, 0, DARWIN).fds == [3, 4, 5]
    # 11 trailing bytes < ALIGN(sizeof(struct cmsghdr)): CMSG_NXTHDR is NULL.
    assert unpack_ancdata(first + bytes(11), 0, DARWIN) == Ancdata(
        [(0xFFFF, 1, struct.pack("<i", 3))], False, [3], False
    )
    # A zero cmsg_len after a good item: get_cmsg_data_len says invalid.
    assert unpack_ancdata(first + bytes(12), 0, DARWIN).truncated


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        # Shorter than a header: CMSG_FIRSTHDR is NULL, nothing, no warning.
        (b"\x01" * 15, Ancdata([], False, [], False)),
        # cmsg_len < CMSG_LEN(0): invalid, warning, nothing appended.
        (linux_header(15, 1, 1), Ancdata([], True, [], False)),
        (linux_header(0, 1, 1) + bytes(8), Ancdata([], True, [], False)),
        # cmsg_len past the end: the data inside the buffer, then stop.
        (linux_header(28, 1, 1) + struct.pack("<i", 9), Ancdata([(1, 1, struct.pack("<i", 9))], True, [9], False)),
        # cmsg_len huge (size_t): truncated, not an error.
        (linux_header(2**64 - 1, 1, 1), Ancdata([(1, 1, b"")], True, [], False)),
        # Exact fit.
        (linux_header(20, 1, 1) + struct.pack("<i", 9), Ancdata([(1, 1, struct.pack("<i", 9))], False, [9], False)),
        # Other levels/types are not fds.
        (linux_header(20, 0, 1) + struct.pack("<i", 9), Ancdata([(0, 1, struct.pack("<i", 9))], False, [], False)),
        (linux_header(20, 1, 2) + struct.pack("<i", 9), Ancdata([(1, 2, struct.pack("<i", 9))], False, [], False)),
        # glibc 2.36 __cmsg_nxthdr: item + padding + a whole next header must fit.
        (linux_header(20, 1, 1) + bytes(8) + bytes(15), Ancdata([(1, 1, bytes(4))], False, [0], False)),
        # ... and it does not look at the next header's cmsg_len: a next
        # header claiming more than the buffer is returned, then truncated.
        (
            linux_header(20, 1, 1) + bytes(8) + linux_header(100, 1, 1),
            Ancdata([(1, 1, bytes(4)), (1, 1, b"")], True, [0], False),
        ),
        # The last item's padding may be missing (kernel's msg_controllen).
        (linux_header(17, 5, 6) + b"z", Ancdata([(5, 6, b"z")], False, [], False)),
    ],
)
def test_unpack_linux_edge_cases(control: bytes, expected: Ancdata) -> None:
    assert unpack_ancdata(control, 0, HOST) == expected


def test_unpack_empty_and_ctrunc() -> None:
    assert unpack_ancdata(b"", 0, HOST) == Ancdata([], False, [], False)
    result = unpack_ancdata(b"", socket.MSG_CTRUNC, HOST)
    assert result == Ancdata([], False, [], True)
    # Each result has its own list: the caller hands it to the user.
    result.items.append((1, 1, b""))
    assert unpack_ancdata(b"", 0, HOST).items == []


def test_items_are_plain_ints_and_bytes() -> None:
    control = pack_ancdata([(True, 1, bytearray(b"ab"))], HOST)
    ((level, kind, data),) = unpack_ancdata(control, 0, HOST).items
    assert type(level) is int and type(kind) is int and type(data) is bytes


# -- Hypothesis ---------------------------------------------------------------

C_INT = st.integers(-(2**31), 2**31 - 1)


@st.composite
def control_buffers(draw: st.DrawFn, abi: ABI) -> bytes:
    """Headers with plausible and implausible lengths, then a random cut."""
    layout = abi.cmsg
    order = "<" if abi.byteorder == "little" else ">"
    len_code = {4: "I", 8: "Q"}[layout.len_size]
    chunks: list[bytes] = []
    for _ in range(draw(st.integers(0, 4))):
        data = draw(st.binary(max_size=24))
        plausible = layout.aligned(layout.hdr_size) + len(data)
        length = draw(
            st.one_of(st.just(plausible), st.integers(0, 64), st.integers(0, 2 ** (8 * layout.len_size) - 1))
        )
        level = draw(st.sampled_from([abi.const("SOL_SOCKET"), 0, -1]))
        kind = draw(st.sampled_from([abi.const("SCM_RIGHTS"), 2]))
        header = bytearray(layout.hdr_size)
        struct.pack_into(order + len_code, header, 0, length)
        struct.pack_into(order + "i", header, layout.level_offset, level)
        struct.pack_into(order + "i", header, layout.type_offset, kind)
        padded = data + bytes(-len(data) % layout.align)
        chunks.append(bytes(header) + bytes(layout.aligned(layout.hdr_size) - layout.hdr_size) + padded)
    control = b"".join(chunks) + draw(st.binary(max_size=8))
    return control[: draw(st.integers(0, len(control)))]


@pytest.mark.parametrize("abi", ALL_PROFILES, ids=lambda abi: abi.name)
@settings(max_examples=300, deadline=None)
@given(data=st.data(), msg_flags=st.integers(0, 2**32 - 1))
def test_unpack_never_fails_and_reports_each_fd_once(abi: ABI, data: st.DataObject, msg_flags: int) -> None:
    control = data.draw(st.one_of(control_buffers(abi), st.binary(max_size=80)))
    result = unpack_ancdata(control, msg_flags, abi)
    len0 = cmsg_len(0, abi)
    assert len(result.items) <= len(control) // len0
    assert sum(len(item[2]) for item in result.items) <= len(control) - len(result.items) * len0
    expected_fds = [
        fd
        for level, kind, payload in result.items
        if (level, kind) == (abi.const("SOL_SOCKET"), abi.const("SCM_RIGHTS"))
        for fd in struct.unpack(
            ("<" if abi.byteorder == "little" else ">") + f"{len(payload) // 4}i",
            payload[: len(payload) // 4 * 4],
        )
    ]
    assert result.fds == expected_fds
    assert result.ctrunc == bool(msg_flags & abi.const("MSG_CTRUNC"))
    assert scm_rights_fds(control, abi) == result.fds
    for level, kind, payload in result.items:
        assert type(level) is int and type(kind) is int and type(payload) is bytes


native_cmsg_walk: Callable[[bytes], list[tuple[int, int, int, int, int]]] | None
try:
    from sansock_native import native_cmsg_walk as _native_walk

    native_cmsg_walk = _native_walk
except ImportError:  # the native build is missing: only this test is skipped
    native_cmsg_walk = None


@host_only
@pytest.mark.skipif(native_cmsg_walk is None, reason="needs the sansock_native build")
@settings(max_examples=300, deadline=None)
@given(control=st.one_of(control_buffers(HOST), st.binary(max_size=80)))
def test_unpack_visits_the_headers_glibc_macros_visit(control: bytes) -> None:
    # The real CMSG_FIRSTHDR/CMSG_NXTHDR of the host's glibc, compiled by the
    # native driver's build; CPython's walk is a prefix of theirs (it also
    # stops at the first malformed or truncated header).
    assert native_cmsg_walk is not None
    walk = native_cmsg_walk(control)
    result = unpack_ancdata(control, 0, HOST)
    visited = [(level, kind) for _, _, level, kind, _ in walk]
    assert [(level, kind) for level, kind, _ in result.items] == visited[: len(result.items)]
    if not result.truncated:
        assert len(walk) == len(result.items)
    for (offset, length, _, _, data_offset), (_, _, data) in zip(walk, result.items):
        length %= 2**64  # size_t cmsg_len, reported as a C long long
        assert data == control[data_offset : min(len(control), offset + length)]


@pytest.mark.parametrize("abi", ALL_PROFILES, ids=lambda abi: abi.name)
@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.tuples(C_INT, C_INT, st.binary(max_size=40)), max_size=5))
def test_pack_unpack_round_trip(abi: ABI, items: list[tuple[int, int, bytes]]) -> None:
    control = pack_ancdata(items, abi)
    assert len(control) == sum(cmsg_space(len(data), abi) for _, _, data in items)
    result = unpack_ancdata(control, 0, abi)
    assert result.items == items
    assert not result.truncated
    rights = [
        data
        for level, kind, data in items
        if (level, kind) == (abi.const("SOL_SOCKET"), abi.const("SCM_RIGHTS"))
    ]
    assert len(result.fds) == sum(len(data) // abi.sizeof_int for data in rights)


@host_only
@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.tuples(C_INT, C_INT, st.binary(max_size=40)), max_size=4))
def test_pack_is_byte_identical_to_what_cpython_would_build(items: list[tuple[int, int, bytes]]) -> None:
    # CPython's buffer for these items, computed from its documented layout
    # with the stdlib's own CMSG_* macros.
    expected = b""
    for level, kind, data in items:
        header = struct.pack("@Nii", socket.CMSG_LEN(len(data)), level, kind)
        expected += (header + data).ljust(socket.CMSG_SPACE(len(data)), b"\x00")
    assert pack_ancdata(items, HOST) == expected


# -- sock_sendmsg_afalg's buffer (issue 14: laid out by the one packer) -------------


def test_afalg_control_buffer_is_cpythons() -> None:
    from sansock._cmsg import pack_afalg

    # sock_sendmsg_afalg: ALG_SET_OP with cmsg_len CMSG_LEN(4); ALG_SET_IV
    # (struct af_alg_iv: __u32 ivlen, then the IV) with cmsg_len
    # CMSG_SPACE(4 + len(iv)), as CPython sets it; ALG_SET_AEAD_ASSOCLEN with
    # CMSG_LEN(4); each item padded to its CMSG_SPACE in a zeroed buffer.
    sol_alg, set_iv, set_op, set_assoclen = 279, 2, 3, 4

    def item(cmsg_len: int, kind: int, data: bytes) -> bytes:
        return (struct.pack("<Qii", cmsg_len, sol_alg, kind) + data).ljust(16 + (len(data) + 7) // 8 * 8, b"\0")

    iv = memoryview(b"abc")
    expected = (
        item(20, set_op, struct.pack("<I", 1))
        + item(16 + 8, set_iv, struct.pack("<I", 3) + b"abc")
        + item(20, set_assoclen, struct.pack("<I", 8))
    )
    assert pack_afalg(1, iv, 8, HOST) == expected
    assert pack_afalg(0, None, -1, HOST) == item(20, set_op, bytes(4))
