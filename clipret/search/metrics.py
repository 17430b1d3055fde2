"""Retrieval evaluation: leave-one-out by cosine similarity, relevant = same genre, against chance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from clipret.errors import ClipretError

METRICS = ("p@5", "p@10", "ndcg@10", "map")
QUERY_CHUNK = 512  # queries per similarity block: (512, N) float32 stays small for N in the thousands


# ---- per-query metrics on a ranked relevance list (1 = relevant) -----------------------------------
def precision_at_k(relevance: Sequence[float], k: int) -> float:
    """Share of the first k results that are relevant (divided by k even when fewer are ranked)."""
    return float(_precision_rows(_as_rows(relevance), k)[0])


def ndcg_at_k(relevance: Sequence[float], k: int) -> float:
    """DCG@k (gain rel_i, discount 1/log2(i + 1)) over the DCG@k of the list sorted best first; 0 if none."""
    return float(_ndcg_rows(_as_rows(relevance), k)[0])


def average_precision(relevance: Sequence[float]) -> float:
    """Mean of the precision at each relevant position (rel > 0) over all relevant items; 0 if none."""
    return float(_ap_rows(_as_rows(relevance))[0])


def _as_rows(relevance: Sequence[float]) -> np.ndarray:
    return np.asarray(relevance, dtype=np.float64).reshape(1, -1)


def _precision_rows(rel: np.ndarray, k: int) -> np.ndarray:
    return (rel[:, :k] > 0).sum(axis=1) / k


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2))


def _ndcg_rows(rel: np.ndarray, k: int) -> np.ndarray:
    top = rel[:, :k]
    disc = _discounts(top.shape[1])
    dcg = (top * disc).sum(axis=1)
    ideal = (-np.sort(-rel, axis=1)[:, :k] * disc).sum(axis=1)
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def _ap_rows(rel: np.ndarray) -> np.ndarray:
    hits = rel > 0
    precision = np.cumsum(hits, axis=1) / np.arange(1, rel.shape[1] + 1)
    n_relevant = hits.sum(axis=1)
    total = (precision * hits).sum(axis=1)
    return np.divide(total, n_relevant, out=np.zeros_like(total), where=n_relevant > 0)


def _metric_rows(rel: np.ndarray) -> dict[str, np.ndarray]:
    return {"p@5": _precision_rows(rel, 5), "p@10": _precision_rows(rel, 10),
            "ndcg@10": _ndcg_rows(rel, 10), "map": _ap_rows(rel)}


# ---- leave-one-out over a collection ---------------------------------------------------------------
def leave_one_out(vectors: np.ndarray, genres: Sequence[str], artists: Sequence[str] | None = None,
                  exclude_same_artist: bool = False, seed: int = 0) -> dict[str, float]:
    """Each clip queries the rest by cosine similarity; mean P@5, P@10, nDCG@10, AP ("map").

    With exclude_same_artist, clips by the query's artist (non-empty names only) are neither ranked nor
    relevant. Exact ties (e.g. zero vectors, cosine 0 to everything) are broken by a seeded random order,
    never by position in the collection, which is often sorted by genre.
    """
    return _means(_loo_per_query(vectors, genres, artists, exclude_same_artist, seed))


def random_baseline(genres: Sequence[str], artists: Sequence[str] | None = None,
                    exclude_same_artist: bool = False) -> dict[str, float]:
    """The metrics' expected values under a uniformly random ranking, averaged over queries.

    P@k is (n_genre - 1) / (N - 1) for k <= N - 1. nDCG@10 and AP are their exact expectations (for few
    relevant items a random AP is above that ratio, so the ratio would flatter the model).
    """
    return _means(_random_per_query(genres, artists, exclude_same_artist))


def evaluate_spaces(spaces: Mapping[str, np.ndarray], genres: Sequence[str],
                    artists: Sequence[str] | None = None, per_genre: bool = False,
                    exclude_same_artist: bool | None = None, seed: int = 0) -> dict:
    """Leave-one-out for every named space, plus "random"; per genre on request.

    Returns {"spaces": {name: metrics}, "n_clips": N, "per_genre": {genre: {name: metrics}} (empty unless
    per_genre), "genre_counts": {genre: n}, "exclude_same_artist": bool}. exclude_same_artist defaults to
    True when artists are given.
    """
    genres = [str(g) for g in genres]
    exclude = artists is not None if exclude_same_artist is None else exclude_same_artist
    per_query = {name: _loo_per_query(X, genres, artists, exclude, seed) for name, X in spaces.items()}
    per_query["random"] = _random_per_query(genres, artists, exclude)
    names, counts = np.unique(genres, return_counts=True)
    result = {"spaces": {name: _means(rows) for name, rows in per_query.items()}, "n_clips": len(genres),
              "per_genre": {}, "genre_counts": {str(g): int(n) for g, n in zip(names, counts, strict=True)},
              "exclude_same_artist": bool(exclude)}
    if per_genre:
        labels = np.asarray(genres)
        for genre in names:
            mask = labels == genre
            result["per_genre"][str(genre)] = {name: _means(rows, mask) for name, rows in per_query.items()}
    return result


def _means(rows: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict[str, float]:
    return {m: float(np.mean(v if mask is None else v[mask])) if len(v) else 0.0 for m, v in rows.items()}


def _loo_per_query(vectors, genres, artists, exclude_same_artist, seed) -> dict[str, np.ndarray]:
    """{metric: (N,)} for every query, similarity computed in blocks of QUERY_CHUNK queries."""
    X = np.asarray(vectors, dtype=np.float32)
    n = len(X)
    genre_codes, artist_codes = _codes(genres, artists, n, exclude_same_artist)
    if X.ndim != 2:
        raise ClipretError(f"vectors must have shape (N, d), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ClipretError("vectors contain NaN or infinite values")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1.0)  # a zero vector stays zero: cosine 0 to all, never NaN
    perm = np.random.default_rng(seed).permutation(n)  # tie-break order
    Xp, genre_p = X[perm], genre_codes[perm]
    artist_p = None if artist_codes is None else artist_codes[perm]
    out = {m: np.zeros(n) for m in METRICS}
    for start in range(0, n, QUERY_CHUNK):
        q = np.arange(start, min(start + QUERY_CHUNK, n))
        sims = X[q] @ Xp.T  # (B, N), columns in tie-break order
        excluded = perm[None, :] == q[:, None]  # the query itself
        if artist_p is not None:
            excluded |= (artist_p[None, :] == artist_codes[q][:, None]) & (artist_codes[q][:, None] >= 0)
        sims[excluded] = -np.inf  # ranked last, and marked not relevant below
        order = np.argsort(-sims, axis=1, kind="stable")  # stable: ties keep the seeded order
        rel = (genre_p[order] == genre_codes[q][:, None]) & ~np.take_along_axis(excluded, order, axis=1)
        for metric, values in _metric_rows(rel.astype(np.float64)).items():
            out[metric][q] = values
    return out


def _random_per_query(genres, artists, exclude_same_artist) -> dict[str, np.ndarray]:
    """{metric: (N,)} expectations under a random ranking of the M candidates, R of them relevant."""
    n = len(genres)
    genre_codes, artist_codes = _codes(genres, artists, n, exclude_same_artist)
    same_genre = np.bincount(genre_codes, minlength=genre_codes.max(initial=-1) + 1)[genre_codes] - 1
    M, R = np.full(n, n - 1), same_genre
    if artist_codes is not None and (artist_codes >= 0).any():
        known = artist_codes >= 0
        by_artist = np.bincount(artist_codes[known])
        pair = genre_codes * (artist_codes.max(initial=0) + 1) + artist_codes
        by_pair = np.bincount(pair[known])
        M = M - np.where(known, by_artist[np.where(known, artist_codes, 0)] - 1, 0)
        R = R - np.where(known, by_pair[np.where(known, pair, 0)] - 1, 0)
    out = {m: np.zeros(n) for m in METRICS}
    for i, (m, r) in enumerate(zip(M.tolist(), R.tolist(), strict=True)):
        if m > 0 and r > 0:
            for k, key in ((5, "p@5"), (10, "p@10")):
                out[key][i] = r / m * min(k, m) / k
            disc = _discounts(10)
            out["ndcg@10"][i] = r / m * disc[:min(10, m)].sum() / disc[:min(10, r)].sum()
            harmonic = (1.0 / np.arange(1, m + 1)).sum()
            # E[AP] = E[1/pos] + (R-1) * E[1{other relevant above}/pos] for a random permutation
            out["map"][i] = harmonic / m + ((r - 1) * (m - harmonic) / (m * (m - 1)) if m > 1 else 0.0)
    return out


def _codes(genres, artists, n, exclude_same_artist) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer genre codes (N,), and artist codes (N,) with -1 for unknown, or None when not excluding."""
    if len(genres) != n:
        raise ClipretError(f"{len(genres)} genres for {n} vectors: they must match one to one")
    labels = np.asarray([str(g) for g in genres], dtype=str)
    genre_codes = np.unique(labels, return_inverse=True)[1].reshape(-1).astype(np.int64)
    if not exclude_same_artist:
        return genre_codes, None
    if artists is None or len(artists) != n:
        raise ClipretError("exclude_same_artist needs one artist name per clip")
    names = [str(a or "").strip().lower() for a in artists]
    vocab = {a: i for i, a in enumerate(sorted({a for a in names if a}))}
    return genre_codes, np.array([vocab.get(a, -1) for a in names], dtype=np.int64)
