"""Control buffers: ``CMSG_LEN``/``CMSG_SPACE``, the one packer and the one walk.

Every control buffer sansock builds or reads goes through this module, for
one platform given as an :class:`~sansock.ABI` value (never the host).  It
reproduces CPython 3.11's ``Modules/socketmodule.c``:

* ``socket_CMSG_LEN``/``socket_CMSG_SPACE`` with ``get_CMSG_LEN`` and
  ``get_CMSG_SPACE`` -> :func:`cmsg_len`, :func:`cmsg_space`;
* **the packer**, :meth:`CmsgCodec.lay_out`: the buffer ``sock_sendmsg`` builds, used
  by :func:`pack_ancdata` (``sendmsg``'s argument parsing), by
  :func:`pack_exact` (its fast path for exact values) and by
  :func:`pack_afalg` (``sock_sendmsg_afalg``);
* **the walk**, :func:`walk`: the one ``sock_recvmsg_guts`` does over the
  buffer the kernel filled (``cmsg_min_space``, ``get_cmsg_data_space``,
  ``get_cmsg_data_len``).  Every view of a received buffer is computed from
  its result: CPython's ``ancdata`` list and ``RuntimeWarning``
  (:func:`unpack_ancdata`), the fds the ``err_closefds`` walk closes
  (:func:`rights_fds`, :func:`scm_rights_fds`), the truncation record
  (:class:`Truncation`, :class:`CutItem`), and the typed messages of
  ``sansock.ancillary`` (decoded from its items).

The ``CMSG_*`` macros are those of the platform's C library, because CPython
uses them: glibc's ``<bits/socket.h>`` and ``__cmsg_nxthdr`` (2.36, the
version on our reference host) on Linux; ``<sys/socket.h>`` of XNU on Darwin
(the BSD macros).  The two differ in ``CMSG_NXTHDR``:

* glibc 2.36 returns NULL when the current header's ``cmsg_len`` is below
  ``sizeof(struct cmsghdr)``, or when the current item (aligned) *plus a whole
  next header* does not fit in ``msg_controllen``;
* XNU returns NULL when ``cmsg + ALIGN(cmsg_len) + ALIGN(sizeof(struct
  cmsghdr))`` lies beyond the end of the buffer (no ``cmsg_len`` sanity check;
  CPython never calls it on such a header since ``get_cmsg_data_len`` has
  already stopped the walk).

Platforms whose sockaddrs carry a BSD ``sa_len`` byte get the BSD macros.
"""

from __future__ import annotations

import array
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Union, final, overload

import attrs

from ._abi import derived
from ._convert import arg_int, arg_ssize, bytes_like, is_sequence, sequence_fast, tp_name

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = [
    "TRUNCATION_WARNING",
    "Ancdata",
    "CmsgCodec",
    "CutItem",
    "RawItem",
    "Truncation",
    "Walk",
    "cmsg_len",
    "cmsg_space",
    "close_rights",
    "codec",
    "pack_afalg",
    "pack_ancdata",
    "pack_exact",
    "rights_fds",
    "scm_rights_fds",
    "truncation",
    "unpack_ancdata",
    "walk",
]

#: An item as the stdlib returns it: ``(cmsg_level, cmsg_type, data)``.
RawItem = tuple[int, int, bytes]

#: The text of the ``RuntimeWarning`` CPython's ``sock_recvmsg_guts`` issues
#: (``stacklevel=1``) when a control message is malformed or cut short.
TRUNCATION_WARNING = "received malformed or improperly-truncated ancillary data"

#: ``PyArg_Parse(item, "(iiy*):[sendmsg() ancillary data items]", ...)``.
_ITEM_FNAME = "[sendmsg() ancillary data items]"

#: The largest data the exact packer lays out with one struct (a whole item
#: per size, built once per ABI).
_PACKED_ITEM_MAX = 64

#: What the packer lays out: ``(level, type, data)`` with *data* bytes or a
#: byte memoryview.
_Item = tuple[int, int, Union[bytes, memoryview]]


