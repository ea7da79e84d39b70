"""The trio sockets of :func:`~sansock_fake.trio_run`: ``trio.socket`` on the fake kernel.

:class:`FakeTrioSocket` is a ``trio.socket.SocketType`` over a non-blocking
socket of the kernel (the stdlib-compatible one of :mod:`._stdsocket`); its
async methods follow trio's own (``trio/_socket.py``: ``_nonblocking_helper``,
``connect``, ``_resolve_address_nocp``) and wait through the run's hub
(:class:`._trio._Hub`), not trio's epoll.  :class:`SocketFactory` and
:class:`Resolver` are what ``trio_run`` installs with
``trio.socket.set_custom_socket_factory`` and ``set_custom_hostname_resolver``.
"""

from __future__ import annotations

import os
import socket as _std_socket
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import trio

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._trio import _Hub

__all__ = ["FakeTrioSocket", "Resolver", "SocketFactory", "POLLIN", "POLLOUT", "ALWAYS"]

_T = TypeVar("_T")

#: Linux's poll bits (the kernel checks it speaks Linux's numbers: ``check_abi``).
POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x4, 0x8, 0x10, 0x20
ALWAYS = POLLERR | POLLHUP | POLLNVAL


class FakeTrioSocket(trio.socket.SocketType):
    """A ``trio.socket.SocketType`` over a socket of the fake kernel (non-blocking)."""

    def __init__(self, hub: _Hub, sock: Any) -> None:
        super().__init__()
        self._hub = hub
        self._sock = sock
        self._did_shutdown_SHUT_WR = False
        sock.setblocking(False)
        hub.sockets[sock.fileno()] = self

    # -- synchronous, as trio's own socket ------------------------------------------------
    def detach(self) -> int:
        self._hub.sockets.pop(self._sock.fileno(), None)
        return int(self._sock.detach())

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def getsockname(self) -> Any:
        return self._sock.getsockname()

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        if buflen is None:
            return self._sock.getsockopt(level, optname)
        return self._sock.getsockopt(level, optname, buflen)

    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        if optlen is None:
            if value is None:
                raise TypeError("invalid value for argument 'value', must not be None when specifying optlen")
            self._sock.setsockopt(level, optname, value)
        else:
            if value is not None:
                raise TypeError(f"invalid value for argument 'value': {value!r}, must be None when specifying optlen")
            self._sock.setsockopt(level, optname, value, optlen)

    def listen(self, backlog: int = min(trio.socket.SOMAXCONN, 128)) -> None:
        self._sock.listen(backlog)

    def get_inheritable(self) -> bool:
        return bool(self._sock.get_inheritable())

    def set_inheritable(self, inheritable: bool) -> None:
        self._sock.set_inheritable(inheritable)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def family(self) -> Any:
        return self._sock.family

    @property
    def type(self) -> Any:
        return self._sock.type

    @property
    def proto(self) -> int:
        return int(self._sock.proto)

    @property
    def did_shutdown_SHUT_WR(self) -> bool:
        return self._did_shutdown_SHUT_WR

    def __repr__(self) -> str:
        return repr(self._sock).replace(type(self._sock).__module__ + ".", "sansock_fake.trio.", 1)

    def describe(self) -> str:
        """"127.0.0.1:49152 -> 127.0.0.1:8080" (for the deadlock report)."""
        try:
            local = self._sock.getsockname()
        except OSError:
            return "closed"
        try:
            return f"{_address(local)} -> {_address(self._sock.getpeername())}"
        except OSError:
            return _address(local)

    def dup(self) -> FakeTrioSocket:
        return FakeTrioSocket(self._hub, self._sock.dup())

    def close(self) -> None:
        fd = self._sock.fileno()
        if fd != -1:
            self._hub.sockets.pop(fd, None)
            self._hub.notify_closing(fd)
            self._sock.close()

    def shutdown(self, flag: int) -> None:
        self._sock.shutdown(flag)
        if flag in (trio.socket.SHUT_WR, trio.socket.SHUT_RDWR):
            self._did_shutdown_SHUT_WR = True

    def is_readable(self) -> bool:
        kernel = self._hub.kernel
        with kernel._scheduler.condition:
            return bool(kernel._revents(self.fileno()) & (POLLIN | ALWAYS))

    # -- waiting ----------------------------------------------------------------------------
    async def wait_writable(self) -> None:
        await self._hub.wait(self.fileno(), POLLOUT)

    async def _nonblocking(self, events: int, fn: Callable[..., _T], *args: Any) -> _T:
        """trio's ``_nonblocking_helper``: try, and on EAGAIN wait for the fd and retry."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            result = fn(*args)
        except BlockingIOError:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return result
        while True:
            await self._hub.wait(self.fileno(), events)
            try:
                return fn(*args)
            except BlockingIOError:
                pass

    async def _resolve(self, address: Any, local: bool) -> Any:
        """Host names in an inet address through trio's resolver (the fake one), as trio does."""
        family = self._sock.family
        if family not in (trio.socket.AF_INET, trio.socket.AF_INET6):
            return os.fspath(address) if isinstance(address, os.PathLike) else address
        if family == trio.socket.AF_INET and (not isinstance(address, tuple) or len(address) != 2):
            raise ValueError("address should be a (host, port) tuple")
        if family == trio.socket.AF_INET6 and (not isinstance(address, tuple) or not 2 <= len(address) <= 4):
            raise ValueError("address should be a (host, port, [flowinfo, [scopeid]]) tuple")
        host, port, *rest = address
        if isinstance(port, int) and isinstance(host, str) and host:
            try:
                _std_socket.inet_pton(family, host)  # parsing only
            except (OSError, TypeError):
                pass
            else:
                return address
        if host == "":
            host = None
        elif host == "<broadcast>" and family == trio.socket.AF_INET:
            host = "255.255.255.255"
        flags = trio.socket.AI_PASSIVE if local else 0
        found = await trio.socket.getaddrinfo(host, port, family, self._sock.type, self._sock.proto, flags)
        resolved = found[0][4]
        if family == trio.socket.AF_INET6 and rest:
            resolved = (resolved[0], resolved[1], *rest)
        return resolved

    # -- asynchronous ---------------------------------------------------------------------
    async def bind(self, address: Any) -> None:
        address = await self._resolve(address, local=True)
        await trio.lowlevel.checkpoint()
        self._sock.bind(address)

    async def accept(self) -> tuple[FakeTrioSocket, Any]:
        sock, addr = await self._nonblocking(POLLIN, self._sock.accept)
        return FakeTrioSocket(self._hub, sock), addr

    async def connect(self, address: Any) -> None:
        # trio's SocketType.connect: a non-blocking connect, then wait for writable.
        try:
            address = await self._resolve(address, local=False)
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                self._sock.connect(address)
            except BlockingIOError:
                pass
            else:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
            await self._hub.wait(self.fileno(), POLLOUT)
        except trio.Cancelled:
            self.close()
            raise
        err = self._sock.getsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_ERROR)
        if err != 0:
            raise OSError(err, f"Error connecting to {address!r}: {os.strerror(err)}")

    def recv(self, buflen: int, flags: int = 0, /) -> Awaitable[bytes]:
        return self._nonblocking(POLLIN, self._sock.recv, buflen, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> Awaitable[int]:
        return self._nonblocking(POLLIN, self._sock.recv_into, buffer, nbytes, flags)

    def recvfrom(self, bufsize: int, flags: int = 0, /) -> Awaitable[tuple[bytes, Any]]:
        return self._nonblocking(POLLIN, self._sock.recvfrom, bufsize, flags)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0, /) -> Awaitable[tuple[int, Any]]:
        return self._nonblocking(POLLIN, self._sock.recvfrom_into, buffer, nbytes, flags)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /) -> Awaitable[Any]:
        return self._nonblocking(POLLIN, self._sock.recvmsg, bufsize, ancbufsize, flags)

    def recvmsg_into(self, buffers: Any, ancbufsize: int = 0, flags: int = 0, /) -> Awaitable[Any]:
        return self._nonblocking(POLLIN, self._sock.recvmsg_into, buffers, ancbufsize, flags)

    def send(self, bytes: Any, flags: int = 0, /) -> Awaitable[int]:
        return self._nonblocking(POLLOUT, self._sock.send, bytes, flags)

    async def sendto(self, *args: Any) -> int:
        # sendto(data, address) or sendto(data, flags, address), as the stdlib.
        args_list = list(args)
        args_list[-1] = await self._resolve(args_list[-1], local=False)
        result: int = await self._nonblocking(POLLOUT, self._sock.sendto, *args_list)
        return result

    async def sendmsg(
        self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None, /
    ) -> int:
        if address is not None:
            address = await self._resolve(address, local=False)
            result: int = await self._nonblocking(POLLOUT, self._sock.sendmsg, buffers, ancdata, flags, address)
        else:
            result = await self._nonblocking(POLLOUT, self._sock.sendmsg, buffers, ancdata, flags)
        return result


