"""One result per song: searches collapse a song's versions (payload version_group) on every store backend,
leave the query's own song out, still return k songs when one song fills the first page, and behave as
before on an index without versions; the CLI, the share link and the app's cards show them.

The engine tests run on the embedded store, on qdrant-client's in-memory mode (the server backend's code:
its grouping query, with no server), and on the Qdrant server at QDRANT_URL when one is set (as in
test_store_server.py: an empty test server)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from clipret.config import Settings
from clipret.errors import ClipNotFound
from clipret.search.engine import QueryClip, SearchEngine
from clipret.search.format import format_results, results_json, title_cell
from clipret.store import ClipPoint, ClipStore, Hit
from clipret.store.groups import GROUP_SIZE, collapse, collapse_pages
from clipret.ui.share import SearchState

NAMES = ("fused", "raw", "pca", "audio", "video", "lyrics")  # every clip has the same vector in each
URL = os.environ.get("QDRANT_URL", "").strip()
KEY = os.environ.get("QDRANT_API_KEY", "").strip() or None


def at(degrees: float) -> np.ndarray:
    """The unit vector `degrees` away from the query's (e0): its cosine to the query is cos(degrees)."""
    r = np.radians(degrees)
    return np.array([np.cos(r), np.sin(r), 0.0, 0.0], np.float32)


def cos(degrees: float) -> float:
    return float(np.cos(np.radians(degrees)))


def clip(clip_id: str, degrees: float, group: str | None = None, genre: str = "metal") -> ClipPoint:
    """A clip; `group` None: no version fields at all (an index built before versions)."""
    payload = {"title": clip_id.upper(), "genre": genre}
    if group is not None:
        payload |= {"version_group": group, "version_role": "representative" if group == clip_id else "version"}
    return ClipPoint(clip_id, {n: at(degrees) for n in NAMES}, payload)


# q is the query; its own song has a live cut. Song a has three versions, the query's nearest neighbours.
SONGS = [
    clip("q", 0, "q"), clip("q-live", 1, "q"),
    clip("a", 5, "a"), clip("a-lyric", 6, "a"), clip("a-live", 7, "a", genre="punk"),
    clip("b", 10, "b"),
    clip("c", 15, ""),  # an empty group: a song of its own
    clip("d", 20),  # no version fields
    clip("far", 80),
]


def probe() -> QueryClip:
    """A query from outside the collection (a file) at angle 0: it has no song of its own."""
    return QueryClip(vectors={n: at(0) for n in NAMES}, title="probe", source="file")


def _open_store(kind: str, data_dir: Path) -> tuple[Settings, ClipStore]:
    if kind == "embedded":
        settings = Settings(data_dir=data_dir)
        return settings, ClipStore(settings)
    if kind == "qdrant-client":
        from qdrant_client import QdrantClient

        settings = Settings(data_dir=data_dir)
        return settings, ClipStore(settings, client=QdrantClient(location=":memory:"))
    if not URL:
        pytest.skip("QDRANT_URL is not set: the server backend runs above through qdrant-client's in-memory "
                    "mode; set QDRANT_URL (docker compose up -d qdrant) to run it against a server")
    settings = Settings(data_dir=data_dir, qdrant_url=URL, qdrant_api_key=KEY,
                        collection=f"versiontest_{uuid.uuid4().hex[:8]}")  # its own alias: no clash
    return settings, ClipStore(settings)


@pytest.fixture(params=["embedded", "qdrant-client", "server"])
def build(request, tmp_path):
    """build(points) → a SearchEngine over a new collection of these points, on this backend."""
    opened: list[tuple[ClipStore, str]] = []

    def build(points: list[ClipPoint]) -> SearchEngine:
        settings, store = _open_store(request.param, tmp_path / f"store{len(opened)}")
        name = f"{settings.collection}_1"
        opened.append((store, name))
        store.create_collection(name, {n: 4 for n in NAMES})
        store.upsert(name, points)
        store.swap_alias(settings.collection, name)
        return SearchEngine(settings, store=store)

    yield build
    for store, name in opened:
        if not store.embedded:
            store.delete_collection(name)
        store.close()


