"""Issue 16, item 2: ``ssl.SSLContext.wrap_socket`` on fake sockets -- real
handshakes over ``MemoryBIO``: verification, SNI, ALPN, ``getpeercert``,
``version``, ``cipher``, ``makefile``, ``unwrap``, timeouts, non-blocking
sockets and the ``ssl.SSLError`` family."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from sansock_fake import FakeKernel

pytestmark = pytest.mark.threads


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture
def server_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class Server:
    """A listener on the fake whose connections go to *handler* in a thread each."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.handler = handler
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        try:
            with conn:
                self.handler(conn)
        except BaseException as exc:  # reported to the test
            self.errors.append(exc)

    def close(self) -> None:
        self.thread.join(30)
        self.listener.close()


@pytest.fixture
def start(fake_stdlib: FakeKernel) -> Iterator[Callable[[Callable[[socket.socket], None]], Server]]:
    servers: list[Server] = []

    def make(handler: Callable[[socket.socket], None]) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def tls_echo(context: ssl.SSLContext, seen: dict[str, Any]) -> Callable[[socket.socket], None]:
    def handler(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            seen["alpn"] = tls.selected_alpn_protocol()
            seen["server_is_ssl_socket"] = isinstance(tls, ssl.SSLSocket)
            while data := tls.recv(1024):
                tls.sendall(data.upper())

    return handler


def test_handshake_sni_alpn_peer_certificate(
    start: Callable[..., Server], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    seen: dict[str, Any] = {}

    def sni(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        seen["sni"] = name

    server_context.sni_callback = sni
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    client_context.set_alpn_protocols(["http/1.1"])
    server = start(tls_echo(server_context, seen))
    with socket.create_connection(("localhost", server.port), timeout=10) as raw:
        with client_context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert isinstance(tls, ssl.SSLSocket) and isinstance(tls, socket.socket)
            assert raw.fileno() == -1  # wrap_socket detached it, as the stdlib does
            assert tls.version() == "TLSv1.3"
            name, protocol, bits = tls.cipher()  # type: ignore[misc]
            assert protocol == "TLSv1.3" and bits >= 128
            assert tls.selected_alpn_protocol() == "http/1.1"
            cert = tls.getpeercert()
            assert cert is not None
            assert cert["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
            assert isinstance(tls.getpeercert(binary_form=True), bytes)
            assert tls.server_hostname == "localhost" and tls.context is client_context
            tls.sendall(b"hello tls")
            assert tls.recv(100) == b"HELLO TLS"
    server.close()
    assert not server.errors
    assert seen == {"sni": "localhost", "alpn": "http/1.1", "server_is_ssl_socket": True}


def test_makefile_over_tls(
    start: Callable[..., Server], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = start(tls_echo(server_context, {}))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            with tls.makefile("rwb") as f:
                f.write(b"one line\n" * 3000)
                f.flush()
                assert f.read(9 * 3000) == b"ONE LINE\n" * 3000
    server.close()
    assert not server.errors


def test_unwrap_returns_to_clear_text(
    start: Callable[..., Server], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    def handler(conn: socket.socket) -> None:
        tls = server_context.wrap_socket(conn, server_side=True)
        assert tls.recv(100) == b"secret"
        plain = tls.unwrap()
        assert plain.recv(100) == b"clear text"
        plain.sendall(b"clear reply")
        plain.close()

    server = start(handler)
    raw = socket.create_connection(("localhost", server.port), timeout=10)
    tls = client_context.wrap_socket(raw, server_hostname="localhost")
    tls.sendall(b"secret")
    plain = tls.unwrap()
    assert plain is tls and tls.version() is None
    plain.sendall(b"clear text")
    assert plain.recv(100) == b"clear reply"
    plain.close()
    server.close()
    assert not server.errors


def test_an_untrusted_certificate_fails_on_both_sides_with_the_ssl_error_family(
    start: Callable[..., Server], server_context: ssl.SSLContext
) -> None:
    seen: dict[str, Any] = {}
    server = start(tls_echo(server_context, seen))
    with socket.create_connection(("localhost", server.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    assert info.value.verify_message == "unable to get local issuer certificate"
    assert isinstance(info.value, ssl.SSLError) and isinstance(info.value, OSError)
    server.close()
    [error] = server.errors
    assert isinstance(error, ssl.SSLError) and "alert unknown ca" in str(error)


def test_a_wrong_host_name_fails_verification(
    start: Callable[..., Server], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = start(tls_echo(server_context, {}))
    with socket.create_connection(("localhost", server.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            client_context.wrap_socket(raw, server_hostname="example.org")
    server.close()


def test_handshake_and_read_timeouts_pass_in_virtual_time(
    fake_stdlib: FakeKernel,
    start: Callable[..., Server],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    def silent(conn: socket.socket) -> None:
        while conn.recv(1024):  # reads the ClientHello, says nothing until the client goes
            pass

    server = start(silent)
    raw = socket.create_connection(("localhost", server.port))
    raw.settimeout(20)
    start_virtual, start_real = fake_stdlib.monotonic_ns(), time.monotonic()
    with pytest.raises(TimeoutError, match="The handshake operation timed out"):
        client_context.wrap_socket(raw, server_hostname="localhost")
    assert fake_stdlib.monotonic_ns() - start_virtual == 20 * 10**9
    assert time.monotonic() - start_real < 3
    raw.close()
    server.close()

    def answers_once(conn: socket.socket) -> None:
        with server_context.wrap_socket(conn, server_side=True) as tls:
            while tls.recv(100):  # never replies, until the client closes
                pass

    server = start(answers_once)
    with socket.create_connection(("localhost", server.port), timeout=5) as raw:
        with client_context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"question")
            mark = fake_stdlib.monotonic_ns()
            with pytest.raises(TimeoutError, match="The read operation timed out"):
                tls.recv(100)
            assert fake_stdlib.monotonic_ns() - mark == 5 * 10**9
    server.close()


def test_non_blocking_tls_raises_want_read(
    start: Callable[..., Server], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = start(tls_echo(server_context, {}))
    raw = socket.create_connection(("localhost", server.port))
    raw.setblocking(False)
    tls = client_context.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    import select

    while True:
        select.select([tls], [], [], 10)
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            continue
    tls.sendall(b"x")
    while True:
        # Readable may mean a TLS 1.3 session ticket, not data: then WantRead again.
        select.select([tls], [], [], 10)
        try:
            assert tls.recv(10) == b"X"
            break
        except ssl.SSLWantReadError:
            continue
    with pytest.raises(ssl.SSLWantReadError):
        tls.recv(10)
    tls.close()
    server.close()
    assert not server.errors


def test_wrap_socket_on_a_listener_accepts_tls_connections(
    fake_stdlib: FakeKernel, server_context: ssl.SSLContext, client_context: ssl.SSLContext, tmp_path: Path
) -> None:
    listener = server_context.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True)
    port = listener.getsockname()[1]
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            assert isinstance(conn, ssl.SSLSocket)
            got.append(conn.recv(100))

    thread = threading.Thread(target=serve)
    thread.start()
    with client_context.wrap_socket(socket.socket(), server_hostname="localhost") as tls:
        tls.settimeout(10)
        tls.connect(("localhost", port))  # SSLSocket.connect: connect, then handshake
        tls.sendall(b"via connect()")
    thread.join(30)
    listener.close()
    assert got == [b"via connect()"]
    assert fake_stdlib.open_fds() == []


def test_a_real_socket_still_gets_the_stdlib_ssl_socket() -> None:
    # The stand-in dispatches on the socket: a real one opened before the
    # patch goes to the stdlib's own wrap_socket.
    from sansock_fake import patch_stdlib

    real = socket.socket()
    with patch_stdlib():
        tls = ssl.create_default_context().wrap_socket(real, server_hostname="localhost")
        assert type(tls) is ssl.SSLSocket and tls.fileno() >= 0
        tls.close()


def test_a_peer_that_closes_mid_handshake_is_an_ssl_eof_error(
    start: Callable[..., Server], client_context: ssl.SSLContext
) -> None:
    def hangs_up(conn: socket.socket) -> None:
        header = conn.recv(5, socket.MSG_WAITALL)  # the ClientHello, all of it, then FIN
        conn.recv(int.from_bytes(header[3:5], "big"), socket.MSG_WAITALL)

    server = start(hangs_up)
    with socket.create_connection(("localhost", server.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLEOFError, match="EOF occurred in violation of protocol"):
            client_context.wrap_socket(raw, server_hostname="localhost")
    server.close()


def tls_timeouts(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> list[tuple[str, str, str]]:
    """Make a TLS handshake, read, write and unwrap time out; return what each raised.

    Runs on whatever ``socket`` is in effect: on real loopback sockets outside
    the patch (the oracle: the text comes from the running ``_ssl.c``, whose
    line number in the handshake message changes between CPython versions),
    on the fake inside it.
    """
    seen: list[tuple[str, str, str]] = []
    release = threading.Event()

    def serve(listener: socket.socket, tls: bool) -> None:
        conn, _ = listener.accept()
        if tls:
            conn = server_context.wrap_socket(conn, server_side=True)
        with conn:
            release.wait(30)  # says nothing, reads nothing, until the client is done

    def attempt(label: str, tls_server: bool, op: Callable[[socket.socket], None]) -> None:
        release.clear()
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        thread = threading.Thread(target=serve, args=(listener, tls_server))
        thread.start()
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        raw.settimeout(10)
        raw.connect(listener.getsockname())
        try:
            op(raw)
        except OSError as exc:
            seen.append((label, type(exc).__name__, str(exc)))
        else:  # pragma: no cover - reported by the comparison
            seen.append((label, "no error", ""))
        finally:
            release.set()
            raw.close()
            thread.join(30)
            listener.close()

    def handshake(raw: socket.socket) -> None:
        raw.settimeout(0.05)
        client_context.wrap_socket(raw, server_hostname="localhost")

    def on_tls(action: Callable[[ssl.SSLSocket], object]) -> Callable[[socket.socket], None]:
        def op(raw: socket.socket) -> None:
            tls = client_context.wrap_socket(raw, server_hostname="localhost")
            tls.settimeout(0.05)
            try:
                action(tls)
            finally:
                tls.close()

        return op

    attempt("handshake", False, handshake)
    attempt("read", True, on_tls(lambda tls: tls.recv(100)))
    attempt("write", True, on_tls(lambda tls: tls.sendall(b"x" * 8_000_000)))
    attempt("unwrap", True, on_tls(lambda tls: tls.unwrap()))
    return seen


def test_tls_timeout_messages_are_the_running_cpythons(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    from sansock_fake import patch_stdlib

    real = tls_timeouts(server_context, client_context)
    assert real[0][2].endswith("The handshake operation timed out")  # "_ssl.c:NNN: ..." on CPython
    with patch_stdlib() as kernel:
        start = kernel.monotonic_ns()
        fake = tls_timeouts(server_context, client_context)
        assert kernel.monotonic_ns() - start >= 4 * 50_000_000
    assert fake == real
