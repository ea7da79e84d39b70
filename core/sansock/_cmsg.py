"""Ancillary data: ``CMSG_LEN``/``CMSG_SPACE`` and the control-buffer codecs.

Reproduces CPython 3.11's ``Modules/socketmodule.c`` for one platform given as
an :class:`~sansock.ABI` value (never the host):

* ``socket_CMSG_LEN``/``socket_CMSG_SPACE`` with ``get_CMSG_LEN`` and
  ``get_CMSG_SPACE`` -> :func:`cmsg_len`, :func:`cmsg_space`;
* the control buffer ``sock_sendmsg`` builds -> :func:`pack_ancdata`;
* the walk ``sock_recvmsg_guts`` does over the buffer the kernel filled
  (``cmsg_min_space``, ``get_cmsg_data_space``, ``get_cmsg_data_len``), and
  the ``err_closefds`` walk that finds the SCM_RIGHTS fds to close when
  anything fails after the syscall -> :func:`unpack_ancdata`,
  :func:`scm_rights_fds`.

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

import struct
from typing import TYPE_CHECKING, NamedTuple

from ._abi import derived
from ._msgargs import bytes_like, is_sequence, parse_c_int, parse_ssize_t, sequence_fast, tp_name

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = [
    "TRUNCATION_WARNING",
    "Ancdata",
    "cmsg_len",
    "cmsg_space",
    "pack_ancdata",
    "scm_rights_fds",
    "unpack_ancdata",
]

#: The text of the ``RuntimeWarning`` CPython's ``sock_recvmsg_guts`` issues
#: (``stacklevel=1``) when a control message is malformed or cut short.
TRUNCATION_WARNING = "received malformed or improperly-truncated ancillary data"

#: ``PyArg_Parse(item, "(iiy*):[sendmsg() ancillary data items]", ...)``.
_ITEM_FNAME = "[sendmsg() ancillary data items]"


class _Geometry:
    """The ``CMSG_*`` arithmetic of one ABI, precomputed once per ABI value."""

    __slots__ = (
        "abi",
        "align",
        "bsd_macros",
        "ctrunc",
        "data_offset",
        "hdr_size",
        "int_format",
        "int_size",
        "len0",
        "len_end",
        "len_format",
        "level_format",
        "scm_rights",
        "socklen_max",
        "sol_socket",
        "space1",
        "type_format",
    )

    def __init__(self, abi: ABI) -> None:
        layout = abi.cmsg
        order = "<" if abi.byteorder == "little" else ">"
        self.abi = abi
        self.align = layout.align
        self.hdr_size = layout.hdr_size
        self.bsd_macros = abi.sockaddr.has_sa_len
        # CMSG_LEN(0) == CMSG_ALIGN(sizeof(struct cmsghdr)) on glibc and XNU,
        # and CMSG_DATA(h) is that many bytes after h (glibc: sizeof(struct
        # cmsghdr), already aligned; XNU: __DARWIN_ALIGN32(sizeof(struct cmsghdr))).
        self.len0 = layout.aligned(layout.hdr_size)
        self.data_offset = self.len0
        # cmsg_min_space(): offsetof(struct cmsghdr, cmsg_len) + sizeof(cmsg_len);
        # cmsg_len is the first member on every platform we know.
        self.len_end = layout.len_size
        self.space1 = self.len0 + layout.aligned(1)  # CMSG_SPACE(1)
        self.len_format = struct.Struct(order + {4: "I", 8: "Q"}[layout.len_size])
        self.int_size = abi.sizeof_int
        self.int_format = order + {4: "i", 8: "q"}[abi.sizeof_int]
        self.level_format = struct.Struct(self.int_format)
        self.type_format = self.level_format
        self.socklen_max = abi.socklen_max
        self.sol_socket = abi.const("SOL_SOCKET")
        self.scm_rights = abi.const("SCM_RIGHTS")
        self.ctrunc = abi.const("MSG_CTRUNC")

    def int_array_format(self, count: int) -> str:
        """The ``struct`` format of *count* native C ints (an SCM_RIGHTS array)."""
        return f"{self.int_format[0]}{count}{self.int_format[1]}"

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

    # -- CMSG_NXTHDR ---------------------------------------------------------
    def nxthdr(self, controllen: int, offset: int, cur_len: int) -> int | None:
        """``CMSG_NXTHDR`` for the header at *offset* whose ``cmsg_len`` is *cur_len*.

        Returns the next header's offset, or None for the macro's NULL.
        """
        if self.bsd_macros:
            # XNU <sys/socket.h>: (char *)cmsg + __DARWIN_ALIGN32(cmsg_len) +
            # __DARWIN_ALIGN32(sizeof(struct cmsghdr)) > control + controllen
            # -> NULL.
            following = offset + self.aligned(cur_len)
            if following + self.len0 > controllen:
                return None
            return following
        # glibc 2.36 __cmsg_nxthdr (bits/socket.h, misc/cmsg_nxthdr.c).
        if cur_len < self.hdr_size:
            return None  # "The current header is malformed"
        remaining = controllen - offset
        # __CMSG_PADDING(cmsg_len): bytes up to the next CMSG_ALIGN boundary.
        size_needed = self.hdr_size + (-cur_len % self.align)
        if remaining < size_needed or remaining - size_needed < cur_len:
            return None  # no room for the current item *and* a next header
        return offset + self.aligned(cur_len)

    # -- get_cmsg_data_len ---------------------------------------------------
    def data_len(self, control: bytes, offset: int) -> tuple[int, int, int]:
        """``get_cmsg_data_len`` for the header at *offset*.

        Returns ``(status, data_len, cmsg_len)``: status -1 (invalid: header
        not inside the buffer, ``cmsg_len < CMSG_LEN(0)`` or data pointer past
        the end), 0 (the data fits: *data_len* is ``cmsg_len - CMSG_LEN(0)``)
        or 1 (truncated: *data_len* is the space left in the buffer).
        """
        controllen = len(control)
        # cmsg_min_space(msg, cmsgh, CMSG_LEN(0)): the header and its
        # cmsg_len member lie inside the buffer.
        if offset + max(self.len0, self.len_end) > controllen:
            return -1, 0, 0
        (length,) = self.len_format.unpack_from(control, offset)
        if length < self.len0:
            return -1, 0, length
        wanted = length - self.len0
        # get_cmsg_data_space(): bytes from CMSG_DATA(cmsgh) to the end.
        data_start = offset + self.data_offset
        if data_start > controllen:
            return -1, 0, length
        space = controllen - data_start
        if space >= wanted:
            return 0, wanted, length
        return 1, space, length


def _geometry(abi: ABI) -> _Geometry:
    """The geometry of *abi*, built once per ABI (:func:`sansock._abi.derived`)."""
    return derived(abi, _Geometry)


# -- CMSG_LEN / CMSG_SPACE ---------------------------------------------------


def cmsg_len(n: object, abi: ABI) -> int:
    """``socket.CMSG_LEN(n)``: ``CMSG_LEN(0) + n``, without trailing padding.

    ``socket_CMSG_LEN``: *n* is parsed with ``"n"`` (``TypeError`` for a
    non-integer, ``OverflowError: Python int too large to convert to C
    ssize_t``), then ``OverflowError: CMSG_LEN() argument out of range``
    unless ``0 <= n <= SOCKLEN_T_LIMIT - CMSG_LEN(0)``.
    """
    length = parse_ssize_t(n, abi)
    result = _geometry(abi).get_cmsg_len(length) if length >= 0 else None
    if result is None:
        raise OverflowError("CMSG_LEN() argument out of range")
    return result


def cmsg_space(n: object, abi: ABI) -> int:
    """``socket.CMSG_SPACE(n)``: ``CMSG_LEN(0) + CMSG_ALIGN(n)``.

    ``socket_CMSG_SPACE``: parsed like :func:`cmsg_len`, then
    ``OverflowError: CMSG_SPACE() argument out of range`` unless ``0 <= n <=
    SOCKLEN_T_LIMIT - CMSG_SPACE(1)``.
    """
    length = parse_ssize_t(n, abi)
    result = _geometry(abi).get_cmsg_space(length) if length >= 0 else None
    if result is None:
        raise OverflowError("CMSG_SPACE() argument out of range")
    return result


# -- sendmsg: packing --------------------------------------------------------

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
    level = parse_c_int(_member(item, 0), abi)
    kind = parse_c_int(_member(item, 1), abi)
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

    Layout: a zero-filled buffer of ``sum(CMSG_SPACE(len_i))`` bytes; headers
    placed with ``CMSG_FIRSTHDR``/``CMSG_NXTHDR``, each with ``cmsg_len =
    CMSG_LEN(len_i)`` (so the last item's padding is inside
    ``msg_controllen`` but not its ``cmsg_len``).  Empty *ancdata* gives
    ``b""``: ``msg_control`` NULL, ``msg_controllen`` 0.
    """
    items = sequence_fast(ancdata, "sendmsg() argument 2 must be an iterable")
    if not items:
        return b""
    geometry = _geometry(abi)
    parsed: list[tuple[int, int, memoryview]] = []
    try:
        controllen = 0
        for item in items:
            level, kind, data = _parse_item(item, abi)
            parsed.append((level, kind, data))
            space = geometry.get_cmsg_space(data.nbytes)
            if space is None:
                raise OSError("ancillary data item too large")
            controllen += space
            # "controllen < controllen_last" (a size_t wrap) cannot happen here.
            if controllen > geometry.socklen_max:
                raise OSError("too much ancillary data")
        return _build_control(geometry, parsed, controllen)
    finally:
        for _, _, data in parsed:
            data.release()


