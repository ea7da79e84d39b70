"""Defects noticed in session 5 (task defects8), each with the test that showed it.

The stdlib ``socket`` module is the oracle where one exists: on the real
kernel, or (for the interop layer) the stdlib itself outside the patch.
"""

from __future__ import annotations

import contextvars
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

import sansock
from sansock_fake import FakeKernel

_S = TypeVar("_S")

# -- 1. an errno of 0 is "Error" (PyErr_SetFromErrno) --------------------------------------

#: An LD_PRELOAD library that makes the C library's resolver and interface
#: calls fail with errno $SHIM_ERRNO (as glibc may, for EAI_SYSTEM, without
#: setting errno): getaddrinfo of one name, getnameinfo of one port,
#: if_indextoname of one index, and every if_nameindex.  The rest goes to libc.
_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int shim_errno(void) { const char *s = getenv("SHIM_ERRNO"); return s ? atoi(s) : 0; }

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))
            dlsym(RTLD_NEXT, "getaddrinfo");
    if (node != NULL && strcmp(node, "eai-system.invalid") == 0) {
        errno = shim_errno();
        return EAI_SYSTEM;
    }
    return real(node, service, hints, res);
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                char *serv, socklen_t servlen, int flags)
{
    int (*real)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int) =
        (int (*)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int))
            dlsym(RTLD_NEXT, "getnameinfo");
    if (sa->sa_family == AF_INET && ntohs(((const struct sockaddr_in *)sa)->sin_port) == 4242) {
        errno = shim_errno();
        return EAI_SYSTEM;
    }
    return real(sa, salen, host, hostlen, serv, servlen, flags);
}

struct if_nameindex *if_nameindex(void)
{
    errno = shim_errno();
    return NULL;
}

char *if_indextoname(unsigned int index, char *name)
{
    char *(*real)(unsigned int, char *) = (char *(*)(unsigned int, char *))dlsym(RTLD_NEXT, "if_indextoname");
    if (index == 4242) {
        errno = shim_errno();
        return NULL;
    }
    return real(index, name);
}
"""

_SHIM_SCENARIO = """
import importlib, sys
m = importlib.import_module(sys.argv[1])
def outcome(f):
    try:
        return "ok", f()
    except OSError as e:
        return type(e).__name__, e.args
print(repr([
    outcome(lambda: m.getaddrinfo("eai-system.invalid", 80)),
    outcome(lambda: m.getnameinfo(("127.0.0.1", 4242), 0)),
    outcome(lambda: m.if_nameindex()),
    outcome(lambda: m.if_indextoname(4242)),
    outcome(lambda: m.getaddrinfo("127.0.0.1", 80, m.AF_INET, m.SOCK_STREAM)[0][4]),
]))
"""


@pytest.fixture(scope="module")
def errno_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:  # pragma: no cover - the native build needs one too
        pytest.skip("no C compiler for the LD_PRELOAD shim")
    out = tmp_path_factory.mktemp("shim") / "errno_shim.so"
    src = out.with_suffix(".c")
    src.write_text(_SHIM_C)
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(src), "-ldl"], check=True, timeout=120)
    return out


def _run_with_shim(shim: Path, module: str, code: int) -> str:
    env = dict(os.environ, LD_PRELOAD=str(shim), SHIM_ERRNO=str(code))
    done = subprocess.run(
        [sys.executable, "-c", _SHIM_SCENARIO, module], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("code", [0, errno.EMFILE, errno.EINTR], ids=["errno-0", "EMFILE", "EINTR"])
def test_c_library_failures_without_errno_match_the_stdlib_native(errno_shim: Path, code: int) -> None:
    """EAI_SYSTEM from getaddrinfo/getnameinfo, and if_nameindex/if_indextoname
    failing, with errno *code*: CPython raises PyErr_SetFromErrno's OSError,
    whose text is "Error" when errno is 0 (Python/errors.c); the native driver
    gave "Success" (strerror(0)), and if_indextoname's errno 0 was a success
    with an empty name."""
    theirs = _run_with_shim(errno_shim, "socket", code)
    ours = _run_with_shim(errno_shim, "sansock", code)
    assert ours == theirs
    if code == 0:
        assert theirs.count("('OSError', (0, 'Error'))") == 4, theirs


def test_errno_oserror_is_pyerr_setfromerrno() -> None:
    """The core's one mapping (``sansock.driver.errno_oserror``) the drivers raise through."""
    from sansock.driver import errno_oserror

    zero = errno_oserror(0, os.strerror)
    assert type(zero) is OSError and zero.args == (0, "Error") and str(zero) == "[Errno 0] Error"
    again = errno_oserror(errno.EAGAIN, os.strerror)
    assert type(again) is BlockingIOError and again.args == (errno.EAGAIN, os.strerror(errno.EAGAIN))


