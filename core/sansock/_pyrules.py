"""The Python value: the rules of the running CPython's ``socket`` module.

sansock behaves like the ``socket`` module of the interpreter it runs on, and
that module changed between CPython versions: argument parsing moved to
Argument Clinic (new messages), ``_PyTime`` changed its overflow messages and
its name, ``setblocking`` started to take any object's truth value, new
constants appeared (and one disappeared).  As the :class:`~sansock.ABI`
describes a *platform*, a :class:`PythonRules` value describes a *Python
version*: every version difference sansock reproduces is a field here, and the
code that parses, formats or exports consults :data:`RULES`, never
``sys.version_info``.

:data:`RULES` is chosen once, at import, from ``sys.version_info`` (reading it
is no I/O): the rules of the newest version sansock knows that is not newer
than the running one.  A CPython newer than the last known version gets that
version's rules, and :func:`describe_rules` says so.

Every fact below was observed on the CPython 3.10.13, 3.11.7, 3.12.1 and
3.13.0 builds of one Linux x86-64 host (the tests compare with the running
interpreter's ``socket`` module) and is traced to the ``Modules/socketmodule.c``
/ ``Python/pytime.c`` / ``Lib/socket.py`` change that explains it.

>>> rules_for((3, 12)).setblocking_truth, rules_for((3, 11)).setblocking_truth
(True, False)
>>> rules_for((3, 10)).exports("IP_BIND_ADDRESS_NO_PORT")
False
>>> rules_for((3, 99)).version
(3, 13)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

__all__ = [
    "CONSTANT_VERSIONS",
    "KNOWN",
    "PythonRules",
    "RULES",
    "describe_rules",
    "exception_group",
    "rules_for",
]

_Version = tuple[int, int]

#: Socket-module constants whose availability depends on the CPython version
#: (on Linux): name -> (first version that exports it, first version that no
#: longer does, or None).  A name not listed here is exported by every version
#: that has a value for it.  Sources: each version's ``dir(socket)`` on the
#: same host (so the C headers are the same), "What's New" and
#: ``Lib/test/test_socket.py`` of each version.
CONSTANT_VERSIONS: Final[Mapping[str, tuple[_Version, _Version | None]]] = MappingProxyType({
    # 3.10 exported it unguarded; 3.11 put it under "#ifdef CAN_RAW_ERR_FILTER",
    # and it is an enum member in <linux/can/raw.h>, not a macro, so it vanished.
    "CAN_RAW_ERR_FILTER": ((3, 10), (3, 11)),
    # 3.11: SO_INCOMING_CPU (bpo-46696), IP_BIND_ADDRESS_NO_PORT.
    "IP_BIND_ADDRESS_NO_PORT": ((3, 11), None),
    "SO_INCOMING_CPU": ((3, 11), None),
    # 3.12: IP_PKTINFO (gh-100813), the source-specific multicast options
    # (gh-89415), ETH_P_ALL and ETHERTYPE_*, and the Linux TCP_* options
    # (Doc/library/socket.rst "Changed in version 3.12").
    "IP_PKTINFO": ((3, 12), None),
    "IP_ADD_SOURCE_MEMBERSHIP": ((3, 12), None),
    "IP_DROP_SOURCE_MEMBERSHIP": ((3, 12), None),
    "IP_BLOCK_SOURCE": ((3, 12), None),
    "IP_UNBLOCK_SOURCE": ((3, 12), None),
    "ETH_P_ALL": ((3, 12), None),
    "ETHERTYPE_ARP": ((3, 12), None),
    "ETHERTYPE_IP": ((3, 12), None),
    "ETHERTYPE_IPV6": ((3, 12), None),
    "ETHERTYPE_VLAN": ((3, 12), None),
    **{
        name: ((3, 12), None)
        for name in (
            "TCP_CC_INFO", "TCP_FASTOPEN_CONNECT", "TCP_FASTOPEN_KEY", "TCP_FASTOPEN_NO_COOKIE",
            "TCP_INQ", "TCP_MD5SIG", "TCP_MD5SIG_EXT", "TCP_QUEUE_SEQ", "TCP_REPAIR",
            "TCP_REPAIR_OPTIONS", "TCP_REPAIR_QUEUE", "TCP_REPAIR_WINDOW", "TCP_SAVED_SYN",
            "TCP_SAVE_SYN", "TCP_THIN_DUPACK", "TCP_THIN_LINEAR_TIMEOUTS", "TCP_TIMESTAMP",
            "TCP_TX_DELAY", "TCP_ULP", "TCP_ZEROCOPY_RECEIVE",
        )
    },
    # 3.13: SO_BINDTOIFINDEX (gh-104061), NI_IDN.
    "SO_BINDTOIFINDEX": ((3, 13), None),
    "NI_IDN": ((3, 13), None),
    # 3.14 (gh-120056): IP_RECVERR, IP_RECVTTL (sansock's profiles carry them
    # for its ancillary-data extensions; no interpreter before 3.14 exports them).
    "IP_RECVERR": ((3, 14), None),
    "IP_RECVTTL": ((3, 14), None),
})

#: Constants of the ABI profiles that no ``socket`` module exports: platform
#: facts the core and the drivers read (``poll``/``fcntl``/``ioctl`` numbers).
_PLATFORM_ONLY_PREFIXES: Final = ("POLL", "F_", "O_", "FD_", "FION", "SIOCGIF")


def _hidden(version: _Version) -> frozenset[str]:
    return frozenset(
        name
        for name, (first, gone) in CONSTANT_VERSIONS.items()
        if version < first or (gone is not None and version >= gone)
    )


@attrs.frozen
class PythonRules:
    """The rules of one CPython version's ``socket`` module (see the module docstring)."""

    #: (major, minor) of the CPython version these rules are.
    version: _Version
    #: ``socket(family, type, proto)``: Argument Clinic ``int`` (3.11+, every
    #: overflow is "Python int too large to convert to C int") or 3.10's
    #: ``PyArg_ParseTupleAndKeywords("|iiiO")`` ("signed integer is greater
    #: than maximum" / "less than minimum", "... C long" beyond a long).
    socket_args_clinic: bool
    #: The one-argument module functions (``htons``, ``ntohs``, ``inet_aton``,
    #: ...) parsed by Argument Clinic (3.13+): ``htons``/``ntohs`` take a C
    #: ``int`` with the Clinic message, and a wrong type reads "argument must
    #: be str" (no "1").  Before, ``PyArg_ParseTuple("i:htons")`` /
    #: ``("s:inet_aton")``.
    module_functions_clinic: bool
    #: ``settimeout(x)`` with a float whose nanoseconds overflow ``_PyTime_t``:
    #: ``pytime_from_double``'s message.  3.10's ``_PyTime_FromDouble`` called
    #: ``_PyTime_overflow()``; 3.11 gave it its own ``time_t`` message.
    timeout_float_overflow: str
    #: The same for an int (``pytime_overflow``): 3.13 made the type public
    #: as ``PyTime_t`` (the PyTime C API), and the message followed.
    timeout_int_overflow: str
    #: ``setblocking(flag)``: from 3.12 ``sock_setblocking`` takes
    #: ``PyObject_IsTrue(flag)`` (any object; what ``__bool__`` raises
    #: propagates); before, ``PyLong_AsLong(flag)``.
    setblocking_truth: bool
    #: ``if_indextoname(index)``: 3.13 checks that the ``unsigned long`` fits
    #: ``unsigned int`` (``OverflowError: index is too large``); before, the
    #: value was cast (wrapping), and ``ULONG_MAX`` itself was mistaken for
    #: ``PyLong_AsUnsignedLong``'s error return (``SystemError``).
    if_index_range_checked: bool
    #: ``getaddrinfo(host, port)`` with an ``int`` port: 3.12 (gh-74895)
    #: passes its decimal digits whatever its size and lets the C library
    #: judge; before, ``PyLong_AsLong`` ("Python int too large to convert to C
    #: long" beyond a C long).
    getaddrinfo_port_any_int: bool
    #: ``create_connection(..., *, all_errors=False)`` exists (3.11+, with
    #: ``ExceptionGroup``); 3.10's ``Lib/socket.py`` has no such keyword.
    create_connection_all_errors: bool
    #: ``socket._fallback_socketpair`` exists: the pure-Python loopback
    #: ``socketpair`` that 3.13's ``Lib/socket.py`` defines on every platform
    #: (the 3.12.1 checked here has none; the rules are per minor version,
    #: and a later bugfix release of an older version may differ).
    fallback_socketpair: bool
    #: ``_sendfile_use_sendfile`` with a count: 3.13's ``Lib/socket.py`` sends
    #: ``min(count - total_sent, blocksize)`` per call (1 GiB at most), so a
    #: count of 2**63 works; before, ``count - total_sent``, which
    #: ``os.sendfile`` refuses past ``Py_ssize_t`` (OverflowError).
    sendfile_count_capped: bool
    #: Names of socket-module constants this version does not export
    #: (computed from :data:`CONSTANT_VERSIONS`).
    hidden_constants: frozenset[str]

    @property
    def name(self) -> str:
        """``"CPython 3.12"``."""
        return f"CPython {self.version[0]}.{self.version[1]}"

    def exports(self, name: str) -> bool:
        """Whether this version's ``socket`` module has the constant *name*
        (given that the platform has a value for it)."""
        return name not in self.hidden_constants and not name.startswith(_PLATFORM_ONLY_PREFIXES)


