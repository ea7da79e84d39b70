"""Real fds (pipes, files) passed with SCM_RIGHTS over AF_UNIX, on both drivers.

Files are real and only sockets are fake: a real fd sent over a fake AF_UNIX
socket arrives as a real fd of the process on the same open file description
(``dup``), so ``os.read``/``os.write``/``os.lseek`` work on it as after a
real ``recvmsg`` (CPython's ``test_socket`` SCM_RIGHTS tests pass files from
``tempfile.mkstemp`` and pipes).  The fake holds its own dup while the
message is in flight, closed when the message is received, dropped (closed
socket, MSG_CTRUNC) or collected (drivers/sansock_fake/_realfiles.py).  The
stdlib on the real kernel is the oracle.
"""

from __future__ import annotations

import array
import errno
import os
import socket as stdlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sansock import Binding


def _real_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@contextmanager
def _no_real_fd_leak() -> Iterator[None]:
    """The process's fd table ends as it began (what the block opened, it closed)."""
    before = _real_fds()
    yield
    assert _real_fds() - before == set()


def _rights(fds: list[int]) -> list[tuple[int, int, bytes]]:
    return [(stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS, array.array("i", fds).tobytes())]


def _fds_of(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, type_, data in ancdata:
        assert (level, type_) == (stdlib.SOL_SOCKET, stdlib.SCM_RIGHTS)
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return list(fds)


def _pipe_roundtrip(mod: Any) -> tuple[object, ...]:
    """A pipe's read end sent with send_fds, closed by the sender, then read
    through the received fd; its inheritability and what closing it does."""
    r, w = os.pipe()
    try:
        a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM)
        with a, b:
            assert mod.send_fds(a, [b"msg"], [r]) == 3
            os.close(r)  # the message holds the file, as Linux's scm_fp_copy does
            r = -1
            msg, fds, flags, _ = mod.recv_fds(b, 10, 4)
        assert len(fds) == 1
        (got,) = fds
        try:
            os.write(w, b"through the pipe")
            data = os.read(got, 100)
            inheritable = os.get_inheritable(got)
        finally:
            os.close(got)
        os.write(w, b"x")  # every read end is closed: EPIPE (Python ignores SIGPIPE)
    except BrokenPipeError:
        return msg, flags, data, inheritable, "EPIPE"
    finally:
        if r >= 0:
            os.close(r)
        os.close(w)
    return msg, flags, data, inheritable, "written"


def test_a_pipe_sent_over_a_unix_socket_arrives_as_a_readable_real_fd(net: Binding) -> None:
    with _no_real_fd_leak():
        ours = _pipe_roundtrip(net)
    theirs = _pipe_roundtrip(stdlib)
    assert ours == theirs == (b"msg", 0, b"through the pipe", True, "EPIPE")


def _file_roundtrip(mod: Any, tmp_path: Path, cloexec: bool) -> tuple[object, ...]:
    """Two files sent in one SCM_RIGHTS item with sendmsg, received with
    recvmsg (MSG_CMSG_CLOEXEC or not): contents, shared offsets, inheritability."""
    paths = [tmp_path / f"f{i}" for i in range(2)]
    for i, path in enumerate(paths):
        path.write_bytes(str(i).encode() * 3)
    originals = [os.open(path, os.O_RDWR) for path in paths]
    try:
        a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM)
        with a, b:
            assert a.sendmsg([b"files"], _rights(originals)) == 5
            flags = mod.MSG_CMSG_CLOEXEC if cloexec else 0
            msg, ancdata, msg_flags, _ = b.recvmsg(10, mod.CMSG_SPACE(4 * 4), flags)
        fds = _fds_of(ancdata)
        try:
            assert not set(fds) & set(originals)
            contents = [os.pread(fd, 10, 0) for fd in fds]
            os.lseek(fds[0], 2, os.SEEK_SET)  # one open file description: the offset is shared
            shared = os.lseek(originals[0], 0, os.SEEK_CUR)
            inheritable = [os.get_inheritable(fd) for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
    finally:
        for fd in originals:
            os.close(fd)
    return msg, msg_flags, len(ancdata), contents, shared, inheritable


@pytest.mark.parametrize("cloexec", [False, True])
def test_files_sent_with_sendmsg_share_their_open_file_description(net: Binding, tmp_path: Path, cloexec: bool) -> None:
    with _no_real_fd_leak():
        ours = _file_roundtrip(net, tmp_path, cloexec)
    theirs = _file_roundtrip(stdlib, tmp_path, cloexec)
    assert ours == theirs
    assert theirs[3:] == ([b"000", b"111"], 2, [not cloexec] * 2)


def _peek_then_read(mod: Any) -> tuple[object, ...]:
    """MSG_PEEK installs copies of the fds (unix_peek_fds); the read installs them again."""
    r, w = os.pipe()
    got: list[int] = []
    try:
        a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM)
        with a, b:
            a.sendmsg([b"p"], _rights([r]))
            peeked = b.recvmsg(1, mod.CMSG_SPACE(4), mod.MSG_PEEK)
            got += _fds_of(peeked[1])
            read = b.recvmsg(1, mod.CMSG_SPACE(4))
            got += _fds_of(read[1])
        os.write(w, b"ab")
        return peeked[0], read[0], len(got), len(set(got)), [os.read(fd, 1) for fd in got]
    finally:
        for fd in (r, w, *got):
            os.close(fd)