class CmsgCodec:
    """The control buffers of one ABI: the ``CMSG_*`` arithmetic, the one
    packer and the one walk, built once per ABI (:func:`codec`)."""

    __slots__ = (
        "abi",
        "align",
        "bsd_macros",
        "ctrunc",
        "hdr_size",
        "int_format",
        "int_max",
        "int_min",
        "int_size",
        "len0",
        "len_format",
        "mask",
        "one_facts",
        "pack_header",
        "pack_facts",
        "pads",
        "read_header",
        "scm_rights",
        "socklen_max",
        "sol_socket",
        "space1",
        "unpack_int",
        "walk_facts",
    )

    #: ``(cmsg_len, cmsg_level, cmsg_type) -> CMSG_LEN(0)`` header bytes.
    pack_header: Callable[[int, int, int], bytes]
    #: ``(buffer, offset) -> (cmsg_len, cmsg_level, cmsg_type)``.
    read_header: Callable[[bytes, int], tuple[int, int, int]]

    def __init__(self, abi: ABI) -> None:
        layout = abi.cmsg
        order = "<" if abi.byteorder == "little" else ">"
        self.abi = abi
        self.align = layout.align
        self.mask = layout.align - 1
        self.hdr_size = layout.hdr_size
        self.bsd_macros = abi.sockaddr.has_sa_len
        # CMSG_LEN(0) == CMSG_ALIGN(sizeof(struct cmsghdr)) on glibc and XNU,
        # and CMSG_DATA(h) is that many bytes after h (glibc: sizeof(struct
        # cmsghdr), already aligned; XNU: __DARWIN_ALIGN32(sizeof(struct
        # cmsghdr))): the data of an item starts len0 bytes after its header.
        self.len0 = layout.aligned(layout.hdr_size)
        self.space1 = self.len0 + layout.aligned(1)  # CMSG_SPACE(1)
        self.len_format = struct.Struct(order + {4: "I", 8: "Q"}[layout.len_size])
        self.int_size = abi.sizeof_int
        self.int_format = order + {4: "i", 8: "q"}[abi.sizeof_int]
        #: ``data -> (int,)``: the first C int of *data*.
        self.unpack_int = struct.Struct(self.int_format).unpack_from
        self.int_max = (1 << (8 * abi.sizeof_int - 1)) - 1
        self.int_min = -self.int_max - 1
        self.socklen_max = abi.socklen_max
        self.sol_socket = abi.const("SOL_SOCKET")
        self.scm_rights = abi.const("SCM_RIGHTS")
        self.ctrunc = abi.const("MSG_CTRUNC")
        #: Zero padding after n data bytes: pads[-n & (align - 1)].
        self.pads = tuple(bytes(n) for n in range(layout.align))
        # The header as one struct: cmsg_len, cmsg_level, cmsg_type at their
        # offsets, zero padding up to CMSG_DATA.  A layout whose members are
        # in another order gets the same two functions, member by member.
        int_code = self.int_format[1]
        len_code = self.len_format.format[1]
        if (
            layout.len_size <= layout.level_offset
            and layout.level_offset + self.int_size <= layout.type_offset
            and layout.type_offset + self.int_size <= self.len0
        ):
            fmt = (
                order
                + len_code
                + "x" * (layout.level_offset - layout.len_size)
                + int_code
                + "x" * (layout.type_offset - layout.level_offset - self.int_size)
                + int_code
                + "x" * (self.len0 - layout.type_offset - self.int_size)
            )
            header = struct.Struct(fmt)
            self.pack_header = header.pack
            self.read_header = header.unpack_from
            # A whole item of n data bytes, padded to its CMSG_SPACE, in one
            # call: (cmsg_len, level, type, data) -> bytes, for small n.
            packers = tuple(
                struct.Struct(f"{fmt}{n}s{-n & self.mask}x").pack for n in range(_PACKED_ITEM_MAX + 1)
            )
        else:  # pragma: no cover - no known platform
            self.pack_header = self._pack_header_by_member
            self.read_header = self._read_header_by_member
            packers = ()

        # What the walk reads into locals: CMSG_NXTHDR wants room for a
        # whole next header on glibc, up to CMSG_DATA on XNU.
        self.pack_facts = (
            self.pack_header, self.len0, self.pads, self.mask, self.int_min, self.int_max, packers, len(packers) - 1
        )
        self.one_facts = (self.len0, packers, len(packers) - 1)
        self.walk_facts = (self.read_header, self.len0, self.mask, self.len0 if self.bsd_macros else self.hdr_size)

    def _pack_header_by_member(self, length: int, level: int, kind: int) -> bytes:
        layout = self.abi.cmsg
        header = bytearray(self.len0)
        self.len_format.pack_into(header, 0, length)
        struct.pack_into(self.int_format, header, layout.level_offset, level)
        struct.pack_into(self.int_format, header, layout.type_offset, kind)
        return bytes(header)

    def _read_header_by_member(self, control: bytes, offset: int) -> tuple[int, int, int]:
        layout = self.abi.cmsg
        (length,) = self.len_format.unpack_from(control, offset)
        (level,) = struct.unpack_from(self.int_format, control, offset + layout.level_offset)
        (kind,) = struct.unpack_from(self.int_format, control, offset + layout.type_offset)
        return length, level, kind

    def aligned(self, n: int) -> int:
        """``CMSG_ALIGN(n)``."""
        mask = self.align - 1
        return (n + mask) & ~mask

    # -- get_CMSG_LEN / get_CMSG_SPACE ---------------------------------------
    def get_cmsg_len(self, length: int) -> int | None:
        """``get_CMSG_LEN``: ``CMSG_LEN(length)`` if in range, else None."""
        if length > self.socklen_max - self.len0:
            return None
        result = self.len0 + length
        # "tmp > SOCKLEN_T_LIMIT || tmp < length" guards a size_t wrap that
        # cannot happen with Python ints once the first check passed.
        if result > self.socklen_max:
            return None
        return result

    def get_cmsg_space(self, length: int) -> int | None:
        """``get_CMSG_SPACE``: ``CMSG_SPACE(length)`` if in range, else None.

        CPython bounds *length* by ``SOCKLEN_T_LIMIT - CMSG_SPACE(1)`` "to take
        account of the padding necessary before *and* after the data".
        """
        if length > self.socklen_max - self.space1:
            return None
        result = self.len0 + self.aligned(length)
        if result > self.socklen_max:
            return None
        return result

    # -- the one packer, and what sendmsg packs without parsing -------------
    @overload
    def lay_out(self, items: Sequence[_Item], exact: Literal[False] = False) -> bytes: ...
    @overload
    def lay_out(self, items: object, exact: Literal[True]) -> bytes | None: ...
    def lay_out(self, items: Any, exact: bool = False) -> bytes | None:
        """The one packer: *items* where ``sock_sendmsg`` puts them.

        CPython allocates ``sum(CMSG_SPACE(len_i))`` bytes, zero-fills them ("a
        workaround for glibc's CMSG_NXTHDR()"), and places the headers with
        ``CMSG_FIRSTHDR``/``CMSG_NXTHDR``, each with ``cmsg_len = CMSG_LEN(len_i)``.  In a buffer of
        exactly that size ``CMSG_NXTHDR`` of an item of ``CMSG_LEN(n)`` (or
        ``CMSG_SPACE(n)``) bytes is the address ``CMSG_SPACE(n)`` further on,
        under glibc's rule (room for the aligned item and a next header: the
        next item's ``CMSG_SPACE`` is at least a header) and XNU's (the next
        aligned header lies inside), so the items lie end to end, each padded to
        its ``CMSG_SPACE``, and CPython's "unexpected NULL result from
        CMSG_NXTHDR()" and "ancillary data does not fit in calculated space"
        checks cannot fire.  The last item's padding is inside
        ``msg_controllen`` but not its ``cmsg_len``.  The caller has bounded the
        sizes (``get_CMSG_SPACE``).

        *exact*: ``sendmsg``'s fast path (:func:`pack_exact`): *items* is
        ``sendmsg``'s argument as given; anything its parsing could change
        or reject gives None (see :func:`pack_exact`), checked item by item
        as the items are laid out.  The data of an accepted item is copied
        to ``bytes`` in one C call before its length is read, so a buffer
        resized by another thread meanwhile is laid out as it was at that
        copy, header and data alike (CPython holds its export for the parse).
        """
        # One item of small data (an fd array, credentials): the first pass of
        # _lay_out's loop for the shapes it takes most, in this frame.  Each
        # comparison is followed by a short jump (CPython specialises only
        # those), and a level or type beyond a C int is left to struct's own
        # range check.
        if not exact or (type(items) is not list and type(items) is not tuple) or len(items) != 1:
            return self._lay_out(items, exact)
        item = items[0]
        if type(item) is tuple and len(item) == 3:
            level, kind, data = item
            if type(data) is _array and data.typecode == "i" and len(data) <= _EXACT_INTS_MAX:
                data = data.tobytes()
            if type(data) is bytes and type(level) is int and type(kind) is int:
                len0, packers, packed_max = self.one_facts
                if (n := len(data)) <= packed_max:
                    try:
                        packed: bytes = packers[n](len0 + n, level, kind, data)
                    except struct.error:  # beyond a C int: parsed (and refused) by the caller
                        return None
                    return packed
        return self._lay_out(items, exact)

    def _lay_out(self, items: Any, exact: bool) -> bytes | None:
        """:meth:`lay_out` past its one-item fast path."""
        pack_header, len0, pads, mask, low, high, packers, packed_max = self.pack_facts
        if exact:
            if type(items) is not list and type(items) is not tuple:
                return None
            # Read once: another thread changing the list meanwhile gets the
            # items of one of its states laid out, as with CPython's
            # PySequence_Fast (which returns the list itself).
            count = len(items)
            if count > _EXACT_ITEMS_MAX:
                return None
            parts: list[bytes | memoryview] = []
            for item in items:
                if type(item) is not tuple or len(item) != 3:
                    return None
                level, kind, data = item
                if (
                    type(level) is not int
                    or type(kind) is not int
                    or not low <= level <= high
                    or not low <= kind <= high
                ):
                    return None
                if type(data) is not bytes:
                    # An array of C ints (what send_fds and the socket
                    # documentation build): its bytes in one C call.
                    if type(data) is _array and data.typecode == "i" and len(data) <= _EXACT_INTS_MAX:
                        data = data.tobytes()
                    else:
                        data = _exact_data(data)
                        if data is None:
                            return None
                n = len(data)
                if n <= packed_max:
                    # The data is bytes here: header, data and padding in one call.
                    packed = packers[n](len0 + n, level, kind, data)
                elif n <= _EXACT_ITEM_MAX:
                    packed = pack_header(len0 + n, level, kind) + data + pads[-n & mask]
                else:
                    return None
                if count == 1:
                    return packed  # one item (an fd array, credentials): no list to join
                parts.append(packed)
            return b"".join(parts)
        if len(items) == 1:
            level, kind, data = items[0]
            n = len(data) if type(data) is bytes else data.nbytes
            one: bytes = pack_header(len0 + n, level, kind) + data + pads[-n & mask]
            return one
        parts = []
        for level, kind, data in items:
            n = len(data) if type(data) is bytes else data.nbytes
            parts += (pack_header(len0 + n, level, kind), data, pads[-n & mask])
        return b"".join(parts)

    # -- the one walk -------------------------------------------------------
    def walk(self, control: bytes) -> tuple[list[RawItem], CutItem | None, bool]:
        """The walk (see :func:`walk`): ``(items, cut item or None, malformed)``.

        A plain tuple: this runs on every ``recvmsg`` that carries control
        data, and ``recvmsg`` needs only the items and whether to warn.
        """
        controllen = len(control)
        read_header, len0, mask, next_room = self.walk_facts
        if controllen >= len0:
            # One whole item, CMSG_NXTHDR NULL after it (an fd array,
            # credentials): the first pass of the loop below, without it.
            # SocketType.recvmsg's fast path repeats this step in its own
            # frame (tests/test_recvmsg_inline_walk.py keeps them in step).
            length, level, kind = read_header(control, 0)
            if len0 <= length <= controllen and ((length + mask) & ~mask) + next_room > controllen:
                return [(level, kind, control[len0:length])], None, False
        items: list[RawItem] = []
        if controllen < self.hdr_size:
            return items, None, False
        offset = 0
        while True:
            # get_cmsg_data_len: cmsg_min_space(msg, cmsgh, CMSG_LEN(0)): the
            # header up to CMSG_DATA and its cmsg_len member (the first
            # member, shorter than a header) lie inside the buffer -- len0
            # bytes, which also covers its "CMSG_DATA past the end" case;
            # then cmsg_len >= CMSG_LEN(0).
            if offset + len0 > controllen:
                return items, None, True
            length, level, kind = read_header(control, offset)
            if length < len0:
                return items, None, True
            end = offset + length
            if end > controllen:
                # get_cmsg_data_space() < the data cmsg_len announces: the
                # part inside the buffer, then stop.  (An OSError "control
                # message too long" for a length > PY_SSIZE_T_MAX cannot
                # happen: it is at most len(control).)
                start = offset + len0
                items.append((level, kind, control[start:]))
                return items, CutItem(len(items) - 1, level, kind, controllen - start, length - len0), False
            items.append((level, kind, control[offset + len0 : end]))
            # CMSG_NXTHDR for the header at offset whose cmsg_len is length:
            # offset + CMSG_ALIGN(cmsg_len), or NULL.
            #   glibc 2.36 __cmsg_nxthdr (bits/socket.h, misc/cmsg_nxthdr.c):
            #   NULL when cmsg_len < sizeof(struct cmsghdr) (not here: length
            #   >= len0), or when the aligned item plus a whole next header
            #   does not fit in msg_controllen (next_room = sizeof(struct
            #   cmsghdr));
            #   XNU <sys/socket.h>: NULL when (char *)cmsg +
            #   __DARWIN_ALIGN32(cmsg_len) + __DARWIN_ALIGN32(sizeof(struct
            #   cmsghdr)) lies beyond control + controllen (next_room = len0).
            offset += (length + mask) & ~mask
            if offset + next_room > controllen:
                return items, None, False

    def rights_fds(self, items: Sequence[RawItem]) -> list[int]:
        """The fds of every ``SOL_SOCKET``/``SCM_RIGHTS`` item of *items*
        (a :class:`Walk`'s, or ``recvmsg()``'s ancdata in ``recv_fds``).

        ``data_len // sizeof(int)`` whole ints per item, as CPython's
        ``err_closefds`` walk counts them (a trailing partial int is no fd),
        in the platform's C int layout; level and type compared with ``==``
        as ``Lib/socket.py``'s ``recv_fds`` compares them.
        """
        sol_socket = self.sol_socket
        scm_rights = self.scm_rights
        size = self.int_size
        fds: list[int] = []
        for level, kind, data in items:
            if level == sol_socket and kind == scm_rights:
                count = len(data) // size
                if count == 1:  # one fd: the common case, one cached struct
                    fds += self.unpack_int(data)
                else:
                    fmt = f"{self.int_format[0]}{count}{self.int_format[1]}"
                    fds += struct.unpack_from(fmt, data)
        return fds


