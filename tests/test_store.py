"""ClipStore against the real embedded Qdrant (Qdrant Edge): collections, alias swaps, named-vector search,
filters; and the app's read-only replica following writers in other processes."""

import threading

import numpy as np
import pytest

from clipret.config import Settings
from clipret.errors import IndexNotFound, StoreUnavailable
from clipret.store import ClipPoint, ClipStore, point_id


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path)


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def points():
    # Three clips on axes of a 3-d "fused" space; "audio" reverses the order of similarity.
    return [
        ClipPoint("a", {"fused": unit([1, 0, 0]), "audio": unit([0, 0, 1])}, {"title": "A", "genre": "metal"}),
        ClipPoint("b", {"fused": unit([1, 1, 0]), "audio": unit([0, 1, 1])}, {"title": "B", "genre": "punk"}),
        ClipPoint("c", {"fused": unit([0, 1, 0]), "audio": unit([1, 0, 0])}, {"title": "C", "genre": "metal",
                                                                            "youtube_id": "dQw4w9WgXcQ"}),
    ]


@pytest.fixture
def open_store(settings):
    """How the `store` fixture opens a writing store (test_store_client.py swaps in qdrant-client's)."""
    return lambda: ClipStore(settings)


@pytest.fixture
def store(open_store):
    with open_store() as s:
        s.create_collection("clips_20260101T000000", {"fused": 3, "audio": 3})
        s.upsert("clips_20260101T000000", points())
        s.swap_alias("clips", "clips_20260101T000000")
        yield s


def test_point_id_is_stable_uuid5():
    assert point_id("abc") == point_id("abc") != point_id("abd")
    assert len(point_id("abc")) == 36


def test_search_by_alias_orders_by_cosine(store):
    hits = store.search("clips", "fused", unit([1, 0.1, 0]), k=3)
    assert [h.clip_id for h in hits] == ["a", "b", "c"]
    assert hits[0].score == pytest.approx(float(unit([1, 0.1, 0]) @ unit([1, 0, 0])), abs=1e-5)
    assert hits[0].payload["title"] == "A"


def test_named_vectors_are_separate_spaces(store):
    hits = store.search("clips", "audio", unit([1, 0.1, 0]), k=1)
    assert hits[0].clip_id == "c"


def test_genre_filter_and_exclusion(store):
    hits = store.search("clips", "fused", unit([1, 1, 0]), k=3, genres=["metal"], exclude_clip_ids=["a"])
    assert [h.clip_id for h in hits] == ["c"]


def test_get_clip_and_youtube_lookup(store):
    hit = store.get_clip("clips", "b")
    assert hit.payload["genre"] == "punk"
    np.testing.assert_allclose(hit.vectors["fused"], unit([1, 1, 0]), atol=1e-6)
    assert store.get_clip("clips", "zzz") is None
    assert store.find_by_youtube_id("clips", "dQw4w9WgXcQ").clip_id == "c"
    assert store.find_by_youtube_id("clips", "xxxxxxxxxxx") is None


def test_all_clips_and_count(store):
    assert [h.clip_id for h in store.all_clips("clips")] == ["a", "b", "c"]
    assert store.count("clips") == 3


def test_alias_swap_and_prune(store):
    for stamp in ("20260102T000000", "20260103T000000"):
        store.create_collection(f"clips_{stamp}", {"fused": 3, "audio": 3})
        store.upsert(f"clips_{stamp}", points()[:1])
        store.swap_alias("clips", f"clips_{stamp}")
    assert store.serving_collection("clips") == "clips_20260103T000000"
    assert store.count("clips") == 1
    assert store.prune("clips", keep=2) == ["clips_20260101T000000"]
    assert store.collections("clips_") == ["clips_20260102T000000", "clips_20260103T000000"]


def test_resolve_missing_index(settings):
    with ClipStore(settings) as s:
        with pytest.raises(IndexNotFound, match="clipret build"):
            s.resolve("clips")


