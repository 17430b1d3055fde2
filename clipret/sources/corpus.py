"""A corpus on disk: DIR/clips.jsonl (one ClipRecord a line) and DIR/media/ — every source writes this."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from clipret.errors import CorpusError
from clipret.files import write_text_atomic

GENRES = (
    "blues-jazz",
    "country",
    "hip-hop",
    "indie-folk",
    "metal",
    "pop-rock",
    "punk",
    "soul",
    "uk-drill",
)  # the paper's nine classes


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a corpus, as a line of clips.jsonl."""

    clip_id: str  # unique within the corpus; also the feature-cache key
    title: str
    genre: str
    path: str  # media file, relative to the corpus folder (or absolute)
    artist: str = ""
    lyrics: str = ""  # empty = the clip has no lyrics (a missing modality, not empty text)
    duration_s: float = 0.0
    source_url: str = ""  # where it came from (a YouTube watch URL, or empty)
    youtube_id: str = ""
    thumbnail_url: str = ""

    def media_path(self, corpus_dir: str | Path) -> Path:
        """The media file's absolute path for a corpus in `corpus_dir`."""
        p = Path(self.path)
        return p if p.is_absolute() else Path(corpus_dir) / p

    @property
    def has_lyrics(self) -> bool:
        return bool(self.lyrics.strip())


_FIELDS = {f.name for f in fields(ClipRecord)}


def clips_file(corpus_dir: str | Path) -> Path:
    return Path(corpus_dir) / "clips.jsonl"


def read_clips(corpus_dir: str | Path) -> list[ClipRecord]:
    """Read DIR/clips.jsonl; unknown keys are ignored, missing required ones raise CorpusError."""
    path = clips_file(corpus_dir)
    if not path.is_file():
        raise CorpusError(f"No clips.jsonl in {corpus_dir}: create the corpus first "
                          "(clipret demo-corpus / from-folder / download).")
    records, seen = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            record = ClipRecord(**{k: v for k, v in raw.items() if k in _FIELDS})
        except (json.JSONDecodeError, TypeError) as exc:
            raise CorpusError(f"{path}:{lineno}: not a clip record ({exc}).") from exc
        if record.clip_id in seen:
            raise CorpusError(f"{path}:{lineno}: duplicate clip_id {record.clip_id!r}.")
        seen.add(record.clip_id)
        records.append(record)
    return records


def write_clips(corpus_dir: str | Path, records: Iterable[ClipRecord]) -> Path:
    """Write DIR/clips.jsonl atomically (keys sorted, so equal records give identical bytes)."""
    text = "".join(json.dumps(asdict(r), sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    path = clips_file(corpus_dir)
    write_text_atomic(path, text)
    return path
