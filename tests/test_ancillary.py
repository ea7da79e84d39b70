"""sansock.ancillary: typed control messages, truncation records, sizing, owned fds.

Codec tests are pure (every ABI profile); behaviour tests run on both drivers
through the ``net`` fixture; the BSD truncation cases use the fake kernel's
darwin personality and its fault script, which make them reproducible.
Control messages only the real kernel produces (timestamps, PKTINFO...) are
in ``test_ancillary_kernel.py``.
"""

from __future__ import annotations

import array
import gc
import sys
import warnings
from typing import Any

import pytest

import sansock
from sansock import ABI, Binding
from sansock import ancillary as anc
from sansock._profiles import DARWIN_ARM64, LINUX_AARCH64, LINUX_I386, LINUX_X86_64, PROFILES

LINUX = [LINUX_X86_64, LINUX_AARCH64, LINUX_I386]


def is_fake(net: Binding) -> bool:
    from sansock_fake import FakeKernel

    return isinstance(net.driver, FakeKernel)


def fd_is_closed(net: Binding, fd: int) -> bool:
    try:
        net.driver.get_inheritable(fd)
    except OSError as exc:
        return exc.errno == 9
    return False


def free_fd_number(net: Binding) -> int:
    """The number the next fd will get (the lowest free one)."""
    probe = net.driver.dup(0) if not is_fake(net) else None
    if probe is None:
        a, b = net.socketpair()
        number = a.fileno()
        a.close()
        b.close()
        return number
    net.driver.close(probe)
    return probe


# -- codecs: every value round-trips on every ABI that has its constants -------------


def samples() -> list[object]:
    return [
        anc.Fds((3, 4, 1000)),
        anc.Fds(()),
        anc.Credentials(4242, 1000, 0xFFFFFFFE),
        anc.Timestamp(1_700_000_000, 999_999),
        anc.TimestampNs(1_700_000_000, 999_999_999),
        anc.PacketInfo(1, "127.0.0.1", "10.1.2.3"),
        anc.Ipv6PacketInfo("::1", 7),
        anc.TimeToLive(64),
        anc.TypeOfService(0x10),
        anc.HopLimit(255),
        anc.TrafficClass(0x28),
        anc.GroSegmentSize(1200),
        anc.GsoSegmentSize(1400),
        anc.ExtendedError(111, anc.SO_EE_ORIGIN_ICMP, 3, 3, 0, 0, ("127.0.0.1", 0)),
        anc.ExtendedError(90, anc.SO_EE_ORIGIN_LOCAL, 0, 0, 1500, 0, None),
        anc.ExtendedError(111, anc.SO_EE_ORIGIN_ICMP6, 1, 4, 0, 0, ("::1", 0, 0, 0), ipv6=True),
    ]


@pytest.mark.parametrize("abi", LINUX, ids=lambda a: a.name)
@pytest.mark.parametrize("value", samples(), ids=repr)
def test_every_value_round_trips(abi: ABI, value: object) -> None:
    item = anc.encode(value, abi)
    assert anc.decode_item(item, abi) == value
    # ...and through a real control buffer: pack as sendmsg does, walk as recvmsg does.
    control = sansock._cmsg.pack_ancdata([item], abi)
    assert sansock._cmsg.unpack_ancdata(control, 0, abi).items == [item]


def test_darwin_round_trips_what_it_has() -> None:
    for value in (anc.Fds((5,)), anc.Timestamp(12, 345), anc.TimeToLive(3), anc.PacketInfo(2, "1.2.3.4", "5.6.7.8")):
        assert anc.decode_item(anc.encode(value, DARWIN_ARM64), DARWIN_ARM64) == value
    with pytest.raises(KeyError, match="darwin-arm64 ABI profile has no value for SCM_CREDENTIALS"):
        anc.Credentials(1, 2, 3).encode(DARWIN_ARM64)


