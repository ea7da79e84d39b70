"""``make test-versions``: the stdlib comparisons and the typing checks on every
CPython the machine has.

sansock follows the ``socket`` module of the interpreter it runs on
(``sansock._pyrules``), so the tests that compare it with the stdlib
(marked ``differential`` by ``tests/conftest.py``) must pass on each
supported version, not only on the default one that ``make pytest`` uses.

For each version from 3.10 to 3.19 other than the default interpreter's, this
script looks for ``python3.X`` on ``PATH`` and under ``~/.pyenv/versions``
(an interpreter counts only if it runs and reports that version: a pyenv shim
for a version that is not selected does not), keeps a virtual environment
``.venv-3.X`` with sansock's dependencies and test tools (rebuilt when
``pyproject.toml`` or this script changes), and runs ``pytest -m differential`` in it.

sansock itself is not installed there: a ``.pth`` file puts the source roots
``core/`` and ``drivers/`` on the path, and a small ``dist-info`` registers
the fake kernel's pytest plugin (the ``pytest11`` entry point of
``pyproject.toml``), so the environment behaves like an editable install.  The native driver's extension, built by the default
environment, is compiled for the stable ABI (``_sansock_native.abi3.so``), so
that one build serves every version, and nothing here rebuilds it under a
test run that may be using it (``make -j``).  mypy runs for every supported
version with ``--python-version`` from the default environment: typing needs
no interpreter.

It ends with a table of what ran, what was not found and what was skipped
(an interpreter whose environment cannot be built is reported and skipped,
not a failure), and exits non-zero only if a test or a typing check failed.

Usage: ``python tests/run_versions.py [--default-bin .venv/bin]``.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The versions sansock supports and checks types for (``requires-python``).
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
#: The versions looked for: the supported ones and any newer CPython 3.
CANDIDATES = tuple(f"3.{minor}" for minor in range(10, 20))
#: What the environments leave out of the ``test`` extra: the tools that run
#: from the default environment only (mypy and its stubs, sphinx).  The rest
#: (pytest, hypothesis, and the clients the interop and asyncio tests import)
#: is installed besides ``[project] dependencies``.
DEFAULT_ONLY = ("mypy", "types-", "sphinx")
#: Files whose change means the environments must be reinstalled.
INSTALL_INPUTS = ("pyproject.toml", "tests/run_versions.py")
#: The pytest plugin ``pyproject.toml`` registers as a ``pytest11`` entry point.
PLUGIN = "sansock_fake = sansock_fake.pytest_plugin"


def requirements() -> list[str]:
    """``[project] dependencies`` and the ``test`` extra but :data:`DEFAULT_ONLY`,
    read from ``pyproject.toml`` (a list may span several lines; comments are skipped)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    wanted: list[str] = []
    for key in ("dependencies", "test"):
        found = re.search(rf"^{key}\s*=\s*\[(.*?)\]", text, flags=re.MULTILINE | re.DOTALL)
        assert found, f"no {key} list in pyproject.toml"
        body = "\n".join(line.partition("#")[0] for line in found.group(1).splitlines())
        items = re.findall(r'"([^"]+)"', body)
        wanted += [item for item in items if key == "dependencies" or not item.startswith(DEFAULT_ONLY)]
    return wanted


def _reports(executable: str, version: str) -> bool:
    """Whether *executable* runs and is CPython *version*."""
    try:
        done = subprocess.run(
            [executable, "-c", "import sys, platform; print(platform.python_implementation(),"
             " '%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.split() == ["CPython", version]


def find_interpreter(version: str) -> str | None:
    """``python3.X`` from PATH, else the newest ``~/.pyenv/versions/3.X.*``."""
    on_path = shutil.which(f"python{version}")
    if on_path and _reports(on_path, version):
        return on_path
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = glob.glob(str(root / f"{version}.*" / "bin" / f"python{version}"))

    def patch_level(path: str) -> tuple[int, ...]:
        tail = Path(path).parent.parent.name[len(version) + 1:]
        return tuple(int(part) for part in tail.split(".") if part.isdigit()) or (-1,)

    # Plain releases only (3.13.0, not 3.13.0t or 3.14-dev), newest first.
    for path in sorted(found, key=patch_level, reverse=True):
        if Path(path).parent.parent.name[len(version) + 1:].isdigit() and _reports(path, version):
            return path
    return None


def _stale(stamp: Path) -> bool:
    if not stamp.exists():
        return True
    built = stamp.stat().st_mtime
    return any((ROOT / name).stat().st_mtime > built for name in INSTALL_INPUTS)


def ensure_venv(version: str, interpreter: str) -> tuple[Path | None, str]:
    """The environment's python, or None and the reason it could not be built."""
    venv = ROOT / f".venv-{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not _stale(stamp) and python.exists():
        return python, ""
    steps = [
        [interpreter, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements()],
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            return None, f"{' '.join(step[:3])}... failed: {lines[-1] if lines else done.returncode}"
    site = Path(done.stdout.strip())
    (site / "sansock-source.pth").write_text(f"{ROOT / 'core'}\n{ROOT / 'drivers'}\n", encoding="utf-8")
    info = site / "sansock_source-0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sansock-source\nVersion: 0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{PLUGIN}\n", encoding="utf-8")
    stamp.touch()
    return python, ""


def _summary_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    last = lines[-1].strip("= ") if lines else "(no output)"
    return last if len(last) <= 160 else last[:157] + "..."


def run(cmd: list[str]) -> tuple[bool, str, float]:
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-6000:] + done.stderr[-3000:])
    return done.returncode == 0, _summary_line(done.stdout + done.stderr), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--default-bin", default=str(ROOT / ".venv" / "bin"),
                        help="bin directory of the default environment (mypy, and its Python is skipped)")
    args = parser.parse_args(argv)
    default_bin = Path(args.default_bin)
    default_python = default_bin / "python"
    probe = subprocess.run([str(default_python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=True)
    default_version = probe.stdout.strip()

    rows: list[tuple[str, str]] = [(default_version, "default interpreter: whole suite (make pytest)")]
    failed = False
    for version in CANDIDATES:
        if version == default_version:
            continue
        interpreter = find_interpreter(version)
        if interpreter is None:
            if version in SUPPORTED:
                rows.append((version, "not found"))
            continue
        print(f"== CPython {version} ({interpreter})", flush=True)
        python, why = ensure_venv(version, interpreter)
        if python is None:
            rows.append((version, f"SKIPPED, environment not built: {why}"))
            print(f"   skipped: {why}", flush=True)
            continue
        ok, line, secs = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "differential"])
        failed |= not ok
        rows.append((version, f"{'ok' if ok else 'FAILED'}: differential tests, {line} ({secs:.0f} s)"))
        print(f"   pytest -m differential: {line}", flush=True)

    typing_rows: list[str] = []
    for version in SUPPORTED:
        if version == default_version:
            continue  # make typecheck did it
        ok, line, secs = run([str(default_bin / "mypy"), "--python-version", version])
        failed |= not ok
        typing_rows.append(f"{version} {'ok' if ok else 'FAILED'} ({secs:.0f} s)")

    print("\nCPython versions:")
    for version, what in rows:
        print(f"  {version:5}  {what}")
    print(f"  mypy --python-version: {default_version} (make typecheck), " + ", ".join(typing_rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
