"""The fast paths of the socket class give what the general paths give.

``sendmsg``/``recvmsg``/``recvmsg_into`` skip the general argument parsers
and cmsg codecs for common inputs (``sansock._socket._FastShape``).  These
tests hold the shortcuts to the general code: the packer byte for byte
against ``_cmsg.pack_ancdata`` on every ABI profile, the single-item decoder
against ``_cmsg.unpack_ancdata``, and the kernel round trip against the
stdlib socket on the same fds.
"""

from __future__ import annotations

import os
import socket as stdlib
import struct

import pytest

from sansock import Binding
from sansock._cmsg import pack_ancdata, unpack_ancdata
from sansock._profiles import PROFILES
from sansock._socket import _FastShape

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
def test_packer_matches_pack_ancdata(abi: object, items: list[tuple[int, int, bytes]]) -> None:
    shape = _FastShape(abi)  # type: ignore[arg-type]
    assert shape.pack(items) == pack_ancdata(items, abi)  # type: ignore[arg-type]
    assert shape.pack(tuple(items)) == pack_ancdata(items, abi)  # type: ignore[arg-type]


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
def test_packer_declines_what_it_does_not_model(abi: object) -> None:
    shape = _FastShape(abi)  # type: ignore[arg-type]
    for ancdata in (
        [[1, 1, b""]],
        [(1, 1, bytearray(b"x"))],
        [(True, 1, b"")],
        [(2**31, 1, b"")],
        [(1, 1)],
        iter([(1, 1, b"")]),
        [(1, 1, b"x" * 70000)],
    ):
        assert shape.pack(ancdata) is None


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=list(PROFILES))
@pytest.mark.parametrize("items", ITEMS[1:])
def test_single_item_decoder_matches_unpack_ancdata(
    abi: object, items: list[tuple[int, int, bytes]]
) -> None:
    shape = _FastShape(abi)  # type: ignore[arg-type]
    control = pack_ancdata(items, abi)  # type: ignore[arg-type]
    for cut in range(len(control) + 1):
        buf = control[:cut]
        fast = shape.unpack_one(buf)
        if fast is not None:
            general = unpack_ancdata(buf, 0, abi)  # type: ignore[arg-type]
            assert not general.truncated
            assert fast == general.items


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
