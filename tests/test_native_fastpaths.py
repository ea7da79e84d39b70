"""The fast paths of the socket class give what the general paths give.

``sendmsg``/``recvmsg``/``recvmsg_into`` skip the general argument parsers
for common inputs; there is one packer and one walk of control buffers
(``sansock._cmsg``), so only ``sendmsg``'s choice of what to pack without
parsing (``_cmsg.pack_exact``) is a shortcut.  These tests hold it to the
general code, byte for byte against ``_cmsg.pack_ancdata`` on every ABI
profile, and the kernel round trip against the stdlib socket on the same
fds: for every buffer type it takes (``bytes``, ``array.array("i")``,
``bytearray``, byte ``memoryview``) and those it leaves to the general parse,
including a bytearray resized, and a memoryview released, by another thread
during the call.
"""

from __future__ import annotations

import array
import os
import random
import socket as stdlib
import struct
import sys
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansock import Binding
from sansock._abi import ABI
from sansock._cmsg import pack_ancdata, pack_exact
from sansock._profiles import PROFILES

ITEMS = [
    [],
    [(1, 1, b"")],
    [(1, 1, b"\x01")],
    [(1, 1, struct.pack("i", 7))],
    [(1, 1, struct.pack("3i", 7, 8, 9))],
    [(1, 2, b"x" * 12), (41, 50, b"y" * 5), (0, 0, b"z" * 33)],
    [(-(2**31), 2**31 - 1, b"abc" * 100)],
]


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("items", ITEMS)
def test_exact_packing_matches_pack_ancdata(abi: ABI, items: list[tuple[int, int, bytes]]) -> None:
    assert pack_exact(items, abi) == pack_ancdata(items, abi)
    assert pack_exact(tuple(items), abi) == pack_ancdata(items, abi)


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
def test_exact_packing_of_every_small_size_matches_pack_ancdata(abi: ABI) -> None:
    # Up to 64 data bytes an item is packed by one struct per size (header,
    # data, padding); above, header + data + padding.
    for n in range(80):
        data = bytes(range(1, n + 1))
        for items in ([(-1, 2**31 - 1, data)], [(1, 1, data), (2, 2, data[:3])]):
            assert pack_exact(items, abi) == pack_ancdata(items, abi), n


class ArraySub(array.array):  # type: ignore[type-arg]
    pass


class BytearraySub(bytearray):
    pass


class LyingIndex(int):
    """An int subclass whose ``__index__`` lies (CPython's "i" unit takes its value)."""

    def __index__(self) -> int:
        return 99


def _released(data: bytes) -> memoryview:
    view = memoryview(data)
    view.release()
    return view


#: The buffers ``sendmsg``'s fast path takes besides ``bytes`` (issue 13, item
#: 2): what ``send_fds`` and the socket documentation pass.  Each maker turns
#: the bytes to send into that type.
TAKEN: dict[str, Callable[[bytes], object]] = {
    "bytearray": bytearray,
    "array-i": lambda raw: array.array("i", raw),
    "memoryview-bytes": memoryview,
    "memoryview-bytearray": lambda raw: memoryview(bytearray(raw)),
    "memoryview-b": lambda raw: memoryview(bytearray(raw)).cast("b"),
    "memoryview-c": lambda raw: memoryview(raw).cast("c"),
    "memoryview-slice": lambda raw: memoryview(b"--" + raw + b"--")[2:-2],
}

#: Buffers it leaves to the general parse (which CPython's rules then take
#: or refuse): other array types, subclasses, views that are not plain
#: C-contiguous bytes.
DECLINED: dict[str, Callable[[bytes], object]] = {
    "array-h": lambda raw: array.array("h", raw),
    "array-I": lambda raw: array.array("I", raw),
    "array-b": lambda raw: array.array("b", raw),
    "array-subclass": lambda raw: ArraySub("i", raw),
    "bytearray-subclass": BytearraySub,
    "memoryview-i": lambda raw: memoryview(array.array("i", raw)),
    "memoryview-2d": lambda raw: memoryview(raw or b"ab").cast("B", (1, len(raw or b"ab"))),
    "memoryview-strided": lambda raw: memoryview(raw + raw)[::2],
    "memoryview-released": _released,
}


