"""Query extraction in warm worker processes: an uploaded or downloaded file never runs in the server.

`extract_file` decodes and extracts one file in a worker of the process-wide `QueryPool`: models are
loaded once per worker and reused; a crash, a hang past its limit or a memory blow-up becomes one
sentence (MediaError when decoding failed, ExtractionFailed otherwise), the worker is replaced, and the
next query works. Each worker takes one query at a time and the pool starts up to `max_workers` of
them, so concurrent sessions wait at most for one extraction (with more sessions than workers).
A query splits in two halves, its audio (the audio stream and blocks) and its video (the video stream
and blocks), that run at once: in two workers when a second one is idle and warm, else in two threads of
one. Each half runs on one thread (the two halves are the query's two cores), and `prestart` warms every
worker at a lower CPU priority than the server, so the first query finds them ready and none waits for a
neighbour's warm-up.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from clipret.errors import ClipretError, ExtractionFailed, MediaError
from clipret.runtime.failures import (
    TaskLimits,
    decode_failure,
    rebuild_compiled_code,
    same_signal_twice,
    what_went_wrong,
)
from clipret.runtime.workers import Worker, WorkerFailed, WorkerOptions, decode_here, phase

WORKERS_ENV = "CLIPRET_QUERY_WORKERS"  # how many queries may be extracted at once (default 2)


@dataclass(frozen=True)
class QueryPoolOptions:
    """The query workers of one process."""

    max_workers: int = 2  # queries extracted at once; one more waits for the first free worker
    threads: int = 1  # torch/BLAS threads per worker: a query's halves run side by side, one thread each
    extract_timeout_s: float = 300.0  # limit of the feature step of one query (decoding has its own)
    memory_mb: int = 4096  # memory a query may add to a warm worker before it is stopped
    warm_nice: int = 10  # a warm-up's CPU priority below the server's (and the queries')
    release_idle_s: float = 300.0  # a worker idle this long gives its freed memory back to the system
    prefault_mb: int = 512  # faulted in once warm and after each release: a first query pays no page faults

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
        self._deaths: list[tuple[str, str]] = []  # (kind, phase) of the workers that died since a query worked
        self.closed = False

    # -- the public side -------------------------------------------------------------------------
    def extract(self, path: str | Path, lyrics: str, profile: str, decode_options) -> tuple[dict, float]:
        """(features {block: (dim,) | None}, duration_s) of `path`, extracted in a worker. When a second
        worker is idle, the query's audio half runs there while the first does the video half."""
        from concurrent.futures import ThreadPoolExecutor

        worker = self._acquire(profile, decode_options)
        helper = self._acquire_idle()
        args = (str(path), lyrics, profile, decode_options)
        try:
            if helper is None:
                try:
                    return self._run(worker, f"{__name__}:extract_here", *args)
                finally:  # the next query finds a second worker for its other half
                    self._grow(profile, decode_options)
            # each worker also embeds the lyrics (milliseconds), so that either half alone carries them
            with ThreadPoolExecutor(1, thread_name_prefix="query-audio-half") as pool:
                audio = pool.submit(self._run, helper, f"{__name__}:extract_half", *args, "audio")
                video = half_outcome(lambda: self._run(worker, f"{__name__}:extract_half", *args, "video"))
                audio = half_outcome(audio.result)
            return combine_halves(path, profile, video, audio)
        except _Crashed as crash:  # a worker died, hung or blew up: the whole query fails with its sentence
            raise crash.error from None

    def _run(self, worker: Worker, function: str, path: str, lyrics: str, profile: str, decode_options, *rest):
        """`function` of this module in `worker`, which goes back to the pool (or is replaced) after."""
        return self._call(worker, function, (path, lyrics, profile, decode_options, *rest), profile,
                          decode_options, lambda exc: self._explain(path, exc, decode_options))

    def _call(self, worker: Worker, function: str, args: tuple, profile: str, decode_options, explain):
        broken = True
        try:
            result = worker.call(function, *args)
            broken = False
            self._deaths.clear()
            return result
        except WorkerFailed as exc:
            raise _Crashed(explain(exc)) from None
        except ClipretError:
            broken = not worker.alive
            raise
        finally:
            self._release(worker, broken, profile, decode_options)

    def embed_text(self, text: str, parts: list[str], profile: str):
        """A description's EmbeddedText (clipret.search.text), computed in a worker: text is untrusted
        input too, and the worker has the profile's text models warm."""
        worker = self._acquire(profile, None)

        def explain(exc: WorkerFailed) -> ClipretError:
            limits = TaskLimits(0.0, self.options.extract_timeout_s, self.options.memory_mb)
            return ExtractionFailed(f"Embedding the description {what_went_wrong(exc, limits)}; that process "
                                    "was replaced, so the next query works — try again or try other words.")

        try:
            return self._call(worker, "clipret.search.text:embed_description", (text, parts, profile), profile,
                              None, explain)
        except _Crashed as crash:
            raise crash.error from None

    def prestart(self, profile: str, decode_options=None) -> None:
        """Start every worker now, warming in the background at a lower priority than this process, so
        the first query finds them ready (and its two halves two warm workers)."""
        while self._grow(profile, decode_options):
            pass

    def _grow(self, profile: str, decode_options) -> bool:
        """One more worker, warming in the background, when the pool is below its size (False if not)."""
        with self._cond:
            if self.closed or self._count >= self.options.max_workers:
                return False
            self._count += 1
        self._add_idle(self._start(profile, decode_options))
        return True

    def status(self) -> tuple[int, int]:
        """(workers warm, workers started) — (0, 0) before the first is started."""
        with self._cond:  # polled under the lock: no query takes a worker while its pipe is read here
            return sum(1 for w in self._idle if _warm_now(w)) + len(self._busy), self._count

    def wait_warm(self) -> None:
        """Block until every idle worker has warmed up. For benchmarks, between queries: a query timed
        while a worker still loads its models measures the warm-up, not the query."""
        with self._cond:
            idle = list(self._idle)
        for worker in idle:
            worker.wait_ready()

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
                                    phase_timeouts=timeouts, warm=(f"{__name__}:warm", (profile,)),
                                    warm_nice=self.options.warm_nice, release_idle_s=self.options.release_idle_s,
                                    prefault_mb=self.options.prefault_mb))

    def _acquire(self, profile: str, decode_options) -> Worker:
        with self._cond:
            while True:
                if self.closed:
                    raise ClipretError("The query workers were stopped (the server is shutting down): reload "
                                       "the page in a moment.")
                if self._idle:  # a warm one first: a worker still warming makes the query wait
                    worker = next((w for w in reversed(self._idle) if _warm_now(w)), self._idle[-1])
                    self._idle.remove(worker)
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

    def _acquire_idle(self) -> Worker | None:
        """An idle worker that is warm now (None otherwise: no query waits for a second worker's warm-up)."""
        with self._cond:
            worker = None if self.closed else next((w for w in reversed(self._idle) if _warm_now(w)), None)
            if worker is not None:
                self._idle.remove(worker)
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
            if not self.closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.stop(grace_s=0)  # the pool closed while it started

    # -- what went wrong, in one sentence ----------------------------------------------------------
    def _explain(self, path, exc: WorkerFailed, decode_options) -> ClipretError:
        limits = TaskLimits(decode_options.timeout_s, self.options.extract_timeout_s, self.options.memory_mb)
        decoding = decode_failure(path, exc, limits)
        if decoding is not None:
            return MediaError(decoding)
        note = ""
        self._deaths.append((exc.kind, exc.phase))
        if same_signal_twice(self._deaths):  # do not trust the compiled code
            rebuild_compiled_code(f"query workers died twice by {exc.kind}")
            self._deaths.clear()
            note = " librosa's numba cache was rebuilt, in case it was the cause."
        return ExtractionFailed(f"Extracting the features of {Path(path).name} {what_went_wrong(exc, limits)}; that "
                                f"process was replaced, so the next query works — try again or try another "
                                f"file.{note}")


