"""Search: the per-modality scoring math on known vectors, and SearchEngine on a tiny embedded store."""

import numpy as np
import pytest

from clipret.config import Settings
from clipret.errors import ClipNotFound, ClipretError
from clipret.search.engine import SearchEngine, combine_modalities, cosine_to_many, rank
from clipret.store import ClipPoint, ClipStore


def test_cosine_to_many_known_values_and_missing():
    sims = cosine_to_many(np.array([1.0, 0.0]), np.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(sims[:3], [1.0, 0.0, -np.sqrt(0.5)])
    assert np.isnan(sims[3])  # a zero vector is a missing modality, not "orthogonal"
    assert np.all(np.isnan(cosine_to_many(np.zeros(2), np.eye(2))))


def test_combine_modalities_is_the_normalised_weighted_sum():
    cosines = {"audio": np.array([1.0, 0.0]), "video": np.array([0.0, 1.0]),
               "lyrics": np.array([0.5, np.nan])}
    scores = combine_modalities(cosines, {"audio": 0.75, "video": 0.25, "lyrics": 0.0})
    np.testing.assert_allclose(scores, [0.75, 0.25])
    # a candidate's missing modality counts as 0; weights are normalised by their sum
    np.testing.assert_allclose(combine_modalities(cosines, {"audio": 1, "lyrics": 1}), [0.75, 0.0])


def test_combine_skips_a_modality_the_query_lacks():
    cosines = {"audio": np.array([0.2, 0.4]), "lyrics": np.array([np.nan, np.nan])}
    np.testing.assert_allclose(combine_modalities(cosines, {"audio": 0.5, "lyrics": 1.0}), [0.2, 0.4])
    with pytest.raises(ClipretError):
        combine_modalities(cosines, {"lyrics": 1.0})


def test_rank_is_stable_best_first():
    assert rank(np.array([0.1, 0.9, 0.5, 0.9]), 3).tolist() == [1, 3, 2]


# -- the engine on a real embedded store -----------------------------------------------------------
def e(i, d=4, scale=1.0):
    v = np.zeros(d, np.float32)
    v[i] = scale
    return v


def clip(cid, genre, fused, audio, video, lyrics, youtube_id=""):
    vectors = {"fused": fused, "raw": fused, "pca": fused, "audio": audio, "video": video, "lyrics": lyrics}
    return ClipPoint(cid, vectors, {"title": cid.upper(), "genre": genre, "youtube_id": youtube_id})


@pytest.fixture
def engine(tmp_path):
    settings = Settings(data_dir=tmp_path)
    store = ClipStore(settings)
    store.create_collection("clips_1", {n: 4 for n in ("fused", "raw", "pca", "audio", "video", "lyrics")})
    # q is the query. a: same audio; b: same video; c: same fused and lyrics; d: nothing alike, no lyrics
    store.upsert("clips_1", [
        clip("q", "metal", e(0), e(0), e(0), e(0)),
        clip("a", "metal", 0.5 * e(0) + e(1), e(0), e(1), e(1)),
        clip("b", "punk", e(2), e(1), e(0), e(1)),
        clip("c", "metal", e(0) + 0.1 * e(1), e(2), e(2), e(0), youtube_id="dQw4w9WgXcQ"),
        clip("d", "soul", e(3), e(3), e(3), np.zeros(4, np.float32)),
    ])
    store.swap_alias("clips", "clips_1")
    yield SearchEngine(settings, store=store)
    store.close()


def test_space_search_excludes_the_query_and_explains_by_modality(engine):
    results = engine.search_by_clip("q", k=2, space="fused")
    assert [r.clip_id for r in results] == ["c", "a"]
    assert results[0].title == "C" and results[0].genre == "metal"
    assert results[0].modality_scores == pytest.approx({"audio": 0.0, "video": 0.0, "lyrics": 1.0})
    assert results[1].modality_scores == pytest.approx({"audio": 1.0, "video": 0.0, "lyrics": 0.0})


def test_weighted_search_ranks_by_the_weighted_modalities(engine):
    results = engine.search_by_clip("q", k=4, weights={"audio": 0.0, "video": 1.0, "lyrics": 0.0})
    assert results[0].clip_id == "b" and results[0].score == pytest.approx(1.0)
    mixed = engine.search_by_clip("q", k=2, weights={"audio": 0.6, "video": 0.4})
    assert [r.clip_id for r in mixed] == ["a", "b"]
    assert [r.score for r in mixed] == pytest.approx([0.6, 0.4])


def test_genre_filter_and_missing_modality(engine):
    results = engine.search_by_clip("q", k=10, genres=["soul", "punk"])
    assert {r.clip_id for r in results} == {"b", "d"}
    d = next(r for r in results if r.clip_id == "d")
    assert d.modality_scores["lyrics"] is None
    assert engine.search_by_clip("q", k=3, genres=["blues-jazz"]) == []
    assert engine.search_by_clip("q", k=3, genres=["blues-jazz"], weights={"audio": 1.0}) == []


def test_unknown_clip_and_unknown_modality_are_clear_errors(engine):
    with pytest.raises(ClipNotFound, match="pick one from the list"):
        engine.query_from_clip("nope")
    with pytest.raises(ClipretError, match="no modality"):
        engine.search_by_clip("q", weights={"smell": 1.0})


def test_a_url_of_a_collection_video_is_looked_up_not_downloaded(engine, monkeypatch):
    import clipret.sources.youtube

    def no_download(*args, **kwargs):
        raise AssertionError("a video already in the collection must not be downloaded")

    monkeypatch.setattr(clipret.sources.youtube, "download_video", no_download)
    steps = []
    query = engine.query_from_url("https://youtu.be/dQw4w9WgXcQ?t=42", on_step=steps.append)
    assert (query.clip_id, query.source) == ("c", "collection")
    assert steps[-1].startswith("Already in the collection")
    assert "c" not in [r.clip_id for r in engine.search(query, k=4)]


def test_url_failures_are_the_library_errors(engine, monkeypatch):
    import clipret.sources.youtube
    from clipret.errors import DownloadError, UnsupportedURL

    with pytest.raises(UnsupportedURL):
        engine.query_from_url("https://vimeo.com/76979871")

    def offline(url, out_dir, **kwargs):
        raise DownloadError(f"{url}: no network: check the connection and try again.")

    monkeypatch.setattr(clipret.sources.youtube, "download_video", offline)
    with pytest.raises(DownloadError, match="no network"):
        engine.query_from_url("https://www.youtube.com/watch?v=aaaaaaaaaaa")
