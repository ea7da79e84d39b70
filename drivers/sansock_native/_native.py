"""NativeDriver: the Driver protocol on the real kernel, through CFFI.

Each method is one syscall (or one C helper doing one multi-step job such as
building a ``struct msghdr``), checked on the next line.  Failure is
``OSError(errno, strerror(errno))`` from the errno CFFI saved right after the
call (``ffi.errno``); EINTR is raised like any other errno, never retried.

Memory rules (CFFI releases the GIL during every call):

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

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast, final

from sansock._driver import AddrInfo, HostEnt
from sansock._errors import gaierror, herror

from ._abi import host_abi
from ._lib import (
    AddrInfoStruct,
    CData,
    CharP,
    HostEntStruct,
    IfNameIndexStruct,
    ProtoEntStruct,
    ServEntStruct,
    cstring,
    ffi,
    is_null,
    lib,
    unpack_bytes,
    writable_buffer,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from sansock._abi import ABI

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
_recv = lib.recv
_getsockopt_int = lib.sansock_getsockopt_int
_sendmsg = lib.sansock_sendmsg
_sendmsg1 = lib.sansock_sendmsg1
_recvmsg = lib.sansock_recvmsg
_recvmsg1 = lib.sansock_recvmsg1
_recvmsg4 = lib.sansock_recvmsg4
_NULL = ffi.NULL


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


def _os_error() -> OSError:
    """``OSError(errno, strerror)`` for the errno saved by the last call."""
    code = ffi.errno
    return OSError(code, os.strerror(code))


class _Scratch:
    """One thread's reusable C buffers (see the module docstring)."""

    __slots__ = ("addr", "intout", "out", "bases", "lens", "data", "control", "control_size", "pair")

    def __init__(self) -> None:
        self.addr: CData = ffi.new("char[]", _SOCKADDR_STORAGE)
        self.intout: CData = ffi.new("int[1]")
        self.pair: CData = ffi.new("int[2]")
        self.out: CData = ffi.new("long long[3]")
        self.bases: CData = ffi.new("char *[]", 64)
        self.lens: CData = ffi.new("size_t[]", 64)
        self.data: CData = _alloc_raw("char[]", _SCRATCH_DATA)
        self.control: CData = _alloc_raw("char[]", _SCRATCH_CONTROL)
        self.control_size = _SCRATCH_CONTROL

    def control_buffer(self, size: int) -> CData:
        """A control buffer of at least *size* bytes, grown and kept."""
        if size > self.control_size:
            if size > 1 << 20:  # do not keep very large ones per thread
                return _alloc_raw("char[]", size)
            self.control = _alloc_raw("char[]", size)
            self.control_size = size
        return self.control


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.scratch = _Scratch()


