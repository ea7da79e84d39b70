"""sansock_native.NativeDriver on the real kernel: every syscall of the
Driver protocol, its errno paths, fd passing between processes and the GIL
being released in blocking calls.  The stdlib socket module is the oracle
and the peer."""

from __future__ import annotations

import array
import errno
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

from sansock._driver import Driver
from sansock_native import NativeDriver

D = NativeDriver()
CLOEXEC = socket.SOCK_CLOEXEC
STREAM = socket.SOCK_STREAM | CLOEXEC
DGRAM = socket.SOCK_DGRAM | CLOEXEC

pytestmark = [pytest.mark.native_only, pytest.mark.linux_only]


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before


@pytest.fixture
def pair() -> Iterator[tuple[int, int]]:
    a, b = D.socketpair(socket.AF_UNIX, STREAM, 0)
    yield a, b
    for fd in (a, b):
        try:
            os.close(fd)
        except OSError:
            pass


def sin(host: str, port: int) -> bytes:
    """struct sockaddr_in for linux-x86_64, built with struct."""
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(host) + bytes(8)


def expect_errno(code: int, call: object, *args: object) -> OSError:
    assert callable(call)
    with pytest.raises(OSError) as info:
        call(*args)
    assert info.value.errno == code, info.value
    assert info.value.strerror == os.strerror(code)
    assert type(info.value) is type(OSError(code, "x"))
    return info.value


def test_is_a_driver() -> None:
    driver: Driver = D
    assert driver.abi is D.abi  # cached


# -- lifecycle ----------------------------------------------------------------
def test_socket_close_and_flags() -> None:
    fd = D.socket(socket.AF_INET, STREAM, 0)
    try:
        with socket.socket(fileno=os.dup(fd)) as oracle:
            assert (oracle.family, oracle.type) == (socket.AF_INET, socket.SOCK_STREAM)
        assert D.get_inheritable(fd) is False
        assert os.get_inheritable(fd) is False
        D.set_inheritable(fd, True)
        assert os.get_inheritable(fd) is True
        assert D.get_inheritable(fd) is True
        D.set_nonblocking(fd, True)
        assert os.get_blocking(fd) is False
        assert D.get_nonblocking(fd) is True
        D.set_nonblocking(fd, False)
        assert os.get_blocking(fd) is True
    finally:
        D.close(fd)
    expect_errno(errno.EBADF, D.close, fd)


def test_socket_errors() -> None:
    expect_errno(errno.EAFNOSUPPORT, D.socket, 12345, STREAM, 0)
    expect_errno(errno.EINVAL, D.socket, socket.AF_INET, 999, 0)
    expect_errno(errno.EOPNOTSUPP, D.socketpair, socket.AF_INET, STREAM, 0)


def test_socket_nonblock_flag() -> None:
    fd = D.socket(socket.AF_UNIX, STREAM | socket.SOCK_NONBLOCK, 0)
    try:
        assert D.get_nonblocking(fd) is True
    finally:
        D.close(fd)


def test_dup(pair: tuple[int, int]) -> None:
    a, b = pair
    c = D.dup(a)
    try:
        assert c not in pair and not os.get_inheritable(c)
        D.send(c, b"x", 0)
        assert os.read(b, 1) == b"x"
    finally:
        D.close(c)
    expect_errno(errno.EBADF, D.dup, c)


