"""The embedded vector store: Qdrant Edge shards on disk, one per collection, with our own alias file.

Layout under `<data dir>/qdrant-edge/`:
    aliases.json                 {"clips": "clips_20260101T000000"}, replaced in one os.replace
    .writer.lock                 flock: one write at a time (clipret/store/write_lock.py), held only while
                                 a write runs; .writer.lock.owner says who holds it
    collections/<name>/CURRENT   {"generation": 3}, replaced in one os.replace
    collections/<name>/g000003/  the shard readers load (sealed: never written again)

Why generations: an Edge shard is not made to be shared. A second process that loads a shard rewrites
some of its files, and a stale instance flushes its old state when it is closed, so a reader that holds a
shard another process writes would undo the writer's work. So a shard is written only by the writer that
made it: a new build fills its own shard in place (no reader opens a collection no alias names yet), and
a write to a published collection (`indexer add`) copies the current generation (sparse files: a few MB),
writes the copy, seals it and moves CURRENT. Readers check CURRENT and aliases.json with one stat each per
call and load the new generation when either changed: they always answer from one complete collection,
the old or the new. Shards are created without a write-ahead log (a WAL locks the shard to one process);
every write call ends with a flush, which is what makes it durable.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipret.errors import ClipretError, IndexNotFound
from clipret.files import file_lock, write_json_atomic
from clipret.store.groups import GROUP_FIELD, collapse_pages
from clipret.store.points import Hit, point_id
from clipret.store.write_lock import WRITE_WAIT_S, WriteLock, say_on_stderr

KEYWORD_INDEXES = ("genre", "clip_id", "youtube_id", GROUP_FIELD)  # payload fields filtered on, as on a server
EXACT_BELOW = 20_000  # points: below, searches are exact (a scan, a few ms); above, HNSW (see bench_store_scale)
HNSW_EF = 256  # candidates an HNSW search keeps: recall@10 0.995 on 50k clustered 256-d vectors, 0.8 ms
HNSW_M, HNSW_EF_CONSTRUCT = 16, 128  # graph built by optimize() when a large collection is published
KEEP_GENERATIONS = 2  # the current one and the one before it (a reader may still be answering from it)

@dataclass(frozen=True)
class EdgeTuning:
    """How searches trade speed for exactness (defaults measured by `python -m bench store_scale`)."""

    exact_below: int = EXACT_BELOW  # collections smaller than this are searched exactly
    hnsw_ef: int = HNSW_EF  # HNSW beam width above it

def edge_root(data_dir: Path) -> Path:
    return Path(data_dir) / "qdrant-edge"

class EdgeCollections:
    """Collections of Qdrant Edge shards under one folder; a writer or a read-only reader.

    A writer takes the writer lock for each write call only (or for a `writing()` block of several),
    so an open writer blocks nobody while it does other work; readers never take it."""

    def __init__(self, root: Path, *, writer: bool, lock_timeout_s: float = WRITE_WAIT_S,
                 tuning: EdgeTuning = EdgeTuning(), say: Callable[[str], None] = say_on_stderr):
        self.root, self.writer, self.tuning = Path(root), writer, tuning
        (self.root / "collections").mkdir(parents=True, exist_ok=True)
        self._write_lock = WriteLock(self.root / ".writer.lock", timeout_s=lock_timeout_s, say=say)
        self._closed = False
        self._loaded: dict[str, tuple[tuple, Any, int]] = {}  # name -> (CURRENT stamp, shard, points)
        self._load_lock = threading.Lock()
        self._aliases: tuple[tuple, dict[str, str]] = ((), {})
        self._writing: dict[str, Any] = {}  # name -> shard this writer made and fills in place

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        for name in list(self._writing):
            self._seal(name)
        self._loaded.clear()  # dropped, not closed: another thread may still be reading one
        self._closed = True

    def writing(self, purpose: str | None = None) -> contextlib.AbstractContextManager:
        """Hold the writer lock for several writes that must follow each other (a push, an add)."""
        self._check_writer()
        return self._write_lock.hold(purpose)

    def _check_writer(self) -> None:
        if not self.writer:
            raise ClipretError("This store is a read-only replica: open ClipStore(settings) to write.")
        if self._closed:
            raise ClipretError("This store is closed: open a new ClipStore(settings) to write.")

    # -- aliases -----------------------------------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        stamp = _stamp(path)
        if stamp != self._aliases[0]:
            self._aliases = (stamp, json.loads(path.read_text(encoding="utf-8")) if stamp else {})
        return dict(self._aliases[1])

    def set_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` in one rename: readers see the old target or the new one."""
        with self.writing():
            if collection in self._writing:
                self._seal(collection)
            write_json_atomic(self.root / "aliases.json", {**self.aliases(), alias: collection})

    # -- collections -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        folder = self.root / "collections"
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / "CURRENT").is_file())

    def create(self, name: str, vector_sizes: dict[str, int]) -> None:
        from qdrant_edge import EdgeShard, PayloadSchemaType, UpdateOperation

        with self.writing():
            folder = self.root / "collections" / name
            if folder.exists():
                raise ClipretError(f"A collection named '{name}' already exists: delete it first.")
            folder.mkdir(parents=True)
            shard = EdgeShard.create(str(folder / _generation_dir(1)), _config(vector_sizes))
            for key in KEYWORD_INDEXES:
                shard.update(UpdateOperation.create_field_index(key, PayloadSchemaType.Keyword))
            shard.flush()
            self._writing[name] = shard
            write_json_atomic(folder / "CURRENT", {"generation": 1, "vector_sizes": vector_sizes})

    def delete(self, name: str) -> None:
        with self.writing():
            folder = self.root / "collections" / name
            self._writing.pop(name, None)
            self._loaded.pop(name, None)
            if folder.is_dir():  # renamed first, so no reader finds half a collection
                trash = folder.with_name(f".deleted-{name}-{uuid.uuid4().hex[:8]}")
                folder.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)

    def vector_sizes(self, name: str) -> dict[str, int]:
        return dict(_read_current(self.root / "collections" / name)["vector_sizes"])

    # -- writes ------------------------------------------------------------------------------------
    def upsert(self, name: str, batches: Iterable[list[Any]]) -> None:
        """Write batches of points (qdrant_edge.Point) durably: in place into a shard this writer is
        filling, else into a new generation that readers switch to once it is complete."""
        with self.writing():
            self._upsert(name, batches)

    def _upsert(self, name: str, batches: Iterable[list[Any]]) -> None:
        from qdrant_edge import UpdateOperation

        if name in self._writing:
            shard = self._writing[name]
            for batch in batches:
                shard.update(UpdateOperation.upsert_points(batch))
            shard.flush()
            return
        folder = self.root / "collections" / name
        current = _read_current(folder)
        generation = int(current["generation"]) + 1
        _copy_shard(folder / _generation_dir(generation - 1), folder / _generation_dir(generation), folder)
        shard = _load(folder / _generation_dir(generation), folder)
        try:
            for batch in batches:
                shard.update(UpdateOperation.upsert_points(batch))
            shard.flush()
        finally:
            shard.close()
        _seal_folder(folder / _generation_dir(generation), folder)
        write_json_atomic(folder / "CURRENT", {**current, "generation": generation})
        _drop_old_generations(folder, generation)

    def _seal(self, name: str) -> None:
        """Close a shard this writer filled (building its HNSW graphs when it is large); it is never
        written in place again."""
        shard = self._writing.pop(name)
        if shard.info().points_count >= self.tuning.exact_below:
            shard.optimize()
        shard.flush()
        shard.close()
        folder = self.root / "collections" / name
        _seal_folder(folder / _generation_dir(_read_current(folder)["generation"]), folder)

    # -- reads -------------------------------------------------------------------------------------
    def shard(self, name: str) -> tuple[Any, int]:
        """(the shard answering for collection `name` now, its point count); IndexNotFound if none."""
        if name in self._writing:
            shard = self._writing[name]
            return shard, shard.info().points_count
        folder = self.root / "collections" / name
        stamp = _stamp(folder / "CURRENT")
        cached = self._loaded.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        with self._load_lock:  # one thread loads; the others wait for it (the old shard is out of date)
            cached = self._loaded.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1], cached[2]
            if not stamp:
                raise IndexNotFound(f"No collection named '{name}' in the store at {self.root}: build one "
                                    "with `clipret build --from demo` (or `make index`).")
            generation = _read_current(folder)["generation"]
            shard = _load(folder / _generation_dir(generation), folder)
            self._loaded[name] = (stamp, shard, shard.info().points_count)
            return shard, self._loaded[name][2]

    def search_params(self, points: int):
        from qdrant_edge import SearchParams

        if points < self.tuning.exact_below:
            return SearchParams(exact=True)
        return SearchParams(hnsw_ef=self.tuning.hnsw_ef)

    def scroll(self, name: str, *, page: int = 256, with_vector: bool | list[str] = False,
               filter=None, limit: int | None = None) -> Iterator[Any]:
        from qdrant_edge import ScrollRequest

        shard, _ = self.shard(name)
        offset, seen = None, 0
        while True:
            records, offset = shard.scroll(ScrollRequest(offset=offset, limit=page, filter=filter,
                                                         with_payload=True, with_vector=with_vector))
            for record in records:
                yield record
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if offset is None:
                return

    # -- the ClipStore operations (names may be aliases) -----------------------------------------
    def target(self, name: str) -> str:
        return self.aliases().get(name, name)

    def count(self, name: str) -> int:
        return self.shard(self.target(name))[1]

    def upsert_clips(self, name: str, clips: Iterable[Any], batch_size: int = 256) -> int:
        """Store ClipPoints in one step for readers; returns how many."""
        from qdrant_edge import Point

        written = 0

        def batches():
            nonlocal written
            batch = []
            for c in clips:
                payload = {**c.payload, "clip_id": c.clip_id}
                batch.append(Point(point_id(c.clip_id), as_vector_lists(c.vectors), payload))
                if len(batch) == batch_size:
                    written += len(batch)
                    yield batch
                    batch = []
            if batch:
                written += len(batch)
                yield batch

        self.upsert(self.target(name), batches())
        return written

    def search(self, name: str, vector_name: str, vector: np.ndarray, k: int, genres: Sequence[str] | None,
               exclude_clip_ids: Sequence[str], with_vectors: bool, exclude_groups: Sequence[str] = ()) -> list:
        condition = _filter(genres, exclude_clip_ids, exclude_groups)
        return self._nearest(name, vector_name, vector, 0, k, condition, with_vectors)

    def search_groups(self, name: str, vector_name: str, vector: np.ndarray, k: int,
                      genres: Sequence[str] | None, exclude_clip_ids: Sequence[str], exclude_groups: Sequence[str],
                      group_size: int, with_vectors: bool) -> list:
        """The k nearest songs (HitGroups). The Python binding of Qdrant Edge has no grouping query, so
        pages of the plain search are collapsed until k songs are found (clipret.store.groups)."""
        condition = _filter(genres, exclude_clip_ids, exclude_groups)
        shard_name = self.target(name)  # once: every page answers from the same collection
        return collapse_pages(lambda offset, limit: self._nearest(shard_name, vector_name, vector, offset, limit,
                                                                  condition, with_vectors), k, group_size)

    def _nearest(self, name: str, vector_name: str, vector: np.ndarray, offset: int, limit: int, condition,
                 with_vectors) -> list:
        """Hits ranked offset..offset+limit-1 by cosine to `vector` in the named space."""
        from qdrant_edge import Query, QueryRequest

        shard, points = self.shard(self.target(name))
        request = QueryRequest(limit=int(limit), offset=int(offset) or None,
                               query=Query.Nearest(np.asarray(vector, dtype=np.float32).tolist(), using=vector_name),
                               filter=condition, params=self.search_params(points),
                               with_payload=True, with_vector=with_vectors)
        return [_hit(p, score=p.score) for p in shard.query(request)]

    def group_members(self, name: str, group: str) -> list:
        """Every clip whose version_group is `group` (payloads only)."""
        from qdrant_edge import FieldCondition, Filter, MatchValue

        condition = Filter(must=[FieldCondition(GROUP_FIELD, match=MatchValue(group))])
        return [_hit(r) for r in self.scroll(self.target(name), filter=condition)]

    def get(self, name: str, clip_id: str, with_vectors: bool):

        shard, _ = self.shard(self.target(name))
        found = shard.retrieve([point_id(clip_id)], True, with_vectors)
        return _hit(found[0]) if found else None

    def find(self, name: str, key: str, value: str, with_vectors: bool):
        from qdrant_edge import FieldCondition, Filter, MatchValue

        condition = Filter(must=[FieldCondition(key, match=MatchValue(value))])
        found = list(self.scroll(self.target(name), page=1, limit=1, filter=condition, with_vector=with_vectors))
        return _hit(found[0]) if found else None

    def hits(self, name: str, with_vectors: bool | Sequence[str], page: int) -> Iterator[Any]:
        wanted = with_vectors if isinstance(with_vectors, bool) else list(with_vectors)
        for record in self.scroll(self.target(name), page=page, with_vector=wanted):
            yield _hit(record)

