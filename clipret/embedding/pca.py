"""The `pca` baseline space: PCA of the fused features, as a small saveable estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clipret.embedding.estimator import EstimatorParams, read_saved
from clipret.errors import ClipretError
from clipret.files import save_npz_atomic, write_json_atomic


class PCAProjection(EstimatorParams):
    """PCA(X) with up to `n_components` components, capped by the number of clips and columns.

    A scikit-learn style estimator (clipret.embedding.estimator): fit (or load) sets mean_, components_ and
    explained_variance_ratio_; config.json holds get_params().
    """

    def __init__(self, n_components: int = 256, seed: int = 0):
        self.n_components = n_components
        self.seed = seed

    def fit(self, X: np.ndarray) -> PCAProjection:
        """X: (N, D) float. Sets mean_ (D,), components_ (k, D), explained_variance_ratio_ (k,)."""
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float64)
        k = int(min(self.n_components, X.shape[0], X.shape[1]))
        pca = PCA(n_components=k, svd_solver="full", random_state=self.seed).fit(X)
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)
        self.explained_variance_ratio_ = pca.explained_variance_ratio_.astype(np.float32)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, D) → (N, k) float32."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ClipretError(f"PCA expects (N, {self.mean_.shape[0]}) features, got {X.shape}")
        return (X - self.mean_) @ self.components_.T

    @property
    def dim(self) -> int:
        return int(self.components_.shape[0])

    def save(self, directory: str | Path) -> Path:
        """pca.npz (mean, components, explained variance ratio) + config.json (the parameters)."""
        self._check_fitted()
        directory = Path(directory)
        save_npz_atomic(directory / "pca.npz", mean=self.mean_, components=self.components_,
                        explained_variance_ratio=self.explained_variance_ratio_)
        write_json_atomic(directory / "config.json", self._saved_params())
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> PCAProjection:
        def read(config, arrays):
            pca = cls(**cls._params_from_config(config))
            pca.mean_, pca.components_ = arrays["mean"], arrays["components"]
            pca.explained_variance_ratio_ = arrays["explained_variance_ratio"]
            return pca

        return read_saved(directory, "PCA", "pca.npz", read)

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise ClipretError("the PCA is not fitted: call fit() or load() first")
