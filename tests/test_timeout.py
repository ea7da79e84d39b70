"""The timeout machine (``sansock._timeout``) against the running CPython.

Timeout values are compared with the stdlib ``socket`` module (the oracle)
and, where CPython exposes them, with its test modules' ``PyTime_*`` wrappers
(``_testcapi`` up to 3.12, ``_testinternalcapi`` from 3.13).
The machines are driven without any clock: a :class:`World` of scripted
syscall outcomes, poll outcomes and clock steps, plain closures.  Hypothesis
runs random scripts through the table-driven functions and through a
line-by-line transliteration of ``sock_call_ex``/``internal_connect`` written
independently below, and compares every call and the result.
"""

from __future__ import annotations

import doctest
import errno
import importlib
import math
import os
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sansock._convert as convert_module
import sansock._timeout as timeout_module
from sansock._profiles import LINUX_X86_64
from sansock._pyrules import KNOWN, rules_for
from sansock.driver import Unfinished
from sansock._timeout import (
    CALL_TABLE,
    CONNECT_TABLE,
    Action,
    ConnectAction,
    ConnectEvent,
    ENTRY,
    SENDFILE_TABLE,
    Event,
    Mode,
    State,
    call_timed,
    finish_connect,
    mode_of,
    next_step,
    poll_timeout_ms,
    retry,
    send_all,
    sendfile_chunk,
)
from sansock._convert import parse_blocking, parse_timeout, timeout_seconds
from sansock._timeout import call as sock_call
from sansock._consts import SocketConstants

ABI = LINUX_X86_64
EINTR, EAGAIN, EINPROGRESS, EISCONN = errno.EINTR, errno.EAGAIN, errno.EINPROGRESS, errno.EISCONN
ECONNREFUSED, ECONNRESET, EINVAL = errno.ECONNREFUSED, errno.ECONNRESET, errno.EINVAL
POLLIN, POLLOUT, POLLERR, POLLHUP = 1, 4, 8, 16
MS = 1_000_000
SECOND = 1_000_000_000

SETTINGS = settings(max_examples=300, deadline=None)


def test_doctests() -> None:
    assert doctest.testmod(timeout_module).failed == 0
    assert doctest.testmod(convert_module).failed == 0


def test_abi_numbers_match_the_host() -> None:
    """The profile's numbers used below are the host's (the tests use the host's errno)."""
    assert [ABI.errno(n) for n in ("EINTR", "EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "EISCONN")] == [
        EINTR, EAGAIN, errno.EWOULDBLOCK, EINPROGRESS, EISCONN,
    ]
    assert [ABI.const(n) for n in ("POLLIN", "POLLOUT", "POLLERR", "POLLHUP")] == [
        POLLIN, POLLOUT, POLLERR, POLLHUP,
    ]


# ---------------------------------------------------------------------------
# Timeout values vs the stdlib
# ---------------------------------------------------------------------------


def pytime_helper(name: str) -> Callable[..., Any]:
    """CPython's test wrapper of ``_PyTime_<name>``: ``_testcapi.PyTime_<name>``
    up to 3.12; 3.13 moved the private PyTime API, and its wrappers, to
    ``_testinternalcapi._PyTime_<name>``.  Skips when the build has neither."""
    for module_name, attribute in (("_testcapi", f"PyTime_{name}"), ("_testinternalcapi", f"_PyTime_{name}")):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        helper: Callable[..., Any] | None = getattr(module, attribute, None)
        if callable(helper):
            return helper
    pytest.skip(f"this CPython exposes no test wrapper of _PyTime_{name}")


def outcome(fn: Callable[[], object]) -> tuple[str, object]:
    """``("ok", value)`` or ``(exception type name, str(exception))``."""
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the oracle comparison wants any type
        return (type(exc).__name__, str(exc))


@pytest.fixture(scope="module")
def oracle() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    yield sock
    sock.close()


def stdlib_settimeout(sock: socket.socket, value: object) -> tuple[str, object]:
    def run() -> object:
        sock.settimeout(value)  # type: ignore[arg-type]
        return sock.gettimeout()

    return outcome(run)


def ours_settimeout(value: object) -> tuple[str, object]:
    return outcome(lambda: timeout_seconds(parse_timeout(value)))


class Index:
    def __init__(self, value: object) -> None:
        self.value = value

    def __index__(self) -> Any:
        return self.value


class FloatOnly:
    def __float__(self) -> float:
        return 2.5


class FloatSub(float):
    def __float__(self) -> float:
        return 99.0


class IntSub(int):
    def __index__(self) -> int:
        return 7


class IndexOverflow:
    def __index__(self) -> int:
        raise OverflowError("mine")


TIMEOUT_TABLE: list[object] = [
    None, True, False, 0, 1, 1.5, 0.0, -0.0, 1e-12, 1e-9, 1.5e-9, 2.4e-9, -1e-12, -1, -1.0,
    float("nan"), float("inf"), -float("inf"), 1e300, -1e300, 2**70, -(2**70), 2**63, 2**64,
    2**63 // SECOND, 2**63 // SECOND + 1, -(2**63 // SECOND) - 1,
    9223372036.854774, 9223372036.854776, 9223372036.854775807, -9223372036.854775808,
    "1", b"1", 1j, [], Decimal("1.5"), Fraction(1, 2), Index(3), Index("x"), IndexOverflow(),
    FloatOnly(), FloatSub(1.5), IntSub(4),
]


@pytest.mark.parametrize("value", TIMEOUT_TABLE, ids=repr)
def test_parse_timeout_table_matches_stdlib(oracle: socket.socket, value: object) -> None:
    assert ours_settimeout(value) == stdlib_settimeout(oracle, value)


@pytest.mark.parametrize("version", sorted(KNOWN), ids=lambda v: "%d.%d" % v)
def test_parse_timeout_exact_messages(version: tuple[int, int]) -> None:
    """The messages of cpython-semantics.md section 2.1, spelled out for each
    version (``_PyTime_FromSecondsObject`` changed them in 3.11 and 3.13)."""
    rules = rules_for(version)
    float_overflow = {
        (3, 10): "timestamp too large to convert to C _PyTime_t",
    }.get(version, "timestamp out of range for platform time_t")
    int_overflow = {
        (3, 13): "timestamp too large to convert to C PyTime_t",
    }.get(version, "timestamp too large to convert to C _PyTime_t")
    cases: list[tuple[object, type[Exception], str]] = [
        (-1, ValueError, "Timeout value out of range"),
        (float("nan"), ValueError, "Invalid value NaN (not a number)"),
        ("x", TypeError, "'str' object cannot be interpreted as an integer"),
        (1e300, OverflowError, float_overflow),
        (float("inf"), OverflowError, float_overflow),
        (2**70, OverflowError, int_overflow),
        (2**63, OverflowError, int_overflow),
    ]
    for value, exc_type, message in cases:
        with pytest.raises(exc_type) as info:
            parse_timeout(value, rules)
        assert type(info.value) is exc_type and str(info.value) == message
    assert parse_timeout(1e-12) == 1 and timeout_seconds(1) == 1e-09
    assert timeout_seconds(parse_timeout(1)) == 1.0 and parse_timeout(None) == -1


def test_parse_timeout_overflow_replaces_index_error_without_context() -> None:
    with pytest.raises(OverflowError) as info:
        parse_timeout(IndexOverflow())
    assert info.value.__context__ is None


@SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True))
@example(5e-324)
@example(9223372036.854775)
@example(-5e-10)
def test_parse_timeout_floats_match_stdlib(value: float) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert ours_settimeout(value) == stdlib_settimeout(sock, value)
    finally:
        sock.close()


