"""The native driver's shared pieces: per-thread scratch buffers, buffer
exports, the in-band error codes, and the C functions bound once.

The memory rules these serve are in :mod:`sansock_native._native`'s
docstring; :mod:`._messages` (sendmsg/recvmsg/recvmmsg/sendmmsg) and
:mod:`._netdb` (the resolver) use them too.
"""

from __future__ import annotations

import operator
import os
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

from sansock.driver import Unfinished

from ._lib import AddrInfoStruct, CData, ffi, from_buffer_writable, lib, unpack_bytes

_SOCKADDR_STORAGE: Final = 128  # checked against the C layout in host_abi()
_SCRATCH_DATA: Final = 64 * 1024
_SCRATCH_CONTROL: Final = 1024
_INT_MIN: Final = -(2**31)

# A non-zeroing allocator for receive buffers larger than the scratch one:
# the kernel writes them and only the written prefix is read back.
_alloc_raw = ffi.new_allocator(should_clear_after_alloc=False)


# Hot-path functions bound once: a module global is cheaper than lib.<name>.
_recv = lib.sansock_recv
_sendto = lib.sansock_sendto
_recvfrom = lib.sansock_recvfrom
_index = operator.index
_getsockopt_int = lib.sansock_getsockopt_int
_direct_send = lib.sansock_direct_send
_direct_recv = lib.sansock_direct_recv
_direct_recv_into = lib.sansock_direct_recv_into
_direct_recvmsg = lib.sansock_direct_recvmsg
_direct_sendmsg = lib.sansock_direct_sendmsg
_sendmsg = lib.sansock_sendmsg
_sendmsg1 = lib.sansock_sendmsg1
_recvmsg = lib.sansock_recvmsg
_recvmsg1 = lib.sansock_recvmsg1
_recvmsg4 = lib.sansock_recvmsg4
_recvmmsg = lib.sansock_recvmmsg
_sendmmsg = lib.sansock_sendmmsg
_poll_send = lib.sansock_poll_send
_poll_recv = lib.sansock_poll_recv
_NOT_READY: Final = lib.SANSOCK_NOT_READY
_POLL_FAILED: Final = lib.SANSOCK_POLL_FAILED
_strerror = os.strerror
_NULL = ffi.NULL
_release = ffi.release
_buffer = ffi.buffer
_fbw = from_buffer_writable
_MMSG_MAX: Final = lib.SANSOCK_MMSG_MAX
_MMSG_KEEP: Final = 1 << 20  # larger recvmmsg buffers are not kept per thread


def _export_all(export: Callable[[Any], CData], buffers: Sequence[Any]) -> list[CData]:
    """``export(b)`` for every buffer; on a failure, release what was exported.

    A ``from_buffer`` cdata left alive in a frame that ends up in a traceback
    keeps a buffer export inside a reference cycle, and the garbage collector
    may then clear the exporting memoryview first: CPython reports "memoryview
    has 1 exported buffer" and crashes.  So every export is released on every
    path, before the frame can outlive the call.
    """
    keep: list[CData] = []
    try:
        for b in buffers:
            keep.append(export(b))
    except BaseException:
        _release_all(keep)
        raise
    return keep


def _release_all(keep: list[CData]) -> None:
    for p in keep:
        ffi.release(p)
    keep.clear()


def _past_the_buffer(received: bytes, n: int) -> bytes:
    """What ``recv``/``recvfrom`` return when MSG_TRUNC reports ``n`` bytes
    but only ``len(received)`` fit the buffer.

    CPython resizes its result up to ``n`` (``_PyBytes_Resize``), so the
    tail is whatever memory followed; it is zeros here, never bytes read past
    the buffer (which would leak an earlier call's data from the scratch).
    """
    return received + bytes(n - len(received))


def _unfinished(n: int, out: array[int]) -> Unfinished:
    """What a poll-then-call helper's negative result *n* says, in band
    (_helpers.h): ``SANSOCK_NOT_READY``; ``-errno`` (above it), the syscall
    failed; ``SANSOCK_POLL_FAILED - errno``, the clock or the poll failed.
    ``out[0]`` is the clock read first."""
    if n == _NOT_READY:
        return Unfinished(out[0])
    if n > _NOT_READY:
        return Unfinished(out[0], OSError(-n, _strerror(-n)), False)
    code = _POLL_FAILED - n
    return Unfinished(out[0], OSError(code, _strerror(code)), True)