def _int_bytes(*values: int) -> bytes:
    return struct.pack(f"{len(values)}i", *values)


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("kind", sorted(TAKEN))
@pytest.mark.parametrize("raw", [b"", _int_bytes(7), _int_bytes(7, 8, 9), b"x" * 8, b"y" * 4000])
def test_exact_packing_takes_the_bytes_the_general_parse_takes(abi: ABI, kind: str, raw: bytes) -> None:
    data = TAKEN[kind](raw)
    for ancdata in ([(1, 1, data)], [(1, 2, b"ab"), (3, 4, data)], ((5, 6, data), (7, 8, data))):
        packed = pack_exact(ancdata, abi)
        assert packed is not None, kind
        as_bytes = [(lv, ty, raw if item is data else item) for lv, ty, item in ancdata]
        assert packed == pack_ancdata(ancdata, abi) == pack_ancdata(as_bytes, abi)


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("kind", sorted(DECLINED))
def test_exact_packing_leaves_other_buffers_to_the_general_parse(abi: ABI, kind: str) -> None:
    data = DECLINED[kind](_int_bytes(7, 8))
    assert pack_exact([(1, 1, data)], abi) is None
    assert pack_exact([(1, 1, b"ok"), (1, 1, data)], abi) is None


_KINDS = {"bytes": bytes, **TAKEN, **DECLINED}


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
@settings(max_examples=100, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.integers(-(2**31), 2**31 - 1),
            st.integers(-(2**31), 2**31 - 1),
            st.binary(max_size=24).map(lambda raw: raw[: len(raw) // 4 * 4]),
            st.sampled_from(sorted(_KINDS)),
        ),
        max_size=4,
    )
)
def test_exact_packing_of_mixed_buffers_is_the_general_packing(
    abi: ABI, items: list[tuple[int, int, bytes, str]]
) -> None:
    """Any mix of buffer types: the fast packer lays out what the general
    parse lays out, and declines only items with a type it leaves to it."""
    ancdata = [(level, kind, _KINDS[name](raw)) for level, kind, raw, name in items]
    packed = pack_exact(ancdata, abi)
    if packed is None:
        assert any(name in DECLINED for _, _, _, name in items)
    else:
        assert all(name not in DECLINED for _, _, _, name in items)
        assert packed == pack_ancdata(ancdata, abi)


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
def test_exact_packing_declines_what_parsing_could_change(abi: ABI) -> None:
    for ancdata in (
        [[1, 1, b""]],
        [(True, 1, b"")],
        [(LyingIndex(1), 1, b"")],
        [(1, LyingIndex(1), array.array("i", [1]))],
        [(1, 1, bytearray(70000))],
        [(1, 1, array.array("i", bytes(70000)))],
        [(1, 1, memoryview(bytes(70000)))],
        [(2**31, 1, b"")],
        [(1, 1)],
        iter([(1, 1, b"")]),
        [(1, 1, b"x" * 70000)],
        [(1, 1, b"")] * 65,
    ):
        assert pack_exact(ancdata, abi) is None


@pytest.mark.native_only
def test_scm_rights_round_trip_against_the_stdlib(native_net: Binding) -> None:
    a, b = native_net.socketpair()
    r, w = os.pipe()
    try:
        theirs = stdlib.socket(fileno=os.dup(b.fileno()))
        with theirs:
            a.sendmsg([b"x", b"yz"], [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, struct.pack("2i", r, w))])
            msg, anc, flags, _ = theirs.recvmsg(8, stdlib.CMSG_SPACE(8))
            assert msg == b"xyz" and flags == 0
            fds = struct.unpack("2i", anc[0][2])
            for fd in fds:
                os.close(fd)
            theirs.sendmsg([b"q"], [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, struct.pack("i", r))])
            msg2, anc2, flags2, addr2 = a.recvmsg(4, stdlib.CMSG_SPACE(4))
            assert (msg2, flags2, addr2) == (b"q", 0, None)
            assert [(lv, ty) for lv, ty, _ in anc2] == [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS)]
            os.close(struct.unpack("i", anc2[0][2])[0])
            bufs = [bytearray(2), bytearray(2), bytearray(4)]
            theirs.send(b"abcdefgh")
            assert a.recvmsg_into(bufs) == (8, [], 0, None)
            assert bufs == [bytearray(b"ab"), bytearray(b"cd"), bytearray(b"efgh")]
    finally:
        a.close()
        b.close()
        os.close(r)
        os.close(w)


