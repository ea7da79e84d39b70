"""What only the fake kernel has: fd limits, the virtual clock, threads, faults,
the trace, the darwin personality.  Driver level (no stdlib-shaped API)."""

from __future__ import annotations

import errno
import struct
import threading

import pytest

from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import BlockedForever, FakeKernel, TraceEntry

C = ABI.const
AF_UNIX, STREAM, DGRAM = C("AF_UNIX"), C("SOCK_STREAM"), C("SOCK_DGRAM")
CLOEXEC = C("SOCK_CLOEXEC")
SOL_SOCKET, SCM_RIGHTS = C("SOL_SOCKET"), C("SCM_RIGHTS")
POLLIN, POLLOUT = C("POLLIN"), C("POLLOUT")


def rights(*fds: int) -> bytes:
    data = struct.pack(f"{len(fds)}i", *fds)
    return struct.pack("Qii", 16 + len(data), SOL_SOCKET, SCM_RIGHTS) + data + bytes(-len(data) % 8)


def test_fds_start_at_3_and_reuse_the_lowest() -> None:
    k = FakeKernel(fd_base=0)
    assert k.socketpair(AF_UNIX, STREAM, 0) == (3, 4)
    assert k.socket(AF_UNIX, DGRAM, 0) == 5
    k.close(3)
    assert k.dup(5) == 3
    assert k.open_fds() == [3, 4, 5]


def test_emfile_at_the_limit_and_ebadf_for_unknown_fds() -> None:
    k = FakeKernel(fd_limit=6, fd_base=0)
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    k.socket(AF_UNIX, STREAM, 0)
    with pytest.raises(OSError) as info:
        k.socket(AF_UNIX, STREAM, 0)
    assert info.value.errno == errno.EMFILE
    with pytest.raises(OSError) as info:
        k.socketpair(AF_UNIX, STREAM, 0)
    assert info.value.errno == errno.EMFILE
    assert k.fd_count() == 3
    for call in (k.close, k.dup, k.get_nonblocking, k.getsockname):
        with pytest.raises(OSError) as info:
            call(99)
        assert info.value.errno == errno.EBADF


def test_received_fds_past_the_limit_are_closed_with_ctrunc() -> None:
    """scm_detach_fds: receive_fd_user failing (EMFILE) stops the loop; MSG_CTRUNC."""
    k = FakeKernel(fd_limit=8, fd_base=0)
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    x, y = k.socketpair(AF_UNIX, STREAM, 0)
    k.sendmsg(a, [b"m"], rights(x, y, x), 0, None)
    k.close(x)
    k.close(y)
    z = k.socket(AF_UNIX, STREAM, 0)  # fds 3, 4, 5 used: 6 and 7 are left
    data, control, flags, _ = k.recvmsg(b, 10, 64, 0)
    assert data == b"m" and flags == C("MSG_CTRUNC")
    assert struct.unpack_from("Qii2i", control) == (24, SOL_SOCKET, SCM_RIGHTS, 6, 7)
    assert k.open_fds() == [3, 4, 5, 6, 7]
    k.send(7, b"still works", 0)
    assert z == 5


def test_scripted_install_failure_and_cloexec() -> None:
    k = FakeKernel(fd_base=0)
    a, b = k.socketpair(AF_UNIX, DGRAM, 0)
    k.faults.fail("install_fd", errno.EMFILE, nth=2)
    k.sendmsg(a, [b"m"], rights(a, b), 0, None)
    _, control, flags, _ = k.recvmsg(b, 10, 64, C("MSG_CMSG_CLOEXEC"))
    assert flags == C("MSG_CTRUNC") | C("MSG_CMSG_CLOEXEC")
    (new_fd,) = struct.unpack_from("i", control, 16)
    assert k.get_inheritable(new_fd) is False
    assert k.open_fds() == [3, 4, new_fd]


def test_nonblocking_is_shared_by_dups_and_cloexec_is_per_fd() -> None:
    k = FakeKernel()
    fd = k.socket(AF_UNIX, STREAM | CLOEXEC, 0)
    copy = k.dup(fd)
    k.set_nonblocking(copy, True)
    k.set_inheritable(copy, True)
    assert k.get_nonblocking(fd) is True
    assert (k.get_inheritable(fd), k.get_inheritable(copy)) == (False, True)


def test_darwin_personality_keeps_the_untrimmed_cmsg_len() -> None:
    k = FakeKernel(personality="darwin")
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    k.sendmsg(a, [b"m"], rights(a, b), 0, None)
    _, control, flags, _ = k.recvmsg(b, 10, 20, 0)
    assert flags & C("MSG_CTRUNC")
    assert len(control) == 20
    assert struct.unpack_from("Q", control)[0] == 24  # two fds claimed, one present


def test_a_30_second_poll_costs_no_real_time() -> None:
    k = FakeKernel()
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    start = k.monotonic_ns()
    assert k.poll(a, POLLIN, 30_000) == 0
    assert k.monotonic_ns() - start == 30_000_000_000
    assert k.poll(a, POLLOUT, 30_000) == POLLOUT
    assert k.monotonic_ns() - start == 30_000_000_000


