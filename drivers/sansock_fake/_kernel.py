"""The fake kernel: the :class:`sansock.Driver` protocol over an in-memory Linux.

Every method is one syscall.  It runs holding the kernel's condition
variable (see ``_scheduler``), records itself in the trace, consults the fault
script, then does what Linux does, citing the function it reproduces.
Failure is ``OSError(errno, strerror)`` with Linux's errno and nothing else;
what the fake does not model raises ``NotImplementedError`` with a sentence
saying so.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import os
import resource
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

import attrs

from sansock.driver import ABI, LINUX_X86_64, AddrInfo, HostEnt

from ._addresses import (
    InetName,
    SocketName,
    UnixName,
    build_inet,
    build_unix,
    family_of,
    parse_inet,
    parse_inet6,
    parse_unix,
)
from ._control import Credentials, ReceivedControl, parse_control
from ._faults import TRACE_LIMIT, FaultScript, Trace
from ._objects import (
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    FakeSocket,
    FdSlot,
    OpenFile,
    Segment,
    truesize,
)
from ._oserror import errno_name, raise_errno
from ._resolver import Resolver
from ._scheduler import BlockedForever, Scheduler
from ._scheduler import __tracebackhide__ as __tracebackhide__  # noqa: F401 -- pytest hides our frames under BlockedForever

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["FakeKernel"]

P = ParamSpec("P")
R = TypeVar("R")

#: /proc/sys/net/core/{w,r}mem_default and {w,r}mem_max on a stock kernel.
WMEM_DEFAULT = 212992
RMEM_DEFAULT = 212992
WMEM_MAX = 212992
RMEM_MAX = 212992
#: /proc/sys/net/core/optmem_max (128 KiB since Linux 6.9; 20480 before).
OPTMEM_MAX = 131072
#: ____sys_sendmsg's on-stack control buffer: sizeof(struct cmsghdr) + 20.
SENDMSG_CTL_STACK = 36
#: include/net/sock.h: SOCK_MIN_SNDBUF = 2 * TCP_SKB_MIN_TRUESIZE, SOCK_MIN_RCVBUF.
SOCK_MIN_SNDBUF = 4608
SOCK_MIN_RCVBUF = 2304
#: net/ipv4/tcp.c: tcp_wmem[1] and tcp_rmem[1] defaults.
TCP_SNDBUF_DEFAULT = 16384
TCP_RCVBUF_DEFAULT = 131072
#: /proc/sys/net/unix/max_dgram_qlen.
UNIX_MAX_DGRAM_QLEN = 10
#: include/linux/skbuff.h on 4 KiB pages: SKB_MAX_HEAD(0), UNIX_SKB_FRAGS_SZ, SKB_MAX_ALLOC.
SKB_MAX_HEAD = 4096 - 320
UNIX_SKB_FRAGS_SZ = 32768
SKB_MAX_ALLOC = 4 * 4096 - 320
#: /proc/sys/net/ipv4/ip_local_port_range.
EPHEMERAL_PORTS = range(32768, 61000)
#: include/linux/net.h SOCK_TYPE_MASK and SOCK_MAX (SOCK_PACKET + 1);
#: include/linux/socket.h NPROTO (AF_MAX); include/uapi/linux/in.h IPPROTO_MAX.
SOCK_TYPE_MASK = 0xF
SOCK_PACKET = 10
SOCK_MAX = 11
NPROTO = 46
IPPROTO_MAX = 263
#: Largest UDP payload over IPv4 / IPv6 (65535 - headers).
UDP_MAX_PAYLOAD = {4: 65507, 16: 65527}
#: The lowest base :func:`safe_fd_base` gives, and how much room it keeps
#: below ``INT_MAX`` (an fd is a C ``int``) for the fake's own table.
_SAFE_FD_FLOOR = 1 << 20
_FD_HEADROOM = 1 << 24


def safe_fd_base() -> int:
    """The first fd number a fake kernel hands out by default: one no real fd can have.

    Linux gives a process fds below its ``RLIMIT_NOFILE`` soft limit, which
    can be raised to the hard limit, which root can raise to
    ``/proc/sys/fs/nr_open`` (``alloc_fd``, ``expand_files``).  A base at or
    above all three can never name a real file: a real syscall on a fake fd
    fails with ``EBADF`` instead of touching another file of the process.
    "Unlimited" or absurd limits are capped below ``INT_MAX`` with room for
    the fake's table; the floor is 2**20, the stock ``nr_open``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    candidates = [_SAFE_FD_FLOOR]
    for limit in (soft, hard):
        if limit != resource.RLIM_INFINITY and limit >= 0:
            candidates.append(limit)
    nr_open = _nr_open()
    if nr_open is not None:
        candidates.append(nr_open)
    return min(max(candidates), (1 << 31) - 1 - _FD_HEADROOM)


@functools.lru_cache(maxsize=1)
def _nr_open() -> int | None:
    """``/proc/sys/fs/nr_open``: the ceiling of any process's ``RLIMIT_NOFILE``."""
    try:
        with open("/proc/sys/fs/nr_open", encoding="ascii") as nr_open:
            return int(nr_open.read())
    except (OSError, ValueError):
        return None


#: Parameters passed to the kernel as ``ssize_t``/``size_t``; every other int
#: parameter is a C ``int``.
_SIZE_PARAMETERS = frozenset({"bufsize", "nbytes", "ancbufsize", "buflen", "optlen", "count", "offset"})


def _c_argument_limits(method: Callable[..., object]) -> list[tuple[int, str, int, int]]:
    """(position, name, min, max) of each int parameter after ``self``."""
    limits = []
    parameters = list(inspect.signature(method).parameters)[1:]
    for position, pname in enumerate(parameters, start=1):
        if pname in ("data", "buffers", "buf", "control", "addr", "value", "call"):
            if pname != "value" or method.__name__ != "setsockopt":
                continue
        if pname in _SIZE_PARAMETERS:
            limits.append((position, pname, -(1 << 63), (1 << 63) - 1))
        else:
            limits.append((position, pname, -(1 << 31), (1 << 31) - 1))
    return limits


def _check_c_arguments(limits: list[tuple[int, str, int, int]], args: tuple[object, ...]) -> None:
    """What a C binding does with Python ints: TypeError for non-ints, OverflowError out of range.

    The native driver passes arguments through cffi, which raises these before
    any syscall; the core relies on it, so the fake does the same.
    """
    for position, pname, low, high in limits:
        if position >= len(args):
            continue
        value = args[position]
        if isinstance(value, bool):
            continue
        if not isinstance(value, int):
            raise TypeError(f"an integer is required for {pname}, not {type(value).__name__}")
        if not low <= value <= high:
            raise OverflowError(f"{pname}={value} does not fit the C type of the argument")


def _shown(arg: object) -> object:
    """An argument as the trace records it: an exact int, bool, str or None, a
    short bytes value, else the type's name.  Subclasses are copied to the
    base type, so a lying ``__eq__``/``__hash__`` cannot reach the trace."""
    kind = type(arg)
    if kind in (int, bool, str, type(None)):
        return arg
    if isinstance(arg, int):
        return int.__index__(arg)
    if isinstance(arg, str):
        return str.__str__(arg)
    if isinstance(arg, bytes) and len(arg) <= 32:
        return b"".join([arg])
    return kind.__name__


def _syscall(method: Callable[P, R]) -> Callable[P, R]:
    """Run a Driver method as one syscall: lock, trace, scripted errno, notify."""
    name = method.__name__
    limits = _c_argument_limits(method)

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        kernel = args[0]
        assert isinstance(kernel, FakeKernel)
        _check_c_arguments(limits, args)
        fd = args[1] if len(args) > 1 and isinstance(args[1], int) else None
        shown = tuple(_shown(a) for a in args[1:])
        with kernel._scheduler.condition:
            kernel._scheduler.enter()
            try:
                code = kernel.faults.errno_for(name, fd)
                if code is not None:
                    raise_errno(code)
                result = method(*args, **kwargs)
            except OSError as exc:
                kernel.trace.record(name, shown, errno_name(exc.errno or 0))
                raise
            except BlockedForever as exc:
                # Raised from here, its traceback ends at the syscall, not deep in the scheduler.
                raise exc.with_traceback(None) from None
            finally:
                kernel._scheduler.condition.notify_all()
            kernel.trace.record(name, shown, f"ok {_summary(result)}")
            return result

    return run


def _c_buffer(obj: object) -> memoryview:
    """A buffer argument as a C binding takes it (cffi's ``from_buffer``): the
    bytes of a C-contiguous buffer, else ``BufferError`` as CPython's
    ``PyObject_GetBuffer(PyBUF_SIMPLE)`` raises it."""
    view = memoryview(obj)  # type: ignore[arg-type]
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view.cast("B") if view.ndim != 1 or view.format != "B" else view


class _exported:
    """The receive buffers exported for the whole syscall, as a C binding holds them.

    The native driver's ``ffi.from_buffer`` keeps each buffer exported from
    the call's entry to its return, so while a receive blocks, another thread
    cannot resize it (``bytearray.clear()`` raises ``BufferError``) and the
    data lands in the buffer the call was given.  The views are released on
    the way out, error or not, so no export outlives the call (not even in a
    traceback's frame).  ``with _exported(buffers) as views:`` gives one
    flat byte view per buffer.
    """

    __slots__ = ("_owned", "_flat")

    def __init__(self, buffers: Sequence[object]) -> None:
        self._owned: list[memoryview] = []
        self._flat: list[memoryview] = []
        try:
            for obj in buffers:
                view = memoryview(obj)  # type: ignore[arg-type]
                self._owned.append(view)
                if not view.c_contiguous:
                    raise BufferError("memoryview: underlying buffer is not C-contiguous")
                if view.ndim != 1 or view.format != "B":
                    view = view.cast("B")
                    self._owned.append(view)
                self._flat.append(view)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        for view in reversed(self._owned):
            view.release()
        self._owned.clear()
        self._flat.clear()

    def __enter__(self) -> list[memoryview]:
        return self._flat

    def __exit__(self, *exc_info: object) -> None:
        self._release()


def _as_returned(data: bytes, length: int) -> bytes:
    """The bytes a bytes-returning receive gives: sized to the syscall's return value.

    With MSG_TRUNC a datagram receive returns the datagram's full length, larger
    than the buffer; CPython then resizes its result to that length
    (``sock_recv_guts``, ``_PyBytes_Resize``), so the tail past the buffer is
    not data.  The fake fills it with zeros.
    """
    return data + bytes(length - len(data)) if length > len(data) else data


def _summary(result: object) -> str:
    if isinstance(result, (bytes, bytearray)):
        return f"{len(result)} bytes"
    if isinstance(result, tuple):
        return "(" + ", ".join(_summary(item) for item in result) + ")"
    return repr(result)


