"""The extended receive: typed items, a truncation record, a policy, owned fds.

:func:`recvmsg_ex` makes the same syscall as ``socket.recvmsg`` (the socket's
own ``recvmsg`` step: same argument checks, same timeout machine, same
``err_closefds`` guarantee) and views the control buffer through the one walk
(``_cmsg.walk``): the items decoded by a registry, and the truncation record
(``_cmsg.truncation``), which keeps what the stdlib throws away: the length
a cut item's ``cmsg_len`` claimed.  That is what makes fd loss countable on
BSD-like kernels, which keep the untrimmed ``cmsg_len`` of a cut item; Linux
trims it to the fds it installed and closes the rest (``scm_detach_fds``), so
there "lost" is unknown and reported as None.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, final, overload

import attrs

from . import _cmsg, _general
from ._cmsg import RawItem, Truncation
from ._control_messages import DEFAULT_REGISTRY, CmsgRegistry, ControlMessage, ancillary_space
from ._general import finalize_unclosed

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from ._driver import Driver
    from ._socket import SocketType

__all__ = [
    "ControlTruncatedError",
    "OwnedFd",
    "OwnedReceived",
    "Received",
    "TruncationPolicy",
    "ancillary_space_for",
    "recvmsg_ex",
    "recvmsg_into_ex",
    "recvmsg_owned",
    "set_truncation_policy",
    "truncation_policy",
]

#: What to do when control data was truncated: ``"warn"`` (the stdlib: a
#: ``RuntimeWarning`` exactly when CPython issues one), ``"raise"``
#: (:class:`ControlTruncatedError` for any control truncation, after closing
#: every received fd) or ``"ignore"``.
TruncationPolicy = Literal["warn", "raise", "ignore"]

_POLICIES: tuple[str, ...] = ("warn", "raise", "ignore")

_D = TypeVar("_D", bytes, int)
_T = TypeVar("_T")

if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVarWithDefault

    #: The type of the decoded messages: ControlMessage from the default
    #: registry (PEP 696 default), ``object`` from a registry of yours.
    _M = _TypeVarWithDefault("_M", covariant=True, default=ControlMessage)
else:
    _M = TypeVar("_M", covariant=True)


# -- the error of the "raise" policy ---------------------------------------------


class ControlTruncatedError(RuntimeError):
    """Control data was truncated and the policy is ``"raise"``.

    Every fd the receive carried was closed before this was raised (the
    numbers in :attr:`truncation` are no longer open).  :attr:`data` is what
    the receive returned (bytes, or the byte count for ``recvmsg_into_ex``).
    """

    #: What was cut (:class:`Truncation`).
    truncation: Truncation
    #: The bytes received, or their count (``recvmsg_into_ex``).
    data: Any  # bytes (recvmsg) or the count (recvmsg_into)
    #: The sender's address, as ``recvmsg`` returns it.
    address: Any

    def __init__(self, truncation: Truncation, data: bytes | int, address: Any) -> None:
        super().__init__(f"control data truncated: {truncation.describe()}")
        self.truncation = truncation
        self.data = data
        self.address = address


# -- per-socket policy ------------------------------------------------------------

_socket_policies: weakref.WeakKeyDictionary[SocketType, TruncationPolicy] = weakref.WeakKeyDictionary()


def _check_policy(policy: object) -> TruncationPolicy:
    if policy not in _POLICIES:
        raise ValueError(f"truncation policy must be 'warn', 'raise' or 'ignore', not {policy!r}")
    return policy  # type: ignore[return-value]


def set_truncation_policy(sock: SocketType, policy: TruncationPolicy) -> None:
    """Set *sock*'s truncation policy for :func:`recvmsg_ex` and friends.

    Stored outside the socket (keyed weakly by it), so the socket's own
    methods and attributes stay those of the stdlib.  ``socket.recvmsg``
    itself always behaves as the stdlib (``"warn"``).
    """
    _socket_policies[sock] = _check_policy(policy)


def truncation_policy(sock: SocketType) -> TruncationPolicy:
    """*sock*'s truncation policy (``"warn"`` unless set)."""
    return _socket_policies.get(sock, "warn")


# -- results ----------------------------------------------------------------------------


