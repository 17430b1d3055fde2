"""The app in a real browser: Debian's Chromium driven by Playwright opens a share link, sees the
expected results, and photographs every page into artifacts/screenshots/."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from clipret.config import Settings
from clipret.search.engine import SearchEngine
from clipret.ui.resources import shared_store

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CHROMIUM = shutil.which("chromium")  # Debian's: `playwright install` cannot download browsers here

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed: "
                                 "apt-get install -y chromium")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, server: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not become healthy at {base} within {timeout_s:g} s")


@pytest.fixture(scope="module")
def server(index_dir, tmp_path_factory):
    """`streamlit run app.py` on a free port, over a copy of the index (the embedded store admits one
    process, and this test process may hold the original)."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    shutil.copytree(index_dir, data_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock"))
    with _streamlit(data_dir) as base:
        yield base


@contextlib.contextmanager
def _streamlit(data_dir: Path):
    """`streamlit run app.py` over `data_dir` for the block: its base URL."""
    port = _free_port()
    env = {**os.environ, "CLIPRET_DATA_DIR": str(data_dir)}
    # To a file, not a pipe nobody reads: a full pipe would block the server mid-test.
    log = (data_dir / "streamlit.log").open("w")
    for name in ("CLIPRET_COLLECTION", "QDRANT_URL", "CLIPRET_PUBLIC_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def expected(index_dir):
    """A query clip and its top 4 (fused), computed by the library on the original index."""
    settings = Settings(data_dir=index_dir)
    engine = SearchEngine(settings, store=shared_store(settings))
    query = engine.clips()[0]
    return query, [r.title for r in engine.search_by_clip(query["clip_id"], k=4)]


def _open(page, url: str, text: str, timeout_ms: int = 60_000) -> None:
    page.goto(url)
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    _wait_idle(page, timeout_ms)


def _wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Until the page's script run has finished (what Streamlit's own end-to-end tests wait for), so
    a click acts on the finished page, not on one still being drawn."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)


