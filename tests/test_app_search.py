"""The search page (AppTest) on the tiny index: links reproduce searches, filters hold, errors are clear."""

from __future__ import annotations

import pytest
from _app_index import open_page, texts, use_data_dir

from clipret.config import Settings
from clipret.errors import UnsupportedURL
from clipret.search.engine import SearchEngine
from clipret.sources.urls import validate_youtube_url
from clipret.ui.resources import shared_store

pytestmark = pytest.mark.slow  # the session's tiny index takes a minute or more to build


@pytest.fixture
def app_env(index_dir, monkeypatch):
    use_data_dir(monkeypatch, index_dir)
    return index_dir


@pytest.fixture
def engine(app_env):
    """The engine the app itself uses (the embedded store admits one client per process)."""
    settings = Settings.from_env()
    return SearchEngine(settings, store=shared_store(settings))


def result_titles(at) -> list[str]:
    """Titles of the result cards, in rank order ("**3. Title**")."""
    return [t.split(". ", 1)[1].rstrip("*") for t in texts(at.markdown) if t.startswith("**") and ". " in t
            and t[2].isdigit()]


def first_clip(engine, genre: str) -> dict:
    return next(p for p in engine.clips() if p["genre"] == genre)


def test_a_link_reproduces_the_search(engine):
    query = first_clip(engine, "metal")
    params = {"clip": query["clip_id"], "k": "4", "space": "raw"}
    at = open_page(params=params)
    assert not at.exception
    expected = [r.title for r in engine.search_by_clip(query["clip_id"], k=4, space="raw")]
    assert result_titles(at) == expected
    assert len(expected) == 4
    assert at.query_params == params  # the page keeps the state it was given
    assert at.selectbox(key="search.clip").value == query["clip_id"]
    assert at.radio(key="search.space").value == "raw"


def test_k_results_honour_the_genre_filter(engine):
    query = first_clip(engine, "punk")
    at = open_page()
    at.selectbox(key="search.clip").select(query["clip_id"])
    at.slider(key="search.k").set_value(3)
    at.multiselect(key="search.genres").select("punk").select("metal")
    at.run()
    assert not at.exception
    titles = result_titles(at)
    by_title = {p["title"]: p["genre"] for p in engine.clips()}
    assert len(titles) == 3 and {by_title[t] for t in titles} <= {"punk", "metal"}
    assert query["title"] not in titles  # the query is not its own result
    # the URL now holds the whole state, so the address bar is the share link
    assert at.query_params["clip"] == query["clip_id"]
    assert at.query_params["k"] == "3" and at.query_params["genres"] == "punk,metal"


def test_modality_weights_from_the_link(engine):
    query = first_clip(engine, "soul")
    at = open_page(params={"clip": query["clip_id"], "k": "5", "weights": "audio:1,video:0,lyrics:0"})
    assert not at.exception
    weights = {"audio": 1.0, "video": 0.0, "lyrics": 0.0}
    expected = engine.search_by_clip(query["clip_id"], k=5, weights=weights)
    assert result_titles(at) == [r.title for r in expected]
    assert at.radio(key="search.mode").value == "Modality weights"
    assert at.slider(key="search.w_audio").value == 1.0
    assert "Top 5 by weighted modalities" in texts(at.subheader)


def test_every_result_shows_its_modality_breakdown(engine):
    query = first_clip(engine, "country")
    at = open_page(params={"clip": query["clip_id"], "k": "2"})
    bars = [p.text for p in at.get("progress")]
    modalities = ("audio", "video", "lyrics")
    assert len(bars) == 2 * len(modalities)
    assert [b.split(":")[0] for b in bars[:3]] == list(modalities)


def test_a_non_youtube_url_says_what_is_wrong(app_env):
    bad = "https://vimeo.com/76979871"
    with pytest.raises(UnsupportedURL) as expected:
        validate_youtube_url(bad)
    at = open_page(params={"url": bad})
    assert not at.exception
    assert at.radio(key="search.source").value == "YouTube URL"
    errors = texts(at.error)
    assert len(errors) == 1 and str(expected.value) in errors[0]
    assert "Not a YouTube video URL" in errors[0]


