"""Exists only to hand setuptools the CFFI extension of the native driver.

Everything else (metadata, packages) is in pyproject.toml.
"""

from setuptools import setup

setup(cffi_modules=["drivers/sansock_native/_build.py:ffibuilder"])
