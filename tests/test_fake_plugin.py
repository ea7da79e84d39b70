"""The pytest plugin's fixtures (loaded through the pytest11 entry point)."""

from __future__ import annotations

import pytest

import sansock
from sansock import Binding
from sansock_fake import FakeKernel

pytest_plugins = ["pytester"]


def test_fake_net_is_bound_to_the_fake_kernel(fake_net: Binding, fake_kernel: FakeKernel) -> None:
    a, b = fake_net.socketpair()
    with a, b:
        assert fake_net.driver is fake_kernel
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"


def test_fake_sansock_swaps_the_module_level_api(fake_sansock: Binding, fake_kernel: FakeKernel) -> None:
    with sansock.create_server(("127.0.0.1", 0)) as server:
        assert server.fileno() in fake_kernel.open_fds()
        with sansock.create_connection(server.getsockname()) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"through the fake")
                assert conn.recv(64) == b"through the fake"


def test_the_default_driver_is_restored_afterwards() -> None:
    with sansock.swap_default_driver(FakeKernel()):
        pass
    assert type(sansock.default_binding().driver).__name__ == "NativeDriver"


def test_leaked_fake_fds_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        KEEP = []

        def test_leaks(fake_net):
            KEEP.append(fake_net.socketpair())
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::ResourceWarning")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the test left fake fds open*"])
