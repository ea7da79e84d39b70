"""The shortcuts of issue 13 give exactly what the general code gives.

Each fast path (constants remembered after their first lookup, exact-int
``CMSG_SPACE``/``CMSG_LEN``, the cheaper socket construction, ``recv_fds``,
``getaddrinfo``'s decoding, ``sendto``'s address cache) takes only the
inputs whose outcome cannot differ, and these tests hold it to the stdlib
and to the general path with the inputs it must not take: int subclasses
with a lying ``__index__``/``__le__``, ``bool``, ``Decimal``, values out of
range.
"""

from __future__ import annotations

import socket as stdlib
from typing import Any

import pytest

import sansock
from sansock import Binding
from sansock._profiles import DARWIN_ARM64, LINUX_AARCH64, LINUX_I386, LINUX_X86_64
from sansock_fake import FakeKernel

# -- item 1: constants remembered after their first lookup -------------------------


def test_module_constants_are_kept_in_the_module_dict_until_the_driver_changes() -> None:
    assert sansock.SOL_SOCKET == stdlib.SOL_SOCKET
    assert vars(sansock)["SOL_SOCKET"] == stdlib.SOL_SOCKET  # a plain lookup from now on
    assert sansock.AF_INET is sansock.AddressFamily.AF_INET
    with sansock.swap_default_driver(FakeKernel(abi=DARWIN_ARM64)):
        assert "SOL_SOCKET" not in vars(sansock)
        assert sansock.SOL_SOCKET == 0xFFFF  # Darwin's value, not the one remembered
        assert sansock.SO_RCVBUF == 0x1002
        assert sansock.AF_INET is sansock.AddressFamily.AF_INET
        darwin_family = sansock.AddressFamily
    assert "SO_RCVBUF" not in vars(sansock)
    assert sansock.SOL_SOCKET == stdlib.SOL_SOCKET
    assert sansock.SO_RCVBUF == stdlib.SO_RCVBUF
    assert sansock.AddressFamily is not darwin_family
    assert sansock.AF_INET is sansock.AddressFamily.AF_INET


def test_swap_driver_on_the_default_binding_forgets_the_module_constants() -> None:
    assert sansock.SOL_SOCKET == stdlib.SOL_SOCKET
    binding = sansock.default_binding()
    previous = binding.swap_driver(FakeKernel(abi=DARWIN_ARM64))
    try:
        assert sansock.SOL_SOCKET == 0xFFFF
    finally:
        binding.swap_driver(previous)
    assert sansock.SOL_SOCKET == stdlib.SOL_SOCKET


def test_unknown_and_private_names_are_never_remembered() -> None:
    for _ in range(2):
        assert not hasattr(sansock, "NOPE")
        assert not hasattr(sansock, "POLLIN")  # an ABI fact, not a socket name
        assert not hasattr(sansock, "abi")
    assert "NOPE" not in vars(sansock)
    with pytest.raises(AttributeError, match="module 'sansock' has no attribute 'NOPE'"):
        sansock.NOPE  # type: ignore[attr-defined]


def test_a_value_set_on_the_module_survives_a_swap() -> None:
    # monkeypatch.setattr(sansock, "SOL_SOCKET", ...) replaces the remembered
    # value: a swap must not delete the user's value.
    assert sansock.SOL_SOCKET == stdlib.SOL_SOCKET
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(sansock, "SOL_SOCKET", 12345)
        with sansock.swap_default_driver(FakeKernel()):
            assert sansock.SOL_SOCKET == 12345
    finally:
        mp.undo()
    assert sansock.SOL_SOCKET == stdlib.SOL_SOCKET


