"""The fake kernel's virtual-time rule (``sansock_fake._scheduler``), both sides of it.

* A thread that computes -- pure Python, a big garbage collection, a C call
  that releases the GIL -- holds the virtual clock: a peer's 30 s timeout
  does not expire while it works, as on a real kernel (issue 12, item 8).
* A thread parked where the kernel cannot see it -- ``Event.wait``,
  ``Thread.join``, ``queue.get``, ``time.sleep``, ``Lock.acquire``,
  ``select`` on a pipe -- does not: the other thread's timeout expires in
  virtual time, and quickly in real time.
* A call that can never complete raises :class:`BlockedForever` naming the
  call, the fd, what it waits for and the other threads, and pytest shows
  none of the kernel's frames (issue 15).
"""

from __future__ import annotations

import gc
import hashlib
import os
import queue
import select
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest

import sansock
import sansock_fake
from sansock import Binding
from sansock_fake import BlockedForever, FakeKernel, _scheduler, _threads

pytestmark = pytest.mark.threads


def virtual_ns(net: Binding) -> int | None:
    driver = net.driver
    return driver.monotonic_ns() if isinstance(driver, FakeKernel) else None


# -- (a) computation is instantaneous ------------------------------------------------------


def spin_python(seconds: float = 0.2) -> None:
    """*seconds* (200 ms) of pure-Python CPU work."""
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += 1


def collect_big_heap() -> None:
    """A full collection of a heap of cycles (tens to hundreds of ms)."""
    heap = []
    for i in range(300_000):
        node: list[object] = [i]
        node.append(node)
        heap.append(node)
    start = time.perf_counter()
    gc.collect()
    assert time.perf_counter() - start > 0.01, "the collection was too small to mean anything"
    del heap


def hash_without_the_gil() -> None:
    """A long C call that releases the GIL: same frame position throughout, CPU busy."""
    hashlib.sha256(bytes(96 << 20)).digest()


def short_sleep() -> None:
    """A sleep shorter than the grace counts as work."""
    time.sleep(0.02)


WORK: dict[str, Callable[[], None]] = {
    "python": spin_python,
    "gc": collect_big_heap,
    "c-call": hash_without_the_gil,
    "short-sleep": short_sleep,
}


@pytest.mark.parametrize("work", WORK)
def test_a_computing_server_does_not_let_the_client_time_out(net: Binding, work: str) -> None:
    a, b = net.socketpair()
    errors: list[BaseException] = []

    def server() -> None:
        try:
            request = b.recv(10)
            WORK[work]()
            b.sendall(request.upper())
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)

    with a, b:
        thread = threading.Thread(target=server, name="server")
        thread.start()
        a.settimeout(30)
        start = virtual_ns(net)
        a.sendall(b"ping")
        assert a.recv(10) == b"PING"  # the real kernel delivers it; so must the fake
        thread.join()
        if start is not None:
            assert virtual_ns(net) == start  # computation takes no virtual time
    assert errors == []


def test_a_long_computation_in_the_main_thread_does_not_expire_a_server_timeout(net: Binding) -> None:
    """The other way round: a server with a 30 s accept timeout waits while the main thread works."""
    with net.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        port = listener.getsockname()[1]
        got: list[object] = []

        def server() -> None:
            try:
                conn, _ = listener.accept()
                with conn:
                    got.append(conn.recv(10))
            except BaseException as exc:  # noqa: BLE001
                got.append(exc)

        thread = threading.Thread(target=server, name="server")
        thread.start()
        start = virtual_ns(net)
        spin_python()
        with net.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"late")
        thread.join()
        assert got == [b"late"]
        if start is not None:
            assert virtual_ns(net) == start


def test_a_server_sharing_the_gil_with_a_busy_outsider_still_holds_the_clock() -> None:
    """CPU contention: a thread that is no participant (started before the kernel)
    computes too, so the server gets the GIL half the time; its work still counts."""
    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():
            sum(range(1000))

    outsider = threading.Thread(target=hog, name="hog")
    outsider.start()
    try:
        kernel = FakeKernel()
        net = sansock.using(kernel)
        a, b = net.socketpair()
        with a, b:
            def server() -> None:
                b.recv(1)
                spin_python(0.3)
                b.send(b"!")

            thread = threading.Thread(target=server)
            thread.start()
            a.settimeout(30)
            a.send(b"?")
            assert a.recv(1) == b"!"
            thread.join()
            assert kernel.monotonic_ns() == 1_000_000_000_000
    finally:
        stop.set()
        outsider.join()


