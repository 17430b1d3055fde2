"""Faults: SIGKILL the indexer during extract, train and push (real processes) — a re-run completes,
finished work is kept, nothing half-written is trusted, the alias never points at a partial collection;
and a Qdrant server out of reach or refusing the API key is one sentence on every page."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace

import pytest
from _app_index import PAGES, open_page, texts, tiny_index, use_data_dir
from _fault_helpers import kill, run_indexer, start_indexer, wait_for

from clipret.config import Settings
from clipret.embedding.artifacts import LoadedIndex, read_manifest
from clipret.indexing.cache import cache_path, cached_key, fingerprint
from clipret.indexing.push import latest_trained
from clipret.sources.corpus import read_clips, write_clips
from clipret.store import ClipStore

pytestmark = pytest.mark.slow
ALIAS = "clips"


@pytest.fixture(scope="module")
def base():
    """The session's tiny index (9 genres × 2 clips × 3 s, serving one collection)."""
    return tiny_index()


@pytest.fixture
def data(base, tmp_path) -> Settings:
    """A private copy of the tiny index's data folder, for one test to break."""
    shutil.copytree(base, tmp_path / "data", symlinks=True)
    return Settings(data_dir=tmp_path / "data")


def corpus_of(settings: Settings):
    (corpus,) = [p for p in settings.corpora_dir.iterdir() if p.name != "added"]
    return corpus


def serving_state(settings: Settings) -> tuple[str, int, list[str]]:
    """(serving collection, its point count, all collections) read by a fresh writer client."""
    with ClipStore(settings, lock_timeout_s=30) as store:
        return store.serving_collection(ALIAS), store.count(ALIAS), store.collections()


def tree_stamps(folder) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sigkill_during_extract_resumes_without_recomputing(base, tmp_path):
    source = Settings(data_dir=base)
    records = read_clips(corpus_of(source))[::4][:5]  # five clips over five genres
    corpus = tmp_path / "corpus"
    write_clips(corpus, [replace(r, path=str(r.media_path(corpus_of(source)))) for r in records])
    records = read_clips(corpus)  # the same clips, their media where the tiny index keeps them
    settings = Settings(data_dir=tmp_path / "data")  # an empty feature cache
    cache = settings.features_dir / "portable"

    def finished():
        return sorted(p for p in cache.glob("*.npz") if not p.name.startswith("."))

    process = start_indexer(settings.data_dir, "extract", "--corpus", str(corpus), "--workers", "1")
    wait_for(lambda: cache.is_dir() and finished(), process, what="the first cached clip")
    assert kill(process) == -9
    done = finished()
    assert 1 <= len(done) < len(records)
    stamps = {p: p.stat().st_mtime_ns for p in done}

    # A half-written cache file (as a non-atomic writer would leave) must be recomputed, not trusted.
    todo = [r for r in records if cache_path(settings.features_dir, "portable", r.clip_id) not in stamps]
    truncated = cache_path(settings.features_dir, "portable", todo[0].clip_id)
    truncated.write_bytes(done[0].read_bytes()[: done[0].stat().st_size // 2])

    rerun = run_indexer(settings.data_dir, "extract", "--corpus", str(corpus), "--workers", "1")
    assert rerun.returncode == 0, rerun.stderr
    counts = re.search(r"(\d+) extracted, (\d+) cached, (\d+) failed", rerun.stdout)
    assert counts and tuple(map(int, counts.groups())) == (len(records) - len(done), len(done), 0)
    assert {p: p.stat().st_mtime_ns for p in done} == stamps  # finished clips were not recomputed
    for record in records:  # every clip now cached under its current fingerprint, the truncated one too
        key = fingerprint(record.media_path(corpus), record.lyrics, "portable")
        assert cached_key(cache_path(settings.features_dir, "portable", record.clip_id)) == key


def test_sigkill_during_train_keeps_the_previous_build(data, tmp_path):
    serving, count, collections = serving_state(data)
    previous = tree_stamps(data.models_dir / serving)
    marker = tmp_path / "paused"
    corpus = corpus_of(data)
    train = ("train", "--corpus", str(corpus), "--epochs", "3")

    process = start_indexer(data.data_dir, *train, faults="fast-maps,pause-before-manifest", marker=marker)
    wait_for(marker.exists, process, what="train writing its manifest")
    assert kill(process) == -9
    leftovers = [p.name for p in data.models_dir.iterdir() if p.name != serving]
    assert leftovers and all(name.startswith(".") for name in leftovers)  # only the killed temp folder
    assert latest_trained(data, ALIAS) == serving  # nothing half-written is taken for a build
    assert tree_stamps(data.models_dir / serving) == previous
    assert serving_state(data) == (serving, count, collections)
    assert LoadedIndex.load(data).collection == serving

    rerun = run_indexer(data.data_dir, *train, faults="fast-maps")
    assert rerun.returncode == 0, rerun.stderr
    trained = latest_trained(data, ALIAS)
    assert trained != serving and read_manifest(data, trained)["n_clips"] == count
    assert serving_state(data) == (serving, count, collections)  # train alone never moves the alias


@pytest.mark.parametrize("fault", ["pause-mid-push", "pause-before-swap"])
def test_sigkill_during_push_never_serves_a_partial_collection(data, tmp_path, fault):
    from clipret.indexing.train import TrainOptions, train_index

    serving, count, collections = serving_state(data)
    corpus = corpus_of(data)
    new = train_index(data, read_clips(corpus)[:-3], corpus, progress=False,
                      options=TrainOptions(epochs=3, map_methods=("pca",), max_k=4)).collection
    marker = tmp_path / "paused"

    process = start_indexer(data.data_dir, "push", faults=fault, marker=marker)
    wait_for(marker.exists, process, what=f"push reaching {fault}")
    assert kill(process) == -9
    with ClipStore(data, lock_timeout_s=30) as store:
        assert new in store.collections()  # the killed push left its new collection behind…
        assert store.count(new) == (4 if fault == "pause-mid-push" else count - 3)
        assert store.serving_collection(ALIAS) == serving  # …but the alias never moved to it
        assert store.count(ALIAS) == count

    rerun = run_indexer(data.data_dir, "push")
    assert rerun.returncode == 0, rerun.stderr
    assert f"now serves {new}" in rerun.stdout
    now_serving, now_count, now_collections = serving_state(data)
    assert (now_serving, now_count) == (new, count - 3)
    assert sorted(now_collections) == sorted({serving, new})  # the previous build kept for a rollback


# -- the Qdrant server out of reach, or refusing the key: every page says so in one sentence --------

@pytest.fixture(scope="module")
def refusing_server():
    """An HTTP server that answers 401 Unauthorized to everything, as Qdrant does to a wrong API key."""
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self):
            body = b'{"status": {"error": "Unauthorized: invalid API key"}}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _refuse

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
@pytest.mark.parametrize("fault", ["unreachable", "wrong key"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_the_store_is_out_of_reach_in_one_sentence(page, fault, refusing_server, tmp_path,
                                                                   monkeypatch):
    import socket

    use_data_dir(monkeypatch, tmp_path)
    if fault == "unreachable":
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
        expected = f"The Qdrant server at {url} cannot be reached: check QDRANT_URL and that the server is running."
    else:
        url = refusing_server
        expected = f"The Qdrant server at {url} refused the API key: check QDRANT_API_KEY."
    monkeypatch.setenv("QDRANT_URL", url)
    monkeypatch.setenv("QDRANT_API_KEY", "not-the-key")
    at = open_page(None if page == PAGES[0] else page)
    assert not at.exception  # no stack trace
    assert texts(at.error) == [expected]
