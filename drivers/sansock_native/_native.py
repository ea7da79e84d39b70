"""NativeDriver: the Driver protocol on the real kernel, through CFFI.

Each method is one syscall (or one C helper doing one multi-step job such as
building a ``struct msghdr``), checked on the next line.  Failure is
``OSError(errno, strerror(errno))`` from the errno CFFI saved right after the
call (``ffi.errno``); EINTR is raised like any other errno, never retried.

Memory rules (CFFI releases the GIL during every call):

* no memory bound is decided by a comparison on a caller's object: a size
  that is not an exact ``int`` is converted once with ``operator.index``
  before it is compared or used (cffi would take anything with ``__int__``,
  and an ``int`` subclass may lie in ``__le__``), and every C helper that
  writes into (or reads from) a buffer is also given the buffer's capacity
  and refuses a longer length with EFAULT (``SANSOCK_FITS`` in _helpers.h);

* scratch buffers (the ``sockaddr_storage``, out-arrays, the iovec arrays,
  a 64 KiB receive buffer) belong to one thread (:class:`_Scratch` in a
  ``threading.local``), never shared across threads;
* every Python buffer handed to C is held by a local variable until the call
  returns (a pointer stored in a C array does not keep its memory alive);
* ``bytes`` pass straight to ``char *`` parameters; other buffers go through
  ``ffi.from_buffer`` (``require_writable=True`` for the receive side, so a
  ``bytes`` object is never written to).

Known limit: a Python signal handler that runs in the same thread between a
receive syscall and the copy out of the scratch buffer, and itself receives
through this driver, would overwrite that thread's scratch data.
"""

from __future__ import annotations

import operator
import os
import sys
import threading
from array import array
from itertools import repeat
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast, final

from sansock.driver import AddrInfo, HostEnt, Unfinished, gaierror, herror