def test_timestamp_layouts_follow_the_abi_not_the_host() -> None:
    # The 32/64-bit bug: struct timeval/timespec are two longs.
    assert len(anc.TimestampNs(1, 2).encode(LINUX_X86_64)[2]) == 16
    assert len(anc.TimestampNs(1, 2).encode(LINUX_I386)[2]) == 8
    assert anc.TimestampNs(1, 2).encode(LINUX_I386)[2] == b"\x01\0\0\0\x02\0\0\0"
    assert anc.Timestamp.decode(b"\x01\0\0\0\x02\0\0\0", LINUX_I386) == anc.Timestamp(1, 2)
    # 16 bytes read with the i386 layout are not a timeval: returned raw.
    data = anc.Timestamp(1, 2).encode(LINUX_X86_64)[2]
    assert anc.decode_item((1, 29, data), LINUX_I386) == (1, 29, data)
    # Darwin: long tv_sec, int32 tv_usec, padded to 16.
    assert anc.Timestamp(1, 2).encode(DARWIN_ARM64)[2] == (1).to_bytes(8, "little") + b"\x02\0\0\0" + bytes(4)
    assert anc.TimestampNs(5, 6).ns == 5_000_000_006
    assert anc.Timestamp(5, 6).ns == 5_000_006_000


def test_layouts_match_the_c_structs() -> None:
    abi = LINUX_X86_64
    assert anc.Credentials(1, 2, 3).encode(abi) == (1, 2, b"\x01\0\0\0\x02\0\0\0\x03\0\0\0")
    assert anc.PacketInfo(2, "127.0.0.1", "127.0.0.2").encode(abi) == (
        0, 8, b"\x02\0\0\0\x7f\0\0\x01\x7f\0\0\x02"
    )
    assert anc.Ipv6PacketInfo("::1", 1).encode(abi) == (41, 50, bytes(15) + b"\x01\x01\0\0\0")
    assert anc.GsoSegmentSize(1400).encode(abi) == (17, 103, (1400).to_bytes(2, "little"))
    # IP_TOS arrives as one byte (ip_cmsg_recv_tos).
    assert anc.decode_item((0, 1, b"\x10"), abi) == anc.TypeOfService(0x10)
    ee = anc.ExtendedError(111, 2, 3, 3, 0, 0, ("127.0.0.1", 0)).encode(abi)
    assert ee[:2] == (0, 11)
    assert ee[2][:16] == b"\x6f\0\0\0\x02\x03\x03\0" + bytes(8)
    assert ee[2][16:20] == b"\x02\0\0\0" and len(ee[2]) == 32


def test_unknown_and_malformed_items_pass_through_raw() -> None:
    abi = LINUX_X86_64
    assert anc.decode_item((1, 77, b"abc"), abi) == (1, 77, b"abc")
    assert anc.decode_item((1, 2, b"short"), abi) == (1, 2, b"short")  # not a struct ucred
    assert anc.encode((1, 77, b"abc"), abi) == (1, 77, b"abc")
    with pytest.raises(TypeError, match="cannot encode int"):
        anc.encode(5, abi)


def test_registry_adds_decoders_without_a_release() -> None:
    abi = LINUX_X86_64
    registry = anc.DEFAULT_REGISTRY.copy()
    registry.register("SOL_SOCKET", "SO_MARK", lambda data, abi: ("mark", data))
    assert registry.decode(1, 36, b"x", abi) == ("mark", b"x")
    assert anc.DEFAULT_REGISTRY.decode(1, 36, b"x", abi) == (1, 36, b"x")  # the copy is separate
    with pytest.raises(ValueError, match="already registered"):
        registry.register("SOL_SOCKET", "SO_MARK", lambda data, abi: None)
    registry.register("SOL_SOCKET", "SCM_RIGHTS", lambda data, abi: "mine", replace=True)
    assert registry.decode(1, 1, b"", abi) == "mine"
    registry.register(1, 36, lambda data, abi: "by value")
    assert registry.decode(1, 36, b"x", abi) == "by value"  # an int key wins over a name
    registry.unregister(1, 36)
    assert registry.decode(1, 36, b"x", abi) == ("mark", b"x")
    # Names resolve per ABI: SO_MARK is absent from the darwin profile.
    assert registry.decoder_for(1, 36, DARWIN_ARM64) is None


