"""An outside review of the simulated network (issue 19) and trio on the fake (issue 17):
programs a user writes from the issue and the how-tos, each pinning a defect found and fixed.

Fake only (a network of fake kernels); virtual time only: no test sleeps but
for bounded real waits until a thread is blocked in the kernel.
"""

from __future__ import annotations

import pytest

import sansock
from sansock_fake import Network


def test_an_fd_of_a_crashed_host_is_not_reused_until_its_program_closes_it() -> None:
    # A thread of the crashed host's program closes its old socket after the
    # restart (its `with` block ends late): that must not close the socket a new
    # program made on the restarted host, which would otherwise get the same number.
    net = Network(seed=1)
    host = net.add_host("server", "10.0.0.2")
    api = sansock.using(host)
    old = api.socket(api.AF_INET, api.SOCK_STREAM)
    number = old.fileno()
    host.crash()
    host.restart()
    new = api.socket(api.AF_INET, api.SOCK_STREAM)
    assert new.fileno() != old.fileno()
    new.bind(("0.0.0.0", 8080))
    old.close()  # succeeds (the crash took it), and leaves the new socket alone
    assert new.getsockname() == ("0.0.0.0", 8080)
    new.close()
    # Once the old program closed it, the number is free again (lowest first, as alloc_fd).
    again = api.socket(api.AF_INET, api.SOCK_STREAM)
    assert again.fileno() == number
    again.close()


def test_an_fd_number_the_program_closed_is_reused_after_the_crash() -> None:
    net = Network(seed=1)
    host = net.add_host("server", "10.0.0.2")
    api = sansock.using(host)
    old = api.socket(api.AF_INET, api.SOCK_STREAM)
    number = old.fileno()
    host.crash()
    old.close()
    host.restart()
    with api.socket(api.AF_INET, api.SOCK_STREAM) as new:
        assert new.fileno() == number


def test_a_dns_delay_is_finite() -> None:
    net = Network(seed=1)
    for bad in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ValueError, match="finite"):
            net.dns.delay("slow.example", bad)
