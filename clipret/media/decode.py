"""Safe media decoding: one pass of PyAV, in a child process with a timeout and a memory cap.

PyAV (FFmpeg) can crash the whole process on a hostile or truncated stream, so `decode` never
decodes in the caller's process: a crash, a hang or a memory blow-up becomes a MediaError that
names the file and the cause, and the caller lives on.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from clipret.errors import MediaError

SAMPLE_RATE = 22050  # Hz, mono: what every audio feature expects


@dataclass(frozen=True)
class DecodeOptions:
    """What to take out of a clip in the one decode pass that serves every extractor."""

    n_segments: int = 16  # evenly spaced sampling points over the clip
    frames_per_segment: int = 1  # consecutive frames per point (8 for 3D CNN clips)
    segment_stride: int = 1  # keep every stride-th frame inside a segment (slow_r50: 8)
    short_side: int = 256  # frames are resized so their short side is this many pixels
    thumb_fps: float = 8.0  # dense small frames for cut and motion statistics
    thumb_short_side: int = 64
    max_seconds: float = 300.0  # analyse at most this much of the clip
    timeout_s: float = 120.0  # wall-clock limit of the child process
    memory_mb: int = 4096  # address-space cap of the child process
    decoder_threads: int = 0  # video decoding threads; 0: one per core (set 1 when workers share the cores)
    fast_video: bool = True  # skip the deblocking filter, and non-reference frames away from the sampled
    # frames: video decodes about 2x faster; a thumb may come up to 2 frames after its time
    streams: tuple[str, ...] = ("audio", "video")  # which of the file's streams to decode: a query
    # decodes its audio and its video in two threads, each stream with the extractors that read it


@dataclass
class DecodedClip:
    """A clip's audio and frames, ready for the extractors."""

    path: str
    duration_s: float  # of the media (not capped by max_seconds); of the part that decodes when truncated
    audio: np.ndarray | None  # (n_samples,) float32 mono at SAMPLE_RATE, None without an audio stream
    sample_rate: int
    fps: float | None  # of the video stream
    frames: np.ndarray | None  # (n_segments * frames_per_segment, H, W, 3) uint8 RGB, segment-major
    frame_times: np.ndarray | None  # (len(frames),) float seconds
    thumbs: np.ndarray | None  # (n_thumbs, h, w, 3) uint8 RGB at thumb_fps
    thumb_times: np.ndarray | None  # (n_thumbs,) float seconds
    options: DecodeOptions
    truncated: bool = False  # the file broke off before its declared end; what decoded is kept
    decoded_s: float = 0.0  # seconds of media decoded (up to max_seconds)
    decode_error: str = ""  # the FFmpeg error that was skipped or ended decoding early, if any
    packets_read: int = 0  # packets demuxed: decoding stops reading once the extractors have enough

    @property
    def has_audio(self) -> bool:
        return self.audio is not None and self.audio.size > 0

    @property
    def has_video(self) -> bool:
        return self.frames is not None and len(self.frames) > 0


def decode(path: str | os.PathLike, options: DecodeOptions | None = None, **overrides) -> DecodedClip:
    """Decode `path` in a child process; raise MediaError (naming file and cause) on any failure.

    `overrides` replace fields of `options`, e.g. ``decode(p, n_segments=8, timeout_s=30)``.
    """
    options = replace(options or DecodeOptions(), **overrides)
    path = check_media_file(path)
    # An absolute path, so that FFmpeg never reads "Live: at Wembley.mp4" as a "Live:" protocol.
    return _run_in_child(str(path), os.path.abspath(path), options)


def check_media_file(path: str | os.PathLike) -> Path:
    """`path` as a Path when it is a non-empty regular file; MediaError saying what it is otherwise."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file.")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not a media file.")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file.")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty (0 bytes).")
    return path


def _run_in_child(path: str, absolute: str, options: DecodeOptions) -> DecodedClip:
    # A fresh interpreter (not fork: the caller may hold torch threads; not spawn/forkserver:
    # they re-import the caller's __main__, e.g. a Streamlit script).
    command = [sys.executable, "-m", "clipret.media.child"]
    try:
        done = subprocess.run(command, input=pickle.dumps((absolute, options)), capture_output=True,
                              timeout=options.timeout_s)
    except subprocess.TimeoutExpired:
        raise MediaError(decode_failure_message(path, "timeout", options.timeout_s, options.memory_mb)) from None
    if done.returncode != 0 or not done.stdout:
        raise MediaError(decode_failure_message(path, describe_exit(done.returncode), options.timeout_s,
                                                options.memory_mb))
    status, payload = pickle.loads(done.stdout)
    if status == "ok":
        return payload
    raise MediaError(f"{path}: {payload}")


def decode_failure_message(path, kind: str, timeout_s: float, memory_mb: int) -> str:
    """The one sentence for a decoding child (or a worker while decoding) that failed: `kind` is "timeout",
    "memory", a signal's name ("SIGSEGV") or "exit N"."""
    if kind == "timeout":
        return f"{path}: decoding took longer than {timeout_s:g} s and was stopped."
    if kind == "memory":
        return f"{path}: decoding needed more than {memory_mb} MB of memory and was stopped."
    how = f"killed by {kind}" if kind.startswith("SIG") else kind
    return f"{path}: the decoder crashed ({how}); the file is probably corrupt or truncated."


def describe_exit(code: int | None, long: bool = False) -> str:
    """A child's exit status in words: -11 → 'SIGSEGV' ('killed by SIGSEGV' when long); 1 → 'exit 1'."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" if long else name
    return f"exit code {code}" if long else f"exit {code}"


def for_task(options, timeout_s: float, decoder_threads: int = 0):
    """A profile's decode options with one task's timeout and, where the decoder has that option and
    `decoder_threads` > 0, its share of the decoder threads (a worker sharing the cores with others)."""
    changes = {"timeout_s": float(timeout_s)}
    if decoder_threads > 0 and "decoder_threads" in {f.name for f in fields(options)}:
        changes["decoder_threads"] = int(decoder_threads)
    return replace(options, **changes)
