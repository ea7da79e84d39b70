"""Every public signature accepts what typeshed's ``socket.pyi`` accepts
(mypy-checked, never run).

``accepts_like(stdlib_function)(our_function)`` type-checks only if ours can
be called everywhere the stdlib's can: the same positional and keyword
parameters, each taking at least the types typeshed allows.  Return types
are checked one by one with ``assert_type`` in ``check_api.py`` and
``check_constants.py`` (they name our enums and socket class, not the
stdlib's, so they cannot be compared with ``socket.pyi`` directly).
"""

import socket as std
from collections.abc import Callable
from typing import ParamSpec

import sansock
from sansock import Binding

_P = ParamSpec("_P")


def accepts_like(stdlib: Callable[_P, object]) -> Callable[[Callable[_P, object]], None]:
    def check(ours: Callable[_P, object]) -> None:
        pass

    return check


def check_module_functions(net: Binding) -> None:
    accepts_like(std.fromfd)(sansock.fromfd)
    accepts_like(std.getfqdn)(sansock.getfqdn)
    accepts_like(std.has_dualstack_ipv6)(sansock.has_dualstack_ipv6)
    accepts_like(std.getaddrinfo)(sansock.getaddrinfo)
    accepts_like(std.gethostbyname)(sansock.gethostbyname)
    accepts_like(std.gethostbyname_ex)(sansock.gethostbyname_ex)
    accepts_like(std.gethostname)(sansock.gethostname)
    accepts_like(std.gethostbyaddr)(sansock.gethostbyaddr)
    accepts_like(std.getnameinfo)(sansock.getnameinfo)
    accepts_like(std.getprotobyname)(sansock.getprotobyname)
    accepts_like(std.getservbyname)(sansock.getservbyname)
    accepts_like(std.getservbyport)(sansock.getservbyport)
    accepts_like(std.ntohl)(sansock.ntohl)
    accepts_like(std.ntohs)(sansock.ntohs)
    accepts_like(std.htonl)(sansock.htonl)
    accepts_like(std.htons)(sansock.htons)
    accepts_like(std.inet_aton)(sansock.inet_aton)
    accepts_like(std.inet_ntoa)(sansock.inet_ntoa)
    accepts_like(std.inet_pton)(sansock.inet_pton)
    accepts_like(std.inet_ntop)(sansock.inet_ntop)
    accepts_like(std.getdefaulttimeout)(sansock.getdefaulttimeout)
    accepts_like(std.setdefaulttimeout)(sansock.setdefaulttimeout)
    accepts_like(std.sethostname)(sansock.sethostname)
    accepts_like(std.CMSG_LEN)(sansock.CMSG_LEN)
    accepts_like(std.CMSG_SPACE)(sansock.CMSG_SPACE)
    accepts_like(std.if_nameindex)(sansock.if_nameindex)
    accepts_like(std.if_nametoindex)(sansock.if_nametoindex)
    accepts_like(std.if_indextoname)(sansock.if_indextoname)
    accepts_like(std.close)(sansock.close)
    accepts_like(std.dup)(sansock.dup)
    accepts_like(std.create_connection)(sansock.create_connection)
    accepts_like(std.create_server)(sansock.create_server)
    # The same surface bound to a driver.
    accepts_like(std.fromfd)(net.fromfd)
    accepts_like(std.getfqdn)(net.getfqdn)
    accepts_like(std.has_dualstack_ipv6)(net.has_dualstack_ipv6)
    accepts_like(std.getaddrinfo)(net.getaddrinfo)
    accepts_like(std.gethostbyname)(net.gethostbyname)
    accepts_like(std.gethostbyname_ex)(net.gethostbyname_ex)
    accepts_like(std.gethostname)(net.gethostname)
    accepts_like(std.gethostbyaddr)(net.gethostbyaddr)
    accepts_like(std.getnameinfo)(net.getnameinfo)
    accepts_like(std.getprotobyname)(net.getprotobyname)
    accepts_like(std.getservbyname)(net.getservbyname)
    accepts_like(std.getservbyport)(net.getservbyport)
    accepts_like(std.ntohl)(net.ntohl)
    accepts_like(std.ntohs)(net.ntohs)
    accepts_like(std.htonl)(net.htonl)
    accepts_like(std.htons)(net.htons)
    accepts_like(std.inet_aton)(net.inet_aton)
    accepts_like(std.inet_ntoa)(net.inet_ntoa)
    accepts_like(std.inet_pton)(net.inet_pton)
    accepts_like(std.inet_ntop)(net.inet_ntop)
    accepts_like(std.getdefaulttimeout)(net.getdefaulttimeout)
    accepts_like(std.setdefaulttimeout)(net.setdefaulttimeout)
    accepts_like(std.sethostname)(net.sethostname)
    accepts_like(std.CMSG_LEN)(net.CMSG_LEN)
    accepts_like(std.CMSG_SPACE)(net.CMSG_SPACE)
    accepts_like(std.if_nameindex)(net.if_nameindex)
    accepts_like(std.if_nametoindex)(net.if_nametoindex)
    accepts_like(std.if_indextoname)(net.if_indextoname)
    accepts_like(std.close)(net.close)
    accepts_like(std.dup)(net.dup)
    accepts_like(std.create_connection)(net.create_connection)
    accepts_like(std.create_server)(net.create_server)