def _wait_text(page, text: str, timeout_ms: int, what: str) -> None:
    """Wait for `text`; on a timeout fail with what the page shows (and a screenshot), not a bare
    selector, so a failure in CI says where the page was."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "failure.png"), full_page=True)
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        shown = page.locator("body").inner_text()[:1500]
        pytest.fail(f"{what}: no {text!r} within {timeout_ms / 1000:g} s at "
                    f"{page.evaluate('window.location.href')} (script {state}); the page shows:\n{shown}")


def _shoot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Tables and charts show skeletons until their code has loaded; then give them a moment to draw.
    page.wait_for_function("!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_share_link_opens_the_same_results_and_every_page_renders(server, browser, expected):
    query, titles = expected
    # Tall: Streamlit scrolls an inner container, so a full-page shot sees only the viewport.
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    link = f"{server}/?clip={query['clip_id']}&k=4"
    _open(page, link, f"Query: {query['title']}")
    for rank, title in enumerate(titles, 1):
        page.get_by_text(f"{rank}. {title}", exact=True).wait_for(timeout=30_000)
    page.get_by_text("Share this view").click()
    page.get_by_text(link, exact=True).wait_for(timeout=10_000)  # the share box shows this very link
    shots = [_shoot(page, "1_search")]

    _open(page, f"{server}/map?color=cluster", "Clips per cluster")
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    shots.append(_shoot(page, "2_latent_map"))
    _open(page, f"{server}/baselines?clip={query['clip_id']}&k=5", "Evaluation")
    shots.append(_shoot(page, "3_baselines"))
    _open(page, f"{server}/index", "Clips per genre")
    shots.append(_shoot(page, "4_index"))
    assert all(p.stat().st_size > 10_000 for p in shots)
    page.close()


def test_more_like_this_follows_a_result(server, browser, expected):
    query, titles = expected
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, f"{server}/?clip={query['clip_id']}&k=4", f"1. {titles[0]}")
    # Dispatched on the link itself, not a click at its coordinates: a card whose player or image is still
    # loading moves its neighbours, and a click at a point could land on the next card's link.
    page.get_by_text("More like this").first.dispatch_event("click")
    _wait_text(page, f"Query: {titles[0]}", 60_000, "after More like this")
    address = page.evaluate("window.location.href")  # page.url misses history.replaceState
    assert "clip=" in address and query["clip_id"] not in address
    page.close()


def test_choosing_a_point_on_the_map_opens_its_search(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    _open(page, f"{server}/map?map=pca", "Clips per cluster")
    point = page.locator(".js-plotly-plot").first.locator(".scatterlayer .point").first
    point.wait_for(timeout=30_000)
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("Query:").first.wait_for(timeout=30_000)
    assert "/?clip=" in page.evaluate("window.location.href")
    page.close()


DESCRIPTION = "fast drums and a grand piano, songs about the highway"


def test_a_typed_description_returns_ranked_clips_and_its_link_reopens_them(server, browser, index_dir):
    settings = Settings(data_dir=index_dir)
    engine = SearchEngine(settings, store=shared_store(settings))
    titles = [r.title for r in engine.search_by_text(DESCRIPTION, k=4)]
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    _open(page, f"{server}/?k=4", "clips indexed")
    page.get_by_text("Describe it", exact=True).click()
    box = page.get_by_label("Describe the song or its video", exact=True)
    box.wait_for(timeout=30_000)
    box.fill(DESCRIPTION)
    box.press("Enter")
    _wait_text(page, f"1. {titles[0]}", 90_000, "after typing a description")
    for rank, title in enumerate(titles, 1):
        page.get_by_text(f"{rank}. {title}", exact=True).wait_for(timeout=30_000)
    address = page.evaluate("window.location.href")
    assert "q=fast+drums" in address or "q=fast%20drums" in address
    page.close()

    again = browser.new_page(viewport={"width": 1400, "height": 1400})
    _open(again, address, f"1. {titles[0]}")  # the link alone reruns the same search
    for rank, title in enumerate(titles, 1):
        again.get_by_text(f"{rank}. {title}", exact=True).wait_for(timeout=30_000)
    from playwright.sync_api import expect

    # the box shows the link's words once its widget has drawn them (expect retries; a read could race it)
    expect(again.get_by_label("Describe the song or its video", exact=True)).to_have_value(DESCRIPTION,
                                                                                           timeout=30_000)
    again.close()


def test_a_card_per_song_opens_to_its_versions_and_the_toggle_shows_every_clip(browser, index_dir,
                                                                               tmp_path_factory):
    # The demo index has no versions: a copy of it where the query's 3 nearest clips are one song.
    from test_version_search import versioned_copy

    versioned = versioned_copy(index_dir, tmp_path_factory.mktemp("browser-versions"))
    query, titles = versioned["query"], [p["title"] for p in versioned["ranked"]]
    with _streamlit(versioned["data_dir"]) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        _open(page, f"{base}/?clip={query['clip_id']}&k=3", f"1. {titles[0]}")
        page.get_by_text(f"2. {titles[3]}", exact=True).wait_for(timeout=30_000)  # r2, r3: on r1's card
        page.get_by_text("+2 versions", exact=True).click()
        _wait_text(page, f"{titles[1]} · score", 30_000, "after opening the versions")
        page.get_by_text("Show every version", exact=True).click()
        _wait_text(page, f"2. {titles[1]}", 60_000, "after Show every version")
        page.get_by_text(f"3. {titles[2]}", exact=True).wait_for(timeout=30_000)
        assert "versions=all" in page.evaluate("window.location.href")
        page.close()


def test_a_four_minute_upload_shows_its_first_result_card_and_the_time_is_recorded(browser, index_dir,
                                                                                   tmp_path_factory):
    """The first query after the app starts, as a user meets it: open the page, wait while it says the
    models still load, upload a 4-minute 854×480 file (`python -m bench query`'s), time the upload to the
    first result card. Reported beside a plain decode of the same file measured next to it (a timing
    is not asserted: machines differ), in artifacts/bench/browser_query.json."""
    import json

    from bench.bench_real_length import make_corpus, plain_decode

    upload = tmp_path_factory.mktemp("four-minutes") / "four_minute_video.mp4"
    shutil.copyfile(make_corpus(1)[0], upload)  # generated once (about a minute) into artifacts/bench/
    data_dir = tmp_path_factory.mktemp("browser-first-query")
    shutil.copytree(index_dir, data_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock"))
    with _streamlit(data_dir) as base:  # a server of its own: this is its first query
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        opened = time.perf_counter()
        _open(page, f"{base}/?k=4", "clips indexed")
        page.get_by_text("Upload a file", exact=True).click()
        page.locator('input[type="file"]').wait_for(state="attached", timeout=60_000)
        _wait_idle(page)
        notice = page.get_by_text("Loading the models that read new videos")
        warming_shown = notice.count() > 0
        notice.first.wait_for(state="detached", timeout=300_000)  # as a user who reads it waits
        warm_after_s = time.perf_counter() - opened
        start = time.perf_counter()
        page.locator('input[type="file"]').set_input_files(str(upload))
        _wait_text(page, " · score ", 300_000, "after uploading a 4-minute file")  # a result card
        first_s = time.perf_counter() - start
        page.close()
    reference = min(_timed(lambda: plain_decode(upload)) for _ in range(2))
    figures = {"clip": "4 min 854x480 30 fps H.264+AAC", "plain_decode_s": round(reference, 2),
               "first_upload_to_first_card_s": round(first_s, 2),
               "first_upload_over_plain_decode": round(first_s / reference, 2),
               "warming_notice_shown": warming_shown, "workers_warm_after_opening_s": round(warm_after_s, 1)}
    out = ROOT / "artifacts" / "bench" / "browser_query.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nFirst upload after the app's start: {json.dumps(figures)}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
