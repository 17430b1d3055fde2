"""Versions of one song: clips whose Chromaprint fingerprints line up over a long stretch form a group.

Two fingerprints of one recording share many exact 32-bit items at one offset (the intro cut, the delay
before the song starts, where a clip sits in a longer video), while different songs share almost none. So
candidate pairs come from votes: every item two clips share votes for the offset between its positions.
A candidate is then verified at its best offsets by bit agreement over the whole overlap: a match needs
MIN_OVERLAP_S of overlap and MIN_AGREEMENT of the bits equal (docs/versions.md: versions of one recording
agree at 0.92 or more, different songs at 0.68 at most). Matches are joined transitively into groups; each
group's representative is its longest clip (then the first clip id), the others are its versions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clipret.features.fingerprint import ITEM_SECONDS
from clipret.files import save_npz_atomic

# Share of equal fingerprint bits over the overlap for two clips to be one song: midway between the lowest
# version of a recording (0.925) and the highest pair of different recordings of one soundtrack (0.677) on
# the real-music dev set (docs/versions.md, `python -m bench versions`)
MIN_AGREEMENT = 0.80
MIN_OVERLAP_S = 20.0  # ... over at least this much aligned audio (or the whole of a shorter clip)
MIN_VOTES = 4  # shared items at one offset that make a pair worth verifying
COMMON_ITEM_CLIPS = 0.05  # an item found in more than this share of the clips (silence) never votes,
COMMON_ITEM_MIN = 25  # ... nor in more than this many (never fewer: a song may have many versions)
REPRESENTATIVE, VERSION = "representative", "version"
FINGERPRINTS = "fingerprints.npz"  # an index's fingerprints, beside its models: `add` matches new clips to them


@dataclass(frozen=True)
class Alignment:
    """How fingerprint b lies against fingerprint a: b's item 0 sits at a's item `offset`."""

    offset: int
    overlap: int  # items compared
    agreement: float  # share of equal bits over the overlap, 0..1 (0.5 for unrelated audio)

    @property
    def overlap_s(self) -> float:
        return self.overlap * ITEM_SECONDS


def agreement_at(a: np.ndarray, b: np.ndarray, offset: int) -> Alignment:
    """The bit agreement of a and b with b's item 0 at a's item `offset` (negative: b starts earlier)."""
    start_a, start_b = max(offset, 0), max(-offset, 0)
    n = max(0, min(len(a) - start_a, len(b) - start_b))
    if n == 0:
        return Alignment(offset, 0, 0.0)
    diff = np.bitwise_xor(a[start_a:start_a + n], b[start_b:start_b + n])
    differing = int(np.unpackbits(diff.astype("<u4").view(np.uint8)).sum())
    return Alignment(offset, n, 1.0 - differing / (32 * n))


def best_alignment(a: np.ndarray, b: np.ndarray, offsets: Sequence[int], spread: int = 2) -> Alignment:
    """The best agreement at each of `offsets` ± spread items (votes find an offset to within a hop)."""
    tried = {o + d for o in offsets for d in range(-spread, spread + 1)}
    return max((agreement_at(a, b, o) for o in tried), key=lambda al: al.agreement,
               default=Alignment(0, 0, 0.0))


def is_match(alignment: Alignment, len_a: int, len_b: int) -> bool:
    """Long enough (MIN_OVERLAP_S, or nearly all of the shorter clip) and agreeing enough."""
    needed = min(MIN_OVERLAP_S / ITEM_SECONDS, 0.9 * min(len_a, len_b))
    return alignment.overlap >= needed and alignment.agreement >= MIN_AGREEMENT


class FingerprintIndex:
    """Every clip's items, sorted by value, to find the clips (and offsets) that share a clip's items."""

    def __init__(self, fingerprints: Mapping[str, np.ndarray]):
        self.ids = list(fingerprints)
        self.prints = [np.asarray(fingerprints[c], dtype=np.uint32) for c in self.ids]
        empty = np.zeros(0, np.int64)
        per_clip = np.concatenate([np.unique(p) for p in self.prints]) if self.prints else empty
        values, clips = np.unique(per_clip, return_counts=True)
        limit = max(COMMON_ITEM_MIN, int(COMMON_ITEM_CLIPS * len(self.ids)))
        self._common = values[clips > limit]  # in many clips: silence or a constant tone, not a song
        value = np.concatenate(self.prints) if self.prints else empty
        clip = np.concatenate([np.full(len(p), i) for i, p in enumerate(self.prints)]) if self.prints else empty
        pos = np.concatenate([np.arange(len(p)) for p in self.prints]) if self.prints else empty
        order = np.argsort(value, kind="stable")
        self._value, self._clip, self._pos = value[order], clip[order], pos[order]

    def candidates(self, query: np.ndarray, skip: int | None = None) -> dict[int, list[int]]:
        """{clip index: its best offsets (b's item 0 at the query's item offset)} for the clips that
        share at least MIN_VOTES of the query's items at one offset."""
        query = np.asarray(query, dtype=np.uint32)
        keep = ~np.isin(query, self._common)
        positions = np.nonzero(keep)[0]
        lo = np.searchsorted(self._value, query[keep], side="left")
        hi = np.searchsorted(self._value, query[keep], side="right")
        if not len(positions) or not (hi - lo).sum():
            return {}
        runs = hi - lo
        rows = np.repeat(np.arange(len(lo)), runs)
        hits = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a])
        clips, offsets = self._clip[hits], positions[rows] - self._pos[hits]
        found: dict[int, list[int]] = {}
        for c in np.unique(clips):
            if c == skip:
                continue
            votes = np.bincount(offsets[clips == c] - offsets[clips == c].min())
            best = np.argsort(-votes)[:3]
            best = best[votes[best] >= MIN_VOTES]
            if len(best):
                found[int(c)] = [int(o + offsets[clips == c].min()) for o in best]
        return found

    def matches(self, query: np.ndarray, skip: int | None = None) -> list[tuple[str, Alignment]]:
        """The clips that are versions of `query`, with their alignment (b = the query)."""
        out = []
        for c, offsets in self.candidates(query, skip).items():
            alignment = best_alignment(self.prints[c], query, [-o for o in offsets])
            if is_match(alignment, len(self.prints[c]), len(query)):
                out.append((self.ids[c], alignment))
        return out


