"""Versions of songs with known answers: each recording re-encoded, trimmed, shifted, placed inside a
longer file and turned down, written beside the originals (tests/test_versions.py and bench versions).

    make_versions(audio, other, sample_rate) → {transformation: audio}
    write_audio(path, audio, sample_rate, codec)  # .m4a AAC, .mp3 MP3 at 64 kbit/s, .ogg Opus
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

# how each version is made from a recording (`other`: a different song, for the longer file)
TRANSFORMS = ("reencoded", "start_cut", "end_cut", "time_shift", "in_longer", "quieter")
START_CUT_S, END_CUT_S, SHIFT_S = 5.0, 8.0, 2.3  # intro cut; an earlier end; silence before the song
LONGER_BEFORE_S, LONGER_AFTER_S = 12.0, 8.0  # another song around it in the longer file: shorter than
# versions.MIN_OVERLAP_S, so that the longer file is a version of this song only (one holding two whole songs
# is a version of both, and joins their groups)
QUIETER = 0.3  # gain of the turned-down version
CODECS = {".m4a": ("aac", "mp4", 128_000), ".mp3": ("libmp3lame", "mp3", 64_000), ".ogg": ("libopus", "ogg", 48_000)}


def make_versions(audio: np.ndarray, other: np.ndarray, sample_rate: int) -> dict[str, tuple[np.ndarray, str]]:
    """{transformation: (audio, file suffix)}: every TRANSFORMS entry of `audio` (mono float32)."""
    sr = sample_rate
    silence = np.zeros(int(SHIFT_S * sr), np.float32)
    longer = np.concatenate([other[: int(LONGER_BEFORE_S * sr)], audio, other[-int(LONGER_AFTER_S * sr):]])
    return {"reencoded": (audio, ".mp3"), "start_cut": (audio[int(START_CUT_S * sr):], ".m4a"),
            "end_cut": (audio[: len(audio) - int(END_CUT_S * sr)], ".m4a"),
            "time_shift": (np.concatenate([silence, audio]), ".ogg"), "in_longer": (longer, ".m4a"),
            "quieter": (QUIETER * audio, ".m4a")}


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """An audio-only file whose codec follows the suffix (CODECS); Opus is written at 48 kHz."""
    import av

    path = Path(path)
    codec, container_format, bitrate = CODECS[path.suffix]
    rate = 48_000 if codec == "libopus" else sample_rate
    if rate != sample_rate:
        import librosa

        audio = librosa.resample(np.asarray(audio, np.float32), orig_sr=sample_rate, target_sr=rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        fmt = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
        pts = 0
        for start in range(0, len(audio), 4096):
            block = np.clip(np.asarray(audio[start:start + 4096], np.float32), -1, 1)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            pts += block.shape[1]
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