@SETTINGS
@given(st.one_of(st.integers(), st.integers(-(2**64), 2**64), st.integers(-20, 20)))
def test_parse_timeout_ints_match_stdlib(oracle: socket.socket, value: int) -> None:
    assert ours_settimeout(value) == stdlib_settimeout(oracle, value)


@pytest.mark.differential  # compares with the running CPython's own PyTime functions
@SETTINGS
@given(st.one_of(st.floats(min_value=0.0, max_value=1e10), st.floats(), st.integers()))
def test_parse_timeout_matches_pytime_round_up(value: float) -> None:
    from_seconds_object = pytime_helper("FromSecondsObject")
    round_up = 3  # _PyTime_ROUND_UP == _PyTime_ROUND_TIMEOUT

    def pytime() -> object:
        ns = from_seconds_object(value, round_up)
        if ns < 0:  # socket_parse_timeout's own check
            raise ValueError("Timeout value out of range")
        return ns

    assert outcome(lambda: parse_timeout(value)) == outcome(pytime)


def test_setdefaulttimeout_uses_the_same_rules() -> None:
    saved = socket.getdefaulttimeout()
    try:
        for value in TIMEOUT_TABLE:
            ours = ours_settimeout(value)

            def run(value: object = value) -> object:
                socket.setdefaulttimeout(value)  # type: ignore[arg-type]
                return socket.getdefaulttimeout()

            assert ours == outcome(run), value
    finally:
        socket.setdefaulttimeout(saved)


@pytest.mark.differential  # compares with the running CPython's own PyTime functions
@SETTINGS
@given(st.integers(min_value=0, max_value=2**63 - 1))
@example(1)
@example(SECOND)
@example(2**63 - 1)
def test_timeout_seconds_is_pytime_as_seconds_double(ns: int) -> None:
    assert timeout_seconds(ns) == pytime_helper("AsSecondsDouble")(ns)


def test_timeout_seconds_none_when_blocking() -> None:
    assert timeout_seconds(-1) is None
    assert timeout_seconds(0) == 0.0
    assert timeout_seconds(SECOND) == 1.0 and type(timeout_seconds(SECOND)) is float


class BoolRaises:
    def __bool__(self) -> bool:
        raise ZeroDivisionError("mine")


class Empty:
    def __len__(self) -> int:
        return 0


BLOCKING_TABLE: list[object] = [
    True, False, 0, 1, 2, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**70, -(2**70),
    1.0, 0.0, "x", "", None, [], [0], Index(0), Index(5), Index("x"), Decimal(1), Decimal(0),
    IntSub(0), BoolRaises(), Empty(), object(),
]


@pytest.mark.parametrize("flag", BLOCKING_TABLE, ids=repr)
def test_parse_blocking_matches_stdlib(oracle: socket.socket, flag: object) -> None:
    def run() -> object:
        oracle.setblocking(flag)  # type: ignore[arg-type]
        return oracle.gettimeout()

    assert outcome(lambda: timeout_seconds(parse_blocking(flag, ABI))) == outcome(run)


@pytest.mark.parametrize("version", sorted(KNOWN), ids=lambda v: "%d.%d" % v)
def test_parse_blocking_rules_of_each_version(version: tuple[int, int]) -> None:
    """3.12 made ``setblocking`` take any object's truth value (Argument
    Clinic ``bool``); up to 3.11 it took a C ``long``."""
    rules = rules_for(version)
    if version >= (3, 12):
        assert parse_blocking(1.5, ABI, rules) == -1 and parse_blocking("", ABI, rules) == 0
        assert parse_blocking(2**70, ABI, rules) == -1 and parse_blocking(None, ABI, rules) == 0
        with pytest.raises(ZeroDivisionError, match="^mine$"):
            parse_blocking(BoolRaises(), ABI, rules)
    else:
        with pytest.raises(TypeError, match="^'float' object cannot be interpreted as an integer$"):
            parse_blocking(1.5, ABI, rules)
        with pytest.raises(OverflowError, match="^Python int too large to convert to C long$"):
            parse_blocking(2**70, ABI, rules)


def test_parse_blocking_uses_the_abi_long() -> None:
    import attrs

    ilp32 = attrs.evolve(ABI, sizeof_long=4)
    rules = rules_for((3, 11))  # the C long conversion of 3.10 and 3.11
    assert parse_blocking(2**31 - 1, ilp32, rules) == -1
    with pytest.raises(OverflowError, match="^Python int too large to convert to C long$"):
        parse_blocking(2**31, ilp32, rules)
    assert parse_blocking(2**31, ABI, rules) == -1


def test_poll_timeout_ms_boundaries() -> None:
    assert [poll_timeout_ms(ns) for ns in (0, 1, MS - 1, MS, MS + 1, 2 * MS, SECOND)] == [
        0, 1, 1, 1, 2, 2, 1000,
    ]
    assert poll_timeout_ms(-1) == -1 and poll_timeout_ms(-SECOND) == -1
    assert poll_timeout_ms(10**30) == 2**31 - 1
    assert poll_timeout_ms(5 * MS, int_max=3) == 3


@pytest.mark.differential  # compares with the running CPython's own PyTime functions
@SETTINGS
@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_poll_timeout_ms_is_pytime_ceiling(ns: int) -> None:
    ceiling = 1  # _PyTime_ROUND_CEILING
    expected = pytime_helper("AsMilliseconds")(ns, ceiling)
    if expected < 0:
        # CPython 3.10's _PyTime_Divide computes (t + k - 1) / k, which
        # overflows (and wraps) for the last million ns below _PyTime_MAX; 3.11
        # checks for it.  A wait that long is capped at INT_MAX ms anyway.
        assert ns > 2**63 - 1 - MS
        expected = 2**31 - 1
    assert poll_timeout_ms(ns) == min(expected, 2**31 - 1)


def test_mode_and_entry() -> None:
    """sock_call_ex: "if (has_timeout || connect)" polls first; else the syscall at once."""
    assert [mode_of(t) for t in (-1, 0, 1)] == [Mode.BLOCKING, Mode.NON_BLOCKING, Mode.TIMEOUT]
    assert dict(ENTRY) == {
        Mode.BLOCKING: (Action.CALL, State.BLOCKING_CALL),
        Mode.NON_BLOCKING: (Action.CALL, State.NON_BLOCKING_CALL),
        Mode.TIMEOUT: (Action.POLL, State.TIMEOUT_WAIT),
    }


def test_call_timed_inlines_the_tables_own_rows() -> None:
    """call_timed inlines the common outcome: these rows, as the table has them."""
    assert next_step(State.TIMEOUT_WAIT, Event.POLL_READY) == (Action.CALL, State.TIMEOUT_CALL)
    assert next_step(State.TIMEOUT_CALL, Event.SYSCALL_OK) == (Action.RETURN, State.DONE)
    assert next_step(State.TIMEOUT_WAIT, Event.POLL_TIMEOUT) == (Action.RAISE_TIMEOUT, State.DONE)


