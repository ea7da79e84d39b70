"""The fake kernel's TCP state machine: behaviour on both drivers, and the packet seam.

* An echo server against a client that writes ~300 KB before reading: Linux
  grows the send buffer (autotuning), so it does not deadlock; neither may
  the fake (both drivers).
* TIME_WAIT holds the port for 60 s of virtual time (fake only: the real
  kernel's clock cannot be moved).
* Segments that arrive later than the syscall that sent them: a test
  "network" holds every TCP packet and delivers it when told, and connect,
  accept, send, recv, shutdown and close still answer as Linux does (fake only).
"""

from __future__ import annotations

from typing import Any

import errno
import struct
import threading
from collections.abc import Callable

import pytest

from sansock import Binding
from sansock_fake import FakeKernel
from sansock_fake._inet import Packet
from sansock_fake._tcp_state import ACK, FIN, RST, SYN, Segment

import sansock


@pytest.mark.threads
def test_client_writes_300kb_before_reading_an_echo_server(net: Binding) -> None:
    payload = bytes(range(256)) * 1200  # 307,200 bytes
    errors: list[BaseException] = []
    with net.socket(net.AF_INET, net.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def echo() -> None:
            try:
                conn, _ = listener.accept()
                with conn:
                    while data := conn.recv(65536):
                        conn.sendall(data)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=echo)
        thread.start()
        with net.create_connection(listener.getsockname()) as client:
            client.sendall(payload)  # all of it before the first read
            client.shutdown(net.SHUT_WR)
            received = bytearray()
            while data := client.recv(65536):
                received += data
        thread.join()
    assert errors == []
    assert bytes(received) == payload


def test_autotuning_grows_the_send_buffer_unless_the_user_set_it() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    with net.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with net.create_connection(listener.getsockname()) as client, \
                net.create_connection(listener.getsockname()) as locked:
            locked.setsockopt(net.SOL_SOCKET, net.SO_SNDBUF, 8192)
            a, _ = listener.accept()
            b, _ = listener.accept()
            with a, b:
                for sock in (client, locked):
                    sock.setblocking(False)
                    total = 0
                    while True:
                        try:
                            total += sock.send(b"x" * 65536)
                        except BlockingIOError:
                            break
                    sock.setblocking(True)
                    if sock is client:
                        assert client.getsockopt(net.SOL_SOCKET, net.SO_SNDBUF) == kernel.tcp_wmem_max
                        assert total > 4_000_000
                    else:
                        assert locked.getsockopt(net.SOL_SOCKET, net.SO_SNDBUF) == 16384
                        assert total < 200_000


def test_time_wait_lasts_60_seconds_of_virtual_time() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    with net.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = net.create_connection(("127.0.0.1", port))
        conn, _ = listener.accept()
        conn.close()  # active close: the server's end goes through TIME_WAIT
        assert client.recv(10) == b""
        client.close()
    for seconds, expected in ((59.9, errno.EADDRINUSE), (0.2, None)):
        kernel.advance_clock(seconds)
        with net.socket() as again:
            if expected is None:
                again.bind(("127.0.0.1", port))
            else:
                with pytest.raises(OSError) as caught:
                    again.bind(("127.0.0.1", port))
                assert caught.value.errno == expected


