"""The stdlib ``socket`` module on a fake kernel.

CPython splits the module in two: the C module ``_socket`` (the socket
object's syscall methods, the resolver, ``dup``/``close``...) and
``Lib/socket.py`` (the ``socket.socket`` subclass with ``makefile``,
``accept``, ``dup``; ``create_connection``, ``create_server``, ``fromfd``,
``getfqdn``, ``send_fds``/``recv_fds``...).  The stand-in replaces only the C
half, with sansock's binding on the kernel, and lets ``Lib/socket.py`` run
unchanged on top of it:

* :class:`socket` subclasses the stdlib's ``socket.socket`` (so
  ``isinstance(s, socket.socket)`` holds) and implements each C-level method
  by calling the same method of a sansock socket bound to the kernel.  Its
  C-level part (``_socket.socket``) is never initialised: its fd stays -1, so
  no real socket exists behind it.  The few methods of ``Lib/socket.py`` that
  reach the OS directly (``dup``, ``accept``, ``get_inheritable``, ``sendfile``
  through ``os.sendfile``, ``_real_close``) are redone over the kernel.
* :func:`module_functions` gives the C-level module functions
  (``getaddrinfo``, ``gethostbyname``, ``socketpair``, ``dup``, ``close``,
  ``setdefaulttimeout``...) on the kernel.  ``Lib/socket.py``'s own
  functions (``create_connection``, ``create_server``, ``fromfd``,
  ``getfqdn``, ``has_dualstack_ipv6``, ``send_fds``, ``recv_fds``) stay the
  stdlib's: they look those names up in the module when called, so they run
  on the kernel too.

The exceptions are the stdlib's: what sansock raises as
``sansock.gaierror``/``sansock.herror`` (classes of the pure core, which may
not import the stdlib's) is re-raised as ``socket.gaierror``/``socket.herror``
with the same arguments; ``socket.timeout`` is ``TimeoutError`` and
``socket.error`` is ``OSError`` in both.
"""

from __future__ import annotations

import functools
import socket as _std
import weakref
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sansock

if TYPE_CHECKING:
    from sansock import Binding

    from .._kernel import FakeKernel

__all__ = ["socket", "module_functions", "std_error", "socket_class_for", "check_abi"]

_T = TypeVar("_T")

#: The ``_timeout_ns`` SocketType.__init__ leaves on an object that took its
#: fd and closed it as it failed (``sansock._socket.FD_CLOSED_BY_INIT``, read
#: by ``sansock._socketpy.adopt`` too; a driver imports no private module:
#: tests/test_rev9_review.py checks that the two agree).
FD_CLOSED_BY_INIT = -2

#: The stdlib's ``socket.socket`` as it was when this module was imported
#: (before any patch).
REAL_SOCKET_CLASS: type[_std.socket] = _std.socket


def std_error(exc: BaseException) -> BaseException:
    """*exc* as the stdlib raises it: sansock's ``gaierror``/``herror`` become the stdlib's."""
    if isinstance(exc, sansock.gaierror):
        return _std.gaierror(*exc.args).with_traceback(exc.__traceback__)
    if isinstance(exc, sansock.herror):
        return _std.herror(*exc.args).with_traceback(exc.__traceback__)
    return exc


def translating(func: Callable[..., _T]) -> Callable[..., _T]:
    """Wrap *func* so that sansock's resolver errors leave it as the stdlib's."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> _T:
        try:
            return func(*args, **kwargs)
        except (sansock.gaierror, sansock.herror) as exc:
            raise std_error(exc) from None

    return call


def _intenum(value: int, enum_class: type[IntEnum]) -> IntEnum | int:
    """``socket._intenum_converter``: the stdlib's enum member, or the int."""
    try:
        return enum_class(value)
    except ValueError:
        return value