def codec(abi: ABI) -> CmsgCodec:
    """The control-buffer codec of *abi*, built once per ABI (:func:`sansock._abi.derived`)."""
    return derived(abi, CmsgCodec)


# -- CMSG_LEN / CMSG_SPACE ---------------------------------------------------


def cmsg_len(n: object, abi: ABI) -> int:
    """``socket.CMSG_LEN(n)``: ``CMSG_LEN(0) + n``, without trailing padding.

    ``socket_CMSG_LEN``: *n* is parsed with ``"n"`` (``TypeError`` for a
    non-integer, ``OverflowError: Python int too large to convert to C
    ssize_t``), then ``OverflowError: CMSG_LEN() argument out of range``
    unless ``0 <= n <= SOCKLEN_T_LIMIT - CMSG_LEN(0)``.
    """
    length = arg_ssize(n, abi)
    result = codec(abi).get_cmsg_len(length) if length >= 0 else None
    if result is None:
        raise OverflowError("CMSG_LEN() argument out of range")
    return result


def cmsg_space(n: object, abi: ABI) -> int:
    """``socket.CMSG_SPACE(n)``: ``CMSG_LEN(0) + CMSG_ALIGN(n)``.

    ``socket_CMSG_SPACE``: parsed like :func:`cmsg_len`, then
    ``OverflowError: CMSG_SPACE() argument out of range`` unless ``0 <= n <=
    SOCKLEN_T_LIMIT - CMSG_SPACE(1)``.
    """
    length = arg_ssize(n, abi)
    result = codec(abi).get_cmsg_space(length) if length >= 0 else None
    if result is None:
        raise OverflowError("CMSG_SPACE() argument out of range")
    return result


