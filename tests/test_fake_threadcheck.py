"""The fake kernel's per-syscall thread registration (``Scheduler.enter``,
inlined in every syscall wrapper of ``sansock_fake._syscall``).

Every syscall asks whether its thread has registered with the scheduler (its
OS thread id in ``_native_ids``, its Thread in ``_users``).  The question
must be asked of the thread, not of its ident: CPython's thread ident is the
address of the pthread, which the C library gives to the next thread as soon
as the previous one has exited, so a new thread often has a dead one's ident.
Such a thread must register afresh: with its own OS id, which the scheduler
reads to tell a thread blocked in the kernel from one computing outside it
(``tests/test_fake_scheduler.py``, the stale dummy thread test).  These tests
hold whatever check the wrappers use to that (issue 13, the sixth session's
thread check).
"""

from __future__ import annotations

import _thread
import gc
import hashlib
import re
import threading

import pytest

import sansock
from sansock_fake import FakeKernel, NetEvent, Network

pytestmark = pytest.mark.threads


def _one_syscall_in(start: str, net: sansock.Binding, fd: int) -> tuple[int, int]:
    """A new thread (``threading.Thread`` or ``_thread``) makes one syscall;
    its (ident, OS thread id)."""
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def body() -> None:
        try:
            net.fromfd(fd, net.AF_UNIX, net.SOCK_STREAM).close()  # dup + close: syscalls
            seen.append((threading.get_ident(), threading.get_native_id()))
        finally:
            done.set()

    if start == "threading":
        thread = threading.Thread(target=body)
        thread.start()
        thread.join()
    else:
        _thread.start_new_thread(body, ())
        assert done.wait(10)
    assert seen
    return seen[0]


@pytest.mark.parametrize("start", ["threading", "_thread"])
def test_a_new_thread_with_a_dead_threads_ident_registers_with_its_own_os_id(start: str) -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        first_ident, first_tid = _one_syscall_in(start, net, a.fileno())
        assert kernel._scheduler._native_ids[first_ident] == first_tid
        # The C library hands the exited thread's stack (and so its ident) to a
        # later thread, usually the very next one.
        for _ in range(50):
            ident, tid = _one_syscall_in(start, net, a.fileno())
            if ident == first_ident:
                break
        else:
            pytest.skip("no new thread got the exited thread's ident")
        assert tid != first_tid  # (Linux does not hand a thread id out again so soon)
        assert kernel._scheduler._native_ids[ident] == tid


def test_a_thread_registers_once_and_every_syscall_counts() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    scheduler = kernel._scheduler
    with a, b:
        registered = dict(scheduler._native_ids)
        before = scheduler.activity
        for _ in range(5):
            a.send(b"x")
            b.recv(1)
        assert scheduler.activity == before + 10
        assert scheduler._native_ids == registered
        assert scheduler._native_ids[threading.get_ident()] == threading.get_native_id()


# -- the network's trace: the same events, their text made when read ----------------------


def _network_scenario(limit: int | None = None) -> Network:
    """TCP and UDP between two hosts over a lossy link, a drop for a missing
    host, a partition and a DNS lookup: every kind of event the trace has."""
    net = Network(seed=3, trace_limit=limit) if limit is not None else Network(seed=3)
    client = sansock.using(net.add_host("client", "10.0.0.1", "fd00::1"))
    server = sansock.using(net.add_host("server", "10.0.0.2", "fd00::2"))
    net.link("client", "server", latency=0.004, jitter=0.001, loss=0.2)
    with server.socket(server.AF_INET, server.SOCK_STREAM) as listener:
        listener.bind(("0.0.0.0", 8080))
        listener.listen()
        with client.create_connection(("server", 8080)) as c:
            s, _ = listener.accept()
            with s:
                c.sendall(b"x" * 3000)
                got = b""
                while len(got) < 3000:
                    got += s.recv(65536)
                s.sendall(b"answer")
                assert c.recv(100) == b"answer"
    with client.socket(client.AF_INET6, client.SOCK_DGRAM) as u, server.socket(server.AF_INET6, server.SOCK_DGRAM) as v:
        v.bind(("::", 5353))
        v.settimeout(0.5)
        for i in range(20):
            u.sendto(b"q%d" % i, ("fd00::2", 5353))
        for _ in range(20):
            try:
                v.recvfrom(10)
            except TimeoutError:
                break
    with client.socket(client.AF_INET, client.SOCK_DGRAM) as w:
        w.sendto(b"nobody", ("10.0.0.9", 53))
    return net


#: sha256 of the scenario's trace (``str`` of each event, one a line) and its
#: length, as the network formatted every event when it happened (2026-12-01).
_SCENARIO_TRACE = ("10b25bfcd58a8d7ce91f05ffeaf922988fcc29935c507ddb878adb90d712c225", 145)


def test_the_network_trace_reads_as_it_did_when_formatted_eagerly() -> None:
    net = _network_scenario()
    lines = [str(event) for event in net.trace]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert (digest, len(lines)) == _SCENARIO_TRACE, "\n".join(lines[:40])
    # (If the TCP or link model changes, the digest changes with it: the
    # checks below do not depend on the model.)
    for name, host in net.hosts.items():
        texts = [event.text for event in net.trace.of(name) if event.kind == "syscall"]
        assert texts == [f"{e.call}{e.args!r} -> {e.outcome}" for e in host.trace]
    packet = re.compile(r"(tcp|udp) \S+:\d+ > \S+:\d+ (<[A-Z|]+ seq=\d+ ack=\d+ win=\d+ len=\d+>|\d+ bytes)( \(.+\))?")
    assert all(packet.fullmatch(event.text) for event in net.trace.packets())
    kinds = {event.kind for event in net.trace}
    assert kinds == {"syscall", "send", "deliver", "drop", "dns"}
    assert any(event.kind == "deliver" and event.text.endswith(" (retransmitted 1x)") for event in net.trace)
    # Every way of reading gives the same events.
    events = list(net.trace)
    assert len(net.trace) == len(events) == net.trace.total
    assert [net.trace[i] for i in range(len(events))] == events == net.trace[:]
    assert net.trace[-1] == events[-1] and net.trace[3:9] == events[3:9]
    assert net.trace.of("server") == [e for e in events if e.host == "server"]
    assert net.trace.packets() == [e for e in events if e.kind in ("send", "deliver", "drop")]
    assert all(type(e) is NetEvent and type(e.text) is str for e in events)


def test_the_network_trace_keeps_no_payload() -> None:
    # What a packet event's text needs is kept, not the packet's data: 100,000
    # events of 64 KB segments would otherwise hold gigabytes.
    net = _network_scenario()

    def reachable(obj: object, depth: int) -> list[object]:
        found = [obj]
        if depth:
            for inner in gc.get_referents(obj):
                if not isinstance(inner, type):
                    found += reachable(inner, depth - 1)
        return found

    held = reachable(net.trace._events, 4)
    assert not [o for o in held if isinstance(o, bytes) and len(o) > 32]


def test_a_network_trace_limited_to_a_few_events_keeps_the_last() -> None:
    full = [str(e) for e in _network_scenario().trace]
    assert [str(e) for e in _network_scenario(limit=10).trace] == full[-10:]
    assert list(_network_scenario(limit=0).trace) == []
