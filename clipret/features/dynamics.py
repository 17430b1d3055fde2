"""Weight-free video descriptors: editing pace (cuts), motion energy and colour statistics."""

from __future__ import annotations

import numpy as np

from clipret.features.base import BaseExtractor

DYNAMICS_COLUMNS = (
    "cuts_per_minute", "shot_length_median_s",
    "motion_mean", "motion_median", "motion_std", "motion_p75",
    "brightness_mean", "brightness_std", "saturation_mean", "saturation_std",
    "colourfulness_mean", "colourfulness_std",
)
CUT_THRESHOLD = 0.35  # colour-histogram distance (0 = same colours, 1 = disjoint) that can be a cut
CUT_CONTRAST = 2.5  # ... and it must stand out this much above the local median (fast motion does not)
CUT_PIXEL_CHANGE = 0.08  # ... and the pixels must change (a flat colour crossing a histogram bin does not)


class Dynamics(BaseExtractor):
    """12 named statistics of a clip's dense small frames (thumbs); None when the clip has no video."""

    name = "dynamics"
    modality = "video"
    dim = len(DYNAMICS_COLUMNS)
    columns = DYNAMICS_COLUMNS

    def __init__(self, device: str = "cpu"):
        pass  # numpy only: the device does not matter

    def extract(self, decoded) -> np.ndarray | None:
        if not decoded.has_video:
            return None
        images = decoded.thumbs if decoded.thumbs is not None and len(decoded.thumbs) else decoded.frames
        fps = decoded.options.thumb_fps if images is decoded.thumbs else _sampling_rate(decoded.frame_times)
        return self._finish(dynamics_features(images, fps))


def _sampling_rate(times: np.ndarray | None) -> float:
    if times is None or len(times) < 2 or times[-1] <= times[0]:
        return 1.0
    return (len(times) - 1) / float(times[-1] - times[0])


def dynamics_features(images: np.ndarray, fps: float) -> np.ndarray:
    """(12,) float32 in DYNAMICS_COLUMNS order, from (n, h, w, 3) uint8 RGB frames sampled at `fps`."""
    rgb = images.astype(np.float32) / 255.0  # (n, h, w, 3)
    pixel_change = np.abs(np.diff(rgb, axis=0)).mean(axis=(1, 2, 3))  # (n - 1,)
    cuts = detect_cuts(histogram_distances(images), pixel_change)  # (n - 1,) bool: cut between i and i + 1
    span_s = len(images) / fps
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (n, h, w)
    motion = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))[~cuts]  # a cut is not motion
    brightness = grey.mean(axis=(1, 2))
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0).mean(axis=(1, 2))
    return np.array([
        cuts.sum() * 60.0 / span_s,
        np.median(_shot_lengths(cuts, fps, span_s)),
        *_stats(motion),
        brightness.mean(), brightness.std(),
        saturation.mean(), saturation.std(),
        *(lambda c: (c.mean(), c.std()))(colourfulness(rgb)),
    ], dtype=np.float32)


def histogram_distances(images: np.ndarray, bits: int = 3) -> np.ndarray:
    """(n - 1,): half the L1 distance between consecutive frames' joint RGB histograms (2**(3*bits) bins)."""
    n = len(images)
    q = (images >> (8 - bits)).astype(np.int64)  # (n, h, w, 3) in [0, 2**bits)
    bins = 1 << (3 * bits)
    index = (q[..., 0] << (2 * bits)) | (q[..., 1] << bits) | q[..., 2]  # (n, h, w)
    index = index.reshape(n, -1) + np.arange(n)[:, None] * bins
    hist = np.bincount(index.reshape(-1), minlength=n * bins).reshape(n, bins).astype(np.float64)
    hist /= hist.sum(axis=1, keepdims=True)
    return 0.5 * np.abs(np.diff(hist, axis=0)).sum(axis=1)


def detect_cuts(distances: np.ndarray, pixel_change: np.ndarray, window: int = 9) -> np.ndarray:
    """(n - 1,) bool: hard cuts, where colours and pixels jump well above the neighbourhood's median."""
    if len(distances) == 0:
        return np.zeros(0, dtype=bool)
    padded = np.pad(distances, window // 2, mode="edge")
    local = np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)
    stands_out = (distances >= CUT_THRESHOLD) & (distances >= CUT_CONTRAST * local)
    return stands_out & (pixel_change >= CUT_PIXEL_CHANGE)


def _shot_lengths(cuts: np.ndarray, fps: float, span_s: float) -> np.ndarray:
    boundaries = np.concatenate([[0.0], (np.flatnonzero(cuts) + 1) / fps, [span_s]])
    return np.diff(boundaries)


def _stats(x: np.ndarray) -> tuple[float, float, float, float]:
    if x.size == 0:
        return 0.0, 0.0, 0.0, 0.0
    return float(x.mean()), float(np.median(x)), float(x.std()), float(np.percentile(x, 75))


def colourfulness(rgb: np.ndarray) -> np.ndarray:
    """(n,) Hasler & Süsstrunk's colourfulness of (n, h, w, 3) RGB in [0, 1] (0 for greys)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2)
    centre = np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    return spread + 0.3 * centre