# ---------------------------------------------------------------------------
# The tables, pair by pair
# ---------------------------------------------------------------------------

DONE = State.DONE
EXPECTED_CALL_TABLE = {
    # blocking / non-blocking sockets: EINTR retries, anything else is final.
    **{
        (call, event): result
        for call in (State.BLOCKING_CALL, State.NON_BLOCKING_CALL)
        for event, result in {
            Event.SYSCALL_OK: (Action.RETURN, DONE),
            Event.SYSCALL_EINTR: (Action.CALL, call),
            Event.SYSCALL_EAGAIN: (Action.RAISE, DONE),
            Event.SYSCALL_ERROR: (Action.RAISE, DONE),
        }.items()
    },
    (State.TIMEOUT_CALL, Event.SYSCALL_OK): (Action.RETURN, DONE),
    (State.TIMEOUT_CALL, Event.SYSCALL_EINTR): (Action.CALL, State.TIMEOUT_CALL),
    (State.TIMEOUT_CALL, Event.SYSCALL_EAGAIN): (Action.POLL, State.TIMEOUT_WAIT),
    (State.TIMEOUT_CALL, Event.SYSCALL_ERROR): (Action.RAISE, DONE),
    (State.TIMEOUT_WAIT, Event.POLL_READY): (Action.CALL, State.TIMEOUT_CALL),
    (State.TIMEOUT_WAIT, Event.POLL_TIMEOUT): (Action.RAISE_TIMEOUT, DONE),
    (State.TIMEOUT_WAIT, Event.POLL_CLAMPED): (Action.POLL, State.TIMEOUT_WAIT),
    (State.TIMEOUT_WAIT, Event.POLL_EINTR): (Action.POLL, State.TIMEOUT_WAIT),
    (State.TIMEOUT_WAIT, Event.POLL_ERROR): (Action.RAISE, DONE),
    (State.TIMEOUT_WAIT, Event.DEADLINE_PASSED): (Action.RAISE_TIMEOUT, DONE),
    (State.BLOCKING_WAIT, Event.POLL_READY): (Action.CALL, State.BLOCKING_CALL),
    (State.BLOCKING_WAIT, Event.POLL_TIMEOUT): (Action.RAISE_TIMEOUT, DONE),
    (State.BLOCKING_WAIT, Event.POLL_EINTR): (Action.POLL, State.BLOCKING_WAIT),
    (State.BLOCKING_WAIT, Event.POLL_ERROR): (Action.RAISE, DONE),
}


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
@pytest.mark.parametrize("event", list(Event), ids=lambda e: e.name)
def test_call_table_every_pair(state: State, event: Event) -> None:
    expected = EXPECTED_CALL_TABLE.get((state, event))
    if expected is None:
        with pytest.raises(RuntimeError, match=f"event {event.name} cannot happen in state {state.name}"):
            next_step(state, event)
    else:
        assert next_step(state, event) == expected
    assert dict(CALL_TABLE) == EXPECTED_CALL_TABLE


FAIL = (ConnectAction.FAIL, DONE)
EXPECTED_CONNECT_TABLE = {
    (Mode.BLOCKING, ConnectEvent.EINTR): (ConnectAction.WAIT, State.BLOCKING_WAIT),
    (Mode.NON_BLOCKING, ConnectEvent.EINTR): FAIL,
    (Mode.TIMEOUT, ConnectEvent.EINTR): (ConnectAction.WAIT, State.TIMEOUT_WAIT),
    (Mode.BLOCKING, ConnectEvent.EINPROGRESS): FAIL,
    (Mode.NON_BLOCKING, ConnectEvent.EINPROGRESS): FAIL,
    (Mode.TIMEOUT, ConnectEvent.EINPROGRESS): (ConnectAction.WAIT, State.TIMEOUT_WAIT),
    (Mode.BLOCKING, ConnectEvent.ERROR): FAIL,
    (Mode.NON_BLOCKING, ConnectEvent.ERROR): FAIL,
    (Mode.TIMEOUT, ConnectEvent.ERROR): FAIL,
}


@pytest.mark.parametrize("mode", list(Mode), ids=lambda m: m.name)
@pytest.mark.parametrize("event", list(ConnectEvent), ids=lambda e: e.name)
def test_connect_table_every_pair(mode: Mode, event: ConnectEvent) -> None:
    assert CONNECT_TABLE[mode, event] == EXPECTED_CONNECT_TABLE[mode, event]
    assert len(CONNECT_TABLE) == len(EXPECTED_CONNECT_TABLE)


# ---------------------------------------------------------------------------
# A scripted world: syscall outcomes, poll outcomes, clock steps
# ---------------------------------------------------------------------------

OK = 0  # a syscall outcome: success; a positive int is an errno
FD = 7  # the world's socket fd


class World:
    """A socket as the machine reads it (``_timeout.Waiter``): its own driver,
    plain methods over scripts.  Exhausted scripts succeed / report ready.

    ``syscalls``: 0 = success, n > 0 = fail with errno n.
    ``polls``: r >= 0 = revents r (0: the wait expired, the clock moves by it),
    r < 0 = poll fails with errno -r.
    ``steps``: how far the clock moves at each read.
    """

    def __init__(self, syscalls: list[int], polls: list[int], steps: list[int], timeout_ns: int = -1) -> None:
        self.syscalls, self.polls, self.steps = list(syscalls), list(polls), list(steps)
        self.now = 1_000 * SECOND
        self.log: list[tuple[Any, ...]] = []
        self.results = 0
        self._fd = FD
        self._timeout_ns = timeout_ns
        self._drv = self
        self._k = SocketConstants(ABI)

    def record(self, *entry: Any) -> None:
        # A machine that loops without consuming its scripts would hang the
        # test; the scripts are short, so a long log is a runaway loop.
        assert len(self.log) < 1000, f"runaway loop: {self.log[-5:]}"
        self.log.append(entry)

    def monotonic_ns(self) -> int:
        self.now += self.steps.pop(0) if self.steps else 0
        self.record("clock", self.now)
        return self.now

    def poll(self, fd: int, events: int, timeout_ms: int) -> int:
        assert fd == FD
        self.record("poll", events, timeout_ms, self.now)
        revents = self.polls.pop(0) if self.polls else POLLIN
        if revents < 0:
            raise OSError(-revents, os.strerror(-revents))
        if revents == 0 and timeout_ms > 0:
            self.now += timeout_ms * MS
        return revents

    def getsockopt(self, fd: int, level: int, option: int) -> int:
        raise AssertionError("not a connect")

    def strerror(self, code: int) -> str:
        return os.strerror(code)

    def syscall(self, fd: int) -> int:
        assert fd == FD
        self.record("call")
        code = self.syscalls.pop(0) if self.syscalls else OK
        if code:
            raise OSError(code, os.strerror(code))
        self.results += 1
        return 100 + self.results


def run_call(world: World, timeout_ns: int, *, writing: bool = False) -> tuple[str, object]:
    """The whole socket call (``sock_call``) in the mode of *timeout_ns*."""
    world._timeout_ns = timeout_ns
    return outcome(lambda: sock_call(world, writing, world.syscall))


