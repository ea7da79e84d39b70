"""API-level benchmark: ``sansock.socket`` (native driver) vs ``socket.socket``.

The loops of issue 7, each written once against the socket API and run on
both modules in the same process: interleaved rounds, pinned to one CPU,
the median of per-round ratios ``stdlib time / sansock time`` (higher is
better, 1.0 = parity); see ``_harness.py``.

    .venv/bin/python bench/bench_api.py [--rounds N] [--target S] [--bulk-mib M]

The bulk loops move ``--bulk-mib`` (default 256) MiB per run from a forked
child that ``sendall``s 64 KiB chunks; the child uses the same module as the
parent's side of the round.
"""

from __future__ import annotations

import argparse
import array
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sansock
from _harness import Loop, Spec, clock, floors_met, report, select, set_clock, timed, wall_timed

CHUNK = 64 * 1024
Cleanup = Callable[[], None]
SOL_SOCKET = socket.SOL_SOCKET


def _closer(*socks: Any) -> Cleanup:
    def close() -> None:
        for s in socks:
            s.close()

    return close


def _both(body: Callable[[Any], tuple[Callable[[int], None], Cleanup]]) -> Callable[[], tuple[Loop, Loop, Cleanup]]:
    """A case from one loop body written against a socket module."""

    def make() -> tuple[Loop, Loop, Cleanup]:
        std, c1 = body(socket)
        ours, c2 = body(sansock)

        def cleanup() -> None:
            c1()
            c2()

        return timed(std), timed(ours), cleanup

    return make


