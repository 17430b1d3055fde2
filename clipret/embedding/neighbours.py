"""Neighbourhoods of a vector space: the targets and loss of the neighbour-preserving encoder, and how
well one space keeps another's nearest neighbours (label-free, for early stopping and reports)."""

from __future__ import annotations

import numpy as np

from clipret.errors import ClipretError


def knn_indices(X: np.ndarray, k: int, queries: np.ndarray | None = None) -> np.ndarray:
    """(n_queries, k) indices of each query row's k nearest rows of X by cosine, itself excluded."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2:
        raise ClipretError(f"need (N >= 2, d) vectors for neighbours, got {X.shape}")
    k = min(int(k), len(X) - 1)
    rows = np.arange(len(X)) if queries is None else np.asarray(queries)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    U = X / np.where(norms > 0, norms, 1.0)
    sims = U[rows] @ U.T  # (n_queries, N)
    sims[np.arange(len(rows)), rows] = -np.inf
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def knn_overlap(A: np.ndarray, B: np.ndarray, k: int = 10, queries: np.ndarray | None = None,
                reference: np.ndarray | None = None) -> float:
    """Mean share of each query's k nearest neighbours in A that are also among its k nearest in B.

    1.0: B keeps A's neighbourhoods exactly; about k / (N - 1): no better than chance. `reference`:
    knn_indices(A, k, queries) computed before (A is the fixed input while B changes: early stopping).
    """
    if len(A) != len(B):
        raise ClipretError(f"knn_overlap needs the same rows in both spaces, got {len(A)} and {len(B)}")
    a = knn_indices(A, k, queries) if reference is None else reference
    b = knn_indices(B, k, queries)
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b, strict=True)]))


def neighbour_targets(X, temperature: float):
    """(n, n) torch row-stochastic matrix: softmax over j != i of cos(x_i, x_j) / temperature."""
    import torch

    U = torch.nn.functional.normalize(X, dim=1)
    logits = U @ U.T / temperature
    logits.fill_diagonal_(float("-inf"))
    return torch.softmax(logits, dim=1)


def neighbour_loss(Z, targets, temperature: float):
    """KL(targets || Q) averaged over rows, Q = softmax over j != i of cos(z_i, z_j) / temperature.

    Z: (n, d) latent rows; targets: (n, n) from neighbour_targets on the same rows' inputs.
    """
    import torch

    U = torch.nn.functional.normalize(Z, dim=1)
    logits = U @ U.T / temperature
    eye = torch.eye(len(Z), dtype=torch.bool, device=Z.device)
    log_q = torch.log_softmax(logits.masked_fill(eye, float("-inf")), dim=1).masked_fill(eye, 0.0)
    p = targets
    log_p = torch.log(p.clamp_min(1e-12))
    return (p * (log_p - log_q)).sum(dim=1).mean()
