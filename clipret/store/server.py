"""The store through qdrant-client: a Qdrant server or cluster (QDRANT_URL), or any client given to it
(qdrant-client's in-memory mode speaks the same API, which is how the tests exercise this path)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from clipret.errors import StoreUnavailable
from clipret.store.groups import GROUP_FIELD, collapse
from clipret.store.points import Hit, point_id

KEYWORD_INDEXES = ("genre", "clip_id", "youtube_id", GROUP_FIELD)  # version_group: grouped on and filtered

class ClientCollections:
    """Collections, aliases and points over a qdrant-client `client`."""

    def __init__(self, client, *, payload_indexes: bool = True):
        self.client = client
        self.payload_indexes = payload_indexes  # qdrant-client's local modes have none (they warn)

    def close(self) -> None:
        self.client.close()

    def aliases(self) -> dict[str, str]:
        return {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}

    def set_alias(self, alias: str, collection: str) -> None:
        """Delete and create the alias in one call: readers see the old or the new, never neither."""
        from qdrant_client import models

        ops: list[Any] = []
        if alias in self.aliases():
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        ops.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)))
        self.client.update_collection_aliases(change_aliases_operations=ops)

    def names(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def create(self, name: str, vector_sizes: dict[str, int]) -> None:
        from qdrant_client import models

        config = {n: models.VectorParams(size=int(d), distance=models.Distance.COSINE)
                  for n, d in vector_sizes.items()}
        self.client.create_collection(collection_name=name, vectors_config=config)
        for key in KEYWORD_INDEXES if self.payload_indexes else ():
            self.client.create_payload_index(name, field_name=key, field_schema=models.PayloadSchemaType.KEYWORD)

    def delete(self, name: str) -> None:
        self.client.delete_collection(collection_name=name)

    def vector_sizes(self, name: str) -> dict[str, int]:
        vectors = self.client.get_collection(name).config.params.vectors
        return {n: int(p.size) for n, p in vectors.items()}

    def upsert_clips(self, name: str, clips: Sequence[Any]) -> None:
        from qdrant_client import models

        points = [models.PointStruct(id=point_id(c.clip_id),
                                     vector={n: np.asarray(v, dtype=np.float32).tolist() for n, v in c.vectors.items()},
                                     payload={**c.payload, "clip_id": c.clip_id}) for c in clips]
        self.client.upsert(collection_name=name, points=points, wait=True)

    def count(self, name: str) -> int:
        return self.client.count(collection_name=name, exact=True).count

    def search(self, name: str, vector_name: str, vector: np.ndarray, k: int, genres: Sequence[str] | None,
               exclude_clip_ids: Sequence[str], with_vectors: bool, exclude_groups: Sequence[str] = ()) -> list:
        result = self.client.query_points(
            collection_name=name, query=np.asarray(vector, dtype=np.float32).tolist(), using=vector_name,
            limit=int(k), query_filter=_filter(genres, exclude_clip_ids, exclude_groups), with_payload=True,
            with_vectors=with_vectors)
        return [_hit(p) for p in result.points]

    def search_groups(self, name: str, vector_name: str, vector: np.ndarray, k: int,
                      genres: Sequence[str] | None, exclude_clip_ids: Sequence[str], exclude_groups: Sequence[str],
                      group_size: int, with_vectors: bool) -> list:
        """The k nearest songs (HitGroups) by Qdrant's grouping query on version_group. Grouping skips
        points without the field (an index built before versions were detected), and would make one song
        of every empty one: those are each their own song, so a plain search finds the nearest of them,
        and both answers are collapsed together in score order."""
        query = np.asarray(vector, dtype=np.float32).tolist()
        grouped = self.client.query_points_groups(
            collection_name=name, group_by=GROUP_FIELD, query=query, using=vector_name, limit=int(k),
            group_size=int(group_size), with_payload=True, with_vectors=with_vectors,
            query_filter=_filter(genres, exclude_clip_ids, exclude_groups, must_not=[_ungrouped()]))
        alone = self.client.query_points(
            collection_name=name, query=query, using=vector_name, limit=int(k), with_payload=True,
            with_vectors=with_vectors, query_filter=_filter(genres, exclude_clip_ids, exclude_groups,
                                                            must=[_ungrouped()]))
        hits = [_hit(p) for g in grouped.groups for p in g.hits] + [_hit(p) for p in alone.points]
        return collapse(sorted(hits, key=lambda h: -h.score), k, group_size)

    def group_members(self, name: str, group: str) -> list:
        """Every clip whose version_group is `group` (payloads only)."""
        from qdrant_client import models

        condition = models.Filter(must=[models.FieldCondition(key=GROUP_FIELD, match=models.MatchValue(value=group))])
        members, offset = [], None
        while True:
            points, offset = self.client.scroll(collection_name=name, scroll_filter=condition, limit=256,
                                                offset=offset, with_payload=True, with_vectors=False)
            members.extend(_hit(p) for p in points)
            if offset is None:
                return members

    def get(self, name: str, clip_id: str, with_vectors: bool):

        found = self.client.retrieve(collection_name=name, ids=[point_id(clip_id)], with_payload=True,
                                     with_vectors=with_vectors)
        return _hit(found[0]) if found else None

    def find(self, name: str, key: str, value: str, with_vectors: bool):
        from qdrant_client import models

        condition = models.FieldCondition(key=key, match=models.MatchValue(value=value))
        points, _ = self.client.scroll(collection_name=name, limit=1, scroll_filter=models.Filter(must=[condition]),
                                       with_payload=True, with_vectors=with_vectors)
        return _hit(points[0]) if points else None

    def hits(self, name: str, with_vectors: bool | Sequence[str], page: int) -> Iterator[Any]:
        offset = None
        while True:
            points, offset = self.client.scroll(collection_name=name, limit=page, offset=offset,
                                                with_payload=True, with_vectors=with_vectors)
            yield from (_hit(p) for p in points)
            if offset is None:
                return

def connect_server(url: str, api_key: str | None) -> ClientCollections:
    """A client of the server at `url`, checked once, so a wrong URL or key is one sentence here."""
    from qdrant_client import QdrantClient

    client = QdrantClient(url=url, api_key=api_key, timeout=10, check_compatibility=False)
    try:
        client.get_collections()
    except Exception as exc:  # noqa: BLE001 - any transport or auth failure means the same to a user
        raise StoreUnavailable(_server_problem(url, exc)) from None
    return ClientCollections(client)

def _server_problem(url: str, exc: Exception) -> str:
    text = str(exc)
    if "401" in text or "403" in text or "nauthori" in text or "orbidden" in text:
        return f"The Qdrant server at {url} refused the API key: check QDRANT_API_KEY."
    return f"The Qdrant server at {url} cannot be reached: check QDRANT_URL and that the server is running."

def _filter(genres: Sequence[str] | None, exclude_clip_ids: Sequence[str], exclude_groups: Sequence[str] = (),
            must: Sequence[Any] = (), must_not: Sequence[Any] = ()):
    from qdrant_client import models

    must = list(must) + ([models.FieldCondition(key="genre", match=models.MatchAny(any=list(genres)))]
                         if genres else [])
    must_not = list(must_not)
    if exclude_clip_ids:
        must_not.append(models.HasIdCondition(has_id=[point_id(c) for c in exclude_clip_ids]))
    if exclude_groups:  # a song's other versions (a clip with no version_group is only its own song)
        must_not.append(models.FieldCondition(key=GROUP_FIELD, match=models.MatchAny(any=list(exclude_groups))))
    return models.Filter(must=must, must_not=must_not) if (must or must_not) else None


def _ungrouped():
    """Matches a point whose version_group is missing or empty: a song of its own."""
    from qdrant_client import models

    return models.Filter(should=[models.IsEmptyCondition(is_empty=models.PayloadField(key=GROUP_FIELD)),
                                 models.FieldCondition(key=GROUP_FIELD, match=models.MatchValue(value=""))])

def _hit(point):

    payload = dict(point.payload or {})
    vectors = None
    if isinstance(point.vector, dict) and point.vector:
        vectors = {n: np.asarray(v, dtype=np.float32) for n, v in point.vector.items()}
    return Hit(clip_id=payload.get("clip_id", str(point.id)), score=float(getattr(point, "score", 0.0) or 0.0),
               payload=payload, vectors=vectors)
