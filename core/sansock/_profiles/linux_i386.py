"""The linux-i386 ABI profile: glibc on 32-bit x86 (ILP32).

x86 (32- and 64-bit) takes ``<asm/socket.h>``, ``errno.h``, ``fcntl.h``,
``ioctls.h`` and ``poll.h`` from ``asm-generic``, and glibc shares its x86
``bits/`` headers between i386 and x86-64 (``sysdeps/x86``,
``sysdeps/unix/sysv/linux/x86``), switching on ``__WORDSIZE`` only where the
types differ.  Every constant, errno and size below was checked by compiling
the same C program as for x86-64 with ``gcc -m32 -S`` against those headers
(``__i386__``, ``__WORDSIZE == 32``) and reading the emitted values.

ILP32 facts: ``long`` and ``size_t`` are 4 bytes, so glibc's ``struct
cmsghdr`` (``size_t cmsg_len; int cmsg_level; int cmsg_type;``) is 12 bytes
and ``CMSG_ALIGN`` (``<bits/socket.h>``: rounds to ``sizeof (size_t)``) aligns
to 4: ``CMSG_LEN(0) == 12``, ``CMSG_SPACE(1) == 16``.

time_t caveat: ``<asm-generic/socket.h>`` defines ``SO_TIMESTAMP``,
``SO_TIMESTAMPNS``, ``SO_RCVTIMEO`` and ``SO_SNDTIMEO`` on 32-bit platforms as
``sizeof(time_t) == sizeof(__kernel_long_t) ? *_OLD : *_NEW``.  This profile
carries the values for glibc's default 32-bit ``time_t`` (the ``*_OLD`` ones:
29, 35, 20, 21; ``SCM_TIMESTAMP*`` follow ``SO_TIMESTAMP*``), which is what a
CPython built without ``-D_TIME_BITS=64`` sees.  With a 64-bit ``time_t`` they
would be ``SO_TIMESTAMP_NEW`` 63, ``SO_TIMESTAMPNS_NEW`` 64,
``SO_RCVTIMEO_NEW`` 66, ``SO_SNDTIMEO_NEW`` 67.

Left out: nothing the x86-64 profile carries.  ``ALG_OP_SIGN``,
``ALG_OP_VERIFY``, ``ALG_SET_PUBKEY``, ``UDPLITE_SEND_CSCOV`` and
``UDPLITE_RECV_CSCOV`` are not in any installed header (CPython's
``Modules/socketmodule.c`` supplies them) and were taken from the x86-64
stdlib.

The tables are therefore linux-x86_64's (whose values were compiled against
these headers); only the sizes and layouts below are this platform's own.
"""
from __future__ import annotations

from sansock._abi import ABI, CmsgLayout, SockaddrLayout
from sansock._profiles.linux_x86_64 import CONSTANTS as _GENERIC_CONSTANTS
from sansock._profiles.linux_x86_64 import ERRNOS as _GENERIC_ERRNOS

__all__ = ["CONSTANTS", "ERRNOS", "LINUX_I386"]

#: The generic Linux values (see the module docstring): the constants and
#: errnos were compiled with gcc -m32 and came out equal as on x86-64.
CONSTANTS: dict[str, int] = dict(_GENERIC_CONSTANTS)
ERRNOS: dict[str, int] = dict(_GENERIC_ERRNOS)

#: The linux-i386 ABI value.
LINUX_I386 = ABI(
    name="linux-i386",
    byteorder="little",
    # ILP32: <bits/types.h>, <bits/wordsize.h>; checked with gcc -m32.
    sizeof_int=4,
    sizeof_long=4,
    sizeof_socklen_t=4,
    sizeof_size_t=4,
    # <bits/socket.h>: struct cmsghdr { size_t cmsg_len; int cmsg_level;
    # int cmsg_type; }; CMSG_ALIGN rounds to sizeof(size_t) == 4, so
    # CMSG_LEN(0) == 12 and CMSG_SPACE(1) == 16 (gcc -m32).
    cmsg=CmsgLayout(len_size=4, hdr_size=12, level_offset=4, type_offset=8, align=4),
    sockaddr=SockaddrLayout(
        # <bits/sockaddr.h>: sa_family_t is unsigned short at offset 0; no sa_len.
        has_sa_len=False,
        # <sys/un.h>: char sun_path[108].
        sun_path_size=108,
        # sizeof(struct ...) printed by gcc 12 -m32: the same as on x86-64.
        sizes={
            "sockaddr": 16,  # <bits/socket.h>
            "sockaddr_storage": 128,  # <bits/sockaddr.h>: _SS_SIZE 128
            "sockaddr_in": 16,  # <netinet/in.h>
            "sockaddr_in6": 28,  # <netinet/in.h>
            "sockaddr_un": 110,  # <sys/un.h>
            "sockaddr_nl": 12,  # <linux/netlink.h>
            "sockaddr_ll": 20,  # <linux/if_packet.h>
            "sockaddr_can": 24,  # <linux/can.h>
            "sockaddr_tipc": 16,  # <linux/tipc.h>
            "sockaddr_vm": 16,  # <linux/vm_sockets.h>
            "sockaddr_alg": 88,  # <linux/if_alg.h>
            "sockaddr_qrtr": 12,  # <linux/qrtr.h>
        },
    ),
    # <linux/uio.h>: UIO_MAXIOV 1024 (glibc's IOV_MAX in <bits/xopen_lim.h>).
    iov_max=1024,
    # <bits/socket.h>: SOMAXCONN 4096 (glibc >= 2.35, all Linux ports).
    somaxconn=4096,
    constants=CONSTANTS,
    errnos=ERRNOS,
    sources=(
        "gcc 12 -m32 against the glibc 2.36 x86 headers (bits/ shared by i386 and x86-64)",
        "Linux 6.1 UAPI <asm-generic/socket.h>, <asm-generic/errno-base.h>, <asm-generic/errno.h>",
        "Linux 6.1 UAPI <asm-generic/fcntl.h>, <asm-generic/ioctls.h>, <asm-generic/poll.h>",
        "Linux 6.1 UAPI <linux/in.h>, <linux/in6.h>, <linux/udp.h>, <linux/sockios.h>",
        "Linux 6.1 UAPI <linux/uio.h>",
        "Linux 6.1 UAPI <linux/netlink.h>, <linux/if_packet.h>, <linux/can.h>, <linux/can/*.h>",
        "Linux 6.1 UAPI <linux/tipc.h>, <linux/vm_sockets.h>, <linux/if_alg.h>, <linux/qrtr.h>",
        "glibc 2.36 <sys/socket.h>, <bits/socket.h>, <bits/socket_type.h>, <bits/sockaddr.h>",
        "glibc 2.36 <netinet/in.h>, <bits/in.h>, <netinet/tcp.h>, <netinet/udp.h>, <netdb.h>",
        "glibc 2.36 <sys/un.h>, <bits/poll.h>, <bits/fcntl-linux.h>, <bits/errno.h>",
    ),
)
