"""Driver-level benchmark: sansock_native.NativeDriver vs the stdlib socket.

One interleaved run: every round times the stdlib loop and the sansock loop
back to back (alternating which goes first), pinned to one CPU, and the
reported figure is the median of the per-round ratios
``stdlib time / sansock time`` (higher is better, 1.0 = parity).

    .venv/bin/python bench/bench_driver.py [--full] [--rounds N]

``--full`` moves 256 MiB per bulk round instead of 64 MiB.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable

from sansock_native import NativeDriver

D = NativeDriver()
CHUNK = 64 * 1024
Loop = Callable[[int], None]


def pin_to_one_cpu() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to CPU {cpus[-1]} (sched_setaffinity)"
    except (AttributeError, OSError) as exc:  # pragma: no cover
        return f"not pinned ({exc})"


def _closer(*socks: socket.socket) -> Callable[[], None]:
    def close() -> None:
        for s in socks:
            s.close()

    return close


def pair(nonblocking: bool = False) -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    if nonblocking:
        b.setblocking(False)
    return a, b


# -- loops: each returns (stdlib loop, sansock loop, cleanup) ---------------------
def ping_pong() -> tuple[Loop, Loop, Callable[[], None]]:
    a, b = pair()
    fa, fb = a.fileno(), b.fileno()

    def std(n: int) -> None:
        for _ in range(n):
            a.send(b"x")
            b.recv(1)
            b.send(b"y")
            a.recv(1)

    def ours(n: int) -> None:
        send, recv = D.send, D.recv
        for _ in range(n):
            send(fa, b"x", 0)
            recv(fb, 1, 0)
            send(fb, b"y", 0)
            recv(fa, 1, 0)

    return std, ours, _closer(a, b)


def getsockopt_rcvbuf() -> tuple[Loop, Loop, Callable[[], None]]:
    a, b = pair()
    fa = a.fileno()
    sol, opt = socket.SOL_SOCKET, socket.SO_RCVBUF

    def std(n: int) -> None:
        g = a.getsockopt
        for _ in range(n):
            g(sol, opt)

    def ours(n: int) -> None:
        g = D.getsockopt
        for _ in range(n):
            g(fa, sol, opt)

    return std, ours, _closer(a, b)


def scm_rights() -> tuple[Loop, Loop, Callable[[], None]]:
    a, b = pair()
    r, w = os.pipe()
    fa, fb = a.fileno(), b.fileno()
    fd_bytes = struct.pack("i", w)
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd_bytes)]
    space = socket.CMSG_SPACE(4)
    # linux-x86_64 control message: cmsg_len (size_t), level, type, fd, pad.
    control = struct.pack("=QiIi", 20, socket.SOL_SOCKET, socket.SCM_RIGHTS, w) + bytes(4)
    close = os.close

    def std(n: int) -> None:
        for _ in range(n):
            a.sendmsg([b"x"], anc)
            _, ancdata, _, _ = b.recvmsg(1, space)
            close(struct.unpack("i", ancdata[0][2])[0])

    def ours(n: int) -> None:
        sendmsg, recvmsg, dclose = D.sendmsg, D.recvmsg, D.close
        unpack = struct.unpack_from
        for _ in range(n):
            sendmsg(fa, [b"x"], control, 0, None)
            _, ctrl, _, _ = recvmsg(fb, 1, space, 0)
            dclose(unpack("i", ctrl, 16)[0])

    def cleanup() -> None:
        a.close()
        b.close()
        os.close(r)
        os.close(w)

    return std, ours, cleanup


def recvmsg_into_3() -> tuple[Loop, Loop, Callable[[], None]]:
    a, b = pair()
    fa, fb = a.fileno(), b.fileno()
    payload = b"z" * 48
    bufs = [bytearray(16), bytearray(16), bytearray(16)]

    def std(n: int) -> None:
        for _ in range(n):
            a.send(payload)
            b.recvmsg_into(bufs)

    def ours(n: int) -> None:
        send, rmi = D.send, D.recvmsg_into
        for _ in range(n):
            send(fa, payload, 0)
            rmi(fb, bufs, 0, 0)

    return std, ours, _closer(a, b)


def nonblocking_recv() -> tuple[Loop, Loop, Callable[[], None]]:
    """send + recv with data ready: the stdlib in timeout mode (settimeout(5.0):
    poll, then recv) vs the driver's recv on the O_NONBLOCK fd (the core's
    try-first path)."""
    a, b = pair()
    b.settimeout(5.0)
    fa, fb = a.fileno(), b.fileno()

    def std(n: int) -> None:
        for _ in range(n):
            a.send(b"x")
            b.recv(1)

    def ours(n: int) -> None:
        send, recv = D.send, D.recv
        for _ in range(n):
            send(fa, b"x", 0)
            recv(fb, 1, 0)

    return std, ours, _closer(a, b)


def bulk(total: int) -> Callable[[], tuple[Loop, Loop, Callable[[], None]]]:
    """A child process sendall()s *total* bytes in 64 KiB chunks; the parent
    receives them with recv_into into one 64 KiB buffer."""

    def make() -> tuple[Loop, Loop, Callable[[], None]]:
        buf = bytearray(CHUNK)

        def run(receive: Callable[[socket.socket], int]) -> None:
            a, b = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # child
                try:
                    b.close()
                    chunk = b"\xab" * CHUNK
                    for _ in range(total // CHUNK):
                        a.sendall(chunk)
                finally:
                    os._exit(0)
            a.close()
            try:
                got = receive(b)
                assert got == total, (got, total)
            finally:
                b.close()
                os.waitpid(pid, 0)

        def std_recv(s: socket.socket) -> int:
            got, ri = 0, s.recv_into
            while True:
                n = ri(buf)
                if not n:
                    return got
                got += n

        def ours_recv(s: socket.socket) -> int:
            got, ri, fd = 0, D.recv_into, s.fileno()
            while True:
                n = ri(fd, buf, CHUNK, 0)
                if not n:
                    return got
                got += n

        return (lambda n: run(std_recv)), (lambda n: run(ours_recv)), lambda: None

    return make


def timed(loop: Loop, n: int) -> float:
    t0 = time.perf_counter()
    loop(n)
    return time.perf_counter() - t0


def calibrate(loop: Loop, target: float) -> int:
    n = 100
    while True:
        t = timed(loop, n)
        if t >= target / 4 or n >= 10_000_000:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="256 MiB per bulk round instead of 64 MiB")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds per loop (default 11)")
    parser.add_argument("--target", type=float, default=0.04, help="seconds per timed side of a round")
    args = parser.parse_args()

    pinned = pin_to_one_cpu()
    bulk_total = (256 if args.full else 64) * 1024 * 1024
    loops: list[tuple[str, Callable[[], tuple[Loop, Loop, Callable[[], None]]], bool]] = [
        ("1-byte send+recv ping-pong (socketpair)", ping_pong, True),
        (f"bulk recv_into, {bulk_total >> 20} MiB from a child", bulk(bulk_total), False),
        ("sendmsg 1 B + SCM_RIGHTS fd, recvmsg, close", scm_rights, True),
        ("send 48 B + recvmsg_into 3 x 16 B", recvmsg_into_3, True),
        ("getsockopt(SOL_SOCKET, SO_RCVBUF)", getsockopt_rcvbuf, True),
        ("send+recv, data ready (stdlib settimeout(5.0) vs O_NONBLOCK)", nonblocking_recv, True),
    ]
    print(f"sansock driver benchmark: Python {sys.version.split()[0]}, {pinned}, {args.rounds} rounds")
    print(f"{'loop':<64} {'iters':>8} {'ratio':>7} {'min':>6} {'max':>6}")
    worst = ("", float("inf"))
    start = time.perf_counter()
    for name, make, calibrated in loops:
        std, ours, cleanup = make()
        try:
            n = calibrate(std, args.target) if calibrated else 1
            rounds = args.rounds if calibrated else max(3, args.rounds // 3)
            std(min(n, 1000))  # warm up both
            ours(min(n, 1000))
            ratios = []
            for i in range(rounds):
                if i % 2 == 0:
                    t_std = timed(std, n)
                    t_ours = timed(ours, n)
                else:
                    t_ours = timed(ours, n)
                    t_std = timed(std, n)
                ratios.append(t_std / t_ours)
        finally:
            cleanup()
        med = statistics.median(ratios)
        print(f"{name:<64} {n:>8} {med:>7.2f} {min(ratios):>6.2f} {max(ratios):>6.2f}")
        if med < worst[1]:
            worst = (name, med)
    print(f"worst ratio (stdlib time / sansock time, higher is better): {worst[1]:.2f} ({worst[0]}); "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
