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
from _harness import Loop, Spec, report, timed

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
        perf = time.perf_counter

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
        Spec("send+recv with settimeout(5.0)", _both(timeout_mode), floor=1.00, goal=1.10),
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
    parser.add_argument("--rounds", type=int, default=11, help="rounds per calibrated loop (default 11)")
    parser.add_argument("--target", type=float, default=0.05, help="seconds per timed side of a round")
    parser.add_argument("--bulk-mib", type=int, default=256, help="MiB per bulk run (default 256)")
    parser.add_argument("--bulk-rounds", type=int, default=5, help="rounds per bulk loop (default 5)")
    args = parser.parse_args()
    all_specs = specs(args.bulk_mib)
    for spec in all_specs:
        if not spec.calibrated:
            spec.rounds = args.bulk_rounds
    report("sansock API benchmark (sansock.socket vs socket.socket)", all_specs, args.rounds, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