class _Scratch:
    """One thread's reusable C buffers (see the module docstring).

    ``data_view``/``control_view`` are ``ffi.buffer`` objects over ``data``
    and ``control``, made once: slicing one copies the bytes out in a single
    step, cheaper than ``ffi.unpack``.
    """

    __slots__ = (
        "addr",
        "intout",
        "out",
        "out_values",
        "bases",
        "lens",
        "data",
        "data_view",
        "control",
        "control_view",
        "control_size",
        "pair",
        "mmsg_data",
        "mmsg_view",
        "mmsg_size",
        "mmsg_names",
        "mmsg_names_view",
        "mmsg_out",
        "mmsg_out_values",
        "mmsg_lens",
        "mmsg_namelens",
        "addrinfo_pair",
    )

    def __init__(self) -> None:
        self.addr: CData = ffi.new("char[]", _SOCKADDR_STORAGE)
        self.intout: CData = ffi.new("int[1]")
        self.pair: CData = ffi.new("int[2]")
        # The out-arrays are cdata views of Python arrays: C writes them, and
        # Python reads the array (cheaper than indexing or unpacking cdata).
        self.out_values = array("q", bytes(24))
        self.out: CData = ffi.from_buffer("long long[]", self.out_values)
        self.bases: CData = ffi.new("char *[]", 64)
        self.lens: CData = ffi.new("size_t[]", 64)
        self.data: CData = _alloc_raw("char[]", _SCRATCH_DATA)
        self.control: CData = _alloc_raw("char[]", _SCRATCH_CONTROL)
        self.data_view: Any = _buffer(self.data)
        self.control_view: Any = _buffer(self.control)
        self.control_size = _SCRATCH_CONTROL
        # recvmmsg/sendmmsg: made on first use.
        self.mmsg_size = 0
        self.mmsg_data: CData = _NULL
        self.mmsg_view: Any = None
        self.mmsg_names: CData = _NULL
        self.mmsg_names_view: Any = None
        self.mmsg_out: CData = _NULL
        self.mmsg_out_values = array("q")
        self.mmsg_lens: CData = _NULL
        self.mmsg_namelens: CData = _NULL
        #: getaddrinfo's hints and result pointer (None while a call uses them).
        self.addrinfo_pair: tuple[AddrInfoStruct, CData] | None = None

    def control_buffer(self, size: int) -> CData:
        """A control buffer of at least *size* bytes, grown and kept."""
        if size > self.control_size:
            if size > 1 << 20:  # do not keep very large ones per thread
                return _alloc_raw("char[]", size)
            self.control = _alloc_raw("char[]", size)
            self.control_view = _buffer(self.control)
            self.control_size = size
        return self.control

    def mmsg_arrays(self) -> None:
        """The per-thread name, result and length arrays of recvmmsg/sendmmsg."""
        if self.mmsg_names_view is None:
            self.mmsg_names = _alloc_raw("char[]", _MMSG_MAX * _SOCKADDR_STORAGE)
            self.mmsg_names_view = _buffer(self.mmsg_names)
            self.mmsg_out_values = array("q", bytes(8 * 3 * _MMSG_MAX))
            self.mmsg_out = ffi.from_buffer("long long[]", self.mmsg_out_values)
            self.mmsg_lens = ffi.new("long long[]", _MMSG_MAX)
            self.mmsg_namelens = ffi.new("long long[]", _MMSG_MAX)

    def mmsg_buffer(self, size: int) -> tuple[CData, Any]:
        """A recvmmsg data buffer of at least *size* bytes and its view."""
        if size > self.mmsg_size or self.mmsg_view is None:
            data = _alloc_raw("char[]", max(size, 1))
            if size > _MMSG_KEEP:
                return data, _buffer(data)
            self.mmsg_data = data
            self.mmsg_view = _buffer(data)
            self.mmsg_size = size
        return self.mmsg_data, self.mmsg_view