# -- connection setup ---------------------------------------------------------
def test_inet_stream_against_stdlib_peer() -> None:
    lfd = D.socket(socket.AF_INET, STREAM, 0)
    try:
        D.setsockopt(lfd, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        D.bind(lfd, sin("127.0.0.1", 0))
        D.listen(lfd, 4)
        raw = D.getsockname(lfd)
        assert len(raw) == 16
        port = struct.unpack("!H", raw[2:4])[0]
        with socket.create_connection(("127.0.0.1", port)) as peer:
            fd, addr = D.accept(lfd, CLOEXEC | socket.SOCK_NONBLOCK)
            try:
                assert addr == sin(*peer.getsockname())
                assert D.getpeername(fd) == addr
                assert D.get_nonblocking(fd) and not D.get_inheritable(fd)
                peer.sendall(b"hello")
                D.set_nonblocking(fd, False)
                assert D.recv(fd, 5, socket.MSG_WAITALL) == b"hello"
                assert D.send(fd, memoryview(b"xxworld")[2:], 0) == 5
                assert peer.recv(5, socket.MSG_WAITALL) == b"world"
                D.shutdown(fd, socket.SHUT_WR)
                assert peer.recv(5) == b""
            finally:
                D.close(fd)
        expect_errno(errno.EINVAL, D.bind, lfd, sin("127.0.0.1", 0))  # already bound
    finally:
        D.close(lfd)


def test_connect_refused_and_addr_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        fd = D.socket(socket.AF_INET, STREAM, 0)
        try:
            expect_errno(errno.EADDRINUSE, D.bind, fd, sin("127.0.0.1", port))
        finally:
            D.close(fd)
    fd = D.socket(socket.AF_INET, STREAM, 0)
    try:
        e = expect_errno(errno.ECONNREFUSED, D.connect, fd, sin("127.0.0.1", port))
        assert isinstance(e, ConnectionRefusedError)
    finally:
        D.close(fd)


def test_connect_in_progress_then_so_error() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        fd = D.socket(socket.AF_INET, STREAM | socket.SOCK_NONBLOCK, 0)
        try:
            try:
                D.connect(fd, sin(*server.getsockname()))
            except BlockingIOError as exc:
                assert exc.errno == errno.EINPROGRESS
            assert D.poll(fd, 4, -1) & 4  # POLLOUT: loopback connects at once
            assert D.getsockopt(fd, socket.SOL_SOCKET, socket.SO_ERROR) == 0
        finally:
            D.close(fd)


def test_errno_paths(pair: tuple[int, int]) -> None:
    a, b = pair
    expect_errno(errno.EINVAL, D.shutdown, a, 99)
    expect_errno(errno.EINVAL, D.bind, a, b"\x01")  # addrlen shorter than sa_family
    D.set_nonblocking(a, True)
    e = expect_errno(errno.EAGAIN, D.recv, a, 10, 0)
    assert isinstance(e, BlockingIOError)
    expect_errno(errno.EAGAIN, D.recvfrom, a, 10, 0)
    expect_errno(errno.EAGAIN, D.recvmsg_into, a, [bytearray(3)], 0, 0)
    D.close(b)
    e = expect_errno(errno.EPIPE, D.send, a, b"x", socket.MSG_NOSIGNAL)
    assert isinstance(e, BrokenPipeError)
    expect_errno(errno.EPIPE, D.sendmsg, a, [b"x"], b"", socket.MSG_NOSIGNAL, None)
    fd = D.socket(socket.AF_INET, STREAM, 0)
    try:
        expect_errno(errno.ENOTCONN, D.getpeername, fd)
        expect_errno(errno.ENOTCONN, D.recv, fd, 1, 0)
        expect_errno(errno.EPIPE, D.send, fd, b"x", socket.MSG_NOSIGNAL)
    finally:
        D.close(fd)


def test_enotsock_on_a_file() -> None:
    fd = os.open("/", os.O_RDONLY | os.O_CLOEXEC)
    try:
        expect_errno(errno.ENOTSOCK, D.getsockname, fd)
        expect_errno(errno.ENOTSOCK, D.getsockopt, fd, socket.SOL_SOCKET, socket.SO_TYPE)
    finally:
        os.close(fd)


def test_ebadf_everywhere() -> None:
    fd = 1_000_000  # far above any open fd
    for call, args in [
        (D.send, (b"x", 0)),
        (D.recv, (1, 0)),
        (D.recv_into, (bytearray(1), 1, 0)),
        (D.recvfrom, (1, 0)),
        (D.recvfrom_into, (bytearray(1), 1, 0)),
        (D.sendto, (b"x", 0, sin("127.0.0.1", 9))),
        (D.sendmsg, ([b"x", b"y"], b"", 0, None)),
        (D.recvmsg, (1, 0, 0)),
        (D.recvmsg_into, ([bytearray(1), bytearray(1)], 16, 0)),
        (D.getsockopt, (socket.SOL_SOCKET, socket.SO_TYPE)),
        (D.getsockopt_bytes, (socket.SOL_SOCKET, socket.SO_TYPE, 4)),
        (D.setsockopt, (socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)),
        (D.setsockopt_bytes, (socket.SOL_SOCKET, socket.SO_REUSEADDR, b"\0\0\0\0", 4)),
        (D.getsockname, ()),
        (D.getpeername, ()),
        (D.bind, (sin("127.0.0.1", 0),)),
        (D.connect, (sin("127.0.0.1", 9),)),
        (D.listen, (1,)),
        (D.accept, (CLOEXEC,)),
        (D.shutdown, (socket.SHUT_RDWR,)),
        (D.get_nonblocking, ()),
        (D.set_nonblocking, (True,)),
        (D.get_inheritable, ()),
        (D.set_inheritable, (True,)),
        (D.dup, ()),
        (D.close, ()),
        (D.file_size, ()),
    ]:
        expect_errno(errno.EBADF, call, fd, *args)
    assert D.poll(fd, 1, 0) & 0x20  # POLLNVAL, as poll(2) reports a bad fd


# -- options -------------------------------------------------------------------
def test_sockopts_against_stdlib(pair: tuple[int, int]) -> None:
    a, _ = pair
    with socket.socket(fileno=os.dup(a)) as oracle:
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF, socket.SO_TYPE, socket.SO_DOMAIN):
            assert D.getsockopt(a, socket.SOL_SOCKET, opt) == oracle.getsockopt(socket.SOL_SOCKET, opt)
            assert D.getsockopt_bytes(a, socket.SOL_SOCKET, opt, 64) == oracle.getsockopt(
                socket.SOL_SOCKET, opt, 64
            )
        D.setsockopt(a, socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        assert oracle.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == D.getsockopt(
            a, socket.SOL_SOCKET, socket.SO_RCVBUF
        )
        D.setsockopt_bytes(a, socket.SOL_SOCKET, socket.SO_SNDBUF, struct.pack("i", 32768), 4)
        D.setsockopt_bytes(a, socket.SOL_SOCKET, socket.SO_SNDBUF, bytearray(struct.pack("i", 32768)), 4)
        assert oracle.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 65536
        # SO_PEERCRED: a struct ucred, trimmed to what the kernel returned.
        cred = D.getsockopt_bytes(a, socket.SOL_SOCKET, socket.SO_PEERCRED, 1024)
        assert struct.unpack("3i", cred)[0] == os.getpid()
    expect_errno(errno.ENOPROTOOPT, D.getsockopt, a, socket.SOL_SOCKET, 9999)
    expect_errno(errno.EINVAL, D.setsockopt_bytes, a, socket.SOL_SOCKET, socket.SO_SNDBUF, b"\0", 4)
    expect_errno(errno.EFAULT, D.setsockopt_bytes, a, socket.SOL_SOCKET, socket.SO_SNDBUF, None, 4)
    expect_errno(errno.EINVAL, D.setsockopt_bytes, a, socket.SOL_SOCKET, socket.SO_SNDBUF, None, 0)


def test_getsockopt_negative_value() -> None:
    # SO_RCVLOWAT etc. are positive; IPV6_UNICAST_HOPS reports -1 for "route default"
    # on some kernels, so use IP_TOS set to a value and a raw negative check via linger.
    fd = D.socket(socket.AF_INET6, DGRAM, 0)
    try:
        D.setsockopt(fd, socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, -1)
        with socket.socket(fileno=os.dup(fd)) as oracle:
            assert D.getsockopt(fd, socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS) == oracle.getsockopt(
                socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS
            )
    except OSError as exc:  # pragma: no cover - no IPv6 on this machine
        pytest.skip(f"no IPv6: {exc}")
    finally:
        D.close(fd)


# -- data ----------------------------------------------------------------------
def test_send_recv_buffers(pair: tuple[int, int]) -> None:
    a, b = pair
    assert D.send(a, b"bytes", 0) == 5
    assert D.send(a, bytearray(b"array"), 0) == 5
    assert D.send(a, array.array("b", b"typed"), 0) == 5
    assert D.recv(b, 15, socket.MSG_WAITALL) == b"bytesarraytyped"
    big = os.urandom(200_000)

    def writer() -> None:
        with socket.socket(fileno=os.dup(a)) as peer:
            peer.sendall(big)

    t = threading.Thread(target=writer)
    t.start()
    got = D.recv(b, 200_000, socket.MSG_WAITALL)
    t.join()
    assert got == big
    assert D.send(a, b"peek", 0) == 4
    assert D.recv(b, 10, socket.MSG_PEEK) == b"peek"
    assert D.recv(b, 0, 0) == b""
    buf = memoryview(bytearray(10))
    assert D.recv_into(b, buf[3:], 4, 0) == 4
    assert bytes(buf) == b"\0\0\0peek\0\0\0"


def test_recv_into_refuses_readonly_and_short(pair: tuple[int, int]) -> None:
    a, b = pair
    D.send(a, b"data", 0)
    with pytest.raises((TypeError, BufferError)):
        D.recv_into(b, b"immutable", 4, 0)
    with pytest.raises(ValueError):
        D.recv_into(b, bytearray(2), 4, 0)
    with pytest.raises((TypeError, BufferError)):
        D.recvmsg_into(b, [bytearray(2), b"ro"], 0, 0)
    with pytest.raises(ValueError):
        D.recvfrom_into(b, bytearray(2), 4, 0)
    assert D.recv(b, 10, 0) == b"data"  # nothing was consumed


def test_udp_sendto_recvfrom_against_stdlib() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        fd = D.socket(socket.AF_INET, DGRAM, 0)
        try:
            D.bind(fd, sin("127.0.0.1", 0))
            assert D.sendto(fd, bytearray(b"dgram"), 0, sin(*peer.getsockname())) == 5
            data, addr = peer.recvfrom(100)
            assert data == b"dgram" and sin(*addr) == D.getsockname(fd)
            peer.sendto(b"reply", addr)
            data2, raw = D.recvfrom(fd, 100, 0)
            assert data2 == b"reply" and raw == sin(*peer.getsockname())
            peer.sendto(b"0123456789", addr)
            data3, _c, flags, raw = D.recvmsg(fd, 4, 0, 0)
            assert data3 == b"0123" and flags & socket.MSG_TRUNC and raw == sin(*peer.getsockname())
            peer.sendto(b"big", addr)
            data4, raw = D.recvfrom(fd, 100_000, 0)  # larger than the scratch buffer
            assert data4 == b"big"
            expect_errno(errno.EMSGSIZE, D.sendto, fd, b"x" * 70_000, 0, sin(*peer.getsockname()))
        finally:
            D.close(fd)


def test_unix_datagram_addresses() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s").encode()
        fd = D.socket(socket.AF_UNIX, DGRAM, 0)
        try:
            raw = struct.pack("=H", socket.AF_UNIX) + path + b"\0"
            D.bind(fd, raw)
            assert D.getsockname(fd) == raw
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unbound:
                unbound.sendto(b"anon", path)
                data, _c, _f, addr = D.recvmsg(fd, 10, 0, 0)
                assert (data, addr) == (b"anon", b"")  # unbound sender: msg_namelen 0
                unbound.bind(b"\0sansock-test-abstract")
                unbound.sendto(b"named", path)
                data, addr = D.recvfrom(fd, 10, 0)
                assert addr == struct.pack("=H", socket.AF_UNIX) + b"\0sansock-test-abstract"
        finally:
            D.close(fd)


def test_sendmsg_recvmsg_many_buffers(pair: tuple[int, int]) -> None:
    a, b = pair
    parts = [bytes([i]) * 3 for i in range(100)]  # more than the 64 scratch iovecs
    assert D.sendmsg(a, parts, b"", 0, None) == 300
    bufs = [bytearray(2) for _ in range(150)]
    n, control, flags, addr = D.recvmsg_into(b, bufs, 0, 0)
    assert (n, control, flags, addr) == (300, b"", 0, b"")
    assert b"".join(bufs) == b"".join(parts)
    assert D.sendmsg(a, [], b"", 0, None) == 0
    expect_errno(errno.EMSGSIZE, D.sendmsg, a, [b"x"] * 1025, b"", 0, None)  # over IOV_MAX


def test_scm_rights_in_process(pair: tuple[int, int]) -> None:
    a, b = pair
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        control = struct.pack("=QiI", 20, socket.SOL_SOCKET, socket.SCM_RIGHTS) + struct.pack("i", w) + bytes(4)
        assert D.sendmsg(a, [b"F"], control, 0, None) == 1
        data, got, flags, _ = D.recvmsg(b, 10, socket.CMSG_SPACE(8), socket.MSG_CMSG_CLOEXEC)
        length, level, kind = struct.unpack_from("=QiI", got)
        assert (data, level, kind, length) == (b"F", socket.SOL_SOCKET, socket.SCM_RIGHTS, 20)
        assert flags & socket.MSG_CTRUNC == 0  # Linux echoes MSG_CMSG_CLOEXEC in msg_flags
        (new,) = struct.unpack_from("i", got, 16)
        try:
            assert not os.get_inheritable(new)
            os.write(new, b"through")
            assert os.read(r, 10) == b"through"
        finally:
            os.close(new)
        # A control buffer too small for the fd: MSG_CTRUNC, and the kernel closes it.
        D.sendmsg(a, [b"G"], control, 0, None)
        data, got, flags, _ = D.recvmsg(b, 10, 16, 0)
        assert data == b"G" and flags & socket.MSG_CTRUNC
        # recvmsg_into with the same control message.
        D.sendmsg(a, [b"H"], control, 0, None)
        buf = bytearray(1)
        n, got, flags, _ = D.recvmsg_into(b, [buf], socket.CMSG_SPACE(4), socket.MSG_CMSG_CLOEXEC)
        (new,) = struct.unpack_from("i", got, 16)
        os.close(new)
        assert (n, bytes(buf)) == (1, b"H")
    finally:
        os.close(r)
        os.close(w)


def test_scm_rights_between_processes(pair: tuple[int, int]) -> None:
    """A child process receives an fd from us and writes through it."""
    a, b = pair
    r, w = os.pipe2(os.O_CLOEXEC)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, struct, sys\n"
            "from sansock_native import NativeDriver\n"
            "d = NativeDriver(); fd = int(sys.argv[1])\n"
            "data, ctrl, flags, _ = d.recvmsg(fd, 10, 24, 0)\n"
            "(new,) = struct.unpack_from('i', ctrl, 16)\n"
            "os.write(new, b'from child ' + data)\n",
            str(b),
        ],
        pass_fds=(b,),
    )
    try:
        control = struct.pack("=QiI", 20, socket.SOL_SOCKET, socket.SCM_RIGHTS) + struct.pack("i", w) + bytes(4)
        assert D.sendmsg(a, [b"hi"], control, 0, None) == 2
        assert child.wait(timeout=60) == 0
        assert os.read(r, 100) == b"from child hi"
    finally:
        child.wait(timeout=60)
        os.close(r)
        os.close(w)


