"""Long-lived worker processes that extract features: warm models, a crash or a hang costs one task.

The parent starts `python -m clipret.runtime.workers` (a fresh interpreter in its own process group, so no
caller's __main__ is re-imported and no multiprocessing resource tracker is involved), and sends it
one task at a time over a pipe: ``"module:function"`` and its arguments. The worker reports the phase
it is in ("decode", "extract", …), so that a death by a signal, a hang past the phase's limit or a
memory blow-up can be blamed on the right step. The parent kills the worker's whole process group
to stop it; a worker whose parent is gone kills itself within half a second, so none is orphaned.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from clipret.errors import ClipretError
from clipret.media.decode import describe_exit

_HEADER = struct.Struct("<Q")  # the length of each pickled message
_POLL_S = 0.05  # how often a waiting parent checks the worker's liveness, memory and deadline
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker process runs and what it may cost."""

    threads: int = 0  # torch/BLAS threads in the worker; 0 = one per core
    memory_mb: int = 4096  # resident memory a task may add to the warm worker before it is killed
    phase_timeouts: dict[str, float] = field(default_factory=dict)  # phase → seconds ("*": any other)
    warm: tuple[str, tuple] | None = None  # ("module:function", args) run once at start (load models)
    start_timeout_s: float = 900.0  # starting and warming up (a cold numba cache compiles here)
    warm_nice: int = 0  # niceness added to the warm-up's thread: loading models beside a server never slows it
    release_idle_s: float | None = None  # idle this long after a task: hand freed memory back (see MALLOC_ENV)
    prefault_mb: int = 0  # heap memory faulted in after the warm-up and kept, so a first task pays no faults


class WorkerFailed(ClipretError):
    """The worker process died, hung past a limit or grew past its memory cap during a task."""

    def __init__(self, message: str, *, phase: str, kind: str):
        super().__init__(message)
        self.phase = phase  # the step the worker was in: "start", "decode", "extract", …
        self.kind = kind  # "SIGSEGV", "SIGKILL", "exit 1", "timeout", "memory"


