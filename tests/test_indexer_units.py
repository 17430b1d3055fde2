"""The indexer's pieces on tiny data: folder corpora, the feature cache, shards, PCA, pruning, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.cli import _settings, build_parser
from clipret.config import Settings
from clipret.embedding.pca import PCAProjection
from clipret.errors import ClipretError, CorpusError
from clipret.indexing.cache import cache_path, cached_key, fingerprint, load_features, save_features
from clipret.indexing.extract import parse_shard
from clipret.sources.folder import corpus_from_folder, split_artist_title


def test_folder_corpus_reads_genres_and_lyrics(tmp_path):
    src = tmp_path / "music"
    (src / "Hip Hop").mkdir(parents=True)
    (src / "metal").mkdir()
    (src / "Hip Hop" / "MC Test - First Song.mp4").write_bytes(b"x")
    lrc = "[ar:MC Test]\n[00:01.00]hello world\n[00:02.50]again\n"
    (src / "Hip Hop" / "MC Test - First Song.lrc").write_text(lrc)
    (src / "metal" / "riff_one.webm").write_bytes(b"y")
    (src / "metal" / "riff_one.txt").write_text("  scream \n\nloud\n")
    (src / "metal" / "cover.jpg").write_bytes(b"z")  # not media: ignored
    (src / "stray.mp4").write_bytes(b"w")  # no genre folder
    corpus = corpus_from_folder(src, tmp_path / "out")
    by_id = {r.clip_id: r for r in corpus.records}
    assert sorted(by_id) == ["hip-hop-mc-test-first-song", "metal-riff-one"]
    song = by_id["hip-hop-mc-test-first-song"]
    assert (song.genre, song.artist, song.title) == ("hip-hop", "MC Test", "First Song")
    assert song.lyrics == "hello world\nagain"
    assert by_id["metal-riff-one"].lyrics == "scream\nloud"
    assert by_id["metal-riff-one"].title == "riff one"
    assert corpus.ignored == [(str(src / "stray.mp4"), "not in a genre sub-folder")]
    assert (tmp_path / "out" / "clips.jsonl").is_file()


def test_folder_corpus_copy_and_errors(tmp_path):
    src = tmp_path / "music"
    (src / "soul").mkdir(parents=True)
    (src / "soul" / "a.mp4").write_bytes(b"abc")
    corpus = corpus_from_folder(src, tmp_path / "out", copy=True)
    record = corpus.records[0]
    assert record.path == "media/soul-a.mp4"
    assert record.media_path(tmp_path / "out").read_bytes() == b"abc"
    (src / "soul" / "a.mp4").unlink()
    with pytest.raises(CorpusError, match="no media files"):
        corpus_from_folder(src, tmp_path / "out2")
    with pytest.raises(CorpusError, match="not a folder"):
        corpus_from_folder(tmp_path / "missing", tmp_path / "out3")


def test_split_artist_title():
    assert split_artist_title("Artist - Song Name") == ("Artist", "Song Name")
    assert split_artist_title("just_a_title") == ("", "just a title")


def test_cache_round_trip_and_fingerprint(tmp_path):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"media bytes")
    key = fingerprint(media, "la la", "portable")
    assert key != fingerprint(media, "other words", "portable") != fingerprint(media, "la la", "paper")
    path = cache_path(tmp_path / "features", "portable", "clip-1")
    assert path == tmp_path / "features" / "portable" / "clip-1.npz"
    save_features(path, {"audio": np.arange(3, dtype=np.float32), "lyrics": None}, key, 12.5)
    assert cached_key(path) == key
    features, duration = load_features(path, ("audio", "lyrics"))
    np.testing.assert_array_equal(features["audio"], [0, 1, 2])
    assert features["lyrics"] is None and duration == 12.5
    path.write_bytes(b"truncated")  # a corrupt file is not trusted: it will be recomputed
    assert cached_key(path) is None
    odd = cache_path(tmp_path, "portable", "../../etc/passwd")
    assert odd.parent == tmp_path / "portable" and odd.name.startswith("id-")


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4)
    assert parse_shard(None) is None
    for bad in ("4/4", "x/2", "-1/2"):
        with pytest.raises(ClipretError):
            parse_shard(bad)


def test_pca_is_capped_by_clips_and_round_trips(tmp_path):
    X = np.random.default_rng(0).normal(size=(10, 40)).astype(np.float32)
    pca = PCAProjection(256).fit(X)
    assert pca.dim == 10
    P = pca.transform(X)
    assert P.shape == (10, 10)
    # PCA keeps all the variance when it keeps every component: distances survive
    d_x = np.linalg.norm(X[0] - X[1])
    assert np.linalg.norm(P[0] - P[1]) == pytest.approx(d_x, rel=1e-4)
    np.testing.assert_allclose(PCAProjection.load(pca.save(tmp_path / "pca")).transform(X), P, atol=1e-5)
    with pytest.raises(ClipretError, match="expects"):
        pca.transform(X[:, :5])


def test_prune_keeps_the_last_two_builds_and_their_artifacts(tmp_path):
    from clipret.indexing.push import prune_builds
    from clipret.store import ClipStore

    settings = Settings(data_dir=tmp_path)
    names = [f"clips_2026010{i}T000000" for i in range(1, 5)]
    with ClipStore(settings) as store:
        for name in names:
            store.create_collection(name, {"fused": 2})
            (settings.models_dir / name).mkdir(parents=True)
        (settings.models_dir / "clips_20251231T000000").mkdir()  # a failed build's leftovers
        store.swap_alias("clips", names[-1])
        dropped = prune_builds(store, settings, "clips")
        assert dropped == names[:2]
        assert store.collections(prefix="clips_") == names[2:]
    assert sorted(p.name for p in settings.models_dir.iterdir()) == names[2:]


def test_cli_global_options_before_or_after_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPRET_DATA_DIR", str(tmp_path / "env"))
    parser = build_parser()
    args = parser.parse_args(["evaluate", "--json"])
    assert _settings(args).data_dir == tmp_path / "env"
    args = parser.parse_args(["--data-dir", str(tmp_path / "a"), "build", "--epochs", "7", "--seed", "3"])
    settings = _settings(args)
    assert (settings.data_dir, args.epochs, args.seed, args.source) == (tmp_path / "a", 7, 3, "demo")
    args = parser.parse_args(["build", "--data-dir", str(tmp_path / "b"), "--collection", "x"])
    assert (_settings(args).data_dir, _settings(args).collection) == (tmp_path / "b", "x")


def test_cli_default_epochs_demo_versus_real_corpora():
    from clipret.cli import _train_options
    from clipret.indexing.train import DEFAULT_MODALITY_DROPOUT, DEMO_EPOCHS, PAPER_EPOCHS

    parser = build_parser()

    def options(*argv):
        args = parser.parse_args(list(argv))
        _settings(args)
        return _train_options(args)

    assert options("build").epochs == DEMO_EPOCHS and options("ensure-demo").epochs == DEMO_EPOCHS
    assert options("build", "--from", "folder", "--path", "x").epochs == PAPER_EPOCHS == 600
    assert options("train", "--corpus", "c").epochs == PAPER_EPOCHS
    paper = options("build", "--epochs", "600", "--modality-dropout", "0")
    assert (paper.epochs, paper.modality_dropout, paper.epochs_reason) == (600, 0.0, "--epochs")
    assert options("build").modality_dropout == DEFAULT_MODALITY_DROPOUT


def test_cli_reports_a_missing_index_in_one_line(tmp_path, capsys):
    from clipret.cli import main

    assert main(["--data-dir", str(tmp_path), "evaluate", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No index named 'clips'") and "clipret build" in err


def test_extract_stops_when_the_models_are_unavailable(tmp_path, tone_clip, monkeypatch):
    import clipret.indexing.extract
    from clipret.errors import ModelUnavailable
    from clipret.indexing.extract import extract_corpus
    from clipret.sources.corpus import ClipRecord

    def offline(*args, **kwargs):
        raise ModelUnavailable("no weights offline: run once with internet")

    monkeypatch.setattr(clipret.indexing.extract, "extract_clip_views", offline)
    records = [ClipRecord("missing", "M", "soul", str(tmp_path / "nope.mp4")),
               ClipRecord("tone", "T", "soul", str(tone_clip))]
    with pytest.raises(ModelUnavailable, match="no weights"):
        extract_corpus(records, tmp_path, Settings(data_dir=tmp_path), progress=False)
    monkeypatch.undo()
    report = extract_corpus(records[:1], tmp_path, Settings(data_dir=tmp_path), progress=False)
    assert report.failed == {"missing": f"media file not found: {tmp_path / 'nope.mp4'}"}
