"""Query extraction in warm worker processes: an uploaded or downloaded file never runs in the server.

`extract_file` decodes and extracts one file in a worker of the process-wide `QueryPool`: models are
loaded once per worker and reused; a crash, a hang past its limit or a memory blow-up becomes one
sentence (MediaError when decoding failed, ExtractionFailed otherwise), the worker is replaced, and the
next query works. Each worker takes one query at a time and the pool starts up to `max_workers` of
them, so concurrent sessions wait at most for one extraction (with more sessions than workers).
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clipret.errors import ClipretError, ExtractionFailed, MediaError
from clipret.workers import Worker, WorkerFailed, WorkerOptions, decode_failure_message, decode_here, phase

WORKERS_ENV = "CLIPRET_QUERY_WORKERS"  # how many queries may be extracted at once (default 2)


@dataclass(frozen=True)
class QueryPoolOptions:
    """The query workers of one process."""

    max_workers: int = 2  # queries extracted at once; one more waits for the first free worker
    threads: int = 0  # torch/BLAS threads per worker; 0 = one per core (a query runs alone, mostly)
    extract_timeout_s: float = 300.0  # limit of the feature step of one query (decoding has its own)
    memory_mb: int = 4096  # memory a query may add to a warm worker before it is stopped

    @classmethod
    def from_env(cls) -> QueryPoolOptions:
        text = os.environ.get(WORKERS_ENV, "").strip()
        return cls(max_workers=max(1, int(text))) if text.isdigit() else cls()


class QueryPool:
    """Up to max_workers warm workers; `extract` borrows one for one query. Thread-safe."""

    def __init__(self, options: QueryPoolOptions | None = None):
        self.options = options or QueryPoolOptions()
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._busy: dict[int, Worker] = {}  # pid → worker, for status and fault injection in tests
        self._count = 0  # idle + busy + starting
        self._signal_deaths: dict[str, int] = {}  # "SIGSEGV" → deaths outside decoding, in a row
        self.closed = False

    # -- the public side -------------------------------------------------------------------------
    def extract(self, path: str | Path, lyrics: str, profile: str, decode_options) -> tuple[dict, float]:
        """(features {block: (dim,) | None}, duration_s) of `path`, extracted in a worker."""
        worker = self._acquire(profile, decode_options)
        broken = True
        try:
            result = worker.call("clipret.query_worker:extract_here", str(path), lyrics, profile, decode_options)
            broken = False
            self._signal_deaths.clear()
            return result
        except WorkerFailed as exc:
            raise self._explain(path, exc, decode_options) from None
        except ClipretError:
            broken = not worker.alive
            raise
        finally:
            self._release(worker, broken, profile, decode_options)

    def prestart(self, profile: str, decode_options=None) -> None:
        """Start (and warm, in the background) one worker now, so the first query finds it ready."""
        with self._cond:
            if self.closed or self._count:
                return
            self._count += 1
        self._add_idle(self._start(profile, decode_options))

    def busy_workers(self) -> list[Worker]:
        with self._cond:
            return list(self._busy.values())

    def close(self) -> None:
        """Stop every worker (atexit does this for the shared pool)."""
        with self._cond:
            self.closed = True
            workers = self._idle + list(self._busy.values())
            self._idle = []
            self._cond.notify_all()
        for worker in workers:
            worker.stop(grace_s=0.5)

    # -- workers in and out ------------------------------------------------------------------------
    def _start(self, profile: str, decode_options) -> Worker:
        timeouts = {"decode": getattr(decode_options, "timeout_s", 120.0), "*": self.options.extract_timeout_s}
        return Worker(WorkerOptions(threads=self.options.threads, memory_mb=self.options.memory_mb,
                                    phase_timeouts=timeouts, warm=("clipret.query_worker:warm", (profile,))))

    def _acquire(self, profile: str, decode_options) -> Worker:
        with self._cond:
            while True:
                if self.closed:
                    raise ClipretError("The query workers were stopped (the server is shutting down): reload "
                                       "the page in a moment.")
                if self._idle:
                    worker = self._idle.pop()
                    self._busy[worker.pid] = worker
                    return worker
                if self._count < self.options.max_workers:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            worker = self._start(profile, decode_options)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._busy[worker.pid] = worker
        return worker

    def _release(self, worker: Worker, broken: bool, profile: str, decode_options) -> None:
        with self._cond:
            self._busy.pop(worker.pid, None)
            keep = not broken and not self.closed
            if keep:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.stop(grace_s=0)
        replacement = None if self.closed else self._start(profile, decode_options)  # warms meanwhile
        with self._cond:
            if replacement is None:
                self._count -= 1
                self._cond.notify()
            else:
                self._idle.append(replacement)
                self._cond.notify()

    def _add_idle(self, worker: Worker) -> None:
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    # -- what went wrong, in one sentence ----------------------------------------------------------
    def _explain(self, path, exc: WorkerFailed, decode_options) -> ClipretError:
        if exc.phase == "decode":
            return MediaError(decode_failure_message(path, exc.kind, decode_options.timeout_s,
                                                     self.options.memory_mb))
        if exc.kind == "timeout":
            what = f"took longer than {self.options.extract_timeout_s:g} s"
        elif exc.kind == "memory":
            what = f"needed more than {self.options.memory_mb} MB of memory"
        else:
            what = f"crashed ({'killed by ' if exc.kind.startswith('SIG') else ''}{exc.kind})"
        note = ""
        if exc.kind.startswith("SIG"):
            self._signal_deaths[exc.kind] = self._signal_deaths.get(exc.kind, 0) + 1
            if self._signal_deaths[exc.kind] >= 2:  # twice the same way: do not trust the compiled code
                from clipret import jit_cache

                jit_cache.rebuild(f"query workers died twice by {exc.kind}")
                self._signal_deaths.clear()
                note = " librosa's numba cache was rebuilt, in case it was the cause."
        name = Path(path).name
        return ExtractionFailed(f"Extracting the features of {name} {what}; that process was replaced, so "
                                f"the next query works — try again or try another file.{note}")


# -- the process-wide pool ---------------------------------------------------------------------------
_shared: QueryPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> QueryPool:
    """This process's one QueryPool (the app's sessions share it); stopped at interpreter exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = QueryPool(QueryPoolOptions.from_env())
            atexit.register(_shared.close)
        return _shared


