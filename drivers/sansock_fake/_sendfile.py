"""``sendfile(2)`` from a real file to a fake socket (fs/read_write.c ``do_sendfile``,
fs/splice.c ``splice_direct_to_actor``).

Files are real -- the user opens them -- and only sockets are fake, so an
*in_fd* that is not in the fake's fd table is a real fd, read with
``os.pread`` (an offset pointer: the file position does not move).  What
it reads goes out through the fake's own send path (the protocol's ``sendmsg``
with no flags), so blocking and virtual time, EAGAIN on a non-blocking socket,
EPIPE and SIGPIPE, shutdown, the fault script's caps and the send rules of
each protocol are those of ``send``.

The checks, in ``do_sendfile``'s order (the driver always passes an offset
pointer, as CPython's ``os.sendfile(out, in, offset, count)`` does):

* *in_fd* closed: EBADF; not open for reading (``FMODE_READ``): EBADF;
* *in_fd* without positional reads (``FMODE_PREAD``: a pipe, a socket --
  a fake one too): ESPIPE; a negative offset (``rw_verify_area``): EINVAL;
* ``count`` capped at ``MAX_RW_COUNT``;
* *out_fd* not a fake socket: EBADF (the fake writes to no real fd);
* a regular file's offset at or past its file system's largest file:
  EOVERFLOW (:func:`_past_largest_file`);
* *in_fd* without a ``splice_read`` (``do_splice_read``): EINVAL -- a
  directory, ``/dev/null``; of the character devices the fake knows the
  memory devices (``/dev/zero``, ``/dev/urandom``... are read), any other is
  ``NotImplementedError``;
* then ``count`` bytes at ``offset``, fewer at the end of the file, 0 past it
  or for ``count`` 0.

As ``splice_direct_to_actor`` does, it moves a pipe's worth (64 KiB) at a
time until ``count`` is sent: a blocking socket takes all of it, as a
blocking ``send`` does; a non-blocking one what fits.  An error after some
bytes went out returns those bytes; before, it is the call's error.
"""

from __future__ import annotations

import errno
import fcntl
import operator
import os
import stat
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["real_file_size", "sys_sendfile"]

PIPE_BYTES = 16 * 4096  # PIPE_DEF_BUFFERS pages: what one turn of the splice moves
#: include/linux/fs.h MAX_RW_COUNT (INT_MAX & PAGE_MASK): do_sendfile's cap on count.
MAX_RW_COUNT = 0x7FFFF000
#: include/linux/fs.h MAX_NON_LFS: the smallest ``s_maxbytes`` the fake expects of a
#: file system; only an offset above it is checked against the real one.
MAX_NON_LFS = (1 << 31) - 1
#: include/linux/socket.h MSG_SPLICE_PAGES (kernel-internal): what
#: ``splice_to_socket`` passes to the protocol's sendmsg (``sock.send_flags``).
MSG_SPLICE_PAGES = 0x8000000
#: drivers/char/mem.c: the memory devices (major 1) whose file operations have a
#: ``splice_read`` (Linux 6.18: zero, full, random, urandom); the others (mem,
#: kmem, null, port, kmsg) have none: EINVAL.
MEM_MAJOR = 1
SPLICE_READABLE_MEM = frozenset({5, 7, 8, 9})


def real_file_size(kernel: FakeKernel, fd: int) -> int:
    """``fstat(fd).st_size`` of a real fd; OSError with the real errno (EBADF when closed)."""
    try:
        return os.fstat(fd).st_size
    except OSError as exc:
        _fail_as_host(kernel, exc)


