"""Resources shared by every session (settings, store, search engine) and the pages' guard messages."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from typing import Any

import streamlit as st

from clipret.config import Settings
from clipret.errors import ClipretError, IndexNotFound, ModelUnavailable, StoreUnavailable
from clipret.search.engine import SearchEngine

BUILD_COMMAND = "clipret build --from demo"
APP_LOCK_TIMEOUT_S = 5.0  # a page waits this long for another process converting an old index


def settings() -> Settings:
    """Read on every run (cheap), so a changed environment is seen without a restart."""
    return Settings.from_env()


def store_settings(s: Settings) -> Settings:
    """Only what the store reads, so one embedded folder gets one client whatever else differs."""
    return Settings(data_dir=s.data_dir, qdrant_url=s.qdrant_url, qdrant_api_key=s.qdrant_api_key)


@st.cache_resource(show_spinner=False)
def _store(settings: Settings):
    from clipret.store import ClipStore

    # A replica: the app never holds the embedded folder's lock, so the indexer can write meanwhile.
    return ClipStore(settings, lock_timeout_s=APP_LOCK_TIMEOUT_S, replica=True)


def shared_store(s: Settings):
    """The process's one ClipStore for these settings' store."""
    return _store(store_settings(s))


@st.cache_resource(show_spinner="Opening the index…", max_entries=4)
def _engine(settings: Settings, collection: str) -> SearchEngine:
    # One engine per built collection: after an alias swap the next run gets the new one.
    engine = SearchEngine(settings, store=shared_store(settings), collection=collection)
    engine.warm_up()  # uploads and downloads are extracted in query workers (never in this server)
    return engine


def engine_or_stop() -> SearchEngine:
    """The engine of the serving index; otherwise say how to build one (or why the store is out of
    reach, in one sentence) and stop the page."""
    s = settings()
    try:
        store = shared_store(s)
        engine = _engine(replace(s, public_url=None), store.resolve(s.collection))
        engine.manifest  # noqa: B018 - a collection without artifacts is no index either
        return engine
    except IndexNotFound:
        no_index_message(s)
    except StoreUnavailable as exc:
        st.error(str(exc))
    st.stop()


def no_index_message(s: Settings) -> None:
    st.info(f"There is no index to show yet (data folder: `{s.data_dir}`). Build the demo index — "
            "synthetic clips of the nine genres, a few minutes on a CPU — then reload this page:")
    st.code(BUILD_COMMAND, language="bash")
    st.caption("`make run` does the same before starting the app; `clipret --help` lists "
               "the other sources (a folder of videos, YouTube playlists).")
    # Where no shell is at hand (Streamlit Community Cloud runs no entrypoint), build it from here.
    missing = demo_build_missing(s)
    if missing:
        st.error(missing)
    elif st.button("Build the demo index now", key="build_demo", type="primary"):
        build_demo_index(s)


def demo_build_missing(s: Settings) -> str | None:
    """One sentence saying what this installation lacks to build the demo index, or None. The aisfx
    weights come from requirements-nodeps.txt (`pip install --no-deps`), which a host that installs
    only requirements.txt (Streamlit Community Cloud) never runs."""
    from clipret.features.learned_audio import checkpoint_path
    from clipret.features.profiles import layout

    try:
        if "aisfx" in {extractor for _, extractor in layout(s.profile)}:
            checkpoint_path()
    except ModelUnavailable:
        return ("The demo index cannot be built here: the portable profile's aisfx audio weights are not "
                "installed (they need `pip install --no-deps -r requirements-nodeps.txt`, which Streamlit "
                "Community Cloud does not run).")
    except ClipretError as exc:
        return str(exc)
    return None


@st.cache_resource
def _build_lock() -> threading.Lock:
    return threading.Lock()  # one build per app process, whichever session asks


def demo_build_command(s: Settings) -> list[str]:
    return [sys.executable, "-m", "clipret", "--data-dir", str(s.data_dir), "--quiet", "ensure-demo"]


def build_demo_index(s: Settings) -> None:
    """Run `clipret ensure-demo` (a child process, so a crash cannot take the app down),
    showing its output; rerun the page when it is done."""
    lock = _build_lock()
    if not lock.acquire(blocking=False):
        st.warning("Another session is building the demo index: reload this page in a few minutes.")
        return
    try:
        command = demo_build_command(s)
        with st.status("Building the demo index (a few minutes)…", expanded=True) as status:
            done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
            st.code((done.stdout + done.stderr)[-3000:] or "(no output)", language="text")
            if done.returncode != 0:
                status.update(label="The demo index could not be built", state="error")
                return
            status.update(label="The demo index is built", state="complete")
    finally:
        lock.release()
    st.rerun()


def clip_payloads(engine: SearchEngine) -> list[dict[str, Any]]:
    """Every clip's payload of the engine's collection, in clip-id order (cached per store and build)."""
    s = engine.settings
    return _payloads(engine, str(s.data_dir), s.qdrant_url or "", engine.collection)


@st.cache_data(show_spinner=False, max_entries=8)
def _payloads(_engine: SearchEngine, data_dir: str, qdrant_url: str, collection: str) -> list[dict[str, Any]]:
    return _engine.clips()  # the other arguments are the cache key
