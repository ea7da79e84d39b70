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
``sys.maxsize`` on LP64 and ILP32 Unix), unless an ABI is passed: then they
are that platform's, to reproduce CPython built for it (the i386 profile's
32-bit ``long`` gives 32-bit overflow messages).  This module is the one
place these converters live.
"""

from __future__ import annotations

import operator
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = [
    "PY_TPFLAGS_HEAPTYPE",
    "INT_MAX",
    "INT_MIN",
    "SSIZE_MAX",
    "arg_int",
    "arg_ssize",
    "arg_uint_wrapping",
    "c_long",
    "clinic_int",
    "converterr_name",
    "tp_name",
    "wrap_c_int",
]

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
SSIZE_MAX = sys.maxsize
#: Bits of C ``long`` and ``Py_ssize_t`` in this Python build (LP64 or ILP32 Unix).
_HOST_BITS = sys.maxsize.bit_length() + 1


def _long_as(value: object, bits: int, ctype: str) -> int:
    """``PyLong_As<ctype>``: ``__index__`` then a signed range check."""
    # _PyNumber_Index: "'str' object cannot be interpreted as an integer";
    # operator.index raises exactly that (and nothing for int subclasses).
    number = operator.index(value)  # type: ignore[arg-type]
    limit = 1 << (bits - 1)
    if not -limit <= number < limit:
        raise OverflowError(f"Python int too large to convert to C {ctype}")
    return number


def c_long(value: object, abi: ABI | None = None) -> int:
    """``PyLong_AsLong``: ``OverflowError`` outside the C ``long`` range.

    The widths are this Python build's unless *abi* names a platform whose
    CPython is being reproduced (``sizeof_long``, ``sizeof_int``...); the same
    holds for every converter here.
    """
    return _long_as(value, 8 * abi.sizeof_long if abi is not None else _HOST_BITS, "long")


def arg_int(value: object, abi: ABI | None = None) -> int:
    """``PyArg_ParseTuple`` format ``"i"`` (``convertsimple`` in getargs.c)."""
    if abi is None and type(value) is int and INT_MIN <= value <= INT_MAX:
        return value
    number = c_long(value, abi)
    limit = 1 << (8 * abi.sizeof_int - 1) if abi is not None else 1 << 31
    if number >= limit:
        raise OverflowError("signed integer is greater than maximum")
    if number < -limit:
        raise OverflowError("signed integer is less than minimum")
    return number


def clinic_int(value: object) -> int:
    """``_PyLong_AsInt`` (Argument Clinic ``int``)."""
    return _long_as(value, 32, "int")


def arg_ssize(value: object, abi: ABI | None = None) -> int:
    """Format ``"n"`` (``Py_ssize_t``)."""
    if abi is None and type(value) is int and -SSIZE_MAX - 1 <= value <= SSIZE_MAX:
        return value
    return _long_as(value, 8 * abi.sizeof_size_t if abi is not None else _HOST_BITS, "ssize_t")


def arg_uint_wrapping(value: object, bits: int = 32) -> int:
    """Format ``"I"``/``"k"``: unsigned with no overflow check (wraps mod 2**bits)."""
    return operator.index(value) & ((1 << bits) - 1)  # type: ignore[arg-type]


def wrap_c_int(n: int) -> int:
    """A C cast to ``int``: two's-complement truncation to 32 bits."""
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n & 0x80000000 else n


# Include/object.h: Py_TPFLAGS_HEAPTYPE is set for classes made at run time
# (class statements, PyType_FromSpec); Py_TPFLAGS_IMMUTABLETYPE for static
# types and for the C types of extension modules made from a spec.
PY_TPFLAGS_HEAPTYPE = 1 << 9
PY_TPFLAGS_IMMUTABLETYPE = 1 << 8


def tp_name(obj: object) -> str:
    """``Py_TYPE(obj)->tp_name`` as CPython's ``%.100s``/``%.200s`` messages show it.

    C types carry their module in ``tp_name`` (``collections.OrderedDict``,
    ``array.array``) unless they are builtins; classes made by a class
    statement (mutable types) carry the bare name.
    """
    cls = type(obj)
    if cls.__module__ == "builtins" or not cls.__flags__ & PY_TPFLAGS_IMMUTABLETYPE:
        return cls.__name__
    return f"{cls.__module__}.{cls.__name__}"


def converterr_name(obj: object) -> str:
    """The type name in getargs.c ``converterr`` messages: ``None`` for None."""
    return "None" if obj is None else tp_name(obj)
