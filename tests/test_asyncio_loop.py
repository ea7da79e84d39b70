"""Issue 17: asyncio's socket API on the fake kernel's event loop, in virtual time.

Each test runs a coroutine with ``sansock_fake.run`` (``asyncio.run`` of the
fake) on a kernel it makes, and checks what asyncio gives (streams,
protocols, datagrams, ``sock_*``, resolver, threads), what the virtual clock
says, and what the loop refuses (subprocesses, signals, pipes, real fds).
"""

from __future__ import annotations

import asyncio
import io
import os
import selectors
import socket
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

import pytest

import sansock_fake
from sansock_fake import BlockedForever, FakeEventLoop, FakeKernel, MixedWaitError

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], kernel: FakeKernel | None = None) -> T:
    return sansock_fake.run(main, kernel=kernel)


def fake_loop() -> FakeEventLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, FakeEventLoop)
    return loop


def real_sockets() -> int:
    """How many fds of this process are sockets (``/proc/self/fd`` -> ``socket:[...]``)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


# -- virtual time ---------------------------------------------------------------------------


def test_an_hour_of_asyncio_sleep_is_virtual() -> None:
    async def main() -> tuple[float, float]:
        loop = fake_loop()
        start, real = loop.time(), time.monotonic()
        await asyncio.sleep(3600)
        return loop.time() - start, time.monotonic() - real

    kernel = FakeKernel()
    before = kernel.monotonic_ns()
    virtual, real = run(main(), kernel)
    assert virtual == 3600.0
    assert real < 1.0
    assert kernel.monotonic_ns() - before == 3600 * 10**9  # loop.time() is the kernel's clock


def test_timers_fire_in_order_at_their_virtual_times() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = fake_loop()
        start = loop.time()
        fired: list[tuple[str, float]] = []
        done = loop.create_future()
        loop.call_later(30, lambda: fired.append(("30 s", loop.time() - start)))
        loop.call_later(0.25, lambda: fired.append(("250 ms", loop.time() - start)))
        loop.call_at(start + 90, lambda: done.set_result(None))
        await done
        fired.append(("call_at 90 s", loop.time() - start))
        return fired

    assert run(main()) == [("250 ms", 0.25), ("30 s", 30.0), ("call_at 90 s", 90.0)]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_fires_in_virtual_time() -> None:
    async def main() -> float:
        loop = fake_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(12.5):  # type: ignore[attr-defined,unused-ignore]
                await asyncio.sleep(3600)
        return loop.time() - start

    assert run(main()) == 12.5


def test_wait_for_5_s_against_a_handler_that_sleeps_60_s() -> None:
    """Acceptance: TimeoutError after 5 s of loop time, a small fraction of that in real time."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        await asyncio.sleep(60)
        writer.write(b"late")
        writer.close()

    async def main() -> tuple[float, float]:
        loop = fake_loop()
        server = await asyncio.start_server(slow, "127.0.0.1", 8080)
        reader, writer = await asyncio.open_connection("127.0.0.1", 8080)
        writer.write(b"question")
        start, real = loop.time(), time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(100), timeout=5)
        elapsed = loop.time() - start, time.monotonic() - real
        assert await reader.read(100) == b"late"  # the handler answers at 60 s
        assert loop.time() - start == 60.0
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return elapsed

    virtual, real = run(main())
    assert virtual == 5.0
    assert real < 1.0


# -- streams --------------------------------------------------------------------------------


