"""Extract every clip's features into the per-clip cache: resumable, parallel, failures left out."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clipret.config import Settings
from clipret.errors import ClipretError, ModelUnavailable
from clipret.features import jit_cache
from clipret.features.fingerprint import audio_fingerprint
from clipret.features.profiles import extract_clip_views, get_profile
from clipret.indexing.backfill import MissingFingerprint, add_missing_fingerprints
from clipret.indexing.cache import cache_path, has_fingerprint, is_current, save_features
from clipret.media.decode import decode, for_task
from clipret.runtime.failures import (
    TaskLimits,
    decode_failure,
    exception_reason,
    rebuild_compiled_code,
    same_signal_twice,
    what_went_wrong,
)
from clipret.runtime.workers import Worker, WorkerFailed, WorkerOptions, decode_here, in_worker, phase
from clipret.sources.corpus import ClipRecord


@dataclass(frozen=True)
class ClipTask:
    """One clip to extract, picklable for a worker process."""

    clip_id: str
    media_path: str
    lyrics: str
    profile: str
    cache_path: str
    key: str  # fingerprint of media + lyrics + profile, stored with the features
    timeout_s: float  # wall-clock limit of decoding this clip
    stamp: str = ""  # the media's stat when `key` was taken, stored with it (cache.media_stamp)


@dataclass(frozen=True)
class ClipOutcome:
    clip_id: str
    ok: bool
    reason: str = ""  # why it failed, for the report
    seconds: float = 0.0
    fatal: bool = False  # no clip can succeed (model weights unavailable): stop the run


@dataclass
class ExtractReport:
    """What an extract run did: clips computed now, found in the cache, and failed (with reasons)."""

    profile: str
    computed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the pool said: workers retried, cache rebuilt
    unprinted: list[MissingFingerprint] = field(default_factory=list)  # cached, but with no fingerprint yet

    @property
    def ready(self) -> list[str]:
        """Clip ids whose features are in the cache now."""
        return self.cached + self.computed

    def record(self, outcome: ClipOutcome) -> None:
        """Count one finished clip; ModelUnavailable when no clip can succeed (weights missing)."""
        if outcome.fatal:
            raise ModelUnavailable(outcome.reason)
        if outcome.ok:
            self.computed.append(outcome.clip_id)
        else:
            self.failed[outcome.clip_id] = outcome.reason


def default_workers() -> int:
    """One extraction process per core, at most 4 (each holds its own copy of the models)."""
    return max(1, min(4, os.cpu_count() or 1))


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' (0 <= i < n) → (i, n); None → None."""
    if not text:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ClipretError(f"--shard {text!r}: expected i/n, e.g. 0/4 for the first of 4 slices.") from None
    if not 0 <= i < n:
        raise ClipretError(f"--shard {text!r}: i must be in 0..n-1.")
    return i, n


def extract_corpus(records: Sequence[ClipRecord], corpus_dir: str | Path, settings: Settings, *,
                   profile: str | None = None, workers: int = 1, timeout_s: float | None = None,
                   shard: tuple[int, int] | None = None, progress: bool = True,
                   on_clip: Callable[[ClipOutcome], None] | None = None) -> ExtractReport:
    """Compute and cache the features of `records` (a `shard` (i, n) takes records[i::n]).

    Clips already cached with the same fingerprint are skipped (unchanged media files are not read:
    cache.is_current), so a killed run resumes where it stopped. `on_clip` is called in this process
    after every finished clip (a hook for tests).
    """
    start = time.monotonic()
    report, tasks = plan_extraction(records, corpus_dir, settings, profile, shard, timeout_s)
    with contextlib.closing(_run(tasks, workers, progress, report.profile, report.notes)) as outcomes:
        for outcome in outcomes:  # leaving this block early (an error, Ctrl-C, SIGTERM) stops the workers
            report.record(outcome)
            if on_clip is not None:
                on_clip(outcome)
    fingerprint_cached(report, timeout_s, progress)
    report.seconds = time.monotonic() - start
    return report


def fingerprint_cached(report: ExtractReport, timeout_s: float | None, progress: bool) -> None:
    """Add the fingerprints that cached clips lack (either engine calls this after its run)."""
    timeout = float(timeout_s if timeout_s is not None else get_profile(report.profile).decode_options.timeout_s)
    report.notes += add_missing_fingerprints(report.unprinted, timeout, progress)


