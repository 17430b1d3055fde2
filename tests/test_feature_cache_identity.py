"""The feature cache's identity check: an unchanged re-run reads no media byte, a changed file is
recomputed, and caches written before stamps (or of a copied corpus) are accepted by digest once."""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from clipret.config import Settings
from clipret.features.profiles import get_profile
from clipret.files import save_npz_atomic
from clipret.indexing import cache
from clipret.indexing.cache import (
    cache_path,
    cached_identity,
    fingerprint,
    is_current,
    load_features,
    media_stamp,
    save_features,
)
from clipret.indexing.extract import extract_corpus, plan_extraction
from clipret.indexing.train import load_training_set
from clipret.sources.corpus import read_clips

PROFILE = "portable"
AUDIO = np.arange(3, dtype=np.float32)  # what the faked extractor returns for every clip
STALE = "features are stale (media or lyrics changed): run extract again"

# -- every path Python opens while recording (fingerprint reads media with open(); os.stat opens nothing)
_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)  # for the whole session (a hook cannot be removed); idle unless recording


@contextmanager
def opened():
    global _opened
    _opened = paths = []
    try:
        yield paths
    finally:
        _opened = None


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """2 demo clips of 1 s (metal, soul; both with lyrics)."""
    from clipret.sources.demo import generate_demo_corpus

    out = tmp_path_factory.mktemp("identity-corpus")
    generate_demo_corpus(out, per_genre=1, seconds=1.0, genres=("metal", "soul"), progress=False)
    return out


@pytest.fixture
def settle(monkeypatch):
    """A 50 ms settling window (the real one is 2 s): longer than a kernel tick, so a stamp taken after
    settle() still sees any later write, and the tests need not wait seconds."""
    monkeypatch.setattr(cache, "SETTLE_NS", 50_000_000)
    return lambda: time.sleep(0.06)


@pytest.fixture
def fake_extractor(monkeypatch):
    """extract_one with its decode and feature maths replaced: the plan, the task and the save are real."""
    decoded = SimpleNamespace(duration_s=1.0, audio=None, sample_rate=22050)  # no audio: an empty fingerprint
    monkeypatch.setattr("clipret.indexing.extract.decode", lambda path, options: decoded)
    monkeypatch.setattr("clipret.indexing.extract.extract_clip_views",
                        lambda decoded, lyrics, prof: ({"audio": AUDIO, "lyrics": None}, {}))


@pytest.fixture
def extracted(template, tmp_path, settle, fake_extractor):
    """(records, corpus dir, settings) after a first extraction of a private copy of the corpus."""
    corpus = tmp_path / "corpus"
    shutil.copytree(template, corpus)
    records = read_clips(corpus)
    settings = Settings(data_dir=tmp_path / "data")
    settle()
    report = extract_corpus(records, corpus, settings, profile=PROFILE, progress=False)
    assert sorted(report.computed) == sorted(r.clip_id for r in records) and not report.failed
    return records, corpus, settings


def media_of(records, corpus) -> set[str]:
    return {os.path.realpath(r.media_path(corpus)) for r in records}


def plan(records, corpus, settings):
    """(clip ids reported cached, tasks, media paths opened) of planning an extract run."""
    with opened() as paths:
        report, tasks = plan_extraction(records, corpus, settings, PROFILE)
    assert not report.failed
    return sorted(report.cached), tasks, set(paths) & media_of(records, corpus)


