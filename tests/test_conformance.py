"""The core's driver conformance suite (sansock.conformance), run against
every driver that is available: the native one always, the fake kernel when
``sansock_fake`` exports ``FakeKernel``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

import sansock_native
from sansock._driver import Driver
from sansock.conformance import CHECKS


def _fake_factory() -> Callable[[], Driver] | None:
    import sansock_fake

    kernel = getattr(sansock_fake, "FakeKernel", None)
    return kernel if callable(kernel) else None


FAKE = _fake_factory()
DRIVERS = [
    pytest.param(sansock_native.NativeDriver, id="native"),
    pytest.param(
        FAKE,
        id="fake",
        marks=pytest.mark.skipif(
            FAKE is None, reason="sansock_fake does not export FakeKernel yet"
        ),
    ),
]


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = sorted(os.listdir("/proc/self/fd"))
    yield
    assert sorted(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("make_driver", DRIVERS)
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_conformance(name: str, make_driver: Callable[[], Driver]) -> None:
    CHECKS[name](make_driver)
