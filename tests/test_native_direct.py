"""The native driver's direct calls (``sansock.driver.DirectCalls``).

``send`` and ``sendall`` of bytes, ``recv`` without flags, ``recv_into`` of a
bytearray, ``getsockopt``'s int form, ``sendmsg`` of one bytes buffer with
packed control data and ``recvmsg`` into a pooled message block call the
driver's C functions from the socket method, with the error in band.
These check what that changes and what it must not: the errors are the
stdlib's (type, errno, message), an interrupted call is retried even when
the signal handler made a failing call of its own between the syscall and
the check (the errno CFFI saves per thread would then be the handler's), and
a driver without the capability (or with something else under its name)
takes the driver methods.
"""

from __future__ import annotations

import array
import errno
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sansock
from sansock.driver import DirectCalls
from sansock_native import NativeDriver

Module = Any


@pytest.fixture(params=["stdlib", "sansock"])
def mod(request: pytest.FixtureRequest) -> Iterator[Module]:
    yield socket if request.param == "stdlib" else sansock


def test_the_native_driver_offers_its_direct_calls_to_every_socket() -> None:
    assert isinstance(NativeDriver.direct_calls, DirectCalls)
    a, b = sansock.socketpair()
    with a, b:
        assert a._direct is NativeDriver.direct_calls


def _error(call: Callable[[], object]) -> tuple[type[BaseException], tuple[object, ...]]:
    with pytest.raises(OSError) as info:
        call()
    return type(info.value), info.value.args


def _assert_same_errors(errors: Callable[[Module], list[tuple[type[BaseException], tuple[object, ...]]]]) -> None:
    """*errors* run on sansock and on the stdlib give the same list (SIGPIPE
    ignored, as CPython's interpreter does, for the EPIPE cases)."""
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        assert errors(sansock) == errors(socket)
    finally:
        signal.signal(signal.SIGPIPE, old)


def test_errors_of_the_direct_calls_are_the_stdlib_ones() -> None:
    def errors(m: Module) -> list[tuple[type[BaseException], tuple[object, ...]]]:
        a, b = m.socketpair()
        with a, b:
            a.setblocking(False)
            out = [_error(lambda: a.recv(1))]  # EAGAIN
            out.append(_error(lambda: a.getsockopt(m.SOL_SOCKET, 12345)))  # ENOPROTOOPT
            out.append(_error(lambda: a.getsockopt(m.SOL_TCP, m.TCP_NODELAY)))  # EOPNOTSUPP on AF_UNIX
            b.close()
            out.append(_error(lambda: a.send(b"x")))  # EPIPE
        c = m.socket()
        c.detach()  # the fd is -1 from here: EBADF
        out.append(_error(lambda: c.send(b"x")))
        out.append(_error(lambda: c.recv(1)))
        out.append(_error(lambda: c.getsockopt(m.SOL_SOCKET, m.SO_TYPE)))
        out.append(_error(lambda: c.sendmsg([b"x"], [(m.SOL_SOCKET, m.SCM_RIGHTS, array.array("i", [0]))])))
        out.append(_error(lambda: c.recvmsg(1, m.CMSG_SPACE(4))))
        d, e = m.socketpair()
        with d, e:
            d.setblocking(False)
            out.append(_error(lambda: d.recvmsg(1)))  # EAGAIN
            out.append(_error(lambda: d.recvmsg(1, m.CMSG_SPACE(4))))
            e.close()
            out.append(_error(lambda: d.sendmsg([b"x"], [(m.SOL_SOCKET, m.SCM_RIGHTS, array.array("i", [0]))])))
        return out

    _assert_same_errors(errors)


def test_negative_option_values_are_values_not_errors(mod: Module) -> None:
    # SO_PEEK_OFF is -1 until set: below zero, above INT_MIN - errno.
    a, b = mod.socketpair()
    with a, b:
        assert a.getsockopt(mod.SOL_SOCKET, 42) == -1  # SO_PEEK_OFF (Linux)
        a.setsockopt(mod.SOL_SOCKET, 42, 0)
        assert a.getsockopt(mod.SOL_SOCKET, 42) == 0