class Worker:
    """One worker process, seen from the parent. Not thread-safe: one caller at a time."""

    def __init__(self, options: WorkerOptions | None = None):
        self.options = options or WorkerOptions()
        self.phase = "start"
        self.baseline_kb = 0
        self.process = subprocess.Popen([sys.executable, "-m", "clipret.runtime.workers"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=_worker_env(self.options),
                                        start_new_session=True, close_fds=True)
        _live.add(self)
        self._send(("start", self.options.warm, os.getpid(), self.options.warm_nice, self.options.prefault_mb))
        self._ready = False
        self._warm_up_failed: ClipretError | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self) -> None:
        """Block until the worker has warmed up (WorkerFailed when it died doing so)."""
        if self._warm_up_failed is not None:
            raise self._warm_up_failed
        if not self._ready:
            try:
                self._receive_result({"start": self.options.start_timeout_s})
            except ClipretError as exc:  # its warm-up failed (e.g. weights out of reach): it is of no use
                self._warm_up_failed = exc  # said again to whoever calls it next
                self.stop(grace_s=0)
                raise
            self._ready = True
            self.baseline_kb = _rss_kb(self.pid)

    def poll_ready(self) -> bool:
        """Whether the worker has warmed up, without waiting (WorkerFailed when it died doing so)."""
        if not self._ready and select.select([self.process.stdout.fileno()], [], [], 0)[0]:
            self.wait_ready()  # its answer to the start is there (or it died): read it
        return self._ready

    def call(self, function: str, *args: Any) -> Any:
        """Run ``function(*args)`` in the worker and return its result (its ClipretError is raised
        here as it was raised there; WorkerFailed when the worker dies, hangs or blows up)."""
        self.wait_ready()
        self.phase = "task"
        self._send(("call", function, args))
        return self._receive_result(dict(self.options.phase_timeouts))

    def stop(self, grace_s: float = 1.0) -> None:
        """End the worker and everything it started (its process group); idempotent."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # an idle worker exits at end of input
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.process.stdout.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the worker itself (tests inject faults with this)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    # -- the pipe ------------------------------------------------------------------------------------
    def _send(self, message) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.process.stdin.write(_HEADER.pack(len(data)) + data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # it died: the wait below says how

    def _receive_result(self, timeouts: dict[str, float]):
        phase_started = time.monotonic()
        while True:
            message = self._next_message(timeouts, phase_started)
            kind = message[0]
            if kind == "phase":
                self.phase, phase_started = message[1], time.monotonic()
            elif kind == "ok":
                self.phase = "idle"
                return message[1]
            elif kind == "error":
                self.phase = "idle"
                raise message[1]

    def _next_message(self, timeouts: dict[str, float], phase_started: float):
        fd = self.process.stdout.fileno()
        while True:
            readable, _, _ = select.select([fd], [], [], _POLL_S)
            if readable:
                header = _read_exactly(fd, _HEADER.size)
                body = _read_exactly(fd, _HEADER.unpack(header)[0]) if header else b""
                if header and body:
                    return pickle.loads(body)
                self._fail_dead()
            if not self.alive:
                self._fail_dead()
            limit = timeouts.get(self.phase, timeouts.get("*"))
            if limit is not None and time.monotonic() - phase_started > limit:
                self._fail("timeout", f"took longer than {limit:g} s")
            if self.baseline_kb and self.options.memory_mb:
                grown_mb = (_rss_kb(self.pid) - self.baseline_kb) / 1024
                if grown_mb > self.options.memory_mb:
                    self._fail("memory", f"needed more than {self.options.memory_mb} MB of memory")

    def _fail_dead(self):
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._fail(describe_exit(code), f"died ({describe_exit(code, long=True)})", stopped=False)

    def _fail(self, kind: str, what: str, stopped: bool = True):
        phase = self.phase
        self.stop(grace_s=0)
        verb = " and was stopped" if stopped else ""
        raise WorkerFailed(f"the worker process {what}{verb} while in step '{phase}'", phase=phase, kind=kind)


_live: weakref.WeakSet[Worker] = weakref.WeakSet()  # this process's workers, stopped at exit


@atexit.register
def _stop_all() -> None:
    for worker in list(_live):
        _kill_group(worker.pid)


def _read_exactly(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return b""
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE // 1024
    except (OSError, IndexError, ValueError):
        return 0


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# glibc hands every freed block over 32 MB back to the kernel and maps the next one afresh, so each of a
# 4-minute clip's spectrogram-sized arrays (40-90 MB, dozens per clip) costs page faults and zeroed pages:
# a sixth of the audio features' time. A worker keeps such blocks while it works instead: an extraction
# worker also between clips (it holds about 0.5 GB more after a 4-minute clip than when warm); a query
# worker, idle most of the time in a server, gives them back once it has been idle a while
# (WorkerOptions.release_idle_s), so that a burst of queries does not fault them in again for each query.
# Set either variable to override.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(256 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(1024 * 2**20)}
_RELEASE_ENV = "CLIPRET_WORKER_RELEASE_MEMORY"


def _worker_env(options: WorkerOptions) -> dict[str, str]:
    threads = options.threads
    env = dict(os.environ)
    if threads > 0:  # before numpy/torch load in the worker: N workers share the cores
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[name] = str(threads)
    env["CLIPRET_WORKER_THREADS"] = str(threads)
    env.update({name: value for name, value in MALLOC_ENV.items() if name not in env})
    env[_RELEASE_ENV] = "" if options.release_idle_s is None else str(options.release_idle_s)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- the worker's side -----------------------------------------------------------------------------
_channel = None  # the worker's message pipe (a binary file), None outside a worker


def in_worker() -> bool:
    """Whether this process is a clipret worker (an isolated child: it may decode in process)."""
    return _channel is not None


def phase(name: str) -> None:
    """Tell the parent which step this task is in (a no-op outside a worker)."""
    if _channel is not None:
        _write(("phase", name))


def decode_here(path: str | os.PathLike, options):
    """clipret.media.decode.decode's checks and messages, decoding in this process: for a worker, which is
    already an isolated child whose crash, hang or memory blow-up its parent turns into a message."""
    from clipret.errors import MediaError
    from clipret.media import child
    from clipret.media.decode import check_media_file

    path = check_media_file(path)
    try:  # an absolute path, so that FFmpeg never reads "Live: at Wembley.mp4" as a protocol
        return child.decode_in_process(os.path.abspath(path), options)
    except MemoryError:
        raise MediaError(f"{path}: decoding needed more than {options.memory_mb} MB of memory and was "
                         "stopped.") from None
    except Exception as exc:  # noqa: BLE001 - as the decoding child: every failure is a message
        raise MediaError(f"{path}: {child._explain(exc)}") from None


_write_lock = threading.Lock()  # a task may report its phase from several threads


def _write(message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with _write_lock:
        _channel.write(_HEADER.pack(len(data)) + data)
        _channel.flush()


def _call(function: str, args: tuple):
    import importlib

    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def _answer(function: str, args: tuple) -> None:
    try:
        result = ("ok", _call(function, args))
    except ClipretError as exc:
        result = ("error", exc)
    except Exception as exc:  # noqa: BLE001 - the parent gets a message, never a dead pipe
        result = ("error", ClipretError(f"{type(exc).__name__}: {exc}"))
    try:
        _write(result)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        _write(("error", ClipretError(f"the worker's answer could not be sent back ({exc}).")))


def _watch_parent(parent: int) -> None:
    """Kill this worker's process group when its parent is gone (SIGKILLed parents run no cleanup)."""
    while os.getppid() == parent:
        time.sleep(0.25)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _main() -> None:
    global _channel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when its workers stop
    inbox = sys.stdin.fileno()  # read unbuffered, so that select() on it tells whether a task waits
    _channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints of libraries go to stderr, never into the message pipe
    sys.stdout = sys.stderr
    release_idle_s = float(os.environ[_RELEASE_ENV]) if os.environ.get(_RELEASE_ENV) else None
    holding, prefault_mb = False, 0  # holding: freed memory kept since the last task, to give back once idle
    while True:
        if holding and not select.select([inbox], [], [], release_idle_s)[0]:
            _release_free_memory()  # idle: the next task is not coming soon
            _prefault(prefault_mb)  # but when it comes, it finds what a first task needs
            holding = False
        header = _read_exactly(inbox, _HEADER.size)
        if not header:
            return  # the parent closed the pipe: stop
        message = pickle.loads(_read_exactly(inbox, _HEADER.unpack(header)[0]))
        if message[0] == "start":
            _, warm, parent, nice, prefault_mb = message
            if os.getppid() != parent:
                return
            threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
            _prefault(prefault_mb)
            _warm_up(warm, nice)
        elif message[0] == "call":
            _answer(message[1], message[2])
            holding = release_idle_s is not None


