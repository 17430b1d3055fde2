"""The child-process side of clipret.media.decode: demux and decode one file with PyAV."""

from __future__ import annotations

import math
import pickle
import resource
import sys
from fractions import Fraction

import numpy as np

from clipret.media import SAMPLE_RATE, DecodedClip, DecodeOptions


def main() -> None:
    """Entry point of the child: read (path, options) pickled on stdin, write the result on stdout."""
    path, options = pickle.load(sys.stdin.buffer)
    result = run(path, options)
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


def run(path: str, options: DecodeOptions) -> tuple[str, object]:
    """Decode under a memory cap: ("ok", DecodedClip) or ("error", message)."""
    limit = options.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = ("ok", decode_in_process(path, options))
    except MemoryError:
        result = ("error", f"decoding needed more than {options.memory_mb} MB of memory and was stopped.")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message for the parent
        result = ("error", _explain(exc))
    return result


class Unreadable(Exception):
    """A reason, in plain words, why this file cannot be used (sent to the parent as its message)."""


def _explain(exc: Exception) -> str:
    import av

    if isinstance(exc, Unreadable):
        return str(exc)
    if isinstance(exc, av.error.FFmpegError):
        return f"not a media file that FFmpeg can read ({exc.strerror or type(exc).__name__})."
    return f"{type(exc).__name__}: {exc}"


def decode_in_process(path: str, options: DecodeOptions) -> DecodedClip:
    """Decode in this process (unsafe on hostile input: call through clipret.media.decode)."""
    import av

    # protocol_whitelist=file: a hostile playlist-type file must not make FFmpeg open URLs;
    # format_whitelist: playlist, concat and tty demuxers are refused before they read anything.
    options_ = {"protocol_whitelist": "file", "format_whitelist": ",".join(sorted(ALLOWED_FORMATS))}
    with av.open(path, metadata_errors="ignore", options=options_) as container:
        _check_container_format(container.format.name)
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise Unreadable("the file has neither an audio nor a video stream.")
        duration = _duration_s(container, video, audio)
        span = min(duration, options.max_seconds) if duration > 0 else options.max_seconds
        fps = float(video.average_rate) if video is not None and video.average_rate else None
        if video is not None:
            video.thread_type = "AUTO"
        frames = _Sampler(_frame_targets(span, fps or 25.0, options), options.short_side)
        thumbs = _Sampler(_thumb_targets(span, options), options.thumb_short_side)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE) if audio else None
        chunks: list[np.ndarray] = []
        streams = [s for s in (video, audio) if s is not None]
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if frame.time is not None and frame.time > span + 1.0:
                    break
                if packet.stream is video:
                    frames.offer(frame)
                    thumbs.offer(frame)
                else:
                    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        if resampler is not None:
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    samples = _join_audio(chunks, span) if audio is not None else None
    if duration <= 0:
        duration = max(frames.last_time, 0.0 if samples is None else len(samples) / SAMPLE_RATE)
    if video is None and (samples is None or samples.size == 0):
        raise Unreadable("the audio stream holds no decodable samples.")
    if video is not None and frames.taken == 0:
        raise Unreadable("the video stream holds no decodable frame.")
    return DecodedClip(
        path=path, duration_s=float(duration), audio=samples, sample_rate=SAMPLE_RATE, fps=fps,
        frames=frames.array() if video else None, frame_times=frames.times() if video else None,
        thumbs=thumbs.array() if video else None, thumb_times=thumbs.times() if video else None,
        options=options,
    )


# Demuxers of real audio/video files. Anything else FFmpeg can "open" (tty renders text as video,
# concat/hls follow references to other files) is refused.
ALLOWED_FORMATS = frozenset(
    "mov mp4 m4a 3gp 3g2 mj2 matroska webm avi flv mpegts mpeg ogg wav mp3 flac aac asf".split()
)


def _check_container_format(name: str) -> None:
    if not set(name.split(",")) & ALLOWED_FORMATS:
        raise Unreadable(f"not an audio or video file (FFmpeg reads it as '{name}').")


def _duration_s(container, video, audio) -> float:
    if container.duration:
        return container.duration / 1_000_000  # microseconds (av.time_base)
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * Fraction(stream.time_base))
    return 0.0


def _frame_targets(span: float, fps: float, o: DecodeOptions) -> np.ndarray:
    """Times of the wanted frames: n_segments windows of frames_per_segment × stride frames."""
    window = o.frames_per_segment * o.segment_stride / fps
    centres = (np.arange(o.n_segments) + 0.5) * span / o.n_segments
    starts = np.clip(centres - window / 2, 0.0, max(span - window, 0.0))
    offsets = np.arange(o.frames_per_segment) * o.segment_stride / fps
    return (starts[:, None] + offsets[None, :]).reshape(-1)


def _thumb_targets(span: float, o: DecodeOptions) -> np.ndarray:
    n = max(1, int(math.floor(span * o.thumb_fps)))
    return np.arange(n) / o.thumb_fps


class _Sampler:
    """Takes, from frames arriving in time order, the first frame at or after each target time."""

    def __init__(self, targets: np.ndarray, short_side: int):
        self.targets = np.sort(targets)
        self.short_side = short_side
        self.images: list[np.ndarray] = []
        self.stamps: list[float] = []
        self.last_time = 0.0

    @property
    def taken(self) -> int:
        return len(self.images)

    def offer(self, frame) -> None:
        t = float(frame.time or 0.0)
        self.last_time = max(self.last_time, t)
        image = None
        while self.taken < len(self.targets) and t + 1e-3 >= self.targets[self.taken]:
            if image is None:
                w, h = _scaled_size(frame.width, frame.height, self.short_side)
                image = frame.to_ndarray(width=w, height=h, format="rgb24")
            self.images.append(image)
            self.stamps.append(t)

    def array(self) -> np.ndarray:
        # A stream shorter than its declared duration leaves targets unfilled: repeat the last frame.
        images = self.images + [self.images[-1]] * (len(self.targets) - self.taken)
        return np.stack(images).astype(np.uint8)

    def times(self) -> np.ndarray:
        stamps = self.stamps + [self.stamps[-1]] * (len(self.targets) - self.taken)
        return np.asarray(stamps, dtype=np.float64)


def _scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _join_audio(chunks: list[np.ndarray], span: float) -> np.ndarray:
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    samples = np.concatenate(chunks).astype(np.float32)
    return samples[: int(round(span * SAMPLE_RATE))]


if __name__ == "__main__":
    main()
