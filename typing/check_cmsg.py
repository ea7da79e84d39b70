"""Types of the ancillary-data codecs and message-argument parsers (mypy-checked, never run)."""

from typing_extensions import assert_type  # typing's is 3.11+; mypy runs for 3.10 too

from sansock import ABI
from sansock._cmsg import TRUNCATION_WARNING, Ancdata, cmsg_len, cmsg_space, pack_ancdata, scm_rights_fds, unpack_ancdata
from sansock._convert import (
    RecvmsgArgs,
    RecvmsgIntoArgs,
    check_ancbufsize,
    arg_int,
    recvmsg_args,
    recvmsg_into_args,
    recvmsg_into_buffers,
    sendmsg_buffers,
)


def check_cmsg(abi: ABI, control: bytes) -> None:
    assert_type(cmsg_len(4, abi), int)
    assert_type(cmsg_space("anything: checked at run time", abi), int)
    assert_type(pack_ancdata([(1, 1, b"x")], abi), bytes)
    result = unpack_ancdata(control, 0, abi)
    assert_type(result, Ancdata)
    assert_type(result.items, list[tuple[int, int, bytes]])
    assert_type(result.truncated, bool)
    assert_type(result.fds, list[int])
    assert_type(scm_rights_fds(control, abi), list[int])
    assert_type(TRUNCATION_WARNING, str)
    items, truncated, fds, ctrunc = result
    assert_type(ctrunc, bool)
    result.truncated = True  # type: ignore[misc]
    unpack_ancdata("text", 0, abi)  # type: ignore[arg-type]
    cmsg_len(4)  # type: ignore[call-arg]


def check_msgargs(abi: ABI) -> None:
    assert_type(arg_int(object()), int)
    assert_type(sendmsg_buffers([b"x"]), list[memoryview])
    assert_type(recvmsg_into_buffers([bytearray(1)]), list[memoryview])
    args = recvmsg_args(10, 0, 0, abi)
    assert_type(args, RecvmsgArgs)
    assert_type(args.ancbufsize, int)
    assert_type(recvmsg_into_args([bytearray(1)]), RecvmsgIntoArgs)
    assert_type(check_ancbufsize(args.ancbufsize, abi), int)
    check_ancbufsize("1", abi)  # type: ignore[arg-type]
