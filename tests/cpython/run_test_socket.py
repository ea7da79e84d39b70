"""Run CPython's own ``test.test_socket`` with ``socket`` replaced by a sansock binding.

Usage::

    python tests/cpython/run_test_socket.py --driver native   # sansock.using(NativeDriver())
    python tests/cpython/run_test_socket.py --driver fake     # a binding on a FakeKernel

The running interpreter's ``test`` package supplies the suite (Debian-like
systems ship it separately: ``libpython3.X-testsuite``).  A module object
built from the binding is installed as ``sys.modules["socket"]`` *before*
``test.test_socket`` (and ``test.support.socket_helper``) are imported, so
every ``socket.X`` the suite names is the binding's.  On the fake,
``select.select`` and ``fcntl.fcntl`` of a fake fd stand on the kernel while
the suite runs (see :func:`environment`).  What else the suite reaches around
``socket`` is not replaced: ``_socket`` (a few tests make sockets with it),
``os.read``/``os.dup`` on socket fds.  Those tests fail on the fake, as they
would on any in-memory kernel.  Real fds the suite passes with ``SCM_RIGHTS`` (files,
pipes) arrive as real fds on the fake too.

It prints the counts on the last line: ``N passed, M failed, K errors, S skipped``
(expected failures count as passed, unexpected successes as failed).  Not
collected by pytest (the file name does not start with ``test_``); run by
``make cpython-suite``.  Exit status: 0 when the suite imported and ran.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import os
import signal
import sys
import threading
import time
import types
import unittest
from collections.abc import Iterator
from typing import Any, TextIO, cast

#: Names the stdlib module has that a binding may lack (issue 15 adds them to
#: the binding); the runner fills them so that the suite can be imported, and
#: lists them on stderr.
_FALLBACKS: dict[str, Any] = {
    "error": OSError,
    "timeout": TimeoutError,
    "has_ipv6": True,
}


#: Names socket.py has only because it imports them.
_NOT_SOCKET_SPECIFIC = frozenset({"IntEnum", "IntFlag", "array", "errno", "io", "os", "selectors", "sys"})


def binding_for(driver: str) -> Any:
    import sansock

    if driver == "native":
        import sansock_native

        return sansock.using(sansock_native.NativeDriver())
    from sansock_fake import FakeKernel

    return sansock.using(FakeKernel())


def socket_module(binding: Any, log: TextIO) -> types.ModuleType:
    """A ``socket`` module whose public names are the binding's."""
    import socket as stdlib_socket  # only to know which names the module has

    import sansock

    module = types.ModuleType("socket", "sansock binding standing in for the socket module")
    filled: list[str] = []
    absent: list[str] = []
    for name in dir(stdlib_socket):
        if name.startswith("__"):
            continue
        try:
            value = getattr(binding, name)
        except AttributeError:
            if name in _FALLBACKS:
                value = _FALLBACKS[name]
            elif name in ("gaierror", "herror", "SocketType", "SocketIO", "_GiveupOnSendfile") and hasattr(sansock, name):
                value = getattr(sansock, name)
            elif name == "_GLOBAL_DEFAULT_TIMEOUT" and hasattr(sansock, name):
                value = getattr(sansock, name)
            elif name in _NOT_SOCKET_SPECIFIC:
                # socket.py's own imports (modules, enum bases): the same objects.
                value = getattr(stdlib_socket, name)
            else:
                absent.append(name)
                continue
            filled.append(name)
        setattr(module, name, value)
    if filled:
        print(f"[run_test_socket] not on the binding, filled in: {', '.join(filled)}", file=log)
    if absent:
        print(f"[run_test_socket] not on the binding, left out: {', '.join(absent)}", file=log)
    return module


@contextlib.contextmanager
def environment(driver: str, binding: Any) -> Iterator[None]:
    """What the suite reaches around ``socket``, standing on the binding's kernel.

    On the fake, while the suite runs: ``select.select`` (which the suite
    calls on its sockets: ``NonBlockingTCPTests``, ``TCPCloserTest``) is the
    interop's stand-in (the one ``patch_stdlib`` installs), and
    ``fcntl.fcntl`` of a fake fd is the kernel's ``fcntl`` (``O_NONBLOCK``,
    ``FD_CLOEXEC``: ``NonBlockingTCPTests``, ``NonblockConstantTest``,
    ``InheritanceTest``); real fds go to the real calls; and
    ``os_helper.unlink`` of a path also unlinks the fake's socket file there
    (``TestUnixDomain`` binds one path in several tests).  Only those names:
    the rest of ``patch_stdlib`` (the stdlib's own ``socket`` class) is not
    the suite's business.  On the native driver the real calls already work.
    """
    if driver != "fake":
        yield
        return
    import fcntl
    import select

    from sansock_fake.interop._wait import FakeWaits, fileobj_to_fd

    kernel = binding.driver
    real_select, real_fcntl = select.select, fcntl.fcntl
    originals = {name: getattr(select, name) for name in ("select", "poll", "epoll")}

    def fake_fcntl(fd: Any, cmd: int, arg: Any = 0, /) -> Any:
        number = fileobj_to_fd(fd)
        if number >= kernel.fd_base and isinstance(arg, int):
            return kernel.fcntl(number, cmd, arg)
        return real_fcntl(fd, cmd, arg)

    # The suite's AF_UNIX tests unlink the path they bound with
    # test.support.os_helper.unlink (its _unlink is os.unlink, taken at import):
    # the fake's socket files live in its own namespace, so the unlink reaches
    # both, as unlink(2) removes a socket file on Linux.
    os_helper: Any = importlib.import_module("test.support.os_helper")
    real_unlink = os_helper._unlink

    def unlink_both(path: Any) -> None:
        try:
            kernel.unlink(os.fsencode(path))
        except OSError:
            pass
        real_unlink(path)

    select.select = FakeWaits(kernel, originals).select
    fcntl.fcntl = fake_fcntl
    os_helper._unlink = unlink_both
    try:
        yield
    finally:
        select.select, fcntl.fcntl = real_select, real_fcntl
        os_helper._unlink = real_unlink


