"""sansock.mmsg (recvmmsg/sendmmsg) on both drivers.

The native driver makes one recvmmsg(2)/sendmmsg(2) per call; the fake
kernel has no batch capability, so the same tests run the core's fallback
loop there.  ``native_net`` tests also run the fallback on the real kernel
(a driver wrapper that hides the capability) and compare the two.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

import pytest

from sansock import Binding, mmsg, socket


@pytest.fixture
def udp(net: Binding) -> Iterator[tuple[Binding, socket, socket, Any]]:
    """(net, receiver, sender, receiver's address), UDP on 127.0.0.1."""
    rx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    tx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        yield net, rx, tx, rx.getsockname()
    finally:
        rx.close()
        tx.close()


def test_batch_round_trip(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    payloads = [bytes([i]) * (i + 1) for i in range(8)]
    assert mmsg.sendmmsg(tx, [(p, addr) for p in payloads]) == 8
    got = mmsg.recvmmsg(rx, 16, 64)
    assert [d for d, _ in got] == payloads
    assert {a for _, a in got} == {tx.getsockname()}


def test_count_limits_the_batch(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    mmsg.sendmmsg(tx, [(b"%d" % i, addr) for i in range(5)])
    assert [d for d, _ in mmsg.recvmmsg(rx, 3, 8)] == [b"0", b"1", b"2"]
    assert [d for d, _ in mmsg.recvmmsg(rx, 3, 8)] == [b"3", b"4"]


def test_blocking_socket_returns_what_is_queued(udp: tuple[Binding, socket, socket, Any]) -> None:
    # MSG_WAITFORONE: wait for the first datagram only.
    _, rx, tx, addr = udp
    assert rx.gettimeout() is None
    tx.sendto(b"one", addr)
    tx.sendto(b"two", addr)
    assert [d for d, _ in mmsg.recvmmsg(rx, 100, 16)] == [b"one", b"two"]


def test_long_datagrams_are_cut_to_bufsize(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    mmsg.sendmmsg(tx, [(b"abcdef", addr), (b"xy", addr)])
    assert [d for d, _ in mmsg.recvmmsg(rx, 2, 4)] == [b"abcd", b"xy"]


def test_zero_bufsize_gives_empty_datagrams(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    tx.sendto(b"abc", addr)
    assert [d for d, _ in mmsg.recvmmsg(rx, 4, 0)] == [b""]


def test_non_blocking_with_nothing_queued(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, _, _ = udp
    rx.setblocking(False)
    with pytest.raises(BlockingIOError):
        mmsg.recvmmsg(rx, 4, 16)


def test_timeout_mode_times_out(udp: tuple[Binding, socket, socket, Any]) -> None:
    # 50 ms of real time on the native driver; the fake's clock jumps.
    _, rx, _, _ = udp
    rx.settimeout(0.05)
    with pytest.raises(TimeoutError, match="timed out"):
        mmsg.recvmmsg(rx, 4, 16)


def test_timeout_mode_receives_queued(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    rx.settimeout(5.0)
    tx.sendto(b"q", addr)
    assert mmsg.recvmmsg(rx, 4, 16) == [(b"q", tx.getsockname())]


def test_connected_send_with_no_address(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    tx.connect(addr)
    assert mmsg.sendmmsg(tx, [(b"a", None), (bytearray(b"b"), None), (memoryview(b"c"), addr)]) == 3
    assert [d for d, _ in mmsg.recvmmsg(rx, 8, 8)] == [b"a", b"b", b"c"]


def test_empty_batch_sends_nothing(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, _ = udp
    assert mmsg.sendmmsg(tx, []) == 0
    assert mmsg.sendmmsg(tx, iter(())) == 0
    rx.setblocking(False)
    with pytest.raises(BlockingIOError):
        mmsg.recvmmsg(rx, 1, 8)


def test_address_matches_recvfrom(net: Binding) -> None:
    a, b = net.socketpair(net.AF_UNIX, net.SOCK_DGRAM)
    with a, b:
        a.send(b"1")
        a.send(b"2")
        _, expected = b.recvfrom(8)
        assert mmsg.recvmmsg(b, 4, 8) == [(b"2", expected)]


def test_argument_errors(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, rx, tx, addr = udp
    with pytest.raises(ValueError, match="count must be positive"):
        mmsg.recvmmsg(rx, 0, 8)
    with pytest.raises(ValueError, match="negative buffersize"):
        mmsg.recvmmsg(rx, 1, -1)
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        mmsg.recvmmsg(rx, 1, 8, "0")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        mmsg.recvmmsg(rx, 2**40, 8)
    with pytest.raises(TypeError, match="must be an iterable"):
        mmsg.sendmmsg(tx, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"\(data, address\) tuples, not bytes"):
        mmsg.sendmmsg(tx, [b"x"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="a bytes-like object is required, not 'str'"):
        mmsg.sendmmsg(tx, [("x", addr)])  # type: ignore[list-item]


def test_bad_address_fails_as_sendto_does(udp: tuple[Binding, socket, socket, Any]) -> None:
    _, _, tx, _ = udp
    with pytest.raises(Exception) as ours:
        mmsg.sendmmsg(tx, [(b"x", "not an address")])
    with pytest.raises(Exception) as theirs:
        tx.sendto(b"x", "not an address")
    assert type(ours.value) is type(theirs.value)


def test_closed_socket(udp: tuple[Binding, socket, socket, Any]) -> None:
    net, rx, tx, addr = udp
    s = net.socket(net.AF_INET, net.SOCK_DGRAM)
    s.close()
    with pytest.raises(OSError) as exc:
        mmsg.recvmmsg(s, 1, 8)
    assert exc.value.errno == errno.EBADF
    with pytest.raises(OSError) as exc:
        mmsg.sendmmsg(s, [(b"x", addr)])
    assert exc.value.errno == errno.EBADF


def test_a_batch_stops_at_iov_max(udp: tuple[Binding, socket, socket, Any]) -> None:
    net, rx, tx, addr = udp
    cap = net.driver.abi.iov_max
    rx.setsockopt(net.SOL_SOCKET, net.SO_RCVBUF, 1 << 20)
    sent = mmsg.sendmmsg(tx, [(b"d", addr)] * (cap + 5))
    assert sent == cap
    got = mmsg.recvmmsg(rx, cap + 5, 1)
    assert len(got) <= cap


# -- the fallback on the real kernel -------------------------------------------


class _WithoutBatches:
    """A driver that hides the recvmmsg/sendmmsg capability of another."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in ("recvmmsg", "sendmmsg"):
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.mark.native_only
def test_native_driver_has_the_capability(native_net: Binding) -> None:
    assert callable(getattr(native_net.driver, "recvmmsg", None))
    assert callable(getattr(native_net.driver, "sendmmsg", None))


@pytest.mark.native_only
def test_fallback_matches_the_syscalls(native_net: Binding) -> None:
    import sansock

    loop = sansock.using(_WithoutBatches(native_net.driver))
    results = []
    for net in (native_net, loop):
        rx = net.socket(net.AF_INET, net.SOCK_DGRAM)
        tx = net.socket(net.AF_INET, net.SOCK_DGRAM)
        with rx, tx:
            rx.bind(("127.0.0.1", 0))
            addr = rx.getsockname()
            sent = mmsg.sendmmsg(tx, [(b"x" * n, addr) for n in range(1, 7)])
            first = mmsg.recvmmsg(rx, 4, 3)
            rest = mmsg.recvmmsg(rx, 4, 3)
            rx.setblocking(False)
            with pytest.raises(BlockingIOError):
                mmsg.recvmmsg(rx, 4, 3)
            results.append((sent, [d for d, _ in first], [d for d, _ in rest]))
    assert results[0] == results[1] == (
        6, [b"x", b"xx", b"xxx", b"xxx"], [b"xxx", b"xxx"]
    )


def test_senders_are_told_apart(udp: tuple[Binding, socket, socket, Any]) -> None:
    # The native driver marks a repeated sender; interleaved senders must
    # each keep their own address.
    net, rx, tx, addr = udp
    other = net.socket(net.AF_INET, net.SOCK_DGRAM)
    with other:
        other.bind(("127.0.0.1", 0))
        order = [tx, tx, other, tx, other, other]
        for i, s in enumerate(order):
            s.sendto(b"%d" % i, addr)
        got = mmsg.recvmmsg(rx, 10, 8)
        assert got == [(b"%d" % i, s.getsockname()) for i, s in enumerate(order)]
