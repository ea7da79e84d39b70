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
    assert_type(anc.encode(creds, abi), tuple[int, int, bytes])
    assert_type(anc.decode_item((1, 2, b""), abi), object)
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
    anc.recvmsg_ex(sock, 10, policy="loud")  # type: ignore[arg-type]
    anc.set_truncation_policy(sock, "raise")
    assert_type(anc.truncation_policy(sock), anc.TruncationPolicy)
    anc.recvmsg_ex(sock, 10, 64, 0, "raise")  # type: ignore[call-arg]


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
