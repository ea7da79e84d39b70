"""fd accounting on every error path after ``recvmsg``, on both drivers.

CPython's ``sock_recvmsg_guts`` closes every fd received through SCM_RIGHTS
when anything fails after the syscall (its ``err_closefds`` label).  Each test
here makes something fail after the kernel installed fds -- a warning turned
into an error, a signal handler that raises, MSG_CTRUNC, EMFILE while the
kernel installs the fds, a split read -- and checks that the process (native:
``/proc/self/fd``) or the kernel (fake: ``kernel.open_fds()``) ends with the fds
it began with.  The ``net`` fixture adds the same check to every test.

Every receive API is covered: ``recvmsg``, ``recvmsg_into``,
``sansock.ancillary.recvmsg_ex``, ``recvmsg_into_ex`` and ``recvmsg_owned``.
"""

from __future__ import annotations

import gc
import os
import resource
import signal
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock import ancillary as anc
from sansock_fake import FakeKernel

Receive = Callable[[Any, int], list[int]]


def rights(net: Binding, ancdata: Any) -> list[int]:
    """Every fd in SCM_RIGHTS items of raw ``(level, type, data)`` items."""
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == net.SOL_SOCKET and kind == net.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds.extend(v for (v,) in struct.iter_unpack("i", data[:usable]))
    return fds


def raw_recvmsg(sock: Any, ancbufsize: int) -> Any:
    return sock.recvmsg(16, ancbufsize)


def raw_recvmsg_into(sock: Any, ancbufsize: int) -> Any:
    return sock.recvmsg_into([bytearray(4), bytearray(12)], ancbufsize)


def raw_recvmsg_ex(sock: Any, ancbufsize: int) -> Any:
    return anc.recvmsg_ex(sock, 16, ancbufsize)


def raw_recvmsg_into_ex(sock: Any, ancbufsize: int) -> Any:
    return anc.recvmsg_into_ex(sock, [bytearray(16)], ancbufsize)


def raw_recvmsg_owned(sock: Any, ancbufsize: int) -> Any:
    return anc.recvmsg_owned(sock, 16, ancbufsize)


def fds_of(result: Any, sock: Any) -> list[int]:
    """The fds a receive result carries (owned fds are detached: the caller closes them)."""
    if isinstance(result, tuple):
        return rights(sock._binding, result[1])
    if isinstance(result, anc.OwnedReceived):
        return [owned.detach() for owned in result.fds]
    return list(result.fds)


RAW_RECEIVES: list[Callable[[Any, int], Any]] = [
    raw_recvmsg, raw_recvmsg_into, raw_recvmsg_ex, raw_recvmsg_into_ex, raw_recvmsg_owned,
]


def _extracting(raw: Callable[[Any, int], Any]) -> Receive:
    def receive(sock: Any, ancbufsize: int) -> list[int]:
        return fds_of(raw(sock, ancbufsize), sock)

    receive.__name__ = raw.__name__
    return receive


def via_recvmsg(sock: Any, ancbufsize: int) -> list[int]:
    return fds_of(raw_recvmsg(sock, ancbufsize), sock)


RECEIVES: list[Receive] = [_extracting(raw) for raw in RAW_RECEIVES]
RECEIVE_IDS = ["recvmsg", "recvmsg_into", "recvmsg_ex", "recvmsg_into_ex", "recvmsg_owned"]


def fd_table(net: Binding) -> set[int]:
    """The open fds of the driver: the fake kernel's table or the process's."""
    if isinstance(net.driver, FakeKernel):
        return set(net.driver.open_fds())
    return process_fds()


