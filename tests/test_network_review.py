"""An outside review of the simulated network (issue 19) and trio on the fake (issue 17):
programs a user writes from the issue and the how-tos, each pinning a defect found and fixed.

Fake only (a network of fake kernels); virtual time only: no test sleeps but
for bounded real waits until a thread is blocked in the kernel.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest

import sansock
from sansock_fake import Network

pytest_plugins = ["pytester"]


def test_an_fd_of_a_crashed_host_is_not_reused_until_its_program_closes_it() -> None:
    # A thread of the crashed host's program closes its old socket after the
    # restart (its `with` block ends late): that must not close the socket a new
    # program made on the restarted host, which would otherwise get the same number.
    net = Network(seed=1)
    host = net.add_host("server", "10.0.0.2")
    api = sansock.using(host)
    old = api.socket(api.AF_INET, api.SOCK_STREAM)
    number = old.fileno()
    host.crash()
    host.restart()
    new = api.socket(api.AF_INET, api.SOCK_STREAM)
    assert new.fileno() != old.fileno()
    new.bind(("0.0.0.0", 8080))
    old.close()  # succeeds (the crash took it), and leaves the new socket alone
    assert new.getsockname() == ("0.0.0.0", 8080)
    new.close()
    # Once the old program closed it, the number is free again (lowest first, as alloc_fd).
    again = api.socket(api.AF_INET, api.SOCK_STREAM)
    assert again.fileno() == number
    again.close()


def test_an_fd_number_the_program_closed_is_reused_after_the_crash() -> None:
    net = Network(seed=1)
    host = net.add_host("server", "10.0.0.2")
    api = sansock.using(host)
    old = api.socket(api.AF_INET, api.SOCK_STREAM)
    number = old.fileno()
    host.crash()
    old.close()
    host.restart()
    with api.socket(api.AF_INET, api.SOCK_STREAM) as new:
        assert new.fileno() == number


def test_a_dns_delay_is_finite() -> None:
    net = Network(seed=1)
    for bad in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ValueError, match="finite"):
            net.dns.delay("slow.example", bad)


def test_the_fake_network_fixture_wakes_threads_left_blocked_on_its_hosts(pytester: pytest.Pytester) -> None:
    # A test that fails while a server thread waits in accept() (the how-to's
    # fixture example, with its final crash() never reached) must not leave that
    # thread blocked in the kernel for the rest of the session.
    pytester.makepyfile(
        """
        import threading, time
        import sansock

        THREADS = []

        def test_fails_with_a_server_thread_blocked(fake_network):
            host = fake_network.add_host("server", "10.0.0.2")
            api = sansock.using(host)
            listener = api.socket(api.AF_INET, api.SOCK_STREAM)
            listener.bind(("0.0.0.0", 7000))
            listener.listen()
            def serve():
                try:
                    listener.accept()
                except OSError:
                    pass
            THREADS.append(threading.Thread(target=serve, daemon=True))
            THREADS[0].start()
            while not host.blocked_threads():
                time.sleep(0.001)
            assert False, "the client under test failed"

        def test_the_thread_is_gone():
            THREADS[0].join(3)
            assert not THREADS[0].is_alive()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)


def test_heal_of_one_host_ends_every_partition_it_is_in() -> None:
    net = Network(seed=1)
    for name, address in (("a", "10.0.0.1"), ("b", "10.0.0.2"), ("c", "10.0.0.3")):
        net.add_host(name, address)
    net.link("*", "*")
    net.partition("a", "b")
    net.partition("c", "a", one_way=True)
    net.partition("b", "c")
    net.heal("a")  # was: only partition("a") itself, leaving a <-> b cut
    assert net._blocked("a", "b") is None and net._blocked("b", "a") is None
    assert net._blocked("c", "a") is None
    assert net._blocked("b", "c") == "partitioned"
    net.partition("a")
    net.heal("a", "b")  # documented: a "*" partition stays until heal() or heal("a")
    assert net._blocked("a", "b") == "partitioned"
    with pytest.raises(ValueError, match="no host named 'typo'"):
        net.heal("typo")  # was: silently healed nothing
    net.heal()
    assert net._blocked("a", "b") is None


def test_a_crashed_host_makes_no_sockets_and_comes_back_empty() -> None:
    # A program of the crashed host that goes on (a supervisor loop making its
    # listener again) gets EBADF, as every call of a crashed host's programs
    # (was: a socket on the dead machine, which restart() then took away).
    net = Network(seed=1)
    client = sansock.using(net.add_host("client", "10.0.0.1"))
    server = net.add_host("server", "10.0.0.2")
    net.link("client", "server", latency=0.010)
    api = sansock.using(server)
    server.crash()
    with pytest.raises(OSError) as info:
        api.socket(api.AF_INET, api.SOCK_STREAM)
    assert info.value.errno == errno.EBADF
    with pytest.raises(TimeoutError):
        client.create_connection(("10.0.0.2", 9001), timeout=2)  # a crashed host answers nothing
    server.restart()
    assert server.open_fds() == []
    with pytest.raises(ConnectionRefusedError):
        client.create_connection(("10.0.0.2", 9001), timeout=2)


