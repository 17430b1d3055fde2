"""The child-process side of clipret.media.decode.decode: demux and decode one file with PyAV.

One pass reads the file only as far as the profile needs (the audio cap, the last sampled frame
and thumb), keeps what decoded when the stream breaks off (a bad final packet, a cut tail), and
refuses a file only when nothing usable decodes, saying which step failed.
"""

from __future__ import annotations

import math
import pickle
import resource
import sys
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from clipret.media.decode import SAMPLE_RATE, DecodedClip, DecodeOptions

END_TOLERANCE_S = 1.0  # decoding that ends this close to the declared end (or 5 % of it) is not truncated
MAX_BAD_PACKETS = 20  # undecodable packets in a row before the rest of the file is given up
NEAR_SAMPLE_S = 0.25  # (fast_video) every frame this close to a sampled frame is decoded


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
        return f"not a media file that FFmpeg can read ({_ffmpeg_reason(exc)})."
    return f"{type(exc).__name__}: {exc}"


def _ffmpeg_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def decode_in_process(path: str, options: DecodeOptions) -> DecodedClip:
    """Decode in this process (unsafe on hostile input: call through clipret.media.decode.decode)."""
    clip = _decode(path, options, None)
    if clip.truncated and clip.has_video and clip.decoded_s > 0:
        # The frames were planned over the declared length: plan them again over the part that
        # decodes (this second pass stops before the broken tail).
        again = _decode(path, options, clip.decoded_s)
        again.truncated, again.duration_s, again.decode_error = True, clip.duration_s, clip.decode_error
        return again
    return clip


def _open(path: str):
    import av

    # protocol_whitelist=file: a hostile playlist-type file must not make FFmpeg open URLs;
    # format_whitelist: playlist, concat and tty demuxers are refused before they read anything.
    options_ = {"protocol_whitelist": "file", "format_whitelist": ",".join(sorted(ALLOWED_FORMATS))}
    try:
        return av.open(path, metadata_errors="ignore", options=options_)
    except av.error.FFmpegError as exc:
        raise Unreadable(f"not a media file that FFmpeg can read (opening it failed: {_ffmpeg_reason(exc)}).") \
            from None


def _decode(path: str, options: DecodeOptions, span_override: float | None) -> DecodedClip:
    with _open(path) as container:
        _check_container_format(container.format.name)
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise Unreadable("the file has neither an audio nor a video stream.")
        duration = _duration_s(container, video, audio)
        video = video if "video" in options.streams else None  # not wanted: its packets are never read
        audio = audio if "audio" in options.streams else None
        span = min(duration, options.max_seconds) if duration > 0 else options.max_seconds
        if span_override is not None:
            span = min(span, span_override)
        fps = float(video.average_rate) if video is not None and video.average_rate else None
        if video is not None:
            video.thread_type = "AUTO"
            video.thread_count = options.decoder_threads  # 0: FFmpeg's choice (one per core)
            if options.fast_video:  # thumbs and CNN inputs are downscaled: deblocking is not worth its cost
                video.codec_context.options = {"skip_loop_filter": "all"}
        reading = _Reading(video, audio, span, fps or 25.0, options)
        reading.read(container)
    return reading.result(path, duration, fps)


