"""Sphinx configuration for the sansock documentation."""

from __future__ import annotations

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
nitpicky = False
