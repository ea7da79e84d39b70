"""sansock_fake.interop: unmodified code that uses the stdlib, on the fake kernel.

The only place of the library allowed to import ``socket``, ``select``,
``selectors`` and ``ssl`` -- and only to stand in for them
(``tests/test_layering.py``):

* :func:`patch_stdlib` puts the stdlib's socket machinery on a
  :class:`~sansock_fake.FakeKernel` for the duration of a ``with``;
* :class:`MixedWaitError` is what a wait on real and fake fds at once raises;
* :func:`new_event_loop` and :func:`run`: an asyncio event loop on a kernel,
  in virtual time (:class:`FakeEventLoop`, :class:`FakeEventLoopPolicy`).

See ``docs/howto/offline_http.rst`` and ``docs/howto/asyncio.rst``.
"""

from __future__ import annotations

from ._asyncio import FakeEventLoop, FakeEventLoopPolicy, new_event_loop, run
from ._patch import patch_stdlib
from ._wait import MixedWaitError

__all__ = ["FakeEventLoop", "FakeEventLoopPolicy", "MixedWaitError", "new_event_loop", "patch_stdlib", "run"]
