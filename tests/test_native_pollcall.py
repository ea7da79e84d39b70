"""The optional ``PollCallDriver`` capability on the real kernel (issue 13).

``NativeDriver.poll_send``/``poll_recv`` read the clock, poll the fd without
waiting and, when it is ready, make the syscall, all in one C call; the
timeout machine takes that path in timeout mode and goes on from the
driver's :class:`~sansock.driver.Unfinished` otherwise.  The driver methods
are compared with the plain ``send``/``recv`` (and the stdlib); the socket
calls with the stdlib in timeout mode, EINTR included (a signal handler runs
during the wait the core makes after the one call found nothing to read).
"""

from __future__ import annotations

import array
import errno
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock.driver import PollCallDriver, Unfinished
from sansock_native import NativeDriver

D = NativeDriver()
STREAM = socket.SOCK_STREAM | socket.SOCK_CLOEXEC
DGRAM = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC

# Every test but test_timeout_mode_matches_the_stdlib (both drivers) is about the native driver.
pytestmark = [pytest.mark.linux_only]


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before


@pytest.fixture
def pair() -> Iterator[tuple[int, int]]:
    a, b = D.socketpair(socket.AF_UNIX, STREAM, 0)
    yield a, b
    for fd in (a, b):
        try:
            os.close(fd)
        except OSError:
            pass


def test_is_the_capability() -> None:
    capable: PollCallDriver = D
    assert callable(capable.poll_send) and callable(capable.poll_recv)


def test_ready_send_and_recv_return_the_plain_results(pair: tuple[int, int]) -> None:
    a, b = pair
    assert D.poll_send(a, b"hello", 0) == 5
    assert D.poll_send(a, memoryview(b"__world__")[2:7], 0) == 5
    assert D.poll_send(a, bytearray(b"!"), 0) == 1
    assert D.poll_recv(b, 3, 0) == b"hel"
    assert D.poll_recv(b, 100, socket.MSG_PEEK) == b"loworld!"
    assert D.poll_recv(b, 100, 0) == b"loworld!"


def test_not_ready_is_unfinished_at_once_with_the_clock_read_before(pair: tuple[int, int]) -> None:
    a, b = pair
    D.set_nonblocking(b, True)
    before = D.monotonic_ns()
    t0 = time.monotonic()
    done = D.poll_recv(b, 10, 0)
    assert time.monotonic() - t0 < 5  # never a wait (generous bound: a loaded machine)
    after = D.monotonic_ns()
    assert isinstance(done, Unfinished)
    assert done.error is None and before <= done.start_ns <= after
    # Nothing was consumed: data sent now is there for the next call.
    D.send(a, b"x", 0)
    assert D.poll_recv(b, 10, 0) == b"x"


def test_a_full_send_buffer_is_not_ready(pair: tuple[int, int]) -> None:
    a, b = pair
    D.set_nonblocking(a, True)
    chunk = b"f" * 65536
    while True:
        try:
            D.send(a, chunk, 0)
        except BlockingIOError:
            break
    done = D.poll_send(a, b"y", 0)
    assert isinstance(done, Unfinished) and done.error is None


def test_closed_fd_is_ready_and_the_syscall_fails_with_ebadf() -> None:
    """poll reports POLLNVAL for a closed fd number: ready, as for
    internal_select; the syscall then fails with EBADF (not the poll)."""
    fd = D.socket(socket.AF_UNIX, STREAM, 0)
    D.close(fd)
    for done in (D.poll_recv(fd, 1, 0), D.poll_send(fd, b"x", 0)):
        assert isinstance(done, Unfinished)
        assert isinstance(done.error, OSError) and done.error.errno == errno.EBADF
        assert done.error.strerror == os.strerror(errno.EBADF) and done.polling is False


def test_syscall_error_is_the_syscalls(pair: tuple[int, int]) -> None:
    a, b = pair
    os.close(b)
    done = D.poll_send(a, b"x", socket.MSG_NOSIGNAL)
    assert isinstance(done, Unfinished) and done.polling is False
    assert type(done.error) is BrokenPipeError and done.error.errno == errno.EPIPE


@pytest.mark.parametrize(
    ("call", "args", "exc"),
    [
        ("poll_recv", (2**64, 0), OverflowError),
        ("poll_recv", (1, 2**40), OverflowError),
        ("poll_recv", (1.5, 0), TypeError),
        ("poll_send", ("text", 0), TypeError),
        ("poll_send", (b"x", 2**40), OverflowError),
    ],
)
def test_refused_arguments_raise_before_any_syscall(
    pair: tuple[int, int], call: str, args: tuple[Any, ...], exc: type[BaseException]
) -> None:
    """As Driver.send/recv: CFFI's conversion errors, nothing sent or read."""
    a, b = pair
    D.send(a, b"q", 0)
    with pytest.raises(exc):
        getattr(D, call)(b if call == "poll_recv" else a, *args)
    assert D.recv(b, 10, 0) == b"q"