def test_so_rcvtimeo_expires_on_the_virtual_clock() -> None:
    k = FakeKernel()
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    k.setsockopt_bytes(b, SOL_SOCKET, C("SO_RCVTIMEO"), struct.pack("qq", 5, 0), 16)
    with pytest.raises(BlockingIOError):
        k.recv(b, 10, 0)
    assert k.monotonic_ns() == 1_005_000_000_000


def test_a_lone_thread_that_would_block_forever_gets_an_exception() -> None:
    k = FakeKernel(fd_base=0)
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    with pytest.raises(BlockedForever, match=r"recv\(fd=4\) would block forever"):
        k.recv(b, 10, 0)
    with pytest.raises(BlockedForever, match=r"poll\(fd=3\)"):
        k.poll(a, POLLIN, -1)


def test_blocking_calls_block_across_threads() -> None:
    k = FakeKernel()
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    got: list[bytes] = []

    def reader() -> None:
        got.append(k.recv(b, 100, C("MSG_WAITALL")))

    thread = threading.Thread(target=reader)
    thread.start()
    for piece in (b"he", b"llo", b" world"):
        k.send(a, piece, 0)
    k.shutdown(a, C("SHUT_WR"))
    thread.join(10)
    assert got == [b"hello world"]


def test_clock_jumps_when_every_thread_waits() -> None:
    """A server waits 30 s on poll while the client waits 10 s: both return at once."""
    k = FakeKernel()
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    seen: list[tuple[str, int]] = []

    def server() -> None:
        seen.append(("server", k.poll(b, POLLIN, 30_000)))
        seen.append(("server-recv", len(k.recv(b, 10, 0))))

    thread = threading.Thread(target=server)
    thread.start()
    k.poll(a, POLLIN, 10_000)  # times out at 10 s virtual
    k.send(a, b"wake", 0)
    thread.join(10)
    assert seen == [("server", POLLIN), ("server-recv", 4)]
    assert k.monotonic_ns() - 1_000_000_000_000 == 10_000_000_000


def test_faults_errno_on_nth_call_short_write_split_read() -> None:
    k = FakeKernel()
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    k.faults.fail("recv", errno.EINTR, nth=2)
    k.faults.limit("send", 3)
    k.faults.limit("recv", 1, nth=1)
    assert k.send(a, b"abcdef", 0) == 3
    assert k.recv(b, 10, 0) == b"a"
    with pytest.raises(InterruptedError):
        k.recv(b, 10, 0)
    assert k.recv(b, 10, 0) == b"bc"
    k.faults.fail("sendmsg", errno.ENOBUFS, fd=a)
    with pytest.raises(OSError) as info:
        k.sendmsg(a, [b"x"], b"", 0, None)
    assert info.value.errno == errno.ENOBUFS
    k.faults.fail("recv", errno.ECONNRESET)
    with pytest.raises(ConnectionResetError):
        k.recv(b, 10, 0)


def test_the_same_run_gives_the_same_trace() -> None:
    def run() -> list[TraceEntry]:
        k = FakeKernel()
        a, b = k.socketpair(AF_UNIX, STREAM, 0)
        srv = k.socket(C("AF_INET"), STREAM, 0)
        k.bind(srv, struct.pack("H", C("AF_INET")) + bytes(14))
        k.listen(srv, 5)
        cli = k.socket(C("AF_INET"), STREAM, 0)
        k.connect(cli, k.getsockname(srv))
        conn, _ = k.accept(srv, 0)
        k.send(cli, b"ping", 0)
        k.recv(conn, 10, 0)
        k.poll(a, POLLIN, 1000)
        try:
            k.recv(b, 10, C("MSG_DONTWAIT"))
        except BlockingIOError:
            pass
        return list(k.trace)

    first = run()
    assert first == run()
    assert first[-1].call == "recv" and first[-1].outcome == "EAGAIN"


def test_c_argument_limits_like_a_c_binding() -> None:
    k = FakeKernel()
    a, _ = k.socketpair(AF_UNIX, STREAM, 0)
    with pytest.raises(OverflowError):
        k.recv(a, 2**70, 0)
    with pytest.raises(OverflowError):
        k.recv(a, 1, 2**40)
    with pytest.raises(TypeError):
        k.recv(a, 1, 1.0)  # type: ignore[arg-type]


def test_unmodelled_features_say_so() -> None:
    k = FakeKernel()
    a, _ = k.socketpair(AF_UNIX, STREAM, 0)
    with pytest.raises(NotImplementedError, match="out-of-band"):
        k.send(a, b"x", C("MSG_OOB"))
    with pytest.raises(NotImplementedError, match="raw IP sockets"):
        # A process without CAP_NET_RAW gets EPERM (test_fake_families.py);
        # root gets a socket on Linux, which the fake does not model.
        FakeKernel(uid=0).socket(C("AF_INET"), C("SOCK_RAW"), 1)
    # sendfile from a socket with an offset is ESPIPE, as on Linux (a socket
    # has no FMODE_PREAD; the driver always passes an offset), and a file
    # size is 0 for the fake's own fds (a socket's st_size).
    with pytest.raises(OSError) as info:
        k.sendfile(a, a, 0, 1)
    assert info.value.errno == errno.ESPIPE
    assert k.file_size(a) == 0