def ping_pong(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    a, b = mod.socketpair()

    def loop(n: int) -> None:
        asend, arecv, bsend, brecv = a.send, a.recv, b.send, b.recv
        for _ in range(n):
            asend(b"x")
            brecv(1)
            bsend(b"y")
            arecv(1)

    return loop, _closer(a, b)


def timeout_mode(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    a, b = mod.socketpair()
    a.settimeout(5.0)
    b.settimeout(5.0)

    def loop(n: int) -> None:
        asend, brecv = a.send, b.recv
        for _ in range(n):
            asend(b"x")
            brecv(1)

    return loop, _closer(a, b)


def getsockopt_rcvbuf(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    a, b = mod.socketpair()
    opt = socket.SO_RCVBUF

    def loop(n: int) -> None:
        g = a.getsockopt
        for _ in range(n):
            g(SOL_SOCKET, opt)

    return loop, _closer(a, b)


def scm_rights(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    a, b = mod.socketpair()
    r, w = os.pipe()
    anc = [(SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", w))]
    space = socket.CMSG_SPACE(4)
    unpack = struct.Struct("i").unpack
    close = os.close

    def loop(n: int) -> None:
        sendmsg, recvmsg = a.sendmsg, b.recvmsg
        for _ in range(n):
            sendmsg([b"x"], anc)
            _, ancdata, _, _ = recvmsg(1, space)
            close(unpack(ancdata[0][2])[0])

    def cleanup() -> None:
        a.close()
        b.close()
        os.close(r)
        os.close(w)

    return loop, cleanup


def recvmsg_into_3(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    a, b = mod.socketpair()
    payload = b"z" * 48
    bufs = [bytearray(16), bytearray(16), bytearray(16)]

    def loop(n: int) -> None:
        send, rmi = a.send, b.recvmsg_into
        for _ in range(n):
            send(payload)
            rmi(bufs)

    return loop, _closer(a, b)


# -- the loops users write (issue 13): the module's own constants and helpers --
def scm_rights_array(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    """The socket documentation's spelling: an ``array.array("i")`` of fds
    sent with the module's own constants, ``recvmsg(1, CMSG_SPACE(4))``, the
    received fd read back with ``frombytes`` and closed."""
    a, b = mod.socketpair()
    r, w = os.pipe()
    close = os.close

    def loop(n: int) -> None:
        for _ in range(n):
            a.sendmsg([b"x"], [(mod.SOL_SOCKET, mod.SCM_RIGHTS, array.array("i", [w]))])
            msg, ancdata, flags, addr = b.recvmsg(1, mod.CMSG_SPACE(4))
            fds = array.array("i")
            fds.frombytes(ancdata[0][2])
            close(fds[0])

    def cleanup() -> None:
        a.close()
        b.close()
        os.close(r)
        os.close(w)

    return loop, cleanup


def scm_rights_bytes(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    """As :func:`scm_rights_array`, the fd packed with ``struct.pack("i", fd)``
    on each call."""
    a, b = mod.socketpair()
    r, w = os.pipe()
    close = os.close

    def loop(n: int) -> None:
        for _ in range(n):
            a.sendmsg([b"x"], [(mod.SOL_SOCKET, mod.SCM_RIGHTS, struct.pack("i", w))])
            msg, ancdata, flags, addr = b.recvmsg(1, mod.CMSG_SPACE(4))
            close(struct.unpack("i", ancdata[0][2])[0])

    def cleanup() -> None:
        a.close()
        b.close()
        os.close(r)
        os.close(w)

    return loop, cleanup


def send_recv_fds(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    """``send_fds(a, [b"x"], [fd])`` + ``recv_fds(b, 1, 1)`` + close the fd."""
    a, b = mod.socketpair()
    r, w = os.pipe()
    close = os.close

    def loop(n: int) -> None:
        for _ in range(n):
            mod.send_fds(a, [b"x"], [w])
            msg, fds, flags, addr = mod.recv_fds(b, 1, 1)
            close(fds[0])

    def cleanup() -> None:
        a.close()
        b.close()
        os.close(r)
        os.close(w)

    return loop, cleanup


def tcp_connection(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    """TCP connection setup on loopback: ``create_connection(addr)`` +
    ``accept()`` + a 5-byte ``sendall``/``recv`` + close both."""
    listener = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    addr = listener.getsockname()

    def loop(n: int) -> None:
        for _ in range(n):
            c = mod.create_connection(addr)
            s, _ = listener.accept()
            c.sendall(b"hello")
            s.recv(5)
            c.close()
            s.close()

    return loop, _closer(listener)


def makefile_lines(mod: Any, lines: int = 100) -> tuple[Callable[[int], None], Cleanup]:
    """A line protocol: the peer ``sendall``s 100 lines of 40 bytes, the
    reader takes them with ``readline()`` on ``makefile("rb")``."""
    a, b = mod.socketpair()
    f = b.makefile("rb")
    block = b"0123456789abcdefghijklmnopqrstuvwxyzABC\n" * lines

    def loop(n: int) -> None:
        sendall, readline = a.sendall, f.readline
        for _ in range(n):
            sendall(block)
            for _ in range(lines):
                readline()

    def cleanup() -> None:
        f.close()
        a.close()
        b.close()

    return loop, cleanup


def sendall_large(size: int = 1 << 20) -> Callable[[], tuple[Loop, Loop, Cleanup]]:
    """``sendall`` of one large ``bytes`` object (*size* bytes) on a
    socketpair whose other end a forked child drains (with ``os.read``, the
    same on both sides); only the parent's ``sendall`` is timed, in wall time."""

    def side(mod: Any) -> tuple[Loop, Cleanup]:
        a, b = mod.socketpair()
        pid = os.fork()
        if pid == 0:  # child: drain until EOF
            try:
                # Keep only b: a copy of another case's writer would hold its EOF back.
                fd, read = b.fileno(), os.read
                os.closerange(3, fd)
                os.closerange(fd + 1, 1 << 16)
                while read(fd, 1 << 20):
                    pass
            finally:
                os._exit(0)
        b.close()
        data = b"\xab" * size

        def loop(n: int) -> None:
            sendall = a.sendall
            for _ in range(n):
                sendall(data)

        def cleanup() -> None:
            a.close()
            os.waitpid(pid, 0)

        return wall_timed(loop), cleanup

    def make() -> tuple[Loop, Loop, Cleanup]:
        std, c1 = side(socket)
        ours, c2 = side(sansock)

        def cleanup() -> None:
            c1()
            c2()

        return std, ours, cleanup

    return make


def udp_sendto_recvfrom(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    """UDP on loopback: ``sendto(64 B, addr)`` + ``recvfrom(2048)``."""
    tx = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
    rx = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    addr = rx.getsockname()
    payload = b"d" * 64

    def loop(n: int) -> None:
        sendto, recvfrom = tx.sendto, rx.recvfrom
        for _ in range(n):
            sendto(payload, addr)
            recvfrom(2048)

    return loop, _closer(tx, rx)


def getsockopt_own_constants(mod: Any) -> tuple[Callable[[int], None], Cleanup]:
    """``getsockopt(m.SOL_SOCKET, m.SO_RCVBUF)`` with the module's constants
    looked up on each call, as code that says ``socket.SO_RCVBUF`` does."""
    a, b = mod.socketpair()

    def loop(n: int) -> None:
        for _ in range(n):
            a.getsockopt(mod.SOL_SOCKET, mod.SO_RCVBUF)

    return loop, _closer(a, b)


def bulk(total: int, into: bool) -> Callable[[], tuple[Loop, Loop, Cleanup]]:
    """A forked child ``sendall``s *total* bytes in 64 KiB chunks; the parent
    reads them with ``recv_into`` one 64 KiB buffer (or ``recv(65536)``)."""
    buf = bytearray(CHUNK)

    def run(mod: Any) -> float:
        a, b = mod.socketpair()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child
            try:
                b.close()
                chunk = b"\xab" * CHUNK
                sendall = a.sendall
                for _ in range(total // CHUNK):
                    sendall(chunk)
                a.close()
            finally:
                os._exit(0)
        a.close()
        got = 0
        try:
            if into:
                ri = b.recv_into
                while True:
                    n = ri(buf)
                    if not n:
                        break
                    got += n
            else:
                rv = b.recv
                while True:
                    data = rv(CHUNK)
                    if not data:
                        break
                    got += len(data)
        finally:
            b.close()
            os.waitpid(pid, 0)
        assert got == total, (got, total)
        return time.perf_counter() - t0

    def make() -> tuple[Loop, Loop, Cleanup]:
        return (lambda n: run(socket)), (lambda n: run(sansock)), lambda: None

    return make


def udp_batch(batch: int = 64, size: int = 64) -> Callable[[], tuple[Loop, Loop, Cleanup]]:
    """*batch* datagrams of *size* bytes are queued (untimed, by the stdlib on
    both sides), then received: a ``recvfrom`` loop on the stdlib, one
    ``sansock.mmsg.recvmmsg`` on sansock.  Only the receiving is timed."""

    def make() -> tuple[Loop, Loop, Cleanup]:
        from sansock import mmsg

        rx_std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx_std.bind(("127.0.0.1", 0))
        rx_ours = sansock.socket(sansock.AF_INET, sansock.SOCK_DGRAM)
        rx_ours.bind(("127.0.0.1", 0))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        payload = b"d" * size
        perf = clock()

        def fill(addr: Any) -> None:
            sendto = tx.sendto
            for _ in range(batch):
                sendto(payload, addr)

        def std(n: int) -> float:
            addr = rx_std.getsockname()
            recvfrom = rx_std.recvfrom
            total = 0.0
            for _ in range(n):
                fill(addr)
                t0 = perf()
                for _ in range(batch):
                    recvfrom(2048)
                total += perf() - t0
            return total

        def ours(n: int) -> float:
            addr = rx_ours.getsockname()
            recvmmsg = mmsg.recvmmsg
            total = 0.0
            for _ in range(n):
                fill(addr)
                t0 = perf()
                got = recvmmsg(rx_ours, batch, 2048)
                total += perf() - t0
                assert len(got) == batch, len(got)
            return total

        return std, ours, _closer(rx_std, rx_ours, tx)

    return make


def specs(bulk_mib: int) -> list[Spec]:
    total = bulk_mib << 20
    out = [
        Spec("1-byte send+recv ping-pong (socketpair)", _both(ping_pong), floor=0.78, goal=0.85),
        Spec(f"bulk: child sendall {bulk_mib} MiB, parent recv_into", bulk(total, True),
             calibrated=False, floor=0.92, goal=0.97),
        Spec(f"bulk: child sendall {bulk_mib} MiB, parent recv()", bulk(total, False),
             calibrated=False, floor=0.80, goal=0.88),
        Spec("sendmsg 1 B + SCM_RIGHTS fd, recvmsg, close", _both(scm_rights), floor=0.65, goal=0.78),
        Spec("send 48 B + recvmsg_into 3 x 16 B", _both(recvmsg_into_3), floor=0.58, goal=0.70),
        Spec("getsockopt(SOL_SOCKET, SO_RCVBUF)", _both(getsockopt_rcvbuf), floor=0.75, goal=0.85),
        Spec("send+recv with settimeout(5.0)", _both(timeout_mode), floor=0.80, goal=1.10),
        # What users write (issue 13): the module's own constants and helpers.
        Spec("SCM_RIGHTS: array.array fd, m.SOL_SOCKET, m.CMSG_SPACE(4)", _both(scm_rights_array),
             floor=0.70, goal=0.85),
        Spec("SCM_RIGHTS: struct.pack fd, m.SOL_SOCKET, m.CMSG_SPACE(4)", _both(scm_rights_bytes),
             floor=0.70, goal=0.85),
        Spec("send_fds + recv_fds 1 fd, close", _both(send_recv_fds), floor=0.70, goal=0.85),
        Spec("TCP: create_connection+accept+5 B sendall/recv+close", _both(tcp_connection),
             floor=0.75, goal=0.85),
        Spec("makefile('rb').readline(), 100 lines of 40 B", _both(makefile_lines)),
        Spec("sendall 1 MiB bytes (child drains)", sendall_large()),
        Spec("UDP sendto 64 B + recvfrom", _both(udp_sendto_recvfrom)),
        Spec("getsockopt(m.SOL_SOCKET, m.SO_RCVBUF)", _both(getsockopt_own_constants)),
    ]
    try:
        from sansock import mmsg  # noqa: F401
    except ImportError:
        pass
    else:
        out.append(Spec("UDP 64 x 64 B: recvmmsg vs recvfrom loop", udp_batch(), goal=3.0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # 21 rounds of 0.1 s a side (11 of 0.05 s until 2026-11-30): on the
    # reference VM the medians of the shorter runs scattered by about 0.02,
    # as much as some loops' margin over their floors (docs/figures.rst).
    parser.add_argument("--rounds", type=int, default=21, help="rounds per calibrated loop (default 21)")
    parser.add_argument("--target", type=float, default=0.1, help="seconds per timed side of a round")
    parser.add_argument("--bulk-mib", type=int, default=256, help="MiB per bulk run (default 256)")
    parser.add_argument("--bulk-rounds", type=int, default=7, help="rounds per bulk loop (default 7)")
    parser.add_argument("--only", metavar="TEXT", help="run only the loops whose name contains TEXT")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time the in-process loops in wall time (default) or this process's "
                             "CPU time (steadier on a machine shared with other work)")
    args = parser.parse_args()
    set_clock(args.clock)
    all_specs = select(specs(args.bulk_mib), args.only)
    for spec in all_specs:
        if not spec.calibrated:
            spec.rounds = args.bulk_rounds
    rows = report("sansock API benchmark (sansock.socket vs socket.socket)", all_specs, args.rounds, args.target)
    return 0 if floors_met(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
