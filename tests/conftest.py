"""Shared fixtures: one ``net`` fixture runs a behaviour test on every driver.

``net`` is the socket-module surface bound to a fresh driver: the native
driver (real kernel) and the fake kernel.  A test that needs real OS file
descriptors (pipes, fork) is marked ``native_only`` and runs on the native
driver alone.  Every test fails if it leaks an fd: on the native driver the
process fd table (``/proc/self/fd``) must end as it began, on the fake the
kernel's table (``kernel.open_fds()``) must hold no more fds than it began
with.

The reliability tests (``test_reliability_*.py``) run short by default
(``make test``) and long when ``SANSOCK_STRESS=1`` (``make stress``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings

import sansock
from sansock import Binding, Driver

# Hypothesis: `make test` (and CI) replays the same examples on every run, so a
# green run stays green; `make stress` (SANSOCK_STRESS=1) explores new ones.
settings.register_profile("replay", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("SANSOCK_STRESS") == "1" else "replay")


def _native() -> Driver:
    import sansock_native

    return sansock_native.NativeDriver()


def _fake_factory() -> Callable[[], Driver] | None:
    try:
        import sansock_fake
    except ImportError:  # pragma: no cover
        return None
    factory = getattr(sansock_fake, "FakeKernel", None)
    return factory if callable(factory) else None


FAKE = _fake_factory()

DRIVER_PARAMS = [
    pytest.param("native", id="native"),
    pytest.param(
        "fake",
        id="fake",
        marks=pytest.mark.skipif(FAKE is None, reason="sansock_fake has no FakeKernel yet"),
    ),
]


def open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def fake_open_fds(driver: Driver) -> list[int]:
    """The fds open in a fake kernel (``FakeKernel.open_fds``)."""
    listing: Callable[[], list[int]] = getattr(driver, "open_fds")
    return listing()


def _dump_trace(nodeid: str, kernel: Driver) -> None:
    """With SANSOCK_TRACE_DUMP=path, append the test's fake-kernel syscall trace to *path*
    (``test_reliability_determinism`` runs the suite twice and compares the dumps)."""
    path = os.environ.get("SANSOCK_TRACE_DUMP")
    if not path:
        return
    trace = getattr(kernel, "trace", [])
    with open(path, "a", encoding="utf-8") as dump:
        dump.write(f"== {nodeid} ({len(trace)} syscalls)\n")
        for entry in trace:
            dump.write(f"{entry.call}{entry.args!r} -> {entry.outcome}\n")


@pytest.fixture(params=DRIVER_PARAMS)
def net(request: pytest.FixtureRequest) -> Iterator[Binding]:
    """The socket API bound to each driver in turn, fd-leak checked on both."""
    kind: str = request.param
    if kind == "fake":
        if request.node.get_closest_marker("native_only"):
            pytest.skip("needs real OS file descriptors")
        assert FAKE is not None
        kernel = FAKE()
        fake_before = fake_open_fds(kernel)
        yield sansock.using(kernel)
        _dump_trace(request.node.nodeid, kernel)
        leaked = sorted(set(fake_open_fds(kernel)) - set(fake_before))
        assert not leaked, f"the test leaked fake-kernel fds {leaked}"
        return
    before = open_fds()
    yield sansock.using(_native())
    after = open_fds()
    assert after == before, "the test leaked file descriptors"


@pytest.fixture
def native_net() -> Iterator[Binding]:
    """The socket API on the real kernel only, fd-leak checked."""
    before = open_fds()
    yield sansock.using(_native())
    assert open_fds() == before, "the test leaked file descriptors"


@pytest.hookimpl(optionalhook=True)
def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """pytest-asyncio (>= 1.4): this suite's ``@pytest.mark.asyncio`` tests run on the
    fake kernel's event loop, a fresh kernel per loop (docs/howto/asyncio.rst)."""
    import sansock_fake

    return {"fake": sansock_fake.new_event_loop}
