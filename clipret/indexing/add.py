"""Grow the serving index by one clip (a file or a YouTube URL) with its stored models, no retraining."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from clipret.config import Settings
from clipret.embedding.artifacts import MANIFEST, LoadedIndex
from clipret.errors import MediaError
from clipret.files import write_json_atomic
from clipret.indexing.payload import record_payload
from clipret.sources.corpus import ClipRecord, read_clips, write_clips
from clipret.sources.folder import lyrics_beside, read_lyrics_file, slug

ADDED_CORPUS = "added"  # corpora/added/: the media and records of added clips, a corpus like any other
MAP_NEIGHBOURS = 5  # a new clip is placed on the 2-D maps at the mean of its nearest clips


@dataclass(frozen=True)
class AddedClip:
    clip_id: str
    collection: str
    title: str
    genre: str


def add_clip(store, settings: Settings, source: str, *, genre: str = "", title: str = "",
             lyrics_file: str | Path | None = None, alias: str | None = None) -> AddedClip:
    """Embed `source` (a media file or a YouTube URL) and upsert it into the serving collection."""
    from clipret.store import ClipPoint

    collection = store.resolve(alias or settings.collection)
    index = LoadedIndex.load(settings, collection, store=store)
    corpus_dir = settings.corpora_dir / ADDED_CORPUS
    record, media = _fetch(source, corpus_dir, genre or "unknown", title)
    try:
        if lyrics_file is not None:
            record = replace(record, lyrics=read_lyrics_file(lyrics_file))
        features, duration = index.extract_file(media, record.lyrics)
    except BaseException:
        _forget_download(corpus_dir, record, media)  # a clip that cannot be added leaves nothing behind
        raise
    vectors = {name: v[0] for name, v in index.embed([features]).items()}  # name → (d,)
    payload = record_payload(record, corpus_dir, index.profile.name, duration, settings)
    payload["cluster"] = int(index.cluster(vectors["fused"])[0])
    payload.update(_map_position(store, collection, vectors["fused"], record.clip_id))
    payload["added_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    if not _same_file(media, record.media_path(corpus_dir)):  # a local file: keep a copy the app can play
        record.media_path(corpus_dir).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media, record.media_path(corpus_dir))
    store.upsert(collection, [ClipPoint(record.clip_id, vectors, payload)])
    _remember(corpus_dir, record)
    _note_in_manifest(index, record.clip_id, payload["added_utc"])
    return AddedClip(record.clip_id, collection, record.title, record.genre)


def _fetch(source: str, corpus_dir: Path, genre: str, title: str) -> tuple[ClipRecord, Path]:
    """(the clip's record, its media file to extract): a URL is downloaded into corpus_dir/media/;
    a local file is read where it is and copied there once it has been embedded."""
    media_dir = corpus_dir / "media"
    if _looks_like_url(source):
        from clipret.sources.youtube import download_video

        video = download_video(source, media_dir)  # UnsupportedURL / DownloadError with a reason
        record, media = video.record(genre), Path(video.path)
        record = replace(record, path=str(media.resolve().relative_to(corpus_dir.resolve())))
    else:
        media = Path(source)
        if not media.is_file():
            raise MediaError(f"{source}: no such file. Give a media file or a YouTube URL.")
        with open(media, "rb") as f:
            digest = hashlib.file_digest(f, "sha1").hexdigest()[:8]
        clip_id = f"file-{slug(media.stem)[:60]}-{digest}"
        record = ClipRecord(clip_id=clip_id, title=media.stem.replace("_", " "), genre=genre,
                            path=f"media/{clip_id}{media.suffix.lower()}", lyrics=lyrics_beside(media))
    return (replace(record, title=title) if title else record), media


def _looks_like_url(source: str) -> bool:
    return "://" in source or source.startswith(("www.", "youtube.com", "youtu.be", "m.youtube.com"))


def _map_position(store, collection: str, fused: np.ndarray, clip_id: str) -> dict[str, list[float]]:
    """2-D maps cannot place new points (t-SNE has no transform): use the mean of the nearest clips."""
    hits = store.search(collection, "fused", fused, k=MAP_NEIGHBOURS, exclude_clip_ids=[clip_id])
    keys = {k for h in hits for k, v in h.payload.items() if k.startswith("map_") and isinstance(v, list)}
    return {k: [float(x) for x in np.mean([h.payload[k] for h in hits if k in h.payload], axis=0)]
            for k in sorted(keys)}


def _forget_download(corpus_dir: Path, record: ClipRecord, media: Path) -> None:
    """Delete a downloaded file that did not make it into the index (never a user's own file)."""
    if not _same_file(media, record.media_path(corpus_dir)):
        return
    known = (corpus_dir / "clips.jsonl").is_file() and any(
        r.clip_id == record.clip_id for r in read_clips(corpus_dir))
    if not known:
        media.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _remember(corpus_dir: Path, record: ClipRecord) -> None:
    """Keep the clip in corpora/added/clips.jsonl, so a rebuild can include it."""
    records = read_clips(corpus_dir) if (corpus_dir / "clips.jsonl").is_file() else []
    write_clips(corpus_dir, [r for r in records if r.clip_id != record.clip_id] + [record])


def _note_in_manifest(index: LoadedIndex, clip_id: str, when: str) -> None:
    manifest = dict(index.manifest)
    manifest["added"] = [a for a in manifest.get("added", []) if a.get("clip_id") != clip_id]
    manifest["added"].append({"clip_id": clip_id, "added_utc": when})
    write_json_atomic(index.directory / MANIFEST, manifest)
