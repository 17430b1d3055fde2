"""Vectorised sound sources: wavetable voices with envelopes, and one-shot drum sounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 22050  # Hz, what clipret decodes to
TABLE = 2048  # samples per wavetable cycle


@dataclass(frozen=True)
class Timbre:
    """A voice: a bright and a dull wavetable blended by an envelope, shaped by ADSR and effects."""

    bright: tuple[float, ...]  # harmonic amplitudes (1st, 2nd, ...) at the note's start
    dull: tuple[float, ...]  # ... and once the brightness envelope has decayed
    attack: float  # s
    decay: float  # s, towards `sustain`
    sustain: float  # level 0..1
    release: float  # s, after the note ends
    bright_decay: float = 0.3  # s; negative = grows brighter over -bright_decay s (brass swell)
    vibrato: float = 0.0  # depth in semitones, at ~5.5 Hz
    tremolo: float = 0.0  # amplitude modulation depth (organ rotary)
    pitch_drop: float = 0.0  # semitones the note falls from at its onset (808)
    glide: float = 0.0  # s of portamento between notes
    drive: float = 1.0  # tanh saturation gain on the voice
    level: float = 1.0


def _saw(n: int, rolloff: float = 1.0) -> tuple[float, ...]:
    return tuple(1.0 / k**rolloff for k in range(1, n + 1))


def _odd(n: int) -> tuple[float, ...]:
    return tuple((1.0 / k if k % 2 else 0.0) for k in range(1, n + 1))


TIMBRES: dict[str, Timbre] = {
    "clean_guitar": Timbre(_saw(10, 1.3), (1, 0.3, 0.1), 0.004, 0.5, 0.15, 0.12, bright_decay=0.15),
    "acoustic": Timbre(_saw(14, 1.1), (1, 0.45, 0.2, 0.1), 0.003, 0.35, 0.05, 0.15, bright_decay=0.1),
    "dist_guitar": Timbre(_saw(12, 0.9), _saw(6, 1.2), 0.006, 0.8, 0.7, 0.05, bright_decay=1.0),
    "organ": Timbre((1, 0.8, 0.5, 0.6, 0, 0.4, 0, 0.3), (1, 0.8, 0.5, 0.6, 0, 0.4, 0, 0.3), 0.008, 0.2, 1.0,
                    0.05, tremolo=0.25),
    "piano": Timbre((1, 0.5, 0.25, 0.15, 0.08, 0.05), (1, 0.2, 0.05), 0.003, 0.9, 0.0, 0.25,
                    bright_decay=0.3),
    "brass": Timbre(_saw(12, 0.8), _saw(4, 1.5), 0.04, 0.3, 0.75, 0.08, bright_decay=-0.07, vibrato=0.12),
    "pad": Timbre(_saw(8, 1.4), _saw(4, 2.0), 0.25, 0.8, 0.8, 0.4, bright_decay=1.5, vibrato=0.08),
    "synth": Timbre(_odd(11), _odd(5), 0.01, 0.2, 0.7, 0.1, bright_decay=0.4, vibrato=0.15, glide=0.03),
    "fiddle": Timbre(_saw(12, 1.0), _saw(8, 1.2), 0.06, 0.3, 0.8, 0.12, bright_decay=-0.1, vibrato=0.25),
    "electric": Timbre((1, 0.5, 0.3, 0.15), (1, 0.2), 0.004, 0.6, 0.3, 0.06, bright_decay=0.2),
    "upright": Timbre((1, 0.4, 0.15, 0.05), (1, 0.1), 0.006, 0.35, 0.0, 0.1, bright_decay=0.1),
    "synth_bass": Timbre(_saw(6, 1.2), (1, 0.3), 0.005, 0.3, 0.6, 0.05, bright_decay=0.15),
    "808": Timbre((1, 0.05), (1,), 0.002, 1.4, 0.25, 0.2, pitch_drop=5.0, glide=0.06, drive=1.8, level=1.3),
    "distorted": Timbre(_saw(8, 1.0), _saw(4, 1.3), 0.004, 0.6, 0.7, 0.05, bright_decay=0.5, drive=3.0),
}


def wavetable(harmonics: tuple[float, ...], max_hz: float) -> np.ndarray:
    """One cycle (TABLE,) float32 of the given harmonic series, cut below Nyquist for max_hz."""
    keep = max(1, min(len(harmonics), int(SR / 2 / max(max_hz, 1.0))))
    phase = np.arange(TABLE) / TABLE
    k = np.arange(1, keep + 1)[:, None]
    table = (np.asarray(harmonics[:keep])[:, None] * np.sin(2 * np.pi * k * phase)).sum(0)
    return (table / max(np.abs(table).max(), 1e-9)).astype(np.float32)


def render_voice(onsets: np.ndarray, durations: np.ndarray, midi: np.ndarray, velocity: np.ndarray,
                 n_samples: int, timbre: Timbre, detune_cents: float = 0.0,
                 note_tables: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A monophonic line, (n_samples,) float32: each sample plays the latest note begun.

    onsets (s, sorted), durations (s), midi (pitch) and velocity (0..1) are (n_notes,) arrays.
    note_tables = (tables (k, TABLE), table of each note (n_notes,)) overrides the timbre's
    harmonics note by note (a voice changing vowels)."""
    out = np.zeros(n_samples, np.float32)
    if len(onsets) == 0:
        return out
    start = np.round(np.asarray(onsets) * SR).astype(np.int64)
    first = int(start[0])
    idx = np.searchsorted(start, np.arange(first, n_samples), side="right") - 1  # note of each sample
    t = (np.arange(first, n_samples) - start[idx]).astype(np.float32) / SR  # since onset
    hz = 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69 + detune_cents / 100) / 12)
    freq = hz[idx].astype(np.float32)
    if timbre.glide > 0:
        freq = _smooth(freq, timbre.glide)
    if timbre.vibrato:
        freq *= 2 ** (timbre.vibrato / 12 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(t / 0.3, 1))
    if timbre.pitch_drop:
        freq *= 2 ** (timbre.pitch_drop / 12 * np.exp(-t / 0.025))
    phase = np.cumsum(freq / SR, dtype=np.float64)
    pos = ((phase - np.floor(phase)) * TABLE).astype(np.int64) % TABLE
    if note_tables is not None:
        tables, which = note_tables
        wave = tables[np.asarray(which)[idx], pos]
    else:
        max_hz = float(hz.max())
        bright, dull = wavetable(timbre.bright, max_hz)[pos], wavetable(timbre.dull, max_hz)[pos]
        if timbre.bright_decay >= 0:
            mix = np.exp(-t / max(timbre.bright_decay, 1e-3))
        else:
            mix = np.minimum(t / -timbre.bright_decay, 1.0)
        wave = dull + mix * (bright - dull)
    env = _adsr(t, np.asarray(durations, np.float32)[idx], timbre)
    env *= np.asarray(velocity, np.float32)[idx]
    if timbre.tremolo:
        env *= 1 - timbre.tremolo * (0.5 + 0.5 * np.sin(2 * np.pi * 6.3 * t))
    voice = wave * env
    if timbre.drive > 1:
        voice = np.tanh(timbre.drive * voice) / np.tanh(timbre.drive)
    out[first:] = voice * timbre.level
    return out


