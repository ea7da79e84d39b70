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
import threading

import pytest

import sansock
from sansock_fake import FakeKernel

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
