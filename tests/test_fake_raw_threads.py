"""Threads started with ``_thread.start_new_thread`` take part in the virtual clock.

CPython's ``test_socket`` starts its client threads with ``_thread`` (no
:class:`threading.Thread` object, so none in ``threading.enumerate()``) and
its server blocks in ``accept`` at once: such a thread, started after the
kernel, is a participant as a ``threading.Thread`` is -- once it runs Python
code, woken from ``Event.wait`` or computing before its first syscall -- so
the server's ``accept`` waits for it instead of raising
:class:`BlockedForever`; one that has not run yet is given ``idle_grace_s`` of
real time to show itself before a deadlock is reported.
"""

from __future__ import annotations

import _thread
import threading
import time

import sansock
from sansock_fake import FakeKernel


def _serve_one(raw_client_first_waits: bool, computes_s: float = 0.0) -> tuple[bytes, int]:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    server = net.socket(net.AF_INET, net.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    ready = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def client() -> None:
        try:
            if raw_client_first_waits:
                ready.wait()
            until = time.monotonic() + computes_s
            while time.monotonic() < until:
                pass  # computing before the first syscall: the thread holds the clock
            with net.create_connection(("127.0.0.1", port)) as c:
                c.sendall(b"hello")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            done.set()

    start = kernel.monotonic_ns()
    _thread.start_new_thread(client, ())
    ready.set()
    try:
        conn, _ = server.accept()  # at once: the client may not have run yet
        with conn:
            data = conn.recv(10)
    finally:
        server.close()
        done.wait()
    assert not errors, errors
    return data, kernel.monotonic_ns() - start


def test_accept_waits_for_a_raw_thread_that_has_not_started_running() -> None:
    for _ in range(20):
        assert _serve_one(raw_client_first_waits=False) == (b"hello", 0)


def test_accept_waits_for_a_raw_thread_woken_from_event_wait() -> None:
    for _ in range(20):
        assert _serve_one(raw_client_first_waits=True) == (b"hello", 0)


def test_a_raw_thread_computing_before_its_first_syscall_holds_the_clock() -> None:
    assert _serve_one(raw_client_first_waits=True, computes_s=0.4) == (b"hello", 0)