@pytest.mark.parametrize("abi", list(PROFILES.values()), ids=lambda a: a.name)
def test_ancillary_space_sums_cmsg_space(abi: ABI) -> None:
    def space(n: int) -> int:
        return sansock._cmsg.cmsg_space(n, abi)

    assert anc.ancillary_space(abi) == 0
    assert anc.ancillary_space(abi, fds=3) == space(3 * abi.sizeof_int)
    assert anc.ancillary_space(abi, fds=1, ttl=True, tos=True, extra=[5]) == (
        space(4) + space(4) + space(1) + space(5)
    )
    if "SCM_CREDENTIALS" in abi.constants:
        got = anc.ancillary_space(abi, fds=3, credentials=True, timestamp_ns=True)
        assert got == space(12) + space(12) + space(2 * abi.sizeof_long)
        # The classic bug: CMSG_LEN summed is too small for several items.
        assert got > sansock._cmsg.cmsg_len(12, abi) * 2 + sansock._cmsg.cmsg_len(2 * abi.sizeof_long, abi) - 8
    with pytest.raises(ValueError):
        anc.ancillary_space(abi, fds=-1)


def test_ancillary_space_known_values() -> None:
    assert anc.ancillary_space(LINUX_X86_64, fds=3, credentials=True, timestamp_ns=True) == 96
    assert anc.ancillary_space(LINUX_I386, fds=3, credentials=True, timestamp_ns=True) == 68
    assert anc.ancillary_space(LINUX_X86_64, recverr=True) == 48
    assert anc.ancillary_space(LINUX_X86_64, ipv6_recverr=True) == 64
    with pytest.raises(TypeError, match="expected an ABI"):
        anc.ancillary_space("linux")  # type: ignore[arg-type]


# -- receiving, on both drivers -------------------------------------------------------------


def send_fds(net: Binding, sock: Any, fds: list[int], data: bytes = b"m") -> None:
    sock.sendmsg([data], [(net.SOL_SOCKET, net.SCM_RIGHTS, array.array("i", fds))])


def test_fds_and_credentials_decoded(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        b.setsockopt(net.SOL_SOCKET, net.SO_PASSCRED, 1)
        send_fds(net, a, [x.fileno(), y.fileno()])
        space = anc.ancillary_space_for(b, fds=2)
        assert space == net.CMSG_SPACE(12) + net.CMSG_SPACE(8)
        got = anc.recvmsg_ex(b, 16, space)
        try:
            creds = got.get(anc.Credentials)
            assert creds is not None
            if is_fake(net):
                assert creds == anc.Credentials(4242, 1000, 1000)
            else:
                import os

                assert creds == anc.Credentials(os.getpid(), os.getuid(), os.getgid())
            # Credentials come before the fds (scm_recv).
            assert [type(m) for m in got.ancdata] == [anc.Credentials, anc.Fds]
            assert got.get_all(anc.Fds) == [anc.Fds(got.fds)]
            assert len(got.fds) == 2
            assert (got.data, got.msg_flags, got.address) == (b"m", 0, None)
            assert got.truncation == anc.Truncation(False, False, False, None, False, 2, 0)
            assert [(lvl, kind) for lvl, kind, _ in got.raw] == [(1, 2), (1, 1)]
            assert got.get(anc.Timestamp) is None
        finally:
            for fd in got.fds:
                net.close(fd)


def test_linux_trims_so_lost_fds_are_unknown(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno(), y.fileno(), x.fileno()])
        # Room for one fd: no warning (the stdlib does not warn on Linux either).
        got = anc.recvmsg_ex(b, 1, net.CMSG_LEN(4))
        for fd in got.fds:
            net.close(fd)
        t = got.truncation
        assert (t.control, t.ctrunc, t.cut_item, t.fds_delivered, t.fds_lost) == (True, True, None, 1, None)
        assert not t.stdlib_warns
        assert "1 fds delivered, an unknown number of lost" in t.describe()