def test_data_into_a_partition_fails_with_etimedout_after_tcp_retries2() -> None:
    # docs/reference/fake.rst promises ETIMEDOUT after tcp_retries2 = 15 for a
    # segment other than a SYN: Linux's tcp_model_timeout(15, TCP_RTO_MIN) is
    # (2**10 - 1) * 200 ms + 6 * 120 s = 924.6 s after the segment was first sent.
    net = Network(seed=1)
    client = sansock.using(net.add_host("client", "10.0.0.1"))
    server = sansock.using(net.add_host("server", "10.0.0.2"))
    net.link("client", "server", latency=0.010)
    listener = server.socket(server.AF_INET, server.SOCK_STREAM)
    listener.bind(("0.0.0.0", 9000))
    listener.listen()
    conn = client.create_connection(("10.0.0.2", 9000))
    accepted, _ = listener.accept()
    net.partition("client", "server")
    start = net.monotonic_ns()
    conn.sendall(b"into the partition")
    with pytest.raises(TimeoutError) as info:
        conn.recv(10)  # no socket timeout: only TCP gives up
    assert info.value.errno == 110
    assert net.monotonic_ns() - start == 924_600_000_000
    for sock in (conn, accepted, listener):
        sock.close()


def test_partition_of_every_host_from_every_host() -> None:
    net = Network(seed=1)
    net.add_host("a", "10.0.0.1")
    net.add_host("b", "10.0.0.2")
    net.link("*", "*")
    net.partition("*")  # b defaults to "*": every host from every other (was: nothing cut)
    assert net._blocked("a", "b") == "partitioned"
    assert net._blocked("b", "a") == "partitioned"
    net.heal()
    assert net._blocked("a", "b") is None


def connected_then_cut_server_to_client() -> tuple[Network, Any, Any, Any]:
    """A connection from host "client" to a listener on host "server" over a 10 ms
    link, then the server -> client direction cut: (net, listener, client's
    socket, server's accepted socket)."""
    net = Network(seed=3)
    client = sansock.using(net.add_host("client", "10.0.0.1"))
    server = sansock.using(net.add_host("server", "10.0.0.2"))
    net.link("client", "server", latency=0.010)
    listener = server.socket(server.AF_INET, server.SOCK_STREAM)
    listener.bind(("0.0.0.0", 9000))
    listener.listen()
    conn = client.create_connection(("10.0.0.2", 9000))
    accepted, _ = listener.accept()
    net.partition("server", "client", one_way=True)
    return net, listener, conn, accepted


def test_a_one_way_partition_times_out_the_side_whose_data_is_not_acknowledged() -> None:
    # The server -> client direction is cut after the client sent a request:
    # the request arrives, its ACK never does.  Linux retransmits the client's
    # data (never a pure ACK), so after tcp_retries2 (924.6 s) the *client* gets
    # ETIMEDOUT; the server, which owes nothing, keeps its connection.  (Was: the
    # server got ETIMEDOUT and the client waited forever.)
    import threading

    net, listener, conn, accepted = connected_then_cut_server_to_client()
    start = net.monotonic_ns()
    conn.sendall(b"request")
    assert accepted.recv(100) == b"request"
    seen: dict[str, str] = {}

    def server_waits() -> None:
        accepted.settimeout(2000)
        try:
            seen["server"] = repr(accepted.recv(100))
        except OSError as exc:
            seen["server"] = f"{type(exc).__name__} {exc.errno}"

    thread = threading.Thread(target=server_waits)
    thread.start()
    try:
        with pytest.raises(TimeoutError) as info:
            conn.recv(100)
        assert info.value.errno == 110
        elapsed = net.monotonic_ns() - start
        assert 924_600_000_000 <= elapsed <= 924_600_000_000 + 20_000_000  # give or take a latency
    finally:
        thread.join(30)
    assert seen == {"server": "TimeoutError None"}  # its own 2000 s timeout, not ETIMEDOUT
    for sock in (conn, accepted, listener):
        sock.close()


# -- trio on the fake ----------------------------------------------------------------------


