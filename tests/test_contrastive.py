"""The contrastive encoder: excerpts of one clip as positive pairs, trained and selected without labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clipret.embedding.autoencoder import Autoencoder
from clipret.embedding.contrastive import distinct_views, held_out_contrast, info_nce, view_pair
from clipret.errors import ClipretError
from clipret.indexing.train import CONTRASTIVE_SETTINGS, NEIGHBOUR_SETTINGS
from clipret.search.metrics import evaluate_spaces


def test_info_nce_is_low_for_matching_pairs_and_high_for_swapped_ones():
    a = torch.eye(4) * 3
    assert info_nce(a, a, 0.1).item() < 1e-3
    assert info_nce(a, a.flip(0), 0.1).item() > 10  # each row's partner is another clip
    assert info_nce(a, torch.ones(4, 4), 0.1).item() == pytest.approx(np.log(4), abs=1e-5)  # no information


def test_view_pair_draws_two_different_candidates_of_the_same_clip():
    views = torch.arange(3 * 4, dtype=torch.float32).reshape(3, 4, 1)  # clip i, view v → 4i + v
    whole = torch.tensor([[100.0], [101.0], [102.0]])
    first, second = view_pair(views, whole, torch.Generator().manual_seed(0))
    for i in range(3):
        own = {4 * i + v for v in range(4)} | {100 + i}
        assert first[i].item() in own and second[i].item() in own and first[i] != second[i]


def test_held_out_contrast_and_distinct_views():
    whole = np.eye(3)
    near = np.stack([whole + 0.1, whole + 0.2], axis=1)  # each clip's excerpts near it
    swapped = np.stack([whole + 0.1, whole[[1, 2, 0]]], axis=1)  # the last excerpts belong to other clips
    assert held_out_contrast(lambda X: X, whole, near, 0.1) > held_out_contrast(lambda X: X, whole, swapped, 0.1)
    assert held_out_contrast(lambda X: X, whole, near, 0.1) == pytest.approx(0.0, abs=1e-3)
    assert distinct_views(np.repeat(whole[:, None], 2, axis=1)).tolist() == [False] * 3
    assert distinct_views(near).tolist() == [True] * 3


def nuisance_corpus(seed: int = 0):
    """4 genres × 40 clips: 8 columns of genre signal that hold along a clip, 24 columns of loud nuisance
    that change from one excerpt to the next. Raw cosine drowns the signal; excerpts of one clip agree
    only on the signal, so a space that ties them together must keep it and drop the nuisance."""
    rng = np.random.default_rng(seed)
    genre = np.repeat(np.arange(4), 40)
    signal = rng.normal(size=(4, 8))[genre] + 0.5 * rng.normal(size=(len(genre), 8))
    views = np.stack([np.hstack([signal + 0.2 * rng.normal(size=signal.shape), 2.0 * rng.normal(size=(160, 24))])
                      for _ in range(4)], axis=1)
    X = views.mean(axis=1)
    mean, std = X.mean(0), X.std(0)
    return ((X - mean) / std).astype(np.float32), ((views - mean) / std).astype(np.float32), [str(g) for g in genre]


def test_contrastive_training_keeps_what_excerpts_share():
    X, views, genres = nuisance_corpus()
    settings = {**CONTRASTIVE_SETTINGS, "patience": 20}
    model = Autoencoder(32, latent_dim=16, epochs=60, batch_size=64, **settings).fit(X, views)
    scores = evaluate_spaces({"raw": X, "contrastive": model.transform(X)}, genres)["spaces"]
    assert scores["contrastive"]["p@10"] > scores["raw"]["p@10"] + 0.05
    history = dict(model.validation_history_)
    assert model.best_epoch_ > 0 and history[model.best_epoch_] > history[0]  # held-out excerpts find their clip


def test_the_neighbours_encoder_cannot_learn_it():
    """The reference point: keeping the input's neighbourhoods keeps the nuisance too."""
    X, _, genres = nuisance_corpus()
    model = Autoencoder(32, latent_dim=16, epochs=30, batch_size=64, **NEIGHBOUR_SETTINGS).fit(X)
    scores = evaluate_spaces({"raw": X, "neighbours": model.transform(X)}, genres)["spaces"]
    assert scores["neighbours"]["p@10"] < scores["raw"]["p@10"] + 0.03


def test_contrastive_needs_views_and_saves_its_settings(tmp_path):
    X, views, _ = nuisance_corpus()
    with pytest.raises(ClipretError, match="views"):
        Autoencoder(32, latent_dim=16, epochs=1, objective="contrastive").fit(X)
    with pytest.raises(ClipretError, match="shape"):
        Autoencoder(32, latent_dim=16, epochs=1, objective="contrastive").fit(X, views[:, :, :5])
    model = Autoencoder(32, latent_dim=16, epochs=2, batch_size=64,
                        **{**CONTRASTIVE_SETTINGS, "neighbour_weight": 0.5}).fit(X, views)
    loaded = Autoencoder.load(model.save(tmp_path / "ae"))
    assert loaded.objective == "contrastive" and loaded.neighbour_weight == 0.5
    assert np.array_equal(loaded.transform(X), model.transform(X))


@pytest.mark.slow
def test_an_index_whose_clips_are_too_short_for_views_trains_as_neighbours_and_says_so(index_dir):
    """The session's tiny demo index: 3 s clips, under the 10 s a clip needs for views."""
    import json

    from clipret.config import Settings
    from clipret.embedding.artifacts import read_manifest, resolve_collection

    settings = Settings(data_dir=index_dir)
    training = read_manifest(settings, resolve_collection(settings))["training"]
    assert training["encoder"] == "contrastive" and training["clips_with_views"] == 0
    assert training["encoder_trained"] == "neighbours"
    expected = json.loads(json.dumps(NEIGHBOUR_SETTINGS))  # as the manifest holds it: tuples are lists
    assert {k: training["encoder_settings"][k] for k in NEIGHBOUR_SETTINGS} == expected
