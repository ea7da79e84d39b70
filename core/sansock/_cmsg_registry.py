"""The decoder registry of typed control messages: which decoder handles which item.

:class:`CmsgRegistry` maps ``(cmsg_level, cmsg_type)`` -- constant names,
resolved in the ABI of each receive, or integer values -- to a decoder
``(data, abi) -> value``.  The messages of ``sansock.ancillary`` register
themselves in :data:`sansock.ancillary.DEFAULT_REGISTRY`
(``_control_messages``); a program copies it to add its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, final

from ._abi import derived

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = ["CmsgRegistry", "Decoder"]

#: A decoder: ``(data, abi) -> value``; ``ValueError`` for a wrong size.
Decoder = Callable[[bytes, "ABI"], object]

#: A key names the level and type by constant name (resolved in each ABI,
#: absent names never match) or gives their values.
_Key = tuple["int | str", "int | str"]


def _resolved_tables(abi: ABI) -> weakref.WeakKeyDictionary[CmsgRegistry, tuple[int, dict[tuple[int, int], Decoder]]]:
    """Per ABI (:func:`sansock._abi.derived`): each registry's keys resolved in it,
    with the registry version they were resolved for.  Weak, so that a registry
    copied for one call does not live as long as a shipped profile."""
    return weakref.WeakKeyDictionary()


@final
class CmsgRegistry:
    """Which decoder handles which ``(cmsg_level, cmsg_type)``.

    Keys are constant names (``("SOL_SOCKET", "SCM_CREDENTIALS")``), resolved
    in the ABI of each receive (a name the ABI lacks never matches), or
    integer values.  :data:`DEFAULT_REGISTRY` knows every message of
    :mod:`sansock.ancillary`; :meth:`~CmsgRegistry.copy` it to add decoders for one call or one program only.

    >>> from sansock.driver import LINUX_X86_64 as abi
    >>> from sansock.ancillary import DEFAULT_REGISTRY
    >>> registry = DEFAULT_REGISTRY.copy()
    >>> registry.register(0, 99, lambda data, abi: ("mine", data))
    >>> registry.decode(0, 99, b"x", abi)
    ('mine', b'x')
    >>> registry.decode(0, 98, b"x", abi)
    (0, 98, b'x')
    """

    __slots__ = ("_decoders", "_version", "_read_only", "__weakref__")

    def __init__(self, decoders: Iterable[tuple[tuple[int | str, int | str], Decoder]] = ()) -> None:
        self._decoders: dict[_Key, Decoder] = dict(decoders)
        #: Bumped by every change: a table resolved for an older version is stale.
        self._version = 0
        self._read_only = False

    def _check_writable(self) -> None:
        # DEFAULT_REGISTRY is shared by every receive of the program, and what
        # it decodes is typed (ControlMessage): a decoder added to it would
        # change both behind the back of every other caller.
        if self._read_only:
            raise TypeError("DEFAULT_REGISTRY is read-only; register on DEFAULT_REGISTRY.copy()")

    def __repr__(self) -> str:
        keys = ", ".join(f"{level!r}/{kind!r}" for level, kind in self._decoders)
        return f"<CmsgRegistry {keys}>"

    def register(
        self, level: int | str, type: int | str, decoder: Decoder, *, replace: bool = False
    ) -> None:
        """Decode ``(level, type)`` items with *decoder* (``(data, abi) -> value``).

        ``ValueError`` if a decoder is already registered under the same key,
        unless *replace*.
        """
        self._check_writable()
        key = (level, type)
        if key in self._decoders and not replace:
            raise ValueError(f"a decoder is already registered for {key!r}; pass replace=True")
        self._decoders[key] = decoder
        self._version += 1

    def unregister(self, level: int | str, type: int | str) -> None:
        """Forget the decoder of ``(level, type)``; ``KeyError`` if there is none."""
        self._check_writable()
        del self._decoders[(level, type)]
        self._version += 1

    def copy(self) -> CmsgRegistry:
        """A registry with the same decoders, changed independently."""
        return CmsgRegistry(self._decoders.items())

    def decoder_for(self, level: int, type: int, abi: ABI) -> Decoder | None:
        """The decoder of ``(level, type)`` on *abi*, or None."""
        return self._table(abi).get((level, type))

    def _table(self, abi: ABI) -> dict[tuple[int, int], Decoder]:
        """The keys resolved in *abi*, kept in the ABI's cache (weakly by registry)."""
        tables = derived(abi, _resolved_tables)
        entry = tables.get(self)
        if entry is not None and entry[0] == self._version:
            return entry[1]
        table: dict[tuple[int, int], Decoder] = {}
        for (level, kind), decoder in self._decoders.items():
            level_value = abi.constants.get(level) if isinstance(level, str) else level
            kind_value = abi.constants.get(kind) if isinstance(kind, str) else kind
            if level_value is not None and kind_value is not None:
                # Integer keys win over names that resolve to the same pair.
                if isinstance(level, int) and isinstance(kind, int):
                    table[(level_value, kind_value)] = decoder
                else:
                    table.setdefault((level_value, kind_value), decoder)
        tables[self] = (self._version, table)
        return table

    def decode(self, level: int, type: int, data: bytes, abi: ABI) -> object:
        """The value of one item, or the raw ``(level, type, data)`` when no
        decoder knows it or the decoder raised ``ValueError``."""
        decoder = self._table(abi).get((level, type))
        if decoder is None:
            return (level, type, data)
        try:
            return decoder(data, abi)
        except ValueError:
            return (level, type, data)
