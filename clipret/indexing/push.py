"""Push a trained index to Qdrant: fill a new collection, then move the alias to it in one call."""

from __future__ import annotations

import json
import shutil

import numpy as np

from clipret.config import Settings
from clipret.errors import ClipretError, IndexNotFound
from clipret.index import MANIFEST, artifact_dir, read_manifest

KEEP_COLLECTIONS = 2  # the serving collection and the one before it (to roll back by hand)


def latest_trained(settings: Settings, alias: str) -> str:
    """The newest `<alias>_<timestamp>` artifact folder with a manifest."""
    root = settings.models_dir
    found = root.glob(f"{alias}_*") if root.is_dir() else []
    names = sorted(p.name for p in found if (p / MANIFEST).is_file())
    if not names:
        raise IndexNotFound(f"No trained index for '{alias}' in {root}: run `python -m indexer train` first.")
    return names[-1]


def stored_points(settings: Settings, collection: str):
    """The ClipPoints of a trained collection, from its artifacts."""
    from clipret.store import ClipPoint

    directory = artifact_dir(settings, collection)
    payloads = json.loads((directory / "payloads.json").read_text(encoding="utf-8"))
    with np.load(directory / "embeddings.npz") as arrays:
        clip_ids = [str(c) for c in arrays["clip_ids"]]
        vectors = {name: arrays[name] for name in arrays.files if name != "clip_ids"}
    for i, (clip_id, payload) in enumerate(zip(clip_ids, payloads, strict=True)):
        yield ClipPoint(clip_id, {name: v[i] for name, v in vectors.items()}, payload)


def push_index(store, settings: Settings, collection: str | None = None, alias: str | None = None,
               progress: bool = True) -> str:
    """Fill `collection` (default: the newest trained one) and point `alias` at it; return its name.

    The alias moves only after every point is stored. On any failure before that, the new
    collection is deleted and the alias stays where it was.
    """
    from tqdm import tqdm

    alias = alias or settings.collection
    collection = collection or latest_trained(settings, alias)
    manifest = read_manifest(settings, collection)
    if collection in store.collections():  # a killed push's leftover: never served, so refill it
        if store.serving_collection(alias) == collection:
            raise ClipretError(f"'{alias}' already serves {collection}.")
        store.delete_collection(collection)
    store.create_collection(collection, manifest["vector_sizes"])
    try:
        points = tqdm(stored_points(settings, collection), total=manifest["n_clips"], desc="push",
                      unit="clip", disable=not progress)
        written = store.upsert(collection, points)
        if written != manifest["n_clips"]:
            raise IndexNotFound(f"{collection}: stored {written} of {manifest['n_clips']} clips; "
                                "the artifacts are incomplete, train again.")
    except BaseException:
        _drop_quietly(store, collection)
        raise
    store.swap_alias(alias, collection)
    prune_builds(store, settings, alias)
    return collection


def prune_builds(store, settings: Settings, alias: str, keep: int = KEEP_COLLECTIONS) -> list[str]:
    """Drop all but the newest `keep` collections of `alias`; then the artifacts of every older build
    that has no collection (dropped now, or a failed build's leftovers)."""
    dropped = store.prune(alias, keep=keep)
    kept = store.collections(prefix=f"{alias}_")
    root = settings.models_dir
    for folder in sorted(root.glob(f"{alias}_*")) if kept and root.is_dir() else []:
        if folder.is_dir() and folder.name not in kept and folder.name < kept[-1]:
            shutil.rmtree(folder, ignore_errors=True)
    return dropped


def _drop_quietly(store, collection: str) -> None:
    try:
        store.delete_collection(collection)
    except Exception:  # noqa: BLE001 - the original failure is the one to report
        pass
