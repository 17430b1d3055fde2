"""Feature fusion: per-clip modality blocks → one standardised, balanced vector, a missing block being its mean."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipret.embedding.estimator import EstimatorParams, read_saved
from clipret.errors import ClipretError
from clipret.files import save_npz_atomic, write_json_atomic

Features = Mapping[str, "np.ndarray | None"]  # one clip: block name → (dim,) vector, or None when missing
# How blocks are weighted after standardising (each standardised column has unit variance, so a block of
# width d has expected squared norm d; weight 1/√d brings it to 1):
#   "modality": every modality gets expected squared norm 1, shared equally by its blocks (default);
#   "block": every block gets expected squared norm 1 (1/√width);
#   "none": the paper's plain concatenation (a 1000-column block outvotes a 257-column one).
WEIGHTINGS = ("modality", "block", "none")
DEFAULT_WEIGHTING = "modality"


@dataclass(frozen=True)
class _Block:
    """Stand-in for profiles.BlockSpec when a saved fusion is loaded without clipret.features.profiles."""

    name: str
    modality: str
    dim: int
    columns: tuple[str, ...] = ()


class FeatureFusion(EstimatorParams):
    """Concatenate blocks in order, standardise each column on the rows where its block is present, then
    multiply each block by its weight (see WEIGHTINGS), so no modality outvotes another by its width.

    `blocks` are objects with .name, .modality, .dim (profiles.BlockSpec). A missing block (None or an
    absent key) becomes the standardised zero, i.e. the training mean, so it pulls no clip anywhere.
    Zero-variance columns get scale 1 (as sklearn's StandardScaler). A block never present in `fit`
    keeps mean 0 and scale 1 (`n_present_[name] == 0` tells). The weights are saved with the scaler and
    applied to a query exactly as to the collection.

    fit sets block_slices_ ({name: columns}), block_weights_ ({name: weight}), mean_, scale_ (D,) and
    n_present_ ({name: clips with the block}).
    """

    def __init__(self, blocks: Sequence[object], weighting: str = DEFAULT_WEIGHTING):
        self.blocks = blocks
        self.weighting = weighting

    @property
    def dim(self) -> int:
        """D, the fused width: the sum of the blocks' dims."""
        return sum(int(block.dim) for block in self.blocks)

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, features: Sequence[Features]) -> FeatureFusion:
        """Learn per-column mean and scale of every block from the clips where it is present."""
        self._fit_layout()
        if len(features) == 0:
            raise ClipretError("cannot fit the feature fusion on zero clips: extract features first")
        means, scales, n_present = [], [], {}
        for block in self.blocks:
            rows = [v for v in self._block_column(features, block) if v is not None]
            n_present[block.name] = len(rows)
            if rows:
                stacked = np.stack(rows).astype(np.float64)  # (n_present, dim)
                mean, std = stacked.mean(axis=0), stacked.std(axis=0)
                # constant columns carry no information; scale 1 keeps them at 0 instead of dividing by 0
                std[std < 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
            else:
                mean, std = np.zeros(block.dim), np.ones(block.dim)
            means.append(mean)
            scales.append(std)
        self.mean_ = np.concatenate(means)  # (D,)
        self.scale_ = np.concatenate(scales)  # (D,)
        self.n_present_ = n_present
        return self

    def _fit_layout(self) -> None:
        """Validate the parameters; set block_slices_ and block_weights_ (what fit and load share)."""
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        names = [b.name for b in self.blocks]
        if not names:
            raise ValueError("FeatureFusion needs at least one block")
        if len(set(names)) != len(names):
            raise ValueError(f"block names must be unique, got {names}")
        slices: dict[str, slice] = {}
        start = 0
        for block in self.blocks:
            if int(block.dim) <= 0:
                raise ValueError(f"block {block.name!r} has dim {block.dim}; it must be positive")
            slices[block.name] = slice(start, start + int(block.dim))
            start += int(block.dim)
        self.block_slices_ = slices
        self.block_weights_ = block_weights(self.blocks, self.weighting)  # {block name: weight}

    def transform(self, features: Sequence[Features]) -> np.ndarray:
        """(N, D) float32: standardised, weighted blocks; zeros where a block is missing."""
        self._check_fitted()
        out = np.zeros((len(features), self.dim), np.float32)
        for block in self.blocks:
            cols = self.block_slices_[block.name]
            mean, scale = self.mean_[cols], self.scale_[cols] / self.block_weights_[block.name]
            for i, vector in enumerate(self._block_column(features, block)):
                if vector is not None:
                    out[i, cols] = (vector - mean) / scale
        return out

    def fit_transform(self, features: Sequence[Features]) -> np.ndarray:
        return self.fit(features).transform(features)

    def transform_views(self, features: Sequence[Features], views: Sequence[Mapping[str, np.ndarray]],
                        n_views: int) -> tuple[np.ndarray, np.ndarray]:
        """((N, n_views, D) float32, (N,) bool): each clip's views fused as transform fuses its features
        (a block with views takes its v-th view, the others their whole-clip vector), and which clips have
        views (a clip without any gets its fused features in every view)."""
        has = np.array([any(v.shape[0] == n_views for v in clip_views.values()) for clip_views in views], bool)
        out = np.empty((len(features), n_views, self.dim), np.float32)
        for v in range(n_views):
            out[:, v] = self.transform([{**clip, **{name: block_views[v] for name, block_views in clip_views.items()
                                                    if block_views.shape[0] == n_views}}
                                        for clip, clip_views in zip(features, views, strict=True)])
        return out, has

    def presence(self, features: Sequence[Features]) -> np.ndarray:
        """(N, n_blocks) bool: True where the clip has the block (columns in block order)."""
        out = np.zeros((len(features), len(self.blocks)), bool)
        for j, block in enumerate(self.blocks):
            out[:, j] = [v is not None for v in self._block_column(features, block)]
        return out

    def modality_vectors(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Split fused rows (N, D) into {modality: (N, d_m)}, the columns of that modality's blocks."""
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ClipretError(f"fused vectors must have shape (N, {self.dim}), got {X.shape}")
        by_modality: dict[str, list[np.ndarray]] = {}
        for block in self.blocks:
            by_modality.setdefault(block.modality, []).append(X[:, self.block_slices_[block.name]])
        return {m: np.concatenate(parts, axis=1) for m, parts in by_modality.items()}

    # ---- persistence ---------------------------------------------------------------------------
    # config.json: the parameters (get_params) + what fit learned besides the scaler
    _ENCODE = {"blocks": lambda blocks: [{"name": b.name, "modality": b.modality, "dim": int(b.dim),
                                          "columns": list(getattr(b, "columns", ()) or ())} for b in blocks]}
    _FITTED_KEYS = ("n_present", "block_weights")
    # an index saved before weighting existed was built unweighted: load it as it was built
    _MISSING = {"weighting": "none"}

    def save(self, directory: str | Path) -> Path:
        """config.json (parameters, counts, weights) + scaler.npz (mean, scale) in `directory`."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_npz_atomic(directory / "scaler.npz", mean=self.mean_, scale=self.scale_)
        write_json_atomic(directory / "config.json", {**self._saved_params(self._ENCODE),
                                                      "n_present": self.n_present_,
                                                      "block_weights": self.block_weights_})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> FeatureFusion:
        def read(config, arrays):
            params = cls._params_from_config(config, cls._FITTED_KEYS, {"blocks": _decode_blocks}, cls._MISSING)
            n_present = {k: int(v) for k, v in config["n_present"].items()}
            return config, arrays["mean"], arrays["scale"], params, n_present

        config, mean, scale, params, n_present = read_saved(directory, "feature fusion", "scaler.npz", read)
        fusion = cls(**params)
        fusion._fit_layout()
        saved = config.get("block_weights")
        if saved is not None and any(abs(saved[k] - w) > 1e-9 for k, w in fusion.block_weights_.items()):
            raise ClipretError(f"{directory}/config.json has block weights {saved} that its weighting "
                               f"'{fusion.weighting}' does not give: rebuild the index")
        if mean.shape != (fusion.dim,) or scale.shape != (fusion.dim,):
            raise ClipretError(f"{directory}/scaler.npz does not match its config ({fusion.dim} columns)")
        fusion.mean_, fusion.scale_, fusion.n_present_ = mean, scale, n_present
        return fusion

    # ---- helpers -------------------------------------------------------------------------------
    def _block_column(self, features: Sequence[Features], block) -> list[np.ndarray | None]:
        """The block's vector of every clip, validated: (dim,) finite floats, or None."""
        column = []
        for i, clip in enumerate(features):
            vector = clip.get(block.name)
            if vector is not None:
                vector = np.asarray(vector, dtype=np.float64)
                if vector.shape != (block.dim,):
                    raise ClipretError(
                        f"clip {i}: block {block.name!r} has shape {vector.shape}, expected ({block.dim},); "
                        "features from another profile? re-extract them with the index's profile")
                if not np.all(np.isfinite(vector)):
                    raise ClipretError(f"clip {i}: block {block.name!r} contains NaN or infinite values")
            column.append(vector)
        return column

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise ClipretError("the feature fusion is not fitted: call fit() or load() first")


def _decode_blocks(saved: Sequence[Mapping[str, Any]]) -> tuple:
    block_type = _block_type()
    return tuple(block_type(b["name"], b["modality"], int(b["dim"]), tuple(b.get("columns", ()))) for b in saved)


def block_weights(blocks: Sequence[object], weighting: str = DEFAULT_WEIGHTING) -> dict[str, float]:
    """{block name: weight} multiplying its standardised columns (WEIGHTINGS explains the choices)."""
    if weighting == "none":
        return {b.name: 1.0 for b in blocks}
    if weighting == "block":
        return {b.name: float(1.0 / np.sqrt(int(b.dim))) for b in blocks}
    per_modality: dict[str, int] = {}
    for b in blocks:
        per_modality[b.modality] = per_modality.get(b.modality, 0) + 1
    return {b.name: float(1.0 / np.sqrt(int(b.dim) * per_modality[b.modality])) for b in blocks}


def _block_type():
    """profiles.BlockSpec when available, so loaded blocks compare equal to a profile's own."""
    try:
        from clipret.features.profiles import BlockSpec
    except ImportError:
        return _Block
    return BlockSpec
