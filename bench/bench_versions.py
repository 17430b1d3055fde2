"""Version groups on real recordings: recall, false merges and the threshold's margin; fingerprint cost.

    python -m bench versions [--music data/real-music] [--per-label 4]

Ground truth: `--per-label` recordings of each label of the real-music dev set (`make real-music-eval`
lays it out) get every version of bench/version_set.py (re-encoded to MP3, intro cut, earlier end,
shifted behind silence in Opus, inside a longer file, turned down), written to artifacts/bench/versions/.
All originals and versions are decoded and fingerprinted as the indexer does, then grouped. Recall: the
share of versions in their recording's group. False merges: groups holding two different recordings.
Margin: the lowest agreement of a version with its recording against the highest agreement (best offset
of all) of two different recordings of one label, the hard negatives. Cost: Chromaprint on 4 minutes of
audio against the 257 librosa features of the same audio, in the same run.
Writes artifacts/bench/versions.json.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from bench.common import ARTIFACTS, best_of, write_results

OUT = ARTIFACTS / "versions"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench versions")
    p.add_argument("--music", type=Path, default=Path("data/real-music"))
    p.add_argument("--per-label", type=int, default=4, help="recordings per label that get versions")
    return p.parse_known_args(argv)[0]


def write_ground_truth(music: Path, per_label: int) -> dict[str, str]:
    """{file: the recording it is a version of} for every original and version (written once)."""
    from bench.version_set import make_versions, write_audio
    from clipret.media.decode import SAMPLE_RATE, DecodeOptions, decode

    truth = {}
    labels = sorted(p for p in music.iterdir() if p.is_dir())
    for li, label in enumerate(labels):
        tracks = sorted(label.glob("*.ogg"))
        truth.update({str(t): str(t) for t in tracks})
        filler = sorted(labels[(li + 1) % len(labels)].glob("*.ogg"))[0]  # another label's song, around it
        other = decode(filler, DecodeOptions(streams=("audio",))).audio
        for track in tracks[:per_label]:
            audio = decode(track, DecodeOptions(streams=("audio",))).audio
            for kind, (version, suffix) in make_versions(audio, other, SAMPLE_RATE).items():
                path = OUT / label.name / f"{track.stem}~{kind}{suffix}"
                if not path.is_file():
                    write_audio(path, version, SAMPLE_RATE)
                truth[str(path)] = str(track)
    return truth


def fingerprints(files: list[str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    from clipret.features.fingerprint import audio_fingerprint
    from clipret.media.decode import DecodeOptions, decode

    prints, durations = {}, {}
    for f in files:
        decoded = decode(f, DecodeOptions(streams=("audio",)))
        prints[f], durations[f] = audio_fingerprint(decoded.audio, decoded.sample_rate), decoded.duration_s
    return prints, durations


def best_offset_agreement(a: np.ndarray, b: np.ndarray, min_items: int = 80) -> float:
    """The best bit agreement of a and b over every offset with at least min_items of overlap."""
    from clipret.indexing.versions import agreement_at

    return max((agreement_at(a, b, o).agreement for o in range(-(len(b) - min_items), len(a) - min_items + 1)),
               default=0.0)


def score(truth: dict[str, str], prints, durations) -> dict:
    from clipret.indexing.versions import FingerprintIndex, best_alignment, version_groups

    groups = version_groups(prints, durations)
    members: dict[str, set[str]] = {}
    for f, (group, _) in groups.items():
        members.setdefault(group, set()).add(truth[f])
    versions = [f for f in truth if truth[f] != f]
    found = sum(groups[f][0] == groups[truth[f]][0] for f in versions)
    merged = [sorted(Path(r).name for r in recs) for recs in members.values() if len(recs) > 1]
    index = FingerprintIndex({f: prints[truth[f]] for f in {truth[v] for v in versions}})
    lowest = min(best_alignment(prints[truth[v]], prints[v],
                                [-o for o in index.candidates(prints[v]).get(index.ids.index(truth[v]), [0])]
                                ).agreement for v in versions)
    originals = sorted({f for f in truth if truth[f] == f})
    by_label: dict[str, list[str]] = {}
    for f in originals:
        by_label.setdefault(Path(f).parent.name, []).append(f)
    negatives = [(best_offset_agreement(prints[a], prints[b]), Path(a).name, Path(b).name)
                 for files in by_label.values() for a, b in itertools.combinations(files, 2)]
    negatives.sort(reverse=True)
    return {"recordings": len(originals), "versions": len(versions), "recall": found / len(versions),
            "groups_with_several_recordings": merged, "lowest_version_agreement": lowest,
            "hard_negative_pairs": len(negatives), "highest_negatives": negatives[:5]}


def cost_at_four_minutes(music: Path) -> dict:
    from clipret.features.audio import extract_audio_features
    from clipret.features.fingerprint import audio_fingerprint
    from clipret.media.decode import SAMPLE_RATE, DecodeOptions, decode

    track = sorted(music.glob("*/*.ogg"))[0]
    audio = decode(track, DecodeOptions(streams=("audio",))).audio
    audio = np.tile(audio, int(np.ceil(240 * SAMPLE_RATE / len(audio))))[: 240 * SAMPLE_RATE]
    extract_audio_features(audio[: 10 * SAMPLE_RATE], SAMPLE_RATE)  # librosa's compiled code loaded
    fingerprint_s = best_of(lambda: audio_fingerprint(audio, SAMPLE_RATE), 3)
    features_s = best_of(lambda: extract_audio_features(audio, SAMPLE_RATE), 2)
    return {"fingerprint_s": fingerprint_s, "librosa_257_s": features_s, "ratio": fingerprint_s / features_s}


def main(argv: list[str] | None = None) -> None:
    from clipret.features.fingerprint import fingerprint_unavailable

    args = parse_args(argv or [])
    if fingerprint_unavailable() or not args.music.is_dir():
        print(fingerprint_unavailable() or f"No real-music set in {args.music}: run `make real-music-eval`.")
        return
    start = time.perf_counter()
    truth = write_ground_truth(args.music, args.per_label)
    prints, durations = fingerprints(sorted(truth))
    result = {"fingerprint_all_s": time.perf_counter() - start, **score(truth, prints, durations),
              "cost_4min": cost_at_four_minutes(args.music)}
    print(f"{result['versions']} versions of {args.per_label} recordings per label among {result['recordings']} "
          f"recordings: recall {result['recall']:.3f}; groups holding several recordings: "
          f"{result['groups_with_several_recordings']}")
    print(f"lowest version agreement {result['lowest_version_agreement']:.3f}; highest hard negatives "
          f"{result['highest_negatives'][:3]}")
    cost = result["cost_4min"]
    print(f"4 min of audio: Chromaprint {cost['fingerprint_s']:.3f} s, the 257 features {cost['librosa_257_s']:.2f} s "
          f"({cost['ratio']:.1%})")
    write_results("versions", result)
