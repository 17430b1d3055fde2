"""Evaluate the serving index: leave-one-out by genre over the vectors stored in Qdrant."""

from __future__ import annotations

from typing import Any

import numpy as np

from clipret.config import Settings
from clipret.embedding.artifacts import MANIFEST, artifact_dir, update_manifest
from clipret.errors import IndexNotFound
from clipret.store.groups import group_of

SPACE_ORDER = ("fused", "raw", "pca", "audio", "video", "lyrics", "random")


def serving_spaces(store, collection: str) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """(payloads, {vector name: (N, d)}) of every clip stored in `collection`, in clip-id order."""
    hits = store.all_clips(collection, with_vectors=True)
    if not hits:
        raise IndexNotFound(f"The collection '{collection}' is empty: build the index again.")
    names = [n for n in SPACE_ORDER if n in (hits[0].vectors or {})]
    names += sorted(set(hits[0].vectors or {}) - set(names))
    spaces = {n: np.stack([h.vectors[n] for h in hits]).astype(np.float32) for n in names}
    return [h.payload for h in hits], spaces


def evaluate_serving(store, settings: Settings, alias: str | None = None, exclude_same_artist: bool = False,
                     exclude_same_group: bool = False) -> dict[str, Any]:
    """DESIGN.md's protocol over what the alias serves; the result is also stored in its manifest."""
    from clipret.search.metrics import evaluate_spaces

    collection = store.resolve(alias or settings.collection)
    payloads, spaces = serving_spaces(store, collection)
    excluding = exclude_same_artist or exclude_same_group
    keys = exclusion_keys(payloads, exclude_same_artist, exclude_same_group) if excluding else None
    result = evaluate_spaces(spaces, [str(p.get("genre", "")) for p in payloads], artists=keys,
                             per_genre=True, exclude_same_artist=excluding)
    result["spaces"] = ordered(result["spaces"])
    result["collection"] = collection
    result["exclude_same_group"] = exclude_same_group
    _store_in_manifest(settings, collection, result)
    return result


def exclusion_keys(payloads: list[dict[str, Any]], same_artist: bool, same_group: bool) -> list[str]:
    """One key per clip; clips that share a key are left out of each other's rankings: the artist, the
    version group (a song's other versions: a near-copy would inflate P@10), or with both, the clips
    linked by either (transitively)."""
    artists = [str(p.get("artist") or "").strip().lower() for p in payloads]
    groups = [group_of(p, str(p.get("clip_id", i))) for i, p in enumerate(payloads)]
    if not same_group:
        return artists
    if not same_artist:
        return groups
    parent = list(range(len(payloads)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for keys in (artists, groups):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key:
                parent[root(i)] = root(first.setdefault(key, i))
    return [f"linked-{root(i)}" for i in range(len(payloads))]


def headline(result: dict[str, Any], per_genre: bool = False) -> dict[str, Any]:
    """The `evaluate --json` object: {"spaces": {...}, "n_clips": N} (+ "per_genre" on request)."""
    out = {"spaces": ordered(result["spaces"]), "n_clips": int(result["n_clips"])}
    if per_genre:
        out["per_genre"] = {g: ordered(s) for g, s in result.get("per_genre", {}).items()}
    return out


def ordered(spaces: dict[str, Any]) -> dict[str, Any]:
    names = [n for n in SPACE_ORDER if n in spaces] + sorted(set(spaces) - set(SPACE_ORDER))
    return {n: spaces[n] for n in names}


def format_table(spaces: dict[str, dict[str, float]]) -> str:
    """A plain-text table: one row per space, one column per metric."""
    metrics = ("p@5", "p@10", "ndcg@10", "map")
    lines = [f"{'space':<8}" + "".join(f"{m:>9}" for m in metrics)]
    for name, values in ordered(spaces).items():
        lines.append(f"{name:<8}" + "".join(f"{values.get(m, float('nan')):>9.3f}" for m in metrics))
    return "\n".join(lines)


def _store_in_manifest(settings: Settings, collection: str, result: dict[str, Any]) -> None:
    if not (artifact_dir(settings, collection) / MANIFEST).is_file():
        return  # a collection built elsewhere (a shared server): nothing local to update
    evaluation = {k: v for k, v in result.items() if k != "collection"}
    update_manifest(settings, collection, lambda manifest: manifest.update(evaluation=evaluation))
