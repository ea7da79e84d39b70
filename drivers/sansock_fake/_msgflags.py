"""The send and receive flags whose meaning the fake does not otherwise model.

``MSG_OOB``, ``MSG_ERRQUEUE``, ``MSG_FASTOPEN`` and ``MSG_CMSG_COMPAT`` are
mostly refused by Linux in the situations a program meets (every bit set,
``flags=-1``, included), and those refusals the fake gives as Linux does,
each checked against the real kernel by
``tests/test_defects_session4.py::test_every_flag_bit_on_send_and_receive_calls_as_on_linux``:

* ``sendmsg``/``recvmsg`` (and their ``_into`` form) with ``MSG_CMSG_COMPAT``
  (bit 31, set by ``-1``): ``EINVAL`` (``__sys_sendmsg``/``__sys_recvmsg``
  forbid it from 64-bit callers); ``send``/``recv`` go through
  ``__sys_sendto``/``__sys_recvfrom``, which do not look.
* TCP, UDP(-Lite) receive with ``MSG_ERRQUEUE``: ``EAGAIN`` at once, blocking
  or not (``inet_recv_error``/``ipv6_recv_error``: the error queue is empty --
  the fake queues no errors: no timestamping, and with ``IP_RECVERR`` or
  ``IPV6_RECVERR`` on, where Linux queues ICMP errors, ``NotImplementedError``);
  AF_UNIX ignores the bit.
* TCP receive with ``MSG_OOB``: ``EINVAL`` (``tcp_recv_urg``: no urgent data;
  the fake sends none), ``ENOTCONN`` on a listener.
* TCP send with ``MSG_FASTOPEN`` on a connected or listening socket:
  ``EISCONN`` (``tcp_sendmsg_fastopen`` -> ``__inet_stream_connect``); on an
  unconnected one without an address: ``EINVAL``.
* TCP send with ``MSG_OOB`` on a socket that cannot send (unconnected, shut
  down for writing, reset): what the same send without it gives (``EPIPE``,
  ``ECONNRESET``), as ``tcp_sendmsg_locked`` checks those first; on one
  still connecting, a blocking send waits for the handshake and then says
  ``NotImplementedError``
  (``test_msg_oob_on_a_tcp_socket_still_connecting_is_not_sent_as_plain_data``).
* UDP send with ``MSG_OOB``: ``EOPNOTSUPP`` (``udp_sendmsg``); UDP over IPv6
  ignores it (``udpv6_sendmsg``) but for an IPv4 or v4-mapped destination,
  which goes to ``udp_sendmsg``; UDP receive ignores it.
* AF_UNIX datagram and seqpacket sockets, either way: ``EOPNOTSUPP``
  (``unix_dgram_sendmsg``, ``unix_dgram_recvmsg``).  On every AF_UNIX send
  the control data is read first (``scm_send``: a malformed header is
  EINVAL, a bad fd EBADF), after seqpacket's ENOTCONN
  (``tests/test_defects_session5.py::test_af_unix_reads_control_data_before_it_refuses_msg_oob``).
* AF_UNIX stream receive with ``MSG_OOB``: ``EINVAL`` (``unix_stream_recv_urg``:
  no out-of-band byte waits; the fake never sends one), sending one with no
  data: ``EOPNOTSUPP``.

What would work on Linux and is not modelled raises ``NotImplementedError``
with a sentence: sending TCP urgent data or an AF_UNIX out-of-band byte, a
TCP Fast Open connect, another protocol's use of these flags, and every
personality but Linux's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._kernel import FakeKernel
    from ._objects import FakeSocket

__all__ = ["check_send_flags", "check_sendmsg_compat", "check_recv_flags"]

#: include/linux/socket.h: MSG_CMSG_COMPAT (bit 31 on 64-bit kernels).
MSG_CMSG_COMPAT = 0x80000000

_OOB = "the fake kernel does not model out-of-band data (MSG_OOB)"
_INET_DATAGRAM = ("udp", "udp6", "udplite", "udplite6")


def _linux(kernel: FakeKernel) -> bool:
    return kernel.personality == "linux"


def _recverr(kernel: FakeKernel, sock: FakeSocket) -> bool:
    """Whether ``IP_RECVERR``/``IPV6_RECVERR`` is on (stored by ``_sockopt``, not modelled)."""
    c = kernel.abi.constants.get
    keys = ((c("IPPROTO_IP", -1), c("IP_RECVERR", -1)), (c("IPPROTO_IPV6", -1), c("IPV6_RECVERR", -1)))
    return any(sock.options.get(key) for key in keys)


#: The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
_V4_MAPPED = bytes(10) + b"\xff\xff"


def _over_ipv4(sock: FakeSocket, addr: bytes | None) -> bool:
    """Whether a UDP send goes through ``udp_sendmsg`` (which refuses MSG_OOB).

    ``udpv6_sendmsg`` does not look at MSG_OOB; it hands a datagram for an
    IPv4 or v4-mapped destination to ``udp_sendmsg``.
    """
    if sock.ops.name in ("udp", "udplite"):
        return True
    if addr is not None:
        # sockaddr_in6: sin6_addr at offset 8 (a shorter name is AF_INET's).
        return len(addr) < 24 or addr[8:20] == _V4_MAPPED
    peer = sock.peer_name
    packed = getattr(peer, "packed", b"")
    return len(packed) == 16 and packed[:12] == _V4_MAPPED


def check_sendmsg_compat(kernel: FakeKernel, call: str, flags: int) -> None:
    """``__sys_sendmsg``: MSG_CMSG_COMPAT from a 64-bit caller is EINVAL before anything."""
    if call == "sendmsg" and flags & MSG_CMSG_COMPAT and _linux(kernel):
        kernel._fail("EINVAL")


def check_send_flags(kernel: FakeKernel, sock: FakeSocket, call: str, flags: int, size: int, addr: bytes | None) -> None:
    """Raise what Linux answers (or NotImplementedError) for the flags above; return for the others."""
    c = kernel.abi.constants.get
    oob = flags & c("MSG_OOB", 0)
    if not _linux(kernel):
        if oob:
            raise NotImplementedError(_OOB)
        return
    check_sendmsg_compat(kernel, call, flags)
    name = sock.ops.name
    if name in ("tcp", "tcp6"):
        if flags & c("MSG_FASTOPEN", 0):
            if sock.state in ("connected", "listening"):
                kernel._fail("EISCONN")
            if sock.state == "connecting":
                kernel._fail("EALREADY")
            if sock.state == "unconnected" and addr is None:
                kernel._fail("EINVAL")  # tcp_v4_connect of no address: addr_len 0
            # A Fast Open connect (an address given), or a connection that ended
            # (Linux: EISCONN after a reset, EINVAL after a refused connect).
            raise NotImplementedError("the fake kernel does not model TCP Fast Open (MSG_FASTOPEN)")
        # tcp_sendmsg_locked: a pending error, SEND_SHUTDOWN or no connection
        # (EPIPE, ECONNRESET...) fails before MSG_OOB matters; those the
        # protocol answers.  Only a send that would go out is urgent data.
        if oob and sock.state == "connected" and not sock.error and not sock.shutdown & 2:  # SEND_SHUTDOWN
            raise NotImplementedError(_OOB + ": TCP urgent data")
    elif name in _INET_DATAGRAM:
        if oob and size <= 0xFFFF and _over_ipv4(sock, addr):  # udp_sendmsg: EMSGSIZE first
            kernel._fail("EOPNOTSUPP")
    elif name in ("unix dgram", "unix seqpacket"):
        if oob and (name == "unix dgram" or sock.state == "connected"):  # seqpacket: ENOTCONN first
            kernel._fail("EOPNOTSUPP")
    elif name == "unix stream":
        if oob:
            if not size:
                kernel._fail("EOPNOTSUPP")
            # unix_stream_sendmsg: an address, no peer or a shut-down side fail
            # after the OOB byte is set aside; those the protocol answers.
            if addr is None and sock.state == "connected" and not sock.shutdown & 2:  # SEND_SHUTDOWN
                raise NotImplementedError(_OOB + ": an AF_UNIX out-of-band byte")
    elif oob:
        raise NotImplementedError(_OOB)


def check_recv_flags(kernel: FakeKernel, sock: FakeSocket, call: str, flags: int) -> None:
    """Raise what Linux answers (or NotImplementedError) for the flags above; return for the others."""
    c = kernel.abi.constants.get
    oob = flags & c("MSG_OOB", 0)
    errqueue = flags & c("MSG_ERRQUEUE", 0)
    if not _linux(kernel):
        if oob:
            raise NotImplementedError(_OOB)
        if errqueue:
            raise NotImplementedError("the fake kernel does not model socket error queues (MSG_ERRQUEUE)")
        return
    if call in ("recvmsg", "recvmsg_into") and flags & MSG_CMSG_COMPAT:
        kernel._fail("EINVAL")
    name = sock.ops.name
    if name in ("tcp", "tcp6", *_INET_DATAGRAM):
        if errqueue:
            if _recverr(kernel, sock):
                # Linux would queue ICMP errors there: a wrong EAGAIN is worse than saying so.
                raise NotImplementedError("the fake kernel does not model socket error queues (IP_RECVERR)")
            kernel._fail("EAGAIN")  # ip_recv_error: nothing queued, never waits
        if oob and name in ("tcp", "tcp6"):
            kernel._fail("ENOTCONN" if sock.state == "listening" else "EINVAL")
    elif name in ("unix dgram", "unix seqpacket"):
        if oob and (name == "unix dgram" or sock.state == "connected"):  # seqpacket: ENOTCONN first
            kernel._fail("EOPNOTSUPP")
    elif name == "unix stream":
        if oob:  # (unix_stream_read_generic: EINVAL too when not connected)
            kernel._fail("EINVAL")
    elif oob:
        raise NotImplementedError(_OOB)
    elif errqueue:
        raise NotImplementedError("the fake kernel does not model socket error queues (MSG_ERRQUEUE)")
