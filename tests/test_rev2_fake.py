"""Fake-only checks from the rev2 review: what the differential scenarios cannot
time on the real kernel (SYN retransmissions take 1 s, 2 s ... of real time there).

A SYN that finds the accept queue full is dropped by Linux (``tcp_conn_request``);
the client retransmits it after 1, 2, 4 ... s and gives up with ETIMEDOUT 127 s
after the first (``TCP_TIMEOUT_INIT``, ``tcp_syn_retries`` 6).  Room made by
``accept`` before the first retransmission is not used at once.
"""

from __future__ import annotations

import errno

import pytest

import sansock
from sansock_fake import FakeKernel

SECOND = 1_000_000_000


def _full_listener(net: sansock.Binding) -> tuple[sansock.socket, sansock.socket, tuple[str, int]]:
    listener = net.socket(net.AF_INET, net.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    first = net.socket(net.AF_INET, net.SOCK_STREAM)
    first.connect(listener.getsockname())  # the accept queue holds one (backlog 0)
    return listener, first, listener.getsockname()


def test_held_syn_gets_through_at_its_retransmission_not_at_accept() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    listener, first, address = _full_listener(net)
    with listener, first, net.socket(net.AF_INET, net.SOCK_STREAM) as second:
        second.setblocking(False)
        start = kernel.monotonic_ns()
        assert second.connect_ex(address) == errno.EINPROGRESS
        conn, _ = listener.accept()
        conn.close()
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # Linux: EAGAIN until the client retransmits
        assert kernel.poll(second.fileno(), net.abi.const("POLLOUT"), 0) == 0
        listener.setblocking(True)
        conn, _ = listener.accept()  # waits (virtual time) for the retransmission
        conn.close()
        assert kernel.monotonic_ns() - start == SECOND
        assert second.getsockopt(net.SOL_SOCKET, net.SO_ERROR) == 0
        assert second.getpeername() == address


def test_after_its_first_retransmission_a_held_syn_gets_in_when_accept_makes_room() -> None:
    """Linux would wait for the next retransmission (3 s after the first SYN); the
    fake lets it in at once from the first retransmission on (``_tcp_state.hold_syn``
    says why: clients retransmitting at the same virtual instant)."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    listener, first, address = _full_listener(net)
    with listener, first, net.socket(net.AF_INET, net.SOCK_STREAM) as second:
        second.setblocking(False)
        start = kernel.monotonic_ns()
        assert second.connect_ex(address) == errno.EINPROGRESS
        kernel.advance_clock(2)  # the 1 s retransmission found the queue still full
        conn, _ = listener.accept()
        conn.close()
        listener.setblocking(False)
        conn, _ = listener.accept()
        conn.close()
        assert kernel.monotonic_ns() - start == 2 * SECOND


def test_connect_to_a_full_queue_times_out_after_127_seconds() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    listener, first, address = _full_listener(net)
    with listener, first, net.socket(net.AF_INET, net.SOCK_STREAM) as second:
        start = kernel.monotonic_ns()
        with pytest.raises(TimeoutError) as info:
            second.connect(address)
        assert info.value.errno == errno.ETIMEDOUT
        assert kernel.monotonic_ns() - start == 127 * SECOND
        # nothing else came in: the one accepted connection, then EAGAIN
        listener.setblocking(False)
        conn, _ = listener.accept()
        conn.close()
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_closed_client_stops_retransmitting() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    listener, first, address = _full_listener(net)
    with listener, first:
        second = net.socket(net.AF_INET, net.SOCK_STREAM)
        second.setblocking(False)
        assert second.connect_ex(address) == errno.EINPROGRESS
        second.close()
        conn, _ = listener.accept()
        conn.close()
        kernel.advance_clock(200)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