def test_raise_policy_closes_every_fd_first(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        expected = free_fd_number(net)
        send_fds(net, a, [x.fileno(), y.fileno()])
        with pytest.raises(anc.ControlTruncatedError) as info:
            anc.recvmsg_ex(b, 10, net.CMSG_LEN(4), policy="raise")
        err = info.value
        assert isinstance(err, RuntimeError)
        assert (err.data, err.address, err.truncation.fds_delivered) == (b"m", None, 1)
        assert "control data truncated (MSG_CTRUNC)" in str(err)
        assert fd_is_closed(net, expected)


def test_policy_per_socket_and_per_call(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        assert anc.truncation_policy(b) == "warn"
        anc.set_truncation_policy(b, "raise")
        assert anc.truncation_policy(b) == "raise"
        assert anc.truncation_policy(a) == "warn"
        send_fds(net, a, [x.fileno(), y.fileno()])
        with pytest.raises(anc.ControlTruncatedError):
            anc.recvmsg_ex(b, 10, net.CMSG_LEN(4))
        send_fds(net, a, [x.fileno(), y.fileno()])
        got = anc.recvmsg_ex(b, 10, net.CMSG_LEN(4), policy="ignore")
        for fd in got.fds:
            net.close(fd)
        assert got.truncation.ctrunc
        # The stdlib method is untouched by the socket's policy.
        send_fds(net, a, [x.fileno()])
        _, ancdata, flags, _ = b.recvmsg(10, 0)
        assert (ancdata, flags & net.MSG_CTRUNC) == ([], net.MSG_CTRUNC)
        with pytest.raises(ValueError, match="'warn', 'raise' or 'ignore'"):
            anc.set_truncation_policy(b, "loud")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            anc.recvmsg_ex(b, 10, policy="loud")  # type: ignore[call-overload]


def test_data_truncation_is_reported_not_raised(net: Binding) -> None:
    a, b = net.socketpair(net.AF_UNIX, net.SOCK_DGRAM)
    with a, b:
        a.send(b"0123456789")
        got = anc.recvmsg_ex(b, 4, policy="raise")
        assert (got.data, got.truncation.data, got.truncation.control) == (b"0123", True, False)
        assert got.msg_flags & net.MSG_TRUNC


def test_recvmsg_into_ex(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno()], b"hello")
        buf = bytearray(8)
        got = anc.recvmsg_into_ex(b, [buf], anc.ancillary_space(b, fds=1))
        for fd in got.fds:
            net.close(fd)
        assert (got.data, bytes(buf[:5]), len(got.fds)) == (5, b"hello", 1)


def test_argument_errors_match_recvmsg(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        cases: list[tuple[Any, ...]] = [(-1,), (10, -1), ("x",), (10, 0, "x")]
        for args in cases:
            with pytest.raises(Exception) as ours:
                anc.recvmsg_ex(b, *args)
            with pytest.raises(Exception) as theirs:
                b.recvmsg(*args)
            assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_a_failing_decoder_closes_the_fds(net: Binding) -> None:
    registry = anc.DEFAULT_REGISTRY.copy()

    def broken(data: bytes, abi: ABI) -> object:
        raise RuntimeError("decoder bug")

    registry.register("SOL_SOCKET", "SCM_RIGHTS", broken, replace=True)
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        expected = free_fd_number(net)
        send_fds(net, a, [x.fileno()])
        with pytest.raises(RuntimeError, match="decoder bug"):
            anc.recvmsg_ex(b, 10, net.CMSG_SPACE(4), registry=registry)
        assert fd_is_closed(net, expected)


# -- owned fds ---------------------------------------------------------------------------------


def test_owned_fds_close_themselves_and_are_cloexec(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno(), y.fileno()])
        with anc.recvmsg_owned(b, 10, anc.ancillary_space(b, fds=2)) as got:
            first, second = got.fds
            numbers = [first.fileno(), second.fileno()]
            assert not net.driver.get_inheritable(numbers[0])
            with net.socket(fileno=second.detach()) as y2:
                y2.sendall(b"via the passed fd")
                assert x.recv(64) == b"via the passed fd"
            assert second.closed and "closed" in repr(second)
            with pytest.raises(ValueError):
                second.fileno()
        assert first.closed
        assert fd_is_closed(net, numbers[0])
        first.close()  # idempotent


def test_owned_fds_without_cloexec_are_inheritable(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno()])
        with anc.recvmsg_owned(b, 10, net.CMSG_SPACE(4), cloexec=False) as got:
            (fd,) = got.fds
            assert net.driver.get_inheritable(fd.fileno())
        send_fds(net, a, [x.fileno()])
        plain = anc.recvmsg_ex(b, 10, net.CMSG_SPACE(4), cloexec=True)
        assert plain.msg_flags & net.MSG_CMSG_CLOEXEC
        assert not net.driver.get_inheritable(plain.fds[0])
        net.close(plain.fds[0])


def test_dropped_owned_fd_warns_and_closes(net: Binding) -> None:
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno()])
        got = anc.recvmsg_owned(b, 10, net.CMSG_SPACE(4))
        number = got.fds[0].fileno()
        with pytest.warns(ResourceWarning, match=f"unclosed received fd {number}"):
            del got
            gc.collect()
        assert fd_is_closed(net, number)


