"""The fake kernel's C library resolver: a hosts table, a services table, numeric addresses.

``getaddrinfo`` follows glibc's shape: one result per (address, socket type)
in the order SOCK_STREAM/TCP, SOCK_DGRAM/UDP, SOCK_RAW/0; ``host=None``
gives the wildcard with AI_PASSIVE and the loopback otherwise; errors are
``gaierror(EAI_*, gai_strerror)`` with glibc's codes and messages.  No network
lookup is ever made.
"""

from __future__ import annotations

import ipaddress

import attrs

from sansock.driver import ABI, AddrInfo, HostEnt, gaierror, herror

from ._addresses import InetName, build_inet, family_of, parse_inet, parse_inet6

__all__ = ["Resolver"]

#: glibc <netdb.h> EAI_* values and gai_strerror texts.
EAI_BADFLAGS = (-1, "Bad value for ai_flags")
EAI_NONAME = (-2, "Name or service not known")
EAI_FAMILY = (-6, "ai_family not supported")
EAI_SOCKTYPE = (-7, "ai_socktype not supported")
EAI_SERVICE = (-8, "Servname not supported for ai_socktype")
EAI_ADDRFAMILY = (-9, "Address family for hostname not supported")
#: <netdb.h> h_errno HOST_NOT_FOUND and hstrerror's text.
HOST_NOT_FOUND = (1, "Unknown host")

#: /etc/services entries a test commonly names: name -> (port, protocols).
SERVICES: dict[str, tuple[int, tuple[str, ...]]] = {
    "echo": (7, ("tcp", "udp")),
    "daytime": (13, ("tcp", "udp")),
    "ftp": (21, ("tcp",)),
    "ssh": (22, ("tcp",)),
    "telnet": (23, ("tcp",)),
    "smtp": (25, ("tcp",)),
    "domain": (53, ("tcp", "udp")),
    "http": (80, ("tcp",)),
    "pop3": (110, ("tcp",)),
    "ntp": (123, ("udp",)),
    "imap2": (143, ("tcp",)),
    "https": (443, ("tcp", "udp")),
}
PROTOCOLS = {"ip": 0, "icmp": 1, "tcp": 6, "udp": 17, "ipv6": 41, "icmpv6": 58, "raw": 255}


