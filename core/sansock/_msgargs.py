"""Argument parsing that CPython's ``sendmsg``/``recvmsg``/``recvmsg_into`` do
before the syscall, with the stdlib's exception types, messages and order.

Everything here is pure: it turns Python objects into the ints and buffers a
driver takes.  Sources are CPython 3.11's ``Modules/socketmodule.c``
(``sock_sendmsg``, ``sock_sendmsg_iovec``, ``sock_recvmsg``,
``sock_recvmsg_into``, ``sock_recvmsg_guts``) and ``Python/getargs.c`` (the
``"i"``, ``"n"``, ``"y*"``, ``"w*"`` converters and ``PySequence_Fast``).

Call order, as in ``socketmodule.c``:

* ``recvmsg(bufsize[, ancbufsize[, flags]])``: :func:`recvmsg_args` (the
  ``"n|ni"`` parse and the negative ``bufsize`` check), then the caller's
  ``getsockaddrlen(family)``, then :func:`check_ancbufsize`.
* ``recvmsg_into(buffers[, ancbufsize[, flags]])``: :func:`recvmsg_into_args`
  (the ``"O|ni"`` parse, then :func:`recvmsg_into_buffers`), then
  ``getsockaddrlen``, then :func:`check_ancbufsize`.
* ``sendmsg(buffers[, ancdata[, flags[, address]]])``: :func:`parse_c_int` on
  ``flags`` (the ``"O|OiO"`` parse), then the address, then
  :func:`sendmsg_buffers`, then ``sansock._cmsg.pack_ancdata``.

The memoryviews returned here export the caller's buffers: release them (or
drop them) once the syscall is done, as CPython's ``PyBuffer_Release`` does.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from ._convert import PY_TPFLAGS_HEAPTYPE, tp_name
from ._convert import arg_int as parse_c_int
from ._convert import arg_ssize as parse_ssize_t

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = [
    "RecvmsgArgs",
    "RecvmsgIntoArgs",
    "bytes_like",
    "check_ancbufsize",
    "is_sequence",
    "parse_c_int",
    "parse_ssize_t",
    "recvmsg_args",
    "recvmsg_into_args",
    "recvmsg_into_buffers",
    "sendmsg_buffers",
    "sequence_fast",
    "tp_name",
]

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
    size = parse_ssize_t(bufsize, abi)
    ancsize = parse_ssize_t(ancbufsize, abi)
    flag_bits = parse_c_int(flags, abi)
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
    ancsize = parse_ssize_t(ancbufsize, abi)
    flag_bits = parse_c_int(flags, abi)
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
