"""sansock: Python's ``socket`` module as a typed sans-IO core with swappable drivers.

``import sansock`` gives the stdlib ``socket`` API bound to the native driver
(real syscalls through CFFI), loaded on first use.  ``sansock.using(driver)``
gives the same API bound to any other driver, such as the in-memory kernel
``sansock_fake.FakeKernel``:

>>> import sansock
>>> from sansock_fake import FakeKernel
>>> net = sansock.using(FakeKernel())
>>> a, b = net.socketpair()
>>> a.close(); b.close()

:func:`swap_default_driver` runs code written against the module-level API
(``sansock.socket(...)``) on another driver for the duration of a ``with``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from . import ancillary
from ._abi import ABI, CmsgLayout, SockaddrLayout
from ._binding import GLOBAL_DEFAULT_TIMEOUT as _GLOBAL_DEFAULT_TIMEOUT
from ._binding import _ENUM_NAMES, _NOT_SERVED, Binding
from ._driver import Driver
from ._errors import error, gaierror, herror, timeout
from ._socket import SocketType
from ._socketpy import SocketIO, socket

if TYPE_CHECKING:
    # BEGIN static declarations (issue 15): the constants and enums served
    # lazily by __getattr__ below, declared for type checkers only, each with
    # its precise type (generated; tests/test_static_names.py keeps them equal
    # to what the run time serves).  __getattr__ itself is hidden from type
    # checkers, so an unknown name (sansock.AF_INETT) is a type error.
    from ._constant_types import *  # noqa: F403
    from ._enums import AddressFamily as AddressFamily
    from ._enums import AddressInfo as AddressInfo
    from ._enums import MsgFlag as MsgFlag
    from ._enums import SocketKind as SocketKind
    # END static declarations


def _load_default_driver() -> Driver:
    """The native driver; an ImportError that says how to build it if missing."""
    # Imported by name so that the pure core has no static dependency on a driver.
    native = importlib.import_module("sansock_native")
    driver: Driver = native.NativeDriver()
    return driver


class _ModuleBinding(Binding):
    """The binding behind the module-level API.

    Like ``Lib/socket.py``, its factories (``create_connection``,
    ``socketpair``...) look the name ``socket`` up in the module at call time,
    so a test that monkeypatches ``sansock.socket`` affects them.
    """

    def _socket_class(self) -> type[socket]:
        cls: type[socket] = globals()["socket"]
        return cls


_default = _ModuleBinding(loader=_load_default_driver)
_default.socket = socket
socket._default_binding = _default


def using(driver: Driver) -> Binding:
    """The whole socket-module surface bound to *driver*.

    Sockets made through the result use only that driver; the binding has its
    own default timeout.
    """
    return Binding(driver)


@contextmanager
def swap_default_driver(driver: Driver) -> Iterator[Binding]:
    """Run the module-level API (``sansock.socket``...) on *driver* inside a ``with``.

    The previous driver is restored on exit, also when the block raises.
    Sockets made inside keep using *driver* after the block.
    """
    previous = _default.swap_driver(driver)
    saved_timeout = _default.default_timeout_ns
    try:
        yield _default
    finally:
        _default.swap_driver(previous)
        _default.default_timeout_ns = saved_timeout


def default_binding() -> Binding:
    """The binding behind the module-level API."""
    return _default


has_ipv6 = True

# Module functions: the default binding's methods.
socketpair = _default.socketpair
fromfd = _default.fromfd
create_connection = _default.create_connection
create_server = _default.create_server
has_dualstack_ipv6 = _default.has_dualstack_ipv6
send_fds = _default.send_fds
recv_fds = _default.recv_fds
getdefaulttimeout = _default.getdefaulttimeout
setdefaulttimeout = _default.setdefaulttimeout
close = _default.close
dup = _default.dup
CMSG_LEN = _default.CMSG_LEN
CMSG_SPACE = _default.CMSG_SPACE
htons = _default.htons
ntohs = _default.ntohs
htonl = _default.htonl
ntohl = _default.ntohl
inet_aton = _default.inet_aton
inet_ntoa = _default.inet_ntoa
inet_pton = _default.inet_pton
inet_ntop = _default.inet_ntop
getaddrinfo = _default.getaddrinfo
getnameinfo = _default.getnameinfo
gethostbyname = _default.gethostbyname
gethostbyname_ex = _default.gethostbyname_ex
gethostbyaddr = _default.gethostbyaddr
getfqdn = _default.getfqdn
gethostname = _default.gethostname
sethostname = _default.sethostname
getservbyname = _default.getservbyname
getservbyport = _default.getservbyport
getprotobyname = _default.getprotobyname
if_nameindex = _default.if_nameindex
if_nametoindex = _default.if_nametoindex
if_indextoname = _default.if_indextoname


if not TYPE_CHECKING:

    def __getattr__(name):
        # PEP 562: constants (AF_INET...) and enums (AddressFamily...) come from
        # the default driver's ABI, so they are looked up when first asked for.
        # Only those: the binding's own attributes (abi, driver...) are not
        # module attributes.  A name served once is stored in the module's
        # dict (a plain lookup next time, as the stdlib's int constants are)
        # until swap_default_driver or swap_driver changes the driver.
        if not name.startswith("_"):
            try:
                return _default._lookup(name, globals())
            except AttributeError:
                pass
        raise AttributeError(f"module 'sansock' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazily looked-up constants and enums are attributes too.
    names = set(globals())
    try:
        abi = _default.abi
    except ImportError:  # no native build: list what is there without it
        return sorted(names)
    names.update(_ENUM_NAMES)
    names.update(name for name in abi.constants if not name.startswith(_NOT_SERVED))
    return sorted(names)


__all__ = [
    "ABI",
    "Binding",
    "CmsgLayout",
    "Driver",
    "SockaddrLayout",
    "SocketIO",
    "SocketType",
    "error",
    "gaierror",
    "herror",
    "timeout",
    "socket",
    "has_ipv6",
    "socketpair",
    "fromfd",
    "create_connection",
    "create_server",
    "has_dualstack_ipv6",
    "send_fds",
    "recv_fds",
    "getdefaulttimeout",
    "setdefaulttimeout",
    "close",
    "dup",
    "CMSG_LEN",
    "CMSG_SPACE",
    "htons",
    "ntohs",
    "htonl",
    "ntohl",
    "inet_aton",
    "inet_ntoa",
    "inet_pton",
    "inet_ntop",
    "getaddrinfo",
    "getnameinfo",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostbyaddr",
    "getfqdn",
    "gethostname",
    "sethostname",
    "getservbyname",
    "getservbyport",
    "getprotobyname",
    "if_nameindex",
    "if_nametoindex",
    "if_indextoname",
    "using",
    "swap_default_driver",
    "default_binding",
    "ancillary",
]