# -- the packer ----------------------------------------------------------------


_NOT_RETRIEVABLE = object()


def _parse_item(item: object, abi: ABI) -> tuple[int, int, memoryview]:
    """``PyArg_Parse(item, "(iiy*):[sendmsg() ancillary data items]", ...)``.

    ``converttuple`` in getargs.c: the item must pass ``PySequence_Check``
    and not be ``bytes``, have length 3, and its members are converted in
    order (``i``, ``i``, ``y*``); a member whose ``__getitem__`` raises is
    reported as "argument N is not retrievable".
    """
    if isinstance(item, bytes) or not is_sequence(item):
        shown = "None" if item is None else tp_name(item)[:50]
        raise TypeError(f"{_ITEM_FNAME}() argument must be 3-item sequence, not {shown}")
    size = len(item)  # type: ignore[arg-type]  # PySequence_Size
    if size != 3:
        raise TypeError(f"{_ITEM_FNAME}() argument must be sequence of length 3, not {size}")
    level = arg_int(_member(item, 0), abi)
    kind = arg_int(_member(item, 1), abi)
    return level, kind, bytes_like(_member(item, 2))


def _member(item: object, index: int) -> object:
    """``PySequence_GetItem(item, index)`` as ``converttuple`` uses it."""
    try:
        member = item[index]  # type: ignore[index]
    except Exception:  # noqa: BLE001 -- converttuple's PyErr_Clear()
        member = _NOT_RETRIEVABLE
    if member is _NOT_RETRIEVABLE:
        raise TypeError(f"{_ITEM_FNAME}() argument {index + 1} is not retrievable")
    return member


