"""The simulated network (issue 19): hosts, links, DNS, partitions, crashes, determinism.

Everything here is about the fake alone (a network of fake kernels): there
is no native counterpart, except the namespace oracle in
``test_network_netns.py``.  Virtual time only: no test sleeps.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

import sansock
from sansock import Binding
from sansock_fake import BlockedForever, FakeKernel, Link, Network

pytest_plugins = ["pytester"]

MS = 1_000_000
S = 1_000_000_000


def two_hosts(seed: int = 7, **link: float) -> tuple[Network, Binding, Binding]:
    net = Network(seed=seed)
    client = net.add_host("client", "10.0.0.1", "fd00::1")
    server = net.add_host("server", "10.0.0.2", "fd00::2")
    net.link("client", "server", **link)
    return net, sansock.using(client), sansock.using(server)


def udp_pair(net: Network, a: Binding, b: Binding, port: int = 9000) -> tuple[sansock.socket, sansock.socket]:
    receiver = b.socket(b.AF_INET, b.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", port))
    sender = a.socket(a.AF_INET, a.SOCK_DGRAM)
    return sender, receiver


# -- hosts ----------------------------------------------------------------------------------


def test_hosts_have_their_own_names_fds_and_ports() -> None:
    net, a, b = two_hosts()
    assert (a.gethostname(), b.gethostname()) == ("client", "server")
    sa, sb = a.socket(a.AF_INET, a.SOCK_STREAM), b.socket(b.AF_INET, b.SOCK_STREAM)
    try:
        # Separate fd tables (the same first number) and separate port tables.
        assert sa.fileno() == sb.fileno()
        sa.bind(("0.0.0.0", 8080))
        sb.bind(("0.0.0.0", 8080))
        # A host binds its own addresses, not another host's.
        with a.socket(a.AF_INET, a.SOCK_DGRAM) as other, pytest.raises(OSError) as info:
            other.bind(("10.0.0.2", 0))
        assert info.value.errno == 99  # EADDRNOTAVAIL
    finally:
        sa.close()
        sb.close()


def test_loopback_works_on_each_host_as_on_a_lone_kernel() -> None:
    net, a, _b = two_hosts(latency=0.5)
    listener = a.socket(a.AF_INET, a.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    c = a.create_connection(listener.getsockname())
    s, _ = listener.accept()
    c.sendall(b"hi")
    assert s.recv(10) == b"hi"
    assert net.monotonic_ns() == 1000 * S  # loopback costs no virtual time
    for sock in (c, s, listener):
        sock.close()


def test_add_host_rejects_bad_names_and_addresses() -> None:
    net = Network(seed=1)
    net.add_host("a", "10.0.0.1")
    with pytest.raises(ValueError, match="already a host"):
        net.add_host("a", "10.0.0.9")
    with pytest.raises(ValueError, match="already the address"):
        net.add_host("b", "10.0.0.1")
    with pytest.raises(ValueError):
        net.add_host("c", "127.0.0.1")
    with pytest.raises(ValueError):
        net.add_host("d", "not-an-address")
    with pytest.raises(ValueError, match="no host named"):
        net.link("a", "zz")
    with pytest.raises(ValueError, match="probability"):
        net.link("a", "*", loss=1.5)
    with pytest.raises(TypeError):
        Network(seed="7")  # type: ignore[arg-type]


def test_a_lone_kernel_cannot_crash() -> None:
    with pytest.raises(RuntimeError, match="Network"):
        FakeKernel().crash()


def test_source_address_seen_by_the_peer_is_the_interface_address() -> None:
    net, a, b = two_hosts(latency=0.010)
    sender, receiver = udp_pair(net, a, b)
    sender.sendto(b"x", ("10.0.0.2", 9000))
    data, source = receiver.recvfrom(10)
    assert (data, source[0]) == (b"x", "10.0.0.1")
    sender.close()
    receiver.close()


def test_ipv6_between_hosts() -> None:
    net, a, b = two_hosts(latency=0.010)
    receiver = b.socket(b.AF_INET6, b.SOCK_DGRAM)
    receiver.bind(("::", 9000))
    sender = a.socket(a.AF_INET6, a.SOCK_DGRAM)
    sender.sendto(b"six", ("fd00::2", 9000))
    data, source = receiver.recvfrom(10)
    assert (data, source[0]) == (b"six", "fd00::1")
    sender.close()
    receiver.close()


# -- links: latency, bandwidth, loss ---------------------------------------------------------


def test_udp_arrives_after_the_latency_in_virtual_time() -> None:
    net, a, b = two_hosts(latency=0.040)
    sender, receiver = udp_pair(net, a, b)
    start = net.monotonic_ns()
    sender.sendto(b"ping", ("10.0.0.2", 9000))
    receiver.setblocking(False)
    with pytest.raises(BlockingIOError):
        receiver.recv(10)  # still on the wire
    receiver.setblocking(True)
    assert receiver.recv(10) == b"ping"
    assert net.monotonic_ns() - start == 40 * MS
    sender.close()
    receiver.close()


def test_bandwidth_is_a_serialisation_delay() -> None:
    net, a, b = two_hosts(latency=0.0, bandwidth=10_000)
    sender, receiver = udp_pair(net, a, b)
    start = net.monotonic_ns()
    for _ in range(3):
        sender.sendto(b"x" * 1000, ("10.0.0.2", 9000))
    arrivals = []
    for _ in range(3):
        receiver.recv(2000)
        arrivals.append(net.monotonic_ns() - start)
    assert arrivals == [100 * MS, 200 * MS, 300 * MS]  # 1000 bytes at 10 kB/s each
    sender.close()
    receiver.close()


def count_received(seed: int, n: int = 1000, loss: float = 0.2) -> int:
    net, a, b = two_hosts(seed=seed, latency=0.001, loss=loss)
    sender, receiver = udp_pair(net, a, b)
    receiver.settimeout(0.5)
    received = 0
    for batch in range(0, n, 50):
        for i in range(batch, batch + 50):
            sender.sendto(i.to_bytes(2, "big"), ("10.0.0.2", 9000))
        try:
            while True:
                receiver.recv(10)
                received += 1
        except TimeoutError:
            pass
    sender.close()
    receiver.close()
    return received


def test_udp_loss_is_deterministic_per_seed_and_statistically_right() -> None:
    first = count_received(seed=1)
    assert count_received(seed=1) == first
    others = {count_received(seed=s) for s in (2, 3)}
    assert others != {first}
    # Binomial(1000, 0.8): mean 800, sd 12.6; 5 sd either side.
    for count in (first, *others):
        assert 737 <= count <= 863


def test_duplicate_and_reorder() -> None:
    net, a, b = two_hosts(seed=3, latency=0.010, duplicate=0.5, reorder=0.5)
    sender, receiver = udp_pair(net, a, b)
    for i in range(40):
        sender.sendto(bytes([i]), ("10.0.0.2", 9000))
    receiver.settimeout(1)
    got = []
    try:
        while True:
            got.append(receiver.recv(1)[0])
    except TimeoutError:
        pass
    assert len(got) > 40  # duplicates
    assert got != sorted(got)  # reordered
    assert set(got) == set(range(40))  # nothing lost
    notes = " ".join(e.text for e in net.trace if e.kind == "deliver")
    assert "duplicated" in notes and "reordered" in notes
    sender.close()
    receiver.close()


def test_no_link_drops_and_black_hole() -> None:
    net = Network(seed=1)
    a = sansock.using(net.add_host("a", "10.0.0.1"))
    net.add_host("b", "10.0.0.2")
    s = a.socket(a.AF_INET, a.SOCK_DGRAM)
    assert s.sendto(b"x", ("10.0.0.2", 9)) == 1  # no link: sent, dropped
    assert s.sendto(b"x", ("10.9.9.9", 9)) == 1  # an address no host has: black-holed
    drops = [e.text for e in net.trace if e.kind == "drop"]
    assert any("no link between a and b" in d for d in drops)
    assert any("no host has 10.9.9.9" in d for d in drops)
    # A family the host has no address of has no route.
    with pytest.raises(OSError) as info:
        s6 = a.socket(a.AF_INET6, a.SOCK_DGRAM)
        try:
            s6.sendto(b"x", ("fd00::2", 9))
        finally:
            s6.close()
    assert info.value.errno == 101  # ENETUNREACH
    s.close()


def test_udp_to_a_closed_port_gives_a_connected_sender_econnrefused() -> None:
    net, a, _b = two_hosts(latency=0.010)
    s = a.socket(a.AF_INET, a.SOCK_DGRAM)
    s.connect(("10.0.0.2", 9999))
    s.send(b"x")
    s.settimeout(1)
    with pytest.raises(ConnectionRefusedError):
        s.recv(10)
    assert net.monotonic_ns() - 1000 * S == 20 * MS  # the ICMP came back after a round trip
    s.close()


def test_default_link_applies_to_every_pair() -> None:
    net = Network(seed=1)
    a = sansock.using(net.add_host("a", "10.0.0.1"))
    b = sansock.using(net.add_host("b", "10.0.0.2"))
    net.link("*", "*", latency=0.25)
    sender, receiver = udp_pair(net, a, b)
    sender.sendto(b"x", ("10.0.0.2", 9000))
    receiver.recv(1)
    assert net.monotonic_ns() - 1000 * S == 250 * MS
    net.link("a", "b", latency=0.001)  # a link of the pair's own wins
    sender.sendto(b"x", ("10.0.0.2", 9000))
    receiver.recv(1)
    assert net.monotonic_ns() - 1000 * S == 251 * MS
    sender.close()
    receiver.close()


def test_link_validation() -> None:
    from decimal import Decimal

    assert Link(latency=1).latency == 1.0
    assert Link(latency=Decimal("0.04"), bandwidth=Decimal(1000)) == Link(latency=0.04, bandwidth=1000.0)

    class Lying(int):
        def __str__(self) -> str:
            return "lies"

        def __format__(self, spec: str) -> str:
            return "lies"

    assert type(Network(seed=Lying(3)).seed) is int
    for bad in ({"latency": -1}, {"jitter": float("nan")}, {"bandwidth": 0}, {"duplicate": -0.1}):
        with pytest.raises(ValueError):
            Link(**bad)


# -- faults -------------------------------------------------------------------------------


def test_partition_drops_udp_until_heal_and_can_be_one_way() -> None:
    net, a, b = two_hosts(latency=0.010)
    sender, receiver = udp_pair(net, a, b)
    back = a.socket(a.AF_INET, a.SOCK_DGRAM)
    back.bind(("0.0.0.0", 9001))
    receiver.settimeout(1)
    back.settimeout(1)
    net.partition("client", "server", one_way=True)
    sender.sendto(b"lost", ("10.0.0.2", 9000))
    with pytest.raises(TimeoutError):
        receiver.recv(10)
    receiver.sendto(b"other way", ("10.0.0.1", 9001))
    assert back.recv(20) == b"other way"
    net.heal()
    sender.sendto(b"healed", ("10.0.0.2", 9000))
    assert receiver.recv(10) == b"healed"
    for s in (sender, receiver, back):
        s.close()


def test_a_partition_cuts_packets_in_flight() -> None:
    net, a, b = two_hosts(latency=1.0)
    sender, receiver = udp_pair(net, a, b)
    sender.sendto(b"x", ("10.0.0.2", 9000))
    net.partition("client", "server")
    receiver.settimeout(2)
    with pytest.raises(TimeoutError):
        receiver.recv(1)
    sender.close()
    receiver.close()


def test_crash_closes_everything_silently_and_restart_comes_back_empty() -> None:
    net, a, b = two_hosts(latency=0.010)
    server = net.hosts["server"]
    sender, receiver = udp_pair(net, a, b)
    server.crash()
    assert server.fd_count() == 0
    with pytest.raises(OSError):
        receiver.recv(1)  # its fd is gone with the host
    sender.sendto(b"x", ("10.0.0.2", 9000))
    server.restart()
    fresh = b.socket(b.AF_INET, b.SOCK_DGRAM)
    fresh.bind(("0.0.0.0", 9000))  # the port is free again
    fresh.settimeout(1)
    with pytest.raises(TimeoutError):
        fresh.recv(1)  # what was sent to the crashed host is gone
    sender.sendto(b"y", ("10.0.0.2", 9000))
    assert fresh.recv(1) == b"y"
    kinds = [e.kind for e in net.trace if e.host == "server" and e.kind in ("crash", "restart")]
    assert kinds == ["crash", "restart"]
    sender.close()
    fresh.close()
    receiver.detach()


# -- DNS --------------------------------------------------------------------------------


def test_dns_names_in_order_failures_and_delay() -> None:
    net, a, b = two_hosts()
    net.dns.add("api.example.com", "10.0.0.2", "fd00::2")
    answers = [ai[4][0] for ai in a.getaddrinfo("api.example.com", 80, type=a.SOCK_STREAM)]
    assert answers == ["10.0.0.2", "fd00::2"]
    # Every host's resolver reads the same table; host names resolve too.
    assert b.gethostbyname("api.example.com") == "10.0.0.2"
    assert a.gethostbyname("server") == "10.0.0.2"
    # A host's own name is in its /etc/hosts (127.0.1.1, as Debian writes it).
    assert a.gethostbyname("client") == "127.0.1.1"
    net.dns.fail("api.example.com", "EAI_AGAIN")
    with pytest.raises(sansock.gaierror) as info:
        a.getaddrinfo("api.example.com", 80)
    assert info.value.args == (-3, "Temporary failure in name resolution")
    net.dns.fail("api.example.com", "EAI_NONAME")
    with pytest.raises(sansock.gaierror) as info:
        a.getaddrinfo("api.example.com", 80)
    assert info.value.args == (-2, "Name or service not known")
    net.dns.fail("api.example.com", None)
    net.dns.delay("api.example.com", 2.5)
    start = net.monotonic_ns()
    a.getaddrinfo("api.example.com", 80)
    assert net.monotonic_ns() - start == int(2.5 * S)
    with pytest.raises(sansock.gaierror):
        a.getaddrinfo("nowhere.example.com", 80)
    with pytest.raises(ValueError):
        net.dns.fail("x", "EAI_BOGUS")
    assert any(e.kind == "dns" and e.host == "client" for e in net.trace)


# -- the clock and determinism ---------------------------------------------------------------


def test_a_wait_with_nothing_in_flight_is_still_blocked_forever() -> None:
    net, a, b = two_hosts(latency=0.010)
    _sender, receiver = udp_pair(net, a, b)
    with pytest.raises(BlockedForever):
        receiver.recv(1)
    _sender.close()
    receiver.close()


def udp_scenario(seed: int) -> list[str]:
    net, a, b = two_hosts(seed=seed, latency=0.020, jitter=0.010, loss=0.3, duplicate=0.1, reorder=0.1)
    sender, receiver = udp_pair(net, a, b)
    receiver.settimeout(0.2)
    for i in range(30):
        sender.sendto(b"m%d" % i, ("10.0.0.2", 9000))
        try:
            receiver.sendto(receiver.recv(10), ("10.0.0.1", sender.getsockname()[1]))
        except TimeoutError:
            pass
    sender.close()
    receiver.close()
    return [str(e) for e in net.trace]


def test_the_same_seed_gives_the_same_trace() -> None:
    first = udp_scenario(11)
    assert udp_scenario(11) == first
    assert udp_scenario(12) != first
    assert any(" drop " in line for line in first) and any(" syscall " in line for line in first)


def test_the_same_seed_gives_the_same_trace_in_another_process() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, %r)
        from test_network import udp_scenario
        print("\\n".join(udp_scenario(11)))
        """
    ) % (str(__import__("pathlib").Path(__file__).parent),)
    env_hash = {"PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, **env_hash}, timeout=120).stdout
    assert out.splitlines() == udp_scenario(11)


def test_fake_network_fixture(fake_network: Network, request: pytest.FixtureRequest) -> None:
    assert isinstance(fake_network.seed, int)
    option = request.config.getoption("--sansock-seed")
    if option is not None:
        assert fake_network.seed == option
    host = fake_network.add_host("h", "10.1.0.1")
    assert host.gethostname() == b"h"


def test_fake_network_fixture_reports_the_seed_and_replays_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_fails(fake_network):
            assert fake_network.seed == -1
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--sansock-seed=4242")
    result.stdout.fnmatch_lines(["*fake_network seed: 4242 (replay with pytest --sansock-seed=4242)*"])
    result.assert_outcomes(failed=1)


@pytest.mark.threads
def test_a_thread_blocked_on_a_crashed_host_gets_ebadf() -> None:
    net, _a, b = two_hosts(latency=0.010)
    receiver = b.socket(b.AF_INET, b.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", 9000))
    listener = b.socket(b.AF_INET, b.SOCK_STREAM)
    listener.bind(("0.0.0.0", 8080))
    listener.listen()
    seen: dict[str, str] = {}

    def wait(name: str, call: Callable[[], object]) -> None:
        try:
            call()
        except OSError as exc:
            seen[name] = f"{type(exc).__name__} {exc.errno}"

    threads = [threading.Thread(target=wait, args=("recv", lambda: receiver.recv(1))),
               threading.Thread(target=wait, args=("accept", listener.accept))]
    for t in threads:
        t.start()
    server = net.hosts["server"]
    deadline = time.monotonic() + 30
    while len(server.blocked_threads()) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)  # real time, bounded: until both are blocked in the kernel
    server.crash()
    for t in threads:
        t.join(30)
    assert seen == {"recv": "OSError 9", "accept": "OSError 22"}
    receiver.detach()
    listener.detach()


# -- the scheduler's timers ------------------------------------------------------------------


def test_timers_fire_in_time_order_and_in_the_order_set_for_equal_times() -> None:
    net = Network(seed=1)
    kernel = net.add_host("h", "10.0.0.1")
    fired: list[str] = []
    scheduler = kernel._scheduler
    with scheduler.condition:
        base = scheduler.now_ns
        scheduler.call_at(base + 3, lambda: fired.append("c"))
        scheduler.call_at(base + 1, lambda: fired.append("a"))
        scheduler.call_at(base + 1, lambda: fired.append("b"))
        scheduler.call_at(base + 10 * S, lambda: fired.append("late"))
    kernel.advance_clock(1e-9 * 5)
    assert fired == ["a", "b", "c"]
    assert net.in_flight() == 1
    kernel.advance_clock(20)
    assert fired == ["a", "b", "c", "late"]
    assert net.monotonic_ns() == base + 5 + 20 * S  # advance_clock moves by exactly what it is told


def test_call_later_runs_a_fault_at_its_virtual_time() -> None:
    net, a, b = two_hosts(latency=0.010)
    sender, receiver = udp_pair(net, a, b)
    net.partition("client", "server")
    net.call_later(2.0, net.heal)
    net.call_later(2.0, lambda: sender.sendto(b"after heal", ("10.0.0.2", 9000)))
    start = net.monotonic_ns()
    assert receiver.recv(20) == b"after heal"
    assert net.monotonic_ns() - start == 2 * S + 10 * MS
    heals = [e.time_ns - start for e in net.trace if e.kind == "heal"]
    assert heals == [2 * S]
    with pytest.raises(ValueError):
        net.call_later(-1, net.heal)
    sender.close()
    receiver.close()


def test_stdlib_code_under_patch_stdlib_of_a_host_uses_the_network() -> None:
    import socket as stdlib

    from sansock_fake import patch_stdlib

    net, _a, b = two_hosts(latency=0.030)
    receiver = b.socket(b.AF_INET, b.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", 9000))
    with patch_stdlib(net.hosts["client"]):
        assert stdlib.gethostname() == "client"
        assert stdlib.gethostbyname("server") == "10.0.0.2"
        with stdlib.socket(stdlib.AF_INET, stdlib.SOCK_DGRAM) as s:
            s.sendto(b"from the stdlib", ("server", 9000))
    assert receiver.recvfrom(100) == (b"from the stdlib", ("10.0.0.1", 32768))
    assert net.monotonic_ns() - 1000 * S == 30 * MS
    receiver.close()
