"""The errno helper: every failure of the fake kernel is ``OSError(code, strerror)``.

As trio's fake network does, we raise through ``OSError(code, os.strerror(code))``
so Python narrows the exception to its PEP 3151 subclass (``BlockingIOError``
for EAGAIN...), exactly as ``PyErr_SetFromErrno`` does for the native driver.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import NoReturn

__all__ = ["errno_error", "raise_errno", "errno_name"]


def errno_error(code: int) -> OSError:
    """``OSError(code, strerror(code))`` (narrowed to its subclass by Python)."""
    return OSError(code, os.strerror(code))


def raise_errno(code: int) -> NoReturn:
    """Raise ``OSError(code, strerror(code))``."""
    raise errno_error(code)


def errno_name(code: int) -> str:
    """``"EAGAIN"`` for 11: the name used in the syscall trace."""
    return _errno.errorcode.get(code, str(code))
