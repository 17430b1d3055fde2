"""Warm query by a new file: extraction in the server process (before) vs in a warm query worker (now).

Both paths decode the same 20 s clip, extract it with the index's profile, embed and search the same
tiny index; each is warmed by one query first (models loaded), then timed best of 3. The ratio
worker / in-process is the figure that travels (the machines are noisy).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.common import ARTIFACTS, best_of, write_results

INDEX_DIR = ARTIFACTS / "query-index"  # a tiny demo index, built once and reused


def tiny_index() -> Path:
    """9 genres × 2 clips × 3 s, 5 epochs (as the app tests use), under artifacts/bench/."""
    from clipret.config import Settings
    from clipret.embedding.artifacts import resolve_collection
    from clipret.indexing.build import build_index
    from clipret.indexing.train import TrainOptions

    settings = Settings(data_dir=INDEX_DIR)
    try:
        resolve_collection(settings)
        return INDEX_DIR
    except Exception:  # noqa: BLE001 - none yet (or a broken one): build it
        pass
    build_index(settings, "demo", per_genre=2, seconds=3.0, options=TrainOptions(epochs=5, max_k=8),
                progress=False)
    return INDEX_DIR


def search_in_process(engine, path: Path, k: int = 10):
    """The query path before the worker: decode in a child process, extract in this one."""
    from clipret.features.profiles import extract_clip
    from clipret.media.decode import decode
    from clipret.search.engine import QueryClip

    index = engine.index
    decoded = decode(path, index.profile.decode_options)
    features = extract_clip(decoded, "", index.profile)
    vectors = {name: np.asarray(v[0], dtype=np.float32) for name, v in index.embed([features]).items()}
    return engine.search(QueryClip(vectors=vectors, title=path.name, source="file"), k)


def main() -> None:
    from bench.bench_features import make_clip
    from clipret.config import Settings
    from clipret.features import jit_cache
    from clipret.search.engine import SearchEngine
    from clipret.store import ClipStore

    jit_cache.ensure_ready(log=print)
    settings = Settings(data_dir=tiny_index())
    engine = SearchEngine(settings, store=ClipStore(settings, replica=True))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "query.mp4"
        make_clip(path)
        before = [r.clip_id for r in search_in_process(engine, path)]  # warm: models in this process
        after = [r.clip_id for r in engine.search_by_file(path, k=10)]  # warm: the worker's models
        in_process_s = best_of(lambda: search_in_process(engine, path))
        worker_s = best_of(lambda: engine.search_by_file(path, k=10))
    engine.store.close()
    write_results("query", {
        "clip": "20 s 320x240 24 fps H.264+AAC (bench_features.make_clip), tiny demo index",
        "warm_query_by_file_in_process_s": round(in_process_s, 3),
        "warm_query_by_file_worker_s": round(worker_s, 3),
        "worker_over_in_process": round(worker_s / in_process_s, 3),
        "same_results": before == after,
    })


if __name__ == "__main__":
    main()
