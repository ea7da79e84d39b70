"""sansock.mmsg: many datagrams per syscall (``recvmmsg``/``sendmmsg``).

Extensions beyond the stdlib ``socket`` API, as functions that take a
socket; they respect its blocking, non-blocking or timeout mode as ``recv``
and ``send`` do:

* :func:`recvmmsg` -- up to *count* datagrams: waits for the first, then
  takes what is queued (``recvmmsg(2)`` with ``MSG_WAITFORONE``);
* :func:`sendmmsg` -- a batch of ``(data, address)`` datagrams; returns
  how many were sent (``sendmmsg(2)``).

On the native driver each call is one syscall; on a driver without the
``MmsgDriver`` capability (:mod:`sansock.driver`) (the fake kernel) the core loops
over ``recvfrom``/``send``/``sendto`` with the same results.  See
``docs/extensions.rst``.
"""

from __future__ import annotations

from ._mmsg import recvmmsg, sendmmsg

__all__ = ["recvmmsg", "sendmmsg"]