_tls = _PerThread()


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
        buf = _alloc_raw("char[]", max(buflen, 1))
        n = lib.sansock_getsockopt_buf(fd, level, option, buf, buflen)
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
        if value is None:
            buf = ffi.NULL
        elif type(value) is bytes:
            buf = value
            if optlen > len(value):  # never let the kernel read past the object
                raise OSError(_EINVAL, os.strerror(_EINVAL))
        else:
            view = ffi.from_buffer(value)
            try:
                if optlen > len(view):
                    raise OSError(_EINVAL, os.strerror(_EINVAL))
                r = lib.sansock_setsockopt_buf(fd, level, option, view, optlen)
            finally:
                ffi.release(view)
            if r == -1:
                raise _os_error()
            return
        r = lib.sansock_setsockopt_buf(fd, level, option, buf, optlen)
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
            n = lib.sansock_sendto(fd, data, len(data), flags, addr, len(addr))
        else:
            p = ffi.from_buffer(data)
            try:
                n = lib.sansock_sendto(fd, p, len(p), flags, addr, len(addr))
            finally:
                ffi.release(p)
        if n == -1:
            raise _os_error()
        return n

    def recv(self, fd: int, bufsize: int, flags: int) -> bytes:
        buf = _tls.scratch.data if bufsize <= _SCRATCH_DATA else _alloc_raw("char[]", bufsize)
        n = _recv(fd, buf, bufsize, flags)
        if n == -1:
            raise _os_error()
        data: bytes = unpack_bytes(buf, n)
        return data

    def recv_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> int:
        p = writable_buffer(buf)
        try:
            if nbytes > len(p):
                raise ValueError("buffer too small for requested bytes")
            n = _recv(fd, p, nbytes, flags)
        finally:
            ffi.release(p)
        if n == -1:
            raise _os_error()
        return n

    def recvfrom(self, fd: int, bufsize: int, flags: int) -> tuple[bytes, bytes]:
        s = _tls.scratch
        buf = s.data if bufsize <= _SCRATCH_DATA else _alloc_raw("char[]", bufsize)
        n = lib.sansock_recvfrom(fd, buf, bufsize, flags, s.addr, s.intout)
        if n == -1:
            raise _os_error()
        data: bytes = unpack_bytes(buf, n)
        addr: bytes = unpack_bytes(s.addr, s.intout[0])
        return data, addr

    def recvfrom_into(
        self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int
    ) -> tuple[int, bytes]:
        s = _tls.scratch
        p = writable_buffer(buf)
        try:
            if nbytes > len(p):
                raise ValueError("nbytes is greater than the length of the buffer")
            n = lib.sansock_recvfrom(fd, p, nbytes, flags, s.addr, s.intout)
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
        ctrl: CharP = control if control else ffi.NULL
        name: CharP = ffi.NULL if addr is None else addr
        namelen = 0 if addr is None else len(addr)
        if len(buffers) == 1:
            data = buffers[0]
            if type(data) is bytes:
                n = _sendmsg1(fd, data, len(data), ctrl, len(control), name, namelen, flags)
            else:
                p = ffi.from_buffer(data)
                try:
                    n = _sendmsg1(fd, p, len(p), ctrl, len(control), name, namelen, flags)
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
                n = _sendmsg(fd, bases, lens, count, ctrl, len(control), name, namelen, flags)
            finally:
                _release_all(keep)
        if n == -1:
            raise _os_error()
        return n

    def recvmsg(
        self, fd: int, bufsize: int, ancbufsize: int, flags: int
    ) -> tuple[bytes, bytes, int, bytes]:
        s = _tls.scratch
        buf = s.data if bufsize <= _SCRATCH_DATA else _alloc_raw("char[]", bufsize)
        control = s.control_buffer(ancbufsize) if ancbufsize else ffi.NULL
        out = s.out
        n = _recvmsg1(fd, buf, bufsize, control, ancbufsize, s.addr, flags, out)
        if n == -1:
            raise _os_error()
        data: bytes = unpack_bytes(buf, n)
        msg_flags: int = out[0]
        controllen: int = out[1]
        namelen: int = out[2]
        return (
            data,
            unpack_bytes(control, controllen) if controllen else b"",
            msg_flags,
            unpack_bytes(s.addr, namelen) if namelen else b"",
        )

    def recvmsg_into(
        self, fd: int, buffers: Sequence[WriteableBuffer], ancbufsize: int, flags: int
    ) -> tuple[int, bytes, int, bytes]:
        s = _tls.scratch
        control = s.control_buffer(ancbufsize) if ancbufsize else ffi.NULL
        out = s.out
        count = len(buffers)
        if count == 1:
            p = writable_buffer(buffers[0])
            try:
                n = _recvmsg1(fd, p, len(p), control, ancbufsize, s.addr, flags, out)
            finally:
                ffi.release(p)
        elif 2 <= count <= 4:
            # Up to four buffers go to C as arguments; p0..p3 keep them alive.
            keep = _export_all(writable_buffer, buffers)
            p0, p1 = keep[0], keep[1]
            p2 = keep[2] if count > 2 else _NULL
            p3 = keep[3] if count > 3 else _NULL
            try:
                n = _recvmsg4(
                    fd,
                    count,
                    p0,
                    len(p0),
                    p1,
                    len(p1),
                    p2,
                    len(p2) if count > 2 else 0,
                    p3,
                    len(p3) if count > 3 else 0,
                    control,
                    ancbufsize,
                    s.addr,
                    flags,
                    out,
                    )
            finally:
                _release_all(keep)
        else:
            # keep: every buffer stays alive until recvmsg returns.
            keep = _export_all(writable_buffer, buffers)
            try:
                count = len(keep)
                bases, lens = _iov_arrays(s, count)
                if count:
                    bases[0:count] = keep
                    lens[0:count] = list(map(len, keep))
                n = _recvmsg(fd, bases, lens, count, control, ancbufsize, s.addr, flags, out)
            finally:
                _release_all(keep)
        if n == -1:
            raise _os_error()
        msg_flags: int = out[0]
        controllen: int = out[1]
        namelen: int = out[2]
        return (
            n,
            unpack_bytes(control, controllen) if controllen else b"",
            msg_flags,
            unpack_bytes(s.addr, namelen) if namelen else b"",
        )

    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
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
        hints = cast(AddrInfoStruct, ffi.new("struct addrinfo *"))
        hints.ai_family = family
        hints.ai_socktype = type
        hints.ai_protocol = proto
        hints.ai_flags = flags
        res = ffi.new("struct addrinfo **")
        code = lib.getaddrinfo(
            ffi.NULL if host is None else host, ffi.NULL if port is None else port, hints, res
        )
        if code != 0:
            raise _gai_error(code)
        out: list[AddrInfo] = []
        try:
            ai: AddrInfoStruct = res[0]
            while not is_null(ai):
                canon = "" if is_null(ai.ai_canonname) else _netdb_str(ai.ai_canonname)
                raw: bytes = ffi.buffer(ffi.cast("char *", ai.ai_addr), ai.ai_addrlen)[:]
                out.append((ai.ai_family, ai.ai_socktype, ai.ai_protocol, canon, raw))
                ai = ai.ai_next
        finally:
            lib.freeaddrinfo(res[0])
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
        size = _NETDB_BUFSIZE
        while True:
            buf = ffi.new("char[]", size)
            code = lib.gethostbyname_r(name, ret, buf, size, result, h_errno)
            if code != _ERANGE:
                break
            size *= 2
        if is_null(result[0]):
            raise _herror(int(h_errno[0]))
        return _hostent(cast(HostEntStruct, result[0]))

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        ret = ffi.new("struct hostent *")
        result = ffi.new("struct hostent **")
        h_errno = ffi.new("int *")
        size = _NETDB_BUFSIZE
        while True:
            buf = ffi.new("char[]", size)
            code = lib.gethostbyaddr_r(addr, len(addr), family, ret, buf, size, result, h_errno)
            if code != _ERANGE:
                break
            size *= 2
        if is_null(result[0]):
            raise _herror(int(h_errno[0]))
        return _hostent(cast(HostEntStruct, result[0]))

    def getservbyname(self, name: bytes, proto: bytes | None) -> int | None:
        ret = ffi.new("struct servent *")
        result = ffi.new("struct servent **")
        size = 4096
        while True:
            buf = ffi.new("char[]", size)
            code = lib.getservbyname_r(
                name, ffi.NULL if proto is None else proto, ret, buf, size, result
            )
            if code != _ERANGE:
                break
            size *= 2
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
        size = 4096
        while True:
            buf = ffi.new("char[]", size)
            code = lib.getservbyport_r(
                nport, ffi.NULL if proto is None else proto, ret, buf, size, result
            )
            if code != _ERANGE:
                break
            size *= 2
        if is_null(result[0]):
            return None
        return _netdb_str(cast(ServEntStruct, result[0]).s_name)

    def getprotobyname(self, name: bytes) -> int | None:
        ret = ffi.new("struct protoent *")
        result = ffi.new("struct protoent **")
        size = 4096
        while True:
            buf = ffi.new("char[]", size)
            code = lib.getprotobyname_r(name, ret, buf, size, result)
            if code != _ERANGE:
                break
            size *= 2
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
