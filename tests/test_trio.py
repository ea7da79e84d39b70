"""Issue 17, "Then, trio": trio on the fake kernel in virtual time (``sansock_fake.trio_run``).

trio is put on the kernel through its public hooks only (a socket factory, a
hostname resolver, a clock): see ``drivers/sansock_fake/interop/_trio.py``.
Where trio's own behaviour is the question (what a refused connect raises,
a close under a waiting task, two tasks reading one socket), the same
coroutine runs under ``trio.run`` on real loopback sockets too and the
answers are compared: real trio is the oracle.
"""

from __future__ import annotations

import errno
import functools
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import hypothesis
import pytest
from hypothesis import strategies as st

pytest.importorskip("trio")

import trio  # noqa: E402
import trio.testing  # noqa: E402

import sansock  # noqa: E402
import sansock_fake  # noqa: E402
from sansock_fake import BlockedForever, FakeKernel, MixedWaitError  # noqa: E402
from sansock_fake.interop._trio_socket import FakeTrioSocket  # noqa: E402

T = TypeVar("T")


def on_both(main: Callable[[], Awaitable[T]]) -> tuple[T, T]:
    """(what *main* gives under real trio on loopback, what it gives on the fake kernel)."""
    return trio.run(main), sansock_fake.trio_run(main)


def leaves(exc: BaseException) -> list[str]:
    """The type names of the leaf exceptions of an exception group (or of *exc* alone)."""
    inner = getattr(exc, "exceptions", None)
    if not isinstance(inner, tuple):
        return [type(exc).__name__]
    return [name for e in inner for name in leaves(e)]


async def echo(stream: Any) -> None:
    async for data in stream:
        await stream.send_all(data)


async def start_echo_server(nursery: Any, handler: Callable[[Any], Awaitable[None]] = echo) -> int:
    listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port: int = listeners[0].socket.getsockname()[1]
    return port


# -- virtual time ---------------------------------------------------------------------------


def test_an_hour_of_trio_sleep_is_virtual() -> None:
    async def main() -> float:
        start = trio.current_time()
        await trio.sleep(3600)
        return trio.current_time() - start

    kernel = FakeKernel()
    before, real = kernel.monotonic_ns(), time.monotonic()
    assert sansock_fake.trio_run(main, kernel=kernel) == 3600.0
    assert time.monotonic() - real < 1.0
    assert kernel.monotonic_ns() - before == 3600 * 10**9  # trio.current_time() is the kernel's clock


def test_trio_deadlines_fire_in_order_at_their_virtual_times() -> None:
    async def main() -> list[tuple[str, float]]:
        start = trio.current_time()
        fired: list[tuple[str, float]] = []

        async def after(name: str, delay: float) -> None:
            await trio.sleep(delay)
            fired.append((name, trio.current_time() - start))

        async with trio.open_nursery() as nursery:
            for name, delay in (("c", 30.0), ("a", 0.5), ("b", 2.25)):
                nursery.start_soon(after, name, delay)
        return fired

    assert sansock_fake.trio_run(main) == [("a", 0.5), ("b", 2.25), ("c", 30.0)]


def test_move_on_after_around_a_recv_from_a_silent_server_fires_at_5_virtual_seconds() -> None:
    async def silent(stream: Any) -> None:
        await trio.sleep(60)

    async def main() -> tuple[bool, float, float]:
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery, silent)
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            start, real = trio.current_time(), time.monotonic()
            with trio.move_on_after(5) as scope:
                await stream.receive_some(100)
            elapsed, real_elapsed = trio.current_time() - start, time.monotonic() - real
            await stream.aclose()
            nursery.cancel_scope.cancel()
        return scope.cancelled_caught, elapsed, real_elapsed

    caught, virtual, real = sansock_fake.trio_run(main)
    assert caught
    assert virtual == 5.0
    assert real < 1.0


def test_fail_after_raises_too_slow_in_virtual_time() -> None:
    async def main() -> float:
        start = trio.current_time()
        a, b = trio.socket.socketpair()  # real, but never waited on: fail_after fires first
        a.close()
        b.close()
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(12.5):
                await sock.recv(10)
        sock.close()
        return trio.current_time() - start

    assert sansock_fake.trio_run(main) == 12.5


