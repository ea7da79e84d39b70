"""Resolver errors in the codes and texts of the platform the kernel wears.

The resolver (``_resolver.py``, ``_dns.py``) raises glibc's ``EAI_*`` codes and
``gai_strerror`` texts.  A kernel wearing another platform's ABI profile (the
darwin profile: Libinfo's ``EAI_NONAME`` is 8, "nodename nor servname
provided, or not known") gives that platform's instead: the code from the
profile's constants, the text from its :attr:`sansock.ABI.messages` (by the
``EAI_*`` name).  A profile without the text leaves the error as it is.
:class:`ResolverMethods` also has the kernel's other host facts (services,
protocols, the host name, interfaces).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sansock.driver import ABI, AddrInfo, HostEnt, gaierror

from ._oserror import as_platform_error, errno_error, raise_errno

if TYPE_CHECKING:
    from ._faults import FaultScript
    from ._resolver import Resolver

__all__ = ["ResolverMethods", "platform_gaierror"]

#: glibc <netdb.h>: the EAI_* names of the codes the resolver raises.
_GLIBC_NAMES = {
    -1: "EAI_BADFLAGS", -2: "EAI_NONAME", -3: "EAI_AGAIN", -4: "EAI_FAIL", -5: "EAI_NODATA",
    -6: "EAI_FAMILY", -7: "EAI_SOCKTYPE", -8: "EAI_SERVICE", -9: "EAI_ADDRFAMILY",
    -10: "EAI_MEMORY", -11: "EAI_SYSTEM", -12: "EAI_OVERFLOW",
}


def platform_gaierror(abi: ABI, exc: gaierror) -> gaierror:
    """*exc* (glibc's code and text) as *abi*'s platform raises it, or *exc* itself."""
    if len(exc.args) != 2:
        return exc
    name = _GLIBC_NAMES.get(exc.args[0])
    if name is None:
        return exc
    code = abi.constants.get(name)
    text = abi.messages.get(name)
    if code is None or text is None:
        return exc
    return gaierror(code, text)


class ResolverMethods:
    """The resolver calls of :class:`~sansock_fake.FakeKernel`, in its platform's codes.

    The resolver raises glibc's ``EAI_*`` codes and texts; a kernel wearing
    another platform's profile gives that platform's (:func:`platform_gaierror`).
    """

    if TYPE_CHECKING:
        resolver: Resolver
        _abi: ABI
        faults: FaultScript

        def _refuse_if_crashed(self) -> None: ...
        def _e(self, name: str) -> int: ...

    def _eai_system(self, call: str) -> None:
        """A scripted ``EAI_SYSTEM`` (``faults.fail("getaddrinfo", errno)``):
        CPython's set_gaierror raises it as the errno's ``OSError``
        (``PyErr_SetFromErrno``: ``OSError(0, "Error")`` for errno 0)."""
        code = self.faults.errno_for(call, None)
        if code is not None:
            raise as_platform_error(self._abi, errno_error(code))

    def getaddrinfo(
        self, host: bytes | None, port: bytes | None, family: int, type: int, proto: int, flags: int
    ) -> list[AddrInfo]:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        if self.faults.rules:
            self._eai_system("getaddrinfo")
        try:
            return self.resolver.getaddrinfo(host, port, family, type, proto, flags)
        except gaierror as exc:
            raise platform_gaierror(self._abi, exc) from exc.__cause__

    def getnameinfo(self, addr: bytes, flags: int) -> tuple[str, str]:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        if self.faults.rules:
            self._eai_system("getnameinfo")
        try:
            return self.resolver.getnameinfo(addr, flags)
        except gaierror as exc:
            raise platform_gaierror(self._abi, exc) from exc.__cause__

    def gethostbyname_ex(self, name: bytes) -> HostEnt:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        try:
            return self.resolver.gethostbyname_ex(name)
        except gaierror as exc:
            raise platform_gaierror(self._abi, exc) from exc.__cause__

    def gethostbyaddr(self, addr: bytes, family: int) -> HostEnt:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        try:
            return self.resolver.gethostbyaddr(addr, family)
        except gaierror as exc:
            raise platform_gaierror(self._abi, exc) from exc.__cause__

    # -- host facts: services, protocols, the host name, interfaces ----------
    def getservbyname(self, name: bytes, proto: bytes | None) -> int | None:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        return self.resolver.getservbyname(name, proto)

    def getservbyport(self, port: int, proto: bytes | None) -> str | None:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        return self.resolver.getservbyport(port, proto)

    def getprotobyname(self, name: bytes) -> int | None:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        return self.resolver.getprotobyname(name)

    def gethostname(self) -> bytes:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        return self.resolver.hostname

    def sethostname(self, name: bytes) -> None:
        """``sethostname(2)``: EINVAL above 64 bytes (``__NEW_UTS_LEN``)."""
        self._refuse_if_crashed()
        if len(name) > 64:
            raise_errno(self._e("EINVAL"))
        self.resolver.hostname = bytes(name)

    def if_nameindex(self) -> list[tuple[int, bytes]]:
        """Only the loopback interface exists."""
        self._refuse_if_crashed()
        return [(1, b"lo")]

    def if_nametoindex(self, name: bytes) -> int:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        if name == b"lo":
            return 1
        raise_errno(self._e("ENODEV"))

    def if_indextoname(self, index: int) -> bytes:
        self._refuse_if_crashed()  # _host: a crashed host runs no program
        if index == 1:
            return b"lo"
        raise_errno(self._e("ENXIO"))
