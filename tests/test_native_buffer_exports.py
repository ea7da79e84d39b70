"""Regression: a failed send must not leave a buffer export in a traceback cycle.

A CFFI ``from_buffer`` cdata that stays alive in a frame kept by a traceback
holds a buffer export of the caller's memoryview inside a reference cycle;
the garbage collector may clear the memoryview first, and CPython then
crashes ("memoryview has 1 exported buffer", then a segfault).  The driver
releases every export on every path; this runs the crashing scenario in a
child interpreter and checks that it exits cleanly.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent(
    """
    import gc, sansock
    a, b = sansock.socketpair()
    a.setblocking(False)
    data = bytearray(10_000_000)
    try:
        a.sendall(data)
    except BlockingIOError as exc:
        kept = exc            # the traceback (and its frames) stay alive
    gc.collect()
    for _ in range(3):
        try:
            a.send(memoryview(data))
        except BlockingIOError as exc:
            kept = exc
        try:
            a.sendmsg([memoryview(data), bytearray(3)])
        except BlockingIOError as exc:
            kept = exc
    del data
    gc.collect()
    a.close(); b.close()
    print("clean")
    """
)


def test_failed_sends_leave_no_buffer_export_behind() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-c", SCENARIO],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
    assert "exported buffer" not in result.stderr
