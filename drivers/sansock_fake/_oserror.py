"""The errno helper: every failure of the fake kernel is ``OSError(code, strerror)``.

As trio's fake network does, we raise through ``OSError(code, os.strerror(code))``
so Python narrows the exception to its PEP 3151 subclass (``BlockingIOError``
for EAGAIN...), exactly as ``PyErr_SetFromErrno`` does for the native driver.

A kernel wearing another platform's ABI (the darwin profile on Linux) raises
its platform's numbers, which the host would name and narrow wrongly (35 is
EAGAIN on Darwin, EDEADLK on Linux): :func:`as_platform_error` gives such an
error the platform's ``strerror`` text (``ABI.messages``) and the PEP 3151
subclass of its errno *name*, once, where a syscall returns.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import TYPE_CHECKING, NoReturn

from sansock.driver import errno_oserror

if TYPE_CHECKING:
    from sansock.driver import ABI

__all__ = ["errno_error", "raise_errno", "errno_name", "as_platform_error", "platform_errno_name"]


def errno_error(code: int) -> OSError:
    """``OSError(code, strerror(code))`` (narrowed to its subclass by Python);
    ``OSError(0, "Error")`` for 0, as ``PyErr_SetFromErrno`` words it."""
    return errno_oserror(code, os.strerror)


def raise_errno(code: int) -> NoReturn:
    """Raise ``OSError(code, strerror(code))``."""
    raise errno_error(code)


def errno_name(code: int) -> str:
    """``"EAGAIN"`` for 11: the name used in the syscall trace."""
    return _errno.errorcode.get(code, str(code))


def as_platform_error(abi: ABI, exc: OSError) -> OSError:
    """*exc* (raised with *abi*'s errno number) as the platform would raise it:
    its ``strerror`` text and the subclass Python gives the errno of that name
    (``BlockingIOError(35, "Resource temporarily unavailable")`` on Darwin).
    *exc* itself when *abi* carries no texts (the host's own platform) or the
    number has no name there."""
    code = exc.errno
    if not abi.messages or code is None or type(exc) not in _NARROWED:
        return exc
    name = abi.errno_name(code)
    if name is None:
        return exc
    message = abi.messages.get(name, exc.strerror)
    host_code = getattr(_errno, name, None)
    # OSError.__new__ picks the subclass from the host's number of the same name.
    kind = type(OSError(host_code, "")) if host_code is not None else OSError
    error = kind(code, message)
    error.__traceback__ = exc.__traceback__
    return error


def platform_errno_name(abi: ABI, code: int) -> str:
    """The trace's name of *code*: the platform's (``ABI.messages`` set), else the host's."""
    if abi.messages:
        return abi.errno_name(code) or str(code)
    return errno_name(code)


#: The exceptions ``OSError(code, text)`` can be (a subclass with other
#: arguments, such as ``gaierror``, is left alone).
_NARROWED = frozenset(type(OSError(code, "")) for code in _errno.errorcode) | {OSError}
