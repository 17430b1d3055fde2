"""One YouTube video with yt-dlp: guarded URL, bounded download, lyrics from subtitles.

Whole playlists into a corpus: clipret.sources.playlists."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipret.errors import DownloadError
from clipret.sources.corpus import ClipRecord
from clipret.sources.subtitles import lyrics_from_subtitles
from clipret.sources.urls import is_playlist_url, validate_youtube_url, youtube_id

__all__ = [
    "DownloadedVideo", "VideoFilter", "download_video", "expand_playlist", "lyrics_from_subtitles",
    "record_from_info", "ydl_options",
]

VIDEO_EXTRACTORS = ["youtube"]  # yt-dlp extractor names (regexes, full match): the video page only
PLAYLIST_EXTRACTORS = ["youtube", "youtube:tab", "youtube:playlist"]
MANUAL_LANGS = ("en", "en-US", "en-GB")  # manual subtitles, in order of preference
AUTO_LANGS = ("en-orig", "en")  # automatic captions: the original speech recognition first
INFO_KEYS = ("id", "title", "channel", "uploader", "duration", "thumbnail", "webpage_url", "ext",
             "height", "width", "is_live", "live_status")


@dataclass(frozen=True)
class DownloadedVideo:
    """A downloaded video: its media file, the useful part of yt-dlp's info dict, its lyrics."""

    path: Path  # the media file in out_dir
    info: dict[str, Any] = field(default_factory=dict)  # INFO_KEYS of yt-dlp's info dict
    lyrics: str = ""  # from English subtitles; empty when the video has none

    @property
    def youtube_id(self) -> str:
        return str(self.info.get("id", ""))

    def record(self, genre: str) -> ClipRecord:
        """The corpus record of this video (path absolute; make it corpus-relative when storing)."""
        return record_from_info({**self.info, "lyrics": self.lyrics}, genre, self.path)


class VideoFilter:
    """yt-dlp match_filter: refuses live streams and videos over `max_duration_s`; remembers why."""

    def __init__(self, max_duration_s: float = 900):
        self.max_duration_s = max_duration_s
        self.rejected: str | None = None

    def __call__(self, info: dict, *, incomplete: bool = False) -> str | None:
        reason = self.reason(info, incomplete)
        if reason is not None:
            self.rejected = reason
        return reason  # yt-dlp skips the video when this is a message

    def reason(self, info: dict, incomplete: bool = False) -> str | None:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
            return "it is a live stream or an upcoming premiere"
        duration = info.get("duration")
        if duration is None:
            return None if incomplete else "its duration is unknown"
        if duration > self.max_duration_s:
            return (f"it is {duration / 60:.1f} min long and the limit is "
                    f"{self.max_duration_s / 60:g} min")
        return None


class _Log:
    """yt-dlp logger that keeps errors and warnings for our messages instead of printing them."""

    def __init__(self):
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)

    def error(self, msg: str) -> None:
        self.errors.append(msg)


def ydl_options(work_dir: str | os.PathLike, *, max_duration_s: float = 900, max_filesize_mb: int = 200,
                socket_timeout_s: float = 20) -> dict[str, Any]:
    """The yt-dlp parameters of one bounded video download into `work_dir`."""
    return {
        "allowed_extractors": VIDEO_EXTRACTORS,
        "noplaylist": True,
        "match_filter": VideoFilter(max_duration_s),
        "format": format_spec(max_filesize_mb, can_merge=shutil.which("ffmpeg") is not None),
        "max_filesize": max_filesize_mb * 1024 * 1024,
        "socket_timeout": socket_timeout_s,
        "retries": 2,
        "fragment_retries": 2,
        "extractor_retries": 1,
        "writesubtitles": True,
        "writeautomaticsub": True,
        "subtitleslangs": sorted(set(MANUAL_LANGS + AUTO_LANGS)),
        "subtitlesformat": "vtt/srt/best",
        "paths": {"home": str(work_dir), "temp": str(work_dir)},
        "outtmpl": {"default": "%(id)s.%(ext)s"},
        "restrictfilenames": True,
        "overwrites": True,
        "cachedir": False,  # nothing written outside work_dir
        "writethumbnail": False,
        # Subtitles are optional: a failed subtitle fetch must not fail the video, so errors are
        # collected by the logger and explained after the call instead of raised mid-way.
        "ignoreerrors": True,
        "logger": _Log(),
        "quiet": True,
        "noprogress": True,
        "js_runtimes": {"deno": {}, "node": {}},  # YouTube's player challenges need one of them
    }


