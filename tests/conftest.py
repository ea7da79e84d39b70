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

Every test that consults the stdlib ``socket`` module (the oracle) is marked
``differential``: its function, a helper function of its module, a fixture
it uses or one of its parameters comes from that module (tests that compare
with another part of CPython carry the marker themselves).  Those are the tests that compare sansock with the
``socket`` module of the running CPython, and ``make test`` runs them on every
other CPython it finds (``pytest -m differential``, ``tests/run_versions.py``).
"""

from __future__ import annotations

import ast
import os
import threading
import socket as stdlib_socket
import types
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


# CPython 3.11 keeps the AST constructor's recursion counter in the interpreter,
# shared by all threads (Python/Python-ast.c, PyAST_mod2obj; cpython gh-106905).
# When two threads build ASTs at once and one of them is switched out in the
# middle (a garbage collection in the constructor runs a Python finalizer, a
# ResourceWarning...), the other resets the counter and the first fails with
# "SystemError: AST constructor recursion depth mismatch".  pytest parses the
# test's source to show a failure (_pytest._code.source) while a server thread
# of the test prints its own traceback (3.11's traceback module parses the line
# for its carets): the SystemError then escapes pytest's reporting as an
# INTERNALERROR and ends the whole run.  Parses through ast.parse take turns
# (a reentrant lock: a finalizer run by a collection inside the constructor may
# parse too), and ast.parse, a pure function, parses again after a race that
# still happens (a reentrant parse, compile() called directly).  Retrying alone
# was not enough: two threads parsing in a loop lost five races in a row in CI.
# (tests/test_pytest_workarounds.py)
_ast_parse = ast.parse
_ast_parse_turn = threading.RLock()
_AST_RACE = ("AST constructor recursion depth mismatch", "maximum recursion depth exceeded during ast construction")


def _ast_parse_again_after_a_race(*args: Any, **kwargs: Any) -> Any:
    with _ast_parse_turn:
        for attempt in range(5):
            try:
                return _ast_parse(*args, **kwargs)
            except (SystemError, RecursionError) as exc:
                if attempt == 4 or not str(exc).startswith(_AST_RACE):
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


setattr(ast, "parse", _ast_parse_again_after_a_race)


def _reaches_stdlib_socket(func: object, namespace: dict[str, object], depth: int = 3) -> bool:
    """Whether *func*'s code (lambdas and nested functions included) names the
    stdlib ``socket`` module, directly or through a helper function of the
    same test module (*depth* levels down)."""
    code = getattr(func, "__code__", None)
    stack = [code] if isinstance(code, types.CodeType) else []
    while stack:
        current = stack.pop()
        for name in current.co_names:
            value = namespace.get(name)
            if value is stdlib_socket:
                return True
            if depth and isinstance(value, types.FunctionType) and value.__globals__ is namespace:
                if _reaches_stdlib_socket(value, namespace, depth - 1):
                    return True
        stack.extend(const for const in current.co_consts if isinstance(const, types.CodeType))
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``differential`` the tests that consult the stdlib ``socket`` module:
    the test function, a helper it calls or a fixture it uses names it."""
    for item in items:
        module = getattr(item, "module", None)
        function = getattr(item, "function", None)
        if module is None or function is None:
            continue
        namespace = vars(module)
        if stdlib_socket not in namespace.values():
            continue
        # Hypothesis wraps the test; its own code is the inner test.
        inner = getattr(getattr(function, "hypothesis", None), "inner_test", function)
        candidates: list[object] = [inner]
        info = getattr(item, "_fixtureinfo", None)
        for defs in getattr(info, "name2fixturedefs", {}).values():
            candidates.extend(d.func for d in defs if getattr(d.func, "__module__", None) == module.__name__)
        # A parameter may be the stdlib's function itself (htons vs socket.htons).
        params = getattr(getattr(item, "callspec", None), "params", {})
        from_stdlib = any(getattr(value, "__module__", None) in ("socket", "_socket") for value in params.values())
        if from_stdlib or any(_reaches_stdlib_socket(f, namespace) for f in candidates):
            item.add_marker(pytest.mark.differential)


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