def test_sendmsg_with_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        fd = D.socket(socket.AF_INET, DGRAM, 0)
        try:
            assert D.sendmsg(fd, [b"a", b"b"], b"", 0, sin(*peer.getsockname())) == 2
            assert D.sendmsg(fd, [memoryview(b"c")], b"", 0, sin(*peer.getsockname())) == 1
            assert peer.recv(10) == b"ab"
            assert peer.recv(10) == b"c"
        finally:
            D.close(fd)


def test_blocking_recv_releases_the_gil(pair: tuple[int, int]) -> None:
    """A thread blocked in recv(2) does not stop this thread from working."""
    a, b = pair
    result: list[bytes] = []
    t = threading.Thread(target=lambda: result.append(D.recv(b, 10, 0)))
    t.start()
    # Busy Python work in this thread while the other one sits in recv.
    total = sum(i * i for i in range(200_000))
    assert total > 0 and t.is_alive() and result == []
    D.send(a, b"wake", 0)
    t.join(timeout=60)
    assert result == [b"wake"]


def test_threads_do_not_share_scratch(pair: tuple[int, int]) -> None:
    """Two threads receiving at once each get their own data back."""
    a, b = pair
    c, d = D.socketpair(socket.AF_UNIX, STREAM, 0)
    try:
        out: dict[str, bytes] = {}
        barrier = threading.Barrier(2)

        def reader(name: str, fd: int) -> None:
            barrier.wait()
            out[name] = D.recv(fd, 100, 0)

        threads = [threading.Thread(target=reader, args=("b", b)), threading.Thread(target=reader, args=("d", d))]
        for t in threads:
            t.start()
        D.send(a, b"B" * 50, 0)
        D.send(c, b"D" * 60, 0)
        for t in threads:
            t.join(timeout=60)
        assert out == {"b": b"B" * 50, "d": b"D" * 60}
    finally:
        D.close(c)
        D.close(d)


