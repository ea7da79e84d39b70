"""The static declarations of the lazily served constants match the run time.

``sansock.AF_INET`` and ``net.SOL_SOCKET`` are looked up when first asked for
(a module ``__getattr__``, PEP 562), in the ABI of the driver.  Type checkers
cannot see that, so the names are declared for them:

* ``core/sansock/_constant_types.py``: the module's constants (star-imported
  by ``sansock/__init__.py`` under ``TYPE_CHECKING``) and
  ``_BindingConstants``, a base of
  :class:`sansock.Binding`;
* the members of ``AddressFamily``, ``SocketKind``, ``MsgFlag`` and
  ``AddressInfo`` in ``core/sansock/_enums.py``.

Both are generated from the ABI profiles by this file
(``python tests/test_static_names.py --write``), per ``sys.platform`` as
typeshed does.  The tests below read the declarations back with ``ast``, as a
type checker would for a given platform, and compare them with what a
binding serves at run time for every profile of that platform: the same
names, each with the declared type.  So the declarations cannot drift from
the profiles, and a name the run time does not serve is a type error.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
import types
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

import sansock
from sansock import ABI, Binding, Driver
from sansock import driver as driver_interface
from sansock._enums import ENUM_PREFIXES, AddressFamily, AddressInfo, MsgFlag, SocketKind
from sansock._profiles import DARWIN_ARM64, LINUX_AARCH64, LINUX_I386, LINUX_X86_64
from sansock_fake import FakeKernel

ROOT = Path(__file__).resolve().parent.parent
ENUMS_PY = ROOT / "core" / "sansock" / "_enums.py"
TYPES_PY = ROOT / "core" / "sansock" / "_constant_types.py"

#: The platforms the declarations distinguish, and the profiles of each.
PLATFORMS: dict[str, list[ABI]] = {
    "linux": [LINUX_X86_64, LINUX_AARCH64, LINUX_I386],
    "darwin": [DARWIN_ARM64],
}
ENUM_CLASSES: dict[str, type] = {
    "AddressFamily": AddressFamily,
    "SocketKind": SocketKind,
    "MsgFlag": MsgFlag,
    "AddressInfo": AddressInfo,
}


# -- what the run time serves ----------------------------------------------------


class _AbiOnly:
    """A driver that only has an ABI: enough for a binding's constants."""

    def __init__(self, abi: ABI) -> None:
        self.abi = abi


def _binding(abi: ABI) -> Binding:
    return sansock.using(cast(Driver, _AbiOnly(abi)))


def _type_name(value: object) -> str:
    for name, cls in ENUM_CLASSES.items():
        if isinstance(value, cls):
            return name
    assert type(value) is int, (value, type(value))
    return "int"


def served(abi: ABI) -> dict[str, str]:
    """Every constant a binding on *abi* serves, with its type's name.

    Asks for every name the ABI knows (served or not): the ones served are
    those ``getattr`` answers.
    """
    net = _binding(abi)
    out: dict[str, str] = {}
    for name in abi.constants:
        try:
            value = getattr(net, name)
        except AttributeError:
            continue
        out[name] = _type_name(value)
    return out


def served_members(abi: ABI) -> dict[str, set[str]]:
    net = _binding(abi)
    return {name: set(getattr(net, name).__members__) for name in ENUM_CLASSES}


def expected(platform: str) -> dict[str, str]:
    """What every profile of *platform* serves (they must agree)."""
    tables = [served(abi) for abi in PLATFORMS[platform]]
    for abi, table in zip(PLATFORMS[platform], tables):
        assert table == tables[0], f"{abi.name} serves other names than {PLATFORMS[platform][0].name}"
    return tables[0]


# -- what the declarations say (read as a type checker reads them) ---------------