def _warm_now(worker: Worker) -> bool:
    """Whether an idle worker has warmed up; one whose warm-up failed counts as not (a query meets its error)."""
    try:
        return worker.poll_ready()
    except ClipretError:
        return False


class _Crashed(Exception):
    """A worker failed during a query (its sentence in .error): not a stream that merely did not decode."""

    def __init__(self, error: ClipretError):
        super().__init__(str(error))
        self.error = error


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


def embed_text(text: str, parts: list[str], profile: str):
    """embed_description (clipret.search.text) of a description, in a warm query worker."""
    return shared_pool().embed_text(text, parts, profile)


# -- in the worker -----------------------------------------------------------------------------------
_warm_profiles: set[str] = set()  # profiles whose models this process has loaded


def warm(profile: str) -> None:
    """A worker's start: load the numba cache, then every model of `profile`."""
    from clipret.features.warm import warm_worker

    warm_worker(profile)
    _warm_profiles.add(profile)


def extract_half(path: str, lyrics: str | None, profile: str, decode_options, stream: str,
                 decoding: _Decoding | None = None) -> tuple[dict, float, bool]:
    """One stream of `path` and its blocks, plus the lyrics block unless `lyrics` is None: (blocks,
    duration_s, whether the file has that stream). MediaError when the stream is there but does not decode.
    `decoding` tracks the phase when another half decodes in this worker at the same time."""
    from dataclasses import replace

    from clipret.features.profiles import extract_clip

    decoding = decoding or _Decoding(halves=1)
    try:
        decoded = decode_here(path, replace(decode_options, streams=(stream,)))
    finally:
        decoding.finished()
    present = decoded.has_audio if stream == "audio" else decoded.has_video
    modalities = ((stream,) if present else ()) + (("lyrics",) if lyrics is not None else ())
    return extract_clip(decoded, lyrics, profile, modalities=modalities), decoded.duration_s, present


