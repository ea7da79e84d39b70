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

Beyond the integer converters, this module holds every other argument
conversion of the socket methods: the buffer converters (``"y*"``:
:func:`bytes_like`, ``"w*"``: :func:`writable_arg`), ``sendmsg``/``recvmsg``/
``recvmsg_into``'s argument parsing (below, "Message arguments"), and the
timeout values of ``settimeout``/``setblocking`` ("Timeout values").
(Address arguments are parsed by the family's codec in ``_address``.)
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, NamedTuple, SupportsIndex, cast

from ._pyrules import RULES, PythonRules

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = [
    "BLOCKING",
    "NON_BLOCKING",
    "PY_TPFLAGS_HEAPTYPE",
    "INT_MAX",
    "INT_MIN",
    "SSIZE_MAX",
    "RecvmsgArgs",
    "RecvmsgIntoArgs",
    "arg_int",
    "arg_ssize",
    "arg_uint_wrapping",
    "bytes_like",
    "c_long",
    "check_ancbufsize",
    "clinic_int",
    "converterr_name",
    "is_sequence",
    "parse_blocking",
    "parse_timeout",
    "getsockopt_args",
    "recv_args",
    "recv_into_args",
    "recvmsg_args",
    "recvmsg_into_args",
    "recvmsg_into_buffers",
    "sendmsg_afalg_args",
    "sendmsg_buffers",
    "sequence_fast",
    "setsockopt_args",
    "setsockopt_null_args",
    "timeout_seconds",
    "tp_name",
    "wrap_c_int",
    "writable_arg",
]

builtins_type = type  # socket_args' parameter `type` shadows the builtin
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


def socket_args(family: object, type: object, proto: object) -> tuple[int, int, int]:
    """sock_initobj's three ints, argument by argument: Argument Clinic's
    ``int`` (``_PyLong_AsInt``: ``__index__``, so a lying int subclass is
    taken at its value, then the C int range) on 3.11+, the ``"|iiiO:socket"``
    format units on 3.10."""
    if RULES.socket_args_clinic:
        # clinic_int written out, argument by argument (this is every socket()
        # given an IntEnum, as create_connection's are): one frame, not seven.
        out: list[int] = []
        for value in (family, type, proto):
            number = value if builtins_type(value) is int else operator.index(value)  # type: ignore[arg-type]
            if not INT_MIN <= number <= INT_MAX:
                raise OverflowError("Python int too large to convert to C int")
            out.append(number)
        return out[0], out[1], out[2]
    return arg_int(family), arg_int(type), arg_int(proto)


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


# ---------------------------------------------------------------------------
# Message arguments
# ---------------------------------------------------------------------------

# Argument parsing that CPython's ``sendmsg``/``recvmsg``/``recvmsg_into`` do
# before the syscall, with the stdlib's exception types, messages and order.
#
# Everything here is pure: it turns Python objects into the ints and buffers a
# driver takes.  Sources are CPython 3.11's ``Modules/socketmodule.c``
# (``sock_sendmsg``, ``sock_sendmsg_iovec``, ``sock_recvmsg``,
# ``sock_recvmsg_into``, ``sock_recvmsg_guts``) and ``Python/getargs.c`` (the
# ``"i"``, ``"n"``, ``"y*"``, ``"w*"`` converters and ``PySequence_Fast``).
#
# Call order, as in ``socketmodule.c``:
#
# * ``recvmsg(bufsize[, ancbufsize[, flags]])``: :func:`recvmsg_args` (the
#   ``"n|ni"`` parse and the negative ``bufsize`` check), then the caller's
#   ``getsockaddrlen(family)``, then :func:`check_ancbufsize`.
# * ``recvmsg_into(buffers[, ancbufsize[, flags]])``: :func:`recvmsg_into_args`
#   (the ``"O|ni"`` parse, then :func:`recvmsg_into_buffers`), then
#   ``getsockaddrlen``, then :func:`check_ancbufsize`.
# * ``sendmsg(buffers[, ancdata[, flags[, address]]])``: :func:`parse_c_int` on
#   ``flags`` (the ``"O|OiO"`` parse), then the address, then
#   :func:`sendmsg_buffers`, then ``sansock._cmsg.pack_ancdata``.
#
# The memoryviews returned here export the caller's buffers: release them (or
# drop them) once the syscall is done, as CPython's ``PyBuffer_Release`` does.

#: ``INT_MAX`` (``int`` is 32 bits on every platform sansock has a profile
#: for); bounds the iovec count: "argument 1 is too long".
_INT_MAX = (1 << 31) - 1

_RECVMSG_INTO_ITEMS = (
    "recvmsg_into() argument 1 must be an iterable of single-segment read-write buffers"
)


def _as_byte_view(view: memoryview) -> memoryview:
    """A flat unsigned-byte view of a C-contiguous *view* (what ``PyBUF_SIMPLE`` gives C)."""
    if view.format == "B" and view.ndim == 1:
        return view
    try:
        return view.cast("B")
    except (TypeError, ValueError):  # an exotic format memoryview cannot cast
        return view


def _export(obj: object) -> memoryview:
    """``PyObject_GetBuffer``: ``memoryview(obj)``, checked at run time."""
    return memoryview(obj)  # type: ignore[arg-type]  # any object: the check is the point


def bytes_like(obj: object) -> memoryview:
    """The ``"y*"`` converter: ``PyObject_GetBuffer(obj, PyBUF_SIMPLE)``.

    ``TypeError: a bytes-like object is required, not 'str'`` for an object
    without the buffer protocol; a released memoryview raises its own
    ``ValueError``; a non-contiguous one ``BufferError: memoryview: underlying
    buffer is not C-contiguous`` (``memory_getbuf`` in memoryobject.c).
    Returns a C-contiguous memoryview of unsigned bytes (``len == nbytes``).
    """
    view: memoryview | None
    if isinstance(obj, memoryview):
        view = memoryview(obj)  # ValueError if released, as memory_getbuf
    else:
        try:
            view = _export(obj)
        except TypeError:
            view = None
    if view is None:
        # Raised outside the except block: PyErr_Format replaces the error,
        # so CPython's exception has no __context__.
        raise TypeError(f"a bytes-like object is required, not '{tp_name(obj)}'")
    if not view.c_contiguous:
        view.release()
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return _as_byte_view(view)


def _writable_buffer(obj: object) -> memoryview | None:
    """The ``"w*"`` converter (``PyBUF_WRITABLE``); None where it fails.

    getbuffer's failure is cleared (``PyErr_Clear``) and replaced by the
    caller's message, so every failure looks the same.
    """
    try:
        view = _export(obj)
    except Exception:  # noqa: BLE001 -- PyErr_Clear() swallows whatever GetBuffer raised
        return None
    if view.readonly or not view.c_contiguous:
        view.release()
        return None
    return _as_byte_view(view)


def sequence_fast(obj: object, message: str) -> list[object] | tuple[object, ...]:
    """``PySequence_Fast(obj, message)`` (Objects/abstract.c): lists and tuples as they are, any other
    iterable as a list; ``TypeError(message)`` if ``iter()`` raises TypeError.
    Errors raised while iterating propagate unchanged."""
    if isinstance(obj, (list, tuple)):
        return obj
    try:
        iterator = iter(obj)  # type: ignore[call-overload]
    except TypeError:
        iterator = None
    if iterator is None:
        raise TypeError(message)  # PyErr_SetString replaces the iter() error
    return list(iterator)


def _release_all(views: list[memoryview]) -> None:
    for view in views:
        view.release()


def sendmsg_buffers(buffers: object) -> list[memoryview]:
    """``sendmsg()``'s first argument as byte views, one per iovec.

    ``sock_sendmsg``: ``PySequence_Fast(data_arg, "sendmsg() argument 1 must be
    an iterable")``; ``sock_sendmsg_iovec``: more than ``INT_MAX`` parts is
    ``OSError: sendmsg() argument 1 is too long``; each item is parsed with
    ``"y*"`` (:func:`bytes_like`), so ``[b"a", "b"]`` gives ``TypeError: a
    bytes-like object is required, not 'str'``.  On error the views already
    taken are released.
    """
    parts = sequence_fast(buffers, "sendmsg() argument 1 must be an iterable")
    if len(parts) > _INT_MAX:
        raise OSError("sendmsg() argument 1 is too long")
    views: list[memoryview] = []
    try:
        for part in parts:
            views.append(bytes_like(part))
    except BaseException:
        _release_all(views)
        raise
    return views


def recvmsg_into_buffers(buffers: object) -> list[memoryview]:
    """``recvmsg_into()``'s first argument as writable byte views.

    ``sock_recvmsg_into``: ``PySequence_Fast(buffers_arg, "recvmsg_into()
    argument 1 must be an iterable")``; more than ``INT_MAX`` items is
    ``OSError: recvmsg_into() argument 1 is too long``; each item is parsed
    with ``"w*;recvmsg_into() argument 1 must be an iterable of single-segment
    read-write buffers"``, so ``bytes``, read-only and non-contiguous buffers,
    and the ints of a bare ``bytearray``, all give that ``TypeError``.
    """
    items = sequence_fast(buffers, "recvmsg_into() argument 1 must be an iterable")
    if len(items) > _INT_MAX:
        raise OSError("recvmsg_into() argument 1 is too long")
    views: list[memoryview] = []
    for item in items:
        view = _writable_buffer(item)
        if view is None:
            _release_all(views)
            raise TypeError(_RECVMSG_INTO_ITEMS)
        views.append(view)
    return views


class RecvmsgArgs(NamedTuple):
    """``recvmsg()``'s arguments after ``PyArg_ParseTuple(args, "n|ni:recvmsg")``."""

    bufsize: int
    ancbufsize: int
    flags: int


class RecvmsgIntoArgs(NamedTuple):
    """``recvmsg_into()``'s arguments after parsing: writable byte views and ints."""

    buffers: list[memoryview]
    ancbufsize: int
    flags: int


def recvmsg_args(
    bufsize: object, ancbufsize: object = 0, flags: object = 0, abi: ABI | None = None
) -> RecvmsgArgs:
    """``sock_recvmsg`` up to the buffer allocation.

    Parses ``"n|ni"`` left to right (``TypeError``/``OverflowError`` from the
    converters), then ``bufsize < 0`` gives ``ValueError: negative buffer size
    in recvmsg()``.  The ancillary buffer length is range-checked later by
    :func:`check_ancbufsize`, after the caller's ``getsockaddrlen``.
    """
    size = arg_ssize(bufsize, abi)
    ancsize = arg_ssize(ancbufsize, abi)
    flag_bits = arg_int(flags, abi)
    if size < 0:
        raise ValueError("negative buffer size in recvmsg()")
    return RecvmsgArgs(size, ancsize, flag_bits)


def recvmsg_into_args(
    buffers: object, ancbufsize: object = 0, flags: object = 0, abi: ABI | None = None
) -> RecvmsgIntoArgs:
    """``sock_recvmsg_into`` up to ``sock_recvmsg_guts``.

    Parses ``"O|ni"`` (so a bad ``ancbufsize`` type is reported before a bad
    ``buffers``), then :func:`recvmsg_into_buffers`.
    """
    ancsize = arg_ssize(ancbufsize, abi)
    flag_bits = arg_int(flags, abi)
    return RecvmsgIntoArgs(recvmsg_into_buffers(buffers), ancsize, flag_bits)


def check_ancbufsize(ancbufsize: int, abi: ABI) -> int:
    """``sock_recvmsg_guts``: ``ValueError: invalid ancillary data buffer length``
    unless ``0 <= ancbufsize <= SOCKLEN_T_LIMIT``; returns *ancbufsize*.

    CPython runs this after ``getsockaddrlen(family)``, so an unknown family's
    ``OSError`` wins over a bad length.
    """
    if ancbufsize < 0 or ancbufsize > abi.socklen_max:
        raise ValueError("invalid ancillary data buffer length")
    return ancbufsize


def is_sequence(obj: object) -> bool:
    """``PySequence_Check``: the type fills ``sq_item`` and is not a dict.

    Python classes with ``__getitem__`` fill ``sq_item``; C mapping types
    (``dict``, ``mappingproxy``) fill only ``mp_subscript``.
    """
    if isinstance(obj, dict):
        return False
    cls = type(obj)
    # Looked up on the MRO, not with hasattr(): a metaclass's __getitem__
    # (``list[int]``) does not give instances sq_item.
    if not any("__getitem__" in vars(klass) for klass in cls.__mro__):
        return False
    return bool(cls.__flags__ & PY_TPFLAGS_HEAPTYPE) or not isinstance(obj, Mapping)


def writable_arg(obj: object, caller: str) -> memoryview:
    """Format ``"w*"`` of a socket method: a writable C-contiguous buffer as a
    flat byte view, else ``TypeError: {caller}() argument 1 must be read-write
    bytes-like object, not T`` (getargs.c clears whatever ``PyObject_GetBuffer``
    raised and reports its own message)."""
    view = _writable_buffer(obj)
    if view is None:
        raise TypeError(
            f"{caller}() argument 1 must be read-write bytes-like object, not {converterr_name(obj)}"
        )
    return view


_NS_PER_SECOND: Final = 1_000_000_000
# _PyTime_t is int64_t on every platform (Include/cpython/pytime.h).
_PYTIME_MIN: Final = -(2**63)
_PYTIME_MAX: Final = 2**63 - 1
# PyLong_AsLongLong's range: long long is 64 bits on every platform CPython supports.
_LLONG_MIN: Final = -(2**63)
_LLONG_MAX: Final = 2**63 - 1
# ---------------------------------------------------------------------------
# The general paths of socket methods: CPython's parse, before any syscall
# ---------------------------------------------------------------------------


def recv_args(bufsize: object, flags: object, caller: str) -> tuple[int, int]:
    """``recv``/``recvfrom``'s ``"n|i"`` and the negative size check."""
    size = arg_ssize(bufsize)
    flag_bits = arg_int(flags)
    if size < 0:
        raise ValueError(f"negative buffersize in {caller}")
    return size, flag_bits


def getsockopt_args(level: object, optname: object, buflen: object) -> tuple[int, int, int]:
    """``getsockopt``'s ``"ii|i"``; a *buflen* other than 0 must be 1..1024."""
    parsed = arg_int(level), arg_int(optname), arg_int(buflen)
    if parsed[2] != 0 and not 0 < parsed[2] <= 1024:
        raise OSError("getsockopt buflen out of range")
    return parsed


def recv_into_args(view: memoryview, nbytes: object, flags: object, caller: str) -> tuple[int, int]:
    """``recv_into``/``recvfrom_into``'s ``"w*|ni"`` after the buffer: the byte
    count (``len(buffer)`` for 0) and flags, with each method's checks."""
    count = arg_ssize(nbytes)
    flag_bits = flags if type(flags) is int and INT_MIN <= flags <= INT_MAX else arg_int(flags)
    if count < 0:
        raise ValueError(f"negative buffersize in {caller}")
    size = view.nbytes
    if count == 0:
        count = size
    elif count > size:
        # sock_recv_into and sock_recvfrom_into word it differently.
        if caller == "recv_into":
            raise ValueError("buffer too small for requested bytes")
        raise ValueError("nbytes is greater than the length of the buffer")
    return count, flag_bits


def setsockopt_args(level: object, optname: object, value: object) -> tuple[int, int, int | memoryview]:
    """``setsockopt(level, optname, value)``: an int value or a buffer.

    sock_setsockopt tries ``"iii:setsockopt"`` first (any object with
    ``__index__`` is an int there, so the kernel's answer comes first:
    ``setsockopt(0, 0, obj)`` is EOPNOTSUPP on an AF_UNIX socket), clears
    whatever that parse raised (``PyErr_Clear``), skips ``"iiO!I"`` (four
    arguments), and ``"iiy*:setsockopt"`` then reports the error.
    """
    try:
        return arg_int(level), arg_int(optname), arg_int(value)
    except Exception:  # noqa: BLE001 -- PyErr_Clear() swallows whatever the parse raised
        pass
    return arg_int(level), arg_int(optname), bytes_like(value)


def setsockopt_null_args(level: object, optname: object, value: object, optlen: object) -> tuple[int, int, int]:
    """``setsockopt(level, optname, None, optlen)``: ``"iiO!I:setsockopt"``
    (value must be None); when that parse fails for any reason, CPython's
    last try ``"iiy*:setsockopt"`` reports the argument count."""
    try:
        if value is not None:
            raise TypeError
        return arg_int(level), arg_int(optname), arg_uint_wrapping(optlen)
    except Exception:  # noqa: BLE001 -- PyErr_Clear() swallows whatever the parse raised
        pass
    raise TypeError("setsockopt() takes exactly 3 arguments (4 given)")


def sendto_args(data: object, args: tuple[object, ...]) -> tuple[bytes | memoryview, int, object]:
    """sock_sendto's parse of ``(data[, flags], address)``: "y*O:sendto" or
    "y*iO:sendto", chosen by the number of arguments; *data* stays bytes
    when it is bytes."""
    nargs = len(args)
    if nargs == 1:
        (address,) = args
        return (data if type(data) is bytes else bytes_like(data)), 0, address
    if nargs == 2:
        if type(data) is not bytes:
            data = bytes_like(data)
        return data, arg_int(args[0]), args[1]
    raise TypeError(f"sendto() takes 2 or 3 arguments ({nargs + 1} given)")


def sendmsg_afalg_args(
    op: object, iv: object, assoclen: object, flags: object
) -> tuple[int, memoryview | None, int, int]:
    """``sendmsg_afalg``'s ``"|O$O!y*O!i"``: ``(op, iv, assoclen or -1, flags)``
    with sock_sendmsg_afalg's checks (op and assoclen must be ints, iv a buffer)."""
    for name, value in (("op", op), ("assoclen", assoclen)):
        if value is not None and not isinstance(value, int):
            raise TypeError(f"sendmsg_afalg() argument '{name}' must be int, not {type(value).__name__}")
    iv_view = None if iv is None else bytes_like(iv)
    flag_bits = arg_int(flags)
    try:
        op_value = -1 if op is None else clinic_int(op)
    except OverflowError:
        op_value = -1
    if op_value < 0:
        raise TypeError("Invalid or missing argument 'op'")
    assoc = -1
    if assoclen is not None:
        assoc = clinic_int(assoclen)
        if assoc < 0:
            raise TypeError("assoclen must be positive")
    return op_value, iv_view, assoc, flag_bits


# ---------------------------------------------------------------------------
# Timeout values
# ---------------------------------------------------------------------------

#: The timeout of a blocking socket (``gettimeout() is None``).
BLOCKING: Final = -1
#: The timeout of a non-blocking socket (``gettimeout() == 0.0``).
NON_BLOCKING: Final = 0

_MSG_NAN: Final = "Invalid value NaN (not a number)"
# The overflow messages differ between CPython versions: RULES has them.
_MSG_RANGE: Final = "Timeout value out of range"
_MSG_LONG: Final = "Python int too large to convert to C long"



def parse_timeout(value: object, rules: PythonRules = RULES) -> int:
    """A ``settimeout``/``setdefaulttimeout`` argument as nanoseconds; ``-1`` for None.

    CPython's ``socket_parse_timeout``: ``None`` is blocking; anything else
    goes through ``_PyTime_FromSecondsObject(value, _PyTime_ROUND_TIMEOUT)``
    (``Python/pytime.c``: ``pytime_from_object``), then a negative result is
    ``ValueError('Timeout value out of range')``.

    * A ``float`` (or subclass; its ``__float__`` is not consulted, as
      ``PyFloat_AsDouble`` reads the value directly) is multiplied by 1e9 in
      double precision and rounded away from zero (``ROUND_TIMEOUT`` is
      ``ROUND_UP``), so ``1e-12`` becomes 1 ns.  NaN is ``ValueError``; a
      product outside ``[-2**63, 2**63)`` (``inf``, ``1e300``) is
      ``OverflowError('timestamp out of range for platform time_t')`` (3.10:
      ``'timestamp too large to convert to C _PyTime_t'``; the message is
      ``rules.timeout_float_overflow``).
    * Anything else goes through ``PyLong_AsLongLong``, i.e. ``__index__``
      (``bool`` and ``int`` subclasses are ints; ``Decimal``, ``Fraction``, a
      ``str`` or an object with only ``__float__`` give ``TypeError: 'T' object
      cannot be interpreted as an integer``).  Beyond ``long long`` or beyond
      ``_PyTime_t`` once multiplied by 1e9: ``OverflowError('timestamp too
      large to convert to C _PyTime_t')`` (3.13: ``C PyTime_t``;
      ``rules.timeout_int_overflow``).

    >>> parse_timeout(None), parse_timeout(1), parse_timeout(1e-12), parse_timeout(0.5)
    (-1, 1000000000, 1, 500000000)
    """
    if value is None:
        return BLOCKING
    if isinstance(value, float):
        # pytime_from_double: volatile double d = value * 1e9, rounded, range-checked.
        seconds = float.__float__(value)
        if math.isnan(seconds):
            raise ValueError(_MSG_NAN)
        d = seconds * 1e9
        if not (float(_PYTIME_MIN) <= d < -float(_PYTIME_MIN)):
            raise OverflowError(rules.timeout_float_overflow)
        # pytime_round(_PyTime_ROUND_UP): away from zero.  Doubles this large are
        # integral already, so rounding after the range check changes nothing.
        ns = math.ceil(d) if d >= 0.0 else math.floor(d)
    else:
        overflow = False
        try:
            seconds_int = operator.index(cast(SupportsIndex, value))  # TypeError as C's
        except OverflowError:
            # pytime_from_object replaces any OverflowError of PyLong_AsLongLong
            # (a custom __index__ may raise one) with pytime_overflow()'s message.
            overflow = True
        if overflow:
            raise OverflowError(rules.timeout_int_overflow)
        if not (_LLONG_MIN <= seconds_int <= _LLONG_MAX):
            raise OverflowError(rules.timeout_int_overflow)
        ns = seconds_int * _NS_PER_SECOND
        if not (_PYTIME_MIN <= ns <= _PYTIME_MAX):  # pytime_mul overflow
            raise OverflowError(rules.timeout_int_overflow)
    if ns < 0:
        raise ValueError(_MSG_RANGE)
    return ns


def timeout_seconds(ns: int) -> float | None:
    """What ``gettimeout()`` returns for a stored timeout of *ns* nanoseconds.

    CPython's ``sock_gettimeout``: ``None`` when negative, else
    ``_PyTime_AsSecondsDouble``, which divides in integers when *ns* is a
    whole number of seconds and otherwise computes ``(double)ns / 1e9``.

    >>> timeout_seconds(-1), timeout_seconds(1_000_000_000), timeout_seconds(1)
    (None, 1.0, 1e-09)
    """
    if ns < 0:
        return None
    if ns % _NS_PER_SECOND == 0:
        return float(ns // _NS_PER_SECOND)
    return float(ns) / 1e9


def parse_blocking(flag: object, abi: ABI, rules: PythonRules = RULES) -> int:
    """The timeout (ns) ``setblocking(flag)`` stores: ``-1`` if *flag* is true, else ``0``.

    CPython 3.12+'s ``sock_setblocking`` (Argument Clinic ``bool``) takes
    ``PyObject_IsTrue(flag)``: any object, and whatever its ``__bool__`` or
    ``__len__`` raises propagates.  Up to 3.11 it reads *flag* with
    ``PyLong_AsLong``: ``__index__`` only (a ``float`` or ``str`` gives
    ``TypeError: 'float' object cannot be interpreted as an integer``), and
    outside the range of the ABI's C ``long``, ``OverflowError('Python int too
    large to convert to C long')``.  The caller then sets ``O_NONBLOCK``
    exactly when the result is ``0`` (``internal_setblocking``).
    """
    if rules.setblocking_truth:
        return BLOCKING if flag else NON_BLOCKING
    value = operator.index(cast(SupportsIndex, flag))  # _PyNumber_Index's TypeError
    half = 1 << (8 * abi.sizeof_long - 1)
    if not (-half <= value < half):
        raise OverflowError(_MSG_LONG)
    return BLOCKING if value else NON_BLOCKING


