"""TCP across the simulated network (issue 19, acceptance).

The TCP state machine (``_tcp``) sends every segment through the host's
``output``; the network carries it over the link.  These tests check what a
program sees: connect takes a round trip, data arrives latency + size /
bandwidth later, loss becomes delay, a partition turns into a timeout in
virtual time, a crashed and restarted server answers RST, ``requests``
against ``http.server`` on another host, ``create_connection`` falling back
to the second address.  Virtual time only: no test sleeps.
"""

from __future__ import annotations

import gc
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

import sansock
from sansock import Binding
from sansock_fake import FakeKernel, Network, patch_stdlib

MS = 1_000_000
S = 1_000_000_000


def hosts(seed: int = 7, **link: float) -> tuple[Network, Binding, Binding]:
    net = Network(seed=seed)
    client = net.add_host("client", "10.0.0.1", "fd00::1")
    server = net.add_host("server", "10.0.0.2", "fd00::2")
    net.link("client", "server", **link)
    return net, sansock.using(client), sansock.using(server)


def listen(api: Binding, port: int = 8080, family: int = 2) -> sansock.socket:
    listener = api.socket(family, api.SOCK_STREAM)
    listener.bind(("::" if family == api.AF_INET6 else "0.0.0.0", port))
    listener.listen()
    return listener


def test_connect_takes_one_round_trip_and_data_the_latency() -> None:
    net, a, b = hosts(latency=0.040)
    listener = listen(b)
    start = net.monotonic_ns()
    c = a.create_connection(("10.0.0.2", 8080))
    assert net.monotonic_ns() - start == 80 * MS  # SYN there, SYN-ACK back
    s, peer = listener.accept()
    assert peer[0] == "10.0.0.1" and c.getsockname()[0] == "10.0.0.1"
    assert c.getpeername() == ("10.0.0.2", 8080)
    start = net.monotonic_ns()
    c.sendall(b"request")
    assert s.recv(100) == b"request"
    assert net.monotonic_ns() - start == 40 * MS
    for sock in (c, s, listener):
        sock.close()


def test_ipv6_connection_between_hosts() -> None:
    net, a, b = hosts(latency=0.010)
    listener = listen(b, family=b.AF_INET6)
    c = a.create_connection(("fd00::2", 8080))
    s, peer = listener.accept()
    assert peer[0] == "fd00::1"
    c.sendall(b"six")
    assert s.recv(10) == b"six"
    for sock in (c, s, listener):
        sock.close()


def test_a_syn_to_a_port_with_no_listener_gets_rst() -> None:
    net, a, _b = hosts(latency=0.020)
    c = a.socket(a.AF_INET, a.SOCK_STREAM)
    start = net.monotonic_ns()
    with pytest.raises(ConnectionRefusedError):
        c.connect(("10.0.0.2", 9))
    assert net.monotonic_ns() - start == 40 * MS
    c.close()


def test_a_connect_into_a_partition_times_out_on_linux_syn_schedule() -> None:
    net, a, b = hosts(latency=0.001)
    listener = listen(b)
    net.partition("client", "server")
    c = a.socket(a.AF_INET, a.SOCK_STREAM)
    start = net.monotonic_ns()
    with pytest.raises(TimeoutError) as info:
        c.connect(("10.0.0.2", 8080))
    assert info.value.errno == 110  # ETIMEDOUT, not the socket timeout
    # tcp_syn_retries = 6: SYN at 0, 1, 3, 7, 15, 31, 63 s; gives up at 127 s.
    assert net.monotonic_ns() - start == 127 * S
    c.close()
    listener.close()


def test_a_connect_to_an_address_no_host_has_times_out() -> None:
    net, a, _b = hosts()
    c = a.socket(a.AF_INET, a.SOCK_STREAM)
    c.settimeout(3)
    start = net.monotonic_ns()
    with pytest.raises(TimeoutError, match="timed out"):
        c.connect(("10.0.0.99", 8080))
    assert net.monotonic_ns() - start == 3 * S
    c.close()


def test_partition_during_a_transfer_fires_the_timeout_then_heal() -> None:
    net, a, b = hosts(latency=0.010)
    listener = listen(b)
    c = a.create_connection(("10.0.0.2", 8080), timeout=5)
    s, _ = listener.accept()
    s.sendall(b"first half")
    assert c.recv(100) == b"first half"
    net.partition("client", "server")
    s.sendall(b"second half")
    start = net.monotonic_ns()
    with pytest.raises(TimeoutError, match="timed out"):
        c.recv(100)
    assert net.monotonic_ns() - start == 5 * S
    net.heal()
    again = a.create_connection(("10.0.0.2", 8080), timeout=5)
    s2, _ = listener.accept()
    again.sendall(b"ping")
    assert s2.recv(10) == b"ping"
    # The segment held back by the partition arrives once healed (retransmitted).
    assert c.recv(100) == b"second half"
    for sock in (c, s, again, s2, listener):
        sock.close()


