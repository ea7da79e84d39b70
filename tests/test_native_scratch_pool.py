"""The native driver's scratch buffers come from a pool: a call that runs
between another call's syscall and its copy out (a signal handler: Python
runs it right after a C call returns) takes its own scratch.

A profile hook at the C call's return stands in for the handler (both run
there).  Each case makes the same kind of call inside the hook on another
socket and checks that both calls return their own results; before the pool
(one ``threading.local`` scratch per thread) the outer call returned the
inner one's address, lengths or flags.  ``recvfrom``'s case is in
``tests/test_rev7_review.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("sansock_native")

from sansock import Binding, using  # noqa: E402
from sansock_native import NativeDriver  # noqa: E402


@pytest.fixture
def native() -> Iterator[Binding]:
    yield using(NativeDriver())


def _nested(c_name: str, inner_call: Callable[[], Any], outer_call: Callable[[], Any]) -> tuple[Any, Any]:
    inner: list[Any] = []

    def hook(frame: object, event: str, arg: Any) -> None:
        if event == "c_return" and getattr(arg, "__name__", "") == c_name and not inner:
            inner.append(inner_call())

    sys.setprofile(hook)
    try:
        outer = outer_call()
    finally:
        sys.setprofile(None)
    assert len(inner) == 1
    return inner[0], outer


def test_accept_addresses(native: Binding) -> None:
    l1, l2 = native.socket(), native.socket()
    with l1, l2:
        for listener in (l1, l2):
            listener.bind(("127.0.0.1", 0))
            listener.listen()
        c1 = native.create_connection(l1.getsockname())
        c2 = native.create_connection(l2.getsockname())
        with c1, c2:
            (s2, a2), (s1, a1) = _nested("sansock_accept", l2.accept, l1.accept)
            with s1, s2:
                assert a1 == c1.getsockname() and a2 == c2.getsockname()


def test_getsockname(native: Binding) -> None:
    a = native.socket(native.AF_INET, native.SOCK_DGRAM)
    b = native.socket(native.AF_INET6, native.SOCK_DGRAM)
    with a, b:
        a.bind(("127.0.0.1", 0))
        b.bind(("::1", 0))
        inner, outer = _nested("sansock_getsockname", b.getsockname, a.getsockname)
        assert outer == ("127.0.0.1", a.getsockname()[1])
        assert inner == b.getsockname()


@pytest.mark.parametrize(
    "c_name, flags",
    [
        # The socket method's direct call (DirectCalls.recvmsg, a pooled message block).
        ("sansock_direct_recvmsg", 0),
        # The driver method (its pooled scratch): flags beyond one 30-bit digit
        # (MSG_CMSG_CLOEXEC) are not taken by the direct call.
        ("sansock_recvmsg1", 0x40000000),
    ],
)
def test_recvmsg_lengths_and_flags(native: Binding, c_name: str, flags: int) -> None:
    a, b = native.socketpair(native.AF_UNIX, native.SOCK_DGRAM)
    c, d = native.socketpair(native.AF_UNIX, native.SOCK_DGRAM)
    with a, b, c, d:
        a.send(b"outer datagram")
        c.send(b"inner, longer than the buffer")
        inner, outer = _nested(c_name, lambda: d.recvmsg(5, 0, flags), lambda: b.recvmsg(100, 0, flags))
        # Linux echoes MSG_CMSG_CLOEXEC in msg_flags.
        assert outer == (b"outer datagram", [], flags, None)
        assert inner == (b"inner", [], native.MSG_TRUNC | flags, None)
