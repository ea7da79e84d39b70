"""The protocol-independent halves of ``sendmsg``/``recvmsg``: ``____sys_sendmsg``
and ``____sys_recvmsg`` (net/socket.c), the iovec, the control data and the
flags every protocol sees alike, around the protocol's own
``sendmsg``/``recvmsg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._control import ReceivedControl, parse_control
from ._msgflags import check_recv_flags, check_send_flags, check_sendmsg_compat
from ._objects import File, RealFile, shared_credentials
from ._realfiles import carried_files, release_unsent
from ._syscall import c_buffer

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from ._kernel import FakeKernel

__all__ = ["sys_sendmsg", "sys_recvmsg", "SENDMSG_CTL_STACK"]

#: ____sys_sendmsg's on-stack control buffer: sizeof(struct cmsghdr) + 20.
SENDMSG_CTL_STACK = 36


def sys_sendmsg(
    kernel: FakeKernel,
    fd: int,
    call: str,
    buffers: Sequence[ReadableBuffer],
    control: bytes,
    flags: int,
    addr: bytes | None,
) -> int:
    """``____sys_sendmsg``: the iovec and the control data, then the protocol's ``sendmsg``."""
    slot = kernel._fds.get(fd) or kernel._sock_slot(fd)
    file = slot.file
    sock = file.sock
    abi = kernel._abi
    count = len(buffers)
    if count > abi.iov_max:
        kernel._fail("EMSGSIZE")
    # ____sys_sendmsg: a control buffer larger than the on-stack one is
    # sock_kmalloc'ed, which refuses size >= optmem_max (the socket's
    # sk_omem_alloc is 0 between calls): ENOBUFS before anything is parsed.
    control_len = len(control)
    if control_len > SENDMSG_CTL_STACK and control_len >= kernel.optmem_max:
        kernel._fail("ENOBUFS")
    if count == 1 and type(data := buffers[0]) is bytes:
        pass  # what bytes(c_buffer(...)) would copy
    else:
        data = b"".join(bytes(c_buffer(b)) for b in buffers)
    nonblocking = file.nonblocking
    ops = sock.ops
    no_control = not control_len and type(control) is bytes
    unix = False if no_control else ops.unix  # (a class attribute: looked up only when needed)
    scm_first = unix and control_len > 0
    if flags:  # (no flag is set in 0: the tests below change nothing then)
        if scm_first:
            # AF_UNIX: scm_send comes before the protocol looks at MSG_OOB
            # (unix_stream_sendmsg, unix_dgram_sendmsg); only __sys_sendmsg's
            # MSG_CMSG_COMPAT refusal comes first.
            check_sendmsg_compat(kernel, call, flags)
        else:
            check_send_flags(kernel, sock, call, flags, len(data), addr)  # MSG_OOB, MSG_FASTOPEN...
        nonblocking = nonblocking or bool(flags & kernel._c("MSG_DONTWAIT"))
    credentials = shared_credentials(kernel.pid, kernel.uid, kernel.gid)  # (kernel._process_credentials)
    files: list[File]
    if no_control:
        files = []  # __scm_send of no control data: nothing to parse
    elif not unix:
        # AF_INET/AF_INET6: the protocol reads the control data where Linux
        # does (udp_sendmsg after the destination, tcp_sendmsg_locked after the
        # connection state), with parse_control; it reads and clears it.
        files = []
        sock.send_control = bytes(control)
    else:
        ops.before_scm_send(sock)  # unix_seqpacket_sendmsg's ENOTCONN
        sent = parse_control(abi, bytes(control), is_unix=True)
        # scm_fp_copy: a fake fd's open file, or a real file (_realfiles).
        files = carried_files(kernel, sent.fds) if sent.fds else []
        if sent.credentials is not None:
            if sent.credentials != credentials:
                release_unsent(files)
                kernel._fail("EPERM")  # scm_check_creds: not our pid/uid/gid.
            credentials = sent.credentials
        if flags and scm_first:
            check_send_flags(kernel, sock, call, flags, len(data), addr)  # MSG_OOB after scm_send
    cap = kernel.faults.cap_for(call, fd) if kernel.faults.rules else None
    sock.send_flags = flags  # MSG_MORE, read by TCP
    if not files or not any(type(file) is RealFile for file in files):
        return ops.sendmsg(fd, sock, data, files, credentials, nonblocking, addr, cap)
    try:
        return ops.sendmsg(fd, sock, data, files, credentials, nonblocking, addr, cap)
    finally:
        release_unsent(files)  # dups no message took (the send failed)


def sys_recvmsg(
    kernel: FakeKernel, fd: int, call: str, size: int, ancbufsize: int, flags: int
) -> tuple[bytes, bytes, int, bytes, int]:
    """``____sys_recvmsg``: the protocol's ``recvmsg``, then the control buffer.

    Every receive call: ``(data, control, msg_flags, address, return value)``.
    """
    slot = kernel._fds.get(fd) or kernel._sock_slot(fd)
    file = slot.file
    sock = file.sock
    if size < 0:
        kernel._fail("EINVAL")
    nonblocking = file.nonblocking
    if flags:  # (no flag is set in 0: the tests below change nothing then)
        check_recv_flags(kernel, sock, call, flags)  # MSG_OOB, MSG_ERRQUEUE...
    if kernel.faults.rules:
        cap = kernel.faults.cap_for(call, fd)
        if cap is not None:
            size = min(size, cap)
    if flags:
        nonblocking = nonblocking or bool(flags & kernel._c("MSG_DONTWAIT"))
    ops = sock.ops
    data, creds, files, addr, length, msg_flags = ops.recvmsg(fd, call, sock, size, flags, nonblocking)
    if (not files and not sock.options) or not ops.scm_pending(sock, creds, files):
        # scm_recv with nothing to put: the control buffer stays empty, untruncated.
        if flags:  # (Darwin has no MSG_CMSG_CLOEXEC: no bit.)
            msg_flags |= flags & kernel.abi.constants.get("MSG_CMSG_CLOEXEC", 0)
        return data, b"", msg_flags, addr, length
    control = ReceivedControl(kernel.abi, ancbufsize, keep_untrimmed_len=kernel.personality == "darwin")
    ops.scm_recv(sock, control, creds, files, flags)
    if control.truncated:
        msg_flags |= kernel._c("MSG_CTRUNC")
    # ____sys_recvmsg: msg_flags starts as flags & (MSG_CMSG_CLOEXEC|MSG_CMSG_COMPAT).
    # (Darwin has no MSG_CMSG_CLOEXEC: no bit.)
    msg_flags |= flags & kernel.abi.constants.get("MSG_CMSG_CLOEXEC", 0)
    return data, bytes(control.buffer), msg_flags, addr, length
