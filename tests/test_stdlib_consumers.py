"""What docs/howto/typing.rst promises about stdlib consumers of a sansock
socket on the native driver: ssl, asyncio's ``sock_*`` and
``start_server(sock=...)``, and selectors take it at run time (duck typing:
they need ``fileno()``, ``family``, ``type``, ``setblocking``...), and each
typed way the page shows works too."""

from __future__ import annotations

import asyncio
import selectors
import socket
import ssl
from typing import cast

import pytest

import sansock

pytestmark = pytest.mark.native_only


@pytest.fixture
def pair() -> tuple[sansock.socket, sansock.socket]:
    pytest.importorskip("sansock_native._sansock_native")
    return sansock.socketpair()


def test_selectors_take_a_sansock_socket(pair: tuple[sansock.socket, sansock.socket]) -> None:
    a, b = pair
    with a, b, selectors.DefaultSelector() as selector:
        # Typed without a cast: register() takes anything with fileno().
        key = selector.register(b, selectors.EVENT_READ, data="b")
        assert selector.select(timeout=0) == []
        a.send(b"x")
        [(ready, events)] = selector.select(timeout=5)
        assert ready is key and ready.fileobj is b and events == selectors.EVENT_READ
        selector.unregister(b)


def test_asyncio_sock_methods_take_a_sansock_socket(pair: tuple[sansock.socket, sansock.socket]) -> None:
    a, b = pair

    async def exchange() -> bytes:
        loop = asyncio.get_running_loop()
        a.setblocking(False)
        b.setblocking(False)
        # typeshed wants socket.socket: the cast states the duck typing.
        await loop.sock_sendall(cast(socket.socket, a), b"ping")
        return await loop.sock_recv(cast(socket.socket, b), 4)

    with a, b:
        assert asyncio.run(exchange()) == b"ping"


def test_asyncio_start_server_takes_a_listening_sansock_socket() -> None:
    pytest.importorskip("sansock_native._sansock_native")
    server_sock = sansock.create_server(("127.0.0.1", 0))
    port = server_sock.getsockname()[1]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server = await asyncio.start_server(handle, sock=cast(socket.socket, server_sock))
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello\n")
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return line

    assert asyncio.run(main()) == b"HELLO\n"
    server_sock.close()


def test_ssl_wrap_socket_takes_a_sansock_socket(pair: tuple[sansock.socket, sansock.socket]) -> None:
    # wrap_socket builds a stdlib socket on the same fd and detaches ours.
    a, b = pair
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    fd = a.fileno()
    with b:
        wrapped = context.wrap_socket(
            cast(socket.socket, a), server_hostname="example.org", do_handshake_on_connect=False
        )
        with wrapped:
            assert isinstance(wrapped, ssl.SSLSocket)
            assert wrapped.fileno() == fd
            assert a.fileno() == -1  # detached: the fd now belongs to the SSLSocket


def test_handing_the_fd_to_a_stdlib_socket_is_the_fully_typed_way(
    pair: tuple[sansock.socket, sansock.socket],
) -> None:
    a, b = pair
    with b:
        std = socket.socket(fileno=a.detach())
        with std:
            assert std.family == socket.AF_UNIX and std.type == socket.SOCK_STREAM
            std.sendall(b"over the stdlib")
            assert b.recv(64) == b"over the stdlib"