def test_wait_all_tasks_blocked_returns_before_the_clock_moves() -> None:
    async def main() -> tuple[float, float]:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        with sock:
            await sock.bind(("127.0.0.1", 0))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep, 10)
                nursery.start_soon(sock.recv, 10)  # blocked on a fake fd
                start = trio.current_time()
                await trio.testing.wait_all_tasks_blocked()
                first = trio.current_time() - start
                await trio.sleep(3)  # the clock moves again afterwards
                second = trio.current_time() - start
                nursery.cancel_scope.cancel()
        return first, second

    real = time.monotonic()
    assert sansock_fake.trio_run(main) == (0.0, 3.0)
    assert time.monotonic() - real < 1.0


# -- trio's high-level networking -----------------------------------------------------------


def test_serve_tcp_and_open_tcp_stream_echo_with_100_clients() -> None:
    async def main() -> list[bytes]:
        replies: dict[int, bytes] = {}
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery)

            async def client(i: int) -> None:
                stream = await trio.open_tcp_stream("localhost", port)
                async with stream:
                    payload = b"%d:" % i + b"x" * (i * 100)
                    await stream.send_all(payload)
                    got = b""
                    while len(got) < len(payload):
                        got += await stream.receive_some(65536)
                    replies[i] = got

            async with trio.open_nursery() as clients:
                for i in range(100):
                    clients.start_soon(client, i)
            nursery.cancel_scope.cancel()
        return [replies[i] for i in range(100)]

    kernel = FakeKernel()
    real = time.monotonic()
    replies = sansock_fake.trio_run(main, kernel=kernel)
    assert replies == [b"%d:" % i + b"x" * (i * 100) for i in range(100)]
    assert sum(e.call == "connect" for e in kernel.trace) == 100
    assert sum(e.call == "accept4" or e.call == "accept" for e in kernel.trace) >= 100
    assert kernel.open_fds() == []  # every socket closed, the listeners too
    assert time.monotonic() - real < 30


def test_trio_socket_and_its_resolver_are_the_fakes() -> None:
    async def main() -> tuple[Any, list[Any], tuple[str, str], int]:
        sock = trio.socket.socket()
        try:
            infos = await trio.socket.getaddrinfo("localhost", 80, type=trio.socket.SOCK_STREAM)
            name = await trio.socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
            return sock, infos, name, sock.fileno()
        finally:
            sock.close()

    kernel = FakeKernel()
    sock, infos, name, fd = sansock_fake.trio_run(main, kernel=kernel)
    assert isinstance(sock, FakeTrioSocket) and isinstance(sock, trio.socket.SocketType)
    assert fd >= kernel.fd_base
    assert (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)) in infos
    assert all(isinstance(family, socket.AddressFamily) for family, *_ in infos)
    assert name == ("127.0.0.1", "80")
    assert sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM and sock.proto == 0


def test_udp_sendto_and_recvfrom() -> None:
    async def main() -> tuple[bytes, bool]:
        a = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        b = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        with a, b:
            await a.bind(("127.0.0.1", 0))
            await b.bind(("localhost", 0))  # a host name, through the fake resolver
            async with trio.open_nursery() as nursery:
                got: list[tuple[bytes, Any]] = []

                async def receive() -> None:
                    got.append(await a.recvfrom(100))

                nursery.start_soon(receive)
                await trio.sleep(1)
                await b.sendto(b"datagram", a.getsockname())
            data, source = got[0]
            return data, source == b.getsockname()

    assert sansock_fake.trio_run(main) == (b"datagram", True)


# -- what trio raises, compared with real trio on loopback ------------------------------------


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def test_a_refused_connect_raises_what_real_trio_raises() -> None:
    port = _closed_port()

    async def main() -> tuple[str, str, int | None]:
        try:
            await trio.open_tcp_stream("127.0.0.1", port)
        except OSError as exc:
            cause = exc.__cause__
            while cause is not None and hasattr(cause, "exceptions"):
                cause = cause.exceptions[0]
            return type(exc).__name__, str(exc), getattr(cause, "errno", None)
        raise AssertionError("connected to a closed port")

    real, fake = on_both(main)
    assert fake == real
    assert real[2] == errno.ECONNREFUSED


