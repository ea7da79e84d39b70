"""``loop.sock_sendfile`` on the fake kernel's event loop drives the fake's ``sendfile(2)``.

The stdlib's Unix loop sends a regular file with ``os.sendfile`` (waiting for
writability between calls) and falls back to ``send`` only when that is not
possible; the fake's loop does the same with the kernel's ``sendfile``
(``drivers/sansock_fake/_sendfile.py``), so ``fallback=False`` works and the
trace shows ``sendfile``.  The stdlib loop on real sockets is the oracle for
what is returned and where the file's position ends.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from sansock_fake import FakeKernel, new_event_loop

PAYLOAD = os.urandom(1 << 20)  # more than a socket buffer holds: sendfile waits for the reader


async def _send_and_receive(
    loop: asyncio.AbstractEventLoop, socketpair: Callable[[], tuple[Any, Any]], path: Path,
    offset: int, count: int | None, fallback: bool,
) -> tuple[object, ...]:
    a, b = socketpair()
    with a, b, open(path, "rb") as f:
        a.setblocking(False)
        b.setblocking(False)
        f.seek(7)
        want = len(PAYLOAD) - offset if count is None else count
        received = bytearray()

        async def receive() -> None:
            while len(received) < want:
                received.extend(await loop.sock_recv(b, 65536))

        sent, _ = await asyncio.gather(loop.sock_sendfile(a, f, offset, count, fallback=fallback), receive())
        return sent, f.tell(), bytes(received) == PAYLOAD[offset : offset + want]


def _on(make_loop: Callable[[], asyncio.AbstractEventLoop], socketpair: Callable[[], tuple[Any, Any]],
        main: Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, Any]]) -> Any:
    loop = make_loop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


@pytest.mark.parametrize(("offset", "count"), [(0, None), (3, 10), (5000, 300_000)])
def test_sock_sendfile_sends_a_real_file_with_sendfile(tmp_path: Path, offset: int, count: int | None) -> None:
    path = tmp_path / "payload"
    path.write_bytes(PAYLOAD)
    kernel = FakeKernel()

    def fake_pair() -> tuple[Any, Any]:
        return socket.socketpair()  # (the stdlib's, on the kernel while the loop runs)

    ours = _on(lambda: new_event_loop(kernel), fake_pair,
               lambda loop: _send_and_receive(loop, fake_pair, path, offset, count, fallback=False))
    theirs = _on(asyncio.new_event_loop, socket.socketpair,
                 lambda loop: _send_and_receive(loop, socket.socketpair, path, offset, count, fallback=False))
    assert ours == theirs
    calls = {entry.call for entry in kernel.trace}
    assert "sendfile" in calls
    assert not calls & {"send", "sendmsg", "sendto"}


def test_sock_sendfile_of_a_file_object_without_fileno_still_falls_back() -> None:
    kernel = FakeKernel()

    async def main(loop: asyncio.AbstractEventLoop) -> tuple[object, ...]:
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            sent = await loop.sock_sendfile(a, io.BytesIO(b"file contents"))
            data = await loop.sock_recv(b, 100)
            with pytest.raises(asyncio.SendfileNotAvailableError):
                await loop.sock_sendfile(a, io.BytesIO(b"x"), fallback=False)
            return sent, data

    assert _on(lambda: new_event_loop(kernel), socket.socketpair, main) == (13, b"file contents")


def test_loop_sendfile_over_a_transport_uses_sendfile(tmp_path: Path) -> None:
    """``loop.sendfile(transport, file)`` (a stream's transport) goes the same way."""
    path = tmp_path / "payload"
    path.write_bytes(PAYLOAD)
    kernel = FakeKernel()

    async def main(loop: asyncio.AbstractEventLoop) -> tuple[int, bool]:
        received = bytearray()
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.extend(await reader.read())
            writer.close()
            done.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        with open(path, "rb") as f:
            sent = await loop.sendfile(writer.transport, f, fallback=False)
        writer.close()
        await done.wait()
        server.close()
        await server.wait_closed()
        return sent, bytes(received) == PAYLOAD

    assert _on(lambda: new_event_loop(kernel), socket.socketpair, main) == (len(PAYLOAD), True)
    assert "sendfile" in {entry.call for entry in kernel.trace}
