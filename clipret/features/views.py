"""Views: a block's features over each of N_VIEWS consecutive parts of a clip's timeline, cached beside the
whole-clip vector. Two views of one clip are a positive pair for the self-supervised encoder
(clipret.embedding.autoencoder, objective "contrastive"), drawn without decoding the clip again.

View v of every block covers the same part of the timeline (the v-th quarter), so a view is an excerpt
across modalities: the librosa statistics over that quarter's frames, the mean aisfx embedding of the
spectrogram blocks that start in it (on a long track: the v-th of aisfx's 4 spread excerpts), the mean
EfficientNet logits of the frames shown in it. Blocks without a meaningful excerpt (the lyrics, the cut
rate of a few seconds) have no views: a view keeps their whole-clip vector.
"""

from __future__ import annotations

import numpy as np

N_VIEWS = 4
MIN_VIEW_S = 2.5  # a clip shorter than N_VIEWS × this has no views (too little per part to summarise)


def view_labels(starts: np.ndarray, total: float, n_views: int = N_VIEWS) -> np.ndarray | None:
    """(n,) view index of each unit (frame, block) from its start on a timeline of length `total` (any
    unit: seconds, samples, frames); None when the timeline is too short or a view would be empty."""
    starts = np.asarray(starts, dtype=np.float64)
    if total <= 0 or len(starts) < n_views:
        return None
    labels = np.clip((starts / total * n_views).astype(int), 0, n_views - 1)
    return labels if len(np.unique(labels)) == n_views else None


def long_enough(seconds: float) -> bool:
    return seconds >= N_VIEWS * MIN_VIEW_S


def mean_by_view(values: np.ndarray, labels: np.ndarray | None, n_views: int = N_VIEWS) -> np.ndarray | None:
    """(n_views, dim) float32: the mean of the rows of `values` (n, dim) in each view; None without labels."""
    if labels is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    return np.stack([values[labels == v].mean(axis=0) for v in range(n_views)]).astype(np.float32)