class HeldNetwork:
    """Holds every TCP packet of a fake kernel's host until :meth:`deliver` (a slow wire)."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        host = kernel._inet
        self.held: list[Packet] = []
        self.deliverers: dict[tuple[int, int], Callable[[Packet], None]] = {}
        tcp = kernel.abi.const("IPPROTO_TCP")
        for family in (kernel.abi.const("AF_INET"), kernel.abi.const("AF_INET6")):
            key = (family, tcp)
            self.deliverers[key] = host.handlers[key]
            host.handlers[key] = self.held.append

    def kinds(self) -> list[str]:
        names = []
        for packet in self.held:
            segment = packet.payload
            assert isinstance(segment, Segment)
            flags = [n for bit, n in ((SYN, "SYN"), (ACK, "ACK"), (FIN, "FIN"), (RST, "RST")) if segment.flags & bit]
            names.append("|".join(flags) + (f" {len(segment.data)}" if segment.data else ""))
        return names

    def deliver(self, count: int | None = None) -> list[str]:
        """Deliver the held packets (in order; *count* of them, or all, with the
        answers they draw held in turn); the kinds delivered."""
        delivered: list[str] = []
        with self.kernel._scheduler.condition:
            while self.held and (count is None or len(delivered) < count):
                delivered.append(self.kinds()[0])
                packet = self.held.pop(0)
                self.deliverers[(packet.family, packet.proto)](packet)
            self.kernel._scheduler.condition.notify_all()
        return delivered


def test_segments_that_arrive_later_drive_the_same_states() -> None:
    kernel = FakeKernel()
    wire = HeldNetwork(kernel)
    net = sansock.using(kernel)
    POLLIN, POLLOUT, POLLHUP = (kernel.abi.const(n) for n in ("POLLIN", "POLLOUT", "POLLHUP"))
    with net.socket() as listener, net.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.connect(listener.getsockname())
        assert wire.kinds() == ["SYN"]
        assert kernel.poll(client.fileno(), POLLIN | POLLOUT, 0) == 0  # SYN_SENT
        with pytest.raises(BlockingIOError):
            client.recv(10)  # EAGAIN in SYN_SENT
        with pytest.raises(OSError) as caught:
            client.connect(listener.getsockname())
        assert caught.value.errno == errno.EALREADY
        assert wire.deliver(1) == ["SYN"]
        with pytest.raises(BlockingIOError):
            listener.accept()  # SYN_RECV: not in the accept queue yet
        assert wire.deliver(1) == ["SYN|ACK"]
        assert client.connect_ex(listener.getsockname()) == 0  # ESTABLISHED: the outcome, once
        with pytest.raises(BlockingIOError):
            listener.accept()  # the ACK is still on the wire
        assert wire.deliver() == ["ACK"]
        conn, _ = listener.accept()
        with conn:
            conn.setblocking(False)
            assert client.send(b"hello") == 5
            with pytest.raises(BlockingIOError):
                conn.recv(10)
            assert wire.deliver(1) == ["ACK 5"]
            assert conn.recv(10) == b"hello"
            assert wire.deliver() == ["ACK"]  # the ACK of the data (no window update: it barely moved)
            client.shutdown(net.SHUT_WR)
            with pytest.raises(BlockingIOError):
                conn.recv(10)
            assert wire.deliver() == ["ACK|FIN", "ACK"]
            assert conn.recv(10) == b""
            assert conn.getpeername() == client.getsockname()
            conn.close()
            assert wire.kinds() == ["ACK|FIN"]
            assert kernel.poll(client.fileno(), POLLIN, 0) == 0
            assert wire.deliver() == ["ACK|FIN", "ACK"]
            assert client.recv(10) == b""
            assert kernel.poll(client.fileno(), POLLIN | POLLOUT, 0) & POLLHUP
            with pytest.raises(OSError) as caught:
                client.getpeername()
            assert caught.value.errno == errno.ENOTCONN


def test_window_limits_what_is_in_flight() -> None:
    kernel = FakeKernel()
    wire = HeldNetwork(kernel)
    net = sansock.using(kernel)
    with net.socket() as listener, net.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setsockopt(net.SOL_SOCKET, net.SO_RCVBUF, 4096)  # the child's window: 8192
        client.setsockopt(net.SOL_SOCKET, net.SO_SNDBUF, 100_000)
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.connect(listener.getsockname())
        wire.deliver()
        conn, _ = listener.accept()
        with conn:
            assert client.send(b"x" * 20000) == 20000  # into the send queue
            assert wire.kinds() == ["ACK 8192"]  # what the window allows
            wire.deliver(1)
            assert wire.kinds() == ["ACK"]  # window 0
            wire.deliver()
            assert wire.held == []
            assert len(conn.recv(100_000)) == 8192
            assert wire.kinds() == ["ACK"]  # the window update
            wire.deliver(1)
            assert wire.kinds() == ["ACK 8192"]


@pytest.mark.threads
def test_blocking_connect_and_recv_wait_for_late_segments() -> None:
    kernel = FakeKernel()
    wire = HeldNetwork(kernel)
    net = sansock.using(kernel)
    results: list[object] = []
    with net.socket() as listener, net.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = listener.getsockname()

        def connect_and_read() -> None:
            try:
                client.connect(address)
                results.append("connected")
                results.append(client.recv(10))
            except BaseException as exc:  # noqa: BLE001 - reported below
                results.append(exc)

        thread = threading.Thread(target=connect_and_read)
        thread.start()
        while not wire.held:
            kernel.settle()
        assert results == []
        wire.deliver()
        conn, _ = listener.accept()
        with conn:
            conn.send(b"late")
            wire.deliver()
            thread.join()
    assert results == ["connected", b"late"]


def test_rst_for_a_port_nobody_listens_on_is_a_segment_too() -> None:
    kernel = FakeKernel()
    wire = HeldNetwork(kernel)
    net = sansock.using(kernel)
    with net.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    with net.socket() as client:
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.connect(("127.0.0.1", port))
        assert wire.deliver() == ["SYN", "ACK|RST"]
        assert client.getsockopt(net.SOL_SOCKET, net.SO_ERROR) == errno.ECONNREFUSED


def test_network_gives_up_on_a_connection() -> None:
    kernel = FakeKernel()
    wire = HeldNetwork(kernel)
    net = sansock.using(kernel)
    with net.socket() as listener, net.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.connect(listener.getsockname())
        syn = wire.held.pop()
        with kernel._scheduler.condition:
            kernel._inet.unreachable(syn, errno.ETIMEDOUT)
        assert client.getsockopt(net.SOL_SOCKET, net.SO_ERROR) == errno.ETIMEDOUT


def test_linger_zero_sends_rst_not_fin() -> None:
    kernel = FakeKernel()
    wire = HeldNetwork(kernel)
    net = sansock.using(kernel)
    with net.socket() as listener, net.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.connect(listener.getsockname())
        wire.deliver()
        conn, _ = listener.accept()
        conn.setsockopt(net.SOL_SOCKET, net.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        assert wire.kinds() == ["ACK|RST"]
        wire.deliver()
        with pytest.raises(ConnectionResetError):
            client.recv(10)


def test_tcp_options_the_fake_cannot_answer_raise_not_implemented() -> None:
    net = sansock.using(FakeKernel())
    with net.socket() as s:
        for name in ("TCP_INFO", "TCP_CONGESTION"):
            with pytest.raises(NotImplementedError, match=f"does not model {name}"):
                s.getsockopt(net.IPPROTO_TCP, getattr(net, name), 104)
        assert s.getsockopt(net.IPPROTO_TCP, net.TCP_MAXSEG) == 536  # unconnected: the default MSS


def test_a_cork_holds_data_until_the_next_plain_send_or_at_most_200_ms() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    with net.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with net.create_connection(listener.getsockname()) as client:
            conn, _ = listener.accept()
            with conn:
                client.send(b"more", net.MSG_MORE)
                assert kernel.poll(conn.fileno(), kernel.abi.const("POLLIN"), 0) == 0
                if not hasattr(kernel._scheduler, "call_at"):
                    # No kernel timers: the data waits for the next plain send.
                    client.send(b"!")
                    assert conn.recv(10) == b"more!"
                    return
                start = kernel.monotonic_ns()
                conn.settimeout(5)
                assert conn.recv(10) == b"more"
                assert kernel.monotonic_ns() - start == 200_000_000


def test_tcp_options_the_fake_would_ignore_raise_not_implemented() -> None:
    net = sansock.using(FakeKernel())
    with net.socket() as s:
        for name in ("TCP_DEFER_ACCEPT", "TCP_WINDOW_CLAMP"):
            s.setsockopt(net.IPPROTO_TCP, getattr(net, name), 0)  # the default: nothing to model
            with pytest.raises(NotImplementedError, match=f"does not model {name}"):
                s.setsockopt(net.IPPROTO_TCP, getattr(net, name), 5)
        with pytest.raises(NotImplementedError, match="MSG_FASTOPEN"):
            s.sendto(b"x", net.MSG_FASTOPEN, ("127.0.0.1", 9))


def test_notsent_lowat_holds_poll_and_send_until_the_queue_drains(net: Binding) -> None:
    """TCP_NOTSENT_LOWAT (trio sets 16 KiB on every stream): POLLOUT while the
    unsent bytes, doubled, stay under it (``tcp_stream_memory_free``); a
    non-blocking send past it stops short or gets EAGAIN -- on both drivers."""
    pollout = 4  # POLLOUT
    with net.create_server(("127.0.0.1", 0)) as server:
        client = net.create_connection(server.getsockname())
        conn, _ = server.accept()
        with client, conn:
            client.setsockopt(net.IPPROTO_TCP, net.TCP_NOTSENT_LOWAT, 16384)
            assert client.getsockopt(net.IPPROTO_TCP, net.TCP_NOTSENT_LOWAT) == 16384
            idle = select_pollout(net, client)
            assert idle & pollout
            client.setblocking(False)
            total = 0
            with pytest.raises(BlockingIOError):
                while True:
                    total += client.send(b"x" * 65536)
            # Nothing read: the peer's window fills, then the unsent bytes reach the mark.
            assert not select_pollout(net, client) & pollout
            received = 0
            conn.setblocking(False)
            while received < total:
                try:
                    received += len(conn.recv(1 << 20))
                except BlockingIOError:
                    if not select_pollout(net, conn) & 1:
                        break
            assert received == total


def select_pollout(net: Binding, sock: Any) -> int:
    """poll(2) on *sock* for POLLIN|POLLOUT with no wait, through the binding's driver."""
    return net.driver.poll(sock.fileno(), 1 | 4, 0)
