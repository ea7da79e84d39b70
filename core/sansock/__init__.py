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
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING


def _missing_dependency(exc: ModuleNotFoundError) -> ModuleNotFoundError:
    """A missing third-party package, said with what to install.

    Run as ``python -m sansock`` (``runpy`` imports this package before it
    can run ``__main__``, and ``sys.argv[0]`` is ``"-m"`` meanwhile), the
    message is printed without a traceback and the command exits with 1.
    """
    message = (
        f"sansock needs the {exc.name!r} package, which this Python ({sys.executable}) "
        "does not have.  Install sansock with pip (`pip install .` from the checkout, or "
        "the wheel), which installs its dependencies: attrs, and cffi for the native "
        "driver; or install them alone: `python -m pip install 'attrs>=23.1' 'cffi>=1.16'` "
        "(the fake kernel needs only attrs)."
    )
    argv = list(getattr(sys, "orig_argv", ()))
    run_as_cli = sys.argv[:1] == ["-m"] and (
        any(a == "-m" and b in ("sansock", "sansock.__main__") for a, b in zip(argv, argv[1:]))
        or any(a in ("-msansock", "-msansock.__main__") for a in argv)
    )
    if run_as_cli:
        print(f"python -m sansock: {message}", file=sys.stderr)
        raise SystemExit(1)
    return ModuleNotFoundError(message, name=exc.name)


try:
    import attrs as _attrs  # the core's one third-party dependency
except ModuleNotFoundError as _exc:
    if _exc.name != "attrs":
        raise
    raise _missing_dependency(_exc) from None
del _attrs

from . import ancillary  # noqa: E402 (after the dependency check)
from ._abi import ABI, CmsgLayout, SockaddrLayout
from ._binding import GLOBAL_DEFAULT_TIMEOUT as _GLOBAL_DEFAULT_TIMEOUT
from ._binding import _ENUM_NAMES, _NOT_SERVED, Binding
from ._driver import Driver
from ._errors import error, gaierror, herror, timeout
from ._pyrules import RULES as _RULES
from ._pyrules import describe_rules as _describe_rules
from ._socket import SocketType
from ._socketpy import SocketIO, socket
from ._socketpy import _GiveupOnSendfile  # noqa: F401 - socket.py's private name, used by CPython's tests

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

    def swap_driver(self, driver: Driver | None) -> Driver | None:
        # The module serves the new ABI's names lazily again (see _serve_all):
        # __getattr__ goes back before the served names are dropped, so that
        # another thread reading one meanwhile is served rather than refused
        # (tests/test_rev7_review.py), and again after the generation moved,
        # in case a _serve_all that had not seen it yet dropped it -- unless a
        # reader served the new ABI's names meanwhile (then they are all there).
        g = globals()
        g["__getattr__"] = _module_getattr
        previous = super().swap_driver(driver)
        if _all_served[0] != self._generation:
            g["__getattr__"] = _module_getattr
        return previous


_default = _ModuleBinding(loader=_load_default_driver)
_default.socket = socket
# CPython's _socket.socket (socket.SocketType) can be constructed too: the
# C-level socket object on the module's binding (tests/test_defects_regroup.py).
SocketType._default_binding = _default
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


def python_rules() -> str:
    """Which CPython version's ``socket`` rules sansock follows, in one line:
    those of the running interpreter (``'CPython 3.12 rules (running CPython
    3.12.1)'``); the rules live in ``sansock._pyrules``."""
    return _describe_rules()


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

# Lib/socket.py's private names that CPython's own tests use.
_LOCALHOST = "127.0.0.1"
_LOCALHOST_V6 = "::1"
if _RULES.fallback_socketpair:
    _fallback_socketpair = _default._fallback_socketpair


_profile_names: frozenset[str] | None = None


def _is_constant_name(name: str) -> bool:
    """Whether *name* is a constant or enum some ABI profile serves.

    Lets ``__getattr__`` answer AttributeError for any other name without
    loading the driver (``hasattr(sansock, "NOPE")`` is False on a checkout
    without the native build, instead of an ImportError).
    """
    global _profile_names
    names = _profile_names
    if names is None:
        from ._profiles import PROFILES

        served = {n for abi in PROFILES.values() for n in abi.constants if not n.startswith(_NOT_SERVED)}
        names = _profile_names = frozenset(served | _ENUM_NAMES)
    return name in names


if TYPE_CHECKING:
    #: The module's __getattr__ (below, hidden from type checkers).
    def _module_getattr(name: str) -> object: ...


#: The driver generation whose names _serve_all last stored, all of them.
_all_served = [-1]


def _serve_all() -> None:
    """Store every constant and enum of the default driver's ABI in the
    module's dict, then drop the module's ``__getattr__``.

    CPython 3.11 specialises ``sansock.SOL_SOCKET`` (``LOAD_ATTR_MODULE``)
    only in a module without ``__getattr__`` (specialize.c,
    ``SPEC_FAIL_OVERRIDDEN``): with it, a loop that says ``socket.SO_RCVBUF``
    pays a generic lookup per name, which the stdlib's module does not.  So
    the first constant served serves them all (~400 names, ~2 ms), and
    ``swap_driver`` puts ``__getattr__`` back after dropping them.  A swap
    between the loop and the drop is seen by the generation check after the
    drop, which puts it back itself.
    """
    g = globals()
    generation = _default._generation
    try:
        abi = _default.abi
    except ImportError:
        return
    names = set(_ENUM_NAMES)
    names.update(name for name in abi.constants if not name.startswith(_NOT_SERVED) and _RULES.exports(name))
    for name in sorted(names):
        if name not in g:
            try:
                _default._lookup(name, g)
            except AttributeError:
                pass
    if _default._generation == generation:
        g.pop("__getattr__", None)
        if _default._generation != generation:
            g["__getattr__"] = _module_getattr
        else:
            _all_served[0] = generation


if not TYPE_CHECKING:

    def __getattr__(name):
        # PEP 562: constants (AF_INET...) and enums (AddressFamily...) come from
        # the default driver's ABI, so they are looked up when first asked for.
        # Only those: the binding's own attributes (abi, driver...) are not
        # module attributes.  A name no profile serves is no constant: it is
        # an AttributeError without loading the driver (a driver already
        # loaded, or swapped in, is still asked: its ABI may serve more).  A
        # name served once is stored in the module's dict (a plain lookup next
        # time, as the stdlib's int constants are) until swap_default_driver or
        # swap_driver changes the driver.
        if not name.startswith("_") and (_default._driver is not None or _is_constant_name(name)):
            try:
                value = _default._lookup(name, globals())
            except AttributeError:
                pass
            else:
                _serve_all()
                return value
        raise AttributeError(f"module 'sansock' has no attribute {name!r}")

    _module_getattr = __getattr__


def __dir__() -> list[str]:
    # The lazily looked-up constants and enums are attributes too.
    names = set(globals())
    try:
        abi = _default.abi
    except ImportError:  # no native build: list what is there without it
        return sorted(names)
    names.update(_ENUM_NAMES)
    names.update(name for name in abi.constants if not name.startswith(_NOT_SERVED) and _RULES.exports(name))
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
    "python_rules",
    "ancillary",
]