def _declared(body: list[ast.stmt], platform: str) -> dict[str, str]:
    """Names bound in *body* as seen on *platform*: ``name -> annotation``
    (``"member"`` for an enum member ``NAME = auto()``)."""
    env = {"TYPE_CHECKING": True, "sys": SimpleNamespace(platform=platform)}
    out: dict[str, str] = {}
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is None:
            out[node.target.id] = ast.unparse(node.annotation).replace("_", "")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = _final_member_type(node.target.id, node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = "member"
        elif isinstance(node, ast.If):
            test = eval(compile(ast.Expression(node.test), "<if>", "eval"), env)  # noqa: S307
            out.update(_declared(node.body if test else node.orelse, platform))
    return out


def _final_member_type(name: str, node: ast.AnnAssign) -> str:
    """The enum of ``NAME: _Final = _AddressFamily.NAME`` (typeshed's form: the
    member itself, so ``==`` narrows), checking that it names its own member."""
    member = node.value
    assert ast.unparse(node.annotation) == "_Final", ast.unparse(node)
    assert isinstance(member, ast.Attribute) and isinstance(member.value, ast.Name), ast.unparse(node)
    assert member.attr == name, f"{name} declared as {ast.unparse(node)}"
    return member.value.id.lstrip("_")


def _class_body(tree: ast.Module, name: str) -> list[ast.stmt]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node.body
    raise AssertionError(f"no class {name}")


def declared_module(platform: str) -> dict[str, str]:
    tree = ast.parse(TYPES_PY.read_text(encoding="utf-8"))
    return _declared([n for n in tree.body if not isinstance(n, ast.ClassDef)], platform)


def declared_binding(platform: str) -> dict[str, str]:
    tree = ast.parse(TYPES_PY.read_text(encoding="utf-8"))
    return _declared(_class_body(tree, "_BindingConstants"), platform)


def declared_members(platform: str) -> dict[str, set[str]]:
    tree = ast.parse(ENUMS_PY.read_text(encoding="utf-8"))
    return {name: set(_declared(_class_body(tree, name), platform)) for name in ENUM_CLASSES}


# -- the tests --------------------------------------------------------------------


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_module_declares_exactly_the_served_constants(platform: str) -> None:
    assert declared_module(platform) == expected(platform)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_binding_declares_exactly_the_served_constants(platform: str) -> None:
    declared = declared_binding(platform)
    enums = {name: f"type[{name}]" for name in ENUM_CLASSES}
    assert declared == {**expected(platform), **enums}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_enums_declare_exactly_the_served_members(platform: str) -> None:
    for abi in PLATFORMS[platform]:
        assert declared_members(platform) == served_members(abi), abi.name


def test_the_module_serves_what_it_declares() -> None:
    # The module-level API (the default binding) on the fake kernel, which
    # wears the linux-x86_64 profile; and nothing else: no Binding attribute
    # (``abi``, ``driver``...) leaks through the module's __getattr__.
    declared = declared_module("linux")
    with sansock.swap_default_driver(FakeKernel()):
        for name, type_name in declared.items():
            assert _type_name(getattr(sansock, name)) == type_name, name
        for name in ENUM_CLASSES:
            assert issubclass(getattr(sansock, name), ENUM_CLASSES[name])
        for name in ("abi", "enums", "constants", "swap_driver", "POLLIN", "O_NONBLOCK"):
            with pytest.raises(AttributeError, match=f"module 'sansock' has no attribute '{name}'"):
                getattr(sansock, name)
        # ``sansock.driver`` is the public driver interface (issue 14), not
        # the binding's driver.
        assert isinstance(sansock.driver, types.ModuleType)
        assert sansock.driver is driver_interface and driver_interface.Driver is sansock.Driver


def test_unknown_names_are_attribute_errors_as_in_the_stdlib() -> None:
    net = _binding(LINUX_X86_64)
    with pytest.raises(AttributeError, match="'Binding' object has no attribute 'NOT_A_CONSTANT_TYPO'"):
        net.NOT_A_CONSTANT_TYPO  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="module 'sansock' has no attribute 'NOT_A_CONSTANT_TYPO'"):
        sansock.NOT_A_CONSTANT_TYPO  # type: ignore[attr-defined]


