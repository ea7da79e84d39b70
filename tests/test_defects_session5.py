"""Defects noticed in session 5, each with the test that showed it.

Items about the fake alone (a crashed host, the scheduler, TIME_WAIT reuse)
run on the fake; the others run on both drivers, the real kernel as oracle.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock_fake import FakeKernel, Network


def crashed_host() -> tuple[Network, Binding]:
    net = Network(seed=5)
    host = net.add_host("server", "10.0.0.2")
    net.dns.add("peer.example.com", "10.0.0.3")
    api = sansock.using(host)
    host.crash()
    return net, api


# -- 1. a crashed host's programs -----------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda api: api.socket(api.AF_INET, api.SOCK_STREAM), id="socket"),
        pytest.param(lambda api: api.socket(api.AF_UNIX, api.SOCK_DGRAM), id="socket-unix"),
        pytest.param(lambda api: api.socketpair(), id="socketpair"),
        pytest.param(lambda api: api.getaddrinfo("peer.example.com", 80), id="getaddrinfo"),
        pytest.param(lambda api: api.getaddrinfo("localhost", 80), id="getaddrinfo-localhost"),
        pytest.param(lambda api: api.gethostbyname("peer.example.com"), id="gethostbyname"),
        pytest.param(lambda api: api.gethostbyaddr("10.0.0.3"), id="gethostbyaddr"),
        pytest.param(lambda api: api.getnameinfo(("10.0.0.3", 80), 0), id="getnameinfo"),
        pytest.param(lambda api: api.getservbyname("http"), id="getservbyname"),
        pytest.param(lambda api: api.getprotobyname("tcp"), id="getprotobyname"),
        pytest.param(lambda api: api.gethostname(), id="gethostname"),
        pytest.param(lambda api: api.if_nameindex(), id="if_nameindex"),
        pytest.param(lambda api: api.create_connection(("10.0.0.3", 80)), id="create_connection"),
    ],
)
def test_every_call_of_a_crashed_host_fails_with_ebadf(call: object) -> None:
    # A crashed machine runs nothing: a call its program's threads still make
    # fails as the calls the crash interrupted do, not only those on old fds.
    net, api = crashed_host()
    with pytest.raises(OSError) as info:
        call(api)  # type: ignore[operator]
    assert type(info.value) is OSError and info.value.errno == errno.EBADF
    assert net.hosts["server"].open_fds() == []


def test_a_restarted_host_answers_calls_again() -> None:
    net, api = crashed_host()
    net.hosts["server"].restart()
    with api.socket(api.AF_INET, api.SOCK_STREAM) as s:
        s.bind(("10.0.0.2", 0))
    assert api.getaddrinfo("peer.example.com", 80, api.AF_INET, api.SOCK_STREAM)[0][4] == ("10.0.0.3", 80)
    assert api.gethostname() == "server"


# -- 2. a UDP connect autobinds before it reads the address --------------------------------


def test_a_udp_connect_autobinds_before_it_checks_the_address_family(net: Binding) -> None:
    # inet_dgram_connect: "if (!inet_sk(sk)->inet_num && inet_autobind(sk))
    # return -EAGAIN;" before sk_prot->connect (ip4_datagram_connect, whose
    # family check and route come after): the failed connect leaves a port.
    sockaddr_in6 = (10).to_bytes(2, sys.byteorder) + bytes(26)
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as s:
        with pytest.raises(OSError) as info:
            net.driver.connect(s.fileno(), sockaddr_in6)
        assert info.value.errno == errno.EAFNOSUPPORT
        assert s.getsockname()[1] != 0


def test_a_udp_connect_with_an_address_shorter_than_its_family_does_not_autobind(net: Binding) -> None:
    # inet_dgram_connect: "if (addr_len < sizeof(uaddr->sa_family)) return -EINVAL;" first.
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as s:
        with pytest.raises(OSError) as info:
            net.driver.connect(s.fileno(), b"\x02")
        assert info.value.errno == errno.EINVAL
        assert s.getsockname() == ("0.0.0.0", 0)


def test_a_udp_connect_with_no_free_port_and_no_route_is_eagain(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake has no route off loopback (a lone kernel): the autobind's EAGAIN
    # comes first, as on Linux (was: ENETUNREACH from the route).
    import sansock_fake._inet as fake_inet

    monkeypatch.setattr(fake_inet, "EPHEMERAL_PORTS", range(40000, 40001))
    api = sansock.using(FakeKernel())
    with api.socket(api.AF_INET, api.SOCK_DGRAM) as holder, api.socket(api.AF_INET, api.SOCK_DGRAM) as s:
        holder.bind(("127.0.0.1", 0))
        with pytest.raises(OSError) as info:
            s.connect(("10.255.255.1", 53))
        assert info.value.errno == errno.EAGAIN
    with api.socket(api.AF_INET, api.SOCK_DGRAM) as s:
        with pytest.raises(OSError) as info:
            s.connect(("10.255.255.1", 53))
        assert info.value.errno == errno.ENETUNREACH
        assert s.getsockname() == ("0.0.0.0", 40000)  # bound by the failed connect, as on Linux


# -- 3. where each protocol reads sendmsg's control data -----------------------------------

#: A control header whose cmsg_len (8) is below sizeof(struct cmsghdr): CMSG_OK fails.
def malformed_control(net: Binding) -> bytes:
    abi = net.driver.abi
    header = bytearray(abi.cmsg.hdr_size)
    header[: abi.cmsg.len_size] = (8).to_bytes(abi.cmsg.len_size, abi.byteorder)
    return bytes(header)


def sendmsg_errno(net: Binding, sock: sansock.socket, flags: int = 0, addr: bytes | None = None) -> str:
    try:
        net.driver.sendmsg(sock.fileno(), [b"x"], malformed_control(net), flags, addr)
    except OSError as exc:
        return "EOPNOTSUPP" if exc.errno == errno.EOPNOTSUPP else errno.errorcode[exc.errno or 0]
    return "sent"


@pytest.mark.parametrize("family", ["AF_INET", "AF_INET6"])
def test_an_unconnected_udp_sendmsg_with_no_address_and_bad_control_is_edestaddrreq(net: Binding, family: str) -> None:
    # udp_sendmsg: the destination (EDESTADDRREQ) before udp_cmsg_send/ip_cmsg_send.
    with net.socket(getattr(net, family), net.SOCK_DGRAM) as s:
        assert sendmsg_errno(net, s) == "EDESTADDRREQ"
        # udp_sendmsg: MSG_OOB before both; udpv6_sendmsg ignores it.
        assert sendmsg_errno(net, s, net.MSG_OOB) == ("EOPNOTSUPP" if family == "AF_INET" else "EDESTADDRREQ")


def test_an_unconnected_tcp_sendmsg_with_bad_control_is_epipe(net: Binding) -> None:
    # tcp_sendmsg_locked: sk_stream_wait_connect before sock_cmsg_send.
    with net.socket(net.AF_INET, net.SOCK_STREAM) as s:
        assert sendmsg_errno(net, s) == "EPIPE"


def test_a_connected_tcp_sendmsg_with_bad_control_is_einval_and_epipe_after_shutdown(net: Binding) -> None:
    with net.socket(net.AF_INET, net.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with net.create_connection(listener.getsockname()) as c:
            server, _ = listener.accept()
            with server:
                assert sendmsg_errno(net, c) == "EINVAL"
                c.shutdown(net.SHUT_WR)
                assert sendmsg_errno(net, c) == "EPIPE"


@pytest.mark.parametrize("kind", ["SOCK_STREAM", "SOCK_DGRAM", "SOCK_SEQPACKET"])
def test_af_unix_reads_control_data_before_it_refuses_msg_oob(net: Binding, kind: str) -> None:
    # unix_stream_sendmsg / unix_dgram_sendmsg: scm_send, then MSG_OOB.
    a, b = net.socketpair(net.AF_UNIX, getattr(net, kind))
    with a, b:
        assert sendmsg_errno(net, a, net.MSG_OOB) == "EINVAL"
        a.shutdown(net.SHUT_WR)
        assert sendmsg_errno(net, a) == "EINVAL"  # scm_send before the shut-down side's EPIPE


def test_an_unconnected_seqpacket_sendmsg_is_enotconn_before_its_control_data(net: Binding) -> None:
    # unix_seqpacket_sendmsg: ENOTCONN, then unix_dgram_sendmsg's scm_send.
    with net.socket(net.AF_UNIX, net.SOCK_SEQPACKET) as s:
        assert sendmsg_errno(net, s, net.MSG_OOB) == "ENOTCONN"
        assert sendmsg_errno(net, s) == "ENOTCONN"


@pytest.mark.parametrize("kind", ["SOCK_STREAM", "SOCK_DGRAM"])
def test_an_unconnected_af_unix_sendmsg_with_bad_control_is_einval(net: Binding, kind: str) -> None:
    with net.socket(net.AF_UNIX, getattr(net, kind)) as s:
        assert sendmsg_errno(net, s) == "EINVAL"
        assert sendmsg_errno(net, s, net.MSG_OOB) == "EINVAL"


# -- 4. MSG_OOB on a TCP socket whose connect is still in progress -------------------------


def test_msg_oob_on_a_tcp_socket_still_connecting_is_not_sent_as_plain_data() -> None:
    # tcp_sendmsg_locked waits for the handshake (sk_stream_wait_connect), then
    # sends the byte as urgent data, which the fake does not model: it must say
    # so once the connection is up (was: waited, then sent the byte as plain data).
    net = Network(seed=4)
    client, server = net.add_host("client", "10.0.0.1"), net.add_host("server", "10.0.0.2")
    net.link("client", "server", latency=0.050)
    a, b = sansock.using(client), sansock.using(server)
    with b.socket(b.AF_INET, b.SOCK_STREAM) as listener, a.socket(a.AF_INET, a.SOCK_STREAM) as s:
        listener.bind(("0.0.0.0", 8000))
        listener.listen()
        s.setblocking(False)
        assert s.connect_ex(("10.0.0.2", 8000)) == errno.EINPROGRESS
        s.setblocking(True)
        start = net.monotonic_ns()
        with pytest.raises(NotImplementedError, match="urgent data"):
            s.send(b"!", a.MSG_OOB)
        assert net.monotonic_ns() - start == 100_000_000  # it waited for the handshake first
        conn, _ = listener.accept()
        with conn:
            s.send(b"plain")
            assert conn.recv(10) == b"plain"  # nothing was sent by the refused call


# -- 5. the fake's sendfile: the largest file, a full AF_UNIX stream, character devices ----


def sendfile_outcome(sendfile: Any, out: Any, in_fd: int, offset: int, count: int) -> object:
    try:
        return sendfile(out.fileno(), in_fd, offset, count)
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]


def test_sendfile_past_the_file_systems_largest_file_is_eoverflow_as_os_sendfile(net: Binding, tmp_path: Path) -> None:
    # do_sendfile: "if (pos + count > max) { retval = -EOVERFLOW; if (pos >= max)
    # goto fput_out; count = max - pos; }", max the file system's s_maxbytes
    # (16 TiB - 4 KiB on ext4, 2**63 - 1 on tmpfs: the same answers on both
    # drivers for whichever tmp_path is on).  The fake said 0 for all.
    path = tmp_path / "small"
    path.write_bytes(b"abc")
    ext4_max = (1 << 44) - 4096
    cases = [(ext4_max - 1, 10), (ext4_max, 0), (ext4_max, 10), (ext4_max + 1, 0), (1 << 50, 1),
             (1 << 62, 5), ((1 << 63) - 2, 1), (1 << 31, 5), (0, 1 << 40)]
    rows = []
    with open(path, "rb") as f:
        a, b = net.socketpair()
        c, d = socket.socketpair()
        with a, b, c, d:
            f.seek(2)
            for offset, count in cases:
                rows.append((sendfile_outcome(net.driver.sendfile, a, f.fileno(), offset, count),
                             sendfile_outcome(os.sendfile, c, f.fileno(), offset, count)))
            assert f.tell() == 2  # the probe does not move the file position
            assert b.recv(10) == d.recv(10) == b"abc"
    assert [ours for ours, _ in rows] == [theirs for _, theirs in rows]


def test_nonblocking_sendfile_fills_an_af_unix_stream_as_linux(net: Binding, tmp_path: Path) -> None:
    # splice_to_socket hands unix_stream_sendmsg each 64 KiB turn as one skb
    # (MSG_SPLICE_PAGES), admitted while wmem < sndbuf: four turns with the
    # default 212992-byte SO_SNDBUF.  The fake charged its 36544-byte skbs: 233,152.
    path = tmp_path / "big"
    path.write_bytes(b"x" * (1 << 20))
    firsts = []
    with open(path, "rb") as f:
        for sendfile, mod in ((net.driver.sendfile, net), (os.sendfile, socket)):
            a, b = mod.socketpair()
            with a, b:
                a.setblocking(False)
                firsts.append(sendfile_outcome(sendfile, a, f.fileno(), 0, 1 << 20))
                assert sendfile_outcome(sendfile, a, f.fileno(), 0, 1 << 20) == "EAGAIN"
    assert firsts[0] == firsts[1]
    if isinstance(net.driver, FakeKernel):
        assert firsts[0] == 4 * 65536


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/full", "/dev/urandom", "/dev/null", "/dev/kmsg"])
def test_sendfile_from_a_memory_device_as_linux(net: Binding, device: str) -> None:
    # Linux 6.18: do_splice_read reads a device whose file operations have
    # splice_read (zero, full, random, urandom) and refuses the others (null,
    # kmsg) with EINVAL.  The fake refused every character device.
    try:
        fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        pytest.skip(f"{device}: {exc}")
    try:
        a, b = net.socketpair()
        c, d = socket.socketpair()
        with a, b, c, d:
            ours = sendfile_outcome(net.driver.sendfile, a, fd, 0, 100)
            theirs = sendfile_outcome(os.sendfile, c, fd, 0, 100)
            assert ours == theirs
            if device in ("/dev/zero", "/dev/full"):
                assert b.recv(200) == bytes(100)
    finally:
        os.close(fd)


def test_sendfile_from_a_character_device_the_fake_does_not_know_is_not_implemented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sansock_fake._sendfile as fake_sendfile

    monkeypatch.setattr(fake_sendfile, "MEM_MAJOR", -1)  # /dev/zero as another driver's device
    api = sansock.using(FakeKernel())
    fd = os.open("/dev/zero", os.O_RDONLY)
    a, b = api.socketpair()
    try:
        with a, b, pytest.raises(NotImplementedError, match="character devices"):
            api.driver.sendfile(a.fileno(), fd, 0, 10)
    finally:
        os.close(fd)


# -- 6. socket.sendfile's numbers at the extremes -------------------------------------------


def _sendfile_extremes(mod: Any, path: Path) -> list[object]:
    row: list[object] = []
    for offset, count in ((2**63, None), (2**64, None), (0, 2**63), (0, 2**64 + 5), (2**63 - 1, 5), (3, 4)):
        a, b = mod.socketpair()
        with a, b, open(path, "rb") as f:
            try:
                row.append(a.sendfile(f, offset, count))
            except Exception as exc:  # noqa: BLE001 -- the outcome is the comparison
                row.append((type(exc).__name__, str(exc), type(exc.__context__).__name__))
    return row


def test_sendfile_numbers_at_the_extremes_are_converted_as_os_sendfile(net: Binding, tmp_path: Path) -> None:
    # os.sendfile parses offset with PyLong_AsLong and count as Py_ssize_t; the
    # native driver passed them to cffi: "int too big to convert" for a 65-bit
    # offset, and count 2**63 as size_t (EINVAL), which fell back on send().
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 10)
    ours = _sendfile_extremes(net, path)
    assert ours == _sendfile_extremes(socket, path)
    assert ours[0] == ("OverflowError", "Python int too large to convert to C long", "NoneType")
    if sys.version_info < (3, 13):  # 3.13 sends min(count - total_sent, 1 GiB) per call
        assert ours[2] == ("OverflowError", "Python int too large to convert to C ssize_t", "NoneType")
    else:
        assert ours[2] == 30


# -- 7. TCP MSG_TRUNC through the native driver's per-thread buffers ------------------------


@pytest.mark.parametrize("mode", ["recvfrom", "recv-with-timeout", "recvfrom-with-timeout"])
def test_tcp_msg_trunc_never_shows_an_earlier_receive(net: Binding, mode: str) -> None:
    # tcp_recvmsg_locked with MSG_TRUNC discards without copying: the result's
    # bytes are whatever the buffer held (CPython: a fresh allocation's).  The
    # native driver's per-thread recvfrom/poll_recv buffer held this thread's
    # last receive: the secret came back.  Zeros, as recv gives.
    with net.socket(net.AF_INET, net.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with net.create_connection(listener.getsockname()) as c:
            s, _ = listener.accept()
            with s:
                if mode != "recvfrom":
                    s.settimeout(30)
                receive = s.recv if mode == "recv-with-timeout" else (lambda n, f=0: s.recvfrom(n, f)[0])
                c.sendall(b"secret!!" * 4)
                assert receive(32) == b"secret!!" * 4
                c.sendall(b"y" * 16)
                # (An exact int: the enum takes the general path, not poll_recv.)
                assert receive(16, int(net.MSG_TRUNC)) == bytes(16)


# -- 8. a stale _DummyThread outside the kernel ---------------------------------------------


def test_a_thread_outside_the_kernel_whose_dummy_thread_is_stale_does_not_hold_the_clock() -> None:
    # A _thread thread that reuses the ident of an exited one gets that one's
    # _DummyThread, with the dead thread's native_id -- which the OS may have
    # given to another thread since: here the very thread that waits in the
    # kernel.  The scheduler read that id's /proc entry as the outside thread's
    # and saw a thread always running: the clock never moved (the waiter hung).
    import _thread
    import threading
    import time

    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    stop = threading.Event()
    waiter_tid = threading.get_native_id()

    def outsider() -> None:
        dummy = threading.current_thread()
        dummy._native_id = waiter_tid  # type: ignore[attr-defined]
        try:
            b.recv(10)
            real = time.monotonic()
            while not stop.is_set() and time.monotonic() - real < 3:
                time.sleep(0.02)  # idle outside the kernel: parked after the grace
        finally:
            dummy._native_id = None  # type: ignore[attr-defined]  # (let a failing run end)
            stop.set()

    with a, b:
        _thread.start_new_thread(outsider, ())
        real = time.monotonic()
        while not kernel.blocked_threads() and time.monotonic() - real < 5:
            time.sleep(0.001)
        a.settimeout(1)
        a.sendall(b"ping")
        real = time.monotonic()
        with pytest.raises(TimeoutError):
            a.recv(10)
        elapsed = time.monotonic() - real
        stop.set()
        stop.wait(5)
    assert elapsed < 2, elapsed


# -- 9. TIME_WAIT on loopback connects --------------------------------------------------------


def test_loopback_connects_reuse_time_wait_4_tuples_and_keep_nothing_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # tcp_twsk_unique with tcp_tw_reuse=2 (the default): a loopback connect
    # takes over the 4-tuple of a TIME_WAIT socket, which is gone.  The fake
    # took the 4-tuple and kept the TIME_WAIT socket in its port and timer
    # tables while virtual time did not move: 60,000 cycles held 120,000 of them.
    import sansock_fake._inet as fake_inet

    monkeypatch.setattr(fake_inet, "EPHEMERAL_PORTS", range(40000, 40010))
    kernel = FakeKernel()
    api = sansock.using(kernel)
    ports = set()
    with api.socket(api.AF_INET, api.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 5000))
        listener.listen()
        for _ in range(3000):
            with api.create_connection(("127.0.0.1", 5000)) as c:
                s, _ = listener.accept()
                with s:
                    c.sendall(b"hello")
                    assert s.recv(5) == b"hello"
                    ports.add(c.getsockname()[1])
    host = kernel._inet
    assert ports == set(range(40000, 40010))
    assert sum(len(held) for held in host.tcp_time_wait_ports.values()) <= 10
    assert len(host.tcp_connections) <= 10
    assert len(host.tcp_time_wait) <= 2 * 10 + 1024  # the timer heap: dead entries are dropped
