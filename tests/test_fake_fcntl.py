"""``FakeKernel.fcntl``: ``fcntl(2)`` on a fake fd, against ``fcntl.fcntl`` on a real socket.

CPython's ``test_socket`` reads a socket's ``O_NONBLOCK`` (``F_GETFL``) and
``FD_CLOEXEC`` (``F_GETFD``) with ``fcntl`` to check ``setblocking``,
``settimeout``, ``SOCK_NONBLOCK`` and ``set_inheritable``; the fake answers
from the same state its socket calls use (``O_NONBLOCK`` on the open file
description, ``FD_CLOEXEC`` per fd).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket as stdlib
from collections.abc import Callable
from typing import Any

import pytest

import sansock
from sansock_fake import FakeKernel


def _story(mod: Any, fcntl_call: Callable[[int, int, int], int]) -> list[object]:
    """What F_GETFL/F_GETFD say along a socket's life, and what F_SETFL/F_SETFD do."""
    out: list[object] = []
    s = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
    with s:
        fd = s.fileno()

        def look() -> None:
            out.append((fcntl_call(fd, fcntl.F_GETFL, 0), fcntl_call(fd, fcntl.F_GETFD, 0)))

        look()
        s.setblocking(False)
        look()
        s.settimeout(5.0)
        look()
        s.setblocking(True)
        look()
        s.set_inheritable(True)
        look()
        out.append(fcntl_call(fd, fcntl.F_SETFL, os.O_NONBLOCK | os.O_APPEND))
        out.append(fcntl_call(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC))
        look()
        out.append((s.getblocking(), s.get_inheritable(), s.gettimeout()))
        dup = fcntl_call(fd, fcntl.F_DUPFD_CLOEXEC, 0)
        try:
            out.append(fcntl_call(dup, fcntl.F_GETFD, 0))
            fcntl_call(dup, fcntl.F_SETFL, 0)  # the open file description is shared
            look()
        finally:
            mod.close(dup)
    ns = mod.socket(mod.AF_INET, mod.SOCK_STREAM | mod.SOCK_NONBLOCK)
    with ns:
        out.append(fcntl_call(ns.fileno(), fcntl.F_GETFL, 0))
    try:
        fcntl_call(fd, fcntl.F_GETFL, 0)
    except OSError as exc:
        out.append(errno.errorcode[exc.errno or 0])
    return out


def test_fcntl_on_a_fake_fd_answers_as_on_a_real_socket() -> None:
    kernel = FakeKernel()
    ours = _story(sansock.using(kernel), kernel.fcntl)
    theirs = _story(stdlib, fcntl.fcntl)
    assert ours == theirs
    rdwr, nonblock, cloexec = os.O_RDWR, os.O_NONBLOCK, fcntl.FD_CLOEXEC
    assert theirs[:5] == [
        (rdwr, cloexec), (rdwr | nonblock, cloexec), (rdwr | nonblock, cloexec), (rdwr, cloexec), (rdwr, 0),
    ]


def test_fcntl_commands_the_fake_does_not_model_say_so() -> None:
    kernel = FakeKernel()
    net = sansock.using(kernel)
    with net.socket() as s, pytest.raises(NotImplementedError, match="F_SETLK|fcntl command 6"):
        kernel.fcntl(s.fileno(), fcntl.F_SETLK, 0)
