"""Real files (pipes, regular files) passed with SCM_RIGHTS over fake AF_UNIX sockets.

Files are real and only sockets are fake (as for ``sendfile``, ``_sendfile``):
an fd in an SCM_RIGHTS item that is not in the fake's fd table is an fd of
the real process.  Linux's ``scm_fp_copy`` takes a reference on its
``struct file`` at ``sendmsg``, so the sender may close its fd at once; the
fake takes a dup (``F_DUPFD_CLOEXEC``), held by a :class:`RealFile` for as
long as messages carry it.  A reader gets a new dup on the same open file
description (``receive_fd``: offset and status flags shared, close-on-exec
only with ``MSG_CMSG_CLOEXEC``), so ``os.read``, ``os.write``, ``os.lseek``
work on it as after a real ``recvmsg``.  When the last message carrying it is
received, dropped (a closed socket, fds that did not fit: ``MSG_CTRUNC``) or
collected, the fake closes its dup.  The fds handed out are remembered, so the
driver's ``close`` of one (``socket.close(fd)``, CPython's ``err_closefds``
after a failed ``recvmsg``) closes it.  Each is remembered with the identity
of its file (``st_dev``, ``st_ino``): an fd the user closed with ``os.close``
whose number another file took since is not the fake's to close (``close``
answers EBADF, as for any number the fake never gave), and the record drops
such entries when it has doubled since it last looked (:class:`GivenFds`).

Not modelled: in flight, a real file uses an fd of the process (Linux's
in-flight files use none), so it counts against ``RLIMIT_NOFILE``; with
``fd_base=0`` a received real fd may have the number of a fake socket, and
the driver's calls on that number reach the fake socket.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._objects import File, RealFile
from ._sendfile import _fail_as_host as fail_as_host

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = [
    "GivenFds", "carried_files", "close_given", "install_real", "not_a_socket", "release_real", "release_unsent",
]

#: The smallest record of given fds that is ever swept (:class:`GivenFds`).
_SWEEP_MIN = 64


class GivenFds(dict[int, tuple[int, int]]):
    """The real fds a kernel handed out (``install_real``), each with the
    ``(st_dev, st_ino)`` of its file when it was handed out.

    An fd the user closes with ``os.close`` is not seen leaving; when the
    record reaches :attr:`sweep_at` entries, those whose fd is closed or now
    names another file are dropped, and the next sweep waits until the record
    has doubled (at least ``_SWEEP_MIN``): the record stays within twice the
    received fds still open, for a constant cost per fd received.
    """

    __slots__ = ("sweep_at",)

    def __init__(self) -> None:
        super().__init__()
        self.sweep_at = _SWEEP_MIN

    def remember(self, fd: int) -> None:
        """Record *fd*, just installed, with its file's identity."""
        if len(self) >= self.sweep_at:
            for old, identity in list(self.items()):
                if _identity(old) != identity:
                    del self[old]
            self.sweep_at = max(_SWEEP_MIN, 2 * len(self))
        now = _identity(fd)
        if now is not None:  # (just installed: it is open)
            self[fd] = now

    def take(self, fd: int) -> bool:
        """Forget *fd*; True when it is still the file the kernel gave under that number."""
        identity = self.pop(fd, None)
        return identity is not None and _identity(fd) == identity


def _identity(fd: int) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the file *fd* names, None for a closed fd."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def carried_files(kernel: FakeKernel, fds: Sequence[int]) -> list[File]:
    """``scm_fp_copy``: the file each fd names -- the fake's open file, else a
    real file (a dup) -- or EBADF for an fd that names neither, with every dup
    taken so far closed."""
    table = kernel._fds
    files: list[File] = []
    for fd in fds:
        slot = table.get(fd)
        if slot is not None:
            files.append(slot.file)
            continue
        if fd < 0:  # (fcntl.fcntl refuses a negative fd with ValueError)
            release_unsent(files)
            kernel._fail("EBADF")
        try:
            dup = _hold(fd)
        except OSError as exc:  # EBADF: no such fd; EMFILE: the process is out of fds
            release_unsent(files)
            fail_as_host(kernel, exc)
        file = RealFile(dup)
        file.closer = weakref.finalize(file, _close_quietly, dup)
        files.append(file)
    return files


def release_unsent(files: Sequence[File]) -> None:
    """Close the dups of real files no message took (the send failed before queueing)."""
    for file in files:
        if isinstance(file, RealFile) and file.refs == 0:
            release_real(file)


def release_real(file: RealFile) -> None:
    """``fput`` of the last reference: the kernel's dup is closed (once)."""
    closer, file.closer = file.closer, None
    if closer is not None:
        closer()


def install_real(kernel: FakeKernel, file: RealFile, cloexec: bool) -> int:
    """``receive_fd``: a new real fd on *file*'s open file description."""
    try:
        fd = fcntl.fcntl(file.fd, fcntl.F_DUPFD_CLOEXEC if cloexec else fcntl.F_DUPFD, 0)
    except OSError as exc:
        fail_as_host(kernel, exc)  # EMFILE: the process is out of fds
    kernel._real_given.remember(fd)
    return fd


def close_given(kernel: FakeKernel, fd: int) -> bool:
    """``close(fd)`` of a real fd this kernel handed out (not a fake one): True
    when it was one.  False for a number the fake did not give, and for one
    it gave that the user has closed since (``os.close``), maybe reused by
    another file: the caller answers EBADF, and that file stays open."""
    if not kernel._real_given.take(fd):
        return False
    try:
        os.close(fd)
    except OSError as exc:  # another thread closed it meanwhile
        fail_as_host(kernel, exc)
    return True


def _hold(fd: int) -> int:
    """The kernel's own dup of real *fd*, numbered from the upper half of
    ``RLIMIT_NOFILE`` so that it does not take the number the program's next
    ``open`` or ``pipe`` gets (Linux's reference uses no fd at all); the
    lowest free one when that half is full."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    base = soft // 2 if 0 < soft < 1 << 30 else 1 << 16
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base)
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.EINVAL):
            raise
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)


def not_a_socket(kernel: FakeKernel, fd: int) -> str:
    """``sockfd_lookup``'s errno for an fd not in the fake's table: ``ENOTSOCK``
    for a real fd the process has open (a number below ``fd_base``, which the
    fake never hands out: files are real), else ``EBADF``."""
    if 0 <= fd < kernel.fd_base:
        try:
            os.fstat(fd)
        except OSError:
            return "EBADF"
        return "ENOTSOCK"
    return "EBADF"


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:  # pragma: no cover - only the kernel holds its dup
        pass
