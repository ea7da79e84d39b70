"""A receive into a buffer holds the buffer's export while it waits (issue 12, item 10).

CPython parses ``recv_into``'s buffer with ``w*`` and keeps it until the call
returns: while a thread waits in ``recv_into(bytearray)``, another thread's
``buf.clear()`` raises ``BufferError``, and the data then lands in the buffer.
The fake kernel holds a view of the buffer from syscall entry to return, as
the native driver's ``ffi.from_buffer`` does.  Both drivers, each receive
into a caller's buffer, in blocking mode and with a timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from sansock import Binding
from sansock_fake import FakeKernel

pytestmark = pytest.mark.threads


def wait_until_blocked(net: Binding, thread: threading.Thread, buf: bytearray) -> None:
    """Until *thread* waits in its receive.  Fake: in the kernel's waiting room.
    Native: the kernel gives no way to ask; a short real wait."""
    if isinstance(net.driver, FakeKernel):
        deadline = time.monotonic() + 10
        while thread.ident not in net.driver.blocked_threads():
            assert time.monotonic() < deadline, "the receiving thread never blocked"
            time.sleep(0.001)
    else:
        time.sleep(0.1)


RECEIVES: dict[str, Callable[[Any, bytearray], object]] = {
    "recv_into": lambda s, buf: s.recv_into(buf),
    "recvfrom_into": lambda s, buf: s.recvfrom_into(buf)[0],
    "recvmsg_into": lambda s, buf: s.recvmsg_into([buf])[0],
    "recv_into-memoryview": lambda s, buf: s.recv_into(memoryview(buf)[2:]),
}


@pytest.mark.parametrize("name", sorted(RECEIVES))
@pytest.mark.parametrize("timeout", [None, 30.0])
def test_blocked_receive_holds_the_buffer(net: Binding, name: str, timeout: float | None) -> None:
    a, b = net.socketpair()
    buf = bytearray(b"-" * 16)
    out: list[object] = []
    receive = RECEIVES[name]

    def run() -> None:
        try:
            out.append(receive(b, buf))
        except Exception as exc:  # noqa: BLE001 - reported below
            out.append(exc)

    with a, b:
        b.settimeout(timeout)
        thread = threading.Thread(target=run)
        thread.start()
        try:
            wait_until_blocked(net, thread, buf)
            with pytest.raises(BufferError):
                buf.clear()
            with pytest.raises(BufferError):
                buf.extend(b"more")
        finally:
            a.send(b"hello")
            thread.join(10)
        assert not thread.is_alive()
    assert out == [5]
    start = 2 if name.endswith("memoryview") else 0
    assert buf[start : start + 5] == b"hello" and len(buf) == 16
    buf.clear()  # the export ended with the call


def test_fake_export_ends_when_the_syscall_fails() -> None:
    """The fake releases its views on the way out: the exception's frames keep none."""
    kernel = FakeKernel()
    a, b = kernel.socketpair(1, 1, 0)
    kernel.set_nonblocking(b, True)
    buf = bytearray(8)
    calls: list[Callable[[], object]] = [
        lambda: kernel.recv_into(b, buf, 8, 0),
        lambda: kernel.recvfrom_into(b, buf, 8, 0),
        lambda: kernel.recvmsg_into(b, [buf, bytearray(2)], 0, 0),
    ]
    for call in calls:
        with pytest.raises(BlockingIOError) as info:
            call()
        assert info.traceback  # the frames are still alive here
        buf.extend(b"x")  # resizable: no export is left
        del buf[-1]
    kernel.send(a, b"hi", 0)
    assert kernel.recvmsg_into(b, [buf], 0, 0)[0] == 2
    buf.clear()
    kernel.close(a)
    kernel.close(b)


def test_export_ends_when_the_receive_fails(net: Binding) -> None:
    """No view outlives a failed receive (not even in the exception's frames)."""
    a, b = net.socketpair()
    buf = bytearray(8)
    with a, b:
        b.setblocking(False)
        for receive in RECEIVES.values():
            with pytest.raises(BlockingIOError) as info:
                receive(b, buf)
            assert info.value is not None
            buf.extend(b"x")  # resizable again: no export is left
            del buf[-1]