def test_while_any_thread_computes_no_wait_is_parked_by_the_grace() -> None:
    """The GIL rule's other side: a participant in a wait judged by the grace
    (a bare ``Lock.acquire``) looks the same as one starved of the GIL, so
    while a thread of the process computes -- here one that is no
    participant -- it is not parked, and the clock waits for the computing
    to stop.  (A thread waits for the GIL only while another one runs.)"""
    hog_stopped: list[float] = []

    def hog() -> None:
        spin_python(0.5)
        hog_stopped.append(time.monotonic())

    outsider = threading.Thread(target=hog, name="hog")
    outsider.start()  # before the kernel: no participant
    lock = threading.Lock()
    lock.acquire()
    try:
        kernel = FakeKernel()
        waiter = threading.Thread(target=lock.acquire, name="waiter")  # a participant, parked by the grace
        waiter.start()
        net = sansock.using(kernel)
        a, b = net.socketpair()
        with a, b:
            a.settimeout(5)
            start = kernel.monotonic_ns()
            with pytest.raises(TimeoutError):
                a.recv(1)
            timed_out = time.monotonic()
            assert kernel.monotonic_ns() - start == 5_000_000_000
        assert hog_stopped and timed_out >= hog_stopped[0]
    finally:
        lock.release()
        outsider.join()
    waiter.join()


# -- (b) waits the kernel cannot see let the clock move -----------------------------------------


class Parked:
    """Another thread parked in one stdlib wait until ``release()``."""

    def __init__(self, kind: str, kernel: FakeKernel) -> None:
        self.kind = kind
        self.event = threading.Event()
        self.queue: queue.Queue[int] = queue.Queue()
        self.simple: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.cond = threading.Condition()
        self.flag = False
        self.pipe = os.pipe()
        self.pair = sansock.using(kernel).socketpair()
        self.helpers: list[threading.Thread] = []
        if kind == "lock":
            self.lock.acquire()
        self.thread = threading.Thread(target=self.run, name=f"parked-{kind}")

    def run(self) -> None:
        kind = self.kind
        if kind == "event":
            self.event.wait()
        elif kind == "queue":
            self.queue.get()
        elif kind == "condition":
            with self.cond:
                self.cond.wait_for(lambda: self.flag)
        elif kind == "join":
            # Joins a thread that is itself blocked in the kernel with no deadline.
            target = threading.Thread(target=self.pair[1].recv, args=(1,), name="kernel-reader")
            self.helpers.append(target)
            target.start()
            target.join()
        elif kind == "sleep-poll":
            while not self.event.is_set():
                time.sleep(0.005)
        elif kind == "sleep":
            time.sleep(1.0)
        elif kind == "lock":
            self.lock.acquire()
            self.lock.release()
        elif kind == "simple-queue":
            self.simple.get()
        elif kind == "select":
            select.select([self.pipe[0]], [], [])
        else:  # pragma: no cover
            raise AssertionError(kind)

    def release(self) -> None:
        self.event.set()
        self.queue.put(1)
        self.simple.put(1)
        with self.cond:
            self.flag = True
            self.cond.notify_all()
        if self.kind == "lock":
            self.lock.release()
        os.write(self.pipe[1], b"x")
        self.pair[0].send(b"x")
        self.thread.join()
        for helper in self.helpers:
            helper.join()
        for fd in self.pipe:
            os.close(fd)
        for sock in self.pair:
            sock.close()


@pytest.fixture
def kernel() -> Iterator[FakeKernel]:
    kernel = FakeKernel(fd_base=0)  # Linux's small numbers, for the messages below
    yield kernel
    assert kernel.open_fds() == []


RECOGNISED = ["event", "queue", "condition", "join"]
UNRECOGNISED = ["sleep-poll", "sleep", "lock", "simple-queue", "select"]


