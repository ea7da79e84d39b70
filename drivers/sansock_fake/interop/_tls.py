"""TLS over fake sockets: ``ssl.SSLContext.wrap_socket`` with real handshakes.

The stdlib's ``ssl.SSLSocket`` is Python code over a C object
(``_ssl._SSLSocket``) that reads and writes the socket's fd itself -- which
a fake fd is not.  OpenSSL also runs over memory: ``SSLContext.wrap_bio``
gives an ``ssl.SSLObject`` that reads TLS records from one ``MemoryBIO`` and
writes them to another.  :class:`SSLSocket` here is the stdlib's
``SSLSocket`` whose C object is replaced by :class:`SocketSSLObject`: the
same methods (``do_handshake``, ``read``, ``write``, ``shutdown``,
``getpeercert``, ``cipher``, ``version``, ``selected_alpn_protocol``...), done
by an ``SSLObject`` whose BIOs are pumped over the fake socket.  Everything
above it -- verification, SNI, ALPN, ``makefile``, ``sendall``, ``unwrap``,
``suppress_ragged_eofs``, the ``ssl.SSLError`` family -- is the stdlib's own
code and OpenSSL's own answer.

What ``_ssl.c`` does around OpenSSL is reproduced here:

* one deadline per operation from the socket's timeout (``_PyDeadline_Init``
  in ``_ssl__SSLSocket_do_handshake_impl``, ``_ssl__SSLSocket_read_impl``,
  ``_ssl__SSLSocket_write_impl``, ``_ssl__SSLSocket_shutdown_impl``); expiry
  raises ``TimeoutError`` with ``_ssl.c``'s text: "The read operation timed
  out" for a read, "The write operation timed out" for a write, the one of
  the direction waited for in ``shutdown``/``unwrap``, and for a handshake
  "The handshake operation timed out" prefixed as ``_ssl.c`` prefixes it,
  with its own file and line (``ERRSTR``: "_ssl.c:989: " on CPython 3.11.7,
  975 on 3.11.2, 990 on 3.10.13, 983 on 3.12.1, 1003 on 3.13.0) -- read
  from the running ``_ssl`` (:func:`handshake_timeout_message`);
* a non-blocking socket gets ``SSLWantReadError``/``SSLWantWriteError``;
* records are read from the socket one at a time (a 5-byte header, then its
  body), as OpenSSL does without read-ahead: bytes of the next record stay in
  the socket, so ``select`` on it tells the truth and ``unwrap()`` leaves the
  clear-text that follows ``close_notify`` unread;
* an alert OpenSSL queued before failing (a rejected certificate) is sent
  before the error is raised, so the peer sees it as with a real socket.
"""

from __future__ import annotations

import errno
import functools
import math
import re
import socket as _socket
import ssl as _ssl
import sys
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from . import _stdsocket

if TYPE_CHECKING:
    from sansock import Driver

__all__ = ["SSLSocket", "SocketSSLObject", "wrap_socket_dispatch"]

_T = TypeVar("_T")

#: TLS record header: type (1), version (2), length (2).
_HEADER = 5

#: The handshake timeout's text in ``_ssl.c``, after ``ERRSTR`` put the file and line before it.
_HANDSHAKE_TIMEOUT = re.compile(rb"_ssl\.c:[0-9]{1,6}: The handshake operation timed out")


@functools.lru_cache(maxsize=None)
def handshake_timeout_message() -> str:
    """The running CPython's text for a TLS handshake timeout ("_ssl.c:989: The handshake ...").

    ``_ssl.c`` builds it with ``ERRSTR``, which puts ``__LINE__`` in it: the
    number changes between CPython builds, micro versions included (3.11.2
    says 975, 3.11.7 989), so no table by version can be right.  The string
    is a constant of the ``_ssl`` extension module: it is read from there,
    once.  Without a file to read (``_ssl`` built into the interpreter),
    the text without the prefix.
    """
    path = getattr(sys.modules.get("_ssl"), "__file__", None)
    if isinstance(path, str):
        try:
            with open(path, "rb") as binary:
                found = _HANDSHAKE_TIMEOUT.search(binary.read())
        except OSError:
            found = None
        if found is not None:
            return found.group().decode("ascii")
    return "The handshake operation timed out"


