"""A one-shot ``SIGALRM`` (``setitimer(ITIMER_REAL)``) interrupts a blocked call, on both drivers.

On Linux a blocked ``send``/``recv`` gets ``EINTR`` when the alarm fires; CPython
runs the handler and, if it raises, the exception comes out of the call
(PEP 475).  The fake's virtual clock must not jump past a real-time alarm
that fires first: a real-time alarm armed with a Python handler, due before
the earliest virtual deadline, holds the clock until it fires (and a call
with no deadline is no deadlock while it is pending).  CPython's
``test_socket`` tests this (``InterruptedSendTimeoutTest``,
``TCPTimeoutTest.testInterruptedTimeout``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

from sansock import Binding

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread only",
)


class Alarm(Exception):
    pass


def _raise_alarm(signum: int, frame: FrameType | None) -> None:
    raise Alarm


@contextmanager
def _alarm_in(seconds: float) -> Iterator[None]:
    """A one-shot alarm *seconds* from now, cancelled when the block ends."""
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@pytest.fixture
def one_shot_alarm() -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_alarm_interrupts_a_recv_in_timeout_mode(net: Binding, one_shot_alarm: None) -> None:
    a, b = net.socketpair()
    with a, b:
        b.settimeout(30)
        started = time.monotonic()
        with pytest.raises(Alarm), _alarm_in(0.05):
            b.recv(10)
        assert time.monotonic() - started < 10


def test_an_alarm_interrupts_a_send_to_a_full_buffer(net: Binding, one_shot_alarm: None) -> None:
    a, b = net.socketpair()
    with a, b:
        a.settimeout(30)
        a.setblocking(False)
        try:
            while True:
                a.send(b"x" * 65536)
        except BlockingIOError:
            pass
        a.settimeout(30)
        with pytest.raises(Alarm), _alarm_in(0.05):
            a.send(b"x" * 65536)


def test_an_alarm_interrupts_a_blocking_recv_with_no_deadline(net: Binding, one_shot_alarm: None) -> None:
    a, b = net.socketpair()
    with a, b:
        with pytest.raises(Alarm), _alarm_in(0.05):
            b.recv(10)


def test_an_alarm_due_after_the_deadline_lets_the_timeout_expire(net: Binding, one_shot_alarm: None) -> None:
    """An alarm later than the timeout: the call times out first (virtual time on the fake)."""
    a, b = net.socketpair()
    with a, b:
        b.settimeout(0.01)
        with pytest.raises(TimeoutError), _alarm_in(5):
            b.recv(10)