def pack_ancdata(ancdata: object, abi: ABI) -> bytes:
    """The control buffer ``sock_sendmsg`` passes as ``msg_control``.

    *ancdata* is ``sendmsg()``'s second argument, an iterable of ``(level,
    type, data)``.  Validation, in CPython's order, item by item:
    ``TypeError: sendmsg() argument 2 must be an iterable``; the item's
    ``"(iiy*)"`` parse (see ``_parse_item``); ``OSError: ancillary data item
    too large`` when ``CMSG_SPACE(len(data))`` is out of range; ``OSError: too
    much ancillary data`` when the running total exceeds ``SOCKLEN_T_LIMIT``.
    Then :meth:`CmsgCodec.lay_out`.  Empty *ancdata* gives ``b""``: ``msg_control``
    NULL, ``msg_controllen`` 0.
    """
    items = sequence_fast(ancdata, "sendmsg() argument 2 must be an iterable")
    if not items:
        return b""
    cmsg = codec(abi)
    parsed: list[tuple[int, int, memoryview]] = []
    try:
        controllen = 0
        for item in items:
            level, kind, data = _parse_item(item, abi)
            parsed.append((level, kind, data))
            space = cmsg.get_cmsg_space(data.nbytes)
            if space is None:
                raise OSError("ancillary data item too large")
            controllen += space
            # "controllen < controllen_last" (a size_t wrap) cannot happen here.
            if controllen > cmsg.socklen_max:
                raise OSError("too much ancillary data")
        return cmsg.lay_out(parsed)
    finally:
        for _, _, data in parsed:
            data.release()


