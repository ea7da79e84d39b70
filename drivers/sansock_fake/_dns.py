"""The simulated network's DNS: one table every host's resolver reads.

``getaddrinfo`` on a host of a :class:`~sansock_fake.Network` looks a name up
as glibc does with ``hosts: files dns`` in ``/etc/nsswitch.conf``: the host's
own hosts table first (``localhost``, its own name, names added with
``kernel.resolver.add``), then this table.  A name answers its addresses in
the order they were added; :meth:`Dns.fail` makes it answer an error instead,
and :meth:`Dns.delay` makes the lookup take virtual time (the calling thread
waits in the kernel, as it would for a slow name server).
"""

from __future__ import annotations

import ipaddress
import attrs

from sansock.driver import gaierror

from ._links import real_number

__all__ = ["Dns", "DNS_ERRORS"]

#: The errors :meth:`Dns.fail` can make a name answer: glibc's EAI_* code and
#: ``gai_strerror`` text.
DNS_ERRORS: dict[str, tuple[int, str]] = {
    "EAI_NONAME": (-2, "Name or service not known"),
    "EAI_AGAIN": (-3, "Temporary failure in name resolution"),
    "EAI_FAIL": (-4, "Non-recoverable failure in name resolution"),
}


@attrs.define(eq=False)
class Dns:
    """Names of the simulated network: ``add``, ``fail``, ``delay``, ``remove``.

    >>> from sansock_fake import Network
    >>> net = Network(seed=1)
    >>> client = net.add_host("client", "10.0.0.1")
    >>> net.dns.add("api.example.com", "10.0.0.2", "fd00::2")
    >>> import sansock
    >>> [ai[4][0] for ai in sansock.using(client).getaddrinfo("api.example.com", 80, type=1)]
    ['10.0.0.2', 'fd00::2']
    """

    _names: dict[str, list[str]] = attrs.field(factory=dict)
    _failures: dict[str, str] = attrs.field(factory=dict)
    _delays: dict[str, float] = attrs.field(factory=dict)

    @staticmethod
    def _key(name: str) -> str:
        if not isinstance(name, str) or not name:
            raise ValueError("a host name is a non-empty str")
        return name.lower().rstrip(".") or name

    def add(self, name: str, *addresses: str) -> None:
        """*name* answers *addresses* (IPv4 or IPv6 text), after any it had.

        ``ValueError`` for an address that is not IPv4 or IPv6 text.
        """
        texts = [str(ipaddress.ip_address(text)) for text in addresses]
        self._names.setdefault(self._key(name), []).extend(texts)

    def remove(self, name: str) -> None:
        """Forget *name*: its addresses, failure and delay."""
        key = self._key(name)
        self._names.pop(key, None)
        self._failures.pop(key, None)
        self._delays.pop(key, None)

    def fail(self, name: str, error: str | None = "EAI_NONAME") -> None:
        """Lookups of *name* fail with *error* (``"EAI_NONAME"``, ``"EAI_AGAIN"``,
        ``"EAI_FAIL"``) until ``fail(name, None)``."""
        key = self._key(name)
        if error is None:
            self._failures.pop(key, None)
            return
        if error not in DNS_ERRORS:
            raise ValueError(f"unknown resolver error {error!r}: one of {sorted(DNS_ERRORS)}")
        self._failures[key] = error

    def delay(self, name: str, seconds: float) -> None:
        """Lookups of *name* take *seconds* of virtual time (0 removes the delay)."""
        seconds = real_number("a delay", seconds)
        if not (seconds >= 0 and seconds != float("inf")):
            # An infinite delay would overflow the lookup's deadline (OverflowError).
            raise ValueError(f"a delay is a finite number of seconds, not negative: {seconds!r}")
        key = self._key(name)
        if seconds:
            self._delays[key] = seconds
        else:
            self._delays.pop(key, None)

    def delay_of(self, name: str) -> float:
        """The virtual seconds a lookup of *name* takes."""
        return self._delays.get(name.lower().rstrip("."), 0.0)

    def lookup(self, name: str) -> list[str] | None:
        """The addresses of *name* (None: not in this table); ``gaierror`` for a failing name."""
        key = name.lower().rstrip(".")
        error = self._failures.get(key)
        if error is not None:
            raise gaierror(*DNS_ERRORS[error])
        found = self._names.get(key)
        return None if found is None else list(found)
