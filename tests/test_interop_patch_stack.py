"""``patch_stdlib()`` patches stack process-wide and may end in any order.

The stdlib shows the stand-ins of the last patch entered that is still
active; ending a patch that is not that one changes nothing the stdlib
shows; once the last one ends the stdlib's own objects are back everywhere
(``drivers/sansock_fake/interop/_patch.py``, ``_Stack``).

The originals are kept in a tuple: a module-level name bound to
``socket.socket`` would itself be swapped while a patch is active (the
identity swap reaches every module namespace, this one included).
"""

from __future__ import annotations

import asyncio
import importlib
import random
import select
import selectors
import socket
import ssl
import sys
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

import sansock_fake
from sansock_fake import FakeKernel, patch_stdlib
from sansock_fake.interop._patch import active_kernels

pytestmark = pytest.mark.threads


def shown() -> tuple[object, ...]:
    """What the stdlib shows now, for every kind of name the patch replaces."""
    return (
        socket.socket, socket.socketpair, socket.getaddrinfo, socket.create_connection, socket.dup,
        select.select, select.poll, select.epoll,
        selectors.DefaultSelector, selectors.SelectSelector, selectors.EpollSelector,
        ssl.SSLContext.__dict__.get("wrap_socket"),
    )


ORIGINALS = (shown(),)


def assert_restored() -> None:
    assert shown() == ORIGINALS[0]
    assert socket.socket.__module__ == "socket" and active_kernels() == []


def hostname_kernel(name: str) -> FakeKernel:
    return FakeKernel(hostname=name.encode())


def test_the_outer_patch_ending_first_leaves_the_inner_in_effect_then_all_is_restored() -> None:
    p1 = patch_stdlib(hostname_kernel("one"))
    p2 = patch_stdlib(hostname_kernel("two"))
    k1 = p1.__enter__()
    k2 = p2.__enter__()
    assert socket.gethostname() == "two" and active_kernels() == [k1, k2]
    p1.__exit__(None, None, None)
    # The inner patch is still in effect, complete.
    assert socket.gethostname() == "two" and active_kernels() == [k2]
    with socket.socket() as s:
        assert k2.open_fds() == [s.fileno()] and k1.open_fds() == []
    p2.__exit__(None, None, None)
    assert_restored()


def test_a_middle_patch_ending_first_changes_nothing_shown() -> None:
    patches = [patch_stdlib(hostname_kernel(name)) for name in ("a", "b", "c")]
    for p in patches:
        p.__enter__()
    inner = shown()
    patches[1].__exit__(None, None, None)
    assert shown() == inner and socket.gethostname() == "c"
    patches[2].__exit__(None, None, None)
    # The next one down is "a" now that "b" is gone.
    assert socket.gethostname() == "a"
    a, b = socket.socketpair()
    a.sendall(b"on a")
    assert select.select([b], [], [], 1) == ([b], [], [])
    assert b.recv(10) == b"on a"
    a.close()
    b.close()
    patches[0].__exit__(None, None, None)
    assert_restored()


def test_names_taken_before_follow_the_patch_in_effect_in_any_exit_order(tmp_path: Path) -> None:
    (tmp_path / "stack_names_for_interop.py").write_text(
        "from socket import socket, gethostname\nfrom select import select\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        early: Any = importlib.import_module("stack_names_for_interop")
        real = (early.socket, early.gethostname, early.select)
        p1, p2 = patch_stdlib(hostname_kernel("one")), patch_stdlib(hostname_kernel("two"))
        p1.__enter__()
        p2.__enter__()
        # A module imported while both are active takes the inner one's names.
        (tmp_path / "stack_late_for_interop.py").write_text("from socket import gethostname\n")
        late: Any = importlib.import_module("stack_late_for_interop")
        p1.__exit__(None, None, None)
        assert early.gethostname() == "two" and late.gethostname() == "two"
        p2.__exit__(None, None, None)
        assert (early.socket, early.gethostname, early.select) == real
        assert late.gethostname is real[1]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("stack_names_for_interop", None)
        sys.modules.pop("stack_late_for_interop", None)
    assert_restored()


@pytest.mark.parametrize("first_out", ["first_in", "last_in"])
def test_two_threads_with_overlapping_patches(first_out: str) -> None:
    """Thread A enters, thread B enters, then one of them ends first."""
    a_in, b_in, a_go, b_go, a_out = (threading.Event() for _ in range(5))
    errors: list[BaseException] = []
    seen: dict[str, str] = {}

    def run(name: str, my_in: threading.Event, go: threading.Event) -> None:
        try:
            with patch_stdlib(hostname_kernel(name)):
                my_in.set()
                assert go.wait(10)
                seen[name] = socket.gethostname()
            if name == "a":
                a_out.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            my_in.set()

    ta = threading.Thread(target=run, args=("a", a_in, a_go))
    tb = threading.Thread(target=run, args=("b", b_in, b_go))
    ta.start()
    assert a_in.wait(10)
    tb.start()
    assert b_in.wait(10)
    if first_out == "first_in":
        a_go.set()
        assert a_out.wait(10)
        assert socket.gethostname() == "b"  # B's patch is still in effect
        b_go.set()
    else:
        b_go.set()
        tb.join(10)
        assert socket.gethostname() == "a"
        a_go.set()
    ta.join(10)
    tb.join(10)
    assert not errors, errors
    # Both saw the patch in effect: the last one entered, B's, until it ended.
    assert seen["b"] == "b"
    assert seen["a"] == ("b" if first_out == "first_in" else "a")
    assert_restored()


def test_many_threads_entering_and_leaving_at_random_end_restored() -> None:
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(10):
                held: list[AbstractContextManager[FakeKernel]] = []
                for _ in range(rng.randint(1, 3)):
                    entered: AbstractContextManager[FakeKernel] = patch_stdlib()
                    entered.__enter__()
                    held.append(entered)
                rng.shuffle(held)
                for p in held:
                    assert socket.socket.__module__ != "socket"  # a patch is active: ours
                    p.__exit__(None, None, None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert_restored()


def test_two_fake_event_loops_in_two_threads_overlap_and_restore() -> None:
    """The asyncio loop patches on each ``run_forever``: two loops whose runs overlap."""
    started = threading.Barrier(2, timeout=10)
    results: list[float] = []
    errors: list[BaseException] = []

    async def main(delay: float) -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.to_thread(started.wait)
        await asyncio.sleep(delay)
        return loop.time() - t0

    def run(delay: float) -> None:
        try:
            results.append(sansock_fake.run(main(delay)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in (100.0, 200.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(round(r) for r in results) == [100, 200]
    assert_restored()


def test_an_exception_in_an_inner_patch_left_out_of_order_restores() -> None:
    p1 = patch_stdlib()
    p1.__enter__()
    with pytest.raises(RuntimeError, match="boom"):
        with patch_stdlib():
            p1.__exit__(None, None, None)
            assert socket.socket.__module__ != "socket"
            raise RuntimeError("boom")
    assert_restored()
