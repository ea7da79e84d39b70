"""The driver protocol: what the core asks of a kernel, at the syscall level.

A driver performs syscalls and nothing else.  The contract (see
``docs/design``):

* Arguments and results are ints, ``bytes`` and buffers.  Addresses travel as
  the raw ``struct sockaddr`` bytes a kernel takes and gives (trimmed to the
  ``socklen_t`` the kernel returned; ``b""`` when it returned 0); control
  messages as the raw control buffer.  The core encodes and decodes them.
* Failure is ``OSError(errno, strerror)`` and nothing else -- a driver never
  returns -1.  The one exception is argument conversion: an int outside its C
  type's range raises ``OverflowError`` and a value of the wrong type
  ``TypeError`` (``BufferError`` for an unusable buffer), as CFFI does, before
  any syscall.  The core's fast paths rely on it: they hand the arguments
  over unchecked and parse them only when the driver refused them, to raise
  CPython's exact message.  Resolver calls raise :class:`sansock.gaierror` /
  :class:`sansock.herror` as the C library reports them.
* A driver never retries EINTR (the core's timeout machine decides), never
  warns, never sleeps except in :meth:`sansock.Driver.poll` and in blocking syscalls,
  and never closes an fd it did not create in the same call.
* Fds are created close-on-exec: ``socket``/``socketpair`` get the
  ``SOCK_CLOEXEC`` flag from the core in ``type``, ``accept`` gets it in
  ``flags``, ``dup`` is ``fcntl(F_DUPFD_CLOEXEC)``.
* Every address buffer a driver hands the kernel for an output address is a
  ``struct sockaddr_storage``.

A third-party driver is any object with these methods; the conformance suite
in :mod:`sansock.conformance` checks one.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence, Sized
from typing import TYPE_CHECKING, Protocol, final

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from ._abi import ABI

__all__ = ["Driver", "DirectCalls", "MmsgDriver", "PollCallDriver", "Unfinished", "AddrInfo", "HostEnt"]

#: One ``getaddrinfo`` result: ``(family, type, proto, canonname, raw sockaddr)``.
AddrInfo = tuple[int, int, int, str, bytes]

#: A ``struct hostent``: ``(h_name, h_aliases, h_addrtype, packed h_addr_list)``.
HostEnt = tuple[str, list[str], int, list[bytes]]


class Driver(Protocol):
    """A kernel at the syscall boundary (see the module docstring for the contract)."""

    @property
    def abi(self) -> ABI:
        """The platform this driver's kernel speaks."""
        ...

    # -- clock and readiness ------------------------------------------------
    def monotonic_ns(self) -> int:
        """``clock_gettime(CLOCK_MONOTONIC)`` in nanoseconds."""
        ...

    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        """``poll()`` on one fd; returns ``revents`` (0 when the timeout expired).

        ``timeout_ms`` -1 waits forever.  EINTR is raised, not retried.
        """
        ...

    # -- lifecycle ------------------------------------------------------------
    def socket(self, family: int, type: int, proto: int) -> int:
        """socket(2): a new fd (the core passes ``SOCK_CLOEXEC`` in *type*)."""
        ...

    def socketpair(self, family: int, type: int, proto: int) -> tuple[int, int]:
        """socketpair(2): two connected fds; neither is left open on failure."""
        ...

    def close(self, fd: int) -> None:
        """close(2) (no EINTR retry: the fd is gone either way on Linux)."""
        ...

    def dup(self, fd: int) -> int:
        """``fcntl(fd, F_DUPFD_CLOEXEC, 0)``."""
        ...

    def get_nonblocking(self, fd: int) -> bool:
        """Whether ``O_NONBLOCK`` is set on the open file description."""
        ...

    def set_nonblocking(self, fd: int, nonblocking: bool) -> None:
        """``ioctl(fd, FIONBIO, &flag)`` as CPython's ``internal_setblocking``."""
        ...

    def get_inheritable(self, fd: int) -> bool:
        """Whether ``FD_CLOEXEC`` is clear."""
        ...

    def set_inheritable(self, fd: int, inheritable: bool) -> None:
        """Set or clear ``FD_CLOEXEC``."""
        ...


    # -- connection setup -----------------------------------------------------
    def bind(self, fd: int, addr: bytes) -> None:
        """bind(2) with the raw sockaddr *addr* (its length is the addrlen)."""
        ...

    def listen(self, fd: int, backlog: int) -> None:
        """listen(2)."""
        ...

    def accept(self, fd: int, flags: int) -> tuple[int, bytes]:
        """``accept4(fd, &storage, &len, flags)``: ``(new fd, raw peer address)``."""
        ...

    def connect(self, fd: int, addr: bytes) -> None:
        """connect(2); EINPROGRESS/EINTR are raised for the core to handle."""
        ...

    def shutdown(self, fd: int, how: int) -> None:
        """shutdown(2)."""
        ...

    def getsockname(self, fd: int) -> bytes:
        """getsockname(2): the raw sockaddr, trimmed to the returned length."""
        ...

    def getpeername(self, fd: int) -> bytes:
        """getpeername(2): the raw sockaddr, trimmed to the returned length."""
        ...


    # -- options -------------------------------------------------------------
    def getsockopt(self, fd: int, level: int, option: int) -> int:
        """The ``int`` form: ``getsockopt(fd, level, option, &int, sizeof(int))``."""
        ...

    def getsockopt_bytes(self, fd: int, level: int, option: int, buflen: int) -> bytes:
        """The buffer form: at most *buflen* bytes, trimmed to the length returned."""
        ...

    def setsockopt(self, fd: int, level: int, option: int, value: int) -> None:
        """The ``int`` form: *value* passed as a C ``int``."""
        ...

    def setsockopt_bytes(
        self, fd: int, level: int, option: int, value: ReadableBuffer | None, optlen: int
    ) -> None:
        """The buffer form; ``value=None`` passes ``optval=NULL`` with *optlen*."""
        ...

    # -- data ----------------------------------------------------------------
    def send(self, fd: int, data: ReadableBuffer, flags: int) -> int:
        """send(2): the number of bytes sent."""
        ...

    def sendto(self, fd: int, data: ReadableBuffer, flags: int, addr: bytes) -> int:
        """sendto(2) to the raw sockaddr *addr*."""
        ...

    def recv(self, fd: int, bufsize: int, flags: int) -> bytes:
        """recv(2) of at most *bufsize* bytes (``bufsize > 0``)."""
        ...

    def recv_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> int:
        """Receive at most *nbytes* (``<= len(buf)``) into *buf*."""
        ...

    def recvfrom(self, fd: int, bufsize: int, flags: int) -> tuple[bytes, bytes]:
        """recvfrom(2): ``(data, raw sender address)``; ``b""`` when the kernel gave none."""
        ...

    def recvfrom_into(
        self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int
    ) -> tuple[int, bytes]:
        """recvfrom(2) into *buf*: ``(nbytes, raw sender address)``."""
        ...

    def sendmsg(
        self,
        fd: int,
        buffers: Sequence[ReadableBuffer],
        control: bytes,
        flags: int,
        addr: bytes | None,
    ) -> int:
        """``sendmsg()``: gather *buffers*; *control* ``b""`` means ``msg_control=NULL``."""
        ...

    def recvmsg(
        self, fd: int, bufsize: int, ancbufsize: int, flags: int
    ) -> tuple[bytes, bytes, int, bytes]:
        """``recvmsg()``: ``(data, control[:msg_controllen], msg_flags, raw address)``.

        ``ancbufsize == 0`` means ``msg_control=NULL``.
        """
        ...

    def recvmsg_into(
        self, fd: int, buffers: Sequence[WriteableBuffer], ancbufsize: int, flags: int
    ) -> tuple[int, bytes, int, bytes]:
        """``recvmsg()`` scattering into *buffers*: ``(nbytes, control, msg_flags, address)``."""
        ...

    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        """sendfile(2) from *in_fd* at *offset*: the number of bytes sent."""
        ...

    def file_size(self, fd: int) -> int:
        """``fstat(fd).st_size``, for ``socket.sendfile``."""
        ...

    # -- resolver and host facts ---------------------------------------------
    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        """getaddrinfo(3): results with raw sockaddrs; ``gaierror`` on failure."""
        ...

    def getnameinfo(self, addr: bytes, flags: int) -> tuple[str, str]:
        """getnameinfo(3) of a raw sockaddr: ``(host, service)``."""
        ...

    def gethostbyname_ex(self, name: bytes) -> HostEnt:
        """gethostbyname_r(3): the host entry; ``herror`` on failure."""
        ...

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        """*addr* is the packed address (4 or 16 bytes)."""
        ...

    def getservbyname(self, name: bytes, proto: bytes | None) -> int | None:
        """The port in host byte order, or None when not found."""
        ...

    def getservbyport(self, port: int, proto: bytes | None) -> str | None:
        """getservbyport(3) (*port* in host order); None when not found."""
        ...

    def getprotobyname(self, name: bytes) -> int | None:
        """getprotobyname(3); None when not found."""
        ...

    def gethostname(self) -> bytes:
        """gethostname(2)."""
        ...

    def sethostname(self, name: bytes) -> None:
        """sethostname(2)."""
        ...

    def if_nameindex(self) -> list[tuple[int, bytes]]:
        """if_nameindex(3): ``(index, name)`` pairs."""
        ...

    def if_nametoindex(self, name: bytes) -> int:
        """The index; ``OSError`` (ENODEV) when there is no such interface."""
        ...

    def if_indextoname(self, index: int) -> bytes:
        """if_indextoname(3); ``OSError`` (ENXIO) for an unknown index."""
        ...

    def strerror(self, code: int) -> str:
        """``strerror(code)`` of the driver's platform."""
        ...


