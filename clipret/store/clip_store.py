"""The Qdrant side: one collection per build behind an alias, named vectors, clip payloads.

`ClipStore` is the one interface the rest of clipret uses. Behind it:
- no QDRANT_URL (the default): Qdrant Edge, the real engine in-process, one shard folder per collection
  under `<data dir>/qdrant-edge/` (clipret/store/edge.py). Any number of processes read and never wait;
  one writes at a time, holding the writer lock only while it writes (clipret/store/write_lock.py).
  Readers load shards read-only and follow every write: a new generation of a collection, or an alias
  moved, is seen on the next call, and each call answers from one complete collection. An index of the
  old local-mode store (`<data dir>/qdrant/`) is converted on first use.
- QDRANT_URL set: a Qdrant server or cluster through qdrant-client (clipret/store/server.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from clipret.config import Settings
from clipret.errors import IndexNotFound
from clipret.store.groups import GROUP_SIZE, HitGroup
from clipret.store.points import ClipPoint, Hit
from clipret.store.write_lock import WRITE_WAIT_S, WriteLock, say_on_stderr


class ClipStore:
    """clipret's collections: create, fill, swap an alias, search, look up.

    Opening one takes no lock. A write takes the writer lock for that call; `writing()` holds it across
    several writes and the local records that go with them (an added clip's corpus record and manifest
    entry). A second writer waits its turn, saying once for whom (`say`), up to `lock_timeout_s`.

    `replica=True` refuses writes to the embedded store (the app, `SearchEngine`, `info`, `evaluate`).
    `client` wraps a given qdrant-client instead (e.g. `QdrantClient(":memory:")`, which speaks the
    server's API). `tuning` (an edge_store.EdgeTuning) sets where the embedded store's searches turn from
    exact to HNSW.
    """

    def __init__(self, settings: Settings, *, lock_timeout_s: float = WRITE_WAIT_S, replica: bool = False,
                 client=None, tuning=None, say: Callable[[str], None] = say_on_stderr):
        self.settings = settings
        self.lock_timeout_s = lock_timeout_s
        self.embedded = client is None and not settings.qdrant_url
        self.replica = replica and self.embedded  # a server orders its own writers: nothing to refuse
        self._backend = _open_backend(settings, client, writer=not self.replica,
                                      lock_timeout_s=lock_timeout_s, tuning=tuning, say=say)
        # a server orders its own writes; this lock keeps one data dir's local records in step
        self._records_lock = None if self.embedded else WriteLock(
            settings.data_dir / ".writer.lock", timeout_s=lock_timeout_s, say=say)

    @property
    def location(self) -> str:
        """Where the collections live, in words (for `indexer info`)."""
        if self.embedded:
            from clipret.store.edge import edge_root

            return f"embedded (Qdrant Edge) in {edge_root(self.settings.data_dir)}"
        return f"Qdrant server at {self.settings.qdrant_url}" if self.settings.qdrant_url else "a qdrant-client"

    @property
    def client(self):
        """The qdrant-client behind a server store (AttributeError on the embedded store)."""
        return self._backend.client

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> ClipStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def writing(self, purpose: str | None = None) -> contextlib.AbstractContextManager:
        """Hold the writer lock for a block of writes (waiting for another writer first, saying for whom):
        readers see each write when it completes, and no other writer runs in between."""
        self._check_writable()
        if self.embedded:
            return self._backend.writing(purpose)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return self._records_lock.hold(purpose)

    def _check_writable(self) -> None:
        if self.replica:
            from clipret.errors import ClipretError

            raise ClipretError("This store is a read-only replica: open ClipStore(settings) to write.")

    # -- collections and aliases ---------------------------------------------------------------
    def create_collection(self, name: str, vector_sizes: dict[str, int]) -> None:
        """A new, empty collection with one cosine named vector per entry of `vector_sizes`, and keyword
        payload indexes on genre, clip_id, youtube_id and version_group."""
        self._check_writable()
        self._backend.create(name, {n: int(d) for n, d in vector_sizes.items()})

    def collections(self, prefix: str = "") -> list[str]:
        return [n for n in self._backend.names() if n.startswith(prefix)]

    def delete_collection(self, name: str) -> None:
        self._check_writable()
        self._backend.delete(name)

    def vector_sizes(self, collection_or_alias: str) -> dict[str, int]:
        return self._backend.vector_sizes(self.resolve(collection_or_alias))

    def serving_collection(self, alias: str) -> str | None:
        """The collection `alias` points at, or None."""
        return self._backend.aliases().get(alias)

    def aliases(self) -> dict[str, str]:
        return self._backend.aliases()

    def swap_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` in one step: readers see the old or the new, never neither."""
        self._check_writable()
        self._backend.set_alias(alias, collection)

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
                            "`clipret build --from demo` (or `make run`).")

    # -- points --------------------------------------------------------------------------------
    def upsert(self, collection: str, points: Iterable[ClipPoint], batch_size: int = 64) -> int:
        """Store points (replacing any with the same clip id); returns how many were written.
        On the embedded store one call is one step for readers: they see all of it or none."""
        self._check_writable()
        if self.embedded:
            return self._backend.upsert_clips(collection, points, batch_size)
        batch, written = [], 0
        for p in points:
            batch.append(p)
            if len(batch) == batch_size:
                self._backend.upsert_clips(collection, batch)
                written, batch = written + len(batch), []
        if batch:
            self._backend.upsert_clips(collection, batch)
        return written + len(batch)

    def count(self, collection_or_alias: str) -> int:
        return self._backend.count(collection_or_alias)

    def search(self, collection_or_alias: str, vector_name: str, vector: np.ndarray, k: int,
               genres: Sequence[str] | None = None, exclude_clip_ids: Sequence[str] = (),
               with_vectors: bool = False, exclude_groups: Sequence[str] = ()) -> list[Hit]:
        """The k clips nearest to `vector` by cosine in the named vector space; `exclude_groups` leaves
        out every clip of these version groups (a query's own song)."""
        return self._backend.search(collection_or_alias, vector_name, vector, k, genres, exclude_clip_ids,
                                    with_vectors, exclude_groups)

    def search_groups(self, collection_or_alias: str, vector_name: str, vector: np.ndarray, k: int,
                      genres: Sequence[str] | None = None, exclude_clip_ids: Sequence[str] = (),
                      exclude_groups: Sequence[str] = (), group_size: int = GROUP_SIZE,
                      with_vectors: bool = False) -> list[HitGroup]:
        """The k songs nearest to `vector`: hits collapsed by version group, so k groups are k different
        songs, ranked by their best hit; each keeps up to `group_size` of its versions' hits, best first.
        A clip without a version group is a song of its own (an index built before versions)."""
        return self._backend.search_groups(collection_or_alias, vector_name, vector, k, genres, exclude_clip_ids,
                                           exclude_groups, group_size, with_vectors)

    def clips_in_group(self, collection_or_alias: str, group: str) -> list[Hit]:
        """Every clip of one version group (a song's versions, payloads only), in clip-id order; [] when
        no clip carries that group."""
        return sorted(self._backend.group_members(collection_or_alias, group), key=lambda h: h.clip_id)

    def get_clip(self, collection_or_alias: str, clip_id: str, with_vectors: bool = True) -> Hit | None:
        return self._backend.get(collection_or_alias, clip_id, with_vectors)

    def find_by_youtube_id(self, collection_or_alias: str, youtube_id: str,
                           with_vectors: bool = True) -> Hit | None:
        return self._backend.find(collection_or_alias, "youtube_id", youtube_id, with_vectors)

    def all_clips(self, collection_or_alias: str, with_vectors: bool | Sequence[str] = False,
                  page: int = 256) -> list[Hit]:
        """Every stored clip (payload, and vectors when asked), in clip-id order."""
        return sorted(self._backend.hits(collection_or_alias, with_vectors, page), key=lambda h: h.clip_id)

    def iter_clips(self, collection_or_alias: str, with_vectors: bool | Sequence[str] = False,
                   page: int = 256) -> Iterator[Hit]:
        """Every stored clip, page by page, in the store's order (for copying a large collection)."""
        return self._backend.hits(collection_or_alias, with_vectors, page)

    def all_payloads(self, collection_or_alias: str) -> list[dict[str, Any]]:
        return [h.payload for h in self.all_clips(collection_or_alias)]


def _open_backend(settings: Settings, client, *, writer: bool, lock_timeout_s: float, tuning=None,
                  say: Callable[[str], None] = say_on_stderr):
    from clipret.store.server import ClientCollections, connect_server

    if client is not None:
        return ClientCollections(client, payload_indexes=bool(settings.qdrant_url))
    if settings.qdrant_url:
        return connect_server(settings.qdrant_url, settings.qdrant_api_key)
    from clipret.store.edge import EdgeCollections, EdgeTuning, edge_root
    from clipret.store.migrate import migrate_local_mode

    root = edge_root(settings.data_dir)
    migrate_local_mode(settings.qdrant_path, root, lock_timeout_s)  # once, when an old index is found
    return EdgeCollections(root, writer=writer, lock_timeout_s=lock_timeout_s, tuning=tuning or EdgeTuning(),
                           say=say)
