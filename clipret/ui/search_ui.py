"""The search page's widgets and steps; each returns plain values for the page to pass on."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from clipret.errors import (
    ClipNotFound,
    ClipretError,
    DownloadError,
    MediaError,
    ModelUnavailable,
    UnsupportedURL,
)
from clipret.search.engine import QueryClip, SearchEngine
from clipret.search.spaces import SPACES
from clipret.search.text import LANGUAGES, MAX_CHARS, InvalidDescription
from clipret.store.groups import ROLE_FIELD
from clipret.ui.query_cache import SharedLRU
from clipret.ui.share import K_MAX, K_MIN, SearchState

PREFIX = "search"
SOURCES = ("Collection clip", "Describe it", "YouTube URL", "Upload a file")
CLIP, TEXT, URL, UPLOAD = SOURCES
MODES = ("One space", "Modality weights")
UPLOAD_TYPES = ["mp4", "webm", "mkv", "mov", "avi", "m4v", "mp3", "m4a", "wav", "ogg", "flac"]
VERSIONS_HELP = ("Off: one card per song, its other versions (lyric video, live cut, re-upload) listed on it, "
                 "and none of the query's own. On: every clip on its own card.")
SPACE_HELP = ("fused: the autoencoder's 256-d latent space (the paper's method); raw: all standardised "
              "features concatenated; pca: a 256-d PCA of raw (the baselines).")
FAILURES = [  # the first matching class names the failure; the exception's text says what to do
    (UnsupportedURL, "Not a YouTube video URL"),
    (InvalidDescription, "Nothing to search by"),
    (DownloadError, "The video could not be downloaded"),
    (MediaError, "The file could not be read"),
    (ModelUnavailable, "The models could not be loaded"),
    (ClipNotFound, "That clip is not in this index"),
    (ClipretError, "The search failed"),
]
_CACHED_QUERIES = 64
# The largest upload, in MB: the same as server.maxUploadSize in .streamlit/config.toml (a test keeps
# them equal). Streamlit enforces that in the browser; this check holds on the server whatever the
# client sends, before the bytes are written to disk or decoded.
MAX_UPLOAD_MB = 200


def widget_values(state: SearchState, clip_ids: Sequence[str], genres: Sequence[str],
                  modalities: Sequence[str]) -> dict[str, Any]:
    """What the widgets show for `state` (values the widgets cannot take are left out)."""
    values: dict[str, Any] = {
        "clip": state.clip if state.clip in clip_ids else None, "url": state.url, "q": state.q, "k": state.k,
        "genres": [g for g in state.genres if g in genres], "space": state.space,
        "mode": MODES[1] if state.weights else MODES[0], "all_versions": state.all_versions}
    for m in modalities:
        values[f"w_{m}"] = float(state.weights_dict.get(m, 0.0)) if state.weights else 1.0
    if state.url or state.clip or state.q:
        values["source"] = URL if state.url else CLIP if state.clip else TEXT
    return values


def ranking_controls(genres: Sequence[str], modalities: Sequence[str], describing: bool = False) -> dict[str, Any]:
    """Sidebar: k, genre filter, and one space or per-modality weights → SearchState fields. A description
    (`describing`) has no vector in the spaces: it always ranks by the modalities its words reach."""
    with st.sidebar:
        st.header("Results")
        k = st.slider("How many results (k)", K_MIN, K_MAX, key=f"{PREFIX}.k")
        chosen = st.multiselect("Only these genres", genres, key=f"{PREFIX}.genres",
                                placeholder="All genres")
        mode = MODES[1] if describing else st.radio("Rank by", MODES, key=f"{PREFIX}.mode", horizontal=True)
        space, weights = SearchState.space, ()
        if mode == MODES[0]:
            space = st.radio("Space", SPACES, key=f"{PREFIX}.space", horizontal=True, help=SPACE_HELP)
        else:
            st.caption("score = Σ w · cosine per modality (weights normalised to sum 1)"
                       + (", over the modalities the words reach" if describing else ""))
            weights = tuple((m, float(st.slider(m, 0.0, 1.0, step=0.05, key=f"{PREFIX}.w_{m}")))
                            for m in modalities)
            if not any(w for _, w in weights):
                st.warning("Give at least one modality some weight; until then "
                           + ("every modality the words reach counts the same." if describing
                              else "the fused space ranks."))
                weights = ()
            elif describing and all(w == 1.0 for _, w in weights):
                weights = ()  # the default: the link stays short
        all_versions = st.toggle("Show every version", key=f"{PREFIX}.all_versions", help=VERSIONS_HELP)
        show_players = st.toggle("Show players", value=True, key=f"{PREFIX}.players")
    return {"k": int(k), "genres": tuple(chosen), "space": space, "weights": weights,
            "all_versions": bool(all_versions), "show_players": show_players}


def query_input(labels: dict[str, str]) -> tuple[str, Any]:
    """The query: ("clip", id | None), ("text", words), ("url", text) or ("upload", UploadedFile | None)."""
    source = st.radio("Query by", SOURCES, key=f"{PREFIX}.source", horizontal=True)
    if source == CLIP:
        clip = st.selectbox("A clip of the collection", list(labels), format_func=lambda c: labels.get(c, c),
                            index=None, key=f"{PREFIX}.clip", placeholder="Type to search the titles…")
        return "clip", clip
    if source == TEXT:
        text = st.text_input("Describe the song or its video", key=f"{PREFIX}.q", max_chars=MAX_CHARS,
                             placeholder="a slow piano ballad about leaving home",
                             help=f"What it is about reaches the lyrics; what is seen or heard reaches the "
                                  f"picture and sound through the names the models give them. {LANGUAGES} "
                                  "works best.")
        return "text", " ".join(text.split())
    if source == URL:
        url = st.text_input("A YouTube video URL", key=f"{PREFIX}.url",
                            placeholder="https://www.youtube.com/watch?v=…")
        return "url", url.strip()
    upload = st.file_uploader("A video (or audio) file", type=UPLOAD_TYPES, key=f"{PREFIX}.upload")
    st.caption("An uploaded file cannot travel in a link: the share link keeps k, genres and the ranking.")
    return "upload", upload


def warming_notice(engine: SearchEngine) -> None:
    """While the query workers still load their models (for a few seconds after the app starts), say
    that the first file, URL or description will take longer than the next ones; the notice checks again
    every second and goes once they are warm."""
    if _warming(engine):
        _refreshing_notice(engine)


def _warming(engine: SearchEngine) -> bool:
    warm, started = engine.workers_status()
    return warm < started


@st.fragment(run_every=1.0)
def _refreshing_notice(engine: SearchEngine) -> None:
    warm, started = engine.workers_status()
    if warm < started:
        st.caption(f"⏳ Loading the models that read new videos ({warm} of {started} ready): the first "
                   "upload, URL or description takes a little longer than the next ones.")


def upload_too_large(name: str, size_bytes: int, limit_mb: float = MAX_UPLOAD_MB) -> str | None:
    """One sentence when an upload is over the limit, else None."""
    if size_bytes <= limit_mb * 1024 * 1024:
        return None
    return (f"**The file is too large.** {name} is {size_bytes / 1024**2:.1f} MB and uploads are limited to "
            f"{limit_mb:g} MB: upload a shorter clip, or paste its YouTube URL.")


def failure_label(exc: ClipretError) -> str:
    return next(label for cls, label in FAILURES if isinstance(exc, cls))


def show_failure(exc: ClipretError) -> None:
    st.error(f"**{failure_label(exc)}.** {exc}")


@st.cache_resource(show_spinner=False)
def _query_cache() -> SharedLRU[tuple[str, str], QueryClip]:
    """Embedded URL and upload queries, shared by sessions: a shared link does not download again."""
    return SharedLRU(_CACHED_QUERIES)


def query_with_status(key: tuple[str, str], label: str, make: Callable[[Callable[[str], None]], QueryClip]
                      ) -> QueryClip | None:
    """Run a slow query (download → decode → extract → embed) with its steps shown; None on failure."""
    cache = _query_cache()
    cached = cache.get(key)
    if cached is not None:
        return cached
    failed = st.session_state.setdefault(f"{PREFIX}._failed", {})
    if key in failed:  # don't download again on every widget change; a new URL or upload retries
        show_failure(failed[key])
        return None
    with st.status(label, expanded=True) as status:
        try:
            query = make(status.write)
        except ClipretError as exc:
            status.update(label=failure_label(exc), state="error", expanded=False)
            failed[key] = exc
            show_failure(exc)
            return None
        status.update(label=f"Embedded “{query.title}”", state="complete", expanded=False)
    cache.put(key, query)
    return query


def resolve_query(engine: SearchEngine, kind: str, value: Any) -> QueryClip | None:
    """The QueryClip for the page's input, or None (nothing chosen yet, or a failure already shown)."""
    if not value:
        return None
    if kind == "clip":
        try:
            return engine.query_from_clip(value)
        except ClipretError as exc:
            show_failure(exc)
            return None
    if kind == "url":
        return query_with_status((engine.collection, value), "Fetching the video…",
                                 lambda step: engine.query_from_url(value, on_step=step))
    if kind == "text":
        return query_with_status((engine.collection, "text:" + value), "Reading the description…",
                                 lambda step: _embed_text(engine, value, step))
    too_large = upload_too_large(value.name, value.size, MAX_UPLOAD_MB)
    if too_large:
        st.error(too_large)
        return None
    data = value.getvalue()
    key = (engine.collection, hashlib.sha256(data).hexdigest())
    return query_with_status(key, f"Reading {value.name}…", lambda step: _embed_upload(engine, value.name,
                                                                                       data, step))