class MmsgDriver(Protocol):
    """An optional driver capability: batches of datagrams in one syscall.

    A driver that has these methods gets them used by
    :func:`sansock.mmsg.recvmmsg` and :func:`sansock.mmsg.sendmmsg`; for a
    driver without them the core loops over ``recvfrom``/``send``/``sendto``
    with the same results (see :mod:`sansock.mmsg`).  Both follow the
    contract of :class:`Driver` (``OSError`` only, no EINTR retry).
    """

    def recvmmsg(self, fd: int, count: int, bufsize: int, flags: int) -> list[tuple[bytes, int, bytes]]:
        """``recvmmsg(fd, ..., count, flags | MSG_WAITFORONE, NULL)``.

        Up to *count* (``>= 1``; a driver may cap it, Linux at ``UIO_MAXIOV``)
        datagrams of at most *bufsize* bytes each: ``(data, msg_flags, raw
        sender address)`` per datagram, at least one.  An error after the
        first datagram ends the batch (the kernel reports it on the next call).
        """
        ...

    def sendmmsg(
        self, fd: int, messages: Sequence[tuple[ReadableBuffer, bytes | None]], flags: int
    ) -> int:
        """``sendmmsg(fd, ..., len(messages), flags)``: each message is ``(data,
        raw destination address or None)``; returns how many were sent (a
        driver may cap a batch, Linux at ``UIO_MAXIOV``)."""
        ...


