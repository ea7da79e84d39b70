"""``recvmsg``'s fast path (the driver's direct call) walks a control buffer
holding one whole item in its own frame (the first step of
``CmsgCodec.walk``, without the call); every other buffer goes to the walk.
These tests hand the socket arbitrary control bytes (a driver stand-in and
a direct-call stand-in return them) and check that ``recvmsg`` (direct and
general path) and ``recvmsg_into`` return exactly the walk's items, warn
exactly when the walk says CPython warns, and close exactly the walk's
``SCM_RIGHTS`` fds when an error follows the syscall (``err_closefds``; here
the warning made an error).
"""

from __future__ import annotations

import errno
import struct
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansock
from sansock import _cmsg
from sansock._profiles import DARWIN_ARM64, LINUX_I386, LINUX_X86_64
from sansock.driver import DirectCalls
from sansock_fake import FakeKernel

ABIS = [LINUX_X86_64, LINUX_I386, DARWIN_ARM64]


class _Canned:
    """Stands in for the socket's driver: the receive calls return *control*."""

    def __init__(self, control: bytes, interrupted: bool = False) -> None:
        self.control = control
        self.closed: list[int] = []
        self.interrupted = interrupted  # the first call fails with EINTR

    def _interrupt(self) -> None:
        if self.interrupted:
            self.interrupted = False
            raise InterruptedError(errno.EINTR, "Interrupted system call")

    def recvmsg(self, fd: int, bufsize: int, ancbufsize: int, flags: int) -> tuple[bytes, bytes, int, bytes]:
        self._interrupt()
        return b"m", self.control, 0, b""

    def recvmsg_into(self, fd: int, buffers: Any, ancbufsize: int, flags: int) -> tuple[int, bytes, int, bytes]:
        self._interrupt()
        return 1, self.control, 0, b""

    def close(self, fd: int) -> None:
        self.closed.append(fd)


def _direct(control: bytes) -> DirectCalls:
    """Direct calls whose recvmsg "receives" b"m" and *control* (no address):
    the message block's view is those bytes, the out-values a list."""
    out = [0, 0, 0]
    block = (None, b"m" + control, out)

    def recvmsg(fd: int, buffer: object, bufsize: int, ancbufsize: int, flags: int) -> int:
        out[1] = len(control)  # as the C function writes it on success
        return 1

    def unused(*args: Any) -> Any:
        raise AssertionError("not called by recvmsg")

    return DirectCalls(
        driver_type=_Canned, send=unused, recv=unused, recv_size=0, recv_buffers=[], new_recv_buffer=unused,
        recv_into=unused, export=unused, getsockopt=unused, recvmsg=recvmsg, msg_size=64, msg_control_size=1024, msg_control_at=1,
        msg_name_at=0, msg_buffers=[block], new_msg_buffer=lambda: block,
    )


def _controls(abi: Any) -> st.SearchStrategy[bytes]:
    """Buffers as the packer lays them out (one or more items, SCM_RIGHTS or
    not), then cut, padded or with a header's cmsg_len rewritten; and raw bytes."""
    codec = _cmsg.codec(abi)
    item = st.tuples(
        st.sampled_from([codec.sol_socket, 0, 41]),
        st.sampled_from([codec.scm_rights, 2, 3]),
        st.binary(max_size=20),
    )

    @st.composite
    def laid_out(draw: st.DrawFn) -> bytes:
        control = codec.lay_out(draw(st.lists(item, min_size=1, max_size=3)))
        how = draw(st.sampled_from(["whole", "cut", "padded", "length"]))
        if how == "cut":
            control = control[: draw(st.integers(0, len(control)))]
        elif how == "padded":
            control += bytes(draw(st.integers(1, 24)))
        elif how == "length":
            length = draw(st.integers(0, len(control) + 16))
            control = codec.len_format.pack(length) + control[codec.len_format.size :]
        return control

    return st.one_of(laid_out(), st.binary(max_size=64))


def _socket(abi: Any) -> tuple[sansock.socket, sansock.socket, Any]:
    net = sansock.using(FakeKernel(abi=abi))
    a, b = net.socketpair()
    return a, b, b._drv