@pytest.mark.parametrize("kind", RECOGNISED + UNRECOGNISED)
def test_a_thread_parked_outside_the_kernel_lets_a_timeout_expire(kernel: FakeKernel, kind: str) -> None:
    net = sansock.using(kernel)
    parked = Parked(kind, kernel)
    a, b = net.socketpair()
    with a, b:
        parked.thread.start()
        if kind == "join":
            while len(kernel.blocked_threads()) < 1:  # the joined thread is in its recv
                time.sleep(0.001)
        b.settimeout(5)
        start, real = kernel.monotonic_ns(), time.monotonic()
        with pytest.raises(TimeoutError):
            b.recv(1)
        elapsed = time.monotonic() - real
        assert kernel.monotonic_ns() - start == 5_000_000_000
        still_parked = parked.thread.is_alive()
        parked.release()
    assert still_parked
    # Recognised waits are seen at once; the others after the real-time grace.
    assert elapsed < (1.0 if kind in RECOGNISED else 4.0), elapsed


def test_a_waiter_whose_dummy_thread_is_stale_does_not_hold_the_clock(kernel: FakeKernel) -> None:
    """A ``_thread`` thread (CPython's ThreadableTest starts its clients so)
    that reuses the ident of an exited one gets that one's ``_DummyThread``
    from ``threading.current_thread()``, with the dead thread's
    ``native_id``.  Blocked in the kernel, it must still be told apart from
    the process's computing threads by the OS thread id it entered with:
    otherwise it counted as busy and a ``time.sleep`` elsewhere never parked
    (CPython's ``SendfileUsingSendfileTest.testWithTimeoutTriggeredSend``)."""
    import _thread

    net = sansock.using(kernel)
    a, b = net.socketpair()
    done = threading.Event()
    outcome: list[object] = []

    def client() -> None:
        # What a stale _DummyThread looks like: the ident's Thread has another OS id.
        threading.current_thread()._native_id = 2**22 + 12345  # type: ignore[attr-defined]
        try:
            b.settimeout(5)
            b.recv(1)
        except TimeoutError as exc:
            outcome.append(exc)
        finally:
            done.set()

    with a, b:
        _thread.start_new_thread(client, ())
        real = time.monotonic()
        while not done.is_set() and time.monotonic() - real < 10:
            time.sleep(0.02)  # unrecognised: parked after the real-time grace
        done.wait()
    assert [type(e) for e in outcome] == [TimeoutError]
    assert time.monotonic() - real < 8


def test_many_timeouts_next_to_a_parked_thread_cost_little_real_time(kernel: FakeKernel) -> None:
    net = sansock.using(kernel)
    parked = Parked("event", kernel)
    a, b = net.socketpair()
    with a, b:
        parked.thread.start()
        b.settimeout(1)
        real = time.monotonic()
        for _ in range(50):
            with pytest.raises(TimeoutError):
                b.recv(1)
        elapsed = time.monotonic() - real
        parked.release()
    assert elapsed < 5.0, elapsed


def test_a_notified_thread_holds_the_clock_until_it_has_run(kernel: FakeKernel) -> None:
    """event.set() then a 30 s recv: the woken thread sends before the clock moves."""
    net = sansock.using(kernel)
    a, b = net.socketpair()
    go = threading.Event()

    def replier() -> None:
        go.wait()
        spin_python(0.02)
        a.send(b"!")

    with a, b:
        for _ in range(5):
            thread = threading.Thread(target=replier)
            thread.start()
            time.sleep(0.01)  # the replier is parked in go.wait()
            b.settimeout(30)
            start = kernel.monotonic_ns()
            go.set()
            assert b.recv(1) == b"!"
            assert kernel.monotonic_ns() == start
            thread.join()
            go.clear()


# -- BlockedForever: the message and the traceback -------------------------------------------


def test_blocked_forever_names_the_call_the_fd_and_what_it_waits_for(kernel: FakeKernel) -> None:
    net = sansock.using(kernel)
    a, b = net.socketpair()
    with a, b:
        with pytest.raises(BlockedForever) as info:
            b.recv(1)
        assert str(info.value) == (
            "recv(fd=4) would block forever: no thread can make fd 4 readable (every thread "
            "using this fake kernel is waiting in it, none with a deadline); other threads: none"
        )
        with pytest.raises(BlockedForever, match=r"^poll\(fd=3\) would block forever: no thread can make fd 3 report POLLIN "):
            kernel.poll(a.fileno(), kernel.abi.const("POLLIN"), -1)
        a.setblocking(False)
        with pytest.raises(BlockingIOError):
            while True:
                a.send(bytes(65536))
        a.setblocking(True)
        with pytest.raises(BlockedForever, match=r"^sendmsg\(fd=3\) would block forever: no thread can read from the peer of fd 3"):
            a.send(b"x")
    # The traceback starts at the syscall, not deep in the scheduler.
    tb = info.value.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert not any(name.endswith(os.path.join("sansock_fake", "_scheduler.py")) for name in frames), frames


