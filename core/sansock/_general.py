"""The general paths of the socket methods that have a fast path.

One mechanism, in one place: a method of :class:`~sansock._socket.SocketType`
with a fast path hands the driver exact values (``type(x) is int``, bytes,
bytearrays) unchecked; whatever the fast path does not take -- values it
does not vouch for, or values the driver's C types refused
(:data:`REFUSED`, the driver contract in ``sansock._driver``) -- comes here
**with the arguments as the caller gave them**, and the function of the same
name parses them as CPython does (``_convert``: its exception types and
messages, in its order, before any syscall), then makes the call.  So a
refused fast path never raises the driver's own message, and nothing is
consumed by an argument error.

The fast path pays nothing for this: the call to this module is made only
once the fast path has given up (``bench/bench_api.py --clock cpu``, figures
in the regroup report).  ``tests/test_general_paths.py`` checks that each
method's refused values arrive here unchanged.

Each function names the ``socketmodule.c`` function whose parse it
reproduces.  What a function reads of the socket is in the list of socket
internals at the top of ``SocketType``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from sys import audit
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import _address, _cmsg, _convert, _timeout
from ._convert import INT_MAX, INT_MIN, arg_int, bytes_like, writable_arg
from ._timeout import call

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

    from ._consts import SocketConstants
    from ._driver import DirectCalls, Driver, MessageBlock

    #: What every new socket reads, made once per driver (Binding._make_socket_state).
    SocketState: TypeAlias = tuple[Driver, SocketConstants, _cmsg.CmsgCodec, frozenset[int], DirectCalls | None]

__all__ = [
    "FAST_SIZE",
    "OMITTED",
    "REFUSED",
    "Socket",
    "SocketBinding",
    "close_block_rights",
    "accept",
    "connect",
    "fileno_args",
    "finalize_unclosed",
    "getsockopt",
    "recv",
    "recvmsg_args",
    "recvmsg_rest",
    "recvfrom",
    "retry_in_band",
    "recv_into",
    "recv_into_retry",
    "recvmsg",
    "send",
    "sendall",
    "sendall_rest",
    "sendmsg",
    "sendmsg_afalg",
    "sendto",
    "setsockopt",
]


#: What a driver raises when its C types refuse a fast path's values, before
#: any syscall (the driver contract): the fast paths catch exactly these and
#: come here.
REFUSED = (TypeError, OverflowError, BufferError)

class _Omitted:
    """The default of an optional positional argument CPython parses with "|"."""

    def __repr__(self) -> str:
        return "<omitted>"


#: That default (``_socket``, ``_binding`` and ``_socketfuncs`` use it).
OMITTED: Any = _Omitted()

#: The largest buffer size a fast path hands the driver unchecked (the
#: general path's limits, SSIZE_MAX and SOCKLEN_T_LIMIT, are far above it).
FAST_SIZE = 1 << 24

type_of = type  # fileno_args' parameter `type` shadows the builtin

_T = TypeVar("_T")


class Socket(Protocol):
    """What the general paths read of a socket: ``SocketType`` is one (a
    protocol, as ``_socket`` imports this module: no cycle, test_layering)."""

    _fd: int
    _family: int
    _timeout_ns: int
    _k: SocketConstants
    _msg_fast: bool
    #: A weak reference to the object audit events name, None for the socket itself (SocketType).
    _audit_ref: Callable[[], object] | None

    @property
    def _caller_frames(self) -> int: ...  # SocketType's: frames between the user's call and the method

    @property
    def _drv(self) -> Driver: ...
    @property
    def _control(self) -> _cmsg.CmsgCodec: ...
    def _encode(self, address: object, caller: str) -> bytes: ...
    def _decode(self, raw: bytes) -> Any: ...
    def _call(self, writing: bool, syscall: Callable[..., _T], /, *args: Any) -> _T: ...


class SocketBinding(Protocol):
    """What a socket reads of its binding (:class:`sansock.Binding` is one): a
    protocol, as ``_binding`` imports ``_socket`` (no cycle: test_layering)."""

    @property
    def driver(self) -> Driver: ...
    @property
    def constants(self) -> SocketConstants: ...
    @property
    def default_timeout_ns(self) -> int: ...
    def address_family(self, value: int, /) -> int: ...
    def socket_kind(self, value: int, /) -> int: ...
    #: What every new socket reads, made once per driver (Binding._make_socket_state).
    _socket_state: SocketState | None
    def _make_socket_state(self) -> SocketState: ...


def recv(sock: Socket, bufsize: object, flags: object) -> bytes:
    """``"n|i:recv"`` and the negative size check (sock_recv); no syscall for 0."""
    size, flag_bits = _convert.recv_args(bufsize, flags, "recv")
    if size > 0:
        return call(sock, False, sock._drv.recv, size, flag_bits)
    return b""  # sock_recv_guts: no syscall for an empty read


def recv_into(sock: Socket, buffer: object, nbytes: object, flags: object) -> int:
    """``"w*|ni:recv_into"`` and its checks (sock_recv_into); no syscall for 0."""
    view = writable_arg(buffer, "recv_into")
    try:
        count, flag_bits = _convert.recv_into_args(view, nbytes, flags, "recv_into")
        if count == 0:
            return 0
        return call(sock, False, sock._drv.recv_into, view, count, flag_bits)
    finally:
        # PyBuffer_Release before returning or raising: no export outlives
        # the call, not even in the exception's traceback (whose frames
        # would otherwise keep the caller's own memoryview alive).
        view.release()
        del buffer


def recv_into_retry(sock: Socket, buffer: bytearray, nbytes: int, flags: int, first: OSError) -> int:
    """The rest of ``recv_into``'s fast path after its first attempt failed
    with *first*: EINTR retried, the rest raised (``_timeout.retry``).  The
    buffer's export is held from before the wait until the call returns, as
    sock_recv_into holds its Py_buffer (another thread's ``buf.clear()`` then
    raises BufferError); *nbytes* 0 is the whole buffer."""
    held = memoryview(buffer)
    try:
        return _timeout.retry(sock, first, False, sock._drv.recv_into, (held, nbytes or held.nbytes, flags))
    finally:
        del first  # its traceback holds this frame: no cycle
        held.release()


def send(sock: Socket, data: object, flags: object) -> int:
    """``"y*|i:send"`` (sock_send)."""
    view = bytes_like(data)
    return call(sock, True, sock._drv.send, view, arg_int(flags))


def sendall(sock: Socket, data: object, flags: object) -> None:
    """``"y*|i:sendall"`` (sock_sendall), then every byte under one deadline."""
    view = bytes_like(data)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    if type(flags) is not int or not INT_MIN <= flags <= INT_MAX:
        flags = arg_int(flags)
    _timeout.send_all(sock, sock._drv.send, view, flags, "poll_send")


def sendall_rest(sock: Socket, data: bytes, sent: int, flags: int) -> None:
    """What a partial first send of the fast path left (its values are parsed
    already); ``bytes_sent`` counts the first send too."""
    try:
        sendall(sock, memoryview(data)[sent:], flags)
    except BaseException as exc:
        done = getattr(exc, "bytes_sent", None)
        if isinstance(done, int):
            exc.bytes_sent = done + sent  # type: ignore[attr-defined]
        raise


def accept(sock: Socket) -> tuple[int, Any]:
    """``accept4(SOCK_CLOEXEC)``: ``(fd, address)`` (sock_accept); the new fd
    closed if anything fails after the syscall (``SocketType._accept``)."""
    if not sock._msg_fast:  # sock_accept: getsockaddrlen first ("bad family" for 0: a half-built socket)
        _address.sockaddr_len(sock._family, sock._k.abi)
    drv = sock._drv
    flags = sock._k.SOCK_CLOEXEC
    newfd, raw = sock._call(False, drv.accept, flags)
    try:
        if not flags:
            # No accept4 flags on the platform (Darwin): _Py_set_inheritable(newfd, 0).
            drv.set_inheritable(newfd, False)
        if sock._family == sock._k.AF_ALG:
            return newfd, None
        return newfd, sock._decode(raw)
    except BaseException:
        drv.close(newfd)
        raise


def connect(sock: Socket, raw: bytes, ex: bool) -> int:
    """internal_connect: connect() once, directly, in every mode, then the
    timeout machine's finish (``SocketType._connect``)."""
    try:
        sock._drv.connect(sock._fd, raw)
        return 0
    except OSError as exc:
        first: OSError | None = exc
    try:
        return _timeout.finish_connect(sock, first, ex=ex)  # type: ignore[arg-type]
    finally:
        # The EINPROGRESS exception's traceback holds this frame (and so
        # the socket): dropping it here lets the socket die with its
        # last reference (issue 12, item 6).
        first = None