def test_recv_into_parses_what_its_direct_call_refuses_as_the_stdlib() -> None:
    """recv_into's direct call checks nbytes against the export in C and
    refuses a value beyond a C int: the general path then raises CPython's
    error; an empty request makes no syscall (no EBADF on a closed socket)."""
    cases: list[tuple[object, ...]] = [
        (bytearray(0),), (bytearray(2), 0), (bytearray(2), 3), (bytearray(2), -1), (bytearray(2), 2**31),
        (bytearray(2), 2**63), (bytearray(2), 0, 2**31), (bytearray(2), 0, -(2**31) - 1),
        (bytearray(0), 0, 2**31), (bytearray(0), 1),
    ]

    def outcomes(m: Module) -> list[object]:
        c = m.socket()
        c.detach()  # the fd is -1 from here: EBADF, if a syscall is made
        out: list[object] = []
        for args in cases:
            try:
                out.append(c.recv_into(*args))
            except Exception as exc:  # noqa: BLE001 - compared below
                out.append((type(exc), str(exc)))
        return out

    assert outcomes(sansock) == outcomes(socket)
    a, b = sansock.socketpair()
    with a, b:
        assert a._direct is not None
        a.sendall(b"abcdef")
        buf = bytearray(b"----")
        assert b.recv_into(buf, 2) == 2 and buf == b"ab--"
        assert b.recv_into(buf) == 4 and buf == b"cdef"
        buf.clear()  # no export left behind


def test_errors_of_recv_into_and_sendall_direct_calls_are_the_stdlib_ones() -> None:
    def errors(m: Module) -> list[tuple[type[BaseException], tuple[object, ...]]]:
        a, b = m.socketpair()
        with a, b:
            a.setblocking(False)
            out = [_error(lambda: a.recv_into(bytearray(4)))]  # EAGAIN
            out.append(_error(lambda: a.recv_into(bytearray(4), 2, m.MSG_DONTWAIT)))
            b.close()
            out.append(_error(lambda: a.sendall(b"x")))  # EPIPE
        c = m.socket()
        c.detach()  # the fd is -1 from here: EBADF
        out.append(_error(lambda: c.recv_into(bytearray(1))))
        out.append(_error(lambda: c.sendall(b"x")))
        return out

    _assert_same_errors(errors)


def test_sendall_of_bytes_through_the_direct_call_is_the_stdlib_one() -> None:
    """A direct ``send`` that sends part of the bytes goes on with the rest;
    an error is raised with ``bytes_sent`` 0 (the stdlib's sendall has none)."""
    for m in (socket, sansock):
        a, b = m.socketpair()
        with a, b:
            a.setblocking(False)
            a.setsockopt(m.SOL_SOCKET, m.SO_SNDBUF, 4096)
            with pytest.raises(BlockingIOError) as info:
                a.sendall(b"x" * (1 << 22))  # more than the buffer: EAGAIN after a partial send
            assert info.value.errno == errno.EAGAIN
            b.close()
            old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            try:
                with pytest.raises(BrokenPipeError) as pipe:
                    a.sendall(b"y")
            finally:
                signal.signal(signal.SIGPIPE, old)
            if m is sansock:
                assert getattr(pipe.value, "bytes_sent", None) == 0


