"""The timeout machine: every blocking, non-blocking and timeout decision of a
socket call lives in this module, as tables keyed by enum states.

It reproduces CPython 3.11's ``Modules/socketmodule.c`` (``sock_call_ex``,
``internal_select``, ``internal_connect``, ``sock_connect_impl``,
``sock_sendall``, ``socket_parse_timeout``) and the parts of
``Python/pytime.c`` they use.  It is pure: it never reads a clock, never
sleeps, never performs a syscall.  The driving functions below only call the
callables they are handed (the syscall, ``poll``, the monotonic clock), and
every platform number (errno values, ``POLL*`` bits) comes from an
:class:`~sansock.ABI`.

Timeout values
--------------
A socket holds one integer, its *timeout* in nanoseconds, as CPython's
``sock_timeout``: ``-1`` blocking (``None``), ``0`` non-blocking, ``> 0``
timeout mode.  :func:`parse_timeout` (``settimeout``/``setdefaulttimeout``),
:func:`parse_blocking` (``setblocking``) and :func:`timeout_seconds`
(``gettimeout``) convert with CPython's exact rounding and messages.

The machines
------------
Design note: the socket class tries the syscall *first* and consults this
module only when that first attempt failed.  CPython polls first in timeout
mode; trying first is observably the same (in timeout mode the fd is
``O_NONBLOCK``, so the first try never blocks) and spares a ``poll`` per call
when data is already there.  The deadline is fixed at the first poll, as in
CPython; only the few nanoseconds of the failed first try move it.

:data:`CALL_TABLE` is ``sock_call_ex``: ``(State, Event) -> (Action, State)``.
:data:`CONNECT_TABLE` is the head of ``internal_connect``: ``(Mode,
ConnectEvent) -> (ConnectAction, State)``, whose ``WAIT`` enters
:data:`CALL_TABLE` at a ``*_WAIT`` state with ``getsockopt(SO_ERROR)`` as the
syscall (``sock_connect_impl``).  :func:`next_step` looks a pair up and names
impossible pairs.

Driving functions
-----------------
* :func:`retry_call` -- the generic path (recv, recv_into, recvfrom, recvmsg,
  send, sendto, sendmsg, accept...).
* :func:`finish_connect` -- ``connect``/``connect_ex`` after the first
  ``connect()`` failed.
* :func:`send_all` -- ``sendall``: one deadline for the whole call.

Wiring: the socket class (``sansock._socket.SocketType``) hands these
functions the syscall as a closure that reads the socket's fd again on every
attempt (``self._fd``, as ``sock_call_ex`` reads ``s->sock_fd``), so a
``close()`` from another thread makes the call fail with EBADF; its ``_poll``
returns "ready" for fd -1, as ``internal_select`` does; the clock is the
driver's ``monotonic_ns`` and the numbers come from the socket's ABI.  The
first exception is taken out of the ``except`` block (so that a
``TimeoutError`` raised later carries no ``__context__``, as in CPython) and
dropped in a ``finally`` (see below).  The code is ``SocketType._call`` and
``_again`` (:func:`retry_call`), ``_connect`` (:func:`finish_connect`) and
``_sendall_view`` (:func:`send_all`); an example written out here went stale
once, so this text names them instead.

Exceptions and reference cycles: an exception caught into a local
(``failure = exc``) has a traceback that holds the frame that caught it, so
the local makes a cycle, and the frame's other locals (the syscall and poll
closures, which hold the socket) live until the cyclic GC.  CPython's C code
has no frames: a socket dies with its last reference.  So every function
here that keeps or re-raises an exception drops it from its locals in a
``finally`` before its frame ends (issue 12, item 6).

Signals: CPython calls ``PyErr_CheckSignals()`` after EINTR and after each
partial ``send`` of ``sendall``.  A pure-Python loop needs no such call: the
interpreter runs signal handlers between bytecodes, and an exception a handler
raises propagates out of these functions by itself.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, SupportsIndex, TypeVar, cast

import attrs

from ._abi import ABI, derived
from ._errors import timed_out
from ._pyrules import RULES, PythonRules

__all__ = [
    "BLOCKING",
    "NON_BLOCKING",
    "CALL_TABLE",
    "CONNECT_TABLE",
    "Action",
    "ConnectAction",
    "ConnectEvent",
    "Deadline",
    "Event",
    "Mode",
    "State",
    "bytes_sent",
    "finish_connect",
    "mode_of",
    "next_step",
    "parse_blocking",
    "parse_timeout",
    "poll_timeout_ms",
    "retry_call",
    "send_all",
    "timeout_seconds",
]

_T = TypeVar("_T")

#: The timeout of a blocking socket (``gettimeout() is None``).
BLOCKING: Final = -1
#: The timeout of a non-blocking socket (``gettimeout() == 0.0``).
NON_BLOCKING: Final = 0

_NS_PER_SECOND: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000
# _PyTime_t is int64_t on every platform (Include/cpython/pytime.h).
_PYTIME_MIN: Final = -(2**63)
_PYTIME_MAX: Final = 2**63 - 1
# PyLong_AsLongLong's range: long long is 64 bits on every platform CPython supports.
_LLONG_MIN: Final = -(2**63)
_LLONG_MAX: Final = 2**63 - 1
# poll()'s timeout is a C int; 32 bits on every ABI sansock knows (ILP32, LP64).
_INT32_MAX: Final = 2**31 - 1

_MSG_NAN: Final = "Invalid value NaN (not a number)"
# The overflow messages differ between CPython versions: RULES has them.
_MSG_RANGE: Final = "Timeout value out of range"
_MSG_LONG: Final = "Python int too large to convert to C long"


# ---------------------------------------------------------------------------
# Timeout values
# ---------------------------------------------------------------------------


def parse_timeout(value: object, rules: PythonRules = RULES) -> int:
    """A ``settimeout``/``setdefaulttimeout`` argument as nanoseconds; ``-1`` for None.

    CPython's ``socket_parse_timeout``: ``None`` is blocking; anything else
    goes through ``_PyTime_FromSecondsObject(value, _PyTime_ROUND_TIMEOUT)``
    (``Python/pytime.c``: ``pytime_from_object``), then a negative result is
    ``ValueError('Timeout value out of range')``.

    * A ``float`` (or subclass; its ``__float__`` is not consulted, as
      ``PyFloat_AsDouble`` reads the value directly) is multiplied by 1e9 in
      double precision and rounded away from zero (``ROUND_TIMEOUT`` is
      ``ROUND_UP``), so ``1e-12`` becomes 1 ns.  NaN is ``ValueError``; a
      product outside ``[-2**63, 2**63)`` (``inf``, ``1e300``) is
      ``OverflowError('timestamp out of range for platform time_t')`` (3.10:
      ``'timestamp too large to convert to C _PyTime_t'``; the message is
      ``rules.timeout_float_overflow``).
    * Anything else goes through ``PyLong_AsLongLong``, i.e. ``__index__``
      (``bool`` and ``int`` subclasses are ints; ``Decimal``, ``Fraction``, a
      ``str`` or an object with only ``__float__`` give ``TypeError: 'T' object
      cannot be interpreted as an integer``).  Beyond ``long long`` or beyond
      ``_PyTime_t`` once multiplied by 1e9: ``OverflowError('timestamp too
      large to convert to C _PyTime_t')`` (3.13: ``C PyTime_t``;
      ``rules.timeout_int_overflow``).

    >>> parse_timeout(None), parse_timeout(1), parse_timeout(1e-12), parse_timeout(0.5)
    (-1, 1000000000, 1, 500000000)
    """
    if value is None:
        return BLOCKING
    if isinstance(value, float):
        # pytime_from_double: volatile double d = value * 1e9, rounded, range-checked.
        seconds = float.__float__(value)
        if math.isnan(seconds):
            raise ValueError(_MSG_NAN)
        d = seconds * 1e9
        if not (float(_PYTIME_MIN) <= d < -float(_PYTIME_MIN)):
            raise OverflowError(rules.timeout_float_overflow)
        # pytime_round(_PyTime_ROUND_UP): away from zero.  Doubles this large are
        # integral already, so rounding after the range check changes nothing.
        ns = math.ceil(d) if d >= 0.0 else math.floor(d)
    else:
        overflow = False
        try:
            seconds_int = operator.index(cast(SupportsIndex, value))  # TypeError as C's
        except OverflowError:
            # pytime_from_object replaces any OverflowError of PyLong_AsLongLong
            # (a custom __index__ may raise one) with pytime_overflow()'s message.
            overflow = True
        if overflow:
            raise OverflowError(rules.timeout_int_overflow)
        if not (_LLONG_MIN <= seconds_int <= _LLONG_MAX):
            raise OverflowError(rules.timeout_int_overflow)
        ns = seconds_int * _NS_PER_SECOND
        if not (_PYTIME_MIN <= ns <= _PYTIME_MAX):  # pytime_mul overflow
            raise OverflowError(rules.timeout_int_overflow)
    if ns < 0:
        raise ValueError(_MSG_RANGE)
    return ns


def timeout_seconds(ns: int) -> float | None:
    """What ``gettimeout()`` returns for a stored timeout of *ns* nanoseconds.

    CPython's ``sock_gettimeout``: ``None`` when negative, else
    ``_PyTime_AsSecondsDouble``, which divides in integers when *ns* is a
    whole number of seconds and otherwise computes ``(double)ns / 1e9``.

    >>> timeout_seconds(-1), timeout_seconds(1_000_000_000), timeout_seconds(1)
    (None, 1.0, 1e-09)
    """
    if ns < 0:
        return None
    if ns % _NS_PER_SECOND == 0:
        return float(ns // _NS_PER_SECOND)
    return float(ns) / 1e9


def parse_blocking(flag: object, abi: ABI, rules: PythonRules = RULES) -> int:
    """The timeout (ns) ``setblocking(flag)`` stores: ``-1`` if *flag* is true, else ``0``.

    CPython 3.12+'s ``sock_setblocking`` (Argument Clinic ``bool``) takes
    ``PyObject_IsTrue(flag)``: any object, and whatever its ``__bool__`` or
    ``__len__`` raises propagates.  Up to 3.11 it reads *flag* with
    ``PyLong_AsLong``: ``__index__`` only (a ``float`` or ``str`` gives
    ``TypeError: 'float' object cannot be interpreted as an integer``), and
    outside the range of the ABI's C ``long``, ``OverflowError('Python int too
    large to convert to C long')``.  The caller then sets ``O_NONBLOCK``
    exactly when the result is ``0`` (``internal_setblocking``).
    """
    if rules.setblocking_truth:
        return BLOCKING if flag else NON_BLOCKING
    value = operator.index(cast(SupportsIndex, flag))  # _PyNumber_Index's TypeError
    half = 1 << (8 * abi.sizeof_long - 1)
    if not (-half <= value < half):
        raise OverflowError(_MSG_LONG)
    return BLOCKING if value else NON_BLOCKING


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


@attrs.frozen
class Deadline:
    """An instant of the driver's monotonic clock, in nanoseconds.

    ``_PyDeadline_Init(timeout)`` is :meth:`after`; ``_PyDeadline_Get`` is
    :meth:`remaining`.  Created only on the slow path (after a first EAGAIN,
    or once per ``sendall`` in timeout mode).
    """

    at_ns: int

    @classmethod
    def after(cls, now_ns: int, timeout_ns: int) -> Deadline:
        """The deadline *timeout_ns* after *now_ns*."""
        return cls(now_ns + timeout_ns)

    def remaining(self, now_ns: int) -> int:
        """Nanoseconds left at *now_ns*; negative once the deadline has passed."""
        return self.at_ns - now_ns


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


def next_step(state: State, event: Event) -> tuple[Action, State]:
    """Look ``(state, event)`` up in :data:`CALL_TABLE`.

    An event that cannot happen in *state* (a poll outcome while a syscall
    outcome is awaited, anything after ``DONE``) is a bug in the caller:
    ``RuntimeError`` naming both.
    """
    try:
        return CALL_TABLE[state, event]
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
# Per-ABI numbers, computed once
# ---------------------------------------------------------------------------


@attrs.frozen
class _Numbers:
    """The errno values and poll bits the machine needs, for one ABI."""

    eintr: int
    eagain: frozenset[int]  # EAGAIN and EWOULDBLOCK (equal on Linux)
    ewouldblock: int
    einprogress: int
    eisconn: int
    pollin: int
    pollout: int
    pollerr: int
    int_max: int


def _build_numbers(abi: ABI) -> _Numbers:
    return _Numbers(
        eintr=abi.errno("EINTR"),
        eagain=frozenset((abi.errno("EAGAIN"), abi.errno("EWOULDBLOCK"))),
        ewouldblock=abi.errno("EWOULDBLOCK"),
        einprogress=abi.errno("EINPROGRESS"),
        eisconn=abi.errno("EISCONN"),
        pollin=abi.const("POLLIN"),
        pollout=abi.const("POLLOUT"),
        pollerr=abi.const("POLLERR"),
        int_max=(1 << (8 * abi.sizeof_int - 1)) - 1,
    )


def _numbers(abi: ABI) -> _Numbers:
    """The machine's numbers for *abi*, built once per ABI (:func:`sansock._abi.derived`)."""
    return derived(abi, _build_numbers)


