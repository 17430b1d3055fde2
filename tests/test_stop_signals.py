"""Stopping the indexer leaves nothing behind: SIGTERM or SIGINT to `clipret extract` ends its
workers (and anything they started) within a few seconds, and a re-run resumes; a worker whose parent
is SIGKILLed ends itself. Real processes, found by a tag in their environment (/proc, no psutil)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from clipret.config import Settings
from clipret.sources.corpus import read_clips

ROOT = Path(__file__).resolve().parents[1]
TAG = "CLIPRET_TEST_PROCESS_TAG"


def tagged(tag: str) -> list[int]:
    """Pids of live (not zombie) processes whose environment carries TAG=tag."""
    found = []
    needle = f"{TAG}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_until(condition, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def start(args: list[str], tag: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, TAG: tag}
    for name in ("CLIPRET_PROFILE", "CLIPRET_COLLECTION", "QDRANT_URL", "QDRANT_API_KEY"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint, **kwargs)


def _default_sigint() -> None:
    """Ctrl-C's default in the child, as in a terminal: a suite run in the background (`cmd &`) would
    otherwise hand it SIGINT ignored, which Python then keeps ignoring."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six clips of the tiny index's corpus (3 s each, six genres), five times over under other ids (warm
    workers take a fraction of a second a clip: the run must still be going when the signal comes), their
    media where the index keeps them."""
    from dataclasses import replace

    from _app_index import tiny_index

    from clipret.sources.corpus import write_clips

    settings = Settings(data_dir=tiny_index())
    (folder,) = [p for p in settings.corpora_dir.iterdir() if p.name != "added"]
    out = tmp_path_factory.mktemp("corpus")
    write_clips(out, [replace(r, clip_id=f"{r.clip_id}-{copy}", path=str(r.media_path(folder)))
                      for copy in range(5) for r in read_clips(folder)[::3]])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_extract_leaves_no_process_and_resumes(corpus, tmp_path, sig):
    data = tmp_path / "data"
    cache = data / "features" / "portable"
    tag = uuid.uuid4().hex
    indexer = start(["-m", "clipret", "--data-dir", str(data), "--quiet", "extract", "--corpus", str(corpus),
                     "--workers", "2"], tag)
    try:  # both workers up, and one clip finished: the pool is in the middle of its work
        wait_until(lambda: len(tagged(tag)) >= 3 and cache.is_dir() and any(cache.glob("*.npz")), 600,
                   "two workers and a first cached clip")
        assert indexer.poll() is None
        indexer.send_signal(sig)
        out, err = indexer.communicate(timeout=20)
        seconds = wait_until(lambda: not tagged(tag), 10, "every process of the stopped indexer to end")
    finally:
        for pid in tagged(tag):
            os.kill(pid, signal.SIGKILL)
    assert indexer.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert seconds < 10
    done = {p.stem for p in cache.glob("*.npz") if not p.name.startswith(".")}
    assert 1 <= len(done) < len(read_clips(corpus))

    rerun = start(["-m", "clipret", "--data-dir", str(data), "--quiet", "extract", "--corpus", str(corpus),
                   "--workers", "2"], tag)
    out, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err
    total = len(read_clips(corpus))
    assert f"{total - len(done)} extracted, {len(done)} cached, 0 failed" in out
    assert not tagged(tag)


KILLED_PARENT = """
import sys, time
from clipret.runtime.workers import Worker
worker = Worker()
worker.call("os:getpid")
print(worker.pid, flush=True)
time.sleep(600)
"""


def test_a_worker_ends_itself_when_its_parent_is_killed(tmp_path):
    tag = uuid.uuid4().hex
    parent = start(["-c", KILLED_PARENT], tag)
    try:
        worker_pid = int(parent.stdout.readline())
        assert worker_pid in tagged(tag)
        parent.kill()  # SIGKILL: no handler, no atexit in the parent
        parent.communicate(timeout=10)
        seconds = wait_until(lambda: not tagged(tag), 5, "the orphaned worker to end")
    finally:
        for pid in tagged(tag):
            os.kill(pid, signal.SIGKILL)
    assert seconds < 5