def test_a_stale_clip_link_is_one_clear_error(app_env):
    at = open_page(params={"clip": "no-such-clip"})
    assert not at.exception
    assert any("not in this index" in e for e in texts(at.error))


def test_share_link_uses_the_public_url(engine, monkeypatch):
    monkeypatch.setenv("CLIPRET_PUBLIC_URL", "https://clipret.example.org")
    query = first_clip(engine, "blues-jazz")
    at = open_page(params={"clip": query["clip_id"], "k": "3"})
    codes = [c.value for c in at.code]
    assert f"https://clipret.example.org/?clip={query['clip_id']}&k=3" in codes


@pytest.mark.slow
def test_an_uploaded_copy_of_a_clip_finds_that_clip_first(engine):
    """Upload → decode → extract → embed with the index's models: a collection clip's own file
    (one without lyrics, so nothing is lost) must come back as the top hit, at cosine ≈ 1."""
    clip = next(p for p in engine.clips() if not p["has_lyrics"])
    data = engine.settings.media_file(clip["media_path"]).read_bytes()
    at = open_page(params={"k": "3"})
    at.radio(key="search.source").set_value("Upload a file").run()
    at.file_uploader(key="search.upload").upload("query.mp4", data, "video/mp4")
    at.run(timeout=300)
    assert not at.exception and not at.error
    assert [(s.label, s.state) for s in at.status] == [("Embedded “query.mp4”", "complete")]
    steps = texts(at.status[0].markdown)
    assert steps[0] == "Loading the index's models" and steps[-1] == "Embedding into the index's spaces"
    titles = result_titles(at)
    assert len(titles) == 3 and titles[0] == clip["title"]
    top_score = next(c for c in texts(at.caption) if " · score " in c)
    assert float(top_score.rsplit("score ", 1)[1]) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_an_unreadable_upload_is_one_clear_error(app_env):
    at = open_page()
    at.radio(key="search.source").set_value("Upload a file").run()
    at.file_uploader(key="search.upload").upload("song.mp4", b"this is not a video", "video/mp4")
    at.run(timeout=300)
    assert not at.exception
    assert [(s.label, s.state) for s in at.status] == [("The file could not be read", "error")]
    errors = texts(at.error)
    assert len(errors) == 1 and errors[0].startswith("**The file could not be read.**")
    assert not result_titles(at)


def test_a_description_link_reproduces_the_search_and_says_what_matched(engine):
    text = "fast drums and a grand piano, songs about the highway"
    at = open_page(params={"q": text, "k": "4"})
    assert not at.exception and not at.error
    assert at.radio(key="search.source").value == "Describe it"
    assert at.text_input(key="search.q").value == text
    assert result_titles(at) == [r.title for r in engine.search_by_text(text, k=4)]
    shown = texts(at.markdown)
    assert "- “drums” → audio: drums, i.e. high percussive_energy_mean (1.00)" in shown
    assert any(c.startswith("Reaches audio, video, lyrics. Only the 9 of 18 clips with lyrics")
               for c in texts(at.caption))
    assert "Top 4 by the modalities the words reach" in texts(at.subheader)
    assert at.query_params == {"q": text, "k": "4"}


def test_while_the_query_workers_warm_the_upload_tab_says_the_first_upload_is_slower(engine):
    from clipret.runtime.query_pool import shared_pool
    from clipret.ui.search_ui import UPLOAD

    shared_pool().close()  # a fresh pool, as right after the app's start
    engine.warm_up()  # what opening the app does: both workers start warming
    at = open_page()
    at.radio(key="search.source").set_value(UPLOAD).run()
    notices = [c for c in texts(at.caption) if c.startswith("⏳ Loading the models that read new videos")]
    assert len(notices) == 1 and "of 2 ready" in notices[0]  # warming takes seconds; this run, a fraction
    engine.warm_up(wait=True)
    at.run()
    assert not [c for c in texts(at.caption) if "Loading the models" in c]  # warm: the notice has gone
