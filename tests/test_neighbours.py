"""Neighbourhoods: exact kNN on a known layout, overlap between spaces, the encoder's KL loss."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.embedding.neighbours import knn_indices, knn_overlap


def ring(n=12):
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)  # points on a circle: neighbours are i ± 1


def test_knn_on_a_ring_are_the_adjacent_points():
    idx = knn_indices(ring(), k=2)
    assert idx.shape == (12, 2)
    for i, row in enumerate(idx):
        assert set(row) == {(i - 1) % 12, (i + 1) % 12}
    np.testing.assert_array_equal(knn_indices(ring(), k=2, queries=np.array([3]))[0].tolist().__len__(), 2)


def test_overlap_is_one_for_a_rotation_and_low_for_a_shuffle():
    X = ring(40)
    theta = 0.7
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    assert knn_overlap(X, X @ rotation, k=4) == 1.0  # cosine neighbourhoods survive a rotation
    shuffled = X[np.random.default_rng(0).permutation(40)]
    assert knn_overlap(X, shuffled, k=4) < 0.3


def test_neighbour_loss_is_zero_for_the_same_space_and_positive_otherwise():
    import torch

    from clipret.embedding.neighbours import neighbour_loss, neighbour_targets

    X = torch.tensor(ring(10), dtype=torch.float32)
    P = neighbour_targets(X, 0.1)
    assert torch.allclose(P.sum(dim=1), torch.ones(10)) and torch.all(P.diagonal() == 0)
    assert neighbour_loss(X, P, 0.1).item() == pytest.approx(0.0, abs=1e-6)
    assert neighbour_loss(X * 3.0, P, 0.1).item() == pytest.approx(0.0, abs=1e-6)  # cosine: scale-free
    shuffled = X[torch.randperm(10, generator=torch.Generator().manual_seed(0))]
    assert neighbour_loss(shuffled, P, 0.1).item() > 0.5
