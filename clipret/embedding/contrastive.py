"""The self-supervised objective of the contrastive encoder: positive pairs drawn from a clip's own views
(clipret.features.views), InfoNCE against the rest of the batch, and its label-free model selection.

No torch at import: the estimator modules import this one at module level.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def distinct_views(views: np.ndarray) -> np.ndarray:
    """(N,) bool: the clips whose views differ (a clip without excerpts repeats one row in every view)."""
    views = np.asarray(views)
    return np.any(views[:, 0] != views[:, -1], axis=1) if views.shape[1] > 1 else np.zeros(len(views), bool)


def view_pair(views, whole, generator):
    """Two different views of each clip of a batch, each drawn from its excerpts and the whole clip.

    views: (n, V, D) torch; whole: (n, D); returns two (n, D) tensors. The whole clip is a candidate
    because the index embeds whole clips: an excerpt must land near its own clip, not only near another
    excerpt.
    """
    import torch

    candidates = torch.cat([views, whole[:, None, :]], dim=1)  # (n, V + 1, D)
    n, m = candidates.shape[:2]
    first = torch.randint(m, (n,), generator=generator)
    second = (first + 1 + torch.randint(m - 1, (n,), generator=generator)) % m
    rows = torch.arange(n)
    return candidates[rows, first.to(views.device)], candidates[rows, second.to(views.device)]


def info_nce(first, second, temperature: float):
    """Symmetric InfoNCE: row i of `first` should find row i of `second` among all rows, and back.

    first, second: (n, d) latent rows of the same n clips; cosine similarity / temperature as logits.
    """
    import torch

    a = torch.nn.functional.normalize(first, dim=1)
    b = torch.nn.functional.normalize(second, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (torch.nn.functional.cross_entropy(logits, labels)
                  + torch.nn.functional.cross_entropy(logits.T, labels))


def held_out_contrast(transform: Callable[[np.ndarray], np.ndarray], whole: np.ndarray, views: np.ndarray,
                      temperature: float) -> float:
    """Minus the InfoNCE loss of fixed pairs of held-out clips (higher is better): their first and last
    excerpts, their two middle ones, and the whole clip with its first and its last excerpt.

    The label-free model selection of the contrastive encoder. Whether an excerpt finds its own clip first
    saturates at once (0.97 of held-out excerpts do at the start on the excerpt set) while the space goes on
    improving; this loss goes on falling with it (docs/evaluation.md).
    whole: (n, D) clips; views: (n, V, D) their excerpts; transform maps (m, D) rows to the space scored.
    """
    import torch

    n_views = views.shape[1]
    pairs = ((views[:, 0], views[:, -1]), (views[:, (n_views - 1) // 2], views[:, n_views // 2]),
             (whole, views[:, 0]), (whole, views[:, -1]))
    with torch.no_grad():
        losses = [info_nce(torch.from_numpy(transform(a)), torch.from_numpy(transform(b)), temperature).item()
                  for a, b in pairs]
    return -float(np.mean(losses))

