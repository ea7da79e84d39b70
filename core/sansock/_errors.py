"""Exceptions of the socket module and the errno -> exception mapping.

CPython raises socket errors with ``PyErr_SetFromErrno(PyExc_OSError)``, which
calls ``OSError(errno, strerror)``; ``OSError.__new__`` then picks the PEP 3151
subclass (``BlockingIOError`` for EAGAIN, ``ConnectionResetError`` for
ECONNRESET...).  We raise through the same constructor, so the narrowing is
Python's own and needs no table here.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["error", "herror", "gaierror", "timeout", "timed_out", "errno_oserror"]

#: ``socket.error`` is ``OSError`` since Python 3.3.
error = OSError

#: ``socket.timeout`` is ``TimeoutError`` since Python 3.10.
timeout = TimeoutError


class herror(OSError):
    """Address-related error from ``gethostbyname_ex``/``gethostbyaddr``.

    Raised as ``herror(h_errno, hstrerror(h_errno))`` as in CPython's
    ``set_herror``.
    """


class gaierror(OSError):
    """Address-related error from ``getaddrinfo``/``getnameinfo``.

    Raised as ``gaierror(code, gai_strerror(code))`` as in CPython's
    ``set_gaierror``; ``EAI_SYSTEM`` is raised as a plain errno ``OSError``.
    """


# CPython's socket module names them ``socket.herror``/``socket.gaierror``.
herror.__module__ = "sansock"
gaierror.__module__ = "sansock"


def timed_out() -> TimeoutError:
    """The exception a poll deadline raises: ``TimeoutError('timed out')``, errno None."""
    return TimeoutError("timed out")


def errno_oserror(code: int, strerror: Callable[[int], str]) -> OSError:
    """The exception ``PyErr_SetFromErrno`` makes of errno *code*.

    ``OSError(code, strerror(code))``, which Python narrows to its PEP 3151
    subclass; for errno 0 -- a C library call that failed without setting
    errno, such as ``getaddrinfo``'s ``EAI_SYSTEM`` -- the text is ``"Error"``,
    not ``strerror(0)`` ("Sometimes errno didn't get set": Python/errors.c,
    ``PyErr_SetFromErrnoWithFilenameObjects``).

    >>> import os
    >>> from sansock.driver import errno_oserror
    >>> errno_oserror(0, os.strerror)
    OSError(0, 'Error')
    >>> type(errno_oserror(11, os.strerror)).__name__
    'BlockingIOError'
    """
    return OSError(code, strerror(code) if code else "Error")