def test_crash_and_restart_the_old_connection_gets_econnreset() -> None:
    net, a, b = hosts(latency=0.010)
    server = net.hosts["server"]
    listener = listen(b)
    c = a.create_connection(("10.0.0.2", 8080), timeout=5)
    s, _ = listener.accept()
    server.crash()
    for sock in (s, listener):
        sock.detach()  # the fds died with the host
    server.restart()
    c.sendall(b"are you there?")
    with pytest.raises(ConnectionResetError):
        c.recv(100)
    assert c.recv(100) == b""  # as Linux: the reset is reported once, then EOF
    c.close()


def test_a_crashed_server_is_silent_the_client_times_out() -> None:
    net, a, b = hosts(latency=0.010)
    listener = listen(b)
    c = a.create_connection(("10.0.0.2", 8080), timeout=2)
    s, _ = listener.accept()
    net.hosts["server"].crash()
    s.detach()
    listener.detach()
    c.sendall(b"hello?")
    with pytest.raises(TimeoutError):
        c.recv(10)
    c.close()


def test_loss_is_delay_for_tcp_never_corruption() -> None:
    net, a, b = hosts(seed=5, latency=0.005, loss=0.3)
    listener = listen(b)
    c = a.create_connection(("10.0.0.2", 8080), timeout=60)
    s, _ = listener.accept()
    s.settimeout(60)
    sent = b"".join(b"%05d" % i for i in range(2000))
    got = b""
    for i in range(0, len(sent), 1000):
        c.sendall(sent[i : i + 1000])
        while len(got) < i + 1000:
            got += s.recv(4096)
    assert got == sent
    assert any("retransmitted" in e.text for e in net.trace if e.kind == "deliver")
    for sock in (c, s, listener):
        sock.close()


@pytest.mark.threads
def test_one_megabyte_over_one_megabyte_per_second_takes_about_a_second() -> None:
    net, a, b = hosts(latency=0.001, bandwidth=1_000_000)
    listener = listen(b)
    c = a.create_connection(("10.0.0.2", 8080), timeout=30)
    s, _ = listener.accept()
    received = []

    def read() -> None:
        total = 0
        while total < 1_000_000:
            chunk = s.recv(65536)
            if not chunk:
                break
            total += len(chunk)
        received.append(total)

    reader = threading.Thread(target=read)
    start = net.monotonic_ns()
    reader.start()
    c.sendall(b"x" * 1_000_000)
    reader.join(60)
    elapsed = (net.monotonic_ns() - start) / S
    assert received == [1_000_000]
    assert 0.95 <= elapsed <= 1.3, elapsed
    for sock in (c, s, listener):
        sock.close()


def test_create_connection_falls_back_to_the_second_address() -> None:
    net = Network(seed=3)
    client = sansock.using(net.add_host("client", "10.0.0.1"))
    net.add_host("dead", "10.0.0.2")
    alive = sansock.using(net.add_host("alive", "10.0.0.3"))
    net.link("*", "*", latency=0.010)
    net.dns.add("api.example.com", "10.0.0.2", "10.0.0.3")
    net.partition("client", "dead")
    listener = listen(alive)
    start = net.monotonic_ns()
    c = client.create_connection(("api.example.com", 8080), timeout=2)
    assert c.getpeername() == ("10.0.0.3", 8080)
    assert net.monotonic_ns() - start == 2 * S + 20 * MS  # the first timeout, then a round trip
    s, _ = listener.accept()
    for sock in (c, s, listener):
        sock.close()


def tcp_scenario(seed: int) -> list[str]:
    net, a, b = hosts(seed=seed, latency=0.020, jitter=0.010, loss=0.2)
    listener = listen(b)
    c = a.create_connection(("10.0.0.2", 8080), timeout=30)
    s, _ = listener.accept()
    for i in range(20):
        c.sendall(b"request %d" % i)
        s.sendall(s.recv(100).upper())
        c.recv(100)
    for sock in (c, s, listener):
        sock.close()
    return [str(e) for e in net.trace]


def test_the_same_seed_gives_the_same_tcp_trace() -> None:
    first = tcp_scenario(21)
    assert tcp_scenario(21) == first
    assert tcp_scenario(22) != first


