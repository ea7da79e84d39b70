"""The constants only some CPython versions' ``socket`` module has are declared
for those versions only (mypy-checked, never run; ``make test-versions`` runs
mypy with ``--python-version`` 3.10, 3.11, 3.12 and 3.13 over this file).

sansock serves them on the versions whose stdlib has them
(``sansock._pyrules.CONSTANT_VERSIONS``); ``_constant_types.py`` declares
them under typeshed's ``if sys.version_info >= (3, 12):`` blocks, so code
written for 3.12 checks on 3.12, and on 3.11 the same name is an error, as
it is with the stdlib's stubs.  A ``# type: ignore[attr-defined]`` on the
wrong version's side proves the error (``warn_unused_ignores``; mypy does
not check the branch a ``--python-version`` cannot reach).
"""

import sys
from typing import Literal

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

import sansock
from sansock import Binding


def check_added_in_3_11(net: Binding) -> None:
    if sys.version_info >= (3, 11):
        assert_type(sansock.SO_INCOMING_CPU, int)
        assert_type(net.IP_BIND_ADDRESS_NO_PORT, int)
    else:
        sansock.SO_INCOMING_CPU  # type: ignore[attr-defined]
        net.IP_BIND_ADDRESS_NO_PORT  # type: ignore[attr-defined]


def check_added_in_3_12(net: Binding) -> None:
    if sys.version_info >= (3, 12):
        assert_type(sansock.IP_PKTINFO, int)
        assert_type(sansock.IP_ADD_SOURCE_MEMBERSHIP, int)
        assert_type(sansock.ETH_P_ALL, int)
        assert_type(net.IP_PKTINFO, int)
        assert_type(net.TCP_INQ, int)
    else:
        sansock.IP_PKTINFO  # type: ignore[attr-defined]
        sansock.ETH_P_ALL  # type: ignore[attr-defined]
        net.IP_PKTINFO  # type: ignore[attr-defined]
        net.TCP_INQ  # type: ignore[attr-defined]


def check_added_in_3_13(net: Binding) -> None:
    if sys.version_info >= (3, 13):
        assert_type(sansock.SO_BINDTOIFINDEX, int)
        assert_type(net.NI_IDN, int)
    else:
        sansock.SO_BINDTOIFINDEX  # type: ignore[attr-defined]
        net.NI_IDN  # type: ignore[attr-defined]


def check_gone_in_3_11(net: Binding) -> None:
    if sys.version_info < (3, 11):
        assert_type(sansock.CAN_RAW_ERR_FILTER, int)
        assert_type(net.CAN_RAW_ERR_FILTER, int)
    else:
        sansock.CAN_RAW_ERR_FILTER  # type: ignore[attr-defined]
        net.CAN_RAW_ERR_FILTER  # type: ignore[attr-defined]


def check_not_yet_sansocks() -> None:
    # 3.14 added IP_RECVERR (gh-120056); sansock has 3.13's rules for it, so no
    # version declares it, although the ABI profiles carry its value.
    sansock.IP_RECVERR  # type: ignore[attr-defined]


def check_every_version() -> None:
    # The names every version has keep their types on each.
    assert_type(sansock.AF_INET, Literal[sansock.AddressFamily.AF_INET])
    assert_type(sansock.AF_DECnet, int)  # socket.py's _convert_ takes upper-case names only
    assert_type(sansock.SO_REUSEADDR, int)
    sansock.AF_INETT  # type: ignore[attr-defined]