def extract_file(path: str | Path, lyrics: str, profile: str, decode_options) -> tuple[dict, float]:
    """Decode and extract `path` with `profile` in a warm worker → (features, duration_s)."""
    return shared_pool().extract(path, lyrics, profile, decode_options)


# -- in the worker -----------------------------------------------------------------------------------
def warm(profile: str) -> None:
    """A worker's start: load the numba cache, then every model of `profile` (one tiny clip through it)."""
    from clipret import jit_cache
    from clipret.profiles import extract_clip, get_profile

    jit_cache.load_in_process()
    extract_clip(tiny_clip(), "warming up", get_profile(profile))


def extract_here(path: str, lyrics: str, profile: str, decode_options) -> tuple[dict, float]:
    from clipret.profiles import extract_clip, get_profile

    phase("decode")
    decoded = decode_here(path, decode_options)
    phase("extract")
    features = extract_clip(decoded, lyrics, get_profile(profile))
    if all(v is None for v in features.values()):
        raise ClipretError(f"{path}: no audio, video or lyrics could be extracted from this clip.")
    return features, decoded.duration_s


def tiny_clip():
    """A 2 s synthetic DecodedClip (a tone, 16 noisy frames): enough to load and run every extractor."""
    from clipret.media import SAMPLE_RATE, DecodedClip, DecodeOptions

    rng = np.random.default_rng(0)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    frames = rng.integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    times = np.linspace(0, 2, 16, endpoint=False)
    return DecodedClip(path="warm-up", duration_s=2.0, audio=(0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
                       sample_rate=SAMPLE_RATE, fps=8.0, frames=frames, frame_times=times,
                       thumbs=frames[:, ::4, ::4], thumb_times=times, options=DecodeOptions())
