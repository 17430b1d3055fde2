"""Synthesised songs: a groove, a bass line, chords and a lead over a chord loop, mixed to mono."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from clipret.sources.demo.genres import GenreStyle
from clipret.sources.demo.synth import SR, TIMBRES, drum_kit, lowpass, place, render_voice
from clipret.sources.demo.voice import vocal_line

VELOCITY = {"x": 1.0, "o": 0.65, "g": 0.3}
GROOVES: dict[str, dict] = {  # one or two bars of 16th steps per drum; swing: which offbeats move (8/16)
    "backbeat": dict(kick="x.....x.x.......", snare="....x.......x...", hat="x.o.x.o.x.o.x.o.", swing=16),
    "rock8": dict(kick="x.......x.x.....", snare="....x.......x...", hat="x.x.x.x.x.x.x.x.", swing=8),
    "motown": dict(kick="x.....x.x.....x.", snare="x...x...x...x...", hat="x.o.x.o.x.o.x.o.",
                   clap="....x.......x...", swing=16),
    "half_time": dict(kick="x.........x.....", snare="........x.......", hat="x.x.x.x.x.x.x.x.", swing=16),
    "punk": dict(kick="x...x...x...x...", snare="..x...x...x...x.", hat="x.x.x.x.x.x.x.x.", swing=0),
    "double_kick": dict(kick="xoxoxoxoxoxoxoxo", snare="....x.......x...", ride="x...x...x...x...", swing=0),
    "blast": dict(kick="xoxoxoxoxoxoxoxo", snare="oxoxoxoxoxoxoxox", ride="x.x.x.x.x.x.x.x.", swing=0),
    "swing_ride": dict(ride="x...x.o.x...x.o.", hat="....x.......x...", kick="g.......g.......", swing=8,
                       comp_snare=True),
    "shuffle": dict(kick="x.......x.......", snare="....x.......x...", hat="x.o.x.o.x.o.x.o.", swing=8),
    "ballad": dict(kick="x.......x.......", rim="....x.......x...", hat="x...x...x...x...", swing=8),
    "boom_bap": dict(kick="x......x..x.....", snare="....x.......x...", hat="x.o.x.o.x.o.x.o.", swing=16),
    "trap": dict(kick="x......x..x...x.", clap="........x.......", hat="xoxoxoxoxoxoxoxo", swing=0,
                 rolls=True),
    "drill": dict(kick="x.........x.........x..x...x....", snare="......x.......x.....x.........x.",
                  hat="x..x..x.x..x..x.x..x..x.x..x..x.", swing=0, rolls=True),
    "train": dict(kick="x.......x.......", brush="gogoxogogogoxogo", swing=0),
    "boom_chick": dict(kick="x.......x.......", rim="....x.......x...", shaker="x.x.x.x.x.x.x.x.", swing=8),
    "folk_light": dict(kick="x.......x.......", shaker="xoxoxoxoxoxoxoxo", swing=0),
    "none": dict(swing=0),
}
DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_CHORD = re.compile(r"^(b?)(I|II|III|IV|V|VI|VII|i|ii|iii|iv|v|vi|vii)(maj7|7)?$")
SCALES = {"major": (0, 2, 4, 7, 9), "minor": (0, 3, 5, 7, 10), "blues": (0, 3, 5, 6, 7, 10)}


@dataclass(frozen=True)
class Song:
    """A clip's music: the mono mix and the timing the visuals follow."""

    audio: np.ndarray  # (n_samples,) float32 in [-1, 1] at SR
    bpm: float
    beat_times: np.ndarray  # (n_beats,) s
    accent_times: np.ndarray  # (n,) s, kick and crash hits: where the picture pulses


def parse_chord(symbol: str) -> tuple[int, tuple[int, ...]]:
    """'bVII' -> (10, (0, 4, 7)); 'ii7' -> (2, (0, 3, 7, 10)); 'Imaj7' -> (0, (0, 4, 7, 11))."""
    m = _CHORD.match(symbol)
    if not m:
        raise ValueError(f"not a chord symbol: {symbol!r}")
    flat, numeral, ext = m.groups()
    root = DEGREES[numeral.upper()] - (1 if flat else 0)
    third = 4 if numeral.isupper() else 3
    seventh = {"maj7": (11,), "7": (10,), None: ()}[ext]
    return root, (0, third, 7, *seventh)


