"""Issue 16, acceptance: HTTP clients and servers of the stdlib and of PyPI,
unmodified, on the fake kernel (``fake_stdlib``), servers in threads.

HTTPS uses a CA made by ``trustme``; the certificates are made before the
kernel exists, so no thread burns real time on key generation while the
virtual clock is waiting for it.
"""

from __future__ import annotations

import http.client
import http.server
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme

from sansock_fake import FakeKernel

pytestmark = pytest.mark.threads


class Hello(http.server.BaseHTTPRequestHandler):
    """Answers ``hello <path>`` with a Content-Length, over HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(server: http.server.ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(30)
        server.server_close()
        # A server thread still alive is a hang to report, not 30 s to lose quietly.
        assert not thread.is_alive(), "serve_forever did not return within 30 s of shutdown()"


@pytest.fixture
def http_port(fake_stdlib: FakeKernel) -> Iterator[int]:
    yield from serve(http.server.ThreadingHTTPServer(("127.0.0.1", 8080), Hello))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def https_port(fake_stdlib: FakeKernel, server_context: ssl.SSLContext) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 8443), Hello)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    yield from serve(server)


def connects(kernel: FakeKernel, since: int) -> int:
    return sum(1 for entry in kernel.trace[since:] if entry.call == "connect")


def test_http_client_against_threading_http_server(http_port: int) -> None:
    conn = http.client.HTTPConnection("localhost", http_port, timeout=10)
    try:
        for path in ("/a", "/b"):
            conn.request("GET", path)
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, f"hello {path}".encode())
    finally:
        conn.close()


def test_urllib_urlopen(http_port: int) -> None:
    with urllib.request.urlopen(f"http://localhost:{http_port}/urllib", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain"
        assert response.read() == b"hello /urllib"


def test_requests_session_keeps_one_connection_alive(fake_stdlib: FakeKernel, http_port: int) -> None:
    mark = len(fake_stdlib.trace)
    with requests.Session() as session:
        texts = [session.get(f"http://localhost:{http_port}/{i}", timeout=10).text for i in range(3)]
    assert texts == ["hello /0", "hello /1", "hello /2"]
    assert connects(fake_stdlib, mark) == 1


def test_requests_connection_error_on_a_closed_port(fake_stdlib: FakeKernel) -> None:
    with pytest.raises(requests.exceptions.ConnectionError, match="Connection refused"):
        requests.get("http://localhost:9/", timeout=5)


def test_requests_unknown_host_is_a_name_resolution_error(fake_stdlib: FakeKernel) -> None:
    # urllib3 tells a resolver failure by `except socket.gaierror`.
    with pytest.raises(requests.exceptions.ConnectionError, match="NameResolutionError"):
        requests.get("http://no-such-host.invalid/", timeout=5)


def test_requests_https_with_a_trustme_ca(fake_stdlib: FakeKernel, https_port: int, ca_file: str) -> None:
    mark = len(fake_stdlib.trace)
    with requests.Session() as session:
        texts = [
            session.get(f"https://localhost:{https_port}/{i}", timeout=10, verify=ca_file).text
            for i in range(3)
        ]
    assert texts == ["hello /0", "hello /1", "hello /2"]
    assert connects(fake_stdlib, mark) == 1


def test_requests_https_wrong_host_name_is_a_certificate_error(
    fake_stdlib: FakeKernel, https_port: int, ca_file: str
) -> None:
    fake_stdlib.resolver.hosts["other.example.test"] = ["127.0.0.1"]
    with pytest.raises(requests.exceptions.SSLError) as info:
        requests.get(f"https://other.example.test:{https_port}/", timeout=10, verify=ca_file)
    assert "Hostname mismatch, certificate is not valid for 'other.example.test'" in str(info.value)


def test_requests_https_unknown_ca_is_a_certificate_error(fake_stdlib: FakeKernel, https_port: int) -> None:
    other = trustme.CA()
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        with other.cert_pem.tempfile() as path:
            requests.get(f"https://localhost:{https_port}/", timeout=10, verify=path)


def test_http_client_https_and_urllib_https(https_port: int, ca_file: str) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    conn = http.client.HTTPSConnection("localhost", https_port, timeout=10, context=context)
    try:
        conn.request("GET", "/tls")
        assert conn.getresponse().read() == b"hello /tls"
        assert conn.sock is not None
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()
    with urllib.request.urlopen(f"https://localhost:{https_port}/u", timeout=10, context=context) as r:
        assert r.read() == b"hello /u"
