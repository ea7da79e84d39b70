"""``socket.sendfile`` and ``sendfile(2)`` from a real file to a socket, on both drivers.

Files are real (the test opens them); on the fake only the socket is fake
(drivers/sansock_fake/_sendfile.py).  The stdlib on the real kernel is the
oracle: ``os.sendfile`` for the syscall's return values and errors,
``socket.sendfile`` for the method's.
"""

from __future__ import annotations

import errno
import os
import socket as stdlib
import threading
from pathlib import Path
from typing import Any

import pytest

import sansock
from sansock import Binding

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


def _file(tmp_path: Path, data: bytes = PAYLOAD, name: str = "payload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _recv_exactly(sock: Any, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def _sendfile_calls(mod: Any, path: Path) -> list[tuple[object, ...]]:
    """What ``sock.sendfile`` returns and leaves behind, for *mod* (sansock or the stdlib)."""
    out: list[tuple[object, ...]] = []
    size = path.stat().st_size
    for offset, count in ((0, None), (3, 10), (100, 0), (size, None), (size + 50, 7), (size - 5, 100)):
        a, b = mod.socketpair()
        with a, b, open(path, "rb") as f:
            f.seek(1)
            try:
                sent = a.sendfile(f, offset, count)
            except ValueError as exc:  # count 0
                out.append((offset, count, str(exc), f.tell()))
                continue
            out.append((offset, count, sent, f.tell(), _recv_exactly(b, sent)))
    return out


def test_sendfile_returns_and_file_position_match_stdlib(net: Binding, tmp_path: Path) -> None:
    """Offset and count, count 0 (ValueError), at and past the end of the
    file: the bytes sent, the data, and the file's position (CPython seeks it to
    offset + sent when it sent anything, else leaves it)."""
    path = _file(tmp_path)
    ours, theirs = _sendfile_calls(net, path), _sendfile_calls(stdlib, path)
    assert ours == theirs
    assert theirs[1] == (3, 10, 10, 13, PAYLOAD[3:13])
    assert theirs[2] == (100, 0, "count must be a positive integer (got 0)", 1)
    assert theirs[3][2:4] == (0, 1)


def test_sendfile_of_an_empty_file_sends_nothing(net: Binding, tmp_path: Path) -> None:
    path = _file(tmp_path, b"", "empty")
    for mod in (net, stdlib):
        a, b = mod.socketpair()
        with a, b, open(path, "rb") as f:
            assert a.sendfile(f) == 0
            assert a._sendfile_use_sendfile(f) == 0
            assert f.tell() == 0


def test_sendfile_use_sendfile_directly(net: Binding, tmp_path: Path) -> None:
    """``_sendfile_use_sendfile`` (CPython's tests call it) sends by sendfile(2)
    and gives up (``_GiveupOnSendfile`` with the errno) where os.sendfile refuses
    before sending anything: a write-only file is EBADF."""
    path = _file(tmp_path)
    results = []
    for mod, giveup in ((net, sansock._GiveupOnSendfile), (stdlib, stdlib._GiveupOnSendfile)):  # type: ignore[attr-defined]
        a, b = mod.socketpair()
        with a, b, open(path, "rb") as f, open(path, "ab") as wf:
            sent = a._sendfile_use_sendfile(f, 5, 1000)
            data = _recv_exactly(b, sent)
            with pytest.raises(giveup) as info:
                a._sendfile_use_sendfile(wf)
            cause = info.value.args[0]
            results.append((sent, data, f.tell(), type(cause).__name__, cause.errno))
    assert results[0] == results[1] == (1000, PAYLOAD[5:1005], 1005, "OSError", errno.EBADF)


def _syscall_outcomes(sendfile: Any, out: Any, other: Any, path: Path, tmp_path: Path) -> list[object]:
    """sendfile(2) with each kind of in_fd: the result or the errno."""
    results: list[object] = []

    def outcome(in_fd: int, offset: int = 0, count: int = 5) -> object:
        try:
            return sendfile(out.fileno(), in_fd, offset, count)
        except OSError as exc:
            return type(exc).__name__, errno.errorcode[exc.errno or 0]

    with open(path, "rb") as f, open(path, "ab") as wf:
        results.append(outcome(f.fileno()))  # a regular file
        results.append(outcome(f.fileno(), 0, 0))  # count 0
        results.append(outcome(f.fileno(), 10**9))  # past the end
        results.append(outcome(f.fileno(), -1))  # rw_verify_area: EINVAL
        results.append(outcome(wf.fileno()))  # not open for reading: EBADF
        closed = os.dup(f.fileno())
        os.close(closed)
        results.append(outcome(closed))  # EBADF
        r, w = os.pipe()
        try:
            os.write(w, b"hello")
            results.append(outcome(r))  # a pipe with an offset: ESPIPE
        finally:
            os.close(r)
            os.close(w)
        results.append(outcome(other.fileno()))  # a socket: ESPIPE
        d = os.open(tmp_path, os.O_RDONLY)
        try:
            results.append(outcome(d))  # a directory: EINVAL
        finally:
            os.close(d)
    return results


def test_sendfile_syscall_results_and_errors_match_os_sendfile(net: Binding, tmp_path: Path) -> None:
    path = _file(tmp_path)
    a, b = net.socketpair()
    with a, b:
        ours = _syscall_outcomes(net.driver.sendfile, a, b, path, tmp_path)
    c, d = stdlib.socketpair()
    with c, d:
        theirs = _syscall_outcomes(os.sendfile, c, d, path, tmp_path)
    assert ours == theirs
    assert theirs == [
        5, 0, 0,
        ("OSError", "EINVAL"),
        ("OSError", "EBADF"),
        ("OSError", "EBADF"),
        ("OSError", "ESPIPE"),
        ("OSError", "ESPIPE"),
        ("OSError", "EINVAL"),
    ]


def test_file_size_of_a_real_fd(net: Binding, tmp_path: Path) -> None:
    """fstat(2): a real file's size; a closed fd is EBADF; a socket's is 0."""
    path = _file(tmp_path)
    with open(path, "rb") as f:
        assert net.driver.file_size(f.fileno()) == len(PAYLOAD)
        closed = os.dup(f.fileno())
    os.close(closed)
    with pytest.raises(OSError) as info:
        net.driver.file_size(closed)
    assert info.value.errno == errno.EBADF
    a, b = net.socketpair()
    with a, b:
        assert net.driver.file_size(a.fileno()) == 0


def _fill_nonblocking(sendfile: Any, sock: Any, path: Path) -> tuple[int, int, str]:
    """sendfile(2) on a non-blocking socket until its buffer is full."""
    size = path.stat().st_size
    sock.setblocking(False)
    with open(path, "rb") as f:
        first = sendfile(sock.fileno(), f.fileno(), 0, size)
        total = first
        while True:
            try:
                total += sendfile(sock.fileno(), f.fileno(), total, size - total)
            except OSError as exc:
                return first, total, type(exc).__name__ + " " + errno.errorcode[exc.errno or 0]


def test_nonblocking_sendfile_takes_what_fits_then_eagain(net: Binding, tmp_path: Path) -> None:
    path = _file(tmp_path, b"x" * (16 << 20), "big")
    for sendfile, mod in ((net.driver.sendfile, net), (os.sendfile, stdlib)):
        a, b = mod.socketpair()
        with a, b:
            first, total, error = _fill_nonblocking(sendfile, a, path)
            assert 0 < first <= total < 16 << 20
            assert error == "BlockingIOError EAGAIN"
            assert a.gettimeout() == 0.0
            with open(path, "rb") as f, pytest.raises(ValueError, match="non-blocking sockets are not supported"):
                a.sendfile(f)


def test_sendfile_in_timeout_mode_sends_everything_to_a_reader(net: Binding, tmp_path: Path) -> None:
    """A timeout-mode socket waits for room between sendfile(2) calls (virtual
    time on the fake) and sends the whole file to a reading peer."""
    data = os.urandom(1 << 20)
    path = _file(tmp_path, data, "mib")
    a, b = net.socketpair()
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(_recv_exactly(b, len(data))))
    with a, b, open(path, "rb") as f:
        a.settimeout(30)
        reader.start()
        try:
            assert a.sendfile(f) == len(data)
        finally:
            reader.join()
        assert f.tell() == len(data)
    assert received == [data]


