"""What only the embedded store (Qdrant Edge) does: collection generations that readers follow, exact
answers where they matter (recall@10 against numpy's exact cosine), and indexes of the old local-mode
store converted on first use, or refused with the way to rebuild."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clipret.config import Settings
from clipret.errors import StoreUnavailable
from clipret.store import ClipPoint, ClipStore, point_id
from clipret.store.edge import EdgeTuning, edge_root


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path)


def clip(i: int, v, genre: str = "metal") -> ClipPoint:
    return ClipPoint(f"c{i}", {"fused": np.asarray(v, dtype=np.float32)}, {"genre": genre})


def generations(settings: Settings, name: str) -> tuple[int, list[str]]:
    folder = edge_root(settings.data_dir) / "collections" / name
    current = json.loads((folder / "CURRENT").read_text())["generation"]
    return current, sorted(p.name for p in folder.glob("g*"))


def test_writes_to_a_served_collection_make_new_generations(settings):
    with ClipStore(settings) as writer:
        writer.create_collection("clips_1", {"fused": 2})
        writer.upsert("clips_1", [clip(0, [1, 0]), clip(1, [0, 1])])
        writer.upsert("clips_1", [clip(2, [1, 1])])  # still filling its own new shard: in place
        writer.swap_alias("clips", "clips_1")
        assert generations(settings, "clips_1") == (1, ["g000001"])
        reader = ClipStore(settings, replica=True)
        assert reader.count("clips") == 3
        writer.upsert("clips", [clip(3, [1, -1])])  # published: a copy, written, then CURRENT moves
        assert generations(settings, "clips_1") == (2, ["g000001", "g000002"])
        assert reader.count("clips") == 4
        writer.upsert("clips", [clip(4, [-1, 1])])
        assert generations(settings, "clips_1") == (3, ["g000002", "g000003"])  # the oldest is dropped
    assert [h.clip_id for h in reader.search("clips", "fused", np.array([-1.0, 1.0]), k=2)] == ["c4", "c1"]
    reader.close()


def test_a_killed_writers_leftover_generation_is_never_served(settings):
    with ClipStore(settings) as writer:
        writer.create_collection("clips_1", {"fused": 2})
        writer.upsert("clips_1", [clip(0, [1, 0])])
        writer.swap_alias("clips", "clips_1")
    folder = edge_root(settings.data_dir) / "collections" / "clips_1"
    (folder / "g000002").mkdir()  # as a writer killed while copying leaves it
    (folder / "g000002" / "junk").write_bytes(b"\0" * 10)
    with ClipStore(settings, replica=True) as reader:
        assert reader.count("clips") == 1  # CURRENT still names generation 1
    with ClipStore(settings) as writer:
        writer.upsert("clips", [clip(1, [0, 1])])
        assert writer.count("clips") == 2
    assert not (folder / "g000002" / "junk").exists()


@pytest.mark.slow  # builds the tiny demo index when no other test of the session has
def test_search_is_exact_on_the_demo_index():
    """Every named vector of the tiny demo index: the store's top-10 equals numpy's exact cosine top-10."""
    from _app_index import tiny_index

    settings = Settings(data_dir=tiny_index())
    with ClipStore(settings, replica=True) as store:
        clips = store.all_clips("clips", with_vectors=True)
        for name in clips[0].vectors:
            rows = np.stack([c.vectors[name] for c in clips])
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            unit = rows / np.where(norms == 0, 1, norms)
            for query in clips[::4]:
                scores = unit @ unit[clips.index(query)]
                got = store.search("clips", name, query.vectors[name], k=10)
                assert [h.score for h in got] == pytest.approx(sorted(scores, reverse=True)[:10], abs=1e-5)
                ties_free = {c.clip_id for c, s in zip(clips, scores, strict=True) if s > got[-1].score + 1e-5}
                assert ties_free <= {h.clip_id for h in got}


@pytest.mark.slow
def test_recall_at_10_with_hnsw_on_clustered_vectors(settings):
    """Above EdgeTuning.exact_below the store searches an HNSW graph: recall@10 ≥ 0.99 against numpy's
    exact answer, with and without a genre filter (12k clustered 256-d vectors, exact below 5k here; the
    bench measures 50k and 200k with the default threshold)."""
    rng = np.random.default_rng(0)
    n, dim = 12_000, 256
    centres = rng.standard_normal((50, dim))
    vectors = (centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim))).astype(np.float32)
    queries = (centres[rng.integers(0, 50, 30)] + 0.6 * rng.standard_normal((30, dim))).astype(np.float32)
    genres = [f"g{i % 9}" for i in range(n)]
    tuning = EdgeTuning(exact_below=5_000)
    with ClipStore(settings, tuning=tuning) as writer:
        writer.create_collection("clips_1", {"fused": dim})
        writer.upsert("clips_1", (clip(i, v, g) for i, (v, g) in enumerate(zip(vectors, genres, strict=True))),
                      batch_size=1000)
        writer.swap_alias("clips", "clips_1")  # seals the shard: builds the HNSW graph
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    in_g0 = np.array([g == "g0" for g in genres])
    with ClipStore(settings, replica=True, tuning=tuning) as store:
        shard, points = store._backend.shard("clips_1")
        assert points == n and shard.info().indexed_vectors_count == n  # the HNSW path is the one measured
        recall, recall_filtered = [], []
        for q in queries:
            scores = unit @ (q / np.linalg.norm(q))
            exact = {f"c{i}" for i in np.argsort(-scores)[:10]}
            exact_g0 = {f"c{i}" for i in np.argsort(-np.where(in_g0, scores, -9))[:10]}
            recall.append(len(exact & {h.clip_id for h in store.search("clips", "fused", q, 10)}) / 10)
            got = {h.clip_id for h in store.search("clips", "fused", q, 10, genres=["g0"])}
            recall_filtered.append(len(exact_g0 & got) / 10)
    assert np.mean(recall) >= 0.99 and np.mean(recall_filtered) >= 0.99


# -- the old embedded store (qdrant-client's local mode) --------------------------------------------

def local_mode_index(settings: Settings) -> None:
    """What clipret built before Qdrant Edge: data/qdrant/ written by QdrantClient(path=…)."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(settings.qdrant_path))
    for name, n in (("clips_20260101T000000", 2), ("clips_20260102T000000", 3)):
        client.create_collection(name, vectors_config={
            v: models.VectorParams(size=3, distance=models.Distance.COSINE) for v in ("fused", "audio")})
        client.upsert(name, [models.PointStruct(
            id=point_id(f"c{i}"), vector={"fused": [1.0, i, 0.0], "audio": [0.0, 1.0, i]},
            payload={"clip_id": f"c{i}", "genre": "metal" if i % 2 else "soul", "youtube_id": f"yt{i:09d}"})
            for i in range(n)])
    client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name="clips_20260102T000000", alias_name="clips"))])
    client.close()


