"""Types of the timeout machine (mypy-checked, never run)."""

from collections.abc import Callable
from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

import sansock
from sansock import ABI
from sansock._convert import parse_blocking, parse_timeout, timeout_seconds
from sansock._socket import SocketType
from sansock._timeout import (
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
    Waiter,
    call,
    call_timed,
    finish_connect,
    mode_of,
    next_step,
    poll_timeout_ms,
    retry,
    send_all,
    sendfile_chunk,
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


def check_tables() -> None:
    assert_type(next_step(State.TIMEOUT_CALL, Event.SYSCALL_EAGAIN), tuple[Action, State])
    assert_type(next_step(State.TIMEOUT_CALL, Event.SYSCALL_EAGAIN, SENDFILE_TABLE), tuple[Action, State])
    action, state = CALL_TABLE[State.TIMEOUT_WAIT, Event.POLL_READY]
    assert_type(action, Action)
    assert_type(state, State)
    assert_type(ENTRY[Mode.TIMEOUT], tuple[Action, State])
    connect_action, wait = CONNECT_TABLE[Mode.TIMEOUT, ConnectEvent.EINPROGRESS]
    assert_type(connect_action, ConnectAction)
    assert_type(wait, State)
    next_step(Mode.TIMEOUT, Event.POLL_READY)  # type: ignore[arg-type]


def check_driving(
    sock: sansock.socket,
    recv: Callable[[int, int, int], bytes],
    recvfrom: Callable[[int, int, int], tuple[bytes, bytes]],
    attempt: Callable[[int], int | None],
) -> None:
    waiter: Waiter = sock  # a socket is what the machine waits on
    assert_type(call(sock, False, recv, 10, 0), bytes)
    assert_type(call_timed(sock, False, recvfrom, (10, 0)), tuple[bytes, bytes])
    err = OSError(11, "Resource temporarily unavailable")
    assert_type(retry(waiter, err, False, recv, (10, 0)), bytes)
    retry(waiter, err, False, recv)  # type: ignore[call-arg]
    assert_type(finish_connect(sock, err, ex=True), int)
    finish_connect(err, ex=True)  # type: ignore[call-arg,arg-type]
    assert_type(send_all(sock, sock._drv.send, memoryview(b"x"), 0), None)
    send_all(sock, sock._drv.send, b"x", 0)  # type: ignore[arg-type]
    assert_type(sendfile_chunk(sock, 3, 1.5, attempt), int | None)
    assert_type(SocketType._call, Callable[..., object])  # type: ignore[assert-type]
    call(object(), False, recv, 10, 0)  # type: ignore[arg-type]
