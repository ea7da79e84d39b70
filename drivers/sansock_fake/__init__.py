"""sansock_fake: an in-memory Linux kernel for unit tests.

:class:`FakeKernel` implements the ``sansock.Driver`` protocol at the syscall
level -- raw ``struct sockaddr`` bytes and raw control buffers in and out, as a
kernel takes and gives them -- over an in-memory model of Linux: an fd table,
AF_UNIX (socketpair, path and abstract names, SCM_RIGHTS, SCM_CREDENTIALS),
AF_INET/AF_INET6 on loopback (TCP, UDP), socket buffers with capacity, a
virtual clock, scripted faults and a syscall trace.  :class:`Network` joins
kernels as hosts of a simulated network (links with latency, bandwidth and
loss, DNS, partitions, crashes) on one virtual clock.

>>> from sansock_fake import FakeKernel
>>> kernel = FakeKernel()
>>> a, b = kernel.socketpair(1, 2, 0)  # AF_UNIX, SOCK_DGRAM
>>> kernel.send(a, b"hello", 0)
5
>>> kernel.recvmsg(b, 3, 0, 0)[0], kernel.trace[-1].outcome
(b'hel', 'ok (3 bytes, 0 bytes, 32, 0 bytes)')

:func:`patch_stdlib` runs unmodified code that uses the stdlib's ``socket``,
``select``, ``selectors`` and ``ssl`` on a kernel, and :func:`new_event_loop`
/ :func:`run` run asyncio code on one in virtual time, :func:`trio_run`
trio code (see ``sansock_fake.interop``); they are imported on first use, so importing
``sansock_fake`` does not import the stdlib's socket machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._faults import TRACE_LIMIT, FaultScript, Trace, TraceEntry
from ._dns import Dns
from ._kernel import FakeKernel
from ._links import Link
from ._network import NetEvent, Network, NetTrace
from ._scheduler import BlockedForever

if TYPE_CHECKING:
    from .interop import FakeEventLoop, FakeEventLoopPolicy, MixedWaitError, new_event_loop, patch_stdlib, run
    from .interop._trio import trio_run

__all__ = [
    "BlockedForever",
    "Dns",
    "FakeEventLoop",
    "FakeEventLoopPolicy",
    "FakeKernel",
    "FaultScript",
    "Link",
    "NetEvent",
    "NetTrace",
    "Network",
    "MixedWaitError",
    "TRACE_LIMIT",
    "Trace",
    "TraceEntry",
    "new_event_loop",
    "patch_stdlib",
    "run",
    "trio_run",
]

_INTEROP = ("FakeEventLoop", "FakeEventLoopPolicy", "MixedWaitError", "new_event_loop", "patch_stdlib", "run")


def __getattr__(name: str) -> Any:
    # The interop layer imports socket/select/selectors/ssl: only on first use.
    if name in _INTEROP:
        from . import interop

        return getattr(interop, name)
    if name == "trio_run":
        # Needs trio (an optional dependency): imported on first use.
        try:
            from .interop._trio import trio_run
        except ModuleNotFoundError as exc:
            if exc.name not in ("trio", "outcome"):
                raise
            raise ModuleNotFoundError(
                f"sansock_fake.trio_run needs trio ({exc.name} is not installed: pip install trio)",
                name=exc.name,
            ) from exc

        return trio_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