@final
class Unfinished:
    """What a :class:`~sansock.driver.PollCallDriver` method returns when it has no result.

    *start_ns* is the driver's ``monotonic_ns()`` read just before its poll:
    the base of the call's deadline, as ``sock_call_ex`` reads the clock
    before its first ``internal_select``.  *error* is None when the poll
    found the fd not ready (nothing else was done); otherwise the
    ``OSError`` of the poll (*polling* true) or of the syscall (*polling*
    false), as :class:`sansock.Driver` would have raised it.
    """

    __slots__ = ("start_ns", "error", "polling")

    def __init__(self, start_ns: int, error: OSError | None = None, polling: bool = False) -> None:
        self.start_ns = start_ns
        self.error = error
        self.polling = polling

    def __repr__(self) -> str:
        return f"Unfinished(start_ns={self.start_ns!r}, error={self.error!r}, polling={self.polling!r})"


class PollCallDriver(Protocol):
    """An optional driver capability: "poll, then the syscall" in one call.

    In timeout mode CPython's ``sock_call_ex`` reads the clock, polls the fd,
    and only when it is ready makes the syscall: three driver calls for the
    core.  A driver with these methods does the common case in one: it reads
    the clock, polls the fd *without waiting* (``poll(fd, events, 0)``:
    ``POLLOUT`` for ``poll_send``, ``POLLIN`` for ``poll_recv``) and, when
    ``revents`` is non-zero, makes the syscall, returning its result.  When
    there is no result it returns :class:`~sansock.driver.Unfinished` (the fd was not ready,
    the poll failed, or the syscall failed) and the core's timeout machine
    continues from there exactly as ``sock_call_ex`` does: it waits in
    :meth:`sansock.Driver.poll` with the time left, re-reading the socket's fd, and
    runs signal handlers between attempts.  The driver never waits here, so
    an fd closed (and its number reused) by another thread while the core
    waits is never used for the syscall (``sock_call_ex`` re-reads
    ``s->sock_fd`` after the poll).

    Arguments and conversion errors are those of :meth:`sansock.Driver.send`
    and :meth:`sansock.Driver.recv` (the core only takes this path with values those
    accept).  A driver without these methods (the fake kernel) gets the
    three calls.
    """

    def poll_send(self, fd: int, data: ReadableBuffer, flags: int) -> int | Unfinished:
        """``poll(fd, POLLOUT, 0)``, then ``send(fd, data, flags)`` when ready."""
        ...

    def poll_recv(self, fd: int, bufsize: int, flags: int) -> bytes | Unfinished:
        """``poll(fd, POLLIN, 0)``, then ``recv(fd, bufsize, flags)`` when ready."""
        ...


