"""A built index's artifacts, loaded: embed new clips exactly as the index's own clips were embedded.

Artifacts of collection C live in ``<models_dir>/C/``: manifest.json, fusion/, autoencoder/, pca/,
kmeans.npz (cluster centres), and the training-time vectors (embeddings.npz + payloads.json) that
`indexer push` stores and `indexer evaluate` can fall back to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from clipret.config import Settings
from clipret.errors import ClipretError, IndexNotFound

MANIFEST = "manifest.json"


def artifact_dir(settings: Settings, collection: str) -> Path:
    return settings.models_dir / collection


def resolve_collection(settings: Settings, collection: str | None = None, store=None) -> str:
    """The concrete collection behind `collection` (an alias or a name; default settings.collection).

    Pass an open ClipStore as `store` when the caller has one: the embedded store admits one client.
    """
    name = collection or settings.collection
    if (artifact_dir(settings, name) / MANIFEST).is_file():
        return name
    if store is not None:
        return store.resolve(name)
    from clipret.store import ClipStore

    with ClipStore(settings, replica=True) as opened:
        return opened.resolve(name)


def read_manifest(settings: Settings, collection: str) -> dict[str, Any]:
    path = artifact_dir(settings, collection) / MANIFEST
    if not path.is_file():
        raise IndexNotFound(f"No artifacts for collection '{collection}' in {path.parent}: rebuild the index "
                            "with `clipret build`.")
    return json.loads(path.read_text(encoding="utf-8"))


def update_manifest(settings: Settings, collection: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read, change and write a collection's manifest under its own lock, so that two processes updating
    it at once (an add's entry, an evaluation) both keep their change. Held for milliseconds; readers
    never take it (the file is replaced in one rename)."""
    from clipret.files import file_lock, write_json_atomic

    directory = artifact_dir(settings, collection)
    with file_lock(directory / ".manifest.lock"):
        manifest = read_manifest(settings, collection)
        change(manifest)
        write_json_atomic(directory / MANIFEST, manifest)
    return manifest


@dataclass
class LoadedIndex:
    """Everything needed to embed a query clip for one collection."""

    collection: str
    directory: Path
    manifest: dict[str, Any]
    profile: Any  # clipret.features.profiles.Profile
    fusion: Any  # clipret.embedding.fusion.FeatureFusion
    autoencoder: Any  # clipret.embedding.autoencoder.Autoencoder
    pca: Any  # clipret.embedding.pca.PCAProjection
    cluster_centers: np.ndarray | None  # (k, 256) KMeans centres in the fused space

    @classmethod
    def load(cls, settings: Settings, collection: str | None = None, store=None) -> LoadedIndex:
        """Load the artifacts of `collection` (alias or name; default: what settings.collection serves)."""
        from clipret.embedding.autoencoder import Autoencoder
        from clipret.embedding.fusion import FeatureFusion
        from clipret.embedding.pca import PCAProjection

        name = resolve_collection(settings, collection, store)
        directory = artifact_dir(settings, name)
        manifest = read_manifest(settings, name)
        profile = _matching_profile(manifest)
        centers = None
        if (directory / "kmeans.npz").is_file():
            with np.load(directory / "kmeans.npz") as arrays:
                centers = arrays["centers"]
        return cls(name, directory, manifest, profile, FeatureFusion.load(directory / "fusion"),
                   Autoencoder.load(directory / "autoencoder"), PCAProjection.load(directory / "pca"),
                   centers)

    @property
    def vector_sizes(self) -> dict[str, int]:
        return dict(self.manifest["vector_sizes"])

    def embed(self, features: Sequence[dict[str, np.ndarray | None]]) -> dict[str, np.ndarray]:
        """Features of N clips (block → (dim,) or None) → {vector name: (N, d) float32}."""
        X = self.fusion.transform(list(features))  # (N, D)
        vectors = {"fused": self.autoencoder.transform(X), "raw": X, "pca": self.pca.transform(X)}
        vectors.update(self.fusion.modality_vectors(X))
        return {name: np.asarray(v, dtype=np.float32) for name, v in vectors.items()}

    def cluster(self, fused: np.ndarray) -> np.ndarray:
        """(N, 256) → (N,) the nearest KMeans centre of each row (-1 when the index has none)."""
        fused = np.atleast_2d(fused)
        if self.cluster_centers is None:
            return np.full(len(fused), -1)
        d = ((fused[:, None, :] - self.cluster_centers[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)

    def extract_file(self, path: str | Path, lyrics: str = "", timeout_s: float | None = None):
        """Decode and extract one media file with this index's profile → (features, duration_s).

        The work runs in a warm query worker process (clipret.runtime.query_pool), never in this one: a file
        that crashes, hangs or floods a decoder or an extractor costs that worker, not the caller.
        """
        from clipret.runtime.query_pool import extract_file

        options = self.profile.decode_options
        if timeout_s is not None:
            options = replace(options, timeout_s=timeout_s)
        return extract_file(path, lyrics, self.profile.name, options)


def _matching_profile(manifest: dict[str, Any]):
    """The manifest's profile, checked block by block: a query must be embedded as the index was."""
    from clipret.features.profiles import get_profile

    profile = get_profile(manifest["profile"])
    built = [(b["name"], int(b["dim"])) for b in manifest["blocks"]]
    now = [(b.name, int(b.dim)) for b in profile.blocks]
    if built != now:
        raise ClipretError(f"The index was built with profile '{profile.name}' blocks {built}, but this "
                           f"version's profile has {now}: rebuild the index (clipret build).")
    return profile
