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
    per_frame = _per_frame_statistics(images)
    cuts = detect_cuts(histogram_distances(images), per_frame["pixel_change"])  # (n - 1,) bool: cut after i
    span_s = len(images) / fps
    motion = per_frame["motion"][~cuts]  # a cut is not motion
    brightness, saturation = per_frame["brightness"], per_frame["saturation"]
    colour = per_frame["colourfulness"]
    return np.array([
        cuts.sum() * 60.0 / span_s,
        np.median(_shot_lengths(cuts, fps, span_s)),
        *_stats(motion),
        brightness.mean(), brightness.std(),
        saturation.mean(), saturation.std(),
        colour.mean(), colour.std(),
    ], dtype=np.float32)


def _per_frame_statistics(images: np.ndarray, chunk: int = 16) -> dict[str, np.ndarray]:
    """Per-frame brightness, saturation, colourfulness (n,) and pixel change, grey motion (n - 1,).

    Computed `chunk` frames at a time (consecutive chunks share one frame), so the float copies of a
    4-minute clip's thousands of thumbs stay in cache instead of filling memory; per-frame values are
    the same as over the whole array at once.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("pixel_change", "motion", "brightness", "saturation", "colourfulness")}
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for start in range(0, len(images), chunk):
        rgb = images[max(start - 1, 0):start + chunk].astype(np.float32) / 255.0  # (m, h, w, 3)
        grey = rgb @ weights  # (m, h, w)
        if start > 0 or len(rgb) > 1:
            parts["pixel_change"].append(np.abs(np.diff(rgb, axis=0)).mean(axis=(1, 2, 3)))
            parts["motion"].append(np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2)))
        own = slice(1 if start > 0 else 0, None)  # the shared frame was counted with the previous chunk
        high, low = rgb[own].max(axis=-1), rgb[own].min(axis=-1)
        parts["brightness"].append(grey[own].mean(axis=(1, 2)))
        parts["saturation"].append(
            np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0).mean(axis=(1, 2)))
        parts["colourfulness"].append(colourfulness(rgb[own]))
    return {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in parts.items()}


def histogram_distances(images: np.ndarray, bits: int = 3) -> np.ndarray:
    """(n - 1,): half the L1 distance between consecutive frames' joint RGB histograms (2**(3*bits) bins)."""
    n = len(images)
    q = (images >> (8 - bits)).astype(np.int32)  # (n, h, w, 3) in [0, 2**bits)
    bins = 1 << (3 * bits)
    index = (q[..., 0] << (2 * bits)) | (q[..., 1] << bits) | q[..., 2]  # (n, h, w)
    index = index.reshape(n, -1) + (np.arange(n, dtype=np.int64)[:, None] * bins)
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