def test_sendfile_times_out_when_nobody_reads(net: Binding, tmp_path: Path) -> None:
    """The buffer fills, the wait times out: TimeoutError, as the stdlib; the
    file's position is where sending stopped."""
    path = _file(tmp_path, b"y" * (16 << 20), "big")
    outcomes = []
    for mod in (net, stdlib):
        a, b = mod.socketpair()
        with a, b, open(path, "rb") as f:
            a.settimeout(0.01)
            with pytest.raises(TimeoutError) as info:
                a.sendfile(f)
            outcomes.append((str(info.value), 0 < f.tell() < 16 << 20))
    assert outcomes[0] == outcomes[1] == ("timed out", True)


def test_sendfile_to_a_closed_peer_or_after_shutdown_is_epipe(net: Binding, tmp_path: Path) -> None:
    path = _file(tmp_path)
    outcomes: list[list[object]] = []
    for sendfile, mod in ((net.driver.sendfile, net), (os.sendfile, stdlib)):
        row: list[object] = []
        for how in ("peer closed", "shut wr"):
            a, b = mod.socketpair()
            with a, b, open(path, "rb") as f:
                if how == "peer closed":
                    b.close()
                else:
                    a.shutdown(stdlib.SHUT_WR)
                try:
                    row.append(sendfile(a.fileno(), f.fileno(), 0, 10))
                except OSError as exc:
                    row.append(type(exc).__name__)
        outcomes.append(row)
    assert outcomes[0] == outcomes[1] == ["BrokenPipeError", "BrokenPipeError"]


