"""Per-ABI constants the socket layer reads on its paths, looked up once.

The socket class needs a handful of constant values (poll bits, errno
numbers, ``SOCK_NONBLOCK``...) from the ABI of the driver it runs on.  Looking
them up by name in a mapping on every call would cost a dict lookup each; a
:class:`SocketConstants` holds them as attributes, built once per driver.
"""

from __future__ import annotations

from ._abi import ABI
from ._address import _codec_for

__all__ = ["SocketConstants"]


class SocketConstants:
    """The constant values of one ABI, as attributes (built once per driver)."""

    __slots__ = (
        "abi",
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_ALG",
        "SOCK_STREAM",
        "SOCK_DGRAM",
        "SOCK_NONBLOCK",
        "SOCK_CLOEXEC",
        "SOL_SOCKET",
        "SO_TYPE",
        "SO_PROTOCOL",
        "SO_ERROR",
        "SO_REUSEADDR",
        "SO_REUSEPORT",
        "SCM_RIGHTS",
        "IPPROTO_IPV6",
        "IPV6_V6ONLY",
        "POLLIN",
        "POLLOUT",
        "POLLERR",
        "EINTR",
        "EAGAIN",
        "EWOULDBLOCK",
        "EINPROGRESS",
        "EISCONN",
        "EBADF",
        "ENOTSOCK",
        "ECONNRESET",
        "SOMAXCONN",
        "inet_encoded",
        "inet_decoded",
    )

    abi: ABI
    AF_UNIX: int
    AF_INET: int
    AF_INET6: int
    AF_ALG: int
    SOCK_STREAM: int
    SOCK_DGRAM: int
    SOCK_NONBLOCK: int
    SOCK_CLOEXEC: int
    SOL_SOCKET: int
    SO_TYPE: int
    SO_PROTOCOL: int
    SO_ERROR: int
    SO_REUSEADDR: int
    SO_REUSEPORT: int
    SCM_RIGHTS: int
    IPPROTO_IPV6: int
    IPV6_V6ONLY: int
    POLLIN: int
    POLLOUT: int
    POLLERR: int
    EINTR: int
    EAGAIN: int
    EWOULDBLOCK: int
    EINPROGRESS: int
    EISCONN: int
    EBADF: int
    ENOTSOCK: int
    ECONNRESET: int
    SOMAXCONN: int
    #: The ABI's sockaddr codec's memos (_address): AF_INET (str, int) pairs
    #: -> sockaddr_in, and sockaddr_in -> pair, for sendto/recvfrom's fast paths.
    inet_encoded: dict[tuple[str, int], bytes]
    inet_decoded: dict[bytes, tuple[str, int]]

    def __init__(self, abi: ABI) -> None:
        self.abi = abi
        codec = _codec_for(abi)
        self.inet_encoded = codec.inet_encoded
        self.inet_decoded = codec.inet_decoded
        consts = abi.constants
        errnos = abi.errnos
        for name in self.__slots__:
            if name in ("abi", "inet_encoded", "inet_decoded"):
                continue
            if name == "SOMAXCONN":
                value = consts.get(name, abi.somaxconn)
            elif name.startswith("E"):
                value = errnos.get(name, -1)
            elif name in ("SOCK_NONBLOCK", "SOCK_CLOEXEC"):
                # Type flags a platform lacks (Darwin) set no bit: 0, as
                # socketmodule.c's "#ifdef SOCK_CLOEXEC" leaves them out.
                value = consts.get(name, 0)
            else:
                # -1 marks "not on this platform" (no real constant is -1).
                value = consts.get(name, -1)
            setattr(self, name, value)
