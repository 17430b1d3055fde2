"""Animated frames: baked, horizontally tileable backdrops panned by a camera, with sprites on top.

Per-frame work is a slice of a pre-lit backdrop plus a few small sprite blends, so a 15 s clip
renders in a fraction of its H.264 encoding time.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterator

import numpy as np

from clipret.sources.demo.genres import GenreStyle
from clipret.sources.demo.music import Song

H, W = 240, 320  # frame size
CH, CW = H + 60, 2 * W  # backdrop: 60 px of vertical play; tiles horizontally every CW px
LEVELS = (0.75, 1.0, 1.3, 1.7)  # pre-lit brightness versions of each backdrop, for beat pulses
SHAPES = ("bokeh", "waves", "bars", "rings", "horizon", "stripes", "shards", "sparks", "city")


def render_frames(style: GenreStyle, song: Song, seconds: float, rng: np.random.Generator,
                  fps: int = 24) -> Iterator[np.ndarray]:
    """Yield round(seconds * fps) frames, each (H, W, 3) uint8, following the genre loosely."""
    n_frames = int(round(seconds * fps))
    palette = _palette(style, rng)
    kinds = [str(k) for k in rng.choice(style.shapes, size=2)]
    backdrops = [_lit(_backdrop(k, palette, rng)) for k in kinds]
    cuts = _cut_frames(style, song, seconds, fps, rng)
    pulse = _pulse(song, n_frames, fps, rng)
    flash = _flashes(style, song, n_frames, fps, rng)
    speed = rng.uniform(*style.motion) * rng.choice([-1, 1])
    shake = 4.0 if style.strobe > 0.35 else 0.0
    scene = -1
    for i in range(n_frames):
        if scene < 0 or (scene + 1 < len(cuts) and i >= cuts[scene + 1]):
            scene += 1
            which = scene % 2
            x0, y_phase = rng.uniform(0, CW), rng.uniform(0, 2 * np.pi)
            sprites = _Sprites(kinds[which], palette, speed, rng)
        if flash[i]:
            yield np.broadcast_to(np.clip(palette[3], 0, 255).astype(np.uint8), (H, W, 3)).copy()
            continue
        jitter = rng.normal(0, shake * pulse[i] / 3, 2) if shake else (0.0, 0.0)
        x = int(x0 + speed * (i - cuts[scene]) + jitter[0]) % CW
        y = int(np.clip(30 + 28 * np.sin(y_phase + i * speed / 200) + jitter[1], 0, CH - H))
        frame = backdrops[which][pulse[i]][y:y + H, x:x + W].copy()
        sprites.draw(frame, pulse[i])
        yield frame


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))) * 255


def _palette(style: GenreStyle, rng) -> np.ndarray:
    """(5, 3) float32 RGB: dark, mid, light backdrop tones, accent, second accent."""
    h = float(rng.choice(style.hues)) + rng.normal(0, 0.05)
    s, v = rng.uniform(*style.saturation), rng.uniform(*style.brightness)
    turn = float(rng.choice([0.5, 0.08, -0.08, 0.33, -0.33]))
    return np.array([_hsv(h, s, v * 0.3), _hsv(h + 0.03, s * 0.9, v * 0.7), _hsv(h - 0.03, s * 0.7, v),
                     _hsv(h + turn, s + 0.2, v + 0.3), _hsv(h + turn / 2, s, v + 0.15)], np.float32)


def _lit(canvas: np.ndarray) -> list[np.ndarray]:
    """The backdrop at each brightness level, tiled twice horizontally so any W-wide slice is a view."""
    tiled = np.concatenate([canvas, canvas[:, :W]], axis=1)
    return [np.clip(tiled * g, 0, 255).astype(np.uint8) for g in LEVELS]


def _backdrop(kind: str, pal: np.ndarray, rng) -> np.ndarray:
    """(CH, CW, 3) float32, periodic in x."""
    y = np.linspace(0, 1, CH, dtype=np.float32)[:, None, None]
    x = np.arange(CW, dtype=np.float32)[None, :, None]
    top, bottom = (pal[2], pal[0]) if kind == "horizon" else (pal[0], pal[1])
    canvas = top + (bottom - top) * y ** rng.uniform(0.5, 2.0)
    canvas = np.broadcast_to(canvas, (CH, CW, 3)).copy()
    if kind == "horizon":
        sun = (rng.uniform(0, CW), rng.uniform(0.2, 0.5) * CH, rng.uniform(15, 35))
        _blob(canvas, x, y, *sun, pal[3], 0.9, 2)
        k, phase = int(rng.integers(1, 4)), rng.uniform(0, 2 * np.pi)
        ridge = 0.62 + 0.08 * np.sin(2 * np.pi * k * x / CW + phase)
        canvas[:] = np.where(y > ridge, pal[1] * 0.6 + pal[4] * 0.2, canvas)
    elif kind == "waves":
        k, f = int(rng.integers(1, 5)), rng.uniform(3, 9)
        band = 0.5 + 0.5 * np.sin(2 * np.pi * k * x / CW * 3 + f * y * 2 * np.pi)
        canvas += (pal[4] - canvas) * band * 0.5
    elif kind == "stripes":
        period = CW // int(rng.integers(4, 12))
        slope = rng.uniform(-1, 1) * CH
        on = ((x + slope * y) % period) < period * rng.uniform(0.2, 0.5)
        canvas[:] = np.where(on, canvas * 0.4 + pal[3] * 0.6, canvas)
    elif kind == "city":
        _city(canvas, x, y, pal, rng)
    for _ in range(int(rng.integers(1, 4))):  # soft glows give every backdrop some structure
        _blob(canvas, x, y, rng.uniform(0, CW), rng.uniform(0, CH), rng.uniform(40, 120),
              pal[int(rng.integers(1, 5))], rng.uniform(0.2, 0.5), 1)
    return canvas


def _blob(canvas, x, y, cx, cy, r, colour, alpha, hardness) -> None:
    dx = np.minimum(np.abs(x - cx), CW - np.abs(x - cx))  # distance across the tiling seam
    d2 = (dx ** 2 + (y * CH - cy) ** 2) / r ** 2
    a = alpha * np.exp(-d2 ** hardness)
    canvas += (colour - canvas) * a


def _city(canvas, x, y, pal, rng) -> None:
    edges = np.cumsum(rng.integers(20, 70, size=32))  # at least 640 px of buildings
    building = np.searchsorted(edges, x[0, :, 0], side="right")  # (CW,) building of each column
    height = rng.uniform(0.25, 0.8, 33)[building]  # (CW,) fraction of the canvas height
    inside = y[:, :, 0] > 1 - height[None, :]
    windows = ((x[0, :, 0] % 9) < 4)[None, :] & ((np.arange(CH) % 11) < 5)[:, None]
    lit = rng.random((CH // 11 + 1, 33)) < 0.35
    lit_px = lit[np.arange(CH)[:, None] // 11, building[None, :]]
    canvas[inside] = pal[0] * 0.5
    canvas[inside & windows & lit_px] = pal[3] * 0.8 + 40


def _cut_frames(style: GenreStyle, song: Song, seconds: float, fps: int, rng) -> list[int]:
    """Frame indices where scenes start (the first is 0); cuts land on beats."""
    n = rng.poisson(rng.uniform(*style.cuts_per_10s) * seconds / 10)
    times = rng.uniform(0.5, max(seconds - 0.5, 0.6), size=n)
    if len(song.beat_times):
        times = song.beat_times[np.abs(song.beat_times[None, :] - times[:, None]).argmin(1)]
    return sorted({0, *(int(t * fps) for t in times)})


def _pulse(song: Song, n_frames: int, fps: int, rng) -> np.ndarray:
    """(n_frames,) index into LEVELS: a flash of light on accents that fades over a few frames."""
    strength = rng.uniform(0, 1)
    level = np.zeros(n_frames)
    for t in song.accent_times:
        i = int(t * fps)
        if i < n_frames:
            decay = strength * np.array([2, 1.3, 0.7, 0.3])[:n_frames - i]
            level[i:i + 4] = np.maximum(level[i:i + 4], decay)
    base = 0 if rng.random() < 0.3 else 1  # some clips are lit a little darker throughout
    return np.clip(np.round(level) + base, 0, len(LEVELS) - 1).astype(np.int64)


def _flashes(style: GenreStyle, song: Song, n_frames: int, fps: int, rng) -> np.ndarray:
    flash = np.zeros(n_frames, bool)
    if rng.random() < style.strobe:
        share = rng.uniform(0.1, 0.4)
        for t in song.accent_times:
            if int(t * fps) < n_frames and rng.random() < share:
                flash[int(t * fps)] = True
    return flash


class _Sprites:
    """Small moving shapes drawn over the backdrop; each kind moves in its own way."""

    def __init__(self, kind: str, pal: np.ndarray, speed: float, rng):
        self.kind, self.rng = kind, rng
        count = {"sparks": 80, "bars": 12, "horizon": 5, "city": 6, "shards": 4, "rings": 4}.get(kind, 8)
        self.pos = rng.uniform([0, 0], [W, H], size=(count, 2))
        self.vel = rng.normal(0, abs(speed) * 0.5 + 0.3, size=(count, 2))
        if kind in ("bokeh", "waves"):
            self.vel[:, 1] = -abs(self.vel[:, 1])  # drift upwards
        self.colours = pal[rng.integers(2, 5, size=count)]
        masks = [self._mask(kind, rng) for _ in range(min(count, 8))]
        # premultiplied (1 - alpha, alpha * colour) per sprite: a blend is then one multiply-add
        alphas = [masks[k % len(masks)] for k in range(count)]
        self.layers = [(1 - a, a * c) for a, c in zip(alphas, self.colours, strict=True)]

    @staticmethod
    def _mask(kind: str, rng) -> np.ndarray:
        r = int(rng.integers(6, 36))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32) / r
        d = np.sqrt(xx ** 2 + yy ** 2)
        if kind == "rings":
            a = np.clip(1 - np.abs(d - 0.8) * 8, 0, 1)
        elif kind == "shards":
            u, v = rng.uniform(-1, 1, 2)
            a = ((yy > -0.8 + 0 * xx) & (yy < 1 - np.abs(xx - u) * (2 + v))).astype(np.float32)
        else:
            a = np.clip((1 - d) * rng.uniform(1.5, 4), 0, 1) * rng.uniform(0.3, 0.7)
        return a[:, :, None].astype(np.float32)

    def draw(self, frame: np.ndarray, level: int) -> None:
        self.pos = (self.pos + self.vel) % [W, H]
        if self.kind == "sparks":
            p = self.pos.astype(np.int64)
            frame[p[:, 1], p[:, 0]] = self.colours.astype(np.uint8)
            frame[np.minimum(p[:, 1] + 1, H - 1), p[:, 0]] = self.colours.astype(np.uint8)
            return
        if self.kind == "bars":
            width = W // len(self.pos)
            heights = (0.2 + 0.25 * level) * H * (0.5 + self.rng.random(len(self.pos)))
            for k, h in enumerate(heights.astype(int)):
                frame[H - h:, k * width + 2:(k + 1) * width - 2] = self.colours[k].astype(np.uint8)
            return
        if self.kind == "shards" and level > 1:  # shards jump on the beat
            self.pos = self.rng.uniform([0, 0], [W, H], size=self.pos.shape)
        for (px, py), (keep, paint) in zip(self.pos.astype(int).tolist(), self.layers, strict=True):
            _blend(frame, keep, paint, px, py)


def _blend(frame: np.ndarray, keep: np.ndarray, paint: np.ndarray, cx: int, cy: int) -> None:
    """frame = frame * keep + paint over the sprite's square centred on (cx, cy), clipped to the frame."""
    r = keep.shape[0] // 2
    y0, y1, x0, x1 = max(cy - r, 0), min(cy + r + 1, H), max(cx - r, 0), min(cx + r + 1, W)
    if y0 >= y1 or x0 >= x1:
        return
    sy, sx = slice(y0 - cy + r, y1 - cy + r), slice(x0 - cx + r, x1 - cx + r)
    region = frame[y0:y1, x0:x1]
    region[:] = region * keep[sy, sx] + paint[sy, sx]
