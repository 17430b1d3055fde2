"""The per-clip feature cache: <features_dir>/<profile>/<clip_id>.npz, one file per finished clip.

Each file holds the features, the `key` they were computed from (a digest of every media byte, the
lyrics and the profile) and a `stamp` (the media file's stat, the lyrics and the profile): a re-run
whose stamps all match reads no media byte; where a stamp differs, the key decides.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from clipret.files import save_npz_atomic

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_BLOCK = "block:"  # npz key prefix of a present block; an absent key = the modality is missing
_VIEWS = "views:"  # npz key prefix of a block's views; absent: the block has none (or the file predates views)
# A file changed this recently may change again without its stat changing (timestamps are coarse:
# a kernel tick, 1 s on some network file systems, 2 s on FAT), so it gets no stamp: the key decides.
SETTLE_NS = 2_000_000_000
_UNREADABLE = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)  # missing, empty or truncated


def cache_path(features_dir: Path, profile: str, clip_id: str) -> Path:
    """Where a clip's features live; ids unsafe as file names are hashed."""
    name = clip_id if _SAFE_ID.match(clip_id) else "id-" + hashlib.sha1(clip_id.encode()).hexdigest()
    return Path(features_dir) / profile / f"{name}.npz"


def fingerprint(media_path: Path, lyrics: str, profile: str) -> str:
    """What the cached features were computed from: media bytes, lyrics text and profile.

    A corpus regenerated with other settings under the same clip ids gets new features instead of
    stale ones, and an identical one reuses the cache.
    """
    digest = hashlib.sha256()
    with open(media_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(b"\0lyrics\0" + lyrics.strip().encode("utf-8"))
    digest.update(b"\0profile\0" + _profile_key(profile).encode("utf-8"))
    return digest.hexdigest()


def media_stamp(media_path: Path, lyrics: str, profile: str) -> str:
    """A cheap identity of fingerprint's inputs, from the media file's stat (no byte read); "" for a
    file changed within SETTLE_NS, whose stat cannot be trusted yet.

    Size and mtime change with the content; the inode when the file is replaced or copied; ctime with
    any change, and unlike mtime (`touch -r`, a copy keeping times) no user can set it back.
    """
    st = os.stat(media_path)
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLE_NS:
        return ""
    digest = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}".encode())
    digest.update(b"\0lyrics\0" + lyrics.strip().encode("utf-8"))
    digest.update(b"\0profile\0" + _profile_key(profile).encode("utf-8"))
    return digest.hexdigest()


def _profile_key(profile: str) -> str:
    """The profile's name, plus its layout version from 2 on (so version-1 caches keep their keys)."""
    from clipret.features.profiles import profile_version

    version = profile_version(profile)
    return profile if version <= 1 else f"{profile}@v{version}"


class CacheCheck(NamedTuple):
    """is_current's answer: whether the cached features are current, and the key and stamp that
    features computed now are saved with."""

    current: bool
    key: str
    stamp: str


def is_current(cache_file: Path, media_path: Path, lyrics: str, profile: str) -> CacheCheck:
    """Whether `cache_file` holds the features of this media, lyrics and profile.

    A matching stamp answers without opening the media; otherwise the media is hashed, and a cache
    whose key matches (written before stamps, on another disk, or the media touched) gets today's
    stamp, so that the next run reads no media byte either.
    """
    stored = cached_identity(cache_file)
    now = media_stamp(media_path, lyrics, profile)  # before hashing: a change mid-hash leaves a stamp that differs
    if now and stored is not None and stored[1] == now:
        return CacheCheck(True, stored[0], now)
    key = fingerprint(media_path, lyrics, profile)
    if stored is None or stored[0] != key:
        return CacheCheck(False, key, now)
    if now:
        _restamp(cache_file, key, now)
    return CacheCheck(True, key, now)


def _restamp(path: Path, key: str, new_stamp: str) -> None:
    """Rewrite `path` with a new stamp and every other array as it was; a cache that cannot be rewritten
    (read-only, or replaced meanwhile by another run) keeps its old stamp: only the next run's speed is lost."""
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        if str(arrays["key"]) != key:
            return
        save_npz_atomic(path, **{**arrays, "stamp": np.array(new_stamp)})
    except _UNREADABLE:
        pass


def save_features(path: Path, features: dict[str, np.ndarray | None], key: str, duration_s: float,
                  stamp: str = "", fingerprint: np.ndarray | None = None,
                  views: dict[str, np.ndarray] | None = None) -> None:
    """Write atomically: a crash mid-write leaves no file a re-run would trust. Beside the blocks, the
    clip's audio fingerprint (uint32, empty for a clip without audio; None, where Chromaprint is missing,
    writes no entry, and a later run with Chromaprint adds it: clipret.indexing.backfill) and the blocks'
    views ({block: (N_VIEWS, dim)}, clipret.features.views)."""
    arrays = {_BLOCK + name: np.asarray(v, dtype=np.float32) for name, v in features.items() if v is not None}
    arrays.update({_VIEWS + name: np.asarray(v, dtype=np.float32) for name, v in (views or {}).items()})
    if fingerprint is not None:
        arrays["fingerprint"] = np.asarray(fingerprint, dtype=np.uint32)
    save_npz_atomic(path, key=np.array(key), stamp=np.array(stamp), duration_s=np.array(float(duration_s)),
                    **arrays)


def has_fingerprint(path: Path) -> bool:
    """Whether a cache file has its fingerprint entry (files written before fingerprints have none)."""
    try:
        with np.load(path) as data:
            return "fingerprint" in data.files
    except _UNREADABLE:
        return False


def load_fingerprint(path: Path) -> np.ndarray | None:
    """The clip's Chromaprint fingerprint ((n,) uint32), None when it has none."""
    with np.load(path) as data:
        prints = data["fingerprint"] if "fingerprint" in data.files else np.zeros(0, np.uint32)
    return prints if len(prints) else None


def add_fingerprint(path: Path, key: str, fingerprint: np.ndarray) -> bool:
    """Give a cache file written before fingerprints its fingerprint; False when the file is no longer
    the one of `key` (replaced meanwhile) and was left alone."""
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        if str(arrays["key"]) != key:
            return False
        save_npz_atomic(path, **{**arrays, "fingerprint": np.asarray(fingerprint, dtype=np.uint32)})
        return True
    except _UNREADABLE:
        return False


def cached_identity(path: Path) -> tuple[str, str] | None:
    """(key, stamp) a cache file was written with ("" for a file from before stamps), or None when
    there is no readable file. Reads the two small arrays only."""
    try:
        with np.load(path) as data:
            return str(data["key"]), (str(data["stamp"]) if "stamp" in data.files else "")
    except _UNREADABLE:
        return None


def cached_key(path: Path) -> str | None:
    """The fingerprint a cache file was written with, or None when there is no readable file."""
    identity = cached_identity(path)
    return None if identity is None else identity[0]


def load_features(path: Path, block_names: tuple[str, ...]) -> tuple[dict[str, np.ndarray | None], float]:
    """({block: (dim,) float32 or None}, duration_s) of one cached clip."""
    with np.load(path) as data:
        features = {name: (data[_BLOCK + name] if _BLOCK + name in data.files else None)
                    for name in block_names}
        return features, float(data["duration_s"])


def load_views(path: Path, block_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """{block: (N_VIEWS, dim) float32} of the blocks of `block_names` that have views in a cache file."""
    with np.load(path) as data:
        return {name: data[_VIEWS + name] for name in block_names if _VIEWS + name in data.files}
