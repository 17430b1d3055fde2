"""Query extraction runs in warm worker processes: a worker's crash, hang or memory blow-up is one
sentence and a replaced worker, the next query works, and concurrent queries each get a worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import sine

from clipret.errors import ClipretError, ExtractionFailed, MediaError
from clipret.features.profiles import get_profile
from clipret.media.encode import write_clip
from clipret.runtime.query_pool import QueryPool, QueryPoolOptions
from clipret.runtime.workers import Worker, WorkerFailed, WorkerOptions, _rss_kb


def test_a_worker_runs_calls_and_turns_each_fault_into_one_sentence():
    options = WorkerOptions(memory_mb=200, phase_timeouts={"*": 3})
    worker = Worker(options)
    assert worker.call("os:getpid") == worker.pid
    assert worker.call("os:getpid") == worker.pid  # the same warm process, call after call
    with pytest.raises(MediaError, match="no such file"):  # its own errors come through as they are
        worker.call("clipret.runtime.workers:decode_here", "/no/such/clip.mp4", None)
    assert worker.alive
    faults = [("ctypes:string_at", (0,), "SIGSEGV", "died (killed by SIGSEGV)"),  # reads address 0
              ("time:sleep", (60,), "timeout", "took longer than 3 s and was stopped"),
              ("numpy:ones", ((500_000_000,),), "memory", "needed more than 200 MB of memory")]
    for function, args, kind, words in faults:
        with pytest.raises(WorkerFailed) as info:
            worker.call(function, *args)
        assert info.value.kind == kind and info.value.phase == "task" and words in str(info.value)
        assert not worker.alive
        worker = Worker(options)
    worker.stop()


@pytest.fixture
def long_audio_clip(tmp_path):
    """90 s of a tone with a 120 bpm click: its features take a while, so a fault lands mid-extraction."""
    path = tmp_path / "long.mp4"
    y = sine(330, 90.0)
    y[:: 11025] += 0.8
    write_clip(path, None, y)
    return path


def kill_when_extracting(pool: QueryPool, sig=signal.SIGSEGV, timeout: float = 600,
                         settle_s: float = 0.3) -> threading.Thread:
    """A thread that sends `sig` to the first busy worker seen in the 'extract' step for `settle_s`.

    Not the first one seen there at all: the half of a query with no video stream is in 'extract' for
    milliseconds, and a signal that lands after its answer was sent kills nothing the query waits for."""
    def watch():
        deadline = time.monotonic() + timeout
        extracting_since: dict[int, float] = {}
        while time.monotonic() < deadline:
            now = time.monotonic()
            for worker in pool.busy_workers():
                if worker.phase != "extract":
                    extracting_since.pop(worker.pid, None)
                elif now - extracting_since.setdefault(worker.pid, now) >= settle_s:
                    worker.kill(sig)
                    return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_the_query_pool_reuses_warm_workers_survives_a_crash_and_serves_sessions_at_once(tone_clip,
                                                                                          long_audio_clip):
    profile = get_profile("portable")
    pool = QueryPool(QueryPoolOptions(max_workers=2))
    try:
        features, duration = pool.extract(tone_clip, "", profile.name, profile.decode_options)
        assert [b.name for b in profile.blocks] == list(features)
        assert features["audio"].shape == (257,) and features["lyrics"] is None
        assert duration == pytest.approx(3.0, abs=0.1)

        # two sessions at once: each gets its own worker, both answer the same
        answers, errors = [], []

        def query():
            try:
                answers.append(pool.extract(tone_clip, "", profile.name, profile.decode_options)[0])
            except ClipretError as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=query) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=900)
        assert not errors and len(answers) == 2
        for answer in answers:
            np.testing.assert_allclose(answer["audio"], features["audio"], rtol=1e-5, atol=1e-5)
        assert pool._count == 2 and len(pool._idle) == 2

        # a worker killed by SIGSEGV mid-extraction: one sentence; the next query works
        killer = kill_when_extracting(pool)
        with pytest.raises(ExtractionFailed) as info:
            pool.extract(long_audio_clip, "", profile.name, profile.decode_options)
        killer.join()
        assert str(info.value).startswith("Extracting the features of long.mp4 crashed (killed by SIGSEGV)")
        assert "try again" in str(info.value)
        again, _ = pool.extract(tone_clip, "", profile.name, profile.decode_options)
        np.testing.assert_allclose(again["audio"], features["audio"], rtol=1e-5, atol=1e-5)
    finally:
        pool.close()
    assert pool.closed and not pool.busy_workers()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # with the session's tiny index (built by whichever test comes first) and two warm-ups
def test_a_query_worker_killed_mid_query_is_one_error_on_the_page_and_the_next_query_works(
        index_dir, monkeypatch, long_audio_clip):
    """AppTest (the server process is this one): SIGSEGV to the worker extracting an upload; the page shows
    one error and no stack trace, the process lives on, and the next upload returns its results."""
    import os

    from _app_index import open_page, texts, use_data_dir
    from test_app_search import result_titles

    from clipret.config import Settings
    from clipret.runtime.query_pool import shared_pool
    from clipret.search.engine import SearchEngine
    from clipret.ui.resources import shared_store

    use_data_dir(monkeypatch, index_dir)
    settings = Settings.from_env()
    clip = next(p for p in SearchEngine(settings, store=shared_store(settings)).clips() if not p["has_lyrics"])
    pid = os.getpid()

    at = open_page(params={"k": "3"})
    at.radio(key="search.source").set_value("Upload a file").run()
    killer = kill_when_extracting(shared_pool())
    at.file_uploader(key="search.upload").upload("crash.mp4", long_audio_clip.read_bytes(), "video/mp4")
    at.run(timeout=600)
    killer.join()
    assert not at.exception and os.getpid() == pid
    errors = texts(at.error)
    assert len(errors) == 1 and errors[0].startswith("**The search failed.** Extracting the features of")
    assert "crashed (killed by SIGSEGV)" in errors[0] and "Traceback" not in errors[0]
    assert [s.state for s in at.status] == ["error"]
    assert not result_titles(at)

    at.file_uploader(key="search.upload").upload("query.mp4", settings.media_file(clip["media_path"]).read_bytes(),
                                                  "video/mp4")
    at.run(timeout=600)
    assert not at.exception and not at.error
    titles = result_titles(at)
    assert len(titles) == 3 and titles[0] == clip["title"]


def test_a_worker_whose_warm_up_fails_says_why_and_ends():
    worker = Worker(WorkerOptions(warm=("clipret.indexing.extract:parse_shard", ("x",))))  # raises ClipretError
    with pytest.raises(ClipretError, match="expected i/n"):
        worker.call("os:getpid")
    assert not worker.alive


def churn(megabytes: int, times: int) -> int:
    """Allocate, touch and free `times` arrays of `megabytes` MB each (as a clip's spectrograms are)."""
    import numpy as np

    return sum(int(np.ones(megabytes * 2**20 // 8)[-1]) for _ in range(times))


@pytest.mark.parametrize("release_idle_s", [None, 3.0])
def test_a_query_worker_gives_memory_back_once_idle_and_an_extraction_worker_keeps_it(release_idle_s, monkeypatch):
    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])))
    worker = Worker(WorkerOptions(release_idle_s=release_idle_s))
    try:
        worker.wait_ready()
        before = _rss_kb(worker.pid)
        assert worker.call("test_query_worker:churn", 100, 5) == 5
        grown_mb = (_rss_kb(worker.pid) - before) / 1024
        assert grown_mb > 90  # kept right after the task: the next query of a burst faults no pages in
        deadline = time.monotonic() + 15  # given back once the worker has been idle release_idle_s
        while release_idle_s and _rss_kb(worker.pid) - before > 50_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        grown_mb = (_rss_kb(worker.pid) - before) / 1024
        if release_idle_s:
            assert grown_mb < 50  # handed back: an idle server's worker holds what it held before
        else:
            assert grown_mb > 90  # an extraction worker keeps it for the next clip
    finally:
        worker.stop()


def test_a_worker_that_prefaults_holds_that_memory_once_warm():
    """The pages a first query would fault in are resident before it comes (and kept: freed to glibc)."""
    plain, prefaulted = Worker(WorkerOptions()), Worker(WorkerOptions(prefault_mb=256))
    try:
        plain.wait_ready()
        prefaulted.wait_ready()
        held_mb = (_rss_kb(prefaulted.pid) - _rss_kb(plain.pid)) / 1024
        assert 200 < held_mb < 320
    finally:
        plain.stop()
        prefaulted.stop()
