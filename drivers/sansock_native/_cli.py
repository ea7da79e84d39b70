"""``python -m sansock``: the live demo and the platform report.

The command line does real I/O (it prints, forks, opens pipes), so it lives
beside the native driver rather than in the pure core; ``sansock.__main__``
only hands over to :func:`main`.

``demo`` runs the examples of the stdlib ``socket`` documentation, unchanged
but for ``import sansock as socket``, and narrates them: the IPv4 echo server
and client, the ``getaddrinfo`` IPv4/IPv6 echo variant, passing open files to
a child process with ``send_fds``/``recv_fds`` (SCM_RIGHTS), and the
``recvmsg_into`` scatter example with its exact output.  ``--driver fake``
runs them on the in-memory kernel instead (the fork example then passes a
socket between two fake sockets, since a fake fd cannot cross a process).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sansock
from sansock import Binding

__all__ = ["main"]


def _bind(driver_name: str) -> Binding:
    if driver_name == "fake":
        from sansock_fake import FakeKernel

        return sansock.using(FakeKernel())
    from sansock_native import NativeDriver

    return sansock.using(NativeDriver())


class _Narrator:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.step = 0

    def section(self, title: str) -> None:
        self.step += 1
        print(f"\n[{self.step}] {title}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out, flush=True)


def _echo_ipv4(net: Binding, say: Callable[[str], None]) -> None:
    """The docs' first example: an IPv4 echo server and client."""
    HOST = "127.0.0.1"
    ready = threading.Event()
    port: list[int] = []

    def server() -> None:
        with net.socket(net.AF_INET, net.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            s.listen(1)
            port.append(s.getsockname()[1])
            say(f"server listening on {s.getsockname()}")
            ready.set()
            conn, addr = s.accept()
            with conn:
                say(f"server: connected by {addr}")
                while True:
                    data = conn.recv(1024)
                    if not data:
                        break
                    conn.sendall(data)

    thread = threading.Thread(target=server)
    thread.start()
    ready.wait()
    with net.socket(net.AF_INET, net.SOCK_STREAM) as s:
        s.connect((HOST, port[0]))
        s.sendall(b"Hello, world")
        data = s.recv(1024)
    thread.join()
    say(f"client: received {data!r}")


def _echo_getaddrinfo(net: Binding, say: Callable[[str], None]) -> None:
    """The docs' second example: an echo server for whatever getaddrinfo gives."""
    ready = threading.Event()
    where: list[Any] = []

    def server() -> None:
        s = None
        for res in net.getaddrinfo(None, 0, net.AF_UNSPEC, net.SOCK_STREAM, 0, net.AI_PASSIVE):
            af, socktype, proto, canonname, sa = res
            try:
                s = net.socket(af, socktype, proto)
            except OSError:
                s = None
                continue
            try:
                s.bind(sa)
                s.listen(1)
            except OSError:
                s.close()
                s = None
                continue
            break
        if s is None:
            say("server: could not open socket")
            ready.set()
            return
        where.append((s.family, s.getsockname()))
        say(f"server ({s.family.name if hasattr(s.family, 'name') else s.family}) on {s.getsockname()}")
        ready.set()
        conn, addr = s.accept()
        with conn, s:
            say(f"server: connected by {addr}")
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.send(data)

    thread = threading.Thread(target=server)
    thread.start()
    ready.wait()
    if not where:
        thread.join()
        return
    family, sockname = where[0]
    host = "::1" if family == net.AF_INET6 else "127.0.0.1"
    s = None
    for res in net.getaddrinfo(host, sockname[1], net.AF_UNSPEC, net.SOCK_STREAM):
        af, socktype, proto, canonname, sa = res
        try:
            s = net.socket(af, socktype, proto)
        except OSError:
            s = None
            continue
        try:
            s.connect(sa)
        except OSError:
            s.close()
            s = None
            continue
        break
    if s is None:
        say("client: could not open socket")
        thread.join()
        return
    with s:
        s.sendall(b"Hello, world")
        data = s.recv(1024)
    thread.join()
    say(f"client: received {data!r}")


def _pass_fds_to_child(net: Binding, say: Callable[[str], None]) -> None:
    """The docs' send_fds/recv_fds, passing pipe fds to a forked child."""
    parent, child = net.socketpair()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: receive the write end, write through it, exit
        try:
            parent.close()
            msg, fds, flags, addr = net.recv_fds(child, 1024, 2)
            os.write(fds[0], b"written by the child through the passed fd")
            for fd in fds:
                os.close(fd)
            child.close()
        finally:
            os._exit(0)
    child.close()
    with parent:
        say(f"parent: sending pipe write end fd {w} to child pid {pid}")
        net.send_fds(parent, [b"here is a pipe"], [w])
        os.close(w)
        os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as pipe:
        say(f"parent: pipe says {pipe.read()!r}")


def _pass_socket_between_fake_sockets(net: Binding, say: Callable[[str], None]) -> None:
    """On the fake kernel: one end of a socketpair travels through SCM_RIGHTS."""
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        say(f"sending fd {x.fileno()} through SCM_RIGHTS")
        net.send_fds(a, [b"take this"], [x.fileno()])
        msg, fds, flags, addr = net.recv_fds(b, 1024, 1)
        say(f"received {msg!r} with fds {fds}")
        with net.socket(fileno=fds[0]) as x2:
            x2.sendall(b"through the passed socket")
            say(f"the other end reads {y.recv(64)!r}")


def _recvmsg_into(net: Binding, say: Callable[[str], None]) -> None:
    """The docs' recvmsg_into example, with its exact output."""
    s1, s2 = net.socketpair()
    with s1, s2:
        b1 = bytearray(b"----")
        b2 = bytearray(b"0123456789")
        b3 = bytearray(b"--------------")
        say(f">>> s1.send(b'Mary had a little lamb')\n    {s1.send(b'Mary had a little lamb')}")
        result = s2.recvmsg_into([b1, memoryview(b2)[2:9], b3])
        say(f">>> s2.recvmsg_into([b1, memoryview(b2)[2:9], b3])\n    {result}")
        say(f">>> [b1, b2, b3]\n    {[b1, b2, b3]}")
        if result != (22, [], 0, None):
            raise SystemExit(f"unexpected recvmsg_into result {result}")


def demo(driver_name: str, out: Any = sys.stdout) -> int:
    net = _bind(driver_name)
    n = _Narrator(out)
    print(f"sansock demo on the {driver_name} driver ({net.abi.name})", file=out, flush=True)
    n.section("IPv4 echo server and client")
    _echo_ipv4(net, n.say)
    n.section("getaddrinfo echo server and client (IPv4 or IPv6)")
    _echo_getaddrinfo(net, n.say)
    if driver_name == "fake":
        n.section("passing a socket through SCM_RIGHTS between fake sockets")
        _pass_socket_between_fake_sockets(net, n.say)
    else:
        n.section("passing open files to a child process (send_fds / recv_fds)")
        _pass_fds_to_child(net, n.say)
    n.section("recvmsg_into scattering into three buffers")
    _recvmsg_into(net, n.say)
    print("\ndemo finished: every example ran", file=out, flush=True)
    return 0


def info(driver_name: str, out: Any = sys.stdout) -> int:
    net = _bind(driver_name)
    abi = net.abi
    families = sorted(name for name in abi.constants if name.startswith("AF_"))
    lines = [
        f"driver:        {driver_name} ({type(net.driver).__module__}.{type(net.driver).__name__})",
        f"Python rules:  {sansock.python_rules()}",
        f"ABI:           {abi.name} ({abi.byteorder}-endian)",
        f"sizes:         int {abi.sizeof_int}, long {abi.sizeof_long}, "
        f"socklen_t {abi.sizeof_socklen_t}, size_t {abi.sizeof_size_t}",
        f"cmsghdr:       {abi.cmsg.hdr_size} bytes, aligned to {abi.cmsg.align}",
        "CMSG_LEN:      " + ", ".join(f"{n}->{net.CMSG_LEN(n)}" for n in (0, 1, 4, 8, 16)),
        "CMSG_SPACE:    " + ", ".join(f"{n}->{net.CMSG_SPACE(n)}" for n in (0, 1, 4, 8, 16)),
        f"sun_path:      {abi.sockaddr.sun_path_size} bytes",
        f"IOV_MAX:       {abi.iov_max}",
        f"SOMAXCONN:     {abi.somaxconn}",
        f"families:      {len(families)}: " + " ".join(families),
    ]
    for line in lines:
        print(line, file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sansock",
        description="sansock: Python's socket module on swappable syscall drivers.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("demo", "run the socket documentation's examples live, narrated"),
        ("info", "print the platform ABI facts of a driver"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument(
            "--driver",
            choices=("native", "fake"),
            default="native",
            help="the real kernel (native, default) or the in-memory kernel (fake)",
        )
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.driver)
    return info(args.driver)
