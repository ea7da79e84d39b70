"""The fast paths of the socket class give what the general paths give.

``sendmsg``/``recvmsg``/``recvmsg_into`` skip the general argument parsers
for common inputs; there is one packer and one walk of control buffers
(``sansock._cmsg``), so only ``sendmsg``'s choice of what to pack without
parsing (``_cmsg.pack_exact``) is a shortcut.  These tests hold it to the
general code, byte for byte against ``_cmsg.pack_ancdata`` on every ABI
profile, and the kernel round trip against the stdlib socket on the same
fds.
"""

from __future__ import annotations

import os
import socket as stdlib
import struct

import pytest

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
def test_exact_packing_declines_what_parsing_could_change(abi: ABI) -> None:
    for ancdata in (
        [[1, 1, b""]],
        [(1, 1, bytearray(b"x"))],
        [(True, 1, b"")],
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
