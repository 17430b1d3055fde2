"""Readers never wait for a writer; a writer holds the lock only while it writes, and a second one waits its
turn saying for whom; adds that run at once each end searchable, in corpora/added/clips.jsonl and in the
manifest. Real processes against a copy of the tiny demo index."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _app_index import tiny_index
from _fault_helpers import clean_env
from conftest import SR, sine, solid_frames

from clipret.config import Settings
from clipret.embedding.artifacts import read_manifest
from clipret.media.encode import write_clip
from clipret.search.engine import SearchEngine
from clipret.sources.corpus import read_clips
from clipret.store import ClipStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
HOLDER_PURPOSE = "the test's long write"
READER_TIMEOUT_S = 120  # a reader that waited for the holder would wait for WRITE_WAIT_S (30 min)
ADDS_TIMEOUT_S = 420  # three cold adds on two cores: decode, extract and embed, each in its own process

# Holds the writer lock until its stdin closes: a write that takes as long as the test wants.
HOLDER = f"""
import sys
from clipret.config import Settings
from clipret.store import ClipStore
with ClipStore(Settings(data_dir=sys.argv[1])) as store, store.writing({HOLDER_PURPOSE!r}):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def settings(tmp_path) -> Settings:
    shutil.copytree(tiny_index(), tmp_path / "data", symlinks=True)
    return Settings(data_dir=tmp_path / "data")


def start_clipret(settings: Settings, *args: str, log: Path) -> subprocess.Popen:
    """`clipret --data-dir D --quiet ARGS`, its stdout and stderr in log.out / log.err."""
    command = [sys.executable, "-m", "clipret", "--data-dir", str(settings.data_dir), "--quiet", *args]
    return subprocess.Popen(command, cwd=ROOT, env=clean_env(), stdout=open(log.with_suffix(".out"), "w"),
                            stderr=open(log.with_suffix(".err"), "w"), text=True)


def clipret_json(settings: Settings, *args: str) -> dict:
    """A reader command's --json answer; fails if it waits for the writer (it would time out)."""
    done = subprocess.run([sys.executable, "-m", "clipret", "--data-dir", str(settings.data_dir), "--quiet",
                           *args, "--json"], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                          timeout=READER_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class Holder:
    """A process holding the writer lock from start() until release()."""

    def __init__(self, settings: Settings):
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.data_dir)], cwd=ROOT,
                                        env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(30) == 0


def search_answers(engine: SearchEngine) -> list[str]:
    query = engine.query_from_clip(engine.store.all_clips(engine.collection)[0].clip_id)
    return [r.clip_id for r in engine.search(query, k=5)]


def test_readers_answer_while_a_writer_holds_the_lock(settings):
    holder = Holder(settings)
    try:
        started = time.monotonic()
        engine = SearchEngine(settings)  # the library's front door, opened the default way
        assert len(search_answers(engine)) == 5
        info = clipret_json(settings, "info")
        assert info["n_clips"] == 18
        evaluation = clipret_json(settings, "evaluate")
        assert evaluation["n_clips"] == 18 and 0.0 <= evaluation["spaces"]["fused"]["p@10"] <= 1.0
        assert read_manifest(settings, info["collection"])["evaluation"]["n_clips"] == 18
        readers_s = time.monotonic() - started
        assert holder.process.poll() is None  # the lock was held all along
    finally:
        holder.release()
    print(f"\nsearch + info + evaluate beside a held writer lock: {readers_s:.1f} s")


def _clips(folder: Path, round_no: int) -> list[Path]:
    """Three distinct 3 s clips (their tones and colours differ, so their clip ids do)."""
    paths = []
    for i, (freq, colour) in enumerate([(330, (200, 40, 40)), (550, (40, 200, 40)), (770, (40, 40, 200))]):
        path = folder / f"round{round_no}_take{i}.mp4"
        write_clip(path, solid_frames([colour, tuple(255 - c for c in colour)], 36),
                   sine(freq + 40 * round_no, 3.0), fps=24, sample_rate=SR)
        paths.append(path)
    return paths


def _run_adds(settings: Settings, clips: list[Path], logs: Path, *, holder: Holder | None,
              engine: SearchEngine) -> list[str]:
    """Start an add per clip at once; readers answer meanwhile; return the added clip ids."""
    adds = [start_clipret(settings, "add", str(c), "--genre", "soul", log=logs / c.stem) for c in clips]
    try:
        if holder is not None:  # every add reaches its write while the lock is held: each says so, once
            deadline = time.monotonic() + ADDS_TIMEOUT_S
            errs = [logs / f"{c.stem}.err" for c in clips]
            while not all("Waiting for" in e.read_text() for e in errs):
                assert time.monotonic() < deadline, [e.read_text() for e in errs]
                assert all(a.poll() is None for a in adds), [e.read_text() for e in errs]
                time.sleep(0.2)
            assert clipret_json(settings, "info")["n_clips"] >= 18  # a reader, mid-wait, answers
            assert len(search_answers(engine)) == 5
            holder.release()
        else:
            assert clipret_json(settings, "info")["n_clips"] >= 18
            assert len(search_answers(engine)) == 5
        codes = [a.wait(ADDS_TIMEOUT_S) for a in adds]
    finally:
        for a in adds:
            if a.poll() is None:
                a.kill()
    outs = [(logs / f"{c.stem}.out").read_text() for c in clips]
    errs = [(logs / f"{c.stem}.err").read_text() for c in clips]
    assert codes == [0, 0, 0], errs
    for err in errs:
        waits = re.findall(r"Waiting for the index's writer to finish \((.*)\)", err)
        assert len(waits) <= 1, err
        if holder is not None:
            assert len(waits) == 1 and re.match(rf"pid \d+ on .+, `{re.escape(HOLDER_PURPOSE)}`, writing since",
                                                waits[0]), err
    return [re.search(r"^Added (\S+) ", out, re.M).group(1) for out in outs]


