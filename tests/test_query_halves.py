"""A query's audio and video halves run at once and give the features of one whole decode."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

from clipret.errors import MediaError
from clipret.features.profiles import extract_clip, get_profile
from clipret.media.decode import decode
from clipret.runtime.query_pool import QueryPool, QueryPoolOptions, combine_halves, extract_here

PROFILE = get_profile("portable")


def test_each_stream_decodes_alone_as_in_the_whole_decode(tone_clip):
    whole = decode(tone_clip, PROFILE.decode_options)
    audio = decode(tone_clip, replace(PROFILE.decode_options, streams=("audio",)))
    video = decode(tone_clip, replace(PROFILE.decode_options, streams=("video",)))
    np.testing.assert_array_equal(audio.audio, whole.audio)
    assert audio.frames is None and audio.thumbs is None and not audio.truncated
    np.testing.assert_array_equal(video.frames, whole.frames)
    np.testing.assert_array_equal(video.thumbs, whole.thumbs)
    assert video.audio is None and not video.truncated
    assert audio.duration_s == video.duration_s == whole.duration_s


def test_a_stream_the_file_lacks_decodes_to_nothing_without_an_error(audio_only_clip, video_only_clip):
    nothing = decode(audio_only_clip, replace(PROFILE.decode_options, streams=("video",)))
    assert not nothing.has_video and not nothing.has_audio and not nothing.truncated
    nothing = decode(video_only_clip, replace(PROFILE.decode_options, streams=("audio",)))
    assert not nothing.has_video and not nothing.has_audio


def _expected(path, lyrics: str) -> dict:
    return extract_clip(decode(path, PROFILE.decode_options), lyrics, PROFILE)


def _assert_same(features: dict, expected: dict) -> None:
    assert list(features) == list(expected)  # the profile's block order
    for block, vector in expected.items():
        if vector is None:
            assert features[block] is None, block
        else:
            np.testing.assert_allclose(features[block], vector, rtol=1e-5, atol=1e-6, err_msg=block)


def test_two_threads_of_one_worker_give_the_whole_decodes_features(tone_clip, audio_only_clip):
    for path, lyrics in ((tone_clip, "a line of words"), (audio_only_clip, "")):
        features, duration = extract_here(str(path), lyrics, PROFILE.name, PROFILE.decode_options)
        _assert_same(features, _expected(path, lyrics))
        assert duration == pytest.approx(decode(path).duration_s)
    assert _expected(audio_only_clip, "")["video"] is None


@pytest.mark.slow
def test_prestart_warms_both_workers_and_a_query_splits_only_across_warm_ones(tone_clip, video_only_clip):
    pool = QueryPool(QueryPoolOptions(max_workers=2))
    try:
        pool.prestart(PROFILE.name, PROFILE.decode_options)
        assert pool._count == 2 and pool.status() == (0, 2)  # both started, both warming
        features, _ = pool.extract(tone_clip, "words", PROFILE.name, PROFILE.decode_options)
        _assert_same(features, _expected(tone_clip, "words"))
        pool.wait_warm()
        assert pool.status() == (2, 2) and len(pool._idle) == 2
        for path in (tone_clip, video_only_clip):  # split across the two warm workers
            features, _ = pool.extract(path, "words", PROFILE.name, PROFILE.decode_options)
            _assert_same(features, _expected(path, "words"))
        assert len(pool._idle) == 2 and not pool.busy_workers()
    finally:
        pool.close()


@pytest.mark.slow
def test_a_worker_still_warming_is_never_a_querys_second_half(tone_clip):
    pool = QueryPool(QueryPoolOptions(max_workers=2))
    try:
        features, _ = pool.extract(tone_clip, "", PROFILE.name, PROFILE.decode_options)  # one worker, two threads
        assert pool._count == 2  # the first query started a second worker, which warms now
        warming = next(w for w in pool._idle if not w._ready)
        first = pool._acquire(PROFILE.name, PROFILE.decode_options)  # the next query's worker: the warm one
        assert first is not warming
        assert pool._acquire_idle() is None  # so it does both halves itself meanwhile
        warming.wait_ready()
        assert pool._acquire_idle() is warming  # warm now: the query after gets two workers
        for worker in (first, warming):
            pool._release(worker, False, PROFILE.name, PROFILE.decode_options)
        _assert_same(features, _expected(tone_clip, ""))
    finally:
        pool.close()


def test_a_warm_up_thread_runs_below_the_servers_priority_and_the_tasks_at_it(monkeypatch):
    """The warm-up thread's niceness is the pool's warm_nice; tasks in the main thread keep the parent's."""
    from pathlib import Path

    from clipret.runtime.workers import Worker, WorkerOptions

    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])))
    worker = Worker(WorkerOptions(warm=("test_query_halves:own_niceness", ()), warm_nice=7))
    try:
        worker.wait_ready()
        assert worker.call("test_query_halves:own_niceness") == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        worker.stop()


def own_niceness() -> int:
    """The calling thread's niceness (Linux keeps one per thread); a warm-up that saw 7 records it."""
    import threading

    nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if threading.current_thread().name == "warm-up" and nice != os.getpriority(os.PRIO_PROCESS, os.getpid()) + 7:
        raise RuntimeError(f"warm-up at niceness {nice}")
    return nice


def test_a_half_that_does_not_decode_is_left_out_and_both_failing_is_the_videos_error():
    blocks = {"audio": np.ones(257, np.float32), "lyrics": None}
    video_error, audio_error = MediaError("x.mp4: the video stream holds no decodable frame."), MediaError("a")
    features, duration = combine_halves("x.mp4", PROFILE.name, video_error, (blocks, 12.0, True))
    assert features["audio"] is blocks["audio"] and features["video"] is None and duration == 12.0
    with pytest.raises(MediaError, match="video stream holds no decodable frame"):
        combine_halves("x.mp4", PROFILE.name, video_error, audio_error)