def test_every_binding_enum_derives_from_the_static_class() -> None:
    # So ``isinstance(net.AF_INET, sansock.AddressFamily)``-style checks
    # against the static classes hold for every driver's enums.
    for abi in (LINUX_X86_64, DARWIN_ARM64):
        net = _binding(abi)
        assert isinstance(net.AF_INET, AddressFamily)
        assert isinstance(net.SOCK_STREAM, SocketKind)
        assert isinstance(net.MSG_PEEK, MsgFlag)
        assert issubclass(net.AddressInfo, AddressInfo)  # (no AI_* in the darwin profile)
        assert repr(net.AF_INET) == "<AddressFamily.AF_INET: 2>"
    # And against another binding's class, as the static types say: one
    # AddressFamily whatever the binding (its values may differ: AF_INET6 is
    # 30 on darwin, 10 on Linux).
    linux, darwin = _binding(LINUX_X86_64), _binding(DARWIN_ARM64)
    assert isinstance(darwin.AF_INET6, linux.AddressFamily) and int(darwin.AF_INET6) == 30
    assert issubclass(darwin.SocketKind, linux.SocketKind)
    assert not issubclass(linux.SocketKind, linux.AddressFamily)
    assert not isinstance(linux.SOCK_STREAM, darwin.AddressFamily)
    assert not isinstance(1, linux.AddressFamily)


def test_generated_files_are_up_to_date() -> None:
    assert TYPES_PY.read_text(encoding="utf-8") == render_types_module()
    assert ENUMS_PY.read_text(encoding="utf-8") == render_enums_module(ENUMS_PY.read_text(encoding="utf-8"))


# -- the examples of the typing how-to are type-checked ------------------------------

HOWTO_RST = ROOT / "docs" / "howto" / "typing.rst"
HOWTO_CHECK = ROOT / "typing" / "check_howto_typing.py"


def python_blocks(rst: str) -> list[str]:
    """The ``.. code-block:: python`` bodies of a reST page, dedented."""
    blocks: list[str] = []
    lines = rst.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            i += 1
            body: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
        else:
            i += 1
    return blocks


def as_checked(block: str) -> str:
    """A docs example as the check file holds it: each ``# mypy: ... [code]``
    comment is the ``# type: ignore[code]`` that proves the error."""
    return re.sub(r"\s+# mypy: .*\[([a-z-]+)\]$", r"  # type: ignore[\1]", block, flags=re.MULTILINE)


