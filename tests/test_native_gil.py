"""Which native calls keep the GIL: CPython's getsockopt and setsockopt do.

``socketmodule.c``'s ``sock_getsockopt``/``sock_setsockopt`` call the syscall
with the GIL held; every call that may block releases it (``sock_call_ex``).
CFFI's wrappers release it around every call, so ``_gil.h`` redefines the
macros they use for the getsockopt/setsockopt helpers.  These checks run on
the installed CFFI: one that stopped using ``Py_BEGIN_ALLOW_THREADS`` in its
wrappers would make the first fail.
"""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("sansock_native")

from sansock_native._lib import lib  # noqa: E402

import sansock  # noqa: E402


def test_a_wrapper_named_in_gil_h_keeps_the_gil() -> None:
    assert lib.sansock_probe_gil_kept() == 1


def test_every_other_wrapper_releases_it() -> None:
    assert lib.sansock_probe_gil_released() == 0


def test_a_blocking_recv_still_lets_other_threads_run() -> None:
    a, b = sansock.socketpair()
    with a, b:
        got: list[bytes] = []
        t = threading.Thread(target=lambda: got.append(a.recv(1)))
        t.start()
        # This thread runs (and sends) while the other one waits in recv(2).
        assert a.getsockopt(sansock.SOL_SOCKET, sansock.SO_TYPE) == sansock.SOCK_STREAM
        b.setsockopt(sansock.SOL_SOCKET, sansock.SO_SNDBUF, 65536)
        b.send(b"x")
        t.join(10)
        assert got == [b"x"]