def _filter(genres: Sequence[str] | None, exclude_clip_ids: Sequence[str], exclude_groups: Sequence[str] = ()):
    from qdrant_edge import FieldCondition, Filter, HasIdCondition, MatchAny

    must = [FieldCondition("genre", match=MatchAny(list(genres)))] if genres else None
    must_not = [HasIdCondition({point_id(c) for c in exclude_clip_ids})] if exclude_clip_ids else []
    if exclude_groups:  # a song's other versions (a clip with no version_group is only its own song)
        must_not.append(FieldCondition(GROUP_FIELD, match=MatchAny(list(exclude_groups))))
    return Filter(must=must, must_not=must_not or None) if (must or must_not) else None

def _hit(point, score: float = 0.0):

    payload = dict(point.payload or {})
    vectors = None
    if isinstance(point.vector, dict) and point.vector:
        vectors = {n: np.asarray(v, dtype=np.float32) for n, v in point.vector.items()}
    return Hit(clip_id=payload.get("clip_id", str(point.id)), score=float(score), payload=payload, vectors=vectors)

# -- the files ---------------------------------------------------------------------------------------
def _config(vector_sizes: dict[str, int]):
    from qdrant_edge import Distance, EdgeConfig, EdgeVectorParams, HnswIndexConfig

    vectors = {name: EdgeVectorParams(size=int(d), distance=Distance.Cosine) for name, d in vector_sizes.items()}
    return EdgeConfig(vectors=vectors, wal_enabled=False,  # a WAL would lock the shard to one process
                      hnsw_config=HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT,
                                                  full_scan_threshold=10_000))

