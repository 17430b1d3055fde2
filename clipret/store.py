"""The Qdrant side: one collection per build behind an alias, named vectors, clip payloads.

Embedded by default (`QdrantClient(path=data_dir/qdrant)`, no server); a Qdrant server when
QDRANT_URL is set. The embedded store locks its folder for one client process at a time. The
rule that keeps the app and the indexer out of each other's way:
- writers (the indexer) open the folder, write, and close; a second writer waits for the lock;
- readers (the app) open a `replica=True` store: a copy of the serving collections in an
  in-memory Qdrant, taken under the lock and released at once, and taken again when the folder
  changes on disk (an `add`, an alias swap). An alias swap is one write of the folder's metadata,
  so a replica always holds a complete collection, the old or the new.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clipret.config import Settings
from clipret.errors import ClipretError, IndexNotFound, StoreUnavailable

_NAMESPACE = uuid.UUID("6c1b7a52-4d0f-5c55-9b8e-2f3c1e0a9d41")  # fixed: point ids are stable across builds


def point_id(clip_id: str) -> str:
    """The Qdrant point id of a clip: UUID5 of its clip id."""
    return str(uuid.uuid5(_NAMESPACE, clip_id))


@dataclass
class ClipPoint:
    """One clip to store: its named vectors and payload."""

    clip_id: str
    vectors: dict[str, np.ndarray]  # vector name -> (d,)
    payload: dict[str, Any]


@dataclass
class Hit:
    """One stored clip as a search returns it."""

    clip_id: str
    score: float
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray] | None = field(default=None, repr=False)


class ClipStore:
    """A thin, typed layer over qdrant-client for clipret's collections."""

    def __init__(self, settings: Settings, *, lock_timeout_s: float = 60.0, replica: bool = False):
        self.settings = settings
        self.lock_timeout_s = lock_timeout_s
        self.replica = replica and not settings.qdrant_url  # a server needs no replica
        self._client = None if self.replica else _connect(settings, lock_timeout_s)
        self._fingerprint: tuple | None = None
        self._refresh_lock = threading.Lock()
        if self.replica:
            self._refresh_replica()

    @property
    def client(self):
        """The qdrant-client to use now; a replica is first brought up to date with the disk."""
        if self.replica and _folder_fingerprint(self.settings.qdrant_path) != self._fingerprint:
            # Sessions share the store: one thread refreshes, the others read the complete copy meanwhile.
            if self._refresh_lock.acquire(blocking=False):
                try:
                    self._refresh_replica()
                finally:
                    self._refresh_lock.release()
        return self._client

    def _refresh_replica(self) -> None:
        fingerprint = _folder_fingerprint(self.settings.qdrant_path)
        try:
            # With a copy in hand, do not wait for a writer: serve the copy and try again next time.
            disk = _connect(self.settings, self.lock_timeout_s if self._client is None else 0.0)
        except StoreUnavailable:
            if self._client is None:
                raise
            return  # a writer holds the folder: keep serving the complete copy we have
        try:
            held = self._client.get_collections().collections if self._client is not None else []
            memory = _copy_serving_collections(disk, keep={c.name for c in held})
        finally:
            disk.close()
        # The old copy is not closed: another session's thread may be reading it (GC frees it).
        self._client, self._fingerprint = memory, fingerprint

    def _check_writable(self) -> None:
        if self.replica:
            raise ClipretError("This store is a read-only replica: open ClipStore(settings) to write.")

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> ClipStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- collections and aliases ---------------------------------------------------------------
    def create_collection(self, name: str, vector_sizes: dict[str, int]) -> None:
        """A new, empty collection with one cosine named vector per entry of `vector_sizes`."""
        self._check_writable()
        from qdrant_client import models

        config = {n: models.VectorParams(size=int(d), distance=models.Distance.COSINE)
                  for n, d in vector_sizes.items()}
        self.client.create_collection(collection_name=name, vectors_config=config)
        if self.settings.qdrant_url:  # payload indexes only mean something on a server
            for key, schema in (("genre", models.PayloadSchemaType.KEYWORD),
                                ("clip_id", models.PayloadSchemaType.KEYWORD),
                                ("youtube_id", models.PayloadSchemaType.KEYWORD)):
                self.client.create_payload_index(name, field_name=key, field_schema=schema)

    def collections(self, prefix: str = "") -> list[str]:
        names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(prefix))

    def delete_collection(self, name: str) -> None:
        self._check_writable()
        self.client.delete_collection(collection_name=name)

    def serving_collection(self, alias: str) -> str | None:
        """The collection `alias` points at, or None."""
        for a in self.client.get_aliases().aliases:
            if a.alias_name == alias:
                return a.collection_name
        return None

    def swap_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` in one call: readers see the old or the new, never neither."""
        self._check_writable()
        from qdrant_client import models

        ops: list[Any] = []
        if self.serving_collection(alias) is not None:
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        ops.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)))
        self.client.update_collection_aliases(change_aliases_operations=ops)

    def prune(self, alias: str, keep: int = 2) -> list[str]:
        """Delete all but the newest `keep` collections of `alias` (never the serving one)."""
        serving = self.serving_collection(alias)
        builds = self.collections(prefix=f"{alias}_")  # <alias>_<UTC timestamp>: names sort by time
        doomed = [n for n in builds[:-keep] if n != serving] if keep > 0 else []
        for name in doomed:
            self.delete_collection(name)
        return doomed

    def resolve(self, collection_or_alias: str) -> str:
        """The collection behind a name (an alias or a collection); IndexNotFound when neither."""
        target = self.serving_collection(collection_or_alias)
        if target is not None:
            return target
        if collection_or_alias in self.collections():
            return collection_or_alias
        raise IndexNotFound(f"No index named '{collection_or_alias}' in the store: build one with "
                            "`python -m indexer build --from demo` (or `make run`).")

    # -- points --------------------------------------------------------------------------------
    def upsert(self, collection: str, points: Iterable[ClipPoint], batch_size: int = 64) -> int:
        """Store points (replacing any with the same clip id); returns how many were written."""
        self._check_writable()
        from qdrant_client import models

        batch, written = [], 0
        for p in points:
            batch.append(models.PointStruct(
                id=point_id(p.clip_id),
                vector={n: np.asarray(v, dtype=np.float32).tolist() for n, v in p.vectors.items()},
                payload={**p.payload, "clip_id": p.clip_id}))
            if len(batch) == batch_size:
                written += self._flush(collection, batch)
                batch = []
        return written + (self._flush(collection, batch) if batch else 0)

    def _flush(self, collection: str, batch: list) -> int:
        self.client.upsert(collection_name=collection, points=batch, wait=True)
        return len(batch)

    def count(self, collection_or_alias: str) -> int:
        return self.client.count(collection_name=collection_or_alias, exact=True).count

    def search(self, collection_or_alias: str, vector_name: str, vector: np.ndarray, k: int,
               genres: Sequence[str] | None = None, exclude_clip_ids: Sequence[str] = (),
               with_vectors: bool = False) -> list[Hit]:
        """The k clips nearest to `vector` by cosine in the named vector space."""
        result = self.client.query_points(
            collection_name=collection_or_alias, query=np.asarray(vector, dtype=np.float32).tolist(),
            using=vector_name, limit=int(k), query_filter=_filter(genres, exclude_clip_ids),
            with_payload=True, with_vectors=with_vectors)
        return [_hit(p) for p in result.points]

    def get_clip(self, collection_or_alias: str, clip_id: str, with_vectors: bool = True) -> Hit | None:
        found = self.client.retrieve(collection_name=collection_or_alias, ids=[point_id(clip_id)],
                                     with_payload=True, with_vectors=with_vectors)
        return _hit(found[0]) if found else None

    def find_by_youtube_id(self, collection_or_alias: str, youtube_id: str,
                           with_vectors: bool = True) -> Hit | None:
        from qdrant_client import models

        condition = models.FieldCondition(key="youtube_id", match=models.MatchValue(value=youtube_id))
        points, _ = self.client.scroll(collection_name=collection_or_alias, limit=1,
                                       scroll_filter=models.Filter(must=[condition]),
                                       with_payload=True, with_vectors=with_vectors)
        return _hit(points[0]) if points else None

    def all_clips(self, collection_or_alias: str, with_vectors: bool | Sequence[str] = False,
                  page: int = 256) -> list[Hit]:
        """Every stored clip (payload, and vectors when asked), in clip-id order."""
        hits, offset = [], None
        while True:
            points, offset = self.client.scroll(collection_name=collection_or_alias, limit=page,
                                                offset=offset, with_payload=True,
                                                with_vectors=with_vectors)
            hits.extend(_hit(p) for p in points)
            if offset is None:
                break
        return sorted(hits, key=lambda h: h.clip_id)

    def all_payloads(self, collection_or_alias: str) -> list[dict[str, Any]]:
        return [h.payload for h in self.all_clips(collection_or_alias)]


def _filter(genres: Sequence[str] | None, exclude_clip_ids: Sequence[str]):
    from qdrant_client import models

    must = [models.FieldCondition(key="genre", match=models.MatchAny(any=list(genres)))] if genres else []
    must_not = [models.HasIdCondition(has_id=[point_id(c) for c in exclude_clip_ids])] if exclude_clip_ids else []
    return models.Filter(must=must, must_not=must_not) if (must or must_not) else None


def _hit(point) -> Hit:
    payload = dict(point.payload or {})
    vectors = None
    if isinstance(point.vector, dict) and point.vector:
        vectors = {n: np.asarray(v, dtype=np.float32) for n, v in point.vector.items()}
    return Hit(clip_id=payload.get("clip_id", str(point.id)), score=float(getattr(point, "score", 0.0) or 0.0),
               payload=payload, vectors=vectors)


def _folder_fingerprint(folder) -> tuple:
    """What changes on disk when the embedded store is written: metadata and collection files."""
    stamps = []
    for path in [folder / "meta.json", *sorted((folder / "collection").glob("*/*"))]:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        stamps.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(stamps)


def _copy_serving_collections(disk, keep: set[str] = frozenset()):
    """An in-memory Qdrant holding the collections that aliases point at, with those aliases, and
    the collections in `keep` still on disk (a search begun before an alias swap ends on the old one)."""
    from qdrant_client import QdrantClient, models

    memory = QdrantClient(location=":memory:")
    aliases = disk.get_aliases().aliases
    on_disk = {c.name for c in disk.get_collections().collections}
    for name in sorted({a.collection_name for a in aliases} | (set(keep) & on_disk)):
        memory.create_collection(name, vectors_config=disk.get_collection(name).config.params.vectors)
        offset = None
        while True:
            points, offset = disk.scroll(name, limit=512, offset=offset, with_payload=True, with_vectors=True)
            if points:
                memory.upsert(name, points=[models.PointStruct(id=p.id, vector=p.vector, payload=p.payload)
                                            for p in points])
            if offset is None:
                break
    memory.update_collection_aliases(change_aliases_operations=[
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=a.collection_name,
                                                                    alias_name=a.alias_name))
        for a in aliases])
    return memory


def _connect(settings: Settings, lock_timeout_s: float):
    from qdrant_client import QdrantClient

    if settings.qdrant_url:
        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=10,
                              check_compatibility=False)
        try:
            client.get_collections()  # fail here, in one sentence, rather than on the first search
        except Exception as exc:  # noqa: BLE001 - any transport or auth failure means the same to a user
            raise StoreUnavailable(_server_problem(settings.qdrant_url, exc)) from None
        return client
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            return QdrantClient(path=str(settings.qdrant_path))
        except RuntimeError as exc:
            if "already accessed" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise StoreUnavailable(
                    f"The embedded index at {settings.qdrant_path} is in use by another process "
                    f"(waited {lock_timeout_s:g} s). Wait for it to finish, or run a Qdrant server "
                    "(docker compose up qdrant) and set QDRANT_URL.") from None
            time.sleep(0.2)


def _server_problem(url: str, exc: Exception) -> str:
    text = str(exc)
    if "401" in text or "403" in text or "nauthori" in text or "orbidden" in text:
        return f"The Qdrant server at {url} refused the API key: check QDRANT_API_KEY."
    return f"The Qdrant server at {url} cannot be reached: check QDRANT_URL and that the server is running."
