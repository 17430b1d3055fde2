"""A corpus from a local folder: DIR/<genre>/<clip>.<ext>, optional <clip>.txt / <clip>.lrc lyrics."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from clipret.errors import CorpusError
from clipret.sources.corpus import ClipRecord, write_clips

MEDIA_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".flv",
                            ".wmv", ".mp3", ".m4a", ".wav", ".flac", ".ogg", ".opus"})
LYRICS_SUFFIXES = (".lrc", ".txt")  # the first found beside a clip wins


@dataclass
class FolderCorpus:
    records: list[ClipRecord]
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def read_lyrics_file(path: str | Path) -> str:
    """Lyrics from a .txt (as written) or a .lrc / .srt / .vtt (timings and tags removed)."""
    from clipret.sources.subtitles import lyrics_from_subtitles

    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".txt":
        return "\n".join(line.strip() for line in text.splitlines() if line.strip())
    return lyrics_from_subtitles(text)


def lyrics_beside(media: Path) -> str:
    """The lyrics file next to a media file (same name, .lrc or .txt), or ''."""
    for suffix in LYRICS_SUFFIXES:
        candidate = media.with_suffix(suffix)
        if candidate.is_file():
            return read_lyrics_file(candidate)
    return ""


def corpus_from_folder(source: str | Path, out_dir: str | Path, copy: bool = False) -> FolderCorpus:
    """Write out_dir/clips.jsonl for the media under source/<genre>/.

    Media are referenced where they are (absolute paths); with copy=True they are copied into
    out_dir/media/ so the corpus stands alone.
    """
    source, out_dir = Path(source), Path(out_dir)
    if not source.is_dir():
        raise CorpusError(f"{source}: not a folder. Give a folder with one sub-folder per genre.")
    result, seen = FolderCorpus([]), set()
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            if entry.suffix.lower() in MEDIA_SUFFIXES:
                result.ignored.append((str(entry), "not in a genre sub-folder"))
            continue
        genre = slug(entry.name)
        for media in sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if media.suffix.lower() not in MEDIA_SUFFIXES:
                continue
            record = _record(media, genre, out_dir, copy, seen)
            seen.add(record.clip_id)
            result.records.append(record)
    if not result.records:
        formats = ", ".join(sorted(MEDIA_SUFFIXES))
        raise CorpusError(f"{source}: no media files found in genre sub-folders "
                          f"(expected {source}/<genre>/<clip>.mp4; formats: {formats}).")
    write_clips(out_dir, result.records)
    return result


def _record(media: Path, genre: str, out_dir: Path, copy: bool, seen: set[str]) -> ClipRecord:
    clip_id = unique_id(f"{genre}-{slug(media.stem)}", seen)
    if copy:
        target = out_dir / "media" / f"{clip_id}{media.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(media, target)
        path = str(target.relative_to(out_dir))
    else:
        path = str(media.resolve())
    artist, title = split_artist_title(media.stem)
    return ClipRecord(clip_id=clip_id, title=title, genre=genre, path=path, artist=artist,
                      lyrics=lyrics_beside(media))


def split_artist_title(stem: str) -> tuple[str, str]:
    """'Artist - Title' → ('Artist', 'Title'); otherwise ('', stem), underscores read as spaces."""
    text = " ".join(stem.replace("_", " ").split())
    artist, sep, title = text.partition(" - ")
    return (artist.strip(), title.strip()) if sep and artist.strip() and title.strip() else ("", text)


def slug(text: str) -> str:
    """Lower-case letters, digits and single hyphens ('Hip Hop!' → 'hip-hop')."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "clip"


def unique_id(base: str, taken: set[str]) -> str:
    """`base` (at most 80 characters), or base-2, base-3, … when taken."""
    base, n = base[:80], 2
    candidate = base
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
