"""Chromaprint audio fingerprints, from the audio the decoder already produced: how versions of one song
(a lyric video, a radio edit, a re-upload) are told apart from different songs (clipret.indexing.versions).

Chromaprint is the C library behind AcoustID (Debian `libchromaprint1`), called through pyacoustid's
ctypes binding. Where the library is missing, clips get no fingerprint and the index no version groups;
`fingerprint_unavailable()` says so in one sentence.
"""

from __future__ import annotations

import functools

import numpy as np

# Chromaprint's default algorithm: one 32-bit item per 4096/3 samples at its internal 11025 Hz
ITEM_SECONDS = 4096 / 3 / 11025  # 0.1238 s
MAX_SECONDS = 600.0  # fingerprint at most this much of a clip: a longer video is matched on its first 10 min
MISSING = ("Chromaprint is not installed, so clips get no audio fingerprint and versions of one song are not "
           "grouped: install it with `apt-get install libchromaprint1` (or your system's chromaprint package).")


@functools.cache
def fingerprint_unavailable() -> str:
    """"" when Chromaprint can be called here, else the sentence that says what to install."""
    try:
        import chromaprint  # noqa: F401 - pyacoustid's binding loads the C library on import
    except (ImportError, OSError):
        return MISSING
    return ""


def audio_fingerprint(audio: np.ndarray | None, sample_rate: int) -> np.ndarray | None:
    """(n_items,) uint32 raw Chromaprint fingerprint of mono float audio in [-1, 1]: empty for a clip
    without audio, None where Chromaprint is missing (the clip is fingerprinted once it is installed)."""
    if fingerprint_unavailable():
        return None
    if audio is None or audio.size == 0:
        return np.zeros(0, np.uint32)
    import chromaprint

    samples = np.asarray(audio[: int(MAX_SECONDS * sample_rate)], dtype=np.float64)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    printer = chromaprint.Fingerprinter()
    printer.start(sample_rate, 1)
    printer.feed(pcm.tobytes())
    raw, _ = chromaprint.decode_fingerprint(printer.finish())
    return np.asarray(raw, dtype=np.int64).astype(np.uint32)  # the binding gives signed ints