class _Decoded(Generic[_M]):
    """``get``/``get_all`` over ``ancdata`` (shared by the two result types)."""

    __slots__ = ()
    ancdata: tuple[_M, ...]

    def get(self, kind: type[_T]) -> _T | None:
        """The first decoded message of class *kind*, or None."""
        for message in self.ancdata:
            if isinstance(message, kind):
                return message
        return None

    def get_all(self, kind: type[_T]) -> list[_T]:
        """Every decoded message of class *kind*, in order."""
        return [message for message in self.ancdata if isinstance(message, kind)]


@final
@attrs.frozen
class Received(_Decoded[_M], Generic[_D, _M]):
    """A receive's result: the stdlib's four values plus typed items and a truncation record.

    ``data`` is the bytes (:func:`recvmsg_ex`) or the byte count
    (:func:`recvmsg_into_ex`).  ``raw`` holds the items exactly as
    ``socket.recvmsg`` returns them; ``ancdata`` the same items decoded
    (raw where no decoder applies).  ``fds`` lists every fd received through
    ``SCM_RIGHTS``: the caller owns them and must close them.

    ``Received[bytes]`` is ``Received[bytes, ControlMessage]``: the messages
    the default registry decodes; with a ``registry=`` of yours the second
    parameter is ``object``.
    """

    data: _D
    ancdata: tuple[_M, ...]
    msg_flags: int
    address: Any
    truncation: Truncation
    raw: tuple[RawItem, ...]
    fds: tuple[int, ...]

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params):
            # ``Received[bytes]`` at run time too: the second parameter takes
            # its default (PEP 696), as the type checker reads it.
            if not isinstance(params, tuple):
                params = (params, ControlMessage)
            return super().__class_getitem__(params)  # Generic's (a builtin on 3.13)


@final
class OwnedFd:
    """A received file descriptor that closes itself.

    Use it as a context manager or call :meth:`close`; :meth:`detach` hands
    the number over (nothing is closed).  Dropped while open, it issues a
    ``ResourceWarning`` and closes the fd, as a socket does.  It closes
    through the driver that received it.
    """

    __slots__ = ("_fd", "_drv", "__weakref__")

    def __init__(self, fd: int, driver: Driver) -> None:
        self._fd = fd
        self._drv = driver

    @property
    def closed(self) -> bool:
        """True once closed or detached."""
        return self._fd < 0

    def fileno(self) -> int:
        """The fd number; ``ValueError`` once closed or detached."""
        if self._fd < 0:
            raise ValueError("I/O operation on closed fd")
        return self._fd

    def detach(self) -> int:
        """Give up ownership and return the fd; ``ValueError`` if already closed."""
        fd = self.fileno()
        self._fd = -1
        return fd

    def close(self) -> None:
        """Close the fd (idempotent)."""
        fd = self._fd
        if fd >= 0:
            self._fd = -1
            self._drv.close(fd)

    def __enter__(self) -> OwnedFd:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._fd < 0 else f"fd={self._fd}"
        return f"<OwnedFd {state}>"

    def __del__(self) -> None:
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            # As SocketType.__del__: closed also when the warning is raised.
            finalize_unclosed(self, fd, f"unclosed received fd {fd}")


@final
@attrs.frozen
class OwnedReceived(_Decoded[_M]):
    """:func:`recvmsg_owned`'s result: like :class:`Received`, with owned fds.

    As a context manager it closes every fd not detached when the block ends.
    """

    data: bytes
    ancdata: tuple[_M, ...]
    msg_flags: int
    address: Any
    truncation: Truncation
    raw: tuple[RawItem, ...]
    fds: tuple[OwnedFd, ...]

    def close(self) -> None:
        """Close every fd not yet closed or detached."""
        errors: list[OSError] = []
        for fd in self.fds:
            try:
                fd.close()
            except OSError as exc:
                errors.append(exc)
        if errors:
            try:
                raise errors[0]
            finally:
                errors.clear()  # the traceback holds this frame: no cycle

    def __enter__(self) -> OwnedReceived[_M]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- the receive ---------------------------------------------------------------------------


