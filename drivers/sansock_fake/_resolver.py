"""The fake kernel's C library resolver: a hosts table, a services table, numeric addresses.

``getaddrinfo`` follows glibc's shape: one result per (address, socket type)
in the order SOCK_STREAM/TCP, SOCK_DGRAM/UDP, SOCK_RAW/0; ``host=None``
gives the wildcard with AI_PASSIVE and the loopback otherwise; errors are
``gaierror(EAI_*, gai_strerror)`` with glibc's codes and messages.  No network
lookup is ever made.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable

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


#: <netdb.h> h_errno 0 (NETDB_SUCCESS) as hstrerror words it.
RESOLVER_NO_ERROR = (0, "Resolver Error 0 (no error)")

#: The argument types a remembered ``getaddrinfo`` answer is keyed by (exact:
#: a subclass could compare equal and differ).
_EXACT_HOST = frozenset({bytes, type(None)})
_ANSWERS_LIMIT = 256

_ULONG_MAX = (1 << 64) - 1
_SPACE = " \t\n\v\f\r"


def _strtoul(text: str, base: int) -> tuple[int, int] | None:
    """C ``strtoul(text, &end, base)`` for base 10 or 0: ``(value, end)``, or
    None when no digit was read (``end`` would be *text* itself).

    Leading white space and a sign are skipped; a value above ULONG_MAX gives
    ULONG_MAX (ERANGE); a minus sign negates modulo 2**64.  Base 0 reads
    ``0x`` as hexadecimal and a leading ``0`` as octal.
    """
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    negative = False
    if i < len(text) and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    digits = "0123456789"
    if base == 0:
        if text[i : i + 2].lower() == "0x" and i + 2 < len(text) and text[i + 2] in string.hexdigits:
            base, i, digits = 16, i + 2, string.hexdigits
        elif text[i : i + 1] == "0":
            base, digits = 8, "01234567"
        else:
            base = 10
    start = i
    while i < len(text) and text[i] in digits:
        i += 1
    if i == start:
        return None
    value = int(text[start:i], base)
    if value > _ULONG_MAX:
        return _ULONG_MAX, i
    return ((-value) & _ULONG_MAX if negative else value), i


def inet_aton(text: str, *, exact: bool = True) -> bytes | None:
    """glibc ``__inet_aton_exact`` (and ``inet_aton`` when not *exact*): the
    numbers-and-dots forms ``a.b.c.d``, ``a.b.c``, ``a.b``, ``a``, each part
    decimal, octal (``0``) or hex (``0x``), the last part filling the bytes
    left: ``127.1``, ``0``, ``2130706433``, ``0x7f000001`` are all accepted.
    """
    parts: list[int] = []
    i = 0
    value = 0
    while True:
        if i >= len(text) or not text[i].isdigit() or not text[i].isascii():
            return None
        read = _strtoul(text[i:], 0)
        if read is None:
            return None
        value, used = read
        if value > 0xFFFFFFFF:
            return None
        i += used
        if i < len(text) and text[i] == ".":
            if len(parts) > 2 or value > 0xFF:
                return None
            parts.append(value)
            i += 1
            continue
        break
    if i < len(text) and (exact or text[i] not in _SPACE):
        return None
    if value > (0xFFFFFFFF, 0xFFFFFF, 0xFFFF, 0xFF)[len(parts)]:
        return None
    number = value
    for index, part in enumerate(parts):
        number |= part << (24 - 8 * index)
    return number.to_bytes(4, "big")


def inet_pton6(text: str) -> bytes | None:
    """``inet_pton(AF_INET6)``: the packed address, or None (no scope allowed)."""
    if "%" in text or not text.isascii():
        return None
    try:
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        return None


def inet_ntop(packed: bytes) -> str:
    """glibc ``inet_ntop``: IPv6 text with ``::ffff:a.b.c.d`` and ``::a.b.c.d``
    for IPv4-mapped and IPv4-compatible addresses (``inet_ntop6``)."""
    if len(packed) == 4:
        return ".".join(str(b) for b in packed)
    if packed[:10] == bytes(10) and (
        packed[10:12] == b"\xff\xff" or (packed[10:12] == b"\0\0" and packed[12:14] != b"\0\0")
    ):
        prefix = "::ffff:" if packed[10:12] == b"\xff\xff" else "::"
        return prefix + ".".join(str(b) for b in packed[12:])
    return ipaddress.IPv6Address(packed).compressed


def _scope_id(packed: bytes, scope: str) -> int | None:
    """glibc ``__inet6_scopeid_pton``: an interface name for link-local
    addresses (only ``lo`` exists, index 1), else a decimal number <= 2**32-1."""
    link_local = packed[:2] == b"\xfe\x80" or packed[:2] in (b"\xff\x01", b"\xff\x02") or (
        packed[0] == 0xFF and packed[1] & 0x0F in (1, 2))
    if link_local and scope == "lo":
        return 1
    if scope[:1].isdigit() and scope.isascii() and scope.isdigit():
        number = int(scope)
        if number <= 0xFFFFFFFF:
            return number
    return None


def _scope_text(packed: bytes, scope_id: int) -> str:
    """glibc ``gni_host_inet``: the interface's name for a link-local or
    link-local multicast address when ``if_indextoname`` knows the index
    (only ``lo``, index 1), else the decimal number."""
    link_local = (packed[0] == 0xFE and packed[1] & 0xC0 == 0x80) or (packed[0] == 0xFF and packed[1] & 0x0F == 2)
    return "lo" if link_local and scope_id == 1 else str(scope_id)


@attrs.define(eq=False)
class Resolver:
    """Name services of the fake kernel's host: ``/etc/hosts`` and ``/etc/services``.

    Add names with :meth:`add`; ``getaddrinfo`` answers a name's addresses in
    the order they were added.  Names are looked up as bytes, as glibc does
    without ``AI_IDN``: no ``idna`` decoding, so ``"xn--zz"`` is an unknown
    name (``EAI_NONAME``), never a ``UnicodeError``.
    """

    abi: ABI
    hostname: bytes = b"fakehost"
    #: name -> addresses (text); the first name of an entry is canonical.
    hosts: dict[str, list[str]] = attrs.field(
        factory=lambda: {"localhost": ["127.0.0.1"], "ip6-localhost": ["::1"], "ip6-loopback": ["::1"]}
    )
    #: The name server after the hosts table (``hosts: files dns``): a name ->
    #: its addresses, None when unknown, or ``gaierror``.  A simulated
    #: network sets it to its :class:`~sansock_fake._dns.Dns` (via the host).
    dns: Callable[[str], list[str] | None] | None = attrs.field(default=None, repr=False)
    #: ``getaddrinfo`` answers for a numeric host or none, by their arguments
    #: (they depend on nothing else: not the hosts table, the name server or
    #: the host name), kept for the ABI they were computed for; bounded.
    _numeric_answers: dict[tuple[object, ...], list[AddrInfo]] = attrs.field(factory=dict, init=False, repr=False)
    _answers_abi: ABI | None = attrs.field(default=None, init=False, repr=False)

    def add(self, name: str, *addresses: str) -> None:
        """Make *name* resolve to *addresses* (IPv4 or IPv6 text), like a line of ``/etc/hosts``.

        >>> import sansock
        >>> from sansock_fake import FakeKernel
        >>> kernel = FakeKernel()
        >>> kernel.resolver.add("api.example.com", "10.0.0.2", "fd00::2")
        >>> net = sansock.using(kernel)
        >>> [info[4][0] for info in net.getaddrinfo("api.example.com", 80, type=net.SOCK_STREAM)]
        ['10.0.0.2', 'fd00::2']

        Names match case-insensitively; calling it again for a name adds
        addresses after the ones it has (as a second line in the file does).
        Reverse lookups (``gethostbyaddr``, ``getnameinfo``) find the first
        name holding an address.  ``ValueError`` for an address that is not
        IPv4 or IPv6 text, or an empty name.
        """
        if not isinstance(name, str) or not name:
            raise ValueError("a host name is a non-empty str")
        texts = [str(ipaddress.ip_address(text)) for text in addresses]
        self.hosts.setdefault(name.lower(), []).extend(texts)

    def _c(self, name: str) -> int:
        value = self.abi.constants.get(name)
        if value is None:
            raise NotImplementedError(
                f"the fake kernel's resolver needs {name}, which the {self.abi.name} ABI profile lacks"
            )
        return value

    def _numeric(self, host: str, family: int, flags: int) -> list[tuple[int, bytes, int]] | None:
        """``gaih_inet``'s numeric forms: ``inet_aton`` then ``inet_pton(AF_INET6)``
        with an optional ``%scope``; None when *host* is not numeric."""
        inet, inet6, unspec = self._c("AF_INET"), self._c("AF_INET6"), self._c("AF_UNSPEC")
        v4 = inet_aton(host)
        if v4 is not None:
            if family in (unspec, inet):
                return [(inet, v4, 0)]
            if family == inet6 and flags & self._c("AI_V4MAPPED"):
                return [(inet6, bytes(10) + b"\xff\xff" + v4, 0)]
            raise gaierror(*EAI_ADDRFAMILY)
        address, delimiter, scope = host.partition("%")
        v6 = inet_pton6(address)
        if v6 is None:
            return None
        if family == inet and v6[:12] == bytes(10) + b"\xff\xff":
            v4_result: list[tuple[int, bytes, int]] = [(inet, v6[12:], 0)]
            result = v4_result
        elif family in (unspec, inet6):
            result = [(inet6, v6, 0)]
        else:
            raise gaierror(*EAI_ADDRFAMILY)
        if delimiter:
            scope_id = _scope_id(v6, scope)
            if scope_id is None:
                raise gaierror(*EAI_NONAME)
            if result[0][0] == inet6:
                result = [(inet6, v6, scope_id)]
        return result

    def _lookup(self, host: str, family: int, flags: int) -> list[tuple[int, bytes, int]]:
        """The hosts table (``/etc/hosts`` through NSS): EAI_NONAME when unknown."""
        inet, inet6, unspec = self._c("AF_INET"), self._c("AF_INET6"), self._c("AF_UNSPEC")
        names = {self.hostname.decode("latin-1").lower(): ["127.0.1.1"]}
        names.update(self.hosts)
        texts = names.get(host.lower())
        if texts is None and self.dns is not None:
            texts = self.dns(host)
        if texts is None:
            raise gaierror(*EAI_NONAME)
        found: list[tuple[int, bytes, int]] = []
        mapped: list[tuple[int, bytes, int]] = []
        for text in texts:
            ip = ipaddress.ip_address(text)
            fam = inet if ip.version == 4 else inet6
            if family in (unspec, fam):
                found.append((fam, ip.packed, 0))
            elif family == inet6 and flags & self._c("AI_V4MAPPED"):
                mapped.append((inet6, bytes(10) + b"\xff\xff" + ip.packed, 0))
        if mapped and (not found or flags & self._c("AI_ALL")):
            found += mapped
        if not found:
            # The files backend finds no entry of that family: NSS_STATUS_NOTFOUND.
            raise gaierror(*EAI_NONAME)
        return found

    def _typeprotos(self) -> list[tuple[int, int, bool, bool, bool, str]]:
        """glibc ``gaih_inet_typeproto``: (socktype, protocol, any protocol,
        no service, returned by default, /etc/services protocol name)."""
        c = self._c
        return [
            (c("SOCK_STREAM"), c("IPPROTO_TCP"), False, False, True, "tcp"),
            (c("SOCK_DGRAM"), c("IPPROTO_UDP"), False, False, True, "udp"),
            (6, 33, False, False, False, "dccp"),  # SOCK_DCCP, IPPROTO_DCCP
            # (Darwin has no UDP-Lite: IPPROTO_UDPLITE is not in its profile.)
            (c("SOCK_DGRAM"), self.abi.constants.get("IPPROTO_UDPLITE", -1), False, False, False, "udplite"),
            (c("SOCK_STREAM"), c("IPPROTO_SCTP"), False, False, False, "sctp"),
            (c("SOCK_SEQPACKET"), c("IPPROTO_SCTP"), False, False, False, "sctp"),
            (c("SOCK_RAW"), 0, True, True, True, "raw"),
        ]

    def _service(self, port: bytes | None, type_: int, proto: int) -> list[tuple[int, int, int]]:
        """``gaih_inet``'s type/protocol and service steps, before the host is
        looked at: ``(socktype, protocol, port)`` of each result per address.

        With a type or protocol, the first matching ``gaih_inet_typeproto``
        entry is the only one (none: EAI_SOCKTYPE, or EAI_SERVICE for a
        protocol alone); raw sockets take no service (EAI_SERVICE).  A service
        is numeric when ``strtoul(service, &end, 10)`` reads it whole; the
        result is stored in an ``int``, so ``-1`` or ``4294967295`` is negative
        and is looked up as a service *name* (EAI_SERVICE when unknown), and
        the port is its low 16 bits.
        """
        chosen = None
        if type_ or proto:
            for entry in self._typeprotos():
                socktype, protocol, any_proto = entry[:3]
                if (type_ and type_ != socktype) or (proto and not any_proto and proto != protocol):
                    continue
                chosen = entry
                break
            else:
                raise gaierror(*(EAI_SOCKTYPE if type_ else EAI_SERVICE))

        def result(entry: tuple[int, int, bool, bool, bool, str], number: int) -> tuple[int, int, int]:
            return entry[0], proto if entry[2] else entry[1], number

        number = 0
        if port is not None and port != b"":
            if chosen is not None and chosen[3]:
                raise gaierror(*EAI_SERVICE)  # GAI_PROTO_NOSERVICE
            text = port.decode("latin-1")
            read = _strtoul(text, 10)
            value = -1
            if read is not None and read[1] == len(text):
                value = read[0] & 0xFFFFFFFF
                value = value - (1 << 32) if value >= 1 << 31 else value
            if value < 0:
                known = SERVICES.get(text)
                if chosen is not None:
                    if known is None or chosen[5] not in known[1]:
                        raise gaierror(*EAI_SERVICE)
                    return [result(chosen, known[0])]
                served = [result(entry, known[0]) for entry in self._typeprotos()
                          if known is not None and not entry[3] and entry[5] in known[1]]
                if not served:
                    raise gaierror(*EAI_SERVICE)
                return served
            number = value & 0xFFFF
        if chosen is not None:
            return [result(chosen, number)]
        return [result(entry, number) for entry in self._typeprotos() if entry[4]]

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        """glibc ``getaddrinfo`` over the hosts table, its checks in glibc's order:
        flags, family, the service, then the host.

        An answer for a numeric host (or none) is a function of the arguments
        and the ABI alone, so it is remembered (``create_connection`` resolves
        the same address again and again); errors are not, and a host name
        is always looked up afresh (the hosts table and the name server change).
        """
        key = (host, port, family, type, proto, flags)
        answers = self._numeric_answers
        exact = (host.__class__ in _EXACT_HOST and port.__class__ in _EXACT_HOST and family.__class__ is int
                 and type.__class__ is int and proto.__class__ is int and flags.__class__ is int)
        if exact and self._answers_abi is self.abi:
            known = answers.get(key)
            if known is not None:
                return list(known)
        results, numeric = self._getaddrinfo(host, port, family, type, proto, flags)
        if numeric and exact:
            if self._answers_abi is not self.abi or len(answers) >= _ANSWERS_LIMIT:
                answers.clear()
                self._answers_abi = self.abi
            answers[key] = list(results)
        return results

    def _getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> tuple[list[AddrInfo], bool]:
        """:meth:`getaddrinfo` computed: the answers, and whether *host* was numeric or None."""
        inet, inet6, unspec = self._c("AF_INET"), self._c("AF_INET6"), self._c("AF_UNSPEC")
        if host == b"*":
            host = None  # getaddrinfo: "*" means NULL
        if port == b"*":
            port = None
        if host is None and port is None:
            raise gaierror(*EAI_NONAME)
        # AI_IDN, AI_CANONIDN and the deprecated IDN bits are accepted (the
        # fake does not convert names; a non-ASCII name is just unknown).
        all_flags = 0x40 | 0x80 | 0x300
        for name in ("AI_PASSIVE", "AI_CANONNAME", "AI_NUMERICHOST", "AI_V4MAPPED", "AI_ALL",
                     "AI_ADDRCONFIG", "AI_NUMERICSERV"):
            all_flags |= self._c(name)
        if flags & ~all_flags or (flags & self._c("AI_CANONNAME") and host is None):
            raise gaierror(*EAI_BADFLAGS)
        if family not in (inet, inet6, unspec):
            raise gaierror(*EAI_FAMILY)
        if port and flags & self._c("AI_NUMERICSERV"):
            read = _strtoul(port.decode("latin-1"), 10)
            if read is None or read[1] != len(port):
                raise gaierror(*EAI_NONAME)
        served = self._service(port, type, proto)
        if host is None:
            passive = bool(flags & self._c("AI_PASSIVE"))
            v4 = (inet, bytes(4) if passive else b"\x7f\0\0\1", 0)
            v6 = (inet6, bytes(16) if passive else bytes(15) + b"\1", 0)
            order = [v4, v6] if passive else [v6, v4]
            canon, addresses = "", [a for a in order if family in (unspec, a[0])]
            numeric = True
        else:
            text = host.decode("latin-1")
            numeric_addresses = self._numeric(text, family, flags)
            numeric = numeric_addresses is not None
            if numeric_addresses is not None:
                canon, addresses = text, numeric_addresses
            elif flags & self._c("AI_NUMERICHOST"):
                raise gaierror(*EAI_NONAME)
            else:
                canon, addresses = text.lower(), self._lookup(text, family, flags)
        results: list[AddrInfo] = []
        for fam, packed, scope_id in addresses:
            for socktype, protocol, number in served:
                endpoint = InetName(fam, packed, number, scope_id=scope_id)
                canonname = canon if (flags & self._c("AI_CANONNAME") and not results) else ""
                results.append((fam, socktype, protocol, canonname, build_inet(self.abi, endpoint)))
        return results, numeric

    def _name_of(self, packed: bytes) -> str | None:
        """The first name holding *packed* in the hosts table (a reverse lookup)."""
        for hostname, texts in self.hosts.items():
            if any(ipaddress.ip_address(text).packed == packed for text in texts):
                return hostname
        return None

    def getnameinfo(self, addr: bytes, flags: int) -> tuple[str, str]:
        """glibc ``getnameinfo``: the hosts table backwards, numeric otherwise.

        Unknown flags first (``EAI_BADFLAGS``; ``NI_IDN`` and the deprecated
        IDN bits 0xC0 are known), then the address; ``NI_NAMEREQD`` is
        ``EAI_NONAME`` whenever no name was found, ``NI_NUMERICHOST`` included
        (``gni_host_inet`` in glibc's inet/getnameinfo.c).
        """
        known_flags = 0x20 | 0xC0
        for flag in ("NI_NUMERICHOST", "NI_NUMERICSERV", "NI_NOFQDN", "NI_NAMEREQD", "NI_DGRAM"):
            known_flags |= self._c(flag)
        if flags & ~known_flags:
            raise gaierror(*EAI_BADFLAGS)
        family = family_of(self.abi, addr)
        if family == self._c("AF_INET"):
            name = parse_inet(self.abi, addr, for_bind=False)
        elif family == self._c("AF_INET6"):
            name = parse_inet6(self.abi, addr)
        else:
            raise gaierror(*EAI_FAMILY)
        found = None if flags & self._c("NI_NUMERICHOST") else self._name_of(name.packed)
        if found is None and flags & self._c("NI_NAMEREQD"):
            raise gaierror(*EAI_NONAME)
        host = found if found is not None else inet_ntop(name.packed)
        if found is None and name.scope_id:
            host += "%" + _scope_text(name.packed, name.scope_id)
        service = str(name.port)
        if not flags & self._c("NI_NUMERICSERV"):
            proto = "udp" if flags & self._c("NI_DGRAM") else "tcp"
            known = self.getservbyport(name.port, proto.encode())
            service = known if known is not None else service
        return host, service

    def gethostbyname_ex(self, name: bytes) -> HostEnt:
        """``gethostbyname_r``: IPv4 addresses only; ``herror`` when unknown.

        ``__nss_hostname_digits_dots`` first: a name of digits and dots that
        starts with a digit is parsed by ``inet_aton`` (``127.1``, ``010``),
        and is never looked up; a name that looks like IPv6 is not found for
        AF_INET.  Other names (``0x7f000001`` too) go to the hosts table.
        """
        text = name.decode("latin-1")
        inet = self._c("AF_INET")
        if text[:1].isdigit() and all(ch in "0123456789." for ch in text):
            packed = inet_aton(text) if not text.endswith(".") else None
            if packed is None:
                raise herror(*HOST_NOT_FOUND)
            return text, [], inet, [packed]
        if ":" in text and all(ch in string.hexdigits + ":." for ch in text):
            raise herror(*HOST_NOT_FOUND)
        try:
            found = self._lookup(text, inet, 0)
        except gaierror:
            raise herror(*HOST_NOT_FOUND) from None
        return text, [], inet, [packed for _fam, packed, _scope in found]

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        """``gethostbyaddr_r``: the hosts table backwards."""
        found = self._name_of(bytes(addr))
        if found is None:
            raise herror(*HOST_NOT_FOUND)
        return found, [], family, [addr]

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