def _rules(version: _Version) -> PythonRules:
    return PythonRules(
        version=version,
        socket_args_clinic=version >= (3, 11),
        module_functions_clinic=version >= (3, 13),
        timeout_float_overflow=(
            "timestamp too large to convert to C _PyTime_t"
            if version < (3, 11)
            else "timestamp out of range for platform time_t"
        ),
        timeout_int_overflow=(
            "timestamp too large to convert to C _PyTime_t"
            if version < (3, 13)
            else "timestamp too large to convert to C PyTime_t"
        ),
        setblocking_truth=version >= (3, 12),
        if_index_range_checked=version >= (3, 13),
        getaddrinfo_port_any_int=version >= (3, 12),
        create_connection_all_errors=version >= (3, 11),
        fallback_socketpair=version >= (3, 13),
        sendfile_count_capped=version >= (3, 13),
        hidden_constants=_hidden(version),
    )


#: The rules of every version sansock knows, oldest first.
KNOWN: Final[Mapping[_Version, PythonRules]] = MappingProxyType(
    {v: _rules(v) for v in ((3, 10), (3, 11), (3, 12), (3, 13))}
)


def rules_for(version: tuple[int, ...]) -> PythonRules:
    """The rules for CPython *version* (``(3, 12)``, ``sys.version_info[:2]``):
    the newest known version not newer than it (3.10's below 3.10)."""
    wanted = (version[0], version[1])
    best = min(KNOWN)
    for known in KNOWN:
        if known <= wanted:
            best = known
    return KNOWN[best]