def _adsr(t: np.ndarray, dur: np.ndarray, tb: Timbre) -> np.ndarray:
    att = np.minimum(t / tb.attack, 1.0)
    body = tb.sustain + (1 - tb.sustain) * np.exp(-t / tb.decay)
    gate = np.exp(-np.maximum(t - dur, 0) / tb.release)
    return (att * body * gate).astype(np.float32)


def _smooth(x: np.ndarray, seconds: float) -> np.ndarray:
    # A one-pole low-pass in the log domain: portamento between consecutive notes.
    from scipy.signal import lfilter

    a = float(np.exp(-1.0 / (seconds * SR)))
    logx = np.log(x)
    y, _ = lfilter([1 - a], [1, -a], logx, zi=[a * logx[0]])
    return np.exp(y).astype(np.float32)


def lowpass(x: np.ndarray, cutoff_hz: float, order: int = 2) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(order, min(cutoff_hz, SR * 0.45), btype="low", fs=SR, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def highpass(x: np.ndarray, cutoff_hz: float, order: int = 2) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(order, cutoff_hz, btype="high", fs=SR, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def drum_kit(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One-shot samples (each (n,) float32, peak ~1) with per-clip variation in tuning and decay."""
    noise = rng.standard_normal(SR).astype(np.float32)

    def env(seconds: float, decay: float) -> np.ndarray:
        return np.exp(-np.arange(round(seconds * SR)) / (decay * SR)).astype(np.float32)

    def sweep(f0: float, f1: float, seconds: float, speed: float) -> np.ndarray:
        t = np.arange(round(seconds * SR)) / SR
        freq = f1 + (f0 - f1) * np.exp(-t / speed)
        return np.sin(2 * np.pi * np.cumsum(freq) / SR).astype(np.float32)

    kick_len, snare_tone = rng.uniform(0.12, 0.35), rng.uniform(160, 240)
    kit = {
        "kick": sweep(rng.uniform(110, 180), rng.uniform(40, 60), 0.4, 0.03) * env(0.4, kick_len / 3),
        "snare": (0.8 * highpass(noise[:6000], rng.uniform(800, 2500)) + 0.5 * sweep(snare_tone * 1.5,
                  snare_tone, 6000 / SR, 0.01)) * env(6000 / SR, rng.uniform(0.04, 0.1)),
        "hat": highpass(noise[6000:8500], rng.uniform(6000, 8500)) * env(2500 / SR, rng.uniform(0.01, 0.03)),
        "ohat": highpass(noise[8500:15000], 6500) * env(6500 / SR, rng.uniform(0.08, 0.2)),
        "shaker": highpass(noise[15000:17500], 4000) * env(2500 / SR, 0.03) * np.minimum(
            np.arange(2500) / 400, 1).astype(np.float32),
        "rim": sweep(1700, 1500, 0.03, 0.01) * env(0.03, 0.008),
        "clap": highpass(noise[:5000], 1200) * _clap_env(),
        "brush": highpass(noise[5000:12000], 2500) * np.hanning(7000).astype(np.float32) ** 2,
    }
    metal = sum(np.sign(np.sin(2 * np.pi * f * np.arange(SR) / SR)) for f in (342, 523, 797, 1004, 1207))
    ride_tone = highpass((metal / 5).astype(np.float32), 3000)
    ride_len = round(0.8 * SR)
    kit["ride"] = (0.6 * ride_tone[:ride_len] + 0.3 * highpass(noise[:ride_len], 5000)) * env(0.8, 0.3)
    kit["crash"] = (0.4 * ride_tone + 0.7 * highpass(noise, 3000)) * env(1.0, 0.45)
    return {name: (s / max(np.abs(s).max(), 1e-9)).astype(np.float32) for name, s in kit.items()}


def _clap_env() -> np.ndarray:
    t = np.arange(5000) / SR
    bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.006) * (t >= d) for d in (0.0, 0.01, 0.02))
    return (bursts * np.exp(-t / 0.08)).astype(np.float32)


def place(out: np.ndarray, sample: np.ndarray, times: np.ndarray, gains: np.ndarray) -> None:
    """Add `sample` into `out` at each time (s) with its gain; events past the end are cut."""
    n = len(out)
    for start, gain in zip(np.round(np.asarray(times) * SR).astype(np.int64), gains, strict=True):
        if 0 <= start < n:
            stop = min(n, start + len(sample))
            out[start:stop] += gain * sample[:stop - start]