def ids(results) -> list[str]:
    return [r.clip_id for r in results]


# -- the collapsing itself (pure) ------------------------------------------------------------------
def hit(clip_id: str, score: float, group: str | None = None) -> Hit:
    return Hit(clip_id, score, {"version_group": group} if group is not None else {})


def test_collapse_keeps_each_songs_best_hit_first_and_its_versions_in_rank_order():
    hits = [hit("a1", 0.9, "a"), hit("x", 0.8), hit("a2", 0.7, "a"), hit("y", 0.6, ""), hit("a1", 0.5, "a"),
            hit("z", 0.4), hit("a3", 0.3, "a")]
    groups = collapse(hits, k=3, group_size=3)
    assert [(g.group, [h.clip_id for h in g.hits]) for g in groups] == [
        ("a", ["a1", "a2", "a3"]), ("x", ["x"]), ("y", ["y"])]  # a1 twice counts once; z: a 4th song
    assert [h.clip_id for h in collapse(hits, k=1, group_size=2)[0].versions] == ["a2"]


def test_pages_grow_until_k_songs_are_found_or_the_search_runs_out():
    ranked = [hit(f"big{i:02d}", 1 - i / 100, "big") for i in range(40)] + [hit("x", 0.5), hit("y", 0.4)]
    calls = []

    def fetch(offset, limit):
        calls.append((offset, limit))
        return ranked[offset:offset + limit]

    groups = collapse_pages(fetch, k=3)
    assert calls == [(0, 32), (32, 64)]  # the first page is all one song: one more, twice as large
    assert [g.group for g in groups] == ["big", "x", "y"] and len(groups[0].hits) == GROUP_SIZE
    calls.clear()
    assert len(collapse_pages(fetch, k=10, first_page=8)) == 3  # only 3 songs in all
    assert calls == [(0, 8), (8, 16), (24, 32)]  # stopped at the first short page


# -- the engine on every backend ------------------------------------------------------------------
def test_three_versions_of_the_nearest_song_are_one_result_and_the_querys_song_is_left_out(build):
    engine = build(SONGS)
    results = engine.search_by_clip("q", k=4)
    assert ids(results) == ["a", "b", "c", "d"]  # q-live (the query's own song) is left out
    a = results[0]
    assert a.score == pytest.approx(cos(5), abs=1e-5)
    assert [(v.clip_id, v.title) for v in a.versions] == [("a-lyric", "A-LYRIC"), ("a-live", "A-LIVE")]
    assert [v.score for v in a.versions] == pytest.approx([cos(6), cos(7)], abs=1e-5)
    assert all(r.versions == () for r in results[1:])
    assert a.modality_scores == pytest.approx({"audio": cos(5), "video": cos(5), "lyrics": cos(5)}, abs=1e-5)


def test_the_querys_own_versions_when_asked(build):
    engine = build(SONGS)
    results = engine.search(engine.query_from_clip("q"), k=2, include_own_versions=True)
    assert ids(results) == ["q-live", "a"]  # never the query itself
    assert results[0].versions == () and len(results[1].versions) == 2


def test_without_collapsing_every_clip_comes_back(build):
    engine = build(SONGS)
    results = engine.search_by_clip("q", k=10, collapse_versions=False)
    assert ids(results) == ["q-live", "a", "a-lyric", "a-live", "b", "c", "d", "far"]
    assert [r.score for r in results] == pytest.approx([cos(x) for x in (1, 5, 6, 7, 10, 15, 20, 80)], abs=1e-5)
    assert all(r.versions == () for r in results)


def test_weighted_modalities_collapse_too(build):
    engine = build(SONGS)
    weights = {"audio": 1.0, "video": 0.5, "lyrics": 0.0}
    results = engine.search_by_clip("q", k=3, weights=weights)
    assert ids(results) == ["a", "b", "c"]
    assert [v.clip_id for v in results[0].versions] == ["a-lyric", "a-live"]
    assert results[0].versions[0].score == pytest.approx(cos(6), abs=1e-5)  # the weighted score
    assert ids(engine.search_by_clip("q", k=3, weights=weights, collapse_versions=False)) == [
        "q-live", "a", "a-lyric"]