def check_fd_passing(t: sansock.socket) -> None:
    # send_fds/recv_fds take a socket (ours, not the stdlib's): the call
    # shapes typeshed allows, flags and address ignored as in CPython 3.11.
    sansock.send_fds(t, [b"x"], [3], 0, None)
    sansock.send_fds(t, [memoryview(b"x")], (3, 4), flags="ignored", address=("a", 1))
    sansock.recv_fds(t, 10, 2, 0)


def check_socketpair_and_constructor() -> None:
    # socketpair's typeshed signature takes the stdlib's enums; ours the
    # ints those enums are, so every stdlib call shape works.
    sansock.socketpair(sansock.AF_UNIX, sansock.SOCK_STREAM, 0)
    sansock.socketpair(None, sansock.SOCK_DGRAM)
    sansock.socket(sansock.AF_INET, sansock.SOCK_STREAM, 0, None)
    sansock.socket(family=sansock.AF_INET6, type=sansock.SOCK_DGRAM, proto=0, fileno=None)


def check_socket_methods(s: std.socket, t: sansock.socket) -> None:
    accepts_like(s.bind)(t.bind)
    accepts_like(s.close)(t.close)
    accepts_like(s.connect)(t.connect)
    accepts_like(s.connect_ex)(t.connect_ex)
    accepts_like(s.detach)(t.detach)
    accepts_like(s.fileno)(t.fileno)
    accepts_like(s.getpeername)(t.getpeername)
    accepts_like(s.getsockname)(t.getsockname)
    accepts_like(s.getblocking)(t.getblocking)
    accepts_like(s.gettimeout)(t.gettimeout)
    accepts_like(s.listen)(t.listen)
    accepts_like(s.recv)(t.recv)
    accepts_like(s.recvfrom)(t.recvfrom)
    accepts_like(s.recvmsg)(t.recvmsg)
    accepts_like(s.recvmsg_into)(t.recvmsg_into)
    accepts_like(s.recvfrom_into)(t.recvfrom_into)
    accepts_like(s.recv_into)(t.recv_into)
    accepts_like(s.send)(t.send)
    accepts_like(s.sendall)(t.sendall)
    accepts_like(s.sendmsg)(t.sendmsg)
    accepts_like(s.sendmsg_afalg)(t.sendmsg_afalg)
    accepts_like(s.setblocking)(t.setblocking)
    accepts_like(s.settimeout)(t.settimeout)
    accepts_like(s.shutdown)(t.shutdown)
    accepts_like(s.sendfile)(t.sendfile)
    accepts_like(s.get_inheritable)(t.get_inheritable)
    accepts_like(s.set_inheritable)(t.set_inheritable)
    accepts_like(s.dup)(t.dup)
    accepts_like(s.accept)(t.accept)
    accepts_like(s.__exit__)(t.__exit__)


def check_constructors() -> None:
    accepts_like(std.socket)(sansock.socket)