# -- the kernel round trip of each buffer type, fast path against general path and stdlib --


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 -- the outcome is what is compared
        return type(exc).__name__, str(exc)
    return "ok", ""


def _pass_two_fds(mod: Any, make: Callable[[bytes], object], general: bool) -> tuple[object, ...]:
    """``sendmsg([b"x"], [(SOL_SOCKET, SCM_RIGHTS, data)])`` of two fds (the ends
    *c*, *d* of a socketpair) with *data* made by *make* from their C ints,
    then ``recvmsg``: what happened, what arrived, and whether the first fd
    received is *c* (a byte sent through it arrives at *d*).  *general*: the
    items through an iterator, which the fast path never takes."""
    a, b = mod.socketpair()
    c, d = mod.socketpair()
    with a, b, c, d:
        data = make(_int_bytes(c.fileno(), d.fileno()))
        ancdata = [(mod.SOL_SOCKET, mod.SCM_RIGHTS, data)]
        sent = _outcome(lambda: a.sendmsg([b"x"], iter(ancdata) if general else ancdata))
        del data, ancdata  # a memoryview over a local: released with it
        if sent[0] != "ok":
            return sent, None
        msg, anc, flags, addr = b.recvmsg(1, mod.CMSG_SPACE(16))
        fds = [fd for (fd,) in struct.iter_unpack("i", b"".join(raw for _, _, raw in anc))]
        socks = [mod.socket(fileno=fd) for fd in fds]
        try:
            socks[0].send(b"q")
            is_c = d.recv(1) == b"q"
        finally:
            for sock in socks:
                sock.close()
        return sent, (msg, [(lv, ty, len(raw)) for lv, ty, raw in anc], flags, addr, is_c)


@pytest.mark.parametrize("kind", sorted(TAKEN) + sorted(DECLINED))
def test_every_buffer_type_is_sent_as_the_general_path_and_the_stdlib_send_it(net: Binding, kind: str) -> None:
    make = TAKEN.get(kind) or DECLINED[kind]
    ours = _pass_two_fds(net, make, general=False)
    assert ours == _pass_two_fds(net, make, general=True)
    if kind in TAKEN:
        assert ours == (("ok", ""), (b"x", [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, 8)], 0, None, True))
    if net.driver.__class__.__name__ == "NativeDriver":
        assert ours == _pass_two_fds(stdlib, make, general=False)


def _received_are(mod: Any, raw: bytes, peers: list[Any]) -> bool:
    """Close the fds *raw* carries; whether each was a socket connected to the
    matching one of *peers* (a byte sent through it arrives there)."""
    fds = [fd for (fd,) in struct.iter_unpack("i", raw)]
    same = len(fds) == len(peers)
    for fd, peer in zip(fds, peers):
        with mod.socket(fileno=fd) as sock:
            sock.send(b"q")
            same = same and peer.recv(1) == b"q"
    for fd in fds[len(peers) :]:
        mod.close(fd)
    return same


def _flip_at_every_bytecode(mutate: Callable[[], None]) -> Callable[[], None]:
    """Install a tracer that calls *mutate* before every bytecode of every Python
    frame entered from now on: another thread that runs at every point where
    the interpreter could switch threads.  Returns the function that removes it."""
    previous = sys.gettrace()

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        frame.f_trace_opcodes = True
        try:
            mutate()
        except BufferError:
            pass  # an export is held (the general parse's memoryview), as in CPython
        return tracer

    sys.settrace(tracer)
    return lambda: sys.settrace(previous)


