"""``python -m sansock`` on a source checkout that was never built.

The command line lives beside the fake kernel (``sansock_fake._cli``), so
``info`` and ``demo --driver fake`` need no C extension, and the native
driver says what is missing.  Each test runs the CLI in a subprocess from a
copy of ``core/`` and ``drivers/`` without the built extension, with
``PYTHONPATH=core:drivers`` as a user of a fresh clone would, and ``-S`` so
that the editable install of this checkout cannot supply the extension.
"""

from __future__ import annotations

import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def unbuilt_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source tree as a fresh clone has it: no extension."""
    dest = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("*.so", "*.pyd", "_sansock_native.c", "__pycache__", "*.o")
    for name in ("core", "drivers"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    assert not list(dest.rglob("*.so"))
    return dest


SITE_DIR = Path(attrs.__file__).resolve().parent.parent


def run_cli(
    checkout: Path, *args: str, site: Path | None = SITE_DIR, python_args: tuple[str, ...] = ("-m", "sansock")
) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages .pth files (the editable install); attrs and cffi
    # come from *site* (their directory by default), put after the checkout's
    # source roots.
    env = dict(os.environ)
    path = [str(checkout / "core"), str(checkout / "drivers")] + ([str(site)] if site is not None else [])
    env["PYTHONPATH"] = os.pathsep.join(path)
    return subprocess.run(
        [sys.executable, "-S", *python_args, *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def only_attrs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory with attrs and nothing else (no cffi)."""
    site = tmp_path_factory.mktemp("only-attrs")
    for name in ("attrs", "attr"):
        (site / name).symlink_to(SITE_DIR / name, target_is_directory=True)
    return site


def test_without_attrs_the_cli_says_what_to_install(unbuilt_checkout: Path, tmp_path: Path) -> None:
    # A bare environment: not even attrs.  runpy imports the sansock package
    # before __main__, so the package itself says it, without a traceback.
    result = run_cli(unbuilt_checkout, "demo", "--driver", "fake", site=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("python -m sansock: sansock needs the 'attrs' package")
    assert "python -m pip install 'attrs>=23.1' 'cffi>=1.16'" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_attrs_importing_sansock_says_what_to_install(unbuilt_checkout: Path, tmp_path: Path) -> None:
    result = run_cli(unbuilt_checkout, python_args=("-c", "import sansock"), site=tmp_path)
    assert result.returncode == 1
    assert "ModuleNotFoundError: sansock needs the 'attrs' package" in result.stderr


def test_the_fake_needs_attrs_only(unbuilt_checkout: Path, only_attrs: Path) -> None:
    result = run_cli(unbuilt_checkout, "demo", "--driver", "fake", site=only_attrs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("demo finished: every example ran")
    info = run_cli(unbuilt_checkout, "info", site=only_attrs)
    assert info.returncode == 0, info.stderr
    assert "cffi:          not installed (the native driver needs it)" in info.stdout


def test_a_built_native_driver_without_cffi_says_so(only_attrs: Path) -> None:
    # This checkout, built, on a Python without cffi: the extension is there
    # but its run time (_cffi_backend) is not.
    pytest.importorskip("sansock_native._sansock_native")
    result = run_cli(ROOT, "demo", "--driver", "native", site=only_attrs)
    assert result.returncode == 1
    assert "the native driver needs the cffi package" in result.stdout
    assert "python -m pip install 'cffi>=1.16'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unknown_name_is_an_attribute_error_without_the_build(unbuilt_checkout: Path) -> None:
    # hasattr/getattr(default) work without loading the (missing) native
    # driver; a constant still says how to build it.
    code = (
        "import sansock\n"
        "print(hasattr(sansock, 'NOPE'), getattr(sansock, 'NOPE', 'default'))\n"
        "try:\n    sansock.AF_INET\nexcept ImportError as exc:\n    print('ImportError:', exc)\n"
    )
    result = run_cli(unbuilt_checkout, python_args=("-c", code))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "False default"
    assert lines[1].startswith("ImportError: sansock_native: the C extension _sansock_native is not built")


def test_demo_on_the_fake_needs_no_build(unbuilt_checkout: Path) -> None:
    result = run_cli(unbuilt_checkout, "demo", "--driver", "fake")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sansock demo on the fake driver (linux-x86_64)" in out
    assert "client: received b'Hello, world'" in out
    # What the fake kernel gives a test, a few lines each.
    assert "raised TimeoutError('timed out')" in out
    assert "virtual time passed: 30.0 s" in out
    assert re.search(r"raised BlockedForever: recv\(fd=\d+\) would block forever", out)
    assert re.search(r"trace: send\(\d+, b'hello world', 0\) -> ok 3", out)
    assert re.search(r"trace: recv\(\d+, 100, 0\) -> EINTR", out)
    assert re.search(r"\(Fds\(fds=\(\d+,\)\),\)", out)
    assert "fake fds still open after the with blocks: []" in out
    assert out.rstrip().endswith("demo finished: every example ran")
    assert result.stderr == ""


def test_info_without_the_build_reports_what_is_missing(unbuilt_checkout: Path) -> None:
    result = run_cli(unbuilt_checkout, "info")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sansock:       0.1.0" in out
    assert f"Python:        {sys.version_info.major}.{sys.version_info.minor}." in out
    assert "cffi:          " in out
    assert "native driver: NOT AVAILABLE" in out
    assert "the C extension _sansock_native is not built" in out
    assert "pip install ." in out
    assert f"fake driver:   sansock_fake.FakeKernel from {unbuilt_checkout / 'drivers' / 'sansock_fake'}" in out
    # Without the native build, the ABI facts shown are the fake's.
    assert "driver:        fake (sansock_fake._kernel.FakeKernel)" in out
    assert "ABI:           linux-x86_64 (little-endian)" in out
    assert "CMSG_SPACE:    0->16, 1->24, 4->24, 8->24, 16->32" in out


@pytest.mark.parametrize("command", ["demo", "info"])
def test_native_without_the_build_fails_with_a_clear_message(unbuilt_checkout: Path, command: str) -> None:
    result = run_cli(unbuilt_checkout, command, "--driver", "native")
    assert result.returncode == 1
    assert "sansock: the native driver is not available:" in result.stdout
    assert "the C extension _sansock_native is not built" in result.stdout
    assert "python -m sansock demo --driver fake" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_info_names_the_native_driver_when_built() -> None:
    pytest.importorskip("sansock_native._sansock_native")
    result = subprocess.run(
        [sys.executable, "-m", "sansock", "info"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "native driver: sansock_native.NativeDriver from " in result.stdout
    assert "driver:        native (sansock_native._native.NativeDriver)" in result.stdout
