"""The indexer end to end on a tiny demo corpus (9 genres × 3 clips × 4 s), built once for the module."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clipret.cli import main
from clipret.config import Settings
from clipret.embedding.artifacts import read_manifest
from clipret.search.engine import SearchEngine
from clipret.sources.corpus import ClipRecord, read_clips
from clipret.store import ClipStore

pytestmark = pytest.mark.slow

PAYLOAD_KEYS = {"clip_id", "title", "genre", "artist", "source_url", "youtube_id", "thumbnail_url",
                "media_path", "duration_s", "has_lyrics", "cluster", "map_umap", "map_tsne", "map_pca",
                "map_raw_pca", "map_pca_pca", "profile"}
VECTORS = {"fused", "raw", "pca", "audio", "video", "lyrics"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(settings, corpus dir) after `indexer build --from demo` on a tiny corpus."""
    data = tmp_path_factory.mktemp("indexer-data")
    code = main(["--data-dir", str(data), "--quiet", "build", "--from", "demo", "--per-genre", "3",
                 "--seconds", "4", "--epochs", "60", "--workers", "2"])  # the process-pool path
    assert code == 0
    settings = Settings(data_dir=data)
    (corpus,) = settings.corpora_dir.iterdir()
    return settings, corpus


def run_cli(settings, *args) -> int:
    return main(["--data-dir", str(settings.data_dir), "--quiet", *args])


def test_evaluate_json_fused_beats_random(built, capsys):
    settings, _ = built
    capsys.readouterr()
    assert run_cli(settings, "evaluate", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"spaces", "n_clips"} and result["n_clips"] == 27
    assert list(result["spaces"]) == ["fused", "raw", "pca", "audio", "video", "lyrics", "random"]
    for metrics in result["spaces"].values():
        assert set(metrics) == {"p@5", "p@10", "ndcg@10", "map"}
    assert result["spaces"]["random"]["p@10"] == pytest.approx(2 / 26)  # (n_genre - 1) / (N - 1)
    assert result["spaces"]["fused"]["p@10"] > result["spaces"]["random"]["p@10"]
    with ClipStore(settings) as store:
        serving = store.serving_collection("clips")
    assert read_manifest(settings, serving)["evaluation"]["spaces"] == result["spaces"]


def test_collection_holds_every_clip_with_payload_and_vectors(built):
    settings, corpus = built
    records = {r.clip_id: r for r in read_clips(corpus)}
    with ClipStore(settings) as store:
        serving = store.serving_collection("clips")
        hits = store.all_clips("clips", with_vectors=True)
    manifest = read_manifest(settings, serving)
    assert sorted(h.clip_id for h in hits) == sorted(records)
    for hit in hits:
        assert PAYLOAD_KEYS <= set(hit.payload)
        assert hit.payload["genre"] == records[hit.clip_id].genre
        assert hit.payload["has_lyrics"] == records[hit.clip_id].has_lyrics
        assert 0 <= hit.payload["cluster"] < manifest["kmeans"]["k"]
        assert {n: len(v) for n, v in hit.vectors.items()} == manifest["vector_sizes"]
    assert set(manifest["vector_sizes"]) == VECTORS
    assert manifest["vector_sizes"]["fused"] == 256 and manifest["vector_sizes"]["pca"] == 27  # capped by N
    # a clip without lyrics has the standardised zero as its lyrics vector
    silent = next(h for h in hits if not h.payload["has_lyrics"])
    assert not np.any(silent.vectors["lyrics"])


def test_alias_points_at_the_new_collection(built, capsys):
    settings, _ = built
    with ClipStore(settings) as store:
        serving = store.serving_collection("clips")
        names = store.collections(prefix="clips_")
    assert names == [serving] and serving.startswith("clips_20")
    assert read_manifest(settings, serving)["collection"] == serving
    capsys.readouterr()
    assert run_cli(settings, "info", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["collection"] == serving and info["n_clips"] == 27 and set(info["genres"].values()) == {3}
    assert run_cli(settings, "ensure-demo") == 0  # something serves: nothing is rebuilt
    assert "nothing to build" in capsys.readouterr().out


def test_extract_killed_midway_resumes_without_recomputing(built, tmp_path):
    from clipret.indexing.cache import cache_path, load_features
    from clipret.indexing.extract import extract_corpus

    built_settings, corpus = built
    settings = Settings(data_dir=tmp_path)  # an empty feature cache
    records = read_clips(corpus)[::6][:5]  # five clips over several genres

    class Killed(Exception):
        pass

    def kill_after_two(outcome):
        done.append(outcome.clip_id)
        if len(done) == 2:
            raise Killed

    done: list[str] = []
    with pytest.raises(Killed):
        extract_corpus(records, corpus, settings, progress=False, on_clip=kill_after_two)
    paths = {r.clip_id: cache_path(settings.features_dir, "portable", r.clip_id) for r in records}
    assert sorted(p.name for p in paths[done[0]].parent.glob("*.npz")) == sorted(f"{c}.npz" for c in done)
    mtimes = {c: paths[c].stat().st_mtime_ns for c in done}

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)  # an mp4 header, then noise
    bad = ClipRecord("bad-clip", "Bad", "metal", str(garbage))
    report = extract_corpus([*records, bad], corpus, settings, progress=False)
    assert report.cached == done
    assert sorted(report.computed) == sorted(set(paths) - set(done))
    assert list(report.failed) == ["bad-clip"] and "garbage.mp4" in report.failed["bad-clip"]
    assert {c: paths[c].stat().st_mtime_ns for c in done} == mtimes
    # the same features as the build's worker processes cached
    names = ("audio", "video", "dynamics", "lyrics")
    for clip_id, path in paths.items():
        again, _ = load_features(path, names)
        first, _ = load_features(cache_path(built_settings.features_dir, "portable", clip_id), names)
        for name in names:
            if first[name] is None:
                assert again[name] is None
            else:
                np.testing.assert_allclose(again[name], first[name], rtol=1e-4, atol=1e-4)