class ByteSlices(Protocol):
    """A view whose slices are ``bytes`` (CFFI's ``ffi.buffer``)."""

    def __getitem__(self, index: slice, /) -> bytes: ...


#: One message block of :attr:`DirectCalls.msg_buffers`: the block the C
#: function fills, a view whose slices are its bytes, and its out-values.
MessageBlock = tuple[object, ByteSlices, MutableSequence[int]]


def _no_message_blocks() -> MessageBlock:
    raise TypeError("this DirectCalls has no recvmsg")


@final
class DirectCalls:
    """An optional driver capability: C functions the socket methods call themselves.

    CPython's ``sock.send(b"x")`` is one C function around ``send(2)``; through
    a driver it is two Python frames (the socket method, the driver method)
    around the C call.  A driver whose syscalls are C functions can hand the
    core the functions of the commonest calls, which the socket methods then
    call with no driver frame between.  Each returns its result *or the error
    in band* and raises nothing but the argument-conversion errors of the
    :class:`sansock.Driver` contract (``TypeError``/``OverflowError`` for a value its C
    types refuse, before any syscall):

    * ``send(fd, data, len(data), flags)``: send(2) of *data* (``bytes``):
      the count, or ``-errno``;
    * ``recv(fd, buffer, capacity, bufsize)``: ``recv(fd, buffer, bufsize,
      0)`` into one of the driver's receive buffers (*capacity* its size,
      ``0 < bufsize <= recv_size``): the count, or ``-errno``; the bytes are
      ``view[:count]`` of the ``(buffer, view)`` pair;
    * ``recv_into(fd, export, capacity, nbytes, flags)``: ``recv(2)`` into
      ``export(buffer)`` of a ``bytearray`` (*capacity* the export's
      ``len()``), as ``sock_recv_into`` after its parse: *nbytes* 0 is the
      whole buffer and an empty request makes no syscall; the count,
      ``-errno``, or ``-0x10000`` or below when *nbytes* is negative or beyond
      the buffer (the core's general path raises CPython's ``ValueError``).
      The core exports the buffer with ``export(buffer)`` before the call and
      drops the export after it: the export holds the bytearray's buffer
      (which cannot be resized while the syscall writes it) until it is
      freed, as a CFFI ``ffi.from_buffer`` cdata does;
    * ``getsockopt(fd, level, option)``: the ``int`` form of getsockopt(2):
      the value, or ``INT_MIN - errno`` (below any C ``int``).

    Optionally (None when a driver has no such C functions) the message calls:

    * ``sendmsg(fd, data, len(data), control, len(control), flags)``:
      sendmsg(2) of one ``bytes`` buffer and packed control data (``bytes``,
      at most ``msg_control_size`` bytes), no address: the count, or ``-errno``;
    * ``recvmsg(fd, block, bufsize, ancbufsize, flags)``: recvmsg(2) of one
      buffer into a message block (``0 <= bufsize <= msg_size``, ``0 <=
      ancbufsize <= msg_control_size``): the count, or ``-errno``.  A block
      comes with its ``view`` (whose slices are ``bytes``) and ``out``, the
      out-values ``(msg_flags, controllen, namelen)`` the call wrote: the
      data is ``view[:count]`` (at most *bufsize* of it: MSG_TRUNC may
      report more), the control data ``view[msg_control_at:][:controllen]``,
      the sender's address ``view[msg_name_at:][:namelen]``.  Blocks come
      from ``msg_buffers`` (``(block, view, out)`` triples, used as
      ``recv_buffers``; ``new_msg_buffer`` when it is empty).  A block is
      pooled with its control length ``out[1]`` 0, and the C function writes
      the out-values only when the call succeeds: if an exception reaches
      the socket method as the call returns (a signal handler), the control
      data a length there describes is this call's, and its fds are closed.

    ``recv_buffers`` is the driver's pool of ``(buffer, view)`` pairs of
    ``recv_size`` bytes, shared by all threads (its ``pop()`` and
    ``append()`` must be atomic, as a ``deque``'s are): the core pops one, makes the call, slices the result out and
    gives the pair back; when the pool is empty it calls ``new_recv_buffer``.
    The error comes back in the result rather than through a saved errno, so
    a signal handler that makes calls of its own between the syscall and the
    check cannot replace it.  The core builds the ``OSError`` with the
    driver's :meth:`sansock.Driver.strerror`, and every other case (flags on a recv,
    a buffer that is not ``bytes``, timeout mode, a driver without this
    capability, such as the fake kernel) goes through the :class:`sansock.Driver`
    methods as before.

    A driver offers it as its ``direct_calls`` attribute, and only for its
    own class (*driver_type*): a subclass, or a wrapper that hands on every
    other attribute of a driver (to trace calls or inject faults), changes
    what ``send`` does, so the core ignores direct calls whose
    ``driver_type`` is not exactly the driver's type.
    """

    __slots__ = (
        "driver_type", "send", "recv", "recv_size", "recv_buffers", "new_recv_buffer", "recv_into", "export",
        "getsockopt", "sendmsg", "recvmsg", "msg_size", "msg_control_size", "msg_control_at", "msg_name_at",
        "msg_buffers", "new_msg_buffer",
    )

    def __init__(
        self,
        *,
        driver_type: type,
        send: Callable[[int, bytes, int, int], int],
        recv: Callable[[int, object, int, int], int],
        recv_size: int,
        recv_buffers: MutableSequence[tuple[object, ByteSlices]],
        new_recv_buffer: Callable[[], tuple[object, ByteSlices]],
        recv_into: Callable[[int, object, int, int, int], int],
        export: Callable[[bytearray], Sized],
        getsockopt: Callable[[int, int, int], int],
        sendmsg: Callable[[int, bytes, int, bytes, int, int], int] | None = None,
        recvmsg: Callable[[int, object, int, int, int], int] | None = None,
        msg_size: int = 0,
        msg_control_size: int = 0,
        msg_control_at: int = 0,
        msg_name_at: int = 0,
        msg_buffers: MutableSequence[MessageBlock] | None = None,
        new_msg_buffer: Callable[[], MessageBlock] = _no_message_blocks,
    ) -> None:
        if recvmsg is not None and (msg_buffers is None or new_msg_buffer is _no_message_blocks):
            raise TypeError("DirectCalls: recvmsg needs msg_buffers and new_msg_buffer")
        self.driver_type = driver_type
        self.send = send
        self.recv = recv
        self.recv_size = recv_size
        self.recv_buffers = recv_buffers
        self.new_recv_buffer = new_recv_buffer
        self.recv_into = recv_into
        self.export = export
        self.getsockopt = getsockopt
        self.sendmsg = sendmsg
        self.recvmsg = recvmsg
        self.msg_size = msg_size
        self.msg_control_size = msg_control_size
        self.msg_control_at = msg_control_at
        self.msg_name_at = msg_name_at
        self.msg_buffers: MutableSequence[MessageBlock] = msg_buffers if msg_buffers is not None else []
        self.new_msg_buffer = new_msg_buffer

    def __repr__(self) -> str:
        return f"DirectCalls(driver_type={self.driver_type.__name__}, recv_size={self.recv_size!r})"
