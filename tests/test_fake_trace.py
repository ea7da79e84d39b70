"""kernel.trace is bounded (issue 12, item 14): a ring of the last
``trace_limit`` syscalls (default :data:`TRACE_LIMIT`, 100,000), stored as
shared argument tuples and outcome strings; :class:`TraceEntry` objects are
built when read.  Before: 44 MB over 200,000 syscalls, growing without end."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

import sansock
from sansock_fake import TRACE_LIMIT, FakeKernel, Trace, TraceEntry


def test_trace_is_on_by_default_with_its_fields() -> None:
    kernel = FakeKernel(fd_base=0)
    assert kernel.trace.limit == TRACE_LIMIT == 100_000
    a, b = kernel.socketpair(1, 1, 0)
    kernel.send(a, b"hi", 0)
    assert kernel.trace[-1] == TraceEntry("send", (3, b"hi", 0), "ok 2")
    assert [e.call for e in kernel.trace] == ["socketpair", "send"]
    assert isinstance(kernel.trace, Trace) and len(kernel.trace) == kernel.trace.total == 2


def test_the_ring_keeps_the_last_entries() -> None:
    kernel = FakeKernel(fd_base=0, trace_limit=10)
    a, _b = kernel.socketpair(1, 1, 0)
    for i in range(24):
        kernel.setsockopt(a, 1, 7, 1000 + i)  # SO_SNDBUF
    trace = kernel.trace
    assert (len(trace), trace.total, trace.dropped) == (10, 25, 15)
    assert trace[0].args == (3, 1, 7, 1014) and trace[-1].args == (3, 1, 7, 1023)
    assert [e.args[3] for e in trace[2:5]] == [1016, 1017, 1018]
    assert trace[::4] == [trace[0], trace[4], trace[8]]
    with pytest.raises(IndexError):
        trace[10]
    trace.clear()
    assert (len(trace), trace.total) == (0, 0)
    assert "0 of 0 syscalls" in repr(trace)


def test_no_limit_keeps_everything() -> None:
    kernel = FakeKernel(fd_base=0, trace_limit=None)
    a, _b = kernel.socketpair(1, 1, 0)
    for _ in range(200):
        kernel.get_nonblocking(a)
    assert len(kernel.trace) == kernel.trace.total == 201


def test_shared_entries_keep_types_and_values_apart() -> None:
    """Equal-but-different arguments are not merged, and lying subclasses are
    recorded as the plain values the kernel used."""

    class Lying(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    kernel = FakeKernel(fd_base=0)
    a, _b = kernel.socketpair(1, 1, 0)
    kernel.set_nonblocking(a, 1)  # type: ignore[arg-type]
    kernel.set_nonblocking(a, True)
    kernel.setsockopt(a, 1, 7, 5000)
    kernel.setsockopt(a, 1, 7, Lying(6000))
    args = [e.args for e in kernel.trace][1:]
    assert args == [(3, 1), (3, True), (3, 1, 7, 5000), (3, 1, 7, 6000)]
    assert [type(x[1]) for x in args[:2]] == [int, bool]
    assert type(args[3][3]) is int


def grown_bytes(kernel: FakeKernel, syscalls: int) -> int:
    net = sansock.using(kernel)
    a, b = net.socketpair()
    buf = bytearray(64)

    def run(count: int) -> None:
        for i in range(count // 2):
            a.send(b"ping %d" % (i % 100))
            b.recv_into(buf)

    run(2000)  # warm caches
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        run(syscalls)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        a.close()
        b.close()
    return after - before


def test_trace_memory_per_syscall_is_small() -> None:
    """Under the limit, each syscall costs its three ring slots (24 bytes),
    plus what is not shared: about 220 bytes per syscall before."""
    growth = grown_bytes(FakeKernel(), 10_000)
    assert growth / 10_000 < 60, f"{growth / 10_000:.0f} bytes per syscall"


def test_trace_memory_stops_growing_at_the_limit() -> None:
    kernel = FakeKernel(trace_limit=1000)
    growth = grown_bytes(kernel, 10_000)
    assert len(kernel.trace) == 1000
    assert growth < 64 * 1024, f"grew {growth} bytes with a full ring"