def _embed_text(engine: SearchEngine, text: str, step) -> QueryClip:
    step("Matching the words to the lyrics and to what the models can name")
    return engine.query_from_text(text)


def _embed_upload(engine: SearchEngine, name: str, data: bytes, step) -> QueryClip:
    with tempfile.TemporaryDirectory(prefix="clipret-upload-") as tmp:
        path = Path(tmp) / ("upload" + Path(name).suffix.lower())
        path.write_bytes(data)
        return engine.query_from_file(path, title=name, on_step=step, source="file")


def run_search(engine: SearchEngine, query: QueryClip, state: SearchState) -> list:
    """The results for `state`; a failure is shown (and means no results)."""
    try:
        return engine.search(query, state.k, state.genres, state.space, state.weights_dict or None,
                             collapse_versions=not state.all_versions)
    except ClipretError as exc:
        show_failure(exc)
        return []


def query_versions(engine: SearchEngine, query: QueryClip) -> list[dict[str, Any]]:
    """The payloads of the other versions of a collection clip's song; [] for any other query."""
    if not query.clip_id:
        return []
    try:
        return engine.versions_of(query.clip_id)
    except ClipretError:  # gone since the query was read (a rebuild): the search says so, not this list
        return []


def query_summary(query: QueryClip, show_player: bool, payloads: Sequence[dict[str, Any]] = (),
                  versions: Sequence[dict[str, Any]] = ()) -> None:
    if query.source == "text":
        text_summary(query, payloads)
        return
    from clipret.ui.cards import clip_media

    left, right = st.columns([1, 2])
    with left:
        clip_media(query.payload, show_player)
    with right:
        where = {"collection": "from the collection", "file": "uploaded file", "url": "from YouTube"}
        st.markdown(f"**Query:** {query.title}")
        st.caption(" · ".join(x for x in (query.genre, where.get(query.source, "")) if x))
        if versions:
            versions_list(versions)


def versions_list(versions: Sequence[dict[str, Any]]) -> None:
    """ "Versions of this clip": the other clips of its song, each a link to search by it."""
    with st.expander(f"Versions of this clip ({len(versions)})", icon=":material/library_music:"):
        for payload in versions:
            role = " (the song's main clip)" if payload.get(ROLE_FIELD) == "representative" else ""
            st.page_link("pages/1_Search.py", label=f"{payload.get('title', payload['clip_id'])}{role}",
                         query_params={"clip": payload["clip_id"]})


def text_summary(query: QueryClip, payloads: Sequence[dict[str, Any]]) -> None:
    """A description: the modalities it reached, and which words matched what."""
    from clipret.search.format import format_match

    st.markdown(f"**Query:** “{query.title}”")
    reached = ", ".join(query.reached)
    lyrics = ""
    if "lyrics" in query.reached:
        with_lyrics = sum(bool(p.get("has_lyrics")) for p in payloads)
        lyrics = f" Only the {with_lyrics} of {len(payloads)} clips with lyrics can match on lyrics."
    st.caption(f"Reaches {reached}.{lyrics}")
    with st.expander("What the words matched", expanded=False):
        for match in query.matches:
            st.markdown(f"- {format_match(match)}")