#: Receive buffers of ``recv`` (64 KiB each) as ``(cdata, ffi.buffer)``
#: pairs.  A call pops one, an atomic step under the GIL, and pushes it back
#: once its bytes are copied out, so no two calls ever share one: not two
#: threads, and not a signal handler that receives between another receive's
#: syscall and its copy.  It holds as many as were ever in use at once.  A
#: deque, not a list: a list reallocates on every pop and push around one
#: element.  It keeps at most ``_RECV_BUFFERS_KEPT`` (``maxlen``: a push on
#: a full pool drops one): the threading.local buffers it replaced died with
#: their threads, and a thread-per-connection server whose 1000 threads once
#: received at once must not keep 64 MiB for good.
_RECV_BUFFERS_KEPT: Final = 8
_recv_buffers: deque[tuple[CData, Any]] = deque(maxlen=_RECV_BUFFERS_KEPT)
_take_recv_buffer = _recv_buffers.pop
_give_recv_buffer = _recv_buffers.append


def _new_recv_buffer() -> tuple[CData, Any]:
    """A receive buffer for :data:`_recv_buffers` (when it is empty)."""
    data = _alloc_raw("char[]", _SCRATCH_DATA)
    return data, _buffer(data)


# DirectCalls.recvmsg's message blocks (struct sansock_msgbuf, _helpers.h),
# pooled as the receive buffers are.
_MSG_BLOCK: Final = "struct sansock_msgbuf *"
_MSG_OUT_AT: Final = ffi.offsetof("struct sansock_msgbuf", "out")
_MSG_NAME_AT: Final = ffi.offsetof("struct sansock_msgbuf", "name")
_MSG_CONTROL_AT: Final = ffi.offsetof("struct sansock_msgbuf", "control")
_msg_buffers: deque[tuple[CData, Any, memoryview]] = deque(maxlen=_RECV_BUFFERS_KEPT)


def _new_msg_buffer() -> tuple[CData, Any, memoryview]:
    """A message block for :data:`_msg_buffers` (when it is empty): the
    block, a view of it, and its out-values as three ``long long``."""
    block = _alloc_raw(_MSG_BLOCK)
    view = _buffer(block)
    out = memoryview(view)[_MSG_OUT_AT : _MSG_OUT_AT + 24].cast("q")
    out[0] = out[1] = out[2] = 0  # pooled with its control length 0 (DirectCalls)
    return block, view, out


#: The other calls' scratch buffers (addresses, out-arrays, the 64 KiB data
#: and 1 KiB control buffers, the mmsg arrays), pooled as ``recv``'s buffers
#: are: a call takes a :class:`_Scratch` for the syscall and the copies out
#: and gives it back after, so a signal handler that runs between another
#: call's syscall and its copy (Python runs handlers right after a C call
#: returns) takes another one instead of overwriting it.  At most
#: ``_SCRATCHES_KEPT`` are kept (a push on a full pool drops one).
_SCRATCHES_KEPT: Final = 8
_scratches: deque[_Scratch] = deque(maxlen=_SCRATCHES_KEPT)
_give_scratch = _scratches.append
_pop_scratch = _scratches.pop


def _take_scratch() -> _Scratch:
    """A scratch no other call holds: the pool's, or a new one."""
    try:
        return _scratches.pop()
    except IndexError:
        return _Scratch()


def _control_bytes(s: _Scratch, control: CData, controllen: int) -> bytes:
    """The first *controllen* bytes of a control buffer (``b""`` for none)."""
    if not controllen:
        return b""
    if control is s.control:
        raw: bytes = s.control_view[:controllen]
        return raw
    big: bytes = unpack_bytes(control, controllen)
    return big


def _iov_of(s: _Scratch, keep: list[CData]) -> tuple[CData, CData, int]:
    """The iovec arrays (bases, lengths) of the exported buffers *keep*, and their count."""
    count = len(keep)
    bases, lens = _iov_arrays(s, count)
    if count:
        bases[0:count] = keep
        lens[0:count] = list(map(len, keep))
    return bases, lens, count


def _iov_arrays(s: _Scratch, n: int) -> tuple[CData, CData]:
    if n <= 64:
        return s.bases, s.lens
    # More than 64 buffers: arrays for this call only (the kernel decides
    # whether that is over IOV_MAX, as CPython lets it).
    return ffi.new("char *[]", n), ffi.new("size_t[]", n)
