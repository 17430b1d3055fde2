"""The real-length speed-ups keep the features: fast video decoding, shared spectral bandwidths, chunked dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, sine

from clipret.features.dynamics import DYNAMICS_COLUMNS, dynamics_features
from clipret.media.decode import decode
from clipret.media.encode import write_clip

FPS = 24


@pytest.fixture(scope="module")
def cutting_clip(tmp_path_factory):
    """8 s, 160×128 at 24 fps: a new textured shot every second (7 cuts) panning 3 px a frame; a tone."""
    rng = np.random.default_rng(5)
    shots = [np.clip(np.kron(rng.integers(-40, 40, (16, 40, 3)), np.ones((8, 8, 1))) + base, 0, 255)
             .astype(np.uint8) for base in rng.integers(40, 216, (8, 3))]  # each its own colours
    frames = [np.roll(shots[i // FPS], 3 * i, axis=1)[:, :160] for i in range(8 * FPS)]
    path = tmp_path_factory.mktemp("fast") / "cuts.mp4"
    write_clip(path, frames, sine(440, 8.0), fps=FPS, sample_rate=SR)
    return path


def test_fast_video_keeps_the_dynamics_and_the_sampled_frames(cutting_clip):
    fast, exact = (decode(cutting_clip, fast_video=f, n_segments=8) for f in (True, False))
    a, b = (dict(zip(DYNAMICS_COLUMNS, dynamics_features(c.thumbs, 8.0), strict=True)) for c in (fast, exact))
    assert a["cuts_per_minute"] == b["cuts_per_minute"] == pytest.approx(7 * 60 / 8)
    for name in ("brightness_mean", "saturation_mean"):
        assert a[name] == pytest.approx(b[name], rel=0.01), name
    assert a["colourfulness_mean"] == pytest.approx(b["colourfulness_mean"], rel=0.03)  # blocks add colour spread
    assert a["motion_mean"] == pytest.approx(b["motion_mean"], rel=0.1)
    np.testing.assert_allclose(fast.frame_times, exact.frame_times, atol=2.5 / FPS)  # at most 2 frames later
    np.testing.assert_allclose(fast.thumb_times, exact.thumb_times, atol=2.5 / FPS)
    difference = np.abs(fast.frames.astype(int) - exact.frames.astype(int)).mean()
    assert difference < 6  # of 255: no deblocking shows only at block edges
    np.testing.assert_array_equal(fast.audio, exact.audio)


def test_chunked_dynamics_equal_the_plain_float_formulas():
    from clipret.features.dynamics import _per_frame_statistics

    images = np.random.default_rng(2).integers(0, 256, (37, 12, 20, 3)).astype(np.uint8)
    images[5] = 0  # a black frame: saturation 0, not a division by zero
    rgb = images.astype(np.float64) / 255.0
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    expected = {
        "pixel_change": np.abs(np.diff(rgb, axis=0)).mean(axis=(1, 2, 3)),
        "motion": np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2)),
        "brightness": grey.mean(axis=(1, 2)),
        "saturation": np.where(high > 0, (high - low) / np.maximum(high, 1e-12), 0.0).mean(axis=(1, 2)),
        "colourfulness": np.hypot(rg.std(axis=(1, 2)), yb.std(axis=(1, 2)))
        + 0.3 * np.hypot(rg.mean(axis=(1, 2)), yb.mean(axis=(1, 2))),
    }
    for chunk in (8, 64):  # chunks share a frame: the values do not depend on where they split
        stats = _per_frame_statistics(images, chunk=chunk)
        for name, values in expected.items():
            assert stats[name].dtype == np.float32
            np.testing.assert_allclose(stats[name], values, rtol=2e-6, atol=1e-7, err_msg=name)
    assert stats["saturation"][5] == 0.0
    assert dynamics_features(images[:1], 8.0).shape == (12,)


def test_centroid_and_bandwidths_from_moments_equal_librosa():
    import librosa

    from clipret.features.audio import centroid_and_bandwidths

    rng = np.random.default_rng(0)
    y = sine(330, 3.0) + 0.1 * rng.standard_normal(3 * SR).astype(np.float32)
    y[SR:SR + 4096] = 0.0  # silent frames: librosa leaves them unnormalised
    magnitude = np.abs(librosa.stft(y))
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=SR)
    our_centroid, our_bandwidths = centroid_and_bandwidths(magnitude, SR)
    np.testing.assert_allclose(our_centroid, centroid[0], rtol=1e-6, atol=1e-6 * centroid.max())
    for p, ours in zip((2, 3, 4), our_bandwidths, strict=True):
        theirs = librosa.feature.spectral_bandwidth(S=magnitude, sr=SR, centroid=centroid, p=p)[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * theirs.max())


@pytest.mark.parametrize("freq", [440.0, 452.0])  # in tune, and about half a semitone sharp
def test_tuning_from_a_quarter_of_the_frames_is_librosas(freq):
    import librosa

    from clipret.features.audio import estimate_tuning

    y = sine(freq, 10.0) + sine(freq * 1.5, 10.0, amplitude=0.2)
    y += 0.02 * np.random.default_rng(1).standard_normal(y.size).astype(np.float32)
    power = np.abs(librosa.stft(y)) ** 2
    assert estimate_tuning(power, SR) == pytest.approx(librosa.estimate_tuning(S=power, sr=SR), abs=0.011)


def test_zero_crossing_rate_and_rolloff_equal_librosa_exactly():
    import librosa

    from clipret.features.audio import spectral_rolloff, zero_crossing_rate

    rng = np.random.default_rng(2)
    y = sine(220, 3.0) + 0.05 * rng.standard_normal(3 * SR).astype(np.float32)
    y[SR:SR + 6000] = 0.0  # silence: a frame with no energy, zeros that count as positive ...
    y[2 * SR:2 * SR + 100] = -1e-11  # ... and so do samples within librosa's threshold of zero
    y[2 * SR + 100:2 * SR + 200] = -0.0
    expected = librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512)[0]
    np.testing.assert_array_equal(zero_crossing_rate(y), expected)
    for n in (1, 700, 2048, 2049):  # shorter than a frame, one frame, one hop past it
        short = y[SR // 2:SR // 2 + n]
        np.testing.assert_array_equal(zero_crossing_rate(short),
                                      librosa.feature.zero_crossing_rate(short, frame_length=2048, hop_length=512)[0])
    magnitude = np.abs(librosa.stft(y))
    expected = librosa.feature.spectral_rolloff(S=magnitude, sr=SR)[0]
    np.testing.assert_array_equal(spectral_rolloff(magnitude, SR), expected)