def compose(style: GenreStyle, seconds: float, rng: np.random.Generator, vocals: bool = False) -> Song:
    """Draw tempo, key, groove and instruments for one clip and render its mix (with a voice if `vocals`)."""
    n = int(round(seconds * SR))
    bpm = float(rng.uniform(*style.tempo))
    step = 60.0 / bpm / 4
    swing = float(rng.uniform(*style.swing))
    groove = GROOVES[str(rng.choice(style.grooves))]
    chords = [parse_chord(c) for c in str(rng.choice(style.progressions)).split()]
    key = int(rng.integers(0, 12))
    n_bars = int(np.ceil(seconds / (16 * step))) + 1
    grid = _Grid(step, swing, groove["swing"], n_bars, rng)
    drums, accents = _drums(groove, grid, n, rng)
    bass = _bass(style, chords, grid, key, n, rng)
    harmony = _chords(style, chords, grid, key, n, rng)
    lead = _lead(style, chords, grid, key, n, rng)
    voice = np.zeros(n, np.float32)
    if vocals:
        rap = rng.random() < style.line_styles.count("rap") / len(style.line_styles)
        voice = vocal_line(grid, key, _scale(chords, rng), n, rap, rng)
        lead *= 0.0 if rng.random() < 0.6 else 0.6  # the voice mostly takes the tune
    gains = rng.uniform(0.6, 1.0, size=5) * np.array([0.9, 0.8, 0.55, 0.45, 0.6])
    mix = gains[0] * drums + gains[1] * bass + gains[2] * harmony + gains[3] * lead + gains[4] * voice
    if rng.random() < 0.25:  # a darker, lo-fi master on some clips of any genre
        mix = lowpass(mix, rng.uniform(2500, 6000))
    mix = np.tanh(1.5 * mix / max(np.abs(mix).max(), 1e-6))
    mix *= rng.uniform(0.5, 0.8) / max(np.abs(mix).max(), 1e-6)
    fade = min(int(0.05 * SR), n // 4)  # AAC rings badly on a hit out of silence at t = 0
    mix[:fade] *= np.linspace(0, 1, fade) ** 2
    mix[n - fade:] *= np.linspace(1, 0, fade)
    beats = np.arange(0, seconds, 4 * step)
    return Song(mix.astype(np.float32), bpm, beats, accents)


class _Grid:
    """Times of 16th steps with swing and a little human timing jitter."""

    def __init__(self, step: float, swing: float, unit: int, n_bars: int, rng: np.random.Generator):
        self.step, self.n_bars = step, n_bars
        steps = np.arange(n_bars * 16)
        offset = np.zeros(len(steps))
        if unit == 8:
            offset[steps % 4 == 2] = swing * 2 * step / 3
        elif unit == 16:
            offset[steps % 2 == 1] = swing * step / 3
        self.times = steps * step + offset + rng.normal(0, 0.004, len(steps))
        self.times[0] = 0.0

    def at(self, bar: int, step: float) -> float:
        i = bar * 16 + int(step)
        return float(self.times[i] + (step - int(step)) * self.step)


def _drums(groove: dict, grid: _Grid, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    kit = drum_kit(rng)
    out = np.zeros(n, np.float32)
    accents = []
    level = {"kick": 1.0, "snare": 0.8, "clap": 0.7, "hat": 0.3, "ride": 0.3, "rim": 0.5, "shaker": 0.25,
             "brush": 0.4}
    swap = {"snare": "clap"} if rng.random() < 0.25 else {}
    for voice, pattern in groove.items():
        if not isinstance(pattern, str):
            continue
        times, vels = _pattern_hits(pattern, grid, rng)
        if voice == "hat" and groove.get("rolls"):
            times, vels = _add_rolls(times, vels, grid, rng)
        if voice == "kick":
            accents.extend(times)
        place(out, kit[swap.get(voice, voice)], times, vels * level[voice] * rng.uniform(0.7, 1.0))
    if groove.get("comp_snare"):
        hits = [grid.at(b, s) for b in range(grid.n_bars) for s in range(0, 16, 2) if rng.random() < 0.2]
        place(out, kit["snare"], np.array(hits), np.full(len(hits), 0.3))
    if len(groove) > 1:
        crashes = [grid.at(b, 0) for b in range(0, grid.n_bars, 4) if rng.random() < 0.7]
        place(out, kit["crash"], np.array(crashes), np.full(len(crashes), 0.35))
        accents.extend(crashes)
    return out, np.sort(np.array(accents, dtype=np.float64))


def _pattern_hits(pattern: str, grid: _Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    times, vels = [], []
    for bar in range(grid.n_bars):
        for s in range(16):
            ch = pattern[(bar * 16 + s) % len(pattern)]
            if ch != "." and rng.random() > 0.04:  # a few dropped hits keep loops from being exact copies
                times.append(grid.at(bar, s))
                vels.append(VELOCITY[ch] * rng.uniform(0.8, 1.0))
    return np.array(times), np.array(vels)


def _add_rolls(times, vels, grid: _Grid, rng: np.random.Generator):
    """Drill/trap hi-hat rolls: some beats become 3, 6 or 8 rapid hits with rising velocity."""
    extra_t, extra_v = [], []
    for beat in range(grid.n_bars * 4):
        if rng.random() < 0.22:
            k = int(rng.choice([3, 6, 8]))
            start = grid.at(beat // 4, (beat % 4) * 4)
            extra_t.extend(start + np.arange(k) * 4 * grid.step / k)
            extra_v.extend(np.linspace(0.4, 1.0, k))
    return np.concatenate([times, extra_t]), np.concatenate([vels, extra_v])


def _bass(style, chords, grid: _Grid, key: int, n: int, rng) -> np.ndarray:
    line, timbre = str(rng.choice(style.bass_lines)), TIMBRES[str(rng.choice(style.bass_timbres))]
    base = 28 + (key + 4) % 12  # E1..D#2
    notes = []
    for bar in range(grid.n_bars):
        root, quality = chords[bar % len(chords)]
        nxt = chords[(bar + 1) % len(chords)][0]
        r = base + root
        for step, midi, dur_steps in _bass_bar(line, r, quality, nxt + base, rng):
            notes.append((grid.at(bar, step), dur_steps * grid.step, midi, rng.uniform(0.75, 1.0)))
    return _voice(notes, n, timbre)


def _bass_bar(line: str, r: int, q: tuple[int, ...], next_root: int, rng):
    """(step, midi, length in steps) of one bar of a bass line over chord root r and intervals q."""
    if line == "root8":
        return [(s, r + (12 if rng.random() < 0.1 else 0), 1.8) for s in range(0, 16, 2)]
    if line == "root_fifth":
        return [(0, r, 3.5), (8, r + 7 - (12 if r > 38 else 0), 3.5)] + ([(14, next_root - 1, 2)]
                                                                          if rng.random() < 0.4 else [])
    if line == "walking":  # root, two chord tones, then a chromatic step into the next root
        tones = [r, r + q[1 + int(rng.integers(0, 2))], r + q[-1] - 12 * int(rng.random() < 0.5)]
        approach = next_root + (1 if rng.random() < 0.5 else -1)
        return [(0, tones[0], 3.6), (4, tones[1], 3.6), (8, tones[2], 3.6), (12, approach, 3.6)]
    if line == "riff":
        return [(s, r + (1 if rng.random() < 0.08 else 0), 0.9) for s in range(16) if rng.random() < 0.85]
    if line == "sustained":
        return [(0, r, 15.5)]
    if line == "sub":
        hits = [0] + [s for s in (3, 6, 10, 11, 14) if rng.random() < 0.4]
        return [(s, r + int(rng.choice([0, 0, 0, 7, 12, -2])), 6.0) for s in hits]
    hits = [s for s in range(16) if s % 4 == 0 or rng.random() < 0.3]  # groove / follow_kick
    picks = [0, 0, 12, 7, q[-1]] if line == "groove" else [0]
    return [(s, r + int(rng.choice(picks)), 1.5) for s in hits]


def _voiced(key: int, root: int, quality: tuple[int, ...]) -> list[int]:
    return [48 + (key + root) % 12 + i for i in quality]  # root position between C3 and B3


def _chords(style, chords, grid: _Grid, key: int, n: int, rng) -> np.ndarray:
    comping, name = str(rng.choice(style.comping)), str(rng.choice(style.chord_timbres))
    timbre = TIMBRES[name]
    hits = _comp_pattern(comping, rng)
    voices: list[list] = [[] for _ in range(4)]
    for bar in range(grid.n_bars):
        root, quality = chords[bar % len(chords)]
        notes = _voiced(key, root, quality)
        if comping in ("power8", "riff16"):
            notes = [notes[0] - 12, notes[0] - 5, notes[0]]
        for k, (step, dur, vel) in enumerate(hits):
            if comping == "arp":
                voices[0].append((grid.at(bar, step), dur * grid.step, notes[k % len(notes)] + 12, vel))
                continue
            for j, m in enumerate(notes):
                lag = 0.012 * j if comping == "strum" else 0.0
                voices[j].append((grid.at(bar, step) + lag, dur * grid.step, m, vel))
    out = sum(_voice(v, n, timbre, detune_cents=3.0 * j) for j, v in enumerate(voices))
    if name == "dist_guitar":
        drive = rng.uniform(*style.drive)
        out = lowpass(np.tanh(drive * out / max(np.abs(out).max(), 1e-6)), rng.uniform(2500, 5000))
    return out / max(np.abs(out).max(), 1e-6)


def _comp_pattern(comping: str, rng) -> list[tuple[float, float, float]]:
    """(step, length in steps, velocity) of the chord hits in a bar."""
    if comping == "sustain":
        return [(0, 15.5, 0.8)]
    if comping == "strum":
        return [(s, 2.0, 1.0 if s % 4 == 0 else 0.6) for s in (0, 4, 6, 10, 12, 14) if rng.random() < 0.9]
    if comping == "power8":
        return [(s, 1.6, 1.0 if s % 4 == 0 else 0.8) for s in range(0, 16, 2)]
    if comping == "riff16":
        return [(s, 0.8, 1.0) for s in range(16) if rng.random() < 0.75]
    if comping == "stabs":
        return [(s, 1.0, 0.9) for s in (2, 6, 10, 14, 7, 11) if rng.random() < 0.55]
    if comping == "comp":
        return [(s, float(rng.uniform(1, 4)), 0.7) for s in (0, 2, 6, 8, 10, 14) if rng.random() < 0.35]
    step = int(rng.choice([2, 4]))  # arp
    return [(s, step * 0.95, 0.8) for s in range(0, 16, step)]


def _lead(style, chords, grid: _Grid, key: int, n: int, rng) -> np.ndarray:
    name = str(rng.choice(style.lead_timbres))
    if not name:
        return np.zeros(n, np.float32)
    scale = _scale(chords, rng)
    pitches = np.array([60 + key % 12 + o * 12 + s for o in (-1, 0, 1) for s in scale])
    pos, notes = len(pitches) // 2, []
    for bar in range(grid.n_bars):
        if bar % 4 == 3 and rng.random() < 0.7:  # phrases breathe
            continue
        for s in range(0, 16, 2):
            if rng.random() < 0.5:
                pos = int(np.clip(pos + rng.integers(-2, 3), 0, len(pitches) - 1))
                notes.append((grid.at(bar, s), float(rng.choice([1.8, 3.8, 5.8])) * grid.step, pitches[pos],
                              rng.uniform(0.6, 1.0)))
    out = _voice(notes, n, TIMBRES[name])
    return out / max(np.abs(out).max(), 1e-6)


def _scale(chords, rng) -> tuple[int, ...]:
    minor = chords[0][1][1] == 3  # the loop's first chord sets the mode
    return SCALES["blues" if minor and rng.random() < 0.4 else "minor" if minor else "major"]


def _voice(notes: list, n: int, timbre, detune_cents: float = 0.0) -> np.ndarray:
    if not notes:
        return np.zeros(n, np.float32)
    notes.sort(key=lambda x: x[0])
    onsets, durs, midi, vels = np.array(notes, dtype=np.float64).T
    keep = onsets < n / SR
    return render_voice(np.maximum(onsets[keep], 0), durs[keep], midi[keep], vels[keep], n, timbre,
                        detune_cents)
