"""Outside review of session 7's performance and in-band-error work (task rev7).

Each test names the defect it proves (it failed before the fix beside it) or
the attack that found nothing; the stdlib ``socket`` module is the oracle.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from sansock import Binding


def _drain(sock: Any) -> list[bytes]:
    sock.setblocking(False)
    out: list[bytes] = []
    while True:
        try:
            out.append(sock.recv(100))
        except BlockingIOError:
            return out


# -- 4. the sendto memo: a tuple subclass must not become a key ----------------


def test_sendto_memo_not_poisoned_by_a_tuple_subclass(net: Binding) -> None:
    """encode_inet kept any ``isinstance(address, tuple)`` as the memo's key:
    a subclass whose ``__hash__``/``__eq__`` claim another pair then answered
    that pair's lookups, and a later ``sendto(data, ("127.0.0.1", p2))`` went
    to the subclass's port p1.  The stdlib parses every address."""
    r1 = net.socket(net.AF_INET, net.SOCK_DGRAM)
    r2 = net.socket(net.AF_INET, net.SOCK_DGRAM)
    tx = net.socket(net.AF_INET, net.SOCK_DGRAM)
    with r1, r2, tx:
        r1.bind(("127.0.0.1", 0))
        r2.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", r2.getsockname()[1])

        class Liar(tuple):  # type: ignore[type-arg]
            def __hash__(self) -> int:
                return hash(target)

            def __eq__(self, other: object) -> bool:
                return True

        assert tx.sendto(b"one", Liar(("127.0.0.1", r1.getsockname()[1]))) == 3
        assert tx.sendto(b"two", target) == 3
        assert tx.sendto(b"three", 0, target) == 5
        assert (_drain(r1), _drain(r2)) == ([b"one"], [b"two", b"three"])


def test_sendto_memo_tuple_subclass_stdlib_oracle() -> None:
    """The stdlib sends a lying tuple subclass to the pair it holds."""
    r1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with r1, r2, tx:
        r1.bind(("127.0.0.1", 0))
        r2.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", r2.getsockname()[1])

        class Liar(tuple):  # type: ignore[type-arg]
            def __hash__(self) -> int:
                return hash(target)

            def __eq__(self, other: object) -> bool:
                return True

        tx.sendto(b"one", Liar(("127.0.0.1", r1.getsockname()[1])))
        tx.sendto(b"two", target)
        assert (_drain(r1), _drain(r2)) == ([b"one"], [b"two"])
