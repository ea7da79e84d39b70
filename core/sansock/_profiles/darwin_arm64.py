"""The darwin-arm64 ABI profile: macOS on Apple silicon (LP64, XNU).

Values come from the XNU / macOS SDK headers (apple-oss-distributions/xnu
``bsd/sys/socket.h``, ``bsd/sys/errno.h``, ``bsd/sys/filio.h``; the SDK's
``<sys/fcntl.h>``, ``<sys/poll.h>``, ``<sys/ioccom.h>``, ``<netinet/in.h>``,
``<netinet6/in6.h>``, ``<netinet/tcp.h>``, ``<sys/un.h>``) as seen by a program
compiled in the default ``_DARWIN_C_SOURCE`` environment (no
``_POSIX_C_SOURCE``), which is how CPython is built on macOS.  They could not
be compiled here; each group cites its header.

BSD layout facts: every sockaddr starts with a ``uint8_t sa_len`` then a
``uint8_t sa_family`` (``sa_family_t`` is ``__uint8_t``); ``struct cmsghdr``
is ``{ socklen_t cmsg_len; int cmsg_level; int cmsg_type; }`` (12 bytes) and
``CMSG_LEN``/``CMSG_SPACE`` align with ``__DARWIN_ALIGN32`` (4 bytes, from
``<arm/_param.h>``), even though ``size_t`` is 8 bytes.

Left out, because the value depends on a feature macro or could not be read
in a header: ``IPV6_PKTINFO``, ``IPV6_RECVPKTINFO``, ``IPV6_HOPLIMIT``,
``IPV6_RECVHOPLIMIT`` and the other RFC 3542 options (46..51, 61, 37..40 only
under ``__APPLE_USE_RFC_3542``, RFC 2292 values otherwise);
``IPV6_UNICAST_HOPS``, ``IPV6_MULTICAST_IF``, ``IPV6_MULTICAST_HOPS``;
``TCP_KEEPINTVL``, ``TCP_KEEPCNT`` and later TCP options; ``MSG_WAITSTREAM``
(``__APPLE_API_OBSOLETE`` only); the ``getaddrinfo`` ``AI_*``/``NI_*``/
``EAI_*`` values (Libinfo's ``<netdb.h>``, not XNU); ``POLLRDHUP``,
``SOCK_NONBLOCK``, ``SOCK_CLOEXEC``, ``MSG_CMSG_CLOEXEC``, ``SO_PEEK_OFF``,
``SCM_CREDENTIALS``, ``SO_PASSCRED`` and ``SIOCGIF*`` (Darwin has no such
constant or they were not checked).  ``iov_max`` (1024) is the documented
macOS ``IOV_MAX`` but was not read in a header for this profile.

Format rule: ``CONSTANTS`` and ``ERRNOS`` are pure literals, readable with
``ast.literal_eval`` (see ``linux_x86_64``).
"""

from __future__ import annotations

from sansock._abi import ABI, CmsgLayout, SockaddrLayout

__all__ = ["CONSTANTS", "DARWIN_ARM64", "ERRNOS"]

