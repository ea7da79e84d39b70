"""The socket object: CPython's ``_socket.socket`` (here :class:`SocketType`).

Three rules every method follows (issue 12):

* **Sizes and flags are exact ints before anything compares them.**  A fast
  path takes a value only when ``type(x) is int`` (so an ``int`` subclass
  with a lying ``__le__``, a ``Decimal`` or an object with only ``__int__``
  never reaches the driver, whose C types would convert it with
  ``__int__``); everything else is parsed by ``_convert`` (``__index__``, as
  CPython's argument parsing) before any syscall, so an argument error
  consumes nothing.
* **The fd is re-read on every attempt** by the timeout machine, as
  ``sock_call_ex`` reads ``s->sock_fd``: after ``close()`` from another
  thread it is -1 and the call fails with EBADF, instead of using whichever
  socket got the fd number next.
* **No saved exception outlives its frame.**  An exception kept in a local
  (``first = exc``) holds, through its traceback, the frame and the socket:
  every such local is cleared in a ``finally``, so a socket dies with its
  last reference as in CPython.

This is glue.  Every method does what CPython's C method does, in the same
order: parse arguments (``_convert``), encode addresses (``_address``) and
control data (``_cmsg``), call the driver, and decode the result.  On a
blocking or non-blocking socket the fast path is one driver call with plain
values, and the timeout machine (``_timeout``) is consulted only when it
failed; in timeout mode every call goes through the machine, which polls
first.  Whatever a fast path does not take -- values it does not vouch for,
or values the driver refused (``TypeError``, ``OverflowError``,
``BufferError``: :data:`sansock._general.REFUSED`) -- goes, as the caller gave
it, to the function of the same name in :mod:`sansock._general`, which
parses it as CPython does (``_convert``), raising its message before any
syscall, and makes the call.  Each method names the ``socketmodule.c``
function it reproduces.

The Python-level ``socket.socket`` of ``Lib/socket.py`` (makefile, accept's
timeout rule, ``__repr__``...) is in :mod:`sansock._socketpy`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from sys import audit
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from . import _address, _cmsg, _convert, _general, _timeout
from ._convert import INT_MAX, INT_MIN, arg_int, clinic_int
from ._general import FAST_SIZE as _FAST_SIZE
from ._general import OMITTED as _OMITTED
from ._general import REFUSED, finalize_unclosed

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from ._consts import SocketConstants
    from ._driver import DirectCalls, Driver
    from ._general import SocketBinding, SocketState

__all__ = ["SocketType"]

_T = TypeVar("_T")


# Ints CPython compares with its specialised one-digit comparison (a 30-bit
# digit); INT_MIN/INT_MAX take two, so a range check tries these bounds first.
_SMALL_MIN = -0x3FFFFFFF
_SMALL_MAX = 0x3FFFFFFF

#: ``_timeout_ns`` of an object whose ``__init__`` failed after it had taken
#: its fd and closed it: :func:`sansock._socketpy.adopt` must not close that
#: fd again (it closes one the object never took).
FD_CLOSED_BY_INIT = -2


_type_of = type  # SocketType.__init__'s parameter `type` shadows the builtin


class SocketType:
    """CPython's ``_socket.socket``: the socket object at the C level.

    ``SocketType(family=-1, type=-1, proto=-1, fileno=None)``; see
    :class:`sansock.socket` for the documented class.
    """

    # The socket internals, in one place.  Other core modules may read these
    # (and only these) of a socket; everything else is private to this class.
    #
    #   _fd          the fd, -1 once closed/detached; re-read on every attempt
    #                (_timeout, _received, _mmsg, _socketpy, _general)
    #   _family, _type, _proto
    #                as the C object stores them (_received, _mmsg, _general)
    #   _timeout_ns  -1 blocking, 0 non-blocking, > 0 timeout mode (_timeout)
    #   _drv         the driver (_timeout, _received, _mmsg, _socketpy, _general)
    #   _k           the ABI's constants, _k.abi the ABI (everywhere)
    #   _binding     the binding: default timeout, enum converters (_socketpy)
    #   _call(writing, syscall, *args)
    #                sock_call: the syscall through the timeout machine
    #                (_timeout.call; _received, _mmsg, _general)
    #   _encode(address, caller), _decode(raw)
    #                the family's address codec (_received, _mmsg, _general)
    #   _audit_ref   a weak reference to the object audit events name, None:
    #                the socket itself (_mmsg, _general)
    #
    # The timeout machine reads _fd, _timeout_ns, _drv and _k through its
    # Waiter protocol; mypy checks SocketType against it.
    __slots__ = (
        "_fd", "_family", "_type", "_proto", "_timeout_ns", "_drv", "_k", "_binding", "_control", "_msg_fast",
        "_direct", "_audit_ref",
    )

    #: The binding (driver and module state) sockets of this class use.
    _default_binding: ClassVar[SocketBinding]

    _fd: int
    _family: int
    _type: int
    _proto: int
    _timeout_ns: int
    _drv: Driver
    _k: SocketConstants
    _binding: SocketBinding
    #: The control-buffer codec of the socket's ABI (the packer and the walk).
    _control: _cmsg.CmsgCodec
    #: getsockaddrlen() knows the family: recvmsg/recvmsg_into may take their fast paths.
    _msg_fast: bool
    #: The driver's C functions send/recv/getsockopt call themselves, or None
    #: (the optional sansock.driver.DirectCalls capability).
    _direct: DirectCalls | None
    #: The object audit events name, as a weak reference: None (``__init__``)
    #: for the socket itself; a wrapper the user holds instead (the stdlib's
    #: ``socket.socket`` on the fake, ``sansock_fake.interop``) gives a subclass
    #: whose property answers a weak reference to itself.  A slot: a class
    #: attribute costs hundreds of instructions a read on 3.11.
    _audit_ref: Callable[[], object] | None
    #: The frames between the user's call and a socket method, for warnings that name the
    #: caller's line: 0, or 1 in the subclass of a wrapper whose methods call this one's
    #: (the stdlib's socket.socket on the fake, ``sansock_fake.interop``).
    _caller_frames: ClassVar[int] = 0

    # -- construction: sock_initobj_impl / init_sockobject --------------------
    def __init__(
        self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None
    ) -> None:
        self._fd = -1
        self._msg_fast = False
        self._audit_ref = None  # (a wrapper's subclass answers its own: see above)
        binding = self._default_binding
        self._binding = binding
        # The binding's driver, constants, control-buffer codec and the
        # families getsockaddrlen knows, made once per driver
        # (Binding._make_socket_state).
        drv, k, self._control, msg_families, self._direct = binding._socket_state or binding._make_socket_state()
        self._drv = drv
        self._k = k
        if not (
            _type_of(family) is int and _type_of(type) is int and _type_of(proto) is int
            and -1 <= family <= _SMALL_MAX and -1 <= type <= _SMALL_MAX and -1 <= proto <= _SMALL_MAX
        ):
            family, type, proto = _convert.socket_args(family, type, proto)
        # sock_initobj_impl's audit event after the parse, the parsed ints, the
        # object as sock_new left it (fd -1, family/type/proto 0, timeout -1:
        # a hook may call gettimeout()); a hook that raises leaves a fileno its
        # caller's (_socketpy.adopt closes it for accept, dup, socketpair, fromfd).
        self._family = self._type = self._proto = 0
        self._timeout_ns = -1
        audit("socket.__new__", self if self._audit_ref is None else self._audit_ref(), family, type, proto)
        if fileno is not None:
            fd, family, type, proto = _general.fileno_args(drv, k, fileno, family, type, proto)
        else:
            if family == -1:
                family = k.AF_INET
            if type == -1:
                type = k.SOCK_STREAM
            if proto == -1:
                proto = 0
            fd = drv.socket(family, type | k.SOCK_CLOEXEC, proto)
        # sock_initobj_impl: "if (init_sockobject(...) == -1) { SOCKETCLOSE(fd);
        # return -1; }".  From here the object owns the fd, also one passed as
        # fileno: a failure closes it here, once, and the caller (socketpair,
        # accept, dup) must not close it again.  The original error propagates.
        try:
            # From here the object owns fd (adopt() reads _timeout_ns).
            if not k.SOCK_CLOEXEC and fileno is None:
                # No SOCK_CLOEXEC on the platform (Darwin): _Py_set_inheritable(fd, 0).
                drv.set_inheritable(fd, False)
            # init_sockobject (written out here: one call less per socket).
            self._fd = fd
            self._family = family
            self._type = type & ~(k.SOCK_NONBLOCK | k.SOCK_CLOEXEC)
            self._proto = proto
            self._msg_fast = family in msg_families
            if type & k.SOCK_NONBLOCK:
                self._timeout_ns = 0
            else:
                timeout_ns = self._timeout_ns = binding.default_timeout_ns
                if timeout_ns >= 0:
                    drv.set_nonblocking(fd, True)
        except BaseException:
            self._fd = -1
            self._timeout_ns = FD_CLOSED_BY_INIT
            try:
                drv.close(fd)
            except OSError:
                pass
            raise

    # -- attributes ----------------------------------------------------------
    @property
    def family(self) -> int:
        """The socket family."""
        return self._family

    @property
    def type(self) -> int:
        """The socket type (``SOCK_NONBLOCK``/``SOCK_CLOEXEC`` masked out)."""
        return self._type

    @property
    def proto(self) -> int:
        """The socket protocol."""
        return self._proto

    @property
    def timeout(self) -> float | None:
        """The timeout in seconds (None: blocking, 0.0: non-blocking)."""
        return _convert.timeout_seconds(self._timeout_ns)

    def fileno(self) -> int:
        """The file descriptor, or -1 once closed or detached."""
        return self._fd

    def __repr__(self) -> str:
        # sock_repr
        return (
            f"<socket object, fd={self._fd}, family={self._family}, "
            f"type={self._type}, proto={self._proto}>"
        )

    def __del__(self) -> None:
        fd = getattr(self, "_fd", -1)
        if fd != -1:
            finalize_unclosed(self, fd, "unclosed {!r}")  # sock_finalize

    # -- timeouts: sock_settimeout / sock_setblocking / sock_gettimeout -------
    def settimeout(self, value: float | None, /) -> None:
        """Set the timeout in seconds; None means blocking, 0.0 non-blocking."""
        ns = _convert.parse_timeout(value)
        self._timeout_ns = ns
        self._drv.set_nonblocking(self._fd, ns >= 0)

    def gettimeout(self) -> float | None:
        """The timeout in seconds, or None."""
        return _convert.timeout_seconds(self._timeout_ns)

    def setblocking(self, flag: bool, /) -> None:
        """``setblocking(True)`` is ``settimeout(None)``; False is ``settimeout(0.0)``."""
        ns = _convert.parse_blocking(flag, self._k.abi)
        self._timeout_ns = ns
        self._drv.set_nonblocking(self._fd, ns >= 0)

    def getblocking(self) -> bool:
        """False only in non-blocking mode (timeout 0.0)."""
        return self._timeout_ns != 0

    # -- every call that may wait: sock_call (the timeout machine) -------------
    #: ``sock_call``: ``self._call(writing, syscall, *args)`` makes
    #: ``syscall(fd, *args)`` in the socket's mode -- the syscall first when
    #: blocking or non-blocking, poll first in timeout mode -- reading the fd
    #: again before every poll and attempt (see ``_timeout.call``).
    _call = _timeout.call

    # -- addresses -----------------------------------------------------------
    def _encode(self, address: object, caller: str) -> bytes:
        return _address.encode_address(
            self._family, address, self._k.abi, caller, self._drv, proto=self._proto
        )

    def _decode(self, raw: bytes) -> Any:
        return _address.decode_address(raw, self._k.abi, self._drv, proto=self._proto)

    def bind(self, address: Any, /) -> None:
        """Bind the socket to *address* (sock_bind)."""
        raw = self._encode(address, "bind")
        audit("socket.bind", self if self._audit_ref is None else self._audit_ref(), address)  # after getsockaddrarg, as given
        self._drv.bind(self._fd, raw)

    def getsockname(self) -> Any:
        """The socket's own address (sock_getsockname: getsockaddrlen first)."""
        if not self._msg_fast:  # a family getsockaddrlen does not know (a hook's half-built socket: 0)
            _address.sockaddr_len(self._family, self._k.abi)
        return self._decode(self._drv.getsockname(self._fd))

    def getpeername(self) -> Any:
        """The remote address (sock_getpeername: getsockaddrlen first)."""
        if not self._msg_fast:
            _address.sockaddr_len(self._family, self._k.abi)
        return self._decode(self._drv.getpeername(self._fd))

    def listen(self, backlog: int = _OMITTED, /) -> None:
        """Enable a server to accept connections (sock_listen)."""
        if backlog is _OMITTED:
            # "Py_MIN(SOMAXCONN, 128)" when the argument is omitted.
            backlog = min(self._k.SOMAXCONN, 128)
        else:
            backlog = arg_int(backlog)
        # "To avoid problems on systems that don't allow a negative backlog
        # (which usually means 0), treat it as 0."
        self._drv.listen(self._fd, max(backlog, 0))

    #: ``accept4(SOCK_CLOEXEC)``: ``self._accept()`` is ``(fd, address)`` (sock_accept).
    _accept = _general.accept

    def connect(self, address: Any, /) -> None:
        """Connect to *address* (sock_connect / internal_connect)."""
        raw = self._encode(address, "connect")
        audit("socket.connect", self if self._audit_ref is None else self._audit_ref(), address)  # after getsockaddrarg, as given
        self._connect(raw, False)

    def connect_ex(self, address: Any, /) -> int:
        """Like :meth:`connect` but return an errno instead of raising (sock_connect_ex)."""
        raw = self._encode(address, "connect_ex")
        audit("socket.connect", self if self._audit_ref is None else self._audit_ref(), address)  # sock_connect_ex raises socket.connect too
        return self._connect(raw, True)

    #: internal_connect: ``self._connect(raw, ex)`` connects once, directly, in every mode.
    _connect = _general.connect

    def shutdown(self, how: int, /) -> None:
        """Shut down one or both halves of the connection (sock_shutdown)."""
        self._drv.shutdown(self._fd, clinic_int(how))

    # -- lifecycle -----------------------------------------------------------
    def close(self) -> None:
        """Close the socket (sock_close): fd is set to -1 first; ECONNRESET is ignored."""
        fd = self._fd
        if fd != -1:
            self._fd = -1
            try:
                self._drv.close(fd)
            except OSError as exc:
                # bpo-30319: ECONNRESET can be raised on close() if the peer reset.
                if exc.errno != self._k.ECONNRESET:
                    raise

    def detach(self) -> int:
        """Forget the fd without closing it and return it (sock_detach)."""
        fd = self._fd
        self._fd = -1
        return fd

    # -- options -------------------------------------------------------------
    @overload
    def getsockopt(self, level: int, optname: int, /) -> int: ...
    @overload
    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...
    def getsockopt(self, level: int, optname: int, buflen: object = _OMITTED, /) -> int | bytes:
        """``getsockopt``: an int, or up to *buflen* bytes (sock_getsockopt)."""
        if buflen is _OMITTED:
            if type(level) is int and type(optname) is int:
                # Fast path: exact ints; the driver's C types refuse one
                # beyond a C int, then "ii|i" below raises CPython's error.
                direct = self._direct
                try:
                    if direct is None:
                        return self._drv.getsockopt(self._fd, level, optname)
                    getsockopt = direct.getsockopt
                    r = getsockopt(self._fd, level, optname)
                except REFUSED:
                    pass
                else:
                    # The value, or INT_MIN - errno (DirectCalls).  The first
                    # test is the common answer: both sides fit one 30-bit
                    # digit, so CPython compares them with its int fast path.
                    if r > -0x3FFFFFFF or r >= INT_MIN:
                        return r
                    code = INT_MIN - r
                    raise OSError(code, self._drv.strerror(code))
            buflen = 0
        return _general.getsockopt(self, level, optname, buflen)

    @overload
    def setsockopt(self, level: int, optname: int, value: int | ReadableBuffer, /) -> None: ...
    @overload
    def setsockopt(self, level: int, optname: int, value: None, optlen: int, /) -> None: ...
    def setsockopt(
        self,
        level: int,
        optname: int,
        value: int | ReadableBuffer | None,
        optlen: int = _OMITTED,
        /,
    ) -> None:
        """``setsockopt`` with an int, a buffer, or ``None, optlen`` (sock_setsockopt)."""
        if optlen is not _OMITTED:
            level, optname, size = _convert.setsockopt_null_args(level, optname, value, optlen)
            self._drv.setsockopt_bytes(self._fd, level, optname, None, size)
            return
        if (
            type(value) is int
            and type(level) is int
            and type(optname) is int
            and (_SMALL_MIN <= value <= _SMALL_MAX or INT_MIN <= value <= INT_MAX)
            and (0 <= level <= _SMALL_MAX or INT_MIN <= level <= INT_MAX)
            and (0 <= optname <= _SMALL_MAX or INT_MIN <= optname <= INT_MAX)
        ):
            self._drv.setsockopt(self._fd, level, optname, value)
            return
        _general.setsockopt(self, level, optname, value)

    # -- sending -------------------------------------------------------------
    def send(self, data: ReadableBuffer, flags: int = 0, /) -> int:
        """Send *data*; return the number of bytes sent (sock_send)."""
        # Fast path: one driver call, or the driver's C function for bytes
        # (DirectCalls: the error in band).  The driver's C types reject a
        # non-buffer or an out-of-range flags value (TypeError/OverflowError,
        # the driver contract); only then are the arguments parsed as
        # CPython's "y*|i:send" does, to raise its exact error.
        if type(flags) is int:
            if type(data) is bytes and (direct := self._direct) is not None and self._timeout_ns <= 0:
                send = direct.send  # a slot's value: LOAD_METHOD would not specialise
                try:
                    n = send(self._fd, data, len(data), flags)
                except REFUSED:
                    n = INT_MIN  # flags refused: parsed below, outside the handler (no context)
                if n >= 0:
                    return n
                if n != INT_MIN:
                    return _general.retry_in_band(self, n, self._drv.send, (data, flags))
                return _general.send(self, data, flags)
            first: OSError | None = None
            if self._timeout_ns > 0:
                # Polls first: only values no driver refuses (before any poll).
                if type(data) is bytes and INT_MIN <= flags <= INT_MAX:
                    return _timeout.send_timed(self, data, flags)
            else:
                try:
                    return self._drv.send(self._fd, data, flags)
                except OSError as exc:
                    first = exc
                except REFUSED:
                    pass
            if first is not None:
                try:
                    return _timeout.retry(self, first, True, self._drv.send, (data, flags))
                finally:
                    first = None  # its traceback holds this frame: no cycle
        # An argument the driver refused, or flags not an exact int.
        return _general.send(self, data, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        """Send all of *data*; one deadline covers the whole call (sock_sendall)."""
        if not (type(data) is bytes and type(flags) is int and self._timeout_ns <= 0):
            return _general.sendall(self, data, flags)  # (a short jump: CPython specialises the tests)
        # Fast path (blocking and non-blocking: no deadline, no poll first): one C call sends
        # everything in the common case, the driver's own (DirectCalls, the error in band) or its send.
        first: OSError | None = None
        if (direct := self._direct) is not None:
            send = direct.send
            try:
                sent = send(self._fd, data, size := len(data), flags)
            except REFUSED:
                sent = -0x10000  # refused: below any -errno
            if sent == size:
                return None
            if sent > -0x10000 and sent < 0:
                first = OSError(-sent, self._drv.strerror(-sent))
        else:
            try:
                sent = self._drv.send(self._fd, data, flags)
            except OSError as exc:
                first = exc
                sent = -1
            except REFUSED:
                # "y*|i:sendall": data is fine, so flags is refused or an
                # __index__ object; the general path parses it (below,
                # outside this handler, so that its errors carry no context).
                sent = -1
            if sent == len(data):
                return None
        if sent >= 0:
            return _general.sendall_rest(self, data, sent, flags)
        if first is not None and first.errno != self._k.EINTR:
            first.bytes_sent = 0  # type: ignore[attr-defined]  # as _timeout.send_all notes it
            try:
                raise first
            finally:
                first = None  # its traceback holds this frame: no cycle
        first = None
        # Refused, or EINTR (retried): the general path.
        return _general.sendall(self, data, flags)

    @overload
    def sendto(self, data: ReadableBuffer, address: Any, /) -> int: ...
    @overload
    def sendto(self, data: ReadableBuffer, flags: int, address: Any, /) -> int: ...
    def sendto(self, data: ReadableBuffer, *args: Any) -> int:
        """``sendto(data[, flags], address)`` (sock_sendto)."""
        # Fast path: an AF_INET (numeric host, port) pair sent before, its
        # sockaddr_in kept by the codec (exact str and int checked before the
        # lookup hashes and compares them); one driver call.  Anything else is
        # _general.sendto.  Each comparison is followed by a short jump.
        if type(data) is not bytes or len(args) != 1 or self._timeout_ns > 0 or self._family != self._k.AF_INET:
            return _general.sendto(self, data, args)
        address = args[0]
        if type(address) is not tuple or len(address) != 2 or type(address[0]) is not str or type(address[1]) is not int:
            return _general.sendto(self, data, args)
        raw = self._k.inet_encoded.get(address)
        if raw is None:
            return _general.sendto(self, data, args)
        audit("socket.sendto", self if self._audit_ref is None else self._audit_ref(), address)
        try:
            return self._drv.sendto(self._fd, data, 0, raw)
        except OSError as exc:
            first = exc
        try:
            return _timeout.retry(self, first, True, self._drv.sendto, (data, 0, raw))
        finally:
            del first  # its traceback holds this frame: no cycle

    def sendmsg(
        self, buffers: Iterable[ReadableBuffer], ancdata: Iterable[tuple[int, int, ReadableBuffer]] = (),
        flags: int = 0, address: Any = None, /,
    ) -> int:
        """Send data and ancillary data in one call (sock_sendmsg)."""
        if address is None and type(flags) is int and (_SMALL_MIN <= flags <= _SMALL_MAX or INT_MIN <= flags <= INT_MAX):
            # sock_sendmsg raises socket.sendmsg(sock, None) after the flags
            # and (no) address, before the buffers and the control data.
            audit("socket.sendmsg", self if self._audit_ref is None else self._audit_ref(), None)
            # Fast path: bytes in a list/tuple, control data the exact packer
            # takes: one driver call, or the driver's C function for one buffer
            # (DirectCalls: the error in band; flags and the packer's control
            # data fit its C ints).
            if type(buffers) is list or type(buffers) is tuple:
                direct = self._direct
                if len(buffers) == 1 and direct is not None and (sendmsg := direct.sendmsg) is not None:
                    try:
                        (data,) = buffers
                    except ValueError:  # changed by another thread meanwhile
                        data = None
                    if type(data) is bytes and self._timeout_ns <= 0:
                        control = b"" if type(ancdata) is tuple and not ancdata else self._control.lay_out(ancdata, True)
                        if control is None:
                            return _general.sendmsg_rest(self, buffers, ancdata, flags, None)
                        n = sendmsg(self._fd, data, len(data), control, len(control), flags)
                        if n >= 0:
                            return n
                        return _general.retry_in_band(self, n, self._drv.sendmsg, ([data], control, flags, None))
                for part in buffers:
                    if type(part) is not bytes:
                        break
                else:
                    if type(ancdata) is tuple and not ancdata:
                        control = b""
                    else:
                        control = self._control.lay_out(ancdata, True)
                    if control is not None:
                        if self._timeout_ns > 0:
                            return self._call(True, self._drv.sendmsg, buffers, control, flags, None)
                        try:
                            return self._drv.sendmsg(self._fd, buffers, control, flags, None)
                        except OSError as exc:
                            first = exc
                        try:
                            return _timeout.retry(self, first, True, self._drv.sendmsg, (buffers, control, flags, None))
                        finally:
                            del first  # its traceback holds this frame: no cycle
            return _general.sendmsg_rest(self, buffers, ancdata, flags, None)
        return _general.sendmsg(self, buffers, ancdata, flags, address)

    def sendmsg_afalg(
        self,
        msg: Iterable[ReadableBuffer] | None = None,
        *,
        op: int,
        iv: ReadableBuffer | None = None,
        assoclen: int | None = None,
        flags: int = 0,
    ) -> int:
        """``sendmsg`` for AF_ALG sockets with the operation, IV and AEAD
        associated-data length as control messages (sock_sendmsg_afalg)."""
        return _general.sendmsg_afalg(self, msg, op, iv, assoclen, flags)

    # -- receiving -----------------------------------------------------------
    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        """Receive up to *bufsize* bytes (sock_recv)."""
        # Fast path: exact ints, bufsize > 0 the one check the driver cannot make
        # (first: a short jump, so CPython specialises it); a refused value is
        # parsed as "n|i:recv"; timeout mode polls first, with values no driver refuses.
        if type(bufsize) is not int or type(flags) is not int or bufsize <= 0:
            return _general.recv(self, bufsize, flags)
        first: OSError | None
        if self._timeout_ns > 0:
            if bufsize <= _FAST_SIZE and INT_MIN <= flags <= INT_MAX:
                return _timeout.recv_timed(self, bufsize, flags)
            return _general.recv(self, bufsize, flags)
        if (direct := self._direct) is not None and not flags and bufsize <= (cap := direct.recv_size):
            # The driver's C function into one of its buffers, the error in
            # band (DirectCalls); no value here can be refused.
            buffers = direct.recv_buffers
            try:
                pair = buffers.pop()
            except IndexError:
                pair = direct.new_recv_buffer()
            recv = direct.recv
            n = recv(self._fd, pair[0], cap, bufsize)
            if n >= 0:
                data = pair[1][:n]
                buffers.append(pair)
                return data
            buffers.append(pair)
            first = OSError(-n, self._drv.strerror(-n))
        else:
            try:
                return self._drv.recv(self._fd, bufsize, flags)
            except OSError as exc:
                first = exc
            except REFUSED:
                first = None
            if first is None:  # refused: parsed outside the handler (no context)
                return _general.recv(self, bufsize, flags)
        try:
            return _timeout.retry(self, first, False, self._drv.recv, (bufsize, flags))
        finally:
            first = None  # its traceback holds this frame: no cycle

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        """Receive up to *nbytes* (default: ``len(buffer)``) into *buffer* (sock_recv_into)."""
        if not (type(buffer) is bytearray and type(nbytes) is int and type(flags) is int and self._timeout_ns <= 0):
            try:  # (a short jump: CPython specialises the tests)
                return _general.recv_into(self, buffer, nbytes, flags)
            finally:
                del buffer  # nor the caller's memoryview, through a traceback
        if (direct := self._direct) is not None:
            # The driver's C function into the bytearray's export, held as sock_recv_into
            # holds its Py_buffer; nbytes checked against the export's size (DirectCalls).
            export = direct.export
            p = export(buffer)
            try:
                recv_into = direct.recv_into
                n = recv_into(self._fd, p, len(p), nbytes, flags)
            except REFUSED:
                n = -0x10000  # a value beyond a C int: the general path parses it
            finally:
                del p  # the export ends with it (DirectCalls), before any wait
            if n >= 0:
                return n
            if n > -0x10000:
                return _general.recv_into_retry(self, buffer, nbytes, flags, OSError(-n, self._drv.strerror(-n)))
        elif 0 < (count := nbytes or len(buffer)) <= len(buffer):
            # A bytearray's len() is its size in bytes (nbytes 0: all of
            # it); flags beyond a C int are refused by the driver's C type.
            try:
                return self._drv.recv_into(self._fd, buffer, count, flags)
            except OSError as exc:
                first: OSError | None = exc
            except REFUSED:
                first = None  # flags refused: the general path parses it
            if first is not None:
                try:
                    return _general.recv_into_retry(self, buffer, count, flags, first)
                finally:
                    first = None  # its traceback holds this frame: no cycle
        return _general.recv_into(self, buffer, nbytes, flags)  # a bytearray: no export in a traceback

    def recvfrom(self, bufsize: int, flags: int = 0, /) -> tuple[bytes, Any]:
        """Receive up to *bufsize* bytes and the sender's address (sock_recvfrom)."""
        # Fast path: values "n|i:recvfrom" takes, a family getsockaddrlen
        # knows; one driver call, a sockaddr_in decoded before looked up.
        # Anything else is _general.recvfrom.  Each comparison is followed by
        # a short jump.
        if (
            type(bufsize) is not int or type(flags) is not int or not self._msg_fast or self._timeout_ns > 0
            or not 0 <= bufsize <= _FAST_SIZE or not (_SMALL_MIN <= flags <= _SMALL_MAX or INT_MIN <= flags <= INT_MAX)
        ):
            return _general.recvfrom(self, bufsize, flags)
        try:
            data, raw = self._drv.recvfrom(self._fd, bufsize, flags)
        except OSError as exc:
            first = exc
        else:
            pair = self._k.inet_decoded.get(raw)
            return data, (pair if pair is not None else self._decode(raw))
        try:
            data, raw = _timeout.retry(self, first, False, self._drv.recvfrom, (bufsize, flags))
        finally:
            del first  # its traceback holds this frame: no cycle
        return data, self._decode(raw)

    def recvfrom_into(
        self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, Any]:
        """Like :meth:`recvfrom` into *buffer* (sock_recvfrom_into)."""
        view = _convert.writable_arg(buffer, "recvfrom_into")
        try:
            nbytes, flags = _convert.recv_into_args(view, nbytes, flags, "recvfrom_into")
            _address.sockaddr_len(self._family, self._k.abi)
            n, raw = self._call(False, self._drv.recvfrom_into, view, nbytes, flags)
        finally:
            view.release()  # PyBuffer_Release before returning or raising
            del buffer  # nor the caller's memoryview, through a traceback
        return n, self._decode(raw)

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /
    ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
        """Receive data, ancillary data, flags and address (sock_recvmsg)."""
        # Fast path: the driver's C function into one of its message blocks
        # (DirectCalls), with sizes and flags it takes (so none is refused), a
        # family the general path knows, not timeout mode; the walk and
        # err_closefds (see _general.recvmsg_rest) in this frame.  Everything
        # else (the fake kernel too) is _general.recvmsg.  The comparisons
        # come last, each with a short jump: CPython specialises only those.
        direct = self._direct
        if (
            direct is None or (recvmsg := direct.recvmsg) is None or not self._msg_fast
            or type(bufsize) is not int or type(ancbufsize) is not int or type(flags) is not int
            or self._timeout_ns > 0 or not 0 <= bufsize <= direct.msg_size
            or not 0 <= ancbufsize <= direct.msg_control_size or not _SMALL_MIN <= flags <= _SMALL_MAX
        ):
            return _general.recvmsg(self, bufsize, ancbufsize, flags)
        blocks = direct.msg_buffers
        try:
            block = blocks.pop()
        except IndexError:
            block = direct.new_msg_buffer()
        buffer, view, out = block
        try:
            n = recvmsg(self._fd, buffer, bufsize, ancbufsize, flags)
        except BaseException:  # a signal handler raised as the call returned
            _general.close_block_rights(self, direct, block)
            raise
        if n < 0:
            blocks.append(block)
            return _general.recvmsg_rest(self, False, bufsize, ancbufsize, flags, OSError(-n, self._drv.strerror(-n)))
        msg_flags, controllen, namelen = out
        data = view[: n if n <= bufsize else bufsize]  # MSG_TRUNC may report more
        if not controllen:
            raw = view[(at := direct.msg_name_at) : at + namelen] if namelen else b""
            blocks.append(block)
            return data, [], msg_flags, (self._decode(raw) if raw else None)
        control = view[(at := direct.msg_control_at) : at + controllen]
        try:
            raw = view[(at := direct.msg_name_at) : at + namelen] if namelen else b""
            out[1] = 0  # a pooled block's control length is 0 (close_block_rights)
            blocks.append(block)
            # One whole item (an fd array, credentials): CmsgCodec.walk's
            # first step, without its frame; anything else goes to the walk.
            read_header, len0, mask, next_room = self._control.walk_facts
            if controllen >= len0:
                length, level, kind = read_header(control, 0)
                if len0 <= length <= controllen and ((length + mask) & ~mask) + next_room > controllen:
                    return data, [(level, kind, control[len0:length])], msg_flags, (self._decode(raw) if raw else None)
            items, cut, malformed = self._control.walk(control)
            if cut is not None or malformed:
                warnings.warn(_cmsg.TRUNCATION_WARNING, RuntimeWarning, stacklevel=2 + self._caller_frames)
            return data, items, msg_flags, (self._decode(raw) if raw else None)
        except BaseException:
            _cmsg.close_rights(control, self._k.abi, self._drv.close)
            raise

    def recvmsg_into(
        self, buffers: Iterable[WriteableBuffer], ancbufsize: int = 0, flags: int = 0, /
    ) -> tuple[int, list[tuple[int, int, bytes]], int, Any]:
        """Like :meth:`recvmsg`, scattering the data into *buffers* (sock_recvmsg_into)."""
        if not (
            self._msg_fast and (type(buffers) is list or type(buffers) is tuple) and type(ancbufsize) is int
            and type(flags) is int and (not ancbufsize or 0 < ancbufsize <= _FAST_SIZE) and self._timeout_ns <= 0
        ):
            return _general.recvmsg_rest(self, True, buffers, ancbufsize, flags, None)  # (a short jump)
        # Fast path: bytearrays (writable, contiguous) in a list or tuple.
        for buf in buffers:
            if type(buf) is not bytearray:
                return _general.recvmsg_rest(self, True, buffers, ancbufsize, flags, None)
        first: OSError | None = None
        try:
            n, control, msg_flags, raw = self._drv.recvmsg_into(self._fd, buffers, ancbufsize, flags)
        except OSError as exc:
            first = exc
        except REFUSED:
            pass  # refused by the driver: parsed by _general.recvmsg_rest
        else:
            if not control:
                return n, [], msg_flags, (self._decode(raw) if raw else None)
            try:
                items, cut, malformed = self._control.walk(control)
                if cut is not None or malformed:
                    warnings.warn(_cmsg.TRUNCATION_WARNING, RuntimeWarning, stacklevel=2 + self._caller_frames)
                return n, items, msg_flags, (self._decode(raw) if raw else None)
            except BaseException:
                _cmsg.close_rights(control, self._k.abi, self._drv.close)
                raise
        try:
            return _general.recvmsg_rest(self, True, buffers, ancbufsize, flags, first)
        finally:
            first = None  # its traceback holds this frame: no cycle


SocketType.__module__ = "sansock"

