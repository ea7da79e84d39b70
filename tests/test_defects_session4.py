"""Defects noticed in session 4, each with the test that showed it.

The simulated network's items (timers that raise, a DNS wait on a crashing
host, link parameters, a full accept queue across hosts, packets in flight
from a crashing host, duplicated datagrams and bandwidth) are about the fake
alone: there is no native network to compare with.  Virtual time only.
"""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock_fake import FakeKernel, Link, Network

MS = 1_000_000
S = 1_000_000_000


def two_hosts(seed: int = 7, **link: Any) -> tuple[Network, Binding, Binding]:
    net = Network(seed=seed)
    client = net.add_host("client", "10.0.0.1")
    server = net.add_host("server", "10.0.0.2")
    net.link("client", "server", **link)
    return net, sansock.using(client), sansock.using(server)


def udp_pair(a: Binding, b: Binding, port: int = 9000) -> tuple[sansock.socket, sansock.socket]:
    receiver = b.socket(b.AF_INET, b.SOCK_DGRAM)
    receiver.bind(("0.0.0.0", port))
    sender = a.socket(a.AF_INET, a.SOCK_DGRAM)
    return sender, receiver


# -- 1. an exception in a net.call_later callback ----------------------------------------


def test_an_exception_in_a_call_later_callback_goes_to_unraisablehook_and_the_clock_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net, a, b = two_hosts(latency=0.010)
    sender, receiver = udp_pair(a, b)
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def broken() -> None:
        raise ValueError("a bug in the test's fault script")

    fired: list[int] = []
    net.call_later(1.0, broken)
    net.call_later(1.0, lambda: fired.append(net.monotonic_ns()))  # set after it: still runs
    net.call_later(2.0, lambda: sender.sendto(b"later", ("10.0.0.2", 9000)))
    start = net.monotonic_ns()
    with sender, receiver:
        # The recv that moved the clock past the broken callback is not its caller.
        assert receiver.recv(10) == b"later"
    assert net.monotonic_ns() - start == 2 * S + 10 * MS
    assert fired == [start + S]
    assert len(reported) == 1
    report = reported[0]
    assert type(report.exc_value) is ValueError
    assert str(report.exc_value) == "a bug in the test's fault script"
    assert report.object is broken
    assert "net.call_later" in report.err_msg


def test_an_exception_in_a_call_later_callback_fired_by_advance_clock_is_reported() -> None:
    net, a, b = two_hosts()
    reported: list[Any] = []
    old = sys.unraisablehook
    sys.unraisablehook = reported.append
    try:
        net.call_later(0.5, lambda: 1 / 0)
        a.socket(a.AF_INET, a.SOCK_DGRAM).close()
        net.hosts["client"].advance_clock(1)
    finally:
        sys.unraisablehook = old
    assert [type(r.exc_value) for r in reported] == [ZeroDivisionError]