def test_binding_constants_are_remembered_per_binding_and_forgotten_on_swap() -> None:
    net: Binding = sansock.using(FakeKernel(abi=LINUX_X86_64))
    assert net.SOL_SOCKET == 1
    assert vars(net)["SOL_SOCKET"] == 1
    assert net.SOCK_STREAM is net.SocketKind.SOCK_STREAM
    net.swap_driver(FakeKernel(abi=DARWIN_ARM64))
    assert "SOL_SOCKET" not in vars(net)
    assert net.SOL_SOCKET == 0xFFFF
    assert net.SOCK_STREAM is net.SocketKind.SOCK_STREAM
    with pytest.raises(AttributeError, match="'Binding' object has no attribute 'NOPE'"):
        net.NOPE  # type: ignore[attr-defined]
    assert "NOPE" not in vars(net)


# -- item 3: CMSG_LEN / CMSG_SPACE of exact ints ------------------------------------


class _LyingInt(int):
    """An int subclass whose __index__ and comparisons lie."""

    def __index__(self) -> int:
        return 1 << 40

    def __le__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(4)

    def __eq__(self, other: object) -> bool:
        return True


def _outcome(call: object, arg: object) -> object:
    try:
        return call(arg)  # type: ignore[operator]
    except Exception as exc:  # the exception's type and message are the outcome
        return (type(exc), str(exc))


@pytest.mark.parametrize("name", ["CMSG_LEN", "CMSG_SPACE"])
def test_cmsg_arithmetic_matches_the_stdlib_before_and_after_it_is_remembered(name: str) -> None:
    from decimal import Decimal

    ours, theirs = getattr(sansock, name), getattr(stdlib, name)
    args: list[object] = [0, 1, 4, 7, 8, 12, 100, 4096, 65536, 65537, -1, -(1 << 70), 1 << 31,
                          (1 << 32) - 16, 1 << 63, 1 << 70, True, False, _LyingInt(4), Decimal(4),
                          4.0, "4", None]
    for _ in range(2):  # the second pass finds the exact ints remembered
        for arg in args:
            assert _outcome(ours, arg) == _outcome(theirs, arg), (name, arg)


def test_cmsg_arithmetic_follows_the_binding_s_driver() -> None:
    net = sansock.using(FakeKernel(abi=LINUX_X86_64))
    assert (net.CMSG_LEN(4), net.CMSG_SPACE(4)) == (20, 24)
    net.swap_driver(FakeKernel(abi=DARWIN_ARM64))
    # XNU: 4-byte alignment, a 12-byte header.
    assert (net.CMSG_LEN(4), net.CMSG_SPACE(4)) == (16, 16)


# -- item 5: socket construction -----------------------------------------------------


def _construct(module: object, *args: object, **kwargs: object) -> object:
    try:
        s = module.socket(*args, **kwargs)  # type: ignore[attr-defined]
    except Exception as exc:
        return (type(exc), str(exc))
    try:
        return (s.family, s.type, s.proto)
    finally:
        if "fileno" in kwargs:
            s.detach()
        else:
            s.close()


def _refused_by_kernel(outcome: object) -> bool:
    return isinstance(outcome, tuple) and len(outcome) == 2 and outcome[0] in (OSError, PermissionError)


_HOSTILE_C_INTS: list[object] = [
    _LyingInt(2), True, 2.0, "2", None, 1 << 31, -(1 << 31) - 1, 1 << 70, -(1 << 70), (1 << 31) - 1,
]


@pytest.mark.parametrize("position", [0, 1, 2])
def test_socket_arguments_are_parsed_as_the_stdlib_parses_them(net: Binding, position: int) -> None:
    from decimal import Decimal

    base: list[object] = [stdlib.AF_INET, stdlib.SOCK_DGRAM, 0]
    for value in [*_HOSTILE_C_INTS, Decimal(2)]:
        args = list(base)
        args[position] = value
        theirs = _construct(stdlib, *args)
        ours = _construct(net, *args)
        if _refused_by_kernel(theirs):  # the kernel decides (the fake's errno may differ)
            assert _refused_by_kernel(ours), (position, value, ours)
        else:
            assert ours == theirs, (position, value)


def test_the_first_bad_socket_argument_is_the_one_reported(net: Binding) -> None:
    for args in [(1 << 40, "x"), ("x", 1 << 40), (2, 1 << 40, "x"), (2, 1, _LyingInt(0))]:
        assert _construct(net, *args) == _construct(stdlib, *args), args