CONSTANTS = {
    # Address families: <sys/socket.h>.  PF_* equal AF_*.
    "AF_UNSPEC": 0,
    "AF_UNIX": 1,
    "AF_INET": 2,
    "AF_IMPLINK": 3,
    "AF_PUP": 4,
    "AF_CHAOS": 5,
    "AF_NS": 6,
    "AF_ISO": 7,
    "AF_ECMA": 8,
    "AF_DATAKIT": 9,
    "AF_CCITT": 10,
    "AF_SNA": 11,
    "AF_DECnet": 12,
    "AF_DLI": 13,
    "AF_LAT": 14,
    "AF_HYLINK": 15,
    "AF_APPLETALK": 16,
    "AF_ROUTE": 17,
    "AF_LINK": 18,
    "AF_COIP": 20,
    "AF_CNT": 21,
    "AF_IPX": 23,
    "AF_SIP": 24,
    "AF_NDRV": 27,
    "AF_ISDN": 28,
    "AF_E164": 28,
    "AF_INET6": 30,
    "AF_NATM": 31,
    "AF_SYSTEM": 32,
    "AF_NETBIOS": 33,
    "AF_PPP": 34,
    "AF_IEEE80211": 37,
    "AF_UTUN": 38,
    "AF_VSOCK": 40,
    "PF_UNSPEC": 0,
    "PF_UNIX": 1,
    "PF_INET": 2,
    "PF_ROUTE": 17,
    "PF_LINK": 18,
    "PF_INET6": 30,
    "PF_SYSTEM": 32,

    # Socket types: <sys/socket.h> (no SOCK_NONBLOCK/SOCK_CLOEXEC type flags on Darwin).
    "SOCK_STREAM": 1,
    "SOCK_DGRAM": 2,
    "SOCK_RAW": 3,
    "SOCK_RDM": 4,
    "SOCK_SEQPACKET": 5,

    # Option level: <sys/socket.h>.  Protocol levels are the IPPROTO_* numbers.
    "SOL_SOCKET": 0xffff,

    # SOL_SOCKET options: <sys/socket.h>.  SO_LINGER is 0x80 (ticks) in the default
    # _DARWIN_C_SOURCE environment CPython builds in; 0x1080 only under strict _POSIX_C_SOURCE.
    "SO_DEBUG": 0x1,
    "SO_ACCEPTCONN": 0x2,
    "SO_REUSEADDR": 0x4,
    "SO_KEEPALIVE": 0x8,
    "SO_DONTROUTE": 0x10,
    "SO_BROADCAST": 0x20,
    "SO_USELOOPBACK": 0x40,
    "SO_LINGER": 0x80,
    "SO_OOBINLINE": 0x100,
    "SO_REUSEPORT": 0x200,
    "SO_TIMESTAMP": 0x400,
    "SO_TIMESTAMP_MONOTONIC": 0x800,
    "SO_DONTTRUNC": 0x2000,
    "SO_WANTMORE": 0x4000,
    "SO_WANTOOBFLAG": 0x8000,
    "SO_SNDBUF": 0x1001,
    "SO_RCVBUF": 0x1002,
    "SO_SNDLOWAT": 0x1003,
    "SO_RCVLOWAT": 0x1004,
    "SO_SNDTIMEO": 0x1005,
    "SO_RCVTIMEO": 0x1006,
    "SO_ERROR": 0x1007,
    "SO_TYPE": 0x1008,
    "SO_LABEL": 0x1010,
    "SO_PEERLABEL": 0x1011,
    "SO_NREAD": 0x1020,
    "SO_NKE": 0x1021,
    "SO_NOSIGPIPE": 0x1022,
    "SO_NOADDRERR": 0x1023,
    "SO_NWRITE": 0x1024,
    "SO_REUSESHAREUID": 0x1025,
    "SO_LINGER_SEC": 0x1080,
    "SO_RANDOMPORT": 0x1082,
    "SO_NP_EXTENSIONS": 0x1083,
    "SO_NUMRCVPKT": 0x1112,
    "SO_NET_SERVICE_TYPE": 0x1116,
    "SO_NETSVC_MARKING_LEVEL": 0x1119,
    "SO_RESOLVER_SIGNATURE": 0x1131,

    # Control message types at SOL_SOCKET: <sys/socket.h>.
    "SCM_RIGHTS": 0x1,
    "SCM_TIMESTAMP": 0x2,
    "SCM_CREDS": 0x3,
    "SCM_TIMESTAMP_MONOTONIC": 0x4,

    # send/recv flags: <sys/socket.h>.
    "MSG_OOB": 0x1,
    "MSG_PEEK": 0x2,
    "MSG_DONTROUTE": 0x4,
    "MSG_EOR": 0x8,
    "MSG_TRUNC": 0x10,
    "MSG_CTRUNC": 0x20,
    "MSG_WAITALL": 0x40,
    "MSG_DONTWAIT": 0x80,
    "MSG_EOF": 0x100,
    "MSG_FLUSH": 0x400,
    "MSG_HOLD": 0x800,
    "MSG_SEND": 0x1000,
    "MSG_HAVEMORE": 0x2000,
    "MSG_RCVMORE": 0x4000,
    "MSG_NEEDSA": 0x10000,
    "MSG_NOSIGNAL": 0x80000,

    # shutdown() how and listen() limit: <sys/socket.h>.
    "SHUT_RD": 0,
    "SHUT_WR": 1,
    "SHUT_RDWR": 2,
    "SOMAXCONN": 128,

    # Protocol numbers, ports and addresses: <netinet/in.h>.
    "IPPROTO_IP": 0,
    "IPPROTO_HOPOPTS": 0,
    "IPPROTO_ICMP": 1,
    "IPPROTO_IGMP": 2,
    "IPPROTO_GGP": 3,
    "IPPROTO_IPV4": 4,
    "IPPROTO_IPIP": 4,
    "IPPROTO_TCP": 6,
    "IPPROTO_ST": 7,
    "IPPROTO_EGP": 8,
    "IPPROTO_PUP": 12,
    "IPPROTO_UDP": 17,
    "IPPROTO_IDP": 22,
    "IPPROTO_TP": 29,
    "IPPROTO_XTP": 36,
    "IPPROTO_IPV6": 41,
    "IPPROTO_ROUTING": 43,
    "IPPROTO_FRAGMENT": 44,
    "IPPROTO_RSVP": 46,
    "IPPROTO_GRE": 47,
    "IPPROTO_ESP": 50,
    "IPPROTO_AH": 51,
    "IPPROTO_ICMPV6": 58,
    "IPPROTO_NONE": 59,
    "IPPROTO_DSTOPTS": 60,
    "IPPROTO_HELLO": 63,
    "IPPROTO_ND": 77,
    "IPPROTO_EON": 80,
    "IPPROTO_PIM": 103,
    "IPPROTO_IPCOMP": 108,
    "IPPROTO_SCTP": 132,
    "IPPROTO_RAW": 255,
    "IPPROTO_MAX": 256,
    "IPPORT_RESERVED": 1024,
    "IPPORT_USERRESERVED": 5000,
    "INADDR_ANY": 0x0,
    "INADDR_LOOPBACK": 0x7f000001,
    "INADDR_UNSPEC_GROUP": 0xe0000000,
    "INADDR_ALLHOSTS_GROUP": 0xe0000001,
    "INADDR_MAX_LOCAL_GROUP": 0xe00000ff,
    "INADDR_BROADCAST": 0xffffffff,
    "INADDR_NONE": 0xffffffff,

    # IPPROTO_IP options: <netinet/in.h>.
    "IP_OPTIONS": 1,
    "IP_HDRINCL": 2,
    "IP_TOS": 3,
    "IP_TTL": 4,
    "IP_RECVOPTS": 5,
    "IP_RECVRETOPTS": 6,
    "IP_RECVDSTADDR": 7,
    "IP_RETOPTS": 8,
    "IP_MULTICAST_IF": 9,
    "IP_MULTICAST_TTL": 10,
    "IP_MULTICAST_LOOP": 11,
    "IP_ADD_MEMBERSHIP": 12,
    "IP_DROP_MEMBERSHIP": 13,
    "IP_RECVIF": 20,
    "IP_RECVTTL": 24,
    "IP_BOUND_IF": 25,
    "IP_PKTINFO": 26,
    "IP_RECVPKTINFO": 26,
    "IP_RECVTOS": 27,
    "IP_DONTFRAG": 28,
    "IP_DEFAULT_MULTICAST_TTL": 1,
    "IP_DEFAULT_MULTICAST_LOOP": 1,
    "IP_MAX_MEMBERSHIPS": 4095,

    # IPPROTO_IPV6 options: <netinet6/in6.h>, only those defined without __APPLE_USE_RFC_3542.
    "IPV6_RTHDR_TYPE_0": 0,
    "IPV6_MULTICAST_LOOP": 11,
    "IPV6_JOIN_GROUP": 12,
    "IPV6_LEAVE_GROUP": 13,
    "IPV6_CHECKSUM": 26,
    "IPV6_V6ONLY": 27,
    "IPV6_RECVTCLASS": 35,
    "IPV6_TCLASS": 36,
    "IPV6_BOUND_IF": 125,

    # IPPROTO_TCP options: <netinet/tcp.h>.
    "TCP_NODELAY": 0x1,
    "TCP_MAXSEG": 0x2,
    "TCP_NOPUSH": 0x4,
    "TCP_NOOPT": 0x8,
    "TCP_KEEPALIVE": 0x10,
    "TCP_CONNECTIONTIMEOUT": 0x20,

    # poll() events: <sys/poll.h> (no POLLRDHUP on Darwin).
    "POLLIN": 0x1,
    "POLLPRI": 0x2,
    "POLLOUT": 0x4,
    "POLLERR": 0x8,
    "POLLHUP": 0x10,
    "POLLNVAL": 0x20,
    "POLLRDNORM": 0x40,
    "POLLWRNORM": 0x4,
    "POLLRDBAND": 0x80,
    "POLLWRBAND": 0x100,

    # fcntl() commands and flags: <sys/fcntl.h>.
    "F_GETFD": 1,
    "F_SETFD": 2,
    "F_GETFL": 3,
    "F_SETFL": 4,
    "F_DUPFD_CLOEXEC": 67,
    "FD_CLOEXEC": 1,
    "O_NONBLOCK": 0x4,
    "O_CLOEXEC": 0x1000000,

    # ioctl() requests: <sys/filio.h>, encoded by <sys/ioccom.h>:
    # FIONREAD = _IOR('f', 127, int), FIONBIO = _IOW('f', 126, int).
    "FIONREAD": 0x4004667f,
    "FIONBIO": 0x8004667e,

    # errno values the socket module re-exports: <sys/errno.h>.
    "EBADF": 9,
    "EAGAIN": 35,
    "EWOULDBLOCK": 35,
}