def test_the_typing_howto_examples_are_type_checked() -> None:
    # mypy --strict (make typecheck) checks typing/check_howto_typing.py; each
    # example of the page must be there, verbatim, inside a function.
    checked = HOWTO_CHECK.read_text(encoding="utf-8")
    blocks = python_blocks(HOWTO_RST.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    for block in blocks:
        assert textwrap.indent(as_checked(block), "    ") in checked, f"not in {HOWTO_CHECK.name}:\n{block}"


# -- the generator ------------------------------------------------------------------


def _split(tables: dict[str, dict[str, str]]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Names common to every platform (with one type), and the rest per platform."""
    platforms = sorted(tables)
    common = {
        name: kind
        for name, kind in tables[platforms[0]].items()
        if all(tables[p].get(name) == kind for p in platforms)
    }
    rest = {p: {n: k for n, k in tables[p].items() if n not in common} for p in platforms}
    return common, rest


def _lines(table: dict[str, str], indent: str, fmt: str) -> list[str]:
    return [indent + fmt.format(name=name, kind=kind) for name, kind in sorted(table.items())]


def _platform_block(
    common: dict[str, str], rest: dict[str, dict[str, str]], indent: str, fmt: str
) -> list[str]:
    out = _lines(common, indent, fmt)
    keyword = "if"
    for platform, table in rest.items():
        if table:
            out.append(f'{indent}{keyword} sys.platform == "{platform}":')
            out.extend(_lines(table, indent + "    ", fmt))
            keyword = "elif"
    return out


_TYPES_HEADER = '''"""The static types of the constants ``sansock`` and a binding serve lazily.

GENERATED by ``python tests/test_static_names.py --write`` from the ABI
profiles: do not edit by hand.

``sansock.AF_INET`` and ``net.SOL_SOCKET`` are looked up when first asked
for (``__getattr__``, PEP 562), in the ABI of the driver, so a type checker
cannot see them.  They are declared here for type checkers only, per
platform as typeshed does, each with its precise type: the member of
``AddressFamily``, ``SocketKind``, ``MsgFlag`` or ``AddressInfo`` in
typeshed's form ``AF_INET: Final = AddressFamily.AF_INET`` (so
``if info[0] == sansock.AF_INET6:`` narrows, and ``MSG_PEEK | MSG_OOB`` is
a ``MsgFlag``), or an ``int``.  The
module-level names are star-imported by ``sansock/__init__.py`` under
``TYPE_CHECKING`` (so this module has no ``__all__``: every public name
here is one of those constants); ``_BindingConstants`` is a base of
:class:`sansock.Binding`.  Nothing here exists at run time (the enum
members are declared for type checkers only too).

``tests/test_static_names.py`` checks that these names are exactly the ones
the run time serves on every profile of each platform, with these types.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from typing import Final as _Final

from ._enums import AddressFamily as _AddressFamily
from ._enums import AddressInfo as _AddressInfo
from ._enums import MsgFlag as _MsgFlag
from ._enums import SocketKind as _SocketKind

'''


def _tables() -> dict[str, dict[str, str]]:
    return {platform: expected(platform) for platform in sorted(PLATFORMS)}


def _declaration(line: str) -> str:
    # "AF_INET: _AddressFamily" -> "AF_INET: _Final = _AddressFamily.AF_INET"; ints stay int.
    head, sep, kind = line.partition(": _")
    if not sep:
        return line
    if kind == "int":
        return f"{head}: int"
    return f"{head}: _Final = _{kind}.{head.strip()}"


def render_types_module() -> str:
    common, rest = _split(_tables())
    fmt = "{name}: _{kind}"
    lines = [_TYPES_HEADER.rstrip("\n"), "", "# -- sansock.<NAME> " + "-" * 60, "if TYPE_CHECKING:"]
    lines += [_declaration(line) for line in _platform_block(common, rest, "    ", fmt)]
    lines += [
        "",
        "",
        "class _BindingConstants:",
        '    """The constants and enums of a :class:`sansock.Binding`, for type checkers.',
        "",
        "    At run time this class has no attributes: the binding's ``__getattr__``",
        "    looks each name up in its driver's ABI.",
        '    """',
        "",
        "    AddressFamily: type[_AddressFamily]",
        "    SocketKind: type[_SocketKind]",
        "    MsgFlag: type[_MsgFlag]",
        "    AddressInfo: type[_AddressInfo]",
        "",
        "    if TYPE_CHECKING:",
    ]
    lines += [_declaration(line) for line in _platform_block(common, rest, "        ", fmt)]
    return "\n".join(lines) + "\n"


def render_enums_module(current: str) -> str:
    members = {
        platform: {
            name: "member" for cls in ENUM_CLASSES for name in served_members(PLATFORMS[platform][0])[cls]
        }
        for platform in PLATFORMS
    }
    text = current
    for cls, prefix in ENUM_PREFIXES.items():
        tables = {p: {n: k for n, k in members[p].items() if n.startswith(prefix)} for p in sorted(members)}
        common, rest = _split(tables)
        begin = f"        # BEGIN generated {cls} (tests/test_static_names.py --write)\n"
        end = f"        # END generated {cls}\n"
        head, sep, tail = text.partition(begin)
        assert sep, f"no generated block for {cls} in {ENUMS_PY}"
        _, sep, tail = tail.partition(end)
        assert sep, f"unterminated generated block for {cls}"
        block = _platform_block(common, rest, "        ", "{name} = auto()")
        text = head + begin + "".join(line + "\n" for line in block) + end + tail
    return text


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_static_names.py --write")
    TYPES_PY.write_text(render_types_module(), encoding="utf-8")
    ENUMS_PY.write_text(render_enums_module(ENUMS_PY.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {TYPES_PY.relative_to(ROOT)} and the member blocks of {ENUMS_PY.relative_to(ROOT)}")
