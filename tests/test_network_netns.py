"""The simulated network against real network namespaces (issue 19, the oracle).

Where a root process can make network namespaces (``ip netns add``) joined
by a veth pair, the same two-host scenario runs on real Linux and on a
:class:`~sansock_fake.Network`, and what each side observes is compared:
errnos, addresses, EOF vs reset, and timing only as "before/after the
timeout".  Real sockets of each namespace are made by switching the calling
thread into it (``setns(2)``) for the ``socket()`` call: a socket stays in
the namespace it was made in, so one thread drives both hosts.

The real side: client ``10.77.0.1`` and server ``10.77.0.2`` on a /24, the
client's default route through the server, which does not forward (so an
address no host has is black-holed, as on the simulation).  "Cut" is
``ip link set ... down`` on the server's end; "crash" is a cut, every server
socket closed with ``SO_LINGER`` 0 (its RST lost on the cut link), and the
link up again: the namespace is back with no sockets.  ``tc netem`` is not
available, so there is no latency on the real side and none is simulated.

Skipped, with the reason, where namespaces cannot be made (not root, no
iproute2, a container without CAP_SYS_ADMIN).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket as stdlib
import struct
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest

import sansock
from sansock_fake import Network

CLIENT, SERVER, NOWHERE = "10.77.0.1", "10.77.0.2", "10.77.9.9"
CLONE_NEWNET = 0x40000000


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def _namespaces_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"sansock-probe-{uuid.uuid4().hex[:8]}"
    try:
        _run("ip", "netns", "add", probe)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"ip netns add fails here: {exc}"
    _run("ip", "netns", "del", probe)
    return None


class World(Protocol):
    """One side of the comparison: two hosts and the faults between them."""

    def socket(self, host: str, type_: int) -> Any: ...
    def cut(self) -> None: ...
    def mend(self) -> None: ...
    def crash_server(self, sockets: list[Any]) -> None: ...


class RealWorld:
    """Two network namespaces joined by a veth pair."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.ns = {"client": f"ssk-c-{tag}", "server": f"ssk-s-{tag}"}
        self.veth = (f"ssk{tag}c", f"ssk{tag}s")
        libc = ctypes.CDLL(None, use_errno=True)
        self._setns = libc.setns

    def __enter__(self) -> RealWorld:
        c, s = self.ns["client"], self.ns["server"]
        _run("ip", "netns", "add", c)
        _run("ip", "netns", "add", s)
        _run("ip", "link", "add", self.veth[0], "type", "veth", "peer", "name", self.veth[1])
        _run("ip", "link", "set", self.veth[0], "netns", c)
        _run("ip", "link", "set", self.veth[1], "netns", s)
        for ns, dev, addr in ((c, self.veth[0], CLIENT), (s, self.veth[1], SERVER)):
            _run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", c, "route", "add", "default", "via", SERVER)
        _run("ip", "netns", "exec", s, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)

    def socket(self, host: str, type_: int) -> stdlib.socket:
        own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns[host]}", os.O_RDONLY)
        try:
            if self._setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            try:
                return stdlib.socket(stdlib.AF_INET, type_)
            finally:
                if self._setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(own)
            os.close(target)

    def cut(self) -> None:
        _run("ip", "-n", self.ns["server"], "link", "set", self.veth[1], "down")

    def mend(self) -> None:
        _run("ip", "-n", self.ns["server"], "link", "set", self.veth[1], "up")
        # The client's route through the server went with the carrier on some kernels.
        subprocess.run(["ip", "-n", self.ns["client"], "route", "replace", "default", "via", SERVER],
                       capture_output=True, timeout=30)

    def crash_server(self, sockets: list[Any]) -> None:
        self.cut()
        for sock in sockets:
            sock.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        self.mend()


class SimWorld:
    """The same two hosts on a :class:`Network`."""

    def __init__(self) -> None:
        self.net = Network(seed=1)
        self.hosts = {"client": self.net.add_host("client", CLIENT), "server": self.net.add_host("server", SERVER)}
        self.net.link("client", "server")

    def socket(self, host: str, type_: int) -> sansock.socket:
        api = sansock.using(self.hosts[host])
        return api.socket(api.AF_INET, type_)

    def cut(self) -> None:
        self.net.partition("client", "server")

    def mend(self) -> None:
        self.net.heal()

    def crash_server(self, sockets: list[Any]) -> None:
        self.hosts["server"].crash()
        for sock in sockets:
            sock.detach()  # the fds died with the host
        self.hosts["server"].restart()


def observe(action: Callable[[], object]) -> str:
    """What a program sees: the value, or the exception's type and errno."""
    try:
        value = action()
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return f"{type(exc).__name__}({exc.errno})"
    return f"ok {value!r}"


def scenario(world: World) -> list[str]:
    """Connect, refused port, black hole, source address, cut mid-transfer, crash."""
    seen = []
    stream, dgram = stdlib.SOCK_STREAM, stdlib.SOCK_DGRAM
    listener = world.socket("server", stream)
    listener.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_REUSEADDR, 1)
    listener.bind((SERVER, 8080))
    listener.listen()

    client = world.socket("client", stream)
    client.settimeout(5.0)  # connects that succeed: room for a loaded machine
    seen.append("connect " + observe(lambda: client.connect((SERVER, 8080))))
    client.settimeout(1.0)
    conn, peer = listener.accept()
    seen.append(f"peer seen by the server {peer[0]}, client name {client.getsockname()[0]}")
    client.sendall(b"hello")
    seen.append("server reads " + observe(lambda: conn.recv(10)))

    refused = world.socket("client", stream)
    refused.settimeout(1.0)
    seen.append("refused port " + observe(lambda: refused.connect((SERVER, 8081))))
    refused.close()

    hole = world.socket("client", stream)
    hole.settimeout(0.5)
    seen.append("address no host has " + observe(lambda: hole.connect((NOWHERE, 8080))))
    hole.close()

    udp = world.socket("client", dgram)
    udp.settimeout(1.0)
    udp.connect((SERVER, 9999))
    udp.send(b"x")
    seen.append("udp to a closed port " + observe(lambda: udp.recv(10)))
    udp.close()

    world.cut()
    client.sendall(b"during the cut")
    seen.append("recv across a cut link " + observe(lambda: client.recv(10)))
    world.mend()
    seen.append("server reads after the mend " + observe(lambda: conn.recv(100)))
    conn.sendall(b"answer")
    seen.append("client reads after the mend " + observe(lambda: client.recv(100)))

    world.crash_server([conn, listener])
    client.sendall(b"after the crash")
    seen.append("recv after the server crashed " + observe(lambda: client.recv(10)))
    seen.append("recv again " + observe(lambda: client.recv(10)))
    client.close()
    fresh = world.socket("client", stream)
    fresh.settimeout(5.0)
    seen.append("connect to the restarted server " + observe(lambda: fresh.connect((SERVER, 8080))))
    fresh.close()
    return seen


@pytest.fixture(scope="module")
def real_observations() -> Iterator[list[str]]:
    reason = _namespaces_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with RealWorld() as world:
        yield scenario(world)


def test_the_simulation_observes_what_real_namespaces_do(real_observations: list[str]) -> None:
    assert scenario(SimWorld()) == real_observations
