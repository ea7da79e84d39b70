"""Files in flight through SCM_RIGHTS and the AF_UNIX garbage collector (net/unix/garbage.c).

A message that carries fds holds a reference to each file (``scm_fp_copy`` +
``unix_inflight``) until a reader takes them (``unix_detach_fds``) or the
message is freed (``unix_notinflight``).  A socket that only messages in
flight keep alive, and that no one can reach any more (a socket sent over
itself, two sockets sent over each other), is freed by :meth:`InFlight.gc`.
"""

from __future__ import annotations

from collections.abc import Callable

from ._objects import File, OpenFile, Segment

__all__ = ["InFlight"]


class InFlight:
    """The files referenced by SCM_RIGHTS messages not yet received, in the
    order they first flew (``gc_inflight_list``), on one kernel."""

    __slots__ = ("_files", "_unref", "_gc_running")

    def __init__(self, unref: Callable[[File], None]) -> None:
        self._files: dict[File, None] = {}
        #: ``fput``: the kernel drops one reference (the last releases the socket).
        self._unref = unref
        #: The unix GC's re-entry guard (``gc_in_progress``).
        self._gc_running = False

    def count(self) -> int:
        """How many file references travel."""
        return sum(file.inflight for file in self._files)

    def inflight(self, files: list[File]) -> list[File]:
        """``scm_fp_copy`` + ``unix_inflight``: the references a message carries."""
        for file in files:
            file.refs += 1
            file.inflight += 1
            self._files[file] = None
        return list(files)

    def notinflight(self, segment: Segment) -> list[File]:
        """``unix_notinflight``: the message's references leave flight (to a
        reader, or to be dropped); the caller owns them."""
        files, segment.files = segment.files, []
        for file in files:
            file.inflight -= 1
            if not file.inflight:
                self._files.pop(file, None)
        return files

    @staticmethod
    def peek(files: list[File]) -> list[File]:
        """``unix_peek_fds``: new references (``get_file``) for a peek's installed copies."""
        for file in files:
            file.refs += 1
        return list(files)

    def gc(self) -> None:
        """``unix_gc``: free the AF_UNIX sockets that only messages in flight
        keep alive and that no one can reach any more.

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
        if self._gc_running or not self._files:
            return
        # (A real file carried here is never a candidate: it holds no socket.)
        candidates = [
            f for f in self._files if isinstance(f, OpenFile) and f.refs == f.inflight and f.sock.ops.unix
        ]
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
                    if isinstance(child, OpenFile) and child in is_candidate:
                        internal[child] += 1
        reachable = [f for f in candidates if f.inflight > internal[f]]
        alive = set(reachable)
        while reachable:
            for segment in queues(reachable.pop()):
                for child in segment.files:
                    if isinstance(child, OpenFile) and child in is_candidate and child not in alive:
                        alive.add(child)
                        reachable.append(child)
        garbage = [f for f in candidates if f not in alive]
        hitlist = [segment for file in garbage for segment in queues(file)]
        self._gc_running = True
        try:
            for segment in hitlist:
                for dropped in self.notinflight(segment):
                    self._unref(dropped)
        finally:
            self._gc_running = False