def test_a_genre_filter_applies_to_each_version(build):
    engine = build(SONGS)
    results = engine.search_by_clip("q", k=3, genres=["punk"])
    assert ids(results) == ["a-live"] and results[0].versions == ()  # its versions are metal


def test_k_songs_even_when_the_first_page_is_all_one_song(build):
    big = [clip(f"big-{i:02d}", 1 + 0.1 * i, "big-00") for i in range(40)]  # nearer than any other song
    engine = build([*big, clip("x", 10, "x"), clip("y", 20), clip("z", 30, "z")])
    for weights in (None, {"audio": 1.0}):
        results = engine.search(probe(), k=3, weights=weights)
        assert ids(results) == ["big-00", "x", "y"]
        assert [v.clip_id for v in results[0].versions] == [f"big-{i:02d}" for i in range(1, GROUP_SIZE)]
    assert len(engine.search(probe(), k=50)) == 4  # every song, once


def test_an_index_without_versions_searches_exactly_as_before(build):
    old = [("q", 0), ("q-live", 1), ("a", 5), ("a-lyric", 6), ("a-live", 7), ("b", 10), ("c", 15), ("d", 20)]
    engine = build([clip(clip_id, degrees) for clip_id, degrees in old])  # no version fields at all
    for weights in (None, {"audio": 1.0, "video": 0.5}):
        query = engine.query_from_clip("q")
        collapsed = engine.search(query, k=5, weights=weights)
        assert collapsed == engine.search(query, k=5, weights=weights, collapse_versions=False)
        assert ids(collapsed) == ["q-live", "a", "a-lyric", "a-live", "b"]
    assert engine.versions_of("a") == []


def test_versions_of_a_clip_lists_the_other_clips_of_its_song(build):
    engine = build(SONGS)
    assert [p["clip_id"] for p in engine.versions_of("a-lyric")] == ["a", "a-live"]  # representative first
    assert [p["clip_id"] for p in engine.versions_of("a")] == ["a-live", "a-lyric"]  # then by title
    assert engine.versions_of("q")[0]["version_role"] == "version"
    assert engine.versions_of("b") == [] and engine.versions_of("c") == [] and engine.versions_of("d") == []
    with pytest.raises(ClipNotFound, match="pick one from the list"):
        engine.versions_of("nope")


def test_a_plain_search_can_leave_out_a_song(build):
    engine = build(SONGS)
    hits = engine.store.search(engine.collection, "fused", at(0), k=3, exclude_groups=["q", "a"])
    assert [h.clip_id for h in hits] == ["b", "c", "d"]


# -- what people see ------------------------------------------------------------------------------
def test_the_table_says_how_many_versions_and_the_json_lists_them(build):
    engine = build(SONGS)
    query = engine.query_from_clip("q")
    results = engine.search(query, k=2)
    lines = format_results(results).splitlines()
    assert " A +2 versions " in lines[1] and "version" not in lines[2]
    out = results_json(query, results)["results"]
    assert [v["clip_id"] for v in out[0]["versions"]] == ["a-lyric", "a-live"] and out[1]["versions"] == []
    long = dataclasses.replace(results[0], title="T" * 60)
    assert title_cell(long, 40) == "T" * 28 + " +2 versions"  # the label is never cut off


