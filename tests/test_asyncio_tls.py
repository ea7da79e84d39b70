"""Issue 17: TLS on the fake kernel's event loop: asyncio's ``SSLProtocol``
over fake transports, with real handshakes (certificates from ``trustme``,
made before any kernel so no key generation runs while a clock waits).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
import trustme

import sansock_fake
from sansock_fake import FakeKernel


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "api.example.test").configure_cert(context)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


def test_streams_with_ssl_verify_the_server_and_negotiate_alpn(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    seen_sni: list[str | None] = []

    def sni(sslobj: Any, name: str | None, context: ssl.SSLContext) -> None:
        seen_sni.append(name)

    server_context.sni_callback = sni
    client_context.set_alpn_protocols(["http/1.1"])

    async def main() -> tuple[bytes, Any, str | None, str | None]:
        server = await asyncio.start_server(echo, "127.0.0.1", 8443, ssl=server_context)
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", 8443, ssl=client_context, server_hostname="api.example.test"
            )
            writer.write(b"secret")
            answer = await reader.readexactly(6)
            sslobj = writer.get_extra_info("ssl_object")
            result = answer, writer.get_extra_info("peercert")["subjectAltName"], sslobj.version(), \
                sslobj.selected_alpn_protocol()
            writer.close()
            await writer.wait_closed()
            return result

    try:
        answer, names, version, alpn = sansock_fake.run(main())
    finally:
        server_context.sni_callback = None
    assert answer == b"secret"
    assert ("DNS", "api.example.test") in names
    assert version in ("TLSv1.2", "TLSv1.3")
    assert alpn == "http/1.1"
    assert seen_sni == ["api.example.test"]


def test_a_wrong_host_name_fails_the_handshake(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async def main() -> str:
        server = await asyncio.start_server(echo, "127.0.0.1", 8443, ssl=server_context)
        async with server:
            with pytest.raises(ssl.SSLCertVerificationError) as caught:
                await asyncio.open_connection("127.0.0.1", 8443, ssl=client_context, server_hostname="evil.test")
            await asyncio.sleep(1)  # the server side sees the abort and closes its end
            return caught.value.verify_message

    kernel = FakeKernel()
    loop = sansock_fake.new_event_loop(kernel)
    try:
        loop.set_exception_handler(lambda loop, context: None)  # the server logs the failed handshake
        message = loop.run_until_complete(main())
    finally:
        loop.close()
    assert "Hostname mismatch" in message
    assert kernel.open_fds() == []


def test_start_tls_upgrades_a_plain_connection(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async def starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readline() == b"STARTTLS\r\n"
        writer.write(b"220 go ahead\r\n")
        await writer.drain()
        await writer.start_tls(server_context)  # type: ignore[attr-defined,unused-ignore]
        line = await reader.readline()
        writer.write(b"encrypted: " + line)
        await writer.drain()
        writer.close()

    async def main() -> tuple[bytes, bool]:
        server = await asyncio.start_server(starttls, "localhost", 2525)
        async with server:
            reader, writer = await asyncio.open_connection("localhost", 2525)
            writer.write(b"STARTTLS\r\n")
            assert await reader.readline() == b"220 go ahead\r\n"
            await writer.start_tls(client_context, server_hostname="localhost")  # type: ignore[attr-defined,unused-ignore]
            writer.write(b"hello\r\n")
            answer = await reader.readline()
            tls = writer.get_extra_info("ssl_object") is not None
            writer.close()
            await writer.wait_closed()
            return answer, tls

    import sys

    if sys.version_info < (3, 11):
        pytest.skip("StreamWriter.start_tls is new in 3.11")
    assert sansock_fake.run(main()) == (b"encrypted: hello\r\n", True)


def test_a_tls_handshake_timeout_is_virtual(client_context: ssl.SSLContext) -> None:
    """A server that accepts and never speaks TLS: the client's handshake timeout fires in virtual time."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(silent, "127.0.0.1", 8443)
        async with server:
            start = loop.time()
            with pytest.raises((TimeoutError, asyncio.TimeoutError, ConnectionAbortedError)):
                await asyncio.open_connection(
                    "127.0.0.1", 8443, ssl=client_context, server_hostname="localhost", ssl_handshake_timeout=20
                )
            return loop.time() - start

    assert sansock_fake.run(main()) == 20.0