@attrs.define(eq=False)
class FakeKernel:
    """An in-memory Linux kernel implementing the ``sansock.Driver`` protocol.

    >>> kernel = FakeKernel()
    >>> a, b = kernel.socketpair(1, 1, 0)
    >>> (a - kernel.fd_base, b - kernel.fd_base), kernel.send(a, b"ping", 0), kernel.recv(b, 10, 0)
    ((0, 1), 4, b'ping')

    Fd numbers start at :attr:`fd_base`, above every fd the real process can
    have (so ``os.write(a, ...)`` fails with ``EBADF``); ``fd_base=0`` gives
    Linux's numbering:

    >>> FakeKernel(fd_base=0).socketpair(1, 1, 0)
    (3, 4)
    """

    _abi: ABI = attrs.field(default=LINUX_X86_64, alias="abi")
    personality: Literal["linux", "darwin"] = attrs.field(default="linux", kw_only=True)
    #: ``RLIMIT_NOFILE`` of "the process": how many fds the table may hold
    #: (with ``fd_base=0``, fds 0-2 count, as the standard streams do).
    fd_limit: int = attrs.field(default=1024, kw_only=True)
    #: The lowest fd number handed out.  The default (:func:`safe_fd_base`)
    #: lies above any fd the real process can have, so a fake fd passed to a
    #: real syscall gets ``EBADF``; ``fd_base=0`` gives Linux's small numbers
    #: (from 3, as 0-2 are the standard streams) for tests that want them.
    fd_base: int = attrs.field(factory=safe_fd_base, kw_only=True)
    #: The credentials of "the process" (SCM_CREDENTIALS, SO_PEERCRED).
    pid: int = attrs.field(default=4242, kw_only=True)
    uid: int = attrs.field(default=1000, kw_only=True)
    gid: int = attrs.field(default=1000, kw_only=True)
    hostname: bytes = attrs.field(default=b"fakehost", kw_only=True)
    #: net.core.wmem_max / rmem_max: the caps of SO_SNDBUF / SO_RCVBUF before doubling.
    wmem_max: int = attrs.field(default=WMEM_MAX, kw_only=True)
    rmem_max: int = attrs.field(default=RMEM_MAX, kw_only=True)
    #: net.core.optmem_max: ``sendmsg`` control data of this size or more gets
    #: ENOBUFS (``sock_kmalloc``).  The default is Linux's since 6.9 (20480 before).
    optmem_max: int = attrs.field(default=OPTMEM_MAX, kw_only=True)
    #: Real seconds a thread outside the kernel must stay still, in a wait the
    #: kernel does not recognise, before the virtual clock may move without it.
    idle_grace_s: float = attrs.field(default=0.1, kw_only=True)
    #: Real seconds without any syscall, every other thread waiting, before a
    #: wait with no deadline gives up.
    stall_timeout_s: float = attrs.field(default=5.0, kw_only=True)
    faults: FaultScript = attrs.field(factory=FaultScript, init=False)
    #: How many syscalls :attr:`trace` keeps (the last ones); None keeps all.
    trace_limit: int | None = attrs.field(default=TRACE_LIMIT, kw_only=True)
    trace: Trace = attrs.field(init=False)
    resolver: Resolver = attrs.field(init=False)
    _scheduler: Scheduler = attrs.field(init=False)
    _fds: dict[int, FdSlot] = attrs.field(factory=dict, init=False)
    #: Freed fds below ``_fd_high`` (a min-heap; may hold fds taken again) and
    #: the lowest fd never handed out.
    _free_fds: list[int] = attrs.field(factory=list, init=False)
    _fd_high: int = attrs.field(default=0, init=False)
    #: AF_UNIX namespace: path or abstract name -> the socket bound there.
    #: Path entries outlive their socket (the socket file stays, as on disk).
    _unix_names: dict[bytes, FakeSocket] = attrs.field(factory=dict, init=False)
    _autobind_next: int = attrs.field(default=0, init=False)
    #: AF_INET/AF_INET6 bindings: (family, proto, port) -> sockets bound there.
    _ports: dict[tuple[int, int, int], list[FakeSocket]] = attrs.field(factory=dict, init=False)
    _ephemeral_next: int = attrs.field(default=EPHEMERAL_PORTS.start, init=False)
    _serial: int = attrs.field(default=0, init=False)
    #: Files referenced by SCM_RIGHTS messages in flight, in the order they
    #: first flew (``gc_inflight_list``), and the unix GC's re-entry guard.
    _in_flight: dict[OpenFile, None] = attrs.field(factory=dict, init=False)
    _gc_running: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.fd_base <= (1 << 31) - 1 - max(self.fd_limit, 0):
            raise ValueError(f"fd_base={self.fd_base} leaves no room for fd_limit={self.fd_limit} below INT_MAX")
        self._fd_high = self.fd_base if self.fd_base else 3
        self._scheduler = Scheduler(
            idle_grace_s=self.idle_grace_s, stall_timeout_s=self.stall_timeout_s
        )
        self._scheduler.event_names = self._poll_names
        self.resolver = Resolver(self._abi, hostname=self.hostname)
        self.trace = Trace(self.trace_limit)

    # ------------------------------------------------------------------ helpers
    @property
    def abi(self) -> ABI:
        """The platform this kernel speaks."""
        return self._abi

    def _c(self, name: str) -> int:
        return self._abi.const(name)

    def _e(self, name: str) -> int:
        return self._abi.errno(name)

    def _fail(self, name: str) -> None:
        raise_errno(self._abi.errno(name))

    @property
    def _process_credentials(self) -> Credentials:
        return Credentials(self.pid, self.uid, self.gid)

    def _slot(self, fd: int) -> FdSlot:
        slot = self._fds.get(fd)
        if slot is None:
            raise_errno(self._e("EBADF"))
        return slot

    def _sock(self, fd: int) -> FakeSocket:
        return self._slot(fd).file.sock

    def _lowest_free_fd(self) -> int:
        """``alloc_fd``: the lowest free fd from ``fd_base`` (from 3 when it is
        0, as 0-2 are the standard streams); ``EMFILE`` from ``fd_base + fd_limit``.

        Closed fds below the high-water mark wait in a min-heap, so a table of
        tens of thousands of fds allocates in O(log n), not by a scan.
        """
        free = self._free_fds
        while free and free[0] in self._fds:
            heapq.heappop(free)  # stale: taken again since it was freed
        fd = free[0] if free else self._fd_high
        if fd >= self.fd_base + self.fd_limit:
            raise_errno(self._e("EMFILE"))
        return fd

    def _install(self, file: OpenFile, cloexec: bool) -> int:
        fd = self._lowest_free_fd()
        if self._free_fds and self._free_fds[0] == fd:
            heapq.heappop(self._free_fds)
        else:
            self._fd_high = fd + 1
        file.refs += 1
        self._fds[fd] = FdSlot(file, cloexec)
        return fd

    def _new_socket(self, family: int, type_: int, proto: int) -> FakeSocket:
        self._serial += 1
        if family in (self._c("AF_INET"), self._c("AF_INET6")) and type_ == self._c("SOCK_STREAM"):
            sndbuf, rcvbuf = TCP_SNDBUF_DEFAULT, TCP_RCVBUF_DEFAULT
        else:
            sndbuf, rcvbuf = WMEM_DEFAULT, RMEM_DEFAULT
        return FakeSocket(family, type_, proto, sndbuf, rcvbuf, self._serial)

    def _unref(self, file: OpenFile) -> None:
        """``fput``: the last reference releases the socket."""
        file.refs -= 1
        if file.refs == 0:
            self._release(file.sock)

    def _purge(self, sock: FakeSocket) -> None:
        while sock.receive_queue:
            self._drop_segment(sock, sock.receive_queue.popleft())

    def _drop_segment(self, sock: FakeSocket, segment: Segment) -> None:
        sock.rmem -= segment.cost
        if segment.charged_to is not None:
            segment.charged_to.wmem -= segment.cost
        for file in self._out_of_flight(segment):
            self._unref(file)

    def _is_unix(self, sock: FakeSocket) -> bool:
        return sock.family == self._c("AF_UNIX")

    def _is_stream(self, sock: FakeSocket) -> bool:
        return sock.type == self._c("SOCK_STREAM")

    def _is_connection(self, sock: FakeSocket) -> bool:
        return sock.type in (self._c("SOCK_STREAM"), self._c("SOCK_SEQPACKET"))

    def _release(self, sock: FakeSocket) -> None:
        """``unix_release_sock`` / ``tcp_close`` / ``udp_lib_close``."""
        if sock.released:
            return
        sock.released = True
        had_unread = any(seg.remaining for seg in sock.receive_queue)
        peer = sock.peer
        if self._is_unix(sock):
            if isinstance(sock.name, UnixName) and sock.name.is_abstract:
                self._unix_names.pop(sock.name.key, None)
            if peer is not None and self._is_connection(sock):
                # unix_release_sock: the peer can write no more; unread data -> ECONNRESET.
                peer.shutdown = SHUTDOWN_MASK
                if had_unread or sock.embryo:
                    peer.error = self._e("ECONNRESET")
        elif peer is not None and self._is_stream(sock) and sock.state == "connected":
            if had_unread:
                # tcp_close: unread data -> send RST (tcp_disconnect); the peer's
                # tcp_reset gives ECONNRESET (EPIPE in CLOSE_WAIT).
                self._tcp_reset(peer)
            else:
                # FIN: the peer reads EOF after its queued data.
                peer.shutdown |= RCV_SHUTDOWN
        for pending in list(sock.accept_queue):
            self._release(pending)
        sock.accept_queue.clear()
        for connector in list(sock.syn_queue):
            connector.state = "closed"
            connector.error = self._e("ECONNREFUSED")
        sock.syn_queue.clear()
        if sock.listener is not None and sock in sock.listener.accept_queue:
            sock.listener.accept_queue.remove(sock)
        if isinstance(sock.name, InetName):
            key = (sock.family, sock.type, sock.name.port)
            bound = self._ports.get(key, [])
            if sock in bound:
                bound.remove(sock)
        sock.state = "closed"
        sock.peer = None
        self._purge(sock)

    def _tcp_reset(self, sock: FakeSocket) -> None:
        """``tcp_reset``: ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT, else ECONNRESET."""
        if sock.state == "closed":
            return
        if sock.state == "connecting":
            sock.error = self._e("ECONNREFUSED")
        elif sock.shutdown & RCV_SHUTDOWN:
            sock.error = self._e("EPIPE")
        else:
            sock.error = self._e("ECONNRESET")
        sock.state = "closed"
        sock.shutdown = SHUTDOWN_MASK
        sock.peer = None

    def _block(
        self,
        fd: int,
        call: str,
        ready: Callable[[], bool],
        deadline_ns: int | None = None,
        events: int | None = None,
    ) -> bool:
        return self._scheduler.wait_until(ready, deadline_ns, call, fd, events)

    def _timeo_deadline(self, sock: FakeSocket, option: str) -> int | None:
        """SO_RCVTIMEO/SO_SNDTIMEO as a virtual deadline (``sock_rcvtimeo``)."""
        value = sock.options.get((self._c("SOL_SOCKET"), self._c(option)))
        if not isinstance(value, bytes):
            return None
        sec, usec = struct.unpack("qq", value[:16].ljust(16, b"\0"))
        if sec == 0 and usec == 0:
            return None
        return self._scheduler.now_ns + int(sec) * 1_000_000_000 + int(usec) * 1000

    # -------------------------------------------------------- clock, readiness
    def monotonic_ns(self) -> int:
        """The virtual ``CLOCK_MONOTONIC``: moves only when every participant waits."""
        with self._scheduler.condition:
            return self._scheduler.now_ns

    def blocked_threads(self) -> set[int]:
        """The idents of the threads blocked in a syscall of this kernel now."""
        with self._scheduler.condition:
            return self._scheduler.blocked_threads()

    def settle(self) -> None:
        """Return once every thread blocked in this kernel has re-checked whether it can go on.

        Call it after an action that might wake a blocked thread: afterwards a
        thread still in :meth:`blocked_threads` really is still waiting.
        """
        with self._scheduler.condition:
            self._scheduler.settle()

    def advance_clock(self, seconds: float) -> None:
        """Move the virtual clock forward (for tests that need time to pass)."""
        with self._scheduler.condition:
            self._scheduler.now_ns += int(seconds * 1_000_000_000)
            self._scheduler.condition.notify_all()

    def _revents(self, fd: int) -> int:
        """What ``poll`` reports for *fd* (``unix_poll``, ``unix_dgram_poll``, ``tcp_poll``, ``udp_poll``)."""
        slot = self._fds.get(fd)
        if slot is None:
            return self._c("POLLNVAL")
        sock = slot.file.sock
        POLLIN, POLLOUT = self._c("POLLIN"), self._c("POLLOUT")
        POLLERR, POLLHUP, POLLRDHUP = self._c("POLLERR"), self._c("POLLHUP"), self._c("POLLRDHUP")
        mask = 0
        if sock.error:
            mask |= POLLERR
        if sock.shutdown == SHUTDOWN_MASK:
            mask |= POLLHUP
        if sock.shutdown & RCV_SHUTDOWN:
            mask |= POLLIN | POLLRDHUP
        if sock.receive_queue or (sock.state == "listening" and sock.accept_queue):
            mask |= POLLIN
        if self._is_unix(sock):
            if self._is_connection(sock) and sock.state in ("unconnected", "closed"):
                mask |= POLLHUP
            if sock.state != "listening" and self._unix_writable(sock):
                mask |= POLLOUT
            return mask
        if self._is_stream(sock):
            if sock.state in ("unconnected", "closed"):
                mask |= POLLHUP
            if sock.state == "listening" or sock.state == "connecting":
                return mask
            if sock.state == "unconnected" or sock.shutdown & SEND_SHUTDOWN or self._tcp_writable(sock):
                mask |= POLLOUT
            return mask
        # udp_poll / datagram_poll: sock_writeable.
        if sock.wmem < sock.sndbuf // 2:
            mask |= POLLOUT
        return mask

    def _unix_writable(self, sock: FakeSocket) -> bool:
        # unix_writable: (sk_wmem_alloc << 2) <= sk_sndbuf (the refcount starts at 1).
        if ((sock.wmem + 1) << 2) > sock.sndbuf:
            return False
        other = sock.peer
        if (
            not self._is_connection(sock)
            and other is not None
            and other.peer is not sock
            and len(other.receive_queue) > UNIX_MAX_DGRAM_QLEN
        ):
            return False  # unix_dgram_poll: the peer's queue is full.
        return True

    def _tcp_writable(self, sock: FakeSocket) -> bool:
        peer = sock.peer
        return peer is None or peer.rmem < peer.rcvbuf + sock.sndbuf

    @_syscall
    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        """``poll()`` on one fd; POLLERR/POLLHUP/POLLNVAL are reported unasked, as Linux does."""
        always = self._c("POLLERR") | self._c("POLLHUP") | self._c("POLLNVAL")
        wanted = events | always
        deadline = None if timeout_ms < 0 else self._scheduler.now_ns + timeout_ms * 1_000_000
        result = 0

        def ready() -> bool:
            nonlocal result
            result = self._revents(fd) & wanted
            return result != 0

        self._block(fd, "poll", ready, deadline, events)
        return result

    def _poll_names(self, events: int) -> str:
        """``POLLIN|POLLOUT`` for a BlockedForever message."""
        names = [n for n in ("POLLIN", "POLLPRI", "POLLOUT", "POLLRDHUP") if events & self._c(n)]
        return "|".join(names) if names else f"events {events:#x}"

    # ---------------------------------------------------------------- lifecycle
    def _check_create(self, family: int, type_: int, proto: int) -> tuple[int, int, bool, bool]:
        """``__sys_socket`` + ``__sock_create`` + the family's ``create``, in Linux's order.

        ``__sys_socket``: flags other than SOCK_NONBLOCK/SOCK_CLOEXEC -> EINVAL.
        ``__sock_create``: family outside ``[0, NPROTO)`` -> EAFNOSUPPORT, type
        outside ``[0, SOCK_MAX)`` -> EINVAL, then the family's module: a family
        the fake does not model answers EAFNOSUPPORT, as a kernel without that
        protocol module does (``net_families[family]`` is NULL), so programs
        that probe for AF_CAN, AF_PACKET, AF_NETLINK... see "not available".
        ``unix_create``/``inet_create``/``inet6_create`` then check the
        protocol and the type (see :meth:`_check_inet_create`).
        """
        flags = type_ & (self._c("SOCK_NONBLOCK") | self._c("SOCK_CLOEXEC"))
        base = type_ & ~flags
        if type_ & ~(SOCK_TYPE_MASK | self._c("SOCK_NONBLOCK") | self._c("SOCK_CLOEXEC")):
            self._fail("EINVAL")
        if family < 0 or family >= NPROTO:
            self._fail("EAFNOSUPPORT")
        if base < 0 or base >= SOCK_MAX:
            self._fail("EINVAL")
        unix, inet, inet6 = self._c("AF_UNIX"), self._c("AF_INET"), self._c("AF_INET6")
        stream, dgram, seqpacket = self._c("SOCK_STREAM"), self._c("SOCK_DGRAM"), self._c("SOCK_SEQPACKET")
        if family == inet and base == SOCK_PACKET:
            # __sock_create: "PF_INET/SOCK_PACKET is deprecated", it becomes
            # PF_PACKET, which the fake does not model.
            family = self._c("AF_PACKET")
        if family == unix:
            # unix_create: the protocol is checked before the type.
            if proto not in (0, unix):
                self._fail("EPROTONOSUPPORT")
            if base not in (stream, dgram, seqpacket):
                if base == self._c("SOCK_RAW"):
                    base = dgram  # unix_create: SOCK_RAW is silently a SOCK_DGRAM.
                else:
                    self._fail("ESOCKTNOSUPPORT")
            proto = 0
        elif family in (inet, inet6):
            proto = self._check_inet_create(family, base, proto)
        else:
            self._fail("EAFNOSUPPORT")
        return base, proto, bool(flags & self._c("SOCK_NONBLOCK")), bool(flags & self._c("SOCK_CLOEXEC"))

    def _check_inet_create(self, family: int, base: int, proto: int) -> int:
        """``inet_create``/``inet6_create``: the protocol the socket gets, or the errno.

        ``protocol`` outside ``[0, IPPROTO_MAX)`` -> EINVAL; then the walk over
        ``inetsw[type]``: no entry for the type -> ESOCKTNOSUPPORT, entries but
        none for the protocol -> EPROTONOSUPPORT (protocol 0 takes the first).
        The fake registers TCP (SOCK_STREAM), UDP and ping (SOCK_DGRAM) and the
        wildcard raw entry (SOCK_RAW): it answers as a kernel built without
        MPTCP, UDP-Lite, SCTP or any other protocol module.  Raw sockets need
        CAP_NET_RAW (EPERM for a process whose uid is not 0); for root the
        fake raises ``NotImplementedError``, since it does not model raw IP.
        """
        if proto < 0 or proto >= IPPROTO_MAX:
            self._fail("EINVAL")
        tcp, udp = self._c("IPPROTO_TCP"), self._c("IPPROTO_UDP")
        ping = self._c("IPPROTO_ICMP") if family == self._c("AF_INET") else self._c("IPPROTO_ICMPV6")
        inetsw = {self._c("SOCK_STREAM"): (tcp,), self._c("SOCK_DGRAM"): (udp, ping), self._c("SOCK_RAW"): (0,)}
        registered = inetsw.get(base)
        if registered is None:
            self._fail("ESOCKTNOSUPPORT")
        assert registered is not None
        if base == self._c("SOCK_RAW"):
            # The raw entry's protocol is IPPROTO_IP, the wildcard: any protocol matches.
            if self.uid != 0:
                self._fail("EPERM")  # inet_create: SOCK_RAW without CAP_NET_RAW.
            raise NotImplementedError(
                "the fake kernel does not model raw IP sockets (SOCK_RAW on AF_INET/AF_INET6)"
            )
        if proto == 0:
            proto = registered[0]
        if proto not in registered:
            self._fail("EPROTONOSUPPORT")
        if proto == ping:
            # ping sockets: ping_init_sock refuses every group outside
            # net.ipv4.ping_group_range, whose default "1 0" is empty.
            self._fail("EACCES")
        return proto

    @_syscall
    def socket(self, family: int, type: int, proto: int) -> int:
        base, proto, nonblocking, cloexec = self._check_create(family, type, proto)
        sock = self._new_socket(family, base, proto)
        sock.credentials = self._process_credentials
        return self._install(OpenFile(sock, nonblocking), cloexec)

    @_syscall
    def socketpair(self, family: int, type: int, proto: int) -> tuple[int, int]:
        base, proto, nonblocking, cloexec = self._check_create(family, type, proto)
        if family != self._c("AF_UNIX"):
            self._fail("EOPNOTSUPP")  # inet_socketpair -> sock_no_socketpair
        if len(self._fds) + 2 > self.fd_limit - (0 if self.fd_base else 3):
            self._lowest_free_fd()
        a = self._new_socket(family, base, proto)
        b = self._new_socket(family, base, proto)
        # unix_socketpair: each is the other's peer, connected, credentials exchanged.
        a.peer, b.peer = b, a
        a.state = b.state = "connected"
        a.credentials = b.credentials = self._process_credentials
        a.peer_credentials = b.peer_credentials = self._process_credentials
        fd_a = self._install(OpenFile(a, nonblocking), cloexec)
        try:
            fd_b = self._install(OpenFile(b, nonblocking), cloexec)
        except OSError:
            self._close_fd(fd_a)
            raise
        return fd_a, fd_b

    def _close_fd(self, fd: int) -> None:
        slot = self._fds.pop(fd)
        heapq.heappush(self._free_fds, fd)
        self._unref(slot.file)
        self._unix_gc()

    @_syscall
    def close(self, fd: int) -> None:
        self._slot(fd)
        self._close_fd(fd)

    @_syscall
    def dup(self, fd: int) -> int:
        """``fcntl(F_DUPFD_CLOEXEC)``: a new fd on the same open file description."""
        slot = self._slot(fd)
        return self._install(slot.file, cloexec=True)

    @_syscall
    def get_nonblocking(self, fd: int) -> bool:
        return self._slot(fd).file.nonblocking

    @_syscall
    def set_nonblocking(self, fd: int, nonblocking: bool) -> None:
        """``ioctl(FIONBIO)``: O_NONBLOCK lives on the open file description, shared by dups."""
        self._slot(fd).file.nonblocking = bool(nonblocking)

    @_syscall
    def get_inheritable(self, fd: int) -> bool:
        return not self._slot(fd).cloexec

    @_syscall
    def set_inheritable(self, fd: int, inheritable: bool) -> None:
        """FD_CLOEXEC is per fd, not shared by dups."""
        self._slot(fd).cloexec = not inheritable

    def fd_count(self) -> int:
        """How many fds are open (for leak checks in tests)."""
        with self._scheduler.condition:
            return len(self._fds)

    def open_fds(self) -> list[int]:
        """The open fds, sorted."""
        with self._scheduler.condition:
            return sorted(self._fds)

    def unlink(self, path: bytes) -> None:
        """``unlink(2)`` of a socket file in the kernel's AF_UNIX path namespace."""
        with self._scheduler.condition:
            if path.startswith(b"\0") or path not in self._unix_names:
                raise_errno(self._e("ENOENT"))
            del self._unix_names[path]

    # ------------------------------------------------------------ naming: AF_UNIX
    def _unix_autobind(self, sock: FakeSocket) -> None:
        """``unix_autobind``: an abstract name of NUL + 5 hex digits."""
        for _ in range(0x100000):
            name = UnixName(b"\0" + b"%05x" % self._autobind_next)
            self._autobind_next = (self._autobind_next + 1) & 0xFFFFF
            if name.key not in self._unix_names:
                sock.name = name
                self._unix_names[name.key] = sock
                return
        raise_errno(self._e("ENOSPC"))

    def _unix_bind(self, sock: FakeSocket, addr: bytes) -> None:
        name = parse_unix(self._abi, addr, for_bind=True)
        if sock.name is not None:
            self._fail("EINVAL")  # unix_bind: already bound.
        if name is None:
            self._unix_autobind(sock)
            return
        if name.key in self._unix_names:
            self._fail("EADDRINUSE")
        sock.name = name
        self._unix_names[name.key] = sock

    def _unix_lookup(self, sock: FakeSocket, addr: bytes) -> FakeSocket:
        """``unix_find_other``: ENOENT (no such path), ECONNREFUSED (no such abstract
        name, or dead), EPROTOTYPE (other type)."""
        name = parse_unix(self._abi, addr, for_bind=False)
        assert name is not None
        other = self._unix_names.get(name.key)
        if other is None:
            # unix_find_bsd: the path lookup fails with ENOENT; unix_find_abstract
            # returns -ECONNREFUSED when no socket has the name.
            self._fail("ECONNREFUSED" if name.is_abstract else "ENOENT")
        assert other is not None
        if other.released:
            self._fail("ECONNREFUSED")
        if other.type != sock.type:
            self._fail("EPROTOTYPE")
        return other

    def _passcred(self, sock: FakeSocket) -> bool:
        return bool(sock.options.get((self._c("SOL_SOCKET"), self._c("SO_PASSCRED")), 0))

    # --------------------------------------------------------- naming: AF_INET(6)
    def _local_packed(self, family: int, packed: bytes) -> bool:
        if family == self._c("AF_INET"):
            return packed == b"\0\0\0\0" or packed[0] == 127
        return packed in (bytes(16), bytes(15) + b"\1")

    def _parse_inet_for(self, sock: FakeSocket, addr: bytes, *, for_bind: bool) -> InetName:
        if sock.family == self._c("AF_INET"):
            return parse_inet(self._abi, addr, for_bind=for_bind)
        if family_of(self._abi, addr) == self._c("AF_INET") and not for_bind:
            self._fail("EAFNOSUPPORT")
        name = parse_inet6(self._abi, addr)
        if name.packed[:12] == bytes(10) + b"\xff\xff":
            raise NotImplementedError("the fake kernel does not model IPv4-mapped IPv6 addresses")
        return name

    def _port_users(self, sock: FakeSocket, port: int) -> list[FakeSocket]:
        return self._ports.setdefault((sock.family, sock.type, port), [])

    def _inet_bind_name(self, sock: FakeSocket, name: InetName) -> None:
        """``inet_csk_get_port`` / ``udp_lib_get_port``: EADDRINUSE unless both reuse."""
        reuse = self._c("SO_REUSEADDR")
        sol = self._c("SOL_SOCKET")
        port = name.port
        if port == 0:
            for _ in range(len(EPHEMERAL_PORTS)):
                candidate = self._ephemeral_next
                self._ephemeral_next += 1
                if self._ephemeral_next >= EPHEMERAL_PORTS.stop:
                    self._ephemeral_next = EPHEMERAL_PORTS.start
                if not self._port_users(sock, candidate):
                    port = candidate
                    break
            else:
                self._fail("EADDRINUSE")
        for other in self._port_users(sock, port):
            assert isinstance(other.name, InetName)
            overlap = (
                other.name.packed == name.packed
                or not any(other.name.packed)
                or not any(name.packed)
            )
            both_reuse = bool(sock.options.get((sol, reuse))) and bool(other.options.get((sol, reuse)))
            if overlap and not (both_reuse and other.state != "listening"):
                self._fail("EADDRINUSE")
        sock.name = attrs.evolve(name, port=port, flowinfo=0)
        self._port_users(sock, port).append(sock)

    def _inet_autobind(self, sock: FakeSocket) -> None:
        if sock.name is None:
            any_addr = bytes(4 if sock.family == self._c("AF_INET") else 16)
            self._inet_bind_name(sock, InetName(sock.family, any_addr, 0))

    def _inet_bound_name(self, sock: FakeSocket, peer: InetName) -> InetName:
        """The local name a connected socket reports: the wildcard becomes the route's source."""
        assert isinstance(sock.name, InetName)
        if any(sock.name.packed):
            return sock.name
        return attrs.evolve(sock.name, packed=peer.packed if peer.packed and any(peer.packed) else sock.name.packed)

    # -------------------------------------------------------------------- bind
    @_syscall
    def bind(self, fd: int, addr: bytes) -> None:
        sock = self._sock(fd)
        if self._is_unix(sock):
            self._unix_bind(sock, addr)
            return
        name = self._parse_inet_for(sock, addr, for_bind=True)
        if sock.name is not None:
            self._fail("EINVAL")
        if not self._local_packed(sock.family, name.packed):
            self._fail("EADDRNOTAVAIL")
        self._inet_bind_name(sock, name)

    @_syscall
    def listen(self, fd: int, backlog: int) -> None:
        """``unix_listen`` / ``inet_listen``: the accept queue holds backlog + 1."""
        sock = self._sock(fd)
        if not self._is_connection(sock):
            self._fail("EOPNOTSUPP")
        if sock.state not in ("unconnected", "listening"):
            self._fail("EINVAL")
        if self._is_unix(sock):
            if sock.name is None:
                self._fail("EINVAL")  # unix_listen: "No listens on an unbound socket".
        else:
            self._inet_autobind(sock)
            assert isinstance(sock.name, InetName)
            for other in self._port_users(sock, sock.name.port):
                if other is not sock and other.state == "listening":
                    self._fail("EADDRINUSE")
        sock.backlog = min(max(backlog, 0), self._abi.somaxconn)
        sock.state = "listening"

    def _accept_queue_full(self, listener: FakeSocket) -> bool:
        # sk_acceptq_is_full / unix_recvq_full: strictly more than the backlog.
        return len(listener.accept_queue) > listener.backlog

    @_syscall
    def accept(self, fd: int, flags: int) -> tuple[int, bytes]:
        """``accept4``: the next connection; EINVAL when not listening, EAGAIN when none."""
        slot = self._slot(fd)
        listener = slot.file.sock
        if not self._is_connection(listener):
            self._fail("EOPNOTSUPP")
        if listener.state != "listening":
            self._fail("EINVAL")
        if flags & ~(self._c("SOCK_NONBLOCK") | self._c("SOCK_CLOEXEC")):
            self._fail("EINVAL")
        if not listener.accept_queue:
            if slot.file.nonblocking:
                self._fail("EAGAIN")
            self._block(fd, "accept", lambda: bool(listener.accept_queue) or listener.state != "listening",
                        self._timeo_deadline(listener, "SO_RCVTIMEO"))
            if listener.state != "listening":
                self._fail("EINVAL")
            if not listener.accept_queue:
                self._fail("EAGAIN")
        new_fd = self._lowest_free_fd()
        conn = listener.accept_queue.popleft()
        conn.embryo = False
        conn.listener = None
        self._promote_syn_queue(listener)
        self._install(OpenFile(conn, bool(flags & self._c("SOCK_NONBLOCK"))), bool(flags & self._c("SOCK_CLOEXEC")))
        return new_fd, self._peer_address(conn)

    def _promote_syn_queue(self, listener: FakeSocket) -> None:
        while listener.syn_queue and not self._accept_queue_full(listener):
            connector = listener.syn_queue.popleft()
            self._tcp_establish(connector, listener)

    def _peer_address(self, sock: FakeSocket) -> bytes:
        if self._is_unix(sock):
            peer = sock.peer
            name = peer.name if peer is not None else None
            assert name is None or isinstance(name, UnixName)
            return build_unix(self._abi, name)
        assert isinstance(sock.peer_name, InetName)
        return build_inet(self._abi, sock.peer_name)

    # ----------------------------------------------------------------- connect
    @_syscall
    def connect(self, fd: int, addr: bytes) -> None:
        slot = self._slot(fd)
        sock = slot.file.sock
        if self._is_unix(sock):
            if self._is_connection(sock):
                self._unix_stream_connect(fd, slot.file, addr)
            else:
                self._unix_dgram_connect(sock, addr)
        elif self._is_stream(sock):
            self._tcp_connect(fd, slot.file, addr)
        else:
            self._udp_connect(sock, addr)

    def _unix_stream_connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``unix_stream_connect``: the server side is created at once, before accept."""
        sock = file.sock
        parse_unix(self._abi, addr, for_bind=False)
        if self._passcred(sock) and sock.name is None:
            self._unix_autobind(sock)
        # The lookup and the listener's state come before our own state is
        # checked: connecting a connected socket to a missing path is ENOENT.
        while True:
            listener = self._unix_lookup(sock, addr)
            if listener.state != "listening":
                self._fail("ECONNREFUSED")
            if not self._accept_queue_full(listener):
                break
            if file.nonblocking:
                self._fail("EAGAIN")
            self._block(fd, "connect", lambda: listener.released or not self._accept_queue_full(listener),
                        self._timeo_deadline(sock, "SO_SNDTIMEO"))
            if self._accept_queue_full(listener) and not listener.released:
                self._fail("EAGAIN")
        if sock.state == "connected":
            self._fail("EISCONN")
        if sock.state != "unconnected":
            self._fail("EINVAL")
        server = self._new_socket(sock.family, sock.type, sock.proto)
        server.name = listener.name
        server.options = {k: v for k, v in listener.options.items()}
        server.sndbuf, server.rcvbuf = listener.sndbuf, listener.rcvbuf
        server.credentials = listener.credentials
        server.peer_credentials = sock.credentials
        sock.peer_credentials = listener.credentials
        server.embryo = True
        server.listener = listener
        server.peer, sock.peer = sock, server
        server.state = sock.state = "connected"
        listener.accept_queue.append(server)

    def _unix_dgram_connect(self, sock: FakeSocket, addr: bytes) -> None:
        """``unix_dgram_connect``: AF_UNSPEC disconnects; otherwise the peer must exist."""
        if family_of(self._abi, addr) == self._c("AF_UNSPEC") and len(addr) >= 2:
            sock.peer = None
            sock.peer_name = None
            return
        if self._passcred(sock) and sock.name is None:
            self._unix_autobind(sock)
        other = self._unix_lookup(sock, addr)
        sock.peer = other
        sock.peer_name = other.name
        sock.state = "connected"

    def _tcp_connect(self, fd: int, file: OpenFile, addr: bytes) -> None:
        """``__inet_stream_connect`` + ``tcp_v4_connect`` on loopback."""
        sock = file.sock
        if sock.connect_in_progress:
            # __inet_stream_connect in SS_CONNECTING: EALREADY while the
            # handshake runs; once it ended, this call reports the outcome.
            if sock.state == "connecting":
                self._fail("EALREADY")
            sock.connect_in_progress = False
            if sock.state == "connected":
                return
            sock.state = "unconnected"
            code, sock.error = sock.error or self._e("ECONNABORTED"), 0
            raise_errno(code)
        if sock.state == "connected":
            self._fail("EISCONN")
        if sock.state == "listening":
            self._fail("EISCONN")
        if family_of(self._abi, addr) == self._c("AF_UNSPEC") and len(addr) >= 2:
            raise NotImplementedError("the fake kernel does not model connect(AF_UNSPEC) on TCP sockets")
        target = self._parse_inet_for(sock, addr, for_bind=False)
        if not self._local_packed(sock.family, target.packed):
            self._fail("ENETUNREACH")  # only the loopback interface exists
        if not any(target.packed):
            # Linux connects a wildcard destination to the loopback address.
            target = attrs.evolve(target, packed=b"\x7f\0\0\1" if len(target.packed) == 4 else bytes(15) + b"\1")
        self._inet_autobind(sock)
        sock.peer_name = target
        sock.name = self._inet_bound_name(sock, target)
        listener = self._find_listener(sock, target)
        if listener is None:
            # RST in answer to the SYN: tcp_reset in SYN_SENT.
            sock.state = "unconnected"
            sock.peer_name = None
            if file.nonblocking:
                sock.error = self._e("ECONNREFUSED")
                sock.state = "closed"
                sock.shutdown = SHUTDOWN_MASK
                sock.connect_in_progress = True
                self._fail("EINPROGRESS")
            self._fail("ECONNREFUSED")
        assert listener is not None
        sock.state = "connecting"
        if self._accept_queue_full(listener):
            listener.syn_queue.append(sock)
        else:
            self._tcp_establish(sock, listener)
        if file.nonblocking:
            sock.connect_in_progress = True
            self._fail("EINPROGRESS")  # Linux answers EINPROGRESS even on loopback.
        self._block(fd, "connect", lambda: sock.state != "connecting", self._timeo_deadline(sock, "SO_SNDTIMEO"))
        if sock.state == "connecting":
            self._fail("EINPROGRESS")
        if sock.error:
            code, sock.error = sock.error, 0
            raise_errno(code)

    def _find_listener(self, sock: FakeSocket, target: InetName) -> FakeSocket | None:
        for other in self._ports.get((sock.family, sock.type, target.port), []):
            assert isinstance(other.name, InetName)
            if other.state == "listening" and (other.name.packed == target.packed or not any(other.name.packed)):
                return other
        if sock.family == self._c("AF_INET"):
            # A dual-stack listener: AF_INET6 bound to :: with IPV6_V6ONLY 0
            # takes IPv4 connections, seen as ::ffff:a.b.c.d (ipv6(7)).
            v6only = (self._c("IPPROTO_IPV6"), self._c("IPV6_V6ONLY"))
            for other in self._ports.get((self._c("AF_INET6"), sock.type, target.port), []):
                assert isinstance(other.name, InetName)
                if other.state == "listening" and not any(other.name.packed) and not other.options.get(v6only):
                    return other
        return None

    def _tcp_establish(self, client: FakeSocket, listener: FakeSocket) -> None:
        server = self._new_socket(listener.family, client.type, client.proto)
        assert isinstance(client.peer_name, InetName) and isinstance(client.name, InetName)
        server.name = client.peer_name
        server.peer_name = client.name
        if listener.family != client.family:
            def mapped(name: InetName) -> InetName:
                return InetName(listener.family, bytes(10) + b"\xff\xff" + name.packed, name.port)

            server.name = mapped(client.peer_name)
            server.peer_name = mapped(client.name)
        server.options = dict(listener.options)
        server.options.pop((self._c("SOL_SOCKET"), self._c("SO_ERROR")), None)
        server.sndbuf, server.rcvbuf = listener.sndbuf, listener.rcvbuf
        server.embryo = True
        server.listener = listener
        server.peer, client.peer = client, server
        server.state = client.state = "connected"
        self._port_users(server, server.name.port).append(server)
        listener.accept_queue.append(server)
        if listener.family != client.family:
            self._port_users(server, server.name.port).remove(server)

    def _udp_connect(self, sock: FakeSocket, addr: bytes) -> None:
        if family_of(self._abi, addr) == self._c("AF_UNSPEC") and len(addr) >= 2:
            sock.peer_name = None
            sock.state = "unconnected"
            return
        target = self._parse_inet_for(sock, addr, for_bind=False)
        if not self._local_packed(sock.family, target.packed):
            self._fail("ENETUNREACH")
        self._inet_autobind(sock)
        sock.peer_name = target
        sock.name = self._inet_bound_name(sock, target)
        sock.state = "connected"

    @_syscall
    def shutdown(self, fd: int, how: int) -> None:
        """``unix_shutdown`` / ``inet_shutdown``: how + 1 gives the RCV/SEND bits."""
        sock = self._sock(fd)
        if how < self._c("SHUT_RD") or how > self._c("SHUT_RDWR"):
            self._fail("EINVAL")
        mode = how + 1
        if not self._is_unix(sock):
            if sock.state in ("unconnected", "closed"):
                self._fail("ENOTCONN")
            if sock.state == "listening":
                if mode & RCV_SHUTDOWN:
                    self._release_listener(sock)
                return
        sock.shutdown |= mode
        peer = sock.peer
        if peer is not None and self._is_connection(sock):
            if self._is_unix(sock):
                # unix_shutdown: the peer's opposite direction closes too.
                if mode & RCV_SHUTDOWN:
                    peer.shutdown |= SEND_SHUTDOWN
                if mode & SEND_SHUTDOWN:
                    peer.shutdown |= RCV_SHUTDOWN
            elif mode & SEND_SHUTDOWN:
                peer.shutdown |= RCV_SHUTDOWN  # FIN

    def _release_listener(self, sock: FakeSocket) -> None:
        for pending in list(sock.accept_queue):
            self._release(pending)
        sock.accept_queue.clear()
        sock.state = "closed"

    @_syscall
    def getsockname(self, fd: int) -> bytes:
        sock = self._sock(fd)
        if self._is_unix(sock):
            assert sock.name is None or isinstance(sock.name, UnixName)
            return build_unix(self._abi, sock.name)
        if sock.name is None:
            any_addr = bytes(4 if sock.family == self._c("AF_INET") else 16)
            return build_inet(self._abi, InetName(sock.family, any_addr, 0))
        assert isinstance(sock.name, InetName)
        return build_inet(self._abi, sock.name)

    @_syscall
    def getpeername(self, fd: int) -> bytes:
        sock = self._sock(fd)
        if self._is_unix(sock):
            if sock.peer is None or sock.state != "connected":
                self._fail("ENOTCONN")
            return self._peer_address(sock)
        if sock.state != "connected" or sock.peer_name is None:
            self._fail("ENOTCONN")
        assert isinstance(sock.peer_name, InetName)
        return build_inet(self._abi, sock.peer_name)

    # ------------------------------------------------------------------ options
    def _default_option(
        self, sock: FakeSocket, level: int, option: int, *, for_set: bool = False
    ) -> int | bytes | None:
        """Linux's value of an option nobody set; None when the option is unknown here."""
        c = self._c
        if level == c("SOL_SOCKET"):
            if option == c("SO_TYPE"):
                return sock.type
            if option == c("SO_DOMAIN"):
                return sock.family
            if option == c("SO_PROTOCOL"):
                return sock.proto
            if option == c("SO_ERROR"):
                code, sock.error = sock.error, 0
                return code
            if option == c("SO_ACCEPTCONN"):
                return int(sock.state == "listening")
            if option == c("SO_SNDBUF"):
                return sock.sndbuf
            if option == c("SO_RCVBUF"):
                return sock.rcvbuf
            if option in (c("SO_RCVLOWAT"), c("SO_SNDLOWAT")):
                return 1
            if option == c("SO_PEEK_OFF"):
                return -1
            if option in (c("SO_RCVTIMEO"), c("SO_SNDTIMEO")):
                return bytes(16)
            if option == c("SO_LINGER"):
                return bytes(8)
            if option == c("SO_PEERCRED"):
                cred = sock.peer_credentials
                if cred is None:
                    return struct.pack("iII", 0, 0xFFFFFFFF, 0xFFFFFFFF)
                return struct.pack("iII", cred.pid, cred.uid, cred.gid)
            simple = ("SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST", "SO_OOBINLINE",
                      "SO_DONTROUTE", "SO_PRIORITY", "SO_PASSCRED", "SO_DEBUG", "SO_MARK",
                      "SO_TIMESTAMP", "SO_TIMESTAMPNS", "SO_PASSSEC", "SO_INCOMING_CPU")
            if any(option == c(n) for n in simple):
                return 0
            return None
        if self._is_unix(sock):
            return None
        is_tcp = self._is_stream(sock)
        own_level = c("IPPROTO_TCP") if is_tcp else c("IPPROTO_UDP")
        inet6 = sock.family == c("AF_INET6")
        if level not in (own_level, c("IPPROTO_IP")) and not (inet6 and level == c("IPPROTO_IPV6")):
            # tcp/udp_getsockopt hand other levels to ip_getsockopt (EOPNOTSUPP
            # for a level it does not know) or ipv6_getsockopt (ENOPROTOOPT).
            # do_ip_setsockopt answers ENOPROTOOPT where do_ip_getsockopt
            # answers EOPNOTSUPP.
            raise_errno(self._e("ENOPROTOOPT" if inet6 or for_set else "EOPNOTSUPP"))
        if level == c("IPPROTO_TCP") and is_tcp:
            defaults = {"TCP_NODELAY": 0, "TCP_MAXSEG": 536, "TCP_CORK": 0, "TCP_KEEPIDLE": 7200,
                        "TCP_KEEPINTVL": 75, "TCP_KEEPCNT": 9, "TCP_SYNCNT": 6, "TCP_LINGER2": 60,
                        "TCP_DEFER_ACCEPT": 0, "TCP_WINDOW_CLAMP": 0, "TCP_QUICKACK": 1,
                        "TCP_USER_TIMEOUT": 0, "TCP_FASTOPEN": 0, "TCP_NOTSENT_LOWAT": 0}
            for n, v in defaults.items():
                if option == c(n):
                    return v
            return None
        if level == c("IPPROTO_UDP") and not is_tcp:
            if option in (c("UDP_SEGMENT"), c("UDP_GRO")):
                return 0
            return None
        if level == c("IPPROTO_IP"):
            defaults = {"IP_TOS": 0, "IP_TTL": 64, "IP_MULTICAST_TTL": 1, "IP_MULTICAST_LOOP": 1,
                        "IP_RECVTOS": 0, "IP_RECVTTL": 0, "IP_PKTINFO": 0, "IP_RECVERR": 0,
                        "IP_TRANSPARENT": 0, "IP_BIND_ADDRESS_NO_PORT": 0, "IP_HDRINCL": 0}
            for n, v in defaults.items():
                if option == c(n):
                    return v
            return None
        if level == c("IPPROTO_IPV6") and sock.family == c("AF_INET6"):
            defaults = {"IPV6_V6ONLY": 0, "IPV6_UNICAST_HOPS": 64, "IPV6_MULTICAST_HOPS": 1,
                        "IPV6_MULTICAST_LOOP": 1, "IPV6_RECVPKTINFO": 0, "IPV6_TCLASS": 0,
                        "IPV6_RECVTCLASS": 0, "IPV6_RECVERR": 0, "IPV6_DONTFRAG": 0}
            for n, v in defaults.items():
                if option == c(n):
                    return v
            return None
        return None

    def _option_value(self, sock: FakeSocket, level: int, option: int) -> int | bytes:
        stored = sock.options.get((level, option))
        if stored is not None:
            return stored
        value = self._default_option(sock, level, option)
        if value is None:
            if self._is_unix(sock) and level != self._c("SOL_SOCKET"):
                self._fail("EOPNOTSUPP")  # unix sockets have no protocol-level options
            self._fail("ENOPROTOOPT")
        assert value is not None
        return value

    @_syscall
    def getsockopt(self, fd: int, level: int, option: int) -> int:
        value = self._option_value(self._sock(fd), level, option)
        if isinstance(value, bytes):
            return int.from_bytes(value[:4].ljust(4, b"\0"), self._abi.byteorder, signed=True)
        return value

    @_syscall
    def getsockopt_bytes(self, fd: int, level: int, option: int, buflen: int) -> bytes:
        if buflen < 0:
            self._fail("EINVAL")
        value = self._option_value(self._sock(fd), level, option)
        if isinstance(value, int):
            value = value.to_bytes(4, self._abi.byteorder, signed=value < 0)
        return value[:buflen]

    def _check_settable(self, sock: FakeSocket, level: int, option: int) -> int | bytes:
        """The option's current default, or the errno for an option the protocol does not know."""
        c = self._c
        known = (
            self._default_option(sock, level, option, for_set=True)
            if (level, option) != (c("SOL_SOCKET"), c("SO_ERROR"))
            else 0
        )
        if known is None:
            if self._is_unix(sock) and level != c("SOL_SOCKET"):
                self._fail("EOPNOTSUPP")
            self._fail("ENOPROTOOPT")
        assert known is not None
        return known

    def _set_option(self, sock: FakeSocket, level: int, option: int, raw: bytes) -> None:
        c = self._c
        known = self._check_settable(sock, level, option)
        read_only = ("SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL", "SO_ERROR", "SO_ACCEPTCONN", "SO_PEERCRED")
        if level == c("SOL_SOCKET") and any(option == c(n) for n in read_only):
            self._fail("ENOPROTOOPT")
        if isinstance(known, bytes):
            if len(raw) < len(known):
                self._fail("EINVAL")
            sock.options[(level, option)] = raw[: len(known)]
            return
        if len(raw) < 4:
            self._fail("EINVAL")
        value = int.from_bytes(raw[:4], self._abi.byteorder, signed=True)
        if level == c("SOL_SOCKET") and option == c("SO_SNDBUF"):
            # sock_setsockopt: min(val, wmem_max) as u32, doubled, at least SOCK_MIN_SNDBUF.
            sock.sndbuf = max(min(value & 0xFFFFFFFF, self.wmem_max) * 2, SOCK_MIN_SNDBUF)
            return
        if level == c("SOL_SOCKET") and option == c("SO_RCVBUF"):
            sock.rcvbuf = max(min(value & 0xFFFFFFFF, self.rmem_max) * 2, SOCK_MIN_RCVBUF)
            return
        if level == c("SOL_SOCKET") and option == c("SO_PEEK_OFF"):
            raise NotImplementedError("the fake kernel does not model SO_PEEK_OFF peek offsets")
        boolean = ("SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST", "SO_OOBINLINE",
                   "SO_DONTROUTE", "SO_PASSCRED", "SO_DEBUG", "SO_TIMESTAMP", "SO_TIMESTAMPNS",
                   "SO_PASSSEC")
        if (level == c("SOL_SOCKET") and any(option == c(n) for n in boolean)) or (
            level == c("IPPROTO_TCP") and option == c("TCP_NODELAY")
        ):
            value = int(value != 0)
        sock.options[(level, option)] = value

    @_syscall
    def setsockopt(self, fd: int, level: int, option: int, value: int) -> None:
        raw = (value & 0xFFFFFFFF).to_bytes(4, self._abi.byteorder)
        self._set_option(self._sock(fd), level, option, raw)

    @_syscall
    def setsockopt_bytes(
        self, fd: int, level: int, option: int, value: ReadableBuffer | None, optlen: int
    ) -> None:
        sock = self._sock(fd)
        if value is None:
            if optlen > 0:
                # The protocol's setsockopt rejects an option it does not know
                # before copy_from_user faults on the NULL optval.
                self._check_settable(sock, level, option)
                self._fail("EFAULT")
            raw = b""
        else:
            raw = bytes(_c_buffer(value))[:optlen] if optlen >= 0 else b""
        self._set_option(sock, level, option, raw)

    # -------------------------------------------------------------------- send
    @_syscall
    def send(self, fd: int, data: ReadableBuffer, flags: int) -> int:
        return self._send(fd, "send", [data], b"", flags, None)

    @_syscall
    def sendto(self, fd: int, data: ReadableBuffer, flags: int, addr: bytes) -> int:
        return self._send(fd, "sendto", [data], b"", flags, addr)

    @_syscall
    def sendmsg(
        self,
        fd: int,
        buffers: Sequence[ReadableBuffer],
        control: bytes,
        flags: int,
        addr: bytes | None,
    ) -> int:
        return self._send(fd, "sendmsg", buffers, control, flags, addr)

    def _send(
        self,
        fd: int,
        call: str,
        buffers: Sequence[ReadableBuffer],
        control: bytes,
        flags: int,
        addr: bytes | None,
    ) -> int:
        slot = self._slot(fd)
        sock = slot.file.sock
        if len(buffers) > self._abi.iov_max:
            self._fail("EMSGSIZE")
        # ____sys_sendmsg: a control buffer larger than the on-stack one is
        # sock_kmalloc'ed, which refuses size >= optmem_max (the socket's
        # sk_omem_alloc is 0 between calls): ENOBUFS before anything is parsed.
        if len(control) > SENDMSG_CTL_STACK and len(control) >= self.optmem_max:
            self._fail("ENOBUFS")
        data = b"".join(bytes(_c_buffer(b)) for b in buffers)
        if flags & self._c("MSG_OOB"):
            raise NotImplementedError("the fake kernel does not model out-of-band data (MSG_OOB)")
        nonblocking = slot.file.nonblocking or bool(flags & self._c("MSG_DONTWAIT"))
        sent = parse_control(self._abi, bytes(control), is_unix=self._is_unix(sock))
        files = [self._slot(n).file for n in sent.fds]
        credentials = self._process_credentials
        if sent.credentials is not None:
            if sent.credentials != credentials:
                self._fail("EPERM")  # scm_check_creds: not our pid/uid/gid.
            credentials = sent.credentials
        cap = self.faults.cap_for(call, fd)
        if self._is_unix(sock):
            if self._is_stream(sock):
                return self._unix_stream_send(fd, sock, data, files, credentials, nonblocking, addr, cap)
            return self._unix_dgram_send(fd, sock, data, files, credentials, nonblocking, addr)
        if self._is_stream(sock):
            return self._tcp_send(fd, sock, data, nonblocking, addr, cap)
        return self._udp_send(fd, sock, data, nonblocking, addr)

    def _take_files(self, files: list[OpenFile]) -> list[OpenFile]:
        """New references to *files* (``get_file``), for a peek's installed copies."""
        for file in files:
            file.refs += 1
        return list(files)

    def _into_flight(self, files: list[OpenFile]) -> list[OpenFile]:
        """``scm_fp_copy`` + ``unix_inflight``: the references a message carries."""
        for file in files:
            file.refs += 1
            file.inflight += 1
            self._in_flight[file] = None
        return list(files)

    def _out_of_flight(self, segment: Segment) -> list[OpenFile]:
        """``unix_notinflight``: the message's references leave flight (to a
        reader, or to be dropped); the caller owns them."""
        files, segment.files = segment.files, []
        for file in files:
            file.inflight -= 1
            if not file.inflight:
                self._in_flight.pop(file, None)
        return files

    def files_in_flight(self) -> int:
        """How many file references travel in SCM_RIGHTS messages not yet received.

        A leak check can assert it is 0 with :meth:`open_fds`: files in flight
        have no fd, and the unix garbage collector frees only unreachable ones.
        """
        with self._scheduler.condition:
            return sum(file.inflight for file in self._in_flight)

    def _unix_gc(self) -> None:
        """``unix_gc`` (net/unix/garbage.c): free the AF_UNIX sockets that only
        messages in flight keep alive and that no one can reach any more.

        Candidates are in-flight AF_UNIX files all of whose references are in
        flight (``file_count == inflight``).  References carried by messages
        queued on candidates (a listener's embryos included) are internal; a
        candidate with an in-flight reference from elsewhere is reachable, and
        so is everything in its queue, transitively.  The rest is garbage:
        the fds its queued messages carry are dropped (``__skb_queue_purge``
        of the hitlist), which releases the cycle.  Linux runs it from
        ``unix_release_sock`` whenever anything is in flight (since 6.10 from
        a work queue, so a moment later); the fake runs it at once, on close.
        """
        if self._gc_running or not self._in_flight:
            return
        candidates = [f for f in self._in_flight if f.refs == f.inflight and self._is_unix(f.sock)]
        if not candidates:
            return
        is_candidate = set(candidates)

        def queues(file: OpenFile) -> list[Segment]:
            sock = file.sock
            owners = list(sock.accept_queue) if sock.state == "listening" else [sock]
            return [segment for owner in owners for segment in owner.receive_queue if segment.files]

        internal = dict.fromkeys(candidates, 0)
        for file in candidates:
            for segment in queues(file):
                for child in segment.files:
                    if child in is_candidate:
                        internal[child] += 1
        reachable = [f for f in candidates if f.inflight > internal[f]]
        alive = set(reachable)
        while reachable:
            for segment in queues(reachable.pop()):
                for child in segment.files:
                    if child in is_candidate and child not in alive:
                        alive.add(child)
                        reachable.append(child)
        garbage = [f for f in candidates if f not in alive]
        hitlist = [segment for file in garbage for segment in queues(file)]
        self._gc_running = True
        try:
            for segment in hitlist:
                for file in self._out_of_flight(segment):
                    self._unref(file)
        finally:
            self._gc_running = False

    def _wait_for_wmem(self, fd: int, call: str, sock: FakeSocket, nonblocking: bool) -> None:
        """``sock_alloc_send_pskb``: wait while sk_wmem_alloc >= sk_sndbuf."""
        if sock.wmem < sock.sndbuf:
            return
        if nonblocking:
            self._fail("EAGAIN")
        ready = self._block(fd, call, lambda: sock.wmem < sock.sndbuf or bool(sock.error) or bool(sock.shutdown & SEND_SHUTDOWN) or sock.peer is None,
                            self._timeo_deadline(sock, "SO_SNDTIMEO"))
        if not ready:
            self._fail("EAGAIN")
        if sock.error:
            code, sock.error = sock.error, 0
            raise_errno(code)
        if sock.shutdown & SEND_SHUTDOWN:
            self._fail("EPIPE")

    def _unix_stream_send(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[OpenFile],
        credentials: Credentials, nonblocking: bool, addr: bytes | None, cap: int | None,
    ) -> int:
        """``unix_stream_sendmsg`` (SOCK_STREAM only; SEQPACKET goes the datagram way)."""
        if addr is not None and len(addr) > 0:
            self._fail("EISCONN" if sock.state == "connected" else "EOPNOTSUPP")
        if sock.peer is None and sock.state != "connected":
            self._fail("ENOTCONN")
        if sock.shutdown & SEND_SHUTDOWN:
            self._fail("EPIPE")
        if cap is not None:
            data = data[:cap]
        sent = 0
        fds_sent = False
        while sent < len(data):
            # Keep two messages in the pipe: chunks of min(sndbuf/2 - 64, 36544).
            size = min(len(data) - sent, (sock.sndbuf >> 1) - 64, SKB_MAX_HEAD + UNIX_SKB_FRAGS_SZ)
            paged = min(size, -(-max(0, size - SKB_MAX_HEAD) // 4096) * 4096)
            try:
                self._wait_for_wmem(fd, "sendmsg", sock, nonblocking)
            except OSError:
                if sent:
                    return sent
                raise
            other = sock.peer
            if other is None or other.released or other.shutdown & RCV_SHUTDOWN:
                if sent:
                    return sent
                self._fail("EPIPE")
            assert other is not None
            segment = Segment(
                data[sent : sent + size], credentials,
                files=self._into_flight(files) if not fds_sent else [],
                charged_to=sock, cost=truesize(size - paged, paged),
            )
            fds_sent = True
            sock.wmem += segment.cost
            other.receive_queue.append(segment)
            sent += size
        return sent

    def _unix_dgram_send(
        self, fd: int, sock: FakeSocket, data: bytes, files: list[OpenFile],
        credentials: Credentials, nonblocking: bool, addr: bytes | None,
    ) -> int:
        """``unix_dgram_sendmsg`` (and ``unix_seqpacket_sendmsg``)."""
        seqpacket = sock.type == self._c("SOCK_SEQPACKET")
        if seqpacket:
            if sock.state != "connected":
                self._fail("ENOTCONN")
            if sock.shutdown & SEND_SHUTDOWN:
                self._fail("EPIPE")
            if addr:
                addr = None  # unix_seqpacket_sendmsg ignores msg_name when connected
        if not seqpacket and sock.shutdown & SEND_SHUTDOWN:
            self._fail("EPIPE")
        if len(data) > sock.sndbuf - 32:
            self._fail("EMSGSIZE")
        if self._passcred(sock) and sock.name is None:
            self._unix_autobind(sock)
        if addr:
            other = self._unix_lookup(sock, addr)
        else:
            if sock.peer is None:
                self._fail("ENOTCONN")
            assert sock.peer is not None
            other = sock.peer
        if other.released:
            if seqpacket:
                self._fail("EPIPE")
            if sock.peer is other:
                sock.peer = None  # unix_dgram_sendmsg: disconnect from the dead peer.
            self._fail("ECONNREFUSED")
        if not seqpacket and other.peer is not None and other.peer is not sock and other is not sock:
            self._fail("EPERM")  # unix_may_send: the target is connected elsewhere.
        if other.shutdown & RCV_SHUTDOWN:
            self._fail("EPIPE")  # unix_dgram_sendmsg: the receiver shut down reading.
        self._wait_for_wmem(fd, "sendmsg", sock, nonblocking)
        # unix_recvq_full: a receiver not connected back to us holds max_dgram_qlen.
        if not seqpacket and other.peer is not sock and len(other.receive_queue) > UNIX_MAX_DGRAM_QLEN:
            if nonblocking:
                self._fail("EAGAIN")
            if not self._block(fd, "sendmsg", lambda: other.released or len(other.receive_queue) <= UNIX_MAX_DGRAM_QLEN,
                               self._timeo_deadline(sock, "SO_SNDTIMEO")):
                self._fail("EAGAIN")
            if other.released:
                self._fail("ECONNREFUSED")
        paged = 0
        if len(data) > SKB_MAX_ALLOC:
            paged = -(-min(len(data) - SKB_MAX_ALLOC, 17 * 4096) // 4096) * 4096
        source = b""
        if isinstance(sock.name, UnixName):
            source = build_unix(self._abi, sock.name)
        segment = Segment(data, credentials, source=source, files=self._into_flight(files),
                          charged_to=sock, cost=truesize(len(data) - paged, paged))
        sock.wmem += segment.cost
        other.receive_queue.append(segment)
        return len(data)

    def _tcp_send(self, fd: int, sock: FakeSocket, data: bytes, nonblocking: bool,
                  addr: bytes | None, cap: int | None) -> int:
        """``tcp_sendmsg_locked`` on loopback: the bytes land in the peer's queue."""
        if sock.error:
            code, sock.error = sock.error, 0
            raise_errno(code)
        if sock.state == "connecting":
            if nonblocking:
                self._fail("EAGAIN")
            self._block(fd, "sendmsg", lambda: sock.state != "connecting")
        if sock.state != "connected" or sock.shutdown & SEND_SHUTDOWN:
            self._fail("EPIPE")  # sk_stream_wait_connect: not connected -> EPIPE
        if cap is not None:
            data = data[:cap]
        sent = 0
        while sent < len(data) or not data:
            peer = sock.peer
            if peer is None or peer.released:
                # The peer is gone: the data draws an RST (tcp_reset).
                self._tcp_reset(sock)
                return len(data)
            if not self._tcp_writable(sock):
                if sent:
                    return sent
                if nonblocking:
                    self._fail("EAGAIN")
                if not self._block(fd, "sendmsg", lambda: self._tcp_writable(sock) or sock.peer is None or bool(sock.error),
                                   self._timeo_deadline(sock, "SO_SNDTIMEO")):
                    self._fail("EAGAIN")
                if sock.error:
                    code, sock.error = sock.error, 0
                    raise_errno(code)
                continue
            if not data:
                return 0
            room = peer.rcvbuf + sock.sndbuf - peer.rmem
            chunk = data[sent : sent + max(room, 1)]
            segment = Segment(chunk, self._process_credentials, cost=len(chunk))
            peer.rmem += segment.cost
            peer.receive_queue.append(segment)
            sent += len(chunk)
        return sent

    def _udp_send(self, fd: int, sock: FakeSocket, data: bytes, nonblocking: bool, addr: bytes | None) -> int:
        """``udp_sendmsg`` on loopback: delivered at once, dropped when the receiver is full."""
        if addr:
            target = self._parse_inet_for(sock, addr, for_bind=False)
        else:
            if sock.peer_name is None:
                self._fail("EDESTADDRREQ")
            assert isinstance(sock.peer_name, InetName)
            target = sock.peer_name
        if len(data) > UDP_MAX_PAYLOAD[len(target.packed)]:
            self._fail("EMSGSIZE")
        if not self._local_packed(sock.family, target.packed):
            self._fail("ENETUNREACH")
        if target.port == 0:
            self._fail("EINVAL")
        self._inet_autobind(sock)
        source = self._inet_bound_name(sock, target if any(target.packed) else attrs.evolve(
            target, packed=b"\x7f\0\0\1" if len(target.packed) == 4 else bytes(15) + b"\1"))
        receiver = None
        for other in self._ports.get((sock.family, sock.type, target.port), []):
            assert isinstance(other.name, InetName)
            if other.name.packed == target.packed or not any(other.name.packed) or not any(target.packed):
                if other.peer_name is None or other.peer_name == attrs.evolve(source, flowinfo=0, scope_id=0):
                    receiver = other
                    break
        if receiver is None:
            # ICMP port unreachable: a connected socket learns ECONNREFUSED.
            if sock.peer_name is not None:
                sock.error = self._e("ECONNREFUSED")
            return len(data)
        cost = truesize(len(data))
        if receiver.rmem + cost > receiver.rcvbuf:
            return len(data)  # __udp_enqueue_schedule_skb: dropped, not an error.
        segment = Segment(data, self._process_credentials, source=build_inet(self._abi, source), cost=cost)
        receiver.rmem += cost
        receiver.receive_queue.append(segment)
        return len(data)

    # ----------------------------------------------------------------- receive
    @_syscall
    def recv(self, fd: int, bufsize: int, flags: int) -> bytes:
        data, _control, _flags, _addr, length = self._receive(fd, "recv", bufsize, 0, flags)
        return _as_returned(data, length)

    @_syscall
    def recv_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> int:
        with _exported([buf]) as (view,):
            data, _control, _flags, _addr, length = self._receive(fd, "recv_into", nbytes, 0, flags)
            view[: len(data)] = data
        return length

    @_syscall
    def recvfrom(self, fd: int, bufsize: int, flags: int) -> tuple[bytes, bytes]:
        data, _control, _flags, addr, length = self._receive(fd, "recvfrom", bufsize, 0, flags)
        return _as_returned(data, length), addr

    @_syscall
    def recvfrom_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> tuple[int, bytes]:
        with _exported([buf]) as (view,):
            data, _control, _flags, addr, length = self._receive(fd, "recvfrom_into", nbytes, 0, flags)
            view[: len(data)] = data
        return length, addr

    @_syscall
    def recvmsg(self, fd: int, bufsize: int, ancbufsize: int, flags: int) -> tuple[bytes, bytes, int, bytes]:
        data, control, msg_flags, addr, _length = self._receive(fd, "recvmsg", bufsize, ancbufsize, flags)
        # recvmsg keeps what fit: CPython's makeval_recvmsg only ever shrinks.
        return data, control, msg_flags, addr

    @_syscall
    def recvmsg_into(
        self, fd: int, buffers: Sequence[WriteableBuffer], ancbufsize: int, flags: int
    ) -> tuple[int, bytes, int, bytes]:
        if len(buffers) > self._abi.iov_max:
            self._fail("EMSGSIZE")
        with _exported(buffers) as views:
            total = sum(len(v) for v in views)
            data, control, msg_flags, addr, length = self._receive(fd, "recvmsg_into", total, ancbufsize, flags)
            offset = 0
            for view in views:
                part = data[offset : offset + len(view)]
                view[: len(part)] = part
                offset += len(part)
        return length, control, msg_flags, addr

    def _receive(
        self, fd: int, call: str, size: int, ancbufsize: int, flags: int
    ) -> tuple[bytes, bytes, int, bytes, int]:
        """Every receive call: ``(data, control, msg_flags, address, return value)``."""
        slot = self._slot(fd)
        sock = slot.file.sock
        if size < 0:
            self._fail("EINVAL")
        if flags & self._c("MSG_OOB"):
            raise NotImplementedError("the fake kernel does not model out-of-band data (MSG_OOB)")
        if flags & self._c("MSG_ERRQUEUE"):
            raise NotImplementedError("the fake kernel does not model socket error queues (MSG_ERRQUEUE)")
        cap = self.faults.cap_for(call, fd)
        if cap is not None:
            size = min(size, cap)
        nonblocking = slot.file.nonblocking or bool(flags & self._c("MSG_DONTWAIT"))
        control = ReceivedControl(self._abi, ancbufsize, keep_untrimmed_len=self.personality == "darwin")
        if self._is_stream(sock):
            data, creds, files, addr, length, msg_flags = self._stream_read(fd, call, sock, size, flags, nonblocking)
        else:
            data, creds, files, addr, length, msg_flags = self._dgram_read(fd, call, sock, size, flags, nonblocking)
        # scm_recv: credentials first (if SO_PASSCRED), then the fds.
        if self._is_unix(sock):
            if self._passcred(sock) and creds is not None:
                control.put_cmsg(self._c("SOL_SOCKET"), self._c("SCM_CREDENTIALS"),
                                 struct.pack("iII", creds.pid, creds.uid, creds.gid))
            if files:
                cloexec = bool(flags & self._c("MSG_CMSG_CLOEXEC"))

                def install(file: object) -> int:
                    assert isinstance(file, OpenFile)
                    code = self.faults.errno_for("install_fd", None)
                    if code is not None:
                        raise_errno(code)
                    return self._install(file, cloexec)

                control.detach_fds(files, install)
                for file in files:
                    self._unref(file)  # __scm_destroy: installed ones hold their own ref
        if control.truncated:
            msg_flags |= self._c("MSG_CTRUNC")
        # ____sys_recvmsg: msg_flags starts as flags & (MSG_CMSG_CLOEXEC|MSG_CMSG_COMPAT).
        msg_flags |= flags & self._c("MSG_CMSG_CLOEXEC")
        return data, bytes(control.buffer), msg_flags, addr, length

    def _stream_read(
        self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool
    ) -> tuple[bytes, Credentials | None, list[OpenFile], bytes, int, int]:
        """``unix_stream_read_generic`` (and ``tcp_recvmsg`` on loopback).

        Reads across segments, but never past one that carried fds, and never
        glues segments with different credentials once SO_PASSCRED is on.
        """
        unix = self._is_unix(sock)
        if sock.state == "listening" or (sock.state in ("unconnected", "connecting") and not sock.receive_queue):
            self._fail("EINVAL" if unix else "ENOTCONN")
        peek = bool(flags & self._c("MSG_PEEK"))
        waitall = bool(flags & self._c("MSG_WAITALL"))
        target = (size if waitall else min(1, size)) or 1
        out = bytearray()
        creds: Credentials | None = None
        check_creds = False
        files: list[OpenFile] = []
        index = 0
        deadline = self._timeo_deadline(sock, "SO_RCVTIMEO")
        while True:
            queue = sock.receive_queue
            segment = queue[index] if index < len(queue) else None
            if segment is None:
                if len(out) >= target:
                    break
                if sock.error:
                    if out:
                        break
                    code, sock.error = sock.error, 0
                    raise_errno(code)
                if sock.shutdown & RCV_SHUTDOWN:
                    break
                if peek and out:
                    break
                if nonblocking:
                    if out:
                        break
                    self._fail("EAGAIN")
                if not self._block(fd, call, lambda: len(sock.receive_queue) > index or bool(sock.error) or bool(sock.shutdown & RCV_SHUTDOWN), deadline):
                    if out:
                        break
                    self._fail("EAGAIN")
                continue
            if check_creds:
                if segment.credentials != creds:
                    break
            elif unix and self._passcred(sock):
                creds = segment.credentials
                check_creds = True
            if creds is None:
                creds = segment.credentials
            chunk = segment.data[segment.consumed : segment.consumed + size - len(out)]
            out += chunk
            if not peek:
                segment.consumed += len(chunk)
                if segment.files:
                    files += self._out_of_flight(segment)  # unix_detach_fds: the refs move to the reader
                if segment.remaining:
                    break
                queue.popleft()
                self._drop_segment(sock, segment)
                if files:
                    break
            else:
                if segment.files:
                    files += self._take_files(segment.files)  # unix_peek_fds
                    break
                index += 1
            if len(out) >= size:
                break
        return bytes(out), creds, files, b"", len(out), 0

    def _dgram_read(
        self, fd: int, call: str, sock: FakeSocket, size: int, flags: int, nonblocking: bool
    ) -> tuple[bytes, Credentials | None, list[OpenFile], bytes, int, int]:
        """``unix_dgram_recvmsg`` / ``udp_recvmsg``: one datagram per call, MSG_TRUNC when cut."""
        if sock.type == self._c("SOCK_SEQPACKET") and sock.state not in ("connected",):
            self._fail("ENOTCONN")
        peek = bool(flags & self._c("MSG_PEEK"))
        while not sock.receive_queue:
            if sock.error:
                code, sock.error = sock.error, 0
                raise_errno(code)
            if sock.shutdown & RCV_SHUTDOWN and (not nonblocking or sock.type == self._c("SOCK_SEQPACKET")):
                # unix_dgram_recvmsg: EOF when a blocking wait sees RCV_SHUTDOWN;
                # non-blocking, only SOCK_SEQPACKET signals EOF (others EAGAIN).
                return b"", None, [], b"", 0, 0
            if nonblocking:
                self._fail("EAGAIN")
            if not self._block(fd, call, lambda: bool(sock.receive_queue) or bool(sock.error) or bool(sock.shutdown & RCV_SHUTDOWN),
                               self._timeo_deadline(sock, "SO_RCVTIMEO")):
                self._fail("EAGAIN")
        segment = sock.receive_queue[0]
        data = segment.data[:size]
        msg_flags = self._c("MSG_TRUNC") if len(segment.data) > size else 0
        length = len(segment.data) if flags & self._c("MSG_TRUNC") else len(data)
        files: list[OpenFile]
        if peek:
            files = self._take_files(segment.files)
        else:
            files = self._out_of_flight(segment)
            sock.receive_queue.popleft()
            self._drop_segment(sock, segment)
        addr = segment.source
        if sock.type == self._c("SOCK_SEQPACKET"):
            addr = b""
        return data, segment.credentials, files, addr, length, msg_flags

    # ----------------------------------------------------------- files, hosts
    @_syscall
    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        # The fake has no regular files: an in_fd it knows is a socket, which
        # sendfile(2) refuses (EINVAL); any other fd is not in its table.
        self._sock(out_fd)
        self._slot(in_fd)
        raise_errno(self._e("EINVAL"))

    @_syscall
    def file_size(self, fd: int) -> int:
        # fstat(2) of a socket reports st_size 0; a real file's fd is not in
        # the fake's table (EBADF), so socket.sendfile() falls back to send().
        self._slot(fd)
        return 0

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        return self.resolver.getaddrinfo(host, port, family, type, proto, flags)

    def getnameinfo(self, addr: bytes, flags: int) -> tuple[str, str]:
        return self.resolver.getnameinfo(addr, flags)

    def gethostbyname_ex(self, name: bytes) -> HostEnt:
        return self.resolver.gethostbyname_ex(name)

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        return self.resolver.gethostbyaddr(addr, family)

    def getservbyname(self, name: bytes, proto: bytes | None) -> int | None:
        return self.resolver.getservbyname(name, proto)

    def getservbyport(self, port: int, proto: bytes | None) -> str | None:
        return self.resolver.getservbyport(port, proto)

    def getprotobyname(self, name: bytes) -> int | None:
        return self.resolver.getprotobyname(name)

    def gethostname(self) -> bytes:
        return self.resolver.hostname

    def sethostname(self, name: bytes) -> None:
        """``sethostname(2)``: EINVAL above 64 bytes (``__NEW_UTS_LEN``)."""
        if len(name) > 64:
            raise_errno(self._e("EINVAL"))
        self.resolver.hostname = bytes(name)

    def if_nameindex(self) -> list[tuple[int, bytes]]:
        """Only the loopback interface exists."""
        return [(1, b"lo")]

    def if_nametoindex(self, name: bytes) -> int:
        if name == b"lo":
            return 1
        raise_errno(self._e("ENODEV"))

    def if_indextoname(self, index: int) -> bytes:
        if index == 1:
            return b"lo"
        raise_errno(self._e("ENXIO"))

    def strerror(self, code: int) -> str:
        return os.strerror(code)
