"""The procedural demo corpus: layout, determinism, levels, variety, and a style table that is not trivial."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from clipret.errors import CorpusError
from clipret.media.decode import SAMPLE_RATE, DecodeOptions, decode
from clipret.sources.corpus import GENRES, read_clips
from clipret.sources.demo import demo_records, generate_demo_corpus, synthesise
from clipret.sources.demo.genres import NEIGHBOURS, STYLES
from clipret.sources.demo.lyrics import POOLS, TEMPLATES
from clipret.sources.demo.music import compose, parse_chord

SECONDS = 3.0
PER_GENRE = 2
OPTIONS = DecodeOptions(n_segments=4, short_side=60, thumb_fps=8.0, thumb_short_side=32)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """The same tiny corpus made twice: in-process, and by two worker processes."""
    one, two = tmp_path_factory.mktemp("demo1"), tmp_path_factory.mktemp("demo2")
    records = generate_demo_corpus(one, per_genre=PER_GENRE, seconds=SECONDS, seed=3, progress=False)
    again = generate_demo_corpus(two, per_genre=PER_GENRE, seconds=SECONDS, seed=3, workers=2, progress=False)
    return one, two, records, again


@pytest.fixture(scope="module")
def decoded(corpora):
    one, _, records, _ = corpora
    return {r.clip_id: decode(r.media_path(one), OPTIONS) for r in records}


def test_layout_and_genres(corpora):
    one, _, records, _ = corpora
    assert read_clips(one) == records
    assert sorted({r.genre for r in records}) == sorted(GENRES)
    assert len(records) == PER_GENRE * len(GENRES)
    for r in records:
        assert r.path == f"media/{r.clip_id}.mp4" and r.media_path(one).is_file()
        assert r.duration_s == SECONDS and r.title and r.artist


def test_same_seed_same_corpus_whatever_the_workers(corpora):
    one, two, records, again = corpora
    assert records == again
    assert (one / "clips.jsonl").read_bytes() == (two / "clips.jsonl").read_bytes()
    for r in records[::5]:
        a, b = decode(r.media_path(one), OPTIONS), decode(r.media_path(two), OPTIONS)
        np.testing.assert_array_equal(a.audio, b.audio)
        np.testing.assert_array_equal(a.frames, b.frames)  # write_clip encodes deterministically
        assert r.media_path(one).read_bytes() == r.media_path(two).read_bytes()
        audio_a, frames_a = synthesise(r, SECONDS, seed=3)
        audio_b, frames_b = synthesise(r, SECONDS, seed=3)
        np.testing.assert_array_equal(audio_a, audio_b)
        np.testing.assert_array_equal(np.stack(list(frames_a)), np.stack(list(frames_b)))


def test_other_seed_other_corpus():
    assert [r.title for r in demo_records(3, seed=0)] != [r.title for r in demo_records(3, seed=1)]


def test_durations_as_asked(corpora, decoded):
    for clip in decoded.values():
        assert clip.duration_s == pytest.approx(SECONDS, abs=0.1)
        assert len(clip.audio) / SAMPLE_RATE == pytest.approx(SECONDS, abs=0.1)
        assert clip.fps == pytest.approx(24)
        assert len(clip.thumbs) == pytest.approx(SECONDS * 8, abs=2)


def test_audio_neither_silent_nor_clipped(decoded):
    for clip_id, clip in decoded.items():
        rms, peak = np.sqrt(np.mean(clip.audio ** 2)), np.abs(clip.audio).max()
        assert rms > 0.05, clip_id
        assert peak < 1.0, clip_id
        assert np.mean(np.abs(clip.audio) > 0.98) < 1e-4, clip_id


def test_frames_move(decoded):
    for clip_id, clip in decoded.items():
        assert clip.thumbs.astype(np.float32).std(axis=0).mean() > 2.0, clip_id
        assert clip.frames.mean() > 5, clip_id  # not a black screen


def test_two_clips_of_a_genre_differ(decoded):
    for genre in GENRES:
        a, b = decoded[f"{genre}-000"], decoded[f"{genre}-001"]
        n = min(len(a.audio), len(b.audio))
        assert np.abs(a.audio[:n] - b.audio[:n]).mean() > 0.01, genre
        assert np.abs(a.thumbs.astype(int)[:20] - b.thumbs.astype(int)[:20]).mean() > 3, genre


@pytest.mark.parametrize("share", [0.0, 0.3, 0.7, 1.0])
def test_lyrics_share(share):
    records = demo_records(per_genre=30, seconds=5.0, lyrics_share=share)
    assert np.mean([r.has_lyrics for r in records]) == pytest.approx(share, abs=0.02)
    assert all(r.lyrics == "" for r in records if not r.has_lyrics)


def test_titles_and_artists_vary():
    records = demo_records(per_genre=24)
    assert len({r.title for r in records}) > 0.8 * len(records)
    for genre in GENRES:
        artists = {r.artist for r in records if r.genre == genre}
        assert 3 <= len(artists) <= 6, genre  # recurring artists, as in a real collection
    assert len({r.artist for r in records}) > 40


def test_neighbouring_genres_share_tempo_sound_and_look():
    for a, b in NEIGHBOURS:
        sa, sb = STYLES[a], STYLES[b]
        overlap = min(sa.tempo[1], sb.tempo[1]) - max(sa.tempo[0], sb.tempo[0])
        assert overlap >= 20, (a, b)
        assert set(sa.chord_timbres) & set(sb.chord_timbres), (a, b)
        assert set(sa.bass_timbres) & set(sb.bass_timbres), (a, b)
        assert set(sa.themes) & set(sb.themes), (a, b)
        assert min(abs(ha - hb) for ha in sa.hues for hb in sb.hues) < 0.05, (a, b)


def test_no_genre_owns_a_cue():
    for name in POOLS:  # no lyric word belongs to one genre only
        assert sum(name in s.themes for s in STYLES.values()) >= 2, name
    for name in TEMPLATES:
        assert sum(name in s.line_styles for s in STYLES.values()) >= 2, name
    for field in ("grooves", "chord_timbres", "shapes", "bass_lines"):
        for genre, style in STYLES.items():
            rest = (getattr(s, field) for g, s in STYLES.items() if g != genre)
            assert set(getattr(style, field)) & set(itertools.chain.from_iterable(rest)), (genre, field)
    for genre, style in STYLES.items():  # no fixed tempo
        assert style.tempo[1] - style.tempo[0] >= 20, genre


def test_tempo_follows_the_style():
    for genre, style in STYLES.items():
        for seed in range(3):
            song = compose(style, 1.0, np.random.default_rng(seed))
            assert style.tempo[0] <= song.bpm <= style.tempo[1], genre
            assert song.audio.shape == (SAMPLE_RATE,) and song.audio.dtype == np.float32


def test_parse_chord():
    assert parse_chord("I") == (0, (0, 4, 7))
    assert parse_chord("bVII") == (10, (0, 4, 7))
    assert parse_chord("ii7") == (2, (0, 3, 7, 10))
    assert parse_chord("Imaj7") == (0, (0, 4, 7, 11))
    with pytest.raises(ValueError):
        parse_chord("H7")


def test_bad_arguments_are_reported(tmp_path):
    with pytest.raises(CorpusError, match="genre"):
        demo_records(genres=("polka",))
    with pytest.raises(CorpusError, match="per_genre"):
        generate_demo_corpus(tmp_path, per_genre=0)