def test_poll_and_monotonic(pair: tuple[int, int]) -> None:
    a, b = pair
    assert D.poll(b, 1, 0) == 0
    D.send(a, b"x", 0)
    assert D.poll(b, 1, 0) == 1
    D.close(a)
    assert D.poll(b, 1, 0) & 0x10 or D.poll(b, 1, 0) & 1  # POLLHUP after the peer closed
    t0 = D.monotonic_ns()
    assert D.monotonic_ns() >= t0 > 0
    assert abs(t0 - time.monotonic_ns()) < 60 * 10**9


def test_sendfile_and_file_size(pair: tuple[int, int]) -> None:
    a, b = pair
    with tempfile.TemporaryFile() as f:
        f.write(b"0123456789")
        f.flush()
        assert D.file_size(f.fileno()) == 10
        assert D.sendfile(a, f.fileno(), 3, 4) == 4
        assert D.recv(b, 10, 0) == b"3456"
        assert f.tell() == 10  # the file position did not move
        assert D.sendfile(a, f.fileno(), 10, 4) == 0
    expect_errno(errno.EBADF, D.sendfile, a, 1_000_000, 0, 1)


def test_bad_arguments_raise_not_crash(pair: tuple[int, int]) -> None:
    a, _ = pair
    with pytest.raises(OverflowError):
        D.recv(a, -1, 0)
    with pytest.raises(OverflowError):
        D.send(a, b"x", 2**40)
    with pytest.raises(TypeError):
        D.send(a, "text", 0)  # type: ignore[arg-type]


def test_strerror() -> None:
    assert D.strerror(errno.EAGAIN) == os.strerror(errno.EAGAIN)


def test_import_error_says_how_to_build() -> None:
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'sansock_native._sansock_native': raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import sansock_native\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "pip install -e ." in out and "C compiler" in out


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5])
def test_recvmsg_into_each_arity(pair: tuple[int, int], count: int) -> None:
    """The 1-buffer, 2..4-buffer (arguments) and array paths scatter alike."""
    a, b = pair
    payload = bytes(range(3 * count + 1))
    D.send(a, payload, 0)
    bufs = [bytearray(3) for _ in range(count)]
    n, _c, _f, _a = D.recvmsg_into(b, bufs, 0, 0)
    assert n == 3 * count and b"".join(bufs) == payload[: 3 * count]
    if count:
        assert D.recv(b, 10, 0) == payload[3 * count :]
        ro = [bytearray(1) for _ in range(count - 1)] + [b"x"]
        with pytest.raises((TypeError, BufferError)):
            D.recvmsg_into(b, ro, 0, 0)
    else:
        assert D.recv(b, 10, 0) == payload