def test_peeking_a_message_with_a_real_fd_installs_a_copy(net: Binding) -> None:
    with _no_real_fd_leak():
        ours = _peek_then_read(net)
    assert ours == _peek_then_read(stdlib) == (b"p", b"p", 2, 2, [b"a", b"b"])


def _dropped(mod: Any, how: str) -> tuple[object, ...]:
    """Real fds that never reach the reader: control buffer too small
    (MSG_CTRUNC: the kernel closes what did not fit), message never read."""
    r, w = os.pipe()
    try:
        a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM)
        with a, b:
            a.sendmsg([b"d"], _rights([r, w, r]))
            if how == "ctrunc":
                msg, ancdata, flags, _ = b.recvmsg(1, mod.CMSG_SPACE(4))
                fds = _fds_of(ancdata)
                for fd in fds:
                    os.close(fd)
                return msg, len(fds), bool(flags & mod.MSG_CTRUNC)
            if how == "no buffer":
                msg, ancdata, flags, _ = b.recvmsg(1)
                return msg, len(ancdata), bool(flags & mod.MSG_CTRUNC)
        return ("closed unread",)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("how", ["ctrunc", "no buffer", "closed unread"])
def test_real_fds_that_never_reach_the_reader_are_closed(net: Binding, how: str) -> None:
    with _no_real_fd_leak():
        ours = _dropped(net, how)
    assert ours == _dropped(stdlib, how)


def test_sending_a_closed_real_fd_is_ebadf_and_sends_nothing(net: Binding) -> None:
    for mod in (net, stdlib):
        a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM)
        r, w = os.pipe()
        os.close(w)  # (made after the sockets: its number stays free)
        try:
            with a, b:
                with _no_real_fd_leak(), pytest.raises(OSError) as info:
                    a.sendmsg([b"x"], _rights([r, w]))  # the first one is open
                assert info.value.errno == errno.EBADF
                b.setblocking(False)
                with pytest.raises(BlockingIOError):
                    b.recv(1)
        finally:
            os.close(r)


def test_closing_a_received_real_fd_through_the_driver(net: Binding) -> None:
    """``socket.close(fd)`` (the stdlib's closes any fd) of a received real fd
    closes it; CPython's ``err_closefds`` after a failed recvmsg goes the same way."""
    r, w = os.pipe()
    try:
        a, b = net.socketpair(net.AF_UNIX, net.SOCK_STREAM)
        with a, b:
            a.sendmsg([b"c"], _rights([r]))
            (got,) = _fds_of(b.recvmsg(1, net.CMSG_SPACE(4))[1])
        net.close(got)
        with pytest.raises(OSError) as info:
            os.fstat(got)
        assert info.value.errno == errno.EBADF
    finally:
        os.close(r)
        os.close(w)


def _fileno_errors(mod: Any, path: Path) -> list[object]:
    out: list[object] = []
    with open(path, "wb") as f:
        for args in ((), (mod.AF_INET, mod.SOCK_STREAM)):
            try:
                mod.socket(*args, fileno=f.fileno())
            except OSError as exc:
                out.append(errno.errorcode[exc.errno or 0])
        closed = os.dup(f.fileno())
    os.close(closed)
    try:
        mod.socket(mod.AF_INET, mod.SOCK_STREAM, fileno=closed)
    except OSError as exc:
        out.append(errno.errorcode[exc.errno or 0])
    return out


def test_a_socket_on_the_fd_of_a_real_file_is_enotsock(net: Binding, tmp_path: Path) -> None:
    """``socket(fileno=)`` of a regular file: ``ENOTSOCK`` (``sockfd_lookup``), of a
    closed fd ``EBADF`` (CPython's ``test_socket_fileno_requires_socket_fd``)."""
    path = tmp_path / "file"
    assert _fileno_errors(net, path) == _fileno_errors(stdlib, path) == ["ENOTSOCK", "ENOTSOCK", "EBADF"]
