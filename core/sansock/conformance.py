"""The driver conformance suite: what every :class:`sansock.Driver` must do.

Plain functions named ``check_*`` that take a driver factory and raise
``AssertionError`` when the driver breaks the contract (in the style of
trio's ``testing`` checks).  They only call the driver they are given: raw
addresses and control buffers are built here from the driver's own
:class:`~sansock.ABI`, so the same checks run on the real kernel and on the
fake one.  Every fd a check creates is closed before it returns.

>>> all(name.startswith("check_") for name in CHECKS)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._abi import ABI
from ._driver import DirectCalls, Driver, Unfinished

__all__ = ["CHECKS", "run_all"]

DriverFactory = Callable[[], Driver]


# -- raw bytes for the driver's ABI ---------------------------------------------
def _family(abi: ABI, family: int) -> bytes:
    if abi.sockaddr.has_sa_len:  # BSD: sa_len is filled by the caller's size
        raise NotImplementedError("conformance checks build Linux-style sockaddrs only")
    return family.to_bytes(2, abi.byteorder)


def inet_sockaddr(abi: ABI, host: tuple[int, int, int, int], port: int) -> bytes:
    """``struct sockaddr_in`` (ip(7)): family, port and address big-endian, zero pad."""
    raw = _family(abi, abi.const("AF_INET")) + port.to_bytes(2, "big") + bytes(host)
    return raw.ljust(abi.sockaddr.sizes["sockaddr_in"], b"\0")


def inet_port(raw: bytes) -> int:
    """The port of a raw ``sockaddr_in``/``sockaddr_in6``."""
    return int.from_bytes(raw[2:4], "big")


def unix_abstract_sockaddr(abi: ABI, name: bytes) -> bytes:
    """``struct sockaddr_un`` with an abstract name (unix(7)): NUL then *name*."""
    return _family(abi, abi.const("AF_UNIX")) + b"\0" + name


def scm_rights(abi: ABI, fds: list[int]) -> bytes:
    """One ``SOL_SOCKET``/``SCM_RIGHTS`` control message, padded to CMSG_SPACE."""
    layout = abi.cmsg
    data = b"".join(fd.to_bytes(abi.sizeof_int, abi.byteorder, signed=True) for fd in fds)
    header = bytearray(layout.hdr_size)
    header[0 : layout.len_size] = (layout.hdr_size + len(data)).to_bytes(
        layout.len_size, abi.byteorder
    )
    level = abi.const("SOL_SOCKET").to_bytes(abi.sizeof_int, abi.byteorder)
    kind = abi.const("SCM_RIGHTS").to_bytes(abi.sizeof_int, abi.byteorder)
    header[layout.level_offset : layout.level_offset + abi.sizeof_int] = level
    header[layout.type_offset : layout.type_offset + abi.sizeof_int] = kind
    return (bytes(header) + data).ljust(layout.hdr_size + layout.aligned(len(data)), b"\0")


def scm_rights_fds_in(abi: ABI, control: bytes) -> list[int]:
    """The fds of the first SCM_RIGHTS message of a received control buffer."""
    layout = abi.cmsg
    assert len(control) >= layout.hdr_size, f"no cmsghdr in {control!r}"
    cmsg_len = int.from_bytes(control[0 : layout.len_size], abi.byteorder)
    level = int.from_bytes(
        control[layout.level_offset : layout.level_offset + abi.sizeof_int], abi.byteorder
    )
    kind = int.from_bytes(
        control[layout.type_offset : layout.type_offset + abi.sizeof_int], abi.byteorder
    )
    assert (level, kind) == (abi.const("SOL_SOCKET"), abi.const("SCM_RIGHTS")), (level, kind)
    data = control[layout.hdr_size : min(cmsg_len, len(control))]
    size = abi.sizeof_int
    return [
        int.from_bytes(data[i : i + size], abi.byteorder, signed=True)
        for i in range(0, len(data) - size + 1, size)
    ]


# -- plumbing --------------------------------------------------------------------
@contextmanager
def _fds(driver: Driver) -> Iterator[list[int]]:
    """A list of fds that are all closed on exit, whatever happens."""
    fds: list[int] = []
    try:
        yield fds
    finally:
        for fd in fds:
            try:
                driver.close(fd)
            except OSError:
                pass


def _expect_errno(name: str, driver: Driver, call: Callable[[], object]) -> None:
    code = driver.abi.errno(name)
    try:
        call()
    except OSError as exc:
        assert exc.errno == code, f"expected {name} ({code}), got {exc!r}"
        assert exc.strerror == driver.strerror(code), exc.strerror
        assert type(exc) is type(OSError(code, "")), f"{exc!r} is not narrowed as OSError() does"
        return
    raise AssertionError(f"expected OSError {name}, the call succeeded")


def _pair(driver: Driver, fds: list[int], kind: str = "SOCK_STREAM") -> tuple[int, int]:
    abi = driver.abi
    a, b = driver.socketpair(
        abi.const("AF_UNIX"), abi.const(kind) | abi.const("SOCK_CLOEXEC"), 0
    )
    fds += [a, b]
    return a, b


def _tcp_socket(driver: Driver, fds: list[int]) -> int:
    """A close-on-exec AF_INET stream socket, closed with *fds*."""
    abi = driver.abi
    fd = driver.socket(abi.const("AF_INET"), abi.const("SOCK_STREAM") | abi.const("SOCK_CLOEXEC"), 0)
    fds.append(fd)
    return fd


def _tcp_listener(driver: Driver, fds: list[int]) -> tuple[int, bytes]:
    abi = driver.abi
    lfd = _tcp_socket(driver, fds)
    driver.bind(lfd, inet_sockaddr(abi, (127, 0, 0, 1), 0))
    driver.listen(lfd, 8)
    return lfd, driver.getsockname(lfd)


# -- the checks ------------------------------------------------------------------
def check_socketpair_send_recv(make_driver: DriverFactory) -> None:
    driver = make_driver()
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        assert driver.send(a, b"hello", 0) == 5
        assert driver.recv(b, 100, 0) == b"hello"
        assert driver.send(b, bytearray(b"back"), 0) == 4
        assert driver.send(b, memoryview(b"xxyy")[2:], 0) == 2
        buf = bytearray(10)
        n = driver.recv_into(a, buf, 10, 0)
        assert buf[:n] == b"backyy"[:n] and n >= 4
        if n < 6:
            assert driver.recv(a, 10, 0) == b"backyy"[n:]


def check_recvmsg_into_scatter(make_driver: DriverFactory) -> None:
    driver = make_driver()
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        assert driver.sendmsg(a, [b"abc", bytearray(b"defg"), memoryview(b"hij")], b"", 0, None) == 10
        bufs = [bytearray(4), bytearray(3), bytearray(8)]
        n, control, flags, addr = driver.recvmsg_into(b, bufs, 0, 0)
        assert (n, control, flags, addr) == (10, b"", 0, b"")
        assert bytes(bufs[0]) == b"abcd" and bytes(bufs[1]) == b"efg" and bufs[2][:3] == b"hij"
        assert driver.sendmsg(a, [b"one"], b"", 0, None) == 3
        data, control, flags, addr = driver.recvmsg(b, 100, 0, 0)
        assert (data, control, flags, addr) == (b"one", b"", 0, b"")


def check_scm_rights(make_driver: DriverFactory) -> None:
    """An fd sent through SCM_RIGHTS arrives as a new, usable fd."""
    driver = make_driver()
    abi = driver.abi
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        x, y = _pair(driver, fds)
        control = scm_rights(abi, [x])
        assert driver.sendmsg(a, [b"F"], control, 0, None) == 1
        space = len(scm_rights(abi, [0, 0]))
        data, got, flags, _ = driver.recvmsg(b, 16, space, abi.const("MSG_CMSG_CLOEXEC"))
        assert data == b"F" and flags & abi.const("MSG_CTRUNC") == 0
        (z,) = scm_rights_fds_in(abi, got)
        fds.append(z)
        assert z not in (a, b, x, y)
        assert driver.send(z, b"via the passed fd", 0) == 17
        assert driver.recv(y, 100, 0) == b"via the passed fd"


def check_nonblocking_eagain(make_driver: DriverFactory) -> None:
    driver = make_driver()
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        assert driver.get_nonblocking(a) is False
        driver.set_nonblocking(a, True)
        assert driver.get_nonblocking(a) is True
        _expect_errno("EAGAIN", driver, lambda: driver.recv(a, 10, 0))
        _expect_errno("EAGAIN", driver, lambda: driver.recv_into(a, bytearray(4), 4, 0))
        _expect_errno("EAGAIN", driver, lambda: driver.recvmsg(a, 10, 0, 0))
        driver.set_nonblocking(a, False)
        assert driver.get_nonblocking(a) is False
        _expect_errno(
            "EAGAIN", driver, lambda: driver.recv(b, 10, driver.abi.const("MSG_DONTWAIT"))
        )


def check_getsockopt(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    sol, so_type = abi.const("SOL_SOCKET"), abi.const("SO_TYPE")
    with _fds(driver) as fds:
        a, _ = _pair(driver, fds)
        d, _ = _pair(driver, fds, "SOCK_DGRAM")
        assert driver.getsockopt(a, sol, so_type) == abi.const("SOCK_STREAM")
        assert driver.getsockopt(d, sol, so_type) == abi.const("SOCK_DGRAM")
        raw = driver.getsockopt_bytes(a, sol, so_type, 16)
        assert raw == abi.const("SOCK_STREAM").to_bytes(abi.sizeof_int, abi.byteorder)
        assert driver.getsockopt(a, sol, abi.const("SO_ERROR")) == 0


def check_setsockopt(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    sol = abi.const("SOL_SOCKET")
    with _fds(driver) as fds:
        lfd, _ = _tcp_listener(driver, fds)
        reuse = abi.const("SO_REUSEADDR")
        driver.setsockopt(lfd, sol, reuse, 1)
        assert driver.getsockopt(lfd, sol, reuse) != 0
        driver.setsockopt_bytes(lfd, sol, reuse, (0).to_bytes(abi.sizeof_int, abi.byteorder), 4)
        assert driver.getsockopt(lfd, sol, reuse) == 0


def check_inet_stream(make_driver: DriverFactory) -> None:
    """bind/listen/connect/accept on 127.0.0.1, then data both ways."""
    driver = make_driver()
    abi = driver.abi
    with _fds(driver) as fds:
        lfd, laddr = _tcp_listener(driver, fds)
        port = inet_port(laddr)
        assert port != 0 and laddr[4:8] == bytes((127, 0, 0, 1))
        c = _tcp_socket(driver, fds)
        driver.connect(c, inet_sockaddr(abi, (127, 0, 0, 1), port))
        s, peer = driver.accept(lfd, abi.const("SOCK_CLOEXEC"))
        fds.append(s)
        assert peer == driver.getsockname(c)
        assert driver.getpeername(c) == laddr
        assert driver.get_inheritable(s) is False
        assert driver.send(c, b"ping", 0) == 4
        assert driver.recv(s, 4, abi.const("MSG_WAITALL")) == b"ping"
        assert driver.send(s, b"pong", 0) == 4
        assert driver.recv(c, 4, abi.const("MSG_WAITALL")) == b"pong"


def check_unix_abstract(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    stream = abi.const("SOCK_STREAM") | abi.const("SOCK_CLOEXEC")
    with _fds(driver) as fds:
        lfd = driver.socket(abi.const("AF_UNIX"), stream, 0)
        fds.append(lfd)
        name = b"sansock-conformance-%d" % driver.monotonic_ns()
        addr = unix_abstract_sockaddr(abi, name)
        driver.bind(lfd, addr)
        assert driver.getsockname(lfd) == addr
        driver.listen(lfd, 4)
        c = driver.socket(abi.const("AF_UNIX"), stream, 0)
        fds.append(c)
        driver.connect(c, addr)
        s, _peer = driver.accept(lfd, abi.const("SOCK_CLOEXEC"))
        fds.append(s)
        assert driver.getpeername(c) == addr
        assert driver.send(c, b"abstract", 0) == 8
        assert driver.recv(s, 100, 0) == b"abstract"


def check_datagram_sendto_recvfrom(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    dgram = abi.const("SOCK_DGRAM") | abi.const("SOCK_CLOEXEC")
    with _fds(driver) as fds:
        r = driver.socket(abi.const("AF_INET"), dgram, 0)
        fds.append(r)
        driver.bind(r, inet_sockaddr(abi, (127, 0, 0, 1), 0))
        raddr = driver.getsockname(r)
        w = driver.socket(abi.const("AF_INET"), dgram, 0)
        fds.append(w)
        driver.bind(w, inet_sockaddr(abi, (127, 0, 0, 1), 0))
        assert driver.sendto(w, b"datagram", 0, raddr) == 8
        data, src = driver.recvfrom(r, 100, 0)
        assert (data, src) == (b"datagram", driver.getsockname(w))
        assert driver.sendto(w, b"0123456789", 0, raddr) == 10
        data, _c, flags, src = driver.recvmsg(r, 4, 0, 0)
        assert data == b"0123" and flags & abi.const("MSG_TRUNC")
        assert src == driver.getsockname(w)
        assert driver.sendto(w, b"into", 0, raddr) == 4
        buf = bytearray(8)
        n, src = driver.recvfrom_into(r, buf, 8, 0)
        assert (n, bytes(buf[:4]), src) == (4, b"into", driver.getsockname(w))


def check_ebadf_after_close(make_driver: DriverFactory) -> None:
    driver = make_driver()
    fds: list[int] = []
    a, b = _pair(driver, fds)
    driver.close(a)
    driver.close(b)
    sol, so_type = driver.abi.const("SOL_SOCKET"), driver.abi.const("SO_TYPE")
    for call in (
        lambda: driver.recv(a, 1, 0),
        lambda: driver.send(a, b"x", 0),
        lambda: driver.getsockopt(a, sol, so_type),
        lambda: driver.getsockname(a),
        lambda: driver.set_nonblocking(a, True),
        lambda: driver.close(a),
        lambda: driver.dup(a),
    ):
        _expect_errno("EBADF", driver, call)


def check_shutdown_eof(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        driver.send(a, b"last", 0)
        driver.shutdown(a, abi.const("SHUT_WR"))
        assert driver.recv(b, 100, 0) == b"last"
        assert driver.recv(b, 100, 0) == b""
        _expect_errno("EPIPE", driver, lambda: driver.send(a, b"x", abi.const("MSG_NOSIGNAL")))
        # The other direction still works after a half-close.
        assert driver.send(b, b"reply", 0) == 5
        assert driver.recv(a, 100, 0) == b"reply"


def check_connect_refused(make_driver: DriverFactory) -> None:
    driver = make_driver()
    with _fds(driver) as fds:
        lfd, laddr = _tcp_listener(driver, fds)
        driver.close(fds.pop())  # nobody listens on that port any more
        del lfd
        c = _tcp_socket(driver, fds)
        _expect_errno("ECONNREFUSED", driver, lambda: driver.connect(c, laddr))


def check_addr_in_use(make_driver: DriverFactory) -> None:
    driver = make_driver()
    with _fds(driver) as fds:
        _lfd, laddr = _tcp_listener(driver, fds)
        other = _tcp_socket(driver, fds)
        _expect_errno("EADDRINUSE", driver, lambda: driver.bind(other, laddr))


def check_enotconn(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    with _fds(driver) as fds:
        s = _tcp_socket(driver, fds)
        _expect_errno("ENOTCONN", driver, lambda: driver.getpeername(s))
        _expect_errno("ENOTCONN", driver, lambda: driver.shutdown(s, abi.const("SHUT_RDWR")))


def check_dup_and_inheritable(make_driver: DriverFactory) -> None:
    driver = make_driver()
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        c = driver.dup(a)
        fds.append(c)
        assert c not in (a, b)
        assert driver.get_inheritable(c) is False
        driver.set_inheritable(c, True)
        assert driver.get_inheritable(c) is True
        driver.set_inheritable(c, False)
        assert driver.get_inheritable(c) is False
        driver.send(c, b"dup", 0)
        assert driver.recv(b, 10, 0) == b"dup"


def check_poll_and_clock(make_driver: DriverFactory) -> None:
    driver = make_driver()
    abi = driver.abi
    pollin, pollout = abi.const("POLLIN"), abi.const("POLLOUT")
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        t0 = driver.monotonic_ns()
        assert driver.poll(b, pollin, 0) == 0
        assert driver.poll(a, pollout, 0) & pollout
        driver.send(a, b"!", 0)
        assert driver.poll(b, pollin, 0) & pollin
        assert driver.monotonic_ns() >= t0


def check_poll_call_capability(make_driver: DriverFactory) -> None:
    """The optional ``PollCallDriver`` methods, when the driver has them: a
    result when the fd is ready, ``Unfinished`` without an error (and
    nothing consumed) when it is not, the syscall's EBADF on a closed fd."""
    driver = make_driver()
    poll_send = getattr(driver, "poll_send", None)
    poll_recv = getattr(driver, "poll_recv", None)
    if poll_send is None and poll_recv is None:
        return  # optional: the core makes the three calls itself
    assert poll_send is not None and poll_recv is not None, "PollCallDriver needs both methods"
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        t0 = driver.monotonic_ns()
        early = poll_recv(b, 10, 0)
        assert isinstance(early, Unfinished) and early.error is None, early
        assert t0 <= early.start_ns <= driver.monotonic_ns()
        assert poll_send(a, b"ready", 0) == 5
        assert poll_recv(b, 10, 0) == b"ready"
        c, d = _pair(driver, fds)
        fds.remove(c)
        driver.close(c)
        closed = poll_recv(c, 1, 0)
        assert isinstance(closed, Unfinished) and closed.polling is False, closed
        assert isinstance(closed.error, OSError) and closed.error.errno == driver.abi.errno("EBADF")