def _syscall_event(code: int | None, numbers: _Numbers) -> Event:
    if code == numbers.eintr:
        return Event.SYSCALL_EINTR
    if code in numbers.eagain:
        return Event.SYSCALL_EAGAIN
    return Event.SYSCALL_ERROR


# ---------------------------------------------------------------------------
# Driving functions
# ---------------------------------------------------------------------------


class _Outcome(enum.Enum):
    RETURNED = "the syscall succeeded"
    TIMED_OUT = "timed out"
    SYSCALL_FAILED = "the syscall failed"


def _run(
    action: Action,
    state: State,
    error: OSError,
    syscall: Callable[[], _T],
    *,
    timeout_ns: int,
    deadline: Deadline | None,
    events: int,
    poll: Callable[[int, int], int],
    monotonic_ns: Callable[[], int],
    numbers: _Numbers,
) -> tuple[_Outcome, object]:
    """Run :data:`CALL_TABLE` from *action*/*state* until the call is done.

    Returns ``(RETURNED, the syscall's result)``, ``(TIMED_OUT, _)`` or
    ``(SYSCALL_FAILED, the syscall's OSError)`` for the caller to raise or turn
    into an errno (raising here, inside the caller's ``except`` block, would
    chain exceptions CPython does not chain); a poll error is raised here.
    *error* is the syscall's last failure.
    """
    timed = timeout_ns > 0
    result: object = None
    failure: OSError | None = None
    poll_failure: OSError | None = None
    try:
        while True:
            if action is Action.CALL:
                failure = None
                try:
                    result = syscall()
                except OSError as exc:
                    failure = exc
                if failure is None:
                    action, state = next_step(state, Event.SYSCALL_OK)
                else:
                    error = failure
                    action, state = next_step(state, _syscall_event(failure.errno, numbers))
            elif action is Action.POLL:
                if timed:
                    now = monotonic_ns()
                    if deadline is None:
                        # sock_call_ex: "deadline = _PyDeadline_Init(timeout)" at
                        # the first poll; the first interval is the timeout itself.
                        deadline = Deadline.after(now, timeout_ns)
                    remaining = deadline.remaining(now)
                    if remaining < 0:
                        action, state = next_step(state, Event.DEADLINE_PASSED)
                        continue
                    ms = poll_timeout_ms(remaining, int_max=numbers.int_max)
                    clamped = ms == numbers.int_max and remaining > ms * _NS_PER_MS
                else:
                    ms, clamped = -1, False
                poll_failure = None
                try:
                    revents = poll(events, ms)
                except OSError as exc:
                    poll_failure = exc
                if poll_failure is not None:
                    if poll_failure.errno == numbers.eintr:
                        action, state = next_step(state, Event.POLL_EINTR)
                        continue
                    action, state = next_step(state, Event.POLL_ERROR)
                    # internal_select failed: s->errorhandler() raises poll's error.
                    raise poll_failure
                if revents:
                    event = Event.POLL_READY
                elif clamped:
                    event = Event.POLL_CLAMPED
                else:
                    event = Event.POLL_TIMEOUT
                action, state = next_step(state, event)
            elif action is Action.RETURN:
                return (_Outcome.RETURNED, result)
            elif action is Action.RAISE_TIMEOUT:
                return (_Outcome.TIMED_OUT, error)
            else:  # Action.RAISE
                return (_Outcome.SYSCALL_FAILED, error)
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        del error
        failure = poll_failure = None


