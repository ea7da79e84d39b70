"""Sphinx configuration for the sansock documentation.

Every example in these pages is a doctest (``make doctest``).  The global
setup below turns a socket left open by an example into a failure: a
``ResourceWarning`` raised inside ``__del__`` reaches ``sys.unraisablehook``,
which records it, and the global cleanup of each page fails if anything was
recorded.
"""

from __future__ import annotations

from pathlib import Path

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
autodoc_member_order = "bysource"
intersphinx_mapping: dict[str, tuple[str, None]] = {}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Python's socket module as a typed sans-IO core",
    "fixed_sidebar": True,
}
nitpicky = False

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
