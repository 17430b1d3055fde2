"""The baselines page's widgets: one query clip searched in every space, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from clipret.search.engine import SearchResult
from clipret.ui import views
from clipret.ui.share import K_MAX, K_MIN, BaselinesState

PREFIX = "baselines"
RESULT_COLUMNS = {"rank": st.column_config.NumberColumn("#", width="small"),
                  "same genre": st.column_config.TextColumn("✓", width="small", help="same genre")}
SPACE_NOTES = {"fused": "autoencoder latent (256-d)", "raw": "standardised features, concatenated",
               "pca": "PCA of raw (256 components)"}


def widget_values(state: BaselinesState, clip_ids: Sequence[str]) -> dict[str, Any]:
    return {"clip": state.clip if state.clip in clip_ids else clip_ids[0], "k": state.k}


def query_controls(labels: dict[str, str]) -> BaselinesState:
    left, right = st.columns([3, 1])
    clip = left.selectbox("Query clip", list(labels), format_func=lambda c: labels.get(c, c),
                          key=f"{PREFIX}.clip")
    k = right.number_input("k", K_MIN, K_MAX, step=1, key=f"{PREFIX}.k")
    return BaselinesState(clip=clip, k=int(k))


def side_by_side(lists: dict[str, Sequence[SearchResult]], query_genre: str) -> None:
    """One column per space: the ranked titles, same-genre hits marked, and this query's precision."""
    for column, (space, results) in zip(st.columns(len(lists)), lists.items(), strict=False):
        with column:
            st.subheader(space)
            share = views.same_genre_share(results, query_genre)
            precision = f" · {share:.0%} same genre" if share is not None else ""
            st.caption(f"{SPACE_NOTES.get(space, '')}{precision}")
            st.dataframe(views.results_frame(results, query_genre), hide_index=True, key=f"{PREFIX}.{space}",
                         column_config=RESULT_COLUMNS)
