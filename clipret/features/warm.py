"""Warming a process up: librosa's compiled code and a profile's models, loaded before the first clip.

Every warm worker (queries, the extraction pool, Ray actors) starts with `warm_worker`, so a worker's first
clip costs what the others do. Run as ``python -m clipret.features.warm``, this is also the child that
compiles librosa's numba cache (clipret.features.jit_cache starts it under its lock).
"""

from __future__ import annotations

import importlib

import numpy as np

from clipret.errors import ClipretError
from clipret.features import jit_cache
from clipret.features.audio import extract_audio_features
from clipret.features.profiles import Profile, extract_clip
from clipret.features.registry import EXTRACTORS
from clipret.media.decode import SAMPLE_RATE, DecodedClip, DecodeOptions

# librosa modules whose @guvectorize/@vectorize(cache=True) functions compile when they are imported
_EAGER_MODULES = ("librosa.beat", "librosa.util.utils", "librosa.core.audio", "librosa.core.spectrum",
                  "librosa.feature.utils", "librosa.sequence", "librosa.filters", "librosa.util.matching",
                  "librosa.core.notation", "librosa.core.pitch", "librosa.core.constantq")


def warm_worker(profile: Profile | str | None = None) -> None:
    """A worker's start: load librosa's compiled code (complete, compiled under the cache's lock), then
    every model of `profile` (one tiny clip through it)."""
    load_compiled_code()
    if profile is not None:
        extract_clip(tiny_clip(), "warming up", profile)


def load_compiled_code() -> None:
    """Make sure the numba cache is complete, then load every compiled function clipret uses into this
    process, so no later step compiles or reads the folder."""
    jit_cache.ensure_ready()
    with jit_cache.loading():
        exercise_audio()


def exercise_audio() -> None:
    """Import librosa's cached modules and run every audio extractor (and the naive librosa recipe)
    on a short synthetic clip: every numba variant they use is compiled (or loaded) now."""
    for name in _EAGER_MODULES:
        importlib.import_module(name)
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + (np.sin(2 * np.pi * 2 * t) > 0.99) * 0.5  # a tone + clicks
    y = y.astype(np.float32)
    extract_audio_features(y, SAMPLE_RATE, naive=True)
    clip = DecodedClip(path="numba-warm-up", duration_s=4.0, audio=y, sample_rate=SAMPLE_RATE, fps=None,
                       frames=None, frame_times=None, thumbs=None, thumb_times=None, options=DecodeOptions())
    for cls in EXTRACTORS.values():
        if cls.modality == "audio":
            try:
                cls().extract(clip)
            except ClipretError:  # weights out of reach: that extractor is not usable here anyway
                pass


def tiny_clip() -> DecodedClip:
    """A 2 s synthetic DecodedClip (a tone, 16 noisy frames): enough to load and run every extractor."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    frames = rng.integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    times = np.linspace(0, 2, 16, endpoint=False)
    return DecodedClip(path="warm-up", duration_s=2.0, audio=(0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
                       sample_rate=SAMPLE_RATE, fps=8.0, frames=frames, frame_times=times,
                       thumbs=frames[:, ::4, ::4], thumb_times=times, options=DecodeOptions())


if __name__ == "__main__":  # the compiling child: NUMBA_CACHE_DIR is set by the parent, which holds the lock
    exercise_audio()
