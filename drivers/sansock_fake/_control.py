"""Kernel-side control buffers: reading what ``sendmsg`` passes, writing what ``recvmsg`` fills.

Send side: ``net/core/scm.c`` ``__scm_send`` walks the buffer with
``for_each_cmsghdr`` and rejects a header whose ``cmsg_len`` is below
``sizeof(struct cmsghdr)`` or runs past ``msg_controllen`` (``CMSG_OK``) with
EINVAL; items of another level are skipped; ``SCM_RIGHTS`` goes through
``scm_fp_copy`` (EBADF for a bad fd, EINVAL above ``SCM_MAX_FD``; a payload
shorter than one int carries nothing); ``SCM_CREDENTIALS`` must be exactly
``CMSG_LEN(sizeof(struct ucred))`` long; any other SOL_SOCKET type is EINVAL.

Receive side: ``put_cmsg`` and ``scm_detach_fds`` (``net/core/scm.c``), which
this module reproduces line by line, including the Linux truncation rules
(trimmed ``cmsg_len``, whole fds only, ``MSG_CTRUNC``).  The ``darwin``
personality keeps the untrimmed ``cmsg_len`` of a cut item, as BSD's
``unp_externalize`` does, so the core's RuntimeWarning path is exercised.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import attrs

from sansock.driver import ABI

from ._oserror import raise_errno

__all__ = ["Credentials", "SentControl", "parse_control", "ReceivedControl", "SCM_MAX_FD"]

#: ``include/net/scm.h``: at most 253 fds in one SCM_RIGHTS message.
SCM_MAX_FD = 253


@attrs.frozen
class Credentials:
    """``struct ucred``: the pid/uid/gid a sender's messages carry."""

    pid: int
    uid: int
    gid: int


@attrs.frozen
class SentControl:
    """What ``__scm_send`` extracted from a control buffer."""

    fds: tuple[int, ...] = ()
    credentials: Credentials | None = None
    #: AF_INET/AF_INET6: the items of other levels, ``(level, type, data)``, for
    #: the protocol to read (``_ip_ctl``).
    ip: tuple[tuple[int, int, bytes], ...] = ()


def _endian(abi: ABI) -> str:
    return "<" if abi.byteorder == "little" else ">"


def _len_format(abi: ABI) -> str:
    return {8: "Q", 4: "I"}[abi.cmsg.len_size]


def parse_control(abi: ABI, control: bytes, *, is_unix: bool) -> SentControl:
    """``__scm_send``: the fds and credentials in *control*, or EINVAL/EBADF."""
    einval = abi.errno("EINVAL")
    layout = abi.cmsg
    end = _endian(abi)
    fds: list[int] = []
    credentials: Credentials | None = None
    ip: list[tuple[int, int, bytes]] = []
    offset = 0
    size = len(control)
    # CMSG_FIRSTHDR: NULL when msg_controllen < sizeof(struct cmsghdr).
    while size - offset >= layout.hdr_size:
        (cmsg_len,) = struct.unpack_from(end + _len_format(abi), control, offset)
        (level,) = struct.unpack_from(end + "i", control, offset + layout.level_offset)
        (type_,) = struct.unpack_from(end + "i", control, offset + layout.type_offset)
        # CMSG_OK: hdr_size <= cmsg_len <= bytes left in the buffer.
        if cmsg_len < layout.hdr_size or cmsg_len > size - offset:
            raise_errno(einval)
        data = control[offset + layout.hdr_size : offset + cmsg_len]
        if not is_unix:
            if _check_inet_item(abi, level, type_):
                ip.append((level, type_, data))
        elif level == abi.const("SOL_SOCKET"):
            if type_ == abi.const("SCM_RIGHTS"):
                # scm_fp_copy: num = (cmsg_len - sizeof(cmsghdr)) / sizeof(int).
                count = len(data) // abi.sizeof_int
                if count > 0:
                    if len(fds) + count > SCM_MAX_FD:
                        raise_errno(einval)
                    fds.extend(struct.unpack_from(f"{end}{count}i", data))
            elif type_ == abi.constants.get("SCM_CREDENTIALS"):  # (none on Darwin)
                if cmsg_len != layout.hdr_size + 3 * abi.sizeof_int:
                    raise_errno(einval)
                pid, uid, gid = struct.unpack_from(end + "iII", data)
                credentials = Credentials(pid, uid, gid)
            else:
                raise_errno(einval)
        # CMSG_NXTHDR: advance by CMSG_ALIGN(cmsg_len).
        offset += layout.aligned(cmsg_len)
    return SentControl(tuple(fds), credentials, tuple(ip))