from ._abi import host_abi
from ._lib import (
    CHAR_ARRAY,
    AddrInfoStruct,
    CData,
    CharP,
    HostEntStruct,
    IfNameIndexStruct,
    ProtoEntStruct,
    ServEntStruct,
    cstring,
    ffi,
    from_buffer_writable,
    is_null,
    lib,
    unpack_bytes,
    writable_buffer,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from sansock.driver import ABI

__all__ = ["NativeDriver"]

_SOCKADDR_STORAGE: Final = 128  # checked against the C layout in host_abi()
_SCRATCH_DATA: Final = 64 * 1024
_SCRATCH_CONTROL: Final = 1024
_INT_MIN: Final = -(2**31)
_ERANGE: Final = 34
_ENODEV: Final = 19
_EINVAL: Final = 22
_NETDB_BUFSIZE: Final = 16384  # CPython's gethostbyname_ex buffer (socketmodule.c)

# A non-zeroing allocator for receive buffers larger than the scratch one:
# the kernel writes them and only the written prefix is read back.
_alloc_raw = ffi.new_allocator(should_clear_after_alloc=False)


# Hot-path functions bound once: a module global is cheaper than lib.<name>.
_send = lib.send
_recv = lib.sansock_recv
_sendto = lib.sansock_sendto
_recvfrom = lib.sansock_recvfrom
_index = operator.index
_getsockopt_int = lib.sansock_getsockopt_int
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
_NULL = ffi.NULL
_getaddrinfo = lib.getaddrinfo
_cast = ffi.cast
CHAR_P = ffi.typeof("char *")
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


def _grow_until_fits(call: Callable[[CData, int], int]) -> CData:
    """Run a glibc ``*_r`` netdb call with a scratch buffer, doubling it while
    the call answers ERANGE (gethostbyname_r(3)); return the buffer, which the
    results point into."""
    size = _NETDB_BUFSIZE
    while True:
        buf = ffi.new("char[]", size)
        if call(buf, size) != _ERANGE:
            return buf
        size *= 2


def _os_error() -> OSError:
    """``OSError(errno, strerror)`` for the errno saved by the last call."""
    code = ffi.errno
    return OSError(code, os.strerror(code))


def _unfinished(out: array[int]) -> Unfinished:
    """What a poll-then-call helper reported in *out* when it returned -1
    (read before any other C call: ``ffi.errno`` is the helper's)."""
    stage = out[1]
    if stage == _NOT_READY:
        return Unfinished(out[0])
    return Unfinished(out[0], _os_error(), stage == _POLL_FAILED)


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


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.scratch = _Scratch()


_tls = _PerThread()


def _control_bytes(s: _Scratch, control: CData, controllen: int) -> bytes:
    """The first *controllen* bytes of a control buffer (``b""`` for none)."""
    if not controllen:
        return b""
    if control is s.control:
        raw: bytes = s.control_view[:controllen]
        return raw
    big: bytes = unpack_bytes(control, controllen)
    return big


def _iov_arrays(s: _Scratch, n: int) -> tuple[CData, CData]:
    if n <= 64:
        return s.bases, s.lens
    # More than 64 buffers: arrays for this call only (the kernel decides
    # whether that is over IOV_MAX, as CPython lets it).
    return ffi.new("char *[]", n), ffi.new("size_t[]", n)


def _netdb_str(p: CData) -> str:
    """A C string from netdb, decoded as CPython's PyUnicode_FromString."""
    return cstring(p).decode("utf-8")


def _string_list(pp: CData) -> list[str]:
    out: list[str] = []
    i = 0
    while not is_null(pp[i]):
        out.append(_netdb_str(pp[i]))
        i += 1
    return out


def _hostent(h: HostEntStruct) -> HostEnt:
    length = int(h.h_length)
    addrs: list[bytes] = []
    i = 0
    while not is_null(h.h_addr_list[i]):
        raw: bytes = ffi.buffer(h.h_addr_list[i], length)[:]
        addrs.append(raw)
        i += 1
    return (_netdb_str(h.h_name), _string_list(h.h_aliases), int(h.h_addrtype), addrs)


def _herror(code: int) -> herror:
    return herror(code, _netdb_str(lib.hstrerror(code)))


def _gai_error(code: int) -> OSError:
    # CPython's set_gaierror: EAI_SYSTEM is an errno error.
    if code == lib.EAI_SYSTEM:
        return _os_error()
    return gaierror(code, _netdb_str(lib.gai_strerror(code)))


@final
class NativeDriver:
    """The real kernel: every :class:`sansock.Driver` call is one syscall.

    Stateless apart from per-thread scratch buffers, so one instance can be
    shared by every socket and thread.
    """

    __slots__ = ()

    @property
    def abi(self) -> ABI:
        return host_abi()

    # -- clock and readiness ------------------------------------------------
    def monotonic_ns(self) -> int:
        # clock_gettime(2) CLOCK_MONOTONIC.
        r = lib.sansock_monotonic_ns()
        if r == -1:
            raise _os_error()
        return r

    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        # poll(2) on one fd; EINTR raised for the core's machine.
        r = lib.sansock_poll1(fd, events, timeout_ms)
        if r == -1:
            raise _os_error()
        return r

    # -- poll then call (the optional sansock.driver.PollCallDriver) --------
    def poll_send(self, fd: int, data: ReadableBuffer, flags: int) -> int | Unfinished:
        # clock, poll(fd, POLLOUT, 0) and send(2) in one C call (sansock_poll_send).
        s = _tls.scratch
        if type(data) is bytes:
            n = _poll_send(fd, data, len(data), flags, s.out)
        else:
            p = ffi.from_buffer(data)
            try:
                n = _poll_send(fd, p, len(p), flags, s.out)
            finally:
                ffi.release(p)
        if n == -1:
            return _unfinished(s.out_values)
        return n

    def poll_recv(self, fd: int, bufsize: int, flags: int) -> bytes | Unfinished:
        # clock, poll(fd, POLLIN, 0) and recv(2) in one C call (sansock_poll_recv).
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        s = _tls.scratch
        scratch = bufsize <= _SCRATCH_DATA
        buf = s.data if scratch else _alloc_raw("char[]", bufsize)
        n = _poll_recv(fd, buf, _SCRATCH_DATA if scratch else bufsize, bufsize, flags, s.out)
        if n == -1:
            return _unfinished(s.out_values)
        if n > bufsize:  # MSG_TRUNC: the datagram's real length
            return _past_the_buffer(s.data_view[:bufsize] if scratch else unpack_bytes(buf, bufsize), n)
        data: bytes = s.data_view[:n] if scratch else unpack_bytes(buf, n)
        return data

    # -- lifecycle ------------------------------------------------------------
    def socket(self, family: int, type: int, proto: int) -> int:
        fd = lib.socket(family, type, proto)
        if fd == -1:
            raise _os_error()
        return fd

    def socketpair(self, family: int, type: int, proto: int) -> tuple[int, int]:
        sv = _tls.scratch.pair
        r = lib.socketpair(family, type, proto, sv)
        if r == -1:
            raise _os_error()
        return int(sv[0]), int(sv[1])

    def close(self, fd: int) -> None:
        # close(2): the fd is gone even on EINTR (Linux), so no retry.
        r = lib.close(fd)
        if r == -1:
            raise _os_error()

    def dup(self, fd: int) -> int:
        r = lib.sansock_dup_cloexec(fd)
        if r == -1:
            raise _os_error()
        return r

    def get_nonblocking(self, fd: int) -> bool:
        r = lib.sansock_get_nonblocking(fd)
        if r == -1:
            raise _os_error()
        return r == 1

    def set_nonblocking(self, fd: int, nonblocking: bool) -> None:
        r = lib.sansock_set_nonblocking(fd, 1 if nonblocking else 0)
        if r == -1:
            raise _os_error()

    def get_inheritable(self, fd: int) -> bool:
        r = lib.sansock_get_inheritable(fd)
        if r == -1:
            raise _os_error()
        return r == 1

    def set_inheritable(self, fd: int, inheritable: bool) -> None:
        r = lib.sansock_set_inheritable(fd, 1 if inheritable else 0)
        if r == -1:
            raise _os_error()

    # -- connection setup -----------------------------------------------------
    def bind(self, fd: int, addr: bytes) -> None:
        r = lib.sansock_bind(fd, addr, len(addr))
        if r == -1:
            raise _os_error()

    def listen(self, fd: int, backlog: int) -> None:
        r = lib.listen(fd, backlog)
        if r == -1:
            raise _os_error()

    def accept(self, fd: int, flags: int) -> tuple[int, bytes]:
        s = _tls.scratch
        r = lib.sansock_accept(fd, s.addr, s.intout, flags)
        if r == -1:
            raise _os_error()
        addr: bytes = unpack_bytes(s.addr, s.intout[0])
        return r, addr

    def connect(self, fd: int, addr: bytes) -> None:
        r = lib.sansock_connect(fd, addr, len(addr))
        if r == -1:
            raise _os_error()

    def shutdown(self, fd: int, how: int) -> None:
        r = lib.shutdown(fd, how)
        if r == -1:
            raise _os_error()

    def getsockname(self, fd: int) -> bytes:
        addr = _tls.scratch.addr
        n = lib.sansock_getsockname(fd, addr)
        if n == -1:
            raise _os_error()
        raw: bytes = unpack_bytes(addr, n)
        return raw

    def getpeername(self, fd: int) -> bytes:
        addr = _tls.scratch.addr
        n = lib.sansock_getpeername(fd, addr)
        if n == -1:
            raise _os_error()
        raw: bytes = unpack_bytes(addr, n)
        return raw

    # -- options -------------------------------------------------------------
    def getsockopt(self, fd: int, level: int, option: int) -> int:
        # The helper returns the int, or a value below INT_MIN on failure.
        r = _getsockopt_int(fd, level, option)
        if r < _INT_MIN:
            raise _os_error()
        return r

    def getsockopt_bytes(self, fd: int, level: int, option: int, buflen: int) -> bytes:
        if type(buflen) is not int:
            buflen = _index(buflen)
        cap = max(buflen, 1)
        buf = _alloc_raw("char[]", cap)
        n = lib.sansock_getsockopt_buf(fd, level, option, buf, cap, buflen)
        if n == -1:
            raise _os_error()
        raw: bytes = unpack_bytes(buf, n)
        return raw

    def setsockopt(self, fd: int, level: int, option: int, value: int) -> None:
        r = lib.sansock_setsockopt_int(fd, level, option, value)
        if r == -1:
            raise _os_error()

    def setsockopt_bytes(
        self, fd: int, level: int, option: int, value: ReadableBuffer | None, optlen: int
    ) -> None:
        buf: CharP
        if type(optlen) is not int:
            optlen = _index(optlen)
        if value is None:
            buf = ffi.NULL
            cap = 0
        elif type(value) is bytes:
            buf = value
            cap = len(value)
            if optlen > cap:  # never let the kernel read past the object
                raise OSError(_EINVAL, os.strerror(_EINVAL))
        else:
            view = ffi.from_buffer(value)
            try:
                if optlen > len(view):
                    raise OSError(_EINVAL, os.strerror(_EINVAL))
                r = lib.sansock_setsockopt_buf(fd, level, option, view, len(view), optlen)
            finally:
                ffi.release(view)
            if r == -1:
                raise _os_error()
            return
        r = lib.sansock_setsockopt_buf(fd, level, option, buf, cap, optlen)
        if r == -1:
            raise _os_error()

    # -- data ----------------------------------------------------------------
    def send(self, fd: int, data: ReadableBuffer, flags: int) -> int:
        if type(data) is bytes:
            n = _send(fd, data, len(data), flags)
        else:
            p = ffi.from_buffer(data)
            try:
                n = _send(fd, p, len(p), flags)
            finally:
                ffi.release(p)
        if n == -1:
            raise _os_error()
        return n

    def sendto(self, fd: int, data: ReadableBuffer, flags: int, addr: bytes) -> int:
        if type(data) is bytes:
            n = _sendto(fd, data, len(data), flags, addr, len(addr))
        else:
            p = ffi.from_buffer(data)
            try:
                n = _sendto(fd, p, len(p), flags, addr, len(addr))
            finally:
                ffi.release(p)
        if n == -1:
            raise _os_error()
        return n

    def recv(self, fd: int, bufsize: int, flags: int) -> bytes:
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        if bufsize <= _SCRATCH_DATA:
            s = _tls.scratch
            n = _recv(fd, s.data, _SCRATCH_DATA, bufsize, flags)
            if n == -1:
                raise _os_error()
            if n > bufsize:  # MSG_TRUNC: the datagram's real length
                return _past_the_buffer(s.data_view[:bufsize], n)
            data: bytes = s.data_view[:n]
            return data
        buf = _alloc_raw("char[]", bufsize)
        n = _recv(fd, buf, bufsize, bufsize, flags)
        if n == -1:
            raise _os_error()
        if n > bufsize:
            return _past_the_buffer(unpack_bytes(buf, bufsize), n)
        big: bytes = unpack_bytes(buf, n)
        return big

    def recv_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> int:
        if type(nbytes) is not int:
            nbytes = _index(nbytes)
        p = _fbw(CHAR_ARRAY, buf, True)  # writable_buffer(), inlined
        try:
            size = len(p)
            if nbytes > size:
                raise ValueError("buffer too small for requested bytes")
            n = _recv(fd, p, size, nbytes, flags)
        finally:
            _release(p)
        if n == -1:
            raise _os_error()
        return n

    def recvfrom(self, fd: int, bufsize: int, flags: int) -> tuple[bytes, bytes]:
        s = _tls.scratch
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        if bufsize <= _SCRATCH_DATA:
            buf, cap = s.data, _SCRATCH_DATA
        else:
            buf, cap = _alloc_raw("char[]", bufsize), bufsize
        intout = s.intout
        n = _recvfrom(fd, buf, cap, bufsize, flags, s.addr, intout)
        if n == -1:
            raise _os_error()
        if n > bufsize:  # MSG_TRUNC: the datagram's real length
            data = _past_the_buffer(unpack_bytes(buf, bufsize), n)
        else:
            data = s.data_view[:n] if buf is s.data else unpack_bytes(buf, n)
        addr: bytes = unpack_bytes(s.addr, intout[0])
        return data, addr

    def recvfrom_into(
        self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int
    ) -> tuple[int, bytes]:
        s = _tls.scratch
        if type(nbytes) is not int:
            nbytes = _index(nbytes)
        p = writable_buffer(buf)
        try:
            size = len(p)
            if nbytes > size:
                raise ValueError("nbytes is greater than the length of the buffer")
            n = lib.sansock_recvfrom(fd, p, size, nbytes, flags, s.addr, s.intout)
        finally:
            ffi.release(p)
        if n == -1:
            raise _os_error()
        addr: bytes = unpack_bytes(s.addr, s.intout[0])
        return n, addr

    def sendmsg(
        self,
        fd: int,
        buffers: Sequence[ReadableBuffer],
        control: bytes,
        flags: int,
        addr: bytes | None,
    ) -> int:
        if addr is None and len(buffers) == 1:
            # The common case (fds, credentials): one bytes buffer, no address.
            data = buffers[0]
            if type(data) is bytes:
                n = _sendmsg1(fd, data, len(data), control or _NULL, len(control), _NULL, 0, flags)
                if n == -1:
                    raise _os_error()
                return n
        controllen = len(control)
        ctrl: CharP = control if controllen else _NULL
        if addr is None:
            name: CharP = _NULL
            namelen = 0
        else:
            name = addr
            namelen = len(addr)
        if len(buffers) == 1:
            data = buffers[0]
            if type(data) is bytes:
                n = _sendmsg1(fd, data, len(data), ctrl, controllen, name, namelen, flags)
            else:
                p = ffi.from_buffer(data)
                try:
                    n = _sendmsg1(fd, p, len(p), ctrl, controllen, name, namelen, flags)
                finally:
                    ffi.release(p)
        else:
            # keep: every buffer stays alive until sendmsg returns.
            keep = _export_all(ffi.from_buffer, buffers)
            try:
                count = len(keep)
                bases, lens = _iov_arrays(_tls.scratch, count)
                if count:
                    bases[0:count] = keep
                    lens[0:count] = list(map(len, keep))
                n = _sendmsg(fd, bases, lens, count, ctrl, controllen, name, namelen, flags)
            finally:
                _release_all(keep)
        if n == -1:
            raise _os_error()
        return n

    def recvmsg(
        self, fd: int, bufsize: int, ancbufsize: int, flags: int
    ) -> tuple[bytes, bytes, int, bytes]:
        s = _tls.scratch
        if (
            type(bufsize) is int
            and type(ancbufsize) is int
            and bufsize <= _SCRATCH_DATA
            and 0 < ancbufsize <= s.control_size
        ):
            # The common case (fds, credentials): every buffer is the scratch.
            n = _recvmsg1(fd, s.data, _SCRATCH_DATA, bufsize, s.control, s.control_size, ancbufsize,
                          s.addr, flags, s.out)
            if n == -1:
                raise _os_error()
            msg_flags, controllen, namelen = s.out_values
            return (
                s.data_view[: n if n <= bufsize else bufsize],  # MSG_TRUNC may report more
                s.control_view[:controllen] if controllen else b"",
                msg_flags,
                unpack_bytes(s.addr, namelen) if namelen else b"",
            )
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        if type(ancbufsize) is not int:
            ancbufsize = _index(ancbufsize)
        scratch = bufsize <= _SCRATCH_DATA
        buf = s.data if scratch else _alloc_raw("char[]", bufsize)
        control_size = s.control_size
        if 0 < ancbufsize <= control_size:
            control = s.control
            n = _recvmsg1(fd, buf, _SCRATCH_DATA if scratch else bufsize, bufsize,
                          control, control_size, ancbufsize, s.addr, flags, s.out)
        else:
            if ancbufsize:
                control, controlcap = s.control_buffer(ancbufsize), ancbufsize
            else:
                control, controlcap = _NULL, 0
            n = _recvmsg1(fd, buf, _SCRATCH_DATA if scratch else bufsize, bufsize,
                          control, controlcap, ancbufsize, s.addr, flags, s.out)
        if n == -1:
            raise _os_error()
        # MSG_TRUNC may report more than bufsize: recvmsg keeps what fit
        # (CPython's makeval_recvmsg only ever shrinks the result).
        if n > bufsize:
            n = bufsize
        data: bytes = s.data_view[:n] if scratch else unpack_bytes(buf, n)
        msg_flags, controllen, namelen = s.out_values
        if not controllen:
            ctrl = b""
        elif control is s.control:
            ctrl = s.control_view[:controllen]
        else:
            ctrl = unpack_bytes(control, controllen)
        return data, ctrl, msg_flags, unpack_bytes(s.addr, namelen) if namelen else b""

    def recvmsg_into(
        self, fd: int, buffers: Sequence[WriteableBuffer], ancbufsize: int, flags: int
    ) -> tuple[int, bytes, int, bytes]:
        s = _tls.scratch
        if type(ancbufsize) is not int:
            ancbufsize = _index(ancbufsize)
        if ancbufsize:
            control = s.control_buffer(ancbufsize)
            controlcap = s.control_size if control is s.control else ancbufsize
        else:
            control, controlcap = _NULL, 0
        out = s.out
        count = len(buffers)
        if count == 1:
            p = _fbw(CHAR_ARRAY, buffers[0], True)
            try:
                size = len(p)
                n = _recvmsg1(fd, p, size, size, control, controlcap, ancbufsize, s.addr, flags, out)
            finally:
                _release(p)
        elif 2 <= count <= 4:
            # Up to four buffers go to C as arguments; p0..p3 keep them alive.
            # On success dropping them ends the exports (a from_buffer cdata
            # releases its buffer when freed); on any exception each export
            # is released before the frame can join a traceback.
            p0 = p1 = p2 = p3 = _NULL
            try:
                p0 = _fbw(CHAR_ARRAY, buffers[0], True)
                p1 = _fbw(CHAR_ARRAY, buffers[1], True)
                l2 = l3 = 0
                if count > 2:
                    p2 = _fbw(CHAR_ARRAY, buffers[2], True)
                    l2 = len(p2)
                    if count > 3:
                        p3 = _fbw(CHAR_ARRAY, buffers[3], True)
                        l3 = len(p3)
                n = _recvmsg4(
                    fd, count, p0, len(p0), p1, len(p1), p2, l2, p3, l3,
                    control, controlcap, ancbufsize, s.addr, flags, out,
                )
            except BaseException:
                for p in (p0, p1, p2, p3):
                    if p is not _NULL:
                        _release(p)
                raise
            del p0, p1, p2, p3
        else:
            # keep: every buffer stays alive until recvmsg returns.
            keep = _export_all(writable_buffer, buffers)
            try:
                count = len(keep)
                bases, lens = _iov_arrays(s, count)
                if count:
                    bases[0:count] = keep
                    lens[0:count] = list(map(len, keep))
                n = _recvmsg(fd, bases, lens, count, control, controlcap, ancbufsize, s.addr, flags, out)
            finally:
                _release_all(keep)
        if n == -1:
            raise _os_error()
        msg_flags, controllen, namelen = s.out_values
        if not controllen and not namelen:
            return n, b"", msg_flags, b""
        return (
            n,
            _control_bytes(s, control, controllen),
            msg_flags,
            unpack_bytes(s.addr, namelen) if namelen else b"",
        )

    # -- batches (the optional sansock.MmsgDriver capability) ---------------
    def recvmmsg(
        self, fd: int, count: int, bufsize: int, flags: int
    ) -> list[tuple[bytes, int, bytes]]:
        # recvmmsg(2) with MSG_WAITFORONE, in one C call (sansock_recvmmsg):
        # message i lands at i * bufsize of one per-thread buffer.
        s = _tls.scratch
        if type(count) is not int:
            count = _index(count)
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        if count > _MMSG_MAX:
            count = _MMSG_MAX
        s.mmsg_arrays()
        size = count * bufsize if count > 0 else 0
        data, view = s.mmsg_buffer(size)
        cap = max(size, 1) if data is not s.mmsg_data else s.mmsg_size
        out = s.mmsg_out
        got = _recvmmsg(fd, data, cap, bufsize, s.mmsg_names, count, flags, out)
        if got == -1:
            raise _os_error()
        meta = s.mmsg_out_values
        end3 = 3 * got
        names = s.mmsg_names_view
        result: list[tuple[bytes, int, bytes]] = []
        append = result.append
        raw = b""
        for start, length, msg_flags, namelen, name in zip(
            range(0, got * bufsize, bufsize) if bufsize else repeat(0, got),
            meta[0:end3:3],
            meta[1:end3:3],
            meta[2:end3:3],
            range(0, got * _SOCKADDR_STORAGE, _SOCKADDR_STORAGE),
        ):
            if namelen >= 0:  # -1: the previous datagram's sender again
                raw = names[name : name + namelen] if namelen else b""
            # With MSG_TRUNC the kernel reports the datagram's full length.
            append((view[start : start + (length if length < bufsize else bufsize)], msg_flags, raw))
        return result

    def sendmmsg(
        self, fd: int, messages: Sequence[tuple[ReadableBuffer, bytes | None]], flags: int
    ) -> int:
        # sendmmsg(2) in one C call: the data and names laid end to end, the
        # lengths in per-thread arrays (sansock_sendmmsg builds the mmsghdrs).
        s = _tls.scratch
        s.mmsg_arrays()
        batch = messages[:_MMSG_MAX] if len(messages) > _MMSG_MAX else messages
        count = len(batch)
        lens: list[int] = []
        namelens: list[int] = []
        names: list[bytes] = []
        for payload, addr in batch:
            lens.append(len(payload) if type(payload) is bytes else memoryview(payload).nbytes)
            if addr is None:
                namelens.append(0)
            else:
                namelens.append(len(addr))
                names.append(addr)
        data = b"".join(batch_data for batch_data, _ in batch)
        joined = b"".join(names)
        s.mmsg_lens[0:count] = lens
        s.mmsg_namelens[0:count] = namelens
        # The lengths were read before the join: a buffer another thread
        # resized in between is caught by the helper's bound (EFAULT).
        n = _sendmmsg(fd, data, len(data), s.mmsg_lens, joined, len(joined), s.mmsg_namelens, count, flags)
        if n == -1:
            raise _os_error()
        return n

    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        # os.sendfile parses offset and count with __index__ (Py_off_t,
        # Py_ssize_t): a Decimal or float is refused before the syscall.
        if type(offset) is not int:
            offset = _index(offset)
        if type(count) is not int:
            count = _index(count)
        n = lib.sansock_sendfile(out_fd, in_fd, offset, count)
        if n == -1:
            raise _os_error()
        return n

    def file_size(self, fd: int) -> int:
        n = lib.sansock_file_size(fd)
        if n == -1:
            raise _os_error()
        return n

    # -- resolver and host facts ---------------------------------------------
    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        # The hints and the result pointer are this thread's, reused (the
        # hints' other fields stay zero: getaddrinfo(3) only reads them).
        # Taken out while in use, so that a signal handler resolving in this
        # thread meanwhile makes its own instead of overwriting them.
        s = _tls.scratch
        pair, s.addrinfo_pair = s.addrinfo_pair, None
        if pair is None:
            pair = (cast(AddrInfoStruct, ffi.new("struct addrinfo *")), ffi.new("struct addrinfo **"))
        hints, res = pair
        hints.ai_family = family
        hints.ai_socktype = type
        hints.ai_protocol = proto
        hints.ai_flags = flags
        code = _getaddrinfo(_NULL if host is None else host, _NULL if port is None else port, hints, res)
        first = res[0]
        s.addrinfo_pair = pair
        if code != 0:
            raise _gai_error(code)
        out: list[AddrInfo] = []
        try:
            ai: AddrInfoStruct = first
            while ai != _NULL:
                canon = ai.ai_canonname
                raw = unpack_bytes(_cast(CHAR_P, ai.ai_addr), ai.ai_addrlen)
                out.append(
                    (ai.ai_family, ai.ai_socktype, ai.ai_protocol, "" if canon == _NULL else _netdb_str(canon), raw)
                )
                ai = ai.ai_next
        finally:
            lib.freeaddrinfo(first)
        return out

    def getnameinfo(self, addr: bytes, flags: int) -> tuple[str, str]:
        host = ffi.new("char[]", lib.NI_MAXHOST)
        serv = ffi.new("char[]", lib.NI_MAXSERV)
        code = lib.sansock_getnameinfo(
            addr, len(addr), host, lib.NI_MAXHOST, serv, lib.NI_MAXSERV, flags
        )
        if code != 0:
            raise _gai_error(code)
        return _netdb_str(host), _netdb_str(serv)

    def gethostbyname_ex(self, name: bytes) -> HostEnt:
        ret = ffi.new("struct hostent *")
        result = ffi.new("struct hostent **")
        h_errno = ffi.new("int *")
        # The results point into buf: it stays alive until they are read.
        buf = _grow_until_fits(lambda b, n: lib.gethostbyname_r(name, ret, b, n, result, h_errno))
        if is_null(result[0]):
            raise _herror(int(h_errno[0]))
        return _hostent(cast(HostEntStruct, result[0]))

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        ret = ffi.new("struct hostent *")
        result = ffi.new("struct hostent **")
        h_errno = ffi.new("int *")
        # The results point into buf: it stays alive until they are read.
        buf = _grow_until_fits(
            lambda b, n: lib.gethostbyaddr_r(addr, len(addr), family, ret, b, n, result, h_errno)
        )
        if is_null(result[0]):
            raise _herror(int(h_errno[0]))
        return _hostent(cast(HostEntStruct, result[0]))

    def getservbyname(self, name: bytes, proto: bytes | None) -> int | None:
        ret = ffi.new("struct servent *")
        result = ffi.new("struct servent **")
        # The results point into buf: it stays alive until they are read.
        buf = _grow_until_fits(
            lambda b, n: lib.getservbyname_r(name, ffi.NULL if proto is None else proto, ret, b, n, result)
        )
        if is_null(result[0]):
            return None
        sp = cast(ServEntStruct, result[0])
        # s_port is in network byte order (getservent(3)).
        return int.from_bytes((sp.s_port & 0xFFFF).to_bytes(2, sys.byteorder), "big")

    def getservbyport(self, port: int, proto: bytes | None) -> str | None:
        ret = ffi.new("struct servent *")
        result = ffi.new("struct servent **")
        # The port goes in network byte order (getservbyport(3)).
        nport = int.from_bytes((port & 0xFFFF).to_bytes(2, "big"), sys.byteorder)
        # The results point into buf: it stays alive until they are read.
        buf = _grow_until_fits(
            lambda b, n: lib.getservbyport_r(nport, ffi.NULL if proto is None else proto, ret, b, n, result)
        )
        if is_null(result[0]):
            return None
        return _netdb_str(cast(ServEntStruct, result[0]).s_name)

    def getprotobyname(self, name: bytes) -> int | None:
        ret = ffi.new("struct protoent *")
        result = ffi.new("struct protoent **")
        # The results point into buf: it stays alive until they are read.
        buf = _grow_until_fits(lambda b, n: lib.getprotobyname_r(name, ret, b, n, result))
        if is_null(result[0]):
            return None
        return cast(ProtoEntStruct, result[0]).p_proto

    def gethostname(self) -> bytes:
        # CPython's socket_gethostname: a 1024-byte buffer, NUL-terminated.
        buf = ffi.new("char[]", 1025)
        r = lib.gethostname(buf, 1024)
        if r == -1:
            raise _os_error()
        return cstring(buf)

    def sethostname(self, name: bytes) -> None:
        r = lib.sethostname(name, len(name))
        if r == -1:
            raise _os_error()

    def if_nameindex(self) -> list[tuple[int, bytes]]:
        ni = lib.if_nameindex()
        if is_null(ni):
            raise _os_error()
        out: list[tuple[int, bytes]] = []
        try:
            i = 0
            while True:
                entry = cast(IfNameIndexStruct, ni[i])
                if entry.if_index == 0:
                    break
                out.append((entry.if_index, cstring(entry.if_name)))
                i += 1
        finally:
            lib.if_freenameindex(ni)
        return out

    def if_nametoindex(self, name: bytes) -> int:
        index = lib.if_nametoindex(name)
        if index == 0:
            code = ffi.errno or _ENODEV
            raise OSError(code, os.strerror(code))
        return index

    def if_indextoname(self, index: int) -> bytes:
        buf = ffi.new("char[]", lib.IF_NAMESIZE)
        r = lib.if_indextoname(index, buf)
        if is_null(r):
            raise _os_error()
        return cstring(buf)

    def strerror(self, code: int) -> str:
        return os.strerror(code)
