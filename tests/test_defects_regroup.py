"""Defects noticed in the second session (task "regroup", item 4).

* **a** -- ``sansock.SocketType(...)`` called directly raised AttributeError
  (``_default_binding`` was set on ``socket`` only).  CPython's
  ``_socket.socket`` (``socket.SocketType``) can be constructed: it is the C
  socket object, without Lib/socket.py's methods, and it reads the module's
  default timeout.  The stdlib is the oracle.
* **b** -- the fake kernel could not create a socket with the darwin-arm64
  ABI profile, which has no ``SOCK_NONBLOCK``/``SOCK_CLOEXEC`` (nor
  ``MSG_CMSG_CLOEXEC``, ``MSG_ERRQUEUE``, ``SCM_CREDENTIALS``): the fake read
  them unconditionally, and the core ORed the "absent" marker -1 into the
  type.  Now a flag the profile lacks sets no bit (socketmodule.c's
  ``#ifdef SOCK_CLOEXEC``), the core makes new fds non-inheritable with
  ``set_inheritable(fd, False)`` as CPython does there
  (``_Py_set_inheritable(fd, 0, NULL)`` after ``socket``, ``accept`` and
  ``socketpair``), and timeouts set ``O_NONBLOCK`` through the driver's
  ``set_nonblocking`` (ioctl/fcntl semantics).
* **c** -- sendmsg's control data: see
  ``test_sendmsg_copies_control_data_before_the_call`` (docs/differences.rst).
"""

from __future__ import annotations

import array
import os
import socket as stdlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock._profiles import DARWIN_ARM64
from sansock_fake import FakeKernel

# -- a: SocketType can be constructed ------------------------------------------------


@pytest.fixture
def default_on(net: Binding) -> Iterator[Binding]:
    """The module-level API (what ``sansock.SocketType()`` uses) on *net*'s driver."""
    with sansock.swap_default_driver(net.driver) as default:
        yield default


def test_sockettype_can_be_constructed_as_the_stdlib_s(default_on: Binding) -> None:
    made = sansock.SocketType(sansock.AF_INET, sansock.SOCK_DGRAM)
    oracle = stdlib.SocketType(stdlib.AF_INET, stdlib.SOCK_DGRAM)
    try:
        assert type(made) is sansock.SocketType and type(oracle) is stdlib.SocketType
        # The C object's attributes are plain ints (the enums are Lib/socket.py's).
        assert (made.family, made.type, made.proto, made.timeout) == (
            oracle.family, oracle.type, oracle.proto, oracle.timeout)
        assert type(made.family) is type(oracle.family) is int
        assert type(made.type) is type(oracle.type) is int
        assert repr(made).replace(str(made.fileno()), "N") == repr(oracle).replace(str(oracle.fileno()), "N")
        for name in ("makefile", "__enter__", "dup", "accept"):
            assert hasattr(made, name) == hasattr(oracle, name), name
        assert made.fileno() >= 0
    finally:
        made.close()
        oracle.close()
    assert made.fileno() == oracle.fileno() == -1


def test_sockettype_defaults_and_fileno_as_the_stdlib(default_on: Binding) -> None:
    made = sansock.SocketType()
    oracle = stdlib.SocketType()
    try:
        assert (made.family, made.type, made.proto) == (oracle.family, oracle.type, oracle.proto)
        again = sansock.SocketType(fileno=made.detach())
        oracle_again = stdlib.SocketType(fileno=oracle.detach())
        try:
            # The kernel's SO_PROTOCOL (IPPROTO_TCP) now, on both.
            assert (again.family, again.type, again.proto) == (
                oracle_again.family, oracle_again.type, oracle_again.proto)
        finally:
            again.close()
            oracle_again.close()
    finally:
        made.close()
        oracle.close()


