"""The timeout machine: every blocking, non-blocking and timeout decision of a
socket call, and every wait, lives in this module, as tables keyed by enum
states.

It reproduces CPython 3.11's ``Modules/socketmodule.c`` (``sock_call_ex``,
``internal_select``, ``internal_connect``, ``sock_connect_impl``,
``sock_sendall``) and ``Lib/socket.py``'s sendfile loop.  It is pure: it
never reads a clock, sleeps or performs a syscall itself; it calls the
driver of the socket it is handed, and every platform number comes from the
socket's constants.  A socket's timeout is one integer of nanoseconds, as
CPython's ``sock_timeout``: ``-1`` blocking, ``0`` non-blocking, ``> 0``
timeout mode (``sansock._convert.parse_timeout`` makes it).

The machines
------------
The socket polls first in timeout mode, as CPython's ``sock_call_ex`` does:
trying first would be observable whenever poll readiness is stricter than
the syscall (``SO_RCVLOWAT`` above the queued bytes: ``recv`` would return
them, CPython times out; an AF_UNIX peer whose queue makes ``poll`` report
no ``POLLOUT`` while ``send`` still fits a byte).  Blocking and non-blocking
sockets never poll before the syscall, so there the socket's fast paths make
the first attempt themselves and consult the machine only when it failed.

:data:`CALL_TABLE` is ``sock_call_ex``: ``(State, Event) -> (Action, State)``;
:data:`ENTRY` says where a call starts in each :class:`Mode` (the syscall,
or in timeout mode the poll).  :data:`CONNECT_TABLE` is the head of
``internal_connect``: ``(Mode, ConnectEvent) -> (ConnectAction, State)``,
whose ``WAIT`` enters :data:`CALL_TABLE` at a ``*_WAIT`` state with
``getsockopt(SO_ERROR)`` as the syscall (``sock_connect_impl``).
:data:`SENDFILE_TABLE` is one turn of ``Lib/socket.py``'s sendfile loop.
:func:`next_step` looks a pair up and names impossible pairs.  The tables
live in :mod:`sansock._timeout_tables`; this module re-exports them.

Driving functions
-----------------
The machine owns every wait a socket makes; each function reads the socket
through the :class:`Waiter` protocol (its fd, timeout, driver and constants)
and calls ``syscall(fd, *args)`` with the fd the socket has at that attempt.

* :func:`call` -- ``sock_call``: the whole call in the socket's mode
  (``SocketType._call`` is this function).
* :func:`call_timed` -- ``sock_call_ex`` in timeout mode: poll first;
  :func:`send_timed`/:func:`recv_timed` are its ``send``/``recv`` forms.
  A driver with the optional ``PollCallDriver`` capability reads the clock,
  polls without waiting and makes the syscall in one call; the machine goes
  on from its :class:`~sansock.driver.Unfinished` (any wait is made here).
* :func:`retry` -- the retry step, after a fast path's own first try failed
  on a blocking or non-blocking socket.
* :func:`finish_connect` -- ``connect``/``connect_ex`` after the first
  ``connect()`` failed.
* :func:`send_all` -- ``sendall``: one deadline for the whole call.
* :func:`sendfile_chunk` -- the wait and the ``os.sendfile`` of one turn of
  ``socket.sendfile``'s loop.

Exceptions and reference cycles: the first exception of a call is taken
out of the ``except`` block (a later ``TimeoutError`` carries no
``__context__``, as in CPython).  Kept in a local, its traceback holds the
frame and so the socket, until the cyclic GC; CPython's C code has no
frames.  So every function here that keeps or re-raises an exception drops
it from its locals in a ``finally`` (issue 12, item 6).

Signals: CPython calls ``PyErr_CheckSignals()`` after EINTR; here the
interpreter runs handlers between bytecodes, and what a handler raises
propagates by itself.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar, cast

from ._driver import Unfinished
from ._errors import timed_out
from ._pyrules import RULES, PythonRules

if TYPE_CHECKING:
    from ._consts import SocketConstants

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
    "WaitDriver",
    "Waiter",
    "bytes_sent",
    "call",
    "call_timed",
    "finish_connect",
    "mode_of",
    "next_step",
    "poll_timeout_ms",
    "recv_timed",
    "retry",
    "send_all",
    "send_timed",
    "sendfile_chunk",
]

_T = TypeVar("_T")

from ._timeout_tables import (
    _CALL_STATE,
    _NS_PER_MS,
    _PYTIME_MAX,
    CALL_TABLE,
    CONNECT_TABLE,
    ENTRY,
    SENDFILE_TABLE,
    Action,
    ConnectAction,
    ConnectEvent,
    Event,
    Mode,
    State,
    mode_of,
    next_step,
    poll_timeout_ms,
)

# ---------------------------------------------------------------------------
# Driving functions, and what they read of a socket
# ---------------------------------------------------------------------------


class WaitDriver(Protocol):
    """The driver calls a wait makes (part of :class:`sansock.driver.Driver`)."""

    def poll(self, fd: int, events: int, timeout_ms: int, /) -> int: ...
    def monotonic_ns(self) -> int: ...
    def getsockopt(self, fd: int, level: int, option: int, /) -> int: ...
    def strerror(self, code: int, /) -> str: ...


class Waiter(Protocol):
    """The socket a call runs on, as the machine reads it.

    ``SocketType`` is one (four of the internals ``_socket`` lists).  ``_fd``
    is read before every poll and attempt, as ``sock_call_ex`` reads
    ``s->sock_fd``: -1 after a ``close()`` from another thread, which
    ``internal_select`` reports ready so that the attempt fails with EBADF.
    """

    _fd: int
    _timeout_ns: int
    _k: SocketConstants

    @property
    def _drv(self) -> WaitDriver: ...


class _Outcome(enum.Enum):
    RETURNED = "the syscall succeeded"
    TIMED_OUT = "timed out"
    SYSCALL_FAILED = "the syscall failed"


def _syscall_event(code: int | None, k: SocketConstants) -> Event:
    if code == k.EINTR:
        return Event.SYSCALL_EINTR
    if code == k.EAGAIN or code == k.EWOULDBLOCK:
        return Event.SYSCALL_EAGAIN
    return Event.SYSCALL_ERROR


def _int_max(k: SocketConstants) -> int:
    return (1 << (8 * k.abi.sizeof_int - 1)) - 1


def _run(
    sock: Waiter,
    table: Mapping[tuple[State, Event], tuple[Action, State]],
    action: Action,
    state: State,
    error: OSError | None,
    syscall: Callable[..., object],
    args: tuple[Any, ...],
    *,
    interval_ns: int,
    deadline_ns: int | None,
    events: int,
    fixed_fd: int | None = None,
) -> tuple[_Outcome, object]:
    """Run *table* from *action*/*state* until the call is done.

    *syscall(fd, \\*args)* gets the socket's current fd (or *fixed_fd*, also
    the fd polled).  A ``TIMEOUT_WAIT`` poll waits until *deadline_ns*, or
    one set at the first poll (and at ``FRESH_POLL``) *interval_ns* after it
    (``_PyDeadline_Init``); ``BLOCKING_WAIT`` polls with -1.  Returns
    ``(RETURNED, result)``, ``(TIMED_OUT, None)`` or ``(SYSCALL_FAILED, the
    last OSError)`` for the caller to raise or turn into an errno; a poll
    error is raised here.
    """
    drv = sock._drv
    k = sock._k
    result: object = None
    failure: OSError | None = None
    poll_failure: OSError | None = None
    try:
        while True:
            if action is Action.CALL:
                failure = None
                try:
                    result = syscall(sock._fd if fixed_fd is None else fixed_fd, *args)
                except OSError as exc:
                    failure = exc
                if failure is None:
                    event = Event.SYSCALL_OK
                else:
                    error = failure
                    event = _syscall_event(failure.errno, k)
            elif action is Action.POLL or action is Action.FRESH_POLL:
                clamped = False
                if state is State.TIMEOUT_WAIT:
                    now = drv.monotonic_ns()
                    if deadline_ns is None or action is Action.FRESH_POLL:
                        deadline_ns = now + interval_ns
                    remaining = deadline_ns - now
                    if remaining < 0:
                        action, state = next_step(state, Event.DEADLINE_PASSED, table)
                        continue
                    int_max = _int_max(k)
                    ms = poll_timeout_ms(remaining, int_max=int_max)
                    clamped = ms == int_max and remaining > ms * _NS_PER_MS
                else:
                    ms = -1
                fd = sock._fd if fixed_fd is None else fixed_fd
                poll_failure = None
                revents = 0
                try:
                    # internal_select: "Guard against closed socket".
                    revents = events if fd == -1 else drv.poll(fd, events, ms)
                except OSError as exc:
                    poll_failure = exc
                if poll_failure is not None:
                    if poll_failure.errno == k.EINTR:
                        event = Event.POLL_EINTR
                    else:
                        next_step(state, Event.POLL_ERROR, table)
                        # internal_select failed: s->errorhandler() raises poll's error.
                        raise poll_failure
                elif revents:
                    event = Event.POLL_READY
                elif clamped:
                    event = Event.POLL_CLAMPED
                else:
                    event = Event.POLL_TIMEOUT
            elif action is Action.RETURN:
                return (_Outcome.RETURNED, result)
            elif action is Action.RAISE_TIMEOUT:
                return (_Outcome.TIMED_OUT, None)
            else:  # Action.RAISE
                return (_Outcome.SYSCALL_FAILED, error)
            action, state = next_step(state, event, table)
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        error = failure = poll_failure = None


def _finish(kind: _Outcome, value: object) -> Any:
    """Return or raise what :func:`_run` reported (outside any ``except`` block)."""
    if kind is _Outcome.RETURNED:
        return value
    if kind is _Outcome.TIMED_OUT:
        raise timed_out()
    try:
        raise cast(OSError, value)
    finally:
        value = None  # its traceback holds this frame: no cycle


def call(sock: Waiter, writing: bool, syscall: Callable[..., _T], *args: Any) -> _T:
    """``sock_call``: ``syscall(fd, *args)`` on *sock* in its mode, from the start.

    Blocking and non-blocking (:data:`ENTRY`): the syscall first; EINTR is
    retried at once, anything else raised (EAGAIN as ``BlockingIOError``).
    Timeout mode: :func:`call_timed` -- poll first, as ``sock_call_ex`` does.

    This is ``SocketType._call`` (the class binds it as a method): every
    socket call that may wait goes through it or, after a fast path's own
    first try, through :func:`retry`.
    """
    if sock._timeout_ns > 0:
        return call_timed(sock, writing, syscall, args)
    try:
        return syscall(sock._fd, *args)
    except OSError as exc:
        first: OSError | None = exc
    try:
        return retry(sock, first, writing, syscall, args)  # type: ignore[arg-type]
    finally:
        first = None  # its traceback holds this frame: no cycle


def retry(sock: Waiter, first_error: OSError, writing: bool, syscall: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    """The retry step: finish a call whose first attempt raised *first_error*.

    For a blocking or non-blocking socket whose caller made the first
    attempt itself (a fast path, or :func:`call`): EINTR is retried at once,
    anything else is raised as it is.  (A socket in timeout mode never tries
    first: :func:`call_timed`.)
    """
    k = sock._k
    value: object = None
    try:
        action, state = next_step(_CALL_STATE[mode_of(sock._timeout_ns)], _syscall_event(first_error.errno, k))
        kind, value = _run(
            sock, CALL_TABLE, action, state, first_error, syscall, args,
            interval_ns=sock._timeout_ns, deadline_ns=None,
            events=k.POLLOUT if writing else k.POLLIN,
        )
        return cast(_T, _finish(kind, value))
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        del first_error
        value = None


def call_timed(
    sock: Waiter,
    writing: bool,
    syscall: Callable[..., _T],
    args: tuple[Any, ...],
    interval_ns: int = 0,
    polled: str = "",
) -> _T:
    """``sock_call_ex`` in timeout mode: poll for readiness, then the syscall.

    The deadline is set at the first poll, *interval_ns* after it (the
    socket's timeout, or what ``sendall`` has left: ``sock_call_ex``'s
    ``timeout`` argument).  The common outcome (poll ready, call done) is
    inlined; any other continues in :data:`CALL_TABLE`
    (``tests/test_timeout.py`` checks the inlined rows against the table).

    *polled* names the :class:`sansock.driver.PollCallDriver` method that
    does *syscall* with its poll in one driver call (``"poll_send"``,
    ``"poll_recv"``).  When the driver has it, the clock read, a poll that
    does not wait and the syscall are that one call; if it returns
    :class:`~sansock.driver.Unfinished`, the machine goes on from where
    the driver stopped, with the driver's clock reading as the deadline's
    base: not ready -> the first wait, as if the poll had been this one;
    poll failed -> :data:`CALL_TABLE`'s poll rows; syscall failed -> its
    syscall rows.  Only a poll made here waits, with the fd re-read first.
    """
    drv = sock._drv
    fd = sock._fd
    timeout_ns = interval_ns or sock._timeout_ns
    if polled and fd != -1:
        one_call = getattr(drv, polled, None)
        if one_call is not None:
            done = one_call(fd, *args)
            if done.__class__ is not Unfinished:
                return done  # type: ignore[no-any-return]  # POLL_READY -> CALL -> SYSCALL_OK
            return _unfinished(sock, writing, syscall, args, timeout_ns, done)
    ms = -(-timeout_ns // 1_000_000)
    if fd == -1 or ms > 0x7FFF_FFFF:
        # A closed socket (ready at once) or a wait a C int may not hold:
        # the table, which clamps (a C int has 31 value bits or more).
        # sock_call_ex: "deadline = _PyDeadline_Init(timeout); interval = timeout".
        now = drv.monotonic_ns()
        return _timed_rest(sock, writing, syscall, args, timeout_ns, now, Action.POLL, State.TIMEOUT_WAIT, None)
    # sock_call_ex: "deadline = _PyDeadline_Init(timeout); interval = timeout".
    return _first_wait(sock, writing, syscall, args, timeout_ns, drv.monotonic_ns(), fd, ms)


def send_timed(sock: Waiter, data: bytes, flags: int) -> int:
    """:func:`call_timed` of ``send(fd, data, flags)``, ``poll_send`` inlined."""
    fd = sock._fd
    drv = sock._drv
    timeout_ns = sock._timeout_ns  # sock_call_ex's timeout argument: read once, first
    one_call = getattr(drv, "poll_send", None)
    if one_call is None or fd == -1:
        return call_timed(sock, True, drv.send, (data, flags))  # type: ignore[attr-defined,no-any-return]
    done = one_call(fd, data, flags)
    if done.__class__ is not Unfinished:
        return done  # type: ignore[no-any-return]
    send = drv.send  # type: ignore[attr-defined]
    return _unfinished(sock, True, send, (data, flags), timeout_ns, done)  # type: ignore[no-any-return]


def recv_timed(sock: Waiter, bufsize: int, flags: int) -> bytes:
    """:func:`call_timed` of ``recv(fd, bufsize, flags)``, ``poll_recv`` inlined."""
    fd = sock._fd
    drv = sock._drv
    timeout_ns = sock._timeout_ns  # sock_call_ex's timeout argument: read once, first
    one_call = getattr(drv, "poll_recv", None)
    if one_call is None or fd == -1:
        return call_timed(sock, False, drv.recv, (bufsize, flags))  # type: ignore[attr-defined,no-any-return]
    done = one_call(fd, bufsize, flags)
    if done.__class__ is not Unfinished:
        return done  # type: ignore[no-any-return]
    recv = drv.recv  # type: ignore[attr-defined]
    return _unfinished(sock, False, recv, (bufsize, flags), timeout_ns, done)  # type: ignore[no-any-return]


def _unfinished(
    sock: Waiter, writing: bool, syscall: Callable[..., _T], args: tuple[Any, ...], timeout_ns: int, done: Unfinished
) -> _T:
    """:func:`call_timed` after a one-call driver method returned *done*."""
    now = done.start_ns
    error = done.error
    if error is not None:
        done.error = None
        try:
            if done.polling:
                return _poll_failed(sock, writing, syscall, args, timeout_ns, now, error)
            action, state = next_step(State.TIMEOUT_CALL, _syscall_event(error.errno, sock._k))
            return _timed_rest(sock, writing, syscall, args, timeout_ns, now, action, state, error)
        finally:
            del error  # its traceback holds this frame: no cycle
    # Not ready: this wait is sock_call_ex's first poll (the whole interval),
    # on the fd as it is now (internal_select reads it).
    fd = sock._fd
    ms = -(-timeout_ns // 1_000_000)
    if fd == -1 or ms > 0x7FFF_FFFF:
        return _timed_rest(sock, writing, syscall, args, timeout_ns, now, Action.POLL, State.TIMEOUT_WAIT, None)
    return _first_wait(sock, writing, syscall, args, timeout_ns, now, fd, ms)


def _first_wait(
    sock: Waiter, writing: bool, syscall: Callable[..., _T], args: tuple[Any, ...],
    timeout_ns: int, now: int, fd: int, ms: int,
) -> _T:
    """sock_call_ex's first poll (*ms*, the whole interval) and, when ready, the syscall."""
    k = sock._k
    try:
        revents = sock._drv.poll(fd, k.POLLOUT if writing else k.POLLIN, ms)
    except OSError as exc:
        failure: OSError | None = exc
    else:
        if not revents:
            raise timed_out()  # (TIMEOUT_WAIT, POLL_TIMEOUT) -> RAISE_TIMEOUT
        try:
            return syscall(sock._fd, *args)  # (TIMEOUT_WAIT, POLL_READY) -> CALL
        except OSError as exc:
            failure = exc
        try:
            action, state = next_step(State.TIMEOUT_CALL, _syscall_event(failure.errno, k))
            return _timed_rest(sock, writing, syscall, args, timeout_ns, now, action, state, failure)
        finally:
            failure = None  # its traceback holds this frame: no cycle
    try:
        return _poll_failed(sock, writing, syscall, args, timeout_ns, now, failure)  # type: ignore[arg-type]
    finally:
        failure = None


def _poll_failed(
    sock: Waiter,
    writing: bool,
    syscall: Callable[..., _T],
    args: tuple[Any, ...],
    timeout_ns: int,
    now: int,
    failure: OSError,
) -> _T:
    """The first poll of :func:`call_timed` failed: EINTR polls again with the
    time left, anything else is raised (internal_select's error)."""
    try:
        if failure.errno == sock._k.EINTR:
            return _timed_rest(sock, writing, syscall, args, timeout_ns, now, Action.POLL, State.TIMEOUT_WAIT, None)
        next_step(State.TIMEOUT_WAIT, Event.POLL_ERROR)
        raise failure
    finally:
        del failure


def _timed_rest(
    sock: Waiter,
    writing: bool,
    syscall: Callable[..., _T],
    args: tuple[Any, ...],
    timeout_ns: int,
    now: int,
    action: Action,
    state: State,
    failure: OSError | None,
) -> _T:
    """:func:`call_timed` past its inlined rows: :data:`CALL_TABLE` from *action*/*state*."""
    k = sock._k
    value: object = None
    try:
        kind, value = _run(
            sock, CALL_TABLE, action, state, failure, syscall, args,
            interval_ns=timeout_ns, deadline_ns=now + timeout_ns,
            events=k.POLLOUT if writing else k.POLLIN,
        )
        failure = None
        return cast(_T, _finish(kind, value))
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        failure = None
        value = None


def finish_connect(sock: Waiter, first_error: OSError, *, ex: bool) -> int:
    """Finish ``connect``/``connect_ex`` after the first ``connect()`` raised *first_error*.

    ``internal_connect``: :data:`CONNECT_TABLE` says when it waits; waiting
    is ``sock_call_ex(writing=1, connect=1)``: poll for ``POLLOUT|POLLERR``
    (``-1`` when blocking), then ``getsockopt(SO_ERROR)`` as the syscall
    (0 or EISCONN: connected; ``v``: ``OSError(v, strerror(v))``).
    ``connect`` returns 0 or raises; ``connect_ex`` returns 0, the errno, or
    EWOULDBLOCK on timeout.  A failing ``poll`` is raised by both (CPython's
    ``connect_ex`` would end in ``SystemError``).
    """
    k = sock._k
    timeout_ns = sock._timeout_ns
    code = first_error.errno
    if code == k.EINTR:
        connect_event = ConnectEvent.EINTR
    elif code == k.EINPROGRESS:
        connect_event = ConnectEvent.EINPROGRESS
    else:
        connect_event = ConnectEvent.ERROR
    connect_action, state = CONNECT_TABLE[mode_of(timeout_ns), connect_event]
    value: object = None
    error: OSError | None = None
    try:
        if connect_action is ConnectAction.FAIL:
            if ex:
                return code if code is not None else 0
            raise first_error
        kind, value = _run(
            sock, CALL_TABLE, Action.POLL, state, first_error, _connect_status, (sock,),
            interval_ns=timeout_ns, deadline_ns=None, events=k.POLLOUT | k.POLLERR,
        )
        if kind is _Outcome.RETURNED:
            return 0
        if kind is _Outcome.TIMED_OUT:
            if ex:
                return k.EWOULDBLOCK  # *err = SOCK_TIMEOUT_ERR
            raise timed_out()
        error = cast(OSError, value)
        if ex:
            return error.errno if error.errno is not None else 0
        raise error
    finally:
        # See "Exceptions and reference cycles" in the module docstring.
        del first_error
        value = error = None


def _connect_status(fd: int, sock: Waiter) -> int:
    """``sock_connect_impl``: ``getsockopt(SO_ERROR)`` (failing with its own errno)."""
    k = sock._k
    drv = sock._drv
    err = drv.getsockopt(fd, k.SOL_SOCKET, k.SO_ERROR)
    if err == 0 or err == k.EISCONN:
        return 0
    raise OSError(err, drv.strerror(err))


def send_all(
    sock: Waiter, send: Callable[[int, memoryview, int], int], view: memoryview, flags: int, polled: str = ""
) -> None:
    """``sendall``: ``send(fd, rest, flags)`` until *view* (bytes, format ``B``) is sent.

    ``sock_sendall``: at least one ``send``; in timeout mode one deadline
    for the whole call, and before every later chunk ``TimeoutError`` if no
    time is left; each chunk is ``sock_call_ex`` with the time left
    (:func:`call_timed`, *polled* its one-call form), or :func:`call` when
    blocking or non-blocking.
    Beyond CPython: whatever is raised carries ``bytes_sent`` (type, message
    and args unchanged; :func:`sansock.ancillary.bytes_sent` reads it).
    """
    timeout_ns = sock._timeout_ns
    deadline_ns = sock._drv.monotonic_ns() + timeout_ns if timeout_ns > 0 else 0
    rest = view
    interval_ns = timeout_ns
    try:
        while True:
            if timeout_ns > 0:
                if rest is not view:
                    # "timeout = _PyDeadline_Get(deadline); if (timeout <= 0) timed out"
                    interval_ns = deadline_ns - sock._drv.monotonic_ns()
                    if interval_ns <= 0:
                        raise timed_out()
                sent = call_timed(sock, True, send, (rest, flags), interval_ns, polled)
            else:
                sent = call(sock, True, send, rest, flags)
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


def sendfile_chunk(
    sock: Waiter,
    sockno: int,
    timeout: float | None,
    attempt: Callable[[int], _T],
    failed: Callable[[OSError], NoReturn] | None = None,
    rules: PythonRules = RULES,
) -> _T:
    """One turn of ``_sendfile_use_sendfile``'s loop (``Lib/socket.py``): the
    wait before a chunk and the chunk, as :data:`SENDFILE_TABLE` says.

    *sockno* is the fd the loop registered once, polled and passed to
    *attempt* (the count check and ``os.sendfile``); *timeout* is the loop's
    ``gettimeout()``.  The wait is ``PollSelector.select(timeout)``:
    ``math.ceil(timeout * 1e3)`` ms, which ``select.poll.poll`` refuses past
    ``_PyTime_t`` (``_PyTime``'s message) or ``INT_MAX`` (``timeout is too
    large``); no deadline across chunks.  *attempt*'s other ``OSError`` goes
    to *failed* (the loop's ``except OSError``); the wait's errors are raised.
    """
    k = sock._k
    if timeout:
        ms = math.ceil(timeout * 1e3)
        # _PyTime_FromMillisecondsObject, then _PyTime_AsMilliseconds and
        # poll_poll's "if (ms < INT_MIN || ms > INT_MAX)" check.
        if ms * _NS_PER_MS > _PYTIME_MAX:
            raise OverflowError(rules.timeout_int_overflow)
        if ms > _int_max(k):
            raise OverflowError("timeout is too large")
        action, state, interval_ns = Action.POLL, State.TIMEOUT_WAIT, ms * _NS_PER_MS
    else:
        action, state, interval_ns = Action.CALL, State.BLOCKING_CALL, 0
    kind, value = _run(
        sock, SENDFILE_TABLE, action, state, None, attempt, (),
        interval_ns=interval_ns, deadline_ns=None, events=k.POLLOUT, fixed_fd=sockno,
    )
    try:
        if kind is _Outcome.SYSCALL_FAILED and failed is not None:
            failed(cast(OSError, value))
        return cast(_T, _finish(kind, value))
    finally:
        value = None  # a raised error's traceback holds this frame: no cycle