@pytest.mark.parametrize("abi", ABIS, ids=lambda a: a.name)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_recvmsg_returns_the_walks_items_and_warns_as_it_says(abi: Any, data: st.DataObject) -> None:
    control = data.draw(_controls(abi))
    found = _cmsg.walk(control, abi)
    a, b, real = _socket(abi)
    canned = _Canned(control)
    try:
        b._drv = canned  # type: ignore[assignment]
        for into, direct in ((False, None), (False, _direct(control)), (True, None)):
            b._direct = direct
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if into:
                    got: tuple[Any, ...] = b.recvmsg_into([bytearray(4)], 256)
                else:
                    got = b.recvmsg(1, 256)
            assert got == ((1 if into else b"m"), found.items, 0, None)
            assert [str(w.message) for w in caught] == [_cmsg.TRUNCATION_WARNING] * found.stdlib_warns
            assert canned.closed == []
            if found.stdlib_warns:
                # The warning made an error after the "syscall": err_closefds
                # closes every fd of the buffer's SCM_RIGHTS items.
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    with pytest.raises(RuntimeWarning):
                        b.recvmsg_into([bytearray(4)], 256) if into else b.recvmsg(1, 256)
                assert canned.closed == _cmsg.scm_rights_fds(control, abi)
                canned.closed.clear()
    finally:
        b._drv = real
        b._direct = None
        a.close()
        b.close()


@pytest.mark.parametrize("abi", ABIS, ids=lambda a: a.name)
def test_one_whole_fd_item_takes_the_inline_step(abi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The common case (one SCM_RIGHTS item as the kernel returns it, padded
    to CMSG_SPACE or not) never calls the walk; a buffer holding two items does."""
    codec = _cmsg.codec(abi)
    calls: list[bytes] = []
    original = _cmsg.CmsgCodec.walk

    def counting(self: _cmsg.CmsgCodec, control: bytes) -> Any:
        calls.append(control)
        return original(self, control)

    monkeypatch.setattr(_cmsg.CmsgCodec, "walk", counting)
    one = codec.lay_out([(codec.sol_socket, codec.scm_rights, struct.pack("=i", 7))])
    two = codec.lay_out([(codec.sol_socket, codec.scm_rights, struct.pack("=i", 7))] * 2)
    a, b, real = _socket(abi)
    try:
        for control in (one, one[: codec.len0 + 4], two):
            expected = _cmsg.walk(control, abi).items
            b._drv = _Canned(control)  # type: ignore[assignment]
            b._direct = _direct(control)
            calls.clear()
            assert b.recvmsg(1, 256)[1] == expected
            assert calls == ([control] if control is two else [])
    finally:
        b._drv = real
        b._direct = None
        a.close()
        b.close()


@pytest.mark.parametrize("path", ["direct", "driver", "retried", "recvmsg_into", "recvmsg_into retried"])
def test_the_truncation_warning_names_the_callers_line(path: str) -> None:
    """CPython's RuntimeWarning for a cut item points at the line that called
    recvmsg, whichever frame found the cut: the direct call's, the driver
    method's (_general.recvmsg), or the general path's after a retried EINTR
    (_general.recvmsg_rest, one frame deeper)."""
    codec = _cmsg.codec(LINUX_X86_64)
    control = codec.lay_out([(codec.sol_socket, codec.scm_rights, struct.pack("=i", 7))])[:-6]  # cut
    assert _cmsg.walk(control, LINUX_X86_64).stdlib_warns
    a, b, real = _socket(LINUX_X86_64)
    try:
        b._drv = _Canned(control, interrupted="retried" in path)  # type: ignore[assignment]
        b._direct = _direct(control) if path == "direct" else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if path.startswith("recvmsg_into"):
                b.recvmsg_into([bytearray(4)], 256)
            else:
                b.recvmsg(1, 256)
        assert [(str(w.message), w.filename) for w in caught] == [(_cmsg.TRUNCATION_WARNING, __file__)]
    finally:
        b._drv = real
        b._direct = None
        a.close()
        b.close()