@pytest.mark.parametrize("module", ["sansock", "stdlib"])
def test_a_bytearray_resized_at_every_bytecode_of_the_call_is_sent_whole(net: Binding, module: str) -> None:
    """``sendmsg`` of a bytearray resized between one fd and two, at random,
    before every bytecode the call runs: every message carries the fds of one
    of its states with a ``cmsg_len`` that matches them (CPython holds its
    export while it parses; the fast path copies the bytes in one C call,
    then reads their length), and no call fails."""
    mod: Any = net if module == "sansock" else stdlib
    if module == "stdlib" and net.driver.__class__.__name__ != "NativeDriver":
        pytest.skip("the stdlib runs on the real kernel")
    a, b = mod.socketpair()
    c, d = mod.socketpair()
    states = [_int_bytes(c.fileno()), _int_bytes(c.fileno(), d.fileno())]
    buf = bytearray(states[0])
    rng = random.Random(13)

    def resize() -> None:
        buf[:] = states[rng.getrandbits(1)]

    with a, b, c, d:
        for _ in range(200):
            ancdata = [(mod.SOL_SOCKET, mod.SCM_RIGHTS, buf)]
            untrace = _flip_at_every_bytecode(resize)
            try:
                a.sendmsg([b"x"], ancdata)
            finally:
                untrace()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                msg, anc, flags, _ = b.recvmsg(1, mod.CMSG_SPACE(8))
            ((level, kind, raw),) = anc
            assert (msg, level, kind, flags) == (b"x", stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, 0)
            assert len(raw) in (4, 8)
            assert _received_are(mod, raw, [d, c][: len(raw) // 4])


def _hammer(mutate: Callable[[], None], stop: list[bool]) -> None:
    while not stop:
        try:
            mutate()
        except BufferError:
            pass  # the stdlib's sendmsg holds an export while it parses


@pytest.mark.parametrize("module", ["sansock", "stdlib"])
def test_a_bytearray_resized_by_another_thread_is_sent_whole(net: Binding, module: str) -> None:
    """The same with a real thread resizing the buffer (switch interval 1 us)."""
    mod: Any = net if module == "sansock" else stdlib
    if module == "stdlib" and net.driver.__class__.__name__ != "NativeDriver":
        pytest.skip("the stdlib runs on the real kernel")
    a, b = mod.socketpair()
    c, d = mod.socketpair()
    states = [_int_bytes(c.fileno()), _int_bytes(c.fileno(), d.fileno())]
    buf = bytearray(states[0])
    count = [0]

    def resize() -> None:
        count[0] += 1
        buf[:] = states[count[0] & 1]  # one state per loop pass: switches see both

    stop: list[bool] = []
    thread = threading.Thread(target=_hammer, args=(resize, stop))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        thread.start()
        for _ in range(500):
            a.sendmsg([b"x"], [(mod.SOL_SOCKET, mod.SCM_RIGHTS, buf)])
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                msg, anc, flags, _ = b.recvmsg(1, mod.CMSG_SPACE(8))
            ((level, kind, raw),) = anc
            assert (msg, level, kind, flags) == (b"x", stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, 0)
            assert len(raw) in (4, 8)
            assert _received_are(mod, raw, [d, c][: len(raw) // 4])
    finally:
        stop.append(True)
        thread.join()
        sys.setswitchinterval(interval)
        for sock in (a, b, c, d):
            sock.close()


@pytest.mark.parametrize("module", ["sansock", "stdlib"])
def test_a_memoryview_released_by_another_thread_is_sent_or_refused_as_by_the_stdlib(
    net: Binding, module: str
) -> None:
    """The view is sent whole, or the call raises CPython's ``ValueError`` for a
    released memoryview; nothing half-sent, nothing leaked."""
    mod: Any = net if module == "sansock" else stdlib
    if module == "stdlib" and net.driver.__class__.__name__ != "NativeDriver":
        pytest.skip("the stdlib runs on the real kernel")
    a, b = mod.socketpair()
    c, d = mod.socketpair()
    raw = _int_bytes(c.fileno())
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    outcomes: set[tuple[str, str]] = set()
    try:
        for _ in range(100):
            view = memoryview(raw)

            def release() -> None:
                try:
                    view.release()
                except BufferError:
                    pass  # the call held an export just then (the stdlib too): released later by GC

            thread = threading.Thread(target=release)
            thread.start()
            got = _outcome(lambda: a.sendmsg([b"x"], [(mod.SOL_SOCKET, mod.SCM_RIGHTS, view)]))
            thread.join()
            outcomes.add(got)
            if got[0] == "ok":
                msg, anc, flags, _ = b.recvmsg(1, mod.CMSG_SPACE(4))
                ((_, _, received),) = anc
                (fd,) = struct.unpack("i", received)
                mod.close(fd)
    finally:
        sys.setswitchinterval(interval)
        for sock in (a, b, c, d):
            sock.close()
    assert outcomes <= {("ok", ""), ("ValueError", "operation forbidden on released memoryview object")}