class Watchdog:
    """A test that runs longer than *seconds* of real time fails with TimeoutError;
    the whole run dumps every thread's stack and exits if it runs 20 times longer.

    Not an ``ITIMER_REAL`` alarm: the suite's own ``SIGALRM`` tests use that
    timer, and a pending one-shot alarm holds the fake's virtual clock (it
    would interrupt the call on Linux).  A thread made before the kernel (so
    it takes no part in its virtual time) sends ``SIGUSR1`` to the main
    thread when a test's time is up.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._main = threading.main_thread().ident or 0
        signal.signal(signal.SIGUSR1, self._expire)
        faulthandler.dump_traceback_later(seconds * 20, exit=True)
        threading.Thread(target=self._watch, name="run_test_socket watchdog", daemon=True).start()

    def _expire(self, signum: int, frame: object) -> None:
        raise TimeoutError(f"test ran longer than {self.seconds} s (run_test_socket watchdog)")

    def arm(self) -> None:
        with self._condition:
            self._deadline = time.monotonic() + self.seconds
            self._condition.notify()

    def disarm(self) -> None:
        with self._condition:
            self._deadline = None
            self._condition.notify()

    def _watch(self) -> None:
        with self._condition:
            while True:
                if self._deadline is None:
                    self._condition.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._condition.wait(left)
                    continue
                self._deadline = None
                signal.pthread_kill(self._main, signal.SIGUSR1)


def run(driver: str, verbosity: int, pattern: str | None, per_test: float) -> int:
    log = sys.stderr
    watchdog = Watchdog(per_test)  # (before the kernel: its thread takes no part in virtual time)
    binding = binding_for(driver)
    previous = sys.modules.get("socket")
    sys.modules["socket"] = socket_module(binding, log)
    for name in ("test.test_socket", "test.support.socket_helper"):
        sys.modules.pop(name, None)
    try:
        test_socket = importlib.import_module("test.test_socket")  # after the replacement, on purpose
    except Exception as exc:  # noqa: BLE001 - the report is the point
        print(f"[run_test_socket] test.test_socket does not import on {driver}: {exc!r}", file=log)
        print("0 passed, 0 failed, 1 errors, 0 skipped")
        return 1
    finally:
        if previous is not None:
            sys.modules["socket"] = previous
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = [f"*{pattern}*"]
    suite = loader.loadTestsFromModule(test_socket)

    class Timed(unittest.TextTestResult):
        """Arms the per-test watchdog around each test."""

        def startTest(self, test: unittest.TestCase) -> None:
            watchdog.arm()
            super().startTest(test)

        def stopTest(self, test: unittest.TestCase) -> None:
            watchdog.disarm()
            super().stopTest(test)

    runner = unittest.TextTestRunner(stream=log, verbosity=verbosity, resultclass=cast(Any, Timed))
    started = time.perf_counter()
    with environment(driver, binding):
        result = runner.run(suite)
    faulthandler.cancel_dump_traceback_later()
    failed = len(result.failures) + len(result.unexpectedSuccesses)
    errors = len(result.errors)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - errors - skipped
    print(f"[run_test_socket] driver {driver}: {result.testsRun} tests in "
          f"{time.perf_counter() - started:.1f} s", file=log)
    print(f"{passed} passed, {failed} failed, {errors} errors, {skipped} skipped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--driver", choices=["native", "fake"], required=True)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="one line per test (-v)")
    parser.add_argument("-k", dest="pattern", help="run only tests whose name contains this")
    parser.add_argument("--per-test-timeout", type=float, default=60.0,
                        help="real seconds before a test is failed with TimeoutError (default 60)")
    args = parser.parse_args(argv)
    return run(args.driver, 1 + args.verbose, args.pattern, args.per_test_timeout)


if __name__ == "__main__":
    sys.exit(main())
