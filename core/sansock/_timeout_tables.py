"""The timeout machine's tables: :mod:`sansock._timeout`'s states, events and
actions, ``sock_call_ex``, ``internal_connect`` and ``Lib/socket.py``'s
sendfile loop as tables keyed by enum states, and ``internal_select``'s
millisecond arithmetic.  Pure data and lookups; :mod:`sansock._timeout`
(which re-exports every public name) drives them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "CALL_TABLE",
    "CONNECT_TABLE",
    "Action",
    "ConnectAction",
    "ConnectEvent",
    "ENTRY",
    "Event",
    "Mode",
    "SENDFILE_TABLE",
    "State",
    "mode_of",
    "next_step",
    "poll_timeout_ms",
]

_NS_PER_MS: Final = 1_000_000
# _PyTime_t is int64_t on every platform (Include/cpython/pytime.h).
_PYTIME_MAX: Final = 2**63 - 1
# poll()'s timeout is a C int; 32 bits on every ABI sansock knows (ILP32, LP64).
_INT32_MAX: Final = 2**31 - 1



def poll_timeout_ms(remaining_ns: int, *, int_max: int = _INT32_MAX) -> int:
    """The ``poll()`` timeout argument for a wait of *remaining_ns* nanoseconds.

    ``internal_select``: ``_PyTime_AsMilliseconds(interval,
    _PyTime_ROUND_CEILING)`` (1 ns -> 1 ms, 1 000 000 ns -> 1 ms, 1 000 001 ns
    -> 2 ms), and a negative interval means "wait forever", ``-1``.  (CPython
    stores a blocking socket's timeout as -1 *second*, which is -1000 ms before
    that check; sansock's sentinel is -1 ns, so every negative interval maps to
    -1 here.)  CPython casts the 64-bit millisecond count to ``int`` after an
    ``assert(ms <= INT_MAX)``, which truncates in a release build; sansock
    clamps to *int_max* instead, and :func:`retry_call` polls again when a
    clamped wait ends before the deadline.

    >>> poll_timeout_ms(1), poll_timeout_ms(1_000_000), poll_timeout_ms(1_000_001)
    (1, 1, 2)
    """
    if remaining_ns < 0:
        return -1
    # pytime_divide(ROUND_CEILING) for t >= 0: pytime_divide_round_up.
    ms = -(-remaining_ns // _NS_PER_MS)
    return ms if ms <= int_max else int_max


class Mode(enum.Enum):
    """How a socket waits, from its timeout (``sock_timeout``)."""

    #: ``-1`` (``None``): the kernel blocks; the core never polls, except while
    #: a connect interrupted by a signal completes.
    BLOCKING = "blocking"
    #: ``0``: every call returns at once; EAGAIN is raised as ``BlockingIOError``.
    NON_BLOCKING = "non-blocking"
    #: ``> 0``: the fd is ``O_NONBLOCK`` and the core polls until a deadline.
    TIMEOUT = "timeout"


def mode_of(timeout_ns: int) -> Mode:
    """The :class:`Mode` of a socket whose timeout is *timeout_ns*."""
    if timeout_ns > 0:
        return Mode.TIMEOUT
    if timeout_ns == 0:
        return Mode.NON_BLOCKING
    return Mode.BLOCKING


# ---------------------------------------------------------------------------
# The sock_call_ex table
# ---------------------------------------------------------------------------


class State(enum.Enum):
    """Where a call stands: the socket's mode and whether a syscall or a poll
    outcome is awaited."""

    #: Blocking socket; the syscall was just made (the kernel blocked in it).
    BLOCKING_CALL = "blocking, syscall made"
    #: Non-blocking socket; the syscall was just made.
    NON_BLOCKING_CALL = "non-blocking, syscall made"
    #: Timeout mode; the syscall was just made.
    TIMEOUT_CALL = "timeout, syscall made"
    #: Blocking socket waiting with ``poll(-1)``: only a connect interrupted by
    #: a signal (``sock_call_ex(connect=1)`` with a negative timeout).
    BLOCKING_WAIT = "blocking, poll made"
    #: Timeout mode; a poll with the time left until the deadline was made
    #: (or the deadline was found passed before polling).
    TIMEOUT_WAIT = "timeout, poll made"
    #: The call returned or raised; nothing more happens.
    DONE = "done"


class Event(enum.Enum):
    """What happened: a syscall outcome, a poll outcome, or the clock."""

    SYSCALL_OK = "syscall succeeded"
    SYSCALL_EINTR = "syscall failed with EINTR"
    SYSCALL_EAGAIN = "syscall failed with EAGAIN/EWOULDBLOCK"
    SYSCALL_ERROR = "syscall failed with another errno"
    POLL_READY = "poll reported revents (POLLERR/POLLHUP/POLLNVAL count)"
    POLL_TIMEOUT = "poll returned 0"
    #: poll returned 0 but its wait had been clamped to INT_MAX ms, so the
    #: deadline is still ahead (sansock's answer to CPython's int truncation).
    POLL_CLAMPED = "poll returned 0 before the deadline (clamped wait)"
    POLL_EINTR = "poll failed with EINTR"
    POLL_ERROR = "poll failed with another errno"
    DEADLINE_PASSED = "the deadline passed before polling"


class Action(enum.Enum):
    """What the driving function does next."""

    #: Return the syscall's result.
    RETURN = "return the result"
    #: Make the syscall (again) now.
    CALL = "call the syscall"
    #: Poll for readiness with the time left (``-1`` when blocking); fixes the
    #: deadline on first use.
    POLL = "poll"
    #: Poll with the whole timeout again, from a new deadline (sendfile's loop).
    FRESH_POLL = "poll afresh"
    #: Raise the last ``OSError`` (of the syscall or of poll) as it is.
    RAISE = "raise the OSError"
    #: Raise ``TimeoutError('timed out')`` (``connect_ex``: return EWOULDBLOCK).
    RAISE_TIMEOUT = "raise TimeoutError"


def _call_rows(call: State, wait: State | None) -> dict[tuple[State, Event], tuple[Action, State]]:
    """The syscall rows of one mode: *wait* is where EAGAIN goes, None to raise it."""
    done = State.DONE
    return {
        (call, Event.SYSCALL_OK): (Action.RETURN, done),
        # sock_call_ex inner loop: EINTR -> PyErr_CheckSignals(), then retry
        # the syscall at once, without polling again (PEP 475).
        (call, Event.SYSCALL_EINTR): (Action.CALL, call),
        # "if (s->sock_timeout > 0 && (EWOULDBLOCK || EAGAIN))": a false
        # positive, loop on poll; otherwise s->errorhandler() raises it.
        (call, Event.SYSCALL_EAGAIN): (Action.POLL, wait) if wait else (Action.RAISE, done),
        (call, Event.SYSCALL_ERROR): (Action.RAISE, done),
    }


def _wait_rows(wait: State, call: State) -> dict[tuple[State, Event], tuple[Action, State]]:
    """The poll rows of one mode (internal_select's outcomes as sock_call_ex reads them)."""
    done = State.DONE
    return {
        # internal_select returned 0: "the socket is ready", run sock_func.
        (wait, Event.POLL_READY): (Action.CALL, call),
        # internal_select returned 1: PyErr_SetString(TimeoutError, "timed out")
        # or *err = SOCK_TIMEOUT_ERR.
        (wait, Event.POLL_TIMEOUT): (Action.RAISE_TIMEOUT, done),
        # poll EINTR: PyErr_CheckSignals(), then "retry select()" with the
        # recomputed interval.
        (wait, Event.POLL_EINTR): (Action.POLL, wait),
        # Any other poll error: s->errorhandler().
        (wait, Event.POLL_ERROR): (Action.RAISE, done),
    }


#: ``sock_call_ex`` as a table: ``(state, event) -> (action, next state)``.
#: Pairs absent from it cannot happen (see :func:`next_step`).
CALL_TABLE: Final[Mapping[tuple[State, Event], tuple[Action, State]]] = MappingProxyType(
    {
        **_call_rows(State.BLOCKING_CALL, None),
        **_call_rows(State.NON_BLOCKING_CALL, None),
        **_call_rows(State.TIMEOUT_CALL, State.TIMEOUT_WAIT),
        **_wait_rows(State.BLOCKING_WAIT, State.BLOCKING_CALL),
        **_wait_rows(State.TIMEOUT_WAIT, State.TIMEOUT_CALL),
        # "if (interval >= 0) internal_select(...) else res = 1": a passed
        # deadline is a timeout without polling; exactly 0 still polls (poll(0)).
        (State.TIMEOUT_WAIT, Event.DEADLINE_PASSED): (Action.RAISE_TIMEOUT, State.DONE),
        (State.TIMEOUT_WAIT, Event.POLL_CLAMPED): (Action.POLL, State.TIMEOUT_WAIT),
    }
)


def next_step(
    state: State, event: Event, table: Mapping[tuple[State, Event], tuple[Action, State]] = CALL_TABLE
) -> tuple[Action, State]:
    """Look ``(state, event)`` up in *table* (:data:`CALL_TABLE` by default).

    An event that cannot happen in *state* (a poll outcome while a syscall
    outcome is awaited, anything after ``DONE``) is a bug in the caller:
    ``RuntimeError`` naming both.
    """
    try:
        return table[state, event]
    except KeyError:
        raise RuntimeError(
            f"timeout machine: event {event.name} cannot happen in state {state.name}"
        ) from None


_CALL_STATE: Final[Mapping[Mode, State]] = MappingProxyType(
    {
        Mode.BLOCKING: State.BLOCKING_CALL,
        Mode.NON_BLOCKING: State.NON_BLOCKING_CALL,
        Mode.TIMEOUT: State.TIMEOUT_CALL,
    }
)

#: Where ``sock_call_ex`` starts in each mode: ``(action, state)``.  "if
#: (has_timeout || connect)" polls first; otherwise the syscall is made at once.
ENTRY: Final[Mapping[Mode, tuple[Action, State]]] = MappingProxyType(
    {
        Mode.BLOCKING: (Action.CALL, State.BLOCKING_CALL),
        Mode.NON_BLOCKING: (Action.CALL, State.NON_BLOCKING_CALL),
        Mode.TIMEOUT: (Action.POLL, State.TIMEOUT_WAIT),
    }
)


# ---------------------------------------------------------------------------
# The internal_connect table
# ---------------------------------------------------------------------------


class ConnectEvent(enum.Enum):
    """How the first ``connect()`` failed."""

    EINTR = "connect failed with EINTR"
    EINPROGRESS = "connect failed with EINPROGRESS"
    ERROR = "connect failed with another errno"


class ConnectAction(enum.Enum):
    """What ``internal_connect`` does after the first ``connect()`` failed."""

    #: Wait for writability and read ``SO_ERROR`` (``sock_call_ex(connect=1)``).
    WAIT = "wait for the connection"
    #: ``connect`` raises the error; ``connect_ex`` returns its errno.
    FAIL = "fail with the error"


_FAIL: Final = (ConnectAction.FAIL, State.DONE)

#: ``internal_connect``: ``(mode, how connect() failed) -> (action, state)``;
#: ``WAIT`` continues in :data:`CALL_TABLE` at the given wait state.
CONNECT_TABLE: Final[Mapping[tuple[Mode, ConnectEvent], tuple[ConnectAction, State]]] = (
    MappingProxyType(
        {
            # Issue #23618: after EINTR the connection runs asynchronously;
            # "wait_connect = (s->sock_timeout != 0 ...)": blocking sockets wait
            # with poll(-1), timeout sockets until the deadline, and a
            # non-blocking socket raises InterruptedError.
            (Mode.BLOCKING, ConnectEvent.EINTR): (ConnectAction.WAIT, State.BLOCKING_WAIT),
            (Mode.TIMEOUT, ConnectEvent.EINTR): (ConnectAction.WAIT, State.TIMEOUT_WAIT),
            (Mode.NON_BLOCKING, ConnectEvent.EINTR): _FAIL,
            # "wait_connect = (s->sock_timeout > 0 && err == SOCK_INPROGRESS_ERR)".
            (Mode.TIMEOUT, ConnectEvent.EINPROGRESS): (ConnectAction.WAIT, State.TIMEOUT_WAIT),
            (Mode.BLOCKING, ConnectEvent.EINPROGRESS): _FAIL,
            (Mode.NON_BLOCKING, ConnectEvent.EINPROGRESS): _FAIL,
            (Mode.BLOCKING, ConnectEvent.ERROR): _FAIL,
            (Mode.NON_BLOCKING, ConnectEvent.ERROR): _FAIL,
            (Mode.TIMEOUT, ConnectEvent.ERROR): _FAIL,
        }
    )
)


# ---------------------------------------------------------------------------
# The sendfile loop of Lib/socket.py
# ---------------------------------------------------------------------------

#: ``socket._sendfile_use_sendfile`` (``Lib/socket.py``), one chunk, as a
#: table: ``(state, event) -> (action, next state)``.  Not ``sock_call_ex``:
#: the wait is ``selectors.PollSelector.select(timeout)`` with the *whole*
#: timeout before every chunk (no deadline across chunks), ``select.poll``
#: retries EINTR with the time left of its own wait, ``os.sendfile`` retries
#: EINTR (PEP 475), and EAGAIN starts over at the top of the loop (a fresh
#: wait in timeout mode, ``selector.select()`` -- ``poll(-1)`` -- otherwise).
SENDFILE_TABLE: Final[Mapping[tuple[State, Event], tuple[Action, State]]] = MappingProxyType(
    {
        # poll_poll retries EINTR with what is left of its own wait, and a
        # deadline found passed there is "nothing ready": sock_call_ex's rows.
        **_wait_rows(State.TIMEOUT_WAIT, State.TIMEOUT_CALL),
        (State.TIMEOUT_WAIT, Event.DEADLINE_PASSED): (Action.RAISE_TIMEOUT, State.DONE),
        **_call_rows(State.TIMEOUT_CALL, State.TIMEOUT_WAIT),
        # "except BlockingIOError: ... continue": the whole timeout again.
        (State.TIMEOUT_CALL, Event.SYSCALL_EAGAIN): (Action.FRESH_POLL, State.TIMEOUT_WAIT),
        # "if not timeout: selector_select()": poll(-1), its result ignored.
        **_call_rows(State.BLOCKING_CALL, State.BLOCKING_WAIT),
        **_wait_rows(State.BLOCKING_WAIT, State.BLOCKING_CALL),
        (State.BLOCKING_WAIT, Event.POLL_TIMEOUT): (Action.CALL, State.BLOCKING_CALL),
    }
)
