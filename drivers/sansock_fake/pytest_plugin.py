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
* ``fake_event_loop_policy`` -- an asyncio event loop policy whose loops run
  on a fresh kernel (:class:`sansock_fake.FakeEventLoopPolicy`; the kernel
  is its ``kernel``).  With pytest-asyncio, a fixture named
  ``event_loop_policy`` that returns it puts ``async def`` tests on the
  fake (docs/howto/asyncio.rst).
* ``fake_network`` -- a fresh :class:`sansock_fake.Network` (no hosts yet)
  with a random seed; when the test fails its report names the seed, and
  ``pytest --sansock-seed=N`` gives every ``fake_network`` seed *N* to
  replay the failure.  At teardown it crashes every host still up, which
  wakes threads the test left blocked on them (no fd leak check: a crash
  closes the hosts' fds).

``fake_kernel`` (and ``fake_net``, ``fake_sansock``, built on it) checks at
teardown that the test closed every fake fd it
opened, and fails the test if not, naming each fd and the line of the test
that created it.  The check runs once the test's whole teardown is over
(every fixture's finalizer, in any order), so a socket closed by a cleanup
fixture set up before ``fake_kernel`` (an ``ExitStack`` fixture, say) counts as
closed.  That covers both ways to leak: a socket the test still
holds, and a socket dropped without ``close()`` (which the garbage
collector closes with a ``ResourceWarning`` that warning filters usually
hide).  The kernel records where each fd was made: the innermost frame of the
test's own file (else the innermost frame outside sansock and ``threading``),
one frame walk per new fd.
"""

from __future__ import annotations

import gc
import linecache
import random
import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import pytest

import sansock
from sansock import Binding

from ._kernel import FakeKernel
from ._network import Network

if TYPE_CHECKING:
    from ._objects import OpenFile
    from .interop import FakeEventLoopPolicy

__all__ = [
    "fake_event_loop_policy",
    "fake_kernel",
    "fake_net",
    "fake_network",
    "fake_sansock",
    "fake_stdlib",
    "pytest_addoption",
    "pytest_runtest_makereport",
]

#: Frames in these directories are the library's, never the creation site.
_LIBRARY_DIRS = tuple(
    str(Path(module.__file__).resolve().parent) if module.__file__ else "?"
    for module in (sansock, sys.modules[__name__.rsplit(".", 1)[0]])
)
_THREADING = threading.__file__


class _Site:
    """Where an fd was made: a file, a line and a function (cheap to record)."""

    __slots__ = ("filename", "lineno", "function")

    def __init__(self, frame: FrameType | None) -> None:
        if frame is None:
            self.filename, self.lineno, self.function = "?", 0, "?"
        else:
            self.filename = frame.f_code.co_filename
            self.lineno = frame.f_lineno
            self.function = frame.f_code.co_name

    def __str__(self) -> str:
        line = linecache.getline(self.filename, self.lineno).strip()
        where = f"{Path(self.filename).name}:{self.lineno} in {self.function}"
        return f"{where}: {line}" if line else where


class _TrackedKernel(FakeKernel):
    """A :class:`FakeKernel` that remembers where each fd was made and which
    fds a garbage-collected socket closed (the fixtures' leak report)."""

    def __init__(self, test_file: str | None = None) -> None:
        super().__init__()
        self._test_file = test_file
        self._made_at: dict[int, _Site] = {}
        self._dropped: list[tuple[int, _Site]] = []

    def __repr__(self) -> str:
        return f"<FakeKernel {self.abi.name}, fds open: {self.open_fds()}, {len(self.trace)} syscalls traced>"

    def _site(self) -> _Site:
        frame = sys._getframe(2)
        fallback: FrameType | None = None
        depth = 0
        while frame is not None and depth < 64:
            filename = frame.f_code.co_filename
            if filename == self._test_file:
                return _Site(frame)
            if fallback is None and filename != _THREADING and not filename.startswith(_LIBRARY_DIRS):
                fallback = frame
            frame = frame.f_back  # type: ignore[assignment]
            depth += 1
        return _Site(fallback)

    def _install(self, file: OpenFile, cloexec: bool) -> int:
        fd = super()._install(file, cloexec)
        self._made_at[fd] = self._site()
        return fd

    def close(self, fd: int) -> None:
        # A socket (or OwnedFd) dropped without close() is closed by its
        # __del__, through sansock._socket.finalize_unclosed: record it,
        # whatever the warning filters do with the ResourceWarning it issues.
        if sys._getframe(1).f_code.co_name in ("finalize_unclosed", "__del__"):
            self._dropped.append((fd, self._made_at.get(fd, _Site(None))))
        super().close(fd)

    def leak_report(self) -> str | None:
        """What the test left behind, one line per fd, or None if nothing."""
        gc.collect()  # sockets in reference cycles are dropped now
        still_open = self.open_fds()
        if not still_open and not self._dropped:
            return None
        lines = []
        if still_open:
            lines.append(f"the test left fake fds open: {still_open}")
            lines.extend(f"  fd {fd} made at {self._made_at.get(fd, _Site(None))}" for fd in still_open)
        if self._dropped:
            fds = [fd for fd, _ in self._dropped]
            lines.append(
                f"the test dropped sockets without close(): fds {fds} "
                "(closed by the garbage collector with a ResourceWarning)"
            )
            lines.extend(f"  fd {fd} made at {site}" for fd, site in self._dropped)
        return "\n".join(lines)


#: The kernel of the test item, for the leak check after its teardown.
_KERNEL = pytest.StashKey[_TrackedKernel]()


@pytest.fixture
def fake_kernel(request: pytest.FixtureRequest) -> FakeKernel:
    """A fresh in-memory kernel; the test fails if it leaves fds open or drops
    a socket without closing it (checked after the whole teardown)."""
    path = getattr(request.node, "path", None)
    kernel = _TrackedKernel(str(path) if path is not None else None)
    request.node.stash[_KERNEL] = kernel
    return kernel


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """The leak report, once every finalizer of the item has run.

    A fixture's own teardown would run before the finalizers of the fixtures
    set up earlier, which may still close sockets; pytest's teardown
    (``SetupState.teardown_exact``) is an earlier implementation of this hook,
    so ``trylast`` runs the check after it.  If the teardown itself failed,
    that error is reported and this check is skipped.
    """
    kernel = item.stash.get(_KERNEL, None)
    if kernel is None:
        return
    del item.stash[_KERNEL]
    report = kernel.leak_report()
    if report is not None:
        pytest.fail(report, pytrace=False)


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


@pytest.fixture
def fake_event_loop_policy() -> FakeEventLoopPolicy:
    """An asyncio event loop policy whose loops run on a fresh fake kernel (its ``kernel``).

    For pytest-asyncio::

        @pytest.fixture
        def event_loop_policy(fake_event_loop_policy):
            return fake_event_loop_policy
    """
    from .interop import FakeEventLoopPolicy

    return FakeEventLoopPolicy()


#: The seed of the item's ``fake_network``, for the failure report.
_SEED = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--sansock-seed``: the seed of every ``fake_network`` (to replay a failure)."""
    parser.addoption(
        "--sansock-seed",
        type=int,
        default=None,
        help="seed of the fake_network fixture's sansock_fake.Network (default: a random one, "
        "printed when a test using it fails)",
    )


@pytest.fixture
def fake_network(request: pytest.FixtureRequest) -> Iterator[Network]:
    """A fresh simulated network, seeded from ``--sansock-seed`` or at random.

    A failing test's report shows the seed and the option that replays it.
    At teardown every host still up crashes, so a thread the test left blocked
    on a host (a server in ``accept``, say, when the test failed before
    stopping it) wakes with an error instead of waiting in the kernel for the
    rest of the session.
    """
    seed = request.config.getoption("--sansock-seed", None)
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 32)
    request.node.stash[_SEED] = seed
    network = Network(seed=seed)
    yield network
    for name, host in list(network.hosts.items()):
        if name not in network._down:
            host.crash()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used ``fake_network`` names its seed in the report."""
    report = yield
    seed = item.stash.get(_SEED, None)
    if seed is not None and report.failed:
        report.sections.append(
            ("sansock_fake network", f"fake_network seed: {seed} (replay with pytest --sansock-seed={seed})")
        )
    return report