def _timed_out(what: str, reading: bool) -> TimeoutError:
    """What ``_ssl.c`` raises when the socket's deadline passes during *what*."""
    if what == "handshake":
        return TimeoutError(handshake_timeout_message())
    if what == "shutdown":
        # _ssl__SSLSocket_shutdown_impl names the direction it waited for.
        what = "read" if reading else "write"
    return TimeoutError(f"The {what} operation timed out")


class SocketSSLObject:
    """What ``_ssl._SSLSocket`` is for ``ssl.SSLSocket``, over an ``SSLObject`` and a fake fd."""

    def __init__(
        self,
        owner: SSLSocket,
        context: _ssl.SSLContext,
        server_side: bool,
        server_hostname: str | None,
        session: _ssl.SSLSession | None,
    ) -> None:
        self.owner = owner
        self._incoming = _ssl.MemoryBIO()
        self._outgoing = _ssl.MemoryBIO()
        self._obj = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side,
            server_hostname=server_hostname, session=session,
        )
        #: Bytes OpenSSL produced that the socket has not taken yet.
        self._unsent = bytearray()
        #: The part of a record header read so far; the body bytes still in the socket.
        self._header = bytearray()
        self._body_left = 0

    # -- attributes of _ssl._SSLSocket ---------------------------------------
    @property
    def context(self) -> _ssl.SSLContext:
        return self._obj.context

    @context.setter
    def context(self, ctx: _ssl.SSLContext) -> None:
        self._obj.context = ctx

    @property
    def session(self) -> _ssl.SSLSession | None:
        return self._obj.session

    @session.setter
    def session(self, session: _ssl.SSLSession | None) -> None:
        self._obj.session = session

    @property
    def session_reused(self) -> bool:
        return self._obj.session_reused

    @property
    def server_side(self) -> bool:
        return self._obj.server_side

    @property
    def server_hostname(self) -> str | None:
        return self._obj.server_hostname

    def __getattr__(self, name: str) -> Any:
        # getpeercert, cipher, shared_ciphers, compression, version, pending,
        # selected_alpn_protocol, get_channel_binding, verify_client_post_handshake...
        # need no I/O: the SSLObject answers.
        return getattr(self._obj, name)

    # -- the operations that move bytes --------------------------------------
    def do_handshake(self) -> None:
        self._run(self._obj.do_handshake, "handshake")

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        if buffer is not None:
            return self._run(lambda: self._obj.read(len, buffer), "read")
        return self._run(lambda: self._obj.read(len), "read")

    def write(self, data: Any) -> int:
        return self._run(lambda: self._obj.write(data), "write")

    def shutdown(self) -> Any:
        """``SSL_shutdown`` until the peer's ``close_notify``; returns the socket (``unwrap``)."""
        self._run(self._obj.unwrap, "shutdown")
        return self.owner

    # -- pumping -------------------------------------------------------------------
    def _run(self, op: Callable[[], _T], what: str) -> _T:
        owner = self.owner
        timeout = owner.gettimeout()
        drv: Driver = owner._binding.driver
        nonblocking = timeout == 0.0
        deadline = None if not timeout else drv.monotonic_ns() + math.ceil(timeout * 1_000_000_000)
        if self._unsent and not self._flush(drv, deadline, nonblocking, what):
            raise _ssl.SSLWantWriteError(_ssl.SSL_ERROR_WANT_WRITE, "The operation did not complete (write)")
        while True:
            try:
                result = op()
            except _ssl.SSLWantReadError:
                self._flush(drv, deadline, nonblocking, what)
                if self._incoming.eof:
                    # Nothing more will come: never spin on a closed connection.
                    raise _ssl.SSLEOFError(
                        _ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol"
                    ) from None
                if not self._receive(drv, deadline, nonblocking, what):
                    raise
                continue
            except _ssl.SSLWantWriteError:
                if not self._flush(drv, deadline, nonblocking, what):
                    raise
                continue
            except _ssl.SSLError:
                # An alert queued before the failure goes out as it would on a real socket.
                try:
                    self._flush(drv, None, True, what)
                except OSError:
                    pass
                raise
            # A non-blocking socket keeps what did not fit for the next operation.
            self._flush(drv, deadline, nonblocking, what)
            return result

    def _wait(self, drv: Driver, events: int, deadline: int | None, what: str) -> None:
        if deadline is None:
            timeout_ms = -1
        else:
            remaining = deadline - drv.monotonic_ns()
            if remaining <= 0:
                raise _timed_out(what, events == drv.abi.const("POLLIN"))
            timeout_ms = -(-remaining // 1_000_000)
        try:
            revents = drv.poll(self.owner.fileno(), events, timeout_ms)
        except InterruptedError:
            return
        if revents == 0:
            raise _timed_out(what, events == drv.abi.const("POLLIN"))

    def _flush(self, drv: Driver, deadline: int | None, nonblocking: bool, what: str) -> bool:
        """Send what OpenSSL wrote; False if a non-blocking socket could not take it all."""
        pending = self._outgoing.pending
        if pending:
            self._unsent += self._outgoing.read(pending)
        abi = drv.abi
        flags = abi.const("MSG_DONTWAIT") | abi.const("MSG_NOSIGNAL")
        while self._unsent:
            try:
                sent = drv.send(self.owner.fileno(), self._unsent, flags)
            except BlockingIOError:
                if nonblocking:
                    return False
                self._wait(drv, abi.const("POLLOUT"), deadline, what)
                continue
            except InterruptedError:
                continue
            del self._unsent[:sent]
        return True

    def _receive(self, drv: Driver, deadline: int | None, nonblocking: bool, what: str) -> bool:
        """Feed OpenSSL the next piece of one record; False if a non-blocking socket had none."""
        abi = drv.abi
        while True:
            if self._body_left:
                want = self._body_left
            else:
                want = _HEADER - len(self._header)
            try:
                data = drv.recv(self.owner.fileno(), want, abi.const("MSG_DONTWAIT"))
            except BlockingIOError:
                if nonblocking:
                    return False
                self._wait(drv, abi.const("POLLIN"), deadline, what)
                continue
            except InterruptedError:
                continue
            if not data:
                if self._header:
                    self._incoming.write(bytes(self._header))
                    self._header.clear()
                self._incoming.write_eof()
                return True
            if self._body_left:
                self._body_left -= len(data)
                self._incoming.write(data)
                return True
            self._header += data
            if len(self._header) == _HEADER:
                self._body_left = int.from_bytes(self._header[3:5], "big")
                self._incoming.write(bytes(self._header))
                self._header.clear()
                return True


class SSLSocket(_ssl.SSLSocket, _stdsocket.socket):
    """``ssl.SSLSocket`` over a fake socket (see the module docstring).

    Each patch has a subclass that also derives from its plain socket class,
    so ``isinstance(s, ssl.SSLSocket)`` and ``isinstance(s, socket.socket)``
    both hold.
    """

    _sslobj: SocketSSLObject | None
    _connected: bool

    @classmethod
    def _create(
        cls,
        sock: _stdsocket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        context: _ssl.SSLContext | None = None,
        session: _ssl.SSLSession | None = None,
    ) -> SSLSocket:
        # Lib/ssl.py's SSLSocket._create, with the C object made by SocketSSLObject.
        assert context is not None
        if sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_TYPE) != _socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if server_side:
            if server_hostname:
                raise ValueError("server_hostname can only be specified in client mode")
            if session is not None:
                raise ValueError("session can only be specified in client mode")
        if context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")

        kwargs = dict(family=sock.family, type=sock.type, proto=sock.proto, fileno=sock.fileno())
        self: SSLSocket = cls.__new__(cls, **kwargs)
        _stdsocket.socket.__init__(self, **kwargs)
        sock_timeout = sock.gettimeout()
        sock.detach()

        self._context = context
        self._session = session
        self._closed = False
        self._sslobj = None
        self.server_side = server_side
        self.server_hostname = context._encode_hostname(server_hostname)  # type: ignore[attr-defined]
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs

        try:
            self.getpeername()
        except OSError as e:
            if e.errno != errno.ENOTCONN:
                raise
            connected = False
            blocking = self.getblocking()
            self.setblocking(False)
            try:
                notconn_pre_handshake_data = self.recv(1)
            except OSError as e2:
                # EINVAL occurs for recv(1) on non-connected on unix sockets.
                if e2.errno not in (errno.ENOTCONN, errno.EINVAL):
                    raise
                notconn_pre_handshake_data = b""
            self.setblocking(blocking)
            if notconn_pre_handshake_data:
                reason = "Closed before TLS handshake with data in recv buffer."
                error = _ssl.SSLError(e.errno, reason)
                error.reason = reason
                error.library = None  # type: ignore[assignment]
                try:
                    self.close()
                except OSError:
                    pass
                raise error
        else:
            connected = True

        self.settimeout(sock_timeout)
        self._connected = connected
        if connected:
            try:
                self._sslobj = SocketSSLObject(self, context, server_side, self.server_hostname, self._session)
                if do_handshake_on_connect:
                    if self.gettimeout() == 0.0:
                        raise ValueError("do_handshake_on_connect should not be specified for non-blocking sockets")
                    self.do_handshake()
            except (OSError, ValueError):
                self.close()
                raise
        return self

    def _real_connect(self, addr: Any, connect_ex: bool) -> int | None:
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected or self._sslobj is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        self._sslobj = SocketSSLObject(self, self.context, False, self.server_hostname, self._session)
        try:
            if connect_ex:
                rc: int | None = _stdsocket.socket.connect_ex(self, addr)
            else:
                rc = None
                _stdsocket.socket.connect(self, addr)
            if not rc:
                self._connected = True
                if self.do_handshake_on_connect:
                    self.do_handshake()
            return rc
        except (OSError, ValueError):
            self._sslobj = None
            raise

    def accept(self) -> tuple[Any, Any]:
        """Accepts a new connection from a remote client, and returns
        a tuple containing that new connection wrapped with a server-side
        SSL channel, and the address of the remote client."""
        newsock, addr = _stdsocket.socket.accept(self)
        wrapped = type(self)._create(
            newsock,
            do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs,
            server_side=True,
            context=self.context,
        )
        return wrapped, addr


def ssl_class_for(plain: type[_stdsocket.socket]) -> type[SSLSocket]:
    """The SSL socket class of one patch: also a subclass of its plain socket class."""
    cls = plain.__dict__.get("_ssl_class")
    if cls is None:
        cls = type(
            "SSLSocket", (SSLSocket, plain),
            {"__module__": "sansock_fake.interop", "__doc__": SSLSocket.__doc__},
        )
        setattr(plain, "_ssl_class", cls)
    assert issubclass(cls, SSLSocket)
    return cls


def wrap_socket_dispatch(previous: Any) -> Callable[..., Any]:
    """``SSLContext.wrap_socket`` that gives a fake socket a :class:`SSLSocket`."""

    def wrap_socket(
        self: _ssl.SSLContext,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: _ssl.SSLSession | None = None,
    ) -> Any:
        if isinstance(sock, _stdsocket.socket):
            return ssl_class_for(type(sock)._plain)._create(
                sock=sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
                suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
                context=self, session=session,
            )
        return previous(
            self, sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname, session=session,
        )

    wrap_socket.__doc__ = getattr(previous, "__doc__", None)
    return wrap_socket
