"""YouTube playlists into a corpus: `indexer download --playlists FILE.csv` (rows genre,url)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clipret.errors import CorpusError, DownloadError, UnsupportedURL
from clipret.sources.corpus import ClipRecord, clips_file, read_clips, write_clips
from clipret.sources.urls import youtube_id
from clipret.sources.youtube import download_video, expand_playlist


@dataclass
class DownloadReport:
    """What download_playlists did: clips added, videos already in the corpus, failures with reasons."""

    added: list[ClipRecord] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)  # youtube ids
    failures: list[str] = field(default_factory=list)  # one sentence each, naming the row or URL

    def summary(self) -> str:
        head = (f"{len(self.added)} videos downloaded, {len(self.already_there)} already in the corpus, "
                f"{len(self.failures)} failed.")
        return "\n".join([head, *(f"  - {reason}" for reason in self.failures)])

    __str__ = summary  # `print(report)` in the CLI


def download_playlists(csv_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                       max_duration_s: float = 900, max_filesize_mb: int = 200,
                       socket_timeout_s: float = 20, progress: bool = True,
                       ydl_factory: Callable[[dict], Any] | None = None) -> DownloadReport:
    """Download every video of a `genre,url` CSV (playlist or video URLs) into the corpus `out_dir`
    (out_dir/media/ and out_dir/clips.jsonl).

    Resumable: videos already in clips.jsonl are skipped, and clips.jsonl is rewritten atomically
    after each video, so a crash loses at most the video in flight. A failure is listed with its
    reason and never stops the run.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    rows, failures = read_playlist_csv(csv_path)
    report = DownloadReport(failures=failures)
    records = read_clips(out_dir) if clips_file(out_dir).is_file() else []
    done = {r.youtube_id for r in records if r.youtube_id}
    jobs = _video_jobs(rows, report, socket_timeout_s, ydl_factory)
    for genre, watch_url in tqdm(jobs, desc="download", unit="video", disable=not progress):
        video_id = youtube_id(watch_url)
        if video_id in done:
            report.already_there.append(video_id)
            continue
        try:
            video = download_video(watch_url, out_dir / "media", max_duration_s=max_duration_s,
                                   max_filesize_mb=max_filesize_mb, socket_timeout_s=socket_timeout_s,
                                   ydl_factory=ydl_factory)
        except (DownloadError, UnsupportedURL) as exc:
            report.failures.append(str(exc))
            continue
        record = replace(video.record(genre), path=f"media/{video.path.name}")
        records.append(record)
        done.add(video_id)
        report.added.append(record)
        write_clips(out_dir, records)
    return report


def read_playlist_csv(csv_path: str | os.PathLike) -> tuple[list[tuple[str, str]], list[str]]:
    """The (genre, url) rows of a CSV, and the malformed rows as messages. A `genre,url` header,
    blank lines and lines starting with # are allowed."""
    import csv

    path = Path(csv_path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such CSV file; write one with a genre,url row per playlist or video.")
    rows, bad = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets write a BOM
        for lineno, row in enumerate(csv.reader(f), 1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#") or [c.lower() for c in cells] == ["genre", "url"]:
                continue
            if len(cells) != 2 or not _GENRE.fullmatch(cells[0].lower()) or not cells[1]:
                bad.append(f"{path}:{lineno}: expected 'genre,url' with a genre such as pop-rock; "
                           "row skipped.")
                continue
            rows.append((cells[0].lower(), cells[1]))
    return rows, bad


_GENRE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def _video_jobs(rows, report: DownloadReport, socket_timeout_s: float, ydl_factory) -> list[tuple[str, str]]:
    """(genre, watch URL) for every video of the rows, playlists expanded, each video once."""
    genre_of: dict[str, str] = {}
    jobs, queued = [], set()
    for genre, url in rows:
        try:
            videos = expand_playlist(url, socket_timeout_s=socket_timeout_s, ydl_factory=ydl_factory)
        except (DownloadError, UnsupportedURL) as exc:
            report.failures.append(f"{url[:200]}: {exc}")
            continue
        for watch_url in videos:
            first = genre_of.setdefault(watch_url, genre)
            if first != genre:
                report.failures.append(f"{watch_url}: listed under {first} and {genre}; kept as {first}.")
            elif watch_url not in queued:
                queued.add(watch_url)
                jobs.append((genre, watch_url))
    return jobs