def kinds(world: World) -> list[str]:
    return [entry[0] for entry in world.log if entry[0] != "clock"]


# -- sock_call_ex, mode by mode, event by event ---------------------------------


@pytest.mark.parametrize("timeout_ns", [-1, 0])
def test_blocking_and_non_blocking_call_first_and_retry_eintr_at_once(timeout_ns: int) -> None:
    world = World([EINTR, EINTR, OK], [], [])
    assert run_call(world, timeout_ns) == ("ok", 101)
    assert kinds(world) == ["call", "call", "call"]


def test_timeout_mode_polls_first() -> None:
    """CPython's sock_call_ex polls before the first attempt (issue 18)."""
    world = World([OK], [POLLIN], [])
    assert run_call(world, SECOND) == ("ok", 101)
    assert world.log == [("clock", 1000 * SECOND), ("poll", POLLIN, 1000, 1000 * SECOND), ("call",)]


def test_timeout_mode_not_ready_times_out_without_a_call() -> None:
    """Readiness stricter than the syscall (SO_RCVLOWAT): no attempt is made."""
    world = World([OK], [0], [])
    assert run_call(world, SECOND) == ("TimeoutError", "timed out")
    assert kinds(world) == ["poll"]


def test_timeout_mode_eintr_retries_the_call_without_polling() -> None:
    world = World([EINTR, EINTR, OK], [POLLIN], [])
    assert run_call(world, SECOND) == ("ok", 101)
    assert kinds(world) == ["poll", "call", "call", "call"]


@pytest.mark.parametrize("timeout_ns", [-1, 0])
def test_eagain_without_timeout_is_blocking_io_error(timeout_ns: int) -> None:
    world = World([EAGAIN], [], [])
    assert run_call(world, timeout_ns) == (
        "BlockingIOError", "[Errno 11] Resource temporarily unavailable",
    )
    assert kinds(world) == ["call"]


@pytest.mark.parametrize("timeout_ns", [-1, 0])
def test_retry_after_a_fast_paths_first_try(timeout_ns: int) -> None:
    world = World([EINTR, OK], [], [], timeout_ns)
    assert retry(world, OSError(EINTR, "x"), False, world.syscall, ()) == 101
    first = OSError(ECONNRESET, "Connection reset by peer")
    with pytest.raises(ConnectionResetError) as info:
        retry(world, first, False, world.syscall, ())
    assert info.value is first and kinds(world) == ["call", "call"]


@pytest.mark.parametrize("timeout_ns", [-1, 0, SECOND])
def test_other_error_is_raised_as_is(timeout_ns: int) -> None:
    world = World([ECONNRESET], [], [])
    assert run_call(world, timeout_ns) == ("ConnectionResetError", "[Errno 104] Connection reset by peer")
    assert kinds(world)[-1] == "call"


def test_eagain_in_timeout_mode_polls_again_then_retries() -> None:
    world = World([EAGAIN, OK], [POLLIN, POLLIN], [])
    assert run_call(world, SECOND) == ("ok", 101)
    assert kinds(world) == ["poll", "call", "poll", "call"]


def test_writing_polls_for_pollout() -> None:
    world = World([OK], [POLLOUT], [])
    run_call(world, 5 * MS + 1, writing=True)
    assert world.log[1] == ("poll", POLLOUT, 6, 1000 * SECOND)


@pytest.mark.parametrize("revents", [POLLERR, POLLHUP, 32])
def test_pollerr_and_pollhup_count_as_ready(revents: int) -> None:
    world = World([ECONNRESET], [revents], [])
    assert run_call(world, SECOND) == ("ConnectionResetError", "[Errno 104] Connection reset by peer")
    assert kinds(world) == ["poll", "call"]


def test_poll_returning_zero_times_out() -> None:
    world = World([], [0], [], SECOND)
    with pytest.raises(TimeoutError) as info:
        sock_call(world, False, world.syscall)
    exc = info.value
    assert type(exc) is TimeoutError and exc.args == ("timed out",) and exc.errno is None
    assert str(exc) == "timed out" and exc.__context__ is None
    assert kinds(world) == ["poll"]


def test_timeout_after_a_false_positive_has_no_context() -> None:
    world = World([EAGAIN], [POLLIN, 0], [], SECOND)
    with pytest.raises(TimeoutError) as info:
        sock_call(world, False, world.syscall)
    assert info.value.__context__ is None


def test_false_positive_polls_again_with_the_time_left() -> None:
    # ready, but EAGAIN (bad checksum): poll again with what is left.
    world = World([EAGAIN, OK], [POLLIN, POLLIN], [0, 400 * MS])
    assert run_call(world, SECOND) == ("ok", 101)
    polls = [entry for entry in world.log if entry[0] == "poll"]
    assert [p[2] for p in polls] == [1000, 600]


def test_poll_eintr_polls_again_with_the_recomputed_time() -> None:
    world = World([OK], [-EINTR, POLLIN], [0, 250 * MS + 1])
    assert run_call(world, SECOND) == ("ok", 101)
    assert [e[2] for e in world.log if e[0] == "poll"] == [1000, 750]
    assert kinds(world) == ["poll", "poll", "call"]


def test_other_poll_error_is_raised() -> None:
    world = World([], [-EINVAL], [])
    assert run_call(world, SECOND) == ("OSError", "[Errno 22] Invalid argument")
    world = World([EAGAIN], [POLLIN, -EINVAL], [])
    assert run_call(world, SECOND) == ("OSError", "[Errno 22] Invalid argument")


def test_deadline_passed_times_out_without_polling() -> None:
    world = World([EAGAIN], [POLLIN], [0, SECOND + 1])
    assert run_call(world, SECOND) == ("TimeoutError", "timed out")
    assert kinds(world) == ["poll", "call"]


def test_deadline_exactly_now_polls_zero() -> None:
    world = World([EAGAIN, OK], [POLLIN, POLLIN], [0, SECOND])
    assert run_call(world, SECOND) == ("ok", 101)
    assert [e[2] for e in world.log if e[0] == "poll"] == [1000, 0]


def test_closed_socket_is_ready_at_once() -> None:
    """internal_select: "Guard against closed socket" -- fd -1 is not polled."""
    world = World([errno.EBADF], [], [])
    world._fd = -1
    world.syscall = lambda fd: World.syscall(world, FD)  # type: ignore[method-assign]
    assert run_call(world, SECOND) == ("OSError", "[Errno 9] Bad file descriptor")
    assert kinds(world) == ["call"]


def test_clamped_wait_polls_again_until_the_deadline() -> None:
    huge = 5 * 10**6 * SECOND  # settimeout(5e6): 5e9 ms does not fit poll's int
    world = World([OK], [0, 0, POLLIN], [])
    assert run_call(world, huge) == ("ok", 101)
    waits = [e[2] for e in world.log if e[0] == "poll"]
    assert waits[:2] == [2**31 - 1, 2**31 - 1]
    assert waits[2] == huge // MS - 2 * (2**31 - 1) == 705032706


def test_clamped_wait_still_times_out_at_the_deadline() -> None:
    world = World([], [0] * 10, [])
    assert run_call(world, 5 * (2**31 - 1) * MS) == ("TimeoutError", "timed out")
    assert [e[2] for e in world.log if e[0] == "poll"] == [2**31 - 1] * 5