def plan_extraction(records: Sequence[ClipRecord], corpus_dir: str | Path, settings: Settings,
                    profile: str | None = None, shard: tuple[int, int] | None = None,
                    timeout_s: float | None = None) -> tuple[ExtractReport, list[ClipTask]]:
    """What an extract run (either engine) must do: a report already holding the cached and missing
    clips, and the tasks for the rest (a `shard` (i, n) takes records[i::n])."""
    prof = get_profile(profile or settings.profile)
    if shard is not None:
        records = list(records)[shard[0]::shard[1]]
    timeout = float(timeout_s if timeout_s is not None else prof.decode_options.timeout_s)
    report = ExtractReport(profile=prof.name)
    return report, _plan(records, Path(corpus_dir), settings, prof.name, timeout, report)


def _plan(records, corpus_dir: Path, settings: Settings, profile: str, timeout: float,
          report: ExtractReport) -> list[ClipTask]:
    """Tasks for the clips not cached yet; cached ones and missing files go straight to the report."""
    tasks = []
    for record in records:
        media = record.media_path(corpus_dir)
        if not media.is_file():
            report.failed[record.clip_id] = f"media file not found: {media}"
            continue
        path = cache_path(settings.features_dir, profile, record.clip_id)
        current, key, stamp = is_current(path, media, record.lyrics, profile)
        if current:
            report.cached.append(record.clip_id)
            if not has_fingerprint(path):
                report.unprinted.append(MissingFingerprint(record.clip_id, str(media), str(path), key))
            continue
        tasks.append(ClipTask(record.clip_id, str(media), record.lyrics, profile, str(path), key, timeout, stamp))
    return tasks


def _run(tasks: list[ClipTask], workers: int, progress: bool, profile: str, notes: list[str]):
    """Yield a ClipOutcome per task, in completion order, with a progress bar."""
    from tqdm import tqdm

    def say(message: str) -> None:
        notes.append(message.strip())
        tqdm.write(message)

    with tqdm(total=len(tasks), desc=f"extract ({profile})", unit="clip", disable=not progress) as bar:
        outcomes = _in_process(tasks, say) if workers <= 1 or len(tasks) <= 1 else _in_pool(tasks, workers, say)
        with contextlib.closing(outcomes):
            for outcome in outcomes:
                if not outcome.ok:
                    bar.write(f"  skipped {outcome.clip_id}: {outcome.reason}")
                bar.update(1)
                yield outcome


def _in_process(tasks: list[ClipTask], say):
    if tasks:
        jit_cache.ensure_ready(log=say)
    for task in tasks:
        yield extract_one(task)


def _in_pool(tasks: list[ClipTask], workers: int, say):
    """Run in `workers` warm worker processes (clipret.runtime.workers), one clip each at a time; a worker that
    dies is replaced and its clip retried (see _PoolRun). The workers are gone when this generator is."""
    jit_cache.ensure_ready(log=say)  # compiled once, here, before any worker could race to do it
    run = _PoolRun(tasks, workers, say)
    try:
        yield from run.outcomes()
    finally:
        run.stop()


