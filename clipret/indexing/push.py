"""Push a trained index to Qdrant: fill a new collection, then move the alias to it in one call; or copy
the embedded store's serving collection to a Qdrant server (`indexer push --to-server`)."""

from __future__ import annotations

import json
import shutil

import numpy as np

from clipret.config import Settings
from clipret.embedding.artifacts import MANIFEST, artifact_dir, read_manifest
from clipret.errors import ClipretError, IndexNotFound

KEEP_COLLECTIONS = 2  # the serving collection and the one before it (to roll back by hand)


def latest_trained(settings: Settings, alias: str) -> str:
    """The newest `<alias>_<timestamp>` artifact folder with a manifest."""
    root = settings.models_dir
    found = root.glob(f"{alias}_*") if root.is_dir() else []
    names = sorted(p.name for p in found if (p / MANIFEST).is_file())
    if not names:
        raise IndexNotFound(f"No trained index for '{alias}' in {root}: run `clipret train` first.")
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
    with store.writing(f"push {collection}"):  # one write: an add waiting meanwhile then sees the new alias
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


def push_to_server(source, target, alias: str, progress: bool = True) -> tuple[str, int]:
    """Copy the collection `alias` serves in `source` (the embedded store) into `target` (a server's
    ClipStore) under the same name, with every named vector and payload, then point `alias` there in one
    call and keep the server's last builds. Returns (collection, clips copied)."""
    from tqdm import tqdm

    from clipret.store import ClipPoint

    collection = source.resolve(alias)
    expected = source.count(collection)
    if collection in target.collections():  # an earlier copy: the server keeps no half-copied build
        if target.serving_collection(alias) == collection and target.count(collection) == expected:
            return collection, expected
        if target.serving_collection(alias) == collection:
            raise ClipretError(f"'{alias}' on the server serves {collection}, which differs from the embedded "
                               "one: rebuild with a new name (clipret build) before copying it.")
        target.delete_collection(collection)
    target.create_collection(collection, source.vector_sizes(collection))
    try:
        clips = (ClipPoint(h.clip_id, h.vectors or {}, h.payload)
                 for h in source.iter_clips(collection, with_vectors=True))
        written = target.upsert(collection, tqdm(clips, total=expected, desc="copy", unit="clip",
                                                 disable=not progress))
        if written != expected or target.count(collection) != expected:
            raise ClipretError(f"{collection}: the server stored {target.count(collection)} of {expected} "
                               "clips; run the command again.")
    except BaseException:
        _drop_quietly(target, collection)
        raise
    target.swap_alias(alias, collection)
    target.prune(alias, keep=KEEP_COLLECTIONS)
    return collection, written


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