@pytest.mark.slow  # qdrant-client's local mode writes slowly (seconds per collection on a busy disk)
def test_a_local_mode_index_is_converted_on_first_use(settings):
    local_mode_index(settings)
    with ClipStore(settings, replica=True) as store:  # the app opening an old data dir
        assert store.serving_collection("clips") == "clips_20260102T000000"
        assert store.collections("clips_") == ["clips_20260101T000000", "clips_20260102T000000"]
        assert store.count("clips") == 3
        hit = store.find_by_youtube_id("clips", "yt000000002")
        assert hit.clip_id == "c2" and hit.payload["genre"] == "soul"
        np.testing.assert_allclose(hit.vectors["audio"], np.array([0, 1, 2]) / np.sqrt(5), atol=1e-6)
        got = store.search("clips", "fused", np.array([1.0, 1.0, 0.0]), k=3, genres=["metal"])
        assert [h.clip_id for h in got] == ["c1"]
    assert not settings.qdrant_path.exists()
    assert (settings.data_dir / "qdrant.local-mode-migrated" / "meta.json").is_file()  # kept, never read again


def test_a_local_mode_index_that_cannot_be_read_is_refused_with_the_way_to_rebuild(settings):
    from qdrant_client import QdrantClient

    local_mode_index(settings)
    holder = QdrantClient(path=str(settings.qdrant_path))  # an old app still holds the folder
    try:
        with pytest.raises(StoreUnavailable, match=r"older clipret.*make index.*clipret build --from demo"):
            ClipStore(settings)
    finally:
        holder.close()
    with ClipStore(settings) as store:  # released: converted now
        assert store.count("clips") == 3
