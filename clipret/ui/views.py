"""Tables the pages show, shaped from payloads, results and the manifest (pandas only, no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from clipret.search.engine import SearchResult
from clipret.search.spaces import MODALITIES, SPACES
from clipret.ui.share import MAPS

MAP_LABELS = {
    "umap": "UMAP of the fused space",
    "tsne": "t-SNE of the fused space",
    "pca": "PCA of the fused space",
    "raw_pca": "PCA of the raw (concatenated) space",
    "pca_pca": "PCA of the pca baseline space",
}
METRICS = ("p@5", "p@10", "ndcg@10", "map")


def clip_labels(payloads: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """clip id → "title · genre", ordered by title (what a clip picker lists)."""
    rows = sorted(payloads, key=lambda p: (str(p.get("title", "")).lower(), p["clip_id"]))
    return {p["clip_id"]: f"{p.get('title', p['clip_id'])} · {p.get('genre', '?')}" for p in rows}


def genres_of(payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(p.get("genre", "")) for p in payloads if p.get("genre")})


def modalities_of(manifest: Mapping[str, Any]) -> list[str]:
    """The index's modalities in block order (the per-modality named vectors)."""
    return list(dict.fromkeys(b["modality"] for b in manifest.get("blocks", [])))


def available_maps(payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    return [m for m in MAPS if payloads and all(f"map_{m}" in p for p in payloads)]


def map_frame(payloads: Sequence[Mapping[str, Any]], map_name: str,
              genres: Sequence[str] = ()) -> pd.DataFrame:
    """One row per clip: clip_id, title, genre, cluster (as text, for discrete colours), x, y."""
    rows = [{"clip_id": p["clip_id"], "title": p.get("title", p["clip_id"]), "genre": p.get("genre", ""),
             "cluster": str(p.get("cluster", "")), "x": p[f"map_{map_name}"][0], "y": p[f"map_{map_name}"][1]}
            for p in payloads if not genres or p.get("genre") in genres]
    return pd.DataFrame(rows, columns=["clip_id", "title", "genre", "cluster", "x", "y"])


def cluster_samples(frame: pd.DataFrame, per_cluster: int = 4) -> list[dict[str, Any]]:
    """Per cluster: its size, main genre and share, and the clips nearest its centre on the map
    (the paper's Figure 2: what a cluster looks like)."""
    out = []
    for cluster, group in frame.groupby("cluster", sort=True):
        centre = group[["x", "y"]].mean()
        distance = ((group["x"] - centre["x"]) ** 2 + (group["y"] - centre["y"]) ** 2)
        genres = group["genre"].value_counts()
        out.append({"cluster": cluster, "n": len(group), "genre": genres.index[0],
                    "genre_share": float(genres.iloc[0] / len(group)),
                    "samples": group.loc[distance.sort_values(kind="stable").index[:per_cluster]]})
    return sorted(out, key=lambda c: _cluster_order(c["cluster"]))


def _cluster_order(label: str):
    return (0, int(label)) if label.lstrip("-").isdigit() else (1, label)


def results_frame(results: Sequence[SearchResult], query_genre: str = "") -> pd.DataFrame:
    """Ranked results as a table; `same genre` marks hits that share the query's genre."""
    rows = [{"rank": i + 1, "same genre": "✓" if query_genre and r.genre == query_genre else "—",
             "title": r.title, "genre": r.genre, "score": round(r.score, 3)}
            for i, r in enumerate(results)]
    return pd.DataFrame(rows, columns=["rank", "same genre", "title", "genre", "score"])


def same_genre_share(results: Sequence[SearchResult], query_genre: str) -> float | None:
    """Precision of this one query's list (None when the query has no genre or there are no results)."""
    if not query_genre or not results:
        return None
    return sum(r.genre == query_genre for r in results) / len(results)


def evaluation_frame(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """Spaces (fused, raw, pca, then modalities, then random) × metrics, from manifest["evaluation"]."""
    spaces = evaluation.get("spaces", {})
    known = [s for s in (*SPACES, *MODALITIES) if s in spaces]
    order = known + sorted(s for s in spaces if s not in known and s != "random")
    order += ["random"] if "random" in spaces else []
    rows = [{"space": s, **{m: spaces[s].get(m) for m in METRICS}} for s in order]
    return pd.DataFrame(rows, columns=["space", *METRICS]).set_index("space")


def per_genre_frame(evaluation: Mapping[str, Any], metric: str = "p@10") -> pd.DataFrame:
    """Genres × spaces, one metric (manifest["evaluation"]["per_genre"])."""
    per_genre = evaluation.get("per_genre", {})
    table = pd.DataFrame({g: {s: m.get(metric) for s, m in by_space.items()}
                          for g, by_space in per_genre.items()}).T
    if table.empty:
        return table
    columns = [c for c in evaluation_frame(evaluation).index if c in table.columns]
    return table[columns].sort_index()


def headline(evaluation: Mapping[str, Any], metric: str = "p@10") -> dict[str, float]:
    """{space: metric} for fused, raw, pca and random — the one line that says if the index works."""
    spaces = evaluation.get("spaces", {})
    return {s: float(spaces[s][metric]) for s in (*SPACES, "random") if s in spaces and metric in spaces[s]}


def genre_counts(manifest: Mapping[str, Any]) -> pd.DataFrame:
    counts = manifest.get("genres", {})
    return pd.DataFrame({"clips": counts}).rename_axis("genre").sort_index()


def blocks_frame(manifest: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(manifest.get("blocks", []), columns=["name", "modality", "dim"])


def inertia_frame(manifest: Mapping[str, Any]) -> pd.DataFrame:
    """The KMeans elbow: k → inertia, in k order."""
    inertias = manifest.get("kmeans", {}).get("inertias", {})
    rows = sorted((int(k), float(v)) for k, v in inertias.items())
    return pd.DataFrame(rows, columns=["k", "inertia"])


def versions_line(versions: Mapping[str, Any]) -> str:
    """The manifest's version-group summary in one sentence."""
    if versions.get("chromaprint") == "missing":
        return ("Versions of one song are not grouped: Chromaprint was not installed when this index was built "
                "(`apt-get install libchromaprint1`, then rebuild).")
    groups, clips = versions.get("groups", 0), versions.get("versions", 0)
    return (f"Versions: {groups} songs are in the collection more than once ({clips} clips); search shows each "
            f"song once. {versions.get('fingerprinted', 0)} clips have an audio fingerprint.")
