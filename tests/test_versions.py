"""Versions of one song: fingerprints line up across every kind of version and never across different
songs; groups, their representative, the fingerprint file, and the leave-one-out row without versions."""

from __future__ import annotations

import numpy as np
import pytest

from bench.version_set import TRANSFORMS, make_versions, write_audio
from clipret.features.fingerprint import ITEM_SECONDS, audio_fingerprint, fingerprint_unavailable
from clipret.indexing.versions import (
    MIN_AGREEMENT,
    REPRESENTATIVE,
    VERSION,
    agreement_at,
    best_version_match,
    load_fingerprints,
    save_fingerprints,
    version_groups,
)
from clipret.media.decode import SAMPLE_RATE, DecodeOptions, decode

needs_chromaprint = pytest.mark.skipif(bool(fingerprint_unavailable()), reason=fingerprint_unavailable() or "")


def test_agreement_is_the_share_of_equal_bits_at_an_offset():
    a = np.random.default_rng(0).integers(0, 2**32, 100, dtype=np.uint32)
    assert agreement_at(a, a, 0).agreement == 1.0
    assert agreement_at(a, ~a, 0).agreement == 0.0
    shifted = agreement_at(a, a[10:], 10)  # b starts at a's item 10
    assert (shifted.agreement, shifted.overlap) == (1.0, 90)
    one_bit = a.copy()
    one_bit[:50] ^= 1  # one bit of 32 differs in half the items
    assert agreement_at(a, one_bit, 0).agreement == pytest.approx(1 - 50 / (32 * 100))
    assert agreement_at(a, a, 200).overlap == 0


def test_groups_take_the_longest_clip_as_representative_and_singletons_stay_alone():
    rng = np.random.default_rng(0)
    song = rng.integers(0, 2**32, 400, dtype=np.uint32)
    other = rng.integers(0, 2**32, 400, dtype=np.uint32)
    prints = {"a-long": song, "a-cut": song[60:], "b": other, "silent": None}
    durations = {"a-long": 400 * ITEM_SECONDS, "a-cut": 340 * ITEM_SECONDS, "b": 50.0, "silent": 10.0}
    assert version_groups(prints, durations) == {"a-long": ("a-long", REPRESENTATIVE),
                                                 "a-cut": ("a-long", VERSION), "b": ("b", REPRESENTATIVE),
                                                 "silent": ("silent", REPRESENTATIVE)}


def test_fingerprint_file_round_trips_and_skips_clips_without_one(tmp_path):
    prints = {"x": np.array([1, 2, 3], np.uint32), "y": np.array([], np.uint32), "z": np.array([7], np.uint32),
              "w": None}
    save_fingerprints(tmp_path / "f.npz", prints)
    back = load_fingerprints(tmp_path / "f.npz")
    assert list(back) == ["x", "z"] and back["x"].tolist() == [1, 2, 3] and back["z"].tolist() == [7]
    assert load_fingerprints(tmp_path / "none.npz") == {}


# -- real Chromaprint on generated songs, written and decoded like any clip ----------------------------
@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """Three 45 s demo songs (two of one genre: hard negatives), written as files with every version of
    the first two; {name: fingerprint} of each decoded file, and the expected groups."""
    from clipret.sources.demo.genres import style_for
    from clipret.sources.demo.music import compose

    folder = tmp_path_factory.mktemp("versions")
    audio = {name: compose(style_for(genre), 45.0, np.random.default_rng(seed)).audio
             for name, genre, seed in (("punk-a", "punk", 1), ("punk-b", "punk", 2), ("soul-c", "soul", 3))}
    files = {name: write_audio(folder / f"{name}.m4a", a, SAMPLE_RATE) for name, a in audio.items()}
    for name, other in (("punk-a", "soul-c"), ("punk-b", "punk-a")):
        for kind, (version, suffix) in make_versions(audio[name], audio[other], SAMPLE_RATE).items():
            files[f"{name}~{kind}"] = write_audio(folder / f"{name}~{kind}{suffix}", version, SAMPLE_RATE)
    decoded = {name: decode(path, DecodeOptions(streams=("audio",))) for name, path in files.items()}
    prints = {name: audio_fingerprint(d.audio, d.sample_rate) for name, d in decoded.items()}
    durations = {name: d.duration_s for name, d in decoded.items()}
    return prints, durations


@needs_chromaprint
@pytest.mark.parametrize("kind", TRANSFORMS)
def test_every_kind_of_version_is_found_and_no_other_song(songs, kind):
    prints, _ = songs
    for song in ("punk-a", "punk-b"):
        known = {n: p for n, p in prints.items() if "~" not in n}
        assert best_version_match(prints[f"{song}~{kind}"], known) == song


@needs_chromaprint
def test_a_collection_of_versions_groups_exactly_by_song(songs):
    prints, durations = songs
    groups = version_groups(prints, durations)
    by_group: dict[str, set[str]] = {}
    for name, (group, _) in groups.items():
        by_group.setdefault(group, set()).add(name.split("~")[0])
    assert sorted(map(sorted, by_group.values())) == [["punk-a"], ["punk-b"], ["soul-c"]]  # no false merge
    assert len(by_group) == 3  # every version found: one group per song
    # the longer file holding punk-a is the longest clip of its group: it represents it
    assert groups["punk-a"] == ("punk-a~in_longer", VERSION)
    assert groups["punk-a~in_longer"] == ("punk-a~in_longer", REPRESENTATIVE)


@needs_chromaprint
def test_different_songs_of_one_genre_stay_far_below_the_threshold(songs):
    prints, _ = songs
    a, b = prints["punk-a"], prints["punk-b"]
    best = max(agreement_at(a, b, o).agreement for o in range(-len(b) + 80, len(a) - 80))
    assert best < MIN_AGREEMENT - 0.1


def test_leave_one_out_without_versions_drops_a_songs_other_versions():
    from clipret.indexing.evaluate import exclusion_keys
    from clipret.search.metrics import evaluate_spaces

    payloads = [{"clip_id": "a", "version_group": "a", "artist": "x"},
                {"clip_id": "a2", "version_group": "a", "artist": "y"},
                {"clip_id": "b", "version_group": "b", "artist": "y"},
                {"clip_id": "c", "artist": "z"}]  # built before versions: its own group
    assert exclusion_keys(payloads, same_artist=False, same_group=True) == ["a", "a", "b", "c"]
    assert exclusion_keys(payloads, same_artist=True, same_group=False) == ["x", "y", "y", "z"]
    linked = exclusion_keys(payloads, same_artist=True, same_group=True)
    assert linked[0] == linked[1] == linked[2] != linked[3]  # a~a2 by version, a2~b by artist
    # a and its copy a2 are each other's nearest neighbour and share a genre; b and c are elsewhere
    vectors = np.array([[1, 0], [1, 0.01], [0.1, 1], [0, 1]], np.float32)
    genres = ["rock", "rock", "soul", "rock"]
    plain = evaluate_spaces({"fused": vectors}, genres)["spaces"]["fused"]
    keys = exclusion_keys(payloads, same_artist=False, same_group=True)
    without = evaluate_spaces({"fused": vectors}, genres, artists=keys, exclude_same_artist=True)
    assert plain["map"] > without["spaces"]["fused"]["map"]  # the copy no longer counts as a hit
