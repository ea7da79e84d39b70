"""Driver-level benchmark: sansock_native.NativeDriver vs the stdlib socket.

Each loop calls the driver directly (no core on top), to show what the
driver layer costs by itself; ``bench_api.py`` measures the socket API.  The
harness (``_harness.py``) runs interleaved rounds pinned to one CPU and
reports the median of the per-round ratios ``stdlib time / sansock time``
(higher is better, 1.0 = parity).

    .venv/bin/python bench/bench_driver.py [--full] [--rounds N]

``--full`` moves 256 MiB per bulk round instead of 64 MiB.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Case, Spec, floors_met, report, select, set_clock, timed, wall_timed
from _harness import Loop as Measured
from sansock_native import NativeDriver

D = NativeDriver()
CHUNK = 64 * 1024
Loop = Callable[[int], None]


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


def poll_call() -> tuple[Loop, Loop, Callable[[], None]]:
    """send + recv in timeout mode: the stdlib with settimeout(5.0) on both
    sockets (clock, poll, syscall each) vs the driver's one-call methods
    (``poll_send``/``poll_recv``: the same three steps in one C call), what
    the core's timeout-mode ``send``/``recv`` make when the fd is ready."""
    a, b = pair()
    a.settimeout(5.0)
    b.settimeout(5.0)
    fa, fb = a.fileno(), b.fileno()

    def std(n: int) -> None:
        send, recv = a.send, b.recv
        for _ in range(n):
            send(b"x")
            recv(1)

    def ours(n: int) -> None:
        send, recv = D.poll_send, D.poll_recv
        for _ in range(n):
            send(fa, b"x", 0)
            recv(fb, 1, 0)

    return std, ours, _closer(a, b)


def tcp_connection() -> tuple[Loop, Loop, Callable[[], None]]:
    """TCP connection setup on loopback: the stdlib's ``create_connection`` +
    ``accept`` + 5-byte ``sendall``/``recv`` + close both, against the calls
    ``sansock`` makes for the same lines (``strace`` shows the same syscalls:
    socket, connect, accept4, getsockname, sendto, recvfrom, close, close;
    getaddrinfo of a numeric host makes none)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    addr = listener.getsockname()
    lfd = listener.fileno()
    host, port = addr[0].encode(), str(addr[1]).encode()
    cloexec = socket.SOCK_CLOEXEC

    def std(n: int) -> None:
        for _ in range(n):
            c = socket.create_connection(addr)
            s, _ = listener.accept()
            c.sendall(b"hello")
            s.recv(5)
            c.close()
            s.close()

    def ours(n: int) -> None:
        gai, sock, connect, accept, getsockname = D.getaddrinfo, D.socket, D.connect, D.accept, D.getsockname
        send, recv, close = D.send, D.recv, D.close
        for _ in range(n):
            family, type_, proto, _, raw = gai(host, port, 0, socket.SOCK_STREAM, 0, 0)[0]
            c = sock(family, type_ | cloexec, proto)
            connect(c, raw)
            s, _ = accept(lfd, cloexec)
            getsockname(s)
            send(c, b"hello", 0)
            recv(s, 5, 0)
            close(c)
            close(s)

    return std, ours, _closer(listener)


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


def _timed_case(make: Callable[[], tuple[Loop, Loop, Callable[[], None]]], wall: bool = False) -> Case:
    """A case timing both loops (in wall time if *wall*: a loop with a child process)."""
    measure = wall_timed if wall else timed

    def case() -> tuple[Measured, Measured, Callable[[], None]]:
        std, ours, cleanup = make()
        return measure(std), measure(ours), cleanup

    return case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="256 MiB per bulk round instead of 64 MiB")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds per loop (default 11)")
    parser.add_argument("--target", type=float, default=0.04, help="seconds per timed side of a round")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time the in-process loops in wall time (default) or this process's "
                             "CPU time (steadier on a machine shared with other work)")
    parser.add_argument("--only", metavar="TEXT", help="run only the loops whose name contains TEXT")
    args = parser.parse_args()
    set_clock(args.clock)

    bulk_total = (256 if args.full else 64) * 1024 * 1024
    specs = [
        Spec("1-byte send+recv ping-pong (socketpair)", _timed_case(ping_pong)),
        Spec(f"bulk recv_into, {bulk_total >> 20} MiB from a child", _timed_case(bulk(bulk_total), wall=True),
             calibrated=False, rounds=max(3, args.rounds // 3)),
        Spec("sendmsg 1 B + SCM_RIGHTS fd, recvmsg, close", _timed_case(scm_rights)),
        Spec("send 48 B + recvmsg_into 3 x 16 B", _timed_case(recvmsg_into_3)),
        Spec("getsockopt(SOL_SOCKET, SO_RCVBUF)", _timed_case(getsockopt_rcvbuf)),
        Spec("send+recv, data ready (stdlib settimeout(5.0) vs O_NONBLOCK)", _timed_case(nonblocking_recv)),
        Spec("send+recv with settimeout(5.0): poll_send/poll_recv", _timed_case(poll_call)),
        Spec("TCP: create_connection+accept+5 B+close (driver calls)", _timed_case(tcp_connection)),
    ]
    rows = report("sansock driver benchmark (NativeDriver vs socket.socket)", select(specs, args.only),
                  args.rounds, args.target)
    return 0 if floors_met(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