def test_sockettype_reads_the_module_default_timeout(default_on: Binding) -> None:
    assert sansock.getdefaulttimeout() is None and stdlib.getdefaulttimeout() is None
    sansock.setdefaulttimeout(2.5)
    stdlib.setdefaulttimeout(2.5)
    try:
        made = sansock.SocketType()
        oracle = stdlib.SocketType()
    finally:
        sansock.setdefaulttimeout(None)
        stdlib.setdefaulttimeout(None)
    try:
        assert made.gettimeout() == oracle.gettimeout() == 2.5
        assert made.getblocking() == oracle.getblocking() is True
    finally:
        made.close()
        oracle.close()


def test_sockettype_subclass_can_be_constructed(default_on: Binding) -> None:
    class Mine(sansock.SocketType):
        __slots__ = ()

    class Theirs(stdlib.SocketType):
        __slots__ = ()

    made, oracle = Mine(), Theirs()
    try:
        assert isinstance(made, sansock.SocketType) and isinstance(oracle, stdlib.SocketType)
        assert (made.family, made.type) == (oracle.family, oracle.type)
    finally:
        made.close()
        oracle.close()


def test_unclosed_sockettype_warns_as_the_stdlib(default_on: Binding) -> None:
    made = sansock.SocketType()
    oracle = stdlib.SocketType()
    with pytest.warns(ResourceWarning, match=r"^unclosed <socket object, fd=\d+, family=2, type=1, proto=0>$"):
        del made
    with pytest.warns(ResourceWarning, match=r"^unclosed <socket object, fd=\d+, family=2, type=1, proto=0>$"):
        del oracle


# -- b: the fake kernel on a profile without SOCK_NONBLOCK/SOCK_CLOEXEC --------------


@pytest.fixture
def darwin() -> Iterator[Binding]:
    kernel = FakeKernel(abi=DARWIN_ARM64)
    assert "SOCK_NONBLOCK" not in DARWIN_ARM64.constants and "SOCK_CLOEXEC" not in DARWIN_ARM64.constants
    before = kernel.open_fds()
    yield sansock.using(kernel)
    assert kernel.open_fds() == before, "the test leaked fake-kernel fds"


def test_darwin_profile_socket_is_made_then_set_non_inheritable(darwin: Binding) -> None:
    kernel = darwin.driver
    assert isinstance(kernel, FakeKernel)
    with darwin.socket() as s:
        assert (s.family, s.type, s.proto) == (darwin.AF_INET, darwin.SOCK_STREAM, 0)
        assert s.get_inheritable() is False
        calls = [(e.call, e.args[1:]) for e in kernel.trace if e.call in ("socket", "set_inheritable")]
        # socket() with the type as given (no flag bits), then FD_CLOEXEC.
        assert calls == [("socket", (darwin.SOCK_STREAM, 0)), ("set_inheritable", (False,))]
        assert not hasattr(darwin, "SOCK_NONBLOCK") and not hasattr(darwin, "SOCK_CLOEXEC")


def test_darwin_profile_timeout_uses_o_nonblock_and_virtual_time(darwin: Binding) -> None:
    kernel = darwin.driver
    a, b = darwin.socketpair()
    with a, b:
        assert a.get_inheritable() is b.get_inheritable() is False
        assert kernel.get_nonblocking(a.fileno()) is False
        a.settimeout(30.0)
        assert kernel.get_nonblocking(a.fileno()) is True
        start = kernel.monotonic_ns()
        with pytest.raises(TimeoutError, match="^timed out$"):
            a.recv(1)
        assert kernel.monotonic_ns() - start >= 30_000_000_000
        b.sendall(b"ping")
        assert a.recv(4) == b"ping"
        a.setblocking(False)
        assert kernel.get_nonblocking(a.fileno()) is True
        with pytest.raises(OSError) as caught:  # Darwin's EAGAIN (35): not the host's number
            a.recv(1)
        assert caught.value.errno == DARWIN_ARM64.errno("EAGAIN")


