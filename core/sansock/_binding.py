"""A binding: the whole socket-module surface bound to one driver.

``sansock.using(driver)`` returns a :class:`Binding`; ``import sansock`` gives
the module bound to the default binding, whose driver (the native one) is
loaded on first use.  A binding owns what CPython keeps in module state: the
driver, the default timeout (``setdefaulttimeout``), the enums built from the
driver's ABI, and a ``socket`` class whose instances use this binding.

The module functions follow ``Modules/socketmodule.c`` (``socket_getaddrinfo``,
``socket_gethostbyname``...), each named in its docstring; ``Lib/socket.py``'s
(``create_connection``, ``socketpair``, ``send_fds``...) are in
``_socketfuncs``, a base of :class:`Binding`.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from sys import audit
from typing import TYPE_CHECKING, Any, ClassVar, Literal, SupportsIndex

from . import _address, _cmsg, _convert, _inet
from ._binding_constant_types import _BindingConstants
from ._consts import SocketConstants
from ._convert import INT_MAX, INT_MIN, SSIZE_MAX, arg_int, arg_uint_wrapping, c_long, wrap_c_int
from ._driver import DirectCalls
from ._enums import AddressFamily, SocketEnums, SocketKind, intenum_converter
from ._errors import error, gaierror, herror, timeout
from ._pyrules import RULES
from ._general import OMITTED as _OMITTED
from ._socket import SocketType
from ._socketfuncs import GLOBAL_DEFAULT_TIMEOUT, SocketFunctions
from ._socketpy import SocketIO, socket

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from ._abi import ABI
    from ._driver import Driver
    from ._general import SocketState

__all__ = ["Binding", "GLOBAL_DEFAULT_TIMEOUT"]


#: The enums a binding serves, and the prefixes of ABI constants it does not
#: serve (they are the platform facts the core needs, not ``socket`` names).
_ENUM_NAMES = frozenset(("AddressFamily", "SocketKind", "MsgFlag", "AddressInfo"))
_NOT_SERVED = ("POLL", "F_", "O_", "FD_", "FION", "SIOCGIF")

#: CMSG_LEN/CMSG_SPACE remember the results of exact ints up to this value,
#: at most this many per binding (the sizes a program uses are few).
_CMSG_MEMO_MAX = 1 << 16
_CMSG_MEMO_ENTRIES = 256
_index = operator.index

class Binding(SocketFunctions, _BindingConstants):
    """The socket-module surface bound to one driver (see the module docstring)."""

    # The module's classes and exceptions, the same objects on every binding and
    # on the module, so that code taking "a socket module" as a parameter can say
    # ``except net.timeout`` or ``isinstance(s, net.SocketType)``
    # (test_defects_module.py::test_binding_has_every_public_name_of_the_stdlib_module).
    SocketType: ClassVar[type[SocketType]] = SocketType
    SocketIO: ClassVar[type[SocketIO]] = SocketIO
    error: ClassVar[type[OSError]] = error
    timeout: ClassVar[type[TimeoutError]] = timeout
    herror: ClassVar[type[herror]] = herror
    gaierror: ClassVar[type[gaierror]] = gaierror
    #: ``socket.has_ipv6``: CPython's compile-time ENABLE_IPV6, true on Linux builds.
    has_ipv6: ClassVar[bool] = True

    def __init__(
        self, driver: Driver | None = None, *, loader: Callable[[], Driver] | None = None
    ) -> None:
        if driver is None and loader is None:
            raise TypeError("Binding needs a driver or a loader")
        self._driver = driver
        self._loader = loader
        self._constants: SocketConstants | None = None
        self._enums: SocketEnums | None = None
        # The constants and enums served so far, remembered where they were
        # asked for (this binding's __dict__, the module's globals) so that
        # the next lookup is a plain dict hit; forgotten by swap_driver.
        # The generation counts swaps: a lookup that raced one is not kept.
        self._remembered: list[tuple[dict[str, object], str, object]] = []
        self._generation = 0
        # CMSG_LEN/CMSG_SPACE of small exact ints, filled by the general
        # parser (_cmsg); replaced (never cleared in place) by swap_driver.
        self._cmsg_lens: dict[int, int] = {}
        self._cmsg_spaces: dict[int, int] = {}
        #: What every new socket reads: made by _make_socket_state, dropped by swap_driver.
        self._socket_state: SocketState | None = None
        #: ``setdefaulttimeout``'s value in ns (-1: None), as CPython's ``defaulttimeout``.
        self.default_timeout_ns = -1
        # The socket class of this binding: a subclass whose instances use it.
        self.socket: type[socket] = type(
            "socket", (socket,), {"__slots__": (), "_default_binding": self, "__module__": "sansock"}
        )

    def __repr__(self) -> str:
        # Never loads the driver (the default binding loads it on first use).
        driver = self._driver
        if driver is None:
            return f"<sansock.{type(self).__name__.lstrip('_')}: driver not loaded yet>"
        shown = repr(driver)
        if len(shown) > 100:  # an attrs repr of every field: name the class and platform
            abi = getattr(driver, "abi", None)
            shown = type(driver).__name__ + (f" ({abi.name})" if abi is not None else "")
        return f"<sansock.{type(self).__name__.lstrip('_')}: {shown}>"

    # -- the driver and what derives from it --------------------------------
    @property
    def driver(self) -> Driver:
        """The driver (loaded on first use for the default binding)."""
        driver = self._driver
        if driver is None:
            assert self._loader is not None
            driver = self._driver = self._loader()
        return driver

    def swap_driver(self, driver: Driver | None) -> Driver | None:
        """Replace the driver; return the previous one (None if never loaded).

        Sockets already made keep the driver they were made with.
        """
        previous = self._driver
        self._generation += 1
        self._driver = driver
        self._constants = None
        self._enums = None
        # After the driver: a call that read an old table may still fill it
        # with either ABI's value, but that table is no longer read.
        self._cmsg_lens = {}
        self._cmsg_spaces = {}
        self._socket_state = None
        self._forget_served()
        return previous

    @property
    def abi(self) -> ABI:
        """The ABI of the driver's platform."""
        return self.constants.abi

    @property
    def constants(self) -> SocketConstants:
        """The constant values the socket layer reads, for the driver's ABI."""
        k = self._constants
        if k is None:
            k = self._constants = SocketConstants(self.driver.abi)
        return k

    @property
    def enums(self) -> SocketEnums:
        """``AddressFamily``, ``SocketKind``, ``MsgFlag`` and ``AddressInfo`` for the driver's ABI."""
        e = self._enums
        if e is None:
            e = self._enums = SocketEnums.for_abi(self.abi)
        return e

    def _make_socket_state(self) -> SocketState:
        """The driver, its constants, its ABI's control-buffer codec, the families getsockaddrlen knows
        and the driver's optional direct calls: what ``SocketType.__init__`` reads, kept until the
        driver is swapped."""
        generation = self._generation
        k = self.constants
        drv = self.driver
        direct = getattr(drv, "direct_calls", None)
        if not isinstance(direct, DirectCalls) or type(drv) is not direct.driver_type:
            direct = None  # none, or another class's (a wrapper's inner driver's)
        state = (drv, k, _cmsg.codec(k.abi), frozenset(_address._codec_for(k.abi).lengths), direct)
        self._socket_state = state
        if self._generation != generation:  # swapped meanwhile: do not keep it
            self._socket_state = None
        return state

    def address_family(self, value: int) -> AddressFamily | int:
        """*value* as an ``AddressFamily`` member, or the int if unknown."""
        if type(value) is int:
            # What EnumType.__call__ finds for an int, without the call.
            return self.enums.AddressFamily._value2member_map_.get(value, value)  # type: ignore[return-value]
        return intenum_converter(value, self.enums.AddressFamily)

    def socket_kind(self, value: int) -> SocketKind | int:
        """*value* as a ``SocketKind`` member, or the int if unknown."""
        if type(value) is int:
            return self.enums.SocketKind._value2member_map_.get(value, value)  # type: ignore[return-value]
        return intenum_converter(value, self.enums.SocketKind)

    # -- constants and enums, served lazily --------------------------------------
    # BEGIN static declarations (issue 15): the names below are looked up in
    # the driver's ABI when first asked for; _BindingConstants (a base of this
    # class, generated by tests/test_static_names.py) declares each with its
    # type for type checkers, and __getattr__ is hidden from them so that an
    # unknown name (net.AF_INETT) is a type error.
    def _served(self, name: str) -> object:
        """The constant or enum *name* of the driver's ABI; AttributeError if it serves none."""
        if name in _ENUM_NAMES:
            return getattr(self.enums, name)
        value = None if name.startswith(_NOT_SERVED) else self.abi.constants.get(name)
        if value is None or not RULES.exports(name):
            raise AttributeError(name)
        if not name.isupper():  # AF_DECnet: socket.py's _convert_ takes upper-case names only
            return value
        e = self.enums
        if name.startswith("AF_"):
            return e.AddressFamily[name]
        if name.startswith("SOCK_"):
            return e.SocketKind[name]
        if name.startswith("MSG_"):
            return e.MsgFlag[name]
        if name.startswith("AI_"):
            return e.AddressInfo[name]
        return value

    def _lookup(self, name: str, namespace: dict[str, object]) -> object:
        """``_served(name)``, also stored in *namespace* (where the name was
        missing) until the driver is swapped, so the next lookup of *name*
        there finds it without calling ``__getattr__``."""
        generation = self._generation
        value = self._served(name)
        namespace[name] = value
        self._remembered.append((namespace, name, value))
        if self._generation != generation:  # swapped meanwhile: value may be stale
            self._forget_served()
            # The swap may have taken the list before the append above went
            # into it: this value is dropped here in any case.
            if namespace.get(name, namespace) is value:
                del namespace[name]
        return value

    def _forget_served(self) -> None:
        """Drop every value :meth:`_lookup` stored (the driver changed)."""
        remembered, self._remembered = self._remembered, []
        kept = []
        for entry in remembered:
            namespace, name, value = entry
            current = namespace.get(name, namespace)
            if current is value:
                del namespace[name]
            elif current is not namespace:
                # Only what was stored: a value set since (monkeypatch) stays,
                # and its entry too: monkeypatch's undo sets the served value
                # back, which the next swap must drop (tests/test_rev7_review.py).
                kept.append(entry)
        self._remembered.extend(kept)

    def __dir__(self) -> list[str]:
        # The constants and enums __getattr__ answers are attributes too (as the
        # module's __dir__ lists them).
        names = set(super().__dir__())
        try:
            abi = self.abi
        except ImportError:  # a default binding without a native build
            return sorted(names)
        names.update(_ENUM_NAMES)
        names.update(name for name in abi.constants if not name.startswith(_NOT_SERVED))
        return sorted(names)

    if not TYPE_CHECKING:

        def __getattr__(self, name):
            # Constants (AF_INET...) and enums (AddressFamily...) of the driver's ABI.
            if name.startswith("_"):
                raise AttributeError(name)
            try:
                return self._lookup(name, self.__dict__)
            except AttributeError:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None

    # END static declarations

    def _socket_class(self) -> type[socket]:
        return self.socket

    # -- timeouts -------------------------------------------------------------
    def getdefaulttimeout(self) -> float | None:
        """getdefaulttimeout() -> timeout

        Returns the default timeout in seconds (float) for new socket objects.
        A value of None indicates that new socket objects have no timeout.
        When the socket module is first imported, the default is None.
        """
        return _convert.timeout_seconds(self.default_timeout_ns)

    def setdefaulttimeout(self, timeout: float | None, /) -> None:
        """setdefaulttimeout(timeout)

        Set the default timeout in seconds (float) for new socket objects.
        A value of None indicates that new socket objects have no timeout.
        When the socket module is first imported, the default is None.
        """
        self.default_timeout_ns = _convert.parse_timeout(timeout)

    # -- fds -------------------------------------------------------------------
    def close(self, fd: SupportsIndex, /) -> None:
        """close(integer) -> None

        Close an integer socket file descriptor.  This is like os.close(), but
        for sockets; on some platforms os.close() won't work for socket file
        descriptors.
        """
        fd = wrap_c_int(c_long(fd))
        try:
            self.driver.close(fd)
        except OSError as exc:
            # bpo-30319: ECONNRESET can be raised on close() if the peer reset.
            if exc.errno != self.constants.ECONNRESET:
                raise

    def dup(self, fd: SupportsIndex, /) -> int:
        """dup(integer) -> integer

        Duplicate an integer socket file descriptor.  This is like os.dup(), but for
        sockets; on some platforms os.dup() won't work for socket file descriptors.
        """
        return self.driver.dup(wrap_c_int(c_long(fd)))

    # -- CMSG arithmetic -------------------------------------------------------
    def CMSG_LEN(self, length: int, /) -> int:
        """CMSG_LEN(length) -> control message length

        Return the total length, without trailing padding, of an ancillary
        data item with associated data of the given length.
        """
        if type(length) is int:
            # An exact int seen before: the value the general path gave it
            # (an int subclass, a bool or a Decimal always takes that path).
            known = self._cmsg_lens
            result = known.get(length)
            if result is None:
                result = _cmsg.cmsg_len(length, self.abi)
                if length <= _CMSG_MEMO_MAX and len(known) < _CMSG_MEMO_ENTRIES:
                    known[length] = result
            return result
        return _cmsg.cmsg_len(length, self.abi)

    def CMSG_SPACE(self, length: int, /) -> int:
        """CMSG_SPACE(length) -> buffer size

        Return the buffer size needed for recvmsg() to receive an ancillary
        data item with associated data of the given length, along with any
        trailing padding.
        """
        if type(length) is int:
            known = self._cmsg_spaces  # as in CMSG_LEN
            result = known.get(length)
            if result is None:
                result = _cmsg.cmsg_space(length, self.abi)
                if length <= _CMSG_MEMO_MAX and len(known) < _CMSG_MEMO_ENTRIES:
                    known[length] = result
            return result
        return _cmsg.cmsg_space(length, self.abi)

    # -- byte order and address text -------------------------------------------
    def htons(self, x: int, /) -> int:
        """Convert a 16-bit unsigned integer from host to network byte order."""
        return _inet.htons(x, self.abi)

    def ntohs(self, x: int, /) -> int:
        """Convert a 16-bit unsigned integer from network to host byte order."""
        return _inet.ntohs(x, self.abi)

    def htonl(self, x: int, /) -> int:
        """Convert a 32-bit integer from host to network byte order."""
        return _inet.htonl(x, self.abi)

    def ntohl(self, x: int, /) -> int:
        """Convert a 32-bit integer from network to host byte order."""
        return _inet.ntohl(x, self.abi)

    def inet_aton(self, ip_string: str, /) -> bytes:
        """Convert an IP address in string format (123.45.67.89) to the 32-bit packed
        binary format used in low-level network functions."""
        return _inet.inet_aton(ip_string)

    def inet_ntoa(self, packed_ip: ReadableBuffer, /) -> str:
        """Convert an IP address from 32-bit packed binary format to string format."""
        return _inet.inet_ntoa(packed_ip)

    def inet_pton(self, address_family: int, ip_string: str, /) -> bytes:
        """inet_pton(af, ip) -> packed IP address string

        Convert an IP address from string format to a packed string suitable
        for use with low-level network functions.
        """
        return _inet.inet_pton(address_family, ip_string, self.abi)

    def inet_ntop(self, address_family: int, packed_ip: ReadableBuffer, /) -> str:
        """inet_ntop(af, packed_ip) -> string formatted IP address

        Convert a packed IP address of the given family to string format.
        """
        return _inet.inet_ntop(address_family, packed_ip, self.abi)

    # -- resolver (socket_getaddrinfo and friends) -----------------------------
    def getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[
        tuple[Literal[AddressFamily.AF_INET], SocketKind, int, str, tuple[str, int]]
        | tuple[Literal[AddressFamily.AF_INET6], SocketKind, int, str, tuple[str, int, int, int]]
    ]:
        """Resolve host and port into list of address info entries.

        Translate the host/port argument into a sequence of 5-tuples that contain
        all the necessary arguments for creating a socket connected to that service.
        host is a domain name, a string representation of an IPv4/v6 address or
        None. port is a string service name such as 'http', a numeric port number or
        None. By passing None as the value of host and port, you can pass NULL to
        the underlying C API.

        The family, type and proto arguments can be optionally specified in order to
        narrow the list of addresses returned. Passing zero as a value for each of
        these arguments selects the full range of results.
        """
        # socket_getaddrinfo: "OO|iiii:getaddrinfo".  operator.index first
        # (an exact int for any argument, an enum member or an int subclass,
        # whose __index__ PyNumber_Index does not call), then the "i" range;
        # a value out of range goes to the parser for CPython's message.
        exact = builtins.type  # (the parameter `type` shadows the builtin)
        if exact(family) is not int:
            family = _index(family)
        if not INT_MIN <= family <= INT_MAX:
            family = arg_int(family)
        if exact(type) is not int:
            type = _index(type)
        if not INT_MIN <= type <= INT_MAX:
            type = arg_int(type)
        if exact(proto) is not int:
            proto = _index(proto)
        if not INT_MIN <= proto <= INT_MAX:
            proto = arg_int(proto)
        if exact(flags) is not int:
            flags = _index(flags)
        if not INT_MIN <= flags <= INT_MAX:
            flags = arg_int(flags)
        # The host: None, a str through the idna codec (PyUnicode_AsEncodedString,
        # ASCII too: "a..b" is a UnicodeError before any lookup), or bytes.
        hptr: bytes | None
        if host is None:
            hptr = None
        elif isinstance(host, str):
            hptr = str.encode(host, "idna")
        elif isinstance(host, bytes):
            hptr = _inet.buffer_bytes(host)  # PyBytes_AS_STRING: the buffer, not __bytes__
        else:
            raise TypeError("getaddrinfo() argument 1 must be string or None")
        # The port: PyLong_CheckExact (True and int subclasses are refused),
        # PyUnicode_AsUTF8, bytes, or None.
        pptr: bytes | None
        if builtins.type(port) is int:  # PyLong_CheckExact (bool and int subclasses are refused below)
            # 3.12 (gh-74895) passes the decimal digits of any int; before, a C long.
            in_long = -SSIZE_MAX - 1 <= port <= SSIZE_MAX
            pptr = b"%d" % (port if in_long or RULES.getaddrinfo_port_any_int else c_long(port))
        elif isinstance(port, str):
            pptr = str.encode(port, "utf-8")
        elif isinstance(port, bytes):
            pptr = _inet.buffer_bytes(port)
        elif port is None:
            pptr = None
        else:
            raise OSError("Int or String expected")
        # getaddrinfo(3) reads C strings: CPython passes PyBytes_AS_STRING /
        # PyUnicode_AsUTF8 unchecked, so a NUL ends the name, it is no error.
        if hptr is not None and b"\0" in hptr:
            hptr = hptr.partition(b"\0")[0]
        if pptr is not None and b"\0" in pptr:
            pptr = pptr.partition(b"\0")[0]
        # PySys_Audit("socket.getaddrinfo", "OOiii", hobj, pobj, family,
        # socktype, protocol): host and port as given, the parsed ints, no flags.
        audit("socket.getaddrinfo", host, port, family, type, proto)
        drv, k, _, _, _ = self._socket_state or self._make_socket_state()
        abi = k.abi
        results = drv.getaddrinfo(hptr, pptr, family, type, proto, flags)
        # The enums' members by value: what intenum_converter's
        # EnumType.__call__ finds for an int, without the call.
        enums = self.enums
        families = enums.AddressFamily._value2member_map_
        kinds = enums.SocketKind._value2member_map_
        out: list[tuple[AddressFamily | int, SocketKind | int, int, str, Any]] = []
        for af, socktype, protocol, canonname, raw in results:
            addr = _address.decode_address(raw, abi, drv, proto=protocol)
            out.append((families.get(af, af), kinds.get(socktype, socktype), protocol, canonname, addr))  # type: ignore[arg-type]
        # getaddrinfo(3) answers AF_INET and AF_INET6 only, with their tuples
        # (typeshed's socket.pyi types the result the same way).
        return out  # type: ignore[return-value]

    def getnameinfo(self, sockaddr: tuple[Any, ...], flags: int, /) -> tuple[str, str]:
        """getnameinfo(sockaddr, flags) --> (host, port)

        Get host and port for a sockaddr."""
        # socket_getnameinfo: "Oi:getnameinfo", then "si|II" on the tuple.
        flags = arg_int(flags)
        if not isinstance(sockaddr, tuple):
            raise TypeError("getnameinfo() argument 1 must be a tuple")
        illegal = "getnameinfo(): illegal sockaddr argument"
        if not 2 <= len(sockaddr) <= 4 or not isinstance(sockaddr[0], str):
            raise TypeError(illegal)
        host = str.encode(sockaddr[0], "utf-8")  # PyUnicode_AsUTF8: no subclass method
        if b"\0" in host:
            raise ValueError("embedded null character")
        # The ";message" replaces only errors that converterr reports without
        # raising (a host that is not a str, a wrong length); "i" and "I" raise
        # their own TypeError/OverflowError, which is kept.
        port = arg_int(sockaddr[1])
        flowinfo = arg_uint_wrapping(sockaddr[2]) if len(sockaddr) > 2 else 0
        scope_id = arg_uint_wrapping(sockaddr[3]) if len(sockaddr) > 3 else 0
        if flowinfo > 0xFFFFF:
            raise OverflowError("getnameinfo(): flowinfo must be 0-1048575.")
        audit("socket.getnameinfo", sockaddr)  # "(O)": the tuple as given
        k = self.constants
        drv = self.driver
        abi = self.abi
        infos = drv.getaddrinfo(
            host, b"%d" % port, 0, k.SOCK_DGRAM, 0, abi.const("AI_NUMERICHOST")
        )
        if len(infos) > 1:
            raise OSError("sockaddr resolved to multiple addresses")
        family, raw = infos[0][0], bytearray(infos[0][4])
        if family == k.AF_INET:
            if len(sockaddr) != 2:
                raise OSError("IPv4 sockaddr must be 2 tuple")
        elif family == k.AF_INET6:
            # sin6_flowinfo = htonl(flowinfo); sin6_scope_id = scope_id (host order)
            raw[4:8] = flowinfo.to_bytes(4, "big")
            raw[24:28] = scope_id.to_bytes(4, abi.byteorder)
        return drv.getnameinfo(bytes(raw), flags)

    def _resolve(self, name: bytes, family: int) -> tuple[int, bytes]:
        """``setipaddr``: ``(family, packed address)`` for an encoded host name or number."""
        abi = self.abi
        codec = _address._codec_for(abi)
        raw = codec.setipaddr(name, family, abi.sockaddr.sizes["sockaddr_storage"], self.driver)
        af = codec.family_of(bytes(raw))
        if af == self.constants.AF_INET:
            return af, bytes(raw[4:8])
        return af, bytes(raw[8:24])

    def gethostbyname(self, hostname: str, /) -> str:
        """gethostbyname(host) -> address

        Return the IP address (a string of the form '255.255.255.255') for a host.
        """
        # socket_gethostbyname: "et:gethostbyname" with "idna", then setipaddr(AF_INET).
        name = _inet.c_encoded_string(hostname, "idna", "gethostbyname", 1)
        audit("socket.gethostbyname", hostname)  # "O" of the args tuple: (hostname,)
        _, packed = self._resolve(name, self.constants.AF_INET)
        return _inet.inet_ntoa(packed)

    def _hostent(self, hostent: tuple[str, list[str], int, list[bytes]]) -> tuple[str, list[str], list[str]]:
        name, aliases, addrtype, addrs = hostent
        return name, aliases, [_inet.inet_ntop(addrtype, a, self.abi) for a in addrs]

    def gethostbyname_ex(self, hostname: str, /) -> tuple[str, list[str], list[str]]:
        """gethostbyname_ex(host) -> (name, aliaslist, addresslist)

        Return the true host name, a list of aliases, and a list of IP addresses,
        for a host.  The host argument is a string giving a host name or IP number.
        """
        # socket_gethostbyname_ex: "et:gethostbyname_ex" with "idna", setipaddr(AF_INET)
        # (its errors first), then gethostbyname_r of the same encoded name.
        name = _inet.c_encoded_string(hostname, "idna", "gethostbyname_ex", 1)
        audit("socket.gethostbyname", hostname)  # socket_gethostbyname_ex raises gethostbyname's event
        self._resolve(name, self.constants.AF_INET)
        return self._hostent(self.driver.gethostbyname_ex(name))

    def gethostbyaddr(self, ip_address: str, /) -> tuple[str, list[str], list[str]]:
        """gethostbyaddr(host) -> (name, aliaslist, addresslist)

        Return the true host name, a list of aliases, and a list of IP addresses,
        for a host.  The host argument is a string giving a host name or IP number.
        """
        # socket_gethostbyaddr: "et:gethostbyaddr" with "idna", setipaddr(AF_UNSPEC),
        # then gethostbyaddr_r of the packed address.
        name = _inet.c_encoded_string(ip_address, "idna", "gethostbyaddr", 1)
        audit("socket.gethostbyaddr", ip_address)
        family, packed = self._resolve(name, self.abi.constants.get("AF_UNSPEC", 0))
        return self._hostent(self.driver.gethostbyaddr(packed, family))

    def getfqdn(self, name: str = "") -> str:
        """Get fully qualified domain name from name.

        An empty argument is interpreted as meaning the local host.

        First the hostname returned by gethostbyaddr() is checked, then
        possibly existing aliases. In case no FQDN is available and `name`
        was given, it is returned unchanged. If `name` was empty, '0.0.0.0' or '::',
        hostname from gethostname() is returned.
        """
        name = name.strip()
        if not name or name in ("0.0.0.0", "::"):
            name = self.gethostname()
        try:
            hostname, aliases, ipaddrs = self.gethostbyaddr(name)
        except error:
            pass
        else:
            aliases.insert(0, hostname)
            for name in aliases:
                if "." in name:
                    break
            else:
                name = hostname
        return name

    def gethostname(self) -> str:
        """gethostname() -> string

        Return the current host name.
        """
        audit("socket.gethostname")  # before anything
        return _address._fs_decode(self.driver.gethostname())

    def sethostname(self, name: str | bytes, /) -> None:
        """sethostname(name)

        Sets the hostname to name.
        """
        encoded = _address._fs_converter(name)
        # "S" takes a bytes object as it is, else "O&" PyUnicode_FSConverter's bytes.
        audit("socket.sethostname", name if isinstance(name, bytes) else encoded)
        self.driver.sethostname(encoded)

    def getservbyname(self, servicename: str, protocolname: str = _OMITTED, /) -> int:
        """getservbyname(servicename[, protocolname]) -> integer

        Return a port number from a service name and protocol name.
        The optional protocol name, if given, should be 'tcp' or 'udp',
        otherwise any protocol will match.
        """
        name = _inet.c_string(servicename, "getservbyname", 1)
        proto = None if protocolname is _OMITTED else _inet.c_string(protocolname, "getservbyname", 2)
        # "ss": str objects made from the parsed C strings (None for no protocol).
        audit("socket.getservbyname", name.decode(), None if proto is None else proto.decode())
        port = self.driver.getservbyname(name, proto)
        if port is None:
            raise OSError("service/proto not found")
        return port

    def getservbyport(self, port: int, protocolname: str = _OMITTED, /) -> str:
        """getservbyport(port[, protocolname]) -> string

        Return the service name from a port number and protocol name.
        The optional protocol name, if given, should be 'tcp' or 'udp',
        otherwise any protocol will match.
        """
        num = arg_int(port)
        proto = None if protocolname is _OMITTED else _inet.c_string(protocolname, "getservbyport", 2)
        if num < 0 or num > 0xFFFF:
            raise OverflowError("getservbyport: port must be 0-65535.")
        audit("socket.getservbyport", num, None if proto is None else proto.decode())  # "is", after the range check
        name = self.driver.getservbyport(num, proto)
        if name is None:
            raise OSError("port/proto not found")
        return name

    def getprotobyname(self, protocolname: str, /) -> int:
        """getprotobyname(name) -> integer

        Return the protocol number for the named protocol.  (Rarely used.)
        """
        number = self.driver.getprotobyname(_inet.c_string(protocolname, "getprotobyname", 1))
        if number is None:
            raise OSError("protocol not found")
        return number

    # -- interfaces -------------------------------------------------------------
    def if_nameindex(self) -> list[tuple[int, str]]:
        """if_nameindex()

        Returns a list of network interface information (index, name) tuples."""
        return [(index, _address._fs_decode(name)) for index, name in self.driver.if_nameindex()]

    def if_nametoindex(self, oname: str | bytes, /) -> int:
        """Returns the interface index corresponding to the interface name if_name."""
        name = _address._fs_converter(oname)
        try:
            return self.driver.if_nametoindex(name)
        except OSError:
            raise OSError("no interface with this name") from None

    def if_indextoname(self, index: int, /) -> str:
        """Returns the interface name corresponding to the interface index if_index."""
        return _address._fs_decode(self.driver.if_indextoname(_inet.if_index(index, self.abi)))
