"""Every native driver call returns its error in band.

Python runs a pending signal handler right after a C call returns (the eval
breaker), so a driver that read the error of a failed call from
``ffi.errno`` (CFFI's per-thread saved errno) on the line after it would
read the errno of whatever failing CFFI call the handler made itself: an
interrupted call's EINTR, which the core retries (PEP 475), became the
handler's error.  CPython's socket module reads errno in C and has no such
window.  Each scenario below blocks in one call, lets SIGALRM interrupt it,
and has the handler unblock it and then fail a call of its own
(``getpeername`` of an unconnected socket: ENOTCONN, an error no
interrupted call tolerates -- an EAGAIN, as in tests/test_native_direct.py,
would be retried by the timeout machine and by ``sendfile``'s loop, and
would hide the window there).  The stdlib is the oracle: the same scenario
on ``socket`` must give the same outcome.  All of them failed on the
driver of commit 93922bb, which read ``ffi.errno`` for every call but the
blocking ``recv``/``recv_into``/``send``/``sendall`` (in band there already).

The rest checks the C helpers' encodings themselves.
"""

from __future__ import annotations

import array
import errno
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import pytest

import sansock
from sansock import mmsg
from sansock.driver import Unfinished
from sansock_native._lib import ffi, lib
from sansock_native._scratch import _unfinished

Module = Any

if not hasattr(signal, "pthread_kill"):  # pragma: no cover - Linux has it
    pytest.skip("needs signal.pthread_kill", allow_module_level=True)


def _outcome(call: Callable[[], object]) -> tuple[str, object]:
    try:
        return "ok", call()
    except OSError as e:
        return type(e).__name__, e.args


class _World:
    """The sockets of one scenario, closed at the end."""

    def __init__(self, m: Module) -> None:
        self.m = m
        self.socks: list[Any] = []

    def add(self, *socks: Any) -> Any:
        self.socks.extend(socks)
        return socks[0] if len(socks) == 1 else socks

    def pair(self, type_: int | None = None) -> tuple[Any, Any]:
        m = self.m
        a, b = m.socketpair(m.AF_UNIX, m.SOCK_STREAM if type_ is None else type_)
        self.add(a, b)
        return a, b

    def close(self) -> None:
        for s in self.socks:
            s.close()


def _interrupted(m: Module, call: Callable[[], object], unblock: Callable[[], object]) -> tuple[str, object]:
    """*call*'s outcome when SIGALRM interrupts it, the handler running
    *unblock* and then failing a call (ENOTCONN).

    The signal is sent to this (the main) thread by a timer thread, so it
    interrupts this thread's syscall whatever other threads exist; the timer
    thread needs the GIL first, which this thread gives up in the blocking
    call (or after the 5 ms switch interval: then the handler runs before
    the call, which returns at once, and the scenario tests nothing but
    still passes; the connect scenario retries)."""
    unconnected = m.socket(m.AF_UNIX, m.SOCK_STREAM)
    seen: list[int | None] = []

    def handler(signum: int, frame: object) -> None:
        unblock()
        try:
            unconnected.getpeername()
        except OSError as e:
            seen.append(e.errno)

    old = signal.signal(signal.SIGALRM, handler)
    timer = threading.Timer(0.01, signal.pthread_kill, (threading.get_ident(), signal.SIGALRM))
    try:
        timer.start()
        result = _outcome(call)
    finally:
        timer.join()
        signal.signal(signal.SIGALRM, old)
        unconnected.close()
    assert seen == [errno.ENOTCONN]
    return result


def _drain(s: Any) -> None:
    """Read everything *s* has queued (non-blocking; ends in EAGAIN)."""
    timeout = s.gettimeout()
    s.setblocking(False)
    try:
        while True:
            s.recv(1 << 20)
    except BlockingIOError:
        pass
    finally:
        s.settimeout(timeout)


def _fill(s: Any, send: Callable[[], object]) -> None:
    """Fill *s*'s way out until a send would block."""
    timeout = s.gettimeout()
    s.setblocking(False)
    try:
        while True:
            send()
    except BlockingIOError:
        pass
    finally:
        s.settimeout(timeout)


