"""Extract every clip's features into the per-clip cache: resumable, parallel, failures left out."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from clipret.config import Settings
from clipret.corpus import ClipRecord
from clipret.errors import ClipretError, ModelUnavailable
from clipret.indexing.cache import cache_path, cached_key, fingerprint, save_features


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

    @property
    def ready(self) -> list[str]:
        """Clip ids whose features are in the cache now."""
        return self.cached + self.computed


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

    Clips already cached with the same fingerprint are skipped, so a killed run resumes where it
    stopped. `on_clip` is called in this process after every finished clip (a hook for tests).
    """
    from clipret.profiles import get_profile

    start = time.monotonic()
    prof = get_profile(profile or settings.profile)
    if shard is not None:
        records = list(records)[shard[0]::shard[1]]
    timeout = float(timeout_s if timeout_s is not None else prof.decode_options.timeout_s)
    report = ExtractReport(profile=prof.name)
    tasks = _plan(records, Path(corpus_dir), settings, prof.name, timeout, report)
    for outcome in _run(tasks, workers, progress, prof.name):
        if outcome.fatal:
            raise ModelUnavailable(outcome.reason)
        if outcome.ok:
            report.computed.append(outcome.clip_id)
        else:
            report.failed[outcome.clip_id] = outcome.reason
        if on_clip is not None:
            on_clip(outcome)
    report.seconds = time.monotonic() - start
    return report


def _plan(records, corpus_dir: Path, settings: Settings, profile: str, timeout: float,
          report: ExtractReport) -> list[ClipTask]:
    """Tasks for the clips not cached yet; cached ones and missing files go straight to the report."""
    tasks = []
    for record in records:
        media = record.media_path(corpus_dir)
        if not media.is_file():
            report.failed[record.clip_id] = f"media file not found: {media}"
            continue
        key = fingerprint(media, record.lyrics, profile)
        path = cache_path(settings.features_dir, profile, record.clip_id)
        if cached_key(path) == key:
            report.cached.append(record.clip_id)
            continue
        tasks.append(ClipTask(record.clip_id, str(media), record.lyrics, profile, str(path), key, timeout))
    return tasks


def _run(tasks: list[ClipTask], workers: int, progress: bool, profile: str):
    """Yield a ClipOutcome per task, in completion order, with a progress bar."""
    from tqdm import tqdm

    with tqdm(total=len(tasks), desc=f"extract ({profile})", unit="clip", disable=not progress) as bar:
        outcomes = _in_process(tasks) if workers <= 1 or len(tasks) <= 1 else _in_pool(tasks, workers)
        for outcome in outcomes:
            if not outcome.ok:
                bar.write(f"  skipped {outcome.clip_id}: {outcome.reason}")
            bar.update(1)
            yield outcome


def _in_process(tasks: list[ClipTask]):
    for task in tasks:
        yield extract_one(task)


def _in_pool(tasks: list[ClipTask], workers: int):
    """Run in `workers` spawned processes, each loading the models once; never more in flight than
    twice the workers, so a crash loses only the clips being worked on."""
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // workers)
    pending = list(reversed(tasks))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads,)) as pool:
        running = {}
        while pending or running:
            while pending and len(running) < 2 * workers:
                task = pending.pop()
                running[pool.submit(extract_one, task)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    yield ClipOutcome(task.clip_id, False, "the worker process died (out of memory?)")
                    for other in running.values():
                        yield ClipOutcome(other.clip_id, False, "lost with a crashed worker; run again")
                    for other in pending:
                        yield ClipOutcome(other.clip_id, False, "not run: a worker crashed; run again")
                    return


def _init_worker(threads: int) -> None:
    # N workers share the cores: each takes its slice instead of all of them.
    import torch

    torch.set_num_threads(threads)


def extract_one(task: ClipTask) -> ClipOutcome:
    """Decode one clip, extract its blocks and cache them; any failure becomes a reason, not a crash."""
    from clipret.media import decode
    from clipret.profiles import extract_clip, get_profile

    start = time.monotonic()
    try:
        prof = get_profile(task.profile)
        decoded = decode(task.media_path, replace(prof.decode_options, timeout_s=task.timeout_s))
        features = extract_clip(decoded, task.lyrics, prof)
        if all(v is None for v in features.values()):
            raise ClipretError("no audio, video or lyrics could be extracted")
        save_features(Path(task.cache_path), features, task.key, decoded.duration_s)
    except ModelUnavailable as exc:
        return ClipOutcome(task.clip_id, False, str(exc), time.monotonic() - start, fatal=True)
    except ClipretError as exc:
        return ClipOutcome(task.clip_id, False, str(exc), time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the corpus
        return ClipOutcome(task.clip_id, False, f"{type(exc).__name__}: {exc}", time.monotonic() - start)
    return ClipOutcome(task.clip_id, True, "", time.monotonic() - start)
