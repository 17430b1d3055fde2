"""Fingerprints for feature caches written before there were any (or while Chromaprint was missing):
an audio-only decode per clip, in a child process as every decode, instead of extracting it again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clipret.errors import ClipretError


@dataclass(frozen=True)
class MissingFingerprint:
    """A cached clip whose cache has no fingerprint entry yet."""

    clip_id: str
    media_path: str
    cache_path: str
    key: str  # the cache's key: a cache replaced meanwhile is left alone


def add_missing_fingerprints(clips: Sequence[MissingFingerprint], timeout_s: float, progress: bool = True
                             ) -> list[str]:
    """Fingerprint each clip from its audio alone and add it to its cache; notes for the report (the
    clips that could not be decoded keep no fingerprint and are a version group of their own)."""
    from tqdm import tqdm

    from clipret.features.fingerprint import fingerprint_unavailable
    from clipret.indexing.cache import add_fingerprint

    if not clips:
        return []
    if fingerprint_unavailable():
        return [fingerprint_unavailable()]
    failed = []
    for clip in tqdm(clips, desc="fingerprints", unit="clip", disable=not progress):
        try:
            add_fingerprint(Path(clip.cache_path), clip.key, fingerprint_media(clip.media_path, timeout_s))
        except ClipretError as exc:
            failed.append(f"{clip.clip_id}: {exc}")
    notes = [f"{len(clips) - len(failed)} cached clips were fingerprinted from their audio"]
    return notes + [f"no fingerprint for {line}" for line in failed[:5]]


def fingerprint_media(path: str | Path, timeout_s: float = 120.0):
    """The Chromaprint fingerprint of a media file's audio (an audio-only decode in a child process);
    None where Chromaprint is missing; MediaError when the file does not decode."""
    from clipret.features.fingerprint import audio_fingerprint, fingerprint_unavailable
    from clipret.media.decode import DecodeOptions, decode

    if fingerprint_unavailable():
        return None
    decoded = decode(path, DecodeOptions(streams=("audio",), timeout_s=timeout_s))
    return audio_fingerprint(decoded.audio, decoded.sample_rate)