def _build_control(
    geometry: _Geometry, parsed: list[tuple[int, int, memoryview]], controllen: int
) -> bytes:
    """Lay the parsed items out as ``sock_sendmsg`` does (after its size checks)."""
    # memset(controlbuf, 0, controllen): "a workaround for glibc's
    # CMSG_NXTHDR()", which looks at the next header's bytes.
    control = bytearray(controllen)
    offset = 0
    previous_len = 0
    for index, (level, kind, data) in enumerate(parsed):
        if index == 0:
            # CMSG_FIRSTHDR: NULL if msg_controllen < sizeof(struct cmsghdr).
            found = 0 if controllen >= geometry.hdr_size else None
        else:
            found = geometry.nxthdr(controllen, offset, previous_len)
        if found is None:
            macro = "CMSG_FIRSTHDR" if index == 0 else "CMSG_NXTHDR"
            raise RuntimeError(f"unexpected NULL result from {macro}()")
        offset = found
        data_len = data.nbytes
        msg_len = geometry.get_cmsg_len(data_len)
        if msg_len is None:
            raise RuntimeError("item size out of range for CMSG_LEN()")
        # cmsg_min_space(&msg, cmsgh, msg_len) and get_cmsg_data_space().
        fits = (
            offset + max(msg_len, geometry.len_end) <= controllen
            and controllen - (offset + geometry.data_offset) >= data_len
        )
        if not fits:
            raise RuntimeError("ancillary data does not fit in calculated space")
        geometry.len_format.pack_into(control, offset, msg_len)
        level_offset = offset + geometry.abi.cmsg.level_offset
        geometry.level_format.pack_into(control, level_offset, level)
        geometry.type_format.pack_into(control, offset + geometry.abi.cmsg.type_offset, kind)
        start = offset + geometry.data_offset
        control[start : start + data_len] = data
        previous_len = msg_len
    return bytes(control)


