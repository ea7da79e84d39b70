"""close() from another thread while a call waits on the socket (task rev2).

Linux: a syscall holds the file it works on (``fdget``), and ``poll`` holds
every file it waits on (``__pollwait``'s ``get_file``), so ``close()`` only
removes the fd from the table: the socket lives until the waiting call
returns, the peer can still send to it, the waiter is not woken by the close.
CPython's ``socket.close()`` does nothing more (socketmodule.c ``sock_close``),
and stdlib users learn to wake a reader with ``shutdown``, not ``close``.
The fake used to release the socket at ``close`` (the peer's ``send`` got
EPIPE, a timeout-mode waiter woke at once with EBADF).
"""

from __future__ import annotations

import platform
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sansock import Binding

#: x86-64 syscall numbers a thread blocked in recv, accept or poll shows in /proc/<tid>/syscall:
#: poll, recvfrom, accept, accept4, ppoll, epoll_wait, epoll_pwait.
_WAITING_SYSCALLS = {"7", "45", "43", "288", "271", "232", "281"}


def wait_blocked(net: Binding, thread: threading.Thread) -> None:
    """Return once *thread* waits inside the kernel (fake: the scheduler knows;
    native: /proc says it sleeps in recv, accept or poll; x86-64 numbers)."""
    deadline = time.monotonic() + 10
    kernel: Any = net.driver
    while time.monotonic() < deadline:
        if hasattr(kernel, "blocked_threads"):
            if thread.ident in kernel.blocked_threads():
                return
        else:
            if platform.machine() != "x86_64":  # pragma: no cover
                pytest.skip("syscall numbers of x86-64 only")
            try:
                fields = Path(f"/proc/self/task/{thread.native_id}/syscall").read_text().split()
            except OSError:  # pragma: no cover - no /proc/<tid>/syscall
                pytest.skip("cannot see where a thread waits")
            if fields and fields[0] in _WAITING_SYSCALLS:
                return
        time.sleep(0.001)
    raise AssertionError("the reader never blocked")


def now(net: Binding) -> float:
    kernel: Any = net.driver
    if hasattr(kernel, "monotonic_ns"):
        return float(kernel.monotonic_ns()) / 1e9
    return time.monotonic()


@pytest.mark.threads
def test_close_does_not_end_a_blocked_recv_and_the_peer_can_still_send(net: Binding) -> None:
    a, b = net.socketpair()
    got: list[object] = []

    def reader() -> None:
        try:
            got.append(b.recv(10))
        except OSError as exc:
            got.append(exc.errno)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_blocked(net, thread)
        b.close()
        assert a.send(b"late") == 4  # the socket lives on while recv holds it
        thread.join(10)
        assert got == [b"late"]
    finally:
        a.close()
        thread.join(10)


@pytest.mark.threads
def test_close_does_not_wake_a_timeout_mode_recv(net: Binding) -> None:
    """CPython's sock_call_ex sleeps in poll on the old file until the timeout,
    then recv(-1): EBADF (the stdlib gives the same on this host)."""
    a, b = net.socketpair()
    b.settimeout(0.3)
    got: list[object] = []
    start = now(net)

    def reader() -> None:
        try:
            got.append(b.recv(10))
        except OSError as exc:
            got.append((type(exc).__name__, exc.errno, round(now(net) - start, 3) >= 0.3))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_blocked(net, thread)
        b.close()
        thread.join(10)
        assert got == [("OSError", 9, True)]
    finally:
        a.close()
        thread.join(10)


def _blocked_call(net: Binding, call: Any) -> tuple[threading.Thread, list[object]]:
    got: list[object] = []

    def run() -> None:
        try:
            got.append(call())
        except OSError as exc:
            got.append((type(exc).__name__, exc.errno))

    thread = threading.Thread(target=run)
    thread.start()
    wait_blocked(net, thread)
    return thread, got


@pytest.mark.threads
def test_rst_wakes_a_blocked_reader(net: Binding) -> None:
    import struct

    with net.socket(net.AF_INET, net.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = net.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        with client:
            thread, got = _blocked_call(net, lambda: client.recv(10))
            conn.setsockopt(net.SOL_SOCKET, net.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            thread.join(10)
            assert got == [("ConnectionResetError", 104)]
            assert client.recv(10) == b""


@pytest.mark.threads
def test_shutdown_wakes_blocked_accept_and_recv(net: Binding) -> None:
    """The way to wake them (close does not): shutdown(SHUT_RD) of a listener
    ends accept with EINVAL, shutdown of a connected socket ends recv with b""."""
    with net.socket(net.AF_INET, net.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        thread, got = _blocked_call(net, lambda: listener.accept())
        listener.shutdown(net.SHUT_RD)
        thread.join(10)
        assert got == [("OSError", 22)]
    a, b = net.socketpair()
    with a, b:
        thread, got = _blocked_call(net, lambda: b.recv(10))
        b.shutdown(net.SHUT_RDWR)
        thread.join(10)
        assert got == [b""]


@pytest.mark.threads
def test_close_of_a_listener_leaves_a_blocked_accept_waiting(net: Binding) -> None:
    listener = net.socket(net.AF_INET, net.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    address = listener.getsockname()
    thread, got = _blocked_call(net, lambda: listener.accept())
    listener.close()
    with net.create_connection(address) as client:  # still listening: accept holds it
        thread.join(10)
        assert len(got) == 1 and isinstance(got[0], tuple)
        conn = got[0][0]
        assert isinstance(conn, type(client))
        conn.close()
