"""Signals and threads: data intact under a 1 ms SIGALRM storm, close() while
another thread is blocked, eight threads on shared sockets.

Signals run on the native driver (real EINTR, PEP 475 retries).  The thread
tests run on both drivers; on the fake kernel every blocked thread waits in
the kernel's scheduler, so nothing here waits in real time for a timeout.

**close() from another thread (Linux, CPython 3.11).**  ``close()`` on a
socket that another thread is blocked on in ``recv`` does not wake that
thread: the kernel keeps the open file alive for the syscall in progress,
and the thread waits until data, EOF (the peer closes) or a shutdown.
``shutdown(SHUT_RDWR)`` wakes it at once with ``b""``.  The stdlib is run as
the oracle in the same test and sansock does the same on both drivers.
"""

from __future__ import annotations

import hashlib
import os
import platform
import signal
import socket as stdlib
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from sansock import Binding
from sansock import ancillary as anc

STRESS = os.environ.get("SANSOCK_STRESS", "") not in ("", "0")


def scaled(short: int, long: int) -> int:
    """*short* under ``make test``, *long* under ``make stress``."""
    return long if STRESS else short


main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread only",
)


class Interrupted(Exception):
    pass


@pytest.fixture
def alarm_storm() -> Iterator[list[int]]:
    """SIGALRM every millisecond; the handler counts.  Restored afterwards."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: calls.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    yield calls
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def pattern(size: int) -> bytes:
    """Bytes that reveal a lost, repeated or reordered chunk."""
    block = hashlib.sha256(b"sansock").digest() * 128  # 4 KiB
    return (block * (size // len(block) + 1))[:size]


# -- PEP 475 under a 1 ms interval timer (native) -----------------------------------------


@main_thread_only
def test_sendall_under_a_signal_storm(native_net: Binding, alarm_storm: list[int]) -> None:
    size = scaled(8, 64) << 20  # 8 MiB, 64 MiB under make stress
    payload = pattern(size)
    a, b = native_net.socketpair()
    digest = hashlib.sha256()
    received = [0]

    def reader() -> None:
        buf = bytearray(1 << 16)
        while received[0] < size:
            n = b.recv_into(buf)
            if not n:
                break
            digest.update(memoryview(buf)[:n])
            received[0] += n

    with a, b:
        thread = threading.Thread(target=reader)
        thread.start()
        a.sendall(payload)
        thread.join()
    assert received[0] == size
    assert digest.digest() == hashlib.sha256(payload).digest()
    assert alarm_storm, "no signal was delivered"


@main_thread_only
def test_recv_loop_under_a_signal_storm(native_net: Binding, alarm_storm: list[int]) -> None:
    size = scaled(4, 32) << 20
    payload = pattern(size)
    a, b = native_net.socketpair()

    def writer() -> None:
        view = memoryview(payload)
        for start in range(0, size, 100_003):  # odd chunks: boundaries move
            a.sendall(view[start : start + 100_003])
        a.shutdown(native_net.SHUT_WR)

    with a, b:
        thread = threading.Thread(target=writer)
        thread.start()
        chunks = []
        while True:
            chunk = b.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        thread.join()
    assert b"".join(chunks) == payload
    assert alarm_storm


@main_thread_only
@pytest.mark.parametrize("operation", ["sendall", "recv", "recvmsg", "accept"])
def test_a_raising_handler_propagates(native_net: Binding, operation: str) -> None:
    """PEP 475: EINTR is retried only when the handler returns; its exception propagates."""
    calls: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)
        if len(calls) == 5:
            raise Interrupted

    previous = signal.signal(signal.SIGALRM, handler)
    a, b = native_net.socketpair()
    try:
        with a, b:
            signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
            with pytest.raises(Interrupted) as info:
                if operation == "sendall":
                    a.sendall(bytes(64 << 20))  # nobody reads: blocks once the buffer is full
                elif operation == "recv":
                    b.recv(1)
                elif operation == "recvmsg":
                    anc.recvmsg_ex(b, 1, native_net.CMSG_SPACE(4))
                else:
                    with native_net.socket(native_net.AF_INET) as server:
                        server.bind(("127.0.0.1", 0))
                        server.listen()
                        server.accept()
            signal.setitimer(signal.ITIMER_REAL, 0)
            assert len(calls) == 5
            if operation == "sendall":
                sent = anc.bytes_sent(info.value)
                assert sent is not None and 0 < sent < 64 << 20
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- close() from another thread -------------------------------------------------------------


def is_fake(net: Any) -> bool:
    from sansock_fake import FakeKernel

    return isinstance(getattr(net, "driver", None), FakeKernel)


#: recvfrom(2)'s number (glibc's recv() is recvfrom), by machine.
_RECVFROM = {"x86_64": 45, "aarch64": 207}.get(platform.machine())

#: A real bound only: on a loaded machine a thread may take this long to be scheduled.
_REAL_BOUND_S = 30.0


def sleeping_in_recv(thread: threading.Thread) -> bool:
    """The real kernel's answer: *thread* sleeps (state S) inside recvfrom(2)
    (``/proc/self/task/<tid>/syscall`` and ``stat``), not merely "started" or
    waiting for the GIL (futex)."""
    tid = thread.native_id
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            nr = f.read().split()[0]
        with open(f"/proc/self/task/{tid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False  # the thread has ended
    return state == "S" and nr == str(_RECVFROM)


def wait_until_blocked(net: Any, thread: threading.Thread) -> None:
    """Until *thread* is blocked in its recv (fake: in the kernel's waiting room;
    native: asleep in recvfrom).  A close() before the recv starts would give
    EBADF instead: the outcome depends on it, so it is asked, not slept for."""
    deadline = time.monotonic() + _REAL_BOUND_S
    if is_fake(net):
        while thread.ident not in net.driver.blocked_threads():
            assert time.monotonic() < deadline, "the thread never blocked"
            time.sleep(0.001)
    else:
        while not sleeping_in_recv(thread):
            assert thread.is_alive() and time.monotonic() < deadline, "the thread never blocked in recv"
            time.sleep(0.001)


def still_blocked(net: Any, thread: threading.Thread) -> bool:
    if is_fake(net):
        net.driver.settle()  # the waiter has re-checked since the action
        return thread.ident in net.driver.blocked_threads()
    # shutdown() wakes the sleeper before it returns (its state leaves S at
    # once); a thread still asleep in recvfrom after the action stays blocked.
    # Not a time limit: a woken thread that is slow to run is waited for.
    deadline = time.monotonic() + _REAL_BOUND_S
    while thread.is_alive():
        if sleeping_in_recv(thread):
            return True
        assert time.monotonic() < deadline, "the thread neither ended nor slept in recv"
        time.sleep(0.001)
    return False


def blocked_recv_then(net: Any, action: str) -> tuple[bool, list[object]]:
    """A thread blocks in ``b.recv``; the main thread does *action* to b; then the peer closes.

    Returns (the thread was still blocked after the action, what recv returned or raised).
    """
    a, b = net.socketpair()
    out: list[object] = []

    def run() -> None:
        try:
            out.append(b.recv(10))
        except OSError as exc:
            out.append(type(exc).__name__)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until_blocked(net, thread)
    if action == "close":
        b.close()
    else:
        b.shutdown(net.SHUT_RDWR)
    blocked = still_blocked(net, thread)
    a.close()  # EOF for a thread still waiting
    thread.join()
    b.close()
    return blocked, out


@pytest.mark.skipif(_RECVFROM is None, reason="recvfrom's syscall number is not known for this machine")
@pytest.mark.parametrize("action", ["close", "shutdown"])
def test_close_from_another_thread_behaves_as_the_stdlib(net: Binding, action: str) -> None:
    theirs = blocked_recv_then(stdlib, action)
    assert theirs == (action == "close", [b""])
    assert blocked_recv_then(net, action) == theirs


# -- eight threads on shared sockets ------------------------------------------------------------


def test_eight_threads_hammering_shared_sockets(net: Binding) -> None:
    """4 writers and 4 readers share one AF_UNIX datagram pair: each message arrives once, intact."""
    per_writer = scaled(500, 50_000)
    a, b = net.socketpair(net.AF_UNIX, net.SOCK_DGRAM)
    received: list[bytes] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(wid: int) -> None:
        try:
            for seq in range(per_writer):
                body = b"%d:%d:" % (wid, seq)
                a.send(body + hashlib.blake2b(body, digest_size=8).digest())
                if seq % 97 == 0:
                    a.getsockopt(net.SOL_SOCKET, net.SO_SNDBUF)  # mixed calls on the shared socket
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)

    def reader() -> None:
        try:
            while True:
                message = b.recv(64)
                if message == b"stop":
                    return
                with lock:
                    received.append(message)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with a, b:
        readers = [threading.Thread(target=reader) for _ in range(4)]
        writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for thread in readers + writers:
            thread.start()
        for thread in writers:
            thread.join()
        for _ in readers:
            a.send(b"stop")
        for thread in readers:
            thread.join()
    assert errors == []
    assert len(received) == 4 * per_writer
    seen = set()
    for message in received:
        wid, seq, digest = message.split(b":", 2)
        body = wid + b":" + seq + b":"
        assert digest == hashlib.blake2b(body, digest_size=8).digest()
        seen.add((int(wid), int(seq)))
    assert seen == {(w, s) for w in range(4) for s in range(per_writer)}


def test_eight_threads_on_shared_stream_sockets(net: Binding) -> None:
    """Stream pair: 4 threads sendall framed records, 4 threads read; byte totals and records intact."""
    per_writer = scaled(200, 20_000)
    record = 64
    a, b = net.socketpair()
    lock = threading.Lock()
    chunks: list[bytes] = []
    errors: list[BaseException] = []

    def writer(wid: int) -> None:
        try:
            frame = bytes([65 + wid]) * record
            for _ in range(per_writer):
                a.sendall(frame)  # one record per send: smaller than any buffer, so atomic here
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def reader() -> None:
        try:
            while True:
                data = b.recv(4096)
                if not data:
                    return
                with lock:
                    chunks.append(data)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with a, b:
        writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        readers = [threading.Thread(target=reader) for _ in range(4)]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
        a.shutdown(net.SHUT_WR)
        for thread in readers:
            thread.join()
    assert errors == []
    data = b"".join(chunks)
    assert len(data) == 4 * per_writer * record
    for wid in range(4):
        assert data.count(bytes([65 + wid])) == per_writer * record
