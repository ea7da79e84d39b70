"""Load: many connections held at once, many fds passed, memory that stays flat.

Native: concurrent loopback TCP connections echoed by one server thread that
uses non-blocking sansock sockets and the driver's ``poll`` (no stdlib
``select``), every byte checked; fds passed over AF_UNIX in a loop; memory
measured with ``tracemalloc`` over a long mix of operations.  Fake: ten
thousand connections in one kernel.  Short under ``make test``, full size
under ``make stress`` (``SANSOCK_STRESS=1``).
"""

from __future__ import annotations

import gc
import hashlib
import os
import resource
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock_fake import FakeKernel

STRESS = os.environ.get("SANSOCK_STRESS", "") not in ("", "0")


def scaled(short: int, long: int) -> int:
    """*short* under ``make test``, *long* under ``make stress``."""
    return long if STRESS else short


def report(text: str) -> None:
    print(f"\n[reliability] {text}")


@pytest.fixture
def many_fds() -> Iterator[int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit for the test; yields the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    yield target
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def payload_for(index: int, size: int) -> bytes:
    seed = hashlib.sha256(b"%d" % index).digest()
    return (seed * (size // len(seed) + 1))[:size]


def echo_server(net: Binding, listener: Any, expected: int, stop: threading.Event, errors: list[BaseException]) -> None:
    """One thread: accept and echo on non-blocking sockets; poll the listener when idle."""
    drv = net.driver
    pollin = net.abi.const("POLLIN")
    conns: list[Any] = []
    pending: dict[Any, bytes] = {}
    try:
        while not stop.is_set():
            progress = False
            while len(conns) < expected:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    break
                conn.setblocking(False)
                conns.append(conn)
                progress = True
            for conn in conns:
                data = pending.pop(conn, b"")
                try:
                    chunk = conn.recv(65536)
                    data += chunk
                except BlockingIOError:
                    pass
                if data:
                    try:
                        sent = conn.send(data)
                    except BlockingIOError:
                        sent = 0
                    if sent < len(data):
                        pending[conn] = data[sent:]
                    progress = True
            if not progress:
                # Idle: wait up to 1 ms for a new connection (the driver's poll, not select).
                drv.poll(listener.fileno(), pollin, 1)
    except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
        errors.append(exc)
    finally:
        for conn in conns:
            conn.close()


def test_concurrent_tcp_connections_echo_every_byte(native_net: Binding, many_fds: int) -> None:
    count = scaled(200, 1000)
    size = scaled(2048, 16384)
    if many_fds < 2 * count + 64:
        pytest.skip(f"RLIMIT_NOFILE hard limit {many_fds} is below the {2 * count + 64} fds needed")
    net = native_net
    started = time.perf_counter()
    listener = net.socket(net.AF_INET, net.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(count)
    listener.setblocking(False)
    stop = threading.Event()
    errors: list[BaseException] = []
    server = threading.Thread(target=echo_server, args=(net, listener, count, stop, errors))
    server.start()
    clients: list[Any] = []
    try:
        address = listener.getsockname()
        for _ in range(count):
            client = net.create_connection(address, timeout=30)
            clients.append(client)
        # Every connection is open at once; each sends its own payload, then reads it back.
        for index, client in enumerate(clients):
            client.sendall(payload_for(index, size))
        for index, client in enumerate(clients):
            expected = payload_for(index, size)
            got = bytearray()
            while len(got) < size:
                chunk = client.recv(size - len(got))
                assert chunk, f"connection {index} closed early"
                got += chunk
            assert got == expected, f"connection {index} echoed different bytes"
    finally:
        for client in clients:
            client.close()
        stop.set()
        server.join()
        listener.close()
    assert errors == []
    report(f"{count} concurrent TCP connections echoed {count * size} bytes in {time.perf_counter() - started:.1f} s")


def test_fds_passed_in_a_loop_do_not_leak(native_net: Binding, many_fds: int) -> None:
    total = scaled(1000, 10_000)
    per_message = 10
    net = native_net
    a, b = net.socketpair()
    x, y = net.socketpair()
    started = time.perf_counter()
    with a, b, x, y:
        inode = os.fstat(x.fileno()).st_ino
        for _ in range(total // per_message):
            net.send_fds(a, [b"f"], [x.fileno()] * per_message)
            msg, fds, flags, _ = net.recv_fds(b, 1, per_message)
            assert (msg, flags, len(fds)) == (b"f", 0, per_message)
            for fd in fds:
                assert os.fstat(fd).st_ino == inode  # the same socket came through
                net.close(fd)
    report(f"{total} fds passed over AF_UNIX in {time.perf_counter() - started:.1f} s, none leaked")


def test_fake_kernel_holds_ten_thousand_connections() -> None:
    count = scaled(1000, 10_000)
    kernel = FakeKernel(fd_limit=2 * count + 16)
    net = sansock.using(kernel)
    started = time.perf_counter()
    listener = net.socket(net.AF_INET, net.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    address = listener.getsockname()
    pairs: list[tuple[Any, Any]] = []
    try:
        for _ in range(count):
            client = net.create_connection(address)
            conn, peer = listener.accept()
            assert peer == client.getsockname()
            pairs.append((client, conn))
        assert kernel.fd_count() == 2 * count + 1
        for index, (client, conn) in enumerate(pairs):
            data = payload_for(index, 64)
            client.sendall(data)
            assert conn.recv(64) == data
            conn.sendall(data[::-1])
            assert client.recv(64) == data[::-1]
    finally:
        for client, conn in pairs:
            client.close()
            conn.close()
        listener.close()
    assert kernel.open_fds() == []
    report(f"fake kernel: {count} concurrent connections in {time.perf_counter() - started:.1f} s")


def test_memory_does_not_grow(native_net: Binding) -> None:
    """A mix of operations repeated: traced memory after equals memory before (± slack)."""
    operations = scaled(50_000, 1_000_000)
    net = native_net
    a, b = net.socketpair()
    x, y = net.socketpair()
    buf = bytearray(64)

    def round_() -> int:
        # Ten operations: send/recv, recv_into, sendmsg/recvmsg with an fd, options, timeouts.
        a.send(b"ping")
        b.recv(64)
        a.sendall(b"pong")
        b.recv_into(buf)
        net.send_fds(a, [b"m"], [x.fileno()])
        _, fds, _, _ = net.recv_fds(b, 1, 1)
        net.close(fds[0])
        b.getsockopt(net.SOL_SOCKET, net.SO_RCVBUF)
        b.settimeout(5.0)
        b.settimeout(None)
        return 10

    with a, b, x, y:
        for _ in range(2000):  # warm caches (ABI shapes, codecs, scratch buffers)
            round_()
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            started = time.perf_counter()
            done = 0
            while done < operations:
                done += round_()
            gc.collect()
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    growth = after - before
    report(
        f"memory: {done} operations in {time.perf_counter() - started:.1f} s, "
        f"traced {before} -> {after} bytes (growth {growth}, peak {peak})"
    )
    assert growth < 64 * 1024, f"traced memory grew by {growth} bytes over {done} operations"
