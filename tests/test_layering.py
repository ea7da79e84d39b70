"""Hard rules 1 and 2: the library never uses the stdlib socket machinery, and
the core does no I/O and reads no clock.  Checked by parsing every import.

The one exception is ``drivers/sansock_fake/interop/``: it stands in for the
stdlib's ``socket``, ``select``, ``selectors`` and ``ssl`` on the fake kernel
(``patch_stdlib``), so it imports them -- and only it may."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core" / "sansock"
DRIVERS = [ROOT / "drivers" / "sansock_native", ROOT / "drivers" / "sansock_fake"]

STDLIB_SOCKET_MACHINERY = {"socket", "_socket", "select", "selectors", "ssl", "_ssl"}
#: The stand-ins for the stdlib's socket machinery (issue 16): the only
#: library package allowed to import it.
INTEROP = ROOT / "drivers" / "sansock_fake" / "interop"
IMPURE_FOR_CORE = STDLIB_SOCKET_MACHINERY | {
    "os",
    "time",
    "threading",
    "cffi",
    "sansock_native",
    "sansock_fake",
    "signal",
    "subprocess",
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Top-level module names imported by *path* (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
        ):
            found.append((node.lineno, "__import__"))
    return found


def library_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py"))


@pytest.mark.parametrize("path", library_files(CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_is_pure(path: Path) -> None:
    bad = [(line, mod) for line, mod in imported_modules(path) if mod in IMPURE_FOR_CORE | {"__import__"}]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: core/ does no I/O and reads no clock"


def outside_interop(paths: list[Path]) -> list[Path]:
    return [p for p in paths if INTEROP not in p.parents]


@pytest.mark.parametrize(
    "path", outside_interop(library_files(CORE, *DRIVERS)), ids=lambda p: str(p.relative_to(ROOT))
)
def test_library_never_uses_stdlib_socket(path: Path) -> None:
    bad = [(line, mod) for line, mod in imported_modules(path) if mod in STDLIB_SOCKET_MACHINERY]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: syscalls go through the driver"


def test_checker_sees_violations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom time import monotonic\nfrom . import x\nimport socket as s\n")
    assert [m for _, m in imported_modules(sample)] == ["os", "time", "socket"]


def test_only_interop_is_exempt() -> None:
    """The exemption covers interop/ and nothing else (a file moved out of it is checked)."""
    everything = library_files(CORE, *DRIVERS)
    exempt = sorted(set(everything) - set(outside_interop(everything)))
    assert exempt, "drivers/sansock_fake/interop/ has no files"
    assert all(p.is_relative_to(INTEROP) for p in exempt)
    uses = {mod for p in exempt for _, mod in imported_modules(p)} & STDLIB_SOCKET_MACHINERY
    assert uses <= {"socket", "select", "selectors", "ssl"}, f"interop imports {uses}"


def test_importing_the_library_does_not_import_the_stdlib_socket_machinery() -> None:
    """``import sansock, sansock_fake`` loads no socket/select/selectors/ssl:
    ``sansock_fake.patch_stdlib`` imports the interop layer on first use."""
    code = (
        "import sys, sansock, sansock_fake\n"
        "sansock_fake.FakeKernel()\n"
        "print(sorted(m for m in sys.modules if m in {'socket', '_socket', 'select', 'selectors', 'ssl', '_ssl'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def private_core_imports(path: Path) -> list[tuple[int, str]]:
    """Every ``sansock._private`` module *path* imports (``import``, ``from ... import``,
    or ``importlib.import_module("sansock._...")``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
            if node.module == "sansock":
                names.extend((node.lineno, f"sansock.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
        ):
            names.append((node.lineno, node.args[0].value))
    return [
        (line, name)
        for line, name in names
        if name.startswith("sansock.") and name.split(".")[1].startswith("_")
    ]


@pytest.mark.parametrize("path", library_files(*DRIVERS), ids=lambda p: str(p.relative_to(ROOT)))
def test_drivers_import_only_the_public_driver_interface(path: Path) -> None:
    # Issue 14: a driver needs only ``sansock`` and ``sansock.driver``; the
    # core's private modules may change under it.
    bad = private_core_imports(path)
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: use sansock.driver"


def test_private_import_checker_sees_violations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sansock._abi\nfrom sansock._driver import Driver\nfrom sansock import _errors, driver\n"
        "from sansock.driver import ABI\nimport importlib\nimportlib.import_module('sansock._cmsg')\n"
    )
    assert [name for _, name in private_core_imports(sample)] == [
        "sansock._abi",
        "sansock._driver",
        "sansock._errors",
        "sansock._cmsg",
    ]


# -- no import cycle among core modules (issue 14) -------------------------------


def core_module_name(path: Path, root: Path = CORE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_imports(path: Path, root: Path = CORE) -> set[str]:
    """The core modules *path* imports: at the top, in functions and under
    ``if TYPE_CHECKING:`` alike (a cycle through type-only imports is still a
    cycle a reader has to untangle)."""
    name = core_module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = {core_module_name(p, root) for p in library_files(root)}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names]
            found.update(t if t in known else module for t in targets if t in known or module in known)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
    found.discard(name)
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph = {core_module_name(p, root): core_imports(p, root) for p in library_files(root)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycle_among_core_modules() -> None:
    assert import_cycles(CORE) == []


def test_import_cycle_checker_sees_cycles(tmp_path: Path) -> None:
    package = tmp_path / "sansock"
    package.mkdir()
    (package / "__init__.py").write_text("from . import _a\n")
    (package / "_a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._b import B\n")
    (package / "_b.py").write_text("def f():\n    from . import _a\n")
    (package / "_c.py").write_text("from ._a import x\n")
    assert import_cycles(package) == [["sansock._a", "sansock._b"]]
