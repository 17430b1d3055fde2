"""Versions of one song as one result: ranked hits collapsed by their `version_group` payload field.

The indexer writes `version_group` (the clip id of the song's representative) and `version_role` on every
point of an index that detected versions. An index built before that has neither: there every clip is its
own song, which is what `group_of` says for a missing or empty field, so such an index searches as before.
Both store backends collapse with `collapse`: a Qdrant server after its grouping query, the embedded
store (whose Python binding has no grouping query) over pages of a plain search (`collapse_pages`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clipret.store.points import Hit

GROUP_FIELD = "version_group"  # payload field: the song's group id (its representative's clip id)
ROLE_FIELD = "version_role"  # payload field: "representative" | "version"
GROUP_SIZE = 10  # hits kept per song: its best hit and up to 9 other versions
FIRST_PAGE_MIN = 32  # hits the embedded store asks for first (then twice as many each time)


@dataclass
class HitGroup:
    """One song's hits for a query, best first: `best` is the result, `versions` its other versions."""

    group: str
    hits: list[Hit]

    @property
    def best(self) -> Hit:
        return self.hits[0]

    @property
    def versions(self) -> list[Hit]:
        return self.hits[1:]


def group_of(payload: Mapping[str, Any], clip_id: str) -> str:
    """The version group of a stored clip: its `version_group`, or its own clip id when it has none."""
    return str(payload.get(GROUP_FIELD) or clip_id)


def collapse(hits: Iterable[Hit], k: int, group_size: int = GROUP_SIZE) -> list[HitGroup]:
    """Hits in rank order (best first) → at most k groups, in the order of their best hits, each with at
    most `group_size` hits in rank order. A hit seen twice (two searches merged) counts once; once k groups
    are open, later hits only add versions to them."""
    groups: dict[str, HitGroup] = {}
    seen: set[str] = set()
    for hit in hits:
        if hit.clip_id in seen:
            continue
        seen.add(hit.clip_id)
        key = group_of(hit.payload, hit.clip_id)
        group = groups.get(key)
        if group is None and len(groups) < k:
            groups[key] = HitGroup(key, [hit])
        elif group is not None and len(group.hits) < group_size:
            group.hits.append(hit)
    return list(groups.values())


def collapse_pages(fetch: Callable[[int, int], list[Hit]], k: int, group_size: int = GROUP_SIZE,
                   first_page: int | None = None) -> list[HitGroup]:
    """k groups from a ranked search read page by page: `fetch(offset, limit)` returns the hits ranked
    offset..offset+limit-1. Each page is twice the one before, so a song with many versions near the query
    costs a few pages, not one per version; it stops when k groups are open or the search runs out.

    A group's versions are those among the hits read: the ones ranked above the k-th song, and the rest
    of the last page."""
    if k <= 0:
        return []
    hits: list[Hit] = []
    limit = first_page or max(4 * k, FIRST_PAGE_MIN)
    while True:
        page = fetch(len(hits), limit)
        hits.extend(page)
        groups = collapse(hits, k, group_size)
        if len(groups) >= k or len(page) < limit:
            return groups
        limit *= 2