def test_a_second_writer_waits_its_turn_saying_for_whom(settings):
    said: list[str] = []
    first, second = ClipStore(settings), ClipStore(settings, lock_timeout_s=10, say=said.append)
    opened = ClipStore(settings, lock_timeout_s=0.3)  # opening takes no lock, however long the first writes
    with first.writing("build the test index"):
        first.create_collection("clips_20260101T000000", {"fused": 3, "audio": 3})
        with pytest.raises(StoreUnavailable, match=r"in use by another process writing to it \(pid \d+ .*"
                                                   r"`build the test index`.*waited 0\.\d s"):
            opened.create_collection("other", {"fused": 3})  # a bounded wait, naming the holder
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (second.create_collection("clips_20260102T000000", {"fused": 3}),
                                                  done.set()))
        waiter.start()
        assert not done.wait(0.5)  # it waits for the first writer, which is still writing
        first.upsert("clips_20260101T000000", points())
    waiter.join(10)
    assert done.is_set()  # its turn came once the first was done
    assert first.collections("clips_") == ["clips_20260101T000000", "clips_20260102T000000"]
    assert len(said) == 1 and "build the test index" in said[0] and said[0].startswith("Waiting for")
    for s in (first, second, opened):
        s.close()


def test_unreachable_server_is_one_sentence(tmp_path):
    s = Settings(data_dir=tmp_path, qdrant_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        ClipStore(s)


# -- the app's read-only replica: the indexer can write while the app serves ----------------------

WRITER = """
import sys, numpy as np
from clipret.config import Settings
from clipret.store import ClipPoint, ClipStore
s = Settings(data_dir=sys.argv[1])
with ClipStore(s, lock_timeout_s=10) as store:
    if sys.argv[2] == "add":
        store.upsert("clips", [ClipPoint("d", {"fused": np.array([0, 0, 1.0]), "audio": np.array([1.0, 0, 0])},
                                         {"title": "D", "genre": "soul"})])
    else:
        store.create_collection("clips_20260109T000000", {"fused": 3, "audio": 3})
        store.upsert("clips_20260109T000000", [ClipPoint("z", {"fused": np.array([1.0, 0, 0]),
                                                             "audio": np.array([1.0, 0, 0])}, {"title": "Z"})])
        store.swap_alias("clips", "clips_20260109T000000")
"""


def run_writer(tmp_path, what):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), what], check=True, timeout=120)


def test_replica_releases_the_lock_and_follows_writers(store, settings, tmp_path):
    store.close()  # the fixture's writer is done
    reader = ClipStore(settings, replica=True)
    assert [h.clip_id for h in reader.search("clips", "fused", unit([1, 0, 0]), k=3)] == ["a", "b", "c"]
    run_writer(tmp_path, "add")  # another process writes while the reader is open: no lock conflict
    assert reader.get_clip("clips", "d").payload["title"] == "D"
    run_writer(tmp_path, "swap")
    assert [h.clip_id for h in reader.all_clips("clips")] == ["z"]
    assert reader.serving_collection("clips") == "clips_20260109T000000"
    with pytest.raises(Exception, match="read-only replica"):
        reader.upsert("clips", points())
    reader.close()


def test_replica_sees_each_finished_write_while_the_writer_stays_open(store, settings):
    store.close()
    reader = ClipStore(settings, replica=True, lock_timeout_s=0.2)
    with ClipStore(settings) as writer:
        writer.upsert("clips", [ClipPoint("e", {"fused": unit([0, 0, 1]), "audio": unit([0, 0, 1])}, {})])
        # the write is complete (a new generation of the collection): the reader answers from it at once
        assert [h.clip_id for h in reader.all_clips("clips")] == ["a", "b", "c", "e"]
        assert [h.clip_id for h in reader.search("clips", "fused", unit([0, 0, 1]), k=1)] == ["e"]
        with writer.writing("a long write"):  # a reader never waits for a writer, even mid-write
            assert reader.count("clips") == 4 and reader.get_clip("clips", "e") is not None
    assert reader.count("clips") == 4
    reader.close()