ERRNOS = {
    # <sys/errno.h>: the default (__DARWIN_C_FULL, __DARWIN_UNIX03) values, so
    # EOPNOTSUPP is 102 and distinct from ENOTSUP 45; EWOULDBLOCK == EAGAIN.
    "EPERM": 1,
    "ENOENT": 2,
    "ESRCH": 3,
    "EINTR": 4,
    "EIO": 5,
    "ENXIO": 6,
    "E2BIG": 7,
    "ENOEXEC": 8,
    "EBADF": 9,
    "ECHILD": 10,
    "EDEADLK": 11,
    "ENOMEM": 12,
    "EACCES": 13,
    "EFAULT": 14,
    "ENOTBLK": 15,
    "EBUSY": 16,
    "EEXIST": 17,
    "EXDEV": 18,
    "ENODEV": 19,
    "ENOTDIR": 20,
    "EISDIR": 21,
    "EINVAL": 22,
    "ENFILE": 23,
    "EMFILE": 24,
    "ENOTTY": 25,
    "ETXTBSY": 26,
    "EFBIG": 27,
    "ENOSPC": 28,
    "ESPIPE": 29,
    "EROFS": 30,
    "EMLINK": 31,
    "EPIPE": 32,
    "EDOM": 33,
    "ERANGE": 34,
    "EAGAIN": 35,
    "EWOULDBLOCK": 35,
    "EINPROGRESS": 36,
    "EALREADY": 37,
    "ENOTSOCK": 38,
    "EDESTADDRREQ": 39,
    "EMSGSIZE": 40,
    "EPROTOTYPE": 41,
    "ENOPROTOOPT": 42,
    "EPROTONOSUPPORT": 43,
    "ESOCKTNOSUPPORT": 44,
    "ENOTSUP": 45,
    "EPFNOSUPPORT": 46,
    "EAFNOSUPPORT": 47,
    "EADDRINUSE": 48,
    "EADDRNOTAVAIL": 49,
    "ENETDOWN": 50,
    "ENETUNREACH": 51,
    "ENETRESET": 52,
    "ECONNABORTED": 53,
    "ECONNRESET": 54,
    "ENOBUFS": 55,
    "EISCONN": 56,
    "ENOTCONN": 57,
    "ESHUTDOWN": 58,
    "ETOOMANYREFS": 59,
    "ETIMEDOUT": 60,
    "ECONNREFUSED": 61,
    "ELOOP": 62,
    "ENAMETOOLONG": 63,
    "EHOSTDOWN": 64,
    "EHOSTUNREACH": 65,
    "ENOTEMPTY": 66,
    "EPROCLIM": 67,
    "EUSERS": 68,
    "EDQUOT": 69,
    "ESTALE": 70,
    "EREMOTE": 71,
    "EBADRPC": 72,
    "ERPCMISMATCH": 73,
    "EPROGUNAVAIL": 74,
    "EPROGMISMATCH": 75,
    "EPROCUNAVAIL": 76,
    "ENOLCK": 77,
    "ENOSYS": 78,
    "EFTYPE": 79,
    "EAUTH": 80,
    "ENEEDAUTH": 81,
    "EPWROFF": 82,
    "EDEVERR": 83,
    "EOVERFLOW": 84,
    "EBADEXEC": 85,
    "EBADARCH": 86,
    "ESHLIBVERS": 87,
    "EBADMACHO": 88,
    "ECANCELED": 89,
    "EIDRM": 90,
    "ENOMSG": 91,
    "EILSEQ": 92,
    "ENOATTR": 93,
    "EBADMSG": 94,
    "EMULTIHOP": 95,
    "ENODATA": 96,
    "ENOLINK": 97,
    "ENOSR": 98,
    "ENOSTR": 99,
    "EPROTO": 100,
    "ETIME": 101,
    "EOPNOTSUPP": 102,
    "ENOPOLICY": 103,
    "ENOTRECOVERABLE": 104,
    "EOWNERDEAD": 105,
    "EQFULL": 106,
}