def test_dropped_owned_fd_is_closed_when_its_resource_warning_is_an_error(net: Binding) -> None:
    # As a socket's (sock_finalize): the raised warning is unraisable, the fd closed anyway.
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno()])
        got = anc.recvmsg_owned(b, 10, net.CMSG_SPACE(4))
        number = got.fds[0].fileno()
        seen: list[object] = []
        previous = sys.unraisablehook
        sys.unraisablehook = lambda args: seen.append(args.exc_type)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ResourceWarning)
                del got
                gc.collect()
        finally:
            sys.unraisablehook = previous
        assert seen == [ResourceWarning]
        assert fd_is_closed(net, number)


# -- sendall progress ---------------------------------------------------------------------------


def sendall_error(sock: Any, payload: bytes) -> BaseException:
    """What ``sock.sendall(payload)`` raises, its traceback dropped.

    The native driver keeps its ``ffi.from_buffer`` export of the data in
    the frame that raises; the traceback's reference cycle then reaches the
    cyclic GC, whose clearing order crashes the interpreter (reported).
    Dropping the traceback breaks the cycle so refcounting frees it in order.
    """
    try:
        sock.sendall(payload)
    except Exception as exc:  # noqa: BLE001
        link: BaseException | None = exc
        while link is not None:
            link.__traceback__ = None
            link = link.__context__
        return exc
    raise AssertionError("sendall did not raise")


def drain(sock: Any) -> int:
    sock.setblocking(False)
    total = 0
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return total
        if not chunk:
            return total
        total += len(chunk)


