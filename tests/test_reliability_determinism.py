"""Determinism: the fake-kernel half of the behaviour suite, run twice, makes
the same syscalls with the same outcomes.

Each run is a fresh pytest process with ``SANSOCK_TRACE_DUMP`` set: the
``net`` fixture (``conftest.py``) appends every fake-kernel test's syscall
trace to a file, and the two files must be identical.  fds, ports, the
virtual clock and the resolver are deterministic; only tests whose threads
race each other could differ, and those are marked ``threads`` and left out.
Short under ``make test`` (``test_api_behaviour.py``), four files (``LONG``)
under ``make stress``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STRESS = os.environ.get("SANSOCK_STRESS", "") not in ("", "0")
HERE = Path(__file__).parent

SHORT = ["test_api_behaviour.py"]
LONG = SHORT + ["test_ancillary.py", "test_reliability_fds.py", "test_fake_differential.py"]


def run_suite(files: list[str], dump: Path) -> tuple[int, str]:
    env = dict(os.environ, SANSOCK_TRACE_DUMP=str(dump))
    env.pop("SANSOCK_STRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "fake", "-m", "not threads",
         *[str(HERE / name) for name in files]],
        env=env, capture_output=True, text=True, timeout=600, cwd=HERE.parent,
    )
    return done.returncode, done.stdout[-2000:]


def test_two_runs_give_identical_traces(tmp_path: Path) -> None:
    files = LONG if STRESS else SHORT
    first, second = tmp_path / "first.trace", tmp_path / "second.trace"
    # The suites' own pass/fail is theirs to report; here both runs must agree.
    code1, output1 = run_suite(files, first)
    code2, output2 = run_suite(files, second)
    assert code1 == code2 and code1 in (0, 1), output1 + output2
    a = first.read_text(encoding="utf-8").splitlines()
    b = second.read_text(encoding="utf-8").splitlines()
    tests = sum(1 for line in a if line.startswith("== "))
    assert tests > 50 and len(a) > 500, "the dump did not record the suite"
    if a != b:
        diff = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y) if len(a) == len(b) else min(len(a), len(b))
        raise AssertionError(f"traces differ at line {diff}: {a[diff:diff + 1]} != {b[diff:diff + 1]}")
    print(f"\n[reliability] determinism: {tests} fake-kernel tests, {len(a) - tests} syscalls, identical twice")
