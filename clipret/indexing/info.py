"""What the serving index is: collection, profile, clips per genre, vector sizes, build time."""

from __future__ import annotations

from typing import Any

from clipret.config import Settings
from clipret.embedding.artifacts import MANIFEST, artifact_dir, read_manifest
from clipret.store.groups import group_of


def index_info(store, settings: Settings, alias: str | None = None) -> dict[str, Any]:
    """A summary of the collection `alias` serves (IndexNotFound when none)."""
    alias = alias or settings.collection
    collection = store.resolve(alias)
    genres: dict[str, int] = {}
    groups: dict[str, int] = {}
    for payload in store.all_payloads(collection):
        genre = str(payload.get("genre", ""))
        genres[genre] = genres.get(genre, 0) + 1
        group = group_of(payload, str(payload.get("clip_id", "")))
        groups[group] = groups.get(group, 0) + 1
    info: dict[str, Any] = {"alias": alias, "collection": collection, "n_clips": sum(genres.values()),
                            "genres": dict(sorted(genres.items())),
                            "collections": store.collections(prefix=f"{alias}_"),
                            "store": getattr(store, "location", None),
                            "versions": {"songs_with_versions": sum(n > 1 for n in groups.values()),
                                         "clips_in_them": sum(n for n in groups.values() if n > 1)}}
    if (artifact_dir(settings, collection) / MANIFEST).is_file():
        manifest = read_manifest(settings, collection)
        info.update({key: manifest.get(key) for key in ("profile", "vector_sizes", "created_utc", "timings")})
        info["training"] = {k: manifest.get("training", {}).get(k)
                            for k in ("epochs", "modality_dropout", "seed", "final_loss")}
        info["kmeans_k"] = manifest.get("kmeans", {}).get("k")
        info["added"] = len(manifest.get("added", []))
        fused = manifest.get("evaluation", {}).get("spaces", {})
        info["evaluation_p@10"] = {name: round(m.get("p@10", 0.0), 4) for name, m in fused.items()}
        info["versions"]["chromaprint"] = manifest.get("versions", {}).get("chromaprint", "not recorded")
    return info


def format_info(info: dict[str, Any]) -> str:
    lines = [f"alias {info['alias']} → {info['collection']}  ({info['n_clips']} clips)"]
    for key in ("store", "profile", "created_utc", "vector_sizes", "training", "kmeans_k", "evaluation_p@10",
                "versions"):
        if info.get(key) is not None:
            lines.append(f"{key}: {info[key]}")
    lines.append("genres: " + ", ".join(f"{g} {n}" for g, n in info["genres"].items()))
    lines.append("collections kept: " + ", ".join(info["collections"]))
    return "\n".join(lines)
