"""Result cards: title, genre, score, the song's other versions, why it matched (a bar per modality), and
the clip to play."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from clipret.search.engine import SearchResult, Version
from clipret.search.format import versions_label
from clipret.ui.resources import settings

COLUMNS = 3


def result_grid(results: Sequence[SearchResult], query_genre: str = "", show_players: bool = True,
                link_params: Mapping[str, str] | None = None) -> None:
    """Cards in rows of COLUMNS; each card's "More like this" keeps `link_params` (k, genres, ranking)."""
    for start in range(0, len(results), COLUMNS):
        row = results[start:start + COLUMNS]
        for rank, (column, result) in enumerate(zip(st.columns(COLUMNS), row, strict=False), start + 1):
            with column:
                result_card(rank, result, query_genre, show_players, link_params)


def result_card(rank: int, result: SearchResult, query_genre: str = "", show_players: bool = True,
                link_params: Mapping[str, str] | None = None) -> None:
    with st.container(border=True):
        clip_media(result.payload, show_players)
        mark = " ✓" if query_genre and result.genre == query_genre else ""
        st.markdown(f"**{rank}. {result.title}**")
        st.caption(f"{result.genre}{mark} · score {result.score:.3f}")
        if result.versions:
            other_versions(result.versions)
        similarity_bars(result.modality_scores)
        st.page_link("pages/1_Search.py", label="More like this", icon=":material/search:",
                     query_params={**(link_params or {}), "clip": result.clip_id})


def other_versions(versions: Sequence[Version]) -> None:
    """ "+2 versions", opening to the song's other versions this query found, best first."""
    with st.expander(versions_label(len(versions))):
        for version in versions:
            st.markdown(f"- {version.title} · score {version.score:.3f}")


def similarity_bars(scores: Mapping[str, float | None]) -> None:
    """One bar per modality: the cosine between the query's and this clip's modality vectors.
    Negative cosines draw an empty bar; the number is always shown."""
    for modality, value in scores.items():
        if value is None:
            st.progress(0.0, text=f"{modality}: missing")
        else:
            st.progress(min(max(value, 0.0), 1.0), text=f"{modality}: {value:+.2f}")


def clip_media(payload: Mapping[str, Any], show_player: bool = True) -> None:
    """A YouTube clip: its player (or thumbnail); a local clip: the file itself."""
    youtube_id = payload.get("youtube_id") or ""
    if youtube_id:
        if show_player:
            st.video(f"https://www.youtube.com/watch?v={youtube_id}")
        else:
            st.image(payload.get("thumbnail_url") or f"https://i.ytimg.com/vi/{youtube_id}/hqdefault.jpg")
        return
    media = settings().media_file(str(payload.get("media_path") or "")) if payload.get("media_path") else Path()
    if show_player and media.is_file():
        st.video(str(media))
    elif payload.get("thumbnail_url"):
        st.image(payload["thumbnail_url"])
    elif show_player:
        st.caption("(media file not available on this server)")
