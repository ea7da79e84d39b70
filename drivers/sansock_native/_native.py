"""NativeDriver: the Driver protocol on the real kernel, through CFFI.

Each method is one syscall (or one C helper doing one multi-step job such as
building a ``struct msghdr``), checked on the next line.  Failure is
``OSError(errno, strerror(errno))``, and every C function returns its errno
in band (_helpers.h): ``-errno`` where results are ``>= 0``,
``INT_MIN - errno`` for getsockopt's int, ``INT_MIN + errno`` for an
``EAI_SYSTEM`` of getaddrinfo/getnameinfo, ``SANSOCK_NOT_READY`` and
``SANSOCK_POLL_FAILED - errno`` besides ``-errno`` for the poll-then-call
helpers (``_scratch._unfinished``); libc calls go through a
``sansock_*`` helper that does so.  Never ``ffi.errno``, the errno CFFI
saves per thread after every call: Python runs a pending signal handler
right after a C call returns, and a handler that makes a failing CFFI call
itself would replace it (an interrupted call's EINTR, which the core
retries, would become the handler's error;
``tests/test_native_inband.py``, ``tests/test_native_direct.py``).  EINTR
is raised like any other errno, never retried.

Memory rules (CFFI releases the GIL during every call):

* no memory bound is decided by a comparison on a caller's object: a size
  that is not an exact ``int`` is converted once with ``operator.index``
  before it is compared or used (cffi would take anything with ``__int__``,
  and an ``int`` subclass may lie in ``__le__``), and every C helper that
  writes into (or reads from) a buffer is also given the buffer's capacity
  and refuses a longer length with EFAULT (``SANSOCK_FITS`` in _helpers.h);

* scratch buffers (the ``sockaddr_storage``, out-arrays, the iovec arrays,
  a 64 KiB data and a 1 KiB control buffer) are taken from a pool for the
  call and given back after the copies out (``_scratch._take_scratch``);
  ``recv`` takes its 64 KiB buffer from a pool of its own
  (``_scratch._recv_buffers``), so no two calls share one: not two threads,
  and not a signal handler that runs between another call's syscall and its
  copy (``tests/test_rev7_review.py``);
* every Python buffer handed to C is held by a local variable until the call
  returns (a pointer stored in a C array does not keep its memory alive);
* ``bytes`` pass straight to ``char *`` parameters; other buffers go through
  ``ffi.from_buffer`` (``require_writable=True`` for the receive side, so a
  ``bytes`` object is never written to).

The driver is split by concern: this module has the plain syscalls (clock,
poll and the optional ``PollCallDriver`` one-call methods, lifecycle,
connection setup, options, data, sendfile); ``_messages`` the message and
batch calls, ``_netdb`` the resolver and host facts (both base classes of
:class:`NativeDriver`); ``_scratch`` the pooled buffers and the C
functions bound once; ``_lib`` the CFFI ``ffi``/``lib`` and their types.

A Python signal handler runs right after a C call returns, before the line
that checks it: so the errors are in band and the out-values (addresses,
lengths, flags, the clock reading) are in a scratch no other call holds.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar, Final, cast, final

from sansock.driver import DirectCalls, Unfinished

from ._abi import host_abi
from ._lib import CHAR_ARRAY, CData, CharP, ffi, lib, unpack_bytes, writable_buffer
from ._messages import MessageCalls
from ._netdb import ResolverCalls
from ._scratch import (
    _INT_MIN,
    _Scratch,
    _SCRATCH_DATA,
    _alloc_raw,
    _MSG_CONTROL_AT,
    _MSG_NAME_AT,
    _direct_recv,
    _direct_recv_into,
    _direct_recvmsg,
    _direct_send,
    _direct_sendmsg,
    _msg_buffers,
    _new_msg_buffer,
    _fbw,
    _getsockopt_int,
    _give_recv_buffer,
    _index,
    _new_recv_buffer,
    _past_the_buffer,
    _poll_recv,
    _poll_send,
    _recv,
    _recv_buffers,
    _recvfrom,
    _release,
    _sendto,
    _take_recv_buffer,
    _give_scratch,
    _pop_scratch,
    _take_scratch,
    _unfinished,
)

#: MSG_TRUNC on this host (recv clears a pooled buffer for it).
_MSG_TRUNC: Final = host_abi().constants["MSG_TRUNC"]

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from collections.abc import Callable, MutableSequence, Sized

    from sansock.driver import ABI, ByteSlices, MessageBlock

__all__ = ["NativeDriver"]

_EINVAL: Final = 22
_strerror = os.strerror



def _zeroed(s: _Scratch, buf: CData, bufsize: int) -> CData:
    """*buf* with its first *bufsize* bytes zero: the thread's scratch cleared,
    or a zero-filled allocation in place of a raw one (MSG_TRUNC only)."""
    if buf is s.data:
        s.data_view[:bufsize] = bytes(bufsize)
        return buf
    zeroed: CData = ffi.new("char[]", bufsize)
    return zeroed


@final
class NativeDriver(MessageCalls, ResolverCalls):
    """The real kernel: every :class:`sansock.Driver` call is one syscall.

    Stateless apart from per-thread scratch buffers, so one instance can be
    shared by every socket and thread.
    """

    __slots__ = ()

    #: The optional :class:`sansock.driver.DirectCalls` capability.
    direct_calls: ClassVar[DirectCalls]

    @property
    def abi(self) -> ABI:
        return host_abi()

    # -- clock and readiness ------------------------------------------------
    def monotonic_ns(self) -> int:
        # clock_gettime(2) CLOCK_MONOTONIC.
        r = lib.sansock_monotonic_ns()
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return r

    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        # poll(2) on one fd; EINTR raised for the core's machine.
        r = lib.sansock_poll1(fd, events, timeout_ms)
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return r

    # -- poll then call (the optional sansock.driver.PollCallDriver) --------
    def poll_send(self, fd: int, data: ReadableBuffer, flags: int) -> int | Unfinished:
        # clock, poll(fd, POLLOUT, 0) and send(2) in one C call (sansock_poll_send).
        try:  # _take_scratch() without its frame (a hot path)
            s = _pop_scratch()
        except IndexError:
            s = _Scratch()
        try:
            if type(data) is bytes:
                n = _poll_send(fd, data, len(data), flags, s.out)
            else:
                p = ffi.from_buffer(data)
                try:
                    n = _poll_send(fd, p, len(p), flags, s.out)
                finally:
                    ffi.release(p)
            if n < 0:
                return _unfinished(n, s.out_values)
            return n
        finally:
            _give_scratch(s)

    def poll_recv(self, fd: int, bufsize: int, flags: int) -> bytes | Unfinished:
        # clock, poll(fd, POLLIN, 0) and recv(2) in one C call (sansock_poll_recv).
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        try:  # _take_scratch() without its frame (a hot path)
            s = _pop_scratch()
        except IndexError:
            s = _Scratch()
        try:
            scratch = bufsize <= _SCRATCH_DATA
            buf = s.data if scratch else _alloc_raw("char[]", bufsize)
            if flags and flags & _MSG_TRUNC:
                # TCP's MSG_TRUNC discards without copying (as in recv): zeros, not
                # this thread's last receive nor a raw allocation's old memory.
                buf = _zeroed(s, buf, bufsize)
            n = _poll_recv(fd, buf, _SCRATCH_DATA if scratch else bufsize, bufsize, flags, s.out)
            if n < 0:
                return _unfinished(n, s.out_values)
            if n > bufsize:  # MSG_TRUNC: the datagram's real length
                return _past_the_buffer(s.data_view[:bufsize] if scratch else unpack_bytes(buf, bufsize), n)
            data: bytes = s.data_view[:n] if scratch else unpack_bytes(buf, n)
            return data
        finally:
            _give_scratch(s)

    # -- lifecycle ------------------------------------------------------------
    def socket(self, family: int, type: int, proto: int) -> int:
        fd = lib.sansock_socket(family, type, proto)
        if fd < 0:
            raise OSError(-fd, _strerror(-fd))
        return fd

    def socketpair(self, family: int, type: int, proto: int) -> tuple[int, int]:
        s = _take_scratch()
        sv = s.pair
        r = lib.sansock_socketpair(family, type, proto, sv)
        pair = int(sv[0]), int(sv[1])
        _give_scratch(s)
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return pair

    def close(self, fd: int) -> None:
        # close(2): the fd is gone even on EINTR (Linux), so no retry.
        r = lib.sansock_close(fd)
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def dup(self, fd: int) -> int:
        r = lib.sansock_dup_cloexec(fd)
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return r

    def get_nonblocking(self, fd: int) -> bool:
        r = lib.sansock_get_nonblocking(fd)
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return r == 1

    def set_nonblocking(self, fd: int, nonblocking: bool) -> None:
        r = lib.sansock_set_nonblocking(fd, 1 if nonblocking else 0)
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def get_inheritable(self, fd: int) -> bool:
        r = lib.sansock_get_inheritable(fd)
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return r == 1

    def set_inheritable(self, fd: int, inheritable: bool) -> None:
        r = lib.sansock_set_inheritable(fd, 1 if inheritable else 0)
        if r < 0:
            raise OSError(-r, _strerror(-r))

    # -- connection setup -----------------------------------------------------
    def bind(self, fd: int, addr: bytes) -> None:
        r = lib.sansock_bind(fd, addr, len(addr))
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def listen(self, fd: int, backlog: int) -> None:
        r = lib.sansock_listen(fd, backlog)
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def accept(self, fd: int, flags: int) -> tuple[int, bytes]:
        try:  # _take_scratch() without its frame (a hot path)
            s = _pop_scratch()
        except IndexError:
            s = _Scratch()
        try:
            r = lib.sansock_accept(fd, s.addr, s.intout, flags)
            if r < 0:
                raise OSError(-r, _strerror(-r))
            addr: bytes = unpack_bytes(s.addr, s.intout[0])
            return r, addr
        finally:
            _give_scratch(s)

    def connect(self, fd: int, addr: bytes) -> None:
        r = lib.sansock_connect(fd, addr, len(addr))
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def shutdown(self, fd: int, how: int) -> None:
        r = lib.sansock_shutdown(fd, how)
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def getsockname(self, fd: int) -> bytes:
        s = _take_scratch()
        n = lib.sansock_getsockname(fd, s.addr)
        raw: bytes = unpack_bytes(s.addr, n) if n >= 0 else b""
        _give_scratch(s)
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return raw

    def getpeername(self, fd: int) -> bytes:
        s = _take_scratch()
        n = lib.sansock_getpeername(fd, s.addr)
        raw: bytes = unpack_bytes(s.addr, n) if n >= 0 else b""
        _give_scratch(s)
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return raw

    # -- options -------------------------------------------------------------
    def getsockopt(self, fd: int, level: int, option: int) -> int:
        # The helper returns the int, or INT_MIN - errno on failure.
        r = _getsockopt_int(fd, level, option)
        if r > -0x3FFFFFFF:
            # The common answer: both sides fit one 30-bit digit, so CPython
            # 3.11 compares them with its specialised int comparison (INT_MIN
            # does not fit one, and the comparison with it is the generic one).
            return r
        if r < _INT_MIN:
            code = _INT_MIN - r
            raise OSError(code, _strerror(code))
        return r

    def getsockopt_bytes(self, fd: int, level: int, option: int, buflen: int) -> bytes:
        if type(buflen) is not int:
            buflen = _index(buflen)
        cap = max(buflen, 1)
        buf = _alloc_raw("char[]", cap)
        n = lib.sansock_getsockopt_buf(fd, level, option, buf, cap, buflen)
        if n < 0:
            raise OSError(-n, _strerror(-n))
        raw: bytes = unpack_bytes(buf, n)
        return raw

    def setsockopt(self, fd: int, level: int, option: int, value: int) -> None:
        r = lib.sansock_setsockopt_int(fd, level, option, value)
        if r < 0:
            raise OSError(-r, _strerror(-r))

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
            if r < 0:
                raise OSError(-r, _strerror(-r))
            return
        r = lib.sansock_setsockopt_buf(fd, level, option, buf, cap, optlen)
        if r < 0:
            raise OSError(-r, _strerror(-r))

    # -- data ----------------------------------------------------------------
    def send(self, fd: int, data: ReadableBuffer, flags: int) -> int:
        # The count, or -errno (in band: see _helpers.h).
        if type(data) is bytes:
            n = _direct_send(fd, data, len(data), flags)
        else:
            p = ffi.from_buffer(data)
            try:
                n = _direct_send(fd, p, len(p), flags)
            finally:
                ffi.release(p)
        if n < 0:
            raise OSError(-n, _strerror(-n))
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
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return n

    def recv(self, fd: int, bufsize: int, flags: int) -> bytes:
        if type(bufsize) is not int:
            bufsize = _index(bufsize)
        if bufsize <= _SCRATCH_DATA:
            try:
                pair = _take_recv_buffer()
            except IndexError:
                pair = _new_recv_buffer()
            # A call that raises before the copy (a flags value the C type
            # refuses) drops its buffer: the collector frees it, and the next
            # call makes a new one.
            if flags and flags & _MSG_TRUNC:
                # tcp_recvmsg_locked with MSG_TRUNC consumes without copying:
                # the result is the buffer's old content, another thread's
                # last receive here (CPython's: a fresh allocation's).
                pair[1][:bufsize] = bytes(bufsize)
            n = _recv(fd, pair[0], _SCRATCH_DATA, bufsize, flags)
            if 0 <= n <= bufsize:
                data: bytes = pair[1][:n]
                _give_recv_buffer(pair)
                return data
            if n < 0:
                # -errno, in band (_helpers.h).
                _give_recv_buffer(pair)
                raise OSError(-n, _strerror(-n))
            # MSG_TRUNC: the datagram's real length (copied out before the
            # buffer is given back: another thread may take it at once).
            data = pair[1][:bufsize]
            _give_recv_buffer(pair)
            return _past_the_buffer(data, n)
        buf = _alloc_raw("char[]", bufsize)
        n = _recv(fd, buf, bufsize, bufsize, flags)
        if n < 0:
            raise OSError(-n, _strerror(-n))
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
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return n

    def recvfrom(self, fd: int, bufsize: int, flags: int) -> tuple[bytes, bytes]:
        try:  # _take_scratch() without its frame (a hot path)
            s = _pop_scratch()
        except IndexError:
            s = _Scratch()
        try:
            if type(bufsize) is not int:
                bufsize = _index(bufsize)
            if bufsize <= _SCRATCH_DATA:
                buf, cap = s.data, _SCRATCH_DATA
            else:
                buf, cap = _alloc_raw("char[]", bufsize), bufsize
            if flags and flags & _MSG_TRUNC:
                buf = _zeroed(s, buf, bufsize)  # TCP's MSG_TRUNC copies nothing (see poll_recv)
            intout = s.intout
            n = _recvfrom(fd, buf, cap, bufsize, flags, s.addr, intout)
            if n < 0:
                raise OSError(-n, _strerror(-n))
            if n > bufsize:  # MSG_TRUNC: the datagram's real length
                data = _past_the_buffer(unpack_bytes(buf, bufsize), n)
            else:
                data = s.data_view[:n] if buf is s.data else unpack_bytes(buf, n)
            addr: bytes = unpack_bytes(s.addr, intout[0])
            return data, addr
        finally:
            _give_scratch(s)

    def recvfrom_into(
        self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int
    ) -> tuple[int, bytes]:
        s = _take_scratch()
        try:
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
            if n < 0:
                raise OSError(-n, _strerror(-n))
            addr: bytes = unpack_bytes(s.addr, s.intout[0])
            return n, addr
        finally:
            _give_scratch(s)

    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        # os.sendfile parses offset and count with __index__ (Py_off_t,
        # Py_ssize_t): a Decimal or float is refused before the syscall.
        if type(offset) is not int:
            offset = _index(offset)
        if type(count) is not int:
            count = _index(count)
        n = lib.sansock_sendfile(out_fd, in_fd, offset, count)
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return n

    def file_size(self, fd: int) -> int:
        n = lib.sansock_file_size(fd)
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return n

    def strerror(self, code: int) -> str:
        return os.strerror(code)


#: The C functions the socket methods call themselves (the optional
#: :class:`sansock.driver.DirectCalls`), for this class only: send, recv and
#: recv_into (a bytearray's ``ffi.from_buffer`` export) with the error in
#: band, getsockopt's int form, ``recv``'s pool of 64 KiB buffers, and
#: sendmsg/recvmsg of one buffer (recvmsg's message blocks pooled the same way).
NativeDriver.direct_calls = DirectCalls(
    driver_type=NativeDriver,
    send=_direct_send,
    recv=cast("Callable[[int, object, int, int], int]", _direct_recv),
    recv_size=_SCRATCH_DATA,
    recv_buffers=cast("MutableSequence[tuple[object, ByteSlices]]", _recv_buffers),
    new_recv_buffer=cast("Callable[[], tuple[object, ByteSlices]]", _new_recv_buffer),
    recv_into=cast("Callable[[int, object, int, int, int], int]", _direct_recv_into),
    export=cast("Callable[[bytearray], Sized]", ffi.from_buffer),
    getsockopt=_getsockopt_int,
    sendmsg=cast("Callable[[int, bytes, int, bytes, int, int], int]", _direct_sendmsg),
    recvmsg=cast("Callable[[int, object, int, int, int], int]", _direct_recvmsg),
    msg_size=lib.SANSOCK_MSG_DATA,
    msg_control_size=lib.SANSOCK_MSG_CONTROL,
    msg_control_at=_MSG_CONTROL_AT,
    msg_name_at=_MSG_NAME_AT,
    msg_buffers=cast("MutableSequence[MessageBlock]", _msg_buffers),
    new_msg_buffer=cast("Callable[[], MessageBlock]", _new_msg_buffer),
)
