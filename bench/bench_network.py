"""How fast the simulated network runs: simulated messages per real second, 3 hosts.

The workload is what a user writes: a client host asks two server hosts and
waits for both answers, over links of 5 ms with jitter (and 1 % loss for
UDP); one thread drives all three hosts, blocking calls letting the shared
virtual clock jump to each arrival.

* ``udp``: per round, a datagram to each server and one answer from each
  (4 messages), answers awaited with a timeout (a lost one costs it).
* ``tcp``: one connection per server, per round a 64-byte request and a
  64-byte answer on each (4 messages; segments and ACKs are not counted).

Prints, per workload, messages per real second and virtual seconds
simulated per real second.  ``--rounds N`` sets the rounds (default 2000).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import sansock
from sansock_fake import Network


def make_network(seed: int, loss: float) -> tuple[Network, sansock.Binding, list[sansock.Binding]]:
    net = Network(seed=seed, trace_limit=0)
    client = net.add_host("client", "10.0.0.1")
    servers = [net.add_host(f"server{i}", f"10.0.0.{i + 2}") for i in range(2)]
    net.link("*", "*", latency=0.005, jitter=0.001, loss=loss)
    return net, sansock.using(client), [sansock.using(s) for s in servers]


def udp(rounds: int) -> tuple[int, float, float]:
    net, client, servers = make_network(seed=1, loss=0.01)
    sockets = []
    for i, server in enumerate(servers):
        s = server.socket(server.AF_INET, server.SOCK_DGRAM)
        s.bind(("0.0.0.0", 7000))
        s.settimeout(0.05)
        sockets.append(s)
    c = client.socket(client.AF_INET, client.SOCK_DGRAM)
    c.settimeout(0.05)
    messages = 0
    start, virtual = time.perf_counter(), net.monotonic_ns()
    for _ in range(rounds):
        for i in range(len(servers)):
            c.sendto(b"q" * 64, (f"10.0.0.{i + 2}", 7000))
            messages += 1
        for s in sockets:
            try:
                data, peer = s.recvfrom(100)
            except TimeoutError:
                continue
            s.sendto(data, peer)
            messages += 1
        for _ in sockets:
            try:
                c.recv(100)
            except TimeoutError:
                pass
    real = time.perf_counter() - start
    for s in (*sockets, c):
        s.close()
    return messages, real, (net.monotonic_ns() - virtual) / 1e9


def tcp(rounds: int) -> tuple[int, float, float]:
    net, client, servers = make_network(seed=2, loss=0.0)
    listeners, conns, accepted = [], [], []
    for server in servers:
        listener = server.socket(server.AF_INET, server.SOCK_STREAM)
        listener.bind(("0.0.0.0", 7000))
        listener.listen()
        listeners.append(listener)
    for i, listener in enumerate(listeners):
        conns.append(client.create_connection((f"10.0.0.{i + 2}", 7000), timeout=5))
        accepted.append(listener.accept()[0])
    messages = 0
    start, virtual = time.perf_counter(), net.monotonic_ns()
    for _ in range(rounds):
        for c in conns:
            c.sendall(b"q" * 64)
            messages += 1
        for s in accepted:
            s.sendall(s.recv(64))
            messages += 1
        for c in conns:
            c.recv(64)
    real = time.perf_counter() - start
    for s in (*conns, *accepted, *listeners):
        s.close()
    return messages, real, (net.monotonic_ns() - virtual) / 1e9


WORKLOADS: dict[str, Callable[[int], tuple[int, float, float]]] = {"udp": udp, "tcp": tcp}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--clock", default="wall", help="accepted for make bench's BENCH_ARGS; always wall")
    args = parser.parse_args()
    print("bench_network: simulated network, 3 hosts (1 client, 2 servers), one thread")
    failed = False
    for name, workload in WORKLOADS.items():
        try:
            messages, real, virtual = workload(args.rounds)
        except (OSError, RuntimeError) as exc:
            print(f"  {name:4}: failed: {exc!r}")
            failed = True
            continue
        print(
            f"  {name:4}: {messages} messages in {real:.2f} s real, {virtual:.1f} s virtual: "
            f"{messages / real:,.0f} messages/s, {virtual / real:,.1f} virtual s per real s"
        )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