CALLS: dict[str, Callable[[Any, Module], object]] = {
    "recv": lambda s, m: s.recv(1),
    "recv MSG_PEEK": lambda s, m: s.recv(1, m.MSG_PEEK),
    "recv_into": lambda s, m: s.recv_into(bytearray(1)),
    "recv_into nbytes": lambda s, m: s.recv_into(bytearray(4), 1),
    "recv_into MSG_PEEK": lambda s, m: s.recv_into(bytearray(1), 0, m.MSG_PEEK),
    "recvmsg": lambda s, m: s.recvmsg(1)[0],
    "recvmsg with room for an fd": lambda s, m: s.recvmsg(1, m.CMSG_SPACE(4))[0],
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_an_interrupted_call_is_retried_though_the_handler_failed_a_call_itself(mod: Module, call: str) -> None:
    """PEP 475: EINTR is retried after the handler ran.  The handler here
    makes a non-blocking recv that fails with EAGAIN between the interrupted
    syscall's return and its check; reading the errno afterwards would see
    EAGAIN and raise BlockingIOError (the driver's errno-based recv did)."""
    a, b = mod.socketpair()
    c, d = mod.socketpair()
    c.setblocking(False)
    seen: list[str] = []

    def handler(signum: int, frame: object) -> None:
        try:
            c.recv(1)
        except BlockingIOError:
            seen.append("EAGAIN")

    old = signal.signal(signal.SIGALRM, handler)
    timer = threading.Timer(0.3, b.send, (b"x",))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        timer.start()
        assert CALLS[call](a, mod) in (b"x", 1)
        assert seen == ["EAGAIN"]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        timer.join()
        for s in (a, b, c, d):
            s.close()


class _Wrapper:
    """A third-party driver: the native one's methods, no direct calls."""

    def __init__(self, direct_calls: object = None) -> None:
        self._drv = NativeDriver()
        if direct_calls is not None:
            self.direct_calls = direct_calls
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self._drv, name)


@pytest.mark.parametrize("direct_calls", [None, "not DirectCalls"])
def test_a_driver_without_direct_calls_gets_its_methods_called(direct_calls: object) -> None:
    drv = _Wrapper(direct_calls)
    m = sansock.using(drv)
    a, b = m.socketpair()
    with a, b:
        assert a._direct is None
        drv.calls.clear()
        assert a.send(b"xy") == 2
        assert b.recv(2) == b"xy"
        assert a.getsockopt(m.SOL_SOCKET, m.SO_TYPE) == m.SOCK_STREAM
        assert a.sendmsg([b"z"], [(m.SOL_SOCKET, m.SCM_RIGHTS, array.array("i", [a.fileno()]))]) == 1
        data, ancdata, _, _ = b.recvmsg(1, m.CMSG_SPACE(4))
        os.close(array.array("i", ancdata[0][2])[0])
        assert data == b"z"
        assert [c for c in drv.calls if c != "strerror"] == ["send", "recv", "getsockopt", "sendmsg", "recvmsg"]


