"""The linux-aarch64 ABI profile: glibc on 64-bit ARM (LP64).

arm64 takes every socket-level UAPI header from ``asm-generic``: its
``arch/arm64/include/uapi/asm/Kbuild`` lists no ``socket.h``, ``sockios.h``,
``errno.h``, ``ioctls.h``, ``ioctl.h`` or ``poll.h`` of its own, so
``include/uapi/asm-generic/Kbuild.asm`` generates wrappers for the generic
ones; its own ``asm/fcntl.h`` only redefines ``O_DIRECTORY``, ``O_NOFOLLOW``,
``O_DIRECT`` and ``O_LARGEFILE`` (none of which is carried here) before
including ``<asm-generic/fcntl.h>``.  glibc uses the generic
``sysdeps/unix/sysv/linux/bits/socket.h``, ``bits/in.h``, ``bits/poll.h`` and
``bits/fcntl-linux.h`` for aarch64.  So every constant and errno below has the
value it has on x86-64 (same headers, same generic definitions), and the
struct sizes are those of x86-64: LP64 with the same natural alignment
(AAPCS64), so ``size_t`` is 8 bytes and ``struct cmsghdr`` is 16.

The values were not compiled for aarch64 here (no cross compiler on the build
host); they follow from the headers named in ``sources``.

Left out: nothing the x86-64 profile carries.  ``ALG_OP_SIGN``,
``ALG_OP_VERIFY``, ``ALG_SET_PUBKEY``, ``UDPLITE_SEND_CSCOV`` and
``UDPLITE_RECV_CSCOV`` come from CPython's own fallback definitions in
``Modules/socketmodule.c``, not from an installed header.

The tables are therefore linux-x86_64's (whose values were compiled against
these headers); only the sizes and layouts below are this platform's own.
"""
from __future__ import annotations

from sansock._abi import ABI, CmsgLayout, SockaddrLayout
from sansock._profiles.linux_x86_64 import CONSTANTS as _GENERIC_CONSTANTS
from sansock._profiles.linux_x86_64 import ERRNOS as _GENERIC_ERRNOS

__all__ = ["CONSTANTS", "ERRNOS", "LINUX_AARCH64"]

#: The generic Linux values (see the module docstring): the constants and
#: errnos follow from the generic headers as on x86-64.
CONSTANTS: dict[str, int] = dict(_GENERIC_CONSTANTS)
ERRNOS: dict[str, int] = dict(_GENERIC_ERRNOS)

#: The linux-aarch64 ABI value.
LINUX_AARCH64 = ABI(
    name="linux-aarch64",
    byteorder="little",
    # LP64 (AAPCS64): <bits/types.h>; socklen_t is __U32_TYPE (<bits/socket.h>).
    sizeof_int=4,
    sizeof_long=8,
    sizeof_socklen_t=4,
    sizeof_size_t=8,
    # <bits/socket.h>: struct cmsghdr { size_t cmsg_len; int cmsg_level;
    # int cmsg_type; }; CMSG_ALIGN rounds to sizeof(size_t) == 8.
    cmsg=CmsgLayout(len_size=8, hdr_size=16, level_offset=8, type_offset=12, align=8),
    sockaddr=SockaddrLayout(
        # <bits/sockaddr.h>: sa_family_t is unsigned short at offset 0; no sa_len.
        has_sa_len=False,
        # <sys/un.h>: char sun_path[108].
        sun_path_size=108,
        # LP64 with natural alignment, as on x86-64: the same sizes.
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
        "Linux 6.1 arch/arm64/include/uapi/asm/Kbuild (generic socket, errno, ioctls, poll)",
        "Linux 6.1 arch/arm64/include/uapi/asm/fcntl.h",
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
