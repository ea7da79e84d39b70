"""The syscall boundary: what happens to every call of the fake kernel on the way
in and out.

* :func:`syscall` turns a ``FakeKernel`` method into one syscall: its C
  integer arguments are checked as a C binding checks them (each parameter is
  declared :data:`C_INT`, :data:`C_SIZE`, or None for an object the call
  reads itself), then, holding the kernel's lock, the scheduler counts the
  call, a scripted fault may answer it (``FaultScript.errno_for``), and the
  trace records the arguments and the outcome.
* Buffers are taken as a C binding takes them: C-contiguous bytes
  (:func:`c_buffer`), receive buffers exported for the whole call
  (:class:`exported`), a ``recv`` result sized to the return value
  (:func:`as_returned`).
* :func:`poll_many` is ``poll(2)`` over many fds.  The protocol-independent
  halves of ``sendmsg``/``recvmsg`` are in ``_sysmsg``.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

import attrs

from ._faults import _INTERN_LIMIT, Trace
from ._filerefs import end_call, hold_for_call, moved
from ._objects import OpenFile
from ._oserror import as_platform_error, errno_name, platform_errno_name, raise_errno
from ._scheduler import BlockedForever
from ._scheduler import __tracebackhide__ as __tracebackhide__  # noqa: F401 -- pytest hides our frames under BlockedForever

if TYPE_CHECKING:
    from sansock.driver import ABI

    from ._kernel import FakeKernel

__all__ = [
    "CInt",
    "C_INT",
    "C_SIZE",
    "syscall",
    "c_buffer",
    "exported",
    "as_returned",
    "poll_many",
    "poll_event_names",
]

P = ParamSpec("P")
R = TypeVar("R")

@attrs.frozen
class CInt:
    """A C integer type a syscall argument is passed as, and its range."""

    name: str
    low: int
    high: int


#: ``int`` (fds, flags, levels, options, backlogs, poll timeouts) and the
#: 64-bit types (``size_t``/``ssize_t`` buffer sizes, ``socklen_t`` lengths
#: and ``off_t`` offsets, which the native binding passes as 64-bit integers).
C_INT = CInt("int", -(1 << 31), (1 << 31) - 1)
C_SIZE = CInt("ssize_t", -(1 << 63), (1 << 63) - 1)


def _check_c_arguments(limits: tuple[tuple[int, str, CInt], ...], args: tuple[object, ...]) -> None:
    """What a C binding does with Python ints: TypeError for non-ints, OverflowError out of range.

    The native driver passes arguments through cffi, which raises these before
    any syscall; the core relies on it, so the fake does the same.
    """
    _c_arguments(limits, args)


def _c_arguments(limits: tuple[tuple[int, str, CInt], ...], args: tuple[object, ...]) -> tuple[object, ...]:
    """:func:`_check_c_arguments`, and the arguments as the C side sees them: an
    int subclass becomes its exact value (``int.__index__``, what cffi reads:
    a lying ``__index__``, ``__le__`` or ``__ge__`` neither passes the range
    check with an out-of-range value nor reaches the kernel).  Bools stay."""
    converted: list[object] | None = None
    for position, pname, ctype in limits:
        if position >= len(args):
            continue
        value = args[position]
        if isinstance(value, bool):
            continue
        if not isinstance(value, int):
            raise TypeError(f"an integer is required for {pname}, not {type(value).__name__}")
        if type(value) is not int:
            value = int.__index__(value)
            if converted is None:
                converted = list(args)
            converted[position] = value
        if not ctype.low <= value <= ctype.high:
            raise OverflowError(f"{pname}={value} does not fit the C type of the argument")
    return args if converted is None else tuple(converted)


def _shown(arg: object) -> object:
    """An argument as the trace records it: an exact int, bool, str or None, a
    short bytes value, else the type's name.  Subclasses are copied to the
    base type, so a lying ``__eq__``/``__hash__`` cannot reach the trace."""
    kind = type(arg)
    if kind in (int, bool, str, type(None)):
        return arg
    if kind is bytes:
        return arg if len(arg) <= 32 else "bytes"  # type: ignore[arg-type]
    if isinstance(arg, int):
        return int.__index__(arg)
    if isinstance(arg, str):
        return str.__str__(arg)
    if isinstance(arg, bytes) and len(arg) <= 32:
        return b"".join([arg])
    return kind.__name__


def _summary(result: object) -> str:
    if isinstance(result, (bytes, bytearray)):
        return f"{len(result)} bytes"
    if isinstance(result, tuple):
        return "(" + ", ".join(_summary(item) for item in result) + ")"
    return repr(result)


#: Outcome strings of the commonest results, built once: ``"ok 5"`` for an
#: exact int result, ``"ok 5 bytes"`` for a bytes result of that length
#: (bounded: started afresh when full).
_OK_INT: dict[int, str] = {}
_OK_BYTES: dict[int, str] = {}
_OK_CACHE_LIMIT = 4096
#: Types an argument in a buffer/object position may have and still be
#: recorded as itself (exact bytes of at most 32 bytes are checked apart).
_SHOWN_AS_IS = frozenset({int, str, type(None)})


def _outcome(result: object) -> str:
    """``"ok " + _summary(result)``, from the caches for an exact int or bytes."""
    if result is None:
        return "ok None"
    kind = type(result)
    if kind is int:
        value = cast(int, result)
        text = _OK_INT.get(value)
        if text is None:
            if len(_OK_INT) >= _OK_CACHE_LIMIT:
                _OK_INT.clear()
            text = _OK_INT[value] = f"ok {value!r}"
        return text
    if kind is bytes:
        size = len(cast(bytes, result))
        text = _OK_BYTES.get(size)
        if text is None:
            if len(_OK_BYTES) >= _OK_CACHE_LIMIT:
                _OK_BYTES.clear()
            text = _OK_BYTES[size] = f"ok {size} bytes"
        return text
    if kind is tuple:
        # accept's (fd, address), recvmsg's tuple: exact ints and bytes as _summary shows them.
        parts = []
        for item in cast("tuple[object, ...]", result):
            item_kind = type(item)
            if item_kind is bytes:
                parts.append(f"{len(cast(bytes, item))} bytes")
            elif item_kind is int:
                parts.append(repr(item))
            else:
                break
        else:
            return "ok (" + ", ".join(parts) + ")"
    return f"ok {_summary(result)}"


def _plain_tests(names: list[str], declared: list[CInt | None]) -> str:
    """The common call's test as one expression over the argument variables
    *names* (``type(a0) is int and -2147483648 <= a0 <= 2147483647 and ...``).
    Only integers from :class:`CInt` and the given names enter the source;
    the builtins it calls are ``_type``, ``_len``..., as a parameter may be
    called ``type`` (``socket``'s is)."""
    tests = []
    for var, ctype in zip(names, declared):
        if ctype is None:
            tests.append(f"(_type({var}) is _bytes and _len({var}) <= 32 or _type({var}) in _SHOWN_AS_IS)")
        else:
            low, high = int(ctype.low), int(ctype.high)
            if low <= 0 and high >= _ONE_DIGIT:
                # 0..2**30-1 first: CPython specialises the comparison of one-digit ints only.
                tests.append(f"_type({var}) is _int and (0 <= {var} <= {_ONE_DIGIT} or {low} <= {var} <= {high})")
            else:
                tests.append(f"_type({var}) is _int and {low} <= {var} <= {high}")
    return " and ".join(tests) or "True"


#: The largest int of one 30-bit digit (CPython's compact ints).
_ONE_DIGIT = (1 << 30) - 1

#: The builtins a generated function uses, by names no parameter has.
_BUILTINS: dict[str, object] = {
    "_type": type, "_len": len, "_int": int, "_bytes": bytes, "_isinstance": isinstance, "_OSError": OSError,
    "_SHOWN_AS_IS": _SHOWN_AS_IS,
}


def _compiled(source: str, name: str, namespace: dict[str, object], first_line: int = 1) -> Callable[..., Any]:
    # Compiled as this file's code: a thread sampled inside it is in a kernel
    # module (``_threads.KERNEL_FILES``), entering a syscall; pytest hides its
    # frames under BlockedForever (``__tracebackhide__`` in its globals).  Its
    # lines are numbered from *first_line*, where its template is in this file.
    namespace.update(_BUILTINS)
    namespace["__tracebackhide__"] = __tracebackhide__
    tree = ast.parse(source)
    ast.increment_lineno(tree, first_line - 1)
    exec(compile(tree, __file__, "exec"), namespace)  # noqa: S102 -- see the callers
    return cast("Callable[..., Any]", namespace[name])


def _plain_check(name: str, declared: list[CInt | None]) -> Callable[[tuple[object, ...]], bool]:
    """The fast path's test for one syscall: whether a positional argument
    tuple is the common call (see :func:`syscall`).

    Generated as one expression per syscall: a loop over the declarations
    costs about twice as much on every call.  Nothing in it can raise.
    """
    names = [f"a{position}" for position in range(len(declared))]
    if names:
        body = f"    if len(args) != {len(names)}:\n        return False\n    {', '.join(names)}, = args\n"
        body += f"    return {_plain_tests(names, declared)}\n"
    else:
        body = "    return not args\n"
    return _compiled(f"def plain_{name}(args):\n{body}", f"plain_{name}", {})


def syscall(
    **ctypes: CInt | None,
) -> Callable[[Callable[Concatenate[FakeKernel, P], R]], Callable[Concatenate[FakeKernel, P], R]]:
    """Run a ``FakeKernel`` method as one syscall: lock, trace, scripted errno, notify.

    Every parameter after ``self`` is declared: its C integer type (checked
    as a C binding checks it), or None for an object the call reads itself
    (a buffer, a ``struct sockaddr``, a list).

    The common call -- each C integer an exact ``int`` in range, each object
    argument an exact int, str, None or a bytes of at most 32 bytes -- is
    checked in one expression and recorded with its own argument tuple
    (nothing in it can lie about equality, so the trace shares it by value).
    Anything else takes the general checks (:func:`_check_c_arguments`,
    :func:`_shown`) with the same outcome.  Nothing else differs: the lock,
    the count, the fault script, the trace and the wake-up are the same for
    both.  A method whose parameters are all plain (positional or keyword,
    no default) gets a wrapper generated with its own parameters
    (:data:`_ENTRY`): the common call runs in that one frame, with no
    argument tuple packed and unpacked, no keyword dict, and the trace
    recorded in place.
    """

    def declare(method: Callable[Concatenate[FakeKernel, P], R]) -> Callable[Concatenate[FakeKernel, P], R]:
        signature = inspect.signature(method)
        parameters = list(signature.parameters)[1:]
        if sorted(parameters) != sorted(ctypes):
            raise TypeError(f"{method.__name__}: declare the C type of each of {parameters}, not {sorted(ctypes)}")
        limits = tuple(
            (position, pname, ctype)
            for position, pname in enumerate(parameters)
            if (ctype := ctypes[pname]) is not None
        )
        declared = [ctypes[pname] for pname in parameters]
        is_plain = _plain_check(method.__name__, declared)
        name = method.__name__

        def run(kernel: FakeKernel, /, *given: P.args, **kwargs: P.kwargs) -> R:
            args: tuple[Any, ...] = given
            keywords: dict[str, Any] = kwargs
            if keywords:
                # Keyword arguments are checked, traced and matched by the
                # fault script as the same arguments passed by position.
                bound = signature.bind(kernel, *args, **keywords)
                args, keywords = bound.args[1:], bound.kwargs
            plain = not keywords and is_plain(args)
            if plain:
                shown: tuple[object, ...] = args
            else:
                shown = tuple(map(_shown, args))
                args = _c_arguments(limits, args)
            scheduler = kernel._scheduler
            condition = scheduler.condition
            faults = kernel.faults
            # The condition's lock, taken as Condition.acquire takes it
            # (_host.use_scheduler); the wake-up is skipped when no thread
            # waits on the condition, where notify_all would do nothing.
            lock = kernel._lock
            lock.acquire()
            try:
                if scheduler._entered.__dict__:
                    # Scheduler.enter for a thread it registered already (inlined: every syscall).
                    scheduler.activity += 1
                else:
                    scheduler.enter()
                try:
                    if faults.rules:
                        code = faults.errno_for(name, args[0] if args and isinstance(args[0], int) else None)
                        if code is not None:
                            raise_errno(code)
                    result = method(kernel, *args, **keywords)
                except OSError as exc:
                    if kernel._abi.messages:  # another platform's numbers (_oserror)
                        kernel.trace.record(name, shown, platform_errno_name(kernel._abi, exc.errno or 0))
                        raise as_platform_error(kernel._abi, exc) from None
                    kernel.trace.record(name, shown, errno_name(exc.errno or 0))
                    raise
                except BlockedForever as exc:
                    # Raised from here, its traceback ends at the syscall, not deep in the scheduler.
                    raise exc.with_traceback(None) from None
                finally:
                    if kernel._call_refs:
                        end_call(kernel)  # fdput of what a wait held
                    if kernel._waiters is None or kernel._waiters:
                        condition.notify_all()
                if plain:
                    kernel.trace.record_exact(name, shown, _outcome(result))
                else:
                    kernel.trace.record(name, shown, _outcome(result))
                return result
            finally:
                lock.release()

        kinds = {parameter.kind for parameter in list(signature.parameters.values())[1:]}
        plain_parameters = kinds <= {inspect.Parameter.POSITIONAL_OR_KEYWORD} and all(
            parameter.default is inspect.Parameter.empty and pname.isidentifier() and not pname.startswith("_")
            for pname, parameter in signature.parameters.items()
        )
        if not plain_parameters:
            return functools.wraps(method)(run)
        names = ", ".join(parameters)
        source = _ENTRY.format(
            name=name, parameters=names, given=f"({names},)" if parameters else "()",
            tests=_plain_tests(parameters, declared), arguments=names,
            first=parameters[0] if parameters and declared[0] is not None
            else f"{parameters[0]} if _isinstance({parameters[0]}, _int) else None" if parameters else "None",
        )
        entry = _compiled(source, name, {
            "_general": run, "_method": method, "_raise_errno": raise_errno,
            "_platform_errno_name": platform_errno_name, "_as_platform_error": as_platform_error,
            "_errno_name": errno_name, "_BlockedForever": BlockedForever, "_end_call": end_call,
            "_outcome": _outcome, "_Trace": Trace, "_OK_INT": _OK_INT, "_OK_BYTES": _OK_BYTES, "_INTERN_LIMIT": _INTERN_LIMIT,
        }, _ENTRY_LINE)
        return cast("Callable[Concatenate[FakeKernel, P], R]", functools.wraps(method)(entry))

    return declare


#: The generated wrapper of a syscall (see :func:`syscall`): ``run``'s steps
#: written out for the common call, the method's own parameters its own
#: (Python binds keywords as the method would; every name of the wrapper's
#: own starts with ``_``, which no parameter may).  Anything but the common
#: call goes to ``run`` (``_general``) with the arguments by position.
#: The trace entry is ``Trace.record_exact`` and the outcome ``_outcome``,
#: in place for an int, None or bytes result (a subclass's ``record_exact``
#: is called).
_ENTRY_LINE = sys._getframe().f_lineno + 1  # (tracebacks show the template's lines: _compiled)
_ENTRY = """\
def {name}(_kernel, {parameters}):
    if not ({tests}):
        return _general(_kernel, {arguments})
    _given = {given}
    _scheduler = _kernel._scheduler
    _lock = _kernel._lock
    _lock.acquire()
    try:
        if _scheduler._entered.__dict__:
            _scheduler.activity += 1
        else:
            _scheduler.enter()
        try:
            if _kernel.faults.rules:
                _code = _kernel.faults.errno_for({name!r}, {first})
                if _code is not None:
                    _raise_errno(_code)
            _result = _method(_kernel, {arguments})
        except _OSError as _exc:
            if _kernel._abi.messages:
                _kernel.trace.record({name!r}, _given, _platform_errno_name(_kernel._abi, _exc.errno or 0))
                raise _as_platform_error(_kernel._abi, _exc) from None
            _kernel.trace.record({name!r}, _given, _errno_name(_exc.errno or 0))
            raise
        except _BlockedForever as _exc:
            raise _exc.with_traceback(None) from None
        finally:
            if _kernel._call_refs:
                _end_call(_kernel)
            if _kernel._waiters is None or _kernel._waiters:
                _scheduler.condition.notify_all()
        _kind = _type(_result)
        if _kind is _int:
            _text = _OK_INT.get(_result) or _outcome(_result)
        elif _result is None:
            _text = "ok None"
        elif _kind is _bytes:
            _text = _OK_BYTES.get(_len(_result)) or _outcome(_result)
        else:
            _text = _outcome(_result)
        _trace = _kernel.trace
        if _type(_trace) is not _Trace:  # a network host's (_network._HostTrace)
            _trace.record_exact({name!r}, _given, _text)
            return _result
        _shared = _trace._shared_exact
        if _len(_shared) >= _INTERN_LIMIT:
            _shared.clear()
        _trace._calls.append({name!r})
        _trace._args.append(_shared.setdefault(_given, _given))
        _trace._outcomes.append(_text)
        _trace.total += 1
        return _result
    finally:
        _lock.release()
"""


def poll_event_names(abi: ABI, events: int) -> str:
    """``POLLIN|POLLOUT`` for a BlockedForever message."""
    known = abi.constants
    names = [n for n in ("POLLIN", "POLLPRI", "POLLOUT", "POLLRDHUP") if events & known.get(n, 0)]
    return "|".join(names) if names else f"events {events:#x}"


def poll_many(kernel: FakeKernel, interest: Sequence[tuple[int, int]], timeout_ns: int | None) -> list[tuple[int, int]]:
    """``FakeKernel.poll_many``: one syscall as :func:`syscall` runs one, traced
    as ``poll`` with the fds and the timeout (the fault script matches its first fd)."""
    scheduler = kernel._scheduler
    condition = scheduler.condition
    if kernel._poll_always is None:
        kernel._poll_always = kernel._c("POLLERR") | kernel._c("POLLHUP") | kernel._c("POLLNVAL")
    always = kernel._poll_always
    pairs = [(int(fd), int(events) | always) for fd, events in interest]
    fds = tuple(fd for fd, _ in pairs)
    shown: tuple[object, ...] = (fds, timeout_ns)
    found: list[tuple[int, int]] = []
    lock = kernel._lock  # (the condition's: _host.use_scheduler)
    lock.acquire()
    try:
        scheduler.enter()
        try:
            if kernel.faults.rules:
                code = kernel.faults.errno_for("poll", fds[0] if fds else None)
                if code is not None:
                    raise_errno(code)
            deadline = None if timeout_ns is None else scheduler.now_ns + max(timeout_ns, 0)
            revents_of = kernel._revents
            # What the poll sleeps on once it waits (see FakeKernel.poll): the
            # files the fds name then, held until it returns.
            polled: dict[int, OpenFile] = {}

            def scan(final: bool = False) -> bool:
                found.clear()
                for fd, wanted in pairs:
                    revents = revents_of(fd) & wanted
                    if revents and not final and fd in polled and moved(kernel, fd, polled[fd], wanted):
                        continue
                    if revents:
                        found.append((fd, revents))
                return bool(found)

            if not scan() and timeout_ns != 0:
                for fd, _ in pairs:
                    slot = kernel._fds.get(fd)
                    if slot is not None:
                        hold_for_call(kernel, fd)
                        polled[fd] = slot.file
                if not scheduler.wait_until(scan, deadline, "poll", fds[0] if fds else -1, fds=fds):
                    scan(final=True)  # do_poll's last pass at the timeout
        except OSError as exc:
            if kernel._abi.messages:  # another platform's numbers (_oserror)
                kernel.trace.record("poll", shown, platform_errno_name(kernel._abi, exc.errno or 0))
                raise as_platform_error(kernel._abi, exc) from None
            kernel.trace.record("poll", shown, errno_name(exc.errno or 0))
            raise
        except BlockedForever as exc:
            raise exc.with_traceback(None) from None
        finally:
            if kernel._call_refs:
                end_call(kernel)
            if kernel._waiters is None or kernel._waiters:
                condition.notify_all()
        kernel.trace.record("poll", shown, f"ok {found!r}")
        return list(found)
    finally:
        lock.release()


# -- buffers ------------------------------------------------------------------------
def c_buffer(obj: object) -> memoryview:
    """A buffer argument as a C binding takes it (cffi's ``from_buffer``): the
    bytes of a C-contiguous buffer, else ``BufferError`` as CPython's
    ``PyObject_GetBuffer(PyBUF_SIMPLE)`` raises it."""
    view = memoryview(obj)  # type: ignore[arg-type]
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view.cast("B") if view.ndim != 1 or view.format != "B" else view


class exported:
    """The receive buffers exported for the whole syscall, as a C binding holds them.

    The native driver's ``ffi.from_buffer`` keeps each buffer exported from
    the call's entry to its return, so while a receive blocks, another thread
    cannot resize it (``bytearray.clear()`` raises ``BufferError``) and the
    data lands in the buffer the call was given.  The views are released on
    the way out, error or not, so no export outlives the call (not even in a
    traceback's frame).  ``with exported(buffers) as views:`` gives one
    flat byte view per buffer.
    """

    __slots__ = ("_owned", "_flat")

    def __init__(self, buffers: Sequence[object]) -> None:
        self._owned: list[memoryview] = []
        self._flat: list[memoryview] = []
        try:
            for obj in buffers:
                view = memoryview(obj)  # type: ignore[arg-type]
                self._owned.append(view)
                if not view.c_contiguous:
                    raise BufferError("memoryview: underlying buffer is not C-contiguous")
                if view.ndim != 1 or view.format != "B":
                    view = view.cast("B")
                    self._owned.append(view)
                self._flat.append(view)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        for view in reversed(self._owned):
            view.release()
        self._owned.clear()
        self._flat.clear()

    def __enter__(self) -> list[memoryview]:
        return self._flat

    def __exit__(self, *exc_info: object) -> None:
        self._release()


def as_returned(data: bytes, length: int) -> bytes:
    """The bytes a bytes-returning receive gives: sized to the syscall's return value.

    With MSG_TRUNC a datagram receive returns the datagram's full length, larger
    than the buffer; CPython then resizes its result to that length
    (``sock_recv_guts``, ``_PyBytes_Resize``), so the tail past the buffer is
    not data.  The fake fills it with zeros.
    """
    return data + bytes(length - len(data)) if length > len(data) else data
