"""Socket options: ``sock_getsockopt``/``sock_setsockopt`` (net/core/sock.c) and the
protocol levels the fake knows (``do_tcp_getsockopt``, ``udp_lib_getsockopt``,
``do_ip_getsockopt``, ``do_ipv6_getsockopt`` and their ``set`` sides).

Options are stored per socket (``sock.options``: ``(level, option) -> value``)
and read back; an option nobody set reads as Linux's default.  A few of them
act: SO_SNDBUF/SO_RCVBUF (clamped to ``wmem_max``/``rmem_max`` and doubled),
SO_RCVTIMEO/SO_SNDTIMEO (the deadlines of blocking calls, read as the ABI's
``struct timeval``), SO_PASSCRED (AF_UNIX credentials and autobind),
SO_REUSEADDR and IPV6_V6ONLY (the port table), SO_ERROR (read and cleared).
Which protocol levels a socket answers comes from its protocol
(``sock.ops.option_level``, ``sock.ops.unix``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ._objects import FakeSocket
from ._oserror import raise_errno
from ._tcp_state import LOOPBACK_MSS

if TYPE_CHECKING:
    from ._kernel import FakeKernel

__all__ = ["SocketOptions", "SOCK_MIN_SNDBUF", "SOCK_MIN_RCVBUF"]

#: include/net/sock.h: SOCK_MIN_SNDBUF = 2 * TCP_SKB_MIN_TRUESIZE, SOCK_MIN_RCVBUF.
SOCK_MIN_SNDBUF = 4608
SOCK_MIN_RCVBUF = 2304

#: SOL_SOCKET options that hold a flag or a small integer, 0 by default.
_SOL_SOCKET_ZERO = (
    "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST", "SO_OOBINLINE",
    "SO_DONTROUTE", "SO_PRIORITY", "SO_PASSCRED", "SO_DEBUG", "SO_MARK",
    "SO_TIMESTAMP", "SO_TIMESTAMPNS", "SO_PASSSEC", "SO_INCOMING_CPU",
)
#: ``sock_setsockopt`` stores these as 0 or 1 (``valbool``).
_SOL_SOCKET_BOOLEAN = (
    "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST", "SO_OOBINLINE",
    "SO_DONTROUTE", "SO_PASSCRED", "SO_DEBUG", "SO_TIMESTAMP", "SO_TIMESTAMPNS", "SO_PASSSEC",
)
_SOL_SOCKET_READ_ONLY = ("SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL", "SO_ERROR", "SO_ACCEPTCONN", "SO_PEERCRED")
_TCP_DEFAULTS = {
    "TCP_NODELAY": 0, "TCP_MAXSEG": 536, "TCP_CORK": 0, "TCP_KEEPIDLE": 7200,
    "TCP_KEEPINTVL": 75, "TCP_KEEPCNT": 9, "TCP_SYNCNT": 6, "TCP_LINGER2": 60,
    "TCP_DEFER_ACCEPT": 0, "TCP_WINDOW_CLAMP": 0, "TCP_QUICKACK": 1,
    "TCP_USER_TIMEOUT": 0, "TCP_FASTOPEN": 0, "TCP_NOTSENT_LOWAT": 0,
}
_UDP_DEFAULTS = {"UDP_SEGMENT": 0, "UDP_GRO": 0, "UDPLITE_SEND_CSCOV": 0, "UDPLITE_RECV_CSCOV": 0}
_IP_DEFAULTS = {
    "IP_TOS": 0, "IP_TTL": 64, "IP_MULTICAST_TTL": 1, "IP_MULTICAST_LOOP": 1,
    "IP_RECVTOS": 0, "IP_RECVTTL": 0, "IP_PKTINFO": 0, "IP_RECVERR": 0,
    "IP_TRANSPARENT": 0, "IP_BIND_ADDRESS_NO_PORT": 0, "IP_HDRINCL": 0,
}
_IPV6_DEFAULTS = {
    "IPV6_V6ONLY": 0, "IPV6_UNICAST_HOPS": 64, "IPV6_MULTICAST_HOPS": 1,
    "IPV6_MULTICAST_LOOP": 1, "IPV6_RECVPKTINFO": 0, "IPV6_TCLASS": 0,
    "IPV6_RECVTCLASS": 0, "IPV6_RECVERR": 0, "IPV6_DONTFRAG": 0, "IPV6_RECVHOPLIMIT": 0,
}
#: do_ip_setsockopt / do_ipv6_setsockopt store these as 0 or 1 (``val != 0``).
_IP_BOOLEAN = ("IP_RECVTOS", "IP_RECVTTL", "IP_PKTINFO")
_IPV6_BOOLEAN = ("IPV6_RECVPKTINFO", "IPV6_RECVHOPLIMIT", "IPV6_RECVTCLASS")


class SocketOptions:
    """The option rules of one kernel, with the ABI's values resolved once."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        abi = self.abi = kernel.abi
        c = abi.const
        self.SOL_SOCKET = sol = c("SOL_SOCKET")
        self.SO_ERROR = c("SO_ERROR")
        self.AF_INET6 = c("AF_INET6")
        self.IPPROTO_IP, self.IPPROTO_IPV6 = c("IPPROTO_IP"), c("IPPROTO_IPV6")
        self.IPPROTO_TCP, self.IPPROTO_UDP = c("IPPROTO_TCP"), c("IPPROTO_UDP")
        self._rcvtimeo = (sol, c("SO_RCVTIMEO"))
        self._sndtimeo = (sol, c("SO_SNDTIMEO"))
        # Linux's SO_PASSCRED; -1 (never stored: not settable) on a platform without it.
        self._passcred = (sol, abi.constants.get("SO_PASSCRED", -1))
        self._reuseaddr = (sol, c("SO_REUSEADDR"))
        self._rcvlowat = (sol, c("SO_RCVLOWAT"))
        self._v6only = (self.IPPROTO_IPV6, c("IPV6_V6ONLY"))
        # A name the profile lacks is an option this platform does not have.
        known = abi.constants
        self._zero = frozenset(known[n] for n in _SOL_SOCKET_ZERO if n in known)
        self._boolean = frozenset(known[n] for n in _SOL_SOCKET_BOOLEAN if n in known)
        self._read_only = frozenset(known[n] for n in _SOL_SOCKET_READ_ONLY if n in known)
        self._levels = {
            level: {known[n]: v for n, v in table.items() if n in known}
            for level, table in (
                (self.IPPROTO_TCP, _TCP_DEFAULTS), (self.IPPROTO_UDP, _UDP_DEFAULTS),
                (self.IPPROTO_IP, _IP_DEFAULTS), (self.IPPROTO_IPV6, _IPV6_DEFAULTS),
            )
        }
        self.TCP_NODELAY = c("TCP_NODELAY")
        self._ip_boolean = frozenset(
            [(self.IPPROTO_IP, known[n]) for n in _IP_BOOLEAN if n in known]
            + [(self.IPPROTO_IPV6, known[n]) for n in _IPV6_BOOLEAN if n in known]
        )
        self._ip_ttl = (self.IPPROTO_IP, known.get("IP_TTL", -2))
        self._ip_tos = (self.IPPROTO_IP, known.get("IP_TOS", -2))
        self._ipv6_ranged = ((self.IPPROTO_IPV6, known.get("IPV6_UNICAST_HOPS", -2)),
                             (self.IPPROTO_IPV6, known.get("IPV6_TCLASS", -2)))
        # udp_lib_{get,set}sockopt serve SOL_UDP and SOL_UDPLITE alike, on UDP
        # and UDP-Lite sockets; the checksum coverages are UDP-Lite's alone.
        self.IPPROTO_UDPLITE = known.get("IPPROTO_UDPLITE", -1)
        self._cscov = frozenset(known[n] for n in ("UDPLITE_SEND_CSCOV", "UDPLITE_RECV_CSCOV") if n in known)

        self.TCP_CORK = known.get("TCP_CORK", -1)
        self.TCP_NOTSENT_LOWAT = known.get("TCP_NOTSENT_LOWAT", -1)
        self.TCP_MAXSEG = known.get("TCP_MAXSEG", -1)
        #: TCP options the fake would have to answer from state it does not keep.
        self._tcp_unmodelled = {known[n]: n for n in ("TCP_INFO", "TCP_CONGESTION", "TCP_MD5SIG", "TCP_REPAIR",
                                                       "TCP_ULP", "TCP_SAVED_SYN", "TCP_ZEROCOPY_RECEIVE",
                                                       "TCP_FASTOPEN_CONNECT", "TCP_CC_INFO") if n in known}
        #: TCP options whose non-zero value changes what Linux answers in ways the fake does not follow.
        self._tcp_inert = {known[n]: n for n in ("TCP_DEFER_ACCEPT", "TCP_WINDOW_CLAMP")
                           if n in known}
        # struct timeval: {time_t tv_sec; suseconds_t tv_usec}.  Both are a
        # long on Linux (``__kernel_old_timeval``: 8 bytes on linux-i386's
        # 32-bit time_t, 16 on LP64); XNU's tv_usec is an int32 padded to 16.
        long_size = abi.sizeof_long
        self._tv_sec_size = long_size
        self._tv_usec_size = 4 if abi.name.startswith("darwin") else long_size
        self.timeval_size = 2 * long_size
        self._endian = "<" if abi.byteorder == "little" else ">"

    # -- the options that act ------------------------------------------------
    def rcvtimeo_deadline(self, sock: FakeSocket) -> int | None:
        """SO_RCVTIMEO as a virtual deadline (``sock_rcvtimeo``); None waits forever."""
        return self._deadline(sock.options.get(self._rcvtimeo))

    def sndtimeo_deadline(self, sock: FakeSocket) -> int | None:
        """SO_SNDTIMEO as a virtual deadline (``sock_sndtimeo``); None waits forever."""
        return self._deadline(sock.options.get(self._sndtimeo))

    def _deadline(self, value: int | bytes | None) -> int | None:
        if not isinstance(value, bytes):
            return None
        sec_size = self._tv_sec_size
        order = self.abi.byteorder
        sec = int.from_bytes(value[:sec_size], order, signed=True)
        usec = int.from_bytes(value[sec_size : sec_size + self._tv_usec_size], order, signed=True)
        if sec == 0 and usec == 0:
            return None
        return self.kernel._scheduler.now_ns + sec * 1_000_000_000 + usec * 1000

    def passcred(self, sock: FakeSocket) -> bool:
        """SO_PASSCRED: credentials with every AF_UNIX message (and autobind on send/connect)."""
        return bool(sock.options.get(self._passcred, 0))

    def rcvlowat(self, sock: FakeSocket) -> int:
        """SO_RCVLOWAT (``sk_rcvlowat``): how many bytes a blocking stream read waits for."""
        value = sock.options.get(self._rcvlowat, 1)
        return value if isinstance(value, int) else 1

    def tcp_cork(self, sock: FakeSocket) -> bool:
        return bool(sock.options.get((self.IPPROTO_TCP, self.TCP_CORK)))

    def notsent_lowat(self, sock: FakeSocket) -> int:
        """TCP_NOTSENT_LOWAT (``tcp_notsent_lowat``); 0 is net.ipv4.tcp_notsent_lowat's
        default, UINT_MAX: no limit."""
        value = sock.options.get((self.IPPROTO_TCP, self.TCP_NOTSENT_LOWAT), 0)
        return value if isinstance(value, int) else 0

    def reuseaddr(self, sock: FakeSocket) -> bool:
        return bool(sock.options.get(self._reuseaddr))

    def v6only(self, sock: FakeSocket) -> bool:
        return bool(sock.options.get(self._v6only))

    # -- defaults ------------------------------------------------------------
    def default(self, sock: FakeSocket, level: int, option: int, *, for_set: bool = False) -> int | bytes | None:
        """Linux's value of an option nobody set; None when the option is unknown here."""
        if level == self.SOL_SOCKET:
            return self._sol_socket_default(sock, option)
        ops = sock.ops
        if ops.unix:
            return None
        inet6 = sock.family == self.AF_INET6
        if level not in (ops.option_level, self.IPPROTO_IP) and not (inet6 and level == self.IPPROTO_IPV6):
            # tcp/udp_getsockopt hand other levels to ip_getsockopt (EOPNOTSUPP
            # for a level it does not know) or ipv6_getsockopt (ENOPROTOOPT).
            # do_ip_setsockopt answers ENOPROTOOPT where do_ip_getsockopt
            # answers EOPNOTSUPP.
            raise_errno(self.abi.errno("ENOPROTOOPT" if inet6 or for_set else "EOPNOTSUPP"))
        if level == self.IPPROTO_TCP and option in self._tcp_unmodelled and ops.option_level == level:
            raise NotImplementedError(f"the fake kernel does not model {self._tcp_unmodelled[option]}")
        if level == self.IPPROTO_TCP and option == self.TCP_MAXSEG and sock.tcp is not None and sock.state == "connected":
            return LOOPBACK_MSS  # tp->mss_cache of a loopback connection (the host's MTU decides on Linux)
        return self._levels[level].get(option)

    def _sol_socket_default(self, sock: FakeSocket, option: int) -> int | bytes | None:
        c = self.abi.const
        if option == c("SO_TYPE"):
            return sock.type
        if option == c("SO_DOMAIN"):
            return sock.family
        if option == c("SO_PROTOCOL"):
            return sock.proto
        if option == self.SO_ERROR:
            code, sock.error = sock.error, 0
            return code
        if option == c("SO_ACCEPTCONN"):
            return int(sock.state == "listening")
        if option == c("SO_SNDBUF"):
            return sock.sndbuf
        if option == c("SO_RCVBUF"):
            return sock.rcvbuf
        if option in (c("SO_RCVLOWAT"), c("SO_SNDLOWAT")):
            return 1
        if option == c("SO_PEEK_OFF"):
            return -1
        if option in (self._rcvtimeo[1], self._sndtimeo[1]):
            return bytes(self.timeval_size)
        if option == c("SO_LINGER"):
            return bytes(2 * self.abi.sizeof_int)  # struct linger {int l_onoff; int l_linger;}
        if option == c("SO_PEERCRED"):
            cred = sock.peer_credentials
            if cred is None:
                return struct.pack(self._endian + "iII", 0, 0xFFFFFFFF, 0xFFFFFFFF)
            return struct.pack(self._endian + "iII", cred.pid, cred.uid, cred.gid)
        if option in self._zero:
            return 0
        return None

    def _unknown(self, sock: FakeSocket, level: int) -> None:
        if sock.ops.unix and level != self.SOL_SOCKET:
            raise_errno(self.abi.errno("EOPNOTSUPP"))  # unix sockets have no protocol-level options
        raise_errno(self.abi.errno("ENOPROTOOPT"))

    # -- getsockopt ----------------------------------------------------------
    def _level(self, sock: FakeSocket, level: int) -> int:
        """SOL_UDPLITE is SOL_UDP on a UDP or UDP-Lite socket (``udp_setsockopt``)."""
        if level == self.IPPROTO_UDPLITE and sock.ops.option_level == self.IPPROTO_UDP:
            return self.IPPROTO_UDP
        return level

    def value(self, sock: FakeSocket, level: int, option: int) -> int | bytes:
        """The option's value: stored, else the default; the errno for an unknown option."""
        level = self._level(sock, level)
        stored = sock.options.get((level, option))
        if stored is not None:
            return stored
        value = self.default(sock, level, option)
        if value is None:
            self._unknown(sock, level)
        assert value is not None
        return value

    def get_int(self, sock: FakeSocket, level: int, option: int) -> int:
        value = self.value(sock, level, option)
        if isinstance(value, bytes):
            return int.from_bytes(value[:4].ljust(4, b"\0"), self.abi.byteorder, signed=True)
        return value

    def get_bytes(self, sock: FakeSocket, level: int, option: int, buflen: int) -> bytes:
        if buflen < 0:
            raise_errno(self.abi.errno("EINVAL"))
        value = self.value(sock, level, option)
        if isinstance(value, int):
            value = value.to_bytes(4, self.abi.byteorder, signed=value < 0)
        return value[:buflen]

    # -- setsockopt ----------------------------------------------------------
    def _ip_value(self, sock: FakeSocket, key: tuple[int, int], value: int) -> int:
        """What do_ip_setsockopt / do_ipv6_setsockopt store for the options UDP's
        ancillary data reads (``_ip_ctl``); EINVAL out of range."""
        if key in self._ip_boolean:
            return int(value != 0)
        if key == self._ip_tos:
            value &= 0xFF  # inet->tos is a u8
            return self._keep_ecn(sock, key, value)
        if key == self._ip_ttl:
            if value != -1 and not 1 <= value <= 255:
                raise_errno(self.abi.errno("EINVAL"))
            return 64 if value == -1 else value  # uc_ttl -1: net.ipv4.ip_default_ttl
        if key in self._ipv6_ranged:
            if not -1 <= value <= 255:
                raise_errno(self.abi.errno("EINVAL"))
            # hop_limit -1: the route's (64 on lo); tclass -1: RFC 3542's default 0.
            if key == self._ipv6_ranged[0]:
                return 64 if value == -1 else value
            return self._keep_ecn(sock, key, 0 if value == -1 else value)
        return value

    def _keep_ecn(self, sock: FakeSocket, key: tuple[int, int], value: int) -> int:
        """``__ip_sock_set_tos`` / ``do_ipv6_setsockopt(IPV6_TCLASS)`` on a
        SOCK_STREAM socket: "val &= ~INET_ECN_MASK; val |= inet->tos &
        INET_ECN_MASK" -- the two ECN bits stay the kernel's (0: no ECN is
        negotiated on the fake's connections)."""
        if sock.ops.option_level != self.IPPROTO_TCP or self.kernel.personality != "linux":
            return value
        old = sock.options.get(key, 0)
        return (value & ~3) | (old & 3 if isinstance(old, int) else 0)

    def check_settable(self, sock: FakeSocket, level: int, option: int) -> int | bytes:
        """The option's current default, or the errno for an option the protocol does not know."""
        level = self._level(sock, level)
        known = (
            self.default(sock, level, option, for_set=True)
            if (level, option) != (self.SOL_SOCKET, self.SO_ERROR)
            else 0
        )
        if known is None:
            self._unknown(sock, level)
        assert known is not None
        return known

    def set(self, sock: FakeSocket, level: int, option: int, raw: bytes) -> None:
        """``setsockopt`` with the option's bytes (an int option takes a C ``int``)."""
        c = self.abi.const
        level = self._level(sock, level)
        known = self.check_settable(sock, level, option)
        sol = level == self.SOL_SOCKET
        if sol and option in self._read_only:
            raise_errno(self.abi.errno("ENOPROTOOPT"))
        if isinstance(known, bytes):
            if len(raw) < len(known):
                raise_errno(self.abi.errno("EINVAL"))
            sock.options[(level, option)] = raw[: len(known)]
            return
        if len(raw) < 4:
            raise_errno(self.abi.errno("EINVAL"))
        value = int.from_bytes(raw[:4], self.abi.byteorder, signed=True)
        kernel = self.kernel
        if sol and option == c("SO_SNDBUF"):
            # sock_setsockopt: min(val, wmem_max) as u32, doubled, at least SOCK_MIN_SNDBUF.
            # The user's size stops autotuning (SOCK_SNDBUF_LOCK).
            sock.sndbuf = max(min(value & 0xFFFFFFFF, kernel.wmem_max) * 2, SOCK_MIN_SNDBUF)
            sock.userlocks |= 1
            return
        if sol and option == c("SO_RCVBUF"):
            sock.rcvbuf = max(min(value & 0xFFFFFFFF, kernel.rmem_max) * 2, SOCK_MIN_RCVBUF)
            sock.userlocks |= 2
            return
        if sol and option == c("SO_RCVLOWAT"):
            # sk_setsockopt: a negative value means INT_MAX, 0 means 1;
            # tcp_set_rcvlowat caps it at half the most the receive buffer may hold.
            value = 0x7FFFFFFF if value < 0 else value
            if sock.ops.option_level == self.IPPROTO_TCP:
                cap = sock.rcvbuf if sock.userlocks & 2 else kernel.tcp_rmem_max
                value = min(value, cap >> 1)
                # ... and makes the receive buffer room for it (tcp_space_from_win: twice).
                if not sock.userlocks & 2 and 2 * value > sock.rcvbuf:
                    sock.rcvbuf = 2 * value
            sock.options[(level, option)] = value or 1
            return
        if sol and option == c("SO_PEEK_OFF"):
            raise NotImplementedError("the fake kernel does not model SO_PEEK_OFF peek offsets")
        if level == self.IPPROTO_UDP and option in self._cscov:
            # udp_lib_setsockopt: ENOPROTOOPT unless UDP-Lite; a coverage
            # below 8 (but not 0) becomes 8, above 0xFFFF 0xFFFF.
            if sock.proto != self.IPPROTO_UDPLITE:
                raise_errno(self.abi.errno("ENOPROTOOPT"))
            value = 8 if value != 0 and value < 8 else min(value, 0xFFFF)
        if (sol and option in self._boolean) or (level == self.IPPROTO_TCP and option == self.TCP_NODELAY):
            value = int(value != 0)
        if level in (self.IPPROTO_IP, self.IPPROTO_IPV6) and not sock.ops.unix:
            value = self._ip_value(sock, (level, option), value)
        if level == self.IPPROTO_TCP and value and option in self._tcp_inert and sock.ops.option_level == level:
            raise NotImplementedError(
                f"the fake kernel does not model {self._tcp_inert[option]} (it would store it and not act on it)"
            )
        sock.options[(level, option)] = value
        if level == self.IPPROTO_TCP and option == self.TCP_CORK and not value and sock.ops.option_level == level:
            uncork = getattr(sock.ops, "uncork", None)
            if uncork is not None:
                uncork(sock)
