"""Defects noticed in session 5, each with the test that showed it.

Items about the fake alone (a crashed host, the scheduler, TIME_WAIT reuse)
run on the fake; the others run on both drivers, the real kernel as oracle.
"""

from __future__ import annotations

import errno
import socket

import pytest

import sansock
from sansock import Binding
from sansock_fake import Network


def crashed_host() -> tuple[Network, Binding]:
    net = Network(seed=5)
    host = net.add_host("server", "10.0.0.2")
    net.dns.add("peer.example.com", "10.0.0.3")
    api = sansock.using(host)
    host.crash()
    return net, api


# -- 1. a crashed host's programs -----------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda api: api.socket(api.AF_INET, api.SOCK_STREAM), id="socket"),
        pytest.param(lambda api: api.socket(api.AF_UNIX, api.SOCK_DGRAM), id="socket-unix"),
        pytest.param(lambda api: api.socketpair(), id="socketpair"),
        pytest.param(lambda api: api.getaddrinfo("peer.example.com", 80), id="getaddrinfo"),
        pytest.param(lambda api: api.getaddrinfo("localhost", 80), id="getaddrinfo-localhost"),
        pytest.param(lambda api: api.gethostbyname("peer.example.com"), id="gethostbyname"),
        pytest.param(lambda api: api.gethostbyaddr("10.0.0.3"), id="gethostbyaddr"),
        pytest.param(lambda api: api.getnameinfo(("10.0.0.3", 80), 0), id="getnameinfo"),
        pytest.param(lambda api: api.getservbyname("http"), id="getservbyname"),
        pytest.param(lambda api: api.getprotobyname("tcp"), id="getprotobyname"),
        pytest.param(lambda api: api.gethostname(), id="gethostname"),
        pytest.param(lambda api: api.if_nameindex(), id="if_nameindex"),
        pytest.param(lambda api: api.create_connection(("10.0.0.3", 80)), id="create_connection"),
    ],
)
def test_every_call_of_a_crashed_host_fails_with_ebadf(call: object) -> None:
    # A crashed machine runs nothing: a call its program's threads still make
    # fails as the calls the crash interrupted do, not only those on old fds.
    net, api = crashed_host()
    with pytest.raises(OSError) as info:
        call(api)  # type: ignore[operator]
    assert type(info.value) is OSError and info.value.errno == errno.EBADF
    assert net.hosts["server"].open_fds() == []


def test_a_restarted_host_answers_calls_again() -> None:
    net, api = crashed_host()
    net.hosts["server"].restart()
    with api.socket(api.AF_INET, api.SOCK_STREAM) as s:
        s.bind(("10.0.0.2", 0))
    assert api.getaddrinfo("peer.example.com", 80, api.AF_INET, api.SOCK_STREAM)[0][4] == ("10.0.0.3", 80)
    assert api.gethostname() == "server"
