"""The 257 audio features: known answers on synthetic signals, and shared STFT == librosa's own functions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, sine

from clipret.features.audio import (
    AUDIO_COLUMNS,
    SEQUENCE_NAMES,
    LibrosaAudio,
    audio_sequences,
    audio_sequences_naive,
    extract_audio_features,
    hpss_rms,
)
from clipret.media.decode import decode


def click_track(bpm: float, seconds: float, sr: int = SR) -> np.ndarray:
    y = np.zeros(int(seconds * sr), np.float32)
    for start in (np.arange(0, seconds, 60.0 / bpm) * sr).astype(int):
        y[start:start + 100] = 1.0  # a 4.5 ms click
    return y


def mixed_signal(seconds: float = 4.0, sr: int = SR) -> np.ndarray:
    """Tone + noise + clicks: every feature sees something non-trivial."""
    rng = np.random.default_rng(0)
    return sine(330, seconds) + 0.05 * rng.standard_normal(int(seconds * sr)).astype(np.float32) \
        + click_track(100, seconds)


def features(y: np.ndarray, **kwargs) -> dict[str, float]:
    return dict(zip(AUDIO_COLUMNS, extract_audio_features(y, **kwargs), strict=True))


def test_257_unique_named_columns():
    assert len(SEQUENCE_NAMES) == 64
    assert len(AUDIO_COLUMNS) == 257 and len(set(AUDIO_COLUMNS)) == 257
    assert AUDIO_COLUMNS[-1] == "bpm"
    for name in ("mfcc_3_delta_median", "mfcc_13_delta2_p75", "chroma_A_std", "zcr_mean",
                 "spectral_bandwidth_p4_mean", "spectral_centroid_delta2_median", "harmonic_energy_p75"):
        assert name in AUDIO_COLUMNS


def test_sine_440_has_centroid_440_and_chroma_peak_on_a():
    f = features(sine(440, 2.0))
    assert f["spectral_centroid_median"] == pytest.approx(440, rel=0.03)
    chroma = {k: v for k, v in f.items() if k.startswith("chroma_") and k.endswith("_mean")}
    assert max(chroma, key=chroma.get) == "chroma_A_mean"
    assert f["zcr_mean"] == pytest.approx(2 * 440 / SR, rel=0.05)  # two crossings per period


def test_click_track_at_120_bpm():
    assert features(click_track(120, 10.0))["bpm"] == pytest.approx(120, abs=2)


def test_silence_is_finite():
    vector = extract_audio_features(np.zeros(2 * SR, np.float32))
    assert vector.shape == (257,) and vector.dtype == np.float32
    assert np.isfinite(vector).all()


def test_very_short_audio_is_finite():
    vector = extract_audio_features(np.random.default_rng(1).standard_normal(300).astype(np.float32))
    assert vector.shape == (257,) and np.isfinite(vector).all()


def test_shared_stft_equals_librosa_per_feature_functions():
    y = mixed_signal()
    shared, shared_bpm = audio_sequences(y)
    naive, naive_bpm = audio_sequences_naive(y)
    for name in SEQUENCE_NAMES:
        scale = max(np.abs(naive[name]).max(), 1e-6)
        np.testing.assert_allclose(shared[name], naive[name], rtol=1e-4, atol=1e-5 * scale, err_msg=name)
    assert shared_bpm == pytest.approx(naive_bpm)
    np.testing.assert_allclose(extract_audio_features(y), extract_audio_features(y, naive=True),
                               rtol=1e-4, atol=1e-4)


def test_hpss_energies_match_librosa():
    import librosa

    y = mixed_signal(2.0)
    y[SR // 2:SR] = 0.0  # digital silence: both medians 0, librosa splits the masks 0.5 / 0.5
    magnitude = np.abs(librosa.stft(y))
    for ours, part in zip(hpss_rms(magnitude, magnitude**2), librosa.decompose.hpss(magnitude), strict=True):
        theirs = librosa.feature.rms(S=part)[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7 * theirs.max())


def test_only_the_first_max_seconds_count():
    y = sine(440, 2.0)
    longer = np.concatenate([y, np.random.default_rng(2).standard_normal(SR).astype(np.float32)])
    np.testing.assert_allclose(extract_audio_features(longer, max_seconds=2.0),
                               extract_audio_features(y, max_seconds=2.0))


def test_extractor_on_decoded_clips(tone_clip, video_only_clip):
    extractor = LibrosaAudio()
    vector = extractor.extract(decode(tone_clip))
    assert vector.shape == (257,) and vector.dtype == np.float32
    named = dict(zip(extractor.columns, vector, strict=True))
    assert named["spectral_centroid_median"] == pytest.approx(440, rel=0.05)
    assert extractor.extract(decode(video_only_clip)) is None
