"""``fcntl(2)`` on a fake fd (fs/fcntl.c ``do_fcntl``): what ``fcntl.fcntl`` answers on a socket.

CPython's ``test_socket`` reads a socket's ``O_NONBLOCK`` and ``FD_CLOEXEC``
with ``fcntl`` to check ``setblocking``, ``settimeout``, ``SOCK_NONBLOCK``
and ``set_inheritable``; the answers come from the state the socket calls use.

* ``F_GETFD``/``F_SETFD``: ``FD_CLOEXEC``, per fd.
* ``F_GETFL``: ``O_RDWR`` with ``O_NONBLOCK`` and what ``F_SETFL`` kept.
* ``F_SETFL``: ``O_NONBLOCK`` on the open file description (shared by dups,
  as ``setblocking`` sets it); ``O_APPEND``/``O_NOATIME`` kept
  (``SETFL_MASK``), other bits ignored; ``O_DIRECT`` is ``EINVAL`` (a socket
  has no direct I/O).
* ``F_DUPFD_CLOEXEC``: a new fd on the same open file (the lowest free one;
  a minimum above it is not modelled).
* Other commands (locks, ``F_SETOWN``, ``O_ASYNC``...) raise ``NotImplementedError``.

Tested by ``tests/test_fake_fcntl.py`` against ``fcntl.fcntl`` on a real socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["sys_fcntl"]

#: Status flags outside the ABI profiles (include/uapi/asm-generic/fcntl.h).
O_RDWR = 0o2
O_APPEND = 0o2000
FASYNC = 0o20000
O_DIRECT = 0o40000
O_NOATIME = 0o1000000


def sys_fcntl(kernel: FakeKernel, fd: int, cmd: int, arg: int) -> int:
    """``do_fcntl(fd, cmd, arg)`` on a fake fd (EBADF for any other)."""
    slot = kernel._slot(fd)
    c = kernel.abi.constants
    if cmd == c["F_GETFD"]:
        return c["FD_CLOEXEC"] if slot.cloexec else 0
    if cmd == c["F_SETFD"]:
        slot.cloexec = bool(arg & c["FD_CLOEXEC"])
        return 0
    nonblock = c["O_NONBLOCK"]
    if cmd == c["F_GETFL"]:
        return O_RDWR | (nonblock if slot.file.nonblocking else 0) | slot.file.status_flags
    if cmd == c["F_SETFL"]:
        if arg & O_DIRECT:
            kernel._fail("EINVAL")
        if arg & FASYNC:
            raise NotImplementedError("the fake kernel does not model signal-driven I/O (O_ASYNC)")
        slot.file.nonblocking = bool(arg & nonblock)
        slot.file.status_flags = arg & (O_APPEND | O_NOATIME)
        return 0
    if cmd == c["F_DUPFD_CLOEXEC"]:
        if arg < 0:
            kernel._fail("EINVAL")
        if arg > kernel._lowest_free_fd():
            raise NotImplementedError("the fake kernel's F_DUPFD_CLOEXEC takes no minimum above its lowest free fd")
        return kernel._install(slot.file, cloexec=True)
    raise NotImplementedError(f"the fake kernel does not model fcntl command {cmd} on a socket")
