"""Issue 16, item 2: the stdlib ``socket`` module on the fake kernel (``patch_stdlib``).

Each test uses the stdlib module itself -- ``import socket`` -- as unmodified
code would; the stdlib outside the patch is the oracle where the two can be
compared without a network.
"""

from __future__ import annotations

import array
import importlib
import os
import select
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sansock._profiles import get_profile
from sansock_fake import FakeKernel, patch_stdlib
from sansock_fake.interop import MixedWaitError

pytestmark = pytest.mark.threads


def socket_fds() -> int:
    """How many fds of this process are sockets (``/proc/self/fd`` -> ``socket:[...]``)."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def test_socket_socket_makes_fake_sockets_that_are_stdlib_sockets(fake_stdlib: FakeKernel) -> None:
    with socket.socket() as s:
        assert isinstance(s, socket.socket) and isinstance(s, socket.SocketType)
        assert s.fileno() >= fake_stdlib.fd_base
        assert (s.family, s.type, s.proto, s.timeout) == (socket.AF_INET, socket.SOCK_STREAM, 0, None)
        assert type(s.family) is socket.AddressFamily and type(s.type) is socket.SocketKind
        assert s.fileno() in fake_stdlib.open_fds()
        assert repr(s).startswith(f"<sansock_fake.interop.socket fd={s.fileno()}, family=")
    assert s.fileno() == -1 and "[closed]" in repr(s)
    assert fake_stdlib.open_fds() == []


def test_a_fake_fd_given_to_a_real_syscall_gets_ebadf(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(OSError) as info:
            os.write(a.fileno(), b"would go to another file")
        assert info.value.errno == 9
        a.sendall(b"ok")
        assert b.recv(10) == b"ok"


def test_the_process_opens_no_real_socket_inside_the_patch() -> None:
    before = socket_fds()
    with patch_stdlib():
        server = socket.create_server(("127.0.0.1", 8000))
        client = socket.create_connection(("localhost", 8000), timeout=5)
        conn, _ = server.accept()
        client.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        pair = socket.socketpair()
        assert select.select([conn], [client], [], 0)[1] == [client]
        during = socket_fds()
        for s in (server, client, conn, *pair):
            s.close()
    assert before == during == socket_fds()


def test_a_real_socketpair_opened_before_the_patch_gets_no_bytes_and_stays_usable() -> None:
    real_a, real_b = socket.socketpair()
    with real_a, real_b:
        real_a.setblocking(False)
        with patch_stdlib() as kernel:
            a, b = socket.socketpair()
            assert {a.fileno(), b.fileno()} <= set(kernel.open_fds())
            # The fake fds are far from the real ones; traffic stays in the kernel.
            a.sendall(b"x" * 1000)
            assert b.recv(2000) == b"x" * 1000
            with pytest.raises(BlockingIOError):
                real_a.recv(100)
            # Inside the patch the real pair still works, waits included.
            real_b.sendall(b"real")
            assert select.select([real_a], [], [], 5) == ([real_a], [], [])
            assert real_a.recv(100) == b"real"
            a.close()
            b.close()
        real_b.sendall(b"after")
        assert real_a.recv(100) == b"after"


def test_names_taken_before_the_patch_see_the_fake_and_get_the_real_back(tmp_path: Path) -> None:
    module = tmp_path / "early_names_for_interop.py"
    module.write_text(
        "from socket import create_connection, socket as sock_class, getaddrinfo\n"
        "import socket as _s\n"
        "from select import select\n"
        "from selectors import DefaultSelector\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        early: Any = importlib.import_module("early_names_for_interop")
        real = (early.sock_class, early.getaddrinfo, early.select, early.DefaultSelector)
        with patch_stdlib() as kernel:
            assert early.sock_class is socket.socket is early._s.socket
            assert early.getaddrinfo is socket.getaddrinfo and early.select is select.select
            listener = early._s.create_server(("127.0.0.1", 9000))
            with listener, early.create_connection(("localhost", 9000)) as c:
                assert c.fileno() >= kernel.fd_base
                assert early.select([listener], [], [], 5) == ([listener], [], [])
                conn, _ = listener.accept()
                conn.close()
                sel = early.DefaultSelector()
                sel.register(c, 1)
                assert [key.fileobj for key, _ in sel.select(1)] == [c]
                sel.close()
            assert early.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4] == (
                "127.0.0.1", 80
            )
        assert (early.sock_class, early.getaddrinfo, early.select, early.DefaultSelector) == real
        assert early.sock_class is socket.socket and socket.socket.__module__ == "socket"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("early_names_for_interop", None)


def test_a_module_first_imported_inside_the_patch_gets_the_real_names_on_exit(tmp_path: Path) -> None:
    (tmp_path / "late_names_for_interop.py").write_text("from socket import socket, socketpair\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with patch_stdlib():
            late: Any = importlib.import_module("late_names_for_interop")
            assert late.socket is socket.socket
        assert late.socket is socket.socket and late.socketpair is socket.socketpair
        assert late.socket.__module__ == "socket"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("late_names_for_interop", None)


def test_everything_is_restored_when_the_block_raises() -> None:
    originals = (socket.socket, socket.getaddrinfo, socket.socketpair, select.select, select.epoll)
    import selectors
    import ssl

    wrap = ssl.SSLContext.wrap_socket
    default_selector = selectors.DefaultSelector
    with pytest.raises(RuntimeError, match="boom"):
        with patch_stdlib():
            assert socket.socket is not originals[0]
            raise RuntimeError("boom")
    assert (socket.socket, socket.getaddrinfo, socket.socketpair, select.select, select.epoll) == originals
    assert ssl.SSLContext.wrap_socket is wrap and selectors.DefaultSelector is default_selector


def test_nested_patches_use_the_innermost_kernel_and_unwind() -> None:
    outer_kernel, inner_kernel = FakeKernel(), FakeKernel(hostname=b"inner")
    with patch_stdlib(outer_kernel) as outer:
        assert outer is outer_kernel
        outer_class = socket.socket
        with patch_stdlib(inner_kernel):
            assert socket.gethostname() == "inner"
            with socket.socket() as s:
                assert inner_kernel.open_fds() == [s.fileno()] and outer_kernel.open_fds() == []
        assert socket.socket is outer_class and socket.gethostname() == "fakehost"
        with socket.socket() as s:
            assert outer_kernel.open_fds() == [s.fileno()]
    assert socket.socket.__module__ == "socket"


#: Module-level names of a test module are swapped like any module's
#: (docs/howto/offline_http.rst, "What it cannot reach"); a container is not looked into.
REAL_SOCKET_NAME = socket.socket
REAL_SOCKET_HELD = (socket.socket,)


def test_a_module_level_name_of_the_test_is_swapped_too() -> None:
    import _socket

    with patch_stdlib() as kernel:
        assert REAL_SOCKET_NAME is socket.socket and REAL_SOCKET_NAME.__module__ != "socket"
        assert REAL_SOCKET_HELD[0].__module__ == "socket"
        with REAL_SOCKET_HELD[0]() as real:
            assert real.fileno() < kernel.fd_base
        raw = _socket.socket()
        assert raw.fileno() < kernel.fd_base
        raw.close()
        # _socket's functions are the ones socket.py re-exports: swapped.
        assert _socket.gethostname is socket.gethostname and socket.gethostname() == "fakehost"
        assert kernel.open_fds() == []
    assert REAL_SOCKET_NAME is socket.socket is REAL_SOCKET_HELD[0]


def test_a_kernel_with_small_fd_numbers_is_refused() -> None:
    with pytest.raises(ValueError, match="fd_base=0"):
        with patch_stdlib(FakeKernel(fd_base=0)):
            pass  # pragma: no cover
    assert socket.socket.__module__ == "socket"


def test_a_kernel_of_another_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="constants"):
        with patch_stdlib(FakeKernel(abi=get_profile("darwin-arm64"))):
            pass  # pragma: no cover


def test_resolver_errors_are_the_stdlib_classes(fake_stdlib: FakeKernel) -> None:
    with pytest.raises(socket.gaierror) as gai:
        socket.getaddrinfo("no-such-host.invalid", 80)
    assert gai.value.args == (socket.EAI_NONAME, "Name or service not known")
    assert type(gai.value) is socket.gaierror
    with pytest.raises(socket.gaierror):
        socket.create_connection(("no-such-host.invalid", 80))
    with socket.socket() as s, pytest.raises(socket.gaierror):
        s.connect(("no-such-host.invalid", 80))
    with pytest.raises(socket.herror) as h:
        socket.gethostbyaddr("192.0.2.1")
    assert type(h.value) is socket.herror
    with pytest.raises(socket.gaierror):
        socket.getnameinfo(("no-such-host.invalid", 80), 0)


def test_resolver_functions_answer_from_the_fake(fake_stdlib: FakeKernel) -> None:
    fake_stdlib.resolver.hosts["api.example.test"] = ["127.0.0.1"]
    infos = socket.getaddrinfo("api.example.test", "http", type=socket.SOCK_STREAM)
    assert infos == [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
    assert type(infos[0][0]) is socket.AddressFamily and type(infos[0][1]) is socket.SocketKind
    assert socket.gethostbyname("api.example.test") == "127.0.0.1"
    assert socket.gethostbyname_ex("localhost")[2] == ["127.0.0.1"]
    assert socket.gethostbyaddr("127.0.0.1")[0] == "localhost"
    assert socket.gethostname() == "fakehost"
    assert socket.getfqdn() == socket.getfqdn("fakehost")
    assert socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST) == ("127.0.0.1", "http")
    assert socket.getservbyname("smtp") == 25 and socket.getprotobyname("tcp") == 6


def test_a_30_s_timeout_against_a_silent_server_costs_virtual_time_only(fake_stdlib: FakeKernel) -> None:
    server = socket.create_server(("127.0.0.1", 7000))
    accepted: list[socket.socket] = []

    def never_answers() -> None:
        conn, _ = server.accept()
        accepted.append(conn)
        conn.recv(1)  # until the client goes away

    thread = threading.Thread(target=never_answers)
    thread.start()
    client = socket.create_connection(("127.0.0.1", 7000))
    client.settimeout(30)
    client.sendall(b"GET / HTTP/1.0\r\n\r\n")
    start_virtual, start_real = fake_stdlib.monotonic_ns(), time.monotonic()
    with pytest.raises(TimeoutError, match="timed out") as info:
        client.recv(100)
    assert isinstance(info.value, socket.timeout)
    assert fake_stdlib.monotonic_ns() - start_virtual == 30_000_000_000
    assert time.monotonic() - start_real < 3.0
    client.close()
    thread.join(10)
    for s in (server, *accepted):
        s.close()


def test_socketserver_threading_tcp_server_echoes(fake_stdlib: FakeKernel) -> None:
    class Echo(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                self.wfile.write(line.upper())

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as server:
        port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5})
        thread.start()
        replies: dict[int, bytes] = {}

        def client(n: int) -> None:
            with socket.create_connection(("localhost", port), timeout=10) as c, c.makefile("rwb") as f:
                for i in range(3):
                    f.write(b"hello %d.%d\n" % (n, i))
                    f.flush()
                    replies[n] = replies.get(n, b"") + f.readline()

        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(30)
        server.shutdown()
        thread.join(30)
    assert replies == {n: b"".join(b"HELLO %d.%d\n" % (n, i) for i in range(3)) for n in range(4)}
    assert fake_stdlib.open_fds() == []


def test_fromfd_dup_close_and_makefile(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    copy = socket.fromfd(a.fileno(), socket.AF_UNIX, socket.SOCK_STREAM)
    assert copy.fileno() not in (a.fileno(), b.fileno()) and copy.fileno() >= fake_stdlib.fd_base
    copy.sendall(b"line one\nline two\n")
    with b.makefile("r", encoding="ascii") as f:
        assert f.readline() == "line one\n"
    fd = socket.dup(b.fileno())
    socket.close(fd)
    twin = a.dup()
    assert isinstance(twin, socket.socket) and twin.gettimeout() == a.gettimeout()
    for s in (a, b, copy, twin):
        s.close()
    # dup/close on real fds still reach the real functions.
    r, w = os.pipe()
    r2 = socket.dup(r)
    socket.close(r2)
    os.close(r)
    os.close(w)
    assert fake_stdlib.open_fds() == []


def test_send_fds_and_recv_fds_pass_fake_fds(fake_stdlib: FakeKernel) -> None:
    a, b = socket.socketpair()
    x, y = socket.socketpair()
    socket.send_fds(a, [b"fds"], [x.fileno()])
    msg, fds, flags, _ = socket.recv_fds(b, 10, 4)
    assert msg == b"fds" and len(fds) == 1 and fds[0] >= fake_stdlib.fd_base and flags == 0
    received = socket.socket(fileno=fds[0])
    received.sendall(b"through the passed fd")
    assert y.recv(100) == b"through the passed fd"
    for s in (a, b, x, y, received):
        s.close()
    assert array.array("i", fds).itemsize == 4


def test_sendfile_of_a_real_file_uses_the_fakes_sendfile(fake_stdlib: FakeKernel, tmp_path: Path) -> None:
    """The stdlib's socket.sendfile on the fake: sendfile(2) of the kernel
    (traced), not the fallback to send()."""
    path = tmp_path / "payload"
    path.write_bytes(b"0123456789" * 1000)
    a, b = socket.socketpair()
    with a, b, open(path, "rb") as f:
        assert a.sendfile(f) == 10_000
        got = b""
        while len(got) < 10_000:
            got += b.recv(65536)
        assert got == path.read_bytes()
        assert f.tell() == 10_000
    assert [e.call for e in fake_stdlib.trace if e.call in ("sendfile", "send")][:1] == ["sendfile"]


def test_default_timeout_is_the_kernels_inside_and_comes_back(fake_stdlib: FakeKernel) -> None:
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(2.5)
    with socket.socket() as s:
        assert s.gettimeout() == 2.5
    socket.setdefaulttimeout(before)
    assert socket.getdefaulttimeout() == before


def test_default_timeout_set_inside_does_not_leak_out() -> None:
    real = socket.getdefaulttimeout()
    with patch_stdlib():
        socket.setdefaulttimeout(7)
    assert socket.getdefaulttimeout() == real


def test_a_fake_socket_keeps_working_after_the_patch_ends() -> None:
    with patch_stdlib() as kernel:
        a, b = socket.socketpair()
    with a, b:
        a.sendall(b"still on the kernel")
        assert b.recv(100) == b"still on the kernel"
        conn = a.dup()
        assert type(conn) is type(a)
        conn.close()
    assert kernel.open_fds() == []


def test_a_lone_fake_wait_with_no_deadline_is_a_blocked_forever(fake_stdlib: FakeKernel) -> None:
    from sansock_fake import BlockedForever

    a, b = socket.socketpair()
    with a, b, pytest.raises(BlockedForever, match=r"poll\(fds=\["):
        select.select([a], [], [])


def test_mixing_a_real_fd_into_a_fake_wait_is_an_error(fake_stdlib: FakeKernel) -> None:
    r, w = os.pipe()
    a, b = socket.socketpair()
    try:
        with pytest.raises(MixedWaitError, match=rf"real fds \[{r}\] and on fake fds \[{a.fileno()}\]"):
            select.select([r, a.fileno()], [], [], 0)
    finally:
        os.close(r)
        os.close(w)
        a.close()
        b.close()


@pytest.fixture
def fake_http_port(fake_stdlib: FakeKernel) -> Iterator[int]:
    """A one-shot echo listener on the fake, for tests that need a peer."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def test_create_connection_to_a_closed_port_is_refused(fake_stdlib: FakeKernel) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 1))