def format_spec(max_filesize_mb: int, can_merge: bool) -> str:
    """At most 480p (on the short side) with audio, under the size limit where the size is known."""
    limit = f"[filesize<?{max_filesize_mb}M]"
    single = f"b[height<=480]{limit}/b[width<=480]{limit}"
    if not can_merge:  # merging separate video and audio streams needs the ffmpeg program
        return single
    return f"(bv*[height<=480]+ba/bv*[width<=480]+ba){limit}/{single}"


def download_video(url: str, out_dir: str | os.PathLike, *, max_duration_s: float = 900,
                   max_filesize_mb: int = 200, socket_timeout_s: float = 20,
                   ydl_factory: Callable[[dict], Any] | None = None) -> DownloadedVideo:
    """Download one YouTube video to out_dir/yt-<id>.<ext>; raise UnsupportedURL or DownloadError.

    yt-dlp works in a fresh temporary folder that is removed whatever happens; only the media
    file leaves it, by an atomic rename into `out_dir`.
    """
    watch_url = validate_youtube_url(url)
    factory = ydl_factory or _youtube_dl_class()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clipret-dl-"))
    try:
        options = ydl_options(work, max_duration_s=max_duration_s, max_filesize_mb=max_filesize_mb,
                              socket_timeout_s=socket_timeout_s)
        info = _run(factory, options, watch_url, download=True)
        media = _media_file(info, work)
        if media is None:
            raise DownloadError(f"{watch_url}: not downloaded: {_cause(options, max_filesize_mb)}.")
        lyrics = _lyrics_from_info(info, work)
        # The name comes from the validated id, never from what the page said.
        suffix = media.suffix.lower() if re.fullmatch(r"\.[a-z0-9]{2,5}", media.suffix.lower()) else ".mp4"
        target = out_dir / f"yt-{youtube_id(watch_url)}{suffix}"
        _move_atomic(media, target)
        return DownloadedVideo(path=target, info={k: info.get(k) for k in INFO_KEYS}, lyrics=lyrics)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def expand_playlist(url: str, *, socket_timeout_s: float = 20, max_entries: int = 5000,
                    ydl_factory: Callable[[dict], Any] | None = None) -> list[str]:
    """The normalised watch URLs of a playlist (a video URL gives itself), without downloading."""
    normalised = validate_youtube_url(url, allow_playlist=True)
    if not is_playlist_url(normalised):
        return [normalised]
    log = _Log()
    options = {"allowed_extractors": PLAYLIST_EXTRACTORS, "extract_flat": "in_playlist",
               "playlistend": max_entries, "socket_timeout": socket_timeout_s, "retries": 2,
               "cachedir": False, "ignoreerrors": True, "logger": log, "quiet": True,
               "skip_download": True}
    info = _run(ydl_factory or _youtube_dl_class(), options, normalised, download=False)
    if not info:
        raise DownloadError(f"{normalised}: the playlist could not be read: {explain(log.errors)}.")
    urls: dict[str, None] = {}  # ordered and unique
    for entry in info.get("entries") or []:
        # Rebuild every entry from its id: nothing from the page reaches yt-dlp unchecked.
        video_id = youtube_id(f"https://youtu.be/{(entry or {}).get('id', '')}")
        if video_id:
            urls[f"https://www.youtube.com/watch?v={video_id}"] = None
    return list(urls)


def record_from_info(info: dict, genre: str, media_path: str | os.PathLike,
                     lyrics: str | None = None) -> ClipRecord:
    """A ClipRecord from a yt-dlp info dict: channel as artist, lyrics from its subtitles."""
    video_id = str(info["id"])
    if lyrics is None:
        lyrics = info.get("lyrics") if isinstance(info.get("lyrics"), str) else _lyrics_from_info(info)
    return ClipRecord(
        clip_id=f"yt-{video_id}",  # the prefix keeps ids starting with '-' from reading as options
        title=str(info.get("title") or video_id),
        genre=genre,
        path=str(media_path),
        artist=str(info.get("channel") or info.get("uploader") or info.get("artist") or ""),
        lyrics=lyrics,
        duration_s=float(info.get("duration") or 0.0),
        source_url=f"https://www.youtube.com/watch?v={video_id}",
        youtube_id=video_id,
        thumbnail_url=str(info.get("thumbnail") or ""),
    )