def test_sendall_timeout_says_how_far_it_got(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        a.settimeout(0.05)  # the fake's clock is virtual: no real wait there
        payload = b"x" * (8 << 20)
        exc = sendall_error(a, payload)
        assert isinstance(exc, TimeoutError)
        assert (type(exc), str(exc), exc.args) == (TimeoutError, "timed out", ("timed out",))
        sent = anc.bytes_sent(exc)
        assert sent is not None and 0 < sent < len(payload)
        assert drain(b) == sent


def test_sendall_nonblocking_error_says_how_far_it_got(net: Binding) -> None:
    a, b = net.socketpair()
    with a, b:
        a.setblocking(False)
        exc = sendall_error(a, b"x" * (8 << 20))
        assert isinstance(exc, BlockingIOError)
        sent = anc.bytes_sent(exc)
        assert sent is not None and sent > 0
        assert drain(b) == sent


def test_sendall_progress_absent_elsewhere(net: Binding) -> None:
    assert anc.bytes_sent(OSError(1, "x")) is None
    a, b = net.socketpair()
    a.close()
    with b:
        exc = sendall_error(a, b"data")
    assert isinstance(exc, OSError) and exc.errno == 9
    assert anc.bytes_sent(exc) == 0


# -- BSD-like truncation (fake kernel, darwin personality) and faults ---------------------------


@pytest.fixture
def bsd() -> Binding:
    from sansock_fake import FakeKernel

    return sansock.using(FakeKernel(personality="darwin"))


def test_untrimmed_cmsg_len_counts_the_lost_fds(bsd: Binding) -> None:
    a, b = bsd.socketpair()
    x, y = bsd.socketpair()
    with a, b, x, y:
        send_fds(bsd, a, [x.fileno(), y.fileno(), x.fileno()])
        with pytest.warns(RuntimeWarning, match="improperly-truncated ancillary data") as record:
            got = anc.recvmsg_ex(b, 1, bsd.CMSG_LEN(6))
        assert record[0].filename == __file__  # attributed to the caller
        for fd in got.fds:
            bsd.close(fd)
        t = got.truncation
        assert t.cut_item == anc.CutItem(0, bsd.SOL_SOCKET, bsd.SCM_RIGHTS, kept=6, claimed=12)
        assert (t.fds_delivered, t.fds_lost, t.stdlib_warns) == (1, 2, True)
        assert "kept 6 of 12 bytes; 1 fds delivered, 2 lost" in t.describe()
        # The stdlib method gives the same raw items.
        send_fds(bsd, a, [x.fileno(), y.fileno(), x.fileno()])
        with pytest.warns(RuntimeWarning):
            _, ancdata, _, _ = b.recvmsg(1, bsd.CMSG_LEN(6))
        bsd.close(int.from_bytes(ancdata[0][2][:4], "little"))
        assert list(got.raw) == ancdata


class Index:
    """An ``__index__`` object: recvmsg takes its general (parsing) path."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


@pytest.mark.parametrize("how", ["recvmsg", "recvmsg parsed", "recvmsg_into", "recvmsg_into parsed"])
def test_stdlib_truncation_warning_is_attributed_to_the_caller(bsd: Binding, how: str) -> None:
    # CPython's sock_recvmsg_guts warns with stacklevel=1: the line that
    # called recvmsg, on the fast path and the parsing path alike.
    a, b = bsd.socketpair()
    x, y = bsd.socketpair()
    with a, b, x, y:
        send_fds(bsd, a, [x.fileno(), y.fileno(), x.fileno()])
        size = bsd.CMSG_LEN(6)
        with pytest.warns(RuntimeWarning, match="improperly-truncated ancillary data") as record:
            if how == "recvmsg":
                _, ancdata, _, _ = b.recvmsg(1, size)
            elif how == "recvmsg parsed":
                _, ancdata, _, _ = b.recvmsg(Index(1), Index(size))  # type: ignore[arg-type]
            elif how == "recvmsg_into":
                _, ancdata, _, _ = b.recvmsg_into([bytearray(1)], size)
            else:
                _, ancdata, _, _ = b.recvmsg_into([memoryview(bytearray(1))], Index(size))  # type: ignore[arg-type]
        assert [w.filename for w in record] == [__file__]
        bsd.close(int.from_bytes(ancdata[0][2][:4], "little"))


def test_warning_as_error_closes_the_fds(bsd: Binding) -> None:
    a, b = bsd.socketpair()
    x, y = bsd.socketpair()
    with a, b, x, y:
        expected = free_fd_number(bsd)
        send_fds(bsd, a, [x.fileno(), y.fileno()])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(RuntimeWarning):
                anc.recvmsg_ex(b, 1, bsd.CMSG_LEN(6))
        assert fd_is_closed(bsd, expected)


def test_ignore_policy_is_silent_even_on_bsd(bsd: Binding) -> None:
    a, b = bsd.socketpair()
    x, y = bsd.socketpair()
    with a, b, x, y:
        send_fds(bsd, a, [x.fileno(), y.fileno()])
        got = anc.recvmsg_ex(b, 1, bsd.CMSG_LEN(6), policy="ignore")
        for fd in got.fds:
            bsd.close(fd)
        assert got.truncation.fds_lost == 1


def test_emfile_while_installing_fds_is_ctrunc_with_unknown_loss() -> None:
    from sansock_fake import FakeKernel

    kernel = FakeKernel()
    net = sansock.using(kernel)
    a, b = net.socketpair()
    x, y = net.socketpair()
    with a, b, x, y:
        send_fds(net, a, [x.fileno(), y.fileno(), x.fileno()])
        kernel.faults.fail("install_fd", kernel.abi.errno("EMFILE"), nth=2)
        got = anc.recvmsg_ex(b, 1, anc.ancillary_space(b, fds=3))
        for fd in got.fds:
            net.close(fd)
        t = got.truncation
        assert (t.ctrunc, t.cut_item, t.fds_delivered, t.fds_lost) == (True, None, 1, None)


def test_default_registry_is_read_only_and_copies_are_not() -> None:
    # What DEFAULT_REGISTRY decodes is typed (ancillary.ControlMessage) and
    # shared by every receive: it refuses changes; a copy takes them.
    with pytest.raises(TypeError, match=r"DEFAULT_REGISTRY is read-only; register on DEFAULT_REGISTRY.copy\(\)"):
        anc.DEFAULT_REGISTRY.register(0, 99, lambda data, abi: data)
    with pytest.raises(TypeError, match="read-only"):
        anc.DEFAULT_REGISTRY.unregister("SOL_SOCKET", "SCM_RIGHTS")
    mine = anc.DEFAULT_REGISTRY.copy()
    mine.register(0, 99, lambda data, abi: ("mine", data))
    mine.unregister("SOL_SOCKET", "SCM_RIGHTS")
    assert anc.Received[bytes] == anc.Received[bytes, anc.ControlMessage]
