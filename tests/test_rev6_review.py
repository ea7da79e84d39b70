"""Outside review (rev6) of the fake's sendfile(2): os.sendfile on the real kernel is the oracle."""

from __future__ import annotations

import errno
import os
import socket as stdlib
from pathlib import Path
from typing import Any, Callable

from sansock import Binding


def _outcome(send: Callable[..., int], sock: Any, fd: int, offset: int, count: int) -> object:
    try:
        return send(sock.fileno(), fd, offset, count)
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]


def test_offset_plus_count_past_loff_t_is_einval(net: Binding, tmp_path: Path) -> None:
    """rw_verify_area: ``pos + count`` overflowing loff_t is EINVAL, even for an
    in-range offset and count (offset 1, count 2**63-1: os.sendfile raises)."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        results = []
        for mod, send in ((net, net.driver.sendfile), (stdlib, os.sendfile)):
            a, b = mod.socketpair()
            with a, b:
                results.append([_outcome(send, a, fd, o, c) for o, c in ((1, 2**63 - 1), (0, 2**63 - 1), (2**62, 2**62))])
    finally:
        os.close(fd)
    assert results[1] == ["EINVAL", 1000, "EINVAL"]
    assert results[0] == results[1]
