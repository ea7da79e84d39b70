"""The inet conversion functions: ``inet_pton``/``inet_ntop``/``inet_aton``/
``inet_ntoa`` and ``htons``/``ntohs``/``htonl``/``ntohl``, in pure Python.

CPython's module functions (``socket_inet_pton`` and friends in
``Modules/socketmodule.c``) call the C library; the C library here is glibc,
so the text parsers and printers below reproduce glibc's ``resolv/inet_pton.c``,
``resolv/inet_ntop.c`` and ``resolv/inet_addr.c`` (``inet_aton_end``) byte for
byte, including what they accept that looks odd (``inet_aton("127.1")``,
``inet_aton("1.2.3.4 junk")``) and what they refuse (``inet_pton`` of
``"01.2.3.4"``).  Exceptions, types and messages are those of the running
CPython's ``socket`` module (its :data:`~sansock._pyrules.RULES`).

Where a platform fact is needed (the value of ``AF_INET6`` differs on Darwin,
byte order, ``sizeof(long)``) it comes from the :class:`~sansock.ABI` passed in.

The argument converters (``c_uint_mask``...; the integer ones are in
``_convert``) reproduce the
``PyArg_Parse`` format units CPython's functions use, with their messages.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from ._convert import arg_int, clinic_int, converterr_name, tp_name
from ._pyrules import RULES, PythonRules

if TYPE_CHECKING:
    from ._abi import ABI

__all__ = [
    "htonl",
    "if_index",
    "htons",
    "inet_aton",
    "inet_ntoa",
    "inet_ntop",
    "inet_pton",
    "ntohl",
    "ntohs",
]

# -- PyArg_Parse format units ---------------------------------------------------


def c_uint_mask(obj: object, bits: int) -> int:
    """The ``"I"``/``"H"``/``"B"`` format units: ``PyLong_AsUnsignedLongMask``,
    no overflow check, the value wraps modulo ``2**bits``."""
    return operator.index(obj) & ((1 << bits) - 1)  # type: ignore[arg-type]


def buffer_bytes(obj: object) -> bytes:
    """The ``"y*"`` format unit: any C-contiguous buffer, as exact ``bytes``.

    The content is read through the buffer protocol, as C code reads it
    (``PyObject_GetBuffer``, ``PyBytes_AS_STRING``): never ``bytes(obj)``,
    which would call a subclass's ``__bytes__``, and never a method of a
    ``bytes`` subclass.  Every user object the core turns into bytes goes
    through here.
    """
    if type(obj) is bytes:
        return obj
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{tp_name(obj)}'") from None
    with view:
        if not view.c_contiguous:
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
        return view.tobytes()


def c_string(obj: object, fname: str, position: int) -> bytes:
    """The ``"s"`` format unit without a custom message: a ``str`` encoded to
    UTF-8 with no NUL (``getargs.c`` ``convertsimple``).  *position* 0 is
    the sole argument of an Argument Clinic function, whose message says
    "argument" without a number."""
    if not isinstance(obj, str):
        which = f"argument {position}" if position else "argument"
        raise TypeError(f"{fname}() {which} must be str, not {converterr_name(obj)}")
    data = str.encode(obj, "utf-8")  # surrogates: UnicodeEncodeError, as CPython (no subclass method)
    if b"\0" in data:
        raise ValueError("embedded null character")
    return data


def c_encoded_string(obj: object, encoding: str, fname: str, position: int) -> bytes:
    """The ``"et"`` format unit (``getargs.c`` ``convertsimple``, case ``'e'``
    with ``'t'``, NUL-terminated output), as ``socket_gethostbyname`` and
    friends parse their host with ``"et:gethostbyname", "idna"``.

    ``bytes`` and ``bytearray`` (and subclasses) are taken as they are; any
    ``str`` -- ASCII or not, there is no fast path -- goes through the codec
    (``PyUnicode_AsEncodedString``), whose errors propagate unchanged: the
    ``idna`` codec rejects ``"a..b"``, ``"."`` and labels over 63 characters
    with ``UnicodeError`` before anything is looked up.  Other types, and a
    result holding a NUL byte, are ``converterr`` TypeErrors.
    """
    if isinstance(obj, (bytes, bytearray)):
        data = buffer_bytes(obj)  # the buffer, not a subclass's __bytes__
    elif isinstance(obj, str):
        # str.encode is PyUnicode_AsEncodedString (a subclass's encode() is not called).
        data = str.encode(obj, encoding)
    else:
        raise TypeError(
            f"{fname}() argument {position} must be str, bytes or bytearray, not {converterr_name(obj)[:50]}"
        )
    if b"\0" in data:
        raise TypeError(
            f"{fname}() argument {position} must be encoded string without null bytes, "
            f"not {converterr_name(obj)[:50]}"
        )
    return data


# -- byte order -----------------------------------------------------------------


def _swap16(x: int, abi: ABI) -> int:
    return x if abi.byteorder == "big" else ((x & 0xFF) << 8) | (x >> 8)


def _swap32(x: int, abi: ABI) -> int:
    return x if abi.byteorder == "big" else int.from_bytes(x.to_bytes(4, "little"), "big")


def _short_arg(x: object, name: str, abi: ABI, rules: PythonRules = RULES) -> int:
    # socket_htons / socket_ntohs: "i" (Argument Clinic "int" from 3.13) then
    # an explicit 16-bit range check.
    value = clinic_int(x) if rules.module_functions_clinic else arg_int(x, abi)
    if value < 0:
        raise OverflowError(
            f"{name}: can't convert negative Python int to C 16-bit unsigned integer"
        )
    if value > 0xFFFF:
        raise OverflowError(f"{name}: Python int too large to convert to C 16-bit unsigned integer")
    return value


def _long_arg(x: object, abi: ABI) -> int:
    # socket_htonl / socket_ntohl: PyLong_Check, PyLong_AsUnsignedLong, then
    # "only want the trailing 32 bits" when SIZEOF_LONG > 4.
    if not isinstance(x, int):
        raise TypeError(f"expected int, {tp_name(x)} found")
    # PyLong_AsUnsignedLong reads the int's digits: an int subclass's own
    # comparisons (which may lie) are never asked; operator.index gives the
    # exact int.
    value = operator.index(x)
    if value < 0:
        raise OverflowError("can't convert negative value to unsigned int")
    if value >= 1 << (8 * abi.sizeof_long):
        raise OverflowError("Python int too large to convert to C unsigned long")
    if value > 0xFFFFFFFF:
        raise OverflowError("int larger than 32 bits")
    return value


def htons(x: object, abi: ABI, rules: PythonRules = RULES) -> int:
    """``socket.htons``: host to network byte order, 16 bits."""
    return _swap16(_short_arg(x, "htons", abi, rules), abi)


def ntohs(x: object, abi: ABI, rules: PythonRules = RULES) -> int:
    """``socket.ntohs``: network to host byte order, 16 bits."""
    return _swap16(_short_arg(x, "ntohs", abi, rules), abi)


def if_index(index: object, abi: ABI, rules: PythonRules = RULES) -> int:
    """The interface index ``socket.if_indextoname(index)`` passes to the C
    library (``socket_if_indextoname``).

    ``PyLong_Check`` (no ``__index__``: "an integer is required"), then
    ``PyLong_AsUnsignedLong`` (negative: "can't convert negative value to
    unsigned int"; beyond the ABI's ``unsigned long``: "Python int too large
    to convert to C unsigned long").  3.13 then refuses what does not fit the
    C ``unsigned int`` (``OverflowError: index is too large``); earlier
    versions cast it (it wraps), and took ``ULONG_MAX`` itself for the
    converter's ``(unsigned long)-1`` error return with no exception set,
    which CPython reports as ``SystemError``.
    """
    if not isinstance(index, int):
        raise TypeError("an integer is required")
    index = operator.index(index)  # the exact value, as PyLong_AsUnsignedLong reads it
    if index < 0:
        raise OverflowError("can't convert negative value to unsigned int")
    ulong_max = (1 << (8 * abi.sizeof_long)) - 1
    if index > ulong_max:
        raise OverflowError("Python int too large to convert to C unsigned long")
    uint_max = (1 << (8 * abi.sizeof_int)) - 1
    if rules.if_index_range_checked:
        if index > uint_max:
            raise OverflowError("index is too large")
    elif index == ulong_max:
        raise SystemError("error return without exception set")
    return index & uint_max


def htonl(x: object, abi: ABI) -> int:
    """``socket.htonl``: host to network byte order, 32 bits."""
    return _swap32(_long_arg(x, abi), abi)


def ntohl(x: object, abi: ABI) -> int:
    """``socket.ntohl``: network to host byte order, 32 bits."""
    return _swap32(_long_arg(x, abi), abi)


# -- glibc resolv/inet_pton.c -------------------------------------------------------

_DIGITS = b"0123456789"
_HEX_VALUES = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


def pton4(src: bytes) -> bytes | None:
    """glibc ``inet_pton4``: exactly four decimal octets, no leading zeros."""
    octets = bytearray()
    cur = -1  # -1: no digit seen in the current octet
    for ch in src:
        if 0x30 <= ch <= 0x39:
            if cur == 0:  # "saw_digit && *tp == 0": a leading zero
                return None
            cur = (0 if cur < 0 else cur * 10) + ch - 0x30
            if cur > 255:
                return None
        elif ch == 0x2E and cur >= 0:  # '.' after a digit
            if len(octets) == 3:
                return None
            octets.append(cur)
            cur = -1
        else:
            return None
    if cur < 0 or len(octets) != 3:
        return None
    octets.append(cur)
    return bytes(octets)


def pton6(src: bytes) -> bytes | None:
    """glibc ``inet_pton6`` (hex groups, one ``::``, a trailing dotted quad)."""
    if not src:
        return None
    i = 0
    n = len(src)
    if src[0] == 0x3A:  # a leading ':' must be '::'
        i = 1
        if n == 1 or src[1] != 0x3A:
            return None
    out = bytearray()
    colon_at = -1
    curtok = i
    digits = 0
    val = 0
    while i < n:
        ch = src[i]
        i += 1
        digit = _HEX_VALUES.get(ch)
        if digit is not None:
            if digits == 4:
                return None
            val = (val << 4) | digit
            digits += 1
            continue
        if ch == 0x3A:
            curtok = i
            if digits == 0:
                if colon_at >= 0:
                    return None
                colon_at = len(out)
                continue
            if i == n:
                return None
            if len(out) + 2 > 16:
                return None
            out += val.to_bytes(2, "big")
            digits = 0
            val = 0
            continue
        if ch == 0x2E and len(out) + 4 <= 16:
            quad = pton4(src[curtok:])
            if quad is not None:
                out += quad
                digits = 0
                break
        return None
    if digits > 0:
        if len(out) + 2 > 16:
            return None
        out += val.to_bytes(2, "big")
    if colon_at >= 0:
        if len(out) == 16:  # '::' would expand to a zero-width field
            return None
        out[colon_at:colon_at] = bytes(16 - len(out))
    if len(out) != 16:
        return None
    return bytes(out)


def inet_pton(family: object, ip_string: object, abi: ABI) -> bytes:
    """``socket.inet_pton(family, ip_string)`` (``socket_inet_pton``, ``"is:inet_pton"``)."""
    af = arg_int(family, abi)
    text = c_string(ip_string, "inet_pton", 2)
    if af == abi.const("AF_INET"):
        packed = pton4(text)
    elif af == abi.const("AF_INET6"):
        packed = pton6(text)
    else:
        # inet_pton(3): "EAFNOSUPPORT: af does not contain a valid address family".
        raise OSError(abi.errno("EAFNOSUPPORT"), _strerror_eafnosupport(abi))
    if packed is None:
        raise OSError("illegal IP address string passed to inet_pton")
    return packed


def _strerror_eafnosupport(abi: ABI) -> str:
    # strerror(EAFNOSUPPORT) of the platform's C library.
    if abi.sockaddr.has_sa_len:
        return "Address family not supported by protocol family"  # Darwin libc
    return "Address family not supported by protocol"  # glibc


# -- glibc resolv/inet_ntop.c ---------------------------------------------------------


def ntop4(packed: bytes) -> str:
    """glibc ``inet_ntop4``: ``"%u.%u.%u.%u"``."""
    return "%d.%d.%d.%d" % (packed[0], packed[1], packed[2], packed[3])


def ntop6(packed: bytes) -> str:
    """glibc ``inet_ntop6``: the longest run (first on ties) of two or more
    zero words becomes ``::``; ``::a.b.c.d`` and ``::ffff:a.b.c.d`` print the
    last 32 bits as a dotted quad."""
    words = [(packed[i] << 8) | packed[i + 1] for i in range(0, 16, 2)]
    best_base, best_len = -1, 0
    cur_base, cur_len = -1, 0
    for i, word in enumerate(words):
        if word == 0:
            if cur_base == -1:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
        elif cur_base != -1:
            if best_base == -1 or cur_len > best_len:
                best_base, best_len = cur_base, cur_len
            cur_base = -1
    if cur_base != -1 and (best_base == -1 or cur_len > best_len):
        best_base, best_len = cur_base, cur_len
    if best_base != -1 and best_len < 2:
        best_base = -1
    parts: list[str] = []
    for i in range(8):
        if best_base != -1 and best_base <= i < best_base + best_len:
            if i == best_base:
                parts.append(":")
            continue
        if i != 0:
            parts.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            parts.append(ntop4(packed[12:]))
            break
        parts.append("%x" % words[i])
    if best_base != -1 and best_base + best_len == 8:
        parts.append(":")
    return "".join(parts)


def inet_ntop(family: object, packed_ip: object, abi: ABI) -> str:
    """``socket.inet_ntop(family, packed_ip)`` (``socket_inet_ntop``, ``"iy*:inet_ntop"``)."""
    af = arg_int(family, abi)
    packed = buffer_bytes(packed_ip)
    if af == abi.const("AF_INET"):
        if len(packed) != 4:
            raise ValueError("invalid length of packed IP address string")
        return ntop4(packed)
    if af == abi.const("AF_INET6"):
        if len(packed) != 16:
            raise ValueError("invalid length of packed IP address string")
        return ntop6(packed)
    raise ValueError(f"unknown address family {af}")


# -- glibc resolv/inet_addr.c ----------------------------------------------------------

# C-locale isspace(): ' ', '\t', '\n', '\v', '\f', '\r'.
_C_SPACE = frozenset(b" \t\n\v\f\r")
_OCTAL = frozenset(b"01234567")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _strtoul0(src: bytes, i: int) -> tuple[int, int]:
    """``strtoul(src + i, &end, 0)`` for a string known to start with a digit:
    ``0x``/``0X`` hex, leading ``0`` octal, else decimal; returns (value, end)."""
    n = len(src)
    if src[i] == 0x30 and i + 1 < n and src[i + 1] in b"xX" and i + 2 < n and src[i + 2] in _HEX:
        j = i + 2
        while j < n and src[j] in _HEX:
            j += 1
        return int(src[i + 2 : j], 16), j
    if src[i] == 0x30:
        j = i + 1
        while j < n and src[j] in _OCTAL:
            j += 1
        return int(src[i:j], 8), j
    j = i
    while j < n and src[j] in _DIGITS:
        j += 1
    return int(src[i:j]), j


def aton(src: bytes) -> bytes | None:
    """glibc ``inet_aton`` (``inet_aton_end``, trailing text after a space ignored)."""
    parts: list[int] = []
    i = 0
    n = len(src)
    while True:
        if i >= n or src[i] not in _DIGITS:
            return None
        value, i = _strtoul0(src, i)
        if value > 0xFFFFFFFF:  # "ul > 0xfffffffful" (and ERANGE)
            return None
        if i < n and src[i] == 0x2E:
            if len(parts) > 2 or value > 0xFF:
                return None
            parts.append(value)
            i += 1
        else:
            break
    if i < n and src[i] not in _C_SPACE:
        return None
    # a.b.c.d, a.b.c (c: 16 bits), a.b (b: 24 bits), a (32 bits)
    if value > (0xFFFFFFFF, 0xFFFFFF, 0xFFFF, 0xFF)[len(parts)]:
        return None
    word = value
    for k, part in enumerate(parts):
        word |= part << (24 - 8 * k)
    return word.to_bytes(4, "big")


def inet_aton(ip_string: object, rules: PythonRules = RULES) -> bytes:
    """``socket.inet_aton(ip_string)`` (``socket_inet_aton``, ``"s:inet_aton"``;
    an Argument Clinic ``str`` from 3.13)."""
    packed = aton(c_string(ip_string, "inet_aton", 0 if rules.module_functions_clinic else 1))
    if packed is None:
        raise OSError("illegal IP address string passed to inet_aton")
    return packed


def inet_ntoa(packed_ip: object) -> str:
    """``socket.inet_ntoa(packed_ip)`` (``socket_inet_ntoa``, ``"y*:inet_ntoa"``)."""
    packed = buffer_bytes(packed_ip)
    if len(packed) != 4:
        raise OSError("packed IP wrong length for inet_ntoa")
    return ntop4(packed)
