"""The embedded store at 1k/10k/50k/200k clips: Qdrant Edge (clipret's default) against qdrant-client's
local mode (the store before it) and plain numpy, side by side in one run.

    python -m bench store_scale                        # 1k-200k: about half an hour on 2 busy cores
    python -m bench.bench_store_scale 1000 10000 50000 # chosen sizes only (about 10 minutes)

Clustered 256-d vectors (the size of the `fused` space; 50 clusters, as embeddings of music fall into
genres and styles), 9 genres as payload, top-10 by cosine. Per size: upsert, open, query, genre-filtered
query, recall@10 against numpy's exact answer (plain and filtered), and for Edge the time until a reader
(the app) answers from a changed collection. Local mode is capped at LOCAL_MODE_MAX points (it warns above
20k, and at 200k each step takes minutes); above LOCAL_MODE_ON_DISK_MAX it runs as `QdrantClient(":memory:")`,
the same Python search code without the folder, because its folder upsert commits one sqlite row per point
(about 30 ms a point on a busy disk: 25 minutes at 50k), so there its upsert and open are not comparable.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import best_of, write_results

SIZES = (1_000, 10_000, 50_000, 200_000)
LOCAL_MODE_MAX = 50_000
LOCAL_MODE_ON_DISK_MAX = 10_000  # above, local mode runs in memory: its folder writes one sqlite row per point
DIM, K, N_GENRES, N_CLUSTERS = 256, 10, 9, 50


def clustered(n: int, centres: np.ndarray, rng) -> np.ndarray:
    """n vectors around the given cluster centres (queries come from the same clusters as the clips)."""
    return (centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, DIM))).astype(np.float32)


def numpy_top_k(unit_rows: np.ndarray, query: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Exact cosine top-k (rows normalised); `mask` keeps only some rows (a genre filter)."""
    scores = unit_rows @ (query / np.linalg.norm(query))
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def _per_query_ms(fn, queries, repeat: int = 3) -> float:
    return round(best_of(lambda: [fn(q) for q in queries], repeat) / len(queries) * 1000, 3)


def _recall(found: list[list[int]], expected: list[np.ndarray]) -> float:
    return round(float(np.mean([len(set(f) & set(e.tolist())) / K for f, e in zip(found, expected, strict=True)])), 4)


def bench_numpy(unit_rows, queries, mask) -> dict:
    return {"search_ms": _per_query_ms(lambda q: numpy_top_k(unit_rows, q), queries, 5),
            "search_genre_filter_ms": _per_query_ms(lambda q: numpy_top_k(unit_rows, q, mask), queries, 5)}


