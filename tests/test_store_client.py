"""The store's qdrant-client path (what QDRANT_URL uses) without a server: every store test of
test_store.py again through qdrant-client's in-memory mode, which speaks the server's client API; and
`indexer push --to-server`, copying a built embedded collection into such a client.

No Qdrant server runs on the build machines; test_store_server.py runs the same tests against a real one
when QDRANT_URL is set.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from clipret.config import Settings
from clipret.store import ClipPoint, ClipStore


def _load_embedded_tests():
    path = Path(__file__).with_name("test_store.py")
    spec = importlib.util.spec_from_file_location("_store_tests_for_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_embedded = _load_embedded_tests()
EMBEDDED_ONLY = {"test_second_client_waits_for_the_lock", "test_unreachable_server_is_one_sentence",
                 "test_resolve_missing_index"}
for _name, _obj in vars(_embedded).items():
    if (_name.startswith("test_") and callable(_obj) and _name not in EMBEDDED_ONLY
            and not _name.startswith("test_replica")):
        globals()[_name] = _obj  # collected here too, with the `open_store` fixture below
store, settings = _embedded.store, _embedded.settings
points, unit = _embedded.points, _embedded.unit


def memory_store(settings: Settings) -> ClipStore:
    from qdrant_client import QdrantClient

    return ClipStore(settings, client=QdrantClient(location=":memory:"))


@pytest.fixture
def open_store(settings):
    return lambda: memory_store(settings)


def test_resolve_missing_index_through_the_client(settings):
    from clipret.errors import IndexNotFound

    with memory_store(settings) as s, pytest.raises(IndexNotFound, match="clipret build"):
        s.resolve("clips")


# -- indexer push --to-server ----------------------------------------------------------------------

def embedded_build(settings: Settings, stamp: str, n: int, seed: int = 0) -> str:
    """An embedded collection `clips_<stamp>` of n clips (3 genres) served by the alias `clips`."""
    rng = np.random.default_rng(seed)
    name = f"clips_{stamp}"
    with ClipStore(settings) as s:
        s.create_collection(name, {"fused": 8, "audio": 5})
        s.upsert(name, [ClipPoint(f"c{i:03d}", {"fused": rng.standard_normal(8), "audio": rng.standard_normal(5)},
                                  {"title": f"T{i}", "genre": ("metal", "punk", "soul")[i % 3],
                                   "map_pca": [float(i), 1.0]}) for i in range(n)])
        s.swap_alias("clips", name)
    return name


def test_push_to_server_copies_the_serving_collection_under_the_same_alias(settings):
    from clipret.indexing.push import push_to_server

    name = embedded_build(settings, "20260101T000000", n=150)
    target = memory_store(settings)
    with ClipStore(settings, replica=True) as source:
        assert push_to_server(source, target, "clips", progress=False) == (name, 150)
        assert target.serving_collection("clips") == name
        assert target.vector_sizes("clips") == {"fused": 8, "audio": 5}
        assert target.count("clips") == 150
        for clip in source.all_clips("clips", with_vectors=True):  # every payload and vector, unchanged
            copied = target.get_clip("clips", clip.clip_id)
            assert copied.payload == clip.payload
            for vector_name, v in clip.vectors.items():
                np.testing.assert_allclose(copied.vectors[vector_name], v, atol=1e-6)
        query = source.get_clip("clips", "c007").vectors["fused"]
        want = [h.clip_id for h in source.search("clips", "fused", query, k=10, genres=["punk"])]
        assert [h.clip_id for h in target.search("clips", "fused", query, k=10, genres=["punk"])] == want
        # copied again: nothing to do; a newer build: copied beside it and the alias moves
        assert push_to_server(source, target, "clips", progress=False) == (name, 150)
    newer = embedded_build(settings, "20260102T000000", n=20, seed=1)
    with ClipStore(settings, replica=True) as source:
        assert push_to_server(source, target, "clips", progress=False) == (newer, 20)
    assert target.serving_collection("clips") == newer
    assert target.collections("clips_") == [name, newer]
    target.close()


def test_push_to_server_drops_a_half_copied_collection(settings, monkeypatch):
    from clipret.indexing.push import push_to_server

    old = embedded_build(settings, "20260101T000000", n=10)
    target = memory_store(settings)
    with ClipStore(settings, replica=True) as source:
        push_to_server(source, target, "clips", progress=False)
    new = embedded_build(settings, "20260102T000000", n=100)
    calls = []

    def failing_upsert(self, collection, points, batch_size=64):
        calls.append(collection)
        raise ConnectionError("the server went away")

    monkeypatch.setattr(ClipStore, "upsert", failing_upsert)
    with ClipStore(settings, replica=True) as source, pytest.raises(ConnectionError):
        push_to_server(source, target, "clips", progress=False)
    assert calls == [new]
    assert target.serving_collection("clips") == old and target.collections() == [old]
    target.close()


def test_cli_push_to_server_needs_a_url(tmp_path, capsys, monkeypatch):
    from clipret.cli import main

    monkeypatch.delenv("QDRANT_URL", raising=False)
    assert main(["--data-dir", str(tmp_path), "push", "--to-server"]) == 1
    assert "give its URL or set QDRANT_URL" in capsys.readouterr().err