def process_fds() -> set[int]:
    """The process's open fds, without the one ``listdir`` used to list them."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue  # listdir's own directory fd, closed by now
        found.add(int(name))
    return found


def close_all(net: Binding, fds: list[int]) -> None:
    for fd in fds:
        net.close(fd)


def drain(net: Binding, sock: Any) -> int:
    """Receive and close whatever is still queued (non-blocking); the count of messages."""
    sock.setblocking(False)
    count = 0
    try:
        while True:
            try:
                close_all(net, via_recvmsg(sock, net.CMSG_SPACE(4 * 8)))
            except BlockingIOError:
                return count
            count += 1
    finally:
        sock.setblocking(True)


# -- a warning turned into an error (fake darwin personality) -----------------------


@pytest.fixture
def bsd() -> Iterator[tuple[FakeKernel, Binding]]:
    kernel = FakeKernel(personality="darwin")
    yield kernel, sansock.using(kernel)
    assert kernel.open_fds() == [], "the test leaked fake fds"


@pytest.mark.parametrize("receive", RECEIVES, ids=RECEIVE_IDS)
def test_warning_as_error_closes_every_received_fd(bsd: tuple[FakeKernel, Binding], receive: Receive) -> None:
    kernel, net = bsd
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        before = kernel.open_fds()
        net.send_fds(a, [b"m"], [x.fileno(), y.fileno(), x.fileno()])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(RuntimeWarning, match="improperly-truncated ancillary data"):
                receive(b, net.CMSG_LEN(6))  # ends inside the second fd: the item is cut
        assert kernel.open_fds() == before
        assert drain(net, b) == 0  # the message was consumed, its fds closed


@pytest.mark.parametrize("receive", RECEIVES, ids=RECEIVE_IDS)
def test_warning_not_an_error_returns_the_fds_inside(bsd: tuple[FakeKernel, Binding], receive: Receive) -> None:
    kernel, net = bsd
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        before = kernel.open_fds()
        net.send_fds(a, [b"m"], [x.fileno(), y.fileno()])
        with pytest.warns(RuntimeWarning):
            fds = receive(b, net.CMSG_LEN(6))
        assert len(fds) == 1 and set(kernel.open_fds()) - set(before) == set(fds)
        close_all(net, fds)


# -- MSG_CTRUNC (both drivers): what is returned is open, the rest is closed -----------


@pytest.mark.parametrize("receive", RECEIVES, ids=RECEIVE_IDS)
@pytest.mark.parametrize("room", [0, 1, 2])
def test_ctrunc_returns_whole_fds_and_the_kernel_closes_the_rest(
    net: Binding, receive: Receive, room: int
) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        before = fd_table(net)
        net.send_fds(a, [b"m"], [x.fileno(), y.fileno(), x.fileno()])
        ancbufsize = net.CMSG_LEN(4 * room) if room else 8  # 8: less than a header
        fds = receive(b, ancbufsize)
        assert len(fds) == room
        assert fd_table(net) - before == set(fds)
        close_all(net, fds)
        assert fd_table(net) == before


# -- EMFILE while the kernel installs received fds (fake fault) -----------------------


@pytest.mark.parametrize("receive", RECEIVES, ids=RECEIVE_IDS)
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_emfile_while_installing_fds(receive: Receive, nth: int) -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        before = kernel.open_fds()
        net.send_fds(a, [b"m"], [x.fileno(), y.fileno(), x.fileno()])
        kernel.faults.fail("install_fd", kernel.abi.errno("EMFILE"), nth=nth)
        fds = receive(b, net.CMSG_SPACE(4 * 3))
        assert len(fds) == nth - 1  # scm_detach_fds stops at the first failure
        assert set(kernel.open_fds()) - set(before) == set(fds)
        close_all(net, fds)
    assert kernel.open_fds() == []


def test_emfile_at_the_real_fd_limit() -> None:
    """Native: RLIMIT_NOFILE leaves room for one fd; the kernel installs one
    and drops two.  In a child process: the limit is the process's, and any
    other thread of the test process opening an fd meanwhile would fail."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import sansock, test_reliability_fds as t; "
        "t.emfile_at_the_real_fd_limit(sansock.default_binding()); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def emfile_at_the_real_fd_limit(native_net: Binding) -> None:
    """The scenario of :func:`test_emfile_at_the_real_fd_limit` (lowers RLIMIT_NOFILE: a child process's only)."""
    a, b = native_net.socketpair()
    x, y = native_net.socketpair()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with a, b, x, y:
        before = fd_table(native_net)
        native_net.send_fds(a, [b"m"], [x.fileno(), y.fileno(), x.fileno()])
        free = [fd for fd in range(max(before) + 2) if fd not in before]
        # Room below the limit for the first free fd only (listdir's fd is closed by now).
        resource.setrlimit(resource.RLIMIT_NOFILE, (free[0] + 1, hard))
        try:
            _, ancdata, flags, _ = b.recvmsg(16, native_net.CMSG_SPACE(12))
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        fds = rights(native_net, ancdata)
        assert flags & native_net.MSG_CTRUNC
        assert len(fds) == 1
        close_all(native_net, fds)
        assert fd_table(native_net) == before