def retry_call(
    first_error: OSError,
    syscall: Callable[[], _T],
    *,
    timeout_ns: int,
    writing: bool,
    poll: Callable[[int, int], int],
    monotonic_ns: Callable[[], int],
    abi: ABI,
    deadline: Deadline | None = None,
) -> _T:
    """Finish a socket call whose first attempt raised *first_error*: ``sock_call_ex``.

    *syscall* makes the attempt again (the same call, same arguments);
    *timeout_ns* is the **socket's** timeout and decides the mode: EINTR is
    retried at once; EAGAIN/EWOULDBLOCK is raised as it is unless the socket
    is in timeout mode, where it polls for ``POLLIN`` (or ``POLLOUT`` if
    *writing*) with the milliseconds left until the deadline and tries again
    when ready.  The deadline is *deadline* if given (``sendall`` shares one
    over its chunks -- CPython's ``timeout`` argument of ``sock_call_ex`` as
    opposed to ``s->sock_timeout``), else *timeout_ns* after the first poll.

    *poll(events, timeout_ms)* returns ``revents`` (0 on timeout; any nonzero
    value, POLLERR/POLLHUP included, counts as ready so the syscall reports
    the error); *monotonic_ns()* is the driver's clock.

    Returns the syscall's result; raises the syscall's ``OSError`` as it is,
    poll's ``OSError``, or ``TimeoutError('timed out')``.
    """
    numbers = _numbers(abi)
    state = _CALL_STATE[mode_of(timeout_ns)]
    action, state = next_step(state, _syscall_event(first_error.errno, numbers))
    value: object = None
    try:
        kind, value = _run(
            action,
            state,
            first_error,
            syscall,
            timeout_ns=timeout_ns,
            deadline=deadline,
            events=numbers.pollout if writing else numbers.pollin,
            poll=poll,
            monotonic_ns=monotonic_ns,
            numbers=numbers,
        )
        if kind is _Outcome.RETURNED:
            return cast(_T, value)
        if kind is _Outcome.TIMED_OUT:
            raise timed_out()
        raise cast(OSError, value)
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        del first_error
        value = None