def test_blocked_forever_names_the_other_waiters(kernel: FakeKernel) -> None:
    net = sansock.using(kernel)
    listener = net.socket(net.AF_UNIX)
    listener.bind(b"\0sched-test")
    listener.listen()
    a, b = net.socketpair()
    raised: list[str] = []

    def server() -> None:
        try:
            listener.accept()
        except BlockedForever as exc:
            raised.append(str(exc))

    with listener, a, b:
        thread = threading.Thread(target=server, name="the-server")
        thread.start()
        with pytest.raises(BlockedForever) as info:
            b.recv(1)
        thread.join()
    assert str(info.value) == (
        "recv(fd=5) would block forever: no thread can make fd 5 readable (every thread using "
        "this fake kernel is waiting in it, none with a deadline); other threads: the-server in accept(fd=3)"
    )
    assert raised == [
        "accept(fd=3) would block forever: no thread can connect to listening fd 3 (every thread using "
        "this fake kernel is waiting in it, none with a deadline); other threads: MainThread in recv(fd=5)"
    ]


def test_a_wait_with_no_deadline_beside_a_parked_thread_stalls_with_a_message() -> None:
    kernel = FakeKernel(fd_base=0, stall_timeout_s=0.3)
    net = sansock.using(kernel)
    event = threading.Event()

    def waiter() -> None:
        event.wait()

    a, b = net.socketpair()
    with a, b:
        thread = threading.Thread(target=waiter, name="waiter")
        thread.start()
        try:
            with pytest.raises(BlockedForever) as info:
                b.recv(1)
        finally:
            event.set()
            thread.join()
    message = str(info.value)
    assert message.startswith("recv(fd=4) would block forever: no thread can make fd 4 readable (no syscall")
    assert "other threads: waiter (in Event.wait() at test_fake_scheduler.py:" in message


def test_pytest_shows_no_kernel_frames_for_blocked_forever(tmp_path: Path) -> None:
    test = tmp_path / "test_user.py"
    test.write_text(textwrap.dedent("""
        import sansock
        from sansock_fake import FakeKernel

        def test_forgot_the_peer():
            a, b = sansock.using(FakeKernel(fd_base=0)).socketpair()
            b.recv(1)
    """))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(test)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    out = done.stdout
    assert done.returncode == 1, out
    assert "BlockedForever: recv(fd=4) would block forever: no thread can make fd 4 readable" in out
    kernel_modules = [path.name for path in Path(sansock_fake.__file__).parent.glob("_[a-z]*.py")]
    assert "_syscall.py" in kernel_modules and "_af_unix.py" in kernel_modules
    for module in kernel_modules:
        assert module not in out, out
    assert "b.recv(1)" in out


def test_a_thread_being_started_holds_the_clock() -> None:
    """Thread.start() waits (parked) while the new thread, not yet running, has no
    ident: it must still hold the clock, or a client's 30 s timeout expires
    while a thread-per-connection server starts its handler (outside review of
    issue 16: 65 of 300 timed out)."""
    kernel = FakeKernel()
    net = sansock.using(kernel)
    listener = net.create_server(("127.0.0.1", 0))
    address = listener.getsockname()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return

            def handle(conn: sansock.socket = conn) -> None:
                with conn:
                    conn.sendall(conn.recv(100))

            threading.Thread(target=handle).start()

    server = threading.Thread(target=serve)
    server.start()
    timeouts = 0
    start = kernel.monotonic_ns()
    for _ in range(200):
        with net.create_connection(address, timeout=30) as client:
            client.sendall(b"ping")
            try:
                assert client.recv(100) == b"ping"
            except TimeoutError:
                timeouts += 1
    listener.shutdown(net.SHUT_RDWR)
    listener.close()
    server.join()
    assert timeouts == 0
    assert kernel.monotonic_ns() == start


