"""Search and upsert time of the embedded Qdrant store against plain numpy, at 1k, 10k and 50k clips.

    python -m bench store_scale                       # about 2-3 minutes on 2 cores
    python -m bench.bench_store_scale 1000 10000      # chosen sizes only

Both sides do exact cosine top-10 over random 256-d vectors (the size of the `fused` space): numpy as a
normalised dot product + argpartition, the store through ClipStore (the code path the app takes), plain
and with a genre filter (one genre in 9). The embedded store scans every point in Python, so these figures
say where a Qdrant server (HNSW graph, payload index on genre) should take over.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import best_of, write_results

SIZES = (1_000, 10_000, 50_000)
DIM = 256
K = 10
N_GENRES = 9


def numpy_top_k(unit_rows: np.ndarray, query: np.ndarray, k: int = K) -> np.ndarray:
    """Exact cosine top-k: rows already normalised, so the dot product is the cosine."""
    scores = unit_rows @ (query / np.linalg.norm(query))
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def _per_query_ms(fn, queries: np.ndarray, repeat: int = 3) -> float:
    return best_of(lambda: [fn(q) for q in queries], repeat) / len(queries) * 1000


def _n_queries(n: int) -> int:
    return 50 if n <= 10_000 else 20  # enough for a stable mean, few enough to keep the run short


def bench_numpy(vectors: np.ndarray, queries: np.ndarray) -> dict:
    start = time.perf_counter()
    unit_rows = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # the numpy "upsert"
    prepare_s = time.perf_counter() - start
    return {"prepare_s": round(prepare_s, 4),
            "search_ms": round(_per_query_ms(lambda q: numpy_top_k(unit_rows, q), queries, repeat=5), 3)}


def bench_store(vectors: np.ndarray, genres: list[str], queries: np.ndarray) -> tuple[dict, list[list[str]]]:
    """Upsert, search, filtered search and re-open time of ClipStore's embedded Qdrant in a temp dir."""
    from clipret.config import Settings
    from clipret.store import ClipPoint, ClipStore

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        points = (ClipPoint(f"clip{i:06d}", {"fused": v}, {"genre": g})
                  for i, (v, g) in enumerate(zip(vectors, genres, strict=True)))
        with ClipStore(settings) as store:
            store.create_collection("bench", {"fused": DIM})
            start = time.perf_counter()
            store.upsert("bench", points, batch_size=1000)
            upsert_s = time.perf_counter() - start
            store.swap_alias("clips", "bench")  # an app replica copies the collections aliases serve
            search = lambda q: store.search("bench", "fused", q, K)
            filtered = lambda q: store.search("bench", "fused", q, K, genres=[genres[0]])
            result = {"upsert_s": round(upsert_s, 2),
                      "upsert_per_1k_s": round(upsert_s / len(vectors) * 1000, 2),
                      "search_ms": round(_per_query_ms(search, queries), 3),
                      # the filter is evaluated point by point in Python: few queries suffice
                      "search_genre_filter_ms": round(_per_query_ms(filtered, queries[:5], repeat=1), 3)}
            found = [[h.clip_id for h in search(q)] for q in queries]
        start = time.perf_counter()
        with ClipStore(settings):  # what opening the folder pays: the embedded store loads every point
            result["open_s"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        with ClipStore(settings, replica=True):  # the app's start, and its refresh after each write
            result["replica_open_s"] = round(time.perf_counter() - start, 3)
    return result, found


def run_size(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    genres = [f"genre{i % N_GENRES}" for i in range(n)]
    queries = rng.standard_normal((_n_queries(n), DIM)).astype(np.float32)
    plain = bench_numpy(vectors, queries)
    store, found = bench_store(vectors, genres, queries)
    unit_rows = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = [[f"clip{i:06d}" for i in numpy_top_k(unit_rows, q)] for q in queries]
    agree = np.mean([len(set(a) & set(b)) / K for a, b in zip(found, expected, strict=True)])
    return {"n": n, "dim": DIM, "k": K, "n_queries": len(queries), "numpy": plain, "embedded_qdrant": store,
            "store_over_numpy": round(store["search_ms"] / max(plain["search_ms"], 1e-6), 1),
            "top10_agreement": round(float(agree), 4)}  # both are exact: anything under 1.0 is a bug


def main(sizes: tuple[int, ...] = SIZES) -> dict:
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    # One BLAS thread for both sides: a request is served on one core, and on a shared 2-core machine
    # multi-threaded BLAS spins against other load (a 50k numpy search measured 5 ms vs 20 ms that way).
    with threadpool_limits(1):
        rows = [_timed_row(n) for n in sizes]
    results = {"sizes": rows, "blas_threads": 1, "command": "python -m bench store_scale"}
    write_results("store_scale", results)
    return results


def _timed_row(n: int) -> dict:
    start = time.perf_counter()
    row = run_size(n)
    row["wall_s"] = round(time.perf_counter() - start, 1)
    s, p = row["embedded_qdrant"], row["numpy"]
    print(f"n={n:>6}: numpy {p['search_ms']:.3f} ms | embedded {s['search_ms']:.2f} ms, "
          f"+genre filter {s['search_genre_filter_ms']:.1f} ms | upsert {s['upsert_s']:.1f} s | "
          f"open {s['open_s']:.2f} s, app replica {s['replica_open_s']:.2f} s", flush=True)
    return row


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