# -- partial recvmsg_into ------------------------------------------------------------


@pytest.mark.parametrize("split", [1, 3, 7])
def test_split_recvmsg_into_delivers_each_fd_once(split: int) -> None:
    """A read cut short (fake ``faults.limit``) still installs the fds, once."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        before = kernel.open_fds()
        net.send_fds(a, [b"0123456789"], [x.fileno(), y.fileno()])
        a.sendall(b"after")
        kernel.faults.limit("recvmsg_into", split)
        first, second = bytearray(4), bytearray(64)
        n, ancdata, flags, _ = b.recvmsg_into([first, second], net.CMSG_SPACE(8))
        assert n == split and flags == 0
        fds = rights(net, ancdata)
        assert len(fds) == 2
        rest, ancdata2, _, _ = b.recvmsg(64, net.CMSG_SPACE(8))
        # The fds came with the first part only; the rest of that skb and the
        # next one (no fds) are read together (unix_stream_read_generic).
        assert bytes(first + second)[:n] + rest == b"0123456789after"
        assert ancdata2 == []
        close_all(net, fds)
        assert kernel.open_fds() == before


def test_partial_recvmsg_into_on_a_datagram_truncates_and_keeps_fds(net: Binding) -> None:
    """A datagram longer than the buffers: MSG_TRUNC, the fds still delivered once."""
    a, b = net.socketpair(net.AF_UNIX, net.SOCK_DGRAM)
    x, y = net.socketpair()
    with a, b, x, y:
        before = fd_table(net)
        net.send_fds(a, [b"0123456789"], [x.fileno(), y.fileno()])
        got = anc.recvmsg_into_ex(b, [bytearray(3), bytearray(2)], net.CMSG_SPACE(8))
        assert got.data == 5 and got.truncation.data and got.msg_flags & net.MSG_TRUNC
        assert len(got.fds) == 2
        close_all(net, list(got.fds))
        assert fd_table(net) == before


# -- an exception raised by a signal handler during a blocked recvmsg (native) ------------


class Interrupted(BaseException):
    """KeyboardInterrupt-style: not an Exception, raised by a signal handler."""


@pytest.fixture
def raising_alarm() -> Iterator[list[int]]:
    """SIGALRM's handler raises Interrupted; the timer and handler are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")
    calls: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, handler)
    yield calls
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("receive", RECEIVES, ids=RECEIVE_IDS)
@pytest.mark.parametrize("timeout", [None, 30.0], ids=["blocking", "timeout"])
def test_raising_handler_during_blocked_recvmsg_leaks_nothing(
    native_net: Binding, raising_alarm: list[int], receive: Receive, timeout: float | None
) -> None:
    net = native_net
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        b.settimeout(timeout)
        before = fd_table(net)
        signal.setitimer(signal.ITIMER_REAL, 0.005)
        with pytest.raises(Interrupted):
            receive(b, net.CMSG_SPACE(8))  # nothing queued: blocks until the signal
        assert raising_alarm == [signal.SIGALRM]
        assert fd_table(net) == before
        # The socket still works: a message with fds sent now arrives whole.
        net.send_fds(a, [b"m"], [x.fileno(), y.fileno()])
        fds = receive(b, net.CMSG_SPACE(8))
        assert len(fds) == 2
        close_all(net, fds)
        assert fd_table(net) == before


# -- an exception at every point after the syscall (deterministic injection) ------------
#
# A signal's Python handler runs at the next "eval breaker" check of the
# interpreter, which includes the entry of every Python function.  CPython's
# recvmsg is C from the syscall to the return, so no handler can run in
# between; here the core (and the native driver's result building) is Python.
# The tracer below raises Interrupted at the entry of the k-th Python function
# called inside a receive (outside the fake kernel, whose syscalls are atomic
# as a real kernel's), for k = 1, 2, ... until the receive completes, and
# checks after each that every fd the kernel installed was either returned
# or closed.


