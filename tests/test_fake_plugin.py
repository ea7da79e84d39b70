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


def test_a_socket_dropped_without_close_fails_the_test(pytester: pytest.Pytester) -> None:
    # The garbage collector closes the fd (with a ResourceWarning that the
    # default filters hide in the summary): the fixture still fails the test,
    # naming the fd and the line that made it.
    pytester.makepyfile(
        test_drop="""
        def test_drops(fake_net):
            a, b = fake_net.socketpair()
            b.close()
            del a

        def test_closes(fake_net):
            a, b = fake_net.socketpair()
            a.close(); b.close()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the test dropped sockets without close(): fds [[]*[]]*",
            "*fd * made at test_drop.py:2 in test_drops: a, b = fake_net.socketpair()",
        ]
    )


def test_a_socket_dropped_under_error_filters_fails_the_test(pytester: pytest.Pytester) -> None:
    # With ResourceWarning as an error, __del__ still closes the fd (as
    # CPython's sock_finalize does, reporting the warning as unraisable): the
    # socket is reported as dropped, not left open.
    pytester.makepyfile(
        test_drop="""
        def test_drops(fake_kernel):
            import sansock
            net = sansock.using(fake_kernel)
            net.socket(net.AF_INET, net.SOCK_DGRAM)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::ResourceWarning")
    result.stdout.fnmatch_lines(
        [
            "*the test dropped sockets without close(): fds [[]*[]]*",
            "*fd * made at test_drop.py:4 in test_drops: net.socket(net.AF_INET, net.SOCK_DGRAM)",
        ]
    )
    result.stdout.no_fnmatch_line("*left fake fds open*")
    assert result.ret != 0


def test_a_socket_closed_by_an_earlier_cleanup_fixture_is_no_leak(pytester: pytest.Pytester) -> None:
    # A fixture set up before fake_kernel is torn down after it: the leak check
    # runs once the whole teardown is over.  A socket nothing closes is still
    # reported, after the same cleanup.
    pytester.makepyfile(
        test_cleanup="""
        import contextlib
        import pytest

        @pytest.fixture
        def stack():
            with contextlib.ExitStack() as st:
                yield st

        def test_closed_by_the_stack(stack, fake_net):
            s = fake_net.socket()
            stack.callback(s.close)

        def test_closed_by_the_stack_on_the_module_api(stack, fake_sansock):
            import sansock
            a, b = sansock.socketpair()
            stack.enter_context(a)
            stack.enter_context(b)

        KEEP = []

        def test_still_leaks(stack, fake_net):
            s = fake_net.socket()
            stack.callback(KEEP.append, s)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::ResourceWarning")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_still_leaks*",
            "*the test left fake fds open: [[]*[]]*",
        ]
    )


def test_a_held_socket_names_where_it_was_made(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_hold="""
        import threading
        KEEP = []

        def test_holds(fake_sansock):
            import sansock
            server = sansock.create_server(("127.0.0.1", 0))
            KEEP.append(server)
            def client():
                KEEP.append(sansock.create_connection(server.getsockname()))
            t = threading.Thread(target=client)
            t.start()
            KEEP.append(server.accept())
            t.join()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::ResourceWarning")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the test left fake fds open: [[]*, *, *[]]*",
            "*fd * made at test_hold.py:6 in test_holds: server = sansock.create_server*",
            "*fd * made at test_hold.py:9 in client: KEEP.append(sansock.create_connection*",
            "*fd * made at test_hold.py:12 in test_holds: KEEP.append(server.accept())",
        ]
    )


def test_both_drivers_through_one_parametrised_fixture(pytester: pytest.Pytester) -> None:
    # The fixture docs/howto/testing.rst shows, run as a user would.
    pytester.makeconftest(
        """
        import pytest
        import sansock

        @pytest.fixture(params=["native", "fake"])
        def net(request: pytest.FixtureRequest) -> sansock.Binding:
            if request.param == "fake":
                return request.getfixturevalue("fake_net")
            pytest.importorskip("sansock_native._sansock_native")
            from sansock_native import NativeDriver
            return sansock.using(NativeDriver())
        """
    )
    pytester.makepyfile(
        """
        def test_echo(net):
            a, b = net.socketpair()
            with a, b:
                a.sendall(b"ping")
                assert b.recv(4) == b"ping"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_echo[[]native[]] PASSED*", "*test_echo[[]fake[]] PASSED*"])


def test_fixture_objects_have_readable_reprs(fake_kernel: FakeKernel, fake_net: Binding) -> None:
    assert repr(fake_kernel) == "<FakeKernel linux-x86_64, fds open: [], 0 syscalls traced>"
    a, b = fake_net.socketpair()
    with a, b:
        fds = f"[{a.fileno()}, {b.fileno()}]"
        assert repr(fake_kernel).startswith(f"<FakeKernel linux-x86_64, fds open: {fds}, ")
        assert repr(fake_net).startswith(f"<sansock.Binding: <FakeKernel linux-x86_64, fds open: {fds}, ")
    assert repr(sansock.using(FakeKernel())) == "<sansock.Binding: FakeKernel (linux-x86_64)>"
