"""Types of the stdlib-shaped API (mypy-checked, never run).

``assert_type`` states what must hold; ``# type: ignore[code]`` under
``warn_unused_ignores`` states what must be rejected.
"""

import io
from typing import Any

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

import sansock
from sansock import Binding, Driver


def check_socket_methods(s: sansock.socket) -> None:
    assert_type(s.getsockopt(1, 2), int)
    assert_type(s.getsockopt(1, 2, 16), bytes)
    s.setsockopt(1, 2, 1)
    s.setsockopt(1, 2, b"\x01\x00\x00\x00")
    s.setsockopt(1, 2, None, 4)
    s.setsockopt(1, 2, None)  # type: ignore[call-overload]
    assert_type(s.sendto(b"x", ("127.0.0.1", 9)), int)
    assert_type(s.sendto(b"x", 0, ("127.0.0.1", 9)), int)
    s.sendto("text", ("127.0.0.1", 9))  # type: ignore[call-overload]
    assert_type(s.recv(10), bytes)
    assert_type(s.recv_into(bytearray(10)), int)
    data, ancdata, flags, address = s.recvmsg(10, 64)
    assert_type(data, bytes)
    assert_type(ancdata, list[tuple[int, int, bytes]])
    assert_type(flags, int)
    assert_type(address, Any)
    assert_type(s.recvmsg_into([bytearray(4)])[0], int)
    assert_type(s.sendmsg([b"x"], [(1, 1, b"\0\0\0\0")]), int)
    assert_type(s.gettimeout(), float | None)
    assert_type(s.fileno(), int)
    assert_type(s.detach(), int)
    assert_type(s.accept()[0], sansock.socket)
    assert_type(s.dup(), sansock.socket)
    with s as same:
        assert_type(same, sansock.socket)


def check_makefile_modes(s: sansock.socket) -> None:
    assert_type(s.makefile(), io.TextIOWrapper)
    assert_type(s.makefile("r"), io.TextIOWrapper)
    assert_type(s.makefile("rb"), io.BufferedReader)
    assert_type(s.makefile("wb"), io.BufferedWriter)
    assert_type(s.makefile("rwb"), io.BufferedRWPair)
    assert_type(s.makefile("rb", buffering=0), sansock.SocketIO)
    s.makefile("rt")  # type: ignore[call-overload]


def check_module_functions() -> None:
    a, b = sansock.socketpair()
    assert_type(a, sansock.socket)
    assert_type(sansock.CMSG_LEN(4), int)
    assert_type(sansock.CMSG_SPACE(4), int)
    assert_type(sansock.getdefaulttimeout(), float | None)
    assert_type(sansock.inet_aton("127.0.0.1"), bytes)
    assert_type(sansock.gethostname(), str)
    assert_type(sansock.create_connection(("localhost", 80)), sansock.socket)
    assert_type(sansock.recv_fds(a, 10, 2)[1], list[int])
    sansock.CMSG_LEN()  # type: ignore[call-arg]


def check_bindings(driver: Driver) -> None:
    net = sansock.using(driver)
    assert_type(net, Binding)
    assert_type(net.socketpair(), tuple[sansock.socket, sansock.socket])
    assert_type(net.CMSG_SPACE(8), int)
    assert_type(net.driver, Driver)
    with sansock.swap_default_driver(driver) as bound:
        assert_type(bound, Binding)
    sansock.using(object())  # type: ignore[arg-type]


def check_errors() -> None:
    assert issubclass(sansock.timeout, OSError)
    assert_type(sansock.error, type[OSError])
    try:
        pass
    except sansock.gaierror as exc:
        assert_type(exc, sansock.gaierror)


def check_sockettype_construction() -> None:
    # CPython's _socket.socket (socket.SocketType) can be constructed; so can sansock's.
    raw = sansock.SocketType(sansock.AF_INET, sansock.SOCK_DGRAM)
    assert_type(raw, sansock.SocketType)
    assert_type(raw.family, int)
    assert_type(sansock.SocketType(fileno=3).fileno(), int)
    raw.makefile()  # type: ignore[attr-defined]
