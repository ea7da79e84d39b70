"""CFFI builder for the native driver (out-of-line API mode).

Run by setuptools through ``setup.py``'s ``cffi_modules`` (``pip install -e
.``), or directly (``python drivers/sansock_native/_build.py``) to compile
``_sansock_native`` in place.  The C declarations live beside this script:

* ``_cdefs.h``: the cdef, what Python sees (no preprocessor);
* ``_helpers.h``: the headers and the syscall helpers (C source);
* ``_facts.h``: the build-time facts of the host ABI (C source);
* ``_gil.h``: which wrappers keep the GIL, as CPython's getsockopt and
  setsockopt do (C source, placed last).

Between the two C files this script inserts the constant tables: every name
of the linux-x86_64 profile's ``CONSTANTS`` and ``ERRNOS`` (read with
``ast.literal_eval`` from the profile's source; the core is not imported),
each under an ``#ifdef`` guard so a header that lacks a name leaves it out.
A few stdlib names are enum members rather than macros in the Linux headers
(``<linux/can/*.h>``, ``<linux/tipc.h>``, glibc's ``IPPORT_USERRESERVED``);
as CPython's socketmodule.c does, those are guarded by their header instead.
Paths are relative to this file, never to the current directory.
"""

from __future__ import annotations

import ast
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
PROFILE = HERE.parent.parent / "core" / "sansock" / "_profiles" / "linux_x86_64.py"

#: Names that are enum members (no macro) in the headers: python name ->
#: (C expression, macro that proves the header was included).
ENUM_PREFIXES: tuple[tuple[str, str, str], ...] = (
    # (python-name prefix, prefix to strip for the C name, header guard)
    ("CAN_BCM_", "CAN_BCM_", "_CAN_BCM_H"),  # <linux/can/bcm.h>: TX_SETUP...
    ("CAN_RAW_", "", "_CAN_RAW_H"),  # <linux/can/raw.h>
    ("SO_J1939_", "", "_CAN_J1939_H_"),  # <linux/can/j1939.h>
    ("SCM_J1939_", "", "_CAN_J1939_H_"),
    ("J1939_", "", "_CAN_J1939_H_"),
    ("TIPC_", "", "_LINUX_TIPC_H_"),  # <linux/tipc.h>: TIPC_*_SCOPE
    ("IPPORT_", "", "_NETINET_IN_H"),  # glibc <netinet/in.h>: enum
)

#: struct name -> C expression for the ABI's sockaddr size table.
SOCKADDR_SIZES: tuple[str, ...] = (
    "sockaddr",
    "sockaddr_storage",
    "sockaddr_in",
    "sockaddr_in6",
    "sockaddr_un",
    "sockaddr_nl",
    "sockaddr_ll",
    "sockaddr_can",
    "sockaddr_tipc",
    "sockaddr_vm",
    "sockaddr_alg",
    "sockaddr_qrtr",
)


def profile_names(path: Path = PROFILE) -> tuple[list[str], list[str]]:
    """The keys of the profile's ``CONSTANTS`` and ``ERRNOS`` literals."""
    tables: dict[str, list[str]] = {"CONSTANTS": [], "ERRNOS": []}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in tables
        ):
            value = ast.literal_eval(node.value)
            tables[node.targets[0].id] = [str(name) for name in value]
    return tables["CONSTANTS"], tables["ERRNOS"]


def _entry(name: str) -> str:
    lines = [f"#if defined({name})", f'    {{"{name}", (long long)({name})}},']
    for prefix, strip, guard in ENUM_PREFIXES:
        if name.startswith(prefix):
            expr = name[len(strip) :] if strip else name
            lines += [f"#elif defined({guard})", f'    {{"{name}", (long long)({expr})}},']
            break
    lines.append("#endif")
    return "\n".join(lines)


def constant_tables(constants: list[str], errnos: list[str]) -> str:
    """C source of the three named-value tables, each ending in a sentinel."""
    parts = ["static const struct sansock_named_value sansock_constants[] = {"]
    parts += [_entry(name) for name in constants]
    parts += ["    {NULL, 0}", "};", "static const struct sansock_named_value sansock_errnos[] = {"]
    parts += [_entry(name) for name in errnos]
    parts += ["    {NULL, 0}", "};", "static const struct sansock_named_value sansock_sizes[] = {"]
    parts += [f'    {{"{s}", (long long)sizeof(struct {s})}},' for s in SOCKADDR_SIZES]
    parts += ["    {NULL, 0}", "};", ""]
    return "\n".join(parts)


def c_source() -> str:
    constants, errnos = profile_names()
    return "\n".join(
        [
            (HERE / "_helpers.h").read_text(encoding="utf-8"),
            constant_tables(constants, errnos),
            (HERE / "_facts.h").read_text(encoding="utf-8"),
            # Last: it redefines the macros CFFI's generated wrappers use.
            (HERE / "_gil.h").read_text(encoding="utf-8"),
        ]
    )


ffibuilder = FFI()
ffibuilder.cdef((HERE / "_cdefs.h").read_text(encoding="utf-8"))
ffibuilder.set_source("sansock_native._sansock_native", c_source())

if __name__ == "__main__":
    # Build in place: the package directory's parent is the import root.
    ffibuilder.compile(tmpdir=str(HERE.parent), verbose=True)
