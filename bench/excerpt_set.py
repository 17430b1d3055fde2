"""The excerpt set: the real-music dev set's recordings cut into 25 s excerpt-clips, several hundred clips
(more than the 256 latent dimensions), for evaluating the learned space where it must compress.

    python -m bench.excerpt_set data/real-music data/real-music-excerpts

SRC/<label>/<track>.ogg → OUT/<label>/<track>~x<NN>.m4a: up to MAX_PER_TRACK excerpts of EXCERPT_S seconds,
evenly spread over the track without overlap (a track shorter than 2 excerpts gives one). The excerpts of
one track share its name before "~x" (source_track): the evaluation leaves a clip's own track out of its
ranking, so that no clip is rewarded for finding another piece of its own recording.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

EXCERPT_S = 25.0
MAX_PER_TRACK = 8
WHOLE_TRACK_S = 3600.0  # decode whole tracks (the indexer analyses 300 s), so excerpts spread over all of one
MARK = "~x"  # between the track's name and the excerpt's number


def excerpt_starts(duration_s: float, length_s: float = EXCERPT_S, most: int = MAX_PER_TRACK) -> list[float]:
    """Start times of the excerpts of a track: as many whole excerpts as fit (at most `most`), the first at
    the start and the last ending at the end, none overlapping; [] for a track shorter than one."""
    n = min(most, int(duration_s // length_s))
    if n < 1:
        return []
    return [float(s) for s in np.linspace(0.0, duration_s - length_s, n)] if n > 1 else [0.0]


def source_track(clip_id: str) -> str:
    """The recording an excerpt-clip was cut from: its id up to MARK (an id without MARK is its own)."""
    return clip_id.split(MARK)[0]


def write_excerpt_set(src: Path, out: Path) -> int:
    """Cut every SRC/<label>/<track>.* into OUT/<label>/<track>~xNN.m4a (existing files are kept);
    returns the number of excerpt-clips in OUT."""
    from tqdm.auto import tqdm

    from bench.version_set import write_audio
    from clipret.media.decode import DecodeOptions, decode

    tracks = sorted(p for p in Path(src).glob("*/*") if p.is_file())
    for track in tqdm(tracks, desc="excerpts", unit="track"):
        target = Path(out) / track.parent.name
        if list(target.glob(f"{track.stem}{MARK}*.m4a")):
            continue
        decoded = decode(track, DecodeOptions(streams=("audio",), max_seconds=WHOLE_TRACK_S, timeout_s=600.0))
        sr = decoded.sample_rate
        for number, start in enumerate(excerpt_starts(len(decoded.audio) / sr), 1):
            a = int(round(start * sr))
            write_audio(target / f"{track.stem}{MARK}{number:02d}.m4a", decoded.audio[a:a + int(EXCERPT_S * sr)], sr)
    return len(list(Path(out).glob("*/*.m4a")))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.excerpt_set SRC_DIR OUT_DIR")
    print(f"{write_excerpt_set(Path(sys.argv[1]), Path(sys.argv[2]))} excerpt-clips in {sys.argv[2]}")
