"""PEP 475 on the real kernel: EINTR is retried, a raising handler propagates.

A blocked ``recv`` is interrupted by SIGALRM.  If the handler returns, the
call is retried and gets its data; if the handler raises, that exception
comes out of ``recv`` -- as with CPython's ``sock_call_ex``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from sansock import Binding

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread only",
)


class Interrupted(Exception):
    pass


@pytest.fixture
def alarm() -> Iterator[list[int]]:
    """Count SIGALRM deliveries; restore the handler and timer afterwards."""
    calls: list[int] = []
    previous = signal.getsignal(signal.SIGALRM)
    yield calls
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def test_interrupted_recv_is_retried(native_net: Binding, alarm: list[int]) -> None:
    a, b = native_net.socketpair()
    with a, b:

        def handler(signum: int, frame: FrameType | None) -> None:
            alarm.append(signum)
            if len(alarm) == 3:
                a.send(b"after three signals")

        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        assert b.recv(64) == b"after three signals"
        signal.setitimer(signal.ITIMER_REAL, 0)
        assert len(alarm) >= 3


def test_raising_handler_propagates_from_recv(native_net: Binding, alarm: list[int]) -> None:
    a, b = native_net.socketpair()
    with a, b:

        def handler(signum: int, frame: FrameType | None) -> None:
            raise Interrupted

        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        with pytest.raises(Interrupted):
            b.recv(64)


def test_raising_handler_propagates_from_timeout_wait(
    native_net: Binding, alarm: list[int]
) -> None:
    a, b = native_net.socketpair()
    with a, b:

        def handler(signum: int, frame: FrameType | None) -> None:
            raise Interrupted

        b.settimeout(30)
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        with pytest.raises(Interrupted):
            b.recv(64)


def test_sendall_survives_signals(native_net: Binding, alarm: list[int]) -> None:
    a, b = native_net.socketpair()
    payload = bytes(range(256)) * (16 * 1024)  # 4 MiB
    received = bytearray()

    def reader() -> None:
        while len(received) < len(payload):
            chunk = b.recv(1 << 16)
            if not chunk:
                break
            received.extend(chunk)

    with a, b:
        signal.signal(signal.SIGALRM, lambda signum, frame: alarm.append(signum))
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        thread = threading.Thread(target=reader)
        thread.start()
        a.sendall(payload)
        thread.join()
        signal.setitimer(signal.ITIMER_REAL, 0)
    assert bytes(received) == payload
