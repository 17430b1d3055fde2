"""The latent-map page's widgets: which map, colours, genres; and what a chosen point opens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from clipret.ui.share import COLOURS, MapState
from clipret.ui.views import MAP_LABELS

PREFIX = "map"
SAMPLES_PER_CLUSTER = 4


def widget_values(state: MapState, maps: Sequence[str], genres: Sequence[str]) -> dict[str, Any]:
    return {"map": state.map if state.map in maps else maps[0], "color": state.color,
            "genres": [g for g in state.genres if g in genres]}


def map_controls(maps: Sequence[str], genres: Sequence[str]) -> MapState:
    left, middle, right = st.columns([2, 1, 3])
    chosen = left.selectbox("Map", maps, format_func=MAP_LABELS.get, key=f"{PREFIX}.map")
    color = middle.radio("Colour by", COLOURS, key=f"{PREFIX}.color", horizontal=True)
    kept = right.multiselect("Genres", genres, key=f"{PREFIX}.genres", placeholder="All genres")
    return MapState(map=chosen, color=color, genres=tuple(kept))


def chosen_clip(event) -> str | None:
    """The clip id of the point selected on the map (customdata carries it), if any."""
    points = (getattr(event, "selection", None) or {}).get("points", []) if event else []
    for point in points:
        custom = point.get("customdata")
        if custom:
            return str(custom[0] if isinstance(custom, (list, tuple)) else custom)
    return None


def cluster_gallery(clusters: list[dict[str, Any]]) -> None:
    """Per cluster: size, main genre, and its most central clips, each opening its search."""
    for cluster in clusters:
        n = cluster["n"]
        st.markdown(f"**Cluster {cluster['cluster']}** · {n} clip{'s' if n != 1 else ''} · "
                    f"{cluster['genre_share']:.0%} {cluster['genre']}")
        columns = st.columns(SAMPLES_PER_CLUSTER)
        for column, row in zip(columns, cluster["samples"].itertuples(), strict=False):
            with column:
                st.page_link("pages/1_Search.py", label=f"{row.title} · {row.genre}",
                             icon=":material/search:", query_params={"clip": row.clip_id})