# -- the fake alone: the trace and the fault script ------------------------------------
def test_fake_sendfile_is_traced_and_scripted(tmp_path: Path) -> None:
    from sansock_fake import FakeKernel

    path = _file(tmp_path)
    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b, open(path, "rb") as f:
        fds = (a.fileno(), f.fileno())
        kernel.faults.limit("sendfile", 7000)
        kernel.faults.fail("sendfile", errno.EINTR, nth=2)
        assert kernel.sendfile(a.fileno(), f.fileno(), 0, len(PAYLOAD)) == 7000  # one short write, not per turn
        with pytest.raises(InterruptedError):
            kernel.sendfile(a.fileno(), f.fileno(), 7000, 10)
        assert kernel.sendfile(a.fileno(), f.fileno(), 7000, 10) == 10
        assert _recv_exactly(b, 7010) == PAYLOAD[:7010]
    calls = [e for e in kernel.trace if e.call == "sendfile"]
    assert [e.outcome for e in calls] == ["ok 7000", "EINTR", "ok 10"]
    assert calls[0].args == (*fds, 0, len(PAYLOAD))


def test_sendfile_number_arguments_match_os_sendfile(net: Binding, tmp_path: Path) -> None:
    """offset and count are parsed as os.sendfile parses them (``__index__``,
    ``Py_off_t`` and ``Py_ssize_t``), before anything is sent."""
    from decimal import Decimal

    path = _file(tmp_path)
    cases: list[tuple[object, object]] = [(Decimal(3), 1), (0, 2.0)]
    if hasattr(net.driver, "trace"):
        # The fake only: a driver takes C-sized ints; the core converts
        # socket.sendfile's numbers as os.sendfile does before calling it
        # (tests/test_defects_session5.py::test_sendfile_numbers_at_the_extremes_are_converted_as_os_sendfile),
        # and the fake, called directly, checks them as a C binding would.
        cases += [(2**63, 1), (0, 2**63), (-(2**63) - 1, 1)]
    results = []
    sendfile: Any
    for sendfile, mod in ((net.driver.sendfile, net), (os.sendfile, stdlib)):
        row: list[object] = []
        a, b = mod.socketpair()
        with a, b, open(path, "rb") as f:
            for offset, count in cases:
                try:
                    row.append(sendfile(a.fileno(), f.fileno(), offset, count))
                except (TypeError, OverflowError) as exc:
                    row.append((type(exc).__name__, str(exc)))
        results.append(row)
    assert results[0] == results[1]