def test_resolver_and_host_facts() -> None:
    k = FakeKernel(hostname=b"box")
    results = k.getaddrinfo(b"localhost", b"80", 0, 0, 0, 0)
    assert [(f, t, p) for f, t, p, _, _ in results] == [(2, 1, 6), (2, 2, 17), (2, 3, 0)]
    assert results[0][4] == struct.pack("H", 2) + struct.pack("!H", 80) + b"\x7f\0\0\1" + bytes(8)
    assert k.gethostname() == b"box"
    assert k.if_nameindex() == [(1, b"lo")]
    with pytest.raises(OSError) as info:
        k.getaddrinfo(b"no.such.host", None, 0, 0, 0, 0)
    assert info.value.errno == -2


def test_every_syscall_parameter_has_a_declared_c_type() -> None:
    """The C type of each argument is declared (int, ssize_t, or an object), not guessed."""
    from sansock_fake._syscall import C_INT, syscall

    with pytest.raises(TypeError, match=r"declare the C type of each of \['fd', 'flags'\]"):

        @syscall(fd=C_INT)
        def undeclared(kernel: FakeKernel, fd: int, flags: int) -> None: ...

    k = FakeKernel()
    a, _ = k.socketpair(AF_UNIX, STREAM, 0)
    with pytest.raises(OverflowError, match="value"):
        k.setsockopt(a, SOL_SOCKET, C("SO_RCVBUF"), 2**31)  # a C int
    assert k.getsockopt_bytes(a, SOL_SOCKET, C("SO_TYPE"), 2**40) == struct.pack("i", STREAM)  # a size
    with pytest.raises(TypeError, match="nonblocking"):
        k.set_nonblocking(a, "yes")  # type: ignore[arg-type]
    k.set_nonblocking(a, True)  # a bool is an int


@pytest.mark.parametrize("profile", ["linux-x86_64", "linux-i386"])
def test_so_rcvtimeo_is_the_abis_struct_timeval(profile: str) -> None:
    """SO_RCVTIMEO holds the kernel ABI's struct timeval (two longs), whatever the host's is."""
    from sansock._profiles import get_profile

    abi = get_profile(profile)
    long_format = "<q" if abi.sizeof_long == 8 else "<i"
    k = FakeKernel(abi=abi)
    a, b = k.socketpair(abi.const("AF_UNIX"), abi.const("SOCK_STREAM"), 0)
    sol, rcvtimeo = abi.const("SOL_SOCKET"), abi.const("SO_RCVTIMEO")
    assert k.getsockopt_bytes(b, sol, rcvtimeo, 64) == bytes(2 * abi.sizeof_long)
    timeval = struct.pack(long_format, 5) + struct.pack(long_format, 250_000)
    k.setsockopt_bytes(b, sol, rcvtimeo, timeval, len(timeval))
    assert k.getsockopt_bytes(b, sol, rcvtimeo, 64) == timeval
    start = k.monotonic_ns()
    with pytest.raises(BlockingIOError):
        k.recv(b, 10, 0)
    assert k.monotonic_ns() - start == 5_250_000_000


def test_poll_many_is_one_syscall_over_many_fds() -> None:
    k = FakeKernel(fd_base=0)
    a, b = k.socketpair(AF_UNIX, STREAM, 0)
    c, d = k.socketpair(AF_UNIX, STREAM, 0)
    k.close(d)
    k.send(a, b"x", 0)
    k.trace.clear()
    # (fd, revents) of the ready fds in the order asked; POLLHUP unasked, POLLNVAL for a closed fd.
    assert k.poll_many([(a, POLLIN), (d, POLLIN), (c, POLLOUT), (b, POLLIN)], 0) == [
        (d, C("POLLNVAL")),
        (c, POLLOUT | C("POLLHUP")),
        (b, POLLIN),
    ]
    assert list(k.trace) == [TraceEntry("poll", ((a, d, c, b), 0), "ok [(6, 32), (5, 20), (4, 1)]")]
    start = k.monotonic_ns()
    assert k.poll_many([(a, POLLIN)], 2_500_000_000) == []
    assert k.monotonic_ns() - start == 2_500_000_000
    k.faults.fail("poll", errno.EINTR, fd=a)
    with pytest.raises(InterruptedError):
        k.poll_many([(a, POLLIN), (b, POLLIN)], None)
    assert k.trace[-1] == TraceEntry("poll", ((a, b), None), "EINTR")
    with pytest.raises(BlockedForever, match=r"poll\(fds=\[3\]\) would block forever"):
        k.poll_many([(a, POLLIN)], None)
