"""Write H.264 + AAC clips with PyAV: the demo corpus and the tests make their media with this."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction

import numpy as np

from clipret.files import atomic_path


def write_clip(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray] | None,
    audio: np.ndarray | None,
    *,
    fps: int = 24,
    sample_rate: int = 22050,
    crf: int = 28,
) -> None:
    """Write an .mp4 atomically from RGB frames (each (H, W, 3) uint8, even H and W) and/or mono
    float audio in [-1, 1] ((n_samples,) at `sample_rate`). Either may be None, not both."""
    import av

    if frames is None and audio is None:
        raise ValueError("write_clip needs frames, audio or both.")
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            v_stream = a_stream = None
            frame_iter = iter(frames) if frames is not None else None
            first = next(frame_iter) if frame_iter is not None else None
            if first is not None:
                v_stream = container.add_stream("libx264", rate=fps)
                v_stream.height, v_stream.width = first.shape[:2]
                v_stream.pix_fmt = "yuv420p"
                # mbtree off: x264's macroblock-tree rate control gave run-to-run different bytes under load;
                # without it the same frames always encode to the same file (the demo corpus relies on it).
                v_stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "mbtree=0"}
            if audio is not None:
                a_stream = container.add_stream("aac", rate=sample_rate)
                a_stream.layout = "mono"
            if v_stream is not None:
                for image in _chain(first, frame_iter):
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                    container.mux(v_stream.encode(frame))
                container.mux(v_stream.encode())
            if a_stream is not None:
                _write_audio(container, a_stream, np.asarray(audio, dtype=np.float32), sample_rate)


def _chain(first, rest):
    yield first
    yield from rest


def _write_audio(container, stream, audio: np.ndarray, sample_rate: int, chunk: int = 1024) -> None:
    import av

    pts = 0
    for start in range(0, len(audio), chunk):
        block = np.clip(audio[start:start + chunk], -1.0, 1.0)[None, :]  # (1, n) planar mono
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = pts
        frame.time_base = Fraction(1, sample_rate)
        pts += block.shape[1]
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
