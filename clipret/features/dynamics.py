"""Weight-free video descriptors: editing pace (cuts), motion energy and colour statistics."""

from __future__ import annotations

import numpy as np

from clipret.features.base import BaseExtractor, Concept, descriptor_concepts

DYNAMICS_COLUMNS = (
    "cuts_per_minute", "shot_length_median_s",
    "motion_mean", "motion_median", "motion_std", "motion_p75",
    "brightness_mean", "brightness_std", "saturation_mean", "saturation_std",
    "colourfulness_mean", "colourfulness_std",
)
# What a viewer would call a high and a low value of these columns (text search)
DYNAMICS_DESCRIPTORS = {
    "cuts_per_minute": (("fast cuts", "quick editing", "many shots"), ("long takes", "one continuous shot")),
    "motion_mean": (("fast motion", "a moving camera", "action"), ("a still picture", "static", "motionless")),
    "brightness_mean": (("a bright picture", "sunny", "daylight"), ("a dark picture", "at night", "dark")),
    "saturation_mean": (("colourful", "vivid colours", "saturated"),
                        ("black and white", "grey", "muted colours")),
}
CUT_THRESHOLD = 0.35  # colour-histogram distance (0 = same colours, 1 = disjoint) that can be a cut
CUT_CONTRAST = 2.5  # ... and it must stand out this much above the local median (fast motion does not)
CUT_PIXEL_CHANGE = 0.08  # ... and the pixels must change (a flat colour crossing a histogram bin does not)


class Dynamics(BaseExtractor):
    """12 named statistics of a clip's dense small frames (thumbs); None when the clip has no video."""

    name = "dynamics"
    modality = "video"
    dim = len(DYNAMICS_COLUMNS)
    columns = DYNAMICS_COLUMNS

    @classmethod
    def concepts(cls) -> tuple[Concept, ...]:
        return descriptor_concepts(DYNAMICS_COLUMNS, DYNAMICS_DESCRIPTORS)

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


def _per_frame_statistics(images: np.ndarray, chunk: int = 64) -> dict[str, np.ndarray]:
    """Per-frame brightness, saturation, colourfulness (n,) and pixel change, grey motion (n - 1,).

    Computed `chunk` frames at a time (consecutive chunks share one frame), so the float copies of a
    4-minute clip's thousands of thumbs stay in cache instead of filling memory. Each colour channel is
    its own (m, h, w) plane: reductions over a length-3 last axis cost numpy 5x more than elementwise
    maxima of planes, and the pixel change is summed exactly in integers (the tests hold every value
    to the plain float formulas within 1e-6).
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("pixel_change", "motion", "brightness", "saturation", "colourfulness")}
    for start in range(0, len(images), chunk):
        block = images[max(start - 1, 0):start + chunk]  # (m, h, w, 3) uint8
        r, g, b = np.moveaxis(block, -1, 0).astype(np.float32) / np.float32(255.0)  # 3 × (m, h, w)
        grey = r * np.float32(0.299) + g * np.float32(0.587) + b * np.float32(0.114)
        if start > 0 or len(block) > 1:
            wide = block.astype(np.int16)
            change = np.abs(np.diff(wide, axis=0)).reshape(len(block) - 1, -1).sum(axis=1, dtype=np.int64)
            parts["pixel_change"].append((change / (255.0 * wide[0].size)).astype(np.float32))
            parts["motion"].append(np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2)))
        own = slice(1 if start > 0 else 0, None)  # the shared frame was counted with the previous chunk
        r, g, b, grey = r[own], g[own], b[own], grey[own]
        high, low = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
        parts["brightness"].append(grey.mean(axis=(1, 2)))
        parts["saturation"].append(np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)
                                   .mean(axis=(1, 2)))
        parts["colourfulness"].append(_colourfulness_of_planes(r, g, b))
    return {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in parts.items()}


def histogram_distances(images: np.ndarray, bits: int = 3) -> np.ndarray:
    """(n - 1,): half the L1 distance between consecutive frames' joint RGB histograms (2**(3*bits) bins)."""
    n = len(images)
    q = images >> np.uint8(8 - bits)  # (n, h, w, 3) uint8 in [0, 2**bits)
    bins = 1 << (3 * bits)
    index = (q[..., 0].astype(np.int32) << (2 * bits)) | (q[..., 1].astype(np.int32) << bits) | q[..., 2]
    index = index.reshape(n, -1)  # (n, h * w) int32: each frame's pixels get bins of their own
    index += (np.arange(n, dtype=np.int32) * bins)[:, None]
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
    return _colourfulness_of_planes(rgb[..., 0], rgb[..., 1], rgb[..., 2])


def _colourfulness_of_planes(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2)
    centre = np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    return spread + 0.3 * centre