def getsockopt(sock: Socket, level: object, optname: object, buflen: object) -> int | bytes:
    """``"ii|i:getsockopt"``; *buflen* 0 (or omitted) reads an int (sock_getsockopt)."""
    level, optname, size = _convert.getsockopt_args(level, optname, buflen)
    if size == 0:
        return sock._drv.getsockopt(sock._fd, level, optname)
    return sock._drv.getsockopt_bytes(sock._fd, level, optname, size)


def setsockopt(sock: Socket, level: object, optname: object, value: object) -> None:
    """``"iii:setsockopt"``, else ``"iiy*:setsockopt"`` (sock_setsockopt)."""
    level, optname, parsed = _convert.setsockopt_args(level, optname, value)
    if type(parsed) is int:
        sock._drv.setsockopt(sock._fd, level, optname, parsed)
    else:
        assert isinstance(parsed, memoryview)
        sock._drv.setsockopt_bytes(sock._fd, level, optname, parsed, parsed.nbytes)


def sendmsg(sock: Socket, buffers: Iterable[object], ancdata: object, flags: object, address: Any) -> int:
    """``"O|OiO:sendmsg"``, the address, the iovecs, then the control data (sock_sendmsg)."""
    flag_bits = arg_int(flags)
    raw = None if address is None else sock._encode(address, "sendmsg")
    # PySys_Audit("socket.sendmsg", "OO", s, addr_arg or None): after the
    # address, before the buffers and the control data.
    audit("socket.sendmsg", sock if sock._audit_ref is None else sock._audit_ref(), address)
    return sendmsg_rest(sock, buffers, ancdata, flag_bits, raw)


