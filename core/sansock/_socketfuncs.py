"""``Lib/socket.py``'s module functions, as a base class of :class:`~sansock.Binding`.

``socketpair`` (and ``_fallback_socketpair``), ``fromfd``,
``create_connection``, ``has_dualstack_ipv6``, ``create_server``,
``send_fds`` and ``recv_fds``: Python code in CPython, over the socket class
and the module functions of the binding they are called on.  Each follows
``Lib/socket.py`` line by line where it can.
"""

from __future__ import annotations

import array
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, SupportsIndex

from . import _cmsg
from ._consts import SocketConstants
from ._convert import arg_int
from ._errors import error
from ._pyrules import RULES, exception_group
from ._general import OMITTED as _OMITTED
from ._socketpy import adopt, socket

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from ._driver import Driver

__all__ = ["GLOBAL_DEFAULT_TIMEOUT", "SocketFunctions"]


class _GlobalDefaultTimeout:
    """``socket._GLOBAL_DEFAULT_TIMEOUT``: "use getdefaulttimeout()"."""

    def __repr__(self) -> str:
        return "<sansock._GLOBAL_DEFAULT_TIMEOUT>"


GLOBAL_DEFAULT_TIMEOUT: Any = _GlobalDefaultTimeout()


def _pair_fds(drv: Driver, k: SocketConstants, family: int, type: int, proto: int) -> tuple[int, int]:
    """``socketpair(2)`` as socket_socketpair makes it: both fds non-inheritable."""
    fd_a, fd_b = drv.socketpair(family, type | k.SOCK_CLOEXEC, proto)
    if not k.SOCK_CLOEXEC:
        # No SOCK_CLOEXEC on the platform (Darwin): _Py_set_inheritable on
        # each, both closed if it fails (socket_socketpair).
        try:
            drv.set_inheritable(fd_a, False)
            drv.set_inheritable(fd_b, False)
        except BaseException:
            for fd in (fd_a, fd_b):
                try:
                    drv.close(fd)
                except OSError:
                    pass
            raise
    return fd_a, fd_b