def check_direct_calls(make_driver: DriverFactory) -> None:
    """The optional ``DirectCalls``, when the driver offers them for its own
    class: the counts and values its methods give (sendmsg and recvmsg when
    offered), the bytes in the receive buffer's and message block's views and
    in a bytearray's export, ``recv_into``'s refused sizes, and the errors in
    band (EBADF on a closed fd: ``-errno``, or ``INT_MIN - errno`` from
    getsockopt)."""
    driver = make_driver()
    direct = getattr(driver, "direct_calls", None)
    if not isinstance(direct, DirectCalls) or type(driver) is not direct.driver_type:
        return  # optional (and the core ignores another class's)
    abi = driver.abi
    sol, so_type, ebadf = abi.const("SOL_SOCKET"), abi.const("SO_TYPE"), abi.errno("EBADF")
    int_min = -(2 ** (8 * abi.sizeof_int - 1))
    with _fds(driver) as fds:
        a, b = _pair(driver, fds)
        assert direct.send(a, b"ready", 5, 0) == 5
        buffer, view = direct.new_recv_buffer()
        assert direct.recv(b, buffer, direct.recv_size, 3) == 3
        assert view[:3] == b"rea"
        assert direct.recv(b, buffer, direct.recv_size, direct.recv_size) == 2
        assert view[:2] == b"dy"
        assert direct.getsockopt(a, sol, so_type) == abi.const("SOCK_STREAM")
        # recv_into: nbytes 0 is the whole export, an empty request no
        # syscall, and nbytes negative or beyond the export refused in band.
        target = bytearray(b"----")
        export = direct.export(target)
        assert direct.send(a, b"abcde", 5, 0) == 5
        assert direct.recv_into(b, export, len(export), 1, 0) == 1
        assert direct.recv_into(b, export, len(export), 0, 0) == 4
        assert direct.recv_into(b, export, len(export), 5, 0) <= -0x10000
        assert direct.recv_into(b, export, len(export), -1, 0) <= -0x10000
        del export  # the export ends with it
        assert target == b"bcde"
        target.clear()  # no export left
        export = direct.export(target)
        assert direct.recv_into(-1, export, len(export), 0, 0) == 0  # no syscall, no EBADF
        del export
        c, _ = _pair(driver, fds)
        fds.remove(c)
        driver.close(c)
        assert direct.send(c, b"x", 1, 0) == -ebadf
        assert direct.recv(c, buffer, direct.recv_size, 1) == -ebadf
        assert direct.getsockopt(c, sol, so_type) == int_min - ebadf
        export = direct.export(bytearray(1))
        assert direct.recv_into(c, export, len(export), 0, 0) == -ebadf
        del export
        if direct.sendmsg is not None:
            assert direct.sendmsg(a, b"msg", 3, b"", 0, 0) == 3
            assert direct.sendmsg(c, b"x", 1, b"", 0, 0) == -ebadf
        if direct.recvmsg is not None:
            if direct.sendmsg is None:
                assert driver.send(a, b"msg", 0) == 3
            block, view, out = direct.new_msg_buffer()
            assert direct.recvmsg(b, block, 2, 0, 0) == 2
            assert view[:2] == b"ms" and list(out)[1:] == [0, 0]  # no control data, no address
            assert direct.recvmsg(b, block, direct.msg_size, direct.msg_control_size, 0) == 1
            assert view[:1] == b"g"
            assert direct.recvmsg(c, block, 1, 0, 0) == -ebadf


#: Every check, by name.
CHECKS: dict[str, Callable[[DriverFactory], None]] = {
    name: fn for name, fn in sorted(globals().items()) if name.startswith("check_") and callable(fn)
}


def run_all(make_driver: DriverFactory) -> None:
    """Run every check against drivers made by *make_driver*."""
    for check in CHECKS.values():
        check(make_driver)
