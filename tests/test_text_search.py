"""Search by words: the description's parts, its matches to the named columns, the query vectors they make,
real photos ranked by words, and search_by_text / `clipret search --text` on the tiny index."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clipret.config import Settings
from clipret.embedding.fusion import FeatureFusion
from clipret.features.profiles import BlockSpec, get_profile
from clipret.search.text import (
    MAX_CHARS,
    InvalidDescription,
    NamedColumn,
    clean_description,
    description_parts,
    embed_description,
    match_names,
    named_columns,
    named_vectors,
)


# -- the description ------------------------------------------------------------------------------
def test_a_description_is_cleaned_and_capped():
    assert clean_description("  a slow\tpiano\x00 ballad\n\n") == "a slow piano ballad"
    with pytest.raises(InvalidDescription, match="Type a few words"):
        clean_description(" \n\x07 ")
    with pytest.raises(InvalidDescription, match=f"at most {MAX_CHARS} characters and this one has 301"):
        clean_description("x" * 301)
    assert clean_description("é" * MAX_CHARS) == "é" * MAX_CHARS


def test_parts_are_the_whole_its_phrases_negations_and_content_words():
    assert description_parts("A slow piano ballad about leaving home") == [
        "a slow piano ballad about leaving home", "a slow piano ballad", "leaving home", "slow", "piano",
        "ballad", "leaving", "home"]
    parts = description_parts("calm pads, without drums")
    assert "without drums" in parts and "drums" not in parts  # a negated word never asks for itself
    assert len(description_parts(" ".join(f"word{i}x" for i in range(60)))) <= 24


# -- matching and the vectors it makes ------------------------------------------------------------
NAMES = (NamedColumn("video", "video", "grand piano", 2, 1.0),
         NamedColumn("video", "video", "stage", 0, 1.0),
         NamedColumn("audio", "audio", "fast", 1, 1.0, "bpm"),
         NamedColumn("audio", "audio", "slow", 1, -1.0, "bpm"),
         NamedColumn("audio", "audio", "drums", 0, 1.0, "percussive_energy_mean"))


def test_match_names_keeps_close_names_one_sign_per_column_best_first():
    parts = ["slow piano", "piano", "slow"]
    sims = np.array([[0.60, 0.10, 0.40, 0.62, 0.20],
                     [0.90, 0.20, 0.10, 0.30, 0.30],
                     [0.20, 0.10, 0.70, 0.95, 0.56]])
    matches = match_names(parts, sims, NAMES)
    got = [(m.part, m.phrase, m.similarity, m.sign, m.measure) for m in matches]
    # "slow" beats "fast" for the one bpm column; "drums" (0.56) is under 0.8 × the part's best (0.95)
    assert got == [("slow", "slow", 0.95, -1.0, "bpm"), ("piano", "grand piano", 0.9, 1.0, "")]
    assert match_names(parts, np.full((3, 5), 0.5), NAMES) == []  # nothing at least MIN_SIMILARITY


def test_named_vectors_put_sign_times_similarity_on_the_columns():
    blocks = [BlockSpec("audio", "audio", 2, ("percussive_energy_mean", "bpm")),
              BlockSpec("video", "video", 3, ("a", "b", "c"))]
    fusion = FeatureFusion(blocks, weighting="modality").fit([{"audio": np.ones(2), "video": np.ones(3)}])
    matches = match_names(["slow piano"], np.array([[0.9, 0.0, 0.0, 0.8, 0.0]]), NAMES)
    vectors = named_vectors(matches, NAMES, fusion)
    audio_w, video_w = fusion.block_weights_["audio"], fusion.block_weights_["video"]
    np.testing.assert_allclose(vectors["audio"], [0.0, -0.8 / audio_w], rtol=1e-6)
    np.testing.assert_allclose(vectors["video"], [0.0, 0.0, 0.9 / video_w], rtol=1e-6)


def test_the_words_reach_the_columns_that_name_them():
    """Real MiniLM against the portable profile's names (ImageNet classes, the described columns)."""
    profile = get_profile("portable")
    names = named_columns(profile)
    assert {n.block for n in names} == {"audio", "video", "dynamics"}  # aisfx and the lyrics name nothing
    text = "a grand piano at a fast tempo, without drums, long takes"
    parts = description_parts(text)
    matches = match_names(parts, embed_description(text, parts, "portable").similarities, names)
    assert ("video", "grand piano", 1.0) in {(m.modality, m.phrase, m.sign) for m in matches}
    steered = {(m.part, m.modality, m.sign, m.measure) for m in matches}  # which words steer which column
    assert ("fast", "audio", 1.0, "bpm") in steered
    assert ("without drums", "audio", -1.0, "percussive_energy_mean") in steered
    assert ("long takes", "video", -1.0, "cuts_per_minute") in steered


