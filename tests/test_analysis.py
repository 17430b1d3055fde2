"""Analysis: the elbow finds three well separated blobs; 2-D maps are (N, 2), finite, and seeded."""

from __future__ import annotations

import numpy as np
import pytest

from clipret.embedding.analysis import elbow_kmeans, elbow_point, maps_2d


def blobs(per_blob=20, d=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, d))
    centres[0, 0], centres[1, 1], centres[2, 2] = 20.0, 20.0, 20.0
    Z = np.concatenate([c + rng.normal(scale=0.5, size=(per_blob, d)) for c in centres])
    truth = np.repeat(np.arange(3), per_blob)
    return Z.astype(np.float32), truth


def test_elbow_finds_three_blobs_and_labels_match():
    Z, truth = blobs()
    result = elbow_kmeans(Z, k_range=range(1, 8), seed=0)
    assert result.k == 3
    assert sorted(result.inertias) == list(range(1, 8))
    assert all(result.inertias[k] >= result.inertias[k + 1] for k in range(1, 7))
    assert result.centers.shape == (3, 8)
    # the same partition up to renaming: each blob is one cluster, and the clusters differ
    mapping = {t: set(result.labels[truth == t]) for t in range(3)}
    assert all(len(s) == 1 for s in mapping.values())
    assert len(set.union(*mapping.values())) == 3
    again = elbow_kmeans(Z, k_range=range(1, 8), seed=0)
    np.testing.assert_array_equal(again.labels, result.labels)


def test_elbow_point_on_a_known_curve():
    # normalised chord gaps: k=3 sits farthest below the line from (1, 100) to (6, 0)
    assert elbow_point({1: 100, 2: 60, 3: 10, 4: 6, 5: 3, 6: 0}) == 3
    assert elbow_point({2: 5.0, 3: 4.0}) == 2  # too short a curve to have an elbow: the smallest k
    assert elbow_point({2: 1.0, 3: 1.0, 4: 1.0}) == 2


def test_elbow_with_fewer_points_than_k():
    Z, _ = blobs(per_blob=1)  # N = 3 < the default k_range
    result = elbow_kmeans(Z)
    assert set(result.inertias) == {2, 3} and result.labels.shape == (3,)
    single = elbow_kmeans(Z[:1])
    assert single.k == 1 and single.labels.tolist() == [0]


@pytest.mark.slow
def test_maps_shape_finite_and_seeded():
    Z, truth = blobs()
    maps = maps_2d(Z, seed=0)
    assert set(maps) == {"umap", "tsne", "pca"}
    for coords in maps.values():
        assert coords.shape == (60, 2) and coords.dtype == np.float32 and np.all(np.isfinite(coords))
    np.testing.assert_array_equal(maps_2d(Z, methods=("pca", "tsne"), seed=0)["tsne"], maps["tsne"])
    # every method keeps the blobs apart: each point is nearest to its own blob's centre
    for method, coords in maps.items():
        centres = np.array([coords[truth == t].mean(axis=0) for t in range(3)])
        nearest = np.linalg.norm(coords[:, None, :] - centres[None], axis=2).argmin(axis=1)
        np.testing.assert_array_equal(nearest, truth, err_msg=method)


def test_maps_tiny_inputs():
    Z, _ = blobs(per_blob=1)  # N = 3: UMAP cannot run, falls back to PCA
    for n in (1, 2, 3):
        maps = maps_2d(Z[:n], seed=0)
        for coords in maps.values():
            assert coords.shape == (n, 2) and np.all(np.isfinite(coords))
    assert maps_2d(Z[:, :1], methods=("pca",))["pca"].shape == (3, 2)  # a 1-d space still maps to 2-d
    with pytest.raises(ValueError, match="unknown map method"):
        maps_2d(Z, methods=("mds",))