# -- receiving: a socketpair, the peer sends in the handler ------------------
RECEIVES: dict[str, Callable[[Any], object]] = {
    "recv": lambda s: s.recv(1),
    "recv MSG_PEEK": lambda s: s.recv(1, socket.MSG_PEEK),
    "recv 100000": lambda s: s.recv(100000),  # beyond the pooled buffer
    "recv_into": lambda s: s.recv_into(bytearray(1)),
    "recvfrom": lambda s: s.recvfrom(1),
    "recvfrom 100000": lambda s: s.recvfrom(100000),
    "recvfrom_into": lambda s: s.recvfrom_into(bytearray(1)),
    "recvmsg": lambda s: s.recvmsg(1),
    "recvmsg ancillary": lambda s: s.recvmsg(1, 64),
    "recvmsg_into 1": lambda s: s.recvmsg_into([bytearray(1)]),
    "recvmsg_into 2": lambda s: s.recvmsg_into([bytearray(1), bytearray(1)]),
    "recvmsg_into 5": lambda s: s.recvmsg_into([bytearray(1) for _ in range(5)]),
}


def _receive_scenario(m: Module, call: str, timeout: float | None) -> tuple[str, object]:
    w = _World(m)
    try:
        a, b = w.pair()
        a.settimeout(timeout)
        return _interrupted(m, lambda: RECEIVES[call](a), lambda: b.send(b"x"))
    finally:
        w.close()


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["blocking", "timeout"])
@pytest.mark.parametrize("call", sorted(RECEIVES))
def test_an_interrupted_receive_is_retried(call: str, timeout: float | None) -> None:
    """Blocking: the syscall is interrupted.  Timeout mode: the poll(2)
    that waits for the fd (sansock: after the poll-then-call helper found
    it not ready)."""
    ours = _receive_scenario(sansock, call, timeout)
    assert ours[0] == "ok"
    assert ours == _receive_scenario(socket, call, timeout)


# -- sending: a full socketpair, the peer drains in the handler --------------
SENDS: dict[str, Callable[[Any], object]] = {
    "send": lambda s: s.send(b"y" * 100),
    "send memoryview": lambda s: s.send(memoryview(b"y" * 100)),
    "sendall": lambda s: s.sendall(b"y" * 100),
    "sendmsg": lambda s: s.sendmsg([b"y" * 100]),
    "sendmsg memoryview": lambda s: s.sendmsg([memoryview(b"y" * 100)]),
    "sendmsg 2": lambda s: s.sendmsg([b"y" * 50, b"z" * 50]),
}


def _send_scenario(m: Module, call: str, timeout: float | None) -> tuple[str, object]:
    w = _World(m)
    try:
        a, b = w.pair()
        _fill(a, lambda: a.send(b"f" * 65536))
        a.settimeout(timeout)
        return _interrupted(m, lambda: SENDS[call](a), lambda: _drain(b))
    finally:
        w.close()


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["blocking", "timeout"])
@pytest.mark.parametrize("call", sorted(SENDS))
def test_an_interrupted_send_is_retried(call: str, timeout: float | None) -> None:
    ours = _send_scenario(sansock, call, timeout)
    assert ours[0] == "ok"
    assert ours == _send_scenario(socket, call, timeout)


DATAGRAM_SENDS: dict[str, Callable[[Any, object], object]] = {
    "sendto": lambda s, addr: s.sendto(b"y", addr),
    "sendmsg address": lambda s, addr: s.sendmsg([b"y"], [], 0, addr),
}


def _datagram_send_scenario(m: Module, call: str, timeout: float | None) -> tuple[str, object]:
    w = _World(m)
    try:
        receiver = w.add(m.socket(m.AF_UNIX, m.SOCK_DGRAM))
        receiver.bind("")  # Linux's autobind: an abstract address
        addr = receiver.getsockname()
        sender = w.add(m.socket(m.AF_UNIX, m.SOCK_DGRAM))
        _fill(sender, lambda: sender.sendto(b"f" * 1024, addr))
        sender.settimeout(timeout)
        return _interrupted(m, lambda: DATAGRAM_SENDS[call](sender, addr), lambda: _drain(receiver))
    finally:
        w.close()


@pytest.mark.parametrize("call", sorted(DATAGRAM_SENDS))
def test_an_interrupted_datagram_send_is_retried(call: str) -> None:
    """AF_UNIX datagrams: a blocking sender waits while the receiver's queue
    is full.  (Not in timeout mode: the sender's fd polls writable while the
    queue is full, so CPython's sock_call_ex spins between poll and EAGAIN
    without running the handler until the deadline.)"""
    ours = _datagram_send_scenario(sansock, call, None)
    assert ours == ("ok", 1)
    assert ours == _datagram_send_scenario(socket, call, None)