#: The darwin-arm64 ABI value.
DARWIN_ARM64 = ABI(
    name="darwin-arm64",
    byteorder="little",
    # LP64 (arm64 Darwin ABI): <arm/_types.h>; socklen_t is __darwin_socklen_t,
    # a __uint32_t (<sys/_types.h>).
    sizeof_int=4,
    sizeof_long=8,
    sizeof_socklen_t=4,
    sizeof_size_t=8,
    # <sys/socket.h>: struct cmsghdr { socklen_t cmsg_len; int cmsg_level;
    # int cmsg_type; }; CMSG_LEN(l) == __DARWIN_ALIGN32(sizeof(struct
    # cmsghdr)) + l, and __DARWIN_ALIGNBYTES32 is sizeof(__uint32_t) - 1
    # (<arm/_param.h>): CMSG_LEN(0) == 12, CMSG_SPACE(1) == 16.
    cmsg=CmsgLayout(len_size=4, hdr_size=12, level_offset=4, type_offset=8, align=4),
    sockaddr=SockaddrLayout(
        # <sys/socket.h>: struct sockaddr { __uint8_t sa_len; sa_family_t sa_family; ... }.
        has_sa_len=True,
        # <sys/un.h>: char sun_path[104].
        sun_path_size=104,
        sizes={
            "sockaddr": 16,  # <sys/socket.h>: 1 + 1 + char sa_data[14]
            "sockaddr_storage": 128,  # <sys/socket.h>: _SS_MAXSIZE 128
            "sockaddr_in": 16,  # <netinet/in.h>: 1 + 1 + 2 + 4 + char sin_zero[8]
            "sockaddr_in6": 28,  # <netinet6/in6.h>: 1 + 1 + 2 + 4 + 16 + 4
            "sockaddr_un": 106,  # <sys/un.h>: 1 + 1 + 104
        },
    ),
    # IOV_MAX 1024 (<limits.h>; XNU's bsd/sys/uio.h UIO_MAXIOV, the 4.4BSD value).
    # Not read in a stored header here: see the module docstring.
    iov_max=1024,
    # <sys/socket.h>: SOMAXCONN 128.
    somaxconn=128,
    constants=CONSTANTS,
    errnos=ERRNOS,
    sources=(
        "XNU bsd/sys/socket.h (types, families, SO_*, SCM_*, MSG_*, cmsghdr, SOMAXCONN)",
        "XNU bsd/sys/errno.h, bsd/sys/filio.h, bsd/sys/ioccom.h, bsd/sys/un.h",
        "macOS SDK <sys/fcntl.h>, <sys/poll.h>, <arm/_param.h> (__DARWIN_ALIGN32)",
        "macOS SDK <netinet/in.h>, <netinet6/in6.h>, <netinet/tcp.h>",
    ),
)