def test_photos_are_ranked_by_the_words_that_name_them():
    """Known answers: scikit-image's photos of a cat, a cup of coffee and a rocket launch as three
    one-frame clips; the words pick each one out through EfficientNet-Lite0's class names."""
    from skimage import data

    from clipret.features.registry import get_extractor
    from clipret.search.engine import cosine_to_many

    class Photo:  # what the video extractor reads of a decoded clip
        def __init__(self, image):
            self.frames, self.has_video = image[None], True
            self.frame_times = None  # a still: no views

    photos = {"cat": data.chelsea(), "coffee": data.coffee(), "rocket": data.rocket()}
    video = [get_extractor("efficientnet_lite0").extract(Photo(p)) for p in photos.values()]  # sizes differ
    profile = get_profile("portable")
    block = next(b for b in profile.blocks if b.name == "video")
    fusion = FeatureFusion([block]).fit([{"video": v} for v in video])
    stored = fusion.modality_vectors(fusion.transform([{"video": v} for v in video]))["video"]
    names = tuple(n for n in named_columns(profile) if n.block == "video")
    for text, expected in (("a tabby cat", "cat"), ("a cup of espresso", "coffee"), ("a space shuttle", "rocket")):
        parts = description_parts(text)
        sims = embed_description(text, parts, "portable").similarities
        sims = sims[:, [i for i, n in enumerate(named_columns(profile)) if n.block == "video"]]
        query = named_vectors(match_names(parts, sims, names), names, fusion)["video"]
        ranked = [list(photos)[i] for i in np.argsort(-cosine_to_many(query, stored))]
        assert ranked[0] == expected, (text, ranked)


# -- the engine and the CLI on the tiny index -------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(index_dir):
    from clipret.search.engine import SearchEngine
    from clipret.store import ClipStore

    settings = Settings(data_dir=index_dir)
    store = ClipStore(settings, replica=True)
    yield settings, SearchEngine(settings, store=store)
    store.close()


def _corpus_lyrics(settings) -> dict[str, str]:
    rows = [json.loads(line) for path in (settings.data_dir / "corpora").glob("*/clips.jsonl")
            for line in path.read_text().splitlines()]
    return {r["clip_id"]: r["lyrics"] for r in rows}


@pytest.mark.slow
def test_a_clips_own_lyrics_find_it_first_and_only_clips_with_lyrics_match(tiny):
    settings, engine = tiny
    lyrics = _corpus_lyrics(settings)
    with_lyrics = {c for c, text in lyrics.items() if text.strip()}
    short = [c for c in sorted(with_lyrics) if len(" ".join(lyrics[c].split())) <= MAX_CHARS]
    assert len(short) >= 5
    for clip_id in short[:5]:
        results = engine.search_by_text(lyrics[clip_id], k=8, weights={"lyrics": 1.0})
        assert results[0].clip_id == clip_id
        assert results[0].modality_scores["lyrics"] == pytest.approx(1.0, abs=1e-4)
        assert {r.clip_id for r in results} <= with_lyrics  # a clip without lyrics is no lyrics match
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    genre = engine.query_from_clip(short[0]).genre
    filtered = engine.search_by_text(lyrics[short[0]], k=3, genres=[genre])
    assert filtered and {r.genre for r in filtered} == {genre}


@pytest.mark.slow
def test_a_description_reaches_several_modalities_and_says_which_words_did(tiny):
    _, engine = tiny
    query = engine.query_from_text("fast drums and a grand piano, songs about the highway")
    assert set(query.reached) == {"audio", "video", "lyrics"}
    reached_by = {(m.part, m.modality) for m in query.matches}
    assert {("drums", "audio"), ("a grand piano", "video"), ("highway", "video")} <= reached_by
    results = engine.search(query, k=5)
    assert len(results) == 5 and all(set(r.modality_scores) == {"audio", "video", "lyrics"} for r in results)
    with pytest.raises(InvalidDescription):
        engine.search_by_text("   ")


@pytest.mark.slow
def test_cli_search_by_text_prints_ranked_clips_or_one_sentence(tiny, capsys):
    from clipret.cli import main

    settings, _ = tiny
    lyrics = _corpus_lyrics(settings)
    clip_id = next(c for c in sorted(lyrics) if lyrics[c].strip() and len(" ".join(lyrics[c].split())) <= MAX_CHARS)
    args = ["--data-dir", str(settings.data_dir), "search", "--text", lyrics[clip_id], "-k", "3",
            "--weights", "lyrics:1"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["query"]["source"] == "text" and out["query"]["matches"][0]["modality"] == "lyrics"
    assert [r["clip_id"] for r in out["results"]][:1] == [clip_id] and len(out["results"]) == 3
    assert main(args) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("Query: ") and "  1 " in table
    assert main(["--data-dir", str(settings.data_dir), "search", "--text", "y" * 400]) == 1
    assert capsys.readouterr().err == ("error: A description is at most 300 characters and this one has 400: "
                                       "shorten it to what matters most.\n")


@pytest.mark.slow
def test_a_description_is_embedded_in_a_worker_whose_crash_is_one_sentence():
    import signal

    from clipret.errors import ExtractionFailed
    from clipret.runtime.query_pool import QueryPool, QueryPoolOptions

    pool = QueryPool(QueryPoolOptions(max_workers=1))
    text = "a grand piano"
    parts = description_parts(text)
    try:
        first = pool.embed_text(text, parts, "portable")
        assert first.lyrics_features["lyrics"].shape == (384,)
        np.testing.assert_allclose(first.similarities, embed_description(text, parts, "portable").similarities,
                                   atol=1e-5)  # the same numbers as in this process
        (worker,) = pool._idle
        worker.kill(signal.SIGSEGV)  # the worker dies; the next description finds it dead
        with pytest.raises(ExtractionFailed) as info:
            pool.embed_text(text, parts, "portable")
        assert str(info.value).startswith("Embedding the description crashed (killed by SIGSEGV); that process "
                                          "was replaced, so the next query works")
        again = pool.embed_text(text, parts, "portable")
        np.testing.assert_allclose(again.similarities, first.similarities, atol=1e-6)
    finally:
        pool.close()