#: The largest item and the most items :func:`pack_exact` takes (far below
#: the size limits, so it never has to check them).
_EXACT_ITEM_MAX = 65536
_EXACT_ITEMS_MAX = 64
_array = array.array
#: The longest ``array("i")`` it takes (its size checked before the copy).
_EXACT_INTS_MAX = _EXACT_ITEM_MAX // _array("i").itemsize
#: The formats of a memoryview of bytes ("y*" takes any buffer; these are
#: the ones whose bytes are plainly the view's items).
_BYTE_FORMATS = frozenset(("B", "b", "c"))


def _exact_data(data: object) -> bytes | None:
    """The bytes ``"y*"`` would take from a ``bytearray`` or a C-contiguous
    one-dimensional byte ``memoryview``, copied in one C call; None for
    anything else (an ``array`` of another type, a strided or released view,
    a subclass), which the general parse takes with CPython's errors.

    The size is checked before the copy (no huge copy to decline) and again
    by the caller on the copy (another thread may resize a bytearray between
    the two: the copy is what is sent).
    """
    if type(data) is bytearray:
        return bytes(data) if len(data) <= _EXACT_ITEM_MAX else None
    if type(data) is memoryview:
        try:
            if (
                data.ndim == 1
                and data.c_contiguous
                and data.format in _BYTE_FORMATS
                and data.nbytes <= _EXACT_ITEM_MAX
            ):
                return data.tobytes()
        except ValueError:
            # Released (perhaps by another thread, between two of these
            # reads): the general parse raises CPython's ValueError.
            return None
    return None


def pack_exact(ancdata: object, abi: ABI) -> bytes | None:
    """:func:`pack_ancdata` for what its parsing cannot change; None otherwise.

    ``sendmsg``'s fast path: a list or tuple of at most 64 exact ``(int, int,
    data)`` tuples, the ints within a C int, each data at most 64 KiB and
    one of ``bytes``, an exact ``array.array`` of typecode ``"i"`` (what
    ``send_fds`` and the socket documentation pass), a ``bytearray`` or a
    C-contiguous one-dimensional byte ``memoryview``, is laid out by the same
    packer without the general parse, with the bytes ``"y*"`` would take;
    anything else (an ``int`` subclass, an array of another type, a
    subclass, a strided or released view, an iterator...) gives None and
    takes :func:`pack_ancdata`, which raises CPython's exact errors.
    """
    return codec(abi).lay_out(ancdata, True)