def _outcomes(m: Module) -> list[object]:
    """recvmsg's results where the direct call and the kernel have something
    to say: truncated data (MSG_TRUNC reports the whole length), truncated
    control data (MSG_CTRUNC, CPython's RuntimeWarning), two items, a
    sender's address, and the sizes the direct call does not take (more data
    or control room than a message block, flags beyond 30 bits)."""
    import warnings

    out: list[object] = []
    r, w = os.pipe()
    try:
        a, b = m.socketpair(m.AF_UNIX, m.SOCK_DGRAM)
        with a, b:
            a.send(b"datagram")
            out.append(b.recvmsg(3, 0, m.MSG_TRUNC))
            a.send(b"datagram")
            out.append(b.recvmsg(3))
            a.sendmsg([b"x"], [(m.SOL_SOCKET, m.SCM_RIGHTS, array.array("i", [w, w]))])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data, ancdata, flags, addr = b.recvmsg(1, m.CMSG_LEN(4))
            out.append((data, len(ancdata), [len(i[2]) for i in ancdata], flags, addr, [str(c.message) for c in caught]))
            for item in ancdata:
                for fd in array.array("i", item[2][: len(item[2]) // 4 * 4]):
                    os.close(fd)
            for bufsize, ancbufsize, flags in ((1, 0, 0), (70000, 0, 0), (1, 2000, 0), (1, 64, 0x40000000)):
                a.sendmsg([b"yz"], [(m.SOL_SOCKET, m.SCM_RIGHTS, array.array("i", [w]))])
                data, ancdata, msg_flags, addr = b.recvmsg(bufsize, ancbufsize, flags)
                for item in ancdata:
                    os.close(array.array("i", item[2])[0])
                out.append((data, [(lv, k, len(d)) for lv, k, d in ancdata], msg_flags, addr))
        c = m.socket(m.AF_UNIX, m.SOCK_DGRAM)
        d = m.socket(m.AF_UNIX, m.SOCK_DGRAM)
        with c, d:
            c.bind("\0sansock-direct-%d" % os.getpid())
            d.bind("\0sansock-direct-peer-%d" % os.getpid())
            d.sendto(b"from d", c.getsockname())
            out.append(c.recvmsg(64, 64))
    finally:
        os.close(r)
        os.close(w)
    return out


def test_recvmsg_outcomes_are_the_stdlib_ones() -> None:
    assert _outcomes(sansock) == _outcomes(socket)



@pytest.mark.parametrize("extra_flags", [0, 0x40000000])  # the direct call; the driver method (MSG_CMSG_CLOEXEC)
def test_tcp_msg_trunc_in_recvmsg_returns_zeros_not_an_earlier_message(extra_flags: int) -> None:
    """TCP's MSG_TRUNC discards the bytes without copying them; CPython returns
    that many bytes of fresh memory.  Here they are zeros: never what an
    earlier call left in a pooled message block or scratch buffer (another
    socket's data)."""
    listener = sansock.socket()
    with listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        c = sansock.create_connection(listener.getsockname())
        s, _ = listener.accept()
        x, y = sansock.socketpair()
        with c, s, x, y:
            x.send(b"secret" * 10)
            assert y.recvmsg(60, 0, extra_flags)[0] == b"secret" * 10  # leaves it in a pooled buffer
            c.sendall(b"abcdef")
            data, _, _, _ = s.recvmsg(6, 0, sansock.MSG_TRUNC | extra_flags)
            assert data == bytes(6)
            c.sendall(b"g")
            assert s.recv(1) == b"g"  # the discarded bytes are gone


def test_an_exception_as_the_direct_recvmsg_returns_closes_the_fds_it_received() -> None:
    """err_closefds where Python alone has a window: a signal handler runs
    right after a C call returns, before the method reads the result; if it
    raises, the fds the call received are closed, not leaked.  A profile
    hook raising at the C call's return stands in for the handler."""
    import sys

    a, b = sansock.socketpair()
    r, w = os.pipe()
    try:
        with a, b:
            a.sendmsg([b"x"], [(sansock.SOL_SOCKET, sansock.SCM_RIGHTS, array.array("i", [w, r]))])
            before = set(os.listdir("/proc/self/fd"))

            def hook(frame: object, event: str, arg: Any) -> None:
                if event == "c_return" and getattr(arg, "__name__", "") == "sansock_direct_recvmsg":
                    raise KeyboardInterrupt

            sys.setprofile(hook)
            try:
                with pytest.raises(KeyboardInterrupt):
                    b.recvmsg(1, sansock.CMSG_SPACE(8))
            finally:
                sys.setprofile(None)
            assert set(os.listdir("/proc/self/fd")) == before
            # The pool's blocks still start with no control data: the next call is whole.
            a.sendmsg([b"y"], [(sansock.SOL_SOCKET, sansock.SCM_RIGHTS, array.array("i", [w]))])
            data, ancdata, _, _ = b.recvmsg(1, sansock.CMSG_SPACE(4))
            (fd,) = array.array("i", ancdata[0][2])
            os.close(fd)
            assert data == b"y"
    finally:
        os.close(r)
        os.close(w)
