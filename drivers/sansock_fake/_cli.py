"""``python -m sansock``: the live demo and the platform report.

The command line does real I/O (it prints, starts threads, forks, opens
pipes), so it is not part of the pure core; ``sansock.__main__`` only hands
over to :func:`main`.  It lives beside the fake kernel because the fake is
pure Python and always there: ``info`` and ``demo --driver fake`` work on a
source checkout that was never built (``PYTHONPATH=core:drivers python -m
sansock demo --driver fake``), and the native driver is imported only when
asked for, with a clear message when its C extension is missing.

``demo`` runs the examples of the stdlib ``socket`` documentation, unchanged
but for ``import sansock as socket``, and narrates them: the IPv4 echo server
and client, the ``getaddrinfo`` IPv4/IPv6 echo variant, passing open files to
a child process with ``send_fds``/``recv_fds`` (SCM_RIGHTS), and the
``recvmsg_into`` scatter example with its exact output.  ``--driver fake``
runs them on the in-memory kernel instead (the fork example then passes a
socket between two fake sockets, since a fake fd cannot cross a process), and
then shows what only the fake kernel gives a test: a 30-second timeout in no
real time, ``BlockedForever`` instead of a hang, the syscall trace, scripted
faults (a short write, an EINTR) and typed fd passing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sansock
from sansock import Binding, Driver
from sansock import ancillary as anc

from ._kernel import FakeKernel
from ._scheduler import BlockedForever

__all__ = ["main"]

#: What to tell a user whose native driver cannot be imported.
_BUILD_HINT = (
    "the native driver needs its C extension (sansock_native._sansock_native), "
    "built when sansock is installed: `pip install .` (or `pip install -e .`) "
    "from the checkout, which needs a C compiler and the Python headers, and "
    "installs cffi, which it needs at run time too; "
    "`make demo` does it for contributors.  The fake kernel needs no build: "
    "`python -m sansock demo --driver fake`."
)


def _bind(driver_name: str) -> Binding:
    if driver_name == "fake":
        return sansock.using(FakeKernel())
    native = importlib.import_module("sansock_native")
    driver: Driver = native.NativeDriver()
    return sansock.using(driver)


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
        say(f"server ({s.family.name}) on {s.getsockname()}")
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


def _fake_kernel_features(say: Callable[[str], None], section: Callable[[str], None]) -> None:
    """What only the fake kernel gives a test, a few lines each."""
    section("a 30-second timeout that takes no real time (virtual clock)")
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        b.settimeout(30)
        start_real, start_virtual = time.perf_counter(), kernel.monotonic_ns()
        try:
            b.recv(1)
        except TimeoutError as exc:
            say(f"b.recv(1) with settimeout(30) raised {type(exc).__name__}({str(exc)!r})")
        virtual = (kernel.monotonic_ns() - start_virtual) / 1e9
        real = time.perf_counter() - start_real
        say(f"virtual time passed: {virtual:.1f} s; real time: {real * 1000:.1f} ms")

    section("BlockedForever instead of a hang")
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        try:
            b.recv(1)  # blocking, and no other thread will ever send
        except BlockedForever as exc:
            say(f"b.recv(1) raised BlockedForever: {str(exc).splitlines()[0]}")

    section("the syscall trace, and scripted faults: a short write and an EINTR")
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        kernel.faults.limit("send", 3)  # the next send moves at most 3 bytes
        kernel.faults.fail("recv", kernel.abi.errno("EINTR"))  # the next recv is interrupted
        mark = len(kernel.trace)
        a.sendall(b"hello world")  # sendall finishes the short write
        say(f"b.recv(100) -> {b.recv(100)!r}  (EINTR retried, PEP 475)")
        for entry in kernel.trace[mark:]:
            args = ", ".join(repr(arg) for arg in entry.args)
            say(f"  trace: {entry.call}({args}) -> {entry.outcome}")

    section("fd passing with typed ancillary data (sansock.ancillary)")
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        net.send_fds(a, [b"take this"], [x.fileno()])
        got = anc.recvmsg_ex(b, 64, anc.ancillary_space(b, fds=1))
        fds = got.get(anc.Fds)
        say(f"recvmsg_ex: data {got.data!r}, ancdata {got.ancdata}, truncation: {got.truncation.control}")
        assert fds is not None
        with net.socket(fileno=fds.fds[0]) as passed:
            passed.sendall(b"through the passed fd")
            say(f"the other end of the passed socket reads {y.recv(64)!r}")
    say(f"fake fds still open after the with blocks: {kernel.open_fds()}")


def _native_or_exit(driver_name: str, out: Any) -> Binding | None:
    try:
        return _bind(driver_name)
    except ImportError as exc:
        print(f"sansock: the {driver_name} driver is not available: {exc}", file=out)
        print(f"sansock: {_BUILD_HINT}", file=out)
        return None


def demo(driver_name: str, out: Any = sys.stdout) -> int:
    net = _native_or_exit(driver_name, out)
    if net is None:
        return 1
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
    if driver_name == "fake":
        _fake_kernel_features(n.say, n.section)
    print("\ndemo finished: every example ran", file=out, flush=True)
    return 0


def _version() -> str:
    try:
        return importlib.metadata.version("sansock")
    except importlib.metadata.PackageNotFoundError:
        pass
    # A source checkout that was never installed: read pyproject.toml.
    pyproject = Path(sansock.__file__).resolve().parent.parent.parent / "pyproject.toml"
    for line in pyproject.read_text(encoding="utf-8").splitlines() if pyproject.exists() else []:
        if line.startswith("version = "):
            return line.split("=", 1)[1].strip().strip('"') + " (source checkout, not installed)"
    return "unknown (not installed)"


def _cffi_version() -> str:
    try:
        return importlib.metadata.version("cffi")
    except importlib.metadata.PackageNotFoundError:
        return "not installed (the native driver needs it)"


def info(driver_name: str | None, out: Any = sys.stdout) -> int:
    def row(label: str, text: str) -> None:
        print(f"{label + ':':<15}{text}", file=out)

    row("sansock", f"{_version()} from {Path(sansock.__file__).parent}")
    row("Python", f"{platform.python_version()} ({sys.implementation.name}, {sys.platform})")
    row("Python rules", sansock.python_rules())
    row("cffi", _cffi_version())
    try:
        native: Any = importlib.import_module("sansock_native")
    except ImportError as exc:
        row("native driver", "NOT AVAILABLE")
        print(f"               {exc}", file=out)
        print(f"               {_BUILD_HINT}", file=out)
        native = None
    else:
        row("native driver", f"sansock_native.NativeDriver from {Path(native.__file__).parent}")
    row("fake driver", f"sansock_fake.FakeKernel from {Path(__file__).parent}")
    if driver_name is None:
        driver_name = "native" if native is not None else "fake"
    net = _native_or_exit(driver_name, out)
    if net is None:
        return 1
    abi = net.abi
    driver = net.driver
    families = sorted(name for name in abi.constants if name.startswith("AF_"))
    row("driver", f"{driver_name} ({type(driver).__module__}.{type(driver).__name__})")
    row("ABI", f"{abi.name} ({abi.byteorder}-endian)")
    row("sizes", f"int {abi.sizeof_int}, long {abi.sizeof_long}, "
        f"socklen_t {abi.sizeof_socklen_t}, size_t {abi.sizeof_size_t}")
    row("cmsghdr", f"{abi.cmsg.hdr_size} bytes, aligned to {abi.cmsg.align}")
    row("CMSG_LEN", ", ".join(f"{n}->{net.CMSG_LEN(n)}" for n in (0, 1, 4, 8, 16)))
    row("CMSG_SPACE", ", ".join(f"{n}->{net.CMSG_SPACE(n)}" for n in (0, 1, 4, 8, 16)))
    row("sun_path", f"{abi.sockaddr.sun_path_size} bytes")
    row("IOV_MAX", str(abi.iov_max))
    row("SOMAXCONN", str(abi.somaxconn))
    row("families", f"{len(families)}: " + " ".join(families))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sansock",
        description="sansock: Python's socket module on swappable syscall drivers.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo",
        help="run the socket documentation's examples live, narrated",
        description="Run the socket documentation's examples live, narrated; on the fake "
        "kernel, also what only it gives a test (virtual time, BlockedForever, the "
        "syscall trace, scripted faults).",
    )
    demo_parser.add_argument(
        "--driver",
        choices=("native", "fake"),
        default="native",
        help="the real kernel (native, default; needs the built C extension) "
        "or the in-memory kernel (fake; needs no build)",
    )
    info_parser = commands.add_parser(
        "info",
        help="print versions, the drivers available and the ABI facts of one",
        description="Print the versions of sansock, Python and cffi, where each driver "
        "is loaded from (or what is missing), and the platform ABI facts of a driver.",
    )
    info_parser.add_argument(
        "--driver",
        choices=("native", "fake"),
        default=None,
        help="whose ABI facts to show (default: native if built, else fake)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.driver)
    return info(args.driver)