def test_socket_fileno_is_parsed_as_the_stdlib_parses_it(net: Binding) -> None:
    from decimal import Decimal

    # fileno as an fd of the socket in hand, each spelling of it.
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as owner:
        fd = owner.fileno()
        for fileno in [fd, _LyingInt(fd), fd + (1 << 32), -(1 << 32) + fd]:
            assert _construct(net, fileno=fileno) == (net.AF_INET, net.SOCK_DGRAM, 17), fileno
    # Values no fd can be: the stdlib's refusal, before any syscall.
    for bad in [-1, _LyingInt(-5), 1 << 70, Decimal(3), 3.0, "3", (1 << 32) - 1]:
        assert _construct(net, fileno=bad) == _construct(stdlib, fileno=bad), bad


def test_sockets_follow_a_swapped_driver() -> None:
    net = sansock.using(FakeKernel())
    a, b = net.socketpair()
    net.swap_driver(FakeKernel(abi=LINUX_AARCH64))
    with net.socket(net.AF_INET, net.SOCK_STREAM) as s:
        assert s._drv is net.driver and s._drv is not a._drv
        assert s._k.abi is LINUX_AARCH64 and a._k.abi is not LINUX_AARCH64
    a.close()
    b.close()


# -- item 10: getaddrinfo ----------------------------------------------------------


@pytest.mark.parametrize("abi", [LINUX_X86_64, LINUX_AARCH64, DARWIN_ARM64], ids=lambda a: a.name)
def test_sockaddr_in_decodes_as_the_general_decoder_does(abi: object) -> None:
    import random

    from sansock import _address

    codec = _address._codec_for(abi)  # type: ignore[arg-type]
    rng = random.Random(13)
    for _ in range(2000):
        body = bytes(rng.randrange(256) for _ in range(14))
        for head in (codec.hdr_inet, bytes(2), codec.hdr_inet[:1] + b"\x07", bytes((16, codec.af_inet)),
                     bytes((8, codec.af_inet))):
            for raw in (head + body, head + body[:6], head + body + b"\x01"):
                general = codec.decoders.get(codec.family_of(raw))
                expected = (
                    general(raw, None, 0) if general is not None
                    else (codec.family_of(raw), raw[2:16].ljust(14, b"\0"))
                )
                assert _address.decode_address(raw, abi) == expected, raw  # type: ignore[arg-type]


def test_getaddrinfo_matches_the_stdlib_for_numeric_hosts(net: Binding) -> None:
    for host, port, args in [
        ("127.0.0.1", 8080, (0, stdlib.SOCK_STREAM)),
        ("127.0.0.1", "8080", ()),
        (b"10.1.2.3", None, (stdlib.AF_INET,)),
        ("::1", 0, (stdlib.AF_INET6, stdlib.SOCK_DGRAM)),
        ("127.0.0.1\0junk", 5, (0, stdlib.SOCK_STREAM)),
    ]:
        ours: list[Any] = net.getaddrinfo(host, port, *args)  # type: ignore[arg-type]
        theirs: list[Any] = stdlib.getaddrinfo(host, port, *args)  # type: ignore[arg-type]
        assert ours == theirs
        assert [(type(f).__name__, type(k).__name__) for f, k, *_ in ours] == [
            (type(f).__name__, type(k).__name__) for f, k, *_ in theirs
        ]


def test_getaddrinfo_arguments_are_parsed_as_the_stdlib_parses_them(net: Binding) -> None:
    from decimal import Decimal

    def outcome(module: object, *args: object) -> object:
        try:
            return module.getaddrinfo(*args)  # type: ignore[attr-defined]
        except Exception as exc:  # sansock.gaierror is not socket.gaierror: compare names
            return (type(exc).__name__, str(exc))

    fake = type(net.driver).__name__ != "NativeDriver"
    cases: list[list[object]] = [
        ["127.0.0.1", port]
        for port in [True, _LyingInt(80), 1 << 63, -(1 << 63) - 1, (1 << 63) - 1, -1, 80.0, Decimal(80)]
    ]
    for position in range(4):
        for value in _HOSTILE_C_INTS:
            args: list[object] = ["127.0.0.1", 80, 0, 0, 0, 0]
            args[2 + position] = value
            cases.append(args)
    for args in cases:
        theirs = outcome(stdlib, *args)
        if fake and isinstance(theirs, tuple) and theirs[0] == "gaierror":
            continue  # the resolver's verdict: the fake's may differ from glibc's
        assert outcome(net, *args) == theirs, args