def bench_edge(vectors, genres, queries, expected, expected_f) -> dict:
    """ClipStore on Qdrant Edge: the path the indexer and the app take."""
    from clipret.config import Settings
    from clipret.store import ClipPoint, ClipStore

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        points = (ClipPoint(f"{i}", {"fused": v}, {"genre": g})
                  for i, (v, g) in enumerate(zip(vectors, genres, strict=True)))
        with ClipStore(settings) as writer:
            writer.create_collection("bench", {"fused": DIM})
            start = time.perf_counter()
            writer.upsert("bench", points, batch_size=1000)
            upsert_s = time.perf_counter() - start
            start = time.perf_counter()
            writer.swap_alias("clips", "bench")  # seals the shard: HNSW graphs above EXACT_BELOW
            seal_s = time.perf_counter() - start
            start = time.perf_counter()
            app = ClipStore(settings, replica=True)  # what the app pays to open the index, first query included
            app.search("clips", "fused", queries[0], K)
            open_s = time.perf_counter() - start
            search = lambda q: app.search("clips", "fused", q, K)  # noqa: E731
            filtered = lambda q: app.search("clips", "fused", q, K, genres=[genres[0]])  # noqa: E731
            result = {"upsert_s": round(upsert_s, 2), "seal_s": round(seal_s, 2), "open_s": round(open_s, 3),
                      "search_ms": _per_query_ms(search, queries),
                      "search_genre_filter_ms": _per_query_ms(filtered, queries),
                      "exact_search_ms": _exact_ms(app, queries),
                      "recall@10": _recall([[int(h.clip_id) for h in search(q)] for q in queries], expected),
                      "recall@10_filtered": _recall([[int(h.clip_id) for h in filtered(q)] for q in queries],
                                                    expected_f)}
            start = time.perf_counter()
            writer.upsert("clips", [ClipPoint("new", {"fused": queries[0]}, {"genre": genres[0]})])  # indexer add
            result["add_one_s"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            seen = app.search("clips", "fused", queries[0], 1)[0].clip_id == "new"
            result["app_sees_change_s"] = round(time.perf_counter() - start, 3) if seen else None
            app.close()
    return result


def _exact_ms(app, queries) -> float:
    """A forced exact scan at this size: where it stays fast enough, no HNSW is needed (EXACT_BELOW)."""
    from qdrant_edge import Query, QueryRequest, SearchParams

    shard, _ = app._backend.shard(app.resolve("clips"))
    return _per_query_ms(lambda q: shard.query(QueryRequest(limit=K, query=Query.Nearest(q.tolist(), using="fused"),
                                                            params=SearchParams(exact=True))), queries[:10], 2)


def bench_local_mode(vectors, genres, queries, expected, expected_f) -> dict:
    """qdrant-client's local mode (`QdrantClient(path=…)`), as clipret used it before Qdrant Edge."""
    import warnings

    from qdrant_client import QdrantClient, models

    on_disk = len(vectors) <= LOCAL_MODE_ON_DISK_MAX
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns above 20k points
        client = QdrantClient(path=tmp) if on_disk else QdrantClient(location=":memory:")
        client.create_collection("bench", vectors_config={
            "fused": models.VectorParams(size=DIM, distance=models.Distance.COSINE)})
        start = time.perf_counter()
        for a in range(0, len(vectors), 1000):
            client.upsert("bench", [models.PointStruct(id=i, vector={"fused": vectors[i].tolist()},
                                                       payload={"genre": genres[i]})
                                    for i in range(a, min(a + 1000, len(vectors)))])
        upsert_s = time.perf_counter() - start
        genre = models.Filter(must=[models.FieldCondition(key="genre", match=models.MatchAny(any=[genres[0]]))])

        def query(q, flt=None):
            return [p.id for p in client.query_points("bench", query=q.tolist(), using="fused", limit=K,
                                                      query_filter=flt).points]

        few = queries[:5]  # its filter is checked point by point in Python: a few queries suffice
        result = {"mode": "folder" if on_disk else "in memory (same search code, no folder)",
                  "upsert_s": round(upsert_s, 2), "search_ms": _per_query_ms(query, queries),
                  "search_genre_filter_ms": _per_query_ms(lambda q: query(q, genre), few, 1),
                  "recall@10": _recall([query(q) for q in queries], expected),
                  "recall@10_filtered": _recall([query(q, genre) for q in few], expected_f[:5])}
        client.close()
        result["open_s"] = None
        if on_disk:
            start = time.perf_counter()
            QdrantClient(path=tmp).close()  # opening the folder loads every point
            result["open_s"] = round(time.perf_counter() - start, 3)
    return result


def run_size(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_CLUSTERS, DIM)).astype(np.float32)
    vectors, queries = clustered(n, centres, rng), clustered(20, centres, rng)
    genres = [f"genre{i % N_GENRES}" for i in range(n)]
    unit_rows = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    mask = np.array([g == genres[0] for g in genres])
    expected = [numpy_top_k(unit_rows, q) for q in queries]
    expected_f = [numpy_top_k(unit_rows, q, mask) for q in queries]
    row = {"n": n, "dim": DIM, "k": K, "n_queries": len(queries), "numpy": bench_numpy(unit_rows, queries, mask),
           "edge": bench_edge(vectors, genres, queries, expected, expected_f)}
    if n <= LOCAL_MODE_MAX:
        row["local_mode"] = bench_local_mode(vectors, genres, queries, expected, expected_f)
        lm, ed = row["local_mode"], row["edge"]
        keys = ("search_ms", "search_genre_filter_ms") + (("upsert_s", "open_s") if lm["open_s"] else ())
        row["local_mode_over_edge"] = {key: round(lm[key] / max(ed[key], 1e-6), 1) for key in keys}
    else:
        row["local_mode"] = f"skipped above {LOCAL_MODE_MAX} points (minutes per step)"
    return row


def main(sizes: tuple[int, ...] = SIZES) -> dict:
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    with threadpool_limits(1):  # one BLAS thread for numpy: a request is served on one core
        rows = [_timed_row(n) for n in sizes]
    results = {"sizes": rows, "blas_threads": 1, "vectors": f"clustered, {N_CLUSTERS} clusters",
               "command": "python -m bench store_scale"}
    write_results("store_scale", results)
    return results


def _timed_row(n: int) -> dict:
    start = time.perf_counter()
    row = run_size(n)
    row["wall_s"] = round(time.perf_counter() - start, 1)
    e, p, lm = row["edge"], row["numpy"], row["local_mode"]
    local = (f" | local mode ({lm['mode']}) {lm['search_ms']:.2f} ms, filter {lm['search_genre_filter_ms']:.1f} ms, "
             f"upsert {lm['upsert_s']:.1f} s, open {lm['open_s']} s" if isinstance(lm, dict) else "")
    print(f"n={n:>7}: numpy {p['search_ms']:.3f} ms | edge {e['search_ms']:.2f} ms, filter "
          f"{e['search_genre_filter_ms']:.2f} ms, recall {e['recall@10']}/{e['recall@10_filtered']}, upsert "
          f"{e['upsert_s']:.1f}+{e['seal_s']:.1f} s, open {e['open_s']:.2f} s, app sees a change in "
          f"{e['app_sees_change_s']} s{local}", flush=True)
    return row


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
