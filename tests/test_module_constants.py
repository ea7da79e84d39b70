"""The module's constants: served lazily, then all at once without ``__getattr__``.

CPython 3.11+ specialises ``module.NAME`` (``LOAD_ATTR_MODULE``) only in a
module that has no ``__getattr__`` (specialize.c: ``SPEC_FAIL_OVERRIDDEN``);
the stdlib's ``socket`` has none.  ``sansock`` serves its constants from the
default driver's ABI, so the first one served stores them all in the module's
dict and drops ``__getattr__``; swapping the driver drops them and puts it
back.
"""

from __future__ import annotations

import dis
import io
import sys

import pytest

import sansock
from sansock.driver import DARWIN_ARM64
from sansock_fake import FakeKernel


def _served() -> None:
    assert sansock.SOL_SOCKET == 1  # serves them all
    # ... unless an earlier test left SOL_SOCKET in the module as a value of
    # its own (monkeypatch's undo): then the next name served serves them.
    missing = [name for name in dir(sansock) if name.isupper() and name not in vars(sansock)]
    if missing:
        getattr(sansock, missing[0])
    assert "__getattr__" not in vars(sansock)


def test_the_first_constant_serves_every_one_and_drops_getattr() -> None:
    _served()
    names = set(vars(sansock))
    assert {"AF_INET", "SO_RCVBUF", "MSG_PEEK", "AddressFamily", "SocketKind"} <= names
    assert names <= set(dir(sansock))
    with pytest.raises(AttributeError, match="module 'sansock' has no attribute 'AF_INETT'"):
        getattr(sansock, "AF_INETT")  # noqa: B009


def test_a_swap_serves_the_new_abi_lazily_then_all_at_once() -> None:
    _served()
    with sansock.swap_default_driver(FakeKernel(abi=DARWIN_ARM64)):
        assert "__getattr__" in vars(sansock)
        assert "AF_INET6" not in vars(sansock)
        assert int(sansock.AF_INET6) == 30  # <sys/socket.h> on Darwin
        assert "__getattr__" not in vars(sansock)
        assert sansock.SO_RCVBUF == 0x1002
    assert "__getattr__" in vars(sansock)
    assert int(sansock.AF_INET6) == 10
    assert "__getattr__" not in vars(sansock)


def test_a_monkeypatched_constant_stays_through_a_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    _served()
    monkeypatch.setattr(sansock, "SO_RCVBUF", 12345)
    with sansock.swap_default_driver(FakeKernel()):
        assert sansock.SO_RCVBUF == 12345
    assert sansock.SO_RCVBUF == 12345


@pytest.mark.skipif(sys.version_info < (3, 11), reason="no specialising interpreter before 3.11")
def test_a_loop_over_module_constants_is_specialised() -> None:
    _served()

    def loop() -> int:
        total = 0
        for _ in range(100):
            total += sansock.SOL_SOCKET + sansock.SO_RCVBUF
        return total

    for _ in range(3):
        loop()
    out = io.StringIO()
    getattr(dis, "dis")(loop, adaptive=True, file=out)  # 3.11+: adaptive=
    assert "LOAD_ATTR_MODULE" in out.getvalue()