def sys_sendfile(kernel: FakeKernel, out_fd: int, in_fd: int, offset: int, count: int) -> int:
    """``do_sendfile(out_fd, in_fd, &offset, count)`` with *in_fd* a real fd or a fake one."""
    offset, count = _os_sendfile_number(offset, "long"), _os_sendfile_number(count, "ssize_t")
    if in_fd in kernel._fds:
        kernel._fail("ESPIPE")  # a socket has no FMODE_PREAD
    try:
        mode = os.fstat(in_fd).st_mode
        flags = fcntl.fcntl(in_fd, fcntl.F_GETFL)
    except OSError as exc:
        _fail_as_host(kernel, exc)
    if flags & os.O_ACCMODE == os.O_WRONLY or flags & getattr(os, "O_PATH", 0):
        kernel._fail("EBADF")  # !(f_mode & FMODE_READ)
    if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISDIR(mode) or stat.S_ISCHR(mode)):
        kernel._fail("ESPIPE")  # a pipe, a FIFO, a real socket: no FMODE_PREAD
    if stat.S_ISCHR(mode):
        _check_pread(kernel, in_fd)  # a tty, /dev/ptmx: no FMODE_PREAD either
    if offset < 0 or count < 0 or offset + count >= 1 << 63:
        kernel._fail("EINVAL")  # rw_verify_area: a negative pos, or pos + count overflowing loff_t
    count = min(count, MAX_RW_COUNT)
    slot = kernel._slot(out_fd)  # fdget(out_fd): EBADF
    if stat.S_ISREG(mode) and _past_largest_file(in_fd, offset, count):
        kernel._fail("EOVERFLOW")
    if stat.S_ISCHR(mode):
        _check_splice_read(kernel, os.fstat(in_fd).st_rdev)
    elif not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
        kernel._fail("EINVAL")  # do_splice_read: a directory has no splice_read
    if count == 0:
        return 0
    sock = slot.file.sock
    if kernel.faults.rules:
        # A scripted short write caps the whole call, not one turn of it.
        cap = kernel.faults.cap_for("sendfile", out_fd)
        count = count if cap is None else min(count, cap)
    credentials = kernel._process_credentials
    sent = 0
    while sent < count:
        # splice_direct_to_actor: a pipe's worth (16 pages) read, then sent.
        want = min(count - sent, PIPE_BYTES)
        try:
            data = os.pread(in_fd, want, offset + sent)
        except OSError as exc:
            if sent:
                return sent
            _fail_as_host(kernel, exc)
        if not data:
            break  # at or past the end of the file
        try:
            # splice_to_socket: the pipe's pages, no control data, no address
            # (an AF_UNIX stream takes each turn as one skb: unix_stream_sendmsg).
            sock.send_flags = MSG_SPLICE_PAGES
            n = sock.ops.sendmsg(out_fd, sock, data, [], credentials, slot.file.nonblocking, None, None)
        except OSError:
            if sent:
                return sent  # what was sent before the error (EAGAIN, EPIPE...)
            raise
        finally:
            sock.send_flags = 0
        sent += n
        if n < len(data):
            break  # the socket took what it had room for
    return sent


def _check_pread(kernel: FakeKernel, fd: int) -> None:
    """ESPIPE when *fd* has no ``FMODE_PREAD``: a 0-byte ``pread`` says so and reads nothing."""
    try:
        os.pread(fd, 0, 0)
    except OSError as exc:
        if exc.errno == errno.ESPIPE:
            kernel._fail("ESPIPE")


def _check_splice_read(kernel: FakeKernel, rdev: int) -> None:
    """``do_splice_read`` of a character device: EINVAL without ``splice_read``."""
    if os.major(rdev) != MEM_MAJOR:
        raise NotImplementedError(
            "the fake kernel knows which character devices sendfile can read only among "
            "the memory devices (/dev/zero, /dev/full, /dev/random, /dev/urandom)"
        )
    if os.minor(rdev) not in SPLICE_READABLE_MEM:
        kernel._fail("EINVAL")


def _past_largest_file(fd: int, offset: int, count: int) -> bool:
    """``do_sendfile``'s EOVERFLOW: ``pos + count > max`` with ``pos >= max``, *max*
    being the file system's largest file (``s_maxbytes``: 16 TiB - 4 KiB on ext4
    with 4 KiB blocks, 2**63 - 1 on tmpfs and sockfs).  A ``pos`` below it with
    ``pos + count`` above only shortens ``count``, which the end of the file
    does first (no file is larger than ``s_maxbytes``).

    User space cannot read ``s_maxbytes``, but ``lseek(SEEK_SET)`` past it is
    EINVAL (``generic_file_llseek_size`` -> ``vfs_setpos``): the probe seeks,
    on a second open file description of the file (``/proc/self/fd``, so the
    caller's file position does not move), to ``pos + 1`` (``pos`` for a
    count of 0).  Only offsets above :data:`MAX_NON_LFS` are probed; a file
    that cannot be opened again is taken as having no limit.
    """
    target = offset + (1 if count else 0)
    if target <= MAX_NON_LFS:
        return False
    try:
        probe = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.lseek(probe, target, os.SEEK_SET)
    except OSError as exc:
        return exc.errno == errno.EINVAL
    finally:
        os.close(probe)
    return False


def _os_sendfile_number(value: object, ctype: str) -> int:
    # os.sendfile parses offset (Py_off_t) and count (Py_ssize_t) with
    # __index__: a Decimal or float is a TypeError, a 65-bit int an OverflowError.
    number = operator.index(value)  # type: ignore[arg-type]
    if not -(1 << 63) <= number < 1 << 63:
        raise OverflowError(f"Python int too large to convert to C {ctype}")
    return number


def _fail_as_host(kernel: FakeKernel, exc: OSError) -> NoReturn:
    # The host's errno by name, in the kernel's ABI (the darwin profile's numbers).
    kernel._fail(errno.errorcode.get(exc.errno or 0, "EIO"))