def test_cli_search_collapses_versions_unless_all_versions(tmp_path, capsys):
    from clipret.cli import main

    settings = Settings(data_dir=tmp_path)
    with ClipStore(settings) as store:
        store.create_collection("clips_1", {n: 4 for n in NAMES})
        store.upsert("clips_1", SONGS)
        store.swap_alias("clips", "clips_1")
    args = ["--data-dir", str(tmp_path), "search", "--clip", "q", "-k", "3"]
    assert main(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "Query: Q" and " A +2 versions " in table[2] and table[3].split()[3] == "B"
    assert main([*args, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["clip_id"] for r in results] == ["a", "b", "c"]
    assert [v["clip_id"] for v in results[0]["versions"]] == ["a-lyric", "a-live"]
    assert main([*args, "--json", "--all-versions"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["clip_id"] for r in results] == ["q-live", "a", "a-lyric"]
    assert all(r["versions"] == [] for r in results)


def test_every_version_travels_in_the_link_as_versions_all():
    state = SearchState(clip="q", all_versions=True)
    assert state.to_params() == {"clip": "q", "versions": "all"}
    assert SearchState.from_params(state.to_params()) == state
    assert SearchState.from_params({"clip": "q", "versions": "some"}).all_versions is False
    assert "versions" not in SearchState(clip="q").to_params()


# -- the app, on a copy of the tiny demo index with versions set -----------------------------------
def versioned_copy(index_dir: Path, target: Path) -> dict:
    """Copy the tiny demo index (it has no versions) and make the first clip's 3 nearest neighbours in
    the fused space one song, r1 its representative; every other clip is a song of its own. Returns
    {"data_dir", "query": its payload, "ranked": the query's top 5 payloads before}."""
    shutil.copytree(index_dir, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock"))
    settings = Settings(data_dir=target)
    with ClipStore(settings) as store:
        engine = SearchEngine(settings, store=store)
        query = engine.clips()[0]
        ranked = [r.payload for r in engine.search_by_clip(query["clip_id"], k=5, collapse_versions=False)]
        song = {p["clip_id"] for p in ranked[:3]}
        group = ranked[0]["clip_id"]
        points = []
        for h in store.all_clips(engine.collection, with_vectors=True):
            mine = group if h.clip_id in song else h.clip_id
            payload = {**h.payload, "version_group": mine,
                       "version_role": "representative" if mine == h.clip_id else "version"}
            points.append(ClipPoint(h.clip_id, h.vectors, payload))
        store.upsert(engine.collection, points)
    return {"data_dir": target, "query": query, "ranked": ranked}


@pytest.fixture(scope="module")
def versioned(index_dir, tmp_path_factory):
    return versioned_copy(index_dir, tmp_path_factory.mktemp("versioned-index"))


@pytest.mark.slow
def test_a_card_per_song_with_its_versions_and_a_toggle_for_every_clip(versioned, monkeypatch):
    from _app_index import open_page, texts, use_data_dir
    from test_app_search import result_titles

    use_data_dir(monkeypatch, versioned["data_dir"])
    query, ranked = versioned["query"], versioned["ranked"]
    titles = [p["title"] for p in ranked]
    at = open_page(params={"clip": query["clip_id"], "k": "3"})
    assert not at.exception
    assert result_titles(at) == [titles[0], titles[3], titles[4]]  # r2 and r3 are r1's versions
    versions = [e for e in at.expander if e.label == "+2 versions"]
    assert len(versions) == 1
    assert [t.split(" · score ")[0] for t in texts(versions[0].markdown)] == [f"- {titles[1]}", f"- {titles[2]}"]
    assert at.toggle(key="search.all_versions").value is False

    at.toggle(key="search.all_versions").set_value(True).run()
    assert not at.exception
    assert result_titles(at) == titles[:3]
    assert not [e for e in at.expander if e.label.endswith("versions")]
    assert at.query_params["versions"] == "all"
    again = open_page(params={"clip": query["clip_id"], "k": "3", "versions": "all"})  # the link alone
    assert again.toggle(key="search.all_versions").value is True and result_titles(again) == titles[:3]


@pytest.mark.slow
def test_a_clip_with_versions_lists_them_in_its_summary(versioned, monkeypatch):
    from _app_index import open_page, use_data_dir
    from test_app_search import result_titles

    use_data_dir(monkeypatch, versioned["data_dir"])
    r1, r2, r3 = versioned["ranked"][:3]
    at = open_page(params={"clip": r2["clip_id"], "k": "5"})
    assert not at.exception
    summary = [e for e in at.expander if e.label.startswith("Versions of this clip")]
    assert [e.label for e in summary] == ["Versions of this clip (2)"]
    links = [link.proto.label for link in summary[0].get("page_link")]
    assert links == [f"{r1['title']} (the song's main clip)", r3["title"]]
    assert not {r1["title"], r3["title"]} & set(result_titles(at))  # its own song is not among its results
