"""Views: each block's features over the quarters of a clip, cached beside the whole-clip vector."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from clipret.features.audio import AUDIO_COLUMNS, extract_audio_features, extract_audio_views
from clipret.features.views import N_VIEWS, mean_by_view, view_labels
from clipret.media.decode import SAMPLE_RATE, DecodedClip, DecodeOptions

SR = SAMPLE_RATE


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clip(audio=None, frames=None, seconds: float = 12.0) -> DecodedClip:
    times = None if frames is None else (np.arange(len(frames)) + 0.5) * seconds / len(frames)
    return DecodedClip(path="x", duration_s=seconds, audio=audio, sample_rate=SR, fps=24.0, frames=frames,
                       frame_times=times, thumbs=None, thumb_times=None, options=DecodeOptions())


def test_view_labels_split_the_timeline_in_quarters():
    assert view_labels(np.arange(8), 8).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert view_labels([0.0, 1.0, 5.0, 9.0], 10.0) is None  # no unit starts in the second quarter
    assert view_labels(np.arange(3), 3) is None  # fewer units than views
    means = mean_by_view(np.arange(8, dtype=float)[:, None], view_labels(np.arange(8), 8))
    assert means[:, 0].tolist() == [0.5, 2.5, 4.5, 6.5]


def test_audio_views_follow_what_plays_in_each_quarter():
    y = np.concatenate([tone(440.0, 6.0), tone(1760.0, 6.0)])  # 440 Hz for 6 s, then 1760 Hz
    whole, views = extract_audio_views(y, SR)
    assert np.array_equal(whole, extract_audio_features(y, SR))  # the whole-clip vector is unchanged
    assert views.shape == (N_VIEWS, len(AUDIO_COLUMNS))
    centroid = views[:, AUDIO_COLUMNS.index("spectral_centroid_median")]
    assert centroid[:2] == pytest.approx([440.0, 440.0], rel=0.05)
    assert centroid[2:] == pytest.approx([1760.0, 1760.0], rel=0.05)


def test_a_clip_under_ten_seconds_has_no_views():
    assert extract_audio_views(tone(440.0, 9.0), SR)[1] is None


def test_aisfx_views_are_the_means_of_their_quarters_blocks():
    from clipret.features.registry import get_extractor

    rng = np.random.default_rng(0)
    y = np.concatenate([tone(440.0, 6.0), 0.3 * rng.standard_normal(6 * SR).astype(np.float32)])
    extractor = get_extractor("aisfx")
    [(whole, views)] = extractor.extract_batch_views([clip(audio=y)])
    assert np.array_equal(whole, extractor.extract(clip(audio=y)))
    assert views.shape == (N_VIEWS, 512)
    cos = views @ views.T / np.outer(np.linalg.norm(views, axis=1), np.linalg.norm(views, axis=1))
    assert cos[0, 1] > cos[0, 3] + 0.1 and cos[2, 3] > cos[0, 3] + 0.1  # tone with tone, noise with noise


def test_video_views_hold_the_logits_of_the_frames_they_show():
    from sklearn.datasets import load_sample_images

    from clipret.features.registry import get_extractor

    china, flower = (np.asarray(img[:256, :256]) for img in load_sample_images().images)
    frames = np.stack([china] * 8 + [flower] * 8)  # 16 frames: the first 6 s one photo, then the other
    extractor = get_extractor("efficientnet_lite0")
    [(whole, views)] = extractor.extract_batch_views([clip(frames=frames)])
    [alone] = extractor.extract_batch([clip(frames=frames)])
    assert np.array_equal(whole, alone)
    assert np.allclose(views[0], views[1], atol=1e-4) and np.allclose(views[2], views[3], atol=1e-4)
    assert np.allclose(views[:2].mean(0) / 2 + views[2:].mean(0) / 2, whole, atol=1e-4)
    assert not np.allclose(views[0], views[3], atol=0.1)


def test_views_reach_the_cache_and_are_fused_like_the_features(tmp_path):
    from clipret.embedding.fusion import FeatureFusion
    from clipret.features.profiles import get_profile
    from clipret.indexing.cache import load_features, load_views, save_features

    profile = get_profile("portable")
    audio = next(b for b in profile.blocks if b.name == "audio")
    lyrics = next(b for b in profile.blocks if b.name == "lyrics")
    rng = np.random.default_rng(1)
    features = [{"audio": rng.normal(size=audio.dim), "lyrics": rng.normal(size=lyrics.dim)} for _ in range(5)]
    views = [{"audio": rng.normal(size=(N_VIEWS, audio.dim)).astype(np.float32)} for _ in range(4)] + [{}]
    path = tmp_path / "clip.npz"
    save_features(path, features[0], "key", 12.0, views=views[0])
    assert np.array_equal(load_views(path, ("audio", "lyrics"))["audio"], views[0]["audio"])
    assert set(load_features(path, ("audio", "lyrics"))[0]) == {"audio", "lyrics"}  # views are not blocks

    fusion = FeatureFusion([audio, lyrics], weighting="modality").fit(features)
    fused, has = fusion.transform_views(features, views, N_VIEWS)
    assert fused.shape == (5, N_VIEWS, fusion.dim) and has.tolist() == [True] * 4 + [False]
    for v in range(N_VIEWS):  # view v: the audio block's v-th view, the lyrics as they are
        expected = fusion.transform([replace_audio(features[0], views[0]["audio"][v])])[0]
        assert np.allclose(fused[0, v], expected)
    assert np.allclose(fused[4], fusion.transform(features[4:])[0])  # no views: the clip itself


def replace_audio(features: dict, vector: np.ndarray) -> dict:
    return {**features, "audio": vector}


def test_indexing_caches_the_views_of_every_block_that_has_them(tmp_path):
    from clipret.config import Settings
    from clipret.features.profiles import get_profile
    from clipret.indexing.cache import cache_path, load_views
    from clipret.indexing.extract import extract_corpus
    from clipret.sources.demo import generate_demo_corpus

    settings = replace(Settings(), data_dir=tmp_path / "data")
    records = generate_demo_corpus(tmp_path / "corpus", per_genre=1, seconds=12.0, genres=("pop-rock",), progress=False)
    report = extract_corpus(records, tmp_path / "corpus", settings, progress=False)
    assert report.ready == [records[0].clip_id]
    profile = get_profile("portable")
    views = load_views(cache_path(settings.features_dir, "portable", records[0].clip_id),
                       tuple(b.name for b in profile.blocks))
    dims = {b.name: b.dim for b in profile.blocks}
    assert {name: v.shape for name, v in views.items()} == {
        name: (N_VIEWS, dims[name]) for name in ("audio", "aisfx", "video")}