@pytest.mark.parametrize("code", [0, errno.EMFILE])
def test_eai_system_on_the_fake_is_the_stdlibs_oserror(code: int) -> None:
    """The fault script makes the fake's getaddrinfo/getnameinfo answer
    EAI_SYSTEM with errno *code* (``faults.fail("getaddrinfo", code)``),
    raised as CPython's set_gaierror raises it: a plain OSError, "Error" for 0."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    expected = (code, "Error" if code == 0 else os.strerror(code))
    kernel.faults.fail("getaddrinfo", code)
    with pytest.raises(OSError) as info:
        net.getaddrinfo("localhost", 80)
    assert type(info.value) is OSError and info.value.args == expected
    assert net.getaddrinfo("localhost", 80, net.AF_INET, net.SOCK_STREAM)[0][4] == ("127.0.0.1", 80)  # once
    kernel.faults.fail("getnameinfo", code)
    with pytest.raises(OSError) as info:
        net.getnameinfo(("127.0.0.1", 80), 0)
    assert type(info.value) is OSError and info.value.args == expected
    assert kernel.open_fds() == []


def test_a_scripted_errno_0_on_the_fake_is_error() -> None:
    """Any scripted fault with errno 0 reads as PyErr_SetFromErrno's (the fake's errno helper)."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        kernel.faults.fail("send", 0)
        with pytest.raises(OSError) as info:
            a.send(b"x")
        assert type(info.value) is OSError and info.value.args == (0, "Error")



# -- 3. the real fds the fake handed out over SCM_RIGHTS ------------------------------------


def _receive_real_fd(net: Any, a: Any, b: Any, fd: int) -> int:
    net.send_fds(a, [b"x"], [fd])
    _, fds, _, _ = net.recv_fds(b, 10, 1)
    assert len(fds) == 1
    got: int = fds[0]
    return got


def test_a_given_real_fd_number_reused_by_another_file_is_not_the_fakes() -> None:
    """The user closes a received real fd with os.close and opens another
    file, which gets the same number: the fake's close(fd) must not close
    that file (it never gave it out); the number names no fake fd: EBADF."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    r, w = os.pipe()
    a, b = net.socketpair()
    try:
        got = _receive_real_fd(net, a, b, r)
        os.close(got)
        other = os.open(os.devnull, os.O_RDONLY)
        try:
            assert other == got  # the lowest free number
            with pytest.raises(OSError) as info:
                net.close(other)
            assert info.value.errno == errno.EBADF
            os.fstat(other)  # still open
        finally:
            os.close(other)
        # A received fd closed through the kernel is still closed by it.
        got = _receive_real_fd(net, a, b, w)
        net.close(got)
        with pytest.raises(OSError):
            os.fstat(got)
    finally:
        a.close()
        b.close()
        os.close(r)
        os.close(w)


def test_the_record_of_given_real_fds_forgets_those_closed_with_os_close() -> None:
    """Received real fds the user closes with os.close are forgotten: the
    record stays bounded (it was a set that only grew)."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    r, w = os.pipe()
    a, b = net.socketpair()
    placeholders: list[int] = []
    try:
        for _ in range(300):
            got = _receive_real_fd(net, a, b, r)
            os.close(got)
            # Another file takes the number, so the next fd received gets a new one.
            placeholders.append(os.open(os.devnull, os.O_RDONLY))
        assert len(kernel._real_given) <= 64
        kept = [_receive_real_fd(net, a, b, r) for _ in range(100)]  # all alive: all remembered
        assert set(kept) <= set(kernel._real_given)
        for fd in kept:
            net.close(fd)
        assert not set(kept) & set(kernel._real_given)
    finally:
        for fd in placeholders:
            os.close(fd)
        a.close()
        b.close()
        os.close(r)
        os.close(w)


# -- 4. rev8's EMFILE test lowers RLIMIT_NOFILE in a child, not in this process ---------------