def finish_connect(
    first_error: OSError,
    *,
    timeout_ns: int,
    poll: Callable[[int, int], int],
    monotonic_ns: Callable[[], int],
    so_error: Callable[[], int],
    strerror: Callable[[int], str],
    abi: ABI,
    ex: bool,
) -> int:
    """Finish ``connect``/``connect_ex`` after the first ``connect()`` raised *first_error*.

    CPython's ``internal_connect``: see :data:`CONNECT_TABLE` for when it
    waits.  Waiting is ``sock_call_ex(writing=1, connect=1)``: poll for
    ``POLLOUT|POLLERR`` (``poll(-1)`` on a blocking socket), then
    ``sock_connect_impl`` reads *so_error()* (``getsockopt(SO_ERROR)``): 0 or
    EISCONN is success, any other value ``v`` is the failure ``OSError(v,
    strerror(v))`` -- run through :data:`CALL_TABLE` like any syscall error, so
    EINTR retries the read and EAGAIN polls again in timeout mode.

    With ``ex=False`` (``connect``) returns 0 or raises: the first error, the
    ``SO_ERROR`` failure, ``TimeoutError('timed out')``.  With ``ex=True``
    (``connect_ex``) returns 0 or the errno, and EWOULDBLOCK when the wait
    timed out; a failing ``poll`` itself is raised in both cases (in CPython
    ``connect_ex`` would then end in ``SystemError``).
    """
    numbers = _numbers(abi)
    code = first_error.errno
    if code == numbers.eintr:
        connect_event = ConnectEvent.EINTR
    elif code == numbers.einprogress:
        connect_event = ConnectEvent.EINPROGRESS
    else:
        connect_event = ConnectEvent.ERROR
    connect_action, state = CONNECT_TABLE[mode_of(timeout_ns), connect_event]
    try:
        if connect_action is ConnectAction.FAIL:
            if ex:
                return code if code is not None else 0
            raise first_error
        return _wait_connect(
            first_error, state, timeout_ns=timeout_ns, poll=poll, monotonic_ns=monotonic_ns,
            so_error=so_error, strerror=strerror, numbers=numbers, ex=ex,
        )
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        del first_error


