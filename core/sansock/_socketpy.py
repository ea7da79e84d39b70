"""The Python layer of the socket object: CPython's ``Lib/socket.py``.

:class:`socket` subclasses the C-level :class:`~sansock._socket.SocketType`
exactly as ``socket.socket`` subclasses ``_socket.socket``: it adds the
``makefile`` machinery (``SocketIO``, ``_io_refs``), the ``accept`` timeout
rule of bpo-7995, ``dup``, ``sendfile``, the ``__repr__`` with addresses and
the enum-typed ``family``/``type`` properties.  Code follows CPython 3.11's
``Lib/socket.py`` line by line where it can.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar, overload

from . import _timeout
from ._convert import arg_ssize, c_long, clinic_int
from ._pyrules import RULES
from ._socket import FD_CLOSED_BY_INIT, SocketType

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer
    from typing_extensions import Self

    from ._enums import AddressFamily, SocketKind

__all__ = ["socket", "SocketIO"]

_S = TypeVar("_S", bound=SocketType)


def adopt(cls: type[_S], family: int, type: int, proto: int, fd: int) -> _S:
    """``cls(family, type, proto, fileno=fd)`` for an fd the caller made and
    owns (accept, dup, socketpair, fromfd), with no fd left behind.

    ``Lib/socket.py`` makes these objects the same way, so the
    ``socket.__new__`` audit event fires for each as in CPython.  When the
    construction fails, :class:`SocketType` has closed *fd* if it had taken
    it (``init_sockobject`` failing: closing it again here could close
    another thread's new fd, issue 12 item 4); if it failed before taking it
    (an audit hook raised, the fd's checks failed, an argument was refused),
    *fd* is closed here -- where CPython's ``socket.py`` leaves it open, with
    no object and no caller owning it.  The object is made as ``type.__call__``
    makes it, so that its state can be read when ``__init__`` raises.
    """
    sock = cls.__new__(cls, family, type, proto, fd)  # type: ignore[call-arg]
    if not isinstance(sock, cls):
        return sock
    try:
        sock.__init__(family, type, proto, fd)  # type: ignore[misc]
    except BaseException:
        if getattr(sock, "_timeout_ns", None) != FD_CLOSED_BY_INIT:  # it took the fd and closed it
            try:
                cls._default_binding.driver.close(fd)
            except OSError:
                pass
        raise
    return sock


class socket(SocketType):
    """A subclass of SocketType adding the makefile() method (``socket.socket``)."""

    __slots__ = ["__weakref__", "_io_refs", "_closed"]

    _io_refs: int
    _closed: bool

    def __init__(
        self,
        family: int = -1,
        type: int = -1,
        proto: int = -1,
        fileno: int | None = None,
    ) -> None:
        # socket.py fills in AF_INET/SOCK_STREAM/0 here, comparing the
        # arguments as given (an int subclass whose __eq__ says -1 is
        # replaced), with the values of the driver's ABI (AF_INET differs
        # across platforms).
        if fileno is None:
            if family == -1:
                family = self._default_binding.constants.AF_INET
            if type == -1:
                type = self._default_binding.constants.SOCK_STREAM
            if proto == -1:
                proto = 0
        SocketType.__init__(self, family, type, proto, fileno)
        self._io_refs = 0
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *args: object) -> None:
        if not self._closed:
            self.close()

    def __repr__(self) -> str:
        """Wrap __repr__() to reveal the real class name and socket address(es)."""
        closed = getattr(self, "_closed", False)
        s = "<%s.%s%s fd=%i, family=%s, type=%s, proto=%i" % (
            self.__class__.__module__,
            self.__class__.__qualname__,
            " [closed]" if closed else "",
            self.fileno(),
            self.family,
            self.type,
            self.proto,
        )
        if not closed:
            try:
                laddr = self.getsockname()
                if laddr:
                    s += ", laddr=%s" % str(laddr)
            except (OSError, AttributeError):
                pass
            try:
                raddr = self.getpeername()
                if raddr:
                    s += ", raddr=%s" % str(raddr)
            except (OSError, AttributeError):
                pass
        s += ">"
        return s

    def __getstate__(self) -> object:
        raise TypeError(f"cannot pickle {self.__class__.__name__!r} object")

    def dup(self) -> Self:
        """dup() -> socket object

        Duplicate the socket. Return a new socket object connected to the same
        system resource. The new socket is non-inheritable.
        """
        fd = self._drv.dup(self.fileno())
        sock = adopt(self.__class__, self.family, self.type, self.proto, fd)
        sock.settimeout(self.gettimeout())
        return sock

    def accept(self) -> tuple[Self, Any]:
        """accept() -> (socket object, address info)

        Wait for an incoming connection.  Return a new socket
        representing the connection, and the address of the client.
        For IP sockets, the address info is a pair (hostaddr, port).
        """
        fd, addr = self._accept()
        # The new object owns fd from here: if it cannot be made, fd is closed
        # once, by SocketType's __init__ or by adopt() (an audit hook refused it).
        sock = adopt(self.__class__, self.family, self.type, self.proto, fd)
        # Issue #7995: if no default timeout is set and the listening
        # socket had a (non-zero) timeout, force the new socket in blocking
        # mode to override platform-specific socket flags inheritance.
        if self._binding.default_timeout_ns < 0 and self.gettimeout():
            sock.setblocking(True)
        return sock, addr

    @overload
    def makefile(
        self,
        mode: Literal["b", "rb", "br", "wb", "bw", "rwb", "rbw", "wrb", "wbr", "brw", "bwr"],
        buffering: Literal[0],
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> SocketIO: ...
    @overload
    def makefile(
        self,
        mode: Literal["rwb", "rbw", "wrb", "wbr", "brw", "bwr"],
        buffering: Literal[-1, 1] | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.BufferedRWPair: ...
    @overload
    def makefile(
        self,
        mode: Literal["rb", "br"],
        buffering: Literal[-1, 1] | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.BufferedReader: ...
    @overload
    def makefile(
        self,
        mode: Literal["wb", "bw"],
        buffering: Literal[-1, 1] | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.BufferedWriter: ...
    @overload
    def makefile(
        self,
        mode: Literal["b", "rb", "br", "wb", "bw", "rwb", "rbw", "wrb", "wbr", "brw", "bwr"],
        buffering: int,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.IOBase: ...
    @overload
    def makefile(
        self,
        mode: Literal["r", "w", "rw", "wr", ""] = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> io.TextIOWrapper: ...
    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """makefile(...) -> an I/O stream connected to the socket

        The arguments are as for io.open() after the filename, except the only
        supported mode values are 'r' (default), 'w' and 'b'.
        """
        # XXX refactor to share code?
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError("invalid mode %r (only r, w, b allowed)" % (mode,))
        writing = "w" in mode
        reading = "r" in mode or not writing
        assert reading or writing
        binary = "b" in mode
        rawmode = ""
        if reading:
            rawmode += "r"
        if writing:
            rawmode += "w"
        raw = SocketIO(self, rawmode)
        self._io_refs += 1
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: io.BufferedIOBase
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            assert writing
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        # io.text_encoding exists since 3.10; typeshed declares it from 3.11.
        encoding = io.text_encoding(encoding)  # type: ignore[attr-defined,unused-ignore]
        text = io.TextIOWrapper(buffer, encoding, errors, newline)  # type: ignore[type-var]
        text.mode = mode  # type: ignore[misc]
        return text

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """sendfile(file[, offset[, count]]) -> sent

        Send a file until EOF is reached by using high-performance
        sendfile(2) and return the total number of bytes which were sent.
        *file* must be a regular file object opened in binary mode.
        If os.sendfile() is not available (e.g. Windows) or file is
        not a regular file socket.send() will be used instead.
        *offset* tells from where to start reading the file.
        If specified, *count* is the total number of bytes to transmit
        as opposed to sending the file until EOF is reached.
        File position is updated on return or also in case of error in
        which case file.tell() can be used to figure out the number of
        bytes which were sent.
        The socket must be of SOCK_STREAM type.
        Non-blocking sockets are not supported.
        """
        try:
            return self._sendfile_use_sendfile(file, offset, count)
        except _GiveupOnSendfile:
            return self._sendfile_use_send(file, offset, count)

    def _sendfile_use_sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        self._check_sendfile_params(file, offset, count)
        sockno = self.fileno()
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation) as err:
            raise _GiveupOnSendfile(err)  # not a regular file
        drv = self._drv
        try:
            fsize = drv.file_size(fileno)
        except OSError as err:
            raise _GiveupOnSendfile(err)  # not a regular file
        if not fsize:
            return 0  # empty file
        # Truncate to 1GiB to avoid OverflowError, see bpo-38319.
        blocksize = min(count or fsize, 2**30)
        timeout = self.gettimeout()
        if timeout == 0:
            raise ValueError("non-blocking sockets are not supported")
        # "selector.register(sockno, selectors.EVENT_WRITE)": selectors'
        # _fileobj_to_fd refuses a closed socket's -1.  The loop then waits on
        # that fd, whatever the socket holds later.
        if sockno < 0:
            raise ValueError(f"Invalid file descriptor: {sockno}")
        drv_sendfile = drv.sendfile
        capped = RULES.sendfile_count_capped
        total_sent = 0

        def attempt(fd: int) -> int | None:
            # The loop's body between the wait and os.sendfile; None: "break".
            nonlocal blocksize
            if count:
                blocksize = min(count - total_sent, blocksize) if capped else count - total_sent
                if blocksize <= 0:
                    return None
            # os.sendfile's argument parsing (Py_off_t_converter: PyLong_AsLong;
            # count: Py_ssize_t), so a driver gets C-sized ints and the
            # OverflowError is CPython's: neither cffi's "int too big to
            # convert" nor a count of 2**63 passed as size_t (EINVAL, which
            # would fall back on send()).
            return drv_sendfile(fd, fileno, c_long(offset), arg_ssize(blocksize))

        def failed(err: OSError) -> NoReturn:
            # "except OSError as err:", raised with the contexts CPython's
            # handler gives them.
            if total_sent == 0:
                # We can get here for different reasons, the main one being
                # 'file' is not a regular mmap(2)-like file, in which case
                # we'll fall back on using plain send().
                giveup = _GiveupOnSendfile(err)
                giveup.__context__ = err
                raise giveup
            raise err from None

        try:
            while True:
                # Each turn's wait (selector.select(timeout), or select() after
                # EAGAIN when blocking) and os.sendfile: the timeout machine.
                sent = _timeout.sendfile_chunk(self, sockno, timeout, attempt, failed)
                if sent is None:
                    break
                if sent == 0:
                    break  # EOF
                offset += sent
                total_sent += sent
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, "seek"):
                file.seek(offset)

    def _sendfile_use_send(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        self._check_sendfile_params(file, offset, count)
        if self.gettimeout() == 0:
            raise ValueError("non-blocking sockets are not supported")
        if offset:
            file.seek(offset)
        blocksize = min(count, 8192) if count else 8192
        total_sent = 0
        # localize variable access to minimize overhead
        file_read = file.read
        sock_send = self.send
        try:
            while True:
                if count:
                    blocksize = min(count - total_sent, blocksize)
                    if blocksize <= 0:
                        break
                data = memoryview(file_read(blocksize))
                if not data:
                    break  # EOF
                while True:
                    try:
                        sent = sock_send(data)
                    except BlockingIOError:
                        continue
                    else:
                        total_sent += sent
                        if sent < len(data):
                            data = data[sent:]
                        else:
                            break
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, "seek"):
                file.seek(offset + total_sent)

    def _check_sendfile_params(self, file: Any, offset: int, count: int | None) -> None:
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if not self.type & self._k.SOCK_STREAM:
            raise ValueError("only SOCK_STREAM type sockets are supported")
        if count is not None:
            if not isinstance(count, int):
                raise TypeError("count must be a positive integer (got {!r})".format(count))
            if count <= 0:
                raise ValueError("count must be a positive integer (got {!r})".format(count))

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    # Lib/socket.py: "def _real_close(self, _ss=_socket.socket): _ss.close(self)";
    # the C-level close itself here, one frame less per close.
    _real_close = SocketType.close

    def close(self) -> None:
        # This function should not reference any globals. See issue #808164.
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def detach(self) -> int:
        """detach() -> file descriptor

        Close the socket object without closing the underlying file descriptor.
        The object cannot be used after this call, but the file descriptor
        can be reused for other purposes.  The file descriptor is returned.
        """
        self._closed = True
        return super().detach()

    # typeshed types these as the enums, as here; a number the ABI has no
    # name for comes back as a plain int (Lib/socket.py _intenum_converter).
    @property
    def family(self) -> AddressFamily:
        """Read-only access to the address family for this socket."""
        return self._binding.address_family(super().family)  # type: ignore[return-value]

    @property
    def type(self) -> SocketKind:
        """Read-only access to the socket type."""
        return self._binding.socket_kind(super().type)  # type: ignore[return-value]

    def get_inheritable(self) -> bool:
        """Get the inheritable flag of the socket"""
        return self._drv.get_inheritable(self.fileno())

    def set_inheritable(self, inheritable: bool) -> None:
        """Set the inheritable flag of the socket"""
        # os.set_inheritable(fd, inheritable, /): both Argument Clinic ints.
        self._drv.set_inheritable(self.fileno(), bool(clinic_int(inheritable)))


socket.__module__ = "sansock"


class _GiveupOnSendfile(Exception):
    pass


class SocketIO(io.RawIOBase):
    """Raw I/O implementation for stream sockets.

    This class supports the makefile() method on sockets.  It provides
    the raw I/O interface on top of a socket object.
    """

    # One might wonder why not let FileIO do the job instead.  There are two
    # main reasons why FileIO is not adapted:
    # - it wouldn't work under Windows (where you can't used read() and
    #   write() on a socket handle)
    # - it wouldn't work with socket timeouts (FileIO would ignore the
    #   timeout and consider the socket non-blocking)

    # XXX More docs

    def __init__(self, sock: socket, mode: str) -> None:
        if mode not in ("r", "w", "rw", "rb", "wb", "rwb"):
            raise ValueError("invalid mode: %r" % mode)
        io.RawIOBase.__init__(self)
        self._sock: socket | None = sock
        if "b" not in mode:
            mode += "b"
        self._mode = mode
        self._reading = "r" in mode
        self._writing = "w" in mode
        self._timeout_occurred = False

    def readinto(self, b: WriteableBuffer) -> int | None:
        """Read up to len(b) bytes into the writable buffer *b* and return
        the number of bytes read.  If the socket is non-blocking and no bytes
        are available, None is returned.

        If *b* is non-empty, a 0 return value indicates that the connection
        was shutdown at the other end.
        """
        self._checkClosed()
        getattr(self, "_checkReadable")()
        if self._timeout_occurred:
            raise OSError("cannot read from timed out object")
        assert self._sock is not None
        k = self._sock._k
        while True:
            try:
                return self._sock.recv_into(b)
            except TimeoutError:
                self._timeout_occurred = True
                raise
            except OSError as e:
                if e.errno in (k.EAGAIN, k.EWOULDBLOCK):
                    return None
                raise

    def write(self, b: ReadableBuffer) -> int | None:
        """Write the given bytes or bytearray object *b* to the socket
        and return the number of bytes written.  This can be less than
        len(b) if not all data could be written.  If the socket is
        non-blocking and no bytes could be written None is returned.
        """
        self._checkClosed()
        getattr(self, "_checkWritable")()
        assert self._sock is not None
        k = self._sock._k
        try:
            return self._sock.send(b)
        except OSError as e:
            # XXX what about EINTR?
            if e.errno in (k.EAGAIN, k.EWOULDBLOCK):
                return None
            raise

    def readable(self) -> bool:
        """True if the SocketIO is open for reading."""
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._reading

    def writable(self) -> bool:
        """True if the SocketIO is open for writing."""
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._writing

    def seekable(self) -> bool:
        """True if the SocketIO is open for seeking."""
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return super().seekable()

    def fileno(self) -> int:
        """Return the file descriptor of the underlying socket."""
        self._checkClosed()
        assert self._sock is not None
        return self._sock.fileno()

    @property
    def name(self) -> int:
        """The socket's file descriptor, or -1 once closed."""
        if not self.closed:
            return self.fileno()
        else:
            return -1

    @property
    def mode(self) -> str:
        """The raw mode: ``'rb'``, ``'wb'`` or ``'rwb'``."""
        return self._mode

    def close(self) -> None:
        """Close the SocketIO object.  This doesn't close the underlying
        socket, except if all references to it have disappeared.
        """
        if self.closed:
            return
        io.RawIOBase.close(self)
        assert self._sock is not None
        self._sock._decref_socketios()
        self._sock = None
