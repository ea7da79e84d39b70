"""sansock.ancillary: typed control messages and receives you can act on.

Opt-in extensions beyond the stdlib ``socket`` API, which they leave exactly
as it is.  They are functions that take a socket, so a socket keeps the
stdlib's surface:

* **typed control messages**: :class:`Fds`, :class:`Credentials`,
  :class:`Timestamp`, :class:`TimestampNs`, :class:`PacketInfo`,
  :class:`Ipv6PacketInfo`, :class:`TimeToLive`, :class:`HopLimit`,
  :class:`TypeOfService`, :class:`TrafficClass`, :class:`GroSegmentSize`,
  :class:`GsoSegmentSize`, :class:`ExtendedError` -- frozen values with
  ``decode(data, abi)`` and ``encode(abi)`` (a ``sendmsg`` item), laid out
  for the socket's ABI; unknown items stay raw ``(level, type, data)``;
  :class:`CmsgRegistry` adds decoders without a release;
* **a truncation record** (:class:`Truncation`) on every
  :func:`recvmsg_ex` / :func:`recvmsg_into_ex` result, and a policy
  (``"warn"`` as the stdlib, ``"raise"``, ``"ignore"``) per call or per
  socket (:func:`set_truncation_policy`);
* **buffer sizing**: :func:`ancillary_space` (``CMSG_SPACE`` per item,
  summed) and :func:`ancillary_space_for` (from the socket's options);
* **owned fds**: :func:`recvmsg_owned` returns :class:`OwnedFd` objects
  that close themselves, close-on-exec by default;
* **sendall progress**: what ``sendall`` raises carries ``bytes_sent``;
  :func:`bytes_sent` reads it.

See ``docs/extensions.rst`` for worked examples.
"""

from __future__ import annotations

from ._cmsg import CutItem, RawItem, Truncation
from ._control_messages import (
    DEFAULT_REGISTRY,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SO_EE_ORIGIN_LOCAL,
    SO_EE_ORIGIN_NONE,
    SO_EE_ORIGIN_TXSTATUS,
    CmsgRegistry,
    ControlMessage,
    Credentials,
    Decoder,
    ExtendedError,
    Fds,
    GroSegmentSize,
    GsoSegmentSize,
    HopLimit,
    Ipv6PacketInfo,
    PacketInfo,
    TimestampNs,
    Timestamp,
    TimeToLive,
    TrafficClass,
    TypeOfService,
    ancillary_space,
    decode_item,
    encode,
)
from ._received import (
    ControlTruncatedError,
    OwnedFd,
    OwnedReceived,
    Received,
    TruncationPolicy,
    ancillary_space_for,
    recvmsg_ex,
    recvmsg_into_ex,
    recvmsg_owned,
    set_truncation_policy,
    truncation_policy,
)
from ._timeout import bytes_sent

__all__ = [
    "DEFAULT_REGISTRY",
    "SO_EE_ORIGIN_ICMP",
    "SO_EE_ORIGIN_ICMP6",
    "SO_EE_ORIGIN_LOCAL",
    "SO_EE_ORIGIN_NONE",
    "SO_EE_ORIGIN_TXSTATUS",
    "CmsgRegistry",
    "ControlMessage",
    "ControlTruncatedError",
    "Credentials",
    "CutItem",
    "Decoder",
    "ExtendedError",
    "Fds",
    "GroSegmentSize",
    "GsoSegmentSize",
    "HopLimit",
    "Ipv6PacketInfo",
    "OwnedFd",
    "OwnedReceived",
    "PacketInfo",
    "RawItem",
    "Received",
    "TimeToLive",
    "Timestamp",
    "TimestampNs",
    "TrafficClass",
    "Truncation",
    "TruncationPolicy",
    "TypeOfService",
    "ancillary_space",
    "ancillary_space_for",
    "bytes_sent",
    "decode_item",
    "encode",
    "recvmsg_ex",
    "recvmsg_into_ex",
    "recvmsg_owned",
    "set_truncation_policy",
    "truncation_policy",
]