def test_create_server_dualstack_on_the_fake(fake_http_port: int) -> None:
    assert socket.has_dualstack_ipv6() is True
    with socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as c:
            conn, addr = server.accept()
            with conn:
                assert addr[0] == "::ffff:127.0.0.1"
                assert c.getpeername() == ("127.0.0.1", port)


def test_a_real_listener_opened_before_the_patch_still_accepts_real_sockets() -> None:
    """Lib/socket.py's accept() builds its result through the module's `socket`
    name -- the stand-in inside the patch -- which gives a real fd a real socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    with listener, client, patch_stdlib():
        conn, _ = listener.accept()
        with conn:
            assert type(conn).__module__ == "socket" and conn.fileno() < 1 << 20
            client.sendall(b"real bytes")
            assert conn.recv(100) == b"real bytes"
            twin = socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM)
            assert type(twin).__module__ == "socket"
            twin.close()


def test_udp_through_the_stdlib_module(fake_stdlib: FakeKernel) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM
    ) as client:
        server.bind(("127.0.0.1", 5353))
        client.sendto(b"query", ("localhost", 5353))
        data, addr = server.recvfrom(512)
        server.sendto(data.upper(), addr)
        assert client.recvfrom(512) == (b"QUERY", ("127.0.0.1", 5353))
        client.settimeout(2)
        with pytest.raises(TimeoutError):
            client.recvfrom(512)


def test_subprocess_pipes_still_work_inside_the_patch(fake_stdlib: FakeKernel) -> None:
    # subprocess waits on its pipes with selectors.PollSelector (taken at
    # import): the stand-in hands a wait on real fds to the real selector.
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
        input="through real pipes", capture_output=True, text=True, timeout=60, check=True,
    )
    assert result.stdout == "THROUGH REAL PIPES\n"
    assert list(fake_stdlib.trace) == []


@pytest.mark.parametrize("pool_made", ["before_and_used", "inside"])
def test_a_thread_pool_started_before_the_kernel_takes_no_part(pool_made: str) -> None:
    """docs/reference/fake.rst, "Thread pools made before the kernel": make the pool inside."""
    from concurrent.futures import ThreadPoolExecutor

    def answer_after_computing(sock: socket.socket) -> None:
        until = time.perf_counter() + 0.2
        while time.perf_counter() < until:  # computes before its first syscall
            pass
        sock.sendall(b"answer")

    pool = ThreadPoolExecutor(1)
    if pool_made == "before_and_used":
        pool.submit(int).result()  # its thread now exists, before the kernel
    try:
        with patch_stdlib() as kernel:
            if pool_made == "inside":
                pool.shutdown()
                pool = ThreadPoolExecutor(1)
            a, b = socket.socketpair()
            with a, b:
                a.settimeout(5)
                task = pool.submit(answer_after_computing, b)
                start = kernel.monotonic_ns()
                if pool_made == "inside":
                    assert a.recv(10) == b"answer"
                    assert kernel.monotonic_ns() == start
                else:
                    with pytest.raises(TimeoutError):
                        a.recv(10)  # the clock jumped past the worker that took no part
                    assert kernel.monotonic_ns() - start == 5_000_000_000
                task.result()
    finally:
        pool.shutdown()