def _close_all(drv: Driver, fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            drv.close(fd)
        except OSError:
            pass


def _receive(
    sock: SocketType,
    into: bool,
    target: object,
    ancbufsize: object,
    flags: object,
    policy: TruncationPolicy | None,
    registry: CmsgRegistry | None,
    cloexec: bool,
) -> Received[Any, Any]:
    """:func:`recvmsg_ex` (*into* False) and :func:`recvmsg_into_ex` (*into* True).

    The arguments are parsed as ``recvmsg`` parses them, then the policy is
    checked, then one syscall through the socket's timeout machine.  The
    result is decoded and the policy applied; on any error after the syscall
    every received fd is closed first (``err_closefds``).
    """
    target, ancbufsize, flags = _general.recvmsg_args(sock, into, target, ancbufsize, flags)
    chosen = truncation_policy(sock) if policy is None else _check_policy(policy)
    extra, set_cloexec = _cloexec_flag(sock, cloexec)
    drv = sock._drv
    syscall = drv.recvmsg_into if into else drv.recvmsg
    data: Any  # bytes (recvmsg) or the count (recvmsg_into)
    data, control, msg_flags, raw_address = sock._call(False, syscall, target, ancbufsize, flags | extra)
    abi = sock._k.abi
    reg = DEFAULT_REGISTRY if registry is None else registry
    try:
        found = _cmsg.walk(control, abi)
        fds = _cmsg.rights_fds(found.items, abi)
        truncation = _cmsg.truncation(found, len(fds), msg_flags, abi)
        if set_cloexec:
            for fd in fds:
                drv.set_inheritable(fd, False)
        if truncation.control:
            if chosen == "raise":
                address = sock._decode(raw_address)
                raise ControlTruncatedError(truncation, data, address)
            if chosen == "warn" and truncation.stdlib_warns:
                # stacklevel 3: the caller of recvmsg_ex (recvmsg_ex -> _receive).
                warnings.warn(_cmsg.TRUNCATION_WARNING, RuntimeWarning, stacklevel=3)
        decoded = tuple(reg.decode(level, kind, item, abi) for level, kind, item in found.items)
        address = sock._decode(raw_address)
        return Received(data, decoded, msg_flags, address, truncation, tuple(found.items), tuple(fds))
    except BaseException:
        _close_all(drv, _cmsg.scm_rights_fds(control, abi) if control else ())
        raise


def _cloexec_flag(sock: SocketType, cloexec: bool) -> tuple[int, bool]:
    """``(flag to add, set FD_CLOEXEC after the call)`` for a cloexec request."""
    if not cloexec:
        return 0, False
    flag = sock._k.abi.constants.get("MSG_CMSG_CLOEXEC")
    if flag is None:
        # No MSG_CMSG_CLOEXEC (Darwin): set FD_CLOEXEC right after the call
        # (a fork in between would inherit the fds).
        return 0, True
    return flag, False


@overload
def recvmsg_ex(
    sock: SocketType,
    bufsize: int,
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: None = None,
    cloexec: bool = False,
) -> Received[bytes]: ...
@overload
def recvmsg_ex(
    sock: SocketType,
    bufsize: int,
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: CmsgRegistry | None,
    cloexec: bool = False,
) -> Received[bytes, object]: ...
def recvmsg_ex(
    sock: SocketType,
    bufsize: int,
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: CmsgRegistry | None = None,
    cloexec: bool = False,
) -> Received[bytes, object]:
    """``sock.recvmsg(bufsize, ancbufsize, flags)`` with typed items and a truncation record.

    Arguments are checked as ``recvmsg`` checks them.  *policy* overrides
    the socket's (:func:`set_truncation_policy`); *registry* the decoders;
    *cloexec* sets close-on-exec on received fds (``MSG_CMSG_CLOEXEC``).  If
    anything fails after the syscall -- the policy raising, a warning turned
    into an error, a decoder bug -- every received fd is closed first.
    """
    return _receive(sock, False, bufsize, ancbufsize, flags, policy, registry, cloexec)


@overload
def recvmsg_into_ex(
    sock: SocketType,
    buffers: Iterable[WriteableBuffer],
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: None = None,
    cloexec: bool = False,
) -> Received[int]: ...
@overload
def recvmsg_into_ex(
    sock: SocketType,
    buffers: Iterable[WriteableBuffer],
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: CmsgRegistry | None,
    cloexec: bool = False,
) -> Received[int, object]: ...
def recvmsg_into_ex(
    sock: SocketType,
    buffers: Iterable[WriteableBuffer],
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: CmsgRegistry | None = None,
    cloexec: bool = False,
) -> Received[int, object]:
    """``sock.recvmsg_into(...)`` as :func:`recvmsg_ex`; ``data`` is the byte count."""
    return _receive(sock, True, buffers, ancbufsize, flags, policy, registry, cloexec)


@overload
def recvmsg_owned(
    sock: SocketType,
    bufsize: int,
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: None = None,
    cloexec: bool = True,
) -> OwnedReceived: ...
@overload
def recvmsg_owned(
    sock: SocketType,
    bufsize: int,
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: CmsgRegistry | None,
    cloexec: bool = True,
) -> OwnedReceived[object]: ...
def recvmsg_owned(
    sock: SocketType,
    bufsize: int,
    ancbufsize: int = 0,
    flags: int = 0,
    *,
    policy: TruncationPolicy | None = None,
    registry: CmsgRegistry | None = None,
    cloexec: bool = True,
) -> OwnedReceived[object]:
    """:func:`recvmsg_ex` whose fds are :class:`OwnedFd` objects (close-on-exec by default)."""
    result = recvmsg_ex(sock, bufsize, ancbufsize, flags, policy=policy, registry=registry, cloexec=cloexec)
    owned = tuple(OwnedFd(fd, sock._drv) for fd in result.fds)
    return OwnedReceived(
        result.data, result.ancdata, result.msg_flags, result.address, result.truncation, result.raw, owned
    )


# -- buffer sizing ----------------------------------------------------------------------------


def _option_on(sock: SocketType, level: str, name: str) -> bool:
    """``getsockopt`` as a flag; an option the kernel or ABI lacks counts as off."""
    abi = sock._k.abi
    level_value = abi.constants.get(level)
    name_value = abi.constants.get(name)
    if level_value is None or name_value is None:
        return False
    try:
        return sock._drv.getsockopt(sock._fd, level_value, name_value) != 0
    except OSError:
        return False


def ancillary_space_for(
    sock: SocketType, *, fds: int = 0, errqueue: bool = False, extra: Iterable[int] = ()
) -> int:
    """:func:`ancillary_space` for what *sock*'s options make the kernel send.

    Reads with ``getsockopt``: ``SO_PASSCRED`` (AF_UNIX), ``SO_TIMESTAMPNS``
    or else ``SO_TIMESTAMP``; for AF_INET ``IP_PKTINFO``, ``IP_RECVTTL``,
    ``IP_RECVTOS``; for AF_INET6 ``IPV6_RECVPKTINFO``, ``IPV6_RECVHOPLIMIT``,
    ``IPV6_RECVTCLASS``; for UDP ``UDP_GRO``; with *errqueue* (a
    ``MSG_ERRQUEUE`` read) ``IP_RECVERR``/``IPV6_RECVERR``.  An option the
    kernel does not know counts as off.  *fds* adds room for that many fds.
    """
    abi = sock._k.abi
    family = sock._family
    inet = family == abi.constants.get("AF_INET")
    inet6 = family == abi.constants.get("AF_INET6")
    timestamp_ns = _option_on(sock, "SOL_SOCKET", "SO_TIMESTAMPNS")
    return ancillary_space(
        abi,
        fds=fds,
        credentials=family == abi.constants.get("AF_UNIX") and _option_on(sock, "SOL_SOCKET", "SO_PASSCRED"),
        timestamp_ns=timestamp_ns,
        timestamp=not timestamp_ns and _option_on(sock, "SOL_SOCKET", "SO_TIMESTAMP"),
        pktinfo=inet and _option_on(sock, "IPPROTO_IP", "IP_PKTINFO"),
        ttl=inet and _option_on(sock, "IPPROTO_IP", "IP_RECVTTL"),
        tos=inet and _option_on(sock, "IPPROTO_IP", "IP_RECVTOS"),
        ipv6_pktinfo=inet6 and _option_on(sock, "IPPROTO_IPV6", "IPV6_RECVPKTINFO"),
        hoplimit=inet6 and _option_on(sock, "IPPROTO_IPV6", "IPV6_RECVHOPLIMIT"),
        tclass=inet6 and _option_on(sock, "IPPROTO_IPV6", "IPV6_RECVTCLASS"),
        gro=(inet or inet6)
        and sock._type == abi.constants.get("SOCK_DGRAM")
        and _option_on(sock, "SOL_UDP", "UDP_GRO"),
        recverr=errqueue and inet and _option_on(sock, "IPPROTO_IP", "IP_RECVERR"),
        ipv6_recverr=errqueue and inet6 and _option_on(sock, "IPPROTO_IPV6", "IPV6_RECVERR"),
        extra=extra,
    )