@pytest.mark.parametrize("old_thread_used_the_kernel", [False, True])
def test_a_new_thread_with_the_ident_of_an_exited_one_is_a_participant(old_thread_used_the_kernel: bool) -> None:
    """A thread's ident is the address of its pthread, which the C library
    reuses once the thread exits: a server thread started after the kernel
    often has the ident of a thread that existed before it (the daemon handler
    thread of the previous test) or of one that used the kernel and exited.
    It still takes part: the client's 30 s timeout does not expire while it
    computes, before or after its first syscall."""
    go = threading.Event()
    made: list[FakeKernel] = []

    def old() -> None:
        go.wait()
        if old_thread_used_the_kernel:
            for sock in sansock.using(made[0]).socketpair():  # syscalls: a user of the kernel
                sock.close()

    before = threading.Thread(target=old, name="before-the-kernel")
    before.start()  # alive when the kernel is made
    kernel = FakeKernel()
    made.append(kernel)
    net = sansock.using(kernel)
    a, b = net.socketpair()
    go.set()
    before.join()

    def server() -> None:
        if old_thread_used_the_kernel:
            b.recv(1)  # registered by its syscall, then computes
        spin_python()  # before its (next) syscall
        b.send(b"!")

    with a, b:
        for _ in range(50):  # the C library hands the freed pthread to the next thread
            thread = threading.Thread(target=server, name="server")
            thread.start()
            if thread.ident == before.ident:
                break
            if old_thread_used_the_kernel:
                a.send(b"?")
            a.recv(1)
            thread.join()
        else:  # pragma: no cover
            pytest.skip("the C library did not reuse the pthread of the exited thread")
        a.settimeout(30)
        start = kernel.monotonic_ns()
        if old_thread_used_the_kernel:
            a.send(b"?")
        assert a.recv(1) == b"!"
        thread.join()
        assert kernel.monotonic_ns() == start


# -- the grace rule under CPU contention from other processes --------------------------------
#
# On a loaded machine a computing thread gets a small share of a CPU: 7 % of
# a 100 ms look was measured for a thread sharing the GIL with another while
# three busy processes ran on two CPUs, the rest of the time queued for a CPU
# (84 %) or waiting for the GIL (a futex: state S).  Its CPU time alone says
# "idle".  These feed the rule what /proc says in such cases.


def _use(cpu_ms: float, queued_ms: float | None = 0.0, working: bool = False) -> _threads.Use:
    return _threads.Use(int(cpu_ms * 1e6), None if queued_ms is None else int(queued_ms * 1e6), working)


START = _use(0, 0)


def test_threads_that_wanted_a_cpu_for_most_of_the_look_are_computing() -> None:
    rule = _scheduler.Scheduler()
    # A server and a busy outsider sharing the GIL, each run 7 ms and queued 84 ms of 100.
    starved = {1: _use(7, 84), 2: _use(7, 84)}
    assert rule._others_busy({1: START, 2: START}, starved, 0.1)
    # One thread queued 30 ms and another 25 ms: together more than half the look.
    assert rule._others_busy({1: START, 2: START}, {1: _use(2, 30), 2: _use(2, 25)}, 0.1)


def test_a_polling_loop_on_a_loaded_machine_is_not_computing() -> None:
    """A ``time.sleep(0.005)`` loop: 0.4 % CPU and up to 11 % queued after each
    wake-up, measured under load; with an idle thread beside it."""
    rule = _scheduler.Scheduler()
    assert not rule._others_busy({1: START, 2: START}, {1: _use(0.4, 11), 2: _use(0, 0)}, 0.1)
    # Without schedstats (no run queue times) the rule is the CPU time alone.
    assert not rule._others_busy({1: _use(0, None)}, {1: _use(0.4, None)}, 0.1)
    assert rule._others_busy({1: _use(0, None)}, {1: _use(30, None)}, 0.1)