def extract_here(path: str, lyrics: str, profile: str, decode_options) -> tuple[dict, float]:
    """Both halves of a query in this worker (when no second worker is free): the audio half in a second
    thread while this one does the video half, so the query still uses both cores."""
    from concurrent.futures import ThreadPoolExecutor

    from clipret.features.profiles import extract_clip

    if profile not in _warm_profiles:  # models loaded before two threads need them at once
        warm(profile)
    decoding = _Decoding(halves=2)
    with ThreadPoolExecutor(1, thread_name_prefix="query-audio") as pool:
        audio = pool.submit(extract_half, path, None, profile, decode_options, "audio", decoding)
        video = half_outcome(lambda: extract_half(path, None, profile, decode_options, "video", decoding))
        audio = half_outcome(audio.result)
    features, duration = combine_halves(path, profile, video, audio)
    return features | extract_clip(None, lyrics, profile, modalities=("lyrics",)), duration


def half_outcome(run):
    """A half's (blocks, duration_s, present), or its MediaError: the other half may still have decoded."""
    try:
        return run()
    except MediaError as exc:
        return exc


def combine_halves(path, profile: str, video, audio) -> tuple[dict, float]:
    """A query's features from its two halves (each a half_outcome), in the profile's block order, and
    its duration. A stream that does not decode is left out, as a single decode keeps what decodes;
    when neither stream is there, the video's error is raised (the audio's for a file without video)."""
    from clipret.features.profiles import layout

    halves = [half for half in (video, audio) if not isinstance(half, Exception) and half[2]]
    if not halves:
        errors = [half for half in (video, audio) if isinstance(half, Exception)]
        if errors:
            raise errors[0]
        raise ClipretError(f"{path}: no audio, video or lyrics could be extracted from this clip.")
    features = {name: vector for blocks, _, _ in reversed(halves) for name, vector in blocks.items()}
    features = {block: features.get(block) for block, _ in layout(profile)}
    if all(v is None for v in features.values()):
        raise ClipretError(f"{path}: no audio, video or lyrics could be extracted from this clip.")
    return features, halves[0][1]


class _Decoding:
    """Tells the parent 'decode' while either half decodes, then 'extract' (the limit and the blame for
    a crash follow the phase: while a stream is still decoding, a crash is the decoder's)."""

    def __init__(self, halves: int):
        self.left = halves
        self.lock = threading.Lock()
        phase("decode")

    def finished(self) -> None:
        with self.lock:
            self.left -= 1
            if self.left == 0:
                phase("extract")
