"""What a waiting syscall holds: ``fdget``/``fdput`` and ``poll``'s ``get_file``
(fs/file.c, fs/select.c).

A syscall works on the file its fd named when it started: ``close`` from
another thread only takes the fd out of the table, and the socket lives on
until the call returns (the peer can still send to it; a blocked ``recv``
is not woken by the close and may still get data).  ``poll`` holds every
file it sleeps on and is woken only by an event on one of them; it then
looks at the fd table again, so a closed fd reports POLLNVAL and a reused
one its new file's events -- at that wake-up or at the timeout, never at the
moment of the close.  CPython's ``socket.close`` does nothing more than
``close(2)``, so a thread in a timeout-mode call on a socket another thread
closes waits for its timeout, then gets EBADF (``recv(-1)``).

The fake takes a reference only when a call is about to wait (the common,
non-blocking call costs nothing): :func:`hold_for_call` from
``ProtoOps.block`` and the polls, :func:`end_call` from the syscall wrappers.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._kernel import FakeKernel
    from ._objects import OpenFile

__all__ = ["hold_for_call", "end_call", "moved", "poll_one"]


def hold_for_call(kernel: FakeKernel, fd: int) -> None:
    """``fdget`` for a syscall about to wait on *fd* (lock held): its file stays
    alive until the call returns, whatever ``close`` does meanwhile."""
    slot = kernel._fds.get(fd)
    if slot is None:
        return
    held = kernel._call_refs.setdefault(threading.get_ident(), [])
    if slot.file not in held:
        slot.file.refs += 1
        held.append(slot.file)


def end_call(kernel: FakeKernel) -> None:
    """``fdput`` at the end of a syscall that waited (lock held): the last
    reference releases a socket whose fd was closed meanwhile."""
    held = kernel._call_refs.pop(threading.get_ident(), None)
    for file in held or ():
        kernel._unref(file)
        if file.refs == 0:
            kernel._in_flight.gc()


def moved(kernel: FakeKernel, fd: int, polled: OpenFile, wanted: int) -> bool:
    """Whether *fd* no longer names the file a poll sleeps on while that file
    has no event to wake the poll with: the poll sleeps on."""
    slot = kernel._fds.get(fd)
    if slot is not None and slot.file is polled:
        return False
    sock = polled.sock
    return not sock.ops.poll(sock) & wanted


def poll_one(kernel: FakeKernel, fd: int, events: int, wanted: int, timeout_ms: int) -> int:
    """``FakeKernel.poll``'s body: ``poll()`` on one fd for *wanted* (*events*
    plus what is reported unasked), waiting up to *timeout_ms* (-1: forever)."""
    result = kernel._revents(fd) & wanted
    if result or timeout_ms == 0:
        return result
    scheduler = kernel._scheduler
    deadline = None if timeout_ms < 0 else scheduler.now_ns + timeout_ms * 1_000_000
    hold_for_call(kernel, fd)
    slot = kernel._fds.get(fd)
    polled = None if slot is None else slot.file

    def ready() -> bool:
        nonlocal result
        result = kernel._revents(fd) & wanted
        if result and polled is not None and moved(kernel, fd, polled, wanted):
            result = 0
        return result != 0

    if not scheduler.wait_until(ready, deadline, "poll", fd, events):
        result = kernel._revents(fd) & wanted  # do_poll's last pass, at the timeout
    return result
