"""Sphinx configuration for the sansock documentation.

Every example in these pages is a doctest (``make doctest``).  The global
setup below turns a socket left open by an example into a failure: a
``ResourceWarning`` raised inside ``__del__`` reaches ``sys.unraisablehook``,
which records it, and the global cleanup of each page fails if anything was
recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The repository root, for the hidden doctest that runs README.md's examples.
_ROOT = Path(__file__).resolve().parent.parent

project = "sansock"
author = "the sansock developers"
copyright = "2026, the sansock developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autodoc_typehints = "description"
# The CPython-style first lines of the docstrings ("socketpair([family[, type[,
# proto]]]) -> (socket object, socket object)") stay text; the signatures
# shown are the real, typed ones.
autodoc_docstring_signature = False
autodoc_member_order = "bysource"
# The Python documentation's inventory, for links to the stdlib.  These
# machines cannot download it at build time, so it is shipped with the docs:
# python3.11-objects.inv is /usr/share/doc/python3.11/html/objects.inv of
# Debian 12's python3.11-doc package (3.11.2-6+deb12u8).  If it is missing,
# the installed package's copy is used.
_INVENTORY = _ROOT / "docs" / "python3.11-objects.inv"
_DEBIAN_INVENTORY = Path("/usr/share/doc/python3.11/html/objects.inv")
intersphinx_mapping = {
    "python": (
        "https://docs.python.org/3.11",
        str(_INVENTORY if _INVENTORY.exists() or not _DEBIAN_INVENTORY.exists() else _DEBIAN_INVENTORY),
    ),
}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Python's socket module as a typed sans-IO core",
    "fixed_sidebar": True,
}
nitpicky = True
# An annotation ``type[_T]`` makes Sphinx search for a ``type`` target and
# find the attributes named ``type`` (socket.type, CutItem.type...): that
# ambiguity, and only it, is not an error.  Every missing target still is.
suppress_warnings = ["ref.python"]

doctest_global_setup = f"""
_REPO_ROOT = {str(_ROOT)!r}
import gc as _gc
import sys as _sys
import warnings as _warnings

_warnings.simplefilter("error", ResourceWarning)
_unraisable = []
_sys.unraisablehook = _unraisable.append
"""

doctest_global_cleanup = """
_gc.collect()
assert not _unraisable, [str(u.exc_value) for u in _unraisable]
"""


# typeshed's buffer aliases (``from _typeshed import ReadableBuffer``, for
# type checkers only) link to the Python glossary's "bytes-like object".
_TYPESHED_BUFFERS = {"ReadableBuffer", "WriteableBuffer"}


def _typeshed_buffer(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py" or node.get("reftarget") not in _TYPESHED_BUFFERS:
        return None
    from sphinx.ext import intersphinx

    term = node.deepcopy()
    term["refdomain"], term["reftype"], term["reftarget"] = "std", "term", "bytes-like object"
    return intersphinx.missing_reference(app, env, term, contnode)


def _type_variable(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """A type variable (``_T`` in ``get(kind: type[_T]) -> _T | None``) is
    shown as its name: it is a placeholder, not something to link to."""
    target = node.get("reftarget", "")
    module_name, _, name = target.rpartition(".")
    if node.get("refdomain") != "py" or not module_name:
        return None
    import importlib
    from typing import TypeVar

    try:
        value = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return contnode if isinstance(value, TypeVar) else None


def setup(app: Any) -> None:
    app.connect("missing-reference", _typeshed_buffer)
    app.connect("missing-reference", _type_variable)