def _check_inet_item(abi: ABI, level: int, type_: int) -> bool:
    """``sock_cmsg_send`` for AF_INET/AF_INET6; True for an item of another level.

    ``__sock_cmsg_send`` ignores SCM_RIGHTS and SCM_CREDENTIALS ("semantically
    in SOL_UNIX") and rejects unknown SOL_SOCKET types with EINVAL; the
    per-packet options it applies are not modelled.  The IP-level items are
    the protocol's: UDP reads them (``_ip_ctl``), TCP ignores them
    (``tcp_sendmsg_locked`` calls only ``sock_cmsg_send``).
    """
    if level == abi.const("SOL_SOCKET"):
        known = abi.constants  # (Darwin has no SCM_CREDENTIALS, SO_MARK, SO_PRIORITY)
        if type_ in (known["SCM_RIGHTS"], known.get("SCM_CREDENTIALS")):
            return False
        if type_ in (known.get("SO_MARK"), known.get("SO_PRIORITY"), 37, 61):
            raise NotImplementedError(
                "the fake kernel does not model per-packet SOL_SOCKET options (SO_MARK, "
                "SO_PRIORITY, SO_TIMESTAMPING, SCM_TXTIME) in sendmsg control data"
            )
        raise_errno(abi.errno("EINVAL"))
    return True


@attrs.define(eq=False)
class ReceivedControl:
    """A control buffer being filled by ``recvmsg`` (``put_cmsg``/``scm_detach_fds``).

    ``capacity`` is the caller's ``msg_controllen``; 0 means ``msg_control`` is
    NULL.  ``keep_untrimmed_len`` selects the darwin personality.
    """

    abi: ABI
    capacity: int
    keep_untrimmed_len: bool = False
    buffer: bytearray = attrs.field(factory=bytearray)
    truncated: bool = False

    @property
    def remaining(self) -> int:
        return self.capacity - len(self.buffer)

    def _header(self, cmsg_len: int, level: int, type_: int) -> bytes:
        layout = self.abi.cmsg
        end = _endian(self.abi)
        header = bytearray(layout.hdr_size)
        struct.pack_into(end + _len_format(self.abi), header, 0, cmsg_len)
        struct.pack_into(end + "i", header, layout.level_offset, level)
        struct.pack_into(end + "i", header, layout.type_offset, type_)
        return bytes(header)

    def put_cmsg(self, level: int, type_: int, data: bytes) -> None:
        """``put_cmsg``: append one item, cut (and flagged MSG_CTRUNC) if it does not fit."""
        layout = self.abi.cmsg
        if self.capacity == 0 or self.remaining < layout.hdr_size:
            self.truncated = True
            return
        full_len = layout.hdr_size + len(data)
        cmsg_len = full_len
        if self.remaining < full_len:
            self.truncated = True
            cmsg_len = self.remaining
        stored_len = full_len if self.keep_untrimmed_len else cmsg_len
        item = self._header(stored_len, level, type_) + data[: cmsg_len - layout.hdr_size]
        advance = min(layout.hdr_size + layout.aligned(len(data)), self.remaining)
        self.buffer += item + b"\0" * (advance - len(item))

    def detach_fds(self, files: Sequence[object], install: Callable[[object], int]) -> None:
        """``scm_detach_fds``: install as many whole fds as fit; the caller closes the rest.

        *install* returns the new fd or raises ``OSError`` (EMFILE...), which
        stops the loop as ``receive_fd_user`` failing does.
        """
        layout = self.abi.cmsg
        int_size = self.abi.sizeof_int
        if self.capacity == 0:
            # scm_recv: msg_control NULL with fds in flight -> MSG_CTRUNC.
            self.truncated = True
            return
        # scm_max_fds: (msg_controllen - sizeof(cmsghdr)) / sizeof(int), 0 if too small.
        room = self.remaining - layout.hdr_size
        fdmax = min(room // int_size if room > 0 else 0, len(files))
        installed: list[int] = []
        for file in files[:fdmax]:
            try:
                installed.append(install(file))
            except OSError:
                break
        count = len(installed)
        if count > 0:
            data = struct.pack(f"{_endian(self.abi)}{count}i", *installed)
            cmsg_len = layout.hdr_size + len(data)
            if self.keep_untrimmed_len:
                cmsg_len = layout.hdr_size + len(files) * int_size
            item = self._header(cmsg_len, self.abi.const("SOL_SOCKET"), self.abi.const("SCM_RIGHTS"))
            item += data
            advance = min(layout.hdr_size + layout.aligned(len(data)), self.remaining)
            self.buffer += item + b"\0" * (advance - len(item))
        if count < len(files) or (len(files) > 0 and fdmax <= 0):
            self.truncated = True
