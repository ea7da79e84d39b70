"""Workarounds in ``tests/conftest.py`` for defects of the interpreter under the suite.

CPython 3.11's AST constructor shares its recursion counter between threads:
two threads parsing at once fail now and then with ``SystemError: AST
constructor recursion depth mismatch``.  pytest parses source to report a
failure while a test's server thread prints its traceback (which parses too),
so a failing threaded test could end the whole run with an INTERNALERROR.
The conftest makes ``ast.parse`` parse again after such a race.
"""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.threads


class _Finalized:
    """A cycle with a Python finalizer: a garbage collection started by an
    allocation inside the AST constructor runs Python code, and the GIL may
    pass to the other thread in the middle of its construction."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        sum(range(50))


def test_two_threads_parsing_at_once_never_see_the_recursion_depth_race() -> None:
    source = Path(ast.__file__).read_text(encoding="utf-8")  # unguarded, the race fires within ~0.3 s on 3.11.7
    expected = ast.dump(ast.parse(source))
    errors: list[BaseException] = []
    parses = [0, 0]
    stop = time.monotonic() + 1.5

    def parse_at_depth(index: int, depth: int) -> None:
        # Different stack depths: each thread starts the shared counter elsewhere.
        if depth:
            parse_at_depth(index, depth - 1)
            return
        while time.monotonic() < stop and not errors:
            garbage = [_Finalized() for _ in range(200)]
            del garbage
            try:
                tree = ast.parse(source)
            except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
                errors.append(exc)
                return
            if ast.dump(tree) != expected:  # pragma: no cover
                errors.append(AssertionError("a different tree"))
            parses[index] += 1

    threads = [threading.Thread(target=parse_at_depth, args=(i, d)) for i, d in enumerate((5, 60))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert min(parses) > 0