def close_block_rights(sock: Socket, direct: DirectCalls, block: MessageBlock) -> None:
    """err_closefds for a direct ``recvmsg`` whose frame got an exception as
    the C call returned (Python runs signal handlers right after a C call),
    before it read the result: the ``SCM_RIGHTS`` fds in the block's control
    data are closed.  A block is pooled with its control length 0 and the C
    function writes it only when the call succeeds, so a length here is this
    call's."""
    _, view, out = block
    if out[1]:
        at = direct.msg_control_at
        _cmsg.close_rights(view[at : at + out[1]], sock._k.abi, sock._drv.close)


def retry_in_band(sock: Socket, n: int, syscall: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    """A sending direct call's error *n* (``-errno``, DirectCalls) as the
    driver method would have raised it, then what the timeout machine does
    with it (EINTR retried, EAGAIN waited for or raised) through *syscall*."""
    first = OSError(-n, sock._drv.strerror(-n))
    try:
        return _timeout.retry(sock, first, True, syscall, args)
    finally:
        del first  # its traceback holds this frame: no cycle


def sendto(sock: Socket, data: object, args: tuple[Any, ...]) -> int:
    """``sendto`` past its fast path: ``"y*|iO:sendto"``, the address encoded,
    then the ``socket.sendto`` event with the address as given (sock_sendto)."""
    data, flags, address = _convert.sendto_args(data, args)
    raw = sock._encode(address, "sendto")
    audit("socket.sendto", sock if sock._audit_ref is None else sock._audit_ref(), address)
    return sock._call(True, sock._drv.sendto, data, flags, raw)


def recvfrom(sock: Socket, bufsize: object, flags: object) -> tuple[bytes, Any]:
    """``recvfrom`` past its fast path: ``"n|i:recvfrom"``, the family's
    address length (getsockaddrlen), the call through the timeout machine."""
    size, flag_bits = _convert.recv_args(bufsize, flags, "recvfrom")
    _address.sockaddr_len(sock._family, sock._k.abi)
    data, raw = sock._call(False, sock._drv.recvfrom, size, flag_bits)
    return data, sock._decode(raw)


def sendmsg_rest(sock: Socket, buffers: Iterable[object], ancdata: object, flags: int, raw: bytes | None) -> int:
    """``sendmsg`` after its audit event: the iovecs, the control data, the call."""
    views = _convert.sendmsg_buffers(buffers)
    control = _cmsg.pack_ancdata(ancdata, sock._k.abi)
    return call(sock, True, sock._drv.sendmsg, views, control, flags, raw)


def sendmsg_afalg(
    sock: Socket, msg: object, op: object, iv: object, assoclen: object, flags: object
) -> int:
    """sock_sendmsg_afalg: the family first, then the keyword arguments, the
    control messages and the buffers, then one call through the timeout machine."""
    if sock._family != sock._k.AF_ALG:
        raise OSError("algset is only supported for AF_ALG")
    op_value, iv_view, assoc, flags = _convert.sendmsg_afalg_args(op, iv, assoclen, flags)
    control = _cmsg.pack_afalg(op_value, iv_view, assoc, sock._k.abi)
    views = [] if msg is None else _convert.sendmsg_buffers(msg)
    return call(sock, True, sock._drv.sendmsg, views, control, flags, None)


def fileno_args(
    drv: Driver, k: SocketConstants, fileno: object, family: int, type: int, proto: int
) -> tuple[int, int, int, int]:
    """sock_initobj_impl with a *fileno*: the fd (PyLong_AsSocket_t is
    PyLong_AsLong cast to int on POSIX), then the family, type and protocol
    the caller left at -1, asked of the fd (getsockname, SO_TYPE, SO_PROTOCOL)."""
    if type_of(fileno) is int and 0 <= fileno <= INT_MAX:
        fd: int = fileno
    else:
        fd = _convert.wrap_c_int(_convert.c_long(fileno))
        if fd < 0:
            raise ValueError("negative file descriptor")
    try:
        raw = drv.getsockname(fd)
    except OSError as exc:
        if exc.errno in (k.EBADF, k.ENOTSOCK):
            raise
    else:
        if family == -1:
            family = _address.sockaddr_family(raw, k.abi)
    if type == -1:
        type = drv.getsockopt(fd, k.SOL_SOCKET, k.SO_TYPE)
    if k.SO_PROTOCOL == -1:
        proto = 0  # "#else proto = 0;": no SO_PROTOCOL (Darwin)
    elif proto == -1:
        proto = drv.getsockopt(fd, k.SOL_SOCKET, k.SO_PROTOCOL)
    return fd, family, type, proto


def recvmsg_args(sock: Socket, into: bool, target: object, ancbufsize: object, flags: object) -> tuple[Any, int, int]:
    """``recvmsg``/``recvmsg_into``'s arguments parsed and checked as
    ``sock_recvmsg``/``sock_recvmsg_into`` do, before any syscall: *target*
    is the buffer size or the buffers (as byte views), then the family's
    ``getsockaddrlen`` and the *ancbufsize* bound.  The call itself is
    ``SocketType._recvmsg``'s (it closes received fds if anything fails after
    the syscall, in its own frame), and ``sansock.ancillary``'s extended receive."""
    abi = sock._k.abi
    parsed: tuple[Any, int, int]
    if into:
        parsed = _convert.recvmsg_into_args(target, ancbufsize, flags)
    else:
        parsed = _convert.recvmsg_args(target, ancbufsize, flags)
    _address.sockaddr_len(sock._family, abi)
    _convert.check_ancbufsize(parsed[1], abi)
    return parsed


def recvmsg(sock: Socket, bufsize: Any, ancbufsize: Any, flags: Any) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
    """``recvmsg`` past the socket method's direct call (a driver without
    one, such as the fake kernel, or values it does not take): sizes the
    general path accepts, a family it knows, not timeout mode: one driver
    call, the walk and err_closefds (see :func:`recvmsg_rest`) in this
    frame; anything else is :func:`recvmsg_rest`."""
    first: OSError | None = None
    if (
        sock._msg_fast and type(bufsize) is int and type(ancbufsize) is int and type(flags) is int
        and 0 <= bufsize <= FAST_SIZE and 0 <= ancbufsize <= FAST_SIZE and sock._timeout_ns <= 0
    ):
        try:
            data, control, msg_flags, raw = sock._drv.recvmsg(sock._fd, bufsize, ancbufsize, flags)
        except OSError as exc:
            first = exc
        except REFUSED:
            pass  # refused by the driver: parsed by recvmsg_rest
        else:
            try:
                if not control:
                    return data, [], msg_flags, (sock._decode(raw) if raw else None)
                items, cut, malformed = sock._control.walk(control)
                if cut is not None or malformed:
                    # stacklevel 3: the caller of recvmsg (recvmsg -> here).
                    warnings.warn(_cmsg.TRUNCATION_WARNING, RuntimeWarning, stacklevel=3 + sock._caller_frames)
                return data, items, msg_flags, (sock._decode(raw) if raw else None)
            except BaseException:
                _cmsg.close_rights(control, sock._k.abi, sock._drv.close)
                raise
    try:
        return recvmsg_rest(sock, False, bufsize, ancbufsize, flags, first, 4)
    finally:
        first = None  # its traceback holds this frame: no cycle


def recvmsg_rest(
    sock: Socket, into: bool, target: Any, ancbufsize: Any, flags: Any, first: OSError | None, stacklevel: int = 3
) -> tuple[Any, list[tuple[int, int, bytes]], int, Any]:
    """The rest of ``recvmsg``/``recvmsg_into``: *first* the fast path's
    error (retried), or None (the arguments parsed, then the call through
    the timeout machine).  sock_recvmsg_guts' ``err_closefds``: "If recvmsg()
    raises an exception after the system call returns, it will first attempt
    to close any file descriptors received via the SCM_RIGHTS mechanism".
    The ``try`` that does it is in the frame that receives the result,
    entered with no Python call after the syscall returns."""
    # recvmsg_into's buffers, exported from before the wait until the
    # result is decoded and released before returning or raising, as
    # sock_recvmsg_into holds and releases its Py_buffers.
    held: list[memoryview] | None = None
    syscall = sock._drv.recvmsg_into if into else sock._drv.recvmsg
    try:
        if first is not None:
            if into:
                target = held = [memoryview(buf) for buf in target]
            data, control, msg_flags, raw = _timeout.retry(sock, first, False, syscall, (target, ancbufsize, flags))
        else:
            target, ancbufsize, flags = recvmsg_args(sock, into, target, ancbufsize, flags)
            if into:
                held = target
            data, control, msg_flags, raw = sock._call(False, syscall, target, ancbufsize, flags)
    except BaseException:
        if held is not None:
            for view in held:
                view.release()
        raise
    finally:
        first = None  # its traceback holds this frame: no cycle
    try:
        if held is not None:
            for view in held:
                view.release()
        if not control:
            return data, [], msg_flags, (sock._decode(raw) if raw else None)
        items, cut, malformed = sock._control.walk(control)
        if cut is not None or malformed:
            # stacklevel 3: the caller of recvmsg (recvmsg -> recvmsg_rest),
            # 4 through recvmsg above.
            warnings.warn(_cmsg.TRUNCATION_WARNING, RuntimeWarning, stacklevel=stacklevel + sock._caller_frames)
        return data, items, msg_flags, (sock._decode(raw) if raw else None)
    except BaseException:
        _cmsg.close_rights(control, sock._k.abi, sock._drv.close)
        raise


def finalize_unclosed(owner: Any, fd: int, message: str) -> None:
    """``__del__`` of an object that still owns *fd* (``owner._fd``, closed
    with ``owner._drv``): ``sock_finalize``'s order, for sockets and
    :class:`~sansock.ancillary.OwnedFd`.

    Warn first (``message.format(owner)``: a socket's repr may still call
    getsockname), then close -- also when the warning is raised (a filter making
    ResourceWarning an error): CPython hands it to PyErr_WriteUnraisable and
    closes; here it propagates out of ``__del__`` after the close, and Python
    reports it the same way (sys.unraisablehook), so no fd outlives its object.
    """
    try:
        # stacklevel 3: the frame that dropped the object (finalize_unclosed
        # <- __del__ <- that frame), as sock_finalize's PyErr_ResourceWarning
        # (stack level 1 from C) names the code running when it is collected.
        warnings.warn(message.format(owner), ResourceWarning, stacklevel=3, source=owner)
    finally:
        owner._fd = -1
        try:
            owner._drv.close(fd)
        except OSError:
            pass
