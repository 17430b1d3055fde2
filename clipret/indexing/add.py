"""Grow the serving index by one clip (a file or a YouTube URL) with its stored models, no retraining."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from clipret.config import Settings
from clipret.embedding.artifacts import LoadedIndex, artifact_dir, update_manifest
from clipret.errors import ClipretError, MediaError
from clipret.files import atomic_path
from clipret.indexing.backfill import fingerprint_media
from clipret.indexing.payload import record_payload
from clipret.indexing.versions import (
    FINGERPRINTS,
    REPRESENTATIVE,
    VERSION,
    add_fingerprints,
    best_version_match,
    load_fingerprints,
)
from clipret.sources.corpus import ClipRecord, read_clips, write_clips
from clipret.sources.folder import lyrics_beside, read_lyrics_file, slug
from clipret.store.groups import GROUP_FIELD, ROLE_FIELD, group_of

ADDED_CORPUS = "added"  # corpora/added/: the media and records of added clips, a corpus like any other
REBUILDS_FOLLOWED = 2  # builds that may move the alias during one add before it gives up
MAP_NEIGHBOURS = 5  # a new clip is placed on the 2-D maps at the mean of its nearest clips


@dataclass(frozen=True)
class AddedClip:
    clip_id: str
    collection: str
    title: str
    genre: str


def add_clip(store, settings: Settings, source: str, *, genre: str = "", title: str = "",
             lyrics_file: str | Path | None = None, alias: str | None = None) -> AddedClip:
    """Embed `source` (a media file or a YouTube URL) and upsert it into the serving collection.

    The slow work (download, decode, extract, embed) runs without the writer lock; the write takes it:
    the clip's corpus record and manifest entry first (so a rebuild never forgets a searchable clip),
    then the upsert that makes it searchable; a failed upsert takes the two back. A rebuild that moves the
    alias meanwhile gets the clip too: it is embedded again with the new build's models."""
    alias = alias or settings.collection
    index = LoadedIndex.load(settings, store.resolve(alias), store=store)
    corpus_dir = settings.corpora_dir / ADDED_CORPUS
    record, media = _fetch(source, corpus_dir, genre or "unknown", title)
    try:
        if lyrics_file is not None:
            record = replace(record, lyrics=read_lyrics_file(lyrics_file))
        features, duration = index.extract_file(media, record.lyrics)
        fingerprint = fingerprint_media(media)
        _keep_copy(media, record.media_path(corpus_dir))
        for _ in range(REBUILDS_FOLLOWED + 1):
            point = _point(store, settings, index, record, corpus_dir, features, duration, fingerprint)
            with store.writing(f"add {record.clip_id}"):
                serving = store.resolve(alias)
                if serving == index.collection:
                    point.payload["added_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
                    _commit(store, settings, serving, corpus_dir, point, record)
                    add_fingerprints(artifact_dir(settings, serving) / FINGERPRINTS, {record.clip_id: fingerprint})
                    return AddedClip(record.clip_id, serving, record.title, record.genre)
            rebuilt = LoadedIndex.load(settings, serving, store=store)  # a build moved the alias meanwhile
            if _blocks(rebuilt) != _blocks(index):  # another profile: its features differ too
                features, duration = rebuilt.extract_file(media, record.lyrics)
            index = rebuilt
        raise ClipretError(f"'{alias}' was rebuilt {REBUILDS_FOLLOWED + 1} times while {record.clip_id} was "
                           "being added: run the command again once the builds are done.")
    except BaseException:
        _forget_media(corpus_dir, record, media, _looks_like_url(source))  # a failed add leaves nothing behind
        raise


def _point(store, settings: Settings, index: LoadedIndex, record: ClipRecord, corpus_dir: Path,
           features, duration: float, fingerprint):
    """The clip's point in `index`'s collection: its vectors, payload, version group, cluster and place
    on the maps. A clip that is a version of a known song joins its group as a version."""
    from clipret.store import ClipPoint

    vectors = {name: v[0] for name, v in index.embed([features]).items()}  # name → (d,)
    payload = record_payload(record, corpus_dir, index.profile.name, duration, settings)
    payload[GROUP_FIELD], payload[ROLE_FIELD] = record.clip_id, REPRESENTATIVE
    known = load_fingerprints(artifact_dir(settings, index.collection) / FINGERPRINTS)
    matched = best_version_match(fingerprint, known)
    if matched is not None:
        hit = store.get_clip(index.collection, matched, with_vectors=False)
        group = group_of(hit.payload, matched) if hit else matched
        payload[GROUP_FIELD], payload[ROLE_FIELD] = group, VERSION
    payload["cluster"] = int(index.cluster(vectors["fused"])[0])
    payload.update(_map_position(store, index.collection, vectors["fused"], record.clip_id))
    return ClipPoint(record.clip_id, vectors, payload)


def _blocks(index: LoadedIndex) -> tuple:
    return index.manifest["profile"], [(b["name"], b["dim"]) for b in index.manifest["blocks"]]


def _commit(store, settings: Settings, collection: str, corpus_dir: Path, point, record: ClipRecord) -> None:
    """Under the writer lock: the record, the manifest entry and the point, or none of them."""
    records_before = _read_records(corpus_dir)
    _write_records(corpus_dir, [r for r in records_before if r.clip_id != record.clip_id] + [record])
    entry = {"clip_id": record.clip_id, "added_utc": point.payload["added_utc"]}
    entries_before: list[dict] = []

    def note(manifest: dict) -> None:
        entries_before[:] = manifest.get("added", [])
        manifest["added"] = [a for a in entries_before if a.get("clip_id") != record.clip_id] + [entry]

    try:
        update_manifest(settings, collection, note)
        store.upsert(collection, [point])
    except BaseException:
        _write_records(corpus_dir, records_before)
        update_manifest(settings, collection, lambda manifest: manifest.update(added=entries_before))
        raise


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


def _forget_media(corpus_dir: Path, record: ClipRecord, media: Path, downloaded: bool) -> None:
    """Delete the download or copy this add made for a clip that did not make it into the index (never a
    user's own file, nor the file of a clip recorded before)."""
    kept = record.media_path(corpus_dir)
    if (downloaded or not _same_file(media, kept)) and not any(
            r.clip_id == record.clip_id for r in _read_records(corpus_dir)):
        kept.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _keep_copy(media: Path, kept: Path) -> None:
    """A local file: keep a copy the app can play (written beside and renamed: two adds of one file at
    once never leave a half-copied one)."""
    if _same_file(media, kept):
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(kept) as tmp:
        shutil.copyfile(media, tmp)


def _read_records(corpus_dir: Path) -> list[ClipRecord]:
    return read_clips(corpus_dir) if (corpus_dir / "clips.jsonl").is_file() else []


def _write_records(corpus_dir: Path, records: list[ClipRecord]) -> None:
    """corpora/added/clips.jsonl, so a rebuild can include the added clips (none: no file)."""
    if records:
        write_clips(corpus_dir, records)
    else:
        (corpus_dir / "clips.jsonl").unlink(missing_ok=True)
