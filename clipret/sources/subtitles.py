"""Lyrics from subtitle files (WebVTT, SRT, LRC or plain text): timings, tags and repeats removed."""

from __future__ import annotations

import html
import re

_TIMING = re.compile(r"-->")
_HEADER_BLOCKS = ("WEBVTT", "NOTE", "STYLE", "REGION")
_INLINE_TIMESTAMP = re.compile(r"<\d{1,2}:\d{2}(:\d{2})?[.,]\d{2,3}>")  # YouTube auto captions' word timings
_TAG = re.compile(r"<[^<>]*>")  # <c>, </c>, <i>, <v Singer>, <font …>, <00:00:01.000>
_ASS_TAG = re.compile(r"\{\\[^{}]*\}")  # {\an8} in SRT
_LRC_TIME = re.compile(r"\[\d{1,3}:\d{2}(?:[.:]\d{1,3})?\]")
_LRC_META = re.compile(r"^\[(ar|ti|al|au|by|offset|length|re|ve|tool|#):[^\]]*\]$", re.IGNORECASE)
_ANNOTATION = re.compile(r"\[[^\]]*\]")  # [Music], [Applause], [Chorus]
_SYMBOLS = re.compile(r"[♪♫♬♩]+")
_SPEAKER = re.compile(r"^(>>+|-)\s*")  # ">>" speaker change of auto captions, "- " dialogue dash


def lyrics_from_subtitles(text: str) -> str:
    """The sung words of a VTT/SRT/LRC subtitle text, one line each, without timings, tags,
    annotations such as [Music] or ♪, and without the rolling repeats of automatic captions."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    # YouTube's automatic captions re-show the previous line above each new one, so a line may
    # come back after one other; elsewhere only an immediate repeat is a subtitle artefact.
    lookback = 2 if _INLINE_TIMESTAMP.search(text) else 1
    lines: list[str] = []
    for raw in _cue_text_lines(text):
        line = _clean_line(raw)
        if line and line not in lines[-lookback:]:
            lines.append(line)
    return "\n".join(lines)


def _cue_text_lines(text: str):
    """Yield the text lines of each block, dropping headers, cue ids and timing lines."""
    for block in re.split(r"\n\s*\n", text):
        rows = block.split("\n")
        if rows[0].strip().startswith(_HEADER_BLOCKS):
            continue
        timing = next((i for i, row in enumerate(rows) if _TIMING.search(row)), None)
        # Everything up to the timing line is a cue number (SRT) or identifier (VTT).
        yield from rows if timing is None else rows[timing + 1:]


def _clean_line(line: str) -> str:
    line = line.strip()
    if _LRC_META.match(line):
        return ""
    line = _LRC_TIME.sub("", line)
    line = _ASS_TAG.sub("", _TAG.sub("", line))
    line = html.unescape(line)
    line = _ANNOTATION.sub("", _SYMBOLS.sub("", line))
    line = _SPEAKER.sub("", line.strip())
    return " ".join(line.split())
