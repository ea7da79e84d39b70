"""The compiled extension, described once by a typed Protocol.

``_sansock_native`` is untyped (CFFI generates it); this module is the only
place that touches it untyped.  Everything else in the package sees ``lib``
through :class:`NativeLib` and ``ffi`` as :class:`cffi.FFI`, so ``Any`` stays
here.  Buffer parameters are ``char *`` in the cdef (``_cdefs.h``): they take
``bytes`` directly (no copy) or a cdata pointer (``ffi.from_buffer``,
``ffi.new``); ``CData`` is that cdata type.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, Union, cast

if TYPE_CHECKING:
    from collections.abc import Callable

if TYPE_CHECKING:
    from cffi import FFI

try:
    _ext = importlib.import_module("sansock_native._sansock_native")
except ImportError as exc:  # pragma: no cover - depends on the install
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("_cffi_backend", "cffi"):
        # Built, but the cffi run time is missing from this Python.
        raise ImportError(
            "sansock_native: the native driver needs the cffi package, which this Python "
            "does not have: `python -m pip install 'cffi>=1.16'` (installing sansock with "
            f"pip installs it). ({exc})"
        ) from exc
    raise ImportError(
        "sansock_native: the C extension _sansock_native is not built. "
        "Build it with `pip install -e .` (or `make test`) from the sansock "
        "checkout; this needs cffi, a C compiler and the Python development headers. "
        f"({exc})"
    ) from exc

if TYPE_CHECKING:
    from _cffi_backend import _CDataBase as CData
else:
    CData = object

#: What a ``char *`` parameter accepts.
CharP = Union[bytes, "CData"]


class AddrInfoStruct(Protocol):
    """``struct addrinfo`` (getaddrinfo(3)) as cdata."""

    ai_flags: int
    ai_family: int
    ai_socktype: int
    ai_protocol: int
    ai_addrlen: int
    ai_addr: CData
    ai_canonname: CData
    ai_next: AddrInfoStruct


class HostEntStruct(Protocol):
    """``struct hostent`` (gethostbyname(3)) as cdata."""

    h_name: CData
    h_aliases: CData
    h_addrtype: int
    h_length: int
    h_addr_list: CData


class ServEntStruct(Protocol):
    """``struct servent`` (getservent(3)) as cdata."""

    s_name: CData
    s_port: int


class ProtoEntStruct(Protocol):
    """``struct protoent`` (getprotoent(3)) as cdata."""

    p_proto: int


class IfNameIndexStruct(Protocol):
    """``struct if_nameindex`` (if_nameindex(3)) as cdata."""

    if_index: int
    if_name: CData


class NativeLib(Protocol):
    """``lib`` of ``_sansock_native``: the functions of ``_cdefs.h``."""

    EAI_SYSTEM: int
    NI_MAXHOST: int
    NI_MAXSERV: int
    IF_NAMESIZE: int
    SANSOCK_MMSG_MAX: int
    SANSOCK_MSG_DATA: int
    SANSOCK_MSG_CONTROL: int
    SANSOCK_ERRNO_SPAN: int
    SANSOCK_NOT_READY: int
    SANSOCK_RECV_INTO_ARGUMENT: int
    SANSOCK_POLL_FAILED: int

    # socket(2) family, the error in band (-errno)
    def sansock_socket(self, domain: int, type: int, protocol: int, /) -> int: ...
    def sansock_socketpair(self, domain: int, type: int, protocol: int, sv: CData, /) -> int: ...
    def sansock_listen(self, fd: int, backlog: int, /) -> int: ...
    def sansock_shutdown(self, fd: int, how: int, /) -> int: ...
    def sansock_close(self, fd: int, /) -> int: ...
    # _gil.h: PyGILState_Check() inside a wrapper that keeps / releases the GIL
    def sansock_probe_gil_kept(self) -> int: ...
    def sansock_probe_gil_released(self) -> int: ...

    # netdb
    def sansock_getaddrinfo(
        self, node: CharP, service: CharP, hints: CData | AddrInfoStruct, res: CData, /
    ) -> int: ...
    def freeaddrinfo(self, res: CData, /) -> None: ...
    def gai_strerror(self, code: int, /) -> CData: ...
    def hstrerror(self, code: int, /) -> CData: ...
    def gethostbyname_r(
        self, name: bytes, ret: CData, buf: CData, buflen: int, result: CData, h_errnop: CData, /
    ) -> int: ...
    def gethostbyaddr_r(
        self,
        addr: bytes,
        length: int,
        family: int,
        ret: CData,
        buf: CData,
        buflen: int,
        result: CData,
        h_errnop: CData,
        /,
    ) -> int: ...
    def getservbyname_r(
        self, name: bytes, proto: CharP, ret: CData, buf: CData, buflen: int, result: CData, /
    ) -> int: ...
    def getservbyport_r(
        self, port: int, proto: CharP, ret: CData, buf: CData, buflen: int, result: CData, /
    ) -> int: ...
    def getprotobyname_r(
        self, name: bytes, ret: CData, buf: CData, buflen: int, result: CData, /
    ) -> int: ...
    def sansock_if_nameindex(self, err: CData, /) -> CData: ...
    def if_freenameindex(self, ptr: CData, /) -> None: ...
    def sansock_if_nametoindex(self, name: bytes, /) -> int: ...
    def sansock_if_indextoname(self, index: int, name: CData, /) -> int: ...
    def sansock_gethostname(self, name: CData, n: int, /) -> int: ...
    def sansock_sethostname(self, name: bytes, n: int, /) -> int: ...
    def sansock_getnameinfo(
        self, addr: bytes, addrlen: int, host: CData, hostlen: int, serv: CData, servlen: int, flags: int, /
    ) -> int: ...

    # helpers (_helpers.h)
    def sansock_dup_cloexec(self, fd: int, /) -> int: ...
    def sansock_get_nonblocking(self, fd: int, /) -> int: ...
    def sansock_set_nonblocking(self, fd: int, nonblocking: int, /) -> int: ...
    def sansock_get_inheritable(self, fd: int, /) -> int: ...
    def sansock_set_inheritable(self, fd: int, inheritable: int, /) -> int: ...
    def sansock_poll1(self, fd: int, events: int, timeout_ms: int, /) -> int: ...
    def sansock_monotonic_ns(self) -> int: ...
    def sansock_poll_send(self, fd: int, buf: CharP, n: int, flags: int, out: CData, /) -> int: ...
    def sansock_poll_recv(self, fd: int, buf: CData, cap: int, n: int, flags: int, out: CData, /) -> int: ...
    def sansock_bind(self, fd: int, addr: bytes, addrlen: int, /) -> int: ...
    def sansock_connect(self, fd: int, addr: bytes, addrlen: int, /) -> int: ...
    def sansock_accept(self, fd: int, addr: CData, addrlen: CData, flags: int, /) -> int: ...
    def sansock_getsockname(self, fd: int, addr: CData, /) -> int: ...
    def sansock_getpeername(self, fd: int, addr: CData, /) -> int: ...
    def sansock_getsockopt_int(self, fd: int, level: int, option: int, /) -> int: ...
    def sansock_recv(self, fd: int, buf: CData, cap: int, n: int, flags: int, /) -> int: ...
    def sansock_direct_send(self, fd: int, buf: CharP, n: int, flags: int, /) -> int: ...
    def sansock_direct_recv(self, fd: int, buf: CData, cap: int, n: int, /) -> int: ...
    def sansock_direct_recv_into(self, fd: int, buf: CData, cap: int, nbytes: int, flags: int, /) -> int: ...
    def sansock_direct_recvmsg(self, fd: int, block: CData, n: int, controllen: int, flags: int, /) -> int: ...
    def sansock_direct_sendmsg(
        self, fd: int, buf: CharP, n: int, control: CharP, controllen: int, flags: int, /
    ) -> int: ...
    def sansock_getsockopt_buf(
        self, fd: int, level: int, option: int, buf: CData, cap: int, buflen: int, /
    ) -> int: ...
    def sansock_setsockopt_int(self, fd: int, level: int, option: int, value: int, /) -> int: ...
    def sansock_setsockopt_buf(
        self, fd: int, level: int, option: int, buf: CharP, cap: int, buflen: int, /
    ) -> int: ...
    def sansock_sendto(
        self, fd: int, buf: CharP, n: int, flags: int, addr: bytes, addrlen: int, /
    ) -> int: ...
    def sansock_recvfrom(
        self, fd: int, buf: CData, cap: int, n: int, flags: int, addr: CData, addrlen: CData, /
    ) -> int: ...
    def sansock_sendmsg(
        self,
        fd: int,
        bases: CData,
        lens: CData,
        nbuffers: int,
        control: CharP,
        controllen: int,
        name: CharP,
        namelen: int,
        flags: int,
        /,
    ) -> int: ...
    def sansock_sendmsg1(
        self,
        fd: int,
        buf: CharP,
        n: int,
        control: CharP,
        controllen: int,
        name: CharP,
        namelen: int,
        flags: int,
        /,
    ) -> int: ...
    def sansock_recvmsg(
        self,
        fd: int,
        bases: CData,
        lens: CData,
        nbuffers: int,
        control: CData,
        controlcap: int,
        controllen: int,
        name: CData,
        flags: int,
        out: CData,
        /,
    ) -> int: ...
    def sansock_recvmsg1(
        self,
        fd: int,
        buf: CData,
        cap: int,
        n: int,
        control: CData,
        controlcap: int,
        controllen: int,
        name: CData,
        flags: int,
        out: CData,
        /,
    ) -> int: ...
    def sansock_recvmsg4(
        self,
        fd: int,
        nbuffers: int,
        b0: CData,
        l0: int,
        b1: CData,
        l1: int,
        b2: CData,
        l2: int,
        b3: CData,
        l3: int,
        control: CData,
        controlcap: int,
        controllen: int,
        name: CData,
        flags: int,
        out: CData,
        /,
    ) -> int: ...
    def sansock_recvmmsg(
        self, fd: int, data: CData, cap: int, bufsize: int, names: CData, count: int, flags: int, out: CData, /
    ) -> int: ...
    def sansock_sendmmsg(
        self,
        fd: int,
        data: CharP,
        datalen: int,
        lens: CData,
        names: CharP,
        nameslen: int,
        namelens: CData,
        count: int,
        flags: int,
        /,
    ) -> int: ...
    def sansock_sendfile(self, out_fd: int, in_fd: int, offset: int, count: int, /) -> int: ...
    def sansock_file_size(self, fd: int, /) -> int: ...

    # build-time facts (_facts.h)
    def sansock_table_size(self, table: int, /) -> int: ...
    def sansock_table_name(self, table: int, index: int, /) -> CData: ...
    def sansock_table_value(self, table: int, index: int, /) -> int: ...
    def sansock_layout(self, out: CData, /) -> None: ...
    def sansock_iov_max(self) -> int: ...
    def sansock_cmsg_len(self, n: int, /) -> int: ...
    def sansock_cmsg_space(self, n: int, /) -> int: ...
    def sansock_cmsg_walk(self, control: CharP, controllen: int, out: CData, max: int, /) -> int: ...


ffi = cast("FFI", _ext.ffi)
lib = cast(NativeLib, _ext.lib)

#: ``ffi.unpack`` of a ``char *``: *n* bytes copied out (one call; measured
#: 2x faster than ``ffi.buffer(p, n)[:]``).  Typed once, here.
unpack_bytes = cast("Callable[[CData, int], bytes]", _ext.ffi.unpack)

_CHAR_ARRAY = _ext.ffi.typeof("char[]")
_from_buffer = _ext.ffi.from_buffer


#: ``ffi.from_buffer`` called positionally as ``(CHAR_ARRAY, buf, True)``
#: (require_writable): the inlined form of :func:`writable_buffer`.
from_buffer_writable = cast("Callable[[object, object, bool], CData]", _from_buffer)
CHAR_ARRAY: object = _CHAR_ARRAY


def writable_buffer(buf: object) -> CData:
    """``ffi.from_buffer(buf, require_writable=True)`` (positional: 2x faster).

    Raises ``TypeError``/``BufferError`` for a read-only buffer such as
    ``bytes``, so the kernel never writes into an immutable object.
    """
    return cast("CData", _from_buffer(_CHAR_ARRAY, buf, True))



def cstring(p: CData) -> bytes:
    """``ffi.string`` of a ``char *``: the bytes up to the NUL."""
    raw = ffi.string(p)
    assert isinstance(raw, bytes)
    return raw


def is_null(p: CData | AddrInfoStruct) -> bool:
    """Whether a pointer cdata is NULL."""
    return bool(p == ffi.NULL)


__all__ = [
    "AddrInfoStruct",
    "CHAR_ARRAY",
    "from_buffer_writable",
    "CData",
    "CharP",
    "HostEntStruct",
    "IfNameIndexStruct",
    "NativeLib",
    "ProtoEntStruct",
    "ServEntStruct",
    "cstring",
    "ffi",
    "is_null",
    "lib",
    "unpack_bytes",
    "writable_buffer",
]
