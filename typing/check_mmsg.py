"""Types of sansock.mmsg (mypy-checked, never run)."""

from typing import Any

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

from sansock import Binding, mmsg, socket


def check_receive(sock: socket) -> None:
    got = mmsg.recvmmsg(sock, 64, 2048)
    assert_type(got, list[tuple[bytes, Any]])
    data, address = got[0]
    assert_type(data, bytes)
    assert_type(mmsg.recvmmsg(sock, 1, 16, 0), list[tuple[bytes, Any]])
    mmsg.recvmmsg(sock, "64", 2048)  # type: ignore[arg-type]
    mmsg.recvmmsg(sock, 64)  # type: ignore[call-arg]
    mmsg.recvmmsg(b"not a socket", 1, 1)  # type: ignore[arg-type]


def check_send(sock: socket, net: Binding) -> None:
    assert_type(mmsg.sendmmsg(sock, [(b"x", ("127.0.0.1", 9))]), int)
    assert_type(mmsg.sendmmsg(sock, [(bytearray(b"x"), None), (memoryview(b"y"), None)], 0), int)
    assert_type(mmsg.sendmmsg(sock, (item for item in [(b"x", None)])), int)
    mmsg.sendmmsg(sock, [b"x"])  # type: ignore[list-item]
    mmsg.sendmmsg(sock, [("text", None)])  # type: ignore[list-item]
    mmsg.sendmmsg(sock, [(b"x", None)], flags="0")  # type: ignore[arg-type]
    s = net.socket(net.AF_INET, net.SOCK_DGRAM)
    assert_type(mmsg.recvmmsg(s, 8, 512), list[tuple[bytes, Any]])