def pack_afalg(op: int, iv: memoryview | None, assoclen: int, abi: ABI) -> bytes:
    """The control buffer ``sock_sendmsg_afalg`` builds (arguments already checked).

    ``SOL_ALG`` items: ``ALG_SET_OP`` (an ``unsigned int``), ``ALG_SET_IV``
    when *iv* is given (``struct af_alg_iv { __u32 ivlen; __u8 iv[]; }``)
    and ``ALG_SET_AEAD_ASSOCLEN`` when *assoclen* >= 0, in a zero-filled
    buffer of their ``CMSG_SPACE``\\ s, laid out by the same packer.  As in
    CPython, the IV item's ``cmsg_len`` is then ``CMSG_SPACE(...)``, the
    others' ``CMSG_LEN(4)``.
    """
    cmsg = codec(abi)
    endian = abi.byteorder
    sol_alg = abi.const("SOL_ALG")
    items: list[_Item] = [(sol_alg, abi.const("ALG_SET_OP"), op.to_bytes(4, endian))]
    if iv is not None:
        items.append((sol_alg, abi.const("ALG_SET_IV"), iv.nbytes.to_bytes(4, endian) + iv.tobytes()))
    if assoclen >= 0:
        items.append((sol_alg, abi.const("ALG_SET_AEAD_ASSOCLEN"), assoclen.to_bytes(4, endian)))
    control = cmsg.lay_out(items)
    if iv is None:
        return control
    # The IV item follows ALG_SET_OP's CMSG_SPACE(4); its cmsg_len is the
    # CMSG_SPACE of its data where the packer wrote CMSG_LEN.
    patched = bytearray(control)
    iv_offset = cmsg.len0 + cmsg.aligned(4)
    cmsg.len_format.pack_into(patched, iv_offset, cmsg.len0 + cmsg.aligned(len(items[1][2])))
    return bytes(patched)


# -- the walk ----------------------------------------------------------------------


@final
@attrs.frozen
class CutItem:
    """A control message cut short by the end of the buffer.

    Only a kernel that keeps the untrimmed ``cmsg_len`` (BSD, macOS) produces
    one; Linux trims ``cmsg_len`` to what it copied.
    """

    #: Position among the items returned.
    index: int
    level: int
    type: int
    #: Data bytes inside the buffer (what the item's data holds).
    kept: int
    #: Data bytes its ``cmsg_len`` announced (``cmsg_len - CMSG_LEN(0)``).
    claimed: int


class Walk(NamedTuple):
    """What :func:`walk` found in a control buffer; every other view derives from it."""

    #: ``(cmsg_level, cmsg_type, data)`` per header visited, plain ints and
    #: bytes: ``recvmsg()``'s ancdata.  A cut item holds the data inside the buffer.
    items: list[RawItem]
    #: The last item was cut short by the end of the buffer.
    cut: CutItem | None
    #: The walk stopped at a header it could not decode (nothing appended).
    malformed: bool

    @property
    def stdlib_warns(self) -> bool:
        """CPython issues ``RuntimeWarning(TRUNCATION_WARNING)`` for this buffer."""
        return self.cut is not None or self.malformed




def walk(control: bytes, abi: ABI) -> Walk:
    """The walk of ``sock_recvmsg_guts`` over *control* (``msg_controllen`` bytes).

    ``CMSG_FIRSTHDR`` (NULL when ``msg_controllen < sizeof(struct
    cmsghdr)``), then ``CMSG_NXTHDR``; for each header ``get_cmsg_data_len``:
    invalid (the header is not inside the buffer, ``cmsg_len <
    CMSG_LEN(0)``) marks the buffer malformed and stops with nothing
    appended; data cut short by the end of the buffer appends the part
    inside, records a :class:`CutItem` (with the length ``cmsg_len``
    claimed, which CPython drops) and stops.  Never raises for any bytes.
    """
    return Walk(*codec(abi).walk(control))


def rights_fds(items: Sequence[RawItem], abi: ABI) -> list[int]:
    """The fds of every ``SOL_SOCKET``/``SCM_RIGHTS`` item of a :class:`Walk`
    (:meth:`CmsgCodec.rights_fds`)."""
    return codec(abi).rights_fds(items)


def scm_rights_fds(control: bytes, abi: ABI) -> list[int]:
    """Every fd an ``SOL_SOCKET``/``SCM_RIGHTS`` item of *control* carries.

    The ``err_closefds`` walk of ``sock_recvmsg_guts``: what CPython closes
    when an exception is raised after a successful ``recvmsg`` syscall.
    """
    return rights_fds(walk(control, abi).items, abi)


