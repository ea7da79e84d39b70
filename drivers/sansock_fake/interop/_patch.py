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
under that name.  When the last active patch ends, every module namespace
holding a stand-in -- including modules first imported inside it -- gets back
what was there before, also when the block raises.  Patches stack
process-wide (:class:`_Stack`): the last one entered that is still active is
in effect, and they may end in any order.

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
import threading
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


class _Patch:
    """One entered ``patch_stdlib()``: its kernel and its stand-ins."""

    __slots__ = ("kernel", "stand_ins", "waits")

    def __init__(
        self, kernel: FakeKernel, stand_ins: dict[tuple[types.ModuleType, str], object], waits: _wait.FakeWaits
    ) -> None:
        self.kernel = kernel
        self.stand_ins = stand_ins
        self.waits = waits


class _Stack:
    """The process-wide stack of entered patches (one per process, lock-protected).

    The stdlib shows the stand-ins of the top patch -- the last one entered
    that is still active -- or, when the stack is empty, the objects that were
    there before the first patch (``originals``, taken when the stack was
    empty).  Leaving a patch takes it out of the stack wherever it is: when it
    was the top, the next one down (or the originals) is put back everywhere
    its stand-ins went; when it was not, nothing the stdlib shows changes.
    So patches can be left in any order -- nested ``with`` blocks, a context
    manager exited by hand, two threads (two event loops) whose patches
    overlap -- and the stdlib is back to the originals once the last one ends.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.patches: list[_Patch] = []
        #: What the module namespaces held before the first patch of the stack.
        self.originals: dict[tuple[types.ModuleType, str], object] = {}
        #: ``SSLContext.__dict__["wrap_socket"]`` before the first patch (None: not in the class dict).
        self.original_wrap: Any = None
        #: Every stand-in shown since the stack was last empty, by key: all of them are
        #: swapped to the next target, whichever one a namespace still holds.
        self.shown: dict[tuple[types.ModuleType, str], list[object]] = {}

    def show(self, target: dict[tuple[types.ModuleType, str], object]) -> None:
        """Make every namespace that holds an original or a shown stand-in hold *target*'s."""
        table: dict[int, tuple[object, object]] = {}
        for key, new in target.items():
            for old in (self.originals[key], *self.shown.get(key, ())):
                if old is not new:
                    table[id(old)] = (old, new)
        _swap(table)


_STACK = _Stack()


def _enter(kernel: FakeKernel) -> _Patch:
    stack = _STACK
    _stdsocket.check_abi(kernel)
    binding = sansock.using(kernel)
    with stack.lock:
        binding.setdefaulttimeout(_socket_module.getdefaulttimeout())
        if not stack.patches:
            stack.originals = {
                (module, name): module.__dict__[name]
                for module, names in (
                    (_socket_module, _SOCKET_NAMES),
                    (_select_module, _SELECT_NAMES),
                    (_selectors_module, _SELECTOR_NAMES),
                )
                for name in names
                if name in module.__dict__
            }
            stack.original_wrap = _ssl_module.SSLContext.__dict__.get("wrap_socket")
            stack.shown = {}
        # Real fds go to the originals, never to another patch's stand-ins:
        # a patch keeps working whatever is left before it.
        current = stack.originals
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
        patch = _Patch(kernel, {key: new for key, new in stand_ins.items() if key in current}, waits)
        if not stack.patches:
            _ssl_module.SSLContext.wrap_socket = _tls.wrap_socket_dispatch(  # type: ignore[method-assign]
                stack.original_wrap
            )
        stack.show(patch.stand_ins)
        for key, new in patch.stand_ins.items():
            stack.shown.setdefault(key, []).append(new)
        stack.patches.append(patch)
        waits.active = True
        return patch


def _leave(patch: _Patch) -> None:
    stack = _STACK
    with stack.lock:
        for index in range(len(stack.patches) - 1, -1, -1):
            if stack.patches[index] is patch:
                break
        else:  # pragma: no cover - a patch leaves once (the generator's finally)
            return
        was_top = index == len(stack.patches) - 1
        del stack.patches[index]
        patch.waits.active = False
        if not was_top:
            # An outer patch ends while an inner one is active: the stdlib
            # keeps showing the inner one's stand-ins until it ends too.
            return
        if stack.patches:
            stack.show(stack.patches[-1].stand_ins)
            return
        stack.show(stack.originals)
        if stack.original_wrap is None:
            del _ssl_module.SSLContext.wrap_socket
        else:
            _ssl_module.SSLContext.wrap_socket = stack.original_wrap  # type: ignore[method-assign]
        stack.originals = {}
        stack.shown = {}
        stack.original_wrap = None


def active_kernels() -> list[FakeKernel]:
    """The kernels of the patches active now, outermost first (the last one is in effect)."""
    with _STACK.lock:
        return [patch.kernel for patch in _STACK.patches]


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

    The patch is process-wide (every thread sees it).  Patches stack: the one
    entered last among those still active is in effect, and they may end in
    any order (two threads whose patches overlap, a context manager exited by
    hand): ending one that is not in effect changes nothing the stdlib
    shows; ending the one in effect puts back the next one down, or the
    stdlib's own objects once none is left.

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
    patch = _enter(kernel)
    try:
        yield kernel
    finally:
        _leave(patch)