def test_adds_at_once_all_land_and_readers_never_wait(settings, tmp_path):
    engine = SearchEngine(settings)  # open in this process all along, as a notebook would hold one
    collection = engine.collection
    added: list[str] = []
    for round_no in (1, 2):  # first behind a held lock, then three adds racing each other only
        clips = _clips(tmp_path, round_no)
        holder = Holder(settings) if round_no == 1 else None
        try:
            ids = _run_adds(settings, clips, tmp_path, holder=holder, engine=engine)
        finally:
            if holder is not None and holder.process.poll() is None:
                holder.release()
        assert len(set(ids)) == 3
        added += ids
        # every clip so far: searchable (the open engine follows the writes), recorded, in the manifest
        with ClipStore(settings, replica=True) as store:
            assert {i for i in added if store.get_clip(collection, i, with_vectors=False)} == set(added)
            assert store.count(collection) == 18 + len(added)
        assert sorted(r.clip_id for r in read_clips(settings.corpora_dir / "added")) == sorted(added)
        assert sorted(a["clip_id"] for a in read_manifest(settings, collection)["added"]) == sorted(added)
        for clip_id in ids:  # the open engine finds each new clip, and it is its stored vector's nearest
            stored = engine.query_from_clip(clip_id)
            own = engine.store.search(collection, "fused", stored.vectors["fused"], k=1)
            assert [h.clip_id for h in own] == [clip_id] and own[0].score == pytest.approx(1.0, abs=1e-5)
            assert len(engine.search(stored, k=3)) == 3
    assert clipret_json(settings, "info")["added"] == 6


def test_an_add_whose_write_fails_takes_its_record_back(settings, tone_clip):
    from clipret.indexing.add import add_clip

    class FullDisk(ClipStore):
        def upsert(self, collection, points, batch_size=64):
            raise OSError(28, "No space left on device")

    added_dir = settings.corpora_dir / "added"
    with ClipStore(settings, replica=True) as reader:
        collection = reader.resolve(settings.collection)
        before = reader.count(collection)
    manifest_before = read_manifest(settings, collection).get("added", [])
    with FullDisk(settings) as store, pytest.raises(OSError, match="No space left"):
        add_clip(store, settings, str(tone_clip), genre="soul")
    assert not (added_dir / "clips.jsonl").exists()  # no record of a clip the index does not hold
    assert read_manifest(settings, collection).get("added", []) == manifest_before
    assert list(added_dir.glob("media/*")) == []  # nor its copy of the file
    with ClipStore(settings, replica=True) as reader:
        assert reader.count(collection) == before


def test_an_add_follows_a_rebuild_that_moved_the_alias_while_it_embedded(settings, tone_clip):
    from clipret.embedding.artifacts import LoadedIndex
    from clipret.indexing.add import add_clip
    from clipret.indexing.push import push_index
    from clipret.indexing.train import TrainOptions, train_index

    (corpus,) = [p for p in settings.corpora_dir.iterdir() if p.name != "added"]
    rebuilt = train_index(settings, read_clips(corpus)[:-3], corpus, progress=False,
                          options=TrainOptions(epochs=3, map_methods=("pca",), max_k=4)).collection

    class RebuiltMeanwhile(ClipStore):
        """The rebuild's push lands after the add has embedded the clip, just before it writes."""
        pushed = False

        def writing(self, purpose=None):
            if not self.pushed:
                self.pushed = True
                push_index(self, settings, rebuilt, progress=False)
            return super().writing(purpose)

    with RebuiltMeanwhile(settings) as store:
        old = store.resolve(settings.collection)
        added = add_clip(store, settings, str(tone_clip), genre="soul")
        assert store.pushed and added.collection == rebuilt != old
        stored = store.get_clip(rebuilt, added.clip_id, with_vectors=True)
        assert stored is not None and store.count(rebuilt) == 15 + 1
        assert store.get_clip(old, added.clip_id) is None
        # embedded with the new build's models, not the old ones it started with
        new_index, old_index = (LoadedIndex.load(settings, c, store=store) for c in (rebuilt, old))
        features, _ = new_index.extract_file(tone_clip, "")
        expected, stale = (i.embed([features])["fused"][0] for i in (new_index, old_index))
        assert cosine(stored.vectors["fused"], expected) == pytest.approx(1.0, abs=1e-5)
        assert cosine(stored.vectors["fused"], stale) < 0.999
    assert [a["clip_id"] for a in read_manifest(settings, rebuilt)["added"]] == [added.clip_id]
