"""Messages and batches of the native driver: ``sendmsg``/``recvmsg``/
``recvmsg_into`` (one C helper each builds the ``struct msghdr``) and the
optional ``MmsgDriver`` capability (``recvmmsg``/``sendmmsg``).

A base class of :class:`sansock_native.NativeDriver`; the memory rules are
in :mod:`sansock_native._native`'s docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import TYPE_CHECKING

from ._abi import host_abi
from ._lib import CHAR_ARRAY, CharP, ffi, unpack_bytes, writable_buffer
from ._scratch import (
    _MMSG_MAX,
    _NULL,
    _SCRATCH_DATA,
    _SOCKADDR_STORAGE,
    _alloc_raw,
    _control_bytes,
    _export_all,
    _fbw,
    _index,
    _iov_of,
    _recvmmsg,
    _recvmsg,
    _recvmsg1,
    _recvmsg4,
    _release,
    _release_all,
    _sendmmsg,
    _sendmsg,
    _sendmsg1,
    _strerror,
    _give_scratch,
    _Scratch,
    _pop_scratch,
    _take_scratch,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["MessageCalls"]

#: MSG_TRUNC on this host (recvmsg zeroes its scratch for it, as recv does).
_MSG_TRUNC = host_abi().constants["MSG_TRUNC"]


class MessageCalls:
    """The message and batch calls of :class:`sansock_native.NativeDriver`."""

    __slots__ = ()

    def sendmsg(
        self,
        fd: int,
        buffers: Sequence[ReadableBuffer],
        control: bytes,
        flags: int,
        addr: bytes | None,
    ) -> int:
        if addr is None and len(buffers) == 1:
            # The common case (fds, credentials): one bytes buffer, no address.
            data = buffers[0]
            if type(data) is bytes:
                n = _sendmsg1(fd, data, len(data), control or _NULL, len(control), _NULL, 0, flags)
                if n < 0:
                    raise OSError(-n, _strerror(-n))
                return n
        controllen = len(control)
        ctrl: CharP = control if controllen else _NULL
        if addr is None:
            name: CharP = _NULL
            namelen = 0
        else:
            name = addr
            namelen = len(addr)
        if len(buffers) == 1:
            data = buffers[0]
            if type(data) is bytes:
                n = _sendmsg1(fd, data, len(data), ctrl, controllen, name, namelen, flags)
            else:
                p = ffi.from_buffer(data)
                try:
                    n = _sendmsg1(fd, p, len(p), ctrl, controllen, name, namelen, flags)
                finally:
                    ffi.release(p)
        else:
            # keep: every buffer stays alive until sendmsg returns.
            keep = _export_all(ffi.from_buffer, buffers)
            s = _take_scratch()
            try:
                bases, lens, count = _iov_of(s, keep)
                n = _sendmsg(fd, bases, lens, count, ctrl, controllen, name, namelen, flags)
            finally:
                _give_scratch(s)
                _release_all(keep)
        if n < 0:
            raise OSError(-n, _strerror(-n))
        return n

    def recvmsg(
        self, fd: int, bufsize: int, ancbufsize: int, flags: int
    ) -> tuple[bytes, bytes, int, bytes]:
        try:  # _take_scratch() without its frame (a hot path)
            s = _pop_scratch()
        except IndexError:
            s = _Scratch()
        try:
            truncating = type(flags) is int and flags != 0 and flags & _MSG_TRUNC
            if truncating:
                # TCP's MSG_TRUNC discards without copying: zeros, not this
                # thread's last receive (as recv and recvfrom).
                s.data_view[:] = bytes(_SCRATCH_DATA)
            if (
                type(bufsize) is int
                and type(ancbufsize) is int
                and bufsize <= _SCRATCH_DATA
                and 0 < ancbufsize <= s.control_size
            ):
                # The common case (fds, credentials): every buffer is the scratch.
                n = _recvmsg1(fd, s.data, _SCRATCH_DATA, bufsize, s.control, s.control_size, ancbufsize,
                              s.addr, flags, s.out)
                if n < 0:
                    raise OSError(-n, _strerror(-n))
                msg_flags, controllen, namelen = s.out_values
                return (
                    s.data_view[: n if n <= bufsize else bufsize],  # MSG_TRUNC may report more
                    s.control_view[:controllen] if controllen else b"",
                    msg_flags,
                    unpack_bytes(s.addr, namelen) if namelen else b"",
                )
            if type(bufsize) is not int:
                bufsize = _index(bufsize)
            if type(ancbufsize) is not int:
                ancbufsize = _index(ancbufsize)
            scratch = bufsize <= _SCRATCH_DATA
            buf = s.data if scratch else (ffi.new if truncating else _alloc_raw)("char[]", bufsize)
            control_size = s.control_size
            if 0 < ancbufsize <= control_size:
                control = s.control
                n = _recvmsg1(fd, buf, _SCRATCH_DATA if scratch else bufsize, bufsize,
                              control, control_size, ancbufsize, s.addr, flags, s.out)
            else:
                if ancbufsize:
                    control, controlcap = s.control_buffer(ancbufsize), ancbufsize
                else:
                    control, controlcap = _NULL, 0
                n = _recvmsg1(fd, buf, _SCRATCH_DATA if scratch else bufsize, bufsize,
                              control, controlcap, ancbufsize, s.addr, flags, s.out)
            if n < 0:
                raise OSError(-n, _strerror(-n))
            # MSG_TRUNC may report more than bufsize: recvmsg keeps what fit
            # (CPython's makeval_recvmsg only ever shrinks the result).
            if n > bufsize:
                n = bufsize
            data: bytes = s.data_view[:n] if scratch else unpack_bytes(buf, n)
            msg_flags, controllen, namelen = s.out_values
            if not controllen:
                ctrl = b""
            elif control is s.control:
                ctrl = s.control_view[:controllen]
            else:
                ctrl = unpack_bytes(control, controllen)
            return data, ctrl, msg_flags, unpack_bytes(s.addr, namelen) if namelen else b""
        finally:
            _give_scratch(s)

    def recvmsg_into(
        self, fd: int, buffers: Sequence[WriteableBuffer], ancbufsize: int, flags: int
    ) -> tuple[int, bytes, int, bytes]:
        try:  # _take_scratch() without its frame (a hot path)
            s = _pop_scratch()
        except IndexError:
            s = _Scratch()
        try:
            if type(ancbufsize) is not int:
                ancbufsize = _index(ancbufsize)
            if ancbufsize:
                control = s.control_buffer(ancbufsize)
                controlcap = s.control_size if control is s.control else ancbufsize
            else:
                control, controlcap = _NULL, 0
            out = s.out
            count = len(buffers)
            if count == 1:
                p = _fbw(CHAR_ARRAY, buffers[0], True)
                try:
                    size = len(p)
                    n = _recvmsg1(fd, p, size, size, control, controlcap, ancbufsize, s.addr, flags, out)
                finally:
                    _release(p)
            elif 2 <= count <= 4:
                # Up to four buffers go to C as arguments; p0..p3 keep them alive.
                # On success dropping them ends the exports (a from_buffer cdata
                # releases its buffer when freed); on any exception each export
                # is released before the frame can join a traceback.
                p0 = p1 = p2 = p3 = _NULL
                try:
                    p0 = _fbw(CHAR_ARRAY, buffers[0], True)
                    p1 = _fbw(CHAR_ARRAY, buffers[1], True)
                    l2 = l3 = 0
                    if count > 2:
                        p2 = _fbw(CHAR_ARRAY, buffers[2], True)
                        l2 = len(p2)
                        if count > 3:
                            p3 = _fbw(CHAR_ARRAY, buffers[3], True)
                            l3 = len(p3)
                    n = _recvmsg4(
                        fd, count, p0, len(p0), p1, len(p1), p2, l2, p3, l3,
                        control, controlcap, ancbufsize, s.addr, flags, out,
                    )
                except BaseException:
                    for p in (p0, p1, p2, p3):
                        if p is not _NULL:
                            _release(p)
                    raise
                del p0, p1, p2, p3
            else:
                # keep: every buffer stays alive until recvmsg returns.
                keep = _export_all(writable_buffer, buffers)
                try:
                    bases, lens, count = _iov_of(s, keep)
                    n = _recvmsg(fd, bases, lens, count, control, controlcap, ancbufsize, s.addr, flags, out)
                finally:
                    _release_all(keep)
            if n < 0:
                raise OSError(-n, _strerror(-n))
            msg_flags, controllen, namelen = s.out_values
            if not controllen and not namelen:
                return n, b"", msg_flags, b""
            return (
                n,
                _control_bytes(s, control, controllen),
                msg_flags,
                unpack_bytes(s.addr, namelen) if namelen else b"",
            )
        finally:
            _give_scratch(s)

    # -- batches (the optional sansock.MmsgDriver capability) ---------------
    def recvmmsg(
        self, fd: int, count: int, bufsize: int, flags: int
    ) -> list[tuple[bytes, int, bytes]]:
        # recvmmsg(2) with MSG_WAITFORONE, in one C call (sansock_recvmmsg):
        # message i lands at i * bufsize of one per-thread buffer.
        s = _take_scratch()
        try:
            if type(count) is not int:
                count = _index(count)
            if type(bufsize) is not int:
                bufsize = _index(bufsize)
            if count > _MMSG_MAX:
                count = _MMSG_MAX
            s.mmsg_arrays()
            size = count * bufsize if count > 0 else 0
            data, view = s.mmsg_buffer(size)
            cap = max(size, 1) if data is not s.mmsg_data else s.mmsg_size
            out = s.mmsg_out
            got = _recvmmsg(fd, data, cap, bufsize, s.mmsg_names, count, flags, out)
            if got < 0:
                raise OSError(-got, _strerror(-got))
            meta = s.mmsg_out_values
            end3 = 3 * got
            names = s.mmsg_names_view
            result: list[tuple[bytes, int, bytes]] = []
            append = result.append
            raw = b""
            for start, length, msg_flags, namelen, name in zip(
                range(0, got * bufsize, bufsize) if bufsize else repeat(0, got),
                meta[0:end3:3],
                meta[1:end3:3],
                meta[2:end3:3],
                range(0, got * _SOCKADDR_STORAGE, _SOCKADDR_STORAGE),
            ):
                if namelen >= 0:  # -1: the previous datagram's sender again
                    raw = names[name : name + namelen] if namelen else b""
                # With MSG_TRUNC the kernel reports the datagram's full length.
                append((view[start : start + (length if length < bufsize else bufsize)], msg_flags, raw))
            return result
        finally:
            _give_scratch(s)

    def sendmmsg(
        self, fd: int, messages: Sequence[tuple[ReadableBuffer, bytes | None]], flags: int
    ) -> int:
        # sendmmsg(2) in one C call: the data and names laid end to end, the
        # lengths in per-thread arrays (sansock_sendmmsg builds the mmsghdrs).
        s = _take_scratch()
        try:
            s.mmsg_arrays()
            batch = messages[:_MMSG_MAX] if len(messages) > _MMSG_MAX else messages
            count = len(batch)
            lens: list[int] = []
            namelens: list[int] = []
            names: list[bytes] = []
            for payload, addr in batch:
                lens.append(len(payload) if type(payload) is bytes else memoryview(payload).nbytes)
                if addr is None:
                    namelens.append(0)
                else:
                    namelens.append(len(addr))
                    names.append(addr)
            data = b"".join(batch_data for batch_data, _ in batch)
            joined = b"".join(names)
            s.mmsg_lens[0:count] = lens
            s.mmsg_namelens[0:count] = namelens
            # The lengths were read before the join: a buffer another thread
            # resized in between is caught by the helper's bound (EFAULT).
            n = _sendmmsg(fd, data, len(data), s.mmsg_lens, joined, len(joined), s.mmsg_namelens, count, flags)
            if n < 0:
                raise OSError(-n, _strerror(-n))
            return n
        finally:
            _give_scratch(s)