@pytest.mark.parametrize(
    "module, name",
    [
        ("test_rev8_review", "test_emfile_while_receiving_real_fds_truncates_as_linux"),
        ("test_reliability_fds", "test_emfile_at_the_real_fd_limit"),  # the same, found beside it
    ],
)
def test_emfile_tests_leave_this_process_fd_limit_alone(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> None:
    """While the limit is low every other thread of the test process that
    opens an fd fails: each test lowers it in a child process of its own."""
    import importlib
    import resource

    def refuse(*args: object) -> None:
        raise AssertionError("RLIMIT_NOFILE changed in the test process")

    test = getattr(importlib.import_module(module), name)
    monkeypatch.setattr(resource, "setrlimit", refuse)
    test()


# -- 2. audit events of the stdlib standing on the fake (interop) ---------------------------

#: The stdlib's class before any patch: what the user's object is an instance of.
_STD_SOCKET = socket.socket

_AUDIT: contextvars.ContextVar[_AuditLog | None] = contextvars.ContextVar("defects8_audit", default=None)
_AUDIT_HOOKED: list[bool] = []


def _ask(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 -- the outcome is compared
        return type(exc).__name__


class _AuditLog:
    """The ``socket.*`` events of this thread: each socket argument kept (for
    its identity) with what the hook could read of it then."""

    def __init__(self) -> None:
        self.raw: list[tuple[str, tuple[Any, ...]]] = []
        self.labels: dict[int, str] = {}

    def label(self, sock: _S, name: str) -> _S:
        self.labels[id(sock)] = name
        return sock

    def seen(self, value: object) -> object:
        if isinstance(value, (_STD_SOCKET, sansock.SocketType)) or hasattr(value, "gettimeout"):
            return (
                "sock", value, isinstance(value, _STD_SOCKET), _ask(lambda: value.fileno() != -1),  # type: ignore[attr-defined]
                _ask(lambda: int(value.family)), _ask(lambda: int(value.type)),  # type: ignore[attr-defined]
                _ask(lambda: value.proto), _ask(value.gettimeout), _ask(value.getblocking),  # type: ignore[attr-defined]
                _ask(lambda: repr(value) and "repr"),
            )
        if type(value) is tuple and len(value) == 2 and type(value[1]) is int and value[1] > 1024:
            return (value[0], "PORT")  # a kernel-chosen port
        if type(value) is int and value > 1024:
            return "PORT"
        return value

    def events(self) -> list[tuple[str, tuple[Any, ...]]]:
        def show(value: Any) -> Any:
            if type(value) is tuple and value[:1] == ("sock",):
                return ("sock", self.labels.get(id(value[1]), "not the user's object")) + value[2:]
            return value

        return [(event, tuple(show(a) for a in args)) for event, args in self.raw]


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    log = _AUDIT.get()
    if log is not None and event.startswith("socket."):
        log.raw.append((event, tuple(log.seen(a) for a in args)))


@contextmanager
def _audit_log() -> Iterator[_AuditLog]:
    if not _AUDIT_HOOKED:
        sys.addaudithook(_audit_hook)
        _AUDIT_HOOKED.append(True)
    log = _AuditLog()
    token = _AUDIT.set(log)
    try:
        yield log
    finally:
        _AUDIT.reset(token)


def _interop_scenario(m: Any, log: _AuditLog) -> None:
    """socket, bind, connect, sendto, sendmsg, socketpair, getaddrinfo,
    accept, dup and fromfd through the ``socket`` module *m*."""
    opened: list[Any] = []

    def keep(sock: Any, name: str) -> Any:
        opened.append(log.label(sock, name))
        return sock

    try:
        rx = keep(m.socket(m.AF_INET, m.SOCK_DGRAM), "rx")
        tx = keep(m.socket(m.AF_INET, m.SOCK_DGRAM), "tx")
        rx.bind(("127.0.0.1", 0))
        addr = rx.getsockname()
        tx.sendto(b"a", addr)
        tx.sendto(b"b", 0, addr)
        tx.sendmsg([b"c"], [], 0, addr)
        tx.connect(addr)
        tx.connect_ex(addr)
        tx.sendmsg([b"d"])
        a, b = m.socketpair()
        keep(a, "pair-a")
        keep(b, "pair-b")
        m.getaddrinfo("127.0.0.1", 80, m.AF_INET, m.SOCK_STREAM)
        srv = keep(m.create_server(("127.0.0.1", 0)), "server")
        srv.settimeout(5.0)
        keep(m.create_connection(srv.getsockname()), "client")
        conn, _ = srv.accept()
        keep(conn, "accepted")
        keep(conn.dup(), "dup")
        keep(m.fromfd(conn.fileno(), m.AF_INET, m.SOCK_STREAM), "fromfd")
    finally:
        for sock in opened:
            sock.close()


def test_interop_audit_events_match_the_stdlibs() -> None:
    """The stdlib patched onto the fake raises the stdlib's events with the
    object the user holds (it passed the inner sansock socket), two
    socket.__new__ for socketpair (it raised four), and a hook may read the
    half-built socket of socket.__new__ (gettimeout() was AttributeError)."""
    from sansock_fake import patch_stdlib

    with _audit_log() as theirs:
        _interop_scenario(socket, theirs)
    with patch_stdlib(), _audit_log() as ours:
        _interop_scenario(socket, ours)
    assert ours.events() == theirs.events()
    assert [e for e, _ in theirs.events()].count("socket.__new__") == 9


def _half_built(m: Any, log: _AuditLog) -> None:
    log.label(m.socket(m.AF_INET, m.SOCK_DGRAM), "made").close()
    a, b = m.socketpair()
    log.label(a, "a").close()
    log.label(b, "b").close()


def test_a_hook_sees_a_half_built_socket_as_cpythons(net: sansock.Binding) -> None:
    """socket.__new__'s object as sock_new left it: fd -1, family/type/proto 0,
    gettimeout() None (the timeout is -1 before sock_initobj audits)."""
    with _audit_log() as theirs:
        _half_built(socket, theirs)
    with _audit_log() as ours:
        _half_built(net, ours)
    expected = [("sock", name, True, False, 0, 0, 0, None, True, "repr") for name in ("made", "a", "b")]
    assert [args[0] for _, args in theirs.events()] == expected
    assert [args[0][:2] + args[0][3:] for _, args in ours.events()] == [e[:2] + e[3:] for e in expected]


# -- 5. timeout mode, an AF_UNIX datagram to a full queue: signal handlers run -----------------


class _Alarm(Exception):
    """What the SIGALRM handler raises."""


def _full_queue_send(m: Any, timeout: float) -> tuple[str, str | None, str]:
    """sendto in timeout mode from an unconnected AF_UNIX datagram socket to a
    receiver whose queue is full: the sender's fd polls writable (Linux's
    unix_dgram_poll looks at the sender's own buffer), sendto answers EAGAIN.
    SIGALRM comes 5 ms in; its handler raises.  The outcome: what ended the
    call, the exception it interrupted (if any), and where the handler ran.

    A SIGALRM that comes before the call has started (a loaded machine) is
    put off by 5 ms again: ``started`` is set by the statement just before
    the call, and between it and the call's first bytecode (sansock's
    RESUME) no handler can run, nor before CPython's C method starts."""
    receiver = m.socket(m.AF_UNIX, m.SOCK_DGRAM)
    sender = m.socket(m.AF_UNIX, m.SOCK_DGRAM)
    where: list[str] = []
    started = [False]  # set by a store (no eval-breaker check after it), not a call

    def handler(signum: int, frame: Any) -> None:
        if not started[0]:
            signal.setitimer(signal.ITIMER_REAL, 0.005)
            return
        # Inside the call: a sansock frame (core or driver) between the
        # handler's frame and this function's (the handler may run in a
        # library frame sansock called, such as the enum module's).
        inside = False
        while frame is not None and frame.f_code is not _full_queue_send.__code__:
            inside = inside or str(frame.f_globals.get("__name__", "")).startswith("sansock")
            frame = frame.f_back
        where.append("inside sansock" if inside else "in the caller")
        raise _Alarm

    try:
        receiver.bind("")  # Linux's autobind: an abstract address
        addr = receiver.getsockname()
        sender.setblocking(False)
        try:
            while True:
                sender.sendto(b"f" * 64, addr)
        except BlockingIOError:
            pass
        sender.settimeout(timeout)
        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.005)
            try:
                try:
                    started[0] = True
                    sender.sendto(b"y", addr)
                    ended = "sent"
                except TimeoutError:
                    ended = "timed out"
                    for _ in range(100):  # a pending handler runs here (an eval-breaker check)
                        pass
            except _Alarm as exc:
                context = type(exc.__context__).__name__ if exc.__context__ is not None else None
                return "handler", context, where[0]
            return ended, None, where[0] if where else "not run"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    finally:
        sender.close()
        receiver.close()


@pytest.mark.native_only
def test_a_spinning_datagram_send_runs_signal_handlers() -> None:
    """docs/differences.rst: CPython's sock_call_ex spins between the
    writable poll and EAGAIN in C until the deadline, and the handler runs
    only after the TimeoutError; sansock's retry loop is Python code, so the
    handler runs inside the call and its exception ends it at once."""
    assert _full_queue_send(sansock, 0.25) == ("handler", None, "inside sansock")
    assert _full_queue_send(socket, 0.25) == ("handler", "TimeoutError", "in the caller")
