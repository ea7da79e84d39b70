"""The fake kernel's sixth-session fast paths (issue 13) change nothing a test can see.

* Each syscall's wrapper is generated with the method's own parameters
  (``_syscall._ENTRY``): keywords bind as the method's, the trace records
  them by position, and anything but the common call takes ``run``.
* ``stream_read``'s commonest read (no flags, no option, a head segment
  without fds) is the general loop in short: the same bytes, errors, memory
  accounting and trace, whichever path reads (an explicit ``SO_RCVLOWAT`` of
  1, the default, sends a socket down the general loop).
* ``stream_sendmsg`` stores a ``Segment``'s slots itself and takes small
  truesizes from a table; ``sys_recvmsg`` skips ``scm_pending`` on a socket
  with no option and no fds.
* A network host takes its scheduler's lock and waiters; TIME_WAIT sockets
  share never-filled queues.

Driver level: these are the fake kernel's own properties.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansock
from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import FakeKernel, Network, _af_unix, _threads
from sansock_fake._objects import Segment, shared_credentials, truesize
from sansock_fake._tcp_state import _NO_SEGMENTS, _NO_SOCKETS

C = ABI.const
AF_UNIX, AF_INET, STREAM = C("AF_UNIX"), C("AF_INET"), C("SOCK_STREAM")
SOL_SOCKET, SO_RCVLOWAT = C("SOL_SOCKET"), C("SO_RCVLOWAT")


# -- the generated wrappers ------------------------------------------------------------------
def test_the_generated_wrapper_keeps_the_methods_signature_and_file() -> None:
    for name in ("socket", "send", "recv", "setsockopt", "accept", "close"):
        method = getattr(FakeKernel, name)
        assert list(inspect.signature(method).parameters) == list(inspect.signature(method.__wrapped__).parameters)
        # A thread sampled in it is inside the kernel (``_threads.classify``).
        assert os.path.abspath(method.__code__.co_filename) in _threads.KERNEL_FILES


def test_keywords_bind_as_the_method_and_are_traced_by_position() -> None:
    kernel = FakeKernel(fd_base=0)
    fd = kernel.socket(family=AF_UNIX, type=STREAM, proto=0)  # ``type``: a parameter named as a builtin
    other = kernel.socket(AF_UNIX, STREAM, 0)
    by_keyword, by_position = kernel.trace[-2].args, kernel.trace[-1].args
    assert by_keyword == by_position == (AF_UNIX, STREAM, 0)
    assert [type(a) for a in by_keyword] == [int, int, int]
    kernel.setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, value=True)  # a bool: the general path
    shown = kernel.trace[-1].args
    assert shown == (fd, SOL_SOCKET, SO_RCVLOWAT, True) and type(shown[3]) is bool
    total = kernel.trace.total
    with pytest.raises(TypeError):
        kernel.send(fd, b"x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        kernel.send(fd, b"x", 0, flags=0)  # type: ignore[misc]
    assert kernel.trace.total == total  # refused before the syscall
    kernel.close(other)


def test_an_error_on_the_fast_path_is_traced_and_raised_as_before() -> None:
    kernel = FakeKernel(fd_base=0)
    with pytest.raises(OSError) as info:
        kernel.send(99, b"x", 0)
    assert info.value.errno == ABI.errno("EBADF")
    assert kernel.trace[-1].call == "send" and kernel.trace[-1].args == (99, b"x", 0)
    assert kernel.trace[-1].outcome == "EBADF"
    kernel.faults.fail("recv", ABI.errno("EINTR"))
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    with pytest.raises(InterruptedError):
        kernel.recv(b, 1, 0)
    assert kernel.trace[-1].outcome == "EINTR"


# -- stream reads: the short path against the loop -------------------------------------------
ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(min_value=0, max_value=300)),
        st.tuples(st.just("recv"), st.integers(min_value=0, max_value=400)),
    ),
    max_size=25,
)


def _pair(kernel: FakeKernel, tcp: bool, keep: list[object]) -> tuple[int, int]:
    if not tcp:
        return kernel.socketpair(AF_UNIX, STREAM, 0)
    m = sansock.using(kernel)
    listener = m.socket(m.AF_INET, m.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = m.create_connection(listener.getsockname())
    server, _ = listener.accept()
    keep += [listener, client, server]  # (their fds stay open while the test runs)
    return client.fileno(), server.fileno()


Outcome = tuple[list[object], list[tuple[str, tuple[object, ...], str]], list[int]]


def _run(tcp: bool, general: bool, steps: list[tuple[str, int]]) -> Outcome:
    kernel = FakeKernel(fd_base=0)
    keep: list[object] = []
    a, b = _pair(kernel, tcp, keep)
    if general:
        kernel.setsockopt(b, SOL_SOCKET, SO_RCVLOWAT, 1)  # the default value, an option set
    kernel.set_nonblocking(b, True)
    receiver = kernel._sock(b)
    assert bool(receiver.options) is general
    start = kernel.trace.total
    results: list[object] = []
    for index, (op, size) in enumerate(steps):
        try:
            if op == "send":
                results.append(kernel.send(a, bytes([index % 256]) * size, 0))
            else:
                results.append(kernel.recv(b, size, 0))
        except OSError as exc:
            results.append(exc.errno)
    entries = [(e.call, e.args, e.outcome) for e in kernel.trace[start - kernel.trace.dropped:]]
    sender = kernel._sock(a)
    facts = [receiver.rmem, sender.wmem, len(receiver.receive_queue), sum(s.remaining for s in receiver.receive_queue)]
    for sock in keep:
        sock.close()  # type: ignore[attr-defined]
    return results, entries, facts


@settings(max_examples=60, deadline=None)
@given(steps=ops_strategy, tcp=st.booleans())
def test_the_short_stream_read_gives_what_the_loop_gives(steps: list[tuple[str, int]], tcp: bool) -> None:
    assert _run(tcp, False, steps) == _run(tcp, True, steps)


def test_the_short_read_covers_partial_whole_and_several_segments() -> None:
    steps = [("send", 5), ("recv", 2), ("recv", 3), ("send", 3), ("send", 4), ("recv", 3), ("recv", 10),
             ("send", 2), ("send", 2), ("recv", 3), ("recv", 0), ("recv", 5), ("recv", 1)]
    for tcp in (False, True):
        fast = _run(tcp, False, steps)
        assert fast == _run(tcp, True, steps)
        assert fast[0][-6:] == [2, 2, b"\x07\x07\x08", b"", b"\x08", ABI.errno("EAGAIN")]


def test_a_segment_carrying_fds_is_read_by_the_loop() -> None:
    kernel = FakeKernel(fd_base=0)
    m = sansock.using(kernel)
    a, b = m.socketpair()
    c, d = m.socketpair()
    m.send_fds(a, [b"xy"], [c.fileno()])
    # The loop reads it (the short path leaves a segment with fds alone): the
    # first read takes the fds (unix_detach_fds), which recv() has no room for.
    assert b.recv(1) == b"x"
    assert m.recv_fds(b, 10, 2)[:2] == (b"y", [])
    for s in (a, b, c, d):
        s.close()


# -- stream sends ------------------------------------------------------------------------------
def test_a_sent_segment_has_every_field_a_constructed_one_has() -> None:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    kernel.send(a, b"hello", 0)
    (segment,) = kernel._sock(b).receive_queue
    sender = kernel._sock(a)
    creds = shared_credentials(kernel.pid, kernel.uid, kernel.gid)
    expected = Segment(b"hello", creds, b"", [], 0, sender, truesize(5))
    for field in attrs.fields(Segment):
        assert getattr(segment, field.name) == getattr(expected, field.name), field.name
    assert sender.wmem == truesize(5)


def test_a_tcp_packet_has_every_field_a_constructed_one_has(monkeypatch: pytest.MonkeyPatch) -> None:
    from sansock_fake._inet import InetHost, Packet

    sent: list[Packet] = []
    output = InetHost.output

    def capture(self: InetHost, packet: Packet) -> None:
        sent.append(packet)
        output(self, packet)

    monkeypatch.setattr(InetHost, "output", capture)
    kernel = FakeKernel()
    m = sansock.using(kernel)
    with m.socket(m.AF_INET, m.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with m.create_connection(listener.getsockname()) as c:
            s, _ = listener.accept()
            with s:
                c.sendall(b"hello")
                assert s.recv(5) == b"hello"
    assert len(sent) == 9  # handshake, data and its ACK, FIN and ACK each way
    for packet in sent:
        made = Packet(packet.family, packet.proto, packet.src, packet.dst, packet.payload, packet.size)
        for field in attrs.fields(Packet):
            assert getattr(packet, field.name) == getattr(made, field.name), field.name
        assert packet == made and hash(packet) == hash(made)


def test_the_small_truesize_table_is_truesize() -> None:
    assert list(_af_unix.SMALL_TRUESIZE) == [truesize(n) for n in range(_af_unix.SMALL_SKB)]
    assert _af_unix.SMALL_SKB < _af_unix.SKB_MAX_HEAD  # (no paged part below it)


def test_no_protocol_has_control_data_to_put_without_fds_or_options() -> None:
    """``sys_recvmsg`` does not ask ``scm_pending`` then (its docstring's rule)."""
    kernel = FakeKernel(fd_base=0)
    creds = shared_credentials(kernel.pid, kernel.uid, kernel.gid)
    for family, kind in [(AF_UNIX, STREAM), (AF_UNIX, C("SOCK_DGRAM")), (AF_UNIX, C("SOCK_SEQPACKET")),
                         (AF_INET, STREAM), (AF_INET, C("SOCK_DGRAM")), (C("AF_INET6"), C("SOCK_DGRAM"))]:
        sock = kernel._sock(kernel.socket(family, kind, 0))
        assert not sock.options
        for given_creds in (None, creds):
            assert not sock.ops.scm_pending(sock, given_creds, [])


# -- the scheduler's lock and waiters ------------------------------------------------------------
def test_every_kernel_takes_its_schedulers_lock_and_waiters() -> None:
    kernel = FakeKernel()
    condition = kernel._scheduler.condition
    assert kernel._lock is condition._lock  # type: ignore[attr-defined]
    assert kernel._waiters is condition._waiters  # type: ignore[attr-defined]
    net = Network(seed=1)
    host = net.add_host("a", "10.0.0.1")
    shared = host._scheduler.condition
    assert host._lock is shared._lock and host._waiters is shared._waiters  # type: ignore[attr-defined]


def test_a_send_on_a_network_host_wakes_the_thread_blocked_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """It skipped every wake-up (it kept its own condition's waiters, which nobody waits on)."""
    net = Network(seed=1)
    host = net.add_host("a", "10.0.0.1")
    a, b = host.socketpair(AF_UNIX, STREAM, 0)
    condition = host._scheduler.condition
    wakeups: list[int] = []
    notify_all = condition.notify_all

    def counted() -> None:
        wakeups.append(host.trace.total)
        notify_all()

    monkeypatch.setattr(condition, "notify_all", counted)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(host.recv(b, 1, 0)))
    reader.start()
    deadline = time.monotonic() + 30
    while reader.ident not in host.blocked_threads():
        assert time.monotonic() < deadline
        time.sleep(0.001)
    before = len(wakeups)
    host.send(a, b"x", 0)
    reader.join(30)
    assert got == [b"x"]
    assert len(wakeups) > before  # the send's syscall woke the reader


