"""``patch_stdlib()``: the stdlib's socket machinery stands on a fake kernel.

What is replaced, for the duration of the ``with``:

* in ``socket``: the class ``socket`` and the C-level functions
  (``socketpair``, ``getaddrinfo``, ``gethostbyname``..., ``dup``,
  ``close``, ``setdefaulttimeout``; see ``_stdsocket``);
* in ``select``: ``select``, ``poll``, ``epoll``; in ``selectors``: the
  selector classes and ``DefaultSelector`` (see ``_wait``);
* ``ssl.SSLContext.wrap_socket``: a fake socket gets a TLS socket over
  ``ssl.MemoryBIO`` (see ``_tls``), a real one the stdlib's.

Names taken earlier (``from socket import create_connection``, ``import
socket as _s`` then ``_s.socket``, ``from select import select``) are found
the way pyfakefs finds them for ``os``: every module in ``sys.modules`` whose
namespace holds one of the replaced objects (by identity) gets the stand-in
under that name.  On exit every module namespace holding a stand-in of this
patch -- including modules first imported inside it -- gets back what was
there before, also when the block raises.  Patches nest: an inner patch
replaces the outer one's stand-ins and gives them back.

Not reached (documented in docs/howto/offline_http.rst): references held in
class attributes, default arguments or closures (``selectors.SelectSelector``
holds ``select.select`` as a class attribute, but the selector class itself is
replaced), the C module ``_socket``'s ``socket`` type, and C extensions that
open sockets themselves.
"""

from __future__ import annotations

import select as _select_module
import selectors as _selectors_module
import socket as _socket_module
import ssl as _ssl_module
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sansock

from .._kernel import FakeKernel
from . import _stdsocket, _tls, _wait

__all__ = ["patch_stdlib"]

#: Module names whose namespaces the scan leaves alone: the stand-ins keep
#: the real objects there on purpose.
_OWN_PREFIX = __name__.rsplit(".", 1)[0]

_SOCKET_NAMES = (
    "socket", "socketpair", "dup", "close", "getaddrinfo", "getnameinfo", "gethostbyname",
    "gethostbyname_ex", "gethostbyaddr", "gethostname", "sethostname", "getservbyname",
    "getservbyport", "getprotobyname", "if_nameindex", "if_nametoindex", "if_indextoname",
    "getdefaulttimeout", "setdefaulttimeout",
)
_SELECT_NAMES = ("select", "poll", "epoll")
_SELECTOR_NAMES = ("SelectSelector", "PollSelector", "EpollSelector", "DefaultSelector")


def _swap(table: dict[int, tuple[object, object]]) -> list[tuple[dict[str, Any], str]]:
    """Put ``new`` wherever a module namespace holds ``old`` (by identity).

    *table* maps ``id(old)`` to ``(old, new)``; the caller keeps ``old``
    alive, so ids are stable.  Returns where it swapped.
    """
    done: list[tuple[dict[str, Any], str]] = []
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or name == _OWN_PREFIX or name.startswith(_OWN_PREFIX + "."):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            entry = table.get(id(value))
            if entry is not None and entry[0] is value:
                namespace[attr] = entry[1]
                done.append((namespace, attr))
    return done


@contextmanager
def patch_stdlib(kernel: FakeKernel | None = None) -> Iterator[FakeKernel]:
    """Run the stdlib's ``socket``, ``select``, ``selectors`` and ``ssl`` on *kernel*.

    A context manager yielding the kernel (a new :class:`FakeKernel` when
    none is given).  Inside it, unmodified code that uses the stdlib --
    ``http.client``, ``urllib``, ``requests``, ``socketserver``, ``smtplib``,
    ``redis``... -- makes fake sockets, resolves with the fake resolver and
    waits in virtual time; it opens no real socket.  Sockets opened before the
    patch stay real and usable; a wait that mixes them with fake ones raises
    :class:`MixedWaitError`.

    The kernel must number its fds above every real fd (the default): with
    ``FakeKernel(fd_base=0)`` a fake fd could name a real file, and the
    patch refuses it.
    """
    if kernel is None:
        kernel = FakeKernel()
    if kernel.fd_base <= 2:
        raise ValueError(
            "patch_stdlib() needs a kernel whose fds cannot name real files: "
            f"fd_base={kernel.fd_base} gives small fd numbers (leave fd_base at its default)"
        )
    _stdsocket.check_abi(kernel)
    binding = sansock.using(kernel)
    binding.setdefaulttimeout(_socket_module.getdefaulttimeout())

    current: dict[tuple[types.ModuleType, str], object] = {}
    for module, names in (
        (_socket_module, _SOCKET_NAMES),
        (_select_module, _SELECT_NAMES),
        (_selectors_module, _SELECTOR_NAMES),
    ):
        for name in names:
            if name in module.__dict__:
                current[(module, name)] = module.__dict__[name]

    socket_class = _stdsocket.socket_class_for(binding)
    functions = _stdsocket.module_functions(
        kernel, binding, socket_class, {name: current[(_socket_module, name)] for name in ("dup", "close")}
    )
    waits = _wait.FakeWaits(
        kernel,
        {name: value for (module, name), value in current.items() if module in (_select_module, _selectors_module)},
    )
    stand_ins: dict[tuple[types.ModuleType, str], object] = {(_socket_module, "socket"): socket_class}
    stand_ins.update({(_socket_module, name): f for name, f in functions.items()})
    stand_ins[(_select_module, "select")] = waits.select
    stand_ins[(_select_module, "poll")] = waits.poll
    stand_ins[(_select_module, "epoll")] = waits.epoll
    for name, cls in waits.selector_classes.items():
        stand_ins[(_selectors_module, name)] = cls

    forward: dict[int, tuple[object, object]] = {}
    backward: dict[int, tuple[object, object]] = {}
    for key, new in stand_ins.items():
        old = current.get(key)
        if old is None:
            continue
        forward[id(old)] = (old, new)
        backward[id(new)] = (new, old)

    previous_wrap = _ssl_module.SSLContext.__dict__.get("wrap_socket")
    _swap(forward)
    _ssl_module.SSLContext.wrap_socket = _tls.wrap_socket_dispatch(previous_wrap)  # type: ignore[method-assign]
    try:
        yield kernel
    finally:
        if previous_wrap is None:
            del _ssl_module.SSLContext.wrap_socket
        else:
            _ssl_module.SSLContext.wrap_socket = previous_wrap  # type: ignore[method-assign]
        _swap(backward)