def close_rights(control: bytes, abi: ABI, close: Callable[[int], object]) -> None:
    """``err_closefds``: ``close(fd)`` for every fd of :func:`scm_rights_fds`,
    an ``OSError`` ignored (CPython ignores ``close()``'s result there)."""
    for fd in scm_rights_fds(control, abi):
        try:
            close(fd)
        except OSError:
            pass


# -- views of a walk ---------------------------------------------------------------


class Ancdata(NamedTuple):
    """What the kernel's control buffer says, decoded as ``sock_recvmsg_guts`` does."""

    #: ``recvmsg()``'s ancdata: ``(cmsg_level, cmsg_type, data)`` with plain
    #: ints, a fresh list the caller may hand to the user.
    items: list[tuple[int, int, bytes]]
    #: True when CPython issues ``RuntimeWarning(TRUNCATION_WARNING)``:
    #: a header was malformed or an item was cut short by the buffer end.
    truncated: bool
    #: Every fd received through ``SOL_SOCKET``/``SCM_RIGHTS`` (the
    #: ``err_closefds`` walk): the caller closes them if anything fails after
    #: the syscall -- including the warning turned into an error.
    fds: list[int]
    #: ``MSG_CTRUNC`` was set in ``msg_flags``: the kernel dropped control
    #: data (Linux closes the fds it dropped).  Not an error, no warning.
    ctrunc: bool


def unpack_ancdata(control: bytes, msg_flags: int, abi: ABI) -> Ancdata:
    """CPython's view of a received control buffer: :func:`walk`, then its fds."""
    ctrunc = bool(msg_flags & codec(abi).ctrunc) if msg_flags else False
    found = walk(control, abi)
    return Ancdata(found.items, found.stdlib_warns, rights_fds(found.items, abi), ctrunc)


@final
@attrs.frozen
class Truncation:
    """What a receive lost, as far as the kernel says.

    ``data``: ``MSG_TRUNC`` (the datagram was longer than the buffer).
    ``control``: any control data was lost (``MSG_CTRUNC``, an item cut
    short, or a malformed header).  ``fds_lost`` is 0 when nothing was
    truncated, a count when an ``SCM_RIGHTS`` item kept its untrimmed
    ``cmsg_len``, and None when unknowable (Linux with ``MSG_CTRUNC``: the
    kernel closed the fds that did not fit and does not say how many).
    """

    data: bool
    control: bool
    #: ``MSG_CTRUNC`` was set by the kernel.
    ctrunc: bool
    cut_item: CutItem | None
    #: A header could not be decoded (CPython stops its walk there).
    malformed: bool
    fds_delivered: int
    fds_lost: int | None

    @property
    def stdlib_warns(self) -> bool:
        """True when CPython's ``recvmsg`` issues its ``RuntimeWarning``."""
        return self.cut_item is not None or self.malformed

    def describe(self) -> str:
        """One sentence for messages and logs."""
        parts: list[str] = []
        if self.data:
            parts.append("data truncated (MSG_TRUNC)")
        if self.ctrunc:
            parts.append("control data truncated (MSG_CTRUNC)")
        if self.cut_item is not None:
            c = self.cut_item
            parts.append(
                f"control message {c.index} (level {c.level}, type {c.type}) kept {c.kept} of {c.claimed} bytes"
            )
        if self.malformed:
            parts.append("a malformed control message header")
        lost = "an unknown number of" if self.fds_lost is None else str(self.fds_lost)
        parts.append(f"{self.fds_delivered} fds delivered, {lost} lost")
        return "; ".join(parts)


def truncation(found: Walk, fds_delivered: int, msg_flags: int, abi: ABI) -> Truncation:
    """The truncation record of a receive: its :class:`Walk` and ``msg_flags``.

    ``fds_lost`` counts, for an ``SCM_RIGHTS`` item cut short with its
    untrimmed ``cmsg_len``, the whole fds it announced beyond those inside
    the buffer.
    """
    cmsg = codec(abi)
    ctrunc = bool(msg_flags & cmsg.ctrunc)
    data = bool(msg_flags & abi.const("MSG_TRUNC"))
    cut = found.cut
    control = ctrunc or found.stdlib_warns
    fds_lost: int | None
    if cut is not None and cut.level == cmsg.sol_socket and cut.type == cmsg.scm_rights:
        fds_lost = cut.claimed // cmsg.int_size - cut.kept // cmsg.int_size
    elif control:
        fds_lost = None
    else:
        fds_lost = 0
    return Truncation(data, control, ctrunc, cut, found.malformed, fds_delivered, fds_lost)