@pytest.mark.parametrize("state", ["runnable", "disk-sleep"])
def test_a_thread_runnable_or_in_an_uninterruptible_sleep_is_working(state: str) -> None:
    """State R (running, or queued for a CPU) or D (a page fault reading a module
    from a slow disk, memory reclaim): the thread is doing something that ends
    without any other thread's help, though it used no CPU time."""
    rule = _scheduler.Scheduler()
    assert rule._others_busy({1: START}, {1: _use(0, 0, working=True)}, 0.1)
    before = _scheduler._Sample("other", (1, 10), START)
    after = _scheduler._Sample("other", (1, 10), _use(0, 0, working=True))
    assert not rule._still(before, after, 0.1)
    assert rule._still(before, _scheduler._Sample("other", (1, 10), _use(0, 0)), 0.1)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_proc_tells_a_sleeping_thread_from_a_computing_one() -> None:
    """What the rule reads: a thread in ``time.sleep`` is not working and uses no
    CPU; a computing thread is working or has run (read from the thread itself)."""
    done = threading.Event()
    sleeper = threading.Thread(target=done.wait, name="sleeper")
    sleeper.start()
    try:
        time.sleep(0.05)
        sleeping = _threads.use_of(sleeper.native_id)
        assert not sleeping.working
        time.sleep(0.05)
        assert _threads.use_of(sleeper.native_id).cpu_ns == sleeping.cpu_ns
    finally:
        done.set()
        sleeper.join()
    before = _threads.use_of(threading.get_native_id())
    spin_python(0.02)
    after = _threads.use_of(threading.get_native_id())
    assert after.working  # the thread reading is running
    assert before.cpu_ns is not None and after.cpu_ns is not None
    assert after.cpu_ns - before.cpu_ns >= 10_000_000


def test_a_thread_waiting_for_the_kernel_lock_is_entering_a_syscall(kernel: FakeKernel) -> None:
    """A thread waiting for the kernel's lock (held by the waiters while they
    look around, by other syscalls) sleeps in a futex at one instruction:
    without this rule a thread starved of the CPU that missed the lock a whole
    grace long was taken as parked.  A syscall takes the lock in the syscall
    wrapper (a kernel frame); the kernel's other entry points
    (``monotonic_ns``...) at ``with condition:`` (``Condition.__enter__``)."""
    net = sansock.using(kernel)
    a, b = net.socketpair()
    condition = kernel._scheduler.condition
    enter = threading.Condition.__enter__.__code__

    def waiting_frame(thread: threading.Thread, where: Callable[[FrameType], bool]) -> dict[int, FrameType]:
        frames = _threads.current_frames()
        while (frame := frames.get(thread.ident or 0)) is None or not where(frame):
            time.sleep(0.001)  # until it waits for the lock
            frames = _threads.current_frames()
        return frames

    with a, b:
        with condition:  # what a looking waiter holds
            sender = threading.Thread(target=a.send, args=(b"x",), name="sender")
            clock = threading.Thread(target=kernel.monotonic_ns, name="clock reader")
            sender.start()
            clock.start()
            frames = waiting_frame(sender, lambda f: os.path.abspath(f.f_code.co_filename) in _threads.KERNEL_FILES)
            in_syscall = _threads.classify(frames[sender.ident or 0], condition, frames)
            frames = waiting_frame(clock, lambda f: f.f_code is enter)
            kernel_lock = _threads.classify(frames[clock.ident or 0], condition, frames)
            # Another Condition's lock is an ordinary wait, for the grace to judge.
            other_lock = _threads.classify(frames[clock.ident or 0], threading.Condition(), frames)
            del frames
        sender.join()
        clock.join()
        assert b.recv(1) == b"x"
    assert (in_syscall, kernel_lock, other_lock) == ("running", "running", "other")


_FRAMES_UNDER_COLLECTIONS = """
import gc, sys, threading, time
from sansock_fake._threads import current_frames

class Cycle:  # garbage with a thread-local: local_dealloc takes the runtime's HEAD_LOCK
    def __init__(self):
        self.me = self
        self.local = threading.local()

stop = time.monotonic() + 1.5

def churn(depth=0):
    if depth < 20:
        return churn(depth + 1)
    while time.monotonic() < stop:
        Cycle()

def look(depth=0):  # new frames each time: _current_frames allocates their objects
    if depth < 5:
        return look(depth + 1)
    Cycle()
    current_frames()

gc.set_threshold(1, 1, 1)  # every allocation may start a collection
threads = [threading.Thread(target=churn) for _ in range(3)]
for thread in threads:
    thread.start()
while time.monotonic() < stop:
    look()
for thread in threads:
    thread.join()
"""


def test_looking_at_frames_never_deadlocks_with_the_collector() -> None:
    """CPython 3.11's ``sys._current_frames`` hangs for good when a collection
    inside it frees a ``threading.local`` (gh-106883): with the bare call this
    script hangs within a second on 3.11.7; the scheduler's
    ``current_frames`` holds the collector off as 3.12 does."""
    done = subprocess.run(
        [sys.executable, "-c", _FRAMES_UNDER_COLLECTIONS], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
