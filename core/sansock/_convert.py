"""C argument conversions with CPython's exact error messages.

CPython parses socket arguments with three different integer converters, and
each has its own overflow message (checked against CPython 3.11):

* ``PyArg_ParseTuple`` format ``"i"`` (``recv`` flags, ``listen`` backlog,
  ``getsockopt`` level): ``PyLong_AsLong`` first (``Python int too large to
  convert to C long``), then ``signed integer is greater than maximum`` /
  ``less than minimum``.
* Argument Clinic / ``_PyLong_AsInt`` (``socket()`` family/type/proto,
  ``shutdown``): ``Python int too large to convert to C int`` either way.
* ``"n"`` (buffer sizes): ``Python int too large to convert to C ssize_t``.

All start with ``operator.index``, whose ``TypeError`` reads ``'str' object
cannot be interpreted as an integer``.

The sizes are those of the *Python build running the core* (C ``int`` is 32
bits on every platform CPython supports; ``long`` and ``Py_ssize_t`` follow
``sys.maxsize`` on LP64 and ILP32 Unix), not of the driver's ABI.
"""

from __future__ import annotations

import operator
import sys

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "arg_int",
    "clinic_int",
    "c_long",
    "arg_ssize",
    "arg_uint_wrapping",
]

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
LONG_MAX = sys.maxsize
LONG_MIN = -sys.maxsize - 1
SSIZE_MAX = sys.maxsize


def c_long(value: object) -> int:
    """``PyLong_AsLong``: ``OverflowError`` outside the C ``long`` range."""
    n = operator.index(value)  # type: ignore[arg-type]
    if n > LONG_MAX or n < LONG_MIN:
        raise OverflowError("Python int too large to convert to C long")
    return n


def arg_int(value: object) -> int:
    """``PyArg_ParseTuple`` format ``"i"``."""
    if type(value) is int and INT_MIN <= value <= INT_MAX:
        return value
    n = c_long(value)
    if n > INT_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if n < INT_MIN:
        raise OverflowError("signed integer is less than minimum")
    return n


def clinic_int(value: object) -> int:
    """``_PyLong_AsInt`` (Argument Clinic ``int``)."""
    n = operator.index(value)  # type: ignore[arg-type]
    if n > INT_MAX or n < INT_MIN:
        raise OverflowError("Python int too large to convert to C int")
    return n


def arg_ssize(value: object) -> int:
    """Format ``"n"`` (``Py_ssize_t``)."""
    if type(value) is int and -SSIZE_MAX - 1 <= value <= SSIZE_MAX:
        return value
    n = operator.index(value)  # type: ignore[arg-type]
    if n > SSIZE_MAX or n < -SSIZE_MAX - 1:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return n


def arg_uint_wrapping(value: object) -> int:
    """Format ``"I"``: ``unsigned int`` with no overflow check (wraps mod 2**32)."""
    return operator.index(value) & 0xFFFFFFFF  # type: ignore[arg-type]


def wrap_c_int(n: int) -> int:
    """A C cast to ``int``: two's-complement truncation to 32 bits."""
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n & 0x80000000 else n
