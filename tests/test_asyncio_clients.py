"""Issue 17, acceptance: asyncio libraries of PyPI, unmodified, on the fake
kernel's event loop -- aiohttp (server and client), httpx, websockets, anyio
-- and the pytest recipes (pytest-asyncio's ``event_loop_policy``, anyio's
``anyio_backend``) that put an ``async def`` test on the fake.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


import aiohttp
import anyio
import httpx
import pytest
from aiohttp import web
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

import sansock_fake
from sansock_fake import FakeEventLoop, FakeEventLoopPolicy, FakeKernel


def fake_loop() -> FakeEventLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, FakeEventLoop)
    return loop


def connects(kernel: FakeKernel) -> int:
    return sum(entry.call == "connect" for entry in kernel.trace)


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello {request.match_info['name']}")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(60)
    return web.Response(text="late")


@asynccontextmanager
async def aiohttp_server(port: int = 8080) -> AsyncIterator[None]:
    """An aiohttp ``web.Application`` served by ``AppRunner``/``TCPSite`` on the fake."""
    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/{name}", hello)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


def test_aiohttp_server_and_client_session() -> None:
    """Keep-alive reuse (one connect for three requests) and a timeout firing in virtual time."""

    async def main() -> None:
        loop = fake_loop()
        async with aiohttp_server(), aiohttp.ClientSession() as session:
            texts = []
            for i in range(3):
                async with session.get(f"http://localhost:8080/{i}") as response:
                    assert response.status == 200
                    texts.append(await response.text())
            assert texts == ["hello 0", "hello 1", "hello 2"]
            assert connects(loop.kernel) == 1

            start, real = loop.time(), time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                async with session.get("http://localhost:8080/slow", timeout=aiohttp.ClientTimeout(total=5)):
                    pass
            assert 5.0 <= loop.time() - start < 6.0  # aiohttp rounds timeouts of 5 s and more up to a second
            assert time.monotonic() - real < 2.0

    sansock_fake.run(main())


def test_httpx_async_client_against_the_aiohttp_server() -> None:
    async def main() -> None:
        loop = fake_loop()
        async with aiohttp_server(), httpx.AsyncClient() as client:
            responses = [await client.get(f"http://localhost:8080/{name}") for name in ("httpx", "again")]
            assert [r.text for r in responses] == ["hello httpx", "hello again"]
            assert connects(loop.kernel) == 1
            start = loop.time()
            with pytest.raises(httpx.ReadTimeout):
                await client.get("http://localhost:8080/slow", timeout=7.5)
            assert loop.time() - start == 7.5

    sansock_fake.run(main())


def test_websockets_asyncio_client_and_server() -> None:
    async def reverse(websocket: ServerConnection) -> None:
        async for message in websocket:
            assert isinstance(message, str)
            await websocket.send(message[::-1])

    async def main() -> list[str | bytes]:
        async with ws_serve(reverse, "127.0.0.1", 8765):
            async with ws_connect("ws://localhost:8765") as websocket:
                answers = []
                for text in ("hello", "websockets"):
                    await websocket.send(text)
                    answers.append(await websocket.recv())
                await asyncio.sleep(120)  # keepalive pings run in virtual time
                await websocket.send("still there?")
                answers.append(await websocket.recv())
                return answers

    assert sansock_fake.run(main()) == ["olleh", "stekcosbew", "?ereht llits"]


def test_anyio_connect_tcp_and_create_tcp_listener() -> None:
    async def main() -> tuple[bytes, float]:
        async def handle(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                await stream.send((await stream.receive()).upper())

        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=9000)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, handle)
            async with await anyio.connect_tcp("localhost", 9000) as client:
                await client.send(b"anyio")
                answer = await client.receive()
            loop = fake_loop()
            start = loop.time()
            with pytest.raises(TimeoutError):
                with anyio.fail_after(30):
                    await anyio.sleep_forever()
            group.cancel_scope.cancel()
        return answer, loop.time() - start

    answer, waited = anyio.run(main, backend="asyncio", backend_options={"loop_factory": sansock_fake.new_event_loop})
    assert answer == b"ANYIO"
    assert waited == 30.0


# -- the pytest recipes (docs/howto/asyncio.rst) --------------------------------------------------


# pytest-asyncio: tests/conftest.py's pytest_asyncio_loop_factories hook puts
# every @pytest.mark.asyncio test of the suite on the fake.


@pytest.mark.asyncio
async def test_pytest_asyncio_runs_on_the_fake() -> None:
    loop = fake_loop()
    start = loop.time()
    async with aiohttp_server(), aiohttp.ClientSession() as session:
        async with session.get("http://localhost:8080/pytest") as response:
            assert await response.text() == "hello pytest"
    await asyncio.sleep(3600)
    assert loop.time() - start == 3600.0


def test_the_policy_fixture_makes_loops_on_its_kernel(fake_event_loop_policy: FakeEventLoopPolicy) -> None:
    """For pytest-asyncio before 1.4 (``event_loop_policy`` overridden) and other policy users."""
    loop = fake_event_loop_policy.new_event_loop()
    try:
        assert isinstance(loop, FakeEventLoop)
        assert loop.kernel is fake_event_loop_policy.kernel
        assert loop.run_until_complete(asyncio.sleep(5, "slept")) == "slept"
        assert loop.time() == fake_event_loop_policy.kernel.monotonic_ns() / 1e9
    finally:
        loop.close()


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Callable[[], asyncio.AbstractEventLoop]]]:
    """anyio's pytest plugin: ``@pytest.mark.anyio`` tests of this module run on the fake."""
    return "asyncio", {"loop_factory": sansock_fake.new_event_loop}


@pytest.mark.anyio
async def test_anyio_pytest_plugin_runs_on_the_fake() -> None:
    loop = fake_loop()
    start = loop.time()
    async with httpx.AsyncClient() as client, aiohttp_server():
        assert (await client.get("http://localhost:8080/anyio")).text == "hello anyio"
    with anyio.move_on_after(45):
        await anyio.sleep_forever()
    assert loop.time() - start == 45.0


