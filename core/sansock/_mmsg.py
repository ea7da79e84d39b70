"""recvmmsg/sendmmsg: batches of datagrams, a sansock extension.

Linux's ``recvmmsg(2)`` and ``sendmmsg(2)`` move many datagrams in one
syscall; the stdlib has no binding for them.  Here they are functions that
take a socket (the socket class keeps the stdlib's surface), in three steps
like every socket method: parse the arguments with CPython's converters,
make one driver call through the socket's timeout machine (the fast path:
try first, poll only on EAGAIN in timeout mode), decode the addresses.

The driver call is the optional ``MmsgDriver`` capability (:mod:`sansock.driver`).
A driver without it (the fake kernel) gets a loop with the same results:

* receive: the first datagram as ``recvfrom`` would get it (blocking,
  non-blocking or until the deadline, as the socket's mode says), then more
  with ``MSG_DONTWAIT`` until *count* or the first error -- what
  ``recvmmsg`` with ``MSG_WAITFORONE`` does;
* send: the first datagram as ``send``/``sendto`` would send it, then the
  others until the first error, which ends the batch -- what ``sendmmsg``
  does.

Either way a batch holds at most ``IOV_MAX`` datagrams (``UIO_MAXIOV``,
1024 on Linux: the kernel's cap on ``vlen``).

In both, an error after the first datagram ends the batch without being
raised.  The kernel keeps such an error (other than EAGAIN) and reports it
on the next call; the loop cannot put it back, so there it is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from sys import audit
from typing import TYPE_CHECKING, Any

from . import _address
from ._convert import arg_int, arg_ssize, bytes_like, sequence_fast, tp_name
from ._socket import SocketType

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["recvmmsg", "sendmmsg"]


def recvmmsg(sock: SocketType, count: int, bufsize: int, flags: int = 0) -> list[tuple[bytes, Any]]:
    """Receive up to *count* datagrams of at most *bufsize* bytes each.

    Returns ``[(data, address), ...]``, at least one datagram: it waits for
    the first as ``recvfrom`` does (the socket's blocking, non-blocking or
    timeout mode), then takes what is already queued, up to *count*.  A
    datagram longer than *bufsize* is cut, as ``recvfrom`` cuts it.  Errors
    are ``recvfrom``'s: ``BlockingIOError`` on a non-blocking socket with
    nothing queued, ``TimeoutError('timed out')`` at the deadline.
    """
    count = arg_int(count)
    bufsize = arg_ssize(bufsize)
    flags = arg_int(flags)
    if count <= 0:
        raise ValueError("recvmmsg() count must be positive")
    if bufsize < 0:
        raise ValueError("negative buffersize in recvmmsg")
    _address.sockaddr_len(sock._family, sock._k.abi)  # recvfrom's family check
    drv = sock._drv
    fd = sock._fd
    batch = getattr(drv, "recvmmsg", None)
    if batch is not None:
        # sock._call keeps no exception alive past its frame (issue 12 item 6).
        return _decode_all(sock, sock._call(False, batch, count, bufsize, flags))
    return _recv_loop(sock, count, bufsize, flags)


def _decode_all(sock: SocketType, got: list[tuple[bytes, int, bytes]]) -> list[tuple[bytes, Any]]:
    """``(data, address)`` per datagram; each distinct raw address decoded once
    (a driver may hand the same bytes object for a repeated sender)."""
    seen: dict[bytes, Any] = {}
    out: list[tuple[bytes, Any]] = []
    append = out.append
    last_raw: bytes | None = None
    address: Any = None
    for data, _msg_flags, raw in got:
        if raw is not last_raw:
            last_raw = raw
            if not raw:
                address = None
            else:
                address = seen.get(raw, seen)
                if address is seen:
                    address = seen[raw] = sock._decode(raw)
        append((data, address))
    return out


def _recv_loop(sock: SocketType, count: int, bufsize: int, flags: int) -> list[tuple[bytes, Any]]:
    """The fallback: ``recvfrom`` as MSG_WAITFORONE would (module docstring)."""
    drv = sock._drv
    fd = sock._fd
    data, raw = sock._call(False, drv.recvfrom, bufsize, flags)
    got: list[tuple[bytes, int, bytes]] = [(data, 0, raw)]
    abi = sock._k.abi
    dontwait = flags | abi.const("MSG_DONTWAIT")
    # Linux caps a batch at UIO_MAXIOV (the ABI's IOV_MAX), as the kernel does.
    count = min(count, abi.iov_max)
    while len(got) < count:
        try:
            data, raw = drv.recvfrom(fd, bufsize, dontwait)
        except OSError:
            break
        got.append((data, 0, raw))
    return _decode_all(sock, got)


def sendmmsg(
    sock: SocketType, datagrams: Iterable[tuple[ReadableBuffer, Any]], flags: int = 0
) -> int:
    """Send ``(data, address)`` datagrams in one call; return how many were sent.

    *address* ``None`` sends to the connected peer (``send``), anything else
    is encoded as ``sendto`` encodes it.  The first datagram waits as
    ``send`` does in the socket's mode; later ones are sent until the first
    error, which ends the batch (resend the rest).  Linux sends at most
    ``UIO_MAXIOV`` (1024) per call.  An empty iterable sends nothing and
    returns 0.  Each datagram raises the ``socket.sendmsg`` audit event
    (``sock, address``) before anything is sent.
    """
    flags = arg_int(flags)
    items = sequence_fast(datagrams, "sendmmsg() argument 2 must be an iterable")
    messages: list[tuple[ReadableBuffer, bytes | None]] = []
    for item in items:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError(
                f"sendmmsg() datagrams must be (data, address) tuples, not {tp_name(item)}"
            )
        data, address = item
        if type(data) is not bytes:
            data = bytes_like(data)
        raw = None if address is None else sock._encode(address, "sendmmsg")
        # A batch of sendmsg(2) calls: each datagram raises sendmsg's audit
        # event, (sock, address or None), before any syscall of the batch.
        audit("socket.sendmsg", sock if sock._audit_ref is None else sock._audit_ref(), address)
        messages.append((data, raw))
    if not messages:
        return 0
    drv = sock._drv
    fd = sock._fd
    batch = getattr(drv, "sendmmsg", None)
    if batch is not None:
        sent: int = sock._call(True, batch, messages, flags)
        return sent
    return _send_loop(sock, messages, flags)


def _send_loop(sock: SocketType, messages: list[tuple[ReadableBuffer, bytes | None]], flags: int) -> int:
    """The fallback: ``send``/``sendto`` per datagram as sendmmsg would (module docstring)."""
    drv = sock._drv
    fd = sock._fd
    data, raw = messages[0]
    if raw is None:
        sock._call(True, drv.send, data, flags)
    else:
        sock._call(True, drv.sendto, data, flags, raw)
    sent = 1
    for data, raw in messages[1 : sock._k.abi.iov_max]:
        try:
            if raw is None:
                drv.send(fd, data, flags)
            else:
                drv.sendto(fd, data, flags, raw)
        except OSError:
            break
        sent += 1
    return sent