# -- recvmsg: unpacking ------------------------------------------------------


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
    """Decode the control buffer a ``recvmsg`` returned (``msg_controllen`` bytes).

    The walk of ``sock_recvmsg_guts``: ``CMSG_FIRSTHDR`` only if
    ``msg_controllen > 0``, then ``CMSG_NXTHDR``; for each header
    ``get_cmsg_data_len``: status -1 marks the result truncated and stops with
    nothing appended, status 1 marks it truncated, appends the part of the
    data inside the buffer and stops.  ``fds`` follows ``err_closefds``: the
    same headers, ``data_len // sizeof(int)`` fds per SCM_RIGHTS item
    (trailing partial ints ignored).
    """
    ctrunc = bool(msg_flags & _geometry(abi).ctrunc) if msg_flags else False
    if not control:
        return Ancdata([], False, [], ctrunc)
    geometry = _geometry(abi)
    controllen = len(control)
    items: list[tuple[int, int, bytes]] = []
    fds: list[int] = []
    truncated = False
    level_offset = abi.cmsg.level_offset
    type_offset = abi.cmsg.type_offset
    # CMSG_FIRSTHDR: NULL if msg_controllen < sizeof(struct cmsghdr).
    offset: int | None = 0 if controllen >= geometry.hdr_size else None
    while offset is not None:
        status, data_len, length = geometry.data_len(control, offset)
        if status != 0:
            truncated = True
        if status < 0:
            break
        # (An OSError "control message too long" for data_len >
        # PY_SSIZE_T_MAX cannot happen: data_len <= len(control).)
        (level,) = geometry.level_format.unpack_from(control, offset + level_offset)
        (kind,) = geometry.type_format.unpack_from(control, offset + type_offset)
        start = offset + geometry.data_offset
        items.append((level, kind, bytes(control[start : start + data_len])))
        if level == geometry.sol_socket and kind == geometry.scm_rights:
            count = data_len // geometry.int_size
            fds.extend(struct.unpack_from(geometry.int_array_format(count), control, start))
        if status != 0:
            break
        offset = geometry.nxthdr(controllen, offset, length)
    return Ancdata(items, truncated, fds, ctrunc)


def scm_rights_fds(control: bytes, abi: ABI) -> list[int]:
    """Every fd an ``SOL_SOCKET``/``SCM_RIGHTS`` item of *control* carries.

    The ``err_closefds`` walk of ``sock_recvmsg_guts``: what CPython closes
    when an exception is raised after a successful ``recvmsg`` syscall.
    """
    return unpack_ancdata(control, 0, abi).fds
