"""The examples of docs/howto/typing.rst, as mypy checks them (never run).

Each ``.. code-block:: python`` of that page appears here verbatim, indented
into a function whose parameters supply the names the example takes as
given; a ``# mypy: <message>  [code]`` comment of the page is a
``# type: ignore[code]`` here, which ``warn_unused_ignores`` proves is an
error.  ``tests/test_static_names.py::test_the_typing_howto_examples_are_type_checked``
checks that every example of the page is here.
"""

import sansock


def example_constants() -> None:
    import sansock
    from typing import Literal
    from typing_extensions import assert_type  # in typing from Python 3.11

    assert_type(sansock.AF_INET, Literal[sansock.AddressFamily.AF_INET])
    assert_type(sansock.SOCK_STREAM, Literal[sansock.SocketKind.SOCK_STREAM])
    assert_type(sansock.MSG_PEEK | sansock.MSG_DONTWAIT, sansock.MsgFlag)
    assert_type(sansock.AI_PASSIVE, Literal[sansock.AddressInfo.AI_PASSIVE])
    assert_type(sansock.SOL_SOCKET, int)
    sansock.AF_INETT  # type: ignore[attr-defined]


def example_versions() -> None:
    from typing_extensions import assert_type

    import sys

    if sys.version_info >= (3, 12):
        assert_type(sansock.IP_PKTINFO, int)  # new in CPython 3.12's socket module
    else:
        sansock.IP_PKTINFO  # type: ignore[attr-defined]


def example_getaddrinfo(host: str) -> None:
    from typing_extensions import assert_type

    for info in sansock.getaddrinfo(host, 443):
        if info[0] == sansock.AF_INET6:
            assert_type(info[4], tuple[str, int, int, int])  # (host, port, flowinfo, scope_id)
        else:
            assert_type(info[4], tuple[str, int])


def example_hand_the_fd_over(sock: sansock.socket) -> None:
    import socket

    std = socket.socket(fileno=sock.detach())   # the same kernel socket, now a stdlib object
