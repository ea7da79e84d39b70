"""Scripted faults and the syscall trace.

A :class:`FaultScript` holds rules of the form "the *n*-th call of *call*
(optionally on *fd*) from now on fails with *errno*" or "... moves at most
*max_bytes*" (a short write for the send family, a split read for the receive
family), plus "the *n*-th fd installed by ``recvmsg`` fails" (EMFILE while
installing received fds, which Linux's ``scm_detach_fds`` turns into fewer fds
and MSG_CTRUNC).  Each rule fires once.

The trace records every syscall as a :class:`TraceEntry`: the call, its
non-buffer arguments, and the outcome (``"ok"`` with the result, or the errno
name).  Fds, ports and the virtual clock are deterministic, so the same
single-threaded test gives the same trace.  The :class:`Trace` keeps the last
:data:`TRACE_LIMIT` syscalls (a ring), stored compactly: three parallel rings
of references to shared argument tuples and outcome strings, and a
:class:`TraceEntry` is built only when one is read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import overload

import attrs

__all__ = ["FaultScript", "FaultRule", "TraceEntry", "Trace", "TRACE_LIMIT"]

#: How many syscalls a :class:`Trace` keeps by default: the last 100,000
#: (about 3 MB; a test of tens of thousands of syscalls keeps all of them).
TRACE_LIMIT = 100_000

#: Distinct argument tuples and outcome strings shared between entries; the
#: table starts afresh when it reaches this size, so it is bounded too.
_INTERN_LIMIT = 1 << 16


@attrs.frozen
class TraceEntry:
    """One syscall as the kernel saw it."""

    call: str
    args: tuple[object, ...]
    outcome: str


class Trace(Sequence[TraceEntry]):
    """The syscalls a kernel made, oldest first: the last *limit* of them.

    A read-only sequence of :class:`TraceEntry` (``len``, indexing, slices,
    iteration), plus :meth:`clear`, ``total`` (every syscall ever
    recorded) and :attr:`dropped` (how many fell off the front of the ring).
    ``limit=None`` keeps everything (memory then grows with every syscall).
    """

    __slots__ = (
        "_calls", "_args", "_outcomes", "_shared_args", "_shared_exact", "_shared_outcomes", "limit", "total"
    )

    def __init__(self, limit: int | None = TRACE_LIMIT) -> None:
        if limit is not None and limit < 0:
            raise ValueError("the trace limit is a count of entries, not negative")
        self.limit = limit
        self._calls: deque[str] = deque(maxlen=limit)
        self._args: deque[tuple[object, ...]] = deque(maxlen=limit)
        self._outcomes: deque[str] = deque(maxlen=limit)
        self._shared_args: dict[tuple[tuple[object, ...], tuple[type, ...]], tuple[object, ...]] = {}
        #: Tuples of exact ints, strs, bytes and None only, shared by value
        #: (no bool among them, so equal means equal types too).
        self._shared_exact: dict[tuple[object, ...], tuple[object, ...]] = {}
        self._shared_outcomes: dict[str, str] = {}
        #: Every syscall recorded since the kernel started (or since :meth:`clear`).
        self.total = 0

    @property
    def dropped(self) -> int:
        """How many of the oldest entries the ring no longer holds."""
        return self.total - len(self._calls)

    def record(self, call: str, args: tuple[object, ...], outcome: str) -> None:
        """Append one syscall (the kernel calls this).

        *args* holds exact ints, bools, strs, bytes and None (hashable, and
        honest about equality); equal tuples are stored once, keyed with their
        element types so ``(4, True)`` and ``(4, 1)`` stay apart.
        """
        if len(self._shared_args) >= _INTERN_LIMIT:
            self._shared_args.clear()
        if len(self._shared_outcomes) >= _INTERN_LIMIT:
            self._shared_outcomes.clear()
        key = (args, tuple(map(type, args)))
        self._calls.append(call)
        self._args.append(self._shared_args.setdefault(key, args))
        self._outcomes.append(self._shared_outcomes.setdefault(outcome, outcome))
        self.total += 1

    def record_exact(self, call: str, args: tuple[object, ...], outcome: str) -> None:
        """:meth:`record` for the syscall fast path: *args* holds only exact
        ints, strs, bytes and None (no bool, no subclass), so equal tuples
        are stored once keyed by themselves; *outcome* is already shared
        (one string per result, ``_syscall._outcome``)."""
        shared = self._shared_exact
        if len(shared) >= _INTERN_LIMIT:
            shared.clear()
        self._calls.append(call)
        self._args.append(shared.setdefault(args, args))
        self._outcomes.append(outcome)
        self.total += 1

    def clear(self) -> None:
        """Forget every entry (and reset ``total``)."""
        self._calls.clear()
        self._args.clear()
        self._outcomes.clear()
        self._shared_args.clear()
        self._shared_exact.clear()
        self._shared_outcomes.clear()
        self.total = 0

    def __len__(self) -> int:
        return len(self._calls)

    @overload
    def __getitem__(self, index: int) -> TraceEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[TraceEntry]: ...

    def __getitem__(self, index: int | slice) -> TraceEntry | list[TraceEntry]:
        if isinstance(index, slice):
            return [self._entry(i) for i in range(*index.indices(len(self._calls)))]
        size = len(self._calls)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("trace index out of range")
        return self._entry(index)

    def _entry(self, i: int) -> TraceEntry:
        return TraceEntry(self._calls[i], self._args[i], self._outcomes[i])

    def __iter__(self) -> Iterator[TraceEntry]:
        for call, args, outcome in zip(self._calls, self._args, self._outcomes):
            yield TraceEntry(call, args, outcome)

    def __repr__(self) -> str:
        return f"<Trace: {len(self)} of {self.total} syscalls, limit {self.limit}>"


@attrs.define(eq=False)
class FaultRule:
    """Fire on the *nth* matching call: an errno, or a byte cap."""

    call: str
    nth: int
    fd: int | None
    errno: int | None = None
    max_bytes: int | None = None
    seen: int = 0


@attrs.define(eq=False)
class FaultScript:
    """The faults scripted on one kernel (see the module docstring)."""

    rules: list[FaultRule] = attrs.field(factory=list)

    def fail(self, call: str, errno: int, *, nth: int = 1, fd: int | None = None) -> None:
        """Make the *nth* next call of *call* (a Driver method name) fail with *errno*.

        ``call="install_fd"`` targets the fds ``recvmsg`` installs;
        ``call="getaddrinfo"`` or ``"getnameinfo"`` makes the lookup answer
        ``EAI_SYSTEM`` with *errno*, which the socket module raises as that
        errno's ``OSError`` (``OSError(0, 'Error')`` for 0, as CPython's
        ``set_gaierror``).
        """
        if nth < 1:
            raise ValueError("nth counts from 1")
        self.rules.append(FaultRule(call, nth, fd, errno=errno))

    def limit(self, call: str, max_bytes: int, *, nth: int = 1, fd: int | None = None) -> None:
        """Make the *nth* next *call* move at most *max_bytes*: a short write or a split read."""
        if nth < 1 or max_bytes < 0:
            raise ValueError("nth counts from 1 and max_bytes is not negative")
        self.rules.append(FaultRule(call, nth, fd, max_bytes=max_bytes))

    def _match(self, call: str, fd: int | None, want_errno: bool) -> FaultRule | None:
        for rule in self.rules:
            if rule.call != call or (rule.fd is not None and rule.fd != fd):
                continue
            if (rule.errno is not None) != want_errno:
                continue
            rule.seen += 1
            if rule.seen == rule.nth:
                self.rules.remove(rule)
                return rule
        return None

    def errno_for(self, call: str, fd: int | None) -> int | None:
        """The errno this call must fail with, if a rule fires now."""
        rule = self._match(call, fd, want_errno=True)
        return None if rule is None else rule.errno

    def cap_for(self, call: str, fd: int | None) -> int | None:
        """The byte cap for this call, if a rule fires now."""
        rule = self._match(call, fd, want_errno=False)
        return None if rule is None else rule.max_bytes