def test_closing_a_socket_under_a_waiting_task_is_what_real_trio_does() -> None:
    async def main() -> str:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        outcome: list[str] = []

        async def reader() -> None:
            try:
                await sock.recv(10)
            except BaseException as exc:
                outcome.append(type(exc).__name__)
                raise

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                await trio.sleep(0.1)
                sock.close()
        except Exception as exc:  # an ExceptionGroup (trio's strict groups)
            outcome.append(",".join(leaves(exc)))
        return " / ".join(outcome)

    real, fake = on_both(main)
    assert fake == real == "ClosedResourceError / ClosedResourceError"


def test_two_tasks_reading_one_socket_is_what_real_trio_does() -> None:
    async def main() -> str:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        with sock:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sock.recv, 10)
                    await trio.sleep(0.1)
                    await sock.recv(10)
            except Exception as exc:  # an ExceptionGroup (trio's strict groups)
                inner = exc
                while isinstance(getattr(inner, "exceptions", None), tuple):
                    inner = inner.exceptions[0]  # type: ignore[attr-defined]
                return f"{','.join(leaves(exc))}: {inner}"
        return "no error"

    real, fake = on_both(main)
    assert fake == real == "BusyResourceError: another task is already reading / writing this fd"


# -- deadlocks --------------------------------------------------------------------------------


def test_a_client_awaiting_a_reply_never_sent_raises_blocked_forever_naming_its_fd() -> None:
    async def mute(stream: Any) -> None:
        await trio.sleep_forever()

    client_fd: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery, mute)
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                client_fd.append(stream.socket.fileno())
                await stream.send_all(b"ping")
                await stream.receive_some(10)

    real = time.monotonic()
    with pytest.raises(BlockedForever) as caught:
        sansock_fake.trio_run(main)
    assert time.monotonic() - real < 5.0
    text = str(caught.value)
    assert "the trio run would block forever" in text
    assert re.search(rf"task 'main' at test_trio.py:\d+ in main: waits for fd {client_fd[0]} "
                     r"\(127.0.0.1:\d+ -> 127.0.0.1:\d+\) to become readable", text), text
    assert re.search(r"at test_trio.py:\d+ in mute: waits on something no task or thread will provide", text), text


def test_a_task_waiting_on_an_event_nobody_sets_raises_blocked_forever() -> None:
    async def main() -> None:
        await trio.Event().wait()

    with pytest.raises(BlockedForever, match=r"task 'main' at test_trio.py:\d+ in main: waits on something"):
        sansock_fake.trio_run(main)


def test_a_nursery_body_waiting_on_an_event_is_named_with_its_children() -> None:
    async def main() -> None:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        with sock:
            await sock.bind(("127.0.0.1", 0))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sock.recv, 10)
                await trio.Event().wait()

    with pytest.raises(BlockedForever) as caught:
        sansock_fake.trio_run(main)
    text = str(caught.value)
    assert re.search(r"task 'main' at test_trio.py:\d+ in main: waits on something no task or thread", text), text
    assert re.search(r"task '.*recv' at .*: waits for fd \d+ \(127.0.0.1:\d+\) to become readable", text), text


def test_a_wait_on_a_real_fd_raises_mixed_wait_error() -> None:
    real_a, real_b = socket.socketpair()

    async def main() -> None:
        await trio.lowlevel.wait_readable(real_a)

    try:
        with pytest.raises(MixedWaitError, match="1 trio task"):
            sansock_fake.trio_run(main)
    finally:
        real_a.close()
        real_b.close()


# -- threads ------------------------------------------------------------------------------------


@pytest.mark.threads
def test_to_thread_results_wake_the_run() -> None:
    def work(kernel_sock: Any) -> int:
        return 6 * 7

    async def main() -> tuple[int, float]:
        start = trio.current_time()
        result: int = await trio.to_thread.run_sync(work, None)
        return result, trio.current_time() - start

    real = time.monotonic()
    assert sansock_fake.trio_run(main) == (42, 0.0)
    assert time.monotonic() - real < 5.0
    assert threading.active_count() >= 1