class _FileWithoutRead:
    """A file for sendfile(2) only: the fallback to send() that an error of
    the first os.sendfile takes (``_GiveupOnSendfile``) has nothing to read,
    so an EINTR turned into another error cannot hide behind it."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def fileno(self) -> int:
        fd: int = self._f.fileno()
        return fd

    def seek(self, pos: int, whence: int = 0) -> int:
        where: int = self._f.seek(pos, whence)
        return where


def _sendfile_scenario(m: Module, timeout: float | None) -> tuple[str, object]:
    w = _World(m)
    try:
        a, b = w.pair()
        _fill(a, lambda: a.send(b"f" * 65536))
        a.settimeout(timeout)
        with tempfile.TemporaryFile() as f:
            f.write(b"s" * 1000)
            f.flush()
            f.seek(0)
            return _interrupted(m, lambda: a.sendfile(_FileWithoutRead(f)), lambda: _drain(b))
    finally:
        w.close()


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["blocking", "timeout"])
def test_an_interrupted_sendfile_is_retried(timeout: float | None) -> None:
    """Blocking: sendfile(2) is interrupted (os.sendfile retries EINTR).
    Timeout mode: the wait before it."""
    ours = _sendfile_scenario(sansock, timeout)
    assert ours == ("ok", 1000)
    assert ours == _sendfile_scenario(socket, timeout)


# -- connection setup ----------------------------------------------------------
def _accept_scenario(m: Module, timeout: float | None) -> tuple[str, object]:
    w = _World(m)
    try:
        listener = w.add(m.socket(m.AF_UNIX, m.SOCK_STREAM))
        listener.bind("")
        listener.listen(1)
        listener.settimeout(timeout)
        client = w.add(m.socket(m.AF_UNIX, m.SOCK_STREAM))

        def accept() -> object:
            conn, addr = listener.accept()
            w.add(conn)
            return addr, conn.getpeername() == client.getsockname(), conn.gettimeout()

        return _interrupted(m, accept, lambda: client.connect(listener.getsockname()))
    finally:
        w.close()


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["blocking", "timeout"])
def test_an_interrupted_accept_is_retried(timeout: float | None) -> None:
    ours = _accept_scenario(sansock, timeout)
    assert ours[0] == "ok"
    assert ours == _accept_scenario(socket, timeout)


def _connect_scenario(m: Module) -> tuple[tuple[str, object], tuple[str, object]]:
    w = _World(m)
    try:
        listener = w.add(m.socket(m.AF_UNIX, m.SOCK_STREAM))
        listener.bind("")
        listener.listen(0)
        addr = listener.getsockname()
        first = w.add(m.socket(m.AF_UNIX, m.SOCK_STREAM))
        first.connect(addr)  # the backlog (0: one pending connection) is full now
        second = w.add(m.socket(m.AF_UNIX, m.SOCK_STREAM))

        def accept() -> None:
            w.add(listener.accept()[0])

        got = _interrupted(m, lambda: second.connect(addr), accept)
        return got, _outcome(second.getpeername)
    finally:
        w.close()


def _interrupted_connect(m: Module) -> tuple[tuple[str, object], tuple[str, object]]:
    for _ in range(5):
        got = _connect_scenario(m)
        if got[1][0] != "ok":
            break
        # The signal came before connect(2) (see _interrupted): again.
    return got


def test_an_interrupted_connect_waits_as_the_stdlib_does() -> None:
    """An AF_UNIX connect waits while the listener's backlog is full.  After
    EINTR CPython waits for the socket to be writable and reads SO_ERROR
    (issue #23618); an AF_UNIX socket is writable at once, with no error, and
    not connected: connect returns None, getpeername then fails."""
    ours = _interrupted_connect(sansock)
    assert ours[0] == ("ok", None)
    assert ours == _interrupted_connect(socket)


def test_an_interrupted_recvmmsg_is_retried() -> None:
    """A sansock extension (no stdlib oracle): the datagram the handler sent."""
    a, b = sansock.socketpair(sansock.AF_UNIX, sansock.SOCK_DGRAM)
    with a, b:
        assert _interrupted(sansock, lambda: mmsg.recvmmsg(a, 4, 16), lambda: b.send(b"x")) == (
            "ok",
            [(b"x", None)],
        )


def test_an_interrupted_sendmmsg_is_retried() -> None:
    w = _World(sansock)
    try:
        receiver = w.add(sansock.socket(sansock.AF_UNIX, sansock.SOCK_DGRAM))
        receiver.bind("")
        addr = receiver.getsockname()
        sender = w.add(sansock.socket(sansock.AF_UNIX, sansock.SOCK_DGRAM))
        _fill(sender, lambda: sender.sendto(b"f" * 1024, addr))
        got = _interrupted(sansock, lambda: mmsg.sendmmsg(sender, [(b"y", addr)]), lambda: _drain(receiver))
        assert got == ("ok", 1)
    finally:
        w.close()


# -- the encodings -------------------------------------------------------------
def _closed_fd() -> int:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    return r


def test_every_helper_returns_its_error_in_band() -> None:
    """A bad fd: each helper returns -EBADF (getsockopt's int form INT_MIN -
    EBADF), whatever ffi.errno says afterwards."""
    fd = _closed_fd()
    buf = ffi.new("char[]", 256)
    addr = ffi.new("char[]", 128)
    intout = ffi.new("int[2]")
    out = ffi.new("long long[3]")
    lens = ffi.new("long long[]", 1)
    bases = ffi.new("char *[]", [buf])
    sizes = ffi.new("size_t[]", [1])
    sin = bytes(16)
    calls: dict[str, Callable[[], int]] = {
        "close": lambda: lib.sansock_close(fd),
        "listen": lambda: lib.sansock_listen(fd, 1),
        "shutdown": lambda: lib.sansock_shutdown(fd, 0),
        "dup": lambda: lib.sansock_dup_cloexec(fd),
        "get_nonblocking": lambda: lib.sansock_get_nonblocking(fd),
        "set_nonblocking": lambda: lib.sansock_set_nonblocking(fd, 1),
        "get_inheritable": lambda: lib.sansock_get_inheritable(fd),
        "set_inheritable": lambda: lib.sansock_set_inheritable(fd, 1),
        "bind": lambda: lib.sansock_bind(fd, sin, len(sin)),
        "connect": lambda: lib.sansock_connect(fd, sin, len(sin)),
        "accept": lambda: lib.sansock_accept(fd, addr, intout, 0),
        "getsockname": lambda: lib.sansock_getsockname(fd, addr),
        "getpeername": lambda: lib.sansock_getpeername(fd, addr),
        "getsockopt_buf": lambda: lib.sansock_getsockopt_buf(fd, 1, 3, buf, 256, 4),
        "setsockopt_int": lambda: lib.sansock_setsockopt_int(fd, 1, 2, 1),
        "setsockopt_buf": lambda: lib.sansock_setsockopt_buf(fd, 1, 2, buf, 256, 4),
        "recv": lambda: lib.sansock_recv(fd, buf, 256, 1, 0),
        "direct_send": lambda: lib.sansock_direct_send(fd, b"x", 1, 0),
        "direct_recv": lambda: lib.sansock_direct_recv(fd, buf, 256, 1),
        "sendto": lambda: lib.sansock_sendto(fd, b"x", 1, 0, sin, len(sin)),
        "recvfrom": lambda: lib.sansock_recvfrom(fd, buf, 256, 1, 0, addr, intout),
        "sendmsg": lambda: lib.sansock_sendmsg(fd, bases, sizes, 1, ffi.NULL, 0, ffi.NULL, 0, 0),
        "sendmsg1": lambda: lib.sansock_sendmsg1(fd, b"x", 1, ffi.NULL, 0, ffi.NULL, 0, 0),
        "recvmsg": lambda: lib.sansock_recvmsg(fd, bases, sizes, 1, ffi.NULL, 0, 0, addr, 0, out),
        "recvmsg1": lambda: lib.sansock_recvmsg1(fd, buf, 256, 1, ffi.NULL, 0, 0, addr, 0, out),
        "recvmsg4": lambda: lib.sansock_recvmsg4(
            fd, 2, buf, 1, buf, 1, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL, 0, 0, addr, 0, out
        ),
        "recvmmsg": lambda: lib.sansock_recvmmsg(fd, buf, 256, 16, ffi.new("char[]", 128), 1, 0, out),
        "sendmmsg": lambda: lib.sansock_sendmmsg(fd, b"x", 1, ffi.new("long long[]", [1]), b"", 0, lens, 1, 0),
        "sendfile": lambda: lib.sansock_sendfile(fd, fd, 0, 1),
        "file_size": lambda: lib.sansock_file_size(fd),
    }
    got = {}
    for name, call in calls.items():
        ffi.errno = 0
        got[name] = call()
    assert got == dict.fromkeys(calls, -errno.EBADF)
    assert lib.sansock_getsockopt_int(fd, 1, 3) == -(2**31) - errno.EBADF
    assert lib.sansock_socket(-1, 1, 0) == -errno.EAFNOSUPPORT
    assert lib.sansock_socketpair(-1, 1, 0, intout) == -errno.EAFNOSUPPORT
    assert lib.sansock_if_nametoindex(b"no-such-interface") == -errno.ENODEV
    assert lib.sansock_if_indextoname(0, ffi.new("char[]", lib.IF_NAMESIZE)) == -errno.ENXIO
    assert lib.sansock_sethostname(b"x" * 1000, 1000) in (-errno.EINVAL, -errno.EPERM)
    assert lib.sansock_gethostname(buf, 256) == 0


def test_the_poll_then_call_helpers_say_how_they_ended_in_band() -> None:
    """>= 0 or -errno: called; SANSOCK_NOT_READY; SANSOCK_POLL_FAILED - errno."""
    out = ffi.new("long long[1]")
    a, b = socket.socketpair()
    with a, b:
        buf = ffi.new("char[]", 16)
        assert lib.sansock_poll_recv(a.fileno(), buf, 16, 16, 0, out) == lib.SANSOCK_NOT_READY
        assert out[0] > 0
        b.send(b"x")
        assert lib.sansock_poll_recv(a.fileno(), buf, 16, 16, 0, out) == 1
        assert lib.sansock_poll_send(a.fileno(), b"x", 1, 0, out) == 1
        b.shutdown(socket.SHUT_RD)
        # An fd that is not open is "ready" (POLLNVAL): the syscall's EBADF.
        fd = _closed_fd()
        assert lib.sansock_poll_send(fd, b"x", 1, 0, out) == -errno.EBADF
        assert lib.sansock_poll_recv(fd, buf, 16, 16, 0, out) == -errno.EBADF
        # A length beyond the buffer: EFAULT, as the call's.
        b.send(b"y")
        assert lib.sansock_poll_recv(a.fileno(), buf, 16, 17, 0, out) == -errno.EFAULT
    assert lib.SANSOCK_POLL_FAILED < lib.SANSOCK_NOT_READY < -4095
    arr = array.array("q", [123, 0, 0])
    assert _repr(_unfinished(lib.SANSOCK_NOT_READY, arr)) == (123, None, False)
    assert _repr(_unfinished(-errno.EPIPE, arr)) == (123, (errno.EPIPE, os.strerror(errno.EPIPE)), False)
    assert _repr(_unfinished(lib.SANSOCK_POLL_FAILED - errno.EINTR, arr)) == (
        123,
        (errno.EINTR, os.strerror(errno.EINTR)),
        True,
    )


def _repr(u: Unfinished) -> tuple[int, tuple[object, ...] | None, bool]:
    return u.start_ns, None if u.error is None else u.error.args, u.polling


def test_eai_system_carries_its_errno_in_band() -> None:
    """getaddrinfo/getnameinfo: INT_MIN + errno for EAI_SYSTEM, raised as
    OSError(errno, strerror) (CPython's set_gaierror); other codes are
    gaierror."""
    from sansock_native._netdb import _gai_error

    e = _gai_error(-(2**31) + errno.EMFILE)
    assert type(e) is OSError
    assert e.args == (errno.EMFILE, os.strerror(errno.EMFILE))
    g = _gai_error(socket.EAI_NONAME)
    assert isinstance(g, sansock.gaierror)
    assert g.args == (socket.EAI_NONAME, "Name or service not known")


_RESOLVE_WITHOUT_FDS = """
import importlib, os, resource, sys
m = importlib.import_module(sys.argv[1])
def outcome(f):
    try:
        return "ok", f()
    except OSError as e:
        return type(e).__name__, e.args
m.getaddrinfo("127.0.0.1", 80)  # sansock: the driver loaded while fds are left
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
fds = []
try:
    while True:
        fds.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
print(repr((outcome(lambda: m.getaddrinfo("localhost", 80)),
            outcome(lambda: m.getnameinfo(("127.0.0.1", 80), 0)))))
"""


def test_a_resolver_without_fds_fails_as_the_stdlib() -> None:
    """With every fd taken glibc's getnameinfo answers EAI_SYSTEM (errno
    EMFILE): OSError(EMFILE) from the in-band INT_MIN + errno, as CPython's
    set_gaierror.  Each module in a fresh process (glibc's answers depend on
    what it loaded before)."""
    import subprocess
    import sys

    def run(name: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _RESOLVE_WITHOUT_FDS, name], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    theirs = run("socket")
    assert run("sansock") == theirs
    if "OSError" not in theirs:  # pragma: no cover - another libc
        pytest.skip(f"this libc does not answer EAI_SYSTEM here: {theirs}")
