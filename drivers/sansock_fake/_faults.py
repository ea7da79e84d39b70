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
single-threaded test gives the same trace.
"""

from __future__ import annotations

import attrs

__all__ = ["FaultScript", "FaultRule", "TraceEntry"]


@attrs.frozen
class TraceEntry:
    """One syscall as the kernel saw it."""

    call: str
    args: tuple[object, ...]
    outcome: str


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

        ``call="install_fd"`` targets the fds ``recvmsg`` installs.
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
