"""librosa's numba cache: two fresh processes compiling at once must not leave a cache that crashes the
next process (numba issue 10128); a bad cache is removed and compiled again, under one lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clipret.features import jit_cache

ROOT = Path(__file__).resolve().parents[1]
REPETITIONS = 5
# A fresh process that extracts audio features, as a pool worker does: it waits for GO to appear, so
# that two of them start compiling at the same moment, then prints the tempo it found.
EXTRACT = """
import os, sys, time
import numpy as np
from clipret.features.audio import extract_audio_features
go = sys.argv[1]
while go != "-" and not os.path.exists(go):
    time.sleep(0.005)
sr = 22050
t = np.arange(6 * sr) / sr
clicks = (np.sin(2 * np.pi * 2 * t) > 0.995).astype(np.float32)  # 120 bpm
y = (0.2 * np.sin(2 * np.pi * 330 * t) + clicks).astype(np.float32)
print(float(extract_audio_features(y, sr)[-1]))
"""


def _start(cache: Path, go: str) -> subprocess.Popen:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    env.pop(jit_cache.COMPILING_ENV, None)
    return subprocess.Popen([sys.executable, "-c", EXTRACT, go], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _outcome(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=900)
    return process.returncode, (out.strip() if process.returncode == 0 else err.strip()[-300:])


@pytest.mark.slow
@pytest.mark.timeout(3600)  # five cold compiles: about 3 minutes on a quiet 2-core machine
def test_two_fresh_extractions_at_once_then_a_third_never_crash(tmp_path):
    """From an empty cache folder: two processes extract at the same moment (as the pool's two workers
    do on a first build), then a third fresh process extracts; repeated 5 times. Before clipret owned
    and locked the cache, the third process (or one of the two) died by SIGSEGV in beat tracking."""
    failures, started = [], []
    try:
        for rep in range(REPETITIONS):
            cache = tmp_path / f"numba-{rep}"
            cache.mkdir()
            go = tmp_path / f"go-{rep}"
            pair = [_start(cache, str(go)) for _ in range(2)]
            started += pair
            time.sleep(1.5)  # both have imported numpy and clipret and are waiting
            go.touch()
            results = [_outcome(p) for p in pair]
            started.append(third := _start(cache, "-"))
            results.append(_outcome(third))
            failures += [(rep, i, code, text) for i, (code, text) in enumerate(results) if code != 0]
            tempos = {text for code, text in results if code == 0}
            assert len(tempos) <= 1, f"the processes disagree on the tempo: {tempos}"
    finally:
        for process in started:
            process.kill()
            process.wait()
    assert not failures, f"{len(failures)} of {3 * REPETITIONS} extractions failed: {failures}"


def test_a_complete_marker_is_for_this_python_numba_and_librosa(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert jit_cache.cache_dir() == tmp_path.resolve()
    assert not jit_cache.is_complete()
    (tmp_path / jit_cache.MARKER).write_text(json.dumps({"fingerprint": jit_cache.fingerprint()}))
    assert jit_cache.is_complete()
    stale = {**jit_cache.fingerprint(), "librosa": "0.0.1"}
    (tmp_path / jit_cache.MARKER).write_text(json.dumps({"fingerprint": stale}))
    assert not jit_cache.is_complete()
    (tmp_path / jit_cache.MARKER).write_text("{half a json")
    assert not jit_cache.is_complete()


def test_the_cache_folder_is_clipret_s_own(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("CLIPRET_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = jit_cache.cache_dir()
    assert folder.parent == (tmp_path / "xdg" / "clipret" / "numba").resolve()
    assert len(folder.name) == 12  # one folder per Python environment: checkouts don't share a marker
    monkeypatch.setenv("CLIPRET_CACHE_DIR", str(tmp_path / "mine"))
    assert jit_cache.cache_dir() == (tmp_path / "mine" / "numba").resolve() / folder.name
    monkeypatch.setattr(jit_cache.sys, "prefix", str(tmp_path / "another-venv"))
    assert jit_cache.cache_dir().name != folder.name


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a cold compile and a small build
def test_the_newcomers_order_a_demo_build_then_extraction_in_a_new_process(tmp_path):
    """`make run` then `make test` on a fresh machine: a small demo build with 2 workers from an empty
    cache, then a new process that extracts (`indexer add`, in its query worker) and one more."""
    cache, data = tmp_path / "numba", tmp_path / "data"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    for name in (jit_cache.COMPILING_ENV, "CLIPRET_PROFILE", "CLIPRET_COLLECTION", "QDRANT_URL", "QDRANT_API_KEY"):
        env.pop(name, None)

    def indexer(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "clipret", "--data-dir", str(data), "--quiet", *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)

    build = indexer("build", "--from", "demo", "--per-genre", "1", "--seconds", "3", "--workers", "2",
                    "--epochs", "2")
    assert build.returncode == 0, build.stderr[-2000:]
    assert "9 of 9 clips indexed" in build.stdout
    assert (build.stdout + build.stderr).count("Compiling librosa's numba cache") == 1  # once, by the parent
    assert jit_cache.is_complete(cache)
    clip = next((data / "corpora").glob("demo-*/media/*.mp4"))
    added = indexer("add", str(clip), "--genre", "pop", "--title", "again")
    assert added.returncode == 0, added.stderr[-2000:]
    assert "Added file-" in added.stdout and "Compiling" not in added.stdout + added.stderr
    code, tempo = _outcome(_start(cache, "-"))
    assert code == 0 and float(tempo) > 0


def _bad_cache(folder: Path) -> Path:
    """A copy of this session's complete cache (marker included) with the two compiled variants of
    beat tracking's dynamic programme swapped, as the race leaves them: loading it crashes by SIGSEGV."""
    import shutil

    shutil.copytree(jit_cache.cache_dir(), folder, ignore=shutil.ignore_patterns(jit_cache.LOCK))
    pairs = sorted(folder.glob("librosa_*/*beat.__beat_track_dp-*.1.nbc"))
    assert pairs, "no compiled beat tracker in the cache"
    for first in pairs:
        second = first.with_name(first.name.replace(".1.nbc", ".2.nbc"))
        a, b = first.read_bytes(), second.read_bytes()
        first.write_bytes(b)
        second.write_bytes(a)
    assert jit_cache.is_complete(folder)  # the marker still vouches for it: only a crash can tell
    return folder


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a cold compile
def test_workers_dying_twice_the_same_way_rebuild_the_cache_and_finish(tmp_path):
    from dataclasses import replace

    from _app_index import tiny_index

    from clipret.config import Settings
    from clipret.sources.corpus import read_clips, write_clips

    source = Settings(data_dir=tiny_index())
    (folder,) = [p for p in source.corpora_dir.iterdir() if p.name != "added"]
    records = read_clips(folder)[:2]
    corpus = tmp_path / "corpus"
    write_clips(corpus, [replace(r, path=str(r.media_path(folder))) for r in records])
    cache = _bad_cache(tmp_path / "numba")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    env.pop(jit_cache.COMPILING_ENV, None)
    done = subprocess.run([sys.executable, "-m", "clipret", "--data-dir", str(tmp_path / "data"), "--quiet",
                           "extract", "--corpus", str(corpus), "--workers", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "killed by SIGSEGV" in out and "retrying it once in a fresh worker" in out
    assert out.count("rebuilding librosa's numba cache under its lock") == 1
    assert "Compiled librosa's numba cache" in out
    assert "Features (portable): 2 extracted, 0 cached, 0 failed" in out
    assert jit_cache.is_complete(cache)
