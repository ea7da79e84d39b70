"""The native driver's ``recv`` buffers: a call that receives while another
receive's bytes still sit in its buffer (a signal handler run between the
syscall and the copy, or another thread) never shares that buffer."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from sansock_native import NativeDriver, _native, _scratch


@pytest.fixture
def two_pairs() -> Iterator[tuple[socket.socket, socket.socket, socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        yield a, b, c, d
    finally:
        for s in (a, b, c, d):
            s.close()


def test_a_receive_nested_between_syscall_and_copy_keeps_both_results(
    two_pairs: tuple[socket.socket, socket.socket, socket.socket, socket.socket],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, c, d = two_pairs
    drv = NativeDriver()
    real: Callable[..., int] = _scratch._recv
    nested: list[bytes] = []
    calls = [0]

    def recv_then_nested(*args: object) -> int:
        n = real(*args)
        calls[0] += 1
        if calls[0] == 1:
            # What a signal handler that receives would do at this point.
            nested.append(drv.recv(d.fileno(), 100, 0))
        return n

    monkeypatch.setattr(_native, "_recv", recv_then_nested)
    a.sendall(b"outer call's bytes")
    c.sendall(b"NESTED")
    assert drv.recv(b.fileno(), 100, 0) == b"outer call's bytes"
    assert nested == [b"NESTED"]


def test_truncated_datagram_and_errors_give_the_buffer_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drv = NativeDriver()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        a.send(b"0123456789")
        # MSG_TRUNC: the real length, the tail zeros as the stdlib's resize.
        assert drv.recv(b.fileno(), 4, socket.MSG_TRUNC) == b"0123" + bytes(6)
        with pytest.raises(BlockingIOError):
            drv.recv(b.fileno(), 4, socket.MSG_DONTWAIT)
        a.send(b"again")
        assert drv.recv(b.fileno(), 100, 0) == b"again"
        # Every buffer taken was given back: none is made per call.
        assert 1 <= len(_scratch._recv_buffers) <= 2
    finally:
        a.close()
        b.close()