def _wait_connect(
    first_error: OSError,
    state: State,
    *,
    timeout_ns: int,
    poll: Callable[[int, int], int],
    monotonic_ns: Callable[[], int],
    so_error: Callable[[], int],
    strerror: Callable[[int], str],
    numbers: _Numbers,
    ex: bool,
) -> int:
    """:func:`finish_connect` once it waits: ``sock_call_ex(connect=1)``."""
    eisconn = numbers.eisconn

    def connect_status() -> int:
        # sock_connect_impl: getsockopt(SO_ERROR) failing reports its own errno.
        err = so_error()
        if err == 0 or err == eisconn:
            return 0
        raise OSError(err, strerror(err))

    value: object = None
    error: OSError | None = None
    try:
        kind, value = _run(
            Action.POLL,
            state,
            first_error,
            connect_status,
            timeout_ns=timeout_ns,
            deadline=None,
            events=numbers.pollout | numbers.pollerr,
            poll=poll,
            monotonic_ns=monotonic_ns,
            numbers=numbers,
        )
        if kind is _Outcome.RETURNED:
            return 0
        if kind is _Outcome.TIMED_OUT:
            if ex:
                return numbers.ewouldblock  # *err = SOCK_TIMEOUT_ERR
            raise timed_out()
        error = cast(OSError, value)
        if ex:
            return error.errno if error.errno is not None else 0
        raise error
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        del first_error
        value = error = None


