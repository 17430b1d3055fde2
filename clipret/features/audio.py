"""The paper's 257 mid-term audio features (librosa): 64 frame sequences × 4 statistics + bpm.

Every spectral sequence is derived from one shared STFT (and one mel spectrogram, one HPSS);
`audio_sequences_naive` calls each librosa feature function on the raw signal instead, as the
usual recipe does. Both give the same numbers; the tests hold them equal and the benchmark
times them.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from clipret.features.base import BaseExtractor, Concept, descriptor_concepts
from clipret.media.decode import SAMPLE_RATE

N_FFT = 2048  # librosa's defaults, so every feature function agrees on the frames
HOP_LENGTH = 512
N_MFCC = 13
PITCH_CLASSES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
STATISTICS = ("mean", "median", "std", "p75")


def _sequence_names() -> tuple[str, ...]:
    names = ["zcr", "mel_power", "db_spectrum", "harmonic_energy", "percussive_energy",
             "spectral_centroid", "spectral_centroid_delta", "spectral_centroid_delta2",
             "spectral_flux", "spectral_rolloff",
             "spectral_bandwidth_p2", "spectral_bandwidth_p3", "spectral_bandwidth_p4"]
    names += [f"chroma_{p}" for p in PITCH_CLASSES]
    for suffix in ("", "_delta", "_delta2"):
        names += [f"mfcc_{i}{suffix}" for i in range(1, N_MFCC + 1)]
    return tuple(names)


SEQUENCE_NAMES = _sequence_names()  # the 64 frame-level sequences, in column order
AUDIO_COLUMNS = tuple(f"{s}_{stat}" for s in SEQUENCE_NAMES for stat in STATISTICS) + ("bpm",)
# What a listener would call a high and a low value of the columns that have a plain meaning (text search)
AUDIO_DESCRIPTORS = {
    "bpm": (("fast", "fast tempo", "upbeat", "a quick beat"), ("slow", "slow tempo", "a ballad", "unhurried")),
    "percussive_energy_mean": (("drums", "heavy drums", "percussion", "beats"),
                               ("no drums", "without percussion", "gentle")),
    "spectral_centroid_mean": (("a bright sound", "sharp, trebly"), ("a dark sound", "warm, mellow, muffled")),
    "zcr_mean": (("distorted", "noisy", "harsh", "distorted guitars"), ("clean tones", "pure, smooth tones")),
    "db_spectrum_mean": (("loud", "powerful", "intense", "heavy"), ("quiet", "soft", "hushed")),
    "spectral_flux_mean": (("energetic", "busy, driving rhythm", "lively"),
                           ("calm", "ambient", "still", "peaceful")),
}


def audio_sequences(y: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[dict[str, np.ndarray], float]:
    """The 64 sequences (each (n_frames,)) and the tempo of mono `y`, from one STFT."""
    sequences, tempo, beats = audio_analysis(y, sr)
    return sequences, _bpm(tempo, beats, sr)


def audio_analysis(y: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[dict[str, np.ndarray], float, np.ndarray]:
    """audio_sequences' 64 sequences, with librosa's tempo estimate and the tracked beats' frames."""
    import librosa

    stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH)  # (1025, n_frames) complex
    magnitude = np.abs(stft)
    power = magnitude**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr)  # (128, n_frames) power
    mel_db = librosa.power_to_db(mel)
    harmonic_rms, percussive_rms = hpss_rms(magnitude, power)
    centroid, bandwidths = centroid_and_bandwidths(magnitude, sr)
    flux = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP_LENGTH)
    # beat_track's own onset envelope aggregates the mel bands by median, not mean as the flux does
    beat_onsets = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP_LENGTH, aggregate=np.median)
    tempo, beats = librosa.beat.beat_track(onset_envelope=beat_onsets, sr=sr, hop_length=HOP_LENGTH)
    rows = [
        zero_crossing_rate(y),
        mel.mean(axis=0),
        librosa.amplitude_to_db(magnitude).mean(axis=0),
        harmonic_rms,
        percussive_rms,
        *_with_deltas(centroid[None, :]),
        flux,
        spectral_rolloff(magnitude, sr),
        *bandwidths,
        *librosa.feature.chroma_stft(S=power, sr=sr, tuning=estimate_tuning(power, sr)),
        *_with_deltas(librosa.feature.mfcc(S=mel_db, sr=sr, n_mfcc=N_MFCC)),
    ]
    return dict(zip(SEQUENCE_NAMES, rows, strict=True)), tempo, np.asarray(beats)


