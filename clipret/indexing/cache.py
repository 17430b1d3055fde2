"""The per-clip feature cache: <features_dir>/<profile>/<clip_id>.npz, one file per finished clip."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np

from clipret.files import save_npz_atomic

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_BLOCK = "block:"  # npz key prefix of a present block; an absent key = the modality is missing


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


def _profile_key(profile: str) -> str:
    """The profile's name, plus its layout version from 2 on (so version-1 caches keep their keys)."""
    from clipret.features.profiles import profile_version

    version = profile_version(profile)
    return profile if version <= 1 else f"{profile}@v{version}"


def save_features(path: Path, features: dict[str, np.ndarray | None], key: str, duration_s: float) -> None:
    """Write atomically: a crash mid-write leaves no file a re-run would trust."""
    arrays = {_BLOCK + name: np.asarray(v, dtype=np.float32) for name, v in features.items() if v is not None}
    save_npz_atomic(path, key=np.array(key), duration_s=np.array(float(duration_s)), **arrays)


def cached_key(path: Path) -> str | None:
    """The fingerprint a cache file was written with, or None when there is no readable file."""
    try:
        with np.load(path) as data:
            return str(data["key"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing, empty or truncated
        return None


def load_features(path: Path, block_names: tuple[str, ...]) -> tuple[dict[str, np.ndarray | None], float]:
    """({block: (dim,) float32 or None}, duration_s) of one cached clip."""
    with np.load(path) as data:
        features = {name: (data[_BLOCK + name] if _BLOCK + name in data.files else None)
                    for name in block_names}
        return features, float(data["duration_s"])