def test_failed_build_leaves_the_alias_on_the_previous_collection(built, monkeypatch):
    from clipret.indexing.build import build_index
    from clipret.indexing.train import TrainOptions

    settings, corpus = built
    with ClipStore(settings) as store:
        before = store.serving_collection("clips")
        names_before = store.collections()

    def broken_upsert(self, collection, points, batch_size=64):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(ClipStore, "upsert", broken_upsert)
    with pytest.raises(RuntimeError, match="injected"):
        build_index(settings, "corpus", corpus, options=TrainOptions(epochs=2, map_methods=("pca",)),
                    progress=False)
    monkeypatch.undo()
    with ClipStore(settings) as store:
        assert store.serving_collection("clips") == before
        assert store.collections() == names_before  # the half-filled collection was dropped
        assert store.count("clips") == 27


def test_add_file_is_its_own_nearest_neighbour(built, tone_clip, capsys):
    settings, _ = built
    assert run_cli(settings, "add", str(tone_clip), "--genre", "soul", "--title", "A tone") == 0
    out = capsys.readouterr().out
    clip_id = out.split()[1]
    with ClipStore(settings) as store:
        added = store.get_clip("clips", clip_id, with_vectors=True)
        assert added is not None and added.payload["title"] == "A tone" and added.payload["genre"] == "soul"
        assert PAYLOAD_KEYS <= set(added.payload)
        assert store.count("clips") == 28
    # the file itself, queried as an upload is, finds the clip it became
    engine = SearchEngine(settings)
    try:
        hits = engine.search_by_file(tone_clip, k=3)
    finally:
        engine.store.close()
    assert hits[0].clip_id == clip_id and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert run_cli(settings, "add", "https://example.com/video.mp4") == 1
    assert "error:" in capsys.readouterr().err
    assert run_cli(settings, "add", str(tone_clip) + ".missing") == 1
    corrupt = tone_clip.with_name("corrupt.mp4")
    corrupt.write_bytes(tone_clip.read_bytes()[:300])  # truncated: the decoder fails on it
    assert run_cli(settings, "add", str(corrupt)) == 1
    assert "corrupt.mp4" in capsys.readouterr().err
    media = sorted(p.name for p in (settings.corpora_dir / "added" / "media").iterdir())
    assert media == [f"{clip_id}.mp4"]  # the failed clip left nothing behind


def test_an_added_version_of_a_clip_joins_its_group(built, capsys):
    from bench.version_set import write_audio
    from clipret.features.fingerprint import fingerprint_unavailable
    from clipret.media.decode import DecodeOptions, decode
    from clipret.sources.corpus import read_clips

    if fingerprint_unavailable():
        pytest.skip(fingerprint_unavailable())
    settings, corpus = built
    original = read_clips(corpus)[0]
    audio = decode(original.media_path(corpus), DecodeOptions(streams=("audio",)))
    copy = write_audio(settings.data_dir / "reupload.mp3", audio.audio, audio.sample_rate)  # another codec
    assert run_cli(settings, "add", str(copy), "--genre", original.genre, "--title", "A re-upload") == 0
    clip_id = capsys.readouterr().out.split()[1]
    with ClipStore(settings) as store:
        first = store.get_clip("clips", original.clip_id, with_vectors=False).payload
        added = store.get_clip("clips", clip_id, with_vectors=False).payload
    assert first["version_role"] == "representative" and first["version_group"] == original.clip_id
    assert (added["version_group"], added["version_role"]) == (original.clip_id, "version")