def estimate_tuning(power: np.ndarray, sr: int, every: int = 4) -> float:
    """chroma_stft's tuning estimate (in fractions of a bin), from every `every`-th frame of (1025, n_frames) power.

    librosa pitch-tracks every frame for it, a sixth of the audio features' time at real length;
    the histogram of a quarter of the frames gives the same 0.01-bin estimate on music that holds
    its tuning (the tests hold the chroma to librosa's own). Clips under 8 frames use them all.
    """
    import librosa

    frames = power if power.shape[1] < 8 * every else power[:, ::every]
    return float(librosa.estimate_tuning(S=frames, sr=sr, n_fft=N_FFT))


def zero_crossing_rate(y: np.ndarray, threshold: float = 1e-10) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH)[0], exactly, from one
    running count of the signal's crossings instead of counting each of the 4× overlapping frames anew.

    As librosa: the signal is padded by half a frame of its edge values, samples within `threshold` of
    zero count as positive, and a frame's rate is the crossings between its consecutive samples / N_FFT.
    """
    padded = np.pad(y, N_FFT // 2, mode="edge")
    negative = np.signbit(padded) & (np.abs(padded) > padded.dtype.type(threshold))
    crossings = np.concatenate([[0], np.cumsum(negative[1:] != negative[:-1])])  # [i]: crossings up to sample i
    starts = np.arange(1 + (len(padded) - N_FFT) // HOP_LENGTH) * HOP_LENGTH
    return (crossings[starts + N_FFT - 1] - crossings[starts]) / N_FFT


def spectral_rolloff(magnitude: np.ndarray, sr: int, roll_percent: float = 0.85) -> np.ndarray:
    """librosa.feature.spectral_rolloff(S=magnitude, sr=sr)[0], exactly: the first bin whose cumulative
    magnitude reaches roll_percent of the frame's total, found by counting (librosa takes a NaN-masked
    minimum over a float64 copy of the spectrogram, 3× the time)."""
    import librosa

    freq = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    cumulative = np.cumsum(magnitude, axis=0)
    below = (cumulative < roll_percent * cumulative[-1]).sum(axis=0)  # bins under the threshold, per frame
    return freq[np.minimum(below, len(freq) - 1)]


def centroid_and_bandwidths(magnitude: np.ndarray, sr: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """librosa.feature.spectral_centroid(S=magnitude)[0] and spectral_bandwidth(S=magnitude, p=p)[0] for
    p = 2, 3, 4, from the spectrum's moments instead of one pass over the spectrogram per feature.

    Each frame's spectrum, normalised to sum to 1 (as librosa does; silent frames are left as they are),
    has moments m_k = Σ_f w_f·f^k: one matrix product gives m_0..m_4, the centroid is m_1, and
    Σ w·(f−c)^p expands into them for p = 2 and 4. |f−c|³ changes sign at the centroid, so p = 3 also
    needs the moments of the bins below it. Frequencies are in kHz, where float64 keeps the expansion's
    cancellation far below float32 rounding (the tests hold all four rows to librosa's within 1e-6).
    magnitude: (1025, n_frames) → centroid (n_frames,) in Hz and three (n_frames,) rows in Hz.
    """
    import librosa

    khz = librosa.fft_frequencies(sr=sr, n_fft=N_FFT) / 1000.0  # (1025,)
    total = magnitude.sum(axis=0, dtype=np.float64)  # (n_frames,)
    total[total < np.finfo(magnitude.dtype).tiny] = 1.0  # librosa.util.normalize leaves such frames as they are
    powers = khz[None, :] ** np.arange(5)[:, None]  # (5, 1025): f^0 .. f^4
    moments = powers @ magnitude.astype(np.float64) / total  # (5, n_frames) of the normalised spectra
    centroid = moments[1]  # librosa's spectral centroid, in kHz
    under = np.where(khz[:, None] < centroid, magnitude, np.float32(0))  # the bins below each frame's centroid
    below = powers[:4] @ under.astype(np.float64) / total  # (4, n_frames)

    def central(m: np.ndarray, order: int) -> np.ndarray:  # Σ w·(f−c)^order from the raw moments m
        return sum(math.comb(order, j) * (-centroid) ** (order - j) * m[j] for j in range(order + 1))

    absolute = {2: central(moments, 2), 3: central(moments, 3) - 2.0 * central(below, 3),
                4: central(moments, 4)}
    rows = [1000.0 * np.maximum(absolute[p], 0.0) ** (1.0 / p) for p in (2, 3, 4)]
    return 1000.0 * centroid, rows


def audio_sequences_naive(y: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[dict[str, np.ndarray], float]:
    """The same as `audio_sequences`, each feature computed by librosa from `y` on its own."""
    import librosa

    def hpss_part(index: int) -> np.ndarray:
        part = librosa.decompose.hpss(librosa.stft(y))[index]
        return librosa.feature.rms(S=np.abs(part))[0]

    tempo, beats = librosa.beat.beat_track(y=y, sr=sr)
    rows = [
        librosa.feature.zero_crossing_rate(y)[0],
        librosa.feature.melspectrogram(y=y, sr=sr).mean(axis=0),
        librosa.amplitude_to_db(np.abs(librosa.stft(y))).mean(axis=0),
        hpss_part(0),
        hpss_part(1),
        *_with_deltas(librosa.feature.spectral_centroid(y=y, sr=sr)),
        librosa.onset.onset_strength(y=y, sr=sr),
        librosa.feature.spectral_rolloff(y=y, sr=sr)[0],
        *(librosa.feature.spectral_bandwidth(y=y, sr=sr, p=p)[0] for p in (2, 3, 4)),
        *librosa.feature.chroma_stft(y=y, sr=sr),
        *_with_deltas(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC)),
    ]
    return dict(zip(SEQUENCE_NAMES, rows, strict=True)), _bpm(tempo, beats, sr)


def hpss_rms(magnitude: np.ndarray, power: np.ndarray, kernel_size: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """The RMS energy per frame of librosa.decompose.hpss's harmonic and percussive parts (its defaults:
    soft masks, margin 1) of a (1025, n_frames) magnitude spectrogram, as librosa.feature.rms(S=part).

    Nothing else reads the parts, so they are never built: the masks' squares weigh the shared
    power spectrogram directly (the tests hold both rows to librosa's within 1e-5).
    """
    harm, perc = hpss_medians(magnitude, kernel_size)
    np.square(harm, out=harm)
    np.square(perc, out=perc)
    total = harm + perc  # the soft masks are h²/(h²+p²) and p²/(h²+p²) ...
    silent = total < np.finfo(total.dtype).tiny  # ... and 0.5 each where both medians are ~0 (split_zeros)
    total[silent] = 1.0
    weights = power.copy()  # librosa.feature.rms(S=...) halves the DC and Nyquist bins
    weights[0] *= 0.5
    weights[-1] *= 0.5
    rows = []
    for part in (harm, perc):
        mask = np.divide(part, total, out=part)
        mask[silent] = 0.5
        np.square(mask, out=mask)
        energy = np.einsum("ft,ft->t", weights, mask)  # Σ_f |S_f · mask_f|² per frame
        rows.append(np.sqrt(2.0 * energy / N_FFT**2))
    return rows[0], rows[1]


def hpss_medians(magnitude: np.ndarray, kernel_size: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """HPSS's two median filters of a magnitude spectrogram: over time per bin, over frequency per frame.

    librosa runs a 2-D median filter with a 1×31 and a 31×1 window, which scipy computes about 8× slower
    than its 1-D path. Here each direction is one 1-D filter call: the rows, each padded at both ends by
    its own mirror image (scipy's "reflect" mode), are laid end to end, so no window reaches into the next
    row. The same numbers as librosa's, without a Python call per row.
    """
    return (_median_along_rows(magnitude, kernel_size),  # over time, per frequency bin
            _median_along_rows(magnitude.T, kernel_size).T.copy())  # over frequency, per frame


def _median_along_rows(x: np.ndarray, kernel_size: int) -> np.ndarray:
    """(n, m) → (n, m): scipy.ndimage.median_filter(row, kernel_size, mode="reflect") of every row."""
    from scipy.ndimage import median_filter

    half = kernel_size // 2
    if x.shape[1] <= half:  # rows shorter than a mirror: scipy's own edge handling, row by row
        return np.stack([median_filter(row, size=kernel_size, mode="reflect") for row in x])
    padded = np.pad(x, ((0, 0), (half, half)), mode="symmetric")  # numpy's "symmetric" is scipy's "reflect"
    filtered = median_filter(padded.reshape(-1), size=kernel_size).reshape(padded.shape)
    return filtered[:, half:-half] if half else filtered


def _with_deltas(x: np.ndarray) -> list[np.ndarray]:
    """Rows of x (n, n_frames), then their 1st deltas, then their 2nd deltas."""
    import librosa

    n_frames = x.shape[-1]
    width = min(9, n_frames if n_frames % 2 else n_frames - 1)  # librosa needs width <= n_frames
    if width < 3:  # too short to differentiate: a flat sequence has zero deltas
        return [*x, *np.zeros_like(x), *np.zeros_like(x)]
    first, second = (librosa.feature.delta(x, width=width, order=order) for order in (1, 2))
    return [*x, *first, *second]


def _bpm(tempo, beats: np.ndarray, sr: int) -> float:
    """Beats per minute from the tracked beats' mean period (a line fit over their frames).

    librosa's tempo estimate is quantised to whole onset-frame lags (117.5 or 123.0, never 120,
    at 22050 Hz / hop 512); the beats it then tracks alternate between the two lags, and their
    average spacing recovers the real tempo.
    """
    if len(beats) < 4:
        return float(np.atleast_1d(tempo)[0])
    period = np.polyfit(np.arange(len(beats)), np.asarray(beats, dtype=np.float64), 1)[0]  # frames
    return float(60.0 * sr / (HOP_LENGTH * period)) if period > 0 else 0.0


def summarise(sequences: dict[str, np.ndarray], bpm: float) -> np.ndarray:
    """(257,) float32: mean, median, std, 75th percentile of each sequence, in AUDIO_COLUMNS order, + bpm."""
    matrix = np.stack([np.asarray(sequences[name], dtype=np.float64) for name in SEQUENCE_NAMES])
    stats = np.stack([matrix.mean(axis=1), np.median(matrix, axis=1), matrix.std(axis=1),
                      np.percentile(matrix, 75, axis=1)], axis=1)  # (64, 4)
    vector = np.append(stats.reshape(-1), bpm)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def extract_audio_features(y: np.ndarray, sr: int = SAMPLE_RATE, max_seconds: float = 300.0,
                           naive: bool = False) -> np.ndarray:
    """(257,) float32 named by AUDIO_COLUMNS, from the first `max_seconds` of mono float `y` at `sr`."""
    y = _analysed_part(y, sr, max_seconds)
    with _quiet():
        sequences, bpm = (audio_sequences_naive if naive else audio_sequences)(y, sr)
    return summarise(sequences, bpm)


def extract_audio_views(y: np.ndarray, sr: int = SAMPLE_RATE, max_seconds: float = 300.0
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    """extract_audio_features' (257,) vector and its views ((N_VIEWS, 257): the same statistics over each
    quarter of the analysed frames, the tempo from the beats tracked in it), None for a clip too short."""
    from clipret.features.views import N_VIEWS, long_enough, view_labels

    y = _analysed_part(y, sr, max_seconds)
    with _quiet():
        sequences, tempo, beats = audio_analysis(y, sr)
    whole = summarise(sequences, _bpm(tempo, beats, sr))
    n_frames = len(sequences[SEQUENCE_NAMES[0]])
    labels = view_labels(np.arange(n_frames), n_frames) if long_enough(len(y) / sr) else None
    if labels is None:
        return whole, None
    beat_view = labels[np.clip(beats, 0, n_frames - 1)]
    views = [summarise({name: seq[labels == v] for name, seq in sequences.items()},
                       _bpm(tempo, beats[beat_view == v], sr)) for v in range(N_VIEWS)]
    return whole, np.stack(views)


def _analysed_part(y: np.ndarray, sr: int, max_seconds: float) -> np.ndarray:
    """The first `max_seconds` of `y` as contiguous finite float32 mono."""
    from clipret.features.jit_cache import ensure_ready

    ensure_ready()  # librosa's numba cache: compiled once under a lock, never by two processes at once
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1)[: int(max_seconds * sr)])
    if y.size == 0:
        raise ValueError("extract_audio_features needs at least one sample.")
    return np.nan_to_num(y)


@contextlib.contextmanager
def _quiet():
    """Silence and very short clips are legal input, not a problem: librosa's warnings about them, off."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set")
        warnings.filterwarnings("ignore", message="n_fft=.* is too large for input signal")
        yield


class LibrosaAudio(BaseExtractor):
    """The paper's 257 audio features of a decoded clip; None when the clip has no audio."""

    name = "librosa_257"
    modality = "audio"
    dim = len(AUDIO_COLUMNS)
    columns = AUDIO_COLUMNS

    @classmethod
    def concepts(cls) -> tuple[Concept, ...]:
        return descriptor_concepts(AUDIO_COLUMNS, AUDIO_DESCRIPTORS)

    def __init__(self, device: str = "cpu", max_seconds: float = 300.0):
        self.max_seconds = max_seconds  # analyse at most this much of each clip (device unused: CPU)

    def extract(self, decoded) -> np.ndarray | None:
        if not decoded.has_audio:
            return None
        return self._finish(extract_audio_features(decoded.audio, decoded.sample_rate, self.max_seconds))

    def extract_views(self, decoded) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not decoded.has_audio:
            return None, None
        whole, views = extract_audio_views(decoded.audio, decoded.sample_rate, self.max_seconds)
        return self._finish(whole), self._finish_views(views)
