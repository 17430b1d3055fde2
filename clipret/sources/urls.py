"""The URL guard: only YouTube video (or playlist) URLs reach yt-dlp, and only in one normalised form."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qs, urlsplit

from clipret.errors import UnsupportedURL

MAX_URL_LENGTH = 2048
YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
SHORT_HOST = "youtu.be"
DEFAULT_PORTS = {"http": 80, "https": 443}
# Paths that carry a video id as their second segment: /shorts/<id>, /embed/<id>, ...
_ID_PATHS = frozenset({"shorts", "embed", "live", "v"})
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_PLAYLIST_ID = re.compile(r"[A-Za-z0-9_-]{2,64}")  # PL…, OLAK5uy_…, UU…, RD…
_SCHEMELESS = re.compile(r"((www|m|music)\.)?youtube\.com/|youtu\.be/", re.IGNORECASE)
EXAMPLE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def validate_youtube_url(url: str, allow_playlist: bool = False) -> str:
    """Return `url` as https://www.youtube.com/watch?v=<id> (or, with `allow_playlist`, as
    https://www.youtube.com/playlist?list=<id>); raise UnsupportedURL for anything else.

    Everything yt-dlp is later given is rebuilt from the validated id, never the raw input, so
    a trick that slips past the parser cannot reach the downloader.
    """
    parts = _split(url)
    video_id = _video_id(parts)
    if video_id:
        return f"https://www.youtube.com/watch?v={video_id}"
    list_id = _playlist_id(parts)
    if list_id and allow_playlist:
        return f"https://www.youtube.com/playlist?list={list_id}"
    if list_id:
        raise UnsupportedURL("That is a playlist URL: paste the URL of one video, such as " + EXAMPLE + ".")
    raise UnsupportedURL("That YouTube URL names no video: paste a video URL, such as " + EXAMPLE + ".")


def youtube_id(url: str) -> str | None:
    """The 11-character video id of a valid YouTube video URL, else None."""
    try:
        return validate_youtube_url(url).rsplit("=", 1)[1]
    except UnsupportedURL:
        return None


def is_playlist_url(normalised: str) -> bool:
    """Whether a URL returned by validate_youtube_url names a playlist (not a video)."""
    return normalised.startswith("https://www.youtube.com/playlist?list=")


def _split(url: str) -> SplitResult:
    """Check the characters, scheme, host and port; return the parsed URL."""
    if not isinstance(url, str):
        raise UnsupportedURL("The URL must be text: paste a YouTube video URL, such as " + EXAMPLE + ".")
    url = url.strip()
    if not url:
        raise UnsupportedURL("The URL is empty: paste a YouTube video URL, such as " + EXAMPLE + ".")
    if len(url) > MAX_URL_LENGTH:
        raise UnsupportedURL(f"The URL is longer than {MAX_URL_LENGTH} characters: "
                             "paste the plain video URL.")
    # urlsplit silently drops tabs and newlines and knows nothing of backslashes, which some
    # clients read as slashes: refuse them (and any non-ASCII look-alike) before parsing.
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        raise UnsupportedURL("The URL contains spaces, control characters, backslashes or non-ASCII "
                             "characters: paste the plain video URL, such as " + EXAMPLE + ".")
    if "://" not in url and _SCHEMELESS.match(url):
        url = "https://" + url  # what people paste from the address bar
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsupportedURL("The URL cannot be parsed: paste a YouTube video URL, "
                             "such as " + EXAMPLE + ".") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsupportedURL(f"Only http(s) YouTube URLs are accepted, not {scheme or 'scheme-less'} URLs: "
                             "paste a URL such as " + EXAMPLE + ".")
    if "@" in parts.netloc:
        raise UnsupportedURL("The URL carries a user name or password (…@host): paste the plain YouTube URL.")
    host = (parts.hostname or "").lower()
    if host not in YOUTUBE_HOSTS and host != SHORT_HOST:
        raise UnsupportedURL(f"Only YouTube URLs are accepted (youtube.com, youtu.be), "
                             f"not {host or 'this host'!r}: paste a URL such as " + EXAMPLE + ".")
    if port is not None and port != DEFAULT_PORTS[scheme]:
        raise UnsupportedURL(f"The URL names port {port}: paste the plain YouTube URL without a port.")
    return parts._replace(scheme=scheme, netloc=host)


def _video_id(parts: SplitResult) -> str | None:
    segments = [s for s in parts.path.split("/") if s]
    if parts.netloc == SHORT_HOST:
        candidate = segments[0] if len(segments) == 1 else None
    elif segments == ["watch"]:
        candidate = _single_query_value(parts, "v")
    elif len(segments) == 2 and segments[0] in _ID_PATHS:
        candidate = segments[1]
    else:
        candidate = None
    if candidate is None:
        return None
    if not _VIDEO_ID.fullmatch(candidate):
        raise UnsupportedURL(f"{candidate[:40]!r} is not a YouTube video id (11 letters, digits, - or _): "
                             "check the URL.")
    return candidate


def _playlist_id(parts: SplitResult) -> str | None:
    segments = [s for s in parts.path.split("/") if s]
    if parts.netloc == SHORT_HOST or segments not in (["playlist"], ["watch"]):
        return None
    list_id = _single_query_value(parts, "list")
    if list_id is not None and not _PLAYLIST_ID.fullmatch(list_id):
        raise UnsupportedURL(f"{list_id[:40]!r} is not a YouTube playlist id: check the URL.")
    return list_id


def _single_query_value(parts: SplitResult, key: str) -> str | None:
    values = parse_qs(parts.query, keep_blank_values=True).get(key)
    if not values:
        return None
    if len(values) > 1:
        raise UnsupportedURL(f"The URL has {len(values)} '{key}=' parameters: paste a URL with one.")
    return values[0]