def test_large_buffer_and_msg_trunc_match_recv() -> None:
    a, b = D.socketpair(socket.AF_UNIX, DGRAM, 0)
    try:
        big = bytes(range(256)) * 400  # 102,400 bytes: past the 64 KiB scratch
        for size in (200_000, 65536, 2):
            for flags in (0, socket.MSG_TRUNC):
                D.send(a, big, 0)
                D.send(a, big, 0)
                assert D.poll_recv(b, size, flags) == D.recv(b, size, flags)
    finally:
        D.close(a)
        D.close(b)


# -- through the socket API --------------------------------------------------------


class Spy:
    """A driver that records which of its methods the core calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def recorded(*args: Any) -> Any:
            self.calls.append(name)
            return attr(*args)

        return recorded


def test_timeout_mode_ready_is_one_driver_call_per_send_and_recv() -> None:
    spy = Spy(D)
    net = sansock.using(spy)
    a, b = net.socketpair()
    with a, b:
        a.settimeout(5)
        b.settimeout(5)
        spy.calls.clear()
        assert a.send(b"ping") == 4
        assert b.recv(10) == b"ping"
        a.sendall(b"all")
        assert b.recv(10) == b"all"
        # sendall reads the clock once for its deadline (sock_sendall), then one call.
        assert spy.calls == ["poll_send", "poll_recv", "monotonic_ns", "poll_send", "poll_recv"]
        # Not ready: the one call, then the core's own wait with the whole timeout.
        b.settimeout(0.05)
        spy.calls.clear()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            b.recv(10)
        assert time.monotonic() - t0 >= 0.05
        assert info.value.args == ("timed out",) and info.value.__context__ is None
        assert spy.calls == ["poll_recv", "poll"]


def test_timeout_mode_matches_the_stdlib(net: Binding) -> None:
    """The same outcomes on both drivers (the fake has no one-call methods)."""

    def run(module: Any) -> list[object]:
        a, b = module.socketpair()
        out: list[object] = []
        with a, b:
            a.settimeout(5)
            b.settimeout(0.01)
            out.append(a.send(b"abc"))
            out.append(b.recv(2))
            out.append(b.recv(10, module.MSG_PEEK))
            out.append(b.recv(10))
            try:
                b.recv(10)
            except TimeoutError as exc:
                out.append((type(exc), exc.args))
            a.close()
            out.append(b.recv(10))  # EOF: ready, b""
            try:
                b.send(b"x", module.MSG_NOSIGNAL)
            except OSError as exc:
                out.append((type(exc), exc.errno))
        return out

    assert run(net) == run(socket)


def test_eintr_in_the_cores_wait_runs_the_handler_and_retries(native_net: Binding) -> None:
    """Not ready in the one call; the wait that follows is interrupted twice by
    SIGALRM: the handler runs each time and the call still gets its data."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")
    a, b = native_net.socketpair()
    calls: list[int] = []
    previous = signal.getsignal(signal.SIGALRM)
    try:
        with a, b:

            def handler(signum: int, frame: FrameType | None) -> None:
                calls.append(signum)
                if len(calls) == 2:
                    a.send(b"after two signals")

            b.settimeout(30)
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
            assert b.recv(64) == b"after two signals"
            signal.setitimer(signal.ITIMER_REAL, 0)
            assert len(calls) >= 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- sendmsg's fast path calls the driver itself when blocking/non-blocking -------


@pytest.mark.parametrize("timeout", [None, 0.0, 5.0])
def test_sendmsg_fast_path_retries_eintr_and_raises_other_errors(timeout: float | None) -> None:
    """The fast path's own first try, then the retry step (sock_call): EINTR
    is retried at once with the same arguments, another errno is raised."""
    from sansock_fake import FakeKernel

    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        a.settimeout(timeout)
        rights = [(net.SOL_SOCKET, net.SCM_RIGHTS, array.array("i", [b.fileno()]))]
        kernel.faults.fail("sendmsg", errno.EINTR)
        assert a.sendmsg([b"x"], rights) == 1
        msg, anc, _, _ = b.recvmsg(10, net.CMSG_SPACE(4))
        assert msg == b"x" and len(anc) == 1
        net.close(array.array("i", anc[0][2])[0])
        kernel.faults.fail("sendmsg", errno.ENOBUFS)
        with pytest.raises(OSError) as info:
            a.sendmsg([b"y"], rights)
        assert info.value.errno == errno.ENOBUFS and info.value.__context__ is None
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(10)  # nothing was sent twice, nothing by the failed call
