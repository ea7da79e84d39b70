"""``AddressFamily``, ``SocketKind``, ``MsgFlag`` and ``AddressInfo`` for an ABI.

``Lib/socket.py`` builds them with ``IntEnum._convert_`` / ``IntFlag._convert_``
from the module's ``AF_*``, ``SOCK_*``, ``MSG_*`` and ``AI_*`` globals, members
sorted by (value, name) so that the first name of a value is its canonical
member and later ones are aliases (``AF_ROUTE`` is ``AF_NETLINK``).  Here the
globals are an ABI's constants, so each driver's platform gets its own enums.

The four classes below are the *bases* of those per-ABI enums.  At run time
they have no members (an enum with members cannot be subclassed), so every
binding's ``AddressFamily`` is a subclass of :class:`AddressFamily` and
``isinstance(net.AF_INET, sansock._enums.AddressFamily)`` holds whichever
driver made it.  For type checkers only, each base declares the members the
platform's profile has (the blocks marked "generated"), so ``AddressFamily.AF_INET``
has a precise type and ``AddressFamily.AF_TYPO`` is an error; the values
themselves always come from the driver's ABI at run time.

For a type checker there is one ``AddressFamily`` (this base): ``sock.family``
is one whichever binding made the socket, and ``sansock.AddressFamily`` (at
run time the default binding's class) is that class too.  So that run time
agrees, ``isinstance`` and ``issubclass`` against any binding's class answer
as against its base (:class:`_SocketEnumType`): ``isinstance(s.family,
sansock.AddressFamily)`` holds for a socket of any binding.
"""

from __future__ import annotations

import enum
import sys
from enum import IntEnum, IntFlag, auto
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._abi import ABI
from ._pyrules import RULES

__all__ = ["AddressFamily", "AddressInfo", "MsgFlag", "SocketEnums", "SocketKind", "intenum_converter"]

_E = TypeVar("_E", bound=IntEnum)

#: The four memberless bases (filled in below their definitions).
_BASES: set[type] = set()


class _SocketEnumType(enum.EnumMeta):
    """The metaclass of the four bases, and so of every binding's enums.

    ``isinstance(x, C)`` and ``issubclass(X, C)`` for a binding's class *C*
    answer as for its base: a member of another binding's ``AddressFamily``
    is an ``AddressFamily`` here too, as it is for a type checker.  (An
    exact type match never gets here: CPython answers it before calling
    ``__instancecheck__``, so an enum's own operations stay fast.)
    """

    def __instancecheck__(cls, instance: Any) -> bool:
        return type.__instancecheck__(_base_of(cls), instance)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        return type.__subclasscheck__(_base_of(cls), subclass)


def _base_of(cls: type) -> type:
    for klass in cls.__mro__:
        if klass in _BASES:
            return klass
    return cls


class AddressFamily(IntEnum, metaclass=_SocketEnumType):
    """The address families of a platform (``AF_*``)."""

    if TYPE_CHECKING:
        # BEGIN generated AddressFamily (tests/test_static_names.py --write)
        AF_APPLETALK = auto()
        AF_INET = auto()
        AF_INET6 = auto()
        AF_IPX = auto()
        AF_ROUTE = auto()
        AF_SNA = auto()
        AF_UNIX = auto()
        AF_UNSPEC = auto()
        AF_VSOCK = auto()
        if sys.platform == "darwin":
            AF_CCITT = auto()
            AF_CHAOS = auto()
            AF_CNT = auto()
            AF_COIP = auto()
            AF_DATAKIT = auto()
            AF_DLI = auto()
            AF_E164 = auto()
            AF_ECMA = auto()
            AF_HYLINK = auto()
            AF_IEEE80211 = auto()
            AF_IMPLINK = auto()
            AF_ISDN = auto()
            AF_ISO = auto()
            AF_LAT = auto()
            AF_LINK = auto()
            AF_NATM = auto()
            AF_NDRV = auto()
            AF_NETBIOS = auto()
            AF_NS = auto()
            AF_PPP = auto()
            AF_PUP = auto()
            AF_SIP = auto()
            AF_SYSTEM = auto()
            AF_UTUN = auto()
        elif sys.platform == "linux":
            AF_ALG = auto()
            AF_ASH = auto()
            AF_ATMPVC = auto()
            AF_ATMSVC = auto()
            AF_AX25 = auto()
            AF_BRIDGE = auto()
            AF_CAN = auto()
            AF_ECONET = auto()
            AF_IRDA = auto()
            AF_KEY = auto()
            AF_LLC = auto()
            AF_NETBEUI = auto()
            AF_NETLINK = auto()
            AF_NETROM = auto()
            AF_PACKET = auto()
            AF_PPPOX = auto()
            AF_QIPCRTR = auto()
            AF_RDS = auto()
            AF_ROSE = auto()
            AF_SECURITY = auto()
            AF_TIPC = auto()
            AF_WANPIPE = auto()
            AF_X25 = auto()
        # END generated AddressFamily


class SocketKind(IntEnum, metaclass=_SocketEnumType):
    """The socket types of a platform (``SOCK_*``)."""

    if TYPE_CHECKING:
        # BEGIN generated SocketKind (tests/test_static_names.py --write)
        SOCK_DGRAM = auto()
        SOCK_RAW = auto()
        SOCK_RDM = auto()
        SOCK_SEQPACKET = auto()
        SOCK_STREAM = auto()
        if sys.platform == "linux":
            SOCK_CLOEXEC = auto()
            SOCK_NONBLOCK = auto()
        # END generated SocketKind


