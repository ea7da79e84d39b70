"""pytest plugin: fixtures that run socket code on a fresh fake kernel.

Registered through the ``pytest11`` entry point, so installing sansock makes
the fixtures available in every test suite:

* ``fake_kernel`` -- a fresh :class:`~sansock_fake.FakeKernel` per test.
* ``fake_net`` -- ``sansock.using(fake_kernel)``: the whole socket API bound
  to that kernel.
* ``fake_sansock`` -- the module-level API (``sansock.socket(...)``,
  ``sansock.create_connection(...)``) runs on ``fake_kernel`` for the test,
  through :func:`sansock.swap_default_driver`; the previous driver comes back
  afterwards, also when the test fails.
* ``fake_stdlib`` -- the stdlib's ``socket``, ``select``, ``selectors`` and
  ``ssl`` run on a fresh kernel for the test
  (:func:`sansock_fake.patch_stdlib`): unmodified clients and servers
  (``requests``, ``http.server``...) talk over the fake; yields the kernel.

Each fixture checks at teardown that the test closed every fake fd it opened,
and fails the test (naming the fds) if not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sansock
from sansock import Binding

from ._kernel import FakeKernel

__all__ = ["fake_kernel", "fake_net", "fake_sansock", "fake_stdlib"]


@pytest.fixture
def fake_kernel() -> Iterator[FakeKernel]:
    """A fresh in-memory kernel; the test fails if it leaves fds open."""
    kernel = FakeKernel()
    yield kernel
    leaked = kernel.open_fds()
    if leaked:
        pytest.fail(f"the test left fake fds open: {sorted(leaked)}", pytrace=False)


@pytest.fixture
def fake_net(fake_kernel: FakeKernel) -> Binding:
    """The socket API bound to ``fake_kernel`` (``net.socketpair()``...)."""
    return sansock.using(fake_kernel)


@pytest.fixture
def fake_sansock(fake_kernel: FakeKernel) -> Iterator[Binding]:
    """Run the module-level ``sansock`` API on ``fake_kernel`` for this test."""
    with sansock.swap_default_driver(fake_kernel) as binding:
        yield binding


@pytest.fixture
def fake_stdlib() -> Iterator[FakeKernel]:
    """The stdlib's socket machinery on a fresh kernel for this test; yields the kernel.

    The kernel is the fixture's own (not ``fake_kernel``): what a library
    keeps open in a pool at teardown is its business, not a leak of the test.
    """
    from .interop import patch_stdlib

    with patch_stdlib() as kernel:
        yield kernel
