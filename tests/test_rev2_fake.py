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


# -- the syscall boundary: keyword arguments and int subclasses --------------------


class LyingRange(int):
    """An int whose comparisons claim it is in any range, and whose __index__ lies."""

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __index__(self) -> int:
        return 5

    __hash__ = int.__hash__


def _pair() -> tuple[FakeKernel, int, int]:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(kernel.abi.const("AF_UNIX"), kernel.abi.const("SOCK_STREAM"), 0)
    return kernel, a, b


@pytest.mark.parametrize(
    ("positional", "keywords", "error", "message"),
    [
        ((3,), {"bufsize": "x", "flags": 0}, TypeError, "an integer is required for bufsize, not str"),
        ((3, 1), {"flags": 1 << 80}, OverflowError, f"flags={1 << 80} does not fit the C type of the argument"),
        ((), {"fd": 1 << 70, "bufsize": 1, "flags": 0}, OverflowError,
         f"fd={1 << 70} does not fit the C type of the argument"),
    ],
)
def test_keyword_arguments_are_checked_as_positional_ones(
    positional: tuple[object, ...], keywords: dict[str, object], error: type[Exception], message: str
) -> None:
    """A C binding refuses a bad int however it is passed; the fake used to check
    positional arguments only (a str bufsize failed deep inside, a huge fd gave EBADF)."""
    kernel, a, b = _pair()
    before = kernel.trace.total
    with pytest.raises(error) as info:
        kernel.recv(*positional, **keywords)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert kernel.trace.total == before


def test_keyword_arguments_are_traced_and_faulted_as_positional_ones() -> None:
    kernel, a, b = _pair()
    kernel.send(fd=a, data=b"hi", flags=0)
    kernel.recv(b, bufsize=10, flags=False)
    assert [(e.call, e.args) for e in kernel.trace][-2:] == [("send", (3, b"hi", 0)), ("recv", (4, 10, False))]
    kernel.faults.fail("send", errno.EINTR, fd=a)
    with pytest.raises(InterruptedError):
        kernel.send(fd=a, data=b"x", flags=0)  # the rule names fd 3: it fires however fd is passed
    with pytest.raises(TypeError):
        kernel.send(a, b"x", 0, flags=0)  # type: ignore[misc]  # Python's own error, before the syscall
    kernel.close(a)
    kernel.close(b)


@pytest.mark.parametrize("position", ["bufsize", "flags"])
def test_int_subclass_with_lying_comparisons_cannot_pass_the_range_check(position: str) -> None:
    kernel, a, b = _pair()
    kernel.send(a, b"hello", 0)
    huge = LyingRange(1 << 70)
    args = {"bufsize": 10, "flags": 0, position: huge}
    with pytest.raises(OverflowError, match="does not fit the C type"):
        kernel.recv(b, args["bufsize"], args["flags"])
    # An in-range subclass passes as its value (what cffi reads), not its __index__.
    assert kernel.recv(b, LyingRange(2), 0) == b"he"
    entry = kernel.trace[-1]
    assert entry.args == (4, 2, 0) and type(entry.args[1]) is int
