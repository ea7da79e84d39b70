"""Types of the timeout machine (mypy-checked, never run)."""

from collections.abc import Callable
from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

from sansock import ABI
from sansock._timeout import (
    CALL_TABLE,
    CONNECT_TABLE,
    Action,
    ConnectAction,
    ConnectEvent,
    Deadline,
    Event,
    Mode,
    State,
    finish_connect,
    mode_of,
    next_step,
    parse_blocking,
    parse_timeout,
    poll_timeout_ms,
    retry_call,
    send_all,
    timeout_seconds,
)


def check_values(abi: ABI) -> None:
    assert_type(parse_timeout(1.5), int)
    assert_type(parse_timeout(None), int)
    assert_type(timeout_seconds(5), float | None)
    assert_type(parse_blocking(True, abi), int)
    assert_type(poll_timeout_ms(1), int)
    assert_type(poll_timeout_ms(1, int_max=5), int)
    assert_type(mode_of(-1), Mode)
    parse_blocking(True)  # type: ignore[call-arg]
    poll_timeout_ms(1, 5)  # type: ignore[call-arg]


def check_deadline() -> None:
    deadline = Deadline.after(10, 5)
    assert_type(deadline, Deadline)
    assert_type(deadline.remaining(12), int)
    deadline.at_ns = 3  # type: ignore[misc]


def check_tables() -> None:
    assert_type(next_step(State.TIMEOUT_CALL, Event.SYSCALL_EAGAIN), tuple[Action, State])
    action, state = CALL_TABLE[State.TIMEOUT_WAIT, Event.POLL_READY]
    assert_type(action, Action)
    assert_type(state, State)
    connect_action, wait = CONNECT_TABLE[Mode.TIMEOUT, ConnectEvent.EINPROGRESS]
    assert_type(connect_action, ConnectAction)
    assert_type(wait, State)
    next_step(Mode.TIMEOUT, Event.POLL_READY)  # type: ignore[arg-type]


def check_driving(
    abi: ABI,
    poll: Callable[[int, int], int],
    clock: Callable[[], int],
    recv: Callable[[], bytes],
    recvfrom: Callable[[], tuple[bytes, bytes]],
    send: Callable[[memoryview], int],
) -> None:
    err = OSError(11, "Resource temporarily unavailable")
    assert_type(
        retry_call(err, recv, timeout_ns=1, writing=False, poll=poll, monotonic_ns=clock, abi=abi),
        bytes,
    )
    assert_type(
        retry_call(
            err, recvfrom, timeout_ns=1, writing=False, poll=poll, monotonic_ns=clock, abi=abi,
            deadline=Deadline(5),
        ),
        tuple[bytes, bytes],
    )
    retry_call(err, recv, poll=poll, monotonic_ns=clock, abi=abi)  # type: ignore[call-arg]
    assert_type(
        finish_connect(
            err, timeout_ns=1, poll=poll, monotonic_ns=clock, so_error=lambda: 0,
            strerror=str, abi=abi, ex=True,
        ),
        int,
    )
    finish_connect(  # type: ignore[call-arg]
        err, timeout_ns=1, poll=poll, monotonic_ns=clock, strerror=str, abi=abi, ex=True
    )
    assert_type(
        send_all(memoryview(b"x"), send, timeout_ns=-1, poll=poll, monotonic_ns=clock, abi=abi),
        None,
    )
    send_all(b"x", send, timeout_ns=-1, poll=poll, monotonic_ns=clock, abi=abi)  # type: ignore[arg-type]
