"""The fake kernel's per-syscall fast path (issue 13) changes nothing a test can see.

``_syscall.syscall`` checks the common call (every argument positional, exact
in-range C ints, plain object arguments) in one generated expression and
records its own argument tuple; anything else takes the general checks.  The
trace, the C-binding errors, the fault script, the credentials and the
scheduler's bookkeeping must come out exactly as the general path gives them.
Driver level: these are the fake kernel's own properties.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import FakeKernel, TraceEntry, _syscall, _threads

C = ABI.const
AF_UNIX, STREAM = C("AF_UNIX"), C("SOCK_STREAM")
SOL_SOCKET, SO_SNDBUF, SO_PASSCRED = C("SOL_SOCKET"), C("SO_SNDBUF"), C("SO_PASSCRED")
SCM_CREDENTIALS = C("SCM_CREDENTIALS")


class LyingInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class Bytes(bytes):
    pass


#: Values a caller may pass where the kernel expects a C int or an object.
ints = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.booleans(),
    st.integers(min_value=-5, max_value=5).map(LyingInt),
)
objects = st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=40).map(Bytes),
    st.binary(max_size=8).map(bytearray),
    st.none(),
    st.text(max_size=4),
    st.integers(min_value=-3, max_value=3),
)


def expected_outcome(call: Any, *args: object) -> tuple[tuple[object, ...], type[BaseException] | None, str]:
    """What the general path gives: the shown arguments and the C-binding error, if any."""
    shown = tuple(_syscall._shown(a) for a in args)
    limits = tuple(
        (position, name, ctype)
        for position, (name, ctype) in enumerate(call)
        if ctype is not None
    )
    try:
        _syscall._check_c_arguments(limits, args)
    except (TypeError, OverflowError) as exc:
        return shown, type(exc), str(exc)
    return shown, None, ""


def same_values_and_types(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return len(a) == len(b) and all(type(x) is type(y) and x == y for x, y in zip(a, b))


@settings(max_examples=150, deadline=None)
@given(level=ints, option=ints, value=ints)
def test_setsockopt_arguments_are_checked_and_traced_as_the_general_path_does(
    level: int, option: int, value: int
) -> None:
    kernel = FakeKernel(fd_base=0)
    a, _b = kernel.socketpair(AF_UNIX, STREAM, 0)
    declared = [("fd", _syscall.C_INT), ("level", _syscall.C_INT), ("option", _syscall.C_INT), ("value", _syscall.C_INT)]
    shown, error, message = expected_outcome(declared, a, level, option, value)
    before = kernel.trace.total
    try:
        kernel.setsockopt(a, level, option, value)
    except (TypeError, OverflowError) as exc:
        assert (type(exc), str(exc)) == (error, message)
        assert kernel.trace.total == before  # refused before the syscall, as cffi does
        return
    except OSError:
        pass
    assert error is None
    entry = kernel.trace[-1]
    assert entry.call == "setsockopt" and same_values_and_types(entry.args, shown)


@settings(max_examples=150, deadline=None)
@given(data=objects, flags=ints)
def test_send_arguments_are_traced_as_the_general_path_does(data: object, flags: int) -> None:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    declared = [("fd", _syscall.C_INT), ("data", None), ("flags", _syscall.C_INT)]
    shown, error, message = expected_outcome(declared, a, data, flags)
    try:
        kernel.send(a, data, flags)  # type: ignore[arg-type]
    except (TypeError, OverflowError) as exc:
        if error is not None:
            assert (type(exc), str(exc)) == (error, message)
            return
        # Not a C-binding refusal: memoryview() of a non-buffer, inside the
        # call; only OSError outcomes are traced.
        assert not isinstance(data, (bytes, bytearray))
        assert kernel.trace[-1].call == "socketpair"
        return
    except NotImplementedError:  # MSG_OOB: not modelled, not traced
        assert kernel.trace[-1].call == "socketpair"
        return
    except OSError:
        pass
    entry = kernel.trace[-1]
    assert entry.call == "send" and same_values_and_types(entry.args, shown)


def test_equal_arguments_of_other_types_stay_apart_in_the_shared_trace() -> None:
    """The fast path shares tuples by value; bools and subclasses never reach it."""
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    kernel.send(a, b"x", 0)
    kernel.send(a, b"x", False)
    kernel.send(a, Bytes(b"x"), 0)
    kernel.send(a, b"x" * 33, 0)
    kernel.recv(b, 35, 0)
    kernel.recv(b, True, 0)
    args = [entry.args for entry in kernel.trace][1:]
    assert [tuple(type(x) for x in t) for t in args] == [
        (int, bytes, int), (int, bytes, bool), (int, bytes, int), (int, str, int), (int, int, int), (int, bool, int)
    ]
    assert args[3] == (3, "bytes", 0)
    assert [entry.outcome for entry in kernel.trace][1:] == ["ok 1", "ok 1", "ok 1", "ok 33", "ok 35 bytes", "ok 1 bytes"]


def test_keyword_arguments_take_the_general_path() -> None:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    assert kernel.send(a, b"hi", flags=0) == 2
    # traced as the same call by position (it lost the keyword arguments before rev2)
    assert kernel.trace[-1] == TraceEntry("send", (3, b"hi", 0), "ok 2")


@pytest.mark.parametrize("call", ["send", "recv", "poll", "getsockopt", "close", "socket"])
def test_every_syscall_can_still_be_faulted(call: str) -> None:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    kernel.send(b, b"q", 0)
    args: dict[str, tuple[Any, ...]] = {
        "send": (a, b"x", 0),
        "recv": (a, 1, 0),
        "poll": (a, 1, 0),
        "getsockopt": (a, SOL_SOCKET, SO_SNDBUF),
        "close": (a,),
        "socket": (AF_UNIX, STREAM, 0),
    }
    kernel.faults.fail(call, errno.EINTR, fd=args[call][0] if call != "socket" else None)
    with pytest.raises(InterruptedError):
        getattr(kernel, call)(*args[call])
    assert kernel.trace[-1] == TraceEntry(call, args[call], "EINTR")
    assert kernel.open_fds() == [3, 4]
    getattr(kernel, call)(*args[call])  # the rule fired once
    assert kernel.trace[-1].outcome.startswith("ok")


def test_scripted_short_reads_and_writes_still_apply() -> None:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    kernel.faults.limit("send", 2)
    assert kernel.send(a, b"hello", 0) == 2
    kernel.send(a, b"llo", 0)
    kernel.faults.limit("recv", 1)
    assert kernel.recv(b, 10, 0) == b"h"
    assert kernel.recv(b, 10, 0) == b"ello"


def ucred_of(kernel: FakeKernel, fd: int) -> tuple[int, int, int]:
    _data, control, _flags, _addr = kernel.recvmsg(fd, 10, 64, 0)
    cmsg_len, level, kind = struct.unpack_from("Qii", control)
    assert (cmsg_len, level, kind) == (28, SOL_SOCKET, SCM_CREDENTIALS)
    pid, uid, gid = struct.unpack_from("iII", control, 16)
    return pid, uid, gid


def test_the_credentials_a_send_carries_follow_the_process() -> None:
    """The process credentials are one shared object while pid/uid/gid stay, a new one when they change."""
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    kernel.setsockopt(b, SOL_SOCKET, SO_PASSCRED, 1)
    kernel.send(a, b"1", 0)
    assert ucred_of(kernel, b) == (4242, 1000, 1000)
    kernel.pid, kernel.uid = 99, 0
    kernel.send(a, b"2", 0)
    assert ucred_of(kernel, b) == (99, 0, 1000)
    # Without SO_PASSCRED nothing is put, and the control buffer is empty.
    kernel.setsockopt(b, SOL_SOCKET, SO_PASSCRED, 0)
    kernel.send(a, b"3", 0)
    assert kernel.recvmsg(b, 10, 64, 0) == (b"3", b"", 0, b"")


def test_a_thread_is_registered_at_its_first_syscall_only_once_per_thread() -> None:
    kernel = FakeKernel(fd_base=0)
    a, b = kernel.socketpair(AF_UNIX, STREAM, 0)
    users = kernel._scheduler._users
    threads = []
    for _ in range(3):
        t = threading.Thread(target=kernel.get_nonblocking, args=(a,))
        t.start()
        t.join()
        assert users[t.ident or 0] is t
        threads.append(t)
    kernel.get_nonblocking(a)
    assert users[threading.get_ident()] is threading.current_thread()


def test_a_thread_inside_the_generated_check_is_inside_the_kernel() -> None:
    """The scheduler takes a thread in a kernel module as entering a syscall."""
    check = _syscall._plain_check("send", [_syscall.C_INT, None, _syscall.C_INT])
    assert os.path.abspath(check.__code__.co_filename) in _threads.KERNEL_FILES
    assert check((3, b"x", 0)) and not check((3, b"x")) and not check((3, memoryview(b"x"), 0))
    assert not check((1 << 31, b"x", 0)) and not check((True, b"x", 0)) and not check((3, b"x" * 33, 0))
