"""Issue 16, acceptance: redis-py, smtplib and websockets, unmodified, on the
fake kernel (``fake_stdlib``) against small servers written for the test."""

from __future__ import annotations

import socketserver
import smtplib
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

from sansock_fake import FakeKernel

pytestmark = pytest.mark.threads


def run(server: socketserver.TCPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        port: int = server.socket.getsockname()[1]
        yield port
    finally:
        server.shutdown()
        thread.join(30)
        server.server_close()


# -- redis: a RESP2 server of a few commands ----------------------------------
class RESP(socketserver.StreamRequestHandler):
    """GET, SET, DEL, INCR(BY), PING and CLIENT (redis-py's connect-time SETINFO)."""

    store: dict[bytes, bytes]

    def reply(self, value: object) -> None:
        if value is None:
            self.wfile.write(b"$-1\r\n")
        elif isinstance(value, int):
            self.wfile.write(b":%d\r\n" % value)
        elif isinstance(value, bytes):
            self.wfile.write(b"$%d\r\n%s\r\n" % (len(value), value))
        else:
            self.wfile.write(b"+%s\r\n" % str(value).encode())

    def handle(self) -> None:
        while line := self.rfile.readline():
            assert line.startswith(b"*"), line
            args = []
            for _ in range(int(line[1:])):
                size = int(self.rfile.readline()[1:])
                args.append(self.rfile.read(size + 2)[:-2])
            command = args[0].upper()
            if command == b"SET":
                self.store[args[1]] = args[2]
                self.reply("OK")
            elif command == b"GET":
                self.reply(self.store.get(args[1]))
            elif command == b"DEL":
                self.reply(sum(self.store.pop(k, None) is not None for k in args[1:]))
            elif command in (b"INCR", b"INCRBY"):
                value = int(self.store.get(args[1], b"0")) + int(args[2] if len(args) > 2 else 1)
                self.store[args[1]] = b"%d" % value
                self.reply(value)
            elif command == b"PING":
                self.reply("PONG")
            elif command == b"CLIENT":
                self.reply("OK")
            else:
                self.wfile.write(b"-ERR unknown command '%s'\r\n" % command)


@pytest.fixture
def redis_port(fake_stdlib: FakeKernel) -> Iterator[int]:
    handler = type("Store", (RESP,), {"store": {}})
    yield from run(socketserver.ThreadingTCPServer(("127.0.0.1", 6379), handler))


def test_redis_py_against_a_resp_server(fake_stdlib: FakeKernel, redis_port: int) -> None:
    mark = len(fake_stdlib.trace)
    client = redis.Redis(host="localhost", port=redis_port, protocol=2, socket_timeout=10)
    try:
        assert client.ping() is True
        assert client.set("greeting", "hello") is True
        assert client.get("greeting") == b"hello"
        assert client.get("missing") is None
        assert [client.incr("n") for _ in range(3)] == [1, 2, 3]
        assert client.delete("greeting", "n", "missing") == 2
        with pytest.raises(redis.ResponseError, match="unknown command"):
            client.execute_command("FLUSHALL")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    assert sum(1 for e in fake_stdlib.trace[mark:] if e.call == "connect") == 1


def test_redis_py_connection_refused_is_a_connection_error(fake_stdlib: FakeKernel) -> None:
    # No retries: redis-py's backoff sleeps with time.sleep, in real time.
    client = redis.Redis(host="localhost", port=6390, protocol=2, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


# -- smtplib: a small SMTP server --------------------------------------------
class SMTP(socketserver.StreamRequestHandler):
    """Enough RFC 5321 for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    inbox: list[tuple[str, list[str], bytes]]

    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.say("220 fake.example ESMTP ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.say("250-fake.example greets you")
                self.say("250 8BITMIME")
            elif verb == b"MAIL":
                sender = line.decode().split(":", 1)[1].strip().strip("<>")
                self.say("250 OK")
            elif verb == b"RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.say("250 OK")
            elif verb == b"DATA":
                self.say("354 End data with <CR><LF>.<CR><LF>")
                body = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    body += chunk
                self.inbox.append((sender, recipients, body))
                self.say("250 OK queued")
            elif verb == b"QUIT":
                self.say("221 Bye")
                return
            else:
                self.say("502 Command not implemented")


def test_smtplib_sends_a_message(fake_stdlib: FakeKernel) -> None:
    inbox: list[tuple[str, list[str], bytes]] = []
    handler = type("Mailbox", (SMTP,), {"inbox": inbox})
    for port in run(socketserver.ThreadingTCPServer(("127.0.0.1", 2525), handler)):
        message = EmailMessage()
        message["From"] = "alice@example.test"
        message["To"] = "bob@example.test"
        message["Subject"] = "offline"
        message.set_content("sent over a fake kernel")
        with smtplib.SMTP("localhost", port, timeout=10) as smtp:
            assert smtp.ehlo()[0] == 250
            assert smtp.send_message(message) == {}
    [(sender, recipients, body)] = inbox
    assert (sender, recipients) == ("alice@example.test", ["bob@example.test"])
    assert b"Subject: offline" in body and b"sent over a fake kernel" in body


# -- websockets: the synchronous client and server ---------------------------
def test_websockets_sync_client_and_server(fake_stdlib: FakeKernel) -> None:
    def reverse(ws: ServerConnection) -> None:
        for message in ws:
            ws.send(message[::-1])

    with serve(reverse, "127.0.0.1", 8765) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            with connect("ws://localhost:8765/chat", open_timeout=10) as ws:
                for text in ("hello", "fake kernel"):
                    ws.send(text)
                    assert ws.recv(timeout=10) == text[::-1]
                ws.send(b"\x00\x01binary")
                assert ws.recv(timeout=10) == b"yranib\x01\x00"
            with connect("ws://localhost:8765/", open_timeout=10) as ws:
                ws.close()
                with pytest.raises(ConnectionClosedOK):
                    ws.recv(timeout=10)
        finally:
            server.shutdown()
            thread.join(30)