def _address(value: object) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        host, port = value[0], value[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return repr(value)


class SocketFactory(trio.abc.SocketFactory):
    def __init__(self, hub: _Hub) -> None:
        self._hub = hub

    def socket(self, family: int | None = None, type: int | None = None, proto: int | None = None) -> FakeTrioSocket:
        # trio.socket.socket() passes its defaults (AF_INET, SOCK_STREAM, 0) or -1.
        family = trio.socket.AF_INET if family is None or family == -1 else family
        type = trio.socket.SOCK_STREAM if type is None or type == -1 else type
        proto = 0 if proto is None or proto == -1 else proto
        return FakeTrioSocket(self._hub, self._hub.socket_class(family, type, proto))


class Resolver(trio.abc.HostnameResolver):
    """The fake resolver, answered inline (it never waits)."""

    def __init__(self, hub: _Hub) -> None:
        self._hub = hub

    async def getaddrinfo(
        self, host: bytes | None, port: bytes | str | int | None, family: int = 0, type: int = 0,
        proto: int = 0, flags: int = 0,
    ) -> list[Any]:
        await trio.lowlevel.checkpoint()
        result: list[Any] = self._hub.functions["getaddrinfo"](host, port, family, type, proto, flags)
        return result

    async def getnameinfo(self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int) -> tuple[str, str]:
        await trio.lowlevel.checkpoint()
        result: tuple[str, str] = self._hub.functions["getnameinfo"](sockaddr, flags)
        return result