# -- item 11: UDP sendto / recvfrom ------------------------------------------------------


class _HostStr(str):
    """A str subclass: never a key of the encoded-address cache."""

    def __hash__(self) -> int:
        raise AssertionError("the cache must not hash a str subclass")


def test_sendto_encodes_every_spelling_of_an_address_as_the_general_path(net: Binding) -> None:
    from sansock import _address

    with net.socket(net.AF_INET, net.SOCK_DGRAM) as rx, net.socket(net.AF_INET, net.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        abi = tx._k.abi
        codec = _address._codec_for(abi)
        # Names (resolved by glibc; the fake's resolver knows neither).
        names = [("localhost", port), ("127.1", port)] if type(net.driver).__name__ == "NativeDriver" else []
        for _ in range(2):  # the second pass finds the numeric pairs remembered
            for address in [("127.0.0.1", port), (_HostStr("127.0.0.1"), port), ("127.0.0.1", _LyingInt(port)),
                            (b"127.0.0.1", port), *names]:
                assert tx.sendto(b"x", address) == 1
                assert rx.recvfrom(16) == (b"x", ("127.0.0.1", tx.getsockname()[1]))
        assert codec.inet_encoded.get(("127.0.0.1", port)) == _address.encode_address(
            net.AF_INET, ("127.0.0.1", port), abi, "sendto", net.driver
        )
        assert ("localhost", port) not in codec.inet_encoded  # a name is resolved every time
        # The same refusals as the stdlib's, before and after the pair was remembered.
        bad: list[Any] = [("127.0.0.1", 1 << 16), ("127.0.0.1", -1), ("127.0.0.1", 1 << 40), ("127.0.0.1", True),
                             ("127.0.0.1\0", port), ("127.0.0.1",), ("127.0.0.1", port, 0), ["127.0.0.1", port]]
        for refused in bad:
            with stdlib.socket(stdlib.AF_INET, stdlib.SOCK_DGRAM) as std:
                try:
                    std.sendto(b"x", refused)
                    expected: object = None
                except Exception as exc:
                    expected = (type(exc), str(exc))
            try:
                tx.sendto(b"x", refused)
                got: object = None
            except Exception as exc:
                got = (type(exc), str(exc))
            assert got == expected, refused  # (True is port 1: sent, to nobody)


def test_recvfrom_arguments_are_parsed_as_the_stdlib_parses_them(net: Binding) -> None:
    from decimal import Decimal

    def outcome(module: Any, bufsize: object, flags: object) -> object:
        with module.socket(module.AF_INET, module.SOCK_DGRAM) as rx, \
                module.socket(module.AF_INET, module.SOCK_DGRAM) as tx:
            rx.bind(("127.0.0.1", 0))
            tx.sendto(b"abcdef", rx.getsockname())
            try:
                data, addr = rx.recvfrom(bufsize, flags)
            except Exception as exc:
                return (type(exc).__name__, str(exc))
            return data, addr == ("127.0.0.1", tx.getsockname()[1])

    for bufsize in [0, 3, 6, 100, _LyingInt(3), True, -1, 1 << 70, Decimal(3), 3.0]:
        assert outcome(net, bufsize, 0) == outcome(stdlib, bufsize, 0), bufsize
    for flags in [_LyingInt(0), True, 1 << 31, -(1 << 31) - 1, 1 << 70, Decimal(0), 0.0]:
        ours = outcome(net, 16, flags)
        if isinstance(ours, tuple) and ours[0] == "NotImplementedError":
            continue  # True is MSG_OOB, which the fake kernel does not model
        assert ours == outcome(stdlib, 16, flags), flags


def test_enum_conversion_by_value_map_matches_the_enum_call(net: Binding) -> None:
    from sansock._enums import intenum_converter

    for value in [0, 1, 2, 3, 5, 10, 16, 17, 40, 9999, -1, _LyingInt(2), True]:
        for ours, klass in ((net.address_family, net.AddressFamily), (net.socket_kind, net.SocketKind)):
            got, expected = ours(value), intenum_converter(value, klass)
            assert type(got) is type(expected) and int(got) == int(expected), value
    with net.socket(net.AF_INET, net.SOCK_DGRAM) as s, stdlib.socket(stdlib.AF_INET, stdlib.SOCK_DGRAM) as std:
        assert (repr(s.family), repr(s.type)) == (repr(std.family), repr(std.type))


# -- item 2 and item 7: send_fds / recv_fds on sansock sockets -------------------------


def test_send_fds_takes_sendmsg_s_fast_path(net: Binding, monkeypatch: pytest.MonkeyPatch) -> None:
    """``send_fds`` builds ``array.array("i", fds)`` as Lib/socket.py does; the
    exact-value packer takes it, so the general parse never runs."""
    from sansock import _cmsg

    def general(*args: object) -> bytes:
        raise AssertionError("the general ancillary parse ran")

    monkeypatch.setattr(_cmsg, "pack_ancdata", general)
    a, b = net.socketpair()
    with a, b:
        assert net.send_fds(a, [b"x"], [a.fileno(), b.fileno()]) == 1
        msg, fds, flags, addr = net.recv_fds(b, 1, 2)
        assert (msg, len(fds), flags, addr) == (b"x", 2, 0, None)
        for fd in fds:
            net.close(fd)


class _RecordingSocket(sansock.socket):
    """A sansock socket that records the arguments its recvmsg is given."""

    calls: list[tuple[object, ...]]

    def recvmsg(self, *args: Any) -> Any:
        self.calls.append(args)
        return b"m", [], 0, None


@pytest.mark.parametrize("abi", [LINUX_X86_64, LINUX_I386], ids=lambda a: a.name)
def test_recv_fds_asks_for_the_cmsg_len_the_general_path_computes(abi: Any) -> None:
    """``recv_fds`` on a sansock socket: ``recvmsg(bufsize, CMSG_LEN(maxfds *
    sizeof(int)))`` of the socket's platform, exact ints answered without the
    parser, every other value with its error."""
    from decimal import Decimal

    from sansock._cmsg import cmsg_len

    net = sansock.using(FakeKernel(abi=abi))
    klass = type("_Recording", (_RecordingSocket,), {"_default_binding": net})
    sock = klass(net.AF_UNIX, net.SOCK_STREAM)
    sock.calls = []
    with sock:
        for maxfds in [0, 1, 2, 3, 253, 1 << 28, (1 << 29) - 5, (1 << 29) - 4, 1 << 29, 1 << 62, -1, True,
                       _LyingInt(1), Decimal(1), 1.5, "a", None]:
            try:
                expected: object = ("ok", cmsg_len(maxfds * 4, abi))  # type: ignore[operator]
            except Exception as exc:  # the exception's type and message are the outcome
                expected = (type(exc), str(exc))
            sock.calls.clear()
            try:
                net.recv_fds(sock, 16, maxfds)  # type: ignore[arg-type]
                got: object = ("ok", sock.calls[0][1])
            except Exception as exc:
                got = (type(exc), str(exc))
            assert got == expected, maxfds
            if abi is LINUX_X86_64 and not isinstance(maxfds, (_LyingInt, Decimal)):
                assert got == _outcome_of(lambda: ("ok", stdlib.CMSG_LEN(maxfds * 4))), maxfds  # type: ignore[operator]


def _outcome_of(call: Any) -> object:
    try:
        return call()
    except Exception as exc:  # the exception's type and message are the outcome
        return (type(exc), str(exc))