def test_trio_open_tcp_stream_to_another_host_of_the_network() -> None:
    # trio's SocketStream sets TCP_NOTSENT_LOWAT=16384 on every stream; the fake's
    # NotImplementedError for it broke every trio stream once issue 18 and trio were
    # merged (main models the option since).  A trio client on one host, a server
    # thread on another, two round trips of virtual time.
    import threading

    import trio

    from sansock_fake import trio_run

    net = Network(seed=5)
    client = net.add_host("client", "10.0.0.1")
    server = net.add_host("server", "10.0.0.2")
    net.link("client", "server", latency=0.050)
    api = sansock.using(server)
    listener = api.socket(api.AF_INET, api.SOCK_STREAM)
    listener.bind(("0.0.0.0", 9000))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(100))

    thread = threading.Thread(target=serve)
    thread.start()

    async def main() -> tuple[bytes, float, int]:
        start = trio.current_time()
        stream = await trio.open_tcp_stream("server", 9000)
        lowat = stream.getsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NOTSENT_LOWAT)
        await stream.send_all(b"hello")
        answer = await stream.receive_some(10)
        await stream.aclose()
        return answer, trio.current_time() - start, lowat

    try:
        answer, elapsed, lowat = trio_run(main, kernel=client)
    finally:
        thread.join(30)
        listener.close()
    assert answer == b"hello"
    assert lowat == 2**14  # what trio set
    assert round(elapsed, 6) == 0.2  # connect, then the echo: two round trips of 100 ms


def test_a_cancelled_trio_connect_closes_the_socket() -> None:
    # docs/howto/trio.rst: "a cancelled connect closes the socket" (trio/_socket.py
    # SocketType.connect: on Cancelled, self._sock.close()), which no test proved.
    import trio

    from sansock_fake import trio_run

    net = Network(seed=1)
    client = net.add_host("client", "10.0.0.1")
    net.add_host("server", "10.0.0.2")
    net.link("client", "server", latency=0.010)
    net.partition("client", "server")

    async def main() -> tuple[bool, int, float]:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        start = trio.current_time()
        with trio.move_on_after(2.5) as scope:
            await sock.connect(("10.0.0.2", 9000))
        return scope.cancelled_caught, sock.fileno(), trio.current_time() - start

    cancelled, fileno, elapsed = trio_run(main, kernel=client)
    assert cancelled and fileno == -1
    assert round(elapsed, 6) == 2.5
    assert client.open_fds() == []


# -- the how-to's fixture example, which no test ran ------------------------------------------


def _fetch_time(api: sansock.Binding, address: tuple[str, int], attempts: int = 5,
                timeout: float = 1.0) -> tuple[bytes, list[str]]:
    errors: list[str] = []
    for _ in range(attempts):
        try:
            with api.create_connection(address, timeout=timeout) as conn:
                conn.sendall(b"time?")
                answer = conn.recv(100)
        except OSError as exc:
            errors.append(type(exc).__name__)
            continue
        if answer:
            return answer, errors
        errors.append("EOF")
    raise ConnectionError(f"gave up: {errors}")


def _serve(api: sansock.Binding, ready: object) -> None:
    import threading

    assert isinstance(ready, threading.Event)
    with api.socket(api.AF_INET, api.SOCK_STREAM) as listener:
        listener.setsockopt(api.SOL_SOCKET, api.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", 7000))
        listener.listen()
        ready.set()
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with conn:
                    if conn.recv(100):
                        conn.sendall(b"12:00")
            except OSError:
                pass


def test_fetch_survives_a_lossy_link(fake_network: Network) -> None:
    # docs/howto/flaky_network.rst, "Loss, bandwidth and replay", as written there
    # (a random seed per run: TCP loss is delay, and each of 5 attempts has 5 s).
    import threading

    client = sansock.using(fake_network.add_host("client", "10.0.0.1"))
    server = fake_network.add_host("server", "10.0.0.2")
    fake_network.link("client", "server", latency=0.02, jitter=0.01, loss=0.2)
    ready = threading.Event()
    thread = threading.Thread(target=_serve, args=(sansock.using(server), ready))
    thread.start()
    ready.wait()
    try:
        assert _fetch_time(client, ("server", 7000), timeout=5)[0] == b"12:00"
    finally:
        server.crash()
        thread.join(30)
    assert not thread.is_alive()


def test_a_one_way_partition_times_out_both_sides_when_both_have_data_in_flight() -> None:
    # As above, but the server also answered: its answer waits behind the ACK
    # the path drops, and it too is never acknowledged, so both sides give up.
    net, listener, conn, accepted = connected_then_cut_server_to_client()
    conn.sendall(b"request")
    assert accepted.recv(100) == b"request"
    accepted.sendall(b"response")
    with pytest.raises(TimeoutError) as info:
        conn.recv(100)
    assert info.value.errno == 110
    with pytest.raises(TimeoutError) as info:
        accepted.recv(100)  # was: the server kept its connection, its answer lost for good
    assert info.value.errno == 110
    for sock in (conn, accepted, listener):
        sock.close()
