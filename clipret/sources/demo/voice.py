"""A wordless singing or rapping voice: formant-shaped harmonics per vowel, so lyric clips have vocals."""

from __future__ import annotations

import numpy as np

from clipret.sources.demo.synth import SR, Timbre, highpass, place, render_voice, wavetable

VOWELS = {"a": (800, 1150, 2900), "e": (400, 1700, 2600), "i": (300, 2200, 3000), "o": (450, 800, 2830),
          "u": (325, 700, 2530)}  # first three formants, Hz
SUNG = Timbre((1,), (1,), attack=0.04, decay=0.3, sustain=0.85, release=0.08, bright_decay=1.0, vibrato=0.3,
              glide=0.04)
RAPPED = Timbre((1,), (1,), attack=0.008, decay=0.09, sustain=0.55, release=0.03, bright_decay=1.0,
                pitch_drop=1.5)


def formant_harmonics(vowel: str, f0: float, n: int = 40) -> tuple[float, ...]:
    """Harmonic amplitudes of a voice at pitch f0 (Hz) singing `vowel`: peaks at its formants, tilted down."""
    k = np.arange(1, n + 1)
    hz = k * f0
    width = max(90.0, 0.6 * f0)  # wide enough that every formant catches a harmonic
    peaks = sum(g * np.exp(-0.5 * ((hz - f) / (width * (1 + j))) ** 2)
                for j, (f, g) in enumerate(zip(VOWELS[vowel], (1.0, 0.6, 0.3), strict=True)))
    amps = (peaks + 0.03) / np.sqrt(k) * (hz < SR / 2 - 500)
    return tuple(float(a) for a in amps)


def vocal_line(grid, scale_root: int, scale: tuple[int, ...], n: int, rap: bool,
               rng: np.random.Generator) -> np.ndarray:
    """(n,) float32, peak 1: sung phrases on 8ths, or rapped syllables on 16ths, resting every few bars."""
    if rap:
        base = 50 + scale_root % 7
        pitches, every, keep, lengths = np.array([base - 2, base, base, base + 3]), 1, 0.6, (0.8, 1.2, 1.6)
    else:
        register = int(rng.choice([0, 5, 9]))
        pitches = np.array([55 + register + (scale_root + o * 12 + s) % 24 for o in (0, 1) for s in scale])
        pitches.sort()
        every, keep, lengths = 2, 0.6, (1.8, 3.8, 5.8)
    notes, pos = [], len(pitches) // 2
    for bar in range(grid.n_bars):
        if bar % 4 == 3 or rng.random() < 0.15:  # breathe
            continue
        for s in range(0, 16, every):
            if rng.random() < keep:
                pos = int(np.clip(pos + rng.integers(-2, 3), 0, len(pitches) - 1))
                notes.append((grid.at(bar, s), float(rng.choice(lengths)) * grid.step, int(pitches[pos]),
                              float(rng.uniform(0.6, 1.0)), str(rng.choice(list(VOWELS)))))
    out = np.zeros(n, np.float32)
    notes = [x for x in notes if x[0] < n / SR]
    if not notes:
        return out
    onsets, durs, midi, vels = (np.array(c, np.float64) for c in list(zip(*notes, strict=True))[:4])
    f0 = 440 * 2 ** ((np.median(midi) - 69) / 12)
    tables = np.stack([wavetable(formant_harmonics(v, f0), f0 * 2) for v in VOWELS])  # (5, TABLE)
    which = np.array([list(VOWELS).index(x[4]) for x in notes])
    out += render_voice(onsets, durs, midi, vels, n, RAPPED if rap else SUNG, note_tables=(tables, which))
    hiss = highpass(rng.standard_normal(int(0.03 * SR)).astype(np.float32), 3500) * np.hanning(int(0.03 * SR))
    onsets = np.array([x[0] for x in notes if rng.random() < (0.5 if rap else 0.2)])
    place(out, (hiss / max(np.abs(hiss).max(), 1e-9)).astype(np.float32), onsets, np.full(len(onsets), 0.25))
    return out / max(np.abs(out).max(), 1e-6)
