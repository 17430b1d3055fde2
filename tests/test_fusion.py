"""FeatureFusion: hand-computed standardisation, missing blocks as the mean, save/load round trip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from clipret.embedding.fusion import FeatureFusion
from clipret.errors import ClipretError


@dataclass(frozen=True)
class Block:  # duck-typed stand-in for profiles.BlockSpec
    name: str
    modality: str
    dim: int


BLOCKS = (Block("audio", "audio", 2), Block("video", "video", 1), Block("dynamics", "video", 1),
          Block("lyrics", "lyrics", 2))


def three_clips():
    return [
        {"audio": np.array([1.0, 10.0]), "video": np.array([2.0]), "dynamics": np.array([5.0]),
         "lyrics": np.array([1.0, 1.0])},
        {"audio": np.array([2.0, 20.0]), "video": np.array([4.0]), "dynamics": np.array([5.0]),
         "lyrics": None},
        {"audio": np.array([3.0, 30.0]), "video": np.array([6.0]), "dynamics": np.array([5.0]),
         "lyrics": np.array([3.0, -1.0])},
    ]


def test_standardises_each_block_on_rows_where_present():
    fusion = FeatureFusion(BLOCKS, weighting="none").fit(three_clips())  # weights: the tests below
    s = np.sqrt(2 / 3)  # population std of (1, 2, 3)
    # audio mean (2, 20) std (s, 10 s); video mean 4 std 2 s; dynamics constant → scale 1;
    # lyrics only rows 0 and 2: mean (2, 0), std (1, 1)
    np.testing.assert_allclose(fusion.mean_, [2, 20, 4, 5, 2, 0])
    np.testing.assert_allclose(fusion.scale_, [s, 10 * s, 2 * s, 1, 1, 1])
    X = fusion.transform(three_clips())
    assert X.dtype == np.float32 and X.shape == (3, 6)
    expected = np.array([[-1 / s, -1 / s, -1 / s, 0, -1, 1],
                         [0, 0, 0, 0, 0, 0],
                         [1 / s, 1 / s, 1 / s, 0, 1, -1]])
    np.testing.assert_allclose(X, expected, rtol=1e-6, atol=1e-6)
    assert fusion.n_present_ == {"audio": 3, "video": 3, "dynamics": 3, "lyrics": 2}


def test_missing_block_is_zero_and_presence_false():
    fusion = FeatureFusion(BLOCKS).fit(three_clips())
    clip = {"audio": np.array([2.0, 20.0]), "video": None}  # dynamics, lyrics keys absent
    X = fusion.transform([clip])
    np.testing.assert_array_equal(X, np.zeros((1, 6), np.float32))
    np.testing.assert_array_equal(fusion.presence(three_clips() + [clip]),
                                  [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]])


def test_block_slices_and_modality_vectors():
    fusion = FeatureFusion(BLOCKS).fit(three_clips())  # fitted attributes, as scikit-learn's, come from fit
    assert fusion.block_slices_ == {"audio": slice(0, 2), "video": slice(2, 3), "dynamics": slice(3, 4),
                                    "lyrics": slice(4, 6)}
    X = np.arange(12, dtype=np.float32).reshape(2, 6)
    parts = fusion.modality_vectors(X)
    assert list(parts) == ["audio", "video", "lyrics"]
    np.testing.assert_array_equal(parts["video"], X[:, 2:4])  # video + dynamics
    np.testing.assert_array_equal(parts["lyrics"], X[:, 4:6])


def test_save_load_round_trip(tmp_path):
    fusion = FeatureFusion(BLOCKS).fit(three_clips())
    fusion.save(tmp_path / "fusion")
    loaded = FeatureFusion.load(tmp_path / "fusion")
    described = lambda blocks: [(b.name, b.modality, b.dim) for b in blocks]
    assert described(loaded.blocks) == described(BLOCKS)
    np.testing.assert_array_equal(loaded.transform(three_clips()), fusion.transform(three_clips()))
    assert loaded.n_present_ == fusion.n_present_


def test_wrong_shape_and_unfitted_errors_are_clear():
    fusion = FeatureFusion(BLOCKS)
    with pytest.raises(ClipretError, match="not fitted"):
        fusion.transform(three_clips())
    bad = three_clips()
    bad[1]["audio"] = np.zeros(3)
    with pytest.raises(ClipretError, match=r"clip 1: block 'audio' has shape \(3,\), expected \(2,\)"):
        fusion.fit(bad)
    with pytest.raises(ClipretError, match="shape"):
        fusion.fit(three_clips()).modality_vectors(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="unique"):
        FeatureFusion([Block("a", "audio", 1), Block("a", "video", 1)]).fit(three_clips())


def test_balanced_weights_by_modality_and_by_block():
    from clipret.embedding.fusion import block_weights

    # audio is one block of 2 → 1/√2; video holds video (1) and dynamics (1): each 1/√(1·2); lyrics 1/√2
    assert block_weights(BLOCKS, "modality") == pytest.approx(
        {"audio": 2 ** -0.5, "video": 2 ** -0.5, "dynamics": 2 ** -0.5, "lyrics": 2 ** -0.5})
    assert block_weights(BLOCKS, "block") == pytest.approx(
        {"audio": 2 ** -0.5, "video": 1.0, "dynamics": 1.0, "lyrics": 2 ** -0.5})
    assert block_weights(BLOCKS, "none") == {"audio": 1.0, "video": 1.0, "dynamics": 1.0, "lyrics": 1.0}
    wide = (Block("audio", "audio", 4), Block("video", "video", 100))
    # standardised columns have unit variance: every modality's expected squared norm becomes 1
    assert block_weights(wide, "modality") == pytest.approx({"audio": 0.5, "video": 0.1})


def test_weighting_scales_standardised_blocks_and_survives_save_load(tmp_path):
    plain = FeatureFusion(BLOCKS, weighting="none").fit(three_clips()).transform(three_clips())
    fusion = FeatureFusion(BLOCKS).fit(three_clips())  # default: by modality
    X = fusion.transform(three_clips())
    np.testing.assert_allclose(X, plain * 2 ** -0.5, rtol=1e-6, atol=1e-7)
    fusion.save(tmp_path / "fusion")
    loaded = FeatureFusion.load(tmp_path / "fusion")
    assert loaded.weighting == "modality" and loaded.block_weights_ == fusion.block_weights_
    query = [{"audio": np.array([4.0, 0.0]), "video": np.array([3.0]), "lyrics": None}]
    np.testing.assert_array_equal(loaded.transform(query), fusion.transform(query))
    # the query's audio block: ((4 - 2) / s, (0 - 20) / (10 s)) · 1/√2, s = √(2/3)
    s = np.sqrt(2 / 3)
    np.testing.assert_allclose(loaded.transform(query)[0, :2], np.array([2 / s, -2 / s]) * 2 ** -0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="weighting"):
        FeatureFusion(BLOCKS, weighting="loud").fit(three_clips())


def test_a_fusion_saved_before_weighting_loads_unweighted(tmp_path):
    import json

    fusion = FeatureFusion(BLOCKS, weighting="none").fit(three_clips())
    fusion.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["weighting"], config["block_weights"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    loaded = FeatureFusion.load(tmp_path / "old")
    assert loaded.weighting == "none"
    np.testing.assert_array_equal(loaded.transform(three_clips()), fusion.transform(three_clips()))
