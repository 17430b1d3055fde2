"""Seconds per clip for each stage of the portable profile on a 20 s 320x240 clip; shared vs naive STFT.

`naive` calls each librosa feature function on the signal (one STFT each, one HPSS per component);
`speedup_from_sharing_alone` keeps librosa's own HPSS, to separate the shared STFT's gain from the
faster (bit-identical) row-wise median filter's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from bench.common import best_of, write_results

SECONDS = 20.0
SR = 22050
FPS = 24
LYRICS = " ".join(["I walk the line between the night and you, the city lights keep calling me home"] * 12)


def make_clip(path: Path, seconds: float = SECONDS) -> None:
    """A demo-like clip: a new textured shot every 2 s drifting sideways; a tone, noise and a 120 BPM beat."""
    from clipret.media.encode import write_clip

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    for start in range(0, t.size, SR // 2):
        audio[start:start + 300] += 0.6
    shots = [np.kron(rng.integers(0, 256, (30, 44, 3)), np.ones((8, 8, 1))).astype(np.uint8)
             for _ in range(int(seconds / 2) + 1)]
    frames = (np.roll(shots[i // (2 * FPS)], i, axis=1)[:240, :320] for i in range(int(seconds * FPS)))
    write_clip(path, frames, audio.astype(np.float32), fps=FPS, sample_rate=SR)


def librosa_hpss_rms(magnitude: np.ndarray, power: np.ndarray):
    """clipret.features.audio.hpss_rms the usual way: librosa's HPSS, then librosa's RMS of each part."""
    import librosa

    return tuple(librosa.feature.rms(S=part)[0] for part in librosa.decompose.hpss(magnitude))


def main() -> None:
    from clipret.features.audio import extract_audio_features
    from clipret.features.profiles import extract_clip, get_profile
    from clipret.features.registry import get_extractor
    from clipret.media.decode import decode

    profile = get_profile("portable")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        make_clip(path)
        decode_s = best_of(lambda: decode(path, profile.decode_options))
        decoded = decode(path, profile.decode_options)

    start = time.perf_counter()
    extract_clip(decoded, LYRICS, profile)  # loads every model once (and compiles librosa's numba code)
    first_call_s = time.perf_counter() - start
    stages = {block: get_extractor(name) for block, name in
              (("audio", "librosa_257"), ("video", "efficientnet_lite0"), ("dynamics", "dynamics"),
               ("lyrics", "minilm"))}
    per_stage = {block: best_of(lambda e=e, b=block: e.extract(LYRICS if b == "lyrics" else decoded), 5)
                 for block, e in stages.items()}
    extract_s = best_of(lambda: extract_clip(decoded, LYRICS, profile), 5)

    shared = extract_audio_features(decoded.audio)
    naive = extract_audio_features(decoded.audio, naive=True)
    shared_s = best_of(lambda: extract_audio_features(decoded.audio), 5)
    naive_s = best_of(lambda: extract_audio_features(decoded.audio, naive=True), 5)
    with mock.patch("clipret.features.audio.hpss_rms", librosa_hpss_rms):  # sharing alone, librosa's HPSS
        sharing_only_s = best_of(lambda: extract_audio_features(decoded.audio), 5)
    write_results("features", {
        "clip": {"seconds": SECONDS, "size": "320x240", "fps": FPS, "profile": profile.name},
        "seconds_per_clip": {"decode": round(decode_s, 3), **{k: round(v, 3) for k, v in per_stage.items()},
                             "extract_all": round(extract_s, 3),
                             "decode_plus_extract": round(decode_s + extract_s, 3)},
        "first_call_with_model_loading_s": round(first_call_s, 2),
        "audio_shared_vs_naive": {
            "shared_s": round(shared_s, 3), "naive_s": round(naive_s, 3),
            "speedup": round(naive_s / shared_s, 2),
            "shared_with_librosa_hpss_s": round(sharing_only_s, 3),
            "speedup_from_sharing_alone": round(naive_s / sharing_only_s, 2),
            "max_abs_difference": float(np.abs(shared - naive).max()),
            "max_relative_difference":
                float(np.max(np.abs(shared - naive) / np.maximum(np.abs(naive), 1e-6))),
        },
    })


if __name__ == "__main__":
    main()
