"""Profiles: block layouts as the paper and the portable default, and extraction into those blocks."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from clipret.errors import ClipretError
from clipret.features.profiles import BlockSpec, Profile, extract_clip, extract_clips, get_profile, profile_names
from clipret.media.decode import decode


def test_profile_names_and_unknown_profile():
    assert profile_names() == ["portable", "paper"]
    with pytest.raises(ClipretError, match="portable"):
        get_profile("fancy")


def test_paper_profile_is_the_papers_1425():
    paper = get_profile("paper")
    assert [(b.name, b.modality, b.dim) for b in paper.blocks] == [
        ("audio", "audio", 257), ("video", "video", 400), ("lyrics", "lyrics", 768)]
    assert paper.dim == 1425
    assert (paper.decode_options.frames_per_segment, paper.decode_options.segment_stride) == (8, 8)


def test_portable_profile_layout():
    portable = get_profile("portable")
    assert isinstance(portable, Profile) and all(isinstance(b, BlockSpec) for b in portable.blocks)
    assert [(b.name, b.modality) for b in portable.blocks] == [
        ("audio", "audio"), ("aisfx", "audio"), ("video", "video"), ("dynamics", "video"), ("lyrics", "lyrics")]
    assert [b.dim for b in portable.blocks] == [257, 512, 1000, 12, 384]
    assert portable.dim == 2165
    assert (portable.version, get_profile("paper").version) == (3, 1)
    for block in portable.blocks:
        assert len(block.columns) == block.dim == len(set(block.columns))
    assert "mfcc_3_delta_median" in portable.blocks[0].columns
    assert portable.decode_options.n_segments == 16 and portable.decode_options.thumb_fps == 8.0


def test_importing_profiles_and_features_is_light():
    code = ("import sys, clipret.features.profiles, clipret.features\n"
            "clipret.features.profiles.get_profile('paper')\n"
            "print(','.join(m for m in ('torch', 'transformers', 'librosa', 'timm', 'aisfx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.slow
def test_extract_clip_fills_every_block(tone_clip):
    profile = get_profile("portable")
    decoded = decode(tone_clip, profile.decode_options, n_segments=4)  # fewer frames: a faster test
    features = extract_clip(decoded, "I love you", "portable")
    assert list(features) == [b.name for b in profile.blocks]
    for block in profile.blocks:
        assert features[block.name].shape == (block.dim,) and features[block.name].dtype == np.float32
    assert extract_clip(decoded, "   ", profile)["lyrics"] is None


@pytest.mark.slow
def test_extract_clips_batched_equals_one_by_one(tone_clip, audio_only_clip, video_only_clip):
    profile = get_profile("portable")
    options = replace(profile.decode_options, n_segments=4)  # fewer frames: a faster test
    items = [(decode(tone_clip, options), "I love you"), (decode(audio_only_clip, options), ""),
             (decode(video_only_clip, options), "la la la")]
    batched = extract_clips(items, profile)
    assert batched[1]["video"] is None and batched[1]["dynamics"] is None and batched[1]["lyrics"] is None
    assert batched[2]["audio"] is None and batched[2]["aisfx"] is None
    for (decoded, lyrics), features in zip(items, batched, strict=True):
        single = extract_clip(decoded, lyrics, profile)
        for name, vector in features.items():
            assert (vector is None) == (single[name] is None)
            if vector is not None:
                np.testing.assert_allclose(vector, single[name], atol=1e-4)


def test_registry_builds_each_extractor_once_and_rejects_unknown_names():
    from clipret.features.registry import EXTRACTORS, get_extractor

    assert set(EXTRACTORS) == {"librosa_257", "aisfx", "efficientnet_lite0", "slow_r50", "dynamics", "minilm",
                               "bert_cls"}
    assert get_extractor("dynamics") is get_extractor("dynamics")
    with pytest.raises(ClipretError, match="efficientnet_lite0"):
        get_extractor("resnet9000")