def test_streams_echo_with_1000_concurrent_clients() -> None:
    """Acceptance: 1,000 clients connected at once, each gets its own echo."""

    async def client(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("localhost", 7000)
        message = f"client {i}".encode()
        writer.write(message)
        answer = await reader.readexactly(len(message))
        writer.close()
        await writer.wait_closed()
        return answer

    async def main() -> list[bytes]:
        server = await asyncio.start_server(echo, "127.0.0.1", 7000, backlog=128)
        async with server:
            return await asyncio.gather(*(client(i) for i in range(1000)))

    kernel = FakeKernel(fd_limit=4096)
    before = real_sockets()
    answers = run(main(), kernel)
    assert answers == [f"client {i}".encode() for i in range(1000)]
    assert sum(e.call == "connect" for e in kernel.trace) == 1000
    assert kernel.open_fds() == []
    assert real_sockets() == before


def test_unix_streams() -> None:
    async def main() -> bytes:
        server = await asyncio.start_unix_server(echo, "/tmp/sansock-asyncio.sock")
        async with server:
            reader, writer = await asyncio.open_unix_connection("/tmp/sansock-asyncio.sock")
            writer.write(b"over AF_UNIX")
            answer = await reader.readexactly(12)
            writer.close()
            await writer.wait_closed()
            return answer

    kernel = FakeKernel()
    assert run(main(), kernel) == b"over AF_UNIX"
    assert not os.path.exists("/tmp/sansock-asyncio.sock")  # the name lives in the fake's namespace
    kernel.unlink(b"/tmp/sansock-asyncio.sock")


def test_open_connection_refused_is_connection_refused_error() -> None:
    async def main() -> None:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", 9)

    run(main())


def test_a_wildcard_server_listens_on_ipv4_and_ipv6() -> None:
    async def main() -> list[bytes]:
        server = await asyncio.start_server(echo, None, 8443)
        answers = []
        async with server:
            families = sorted(s.family for s in server.sockets)
            assert families == sorted([socket.AF_INET, socket.AF_INET6])
            for host in ("127.0.0.1", "::1"):
                reader, writer = await asyncio.open_connection(host, 8443)
                writer.write(host.encode())
                answers.append(await reader.readexactly(len(host)))
                writer.close()
                await writer.wait_closed()
        return answers

    assert run(main()) == [b"127.0.0.1", b"::1"]


# -- protocols, datagrams, sock_* ---------------------------------------------------------------


def test_create_server_and_create_connection_with_protocols() -> None:
    class Upper(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data.upper())

    class Client(asyncio.Protocol):
        def __init__(self, done: asyncio.Future[bytes]) -> None:
            self.done = done
            self.got = b""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transport.write(b"protocols")
            self.peer = transport.get_extra_info("peername")
            self.socket = transport.get_extra_info("socket")

        def data_received(self, data: bytes) -> None:
            self.got += data
            if len(self.got) == 9:
                self.done.set_result(self.got)

    async def main() -> tuple[bytes, Any]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Upper, "127.0.0.1", 8000)
        done: asyncio.Future[bytes] = loop.create_future()
        transport, protocol = await loop.create_connection(lambda: Client(done), "localhost", 8000)
        answer = await done
        assert protocol.socket.fileno() >= fake_loop().kernel.fd_base
        transport.close()
        server.close()
        await server.wait_closed()
        return answer, protocol.peer

    assert run(main()) == (b"PROTOCOLS", ("127.0.0.1", 8000))


def test_create_datagram_endpoint() -> None:
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.transport.sendto(data[::-1], addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.got.put_nowait((data, addr))

    async def main() -> list[tuple[bytes, Any]]:
        loop = asyncio.get_running_loop()
        server, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 5353))
        client, protocol = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", 5353))
        client.sendto(b"abc")
        client.sendto(b"datagram")
        got = [await protocol.got.get(), await protocol.got.get()]
        client.close()
        server.close()
        return got

    assert run(main()) == [(b"cba", ("127.0.0.1", 5353)), (b"margatad", ("127.0.0.1", 5353))]


def test_sock_methods() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client = socket.socket()
        client.setblocking(False)
        with listener, client:
            _, (conn, _) = await asyncio.gather(
                loop.sock_connect(client, listener.getsockname()), loop.sock_accept(listener)
            )
            conn.setblocking(False)
            with conn:
                received = bytearray()

                async def receive() -> None:
                    buffer = bytearray(65536)
                    while len(received) < 3_000_000:
                        n = await loop.sock_recv_into(conn, buffer)
                        received.extend(buffer[:n])

                # More than the socket buffers hold: sendall waits for the reader.
                await asyncio.gather(loop.sock_sendall(client, b"x" * 3_000_000), receive())
                assert received == b"x" * 3_000_000
                await loop.sock_sendall(conn, b"reply")
                assert await loop.sock_recv(client, 100) == b"reply"
                # sock_sendfile of a BytesIO (no fd): asyncio falls back to send(), as on the stdlib's loop
                # (a real file goes through the kernel's sendfile: tests/test_fake_asyncio_sendfile.py).
                sent = await loop.sock_sendfile(client, io.BytesIO(b"file contents"))
                assert sent == 13
                assert await loop.sock_recv(conn, 100) == b"file contents"
                with pytest.raises(asyncio.SendfileNotAvailableError):
                    await loop.sock_sendfile(client, io.BytesIO(b"x"), fallback=False)

        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            b.bind(("127.0.0.1", 0))
            await loop.sock_sendto(a, b"datagram", b.getsockname())  # type: ignore[attr-defined,unused-ignore]
            data, addr = await loop.sock_recvfrom(b, 100)  # type: ignore[attr-defined,unused-ignore]
            assert (data, addr) == (b"datagram", ("127.0.0.1", a.getsockname()[1]))

    if sys.version_info < (3, 11):
        pytest.skip("loop.sock_sendto/sock_recvfrom are new in 3.11")
    run(main())