class _PoolRun:
    """A few worker threads, each driving one worker process through a shared list of clips.

    A worker that dies by a signal is reported and its clip retried once in a fresh worker; when it
    dies the same way a second time outside decoding, librosa's numba cache is rebuilt under its lock
    and the clip tried a last time. A decode that crashes twice, or any step past its time or memory
    limit, fails that clip only.
    """

    def __init__(self, tasks: list[ClipTask], workers: int, say):
        self.say = say
        self.todo = deque((task, ()) for task in tasks)  # (task, kinds of the deaths it caused so far)
        self.results: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.stopping = False
        self.live: list = []
        self.rebuilt = False
        self.rebuild_lock = threading.Lock()
        threads = max(1, (os.cpu_count() or 1) // workers)  # N workers share the cores: a slice each
        timeout = tasks[0].timeout_s if tasks else 120.0
        self.memory_mb = _memory_mb(tasks)
        self.options = WorkerOptions(threads=threads, memory_mb=self.memory_mb,
                                     phase_timeouts={"decode": timeout, "*": EXTRACT_TIMEOUT_S},
                                     warm=("clipret.features.warm:warm_worker",
                                           (tasks[0].profile,) if tasks else ()))
        self.threads = [threading.Thread(target=self._drive, daemon=True, name=f"extract-worker-{i}")
                        for i in range(min(workers, len(tasks)))]
        self.expected = len(tasks)
        for thread in self.threads:
            thread.start()

    def outcomes(self):
        for _ in range(self.expected):
            item = self.results.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            live, self.live = self.live, []
        for worker in live:
            worker.stop(grace_s=0.5)
        for thread in self.threads:
            thread.join(timeout=5)

    # -- in each thread ------------------------------------------------------------------------
    def _next(self):
        with self.lock:
            return None if self.stopping or not self.todo else self.todo.popleft()

    def _new_worker(self):
        with self.lock:
            if self.stopping:
                return None
            worker = Worker(self.options)
            self.live.append(worker)
            return worker

    def _drive(self) -> None:
        worker = None
        try:
            while (item := self._next()) is not None:
                task, deaths = item
                worker = worker if worker is not None and worker.alive else self._new_worker()
                if worker is None:
                    return
                try:
                    self.results.put(worker.call("clipret.indexing.extract:extract_one", task))
                except WorkerFailed as exc:
                    worker = None
                    if not self.stopping:
                        self._after_death(task, deaths, exc)
        except BaseException as exc:  # noqa: BLE001 - e.g. the warm-up failed: the run stops with it
            self.results.put(exc)
        finally:
            if worker is not None:
                worker.stop()

    def _after_death(self, task: ClipTask, deaths: tuple[tuple[str, str], ...], exc) -> None:
        limits = TaskLimits(task.timeout_s, EXTRACT_TIMEOUT_S, self.memory_mb)
        if exc.kind in ("timeout", "memory"):
            self.results.put(ClipOutcome(task.clip_id, False, _limit_reason(task, exc, limits)))
            return
        deaths = (*deaths, (exc.kind, exc.phase))
        if len(deaths) == 1:
            self.say(f"  {task.clip_id}: {exc}; retrying it once in a fresh worker")
            self._retry(task, deaths)
        elif len(deaths) == 2 and same_signal_twice(deaths):
            self._rebuild_cache(f"two workers died by {exc.kind} on {task.clip_id}, last in step '{exc.phase}'")
            self._retry(task, deaths)
        elif exc.phase == "decode":
            self.results.put(ClipOutcome(task.clip_id, False, decode_failure(task.media_path, exc, limits)))
        else:
            kinds = ", ".join(kind for kind, _ in deaths)
            self.results.put(ClipOutcome(task.clip_id, False, f"the worker process died {len(deaths)} times on "
                                                              f"this clip ({kinds}, last in step '{exc.phase}')"))

    def _retry(self, task: ClipTask, deaths: tuple[tuple[str, str], ...]) -> None:
        with self.lock:
            self.todo.appendleft((task, deaths))

    def _rebuild_cache(self, reason: str) -> None:
        """Rebuild librosa's numba cache once per run; other threads wait here until it is done."""
        with self.rebuild_lock:
            if self.rebuilt:
                return
            self.say(f"  {reason}: rebuilding librosa's numba cache under its lock, then retrying once more")
            rebuild_compiled_code(reason, log=lambda m: self.say(f"  {m}"))
            self.rebuilt = True


EXTRACT_TIMEOUT_S = 600.0  # limit of one clip's feature step in a pool worker (decoding has its own)


def _memory_mb(tasks: list[ClipTask]) -> int:
    """What a clip may add to a warm worker's memory: the profile's decoding cap."""
    return get_profile(tasks[0].profile).decode_options.memory_mb if tasks else 4096


def _limit_reason(task: ClipTask, exc, limits: TaskLimits) -> str:
    """Why a clip failed when its worker could not start or went past a limit (no retry: it would again)."""
    if exc.phase == "start":
        return f"the worker process could not start: {exc}"
    decoding = decode_failure(task.media_path, exc, limits)
    return decoding or f"feature extraction {what_went_wrong(exc, limits)} and was stopped"


def extract_one(task: ClipTask) -> ClipOutcome:
    """Decode one clip, extract its blocks and cache them; any failure becomes a reason, not a crash.

    In a worker process (already an isolated child) the clip is decoded right here, with the phases
    reported to the parent; elsewhere decoding runs in a fresh child process (clipret.media.decode.decode).
    """
    start = time.monotonic()
    try:
        prof = get_profile(task.profile)
        options = for_task(prof.decode_options, task.timeout_s, int(os.environ.get("CLIPRET_WORKER_THREADS") or 0))
        phase("decode")
        decoded = decode_here(task.media_path, options) if in_worker() else decode(task.media_path, options)
        phase("extract")
        features, views = extract_clip_views(decoded, task.lyrics, prof)
        if all(v is None for v in features.values()):
            raise ClipretError("no audio, video or lyrics could be extracted")
        fingerprint = audio_fingerprint(decoded.audio, decoded.sample_rate)
        phase("save")
        save_features(Path(task.cache_path), features, task.key, decoded.duration_s, task.stamp, fingerprint,
                      views)
    except ModelUnavailable as exc:
        return ClipOutcome(task.clip_id, False, str(exc), time.monotonic() - start, fatal=True)
    except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the corpus
        return ClipOutcome(task.clip_id, False, exception_reason(exc), time.monotonic() - start)
    return ClipOutcome(task.clip_id, True, "", time.monotonic() - start)
