"""extract --engine ray against the local pool on a tiny corpus: the same cache files, bit for bit.

One module fixture runs both engines once (4 demo clips of 3 s + a truncated file); the Ray run goes
through the CLI, which starts a local Ray on this machine's cores and shuts it down again.
"""

from __future__ import annotations

import numpy as np
import pytest

from clipret.cli import main
from clipret.config import Settings
from clipret.indexing.cache import cache_path, load_features
from clipret.sources.corpus import ClipRecord, read_clips, write_clips

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

BAD = "bad-000"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """4 demo clips (metal, soul; 2 with lyrics) and a truncated mp4."""
    from clipret.sources.demo import generate_demo_corpus

    out = tmp_path_factory.mktemp("ray-corpus")
    records = generate_demo_corpus(out, per_genre=2, seconds=3, genres=("metal", "soul"), progress=False)
    good = records[0].media_path(out)
    (out / "media" / f"{BAD}.mp4").write_bytes(good.read_bytes()[:3000])  # cut off after the header
    bad = ClipRecord(clip_id=BAD, title="Truncated", genre="metal", path=f"media/{BAD}.mp4")
    write_clips(out, [*records, bad])
    return out


@pytest.fixture(scope="module")
def both(corpus, tmp_path_factory):
    """(local report, ray CLI stdout, local settings, ray settings, ray's processes alive afterwards)."""
    import psutil

    from clipret.indexing.extract import extract_corpus

    local = Settings(data_dir=tmp_path_factory.mktemp("local-data"))
    report = extract_corpus(read_clips(corpus), corpus, local, workers=2, progress=False)
    on_ray = Settings(data_dir=tmp_path_factory.mktemp("ray-data"))
    capture = tmp_path_factory.mktemp("out") / "stdout.txt"
    with pytest.MonkeyPatch.context() as mp, open(capture, "w") as out:
        mp.setattr("sys.stdout", out)
        code = main(["--data-dir", str(on_ray.data_dir), "--quiet", "extract", "--corpus", str(corpus),
                     "--engine", "ray", "--workers", "2"])
    assert code == 0
    leftovers = [p.name() for p in psutil.Process().children(recursive=True)
                 if any(word in p.name() for word in ("raylet", "gcs_server", "ray::"))]
    return report, capture.read_text(), local, on_ray, leftovers


def test_ray_caches_the_same_features_bit_for_bit(both, corpus):
    from clipret.features.profiles import get_profile

    report, _, local, on_ray, _ = both
    blocks = tuple(b.name for b in get_profile(local.profile).blocks)
    assert sorted(report.computed) == sorted(r.clip_id for r in read_clips(corpus) if r.clip_id != BAD)
    missing = 0
    for clip_id in report.computed:
        a, duration_a = load_features(cache_path(local.features_dir, local.profile, clip_id), blocks)
        b, duration_b = load_features(cache_path(on_ray.features_dir, on_ray.profile, clip_id), blocks)
        assert duration_a == duration_b
        for name in blocks:
            assert (a[name] is None) == (b[name] is None), (clip_id, name)
            if a[name] is None:
                missing += 1
            else:
                assert a[name].dtype == b[name].dtype == np.float32
                assert np.array_equal(a[name], b[name]), (clip_id, name, np.abs(a[name] - b[name]).max())
    assert missing == 2  # two clips without lyrics: the block is absent in both caches


def test_a_corrupt_clip_is_reported_and_left_out_identically(both):
    report, stdout, _, on_ray, _ = both
    assert set(report.failed) == {BAD} and f"{BAD}.mp4" in report.failed[BAD]  # the reason names the file
    assert "4 extracted, 0 cached, 1 failed" in stdout
    assert f"  failed {BAD}: {report.failed[BAD]}\n" in stdout  # the same reason, word for word
    assert not cache_path(on_ray.features_dir, on_ray.profile, BAD).exists()


def test_ray_is_stopped_with_no_process_left(both):
    import ray

    *_, leftovers = both
    assert not ray.is_initialized()
    assert leftovers == []


def test_a_rerun_computes_nothing_and_starts_no_ray(both, corpus):
    import ray

    from clipret.indexing.ray_engine import extract_corpus_ray

    _, _, _, on_ray, _ = both
    records = [r for r in read_clips(corpus) if r.clip_id != BAD]
    paths = [cache_path(on_ray.features_dir, on_ray.profile, r.clip_id) for r in records]
    mtimes = [p.stat().st_mtime_ns for p in paths]
    report = extract_corpus_ray(records, corpus, on_ray, workers=2, progress=False)
    assert report.computed == [] and report.failed == {}
    assert sorted(report.cached) == sorted(r.clip_id for r in records)
    assert [p.stat().st_mtime_ns for p in paths] == mtimes
    assert not ray.is_initialized()


def test_engine_options_are_checked(corpus, tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "--quiet", "extract", "--corpus", str(corpus),
                 "--engine", "local", "--ray-address", "auto"])
    assert code == 1
    assert "--ray-address needs --engine ray" in capsys.readouterr().err


def test_stage_plan_shares_each_gpu_between_two_actors():
    import os

    from clipret.indexing.ray_engine import RayOptions, StagePlan, stage_plan

    here = max(1, (os.cpu_count() or 1) // 2)  # a local pool worker's threads with 2 workers
    assert stage_plan({"CPU": 16, "GPU": 1}, RayOptions(), 2) == StagePlan("cuda", 2, 0.5, here)
    assert stage_plan({"CPU": 64, "GPU": 4}, RayOptions(address="auto"), 2) == StagePlan("cuda", 8, 0.5, 1)
    assert stage_plan({"CPU": 64}, RayOptions(address="auto"), 2) == StagePlan("cpu", 64, 0.0, 1)  # whole clips
    assert stage_plan({"CPU": 2}, RayOptions(threads=1), 2) == StagePlan("cpu", 2, 0.0, 1)
    assert stage_plan({"CPU": 3}, RayOptions(model_actors=2, threads=3), 2) == StagePlan("cpu", 2, 0.0, 3)
