"""The fake kernel: the :class:`sansock.Driver` protocol over an in-memory Linux.

Every method is one syscall.  It runs holding the kernel's condition
variable (see ``_scheduler``), records itself in the trace, consults the fault
script (the wrapper is ``_syscall.syscall``), then does what Linux does,
citing the function it reproduces.  Failure is ``OSError(errno, strerror)``
with Linux's errno and nothing else; what the fake does not model raises
``NotImplementedError`` with a sentence saying so.

This module holds :class:`FakeKernel`: the fd table (``fs/file.c``) and the
syscall entry points.  A socket syscall finds the socket and calls its
protocol, ``sock.ops`` (``_protocol.ProtoOps``: ``_af_unix``, ``_tcp``,
``_udp``), chosen when the socket was made (``_families``).
"""

from __future__ import annotations

import functools
import heapq
import os
import resource
from collections.abc import Sequence, Sized
from typing import TYPE_CHECKING, Literal, NoReturn

import attrs

from sansock.driver import ABI, LINUX_X86_64

from ._af_unix import UnixNames
from ._control import Credentials
from ._faults import TRACE_LIMIT, FaultScript, Trace
from ._families import Families
from ._fcntl import sys_fcntl
from ._filerefs import poll_one
from ._gai import ResolverMethods
from ._host import HostMethods, SchedulerLock, use_scheduler
from ._inet import InetHost
from ._objects import FakeSocket, FdSlot, File, OpenFile, RealFile, shared_credentials
from ._oserror import raise_errno
from ._protocol import ProtoOps
from ._realfiles import GivenFds, close_given, not_a_socket, release_real
from ._resolver import Resolver
from ._scheduler import Scheduler
from ._sendfile import real_file_size, sys_sendfile
from ._scheduler import __tracebackhide__ as __tracebackhide__  # noqa: F401 -- pytest hides our frames under BlockedForever
from ._sockopt import SocketOptions
from ._syscall import C_INT, C_SIZE, as_returned, c_buffer, exported, poll_event_names, poll_many, syscall
from ._sysmsg import sys_recvmsg, sys_sendmsg
from ._unix_garbage import InFlight

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["FakeKernel"]

#: /proc/sys/net/core/{w,r}mem_max on a stock kernel.
WMEM_MAX = 212992
RMEM_MAX = 212992
#: /proc/sys/net/core/optmem_max (128 KiB since Linux 6.9; 20480 before).
OPTMEM_MAX = 131072
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