def _generation_dir(generation: int) -> str:
    return f"g{int(generation):06d}"

def _read_current(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexNotFound(f"No collection named '{folder.name}' in the store: build one with "
                            "`clipret build --from demo` (or `make index`).") from None

def _stamp(path: Path) -> tuple:
    """What changes when `path` is replaced (os.replace gives it a new inode); () when it is absent."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return ()
    return (st.st_ino, st.st_mtime_ns, st.st_size)

def _load(shard_dir: Path, folder: Path):
    """EdgeShard.load under the collection's load lock: loading rewrites a few of the shard's files
    (identical bytes once sealed), so two processes never do it at the same moment."""
    from qdrant_edge import EdgeShard

    with file_lock(folder / ".load.lock"):
        return EdgeShard.load(str(shard_dir))

def _seal_folder(shard_dir: Path, folder: Path) -> None:
    """Load and close a closed shard once: its journals are folded in, so a reader's load finds
    nothing left to rewrite."""
    _load(shard_dir, folder).close()

def _copy_shard(source: Path, target: Path, folder: Path) -> None:
    """Copy a sealed shard, keeping its files sparse (they are mostly preallocated zeros)."""
    if target.exists():  # a killed writer's leftover: never published
        shutil.rmtree(target)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with file_lock(folder / ".load.lock"):
        if shutil.which("cp"):
            subprocess.run(["cp", "-a", "--sparse=always", str(source), str(tmp)], check=True)
        else:  # pragma: no cover - every Linux and macOS host has cp
            shutil.copytree(source, tmp)
    os.replace(tmp, target)

def _drop_old_generations(folder: Path, current: int) -> None:
    for path in folder.glob("g*"):
        if path.name[1:].isdigit() and int(path.name[1:]) <= current - KEEP_GENERATIONS:
            shutil.rmtree(path, ignore_errors=True)

def as_vector_lists(vectors: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {n: np.asarray(v, dtype=np.float32).tolist() for n, v in vectors.items()}