#: The rules in force: those of the running interpreter.
RULES: Final[PythonRules] = rules_for(sys.version_info[:2])


def describe_rules(rules: PythonRules = RULES, running: tuple[int, ...] = tuple(sys.version_info[:3])) -> str:
    """One line for ``python -m sansock info``: whose rules are in force.

    >>> describe_rules(rules_for((3, 12)), (3, 12, 1))
    'CPython 3.12 rules (running CPython 3.12.1)'
    >>> describe_rules(rules_for((3, 15)), (3, 15, 0))
    'CPython 3.13 rules (running CPython 3.15.0, newer than the last version sansock knows)'
    """
    shown = ".".join(str(part) for part in running)
    line = f"{rules.name} rules (running CPython {shown}"
    if tuple(running[:2]) > max(KNOWN):
        line += ", newer than the last version sansock knows"
    return line + ")"


def exception_group(message: str, exceptions: list[OSError]) -> BaseException:
    """``ExceptionGroup(message, exceptions)`` (3.11+; the only caller,
    ``create_connection(all_errors=True)``, does not exist on 3.10)."""
    # The one place outside RULES that names the version: mypy checks each
    # branch only for the versions that have it (``mypy --python-version 3.10``).
    if sys.version_info >= (3, 11):
        return ExceptionGroup(message, exceptions)
    raise TypeError("ExceptionGroup needs Python 3.11")  # pragma: no cover