@attrs.define(eq=False)
class FakeKernel(HostMethods, ResolverMethods):
    """An in-memory Linux kernel implementing the ``sansock.Driver`` protocol.

    >>> kernel = FakeKernel()
    >>> a, b = kernel.socketpair(1, 1, 0)
    >>> (a - kernel.fd_base, b - kernel.fd_base), kernel.send(a, b"ping", 0), kernel.recv(b, 10, 0)
    ((0, 1), 4, b'ping')

    Fd numbers start at :attr:`fd_base`, above every fd the real process can have
    (``os.write(a, ...)`` fails with ``EBADF``); ``fd_base=0`` gives Linux's numbering:

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
    #: net.ipv4.tcp_wmem[2] / tcp_rmem[2]: how far TCP's send buffer grows by
    #: autotuning, and (halved) the cap of a TCP socket's SO_RCVLOWAT.
    tcp_wmem_max: int = attrs.field(default=4194304, kw_only=True)
    tcp_rmem_max: int = attrs.field(default=6291456, kw_only=True)
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
    #: The AF_UNIX name table, this host's IP layer (addresses, port table,
    #: routes), the files in flight through SCM_RIGHTS, the option rules.
    _unix_names: UnixNames = attrs.field(init=False)
    _inet: InetHost = attrs.field(init=False)
    _in_flight: InFlight = attrs.field(init=False)
    _options: SocketOptions = attrs.field(init=False)
    #: ``struct proto_ops`` by (family, type): chosen once per socket (``sock.ops``).
    _families: Families = attrs.field(init=False)
    #: The scheduler condition's lock and ``_waiters`` (None: notify always;
    #: ``_host.use_scheduler``); POLLERR|POLLHUP|POLLNVAL.
    _lock: SchedulerLock = attrs.field(init=False)
    _waiters: Sized | None = attrs.field(default=None, init=False)
    _poll_always: int | None = attrs.field(default=None, init=False)
    #: The files a syscall that waited holds until it returns, by thread (``_filerefs``).
    _call_refs: dict[int, list[OpenFile]] = attrs.field(factory=dict, init=False)
    #: The real fds ``recvmsg`` handed out (SCM_RIGHTS, ``_realfiles``): ``close`` closes them.
    _real_given: GivenFds = attrs.field(factory=GivenFds, init=False)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.fd_base <= (1 << 31) - 1 - max(self.fd_limit, 0):
            raise ValueError(f"fd_base={self.fd_base} leaves no room for fd_limit={self.fd_limit} below INT_MAX")
        self._fd_high = self.fd_base if self.fd_base else 3
        use_scheduler(self, Scheduler(idle_grace_s=self.idle_grace_s, stall_timeout_s=self.stall_timeout_s))
        self._scheduler.event_names = self._poll_names
        self.resolver = Resolver(self._abi, hostname=self.hostname)
        self.trace = Trace(self.trace_limit)
        self._unix_names = UnixNames(self._abi)
        self._inet = InetHost(self._abi)
        self._in_flight = InFlight(self._unref)
        self._options = SocketOptions(self)
        self._families = Families(self)

    # ------------------------------------------------------------------ helpers
    @property
    def abi(self) -> ABI:
        """The platform this kernel speaks."""
        return self._abi

    def _c(self, name: str) -> int:
        return self._abi.const(name)

    def _e(self, name: str) -> int:
        return self._abi.errno(name)

    def _fail(self, name: str) -> NoReturn:
        raise_errno(self._abi.errno(name))

    @property
    def _process_credentials(self) -> Credentials:
        return shared_credentials(self.pid, self.uid, self.gid)

    # ---------------------------------------------------------------- fd table
    def _slot(self, fd: int) -> FdSlot:
        slot = self._fds.get(fd)
        if slot is None:
            self._fail("EBADF")
        return slot

    def _sock_slot(self, fd: int) -> FdSlot:
        """``sockfd_lookup``: the socket's slot; ENOTSOCK for an open real fd (``_realfiles``), else EBADF."""
        slot = self._fds.get(fd)
        if slot is None:
            self._fail(not_a_socket(self, fd))
        return slot

    def _sock(self, fd: int) -> FakeSocket:
        return self._sock_slot(fd).file.sock

    def _lowest_free_fd(self) -> int:
        """``alloc_fd``: the lowest free fd from ``fd_base`` (from 3 when it is
        0, as 0-2 are the standard streams); ``EMFILE`` from ``fd_base + fd_limit``.

        Closed fds below the high-water mark wait in a min-heap, so a table of
        tens of thousands of fds allocates in O(log n), not by a scan.
        """
        free, held = self._free_fds, self._crash_held_fds()
        while free and (free[0] in self._fds or free[0] in held):
            heapq.heappop(free)  # stale: taken again since it was freed, or held by a crash (_host)
        fd = free[0] if free else self._fd_high
        if fd >= self.fd_base + self.fd_limit:
            self._fail("EMFILE")
        return fd

    def _install(self, file: OpenFile, cloexec: bool) -> int:
        """``fd_install``: *file* gets the lowest free fd (one more reference)."""
        fd = self._lowest_free_fd()
        if self._free_fds and self._free_fds[0] == fd:
            heapq.heappop(self._free_fds)
        else:
            self._fd_high = fd + 1
        file.refs += 1
        self._fds[fd] = FdSlot(file, cloexec)
        return fd

    def _close_fd(self, fd: int) -> None:
        slot = self._fds.pop(fd)
        heapq.heappush(self._free_fds, fd)
        self._unref(slot.file)
        self._in_flight.gc()

    def _unref(self, file: File) -> None:
        """``fput``: the last reference releases the socket (or closes a real file's dup)."""
        file.refs -= 1
        if file.refs == 0:
            release_real(file) if isinstance(file, RealFile) else file.sock.ops.release(file.sock)

    def _new_socket(self, ops: ProtoOps, proto: int) -> FakeSocket:
        """``sk_alloc`` + ``sock_init_data``: a socket of *ops*' family and type."""
        return FakeSocket(ops, ops.family, ops.type, proto, ops.sndbuf_default, ops.rcvbuf_default)

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
        """Move the virtual clock forward, firing the timers on the way (for tests that need time to pass)."""
        with self._scheduler.condition:
            self._scheduler.advance_to(self._scheduler.now_ns + int(seconds * 1_000_000_000))

    def _revents(self, fd: int) -> int:
        """What ``poll`` reports for *fd*: the protocol's ``poll`` (POLLNVAL for a closed fd)."""
        slot = self._fds.get(fd)
        if slot is None:
            return self._c("POLLNVAL")
        sock = slot.file.sock
        return sock.ops.poll(sock)

    @syscall(fd=C_INT, events=C_INT, timeout_ms=C_INT)
    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        """``poll()`` on one fd; POLLERR/POLLHUP/POLLNVAL are reported unasked, as Linux does."""
        if self._poll_always is None:
            self._poll_always = self._c("POLLERR") | self._c("POLLHUP") | self._c("POLLNVAL")
        return poll_one(self, fd, events, events | self._poll_always, timeout_ms)

    def poll_many(self, interest: Sequence[tuple[int, int]], timeout_ns: int | None) -> list[tuple[int, int]]:
        """``poll(2)`` on many fds, blocking in virtual time: ``(fd, revents)`` of every ready fd.

        *interest* is ``(fd, events)`` pairs; the answer keeps their order,
        with ``POLLERR``/``POLLHUP``/``POLLNVAL`` reported unasked.
        ``timeout_ns`` None waits until one is ready, 0 only looks.  One
        syscall, traced as ``poll`` with the fds and the timeout; a scripted
        errno for ``poll`` applies (matched on the first fd).  The stand-ins
        for ``select``/``selectors`` (``sansock_fake.interop``) wait here.
        """
        return poll_many(self, interest, timeout_ns)

    def _poll_names(self, events: int) -> str:
        return poll_event_names(self._abi, events)

    # ---------------------------------------------------------------- lifecycle
    @syscall(family=C_INT, type=C_INT, proto=C_INT)
    def socket(self, family: int, type: int, proto: int) -> int:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        ops, proto, nonblocking, cloexec = self._families.create(family, type, proto)
        sock = self._new_socket(ops, proto)
        sock.credentials = self._process_credentials
        return self._install(OpenFile(sock, nonblocking), cloexec)

    @syscall(family=C_INT, type=C_INT, proto=C_INT)
    def socketpair(self, family: int, type: int, proto: int) -> tuple[int, int]:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        ops, proto, nonblocking, cloexec = self._families.create(family, type, proto)
        if not ops.unix:
            self._fail("EOPNOTSUPP")  # inet_socketpair -> sock_no_socketpair
        if len(self._fds) + 2 > self.fd_limit - (0 if self.fd_base else 3):
            self._lowest_free_fd()
        a = self._new_socket(ops, proto)
        b = self._new_socket(ops, proto)
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

    @syscall(fd=C_INT)
    def close(self, fd: int) -> None:
        if fd not in self._fds and (self._forget_dead_fd(fd) or (self._real_given and close_given(self, fd))):
            return  # an fd of the host before it crashed (_host), a real fd recvmsg handed out (_realfiles)
        self._slot(fd)
        self._close_fd(fd)

    @syscall(fd=C_INT)
    def dup(self, fd: int) -> int:
        """``fcntl(F_DUPFD_CLOEXEC)``: a new fd on the same open file description."""
        slot = self._slot(fd)
        return self._install(slot.file, cloexec=True)

    @syscall(fd=C_INT)
    def get_nonblocking(self, fd: int) -> bool:
        return self._slot(fd).file.nonblocking

    @syscall(fd=C_INT, nonblocking=C_INT)
    def set_nonblocking(self, fd: int, nonblocking: bool) -> None:
        """``ioctl(FIONBIO)``: O_NONBLOCK lives on the open file description, shared by dups."""
        self._slot(fd).file.nonblocking = bool(nonblocking)

    @syscall(fd=C_INT, cmd=C_INT, arg=C_INT)
    def fcntl(self, fd: int, cmd: int, arg: int) -> int:
        """``fcntl(2)`` on a fake fd: ``O_NONBLOCK`` and ``FD_CLOEXEC`` (see ``_fcntl``)."""
        return sys_fcntl(self, fd, cmd, arg)

    @syscall(fd=C_INT)
    def get_inheritable(self, fd: int) -> bool:
        return not self._slot(fd).cloexec

    @syscall(fd=C_INT, inheritable=C_INT)
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

    def files_in_flight(self) -> int:
        """How many file references travel in SCM_RIGHTS messages not yet received.

        A leak check can assert it is 0 with :meth:`open_fds`: files in flight
        have no fd, and the unix garbage collector frees only unreachable ones.
        """
        with self._scheduler.condition:
            return self._in_flight.count()

    def unlink(self, path: bytes) -> None:
        """``unlink(2)`` of a socket file in the kernel's AF_UNIX path namespace."""
        with self._scheduler.condition:
            self._unix_names.unlink(path)

    # ------------------------------------------------- the protocol's syscalls
    @syscall(fd=C_INT, addr=None)
    def bind(self, fd: int, addr: bytes) -> None:
        sock = self._sock(fd)
        sock.ops.bind(sock, addr)

    @syscall(fd=C_INT, backlog=C_INT)
    def listen(self, fd: int, backlog: int) -> None:
        sock = self._sock(fd)
        sock.ops.listen(sock, backlog)

    @syscall(fd=C_INT, flags=C_INT)
    def accept(self, fd: int, flags: int) -> tuple[int, bytes]:
        file = self._sock_slot(fd).file
        return file.sock.ops.accept(fd, file, flags)

    @syscall(fd=C_INT, addr=None)
    def connect(self, fd: int, addr: bytes) -> None:
        file = self._sock_slot(fd).file
        file.sock.ops.connect(fd, file, addr)

    @syscall(fd=C_INT, how=C_INT)
    def shutdown(self, fd: int, how: int) -> None:
        """``__sys_shutdown``: how + 1 gives the RCV/SEND bits the protocol applies."""
        sock = self._sock(fd)
        if how < self._c("SHUT_RD") or how > self._c("SHUT_RDWR"):
            self._fail("EINVAL")
        sock.ops.shutdown(sock, how + 1)

    @syscall(fd=C_INT)
    def getsockname(self, fd: int) -> bytes:
        sock = self._sock(fd)
        return sock.ops.getname(sock)

    @syscall(fd=C_INT)
    def getpeername(self, fd: int) -> bytes:
        sock = self._sock(fd)
        return sock.ops.getpeername(sock)

    # ------------------------------------------------------------------ options
    @syscall(fd=C_INT, level=C_INT, option=C_INT)
    def getsockopt(self, fd: int, level: int, option: int) -> int:
        return self._options.get_int(self._sock(fd), level, option)

    @syscall(fd=C_INT, level=C_INT, option=C_INT, buflen=C_SIZE)
    def getsockopt_bytes(self, fd: int, level: int, option: int, buflen: int) -> bytes:
        return self._options.get_bytes(self._sock(fd), level, option, buflen)

    @syscall(fd=C_INT, level=C_INT, option=C_INT, value=C_INT)
    def setsockopt(self, fd: int, level: int, option: int, value: int) -> None:
        raw = (value & 0xFFFFFFFF).to_bytes(4, self._abi.byteorder)
        self._options.set(self._sock(fd), level, option, raw)

    @syscall(fd=C_INT, level=C_INT, option=C_INT, value=None, optlen=C_SIZE)
    def setsockopt_bytes(
        self, fd: int, level: int, option: int, value: ReadableBuffer | None, optlen: int
    ) -> None:
        sock = self._sock(fd)
        if value is None:
            if optlen > 0:
                # The protocol's setsockopt rejects an option it does not know
                # before copy_from_user faults on the NULL optval.
                self._options.check_settable(sock, level, option)
                self._fail("EFAULT")
            raw = b""
        else:
            raw = bytes(c_buffer(value))[:optlen] if optlen >= 0 else b""
        self._options.set(sock, level, option, raw)

    # -------------------------------------------------------------------- send
    @syscall(fd=C_INT, data=None, flags=C_INT)
    def send(self, fd: int, data: ReadableBuffer, flags: int) -> int:
        return sys_sendmsg(self, fd, "send", [data], b"", flags, None)

    @syscall(fd=C_INT, data=None, flags=C_INT, addr=None)
    def sendto(self, fd: int, data: ReadableBuffer, flags: int, addr: bytes) -> int:
        return sys_sendmsg(self, fd, "sendto", [data], b"", flags, addr)

    @syscall(fd=C_INT, buffers=None, control=None, flags=C_INT, addr=None)
    def sendmsg(
        self,
        fd: int,
        buffers: Sequence[ReadableBuffer],
        control: bytes,
        flags: int,
        addr: bytes | None,
    ) -> int:
        return sys_sendmsg(self, fd, "sendmsg", buffers, control, flags, addr)

    # ----------------------------------------------------------------- receive
    @syscall(fd=C_INT, bufsize=C_SIZE, flags=C_INT)
    def recv(self, fd: int, bufsize: int, flags: int) -> bytes:
        data, _control, _flags, _addr, length = sys_recvmsg(self, fd, "recv", bufsize, 0, flags)
        return data if length == len(data) else as_returned(data, length)

    @syscall(fd=C_INT, buf=None, nbytes=C_SIZE, flags=C_INT)
    def recv_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> int:
        with exported([buf]) as (view,):
            data, _control, _flags, _addr, length = sys_recvmsg(self, fd, "recv_into", nbytes, 0, flags)
            view[: len(data)] = data
        return length

    @syscall(fd=C_INT, bufsize=C_SIZE, flags=C_INT)
    def recvfrom(self, fd: int, bufsize: int, flags: int) -> tuple[bytes, bytes]:
        data, _control, _flags, addr, length = sys_recvmsg(self, fd, "recvfrom", bufsize, 0, flags)
        return as_returned(data, length), addr

    @syscall(fd=C_INT, buf=None, nbytes=C_SIZE, flags=C_INT)
    def recvfrom_into(self, fd: int, buf: WriteableBuffer, nbytes: int, flags: int) -> tuple[int, bytes]:
        with exported([buf]) as (view,):
            data, _control, _flags, addr, length = sys_recvmsg(self, fd, "recvfrom_into", nbytes, 0, flags)
            view[: len(data)] = data
        return length, addr

    @syscall(fd=C_INT, bufsize=C_SIZE, ancbufsize=C_SIZE, flags=C_INT)
    def recvmsg(self, fd: int, bufsize: int, ancbufsize: int, flags: int) -> tuple[bytes, bytes, int, bytes]:
        data, control, msg_flags, addr, length = sys_recvmsg(self, fd, "recvmsg", bufsize, ancbufsize, flags)
        # recvmsg keeps what fit: CPython's makeval_recvmsg only ever shrinks
        # its bufsize bytes to the return value.  TCP's MSG_TRUNC consumes
        # without copying (data b""): as many bytes as it returns, zeros here.
        if length > len(data):
            data = as_returned(data, min(length, bufsize))
        return data, control, msg_flags, addr

    @syscall(fd=C_INT, buffers=None, ancbufsize=C_SIZE, flags=C_INT)
    def recvmsg_into(
        self, fd: int, buffers: Sequence[WriteableBuffer], ancbufsize: int, flags: int
    ) -> tuple[int, bytes, int, bytes]:
        if len(buffers) > self._abi.iov_max:
            self._fail("EMSGSIZE")
        with exported(buffers) as views:
            total = sum(len(v) for v in views)
            data, control, msg_flags, addr, length = sys_recvmsg(self, fd, "recvmsg_into", total, ancbufsize, flags)
            offset = 0
            for view in views:
                part = data[offset : offset + len(view)]
                view[: len(part)] = part
                offset += len(part)
        return length, control, msg_flags, addr

    # ----------------------------------------------------------- files, hosts
    @syscall(out_fd=C_INT, in_fd=C_INT, offset=None, count=None)
    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        # A real file (any fd not in the fake's table) to a fake socket: _sendfile
        # (which parses offset and count as os.sendfile does).
        return sys_sendfile(self, out_fd, in_fd, offset, count)

    @syscall(fd=C_INT)
    def file_size(self, fd: int) -> int:
        # fstat(2): a fake fd is a socket (st_size 0); any other is a real fd.
        return 0 if fd in self._fds else real_file_size(self, fd)

    def strerror(self, code: int) -> str:
        # The platform's text when the ABI carries it (the darwin profile on Linux).
        return self._abi.strerror(code) or os.strerror(code)