@pytest.mark.threads
def test_a_thread_blocked_on_a_fake_socket_returns_at_the_senders_virtual_time() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()

    async def main() -> tuple[bytes, float, float]:
        start = trio.current_time()

        async def sender() -> None:
            await trio.sleep(10)
            a.send(b"late")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            got: bytes = await trio.to_thread.run_sync(b.recv, 10)
        after_thread = trio.current_time() - start
        with trio.move_on_after(7):  # with an idle worker thread around
            await trio.sleep_forever()
        return got, after_thread, trio.current_time() - start

    real = time.monotonic()
    try:
        assert sansock_fake.trio_run(main, kernel=kernel) == (b"late", 10.0, 17.0)
    finally:
        a.close()
        b.close()
    assert time.monotonic() - real < 5.0


@pytest.mark.threads
def test_an_adopted_thread_from_before_the_kernel_holds_the_clock() -> None:
    """``Scheduler.adopt``: what the trio clock does for trio's process-wide thread cache."""
    go = threading.Event()
    sockets: list[Any] = []

    def worker() -> None:
        go.wait()
        end = time.thread_time() + 0.2
        while time.thread_time() < end:
            pass  # computing: a participant holds the clock meanwhile
        sockets[0].send(b"x")

    thread = threading.Thread(target=worker)
    thread.start()  # before the kernel: no participant
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    sockets.append(a)
    try:
        with kernel._scheduler.condition:
            kernel._scheduler.adopt(thread)
        go.set()
        b.settimeout(5)
        start = kernel.monotonic_ns()
        assert b.recv(1) == b"x"
        assert kernel.monotonic_ns() == start
    finally:
        thread.join()
        a.close()
        b.close()


def test_trio_lowlevel_waits_on_a_fake_fd_fail_at_once() -> None:
    """Documented: trio's own epoll cannot take a fake fd (EBADF), it does not hang."""

    async def main() -> None:
        with trio.socket.socket() as sock:
            with pytest.raises(OSError) as caught:
                await trio.lowlevel.wait_readable(sock.fileno())
            assert caught.value.errno == errno.EBADF

    sansock_fake.trio_run(main)


# -- API, determinism ---------------------------------------------------------------------------


def test_trio_run_refuses_a_clock_and_small_fd_numbers() -> None:
    async def main() -> None:
        pass

    with pytest.raises(TypeError, match="clock"):
        sansock_fake.trio_run(main, clock=trio.testing.MockClock())
    with pytest.raises(ValueError, match="fd_base"):
        sansock_fake.trio_run(main, kernel=FakeKernel(fd_base=0))


_TRACES: list[list[tuple[str, object, str]]] = []


@hypothesis.settings(max_examples=2, derandomize=True, database=None, deadline=None)
@hypothesis.given(st.integers(0, 1))
def _one_traced_run(_: int) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery)

            async def client(i: int) -> None:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(b"x" * (i + 1) * 1000)
                    await trio.sleep(i * 0.5)
                    got = 0
                    while got < (i + 1) * 1000:
                        got += len(await stream.receive_some(65536))

            async with trio.open_nursery() as clients:
                for i in range(10):
                    clients.start_soon(client, i)
            nursery.cancel_scope.cancel()

    kernel = FakeKernel()
    sansock_fake.trio_run(main, kernel=kernel)
    _TRACES.append([(e.call, e.args, e.outcome) for e in kernel.trace])


def test_two_runs_of_the_same_test_give_the_same_kernel_trace() -> None:
    """trio shuffles the tasks it runs in each batch; under Hypothesis (any ``@given``
    test) its scheduler is deterministic and seeded per example (trio's Hypothesis
    plugin, ``register_random``): the same trace (docs/howto/trio.rst)."""
    _TRACES.clear()
    _one_traced_run()
    assert len(_TRACES) == 2
    assert len(_TRACES[0]) > 100
    assert _TRACES[0] == _TRACES[1]
