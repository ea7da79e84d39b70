"""The resolver and host facts of the native driver: ``getaddrinfo(3)``,
``getnameinfo(3)``, the reentrant ``*_r`` netdb calls, host names and
interfaces.

A base class of :class:`sansock_native.NativeDriver`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Final, cast

from sansock.driver import AddrInfo, HostEnt, errno_oserror, gaierror, herror

from ._lib import (
    AddrInfoStruct,
    CData,
    HostEntStruct,
    IfNameIndexStruct,
    ProtoEntStruct,
    ServEntStruct,
    cstring,
    ffi,
    is_null,
    lib,
    unpack_bytes,
)
from ._scratch import _NULL, _give_scratch, _strerror, _take_scratch

__all__ = ["ResolverCalls"]

_ERANGE: Final = 34
_NETDB_BUFSIZE: Final = 16384  # CPython's gethostbyname_ex buffer (socketmodule.c)
_getaddrinfo = lib.sansock_getaddrinfo
#: sansock_getaddrinfo/sansock_getnameinfo return INT_MIN + errno for an
#: EAI_SYSTEM (in band: _helpers.h).
_EAI_ERRNO: Final = -(2**31)
_cast = ffi.cast
CHAR_P = ffi.typeof("char *")


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
    # CPython's set_gaierror: EAI_SYSTEM is an errno error (the helper
    # returned INT_MIN + errno for it), PyErr_SetFromErrno's: "Error" for an
    # errno of 0 (glibc need not set one).
    if code - _EAI_ERRNO < 0x10000:
        return errno_oserror(code - _EAI_ERRNO, _strerror)
    return gaierror(code, _netdb_str(lib.gai_strerror(code)))


class ResolverCalls:
    """The resolver and host-fact calls of :class:`sansock_native.NativeDriver`."""

    __slots__ = ()

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        # The hints and the result pointer of a pooled scratch (_scratch), reused
        # (the hints' other fields stay zero: getaddrinfo(3) only reads them);
        # a signal handler resolving meanwhile takes another scratch.
        s = _take_scratch()
        pair = s.addrinfo_pair
        if pair is None:
            pair = s.addrinfo_pair = (cast(AddrInfoStruct, ffi.new("struct addrinfo *")), ffi.new("struct addrinfo **"))
        hints, res = pair
        hints.ai_family = family
        hints.ai_socktype = type
        hints.ai_protocol = proto
        hints.ai_flags = flags
        code = _getaddrinfo(_NULL if host is None else host, _NULL if port is None else port, hints, res)
        first = res[0]
        _give_scratch(s)
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
        r = lib.sansock_gethostname(buf, 1024)
        if r < 0:
            raise OSError(-r, _strerror(-r))
        return cstring(buf)

    def sethostname(self, name: bytes) -> None:
        r = lib.sansock_sethostname(name, len(name))
        if r < 0:
            raise OSError(-r, _strerror(-r))

    def if_nameindex(self) -> list[tuple[int, bytes]]:
        err = ffi.new("int *")
        ni = lib.sansock_if_nameindex(err)
        if is_null(ni):
            # socket_if_nameindex: PyErr_SetFromErrno ("Error" for errno 0).
            raise errno_oserror(err[0], _strerror)
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
        # The index, or -errno (-ENODEV when if_nametoindex set none).
        index = lib.sansock_if_nametoindex(name)
        if index < 0:
            raise OSError(-index, _strerror(-index))
        return index

    def if_indextoname(self, index: int) -> bytes:
        buf = ffi.new("char[]", lib.IF_NAMESIZE)
        # 0, -errno, or INT_MIN when if_indextoname failed without an errno,
        # which socket_if_indextoname raises as PyErr_SetFromErrno does.
        r = lib.sansock_if_indextoname(index, buf)
        if r < 0:
            raise errno_oserror(0 if r == _EAI_ERRNO else -r, _strerror)
        return cstring(buf)