def _warm_up(warm: tuple[str, tuple] | None, nice: int) -> None:
    """Run the warm-up in a thread of its own, `nice` steps below the process (Linux sets niceness per
    thread): the tasks, in the main thread, run at the server's priority. Threads the warm-up starts
    inherit its niceness, so a worker that warms at a lower priority runs its libraries on one thread
    (WorkerOptions.threads=1): no library keeps a pool of threads started here."""

    def run():
        if nice:
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        _answer(warm[0], warm[1]) if warm else _write(("ok", None))

    thread = threading.Thread(target=run, name="warm-up")
    thread.start()
    thread.join()


def _prefault(megabytes: int) -> None:
    """Fault `megabytes` of the main thread's heap in and free them again: with MALLOC_ENV's thresholds
    glibc keeps them, so the first large arrays of the first task reuse pages instead of faulting them in.
    Blocks of 32 MB stay below the mmap threshold (mapped blocks would go back to the system on free)."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        size = 32 * 2**20
        blocks = [libc.malloc(size) for _ in range(megabytes // 32)]
        for block in filter(None, blocks):
            ctypes.memset(block, 1, size)
        for block in blocks:
            libc.free(block)


def _release_free_memory() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim; elsewhere nothing to do)."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


if __name__ == "__main__":
    # Run as clipret.runtime.workers, not __main__: the tasks' `phase()` and `in_worker()` read that module's state.
    from clipret.runtime.workers import _main as worker_main

    worker_main()