def send_all(
    view: memoryview,
    send: Callable[[memoryview], int],
    *,
    timeout_ns: int,
    poll: Callable[[int, int], int],
    monotonic_ns: Callable[[], int],
    abi: ABI,
) -> None:
    """``sendall``: call *send(rest)* until *view* (bytes, format ``B``) is sent.

    CPython's ``sock_sendall``: at least one ``send`` (``sendall(b"")``
    makes one); in timeout mode one deadline for the whole call, taken
    before the first chunk, and before every later chunk the time left is
    computed and ``TimeoutError('timed out')`` raised when it is ``<= 0``,
    before sending.  Each chunk then runs :func:`retry_call` with the
    socket's timeout and the shared deadline.  A non-blocking socket raises
    ``BlockingIOError`` when the buffer fills.

    Beyond CPython: whatever is raised carries ``bytes_sent``, the number of
    bytes sent before it (its type, message and args are unchanged), so the
    caller can resume (:func:`sansock.ancillary.bytes_sent` reads it).
    """
    deadline = Deadline.after(monotonic_ns(), timeout_ns) if timeout_ns > 0 else None
    rest = view
    first_chunk = True

    def attempt() -> int:
        return send(rest)

    try:
        while True:
            if deadline is not None and not first_chunk:
                # "timeout = _PyDeadline_Get(deadline); if (timeout <= 0) timed out"
                if deadline.remaining(monotonic_ns()) <= 0:
                    raise timed_out()
            first_chunk = False
            failure: OSError | None = None
            try:
                sent = send(rest)
            except OSError as exc:
                failure = exc
            if failure is not None:
                try:
                    sent = retry_call(
                        failure,
                        attempt,
                        timeout_ns=timeout_ns,
                        writing=True,
                        poll=poll,
                        monotonic_ns=monotonic_ns,
                        abi=abi,
                        deadline=deadline,
                    )
                finally:
                    # The exception's traceback holds this frame: keeping it
                    # in a local makes a cycle that also holds the driver's
                    # export of *rest* (a cffi from_buffer), which the cyclic
                    # GC may then clear in an order that crashes.
                    failure = None
            rest = rest[sent:]
            if not rest.nbytes:
                return
    except BaseException as exc:
        _note_bytes_sent(exc, view.nbytes - rest.nbytes)
        raise


def _note_bytes_sent(exc: BaseException, sent: int) -> None:
    """Attach ``bytes_sent`` to what ``sendall`` raises (if the type allows it)."""
    try:
        exc.bytes_sent = sent  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # pragma: no cover - a type with __slots__
        pass


def bytes_sent(exc: BaseException) -> int | None:
    """How many bytes ``sendall`` had sent when it raised *exc* (None if not from sendall).

    ``sendall`` sets ``exc.bytes_sent`` on whatever it raises (the stdlib
    type, message and args are unchanged; ``_note_bytes_sent`` above);
    this reads it with a type.
    """
    value = getattr(exc, "bytes_sent", None)
    return value if isinstance(value, int) else None