def test_an_exception_in_a_call_later_callback_is_printed_by_the_default_hook(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # The interpreter's own hook takes only its C argument type: the report is
    # printed as that hook prints one.
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    net = Network(seed=1)
    host = net.add_host("h", "10.0.0.1")

    def broken() -> None:
        raise KeyError("missing")

    net.call_later(0.5, broken)
    host.advance_clock(1)
    err = capsys.readouterr().err
    assert err.startswith("Exception ignored in net.call_later callback: <function ")
    assert "broken" in err and "Traceback (most recent call last):" in err
    assert err.rstrip().endswith("KeyError: 'missing'")


# -- 2. a getaddrinfo waiting on a DNS delay when its host crashes -------------------------


def test_a_getaddrinfo_waiting_on_dns_fails_when_its_host_crashes() -> None:
    net, a, _b = two_hosts()
    net.dns.add("slow.example.com", "10.0.0.2")
    net.dns.delay("slow.example.com", 2.0)
    net.call_later(0.5, net.hosts["client"].crash)
    start = net.monotonic_ns()
    with pytest.raises(OSError) as info:
        a.getaddrinfo("slow.example.com", 80)
    # glibc: the resolver's socket is gone (EAI_SYSTEM), which CPython raises as
    # OSError(errno) -- the EBADF of every other call of the crashed host.
    assert type(info.value) is OSError
    assert info.value.args == (errno.EBADF, "Bad file descriptor")
    assert net.monotonic_ns() - start == S // 2  # woken by the crash, not at the delay's end


def test_a_getaddrinfo_waiting_on_dns_fails_when_its_host_crashes_and_restarts() -> None:
    net, a, _b = two_hosts()
    net.dns.add("slow.example.com", "10.0.0.2")
    net.dns.delay("slow.example.com", 2.0)
    client = net.hosts["client"]

    def crash_and_restart() -> None:
        client.crash()
        client.restart()

    net.call_later(0.5, crash_and_restart)
    with pytest.raises(OSError) as info:
        a.getaddrinfo("slow.example.com", 80)
    assert info.value.errno == errno.EBADF
    # The restarted host resolves again.
    assert a.getaddrinfo("slow.example.com", 80, type=a.SOCK_STREAM)[0][4] == ("10.0.0.2", 80)


# -- 3. link parameters of the wrong type ----------------------------------------------------


@pytest.mark.parametrize("name", ["latency", "jitter", "bandwidth", "loss", "duplicate", "reorder"])
@pytest.mark.parametrize("value", ["0.1", b"1", None, 1j, [0.1]])
def test_link_parameters_of_the_wrong_type_are_a_type_error(name: str, value: object) -> None:
    if name == "bandwidth" and value is None:
        return  # None: no bandwidth limit
    net = Network(seed=1)
    net.add_host("a", "10.0.0.1")
    net.add_host("b", "10.0.0.2")
    with pytest.raises(TypeError, match=f"^{name} must be a real number"):
        Link(**{name: value})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=f"^{name} must be a real number"):
        net.link("a", "b", **{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [("loss", 1.5), ("loss", -0.1), ("duplicate", float("nan")), ("reorder", 2),
     ("latency", -1), ("jitter", float("inf")), ("bandwidth", 0), ("bandwidth", float("nan"))],
)
def test_link_parameters_out_of_range_are_a_value_error(name: str, value: float) -> None:
    net = Network(seed=1)
    net.add_host("a", "10.0.0.1")
    net.add_host("b", "10.0.0.2")
    with pytest.raises(ValueError, match=name):
        net.link("a", "b", **{name: value})


def test_link_parameters_take_ints_and_fractions_as_numbers() -> None:
    from decimal import Decimal
    from fractions import Fraction

    link = Link(latency=1, jitter=Fraction(1, 10), bandwidth=1000, loss=Decimal("0.5"))
    assert (link.latency, link.jitter, link.bandwidth, link.loss) == (1.0, 0.1, 1000.0, 0.5)
    assert type(link.latency) is float


@pytest.mark.parametrize("value", ["2", None, b"1"])
def test_dns_delay_and_call_later_of_the_wrong_type_are_a_type_error(value: object) -> None:
    net = Network(seed=1)
    with pytest.raises(TypeError):
        net.dns.delay("x.example.com", value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        net.call_later(value, net.heal)  # type: ignore[arg-type]


# -- 4. a client on another host that gives up on a full accept queue ---------------------


def test_a_client_on_another_host_gives_up_on_a_full_accept_queue_with_etimedout() -> None:
    net, a, b = two_hosts(latency=0.001)
    listener = b.socket(b.AF_INET, b.SOCK_STREAM)
    listener.bind(("0.0.0.0", 8080))
    listener.listen(0)
    with listener, a.create_connection(("10.0.0.2", 8080)) as first, \
            a.socket(a.AF_INET, a.SOCK_STREAM) as second:
        start = net.monotonic_ns()
        with pytest.raises(TimeoutError) as info:
            second.connect(("10.0.0.2", 8080))
        assert info.value.errno == errno.ETIMEDOUT
        assert 127 * S <= net.monotonic_ns() - start <= 128 * S
        # CLOSED: connect again would start a new attempt (not EALREADY), and the
        # error was consumed by the connect that reported it.
        assert second.getsockopt(a.SOL_SOCKET, a.SO_ERROR) == 0
        with pytest.raises(OSError) as again:
            second.getpeername()
        assert again.value.errno == errno.ENOTCONN
        listener.setblocking(False)
        conn, _ = listener.accept()  # only the first came in
        conn.close()
        with pytest.raises(BlockingIOError):
            listener.accept()
        del first


def test_a_non_blocking_client_on_another_host_sees_etimedout_in_so_error() -> None:
    net, a, b = two_hosts(latency=0.001)
    listener = b.socket(b.AF_INET, b.SOCK_STREAM)
    listener.bind(("0.0.0.0", 8080))
    listener.listen(0)
    with listener, a.create_connection(("10.0.0.2", 8080)), a.socket(a.AF_INET, a.SOCK_STREAM) as second:
        second.setblocking(False)
        assert second.connect_ex(("10.0.0.2", 8080)) == errno.EINPROGRESS
        net.hosts["client"].advance_clock(200)
        assert second.getsockopt(a.SOL_SOCKET, a.SO_ERROR) == errno.ETIMEDOUT


# -- 5. packets in flight from a host that crashes; duplicates and bandwidth --------------


def test_a_datagram_on_the_wire_when_its_sender_crashes_still_arrives() -> None:
    net, a, b = two_hosts(latency=0.050)
    sender, receiver = udp_pair(a, b)
    sender.sendto(b"last words", ("10.0.0.2", 9000))
    net.hosts["client"].crash()  # 50 ms before the datagram arrives
    start = net.monotonic_ns()
    with receiver:
        assert receiver.recv(20) == b"last words"
    assert net.monotonic_ns() - start == 50 * MS
    sender.close()


def test_a_segment_on_the_wire_when_its_sender_crashes_still_arrives() -> None:
    net, a, b = two_hosts(latency=0.050)
    listener = b.socket(b.AF_INET, b.SOCK_STREAM)
    listener.bind(("0.0.0.0", 8080))
    listener.listen()
    client = a.create_connection(("10.0.0.2", 8080))
    conn, _ = listener.accept()
    with listener, conn:
        client.sendall(b"sent before the crash")
        net.hosts["client"].crash()
        conn.settimeout(1)
        assert conn.recv(100) == b"sent before the crash"
    client.close()


def test_a_duplicated_datagram_uses_the_bandwidth_as_the_original() -> None:
    net, a, b = two_hosts(latency=0.0, bandwidth=10_000, duplicate=1.0)
    sender, receiver = udp_pair(a, b)
    start = net.monotonic_ns()
    for i in range(3):
        sender.sendto(bytes([i]) * 1000, ("10.0.0.2", 9000))
    arrivals = []
    with sender, receiver:
        for _ in range(6):
            arrivals.append((receiver.recv(2000)[0], (net.monotonic_ns() - start) // MS))
    # 1000 bytes at 10 kB/s: 100 ms each, every copy included.
    assert arrivals == [(0, 100), (0, 200), (1, 300), (1, 400), (2, 500), (2, 600)]


# -- 6. flags=-1 (every bit, MSG_OOB included) on send and receive calls -----------------

#: The pairs the flags test runs on: (family, type) of a connected pair.
_PAIRS = ["unix-stream", "unix-dgram", "unix-seqpacket", "tcp", "udp"]
_CALLS = ["send", "sendto", "sendmsg", "recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into"]


def _connected_pair(mod: Any, kind: str) -> tuple[Any, Any]:
    if kind.startswith("unix-"):
        type_ = {"stream": mod.SOCK_STREAM, "dgram": mod.SOCK_DGRAM, "seqpacket": mod.SOCK_SEQPACKET}[kind[5:]]
        a, b = mod.socketpair(mod.AF_UNIX, type_)
        return a, b
    if kind == "tcp":
        with mod.socket(mod.AF_INET, mod.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            a = mod.create_connection(listener.getsockname())
            b, _ = listener.accept()
            return a, b
    a = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
    b = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.connect(b.getsockname())
    b.connect(a.getsockname())
    return a, b


def _flags_outcome(mod: Any, kind: str, call: str, flags: int) -> object:
    """What *call* with *flags* does on a connected blocking pair with data waiting
    (every outcome here is immediate on Linux: nothing blocks)."""
    a, b = _connected_pair(mod, kind)
    try:
        a.sendall(b"waiting") if kind in ("unix-stream", "tcp") else a.send(b"waiting")
        try:
            if call == "send":
                return a.send(b"data", flags)
            if call == "sendto":
                return a.sendto(b"data", flags, b.getsockname())
            if call == "sendmsg":
                return a.sendmsg([b"data"], [], flags)
            if call == "recv":
                return b.recv(100, flags)
            if call == "recv_into":
                buf = bytearray(100)
                return b.recv_into(buf, 100, flags), bytes(buf[:7])
            if call == "recvfrom":
                return b.recvfrom(100, flags)[0]
            if call == "recvfrom_into":
                buf = bytearray(100)
                return b.recvfrom_into(buf, 100, flags)[0], bytes(buf[:7])
            if call == "recvmsg":
                return b.recvmsg(100, 0, flags)[0]
            buf = bytearray(100)
            return b.recvmsg_into([buf], 0, flags)[0], bytes(buf[:7])
        except OSError as exc:
            return type(exc).__name__, exc.errno, exc.strerror
    finally:
        a.close()
        b.close()


#: Where Linux does what the fake does not model: it sends a byte out of band
#: (AF_UNIX since 5.15, CONFIG_AF_UNIX_OOB); the fake says so.
_NOT_MODELLED = {("unix-stream", "send")}
#: MSG_OOB alone: TCP urgent data and AF_UNIX's out-of-band byte, sent and read.
_NOT_MODELLED_OOB_ALONE = {
    ("tcp", "send", 1), ("tcp", "sendto", 1), ("tcp", "sendmsg", 1), ("unix-stream", "sendmsg", 1),
}


@pytest.mark.parametrize("call", _CALLS)
@pytest.mark.parametrize("kind", _PAIRS)
@pytest.mark.parametrize("flags", [-1, 1])  # every bit; MSG_OOB alone
def test_every_flag_bit_on_send_and_receive_calls_as_on_linux(net: Binding, kind: str, call: str, flags: int) -> None:
    expected = _flags_outcome(socket, kind, call, flags)
    on_fake = isinstance(net.driver, FakeKernel)
    if on_fake and ((kind, call) in _NOT_MODELLED or (kind, call, flags) in _NOT_MODELLED_OOB_ALONE):
        with pytest.raises(NotImplementedError, match="out-of-band"):
            _flags_outcome(net, kind, call, flags)
        return
    assert _flags_outcome(net, kind, call, flags) == expected


def test_msg_errqueue_with_ip_recverr_on_is_not_modelled_on_the_fake() -> None:
    net = sansock.using(FakeKernel())
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recvmsg(10, 0, net.MSG_ERRQUEUE)  # nothing queued: EAGAIN, as on Linux
        sock.setsockopt(net.IPPROTO_IP, net.abi.const("IP_RECVERR"), 1)
        with pytest.raises(NotImplementedError, match="IP_RECVERR"):
            sock.recvmsg(10, 0, net.MSG_ERRQUEUE)  # Linux would queue ICMP errors


def test_the_darwin_personality_still_says_msg_oob_is_not_modelled() -> None:
    net = sansock.using(FakeKernel(personality="darwin"))
    a, b = net.socketpair()
    with a, b, pytest.raises(NotImplementedError, match="out-of-band"):
        b.recv(1, net.MSG_OOB)


# -- 7. the darwin ABI profile: getnameinfo, errno texts and exception types -------------


def _darwin() -> Binding:
    from sansock._profiles import DARWIN_ARM64

    return sansock.using(FakeKernel(DARWIN_ARM64, personality="darwin"))


def test_getnameinfo_on_the_darwin_profile_resolves_a_numeric_address() -> None:
    net = _darwin()
    # Libinfo <netdb.h>: NI_NUMERICHOST 2, NI_NUMERICSERV 8 (glibc: 1, 2).
    assert (net.NI_NUMERICHOST, net.NI_NUMERICSERV, net.AI_NUMERICHOST, net.AI_NUMERICSERV) == (2, 8, 4, 0x1000)
    assert net.getnameinfo(("127.0.0.1", 80), net.NI_NUMERICHOST | net.NI_NUMERICSERV) == ("127.0.0.1", "80")


def test_errors_on_the_darwin_profile_have_darwin_numbers_texts_and_types() -> None:
    net = _darwin()
    a, b = net.socketpair()
    with a, b:
        a.setblocking(False)
        with pytest.raises(BlockingIOError) as info:
            a.recv(1)  # Linux's 35 is EDEADLK, "Resource deadlock avoided"
        assert info.value.args == (35, "Resource temporarily unavailable")
        assert net.driver.strerror(35) == "Resource temporarily unavailable"
    with net.socket(net.AF_INET, net.SOCK_STREAM) as first, net.socket(net.AF_INET, net.SOCK_STREAM) as second:
        first.bind(("127.0.0.1", 0))
        with pytest.raises(OSError) as bound:
            second.bind(first.getsockname())  # Linux's 48 is ELNRNG, "Link number out of range"
        assert type(bound.value) is OSError
        assert bound.value.errno == 48
        assert bound.value.strerror == "Address already in use"
    kernel = net.driver
    assert isinstance(kernel, FakeKernel)
    outcomes = [(e.call, e.outcome) for e in kernel.trace if (e.outcome or "").startswith("E")]
    assert outcomes == [("recv", "EAGAIN"), ("bind", "EADDRINUSE")]  # the trace names Darwin's numbers


# -- 8. the name of a stdlib wait on Python 3.10 (no co_qualname) -------------------------


def test_a_stdlib_wait_is_named_with_its_class_without_co_qualname() -> None:
    import queue
    import threading

    from sansock_fake._threads import qualname_in_module

    # What describe_outside finds on 3.10, where code objects have no co_qualname.
    assert qualname_in_module(threading.Event.wait.__code__, vars(threading)) == "Event.wait"
    assert qualname_in_module(threading.Condition.wait.__code__, vars(threading)) == "Condition.wait"
    assert qualname_in_module(queue.Queue.get.__code__, vars(queue)) == "Queue.get"
    assert qualname_in_module(threading.Thread.join.__code__, vars(threading)) == "Thread.join"
    assert qualname_in_module(threading.enumerate.__code__, vars(threading)) == "enumerate"


def test_datagrams_still_queued_for_the_bandwidth_when_the_sender_crashes_are_lost() -> None:
    net, a, b = two_hosts(latency=0.010, bandwidth=10_000)
    sender, receiver = udp_pair(a, b)
    for i in range(3):
        sender.sendto(bytes([i]) * 1000, ("10.0.0.2", 9000))  # 100 ms on the wire each
    net.call_later(0.150, net.hosts["client"].crash)  # the second is on the wire, the third queued
    receiver.settimeout(2)
    got = []
    with receiver:
        try:
            while True:
                got.append(receiver.recv(2000)[0])
        except TimeoutError:
            pass
    assert got == [0, 1]
    assert any("crashed before sending it" in e.text for e in net.trace if e.kind == "drop")
    sender.close()


def test_a_lost_segment_whose_retransmission_the_crash_prevented_never_arrives() -> None:
    # With loss, the wire models a lost TCP segment as one that arrives after the
    # retransmissions it took: a sender that crashed in between sends none.
    net, a, b = two_hosts(seed=3, latency=0.010)
    listener = b.socket(b.AF_INET, b.SOCK_STREAM)
    listener.bind(("0.0.0.0", 8080))
    listener.listen()
    client = a.create_connection(("10.0.0.2", 8080))
    conn, _ = listener.accept()
    net.link("client", "server", latency=0.010, loss=1.0)  # every transmission lost: 15 retries
    with listener, conn:
        client.sendall(b"never")
        net.hosts["client"].crash()
        # Its 15th retransmission would arrive 0.2 * (2**15 - 1) s = 6553.4 s later.
        conn.settimeout(7000)
        with pytest.raises(TimeoutError):
            conn.recv(10)
    client.close()


def _lone_socket_outcome(mod: Any, kind: str, call: str) -> object:
    """*call* with flags=-1 on a socket that is not connected (a TCP listener for "listener")."""
    family = mod.AF_UNIX if kind.startswith("unix") else mod.AF_INET
    type_ = {"unix-stream": mod.SOCK_STREAM, "unix-seqpacket": mod.SOCK_SEQPACKET, "tcp": mod.SOCK_STREAM,
             "listener": mod.SOCK_STREAM, "udp": mod.SOCK_DGRAM}[kind]
    with mod.socket(family, type_) as sock:
        sock.setblocking(False)
        if kind == "listener":
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        try:
            if call == "send":
                return sock.send(b"x", -1)
            if call == "recv":
                return sock.recv(1, -1)
            return sock.recv(1, mod.MSG_OOB)
        except OSError as exc:
            return type(exc).__name__, exc.errno


@pytest.mark.parametrize("call", ["send", "recv", "recv-oob"])
@pytest.mark.parametrize("kind", ["unix-stream", "unix-seqpacket", "tcp", "listener", "udp"])
def test_every_flag_bit_on_an_unconnected_socket_as_on_linux(net: Binding, kind: str, call: str) -> None:
    assert _lone_socket_outcome(net, kind, call) == _lone_socket_outcome(socket, kind, call)
