"""Latent-space analysis: KMeans with the elbow method, and 2-D maps (UMAP, t-SNE, PCA) for the app."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from clipret.errors import ClipretError

KMEANS_N_INIT = 10  # fixed, so a seed alone decides the result
MAP_METHODS = ("umap", "tsne", "pca")


@dataclass(frozen=True)
class KMeansResult:
    k: int  # the elbow's number of clusters
    labels: np.ndarray  # (N,) int64 cluster of every row, for k
    inertias: dict[int, float]  # k → within-cluster sum of squares: the elbow curve
    centers: np.ndarray  # (k, d) float32


def elbow_kmeans(Z: np.ndarray, k_range: Iterable[int] = range(2, 16), seed: int = 0) -> KMeansResult:
    """KMeans (Euclidean, as the paper) for every k in k_range (capped at N), k chosen by the elbow.

    The elbow is the kneedle point: with k and inertia both scaled to [0, 1], the k whose inertia lies
    farthest below the straight line from the first to the last point of the curve.
    """
    from sklearn.cluster import KMeans

    Z = _check_matrix(Z)
    requested = [int(k) for k in k_range]
    if not requested:
        raise ValueError("k_range is empty")
    # KMeans needs k <= N: keep the feasible ks, or just k = N when a tiny N leaves none
    ks = sorted({k for k in requested if 1 <= k <= len(Z)}) or [min(len(Z), max(1, *requested))]
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning when k exceeds the distinct points
        for k in ks:
            models[k] = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=seed).fit(Z)
    inertias = {k: float(m.inertia_) for k, m in models.items()}
    k = elbow_point(inertias)
    best = models[k]
    return KMeansResult(k=k, labels=best.labels_.astype(np.int64), inertias=inertias,
                        centers=best.cluster_centers_.astype(np.float32))


def elbow_point(inertias: dict[int, float]) -> int:
    """The k of the curve farthest below its first-to-last chord (normalised); the smallest k if none is."""
    ks = np.array(sorted(inertias), dtype=float)
    ys = np.array([inertias[int(k)] for k in ks])
    if len(ks) < 3 or np.ptp(ys) == 0:
        return int(ks[0])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (ys - ys.min()) / np.ptp(ys)
    chord = y[0] + (y[-1] - y[0]) * x  # vertical distance is the perpendicular one times a constant
    gap = chord - y
    return int(ks[int(np.argmax(gap))]) if gap.max() > 0 else int(ks[0])


def maps_2d(Z: np.ndarray, methods: Sequence[str] = MAP_METHODS, seed: int = 0) -> dict[str, np.ndarray]:
    """{method: (N, 2) float32} coordinates of the rows of Z, seeded.

    UMAP with n_neighbors = min(15, N - 1); t-SNE with perplexity = min(30, (N - 1) / 3); PCA.
    Tiny inputs stay valid: N = 1 maps to the origin, and UMAP (which needs N >= 4) falls back to PCA.
    """
    unknown = set(methods) - set(MAP_METHODS)
    if unknown:
        raise ValueError(f"unknown map method(s) {sorted(unknown)}; choose from {MAP_METHODS}")
    Z = _check_matrix(Z).astype(np.float32)
    if Z.shape[1] < 2:  # PCA and t-SNE's PCA init need two columns
        Z = np.hstack([Z, np.zeros((len(Z), 2 - Z.shape[1]), np.float32)])
    maps = {}
    for method in methods:
        if len(Z) == 1:
            coords = np.zeros((1, 2))
        elif method == "umap" and len(Z) >= 4:
            coords = _umap(Z, seed)
        elif method == "tsne":
            coords = _tsne(Z, seed)
        else:
            coords = _pca(Z, seed)
        maps[method] = np.asarray(coords, dtype=np.float32)
    return maps


def _umap(Z: np.ndarray, seed: int) -> np.ndarray:
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba and "random_state disables parallelism" notices
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(Z) - 1), random_state=seed, n_jobs=1)
        return reducer.fit_transform(Z)


def _tsne(Z: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(Z) - 1) / 3)  # must stay below N
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(Z)


def _pca(Z: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(Z)


def _check_matrix(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or len(Z) == 0:
        raise ClipretError(f"expected a non-empty (N, d) matrix of embeddings, got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ClipretError("embeddings contain NaN or infinite values")
    return Z