def version_groups(fingerprints: Mapping[str, np.ndarray | None], durations: Mapping[str, float]
                   ) -> dict[str, tuple[str, str]]:
    """{clip_id: (group id, role)} for every clip of `durations`. A group's id is its representative's
    clip id; a clip without a fingerprint, or matching none, is a group of its own."""
    present = {c: fp for c, fp in fingerprints.items() if fp is not None and len(fp)}
    index = FingerprintIndex(present)
    parent = {c: c for c in durations}

    def root(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for i, clip_id in enumerate(index.ids):
        for other, _ in index.matches(index.prints[i], skip=i):
            if other in parent and clip_id in parent:
                parent[root(other)] = root(clip_id)
    members: dict[str, list[str]] = {}
    for c in durations:
        members.setdefault(root(c), []).append(c)
    groups = {}
    for group in members.values():
        head = min(group, key=lambda c: (-float(durations[c] or 0.0), c))
        groups.update({c: (head, REPRESENTATIVE if c == head else VERSION) for c in group})
    return groups


def save_fingerprints(path: Path, fingerprints: Mapping[str, np.ndarray | None]) -> None:
    """Every clip's fingerprint in one file: the clip ids, the items end to end, where each clip's end."""
    ids = [c for c, fp in fingerprints.items() if fp is not None and len(fp)]
    prints = [np.asarray(fingerprints[c], dtype=np.uint32) for c in ids]
    save_npz_atomic(path, ids=np.array(ids, dtype=str), ends=np.cumsum([len(p) for p in prints], dtype=np.int64),
                    items=np.concatenate(prints) if prints else np.zeros(0, np.uint32))


def load_fingerprints(path: Path) -> dict[str, np.ndarray]:
    """{clip_id: (n,) uint32} saved by save_fingerprints; {} when there is no file (an index built before
    fingerprints, or without Chromaprint)."""
    if not path.is_file():
        return {}
    with np.load(path) as data:
        ids, ends, items = list(data["ids"]), data["ends"], data["items"]
    starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
    return {str(c): items[a:b] for c, a, b in zip(ids, starts, ends, strict=True)}


def add_fingerprints(path: Path, fingerprints: Mapping[str, np.ndarray | None]) -> None:
    """Add (or replace) clips in an index's fingerprint file (under the writer lock: `add`)."""
    save_fingerprints(path, {**load_fingerprints(path), **fingerprints})


def best_version_match(fingerprint: np.ndarray | None, known: Mapping[str, np.ndarray]) -> str | None:
    """The known clip a new clip is a version of (the best-agreeing match), None when it matches none."""
    if fingerprint is None or not len(fingerprint) or not known:
        return None
    matches = FingerprintIndex(known).matches(fingerprint)
    return max(matches, key=lambda m: m[1].agreement)[0] if matches else None