# -- unmodified code on hosts ---------------------------------------------------------------


class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        address = self.server.server_address
        assert isinstance(address, tuple)
        body = f"hello from {address[0]} to {self.client_address[0]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_server_on(host: FakeKernel, port: int) -> Iterator[http.server.ThreadingHTTPServer]:
    """``http.server`` on *host*: made, and its ``serve_forever`` loop started, under
    ``patch_stdlib(host)``; the caller may then put the stdlib on another host."""
    threads_before = set(threading.enumerate())
    with patch_stdlib(host):
        server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Hello)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        # serve_forever makes its selector on entry: wait (real time, bounded)
        # until it waits in the host's kernel before the stdlib may change hosts.
        deadline = time.monotonic() + 30
        while not host.blocked_threads() and time.monotonic() < deadline:
            time.sleep(0.001)
    try:
        yield server
    finally:
        # The client's FIN may still be on the link, and virtual time stands
        # while this thread runs: let it arrive, so that the handler threads
        # (daemons, which server_close does not join) read EOF and end rather
        # than wait in the kernel after the test.
        host.advance_clock(60)
        server.shutdown()
        thread.join(30)
        server.server_close()
        assert not thread.is_alive()
        for left in set(threading.enumerate()) - threads_before:
            left.join(30)
            assert not left.is_alive(), f"{left.name} still runs after the test"


@pytest.mark.threads
@pytest.mark.parametrize("latency", [0.040, 10.0])
def test_requests_on_one_host_fetches_from_http_server_on_another(latency: float) -> None:
    net = Network(seed=1)
    client = net.add_host("client", "10.0.0.1")
    server = net.add_host("server", "10.0.0.2", "fd00::2")
    net.dns.add("api.example.com", "10.0.0.2", "fd00::2")
    net.link("client", "server", latency=latency)
    real = time.monotonic()
    with http_server_on(server, 8080):
        with patch_stdlib(client):
            start = net.monotonic_ns()
            with requests.Session() as session:
                response = session.get("http://api.example.com:8080/", timeout=5 + 4 * latency)
                elapsed = net.monotonic_ns() - start
                text = response.text
            # The kept-alive connection's socket lives as long as requests' objects
            # (the response's file holds it): drop them, so that the FIN leaves now
            # and the server's handler thread reads EOF and ends with the server.
            del response, session
            gc.collect()
    assert text == "hello from 0.0.0.0 to 10.0.0.1"
    # Two round trips at least: the handshake, the request and its answer.
    assert elapsed >= int(4 * latency * S)
    if latency > 1:
        # 40 s of virtual latency cost no real time (a generous bound for a loaded machine).
        assert time.monotonic() - real < 30


@pytest.mark.threads
def test_an_asyncio_loop_on_one_host_talks_to_a_server_thread_on_another() -> None:
    import asyncio

    from sansock_fake import new_event_loop

    net = Network(seed=2)
    client = net.add_host("client", "10.0.0.1")
    server = sansock.using(net.add_host("server", "10.0.0.2"))
    net.link("client", "server", latency=0.025)
    listener = listen(server, 7000)

    def echo_once() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    thread = threading.Thread(target=echo_once)
    thread.start()

    async def main() -> tuple[bytes, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        reader, writer = await asyncio.open_connection("server", 7000)
        writer.write(b"hello over asyncio")
        answer = await reader.readexactly(18)
        writer.close()
        await writer.wait_closed()
        return answer, loop.time() - start

    loop = new_event_loop(client)
    try:
        answer, elapsed = loop.run_until_complete(main())
    finally:
        loop.close()
    thread.join(30)
    listener.close()
    assert answer == b"HELLO OVER ASYNCIO"
    assert elapsed == pytest.approx(0.100)  # two round trips of 50 ms, in the loop's (virtual) time


def test_a_syn_is_not_sent_again_once_its_socket_is_closed() -> None:
    net, a, b = hosts(latency=0.010)
    listener = listen(b)
    net.partition("client", "server")
    c = a.socket(a.AF_INET, a.SOCK_STREAM)
    c.settimeout(0.5)
    with pytest.raises(TimeoutError):
        c.connect(("10.0.0.2", 8080))
    c.close()
    net.heal()
    listener.settimeout(5)
    with pytest.raises(TimeoutError):
        listener.accept()  # the SYN's retransmission (due at 1 s) died with its socket
    assert any("not sent again: its socket is gone" in e.text for e in net.trace if e.kind == "drop")
    listener.close()
