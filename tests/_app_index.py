"""The tiny index the app tests run against, built once per test session in a temporary data dir."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from clipret.config import Settings
from clipret.corpus import GENRES

APP = Path(__file__).resolve().parents[1] / "app.py"
PAGES = ("pages/1_Search.py", "pages/2_Latent_map.py", "pages/3_Baselines.py", "pages/4_Index.py")
GENRES_USED = GENRES  # all nine, as the paper
PER_GENRE = 2


@functools.lru_cache(maxsize=None)
def tiny_index() -> Path:
    """A data dir with a demo index built by the indexer library: 9 genres × 2 clips × 3 s, 5 epochs."""
    from clipret.indexing.build import build_index
    from clipret.indexing.train import TrainOptions

    import os
    if os.environ.get("DEV_TINY_INDEX"):  # TEMPORARY dev shortcut
        data_dir = _temporary_dir()
        shutil.copytree(os.environ["DEV_TINY_INDEX"], data_dir, dirs_exist_ok=True)
        return data_dir
    data_dir = _temporary_dir()
    build_index(Settings(data_dir=data_dir), "demo", per_genre=PER_GENRE, seconds=3.0,
                options=TrainOptions(epochs=5, map_methods=("umap", "tsne", "pca"), max_k=8), progress=False)
    return data_dir


@functools.lru_cache(maxsize=None)
def synthetic_index() -> Path:
    """A data dir holding a served collection whose vectors cluster by genre (no models: clip queries only).

    Clip i of genre g has every vector near the axis of g, so the nearest clips share its genre.
    """
    from clipret.store import ClipPoint, ClipStore

    data_dir = _temporary_dir()
    settings = Settings(data_dir=data_dir)
    rng = np.random.default_rng(0)
    dims = {"fused": 16, "raw": 24, "pca": 16, "audio": 12, "video": 12, "lyrics": 12}
    points = []
    for g, genre in enumerate(GENRES_USED):
        for i in range(PER_GENRE):
            clip_id = f"{genre}-{i:03d}"
            vectors = {name: _near_axis(g, d, rng) for name, d in dims.items()}
            payload = {"clip_id": clip_id, "title": f"{genre.title()} Song {i + 1}", "genre": genre,
                       "artist": "", "source_url": "", "youtube_id": "", "thumbnail_url": "",
                       "media_path": str(data_dir / "media" / f"{clip_id}.mp4"), "duration_s": 3.0,
                       "has_lyrics": True, "cluster": g, "profile": "portable"}
            for m in ("umap", "tsne", "pca", "raw_pca", "pca_pca"):
                payload[f"map_{m}"] = [float(g + rng.normal(0, 0.1)), float(i + rng.normal(0, 0.1))]
            points.append(ClipPoint(clip_id, vectors, payload))
    collection = "clips_20260101T000000"
    with ClipStore(settings) as store:
        store.create_collection(collection, dims)
        store.upsert(collection, points)
        store.swap_alias(settings.collection, collection)
    _write_manifest(settings, collection, dims)
    return data_dir


def _near_axis(g: int, d: int, rng) -> np.ndarray:
    v = rng.normal(0, 0.2, d)
    v[g % d] += 1.0
    return v.astype(np.float32)


def _write_manifest(settings: Settings, collection: str, dims: dict[str, int]) -> None:
    metrics = lambda p: {"p@5": p, "p@10": p, "ndcg@10": p, "map": p}  # noqa: E731
    spaces = {"fused": metrics(0.9), "raw": metrics(0.7), "pca": metrics(0.6), "audio": metrics(0.5),
              "video": metrics(0.4), "lyrics": metrics(0.3), "random": metrics(1 / 17)}
    manifest = {
        "collection": collection, "alias": settings.collection, "profile": "portable",
        "blocks": [{"name": m, "modality": m, "dim": dims[m]} for m in ("audio", "video", "lyrics")],
        "vector_sizes": dims, "created_utc": "2026-01-01T00:00:00+00:00",
        "n_clips": len(GENRES_USED) * PER_GENRE, "genres": {g: PER_GENRE for g in GENRES_USED},
        "training": {"epochs": 5, "final_loss": 0.5, "paper_epochs": 600},
        "kmeans": {"k": 9, "inertias": {str(k): 100.0 / k for k in range(2, 12)}},
        "timings": {"extract": 1.0}, "packages": {"clipret": "0.1.0"},
        "evaluation": {"spaces": spaces, "n_clips": len(GENRES_USED) * PER_GENRE,
                       "per_genre": {g: {s: metrics(0.5) for s in spaces} for g in GENRES_USED}},
    }
    directory = settings.models_dir / collection
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _temporary_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="clipret-app-index-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def use_data_dir(monkeypatch, data_dir: Path) -> None:
    """Point the app (Settings.from_env) at `data_dir`, with no other deployment settings."""
    monkeypatch.setenv("CLIPRET_DATA_DIR", str(data_dir))
    for name in ("CLIPRET_PROFILE", "CLIPRET_COLLECTION", "QDRANT_URL", "QDRANT_API_KEY", "CLIPRET_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)


def open_page(page: str | None = None, params: dict[str, str] | None = None, timeout: float = 120):
    """Run the app (AppTest) on `page` ("pages/2_Latent_map.py"; None = home) with these query params."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if page is not None:
        at.run()  # AppTest switches pages only after a first run
        at.query_params.clear()
        at.switch_page(page)
    at.query_params.update(params or {})
    return at.run()


def texts(elements) -> list[str]:
    return [e.value for e in elements]