class socket(REAL_SOCKET_CLASS):  # type: ignore[misc,valid-type]
    """``socket.socket`` on a fake kernel: the stdlib's class over a sansock socket.

    Each patch makes a subclass bound to its kernel (:func:`socket_class_for`);
    instances of it are instances of the stdlib's ``socket.socket``.
    """

    #: The binding of the kernel (set on the per-patch subclass).
    _binding: ClassVar[Binding]
    #: The binding's socket class with a weak reference to the object the
    #: user holds, which its audit events name (:func:`_inner_class_for`).
    _inner: ClassVar[type[sansock.socket]]
    #: The per-patch plain class (what ``accept`` returns, as socket.py's
    #: ``accept`` returns the module's ``socket``).
    _plain: ClassVar[type[socket]]
    _sock: sansock.socket

    def __new__(cls, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None) -> Any:
        # socket(fileno=N) on a real fd (below the kernel's fd_base) is a real
        # socket: Lib/socket.py's own accept() of a real listener, fromfd() of
        # a real fd or code adopting an inherited fd build their socket through
        # the module's `socket` name, which is this class inside the patch.
        if fileno is not None and isinstance(fileno, int) and 0 <= fileno < cls._real_fd_limit():
            return REAL_SOCKET_CLASS(family, type, proto, fileno)
        return super().__new__(cls)

    @classmethod
    def _real_fd_limit(cls) -> int:
        driver = cls._binding.driver
        base: int = getattr(driver, "fd_base", 0)
        return base

    def __init__(self, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None) -> None:
        # _socket.socket.__init__ is not called: the C object keeps fd -1.
        if family is None:
            family = -1
        if type is None:
            type = -1
        if proto is None:
            proto = -1
        # The sansock socket names this object in its audit events (the
        # object CPython's hooks get), and is this object's _sock before its
        # __init__ raises socket.__new__: the hook sees this object half-built
        # (fd -1, family/type/proto 0, gettimeout() None), as sock_new leaves it.
        inner_class = self._inner
        sock = inner_class.__new__(inner_class)
        sock._outer = weakref.ref(self)  # type: ignore[attr-defined]  # the slot of _inner_class_for
        self._sock = sock
        inner_class.__init__(sock, family, type, proto, fileno)
        # Lib/socket.py sets these after _socket.socket.__init__.
        self._io_refs = 0
        self._closed = False

    # -- the C-level attributes (_socket.socket's members) --------------------
    @property
    def family(self) -> Any:
        """Read-only access to the address family for this socket."""
        return _intenum(int(self._sock.family), _std.AddressFamily)

    @property
    def type(self) -> Any:
        """Read-only access to the socket type."""
        return _intenum(int(self._sock.type), _std.SocketKind)

    @property
    def proto(self) -> int:
        """the socket protocol"""
        return self._sock.proto

    @property
    def timeout(self) -> float | None:
        """the socket timeout"""
        return self._sock.timeout

    # -- what Lib/socket.py does through the OS or the module's globals ------
    def _real_close(self, _ss: Any = None) -> None:
        self._sock.close()

    def detach(self) -> int:
        """detach() -> file descriptor

        Close the socket object without closing the underlying file descriptor.
        """
        self._closed = True
        return self._sock.detach()

    def dup(self) -> Any:
        """dup() -> socket object

        Duplicate the socket. Return a new socket object connected to the same
        system resource. The new socket is non-inheritable.
        """
        fd = self._binding.dup(self.fileno())
        sock = _adopt(self.__class__, self.family, self.type, self.proto, fd)
        sock.settimeout(self.gettimeout())
        return sock

    def accept(self) -> tuple[Any, Any]:
        """accept() -> (socket object, address info)

        Wait for an incoming connection.  Return a new socket
        representing the connection, and the address of the client.
        """
        fd, addr = self._accept()
        sock = _adopt(self._plain, self.family, self.type, self.proto, fd)
        # Issue #7995 (Lib/socket.py): no default timeout and a listening
        # socket with a timeout -> the accepted socket is blocking.
        if self._binding.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, addr

    def get_inheritable(self) -> bool:
        """Get the inheritable flag of the socket"""
        return self._sock.get_inheritable()

    def set_inheritable(self, inheritable: bool) -> None:
        """Set the inheritable flag of the socket"""
        self._sock.set_inheritable(inheritable)

    def _sendfile_use_sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        # sendfile(2) from the real file to the fake socket (the fake kernel's
        # _sendfile); where it gives up, the stdlib's _GiveupOnSendfile makes
        # socket.sendfile() fall back to send(), as os.sendfile's errors do.
        try:
            return self._sock._sendfile_use_sendfile(file, offset, count)
        except sansock._GiveupOnSendfile as exc:  # type: ignore[attr-defined]
            giveup = _std._GiveupOnSendfile(*exc.args)  # type: ignore[attr-defined]
            context = exc.__context__
        giveup.__context__ = context
        raise giveup