class MsgFlag(IntFlag, metaclass=_SocketEnumType):
    """The ``send``/``recv`` flags of a platform (``MSG_*``)."""

    if TYPE_CHECKING:
        # BEGIN generated MsgFlag (tests/test_static_names.py --write)
        MSG_CTRUNC = auto()
        MSG_DONTROUTE = auto()
        MSG_DONTWAIT = auto()
        MSG_EOR = auto()
        MSG_NOSIGNAL = auto()
        MSG_OOB = auto()
        MSG_PEEK = auto()
        MSG_TRUNC = auto()
        MSG_WAITALL = auto()
        if sys.platform == "darwin":
            MSG_EOF = auto()
            MSG_FLUSH = auto()
            MSG_HAVEMORE = auto()
            MSG_HOLD = auto()
            MSG_NEEDSA = auto()
            MSG_RCVMORE = auto()
            MSG_SEND = auto()
        elif sys.platform == "linux":
            MSG_CMSG_CLOEXEC = auto()
            MSG_CONFIRM = auto()
            MSG_ERRQUEUE = auto()
            MSG_FASTOPEN = auto()
            MSG_MORE = auto()
        # END generated MsgFlag


class AddressInfo(IntFlag, metaclass=_SocketEnumType):
    """The ``getaddrinfo`` flags of a platform (``AI_*``)."""

    if TYPE_CHECKING:
        # BEGIN generated AddressInfo (tests/test_static_names.py --write)
        AI_ADDRCONFIG = auto()
        AI_ALL = auto()
        AI_CANONNAME = auto()
        AI_NUMERICHOST = auto()
        AI_NUMERICSERV = auto()
        AI_PASSIVE = auto()
        AI_V4MAPPED = auto()
        if sys.platform == "darwin":
            AI_DEFAULT = auto()
            AI_MASK = auto()
            AI_V4MAPPED_CFG = auto()
        # END generated AddressInfo


_BASES.update((AddressFamily, SocketKind, MsgFlag, AddressInfo))


def _member(name: str, value: int) -> object:
    """Unpickle a member: the module's enum *name* (the default binding's, as
    the stdlib's unpickle as ``socket.AddressFamily``) called with *value*."""
    # The package: imported before this module (pickle imports sansock._enums
    # through it), and not imported here (no cycle among core modules).
    enum_class: Any = getattr(sys.modules["sansock"], name)
    return enum_class(value)


def _reduce_member(self: enum.Enum, protocol: int) -> tuple[object, tuple[str, int]]:
    # Enum's own reduction names the member's class, which pickle looks up as
    # sansock.<name>: another binding's class is not that object
    # (PicklingError).  By base name and value, every binding's member
    # pickles (tests/test_rev7_review.py).
    return _member, (_base_of(type(self)).__name__, int(self.value))


for _base in _BASES:
    setattr(_base, "__reduce_ex__", _reduce_member)  # noqa: B010 (an enum class's attribute)
del _base


#: The prefix of each enum's members, as ``Lib/socket.py`` selects them.
ENUM_PREFIXES: dict[str, str] = {
    "AddressFamily": "AF_",
    "SocketKind": "SOCK_",
    "MsgFlag": "MSG_",
    "AddressInfo": "AI_",
}


def _members(abi: ABI, prefix: str) -> list[tuple[str, int]]:
    # Only the names the running CPython's socket module has (RULES), and, as
    # socket.py's "lambda C: C.isupper() and C.startswith('AF_')", upper-case
    # ones: AF_DECnet stays a plain int outside AddressFamily.
    members = [
        (name, value)
        for name, value in abi.constants.items()
        if name.startswith(prefix) and name.isupper() and RULES.exports(name)
    ]
    members.sort(key=lambda item: (item[1], item[0]))
    return members


def _derive(base: type[Any], abi: ABI, **extra: object) -> Any:
    # The functional API called on a memberless base makes a subclass of it
    # (EnumType._create_); the computed members are beyond mypy's enum plugin.
    name = base.__name__
    return base(name, _members(abi, ENUM_PREFIXES[name]), module="sansock", **extra)


def _keep() -> dict[str, object]:
    # boundary=KEEP (socket.py's _convert_ default): unknown bits are kept.
    # Python 3.10 has no boundary and keeps unknown bits by itself.
    keep = getattr(enum, "KEEP", None)
    return {} if keep is None else {"boundary": keep}


# The field names of SocketEnums shadow the classes inside its body.
_AddressFamily = AddressFamily
_SocketKind = SocketKind
_MsgFlag = MsgFlag
_AddressInfo = AddressInfo


@attrs.frozen(eq=False)
class SocketEnums:
    """The four enums of the socket module, built from one ABI."""

    AddressFamily: type[_AddressFamily]
    SocketKind: type[_SocketKind]
    MsgFlag: type[_MsgFlag]
    AddressInfo: type[_AddressInfo]

    @classmethod
    def for_abi(cls, abi: ABI) -> SocketEnums:
        return cls(
            AddressFamily=_derive(_AddressFamily, abi),
            SocketKind=_derive(_SocketKind, abi),
            MsgFlag=_derive(_MsgFlag, abi, **_keep()),
            AddressInfo=_derive(_AddressInfo, abi, **_keep()),
        )


def intenum_converter(value: int, enum_klass: type[_E]) -> _E | int:
    """Convert a numeric family value to an IntEnum member.

    If it's not a known member, return the numeric value itself
    (``Lib/socket.py`` ``_intenum_converter``).
    """
    try:
        return enum_klass(value)
    except ValueError:
        return value