def test_darwin_profile_tcp_accept_and_fd_passing(darwin: Binding) -> None:
    with darwin.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        # (socket + connect: the profile has no getaddrinfo AI_* values, which
        # create_connection's lookup needs.)
        with darwin.socket() as client:
            client.connect(server.getsockname())
            conn, _ = server.accept()
            with conn:
                assert conn.get_inheritable() is False and conn.type == darwin.SOCK_STREAM
                client.sendall(b"x" * 10)
                assert conn.recv(10) == b"x" * 10
        a, b = darwin.socketpair()
        with a, b:
            darwin.send_fds(a, [b"m"], [server.fileno()])
            msg, fds, _flags, _addr = darwin.recv_fds(b, 10, 1)
            assert msg == b"m" and len(fds) == 1
            with darwin.socket(fileno=fds[0]) as passed:
                assert passed.getsockname() == server.getsockname()
                assert passed.proto == 0  # no SO_PROTOCOL on Darwin: socketmodule.c sets 0


# -- c: sendmsg's control data is copied before the call -------------------------------


def _fill(sock: Any) -> None:
    """Send until the socket's buffer is full (non-blocking), then blocking again."""
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"f" * 65536)
    except BlockingIOError:
        pass
    sock.setblocking(True)


def _drain_until_fds(sock: Any, cmsg_space: int) -> list[int]:
    """Read until the message with fds arrives; the fds received."""
    while True:
        _data, ancdata, _flags, _addr = sock.recvmsg(1 << 20, cmsg_space)
        if ancdata:
            return [fd for _level, _kind, data in ancdata for fd in array.array("i", data)]


@pytest.mark.threads
def test_sendmsg_holds_the_control_buffer_in_the_stdlib() -> None:
    """The oracle: while ``sendmsg`` waits, its ancillary buffers stay exported."""
    a, b = stdlib.socketpair()
    with a, b:
        control = bytearray(array.array("i", [a.fileno()]).tobytes())
        saved = bytes(control)
        _fill(a)
        out: list[object] = []
        thread = threading.Thread(
            target=lambda: out.append(a.sendmsg([b"x"], [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, control)]))
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while True:  # until sendmsg holds the buffer (it soon waits for room)
                try:
                    control.__init__(saved)  # type: ignore[misc]  # a resize that keeps the contents
                except BufferError:
                    break
                assert time.monotonic() < deadline, "sendmsg never held the control buffer"
                time.sleep(0.001)
        finally:
            fds = _drain_until_fds(b, stdlib.CMSG_SPACE(4))
            thread.join(10)
        for fd in fds:
            os.close(fd)
        assert out == [1] and len(fds) == 1
    control.clear()  # released once sendmsg returned


@pytest.mark.threads
def test_sendmsg_copies_control_data_before_the_call() -> None:
    """sansock packs the control data into its own buffer before the syscall, so
    the caller's bytearray can be resized while sendmsg waits (docs/differences.rst)."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        control = bytearray(array.array("i", [a.fileno()]).tobytes())
        _fill(a)
        out: list[object] = []
        thread = threading.Thread(
            target=lambda: out.append(a.sendmsg([b"x"], [(net.SOL_SOCKET, net.SCM_RIGHTS, control)]))
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while thread.ident not in kernel.blocked_threads():
                assert time.monotonic() < deadline, "sendmsg never blocked"
                time.sleep(0.001)
            control.clear()  # no BufferError: the data was copied
            control.extend(b"not an fd at all")
        finally:
            fds = _drain_until_fds(b, net.CMSG_SPACE(4))
            thread.join(10)
        for fd in fds:
            with net.socket(fileno=fd) as passed:  # the fd sent is the one packed at the call
                assert passed.getsockname() == a.getsockname()
        assert out == [1] and len(fds) == 1


def test_darwin_profile_resolver_resolves_with_the_profiles_netdb_values(darwin: Binding) -> None:
    # The profile now has Libinfo's getaddrinfo/getnameinfo values (session 4:
    # it had none and this resolver said so with NotImplementedError).
    infos = darwin.getaddrinfo("127.0.0.1", 80, type=darwin.SOCK_STREAM)
    assert [info[4] for info in infos] == [("127.0.0.1", 80)]
    assert darwin.gethostbyname("localhost") == "127.0.0.1"