def _close_quietly(binding: Binding, fd: int) -> None:
    try:
        binding.close(fd)
    except OSError:
        pass


def _adopt(cls: type[socket], family: Any, type: Any, proto: Any, fd: int) -> Any:
    """``cls(family, type, proto, fd)`` for an fd the caller made (accept,
    dup, socketpair), which is closed if the object did not take it (a hook
    refused ``socket.__new__``), as :func:`sansock._socketpy.adopt` does
    (Lib/socket.py leaks it): never closed a second time when the object
    took it and closed it itself (its ``__init__`` failed later on:
    ``FD_CLOSED_BY_INIT``, the error it raised is the one that propagates)."""
    sock = cls.__new__(cls, family, type, proto, fileno=fd)  # (Lib/socket.py's accept and dup: fileno=)
    if not isinstance(sock, cls):  # a real socket (a real fd): built already
        return sock
    try:
        sock.__init__(family, type, proto, fileno=fd)  # type: ignore[misc]  # as _socketpy.adopt
    except BaseException:
        inner = getattr(sock, "_sock", None)
        if getattr(inner, "_timeout_ns", None) != FD_CLOSED_BY_INIT:
            _close_quietly(cls._binding, fd)
        raise
    return sock


def _delegate(name: str, translate: bool) -> Callable[..., Any]:
    def method(self: socket, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._sock, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = getattr(REAL_SOCKET_CLASS, name).__doc__
    return translating(method) if translate else method


# _socket.socket's methods, one by one onto the sansock socket; those that
# take an address may resolve a host name and so raise the resolver's errors.
for _name in (
    "fileno", "settimeout", "gettimeout", "setblocking", "getblocking", "listen",
    "shutdown", "getsockname", "getpeername", "getsockopt", "setsockopt",
    "recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into",
    "send", "sendall", "_accept",
):
    setattr(socket, _name, _delegate(_name, translate=False))
for _name in ("bind", "connect", "connect_ex", "sendto", "sendmsg"):
    setattr(socket, _name, _delegate(_name, translate=True))
del _name


def _outer_ref(sock: Any) -> Callable[[], object] | None:
    """What the audit events of an inner socket name: a weak reference to the
    :class:`socket` the user holds, set before the inner's ``__init__``."""
    ref: Callable[[], object] | None = getattr(sock, "_outer", None)
    return ref


def _keep_outer_ref(sock: Any, value: object) -> None:
    """``SocketType.__init__`` stores None: the inner keeps its reference."""


def _inner_class_for(binding: Binding) -> type[sansock.socket]:
    """*binding*'s socket class whose audit events name the stdlib object
    wrapping it (the property over ``SocketType._audit_ref``), held weakly: no
    cycle, so an unclosed socket is still finalized (ResourceWarning, close)
    when dropped."""
    inner: type[sansock.socket] = type(
        "socket",
        (binding.socket,),
        {
            "__slots__": ("_outer",), "_audit_ref": property(_outer_ref, _keep_outer_ref),
            # recvmsg's truncation warning names the line that called the
            # wrapper's method (one frame: _delegate's), as the stdlib's does.
            "_caller_frames": 1,
            "__module__": "sansock",
        },
    )
    return inner


def socket_class_for(binding: Binding) -> type[socket]:
    """A subclass of :class:`socket` whose instances live on *binding*'s kernel."""
    cls: type[socket] = type(
        "socket",
        (socket,),
        {
            "_binding": binding, "_inner": _inner_class_for(binding),
            "__module__": "sansock_fake.interop", "__doc__": socket.__doc__,
        },
    )
    cls._plain = cls
    return cls


def check_abi(kernel: FakeKernel) -> None:
    """Refuse a kernel whose constants differ from the stdlib module's (a foreign personality)."""
    theirs = kernel.abi.constants
    wrong = sorted(
        name
        for name in ("AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "SOCK_NONBLOCK",
                     "SOCK_CLOEXEC", "SOL_SOCKET", "SO_REUSEADDR", "SO_ERROR", "SO_TYPE",
                     "IPPROTO_TCP", "MSG_PEEK", "MSG_DONTWAIT", "SCM_RIGHTS", "EAI_NONAME")
        if hasattr(_std, name) and theirs.get(name) != getattr(_std, name)
    )
    if wrong:
        raise ValueError(
            f"patch_stdlib() needs a kernel with this platform's constants; {wrong} differ "
            "(a kernel with another ABI or personality cannot stand in for the stdlib)"
        )


def module_functions(kernel: FakeKernel, binding: Binding, cls: type[socket], real: dict[str, Any]) -> dict[str, Any]:
    """The C-level functions of the ``socket`` module on the kernel, by name.

    ``dup`` and ``close`` take an fd number: a fake one goes to the kernel, a
    real one (below the kernel's ``fd_base``) to the function that was there.
    """
    base = kernel.fd_base
    real_dup, real_close = real["dup"], real["close"]
    k = binding.constants

    def socketpair(family: Any = None, type: Any = _std.SOCK_STREAM, proto: Any = 0) -> tuple[Any, Any]:
        """socketpair([family[, type[, proto]]]) -> (socket object, socket object)

        Create a pair of socket objects from the sockets returned by the platform
        socketpair() function on the fake kernel.
        """
        if family is None:
            family = k.AF_UNIX
        # Lib/socket.py: _socket.socketpair's C objects (no audit event), each
        # wrapped in socket(family, type, proto, fd) (one socket.__new__ each).
        fa, fb = binding._socketpair_fds(family, type, proto)
        try:
            first = _adopt(cls, family, type, proto, fa)
        except BaseException:
            _close_quietly(binding, fb)
            raise
        try:
            second = _adopt(cls, family, type, proto, fb)
        except BaseException:
            first.close()
            raise
        return first, second

    def dup(fd: int, /) -> int:
        """dup(integer) -> integer: on the fake kernel for a fake fd."""
        return binding.dup(fd) if fd >= base else int(real_dup(fd))

    def close(fd: int, /) -> None:
        """close(integer) -> None: on the fake kernel for a fake fd."""
        if fd >= base:
            binding.close(fd)
        else:
            real_close(fd)

    def getaddrinfo(host: Any, port: Any, family: Any = 0, type: Any = 0, proto: Any = 0, flags: Any = 0) -> list[Any]:
        """getaddrinfo(host, port, family=0, type=0, proto=0, flags=0) on the fake resolver."""
        return [
            (_intenum(int(af), _std.AddressFamily), _intenum(int(kind), _std.SocketKind), p, canon, sa)
            for af, kind, p, canon, sa in binding.getaddrinfo(host, port, family, type, proto, flags)
        ]

    functions: dict[str, Any] = {
        "socketpair": socketpair,
        "dup": dup,
        "close": close,
        "getaddrinfo": translating(getaddrinfo),
        "getdefaulttimeout": binding.getdefaulttimeout,
        "setdefaulttimeout": binding.setdefaulttimeout,
    }
    for name in (
        "getnameinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "gethostname",
        "sethostname", "getservbyname", "getservbyport", "getprotobyname",
        "if_nameindex", "if_nametoindex", "if_indextoname",
    ):
        bound = getattr(binding, name)
        wrapper = translating(bound)
        wrapper.__doc__ = f"socket.{name} on the fake kernel.\n\n{bound.__doc__ or ''}"
        functions[name] = wrapper
    socketpair.__name__ = "socketpair"
    return functions
