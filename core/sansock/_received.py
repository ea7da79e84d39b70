"""The extended receive: typed items, a truncation record, a policy, owned fds.

:func:`recvmsg_ex` makes the same syscall as ``socket.recvmsg`` (same
argument checks, same timeout machine, same ``err_closefds`` guarantee) and
decodes the control buffer with the walk of CPython's ``sock_recvmsg_guts``
(``_cmsg._Geometry``), keeping for each item what the stdlib throws away: the
length its ``cmsg_len`` claimed.  That is what makes fd loss countable on
BSD-like kernels, which keep the untrimmed ``cmsg_len`` of a cut item; Linux
trims it to the fds it installed and closes the rest (``scm_detach_fds``), so
there "lost" is unknown and reported as None.
"""

from __future__ import annotations

import struct
import warnings
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, final, overload

import attrs

from . import _address, _cmsg, _msgargs
from ._abi import ABI
from ._control_messages import DEFAULT_REGISTRY, CmsgRegistry, ControlMessage, RawItem, item_data_size

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from ._binding import Binding
    from ._driver import Driver
    from ._socket import SocketType

__all__ = [
    "ControlTruncatedError",
    "CutItem",
    "OwnedFd",
    "OwnedReceived",
    "Received",
    "Truncation",
    "TruncationPolicy",
    "ancillary_space",
    "ancillary_space_for",
    "bytes_sent",
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


# -- the truncation record ------------------------------------------------------


@final
@attrs.frozen
class CutItem:
    """A control message cut short by the end of the buffer.

    Only a kernel that keeps the untrimmed ``cmsg_len`` (BSD, macOS) produces
    one; Linux trims ``cmsg_len`` to what it copied.
    """

    #: Position among the items returned.
    index: int
    level: int
    type: int
    #: Data bytes inside the buffer (what the item's data holds).
    kept: int
    #: Data bytes its ``cmsg_len`` announced (``cmsg_len - CMSG_LEN(0)``).
    claimed: int


@final
@attrs.frozen
class Truncation:
    """What a receive lost, as far as the kernel says.

    ``data``: ``MSG_TRUNC`` (the datagram was longer than the buffer).
    ``control``: any control data was lost (``MSG_CTRUNC``, an item cut
    short, or a malformed header).  ``fds_lost`` is 0 when nothing was
    truncated, a count when an ``SCM_RIGHTS`` item kept its untrimmed
    ``cmsg_len``, and None when unknowable (Linux with ``MSG_CTRUNC``: the
    kernel closed the fds that did not fit and does not say how many).
    """

    data: bool
    control: bool
    #: ``MSG_CTRUNC`` was set by the kernel.
    ctrunc: bool
    cut_item: CutItem | None
    #: A header could not be decoded (CPython stops its walk there).
    malformed: bool
    fds_delivered: int
    fds_lost: int | None

    @property
    def stdlib_warns(self) -> bool:
        """True when CPython's ``recvmsg`` issues its ``RuntimeWarning``."""
        return self.cut_item is not None or self.malformed

    def describe(self) -> str:
        """One sentence for messages and logs."""
        parts: list[str] = []
        if self.data:
            parts.append("data truncated (MSG_TRUNC)")
        if self.ctrunc:
            parts.append("control data truncated (MSG_CTRUNC)")
        if self.cut_item is not None:
            c = self.cut_item
            parts.append(
                f"control message {c.index} (level {c.level}, type {c.type}) kept {c.kept} of {c.claimed} bytes"
            )
        if self.malformed:
            parts.append("a malformed control message header")
        lost = "an unknown number of" if self.fds_lost is None else str(self.fds_lost)
        parts.append(f"{self.fds_delivered} fds delivered, {lost} lost")
        return "; ".join(parts)


class ControlTruncatedError(RuntimeError):
    """Control data was truncated and the policy is ``"raise"``.

    Every fd the receive carried was closed before this was raised (the
    numbers in :attr:`truncation` are no longer open).  :attr:`data` is what
    the receive returned (bytes, or the byte count for ``recvmsg_into_ex``).
    """

    #: What was cut (:class:`Truncation`).
    truncation: Truncation
    #: The bytes received, or their count (``recvmsg_into_ex``).
    data: bytes | int
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


# -- the walk ------------------------------------------------------------------------


@attrs.frozen
class _Walk:
    items: list[RawItem]
    fds: list[int]
    cut_item: CutItem | None
    malformed: bool
    #: fds an SCM_RIGHTS item announced beyond those inside the buffer.
    fds_cut: int


def _walk(control: bytes, abi: ABI) -> _Walk:
    """``sock_recvmsg_guts``'s walk (see ``_cmsg.unpack_ancdata``), keeping
    the claimed length of a cut item."""
    geometry = _cmsg._geometry(abi)
    items: list[RawItem] = []
    fds: list[int] = []
    cut: CutItem | None = None
    malformed = False
    fds_cut = 0
    controllen = len(control)
    layout = abi.cmsg
    offset: int | None = 0 if controllen >= geometry.hdr_size else None
    while offset is not None:
        status, data_len, length = geometry.data_len(control, offset)
        if status < 0:
            malformed = True
            break
        (level,) = geometry.level_format.unpack_from(control, offset + layout.level_offset)
        (kind,) = geometry.type_format.unpack_from(control, offset + layout.type_offset)
        start = offset + geometry.data_offset
        data = bytes(control[start : start + data_len])
        is_rights = level == geometry.sol_socket and kind == geometry.scm_rights
        if is_rights:
            count = data_len // geometry.int_size
            fds.extend(struct.unpack_from(geometry.int_array_format(count), control, start))
        items.append((level, kind, data))
        if status != 0:
            claimed = length - geometry.len0
            cut = CutItem(len(items) - 1, level, kind, data_len, claimed)
            if is_rights:
                fds_cut = claimed // geometry.int_size - data_len // geometry.int_size
            break
        offset = geometry.nxthdr(controllen, offset, length)
    return _Walk(items, fds, cut, malformed, fds_cut)


def _truncation(walk: _Walk, msg_flags: int, abi: ABI) -> Truncation:
    ctrunc = bool(msg_flags & abi.const("MSG_CTRUNC"))
    data = bool(msg_flags & abi.const("MSG_TRUNC"))
    control = ctrunc or walk.cut_item is not None or walk.malformed
    fds_lost: int | None
    if walk.cut_item is not None and walk.cut_item.level == abi.const("SOL_SOCKET") and (
        walk.cut_item.type == abi.const("SCM_RIGHTS")
    ):
        fds_lost = walk.fds_cut
    elif control:
        fds_lost = None
    else:
        fds_lost = 0
    return Truncation(data, control, ctrunc, walk.cut_item, walk.malformed, len(walk.fds), fds_lost)


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
            return Generic.__class_getitem__.__func__(cls, params)


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
            try:
                warnings.warn(f"unclosed received fd {fd}", ResourceWarning, stacklevel=1, source=self)
            finally:
                self._fd = -1
                try:
                    self._drv.close(fd)
                except OSError:
                    pass


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


def _finish(
    sock: SocketType,
    data: _D,
    control: bytes,
    msg_flags: int,
    raw_address: bytes,
    chosen: TruncationPolicy,
    registry: CmsgRegistry | None,
    set_cloexec: bool,
) -> Received[_D, Any]:
    """Decode, apply the policy; on any error close every received fd (``err_closefds``)."""
    abi = sock._k.abi
    drv = sock._drv
    reg = DEFAULT_REGISTRY if registry is None else registry
    try:
        walk = _walk(control, abi) if control else _Walk([], [], None, False, 0)
        truncation = _truncation(walk, msg_flags, abi)
        if set_cloexec:
            for fd in walk.fds:
                drv.set_inheritable(fd, False)
        if truncation.control:
            if chosen == "raise":
                address = sock._decode(raw_address)
                raise ControlTruncatedError(truncation, data, address)
            if chosen == "warn" and truncation.stdlib_warns:
                # stacklevel 3: the caller of recvmsg_ex (recvmsg_ex -> _finish).
                warnings.warn(_cmsg.TRUNCATION_WARNING, RuntimeWarning, stacklevel=3)
        decoded = tuple(reg.decode(level, kind, item, abi) for level, kind, item in walk.items)
        address = sock._decode(raw_address)
        return Received(data, decoded, msg_flags, address, truncation, tuple(walk.items), tuple(walk.fds))
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
    abi = sock._k.abi
    bufsize, ancbufsize, flags = _msgargs.recvmsg_args(bufsize, ancbufsize, flags)
    _address.sockaddr_len(sock._family, abi)
    _msgargs.check_ancbufsize(ancbufsize, abi)
    chosen = truncation_policy(sock) if policy is None else _check_policy(policy)
    extra, set_cloexec = _cloexec_flag(sock, cloexec)
    drv = sock._drv
    data, control, msg_flags, raw = sock._call(False, drv.recvmsg, sock._fd, bufsize, ancbufsize, flags | extra)
    return _finish(sock, data, control, msg_flags, raw, chosen, registry, set_cloexec)


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
    abi = sock._k.abi
    views, ancbufsize, flags = _msgargs.recvmsg_into_args(buffers, ancbufsize, flags)
    _address.sockaddr_len(sock._family, abi)
    _msgargs.check_ancbufsize(ancbufsize, abi)
    chosen = truncation_policy(sock) if policy is None else _check_policy(policy)
    extra, set_cloexec = _cloexec_flag(sock, cloexec)
    drv = sock._drv
    n, control, msg_flags, raw = sock._call(False, drv.recvmsg_into, sock._fd, views, ancbufsize, flags | extra)
    return _finish(sock, n, control, msg_flags, raw, chosen, registry, set_cloexec)


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


def _abi_of(target: ABI | Binding | SocketType) -> ABI:
    if isinstance(target, ABI):
        return target
    k = getattr(target, "_k", None)  # a socket: its constants carry its ABI
    if k is not None:
        socket_abi: ABI = k.abi
        return socket_abi
    binding_abi = getattr(target, "abi", None)  # a Binding
    if isinstance(binding_abi, ABI):
        return binding_abi
    raise TypeError(f"expected an ABI, a Binding or a socket, not {type(target).__name__}")


def ancillary_space(
    target: ABI | Binding | SocketType,
    *,
    fds: int = 0,
    credentials: bool = False,
    timestamp: bool = False,
    timestamp_ns: bool = False,
    pktinfo: bool = False,
    ipv6_pktinfo: bool = False,
    ttl: bool = False,
    hoplimit: bool = False,
    tos: bool = False,
    tclass: bool = False,
    gro: bool = False,
    recverr: bool = False,
    ipv6_recverr: bool = False,
    extra: Iterable[int] = (),
) -> int:
    """The *ancbufsize* that receives every listed item: ``CMSG_SPACE`` of each, summed.

    *target* gives the ABI (an ABI, a binding or a socket).  *extra* lists
    the data sizes of other items.  Summing ``CMSG_LEN`` instead is the
    classic bug: every item but the last needs its padding.
    """
    abi = _abi_of(target)
    if fds < 0:
        raise ValueError("fds must not be negative")
    sizes: list[int] = []
    if fds:
        sizes.append(fds * abi.sizeof_int)
    flags = {
        "credentials": credentials,
        "timestamp": timestamp,
        "timestamp_ns": timestamp_ns,
        "pktinfo": pktinfo,
        "ipv6_pktinfo": ipv6_pktinfo,
        "ttl": ttl,
        "hoplimit": hoplimit,
        "tos": tos,
        "tclass": tclass,
        "gro": gro,
        "recverr": recverr,
        "ipv6_recverr": ipv6_recverr,
    }
    sizes.extend(item_data_size(name, abi) for name, wanted in flags.items() if wanted)
    for size in extra:
        if size < 0:
            raise ValueError("extra sizes must not be negative")
        sizes.append(size)
    return sum(_cmsg.cmsg_space(size, abi) for size in sizes)


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


# -- sendall progress ---------------------------------------------------------------------------


def bytes_sent(exc: BaseException) -> int | None:
    """How many bytes ``sendall`` had sent when it raised *exc* (None if not from sendall).

    ``sendall`` sets ``exc.bytes_sent`` on whatever it raises (the stdlib
    type, message and args are unchanged); this reads it with a type.
    """
    value = getattr(exc, "bytes_sent", None)
    return value if isinstance(value, int) else None
