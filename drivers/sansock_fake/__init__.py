"""sansock_fake: an in-memory Linux kernel for unit tests.

:class:`FakeKernel` implements the ``sansock.Driver`` protocol at the syscall
level -- raw ``struct sockaddr`` bytes and raw control buffers in and out, as a
kernel takes and gives them -- over an in-memory model of Linux: an fd table,
AF_UNIX (socketpair, path and abstract names, SCM_RIGHTS, SCM_CREDENTIALS),
AF_INET/AF_INET6 on loopback (TCP, UDP), socket buffers with capacity, a
virtual clock, scripted faults and a syscall trace.

>>> from sansock_fake import FakeKernel
>>> kernel = FakeKernel()
>>> a, b = kernel.socketpair(1, 2, 0)  # AF_UNIX, SOCK_DGRAM
>>> kernel.send(a, b"hello", 0)
5
>>> kernel.recvmsg(b, 3, 0, 0)[0], kernel.trace[-1].outcome
(b'hel', 'ok (3 bytes, 0 bytes, 32, 0 bytes)')
"""

from __future__ import annotations

from ._faults import TRACE_LIMIT, FaultScript, Trace, TraceEntry
from ._kernel import FakeKernel
from ._scheduler import BlockedForever

__all__ = ["BlockedForever", "FakeKernel", "FaultScript", "Trace", "TraceEntry", "TRACE_LIMIT"]
