"""Evaluation: hand-computed metrics, leave-one-out on constructed spaces, the exact random baseline."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from clipret.errors import ClipretError
from clipret.search.metrics import (
    average_precision,
    evaluate_spaces,
    leave_one_out,
    ndcg_at_k,
    precision_at_k,
    random_baseline,
)

LOG3 = np.log2(3)


def at_angles(degrees):
    radians = np.deg2rad(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_per_query_metrics_by_hand():
    rel = [1, 0, 1, 0, 0, 1]
    assert precision_at_k(rel, 5) == pytest.approx(2 / 5)
    assert precision_at_k(rel, 3) == pytest.approx(2 / 3)
    assert precision_at_k([1, 1], 10) == pytest.approx(2 / 10)  # divided by k, not by the list length
    # DCG@5 = 1 + 1/log2(4); ideal = 1 + 1/log2(3) + 1/log2(4)
    assert ndcg_at_k(rel, 5) == pytest.approx(1.5 / (1.5 + 1 / LOG3))
    assert ndcg_at_k([0, 0, 1], 2) == 0.0  # the relevant item is past k; the ideal is 1
    assert ndcg_at_k([1, 1, 0], 10) == 1.0
    assert average_precision(rel) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert average_precision([0, 0, 0]) == 0.0 and ndcg_at_k([0, 0], 10) == 0.0


def test_leave_one_out_perfectly_separated_genres():
    rng = np.random.default_rng(0)
    X = np.concatenate([[10, 0, 0] + rng.normal(scale=0.1, size=(11, 3)),
                        [0, 10, 0] + rng.normal(scale=0.1, size=(11, 3))])
    metrics = leave_one_out(X, ["rock"] * 11 + ["soul"] * 11)
    assert metrics == pytest.approx({"p@5": 1.0, "p@10": 1.0, "ndcg@10": 1.0, "map": 1.0})


def test_leave_one_out_interleaved_genres_exact_values():
    # angles 0, 10, 25, 45 degrees, genres A B A B: each query ranks 3 others, one of them relevant,
    # at rank 2, 3, 3, 2 (worked out by angular distance)
    X = at_angles([0, 10, 25, 45]) * [[1], [2], [3], [0.5]]  # lengths must not matter to cosine
    metrics = leave_one_out(X, ["A", "B", "A", "B"])
    assert metrics["p@5"] == pytest.approx(1 / 5)
    assert metrics["p@10"] == pytest.approx(1 / 10)
    assert metrics["ndcg@10"] == pytest.approx((2 / LOG3 + 2 * 0.5) / 4)
    assert metrics["map"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 3 + 1 / 2) / 4)


def test_exclude_same_artist_removes_those_results():
    X = at_angles([0, 5, 60, 20])
    genres, artists = ["A", "A", "A", "B"], ["x", "X ", "y", ""]  # names compare case/space-insensitively
    assert leave_one_out(X, genres)["map"] == pytest.approx((5 / 6 + 5 / 6 + 7 / 12 + 0) / 4)
    excluded = leave_one_out(X, genres, artists, exclude_same_artist=True)
    assert excluded["map"] == pytest.approx((1 / 2 + 1 / 2 + 7 / 12 + 0) / 4)


def test_zero_vectors_give_no_nan_and_ties_do_not_follow_collection_order():
    genres = ["A"] * 30 + ["B"] * 30  # sorted by genre, as corpora often are
    metrics = leave_one_out(np.zeros((60, 4)), genres)
    assert all(np.isfinite(v) for v in metrics.values())
    chance = random_baseline(genres)["p@10"]
    assert abs(metrics["p@10"] - chance) < 0.1  # index order would give p@10 = 1 for every A query


def test_random_baseline_is_genre_share_of_the_rest():
    genres = ["A"] * 6 + ["B"] * 4 + ["C"] * 2
    expected = (6 * 5 + 4 * 3 + 2 * 1) / 12 / 11  # mean over queries of (n_genre - 1) / (N - 1)
    baseline = random_baseline(genres)
    assert baseline["p@5"] == pytest.approx(expected) and baseline["p@10"] == pytest.approx(expected)


def test_random_baseline_ndcg_and_ap_are_exact_expectations():
    # 3 A and 3 B: every query has 2 relevant among 5 candidates; average over all 10 placements
    placements = [[1 if i in pos else 0 for i in range(5)] for pos in combinations(range(5), 2)]
    baseline = random_baseline(["A", "A", "A", "B", "B", "B"])
    assert baseline["map"] == pytest.approx(np.mean([average_precision(r) for r in placements]))
    assert baseline["ndcg@10"] == pytest.approx(np.mean([ndcg_at_k(r, 10) for r in placements]))
    assert baseline["p@5"] == pytest.approx(np.mean([precision_at_k(r, 5) for r in placements]))


def test_evaluate_spaces_structure_and_per_genre():
    rng = np.random.default_rng(1)
    separated = np.concatenate([[5, 0] + rng.normal(scale=0.1, size=(11, 2)),
                                [0, 5] + rng.normal(scale=0.1, size=(11, 2))])
    genres = ["rock"] * 11 + ["soul"] * 11
    report = evaluate_spaces({"fused": separated, "noise": rng.normal(size=(22, 3))}, genres, per_genre=True)
    assert set(report["spaces"]) == {"fused", "noise", "random"}
    assert report["n_clips"] == 22 and report["genre_counts"] == {"rock": 11, "soul": 11}
    assert report["spaces"]["fused"]["p@10"] == pytest.approx(1.0)
    assert report["spaces"]["random"]["p@10"] == pytest.approx(10 / 21)
    assert report["per_genre"]["soul"]["fused"]["map"] == pytest.approx(1.0)
    assert report["per_genre"]["rock"]["random"]["p@5"] == pytest.approx(10 / 21)
    assert report["exclude_same_artist"] is False
    with_artists = evaluate_spaces({"fused": separated}, genres, artists=["a"] * 22)
    assert with_artists["exclude_same_artist"] is True and with_artists["per_genre"] == {}
    assert with_artists["spaces"]["fused"]["p@10"] == 0.0  # one artist: nothing left to retrieve


def test_shape_errors():
    with pytest.raises(ClipretError, match="3 genres for 2 vectors"):
        leave_one_out(np.ones((2, 2)), ["A", "B", "C"])
    with pytest.raises(ClipretError, match="NaN"):
        leave_one_out(np.array([[np.nan, 1.0], [1.0, 1.0]]), ["A", "B"])
    with pytest.raises(ClipretError, match="artist"):
        leave_one_out(np.ones((2, 2)), ["A", "B"], exclude_same_artist=True)
