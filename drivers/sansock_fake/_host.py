"""What a kernel needs to be a host of a simulated network (``_network``).

:class:`HostMethods` is a base of :class:`~sansock_fake.FakeKernel`:
joining a network (its lock, scheduler and clock replace the kernel's own),
and ``crash()``/``restart()``, which need the network that owns the host.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol, cast

from ._objects import SHUTDOWN_MASK
from ._oserror import raise_errno

if TYPE_CHECKING:
    from ._faults import Trace
    from ._kernel import FakeKernel
    from ._network import Network
    from ._scheduler import Scheduler

__all__ = ["HostMethods", "SchedulerLock", "use_scheduler"]


class SchedulerLock(Protocol):
    """The scheduler condition's lock, as every syscall takes it."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...


def use_scheduler(kernel: FakeKernel, scheduler: Scheduler) -> None:
    """Run *kernel* on *scheduler*, with what every syscall takes from it.

    The lock is the condition's own (``Condition.acquire`` is the lock's
    ``acquire``, bound in the condition's ``__dict__``, where CPython does not
    specialise the lookup: twice the cost of calling it on the lock); the
    condition's waiters tell whether a ``notify_all`` has anyone to wake
    (None: notify always).
    """
    kernel._scheduler = scheduler
    condition = scheduler.condition
    plain = type(condition) is threading.Condition
    kernel._lock = cast("SchedulerLock", getattr(condition, "_lock", condition) if plain else condition)
    kernel._waiters = getattr(condition, "_waiters", None) if plain else None


class HostMethods:
    """A network host's part of :class:`~sansock_fake.FakeKernel`."""

    #: The :class:`~sansock_fake.Network` this kernel is a host of (None: a lone kernel).
    network: Network | None = None
    #: Crashed and not restarted: its programs are gone, so every call they
    #: still make fails (``_refuse_if_crashed``; the fd calls fail anyway, with
    #: their fds gone).
    _crashed: bool = False

    def _join_network(self, network: Network, scheduler: Scheduler, trace: Trace) -> None:
        """Become a host of *network*: share its scheduler (lock, clock) and write into its trace.

        Called once, by ``Network.add_host``, before the kernel is used.
        """
        kernel = cast("FakeKernel", self)
        kernel.network = network
        scheduler.event_names = kernel._poll_names
        # (The lock and the waiters too: before, the kernel kept its own
        # condition's waiters, which nobody waits on, and skipped every
        # wake-up, so a thread blocked on a host woke only at its next look.)
        use_scheduler(kernel, scheduler)
        kernel.trace = trace

    def _power_off(self) -> None:
        """Every fd closes (what a crash leaves: nothing); the network drops what they send.

        Python cannot stop the threads that ran the host's programs: a call
        they are blocked in wakes and fails (``EBADF``: the fd is gone; a
        blocked ``accept`` gets ``EINVAL``, as on a listener shut down), and
        every later call on the host's old fds gets ``EBADF``, but ``close``,
        which succeeds once (a program's cleanup should not fail because
        its process should have been gone).
        """
        kernel = cast("FakeKernel", self)
        sockets = [kernel._fds[fd].file.sock for fd in sorted(kernel._fds)]
        for fd in sorted(kernel._fds):
            kernel._close_fd(fd)
            self._dead_fds.add(fd)
        ebadf = kernel._e("EBADF")
        for sock in sockets:
            sock.error = ebadf
            sock.shutdown = SHUTDOWN_MASK
            if sock.state == "listening":
                sock.state = "closed"
        kernel._scheduler.condition.notify_all()

    def _refuse_if_crashed(self) -> None:
        """``EBADF`` for a call that needs no fd (``socket``, ``socketpair``, the
        resolver, ``gethostname``...) made by a program of a crashed host.

        A crashed machine runs nothing; Python cannot stop the threads that
        ran its programs, so the fake makes each call they make fail as the
        calls the crash interrupted do (``EBADF``) until :meth:`restart`:
        a supervisor loop making its listener again gets an error, not a
        socket on a dead machine.
        """
        if self._crashed:
            raise_errno(cast("FakeKernel", self)._e("EBADF"))

    @property
    def _dead_fds(self) -> set[int]:
        """The fds the host had when it crashed, not closed since by the program."""
        kernel = cast("FakeKernel", self)
        if kernel.network is None:
            return set()
        return kernel.network._dead_fds.setdefault(kernel._inet.name, set())

    def _crash_held_fds(self) -> Collection[int]:
        """Fd numbers a new fd must not get: a network host's fds that a crash closed stay
        taken until the old program closes them, so its late close never hits a new socket."""
        if cast("FakeKernel", self).network is None:
            return ()
        return self._dead_fds

    def _forget_dead_fd(self, fd: int) -> bool:
        """``close`` of an fd the crash took: the program closing it succeeds (once), as
        its process would have been gone; every other call on it gets ``EBADF``."""
        dead = self._dead_fds
        if fd in dead:
            dead.discard(fd)
            kernel = cast("FakeKernel", self)
            heapq.heappush(kernel._free_fds, fd)  # free again (_lowest_free_fd skipped it)
            return True
        return False

    def _network_owner(self) -> Network:
        network = cast("FakeKernel", self).network
        if network is None:
            raise RuntimeError("only a host of a sansock_fake.Network can crash or restart (use Network.add_host)")
        return network

    def crash(self) -> None:
        """Stop this host at once: its sockets vanish without a FIN or RST, and it answers
        nothing (peers see timeouts) until :meth:`restart`.  Threads still using its
        fds get ``EBADF``: a crash ends the programs of the host."""
        self._network_owner().crash(cast("FakeKernel", self))

    def restart(self) -> None:
        """Bring a crashed host back, empty: segments of its old connections get RST."""
        self._network_owner().restart(cast("FakeKernel", self))
