"""Exists only to hand setuptools the CFFI extension of the native driver.

Everything else (metadata, packages) is in pyproject.toml.  The build step
says what it compiles, since it is the one slow part of an install (pip shows
a build's output with ``pip install -v``; ``python -m build`` always does).
"""

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class build_ext_saying_what(build_ext):
    """``build_ext`` that announces the native driver's compile (about 10 s)."""

    def run(self) -> None:
        print(
            "sansock: compiling the native driver's C extension "
            "(sansock_native._sansock_native: CFFI out-of-line API mode, the syscall "
            "helpers of drivers/sansock_native/_helpers.h and the constant tables of "
            "the linux-x86_64 ABI profile) with the C compiler; this takes about 10 s. "
            "The pure-Python core and the fake kernel need no compiling.",
            file=sys.stderr,
            flush=True,
        )
        super().run()


setup(
    cmdclass={"build_ext": build_ext_saying_what},
    cffi_modules=["drivers/sansock_native/_build.py:ffibuilder"],
)