def test_signal_handler_exception_propagates() -> None:
    class Interrupted(Exception):
        pass

    def syscall(fd: int) -> int:  # a handler raising between bytecodes, after EINTR
        raise Interrupted

    world = World([], [], [], -1)
    with pytest.raises(Interrupted):
        retry(world, OSError(EINTR, "x"), False, syscall, ())


# -- an independent transliteration of sock_call_ex ---------------------------


def reference_call(
    world: World, sock_timeout: int, events: int, *, timeout: int | None = None,
    syscall: Callable[[int], int] | None = None,
) -> int:
    """``sock_call_ex`` from Modules/socketmodule.c (``timeout`` is its
    argument, the socket's own by default), transliterated without tables."""
    timeout = sock_timeout if timeout is None else timeout
    attempt = world.syscall if syscall is None else syscall
    has_timeout = timeout > 0
    deadline = None
    while True:
        if has_timeout:
            now = world.monotonic_ns()
            if deadline is None:
                deadline, interval = now + timeout, timeout
            else:
                interval = deadline - now
            if interval >= 0:
                try:
                    res = 0 if world.poll(FD, events, -(-interval // MS)) else 1
                except OSError as exc:
                    if exc.errno == EINTR:
                        continue
                    raise
            else:
                res = 1
            if res == 1:
                raise TimeoutError("timed out")
        while True:  # inner loop: retry sock_func on EINTR
            try:
                return attempt(FD)
            except OSError as exc:
                code = exc.errno or 0
            if code != EINTR:
                break
        if sock_timeout > 0 and code in (EAGAIN, errno.EWOULDBLOCK):
            continue
        raise OSError(code, os.strerror(code))


SYSCALL_OUTCOMES = st.sampled_from([OK, EINTR, EAGAIN, errno.EWOULDBLOCK, ECONNRESET])
POLL_OUTCOMES = st.sampled_from([POLLIN, POLLOUT, POLLERR, POLLHUP, 0, -EINTR, -EINVAL])
CLOCK_STEPS = st.one_of(
    st.sampled_from([0, 1, MS - 1, MS, MS + 1, SECOND]), st.integers(0, 3 * SECOND)
)
TIMEOUTS = st.one_of(st.sampled_from([-1, 0, 1, MS, SECOND]), st.integers(1, 5 * SECOND))


def check_waits(world: World, timeout_ns: int, *, blocking_waits: bool = False) -> None:
    """Polls never ask for a negative wait (except -1 when blocking), never for a
    full millisecond past the deadline."""
    deadline = None
    for entry in world.log:
        if entry[0] == "clock" and deadline is None and timeout_ns > 0:
            deadline = entry[1] + timeout_ns
        if entry[0] == "poll":
            _, _, ms, now = entry
            if blocking_waits and timeout_ns < 0:
                assert ms == -1
                continue
            assert ms >= 0 and deadline is not None
            assert deadline - now >= 0
            assert (ms - 1) * MS < deadline - now


@SETTINGS
@given(
    timeout_ns=TIMEOUTS,
    syscalls=st.lists(SYSCALL_OUTCOMES, max_size=12),
    polls=st.lists(POLL_OUTCOMES, max_size=12),
    steps=st.lists(CLOCK_STEPS, max_size=12),
    writing=st.booleans(),
)
@example(timeout_ns=SECOND, syscalls=[OK], polls=[0], steps=[], writing=False)
def test_call_matches_sock_call_ex(
    timeout_ns: int, syscalls: list[int], polls: list[int], steps: list[int], writing: bool
) -> None:
    ours, theirs = World(syscalls, polls, steps), World(syscalls, polls, steps)
    got = run_call(ours, timeout_ns, writing=writing)
    want = outcome(lambda: reference_call(theirs, timeout_ns, POLLOUT if writing else POLLIN))
    assert got == want
    assert ours.log == theirs.log
    check_waits(ours, timeout_ns)
    made = kinds(ours)
    if timeout_ns <= 0:
        assert "poll" not in made
    elif made:
        assert made[0] == "poll"  # timeout mode: poll first, always


# -- the optional one-call capability (sansock.driver.PollCallDriver) ------------


class OneCallWorld(World):
    """A World whose driver also has a poll-then-call method, ``poll_call``,
    doing what the native ``poll_send``/``poll_recv`` do: read the clock,
    poll without waiting, and when ready make the syscall.  A poll that does
    not wait reports ready only when the next scripted poll is ready at once
    (r > 0); it never sees EINTR (poll(2) with a zero timeout cannot be
    interrupted), so 0 and -EINTR leave the script to the machine's own
    poll; -EINVAL fails it."""

    events = POLLIN

    def poll_call(self, fd: int) -> int | Unfinished:
        assert fd == FD
        start = self.monotonic_ns()
        nxt = self.polls[0] if self.polls else POLLIN
        if nxt == 0 or nxt == -EINTR:
            self.record("peek", self.events, self.now)
            return Unfinished(start)
        if self.polls:
            self.polls.pop(0)
        self.record("poll-now", self.events, self.now)
        if nxt < 0:
            return Unfinished(start, OSError(-nxt, os.strerror(-nxt)), True)
        try:
            return self.syscall(fd)
        except OSError as exc:
            return Unfinished(start, exc, False)


def run_one_call(world: OneCallWorld, timeout_ns: int, *, writing: bool = False) -> tuple[str, object]:
    world._timeout_ns = timeout_ns
    world.events = POLLOUT if writing else POLLIN
    return outcome(lambda: call_timed(world, writing, world.syscall, (), 0, "poll_call"))


def same_as_reference(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> bool:
    """*ours* is *theirs* with sock_call_ex's first poll made by the one call:
    ready at once ("poll-now", same events and time), or not ready ("peek",
    then the machine's poll with the whole interval, as the reference's)."""
    ours = [entry for entry in ours if entry[0] != "peek"]
    if len(ours) != len(theirs):
        return False
    for mine, ref in zip(ours, theirs):
        if mine[0] == "poll-now":
            if not (ref[0] == "poll" and ref[1] == mine[1] and ref[3] == mine[2]):
                return False
        elif mine != ref:
            return False
    return True


@SETTINGS
@given(
    timeout_ns=TIMEOUTS.filter(lambda t: t > 0),
    syscalls=st.lists(SYSCALL_OUTCOMES, max_size=12),
    polls=st.lists(POLL_OUTCOMES, max_size=12),
    steps=st.lists(CLOCK_STEPS, max_size=12),
    writing=st.booleans(),
)
@example(timeout_ns=SECOND, syscalls=[EINTR, EAGAIN, OK], polls=[POLLIN, -EINTR, POLLIN], steps=[], writing=False)
@example(timeout_ns=SECOND, syscalls=[], polls=[-EINVAL], steps=[], writing=True)
def test_one_call_driver_matches_sock_call_ex(
    timeout_ns: int, syscalls: list[int], polls: list[int], steps: list[int], writing: bool
) -> None:
    """With the capability the outcome, the clock reads, the polls (but for
    the first one's zero wait when it is ready) and the syscalls are
    sock_call_ex's."""
    ours, theirs = OneCallWorld(syscalls, polls, steps), World(syscalls, polls, steps)
    got = run_one_call(ours, timeout_ns, writing=writing)
    want = outcome(lambda: reference_call(theirs, timeout_ns, POLLOUT if writing else POLLIN))
    assert got == want
    assert same_as_reference(ours.log, theirs.log), (ours.log, theirs.log)
    check_waits(ours, timeout_ns)


def test_one_call_ready_is_one_driver_call() -> None:
    world = OneCallWorld([OK], [POLLIN], [])
    assert run_one_call(world, SECOND) == ("ok", 101)
    assert world.log == [("clock", 1000 * SECOND), ("poll-now", POLLIN, 1000 * SECOND), ("call",)]


def test_one_call_not_ready_waits_the_whole_interval_from_the_drivers_clock() -> None:
    """No second clock read: the deadline's base is the one the driver read."""
    world = OneCallWorld([OK], [0], [5 * MS])
    assert run_one_call(world, SECOND) == ("TimeoutError", "timed out")
    assert world.log == [
        ("clock", 1000 * SECOND + 5 * MS), ("peek", POLLIN, 1000 * SECOND + 5 * MS),
        ("poll", POLLIN, 1000, 1000 * SECOND + 5 * MS),
    ]


def test_one_call_poll_eintr_polls_again_with_the_time_left() -> None:
    """A poll that failed with EINTR inside the one call (a driver that does
    wait there could see it): poll again with the recomputed time."""
    world = OneCallWorld([OK], [POLLIN], [0, 300 * MS])
    world.poll_call = lambda fd: Unfinished(  # type: ignore[method-assign]
        world.monotonic_ns(), OSError(EINTR, os.strerror(EINTR)), True
    )
    assert run_one_call(world, SECOND) == ("ok", 101)
    assert [e[2] for e in world.log if e[0] == "poll"] == [700]


def test_one_call_syscall_error_has_no_context_and_no_cycle() -> None:
    world = OneCallWorld([ECONNRESET], [POLLIN], [])
    world._timeout_ns = SECOND
    with pytest.raises(ConnectionResetError) as info:
        call_timed(world, False, world.syscall, (), 0, "poll_call")
    assert info.value.__context__ is None
    world = OneCallWorld([EAGAIN], [POLLIN, 0], [])
    world._timeout_ns = SECOND
    with pytest.raises(TimeoutError) as timed:
        call_timed(world, False, world.syscall, (), 0, "poll_call")
    assert timed.value.__context__ is None


def test_one_call_closed_socket_is_not_polled_by_the_driver() -> None:
    """fd -1 (closed by another thread): the machine's own path, as without the capability."""
    world = OneCallWorld([errno.EBADF], [], [])
    world._fd = -1

    def never(fd: int) -> int:
        raise AssertionError("the one call was made on fd -1")

    world.poll_call = never  # type: ignore[method-assign]
    world.syscall = lambda fd: World.syscall(world, FD)  # type: ignore[method-assign]
    assert run_one_call(world, SECOND) == ("OSError", "[Errno 9] Bad file descriptor")


@SETTINGS
@given(
    first=st.sampled_from([EINTR, EAGAIN, errno.EWOULDBLOCK, ECONNRESET, EINVAL]),
    timeout_ns=st.sampled_from([-1, 0]),
    syscalls=st.lists(SYSCALL_OUTCOMES, max_size=12),
)
def test_retry_is_the_rest_of_sock_call(first: int, timeout_ns: int, syscalls: list[int]) -> None:
    """A fast path's own first try, then retry: the same as the whole call."""
    ours, theirs = World(syscalls, [], [], timeout_ns), World([first, *syscalls], [], [])
    got = outcome(lambda: retry(ours, OSError(first, os.strerror(first)), False, ours.syscall, ()))
    want = outcome(lambda: reference_call(theirs, timeout_ns, POLLIN))
    assert got == want
    assert [("call",), *ours.log] == theirs.log


# ---------------------------------------------------------------------------
# connect / connect_ex
# ---------------------------------------------------------------------------


class ConnectWorld(World):
    """``so_error`` outcomes: v >= 0 is the SO_ERROR value, v < 0 getsockopt fails with -v."""

    def __init__(self, so_errors: list[int], polls: list[int], steps: list[int]) -> None:
        super().__init__([], polls, steps)
        self.so_errors = list(so_errors)

    def getsockopt(self, fd: int, level: int, option: int) -> int:
        assert (fd, level, option) == (FD, socket.SOL_SOCKET, socket.SO_ERROR)
        return self.so_error()

    def so_error(self) -> int:
        self.record("so_error")
        value = self.so_errors.pop(0) if self.so_errors else 0
        if value < 0:
            raise OSError(-value, os.strerror(-value))
        return value


def run_connect(world: ConnectWorld, first: int, timeout_ns: int, *, ex: bool) -> tuple[str, object]:
    world._timeout_ns = timeout_ns
    return outcome(lambda: finish_connect(world, OSError(first, os.strerror(first)), ex=ex))


CONNECT_EXPECTATIONS = [
    # (first errno, timeout, ex) -> outcome, log kinds
    (EINTR, 0, False, ("InterruptedError", "[Errno 4] Interrupted system call"), []),
    (EINTR, 0, True, ("ok", EINTR), []),
    (EINPROGRESS, 0, False, ("BlockingIOError", "[Errno 115] Operation now in progress"), []),
    (EINPROGRESS, 0, True, ("ok", EINPROGRESS), []),
    (EINPROGRESS, -1, False, ("BlockingIOError", "[Errno 115] Operation now in progress"), []),
    (ECONNREFUSED, -1, True, ("ok", ECONNREFUSED), []),
    (ECONNREFUSED, SECOND, False, ("ConnectionRefusedError", "[Errno 111] Connection refused"), []),
    (ECONNREFUSED, 0, True, ("ok", ECONNREFUSED), []),
    (EINTR, -1, False, ("ok", 0), ["poll", "so_error"]),
    (EINTR, SECOND, False, ("ok", 0), ["poll", "so_error"]),
    (EINPROGRESS, SECOND, True, ("ok", 0), ["poll", "so_error"]),
]


@pytest.mark.parametrize(("first", "timeout_ns", "ex", "result", "log"), CONNECT_EXPECTATIONS)
def test_connect_first_failure(first: int, timeout_ns: int, ex: bool, result: object, log: list[str]) -> None:
    world = ConnectWorld([], [], [])
    assert run_connect(world, first, timeout_ns, ex=ex) == result
    assert kinds(world) == log


def test_blocking_connect_after_eintr_waits_forever_for_pollout_pollerr() -> None:
    world = ConnectWorld([0], [-EINTR, POLLOUT], [])
    assert run_connect(world, EINTR, -1, ex=False) == ("ok", 0)
    assert world.log == [("poll", POLLOUT | POLLERR, -1, 1000 * SECOND)] * 2 + [("so_error",)]


@pytest.mark.parametrize("ex", [False, True])
def test_connect_so_error_values(ex: bool) -> None:
    assert run_connect(ConnectWorld([EISCONN], [], []), EINPROGRESS, SECOND, ex=ex) == ("ok", 0)
    refused = run_connect(ConnectWorld([ECONNREFUSED], [], []), EINPROGRESS, SECOND, ex=ex)
    assert refused == (("ok", 111) if ex else ("ConnectionRefusedError", "[Errno 111] Connection refused"))
    failing = run_connect(ConnectWorld([-errno.EBADF], [], []), EINPROGRESS, SECOND, ex=ex)
    assert failing == (("ok", 9) if ex else ("OSError", "[Errno 9] Bad file descriptor"))


@pytest.mark.parametrize("ex", [False, True])
def test_connect_timeout(ex: bool) -> None:
    world = ConnectWorld([], [0], [])
    assert run_connect(world, EINPROGRESS, SECOND, ex=ex) == (
        ("ok", errno.EWOULDBLOCK) if ex else ("TimeoutError", "timed out")
    )


def test_connect_so_error_eintr_retries_and_eagain_polls_again() -> None:
    world = ConnectWorld([EINTR, EAGAIN, 0], [POLLOUT, POLLOUT], [])
    assert run_connect(world, EINPROGRESS, SECOND, ex=False) == ("ok", 0)
    assert kinds(world) == ["poll", "so_error", "so_error", "poll", "so_error"]


def test_blocking_connect_so_error_eagain_is_raised() -> None:
    world = ConnectWorld([EAGAIN], [POLLOUT], [])
    assert run_connect(world, EINTR, -1, ex=True) == ("ok", EAGAIN)


def test_connect_poll_error_is_raised_even_for_connect_ex() -> None:
    world = ConnectWorld([], [-EINVAL], [])
    assert run_connect(world, EINPROGRESS, SECOND, ex=True) == ("OSError", "[Errno 22] Invalid argument")


def reference_connect(world: ConnectWorld, first: int, sock_timeout: int, ex: bool) -> int:
    """``internal_connect`` + ``sock_call_ex(connect=1)`` + ``sock_connect_impl``,
    transliterated without tables."""

    def fail(code: int) -> int:
        if ex:
            return code
        raise OSError(code, os.strerror(code))

    if first == EINTR:
        wait = sock_timeout != 0
    else:
        wait = sock_timeout > 0 and first == EINPROGRESS
    if not wait:
        return fail(first)
    has_timeout = sock_timeout > 0
    deadline = None
    while True:
        if has_timeout:
            now = world.monotonic_ns()
            if deadline is None:
                deadline, interval = now + sock_timeout, sock_timeout
            else:
                interval = deadline - now
            ms = -(-interval // MS) if interval >= 0 else None
        else:
            ms = -1
        if ms is None:
            res = 1
        else:
            try:
                res = 0 if world.poll(FD, POLLOUT | POLLERR, ms) else 1
            except OSError as exc:
                if exc.errno == EINTR:
                    continue
                raise
        if res == 1:
            if ex:
                return errno.EWOULDBLOCK
            raise TimeoutError("timed out")
        while True:
            try:
                err = world.so_error()
            except OSError as exc:
                err = exc.errno or 0
            if err in (0, EISCONN):
                return 0
            if err != EINTR:
                break
        if sock_timeout > 0 and err in (EAGAIN, errno.EWOULDBLOCK):
            continue
        return fail(err)


@SETTINGS
@given(
    first=st.sampled_from([EINTR, EINPROGRESS, ECONNREFUSED, EAGAIN]),
    timeout_ns=TIMEOUTS,
    so_errors=st.lists(st.sampled_from([0, EISCONN, EINTR, EAGAIN, ECONNREFUSED, -errno.EBADF]), max_size=8),
    polls=st.lists(POLL_OUTCOMES, max_size=8),
    steps=st.lists(CLOCK_STEPS, max_size=8),
    ex=st.booleans(),
)
def test_finish_connect_matches_internal_connect(
    first: int, timeout_ns: int, so_errors: list[int], polls: list[int], steps: list[int], ex: bool
) -> None:
    ours, theirs = ConnectWorld(so_errors, polls, steps), ConnectWorld(so_errors, polls, steps)
    got = run_connect(ours, first, timeout_ns, ex=ex)
    want = outcome(lambda: reference_connect(theirs, first, timeout_ns, ex))
    assert got == want
    assert ours.log == theirs.log
    check_waits(ours, timeout_ns, blocking_waits=True)
    if ex:
        assert got[0] in ("ok", "OSError")  # only a failing poll raises from connect_ex


# ---------------------------------------------------------------------------
# sendall
# ---------------------------------------------------------------------------


class SendWorld(World):
    """``sends``: n >= 0 sends min(n, len) bytes (0 = everything); n < 0 fails with errno -n."""

    def __init__(self, sends: list[int], polls: list[int], steps: list[int]) -> None:
        super().__init__([], polls, steps)
        self.sends = list(sends)
        self.received = bytearray()

    def send(self, fd: int, view: memoryview, flags: int = 0) -> int:
        assert fd == FD
        self.record("send", view.nbytes)
        n = self.sends.pop(0) if self.sends else 0
        if n < 0:
            raise OSError(-n, os.strerror(-n))
        n = min(n, view.nbytes) if n else view.nbytes
        self.received += view[:n]
        return n


def run_send_all(world: SendWorld, data: bytes, timeout_ns: int) -> tuple[str, object]:
    world._timeout_ns = timeout_ns
    return outcome(lambda: send_all(world, world.send, memoryview(data), 0))


def reference_sendall(world: SendWorld, data: bytes, sock_timeout: int) -> None:
    """``sock_sendall``, transliterated: one deadline, each chunk ``sock_call_ex``
    with the time left as its ``timeout``."""
    buf = memoryview(data)
    has_timeout = sock_timeout > 0
    timeout = sock_timeout
    deadline = None
    while True:
        if has_timeout:
            if deadline is not None:
                timeout = deadline - world.monotonic_ns()
            else:
                deadline = world.monotonic_ns() + sock_timeout
            if timeout <= 0:
                raise TimeoutError("timed out")
        rest = buf
        n = reference_call(world, sock_timeout, POLLOUT, timeout=timeout, syscall=lambda fd: world.send(fd, rest))
        buf = buf[n:]
        if not buf.nbytes:
            return


def test_send_all_sends_everything_in_chunks() -> None:
    world = SendWorld([3, -EINTR, 2, -EAGAIN, 0], [POLLOUT] * 5, [])
    assert run_send_all(world, b"0123456789", SECOND) == ("ok", None)
    assert bytes(world.received) == b"0123456789"
    assert kinds(world) == ["poll", "send", "poll", "send", "send", "poll", "send", "poll", "send"]


def test_send_all_empty_makes_one_send() -> None:
    world = SendWorld([], [], [])
    assert run_send_all(world, b"", -1) == ("ok", None)
    assert world.log == [("send", 0)]


def test_send_all_non_blocking_raises_when_full() -> None:
    world = SendWorld([4, -EAGAIN], [], [])
    assert run_send_all(world, b"0123456789", 0) == (
        "BlockingIOError", "[Errno 11] Resource temporarily unavailable",
    )
    assert bytes(world.received) == b"0123"


def test_send_all_checks_the_deadline_before_each_later_chunk() -> None:
    # clock: start, first poll, then the check before chunk 2 finds the deadline reached.
    world = SendWorld([4], [POLLOUT], [0, 0, SECOND])
    assert run_send_all(world, b"0123456789", SECOND) == ("TimeoutError", "timed out")
    assert kinds(world) == ["poll", "send"]


def test_send_all_one_deadline_for_the_whole_call() -> None:
    # chunk 1 after 600 ms of waiting, chunk 2 may only wait the 400 ms left.
    world = SendWorld([5, 0], [POLLOUT, POLLOUT], [0, 0, 600 * MS, 0])
    assert run_send_all(world, b"0123456789", SECOND) == ("ok", None)
    assert [e[2] for e in world.log if e[0] == "poll"] == [1000, 400]


@SETTINGS
@given(
    timeout_ns=TIMEOUTS,
    size=st.integers(0, 40),
    sends=st.lists(st.sampled_from([0, 1, 3, 7, -EINTR, -EAGAIN, -ECONNRESET]), max_size=12),
    polls=st.lists(POLL_OUTCOMES, max_size=8),
    steps=st.lists(CLOCK_STEPS, max_size=12),
)
def test_send_all_matches_sock_sendall(
    timeout_ns: int, size: int, sends: list[int], polls: list[int], steps: list[int]
) -> None:
    data = bytes(range(size))
    ours, theirs = SendWorld(sends, polls, steps), SendWorld(sends, polls, steps)
    got = run_send_all(ours, data, timeout_ns)
    want = outcome(lambda: reference_sendall(theirs, data, timeout_ns))
    assert got == want
    assert ours.log == theirs.log and ours.received == theirs.received
    if got[0] == "ok":
        assert bytes(ours.received) == data
    if timeout_ns <= 0:
        assert "poll" not in kinds(ours) and "clock" not in [e[0] for e in ours.log]


# ---------------------------------------------------------------------------
# sendfile (Lib/socket.py's loop)
# ---------------------------------------------------------------------------

EXPECTED_SENDFILE_TABLE = {
    (State.TIMEOUT_WAIT, Event.POLL_READY): (Action.CALL, State.TIMEOUT_CALL),
    (State.TIMEOUT_WAIT, Event.POLL_TIMEOUT): (Action.RAISE_TIMEOUT, DONE),
    (State.TIMEOUT_WAIT, Event.POLL_EINTR): (Action.POLL, State.TIMEOUT_WAIT),
    (State.TIMEOUT_WAIT, Event.DEADLINE_PASSED): (Action.RAISE_TIMEOUT, DONE),
    (State.TIMEOUT_WAIT, Event.POLL_ERROR): (Action.RAISE, DONE),
    (State.TIMEOUT_CALL, Event.SYSCALL_OK): (Action.RETURN, DONE),
    (State.TIMEOUT_CALL, Event.SYSCALL_EINTR): (Action.CALL, State.TIMEOUT_CALL),
    (State.TIMEOUT_CALL, Event.SYSCALL_EAGAIN): (Action.FRESH_POLL, State.TIMEOUT_WAIT),
    (State.TIMEOUT_CALL, Event.SYSCALL_ERROR): (Action.RAISE, DONE),
    (State.BLOCKING_CALL, Event.SYSCALL_OK): (Action.RETURN, DONE),
    (State.BLOCKING_CALL, Event.SYSCALL_EINTR): (Action.CALL, State.BLOCKING_CALL),
    (State.BLOCKING_CALL, Event.SYSCALL_EAGAIN): (Action.POLL, State.BLOCKING_WAIT),
    (State.BLOCKING_CALL, Event.SYSCALL_ERROR): (Action.RAISE, DONE),
    (State.BLOCKING_WAIT, Event.POLL_READY): (Action.CALL, State.BLOCKING_CALL),
    (State.BLOCKING_WAIT, Event.POLL_TIMEOUT): (Action.CALL, State.BLOCKING_CALL),
    (State.BLOCKING_WAIT, Event.POLL_EINTR): (Action.POLL, State.BLOCKING_WAIT),
    (State.BLOCKING_WAIT, Event.POLL_ERROR): (Action.RAISE, DONE),
}


def test_sendfile_table() -> None:
    assert dict(SENDFILE_TABLE) == EXPECTED_SENDFILE_TABLE


def reference_sendfile_chunk(world: World, timeout: float | None) -> int:
    """One turn of ``_sendfile_use_sendfile``'s loop with ``selectors.PollSelector``
    and ``select.poll.poll`` (``Modules/selectmodule.c``) written out: the
    wait, then ``os.sendfile`` (EINTR retried), EAGAIN back to the top."""
    while True:
        if timeout:
            ms = math.ceil(timeout * 1e3)  # PollSelector.select
            if ms > 2**31 - 1:
                raise OverflowError("timeout is too large")
            deadline = world.monotonic_ns() + ms * MS  # poll_poll
            wait = ms
            while True:
                try:
                    ready = world.poll(FD, POLLOUT, wait)
                    break
                except OSError as exc:
                    if exc.errno != EINTR:
                        raise
                left = deadline - world.monotonic_ns()
                if left < 0:
                    ready = 0
                    break
                wait = -(-left // MS)
            if not ready:
                raise TimeoutError("timed out")
        while True:
            try:
                return world.syscall(FD)
            except OSError as exc:
                code = exc.errno or 0
            if code != EINTR:
                break
        if code not in (EAGAIN, errno.EWOULDBLOCK):
            raise OSError(code, os.strerror(code))
        if not timeout:
            while True:
                try:
                    world.poll(FD, POLLOUT, -1)
                    break
                except OSError as exc:
                    if exc.errno != EINTR:
                        raise


@SETTINGS
@given(
    timeout=st.one_of(st.none(), st.sampled_from([1e-9, 0.001, 0.0015, 1.1, 5.0]), st.floats(1e-6, 5.0)),
    syscalls=st.lists(SYSCALL_OUTCOMES, max_size=12),
    polls=st.lists(POLL_OUTCOMES, max_size=12),
    steps=st.lists(CLOCK_STEPS, max_size=12),
)
def test_sendfile_chunk_matches_lib_socket(
    timeout: float | None, syscalls: list[int], polls: list[int], steps: list[int]
) -> None:
    ours, theirs = World(syscalls, polls, steps), World(syscalls, polls, steps)
    ours._fd = -1  # the loop polls the fd it registered, not the socket's current one
    got = outcome(lambda: sendfile_chunk(ours, FD, timeout, ours.syscall))
    want = outcome(lambda: reference_sendfile_chunk(theirs, timeout))
    assert got == want
    assert ours.log == theirs.log


@pytest.mark.parametrize(("version", "message"), [((3, 12), "C _PyTime_t"), ((3, 13), "C PyTime_t")])
def test_sendfile_chunk_timeout_limits(version: tuple[int, int], message: str) -> None:
    """select.poll.poll: past INT_MAX ms 'timeout is too large'; past _PyTime_t, _PyTime's message."""
    world = World([], [], [])
    with pytest.raises(OverflowError, match="^timeout is too large$"):
        sendfile_chunk(world, FD, 2**31 / 1000 + 1, world.syscall)
    with pytest.raises(OverflowError, match=f"^timestamp too large to convert to {message}$"):
        sendfile_chunk(world, FD, 9223372036.854775, world.syscall, rules=rules_for(version))
    assert world.log == []
