"""Types of sansock.ancillary (mypy-checked, never run)."""

from typing import Any

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

from sansock import ABI, Binding, socket
from sansock import ancillary as anc


def check_values(abi: ABI) -> None:
    creds = anc.Credentials.decode(b"", abi)
    assert_type(creds, anc.Credentials)
    assert_type(creds.pid, int)
    assert_type(anc.Fds.decode(b"", abi).fds, tuple[int, ...])
    assert_type(anc.TimestampNs(1, 2).ns, int)
    assert_type(anc.ExtendedError.decode_ipv4(b"", abi).offender, Any)
    # The single-int messages share one mechanism (issue 14) and keep their types.
    assert_type(anc.TimeToLive.decode(b"", abi), anc.TimeToLive)
    assert_type(anc.HopLimit.decode(b"", abi).value, int)
    assert_type(anc.GroSegmentSize.decode(b"", abi).size, int)
    assert_type(anc.TrafficClass(3).encode(abi), tuple[int, int, bytes])
    anc.TimeToLive("3")  # type: ignore[arg-type]
    assert_type(anc.encode(creds, abi), tuple[int, int, bytes])
    assert_type(anc.decode_item((1, 2, b""), abi), anc.ControlMessage)
    assert_type(anc.decode_item((1, 2, b""), abi, anc.DEFAULT_REGISTRY.copy()), object)
    creds.pid = 3  # type: ignore[misc]
    anc.Credentials(1, 2)  # type: ignore[call-arg]
    anc.Fds([1, 2])  # type: ignore[arg-type]


def check_registry(abi: ABI) -> None:
    registry = anc.DEFAULT_REGISTRY.copy()
    registry.register("SOL_SOCKET", 99, lambda data, abi: data)
    assert_type(registry.decoder_for(1, 2, abi), anc.Decoder | None)
    registry.register(1.5, 2, lambda data, abi: data)  # type: ignore[arg-type]
    registry.register(1, 2, lambda data: data)  # type: ignore[arg-type, misc]


def check_receive(sock: socket, net: Binding, abi: ABI) -> None:
    got = anc.recvmsg_ex(sock, 10, 64)
    assert_type(got, anc.Received[bytes])
    assert_type(got.data, bytes)
    assert_type(got.fds, tuple[int, ...])
    assert_type(got.get(anc.Credentials), anc.Credentials | None)
    assert_type(got.get_all(anc.Fds), list[anc.Fds])
    assert_type(got.truncation.fds_lost, int | None)
    assert_type(got.truncation.cut_item, anc.CutItem | None)
    into = anc.recvmsg_into_ex(sock, [bytearray(4)])
    assert_type(into.data, int)
    owned = anc.recvmsg_owned(sock, 10, 64, cloexec=True)
    assert_type(owned.fds, tuple[anc.OwnedFd, ...])
    with owned.fds[0] as fd:
        assert_type(fd.detach(), int)
    anc.recvmsg_ex(sock, 10, policy="loud")  # type: ignore[call-overload]
    anc.set_truncation_policy(sock, "raise")
    assert_type(anc.truncation_policy(sock), anc.TruncationPolicy)
    anc.recvmsg_ex(sock, 10, 64, 0, "raise")  # type: ignore[call-overload]


def check_sizing(sock: socket, net: Binding, abi: ABI) -> None:
    assert_type(anc.ancillary_space(abi, fds=3, credentials=True, timestamp_ns=True), int)
    assert_type(anc.ancillary_space(net, pktinfo=True), int)
    assert_type(anc.ancillary_space(sock, extra=[4]), int)
    assert_type(anc.ancillary_space_for(sock, fds=1, errqueue=True), int)
    anc.ancillary_space(abi, 3)  # type: ignore[call-arg]
    anc.ancillary_space("linux")  # type: ignore[arg-type]


def check_sendall_progress(exc: BaseException) -> None:
    assert_type(anc.bytes_sent(exc), int | None)
    try:
        pass
    except anc.ControlTruncatedError as err:
        assert_type(err.truncation, anc.Truncation)


def check_received_messages_are_precise(sock: socket) -> None:
    got = anc.recvmsg_ex(sock, 10, 64)
    assert_type(got, anc.Received[bytes, anc.ControlMessage])
    for message in got.ancdata:
        if isinstance(message, anc.Fds):
            assert_type(message.fds, tuple[int, ...])
        elif isinstance(message, tuple):
            assert_type(message, tuple[int, int, bytes])
        elif isinstance(message, anc.Credentials):
            assert_type(message.uid, int)
    # A registry of yours may decode to anything: its messages are object.
    mine = anc.DEFAULT_REGISTRY.copy()
    custom = anc.recvmsg_ex(sock, 10, 64, registry=mine)
    assert_type(custom.ancdata, tuple[object, ...])
    assert_type(anc.recvmsg_into_ex(sock, [bytearray(4)], 64).ancdata, tuple[anc.ControlMessage, ...])
    assert_type(anc.recvmsg_owned(sock, 10, 64).ancdata, tuple[anc.ControlMessage, ...])
    assert_type(anc.recvmsg_owned(sock, 10, 64, registry=mine).ancdata, tuple[object, ...])
    # The stdlib-shaped recvmsg: typeshed's types.
    data, ancdata, flags, address = sock.recvmsg(10, 64)
    assert_type(ancdata, list[tuple[int, int, bytes]])