# -- the resolver ----------------------------------------------------------------------------


def test_getaddrinfo_and_getnameinfo_answer_inline_from_the_fake_resolver() -> None:
    kernel = FakeKernel()
    kernel.resolver.hosts["api.example.test"] = ["127.0.0.1"]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        threads = threading.active_count()
        infos = await loop.getaddrinfo("api.example.test", 443, type=socket.SOCK_STREAM)
        assert infos == [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))]
        assert await loop.getnameinfo(("127.0.0.1", 80)) == ("localhost", "http")
        with pytest.raises(socket.gaierror) as caught:
            await loop.getaddrinfo("no-such-host.invalid", 80)
        assert caught.value.errno == socket.EAI_NONAME
        with pytest.raises(socket.gaierror):
            await asyncio.open_connection("no-such-host.invalid", 80)
        assert threading.active_count() == threads  # no executor thread

    run(main(), kernel)


# -- threads --------------------------------------------------------------------------------


@pytest.mark.threads
def test_to_thread_with_a_blocking_socket_times_out_in_virtual_time() -> None:
    """A thread blocked in the kernel lets the clock move; the loop waits for it."""

    def blocking_client(port: int) -> float:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        with sock:
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                sock.recv(100)
            return time.monotonic() - start

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client closes
        writer.close()

    async def main() -> tuple[float, float]:
        loop = fake_loop()
        server = await asyncio.start_server(silent, "127.0.0.1", 8081)
        async with server:
            start = loop.time()
            real = await asyncio.to_thread(blocking_client, 8081)
            return loop.time() - start, real

    virtual, real = run(main())
    assert virtual == 30.0
    assert real < 5.0


@pytest.mark.threads
def test_call_soon_threadsafe_from_a_thread_wakes_the_loop() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        thread = threading.Thread(target=lambda: loop.call_soon_threadsafe(future.set_result, "woken"))
        thread.start()
        try:
            return await asyncio.wait_for(future, 60)
        finally:
            thread.join()

    assert run(main()) == "woken"


@pytest.mark.threads
def test_run_in_executor_threads_end_with_their_call() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(loop.run_in_executor(None, pow, 2, i) for i in range(5)))
        return list(results)

    threads = threading.active_count()
    assert run(main()) == [1, 2, 4, 8, 16]
    assert threading.active_count() == threads


# -- what is not modelled --------------------------------------------------------------------


def test_subprocesses_signals_and_pipes_are_not_modelled() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with pytest.raises(NotImplementedError, match="subprocess"):
            await asyncio.create_subprocess_exec("true")
        with pytest.raises(NotImplementedError, match="add_signal_handler"):
            loop.add_signal_handler(15, lambda: None)
        r, w = os.pipe()
        try:
            with pytest.raises(NotImplementedError, match="connect_read_pipe"):
                await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(r, "rb", closefd=False))
            with pytest.raises(MixedWaitError, match=f"real fd {r}"):
                loop.add_reader(r, lambda: None)
        finally:
            os.close(r)
            os.close(w)

    run(main())


# -- deadlocks ------------------------------------------------------------------------------