@dataclass
class _Reading:
    """One pass over a container: feeds the samplers and the audio, stops as soon as nothing more is needed."""

    video: object
    audio: object
    span: float  # seconds of the clip analysed (declared length, capped)
    fps: float
    options: DecodeOptions
    chunks: list = field(default_factory=list)  # (n,) float32 mono pieces at SAMPLE_RATE
    audio_reach: float = 0.0  # seconds of audio decoded
    audio_done: bool = False
    packets: int = 0  # packets demuxed: what reading the file cost
    error: str = ""  # the error that ended decoding early, if one did

    def __post_init__(self):
        import av

        o = self.options
        self.frames = _Sampler(_frame_targets(self.span, self.fps, o), o.short_side)
        self.thumbs = _Sampler(_thumb_targets(self.span, o), o.thumb_short_side)
        self.resampler = (av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
                          if self.audio is not None else None)
        self.audio_done = self.audio is None
        self.video_time_base = float(self.video.time_base or 0) if self.video is not None else 0.0
        self.skip_mode = ""

    @property
    def video_done(self) -> bool:
        return self.video is None or (self.frames.full and self.thumbs.full)

    def read(self, container) -> None:
        import av

        streams = [s for s in (self.video, self.audio) if s is not None]
        if not streams:  # the wanted stream is not in the file (demux() with none would read them all)
            return
        bad_in_a_row = 0
        try:
            for packet in container.demux(*streams):
                self.packets += 1
                if self.video_done and self.audio_done:
                    break  # everything the extractors use is in hand: read no further
                is_video = packet.stream is self.video
                if (self.video_done if is_video else self.audio_done):
                    continue
                if is_video and self.options.fast_video:
                    self._skip_unless_sampled(packet)
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:  # a damaged packet: skip it, unless they keep coming
                    bad_in_a_row += 1
                    self.error = f"{_ffmpeg_reason(exc)} at {self.reach:.1f} s"
                    if bad_in_a_row > MAX_BAD_PACKETS:
                        break
                    continue
                bad_in_a_row = 0
                for frame in decoded:
                    self._take(frame, is_video)
        except av.error.FFmpegError as exc:  # the demuxer itself broke off (a cut or damaged tail)
            self.error = f"{_ffmpeg_reason(exc)} at {self.reach:.1f} s"
        if self.resampler is not None:
            try:
                self._add_audio(self.resampler.resample(None))
            except av.error.FFmpegError:
                pass

    def _skip_unless_sampled(self, packet) -> None:
        """Decode every frame near a sampled frame (segments need consecutive ones), else reference frames only."""
        if packet.pts is None or not self.video_time_base:
            return
        t = packet.pts * self.video_time_base  # a float: packet.time_base makes a Fraction per packet
        targets = self.frames.targets
        i = np.searchsorted(targets, t)
        near = min(abs(t - targets[max(i - 1, 0)]), abs(t - targets[min(i, len(targets) - 1)])) < NEAR_SAMPLE_S
        mode = "DEFAULT" if near else "NONREF"
        if mode != self.skip_mode:
            self.video.codec_context.skip_frame = self.skip_mode = mode

    def _take(self, frame, is_video: bool) -> None:
        if is_video:
            self.frames.offer(frame)
            self.thumbs.offer(frame)
        else:
            self._add_audio(self.resampler.resample(frame))
            self.audio_done = self.audio_reach >= self.span

    def _add_audio(self, frames) -> None:
        for f in frames:
            self.chunks.append(f.to_ndarray().reshape(-1))
            self.audio_reach += f.samples / SAMPLE_RATE

    @property
    def reach(self) -> float:
        """Seconds of media decoded, by the further-reaching stream."""
        video_reach = self.frames.last_time + 1.0 / self.fps if self.frames.seen else 0.0
        return max(video_reach, self.audio_reach)

    def result(self, path: str, duration: float, fps: float | None) -> DecodedClip:
        samples = _join_audio(self.chunks, self.span) if self.audio is not None else None
        if self.video is not None and self.frames.taken == 0 and not (samples is not None and samples.size):
            raise Unreadable(self._nothing("the video stream holds no decodable frame"))
        if self.audio is not None and self.video is None and samples.size == 0:
            raise Unreadable(self._nothing("the audio stream holds no decodable samples"))
        reach = self.reach
        complete = self.video_done and self.audio_done  # stopped because it had everything
        truncated = not complete and reach + min(END_TOLERANCE_S, 0.05 * self.span) < self.span
        if duration <= 0 or truncated:
            duration = reach  # a file that ends early lasts as long as what decodes
        has_video = self.video is not None and self.frames.taken > 0
        return DecodedClip(
            path=path, duration_s=float(duration), audio=samples, sample_rate=SAMPLE_RATE, fps=fps,
            frames=self.frames.array() if has_video else None,
            frame_times=self.frames.times() if has_video else None,
            thumbs=self.thumbs.array() if has_video else None,
            thumb_times=self.thumbs.times() if has_video else None,
            options=self.options, truncated=truncated, decoded_s=float(min(reach, self.span)),
            decode_error=self.error, packets_read=self.packets,
        )

    def _nothing(self, what: str) -> str:
        if self.error:
            return f"FFmpeg opened the file but could not decode its first packets ({self.error.split(' at ')[0]})."
        return f"{what}."


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
        from av.video.reformatter import VideoReformatter

        self.targets = np.sort(targets)
        self.short_side = short_side
        # one scaler kept for every frame: frame.to_ndarray(width=…) sets up a new one each time (4x the cost)
        self.reformatter = VideoReformatter()
        self.images: list[np.ndarray] = []
        self.stamps: list[float] = []
        self.last_time = 0.0
        self.seen = 0  # frames offered

    @property
    def taken(self) -> int:
        return len(self.images)

    @property
    def full(self) -> bool:
        return self.taken >= len(self.targets)

    def offer(self, frame) -> None:
        t = float(frame.time or 0.0)
        self.last_time = max(self.last_time, t)
        self.seen += 1
        image = None
        while self.taken < len(self.targets) and t + 1e-3 >= self.targets[self.taken]:
            if image is None:
                w, h = _scaled_size(frame.width, frame.height, self.short_side)
                image = self.reformatter.reformat(frame, width=w, height=h, format="rgb24").to_ndarray()
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