class SocketFunctions:
    """The ``Lib/socket.py`` functions of a binding (``Binding`` provides what
    they read: its socket class, driver, constants and module functions)."""

    __slots__ = ()

    if TYPE_CHECKING:
        # What Binding provides (declared here for the type checker only).
        @property
        def driver(self) -> Driver: ...
        @property
        def constants(self) -> SocketConstants: ...
        def _socket_class(self) -> type[socket]: ...
        def address_family(self, value: int) -> Any: ...
        def socket_kind(self, value: int) -> Any: ...
        def dup(self, fd: SupportsIndex, /) -> int: ...
        def getdefaulttimeout(self) -> float | None: ...
        def getaddrinfo(
            self, host: bytes | str | None, port: bytes | str | int | None,
            family: int = 0, type: int = 0, proto: int = 0, flags: int = 0,
        ) -> list[Any]: ...

    # -- socket factories ----------------------------------------------------
    def socketpair(
        self, family: int | None = None, type: int = _OMITTED, proto: int = 0
    ) -> tuple[socket, socket]:
        """socketpair([family[, type[, proto]]]) -> (socket object, socket object)

        Create a pair of socket objects from the sockets returned by the platform
        socketpair() function.  The arguments are the same as for socket() except
        the default family is AF_UNIX if defined on the platform; otherwise, the
        default is AF_INET.
        """
        k = self.constants
        if family is None:
            family = k.AF_UNIX
        if type is _OMITTED:
            type = k.SOCK_STREAM
        family = arg_int(family)
        type = arg_int(type)
        proto = arg_int(proto)
        drv = self.driver
        fd_a, fd_b = _pair_fds(drv, k, family, type, proto)
        cls = self._socket_class()
        # Each object owns its fd as soon as it is constructed, even when its
        # construction fails (SocketType's __init__ or adopt() then closes it,
        # once): here only the fd no object has taken yet is closed (issue 12 item 4).
        try:
            a = adopt(cls, family, type, proto, fd_a)
        except BaseException:
            try:
                drv.close(fd_b)
            except OSError:
                pass
            raise
        try:
            b = adopt(cls, family, type, proto, fd_b)
        except BaseException:
            a.close()
            raise
        return a, b

    def _socketpair_fds(self, family: object, type: object, proto: object) -> tuple[int, int]:
        """The fds of ``_socket.socketpair`` (socket_socketpair: ``"|iii"``):
        non-inheritable, owned by the caller, no object made and so no
        ``socket.__new__`` event (CPython's C objects raise none; ``Lib/socket.py``
        raises two as it wraps them).  The stdlib standing on the fake
        (``sansock_fake.interop``) wraps them too."""
        return _pair_fds(self.driver, self.constants, arg_int(family), arg_int(type), arg_int(proto))

    def _fallback_socketpair(
        self, family: int | None = None, type: int = _OMITTED, proto: int = 0
    ) -> tuple[socket, socket]:
        """``Lib/socket.py``'s ``_fallback_socketpair`` (3.13; a module function
        of the versions whose :data:`~sansock._pyrules.RULES` say so): a
        connected TCP pair over loopback, checked against a connection from
        anyone else.  *family* defaults to ``AF_INET``."""
        k = self.constants
        if family is None:
            family = self.address_family(k.AF_INET)
        if type is _OMITTED:
            type = self.socket_kind(k.SOCK_STREAM)
        if family == k.AF_INET:
            host = "127.0.0.1"  # socket._LOCALHOST
        elif family == k.AF_INET6:
            host = "::1"  # socket._LOCALHOST_V6
        else:
            raise ValueError("Only AF_INET and AF_INET6 socket address families are supported")
        if type != k.SOCK_STREAM:
            raise ValueError("Only SOCK_STREAM socket type is supported")
        if proto != 0:
            raise ValueError("Only protocol zero is supported")
        cls = self._socket_class()
        # We create a connected TCP socket. Note the trick with
        # setblocking(False) that prevents us from having to create a thread.
        lsock = cls(family, type, proto)
        try:
            lsock.bind((host, 0))
            lsock.listen()
            # On IPv6, ignore flow_info and scope_id
            addr, port = lsock.getsockname()[:2]
            csock = cls(family, type, proto)
            try:
                csock.setblocking(False)
                try:
                    csock.connect((addr, port))
                except (BlockingIOError, InterruptedError):
                    pass
                csock.setblocking(True)
                ssock, _ = lsock.accept()
            except:  # noqa: E722 - as socket.py: close on anything, re-raise
                csock.close()
                raise
        finally:
            lsock.close()
        # Authenticating avoids using a connection from something else
        # able to connect to {host}:{port} instead of us.
        try:
            if ssock.getsockname() != csock.getpeername() or csock.getsockname() != ssock.getpeername():
                raise ConnectionError("Unexpected peer connection")
        except:  # noqa: E722
            # getsockname() and getpeername() can fail
            # if either socket isn't connected.
            ssock.close()
            csock.close()
            raise
        return (ssock, csock)

    def fromfd(self, fd: SupportsIndex, family: int, type: int, proto: int = 0) -> socket:
        """fromfd(fd, family, type[, proto]) -> socket object

        Create a socket object from a duplicate of the given file
        descriptor.  The remaining arguments are the same as for socket().
        """
        nfd = self.dup(fd)
        return adopt(self._socket_class(), family, type, proto, nfd)

    def create_connection(
        self,
        address: tuple[str | None, bytes | str | int | None],
        timeout: float | None = GLOBAL_DEFAULT_TIMEOUT,
        source_address: Any = None,
        *,
        all_errors: bool = _OMITTED,
    ) -> socket:
        """Connect to *address* and return the socket object (``Lib/socket.py``).

        Tries every address ``getaddrinfo`` gives, in order.  Passing the
        optional *timeout* parameter will set the timeout on the socket
        instance before attempting to connect.  If no *timeout* is supplied,
        the global default timeout setting returned by :func:`getdefaulttimeout`
        is used.  If *source_address* is set it must be a tuple of (host, port)
        for the socket to bind as a source address before making the
        connection.  When a connection cannot be created, raises the last error
        if *all_errors* is False, and an ExceptionGroup of all errors if
        *all_errors* is True.
        """
        if all_errors is _OMITTED:
            all_errors = False
        elif not RULES.create_connection_all_errors:  # Python 3.10's signature
            raise TypeError("create_connection() got an unexpected keyword argument 'all_errors'")
        host, port = address
        exceptions: list[OSError] = []
        k = self.constants
        for res in self.getaddrinfo(host, port, 0, k.SOCK_STREAM):
            af, socktype, proto, canonname, sa = res
            sock = None
            try:
                sock = self._socket_class()(af, socktype, proto)
                if timeout is not GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sa)
                # Break explicitly a reference cycle
                exceptions.clear()
                return sock
            except error as exc:
                if not all_errors:
                    exceptions.clear()  # raise only the last error
                exceptions.append(exc)
                if sock is not None:
                    sock.close()
        if len(exceptions):
            try:
                if not all_errors:
                    raise exceptions[0]
                raise exception_group("create_connection failed", exceptions)
            finally:
                # Break explicitly a reference cycle
                exceptions.clear()
        else:
            raise error("getaddrinfo returns an empty list")

    def has_dualstack_ipv6(self) -> bool:
        """Return True if the platform supports creating a SOCK_STREAM socket
        which can handle both AF_INET and AF_INET6 (IPv4 / IPv6) connections.
        """
        k = self.constants
        if k.IPPROTO_IPV6 == -1 or k.IPV6_V6ONLY == -1:
            return False
        try:
            with self._socket_class()(k.AF_INET6, k.SOCK_STREAM) as sock:
                sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_V6ONLY, 0)
                return True
        except error:
            return False

    def create_server(
        self,
        address: Any,
        *,
        family: int | None = None,
        backlog: int | None = None,
        reuse_port: bool = False,
        dualstack_ipv6: bool = False,
    ) -> socket:
        """Convenience function which creates a SOCK_STREAM type socket
        bound to *address* (a 2-tuple (host, port)) and return the socket
        object (``Lib/socket.py``).

        *family* should be either AF_INET or AF_INET6.
        *backlog* is the queue size passed to socket.listen().
        *reuse_port* dictates whether to use the SO_REUSEPORT socket option.
        *dualstack_ipv6*: if true and the platform supports it, it will
        create an AF_INET6 socket able to accept both IPv4 or IPv6
        connections. When false it will explicitly disable this option on
        platforms that enable it by default (e.g. Linux).
        """
        k = self.constants
        if family is None:
            family = k.AF_INET
        if reuse_port and k.SO_REUSEPORT == -1:
            raise ValueError("SO_REUSEPORT not supported on this platform")
        if dualstack_ipv6:
            if not self.has_dualstack_ipv6():
                raise ValueError("dualstack_ipv6 not supported on this platform")
            if family != k.AF_INET6:
                raise ValueError("dualstack_ipv6 requires AF_INET6 family")
        sock = self._socket_class()(family, k.SOCK_STREAM)
        try:
            if k.SO_REUSEADDR != -1:
                try:
                    sock.setsockopt(k.SOL_SOCKET, k.SO_REUSEADDR, 1)
                except error:
                    # Fail later on bind(), for platforms which may not
                    # support this option.
                    pass
            if reuse_port:
                sock.setsockopt(k.SOL_SOCKET, k.SO_REUSEPORT, 1)
            if family == k.AF_INET6:
                if dualstack_ipv6:
                    sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_V6ONLY, 0)
                elif k.IPV6_V6ONLY != -1 and k.IPPROTO_IPV6 != -1:
                    sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except error as err:
                msg = "%s (while attempting to bind on address %r)" % (err.strerror, address)
                raise error(err.errno, msg) from None
            if backlog is None:
                sock.listen()
            else:
                sock.listen(backlog)
            return sock
        except error:
            sock.close()
            raise

    # -- fd passing (Lib/socket.py send_fds / recv_fds) -----------------------
    def send_fds(
        self,
        sock: socket,
        buffers: Iterable[ReadableBuffer],
        fds: Iterable[int],
        flags: object = 0,
        address: object = None,
    ) -> int:
        """send_fds(sock, buffers, fds[, flags[, address]]) -> integer

        Send the list of file descriptors fds over an AF_UNIX socket.
        (As in CPython 3.11, *flags* and *address* are accepted and ignored.)
        """
        # Lib/socket.py: sock.sendmsg(buffers, [(SOL_SOCKET, SCM_RIGHTS,
        # array.array("i", fds))]).  The array does the converting, so *fds* is
        # taken exactly as the stdlib takes it: bytes-like objects through
        # frombytes (b"\0\0\0\0" is one fd, a length that is not a multiple
        # of the item size is a ValueError), other iterables item by item with
        # the "i" unit's TypeError/OverflowError.  Evaluated in the stdlib's order:
        # the sendmsg attribute first, then the array.  sendmsg's fast path
        # takes the array as it is (_cmsg.CmsgCodec.lay_out).
        sendmsg = sock.sendmsg
        # Lib/socket.py reads _socket.SOL_SOCKET/SCM_RIGHTS/CMSG_LEN of the
        # platform the socket lives on: a sansock socket knows its driver's ABI
        # (its control-buffer codec); any other object with sendmsg/recvmsg gets
        # the binding's.
        cmsg = getattr(sock, "_control", None)
        if not isinstance(cmsg, _cmsg.CmsgCodec):
            cmsg = _cmsg.codec(self.constants.abi)
        fd_array = array.array("i", fds)
        data: array.array[int] | bytes = fd_array
        if cmsg.int_size != fd_array.itemsize or cmsg.abi.byteorder != sys.byteorder:
            # A platform other than the host's (a profile on the fake kernel):
            # the same ints in that platform's C int layout.
            size = cmsg.int_size
            order = cmsg.abi.byteorder
            data = b"".join(fd.to_bytes(size, order, signed=True) for fd in fd_array)
        return sendmsg(buffers, [(cmsg.sol_socket, cmsg.scm_rights, data)])

    def recv_fds(
        self, sock: socket, bufsize: int, maxfds: int, flags: int = 0
    ) -> tuple[bytes, list[int], int, Any]:
        """recv_fds(sock, bufsize, maxfds[, flags]) -> (data, list of file
        descriptors, msg_flags, address)

        Receive up to maxfds file descriptors returning the message
        data and a list containing the descriptors.
        (As in CPython 3.11, *flags* is accepted and ignored.)
        """
        # Lib/socket.py: sock.recvmsg(bufsize, CMSG_LEN(maxfds * fds.itemsize)),
        # then every SOL_SOCKET/SCM_RIGHTS item's whole ints, in order.
        recvmsg = sock.recvmsg
        cmsg = getattr(sock, "_control", None)  # the socket's platform, as in send_fds
        if not isinstance(cmsg, _cmsg.CmsgCodec):
            cmsg = _cmsg.codec(self.constants.abi)
        wanted = maxfds * cmsg.int_size
        # CMSG_LEN(wanted) of the socket's platform: an exact int in range is
        # CMSG_LEN(0) + wanted (get_CMSG_LEN); anything else is parsed as
        # socket.CMSG_LEN parses it, with its errors.
        if type(wanted) is int and 0 <= wanted <= cmsg.socklen_max - cmsg.len0:
            ancbufsize = cmsg.len0 + wanted
        else:
            ancbufsize = _cmsg.cmsg_len(wanted, cmsg.abi)
        msg, ancdata, msg_flags, addr = recvmsg(bufsize, ancbufsize)
        return msg, cmsg.rights_fds(ancdata), msg_flags, addr