def test_a_reply_never_sent_is_blocked_forever_naming_the_clients_fd() -> None:
    """Acceptance: no timeout, no reply: BlockedForever names the client's task and fd."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(100)  # reads the question, never answers
            await asyncio.Event().wait()
        finally:
            writer.close()

    client_fd: list[int] = []

    async def client() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", 8080)
        try:
            client_fd.append(writer.get_extra_info("socket").fileno())
            writer.write(b"question")
            return await reader.read(100)  # no timeout
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(mute, "127.0.0.1", 8080)
        try:
            await asyncio.create_task(client(), name="client")
        finally:
            server.close()  # runs when asyncio.run cancels the tasks after the report

    start = time.monotonic()
    with pytest.raises(BlockedForever) as caught:
        run(main())
    assert time.monotonic() - start < 5.0
    message = str(caught.value)
    line = next(line for line in message.splitlines() if line.startswith("  Task 'client'"))
    assert f"waits on fd {client_fd[0]} (127.0.0.1:" in line
    assert "test_asyncio_loop.py" in line and "in client" in line
    assert "listening on 127.0.0.1:8080" in message
    handler = next(line for line in message.splitlines() if " in mute: " in line)
    assert "waits on <Future pending" in handler and "holding fd" in handler


def test_awaiting_a_future_nobody_resolves_is_blocked_forever() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(BlockedForever, match="which nothing will resolve"):
        run(main())


# -- determinism, hygiene -------------------------------------------------------------------


def test_two_runs_of_the_same_test_give_the_same_kernel_trace() -> None:
    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 7000)
        async with server:

            async def client(i: int) -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", 7000)
                writer.write(b"x" * (i + 1) * 1000)
                await asyncio.sleep(i * 0.5)
                await reader.readexactly((i + 1) * 1000)
                writer.close()
                await writer.wait_closed()

            await asyncio.gather(*(client(i) for i in range(10)))

    traces = []
    for _ in range(2):
        kernel = FakeKernel()
        run(main(), kernel)
        traces.append([(e.call, e.args, e.outcome) for e in kernel.trace])
    assert len(traces[0]) > 100
    assert traces[0] == traces[1]


def test_the_loop_closes_its_fds_and_the_patch_ends_with_the_run() -> None:
    kernel = FakeKernel()
    loop = sansock_fake.new_event_loop(kernel)
    assert len(kernel.open_fds()) == 2  # the self-pipe

    async def inside() -> bool:
        return isinstance(socket.socket(), socket.socket) and socket.socket is not real_class

    real_class = socket.socket
    sock_made_inside: list[socket.socket] = []

    async def make() -> None:
        sock_made_inside.append(socket.socket())

    loop.run_until_complete(make())
    assert socket.socket is real_class  # the patch ends with the run
    assert sock_made_inside[0].fileno() >= kernel.fd_base
    sock_made_inside[0].close()
    loop.close()
    assert kernel.open_fds() == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner is new in 3.11")
def test_asyncio_runner_with_the_loop_factory() -> None:
    kernel = FakeKernel()

    async def main() -> float:
        await asyncio.sleep(10)
        return asyncio.get_running_loop().time()

    with asyncio.Runner(loop_factory=lambda: sansock_fake.new_event_loop(kernel)) as runner:  # type: ignore[attr-defined,unused-ignore]
        assert runner.run(main()) == kernel.monotonic_ns() / 1e9
        assert runner.run(main()) == kernel.monotonic_ns() / 1e9


def test_the_policy_makes_loops_on_its_kernel() -> None:
    policy = sansock_fake.FakeEventLoopPolicy()
    loop = policy.new_event_loop()
    try:
        assert loop.kernel is policy.kernel
    finally:
        loop.close()


def test_the_loops_selector_drops_a_registered_fd_that_was_closed() -> None:
    """epoll forgets a file whose last fd is closed (fs/eventpoll.c,
    eventpoll_release): asyncio's EpollSelector reports nothing for a socket
    closed while registered, and neither does the fake loop's selector."""

    def closed_while_registered(selector: selectors.BaseSelector, pair: Any) -> list[Any]:
        a, b = pair()
        selector.register(a, selectors.EVENT_READ | selectors.EVENT_WRITE)
        a.close()
        b.close()
        try:
            return selector.select(0)
        finally:
            selector.close()

    real = closed_while_registered(selectors.EpollSelector(), socket.socketpair)
    loop = sansock_fake.new_event_loop()
    try:
        fake = closed_while_registered(loop._selector, loop._binding.socketpair)
    finally:
        loop.close()
    assert real == fake == []