@attrs.define(eq=False)
class Resolver:
    """Name services of the fake kernel's host."""

    abi: ABI
    hostname: bytes = b"fakehost"
    #: name -> addresses (text); the first name of an entry is canonical.
    hosts: dict[str, list[str]] = attrs.field(
        factory=lambda: {"localhost": ["127.0.0.1"], "ip6-localhost": ["::1"], "ip6-loopback": ["::1"]}
    )

    def _c(self, name: str) -> int:
        return self.abi.const(name)

    def _addresses(self, host: str, family: int, flags: int) -> tuple[str, list[tuple[int, bytes]]]:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            fam = self._c("AF_INET") if ip.version == 4 else self._c("AF_INET6")
            if family not in (self._c("AF_UNSPEC"), fam):
                raise gaierror(*EAI_ADDRFAMILY if ip.version == 6 or family != self._c("AF_INET6") else EAI_NONAME)
            return host, [(fam, ip.packed)]
        if flags & self._c("AI_NUMERICHOST"):
            raise gaierror(*EAI_NONAME)
        names = {self.hostname.decode(): ["127.0.1.1"]}
        names.update(self.hosts)
        texts = names.get(host.lower())
        if texts is None:
            raise gaierror(*EAI_NONAME)
        found = []
        for text in texts:
            ip = ipaddress.ip_address(text)
            fam = self._c("AF_INET") if ip.version == 4 else self._c("AF_INET6")
            if family in (self._c("AF_UNSPEC"), fam):
                found.append((fam, ip.packed))
        if not found:
            raise gaierror(*EAI_ADDRFAMILY)
        return host.lower(), found

    def _port(self, port: bytes | None, socktype: int, flags: int) -> int:
        if port is None:
            return 0
        text = port.decode()
        if text.isdigit():
            # glibc gaih_inet: strtoul, then htons() of it stored in 16 bits (wraps).
            return int(text) & 0xFFFF
        if flags & self._c("AI_NUMERICSERV"):
            raise gaierror(*EAI_NONAME)
        entry = SERVICES.get(text)
        if entry is None:
            raise gaierror(*EAI_SERVICE)
        return entry[0]

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        """glibc ``getaddrinfo`` over the hosts table."""
        inet, inet6, unspec = self._c("AF_INET"), self._c("AF_INET6"), self._c("AF_UNSPEC")
        if family not in (inet, inet6, unspec):
            raise gaierror(*EAI_FAMILY)
        all_flags = 0
        for name in ("AI_PASSIVE", "AI_CANONNAME", "AI_NUMERICHOST", "AI_V4MAPPED", "AI_ALL",
                     "AI_ADDRCONFIG", "AI_NUMERICSERV"):
            all_flags |= self._c(name)
        if flags & ~all_flags or (flags & self._c("AI_CANONNAME") and host is None):
            raise gaierror(*EAI_BADFLAGS)
        if host is None and port is None:
            raise gaierror(*EAI_NONAME)
        kinds = [(self._c("SOCK_STREAM"), self._c("IPPROTO_TCP")),
                 (self._c("SOCK_DGRAM"), self._c("IPPROTO_UDP")),
                 (self._c("SOCK_RAW"), 0)]
        if type:
            kinds = [(t, p) for t, p in kinds if t == type]
            if not kinds:
                raise gaierror(*EAI_SOCKTYPE)
            if proto:
                kinds = [(type, proto)]
        elif proto:
            kinds = [(t, p) for t, p in kinds if p == proto] or [(self._c("SOCK_RAW"), proto)]
        if host is None:
            passive = bool(flags & self._c("AI_PASSIVE"))
            v4 = (inet, bytes(4) if passive else b"\x7f\0\0\1")
            v6 = (inet6, bytes(16) if passive else bytes(15) + b"\1")
            order = [v4, v6] if passive else [v6, v4]
            canon, addresses = "", [a for a in order if family in (unspec, a[0])]
        else:
            canon, addresses = self._addresses(host.decode("idna") if host else "", family, flags)
        results: list[AddrInfo] = []
        for fam, packed in addresses:
            for socktype, protocol in kinds:
                if port is not None and socktype == self._c("SOCK_RAW") and not port.decode().isdigit():
                    continue
                number = self._port(port, socktype, flags)
                endpoint = InetName(fam, packed, number)
                canonname = canon if (flags & self._c("AI_CANONNAME") and not results) else ""
                results.append((fam, socktype, protocol, canonname, build_inet(self.abi, endpoint)))
        return results

    def getnameinfo(self, addr: bytes, flags: int) -> tuple[str, str]:
        """glibc ``getnameinfo``: the hosts table backwards, numeric otherwise."""
        family = family_of(self.abi, addr)
        if family == self._c("AF_INET"):
            name = parse_inet(self.abi, addr, for_bind=False)
        elif family == self._c("AF_INET6"):
            name = parse_inet6(self.abi, addr)
        else:
            raise gaierror(*EAI_FAMILY)
        text = str(ipaddress.ip_address(name.packed))
        host = text
        if not flags & self._c("NI_NUMERICHOST"):
            for hostname, texts in self.hosts.items():
                if text in texts:
                    host = hostname
                    break
            else:
                if flags & self._c("NI_NAMEREQD"):
                    raise gaierror(*EAI_NONAME)
        service = str(name.port)
        if not flags & self._c("NI_NUMERICSERV"):
            proto = "udp" if flags & self._c("NI_DGRAM") else "tcp"
            found = self.getservbyport(name.port, proto.encode())
            service = found if found is not None else service
        return host, service

    def gethostbyname_ex(self, name: bytes) -> HostEnt:
        """``gethostbyname_r``: IPv4 addresses only; ``herror`` when unknown."""
        text = name.decode()
        try:
            _canon, found = self._addresses(text, self._c("AF_INET"), 0)
        except gaierror:
            raise herror(*HOST_NOT_FOUND) from None
        return text, [], self._c("AF_INET"), [packed for _fam, packed in found]

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        text = str(ipaddress.ip_address(addr))
        for hostname, texts in self.hosts.items():
            if text in texts:
                return hostname, [], family, [addr]
        raise herror(*HOST_NOT_FOUND)

    def getservbyname(self, name: bytes, proto: bytes | None) -> int | None:
        entry = SERVICES.get(name.decode())
        if entry is None or (proto is not None and proto.decode() not in entry[1]):
            return None
        return entry[0]

    def getservbyport(self, port: int, proto: bytes | None) -> str | None:
        for name, (number, protos) in SERVICES.items():
            if number == port and (proto is None or proto.decode() in protos):
                return name
        return None

    def getprotobyname(self, name: bytes) -> int | None:
        return PROTOCOLS.get(name.decode().lower())


