"""``AddressFamily``, ``SocketKind``, ``MsgFlag`` and ``AddressInfo`` for an ABI.

``Lib/socket.py`` builds them with ``IntEnum._convert_`` / ``IntFlag._convert_``
from the module's ``AF_*``, ``SOCK_*``, ``MSG_*`` and ``AI_*`` globals, members
sorted by (value, name) so that the first name of a value is its canonical
member and later ones are aliases (``AF_ROUTE`` is ``AF_NETLINK``).  Here the
globals are an ABI's constants, so each driver's platform gets its own enums.
"""

from __future__ import annotations

import enum
from enum import IntEnum, IntFlag
from typing import Any

import attrs

from ._abi import ABI
from ._pyrules import RULES

__all__ = ["SocketEnums", "intenum_converter"]


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


def _int_enum(name: str, abi: ABI, prefix: str) -> type[IntEnum]:
    # The functional API with a computed name is beyond mypy's enum plugin.
    factory: Any = IntEnum
    result: type[IntEnum] = factory(name, _members(abi, prefix), module="sansock")
    return result


def _int_flag(name: str, abi: ABI, prefix: str) -> type[IntFlag]:
    factory: Any = IntFlag
    # boundary=KEEP (socket.py's _convert_ default): unknown bits are kept.
    # Python 3.10 has no boundary and keeps unknown bits by itself.
    keep = getattr(enum, "KEEP", None)
    extra = {} if keep is None else {"boundary": keep}
    result: type[IntFlag] = factory(name, _members(abi, prefix), module="sansock", **extra)
    return result


@attrs.frozen(eq=False)
class SocketEnums:
    """The four enums of the socket module, built from one ABI."""

    AddressFamily: type[IntEnum]
    SocketKind: type[IntEnum]
    MsgFlag: type[IntFlag]
    AddressInfo: type[IntFlag]

    @classmethod
    def for_abi(cls, abi: ABI) -> SocketEnums:
        return cls(
            AddressFamily=_int_enum("AddressFamily", abi, "AF_"),
            SocketKind=_int_enum("SocketKind", abi, "SOCK_"),
            MsgFlag=_int_flag("MsgFlag", abi, "MSG_"),
            AddressInfo=_int_flag("AddressInfo", abi, "AI_"),
        )


def intenum_converter(value: int, enum_klass: type[IntEnum]) -> IntEnum | int:
    """Convert a numeric family value to an IntEnum member.

    If it's not a known member, return the numeric value itself
    (``Lib/socket.py`` ``_intenum_converter``).
    """
    try:
        return enum_klass(value)
    except ValueError:
        return value