def rewrite_same_size(media: Path, mtime_ns: int) -> None:
    """New content of the same length, and the given mtime."""
    data = bytearray(media.read_bytes())
    data[len(data) // 2] ^= 0xFF
    media.write_bytes(bytes(data))
    os.utime(media, ns=(mtime_ns, mtime_ns))


def test_the_audit_hook_sees_a_fingerprint_read_the_media(extracted):
    records, corpus, _ = extracted
    media = records[0].media_path(corpus)
    with opened() as paths:
        fingerprint(media, records[0].lyrics, PROFILE)
    assert os.path.realpath(media) in paths


def test_an_unchanged_replan_opens_no_media(extracted):
    records, corpus, settings = extracted
    for record in records:  # the worker saved the stamp taken at planning
        path = cache_path(settings.features_dir, PROFILE, record.clip_id)
        key = fingerprint(record.media_path(corpus), record.lyrics, PROFILE)
        assert cached_identity(path) == (key, media_stamp(record.media_path(corpus), record.lyrics, PROFILE))
    with opened() as paths:
        report, tasks = plan_extraction(records, corpus, settings, PROFILE)
    assert tasks == [] and sorted(report.cached) == sorted(r.clip_id for r in records)
    assert not set(paths) & media_of(records, corpus)
    cache_files = {os.path.realpath(cache_path(settings.features_dir, PROFILE, r.clip_id)) for r in records}
    assert cache_files <= set(paths)  # only the cache files were read


def test_same_size_new_content_new_mtime_is_recomputed(extracted, settle):
    records, corpus, settings = extracted
    changed = records[0].media_path(corpus)
    rewrite_same_size(changed, changed.stat().st_mtime_ns - 5_000_000_000)  # older: a future mtime never settles
    settle()
    cached, tasks, media = plan(records, corpus, settings)
    assert cached == [records[1].clip_id] and media == {os.path.realpath(changed)}
    (task,) = tasks
    assert task.clip_id == records[0].clip_id
    assert task.key == fingerprint(changed, records[0].lyrics, PROFILE)
    assert task.stamp == media_stamp(changed, records[0].lyrics, PROFILE) != ""


def test_new_content_with_its_mtime_set_back_is_recomputed(extracted, settle):
    """`touch -r` (or a copy keeping times) restores mtime; ctime, which nobody can set, still moved."""
    records, corpus, settings = extracted
    changed = records[0].media_path(corpus)
    rewrite_same_size(changed, changed.stat().st_mtime_ns)
    settle()
    cached, tasks, _ = plan(records, corpus, settings)
    assert cached == [records[1].clip_id] and [t.clip_id for t in tasks] == [records[0].clip_id]


def test_changed_lyrics_are_recomputed_without_a_stale_stamp(extracted):
    records, corpus, settings = extracted
    records = [replace(records[0], lyrics="other words"), records[1]]
    cached, tasks, media = plan(records, corpus, settings)
    assert cached == [records[1].clip_id] and [t.clip_id for t in tasks] == [records[0].clip_id]
    assert media == {os.path.realpath(records[0].media_path(corpus))}  # the key decided


def test_a_cache_from_before_stamps_is_accepted_by_digest_then_restamped(extracted):
    records, corpus, settings = extracted
    for record in records:  # as save_features wrote them before stamps
        path = cache_path(settings.features_dir, PROFILE, record.clip_id)
        key = fingerprint(record.media_path(corpus), record.lyrics, PROFILE)
        save_npz_atomic(path, key=np.array(key), duration_s=np.array(1.0), **{"block:audio": AUDIO})
        assert cached_identity(path) == (key, "")
    cached, tasks, media = plan(records, corpus, settings)
    assert tasks == [] and cached == sorted(r.clip_id for r in records)
    assert media == media_of(records, corpus)  # read once, by digest
    for record in records:  # re-stamped, every other array kept
        path = cache_path(settings.features_dir, PROFILE, record.clip_id)
        with np.load(path) as data:
            assert sorted(data.files) == ["block:audio", "duration_s", "key", "stamp"]
        assert cached_identity(path)[1] == media_stamp(record.media_path(corpus), record.lyrics, PROFILE)
        features, duration = load_features(path, ("audio", "lyrics"))
        np.testing.assert_array_equal(features["audio"], AUDIO)
        assert features["lyrics"] is None and duration == 1.0
    assert plan(records, corpus, settings) == (cached, [], set())  # the next plan opens no media


def test_a_touched_file_or_a_copied_corpus_is_hashed_once(extracted, settle):
    records, corpus, settings = extracted
    touched = records[0].media_path(corpus)
    os.utime(touched)
    settle()
    cached, tasks, media = plan(records, corpus, settings)
    assert tasks == [] and media == {os.path.realpath(touched)}
    assert plan(records, corpus, settings)[2] == set()

    copy = corpus.parent / "copied"  # another disk: new inodes and ctimes, mtimes kept
    shutil.copytree(corpus, copy)
    settle()
    cached, tasks, media = plan(records, copy, settings)
    assert tasks == [] and media == media_of(records, copy)
    assert plan(records, copy, settings)[2] == set()


def test_a_file_changed_within_the_settling_window_is_not_trusted_by_stat(tmp_path, monkeypatch):
    media = tmp_path / "fresh.mp4"
    media.write_bytes(b"media bytes")
    assert media_stamp(media, "la", PROFILE) == ""  # just written: its stat may not move on the next write
    path = cache_path(tmp_path / "features", PROFILE, "fresh")
    save_features(path, {"audio": AUDIO}, fingerprint(media, "la", PROFILE), 1.0)
    with opened() as paths:
        assert is_current(path, media, "la", PROFILE) == (True, fingerprint(media, "la", PROFILE), "")
    assert os.path.realpath(media) in paths  # the key decided
    assert cached_identity(path)[1] == ""  # and no stamp was written
    monkeypatch.setattr(cache, "SETTLE_NS", 0)
    stamp = media_stamp(media, "la", PROFILE)
    assert stamp and stamp != media_stamp(media, "other", PROFILE) != media_stamp(media, "la", "paper")


def test_training_skips_a_stale_clip_and_reads_a_current_one_without_its_media(extracted, settle):
    records, corpus, settings = extracted
    stale, current = records
    media = stale.media_path(corpus)
    rewrite_same_size(media, media.stat().st_mtime_ns - 5_000_000_000)
    settle()
    with opened() as paths:
        data = load_training_set(records, corpus, settings, get_profile(PROFILE))
    assert data.skipped == {stale.clip_id: STALE}
    assert [r.clip_id for r in data.records] == [current.clip_id] and data.durations == [1.0]
    np.testing.assert_array_equal(data.features[0]["audio"], AUDIO)
    assert set(paths) & media_of(records, corpus) == {os.path.realpath(media)}


def test_the_ray_rows_carry_the_stamp_to_the_cache(tmp_path):
    from clipret.indexing.ray_engine import _store
    from clipret.indexing.ray_stages import NeuralBlocks, cpu_stage

    row = {"clip_id": "c", "media_path": str(tmp_path / "missing.mp4"), "lyrics": "", "profile": PROFILE,
           "cache_path": str(tmp_path / "c.npz"), "key": "k", "stamp": "s", "timeout_s": 5.0, "threads": 1}
    out, done = cpu_stage(row)  # decoding fails: the row goes on with its reason
    assert done is None and out["reason"] and out["stamp"] == "s"
    actor = object.__new__(NeuralBlocks)  # no models loaded: the row failed before them
    actor.node = "127.0.0.1"
    finished = actor._finish({**out, "seconds": 0.0})
    assert finished["stamp"] == "s"
    ok = {**finished, "reason": "", "features": pickle.dumps({"blocks": {"audio": AUDIO}, "views": {},
                                                           "fingerprint": None}),
          "duration_s": 2.0}
    assert _store(ok).ok
    assert cached_identity(tmp_path / "c.npz") == ("k", "s")
