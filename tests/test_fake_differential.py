"""The fake kernel against the real one: the same driver-level scenario on both.

Each scenario drives a :class:`sansock.Driver` with raw sockaddr bytes and
raw control buffers and records every outcome (result or errno name).  It runs
on ``sansock_native.NativeDriver`` (real syscalls: the oracle) and on
``sansock_fake.FakeKernel``; the two logs must be equal.  Values that differ
between any two kernels by design are normalised: fd numbers become labels in
order of creation, ports and autobind names become labels in order of
appearance, SCM_CREDENTIALS payloads become ``<ucred>``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sansock_native
from sansock._driver import Driver
from sansock._profiles import LINUX_X86_64 as ABI
from sansock_fake import FakeKernel

C = ABI.const
AF_UNIX, AF_INET, AF_INET6 = C("AF_UNIX"), C("AF_INET"), C("AF_INET6")
STREAM, DGRAM, SEQPACKET = C("SOCK_STREAM"), C("SOCK_DGRAM"), C("SOCK_SEQPACKET")
CLOEXEC, NONBLOCK = C("SOCK_CLOEXEC"), C("SOCK_NONBLOCK")
SOL_SOCKET, SCM_RIGHTS, SCM_CREDENTIALS = C("SOL_SOCKET"), C("SCM_RIGHTS"), C("SCM_CREDENTIALS")
MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, MSG_TRUNC = C("MSG_PEEK"), C("MSG_WAITALL"), C("MSG_DONTWAIT"), C("MSG_TRUNC")
MSG_CMSG_CLOEXEC = C("MSG_CMSG_CLOEXEC")
POLLIN, POLLOUT = C("POLLIN"), C("POLLOUT")


#: The host's net.core.{w,r}mem_max (the fake defaults to the stock 212992).
HOST_WMEM_MAX = int(Path("/proc/sys/net/core/wmem_max").read_text())
HOST_RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())


def cmsg_len(n: int) -> int:
    return 16 + n


def cmsg_space(n: int) -> int:
    return 16 + ((n + 7) & ~7)


def rights(*fds: int) -> bytes:
    """A control buffer with one SCM_RIGHTS item, packed as CPython does."""
    data = struct.pack(f"{len(fds)}i", *fds)
    return struct.pack("Qii", cmsg_len(len(data)), SOL_SOCKET, SCM_RIGHTS) + data + b"\0" * (
        cmsg_space(len(data)) - cmsg_len(len(data))
    )


def unix_addr(path: bytes) -> bytes:
    return struct.pack("H", AF_UNIX) + path


def inet_addr(port: int, host: bytes = b"\x7f\0\0\1") -> bytes:
    return struct.pack("H", AF_INET) + struct.pack("!H", port) + host + bytes(8)


def inet6_addr(port: int, host: bytes = bytes(15) + b"\1") -> bytes:
    return struct.pack("H", AF_INET6) + struct.pack("!HI", port, 0) + host + bytes(4)


class Run:
    """One scenario on one driver: calls, normalised outcomes, and cleanup."""

    def __init__(self, driver: Driver) -> None:
        self.d = driver
        self.log: list[tuple[Any, ...]] = []
        self.labels: dict[int, str] = {}
        self.ports: dict[int, str] = {}
        self.names: dict[bytes, str] = {}

    # -- normalisation ------------------------------------------------------
    def label(self, fd: int) -> str:
        if fd not in self.labels:
            self.labels[fd] = f"fd{len(self.labels)}"
        return self.labels[fd]

    def addr(self, raw: bytes) -> Any:
        if len(raw) < 2:
            return raw
        family = struct.unpack("H", raw[:2])[0]
        if family in (AF_INET, AF_INET6):
            port = struct.unpack("!H", raw[2:4])[0]
            if port not in self.ports:
                self.ports[port] = f"port{len(self.ports)}"
            host = raw[4:8] if family == AF_INET else raw[8:24]
            return ("inet", family, host, self.ports[port], len(raw))
        path = raw[2:]
        if len(path) == 6 and path[:1] == b"\0" and all(c in b"0123456789abcdef" for c in path[1:]):
            if path not in self.names:
                self.names[path] = f"autobind{len(self.names)}"
            return ("unix", self.names[path])
        return ("unix", path)

    def control(self, buf: bytes) -> list[Any]:
        items: list[Any] = []
        offset = 0
        while len(buf) - offset >= 16:
            length, level, type_ = struct.unpack_from("Qii", buf, offset)
            data = buf[offset + 16 : offset + max(16, min(length, len(buf) - offset))]
            if (level, type_) == (SOL_SOCKET, SCM_RIGHTS):
                fds = struct.unpack(f"{len(data) // 4}i", data[: len(data) // 4 * 4])
                items.append(("rights", length, [self.label(fd) for fd in fds]))
            elif (level, type_) == (SOL_SOCKET, SCM_CREDENTIALS):
                items.append(("creds", length, f"<ucred {len(data)} bytes>"))
            else:
                items.append((level, type_, length, data))
            offset += (length + 7) & ~7
            if length < 16:
                break
        return items

    # -- calls -------------------------------------------------------------
    def do(self, name: str, *args: Any, note: str = "") -> Any:
        if args and args[0] is None:
            self.log.append((name, note, "skipped: an earlier call failed"))
            return None
        try:
            result = getattr(self.d, name)(*args)
        except OSError as exc:
            assert type(exc) is type(OSError(exc.errno, "x")), "raised through OSError(errno, msg)"
            self.log.append((name, note, "error", os.strerror(exc.errno or 0)))
            return None
        self.log.append((name, note, self.norm(name, result, args)))
        return result

    def norm(self, name: str, result: Any, args: tuple[Any, ...]) -> Any:
        if name in ("socket", "dup"):
            return self.label(result)
        if name == "socketpair":
            return (self.label(result[0]), self.label(result[1]))
        if name == "accept":
            return (self.label(result[0]), self.addr(result[1]))
        if name in ("getsockname", "getpeername"):
            return self.addr(result)
        if name == "recvfrom_into":
            return (result[0], self.addr(result[1]))
        if name == "recvfrom":
            return (self.data(result[0], args), self.addr(result[1]))
        if name == "recvmsg":
            data = self.data(result[0], args)
            return (data, len(result[1]), self.control(result[1]), result[2], self.addr(result[3]))
        if name == "recvmsg_into":
            return (result[0], len(result[1]), self.control(result[1]), result[2], self.addr(result[3]))
        if name == "recv":
            return self.data(result, args)
        return result

    @staticmethod
    def data(data: bytes, args: tuple[Any, ...]) -> Any:
        """Received bytes; past the buffer (MSG_TRUNC) only the length is data."""
        bufsize = args[1]
        return data if len(data) <= bufsize else (data[:bufsize], "returned", len(data))

    def note(self, *what: Any) -> None:
        self.log.append(what)

    def close_all(self) -> None:
        for fd in list(self.labels):
            try:
                self.d.close(fd)
            except OSError:
                pass


def fd_of(accepted: Any) -> Any:
    """The fd of an ``accept`` result, or None when it failed."""
    return None if accepted is None else accepted[0]


Scenario = Callable[[Run, Path], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def run_on(driver: Driver, fn: Scenario, tmp: Path) -> list[tuple[Any, ...]]:
    run = Run(driver)
    try:
        fn(run, tmp)
    finally:
        run.close_all()
    return run.log


# ---------------------------------------------------------------- scenarios


def pair(r: Run, type_: int = STREAM) -> tuple[int, int]:
    a, b = r.d.socketpair(AF_UNIX, type_ | CLOEXEC, 0)
    r.label(a), r.label(b)
    return a, b


@scenario
def stream_basics(r: Run, tmp: Path) -> None:
    a, b = pair(r)
    r.do("send", a, b"hello", 0)
    r.do("send", a, b"world", 0)
    r.do("recv", b, 3, MSG_PEEK)
    r.do("recv", b, 100, MSG_PEEK)
    r.do("recv", b, 7, 0)
    r.do("recv", b, 0, MSG_DONTWAIT)
    r.do("recv", b, 100, 0)
    r.do("recv", b, 100, MSG_DONTWAIT)
    r.do("recv", b, 0, MSG_DONTWAIT)
    r.do("set_nonblocking", b, True)
    r.do("recv", b, 10, 0)
    r.do("send", a, b"abc", 0)
    r.do("recv", b, 10, MSG_WAITALL)
    r.do("recvmsg", b, 10, 0, 0)
    r.do("getsockname", a)
    r.do("getpeername", a)
    r.do("recvfrom", b, 10, 0)
    r.do("send", a, b"xyz", 0)
    r.do("recvfrom", b, 10, 0)


@scenario
def stream_capacity(r: Run, tmp: Path) -> None:
    for size in (1, 1024, 5000, 100_000):
        a, b = pair(r)
        r.do("set_nonblocking", a, True)
        r.do("poll", a, POLLIN | POLLOUT, 0)
        total = count = 0
        while True:
            try:
                total += r.d.send(a, b"x" * size, 0)
                count += 1
            except BlockingIOError:
                break
        r.note("filled", size, count, total)
        r.do("poll", a, POLLIN | POLLOUT, 0)
        r.do("poll", b, POLLIN | POLLOUT, 0)
        r.do("recv", b, size, 0)
        r.do("poll", a, POLLOUT, 0)


@scenario
def dgram_capacity_and_sizes(r: Run, tmp: Path) -> None:
    for type_ in (DGRAM, SEQPACKET):
        for size in (1, 1024):
            a, b = pair(r, type_)
            r.do("set_nonblocking", a, True)
            count = 0
            while True:
                try:
                    r.d.send(a, b"x" * size, 0)
                    count += 1
                except BlockingIOError:
                    break
            r.note("filled", type_, size, count)
        a, b = pair(r, type_)
        r.do("send", a, b"x" * 212960, 0, note="sndbuf - 32")
        r.do("send", a, b"x" * 212961, 0, note="above sndbuf - 32")
        r.do("recv", b, 10, 0)
        r.do("setsockopt", a, SOL_SOCKET, C("SO_SNDBUF"), 4096)
        r.do("send", a, b"x" * 8161, 0)
        r.do("send", a, b"x" * 8160, 0)


@scenario
def datagram_boundaries_and_truncation(r: Run, tmp: Path) -> None:
    for type_ in (DGRAM, SEQPACKET):
        a, b = pair(r, type_)
        for message in (b"one", b"two!", b"", b"three33"):
            r.do("send", a, message, 0)
        r.do("recv", b, 2, MSG_PEEK)
        r.do("recvmsg", b, 2, 0, 0)
        r.do("recvmsg", b, 2, 0, MSG_TRUNC)
        buf = bytearray(3)
        r.do("recv_into", b, buf, 3, MSG_TRUNC)
        r.do("recvfrom", b, 100, 0)
        r.do("recv", b, 100, MSG_DONTWAIT)
        r.do("recvmsg_into", b, [bytearray(2), bytearray(2)], 0, MSG_DONTWAIT)
        r.do("send", a, b"abcdef", 0)
        r.do("recvmsg_into", b, [bytearray(2), bytearray(3)], 0, 0)


@scenario
def peer_close_and_shutdown(r: Run, tmp: Path) -> None:
    for type_ in (STREAM, SEQPACKET, DGRAM):
        a, b = pair(r, type_)
        r.do("send", a, b"bye", 0)
        r.do("close", a)
        r.labels.pop(a)
        r.do("poll", b, POLLIN | POLLOUT, 0)
        r.do("recv", b, 10, MSG_DONTWAIT)
        r.do("recv", b, 10, MSG_DONTWAIT)
        r.do("send", b, b"x", MSG_DONTWAIT)
        r.do("send", b, b"x", MSG_DONTWAIT)
        # closed with unread data: the peer gets ECONNRESET
        a, b = pair(r, type_)
        r.do("send", b, b"unread", 0)
        r.do("close", a)
        r.labels.pop(a)
        r.do("poll", b, POLLIN | POLLOUT, 0)
        r.do("recv", b, 10, MSG_DONTWAIT)
        r.do("recv", b, 10, MSG_DONTWAIT)
        r.do("send", b, b"x", MSG_DONTWAIT)
        for how in (0, 1, 2, 3, -1):
            a, b = pair(r, type_)
            r.do("shutdown", a, how)
            r.do("poll", a, POLLIN | POLLOUT, 0)
            r.do("poll", b, POLLIN | POLLOUT, 0)
            r.do("send", a, b"x", MSG_DONTWAIT)
            r.do("recv", a, 10, MSG_DONTWAIT)
            r.do("recv", b, 10, MSG_DONTWAIT)
            r.do("send", b, b"y", MSG_DONTWAIT)
            r.do("recv", a, 10, MSG_DONTWAIT)


@scenario
def scm_rights_boundaries(r: Run, tmp: Path) -> None:
    a, b = pair(r)
    c, d = pair(r)
    r.do("send", a, b"ab", 0)
    r.do("sendmsg", a, [b"cd"], rights(c), 0, None)
    r.do("send", a, b"ef", 0)
    r.do("recvmsg", b, 100, 100, MSG_PEEK)
    r.do("recvmsg", b, 100, 100, 0)
    r.do("recvmsg", b, 100, 100, 0)
    r.do("sendmsg", a, [b"ab"], rights(c), 0, None)
    r.do("sendmsg", a, [b"cd"], rights(d, c), 0, None)
    r.do("recvmsg", b, 100, 100, 0)
    r.do("recvmsg", b, 1, 100, MSG_CMSG_CLOEXEC)
    r.do("recvmsg", b, 100, 100, 0)
    r.do("sendmsg", a, [b""], rights(c), 0, None, note="empty stream send drops the fds")
    r.do("recvmsg", b, 100, 100, MSG_DONTWAIT)
    r.do("sendmsg", a, [b"x", b"yz"], b"", 0, None)
    r.do("recvmsg", b, 100, 100, 0)


@scenario
def scm_rights_ctrunc(r: Run, tmp: Path) -> None:
    for type_ in (STREAM, DGRAM):
        a, b = pair(r, type_)
        c, _ = pair(r)
        for ancbufsize in (0, 1, 15, 16, 17, 19, 20, 22, 24, 27, 28, 31, 32, 40, 64):
            r.do("sendmsg", a, [b"x"], rights(c, c, c), 0, None)
            r.do("recvmsg", b, 10, ancbufsize, 0, note=str(ancbufsize))
        r.do("sendmsg", a, [b"data"], rights(c), 0, None)
        r.do("recvmsg", b, 10, 0, MSG_PEEK)
        r.do("recvmsg", b, 10, 64, MSG_PEEK)
        r.do("recvmsg", b, 10, 64, 0)


@scenario
def scm_credentials(r: Run, tmp: Path) -> None:
    for type_ in (STREAM, DGRAM):
        a, b = pair(r, type_)
        c, _ = pair(r)
        r.do("getsockopt", b, SOL_SOCKET, C("SO_PASSCRED"))
        r.do("setsockopt", b, SOL_SOCKET, C("SO_PASSCRED"), 1)
        r.do("getsockopt", b, SOL_SOCKET, C("SO_PASSCRED"))
        for ancbufsize in (0, 16, 20, 28, 32, 48, 64):
            r.do("sendmsg", a, [b"x"], rights(c), 0, None)
            r.do("recvmsg", b, 10, ancbufsize, MSG_DONTWAIT, note=str(ancbufsize))
        r.do("send", a, b"plain", 0)
        r.do("recvmsg", b, 10, 64, MSG_DONTWAIT)
        r.do("send", a, b"ab", 0)
        r.do("send", a, b"cd", 0)
        r.do("recvmsg", b, 10, 64, MSG_DONTWAIT)


@scenario
def bad_control_buffers(r: Run, tmp: Path) -> None:
    a, b = pair(r)
    header = struct.Struct("Qii")
    cases = {
        "cmsg_len below header": header.pack(8, SOL_SOCKET, SCM_RIGHTS) + bytes(8),
        "cmsg_len past buffer": header.pack(40, SOL_SOCKET, SCM_RIGHTS) + bytes(8),
        "bad fd": rights(9999),
        "negative fd": rights(-1),
        "three bytes": header.pack(19, SOL_SOCKET, SCM_RIGHTS) + b"abc" + bytes(5),
        "unknown type": header.pack(20, SOL_SOCKET, 99) + bytes(8),
        "other level": header.pack(20, 5, 99) + bytes(8),
        "short buffer": bytes(8),
        "creds wrong size": header.pack(20, SOL_SOCKET, SCM_CREDENTIALS) + bytes(8),
        "too many fds": rights(*([a] * 254)),
        "253 fds": rights(*([a] * 253)),
    }
    for note, control in cases.items():
        r.do("sendmsg", a, [b"x"], control, 0, None, note=note)
    for _ in range(5):
        r.do("recvmsg", b, 10, 0, MSG_DONTWAIT)
    u = r.do("socket", AF_INET, DGRAM | CLOEXEC, 0)
    r.do("sendmsg", u, [b"x"], rights(a), 0, inet_addr(9), note="rights on udp")
    r.do("sendmsg", a, [b"x"], b"", 0, unix_addr(b"\0nowhere"), note="address on connected stream")


@scenario
def fd_table(r: Run, tmp: Path) -> None:
    a = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    b = r.do("socket", AF_UNIX, DGRAM | CLOEXEC | NONBLOCK, 0)
    r.do("get_inheritable", a)
    r.do("get_nonblocking", a)
    r.do("get_nonblocking", b)
    d = r.do("dup", a)
    r.do("get_inheritable", d)
    r.do("set_inheritable", d, True)
    r.do("get_inheritable", d)
    r.do("get_inheritable", a)
    r.do("set_nonblocking", d, True)
    r.do("get_nonblocking", a, note="O_NONBLOCK is shared by dups")
    r.do("socket", AF_UNIX, 99, 0)
    r.do("socket", AF_UNIX, STREAM, 7)
    r.do("socket", 12345, STREAM, 0)
    r.do("socket", AF_INET, STREAM, C("IPPROTO_UDP"))
    r.do("socketpair", AF_INET, STREAM, 0)
    r.do("close", d)
    r.labels.pop(d)
    r.do("getsockname", d)


@scenario
def unix_names(r: Run, tmp: Path) -> None:
    path = str(tmp / "sock").encode()
    abstract = b"\0sansock-%d-%s" % (os.getpid(), tmp.parent.name.encode())
    srv = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("getsockname", srv)
    r.do("listen", srv, 5, note="unbound")
    r.do("bind", srv, unix_addr(path))
    r.do("bind", srv, unix_addr(path + b"2"), note="twice")
    r.do("getsockname", srv)
    other = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("bind", other, unix_addr(path), note="in use")
    cli = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("connect", cli, unix_addr(path), note="not listening")
    r.do("connect", cli, unix_addr(path + b"-missing"))
    r.do("listen", srv, 1)
    r.do("connect", cli, unix_addr(path))
    r.do("getpeername", cli)
    r.do("getsockname", cli)
    conn = fd_of(r.do("accept", srv, CLOEXEC))
    r.do("getsockname", conn)
    r.do("getpeername", conn)
    r.do("send", cli, b"hi", 0)
    r.do("recvfrom", conn, 10, 0)
    r.do("connect", cli, unix_addr(path), note="already connected")
    r.do("accept", srv, CLOEXEC | NONBLOCK) if False else None
    r.do("set_nonblocking", srv, True)
    r.do("accept", srv, CLOEXEC)
    r.do("getsockopt", srv, SOL_SOCKET, C("SO_ACCEPTCONN"))
    r.do("poll", srv, POLLIN | POLLOUT, 0)
    # backlog 1 holds 2 pending connections; the third non-blocking connect is EAGAIN
    extra = []
    for _ in range(3):
        s = r.do("socket", AF_UNIX, STREAM | CLOEXEC | NONBLOCK, 0)
        extra.append(s)
        r.do("connect", s, unix_addr(path))
    r.do("poll", srv, POLLIN | POLLOUT, 0)
    # dgram names
    d1 = r.do("socket", AF_UNIX, DGRAM | CLOEXEC, 0)
    d2 = r.do("socket", AF_UNIX, DGRAM | CLOEXEC, 0)
    r.do("bind", d1, unix_addr(abstract))
    r.do("getsockname", d1)
    r.do("connect", d1, unix_addr(path), note="stream name from dgram")
    r.do("sendto", d2, b"from unbound", 0, unix_addr(abstract))
    r.do("recvfrom", d1, 100, 0)
    r.do("bind", d2, struct.pack("H", AF_UNIX), note="autobind")
    r.do("getsockname", d2)
    r.do("sendto", d2, b"from autobound", 0, unix_addr(abstract))
    r.do("recvmsg", d1, 100, 0, 0)
    r.do("send", d2, b"x", 0, note="unconnected dgram")
    r.do("connect", d2, unix_addr(abstract))
    r.do("getpeername", d2)
    r.do("send", d2, b"connected", 0)
    r.do("recvfrom", d1, 100, 0)
    r.do("bind", d2, struct.pack("H", AF_INET) + bytes(14), note="wrong family")
    r.do("connect", d2, b"\x01", note="short address")
    r.do("close", srv)
    r.labels.pop(srv)
    c2 = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("connect", c2, unix_addr(path), note="listener closed, file remains")
    b2 = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("bind", b2, unix_addr(path), note="stale socket file")
    r.do("bind", b2, unix_addr(path + b"\0ignored"), note="NUL ends a path name")
    r.do("getsockname", b2)


@scenario
def abstract_name_outlives_accepted_sockets(r: Run, tmp: Path) -> None:
    # Only the listener holds its abstract name: closing an accepted socket
    # (which reports the same name) leaves it bound.
    abstract = unix_addr(b"\0sansock-held-%d-%s" % (os.getpid(), tmp.parent.name.encode()))
    srv = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("bind", srv, abstract)
    r.do("listen", srv, 5)
    cli = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("connect", cli, abstract)
    conn = fd_of(r.do("accept", srv, CLOEXEC))
    r.do("getsockname", conn)
    r.do("close", conn)
    r.labels.pop(conn)
    other = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("bind", other, abstract, note="still the listener's")
    again = r.do("socket", AF_UNIX, STREAM | CLOEXEC, 0)
    r.do("connect", again, abstract, note="still listening")
    r.do("close", srv)
    r.labels.pop(srv)
    r.do("bind", other, abstract, note="free once the listener is closed")


@scenario
def socket_options(r: Run, tmp: Path) -> None:
    socks = {
        "unix stream": r.d.socket(AF_UNIX, STREAM | CLOEXEC, 0),
        "unix dgram": r.d.socket(AF_UNIX, DGRAM | CLOEXEC, 0),
        "tcp": r.d.socket(AF_INET, STREAM | CLOEXEC, 0),
        "udp6": r.d.socket(AF_INET6, DGRAM | CLOEXEC, 0),
        "udp": r.d.socket(AF_INET, DGRAM | CLOEXEC, 0),
        "tcp6": r.d.socket(AF_INET6, STREAM | CLOEXEC, 0),
    }
    for fd in socks.values():
        r.label(fd)
    options = [
        (SOL_SOCKET, "SO_TYPE"), (SOL_SOCKET, "SO_DOMAIN"), (SOL_SOCKET, "SO_PROTOCOL"),
        (SOL_SOCKET, "SO_ERROR"), (SOL_SOCKET, "SO_ACCEPTCONN"), (SOL_SOCKET, "SO_SNDBUF"),
        (SOL_SOCKET, "SO_RCVBUF"), (SOL_SOCKET, "SO_REUSEADDR"), (SOL_SOCKET, "SO_KEEPALIVE"),
        (SOL_SOCKET, "SO_BROADCAST"), (SOL_SOCKET, "SO_RCVLOWAT"),
        (C("IPPROTO_TCP"), "TCP_NODELAY"), (C("IPPROTO_TCP"), "TCP_KEEPIDLE"),
        (C("IPPROTO_IP"), "IP_TTL"), (C("IPPROTO_IPV6"), "IPV6_V6ONLY"),
        (C("IPPROTO_UDP"), "UDP_SEGMENT"), (C("IPPROTO_TCP"), 12345), (C("IPPROTO_IP"), 12345),
    ]
    for kind, fd in socks.items():
        for level, name in options:
            number = C(name) if isinstance(name, str) else name
            r.do("getsockopt", fd, level, number, note=f"{kind} {name}")
        r.do("getsockopt", fd, SOL_SOCKET, 12345, note="unknown")
        r.do("getsockopt_bytes", fd, SOL_SOCKET, C("SO_LINGER"), 8)
        r.do("getsockopt_bytes", fd, SOL_SOCKET, C("SO_TYPE"), 2)
        r.do("getsockopt_bytes", fd, SOL_SOCKET, C("SO_RCVTIMEO"), 16)
        for name, value in (("SO_SNDBUF", 4096), ("SO_SNDBUF", 1), ("SO_RCVBUF", 1), ("SO_RCVBUF", 10**6),
                            ("SO_SNDBUF", -5), ("SO_REUSEADDR", 5), ("SO_KEEPALIVE", 1)):
            r.do("setsockopt", fd, SOL_SOCKET, C(name), value, note=f"{kind} {name}")
            r.do("getsockopt", fd, SOL_SOCKET, C(name))
        r.do("setsockopt", fd, C("IPPROTO_TCP"), C("TCP_NODELAY"), 7, note=kind)
        r.do("getsockopt", fd, C("IPPROTO_TCP"), C("TCP_NODELAY"), note=kind)
        r.do("setsockopt", fd, SOL_SOCKET, C("SO_TYPE"), 1, note="read-only")
        r.do("setsockopt_bytes", fd, SOL_SOCKET, C("SO_KEEPALIVE"), b"\1\0", 2, note="short")
        r.do("setsockopt_bytes", fd, SOL_SOCKET, C("SO_LINGER"), struct.pack("ii", 1, 5), 8)
        r.do("getsockopt_bytes", fd, SOL_SOCKET, C("SO_LINGER"), 8)


@scenario
def tcp_loopback(r: Run, tmp: Path) -> None:
    for family, make in ((AF_INET, inet_addr), (AF_INET6, inet6_addr)):
        srv = r.do("socket", family, STREAM | CLOEXEC, 0)
        r.do("poll", srv, POLLIN | POLLOUT, 0, note="fresh tcp")
        r.do("bind", srv, make(0))
        r.do("getsockname", srv)
        port = struct.unpack("!H", r.d.getsockname(srv)[2:4])[0]
        r.do("listen", srv, 0)
        r.do("getsockopt", srv, SOL_SOCKET, C("SO_ACCEPTCONN"))
        r.do("poll", srv, POLLIN | POLLOUT, 0, note="listening")
        cli = r.do("socket", family, STREAM | CLOEXEC, 0)
        r.do("recv", cli, 10, MSG_DONTWAIT, note="unconnected")
        r.do("send", cli, b"x", MSG_DONTWAIT, note="unconnected")
        r.do("getpeername", cli)
        r.do("connect", cli, make(port))
        r.do("connect", cli, make(port), note="again")
        r.do("getpeername", cli)
        r.do("poll", srv, POLLIN, 1000, note="pending connection")
        conn = fd_of(r.do("accept", srv, CLOEXEC))
        r.do("getsockname", conn)
        r.do("getpeername", conn)
        r.do("send", cli, b"hello", 0)
        r.do("poll", conn, POLLIN, 1000)
        r.do("recv", conn, 100, 0)
        r.do("shutdown", cli, C("SHUT_WR"))
        r.do("poll", conn, POLLIN, 1000)
        r.do("recv", conn, 100, 0, note="EOF after half-close")
        r.do("send", conn, b"still open", 0)
        r.do("poll", cli, POLLIN, 1000)
        r.do("recv", cli, 100, 0)
        r.do("send", cli, b"x", MSG_DONTWAIT, note="after SHUT_WR")
        # ECONNRESET: close with unread data
        cli2 = r.do("socket", family, STREAM | CLOEXEC, 0)
        r.do("connect", cli2, make(port))
        conn2 = fd_of(r.do("accept", srv, CLOEXEC))
        r.do("send", cli2, b"unread", 0)
        r.do("poll", conn2, POLLIN, 1000)
        r.do("close", conn2)
        r.labels.pop(conn2)
        r.do("poll", cli2, POLLIN, 1000)
        r.do("recv", cli2, 100, MSG_DONTWAIT, note="reset")
        r.do("recv", cli2, 100, MSG_DONTWAIT, note="after reset")
        r.do("send", cli2, b"x", MSG_DONTWAIT, note="after reset")
        # peer closed cleanly: first send succeeds, the RST makes the next EPIPE
        cli3 = r.do("socket", family, STREAM | CLOEXEC, 0)
        r.do("connect", cli3, make(port))
        conn3 = fd_of(r.do("accept", srv, CLOEXEC))
        r.do("close", conn3)
        r.labels.pop(conn3)
        r.do("poll", cli3, POLLIN, 1000)
        r.do("recv", cli3, 100, 0, note="EOF")
        r.do("send", cli3, b"x", 0, note="first send after peer close")
        r.do("poll", cli3, POLLIN, 1000)
        r.do("send", cli3, b"x", 0, note="second send after peer close")
        r.do("getsockopt", cli3, SOL_SOCKET, C("SO_ERROR"))
        # non-blocking connect
        cli4 = r.do("socket", family, STREAM | CLOEXEC | NONBLOCK, 0)
        r.do("connect", cli4, make(port))
        r.do("poll", cli4, POLLOUT, 1000)
        r.do("getsockopt", cli4, SOL_SOCKET, C("SO_ERROR"))
        r.do("connect", cli4, make(port), note="connected")
        # address in use
        dup_srv = r.do("socket", family, STREAM | CLOEXEC, 0)
        r.do("bind", dup_srv, make(port))
        r.do("setsockopt", dup_srv, SOL_SOCKET, C("SO_REUSEADDR"), 1)
        r.do("bind", dup_srv, make(port), note="reuseaddr vs listener")
        r.do("close", srv)
        r.labels.pop(srv)
        # refused, blocking and non-blocking
        refused = r.do("socket", family, STREAM | CLOEXEC, 0)
        r.do("connect", refused, make(port))
        refused_nb = r.do("socket", family, STREAM | CLOEXEC | NONBLOCK, 0)
        r.do("connect", refused_nb, make(port))
        r.do("poll", refused_nb, POLLOUT, 1000)
        r.do("getsockopt", refused_nb, SOL_SOCKET, C("SO_ERROR"))
        r.do("getsockopt", refused_nb, SOL_SOCKET, C("SO_ERROR"))
        r.do("bind", r.d.socket(family, STREAM | CLOEXEC, 0), make(0, b"\x0a\0\0\1" if family == AF_INET else bytes(15) + b"\2"), note="not local")


@scenario
def udp_loopback(r: Run, tmp: Path) -> None:
    for family, make in ((AF_INET, inet_addr), (AF_INET6, inet6_addr)):
        a = r.do("socket", family, DGRAM | CLOEXEC, 0)
        b = r.do("socket", family, DGRAM | CLOEXEC, 0)
        r.do("poll", a, POLLIN | POLLOUT, 0)
        r.do("bind", a, make(0))
        port = struct.unpack("!H", r.d.getsockname(a)[2:4])[0]
        r.do("send", b, b"x", 0, note="no destination")
        for message in (b"first", b"", b"third datagram"):
            r.do("sendto", b, message, 0, make(port))
        r.do("getsockname", b)
        r.do("poll", a, POLLIN, 1000)
        r.do("recvfrom", a, 3, 0)
        r.do("recvmsg", a, 100, 0, 0)
        r.do("recvmsg", a, 5, 0, MSG_TRUNC)
        r.do("recv", a, 100, MSG_DONTWAIT)
        r.do("sendto", b, b"x" * 70000, 0, make(port))
        r.do("connect", b, make(port))
        r.do("getpeername", b)
        r.do("send", b, b"connected", 0)
        r.do("poll", a, POLLIN, 1000)
        r.do("recvfrom", a, 100, 0)
        # a connected socket only hears from its peer
        c = r.do("socket", family, DGRAM | CLOEXEC, 0)
        bport = struct.unpack("!H", r.d.getsockname(b)[2:4])[0]
        r.do("sendto", c, b"stranger", 0, make(bport))
        r.do("sendto", a, b"peer", 0, make(bport))
        r.do("poll", b, POLLIN, 1000)
        r.do("recv", b, 100, MSG_DONTWAIT)
        r.do("recv", b, 100, MSG_DONTWAIT)
        # EADDRINUSE and SO_REUSEADDR
        d = r.do("socket", family, DGRAM | CLOEXEC, 0)
        r.do("bind", d, make(port))
        r.do("close", a)
        r.labels.pop(a)
        r.do("send", b, b"to a closed port", 0)
        r.do("poll", b, POLLIN | POLLOUT, 100)
        r.do("recv", b, 100, MSG_DONTWAIT, note="ICMP port unreachable")
        r.do("recv", b, 100, MSG_DONTWAIT)


@scenario
def poll_states(r: Run, tmp: Path) -> None:
    for family, type_ in ((AF_UNIX, STREAM), (AF_UNIX, DGRAM), (AF_UNIX, SEQPACKET), (AF_INET, DGRAM)):
        fd = r.do("socket", family, type_ | CLOEXEC, 0)
        r.do("poll", fd, POLLIN | POLLOUT, 0, note=f"fresh {family} {type_}")
        r.do("poll", fd, 0, 0)
    r.do("poll", 999, POLLIN, 0, note="closed fd")
    a, b = pair(r)
    r.do("poll", a, POLLIN | POLLOUT | C("POLLRDHUP"), 0)


# ------------------------------------------------------------------- runner


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fake_matches_kernel(name: str, tmp_path: Path) -> None:
    fn = SCENARIOS[name]
    (tmp_path / "native").mkdir()
    (tmp_path / "fake").mkdir()
    real = run_on(sansock_native.NativeDriver(), fn, tmp_path / "native")
    fake = run_on(FakeKernel(wmem_max=HOST_WMEM_MAX, rmem_max=HOST_RMEM_MAX), fn, tmp_path / "fake")
    # The fake's namespace is its own, so each kernel gets its own directory;
    # make the paths comparable.
    fake_text = repr(fake).replace(str(tmp_path / "fake"), "<tmp>")
    real_text = repr(real).replace(str(tmp_path / "native"), "<tmp>")
    if fake_text != real_text:
        for index, (r, f) in enumerate(zip(real, fake)):
            if repr(r).replace(str(tmp_path / "native"), "<tmp>") != repr(f).replace(str(tmp_path / "fake"), "<tmp>"):
                pytest.fail(f"step {index}: kernel {r!r} but fake {f!r}")
        pytest.fail(f"logs differ in length: kernel {len(real)} steps, fake {len(fake)}")