# -- TIME_WAIT --------------------------------------------------------------------------------------
def test_time_wait_sockets_share_queues_that_keep_nothing() -> None:
    kernel = FakeKernel()
    m = sansock.using(kernel)
    listener = m.socket(m.AF_INET, m.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    # An orphan becomes the TIME_WAIT socket itself; an open socket that gets
    # the last FIN (after shutdown(SHUT_WR)) hands its port to a new one.
    c = m.create_connection(listener.getsockname())
    s, _ = listener.accept()
    c.close()
    s.close()
    c2 = m.create_connection(listener.getsockname())
    s2, _ = listener.accept()
    c2.shutdown(m.SHUT_WR)
    s2.close()
    time_waits = [tw for held in kernel._inet.tcp_time_wait_ports.values() for tw in held]
    assert len(time_waits) == 2
    for tw in time_waits:
        assert tw.receive_queue is _NO_SEGMENTS and tw.accept_queue is tw.syn_queue is _NO_SOCKETS
        assert tw.tcp is not None and tw.tcp.state == "TIME_WAIT" and tw.released
    c2.close()
    _NO_SEGMENTS.append(Segment(b"x", shared_credentials(1, 2, 3)))  # kept by no one
    assert not _NO_SEGMENTS
    listener.close()


def test_the_network_trace_has_every_syscall_of_its_hosts() -> None:
    """Since the syscall fast path came (``Trace.record_exact``), it had only those
    that took the general path: here ``setsockopt`` with a bool."""
    net = Network(seed=1)
    host = net.add_host("a", "10.0.0.1")
    a, _b = host.socketpair(AF_UNIX, STREAM, 0)
    host.send(a, b"x", 0)
    host.setsockopt(a, SOL_SOCKET, SO_RCVLOWAT, True)
    texts = [event.text for event in net.trace.of("a") if event.kind == "syscall"]
    assert texts == [f"{e.call}{e.args!r} -> {e.outcome}" for e in host.trace]
    assert [text.split("(")[0] for text in texts] == ["socketpair", "send", "setsockopt"]
