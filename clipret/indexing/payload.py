"""What a clip's point carries in the store besides its vectors: the fields taken from its corpus record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clipret.config import Settings
from clipret.sources.corpus import ClipRecord


def record_payload(record: ClipRecord, corpus_dir: Path, profile: str, duration_s: float,
                   settings: Settings) -> dict[str, Any]:
    """The payload fields that come from the clip record (training adds cluster and map coordinates)."""
    return {"clip_id": record.clip_id, "title": record.title, "genre": record.genre, "artist": record.artist,
            "source_url": record.source_url, "youtube_id": record.youtube_id,
            "thumbnail_url": record.thumbnail_url,
            "media_path": settings.stored_media_path(record.media_path(corpus_dir)),
            "duration_s": float(record.duration_s or duration_s), "has_lyrics": record.has_lyrics,
            "profile": profile}