def _inside_fake_kernel(frame: FrameType | None) -> bool:
    while frame is not None:
        if "sansock_fake" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def run_with_interrupt_at_call(k: int, action: Callable[[], Any]) -> tuple[bool, Any]:
    """Run *action* raising Interrupted at its k-th Python call; (interrupted, its result)."""
    seen = 0
    here = sys._getframe()

    def tracer(frame: FrameType, event: str, arg: object) -> None:
        nonlocal seen
        if event != "call" or frame.f_back is here or _inside_fake_kernel(frame):
            return None
        if frame.f_code.co_name in ("__del__", "finalize_unclosed"):
            return None  # a finalizer's exception is unraisable, not propagated
        if frame.f_code.co_filename == __file__:
            return None  # the test's own helpers (rights, via_*) are not the library
        seen += 1
        if seen == k:
            sys.settrace(None)
            raise Interrupted
        return None

    sys.settrace(tracer)
    try:
        result = action()
    except Interrupted:
        return True, None
    finally:
        sys.settrace(None)
    return False, result


def leaks_at_every_call(net: Binding, receive: Callable[[Any, int], Any]) -> list[int]:
    """The values of k at which an interrupt left an fd open that nobody owns."""
    a, b = net.socketpair()
    x, y = net.socketpair()
    leaks: list[int] = []
    with a, b, x, y:
        before = fd_table(net)
        space = net.CMSG_SPACE(8)
        for k in range(1, 400):
            net.send_fds(a, [b"m"], [x.fileno(), y.fileno()])
            with warnings.catch_warnings():
                # OwnedFd objects dropped by an interrupted recvmsg_owned warn and close.
                warnings.simplefilter("ignore", ResourceWarning)
                # The size outside the traced call: every k must see the same
                # sequence of calls (CMSG_SPACE remembers what it computed).
                interrupted, result = run_with_interrupt_at_call(k, lambda: receive(b, space))
                gc.collect()
            if result is not None:
                close_all(net, fds_of(result, b))
            drain(net, b)
            extra = fd_table(net) - before
            if extra:
                leaks.append(k)
                close_all(net, sorted(extra))
            if not interrupted:
                break
        else:  # pragma: no cover
            raise AssertionError("the receive never completed")
    return leaks


def _xfail_leak(reason: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=reason)


OWNED_WINDOW = (
    "core bug: recvmsg_owned wraps the fds in OwnedFd objects after recvmsg_ex returned; a "
    "signal handler raising at a call in between leaks them.  CPython runs no Python code "
    "between the syscall and err_closefds"
)
NATIVE_WINDOW = (
    "native driver bug: NativeDriver.recvmsg_into calls _control_bytes after the "
    "syscall installed the fds; a signal handler raising at its entry leaks them"
)

# The core's receives enter the try that closes the fds in the frame the
# syscall returned to, with no Python call in between (issue 14); only
# recvmsg_owned still has a window.
_FAKE_XFAIL = {"recvmsg_owned": OWNED_WINDOW}
_NATIVE_XFAIL = {
    "recvmsg_into": NATIVE_WINDOW,
    "recvmsg_into_ex": NATIVE_WINDOW,
    "recvmsg_owned": OWNED_WINDOW,
}


def _receives(xfails: dict[str, str]) -> list[Any]:
    return [
        pytest.param(r, id=i, marks=[_xfail_leak(xfails[i])] if i in xfails else [])
        for r, i in zip(RAW_RECEIVES, RECEIVE_IDS)
    ]


@pytest.mark.parametrize("receive", _receives(_FAKE_XFAIL))
def test_interrupt_after_the_syscall_leaks_nothing_fake(receive: Callable[[Any, int], Any]) -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    leaks = leaks_at_every_call(net, receive)
    assert kernel.open_fds() == []
    assert leaks == [], f"an interrupt at these Python calls leaked fds: {leaks}"


@pytest.mark.parametrize("receive", _receives(_NATIVE_XFAIL))
def test_interrupt_after_the_syscall_leaks_nothing_native(
    native_net: Binding, receive: Callable[[Any, int], Any]
) -> None:
    leaks = leaks_at_every_call(native_net, receive)
    assert leaks == [], f"an interrupt at these Python calls leaked fds: {leaks}"