def _youtube_dl_class():
    import yt_dlp

    return yt_dlp.YoutubeDL


def _run(factory, options: dict, url: str, *, download: bool) -> dict | None:
    """Call yt-dlp; every failure it raises becomes a DownloadError with a cause."""
    import yt_dlp

    try:
        with factory(options) as ydl:
            info = ydl.extract_info(url, download=download)
            return info or None
    except yt_dlp.utils.YoutubeDLError as exc:
        raise DownloadError(f"{url}: not downloaded: {explain([str(exc)])}.") from None
    except OSError as exc:
        cause = f"the disk refused the file ({exc.strerror or exc})"
        raise DownloadError(f"{url}: not downloaded: {cause}.") from None


def _media_file(info: dict | None, work: Path) -> Path | None:
    if not info:
        return None
    downloads = info.get("requested_downloads") or [info]
    candidate = downloads[0].get("filepath") or info.get("filepath")
    if not candidate:
        return None
    path = Path(candidate).resolve()
    # Only a file inside our own work folder leaves it.
    if not path.is_file() or not path.is_relative_to(work.resolve()):
        return None
    return path


def _cause(options: dict, max_filesize_mb: int) -> str:
    rejected = options["match_filter"].rejected
    if rejected:
        return rejected
    errors = options["logger"].errors
    if errors:
        return explain(errors)
    return f"no format of at most 480p and {max_filesize_mb} MB was offered"


def _lyrics_from_info(info: dict, work: Path | None = None) -> str:
    """Lyrics from the best downloaded English subtitles: manual first, then automatic captions."""
    requested = info.get("requested_subtitles") or {}
    manual = set(info.get("subtitles") or {})
    ranked = [lang for lang in MANUAL_LANGS if lang in requested and lang in manual]
    ranked += [lang for lang in AUTO_LANGS if lang in requested and lang not in ranked]
    ranked += sorted(lang for lang in requested if lang not in ranked)
    for lang in ranked:
        sub = requested[lang] or {}
        text = sub.get("data")
        path = sub.get("filepath")
        if text is None and path and Path(path).is_file():
            if work is not None and not Path(path).resolve().is_relative_to(work.resolve()):
                continue
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        lyrics = lyrics_from_subtitles(text or "")
        if lyrics:
            return lyrics
    return ""


def _move_atomic(source: Path, target: Path) -> None:
    # Copy beside the target first (the temp folder may be on another file system), then rename.
    partial = target.with_name(f".{target.name}.part")
    shutil.move(str(source), partial)
    os.replace(partial, target)


# What yt-dlp says → what happened, for a person.
_CAUSES = [
    (r"private video", "the video is private"),
    (r"confirm your age|age[- ]restricted|inappropriate for some users",
     "the video is age-restricted and needs a signed-in account"),
    (r"not a bot|sign in to confirm", "YouTube asks to sign in (a bot check); try again later"),
    (r"live event|premieres? in|is_live|live stream", "it is a live stream or an upcoming premiere"),
    (r"requested format is not available|no video formats",
     "no format of at most 480p within the size limit was offered"),
    (r"video unavailable|not available|has been removed|no longer available|terminated|copyright",
     "the video is unavailable (removed, private or blocked)"),
    (r"max-?filesize|larger than", "the file is larger than the size limit"),
    (r"http error 429|too many requests", "YouTube is rate-limiting this machine; try again later"),
    (r"name resolution|getaddrinfo|network is unreachable|connection refused|timed out|"
     r"unable to download (webpage|api)|urlopen error|connection reset|remote end closed",
     "YouTube could not be reached (no network or it timed out); check the connection and retry"),
    (r"no suitable extractor|unsupported url", "yt-dlp's YouTube extractor does not handle this URL"),
]


def explain(messages: list[str]) -> str:
    """One short cause for yt-dlp's error messages (the last that we recognise, else the last)."""
    for message in reversed(messages):
        for pattern, cause in _CAUSES:
            if re.search(pattern, message, re.IGNORECASE):
                return cause
    if not messages:
        return "yt-dlp gave no reason"
    last = re.sub(r"^(ERROR:\s*)?(\[[^\]]+\]\s*)?", "", messages[-1].strip())
    return f"yt-dlp failed ({last[:200]})"
