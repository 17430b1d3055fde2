"""Autoencoder: the paper's exact layers, training that learns, seeded determinism, save/load, dropout."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from clipret.embedding.autoencoder import Autoencoder, build_network
from clipret.errors import ClipretError


def tiny_data(n=40, d=12, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(3, d))
    return (rng.normal(size=(n, 3)) @ basis).astype(np.float32)  # rank-3 data: easy to compress


def small(d=12, **kw):
    return Autoencoder(d, latent_dim=4, hidden=(16, 8), **kw)


def test_paper_architecture_layer_by_layer():
    from torch import nn

    net = build_network(1425)
    linears = [(name, m.in_features, m.out_features)
               for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    assert linears == [
        ("encoder.encoder0", 1425, 1024), ("encoder.encoder1", 1024, 1024), ("encoder.encoder2", 1024, 768),
        ("encoder.encoder22", 768, 512), ("encoder.encoder3", 512, 256),
        ("decoder.decoder0", 256, 512), ("decoder.decoder11", 512, 768), ("decoder.decoder1", 768, 1024),
        ("decoder.decoder2", 1024, 1024), ("decoder.decoder3", 1024, 1425)]
    kinds = [type(m).__name__ for part in (net.encoder, net.decoder) for m in part]
    # Tanh after every Linear but the last decoder one (Listing 1)
    assert kinds == ["Linear", "Tanh"] * 9 + ["Linear"]
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Linear))


def test_defaults_are_table_1():
    model = Autoencoder(1425)
    assert (model.latent_dim, model.hidden, model.epochs, model.batch_size, model.lr) == \
        (256, (1024, 1024, 768, 512), 600, 32, 1e-4)


def test_loss_decreases_and_latent_is_tanh_bounded():
    X = tiny_data()
    model = small(epochs=60, lr=1e-2, batch_size=8).fit(X)
    assert len(model.loss_history_) == 60
    assert model.loss_history_[-1] < 0.5 * model.loss_history_[0]
    Z = model.transform(X * 100)  # saturating inputs still land in [-1, 1]
    assert Z.shape == (40, 4) and Z.dtype == np.float32
    assert np.all(np.abs(Z) <= 1.0)


def test_same_seed_same_weights_other_seed_differs():
    import torch

    X = tiny_data()
    state_before = torch.random.get_rng_state()
    a, b = small(epochs=3, seed=7).fit(X), small(epochs=3, seed=7).fit(X)
    assert torch.equal(torch.random.get_rng_state(), state_before)  # the caller's RNG is left alone
    for (name, wa), wb in zip(a.network_.state_dict().items(), b.network_.state_dict().values(), strict=True):
        assert torch.equal(wa, wb), name
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.loss_history_ == b.loss_history_
    assert not np.array_equal(small(epochs=3, seed=8).fit(X).transform(X), a.transform(X))


def test_save_load_identical_transform(tmp_path):
    X = tiny_data()
    model = small(epochs=2, modality_dropout=0.5, block_slices={"a": slice(0, 6), "b": slice(6, 12)},
                  progress=True).fit(X)
    model.save(tmp_path / "ae")
    loaded = Autoencoder.load(tmp_path / "ae")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert loaded.config() == model.config() and loaded.loss_history_ == model.loss_history_


def test_modality_dropout_blanks_one_whole_block():
    import torch

    slices = {"a": slice(0, 3), "b": slice(3, 5), "c": slice(5, 8)}
    model = Autoencoder(9, modality_dropout=1.0, block_slices=slices)  # column 8 belongs to no block
    batch = torch.ones(200, 9)
    out = model._drop_blocks(batch, model._column_block_index(), torch.Generator().manual_seed(0))
    zeros = out == 0
    # every row lost exactly one block, all of it, and never the column outside the blocks
    patterns = {tuple(row.tolist()) for row in zeros}
    assert patterns == {(1, 1, 1, 0, 0, 0, 0, 0, 0), (0, 0, 0, 1, 1, 0, 0, 0, 0), (0, 0, 0, 0, 0, 1, 1, 1, 0)}
    none = Autoencoder(9, modality_dropout=0.0, block_slices=slices)
    assert torch.equal(none._drop_blocks(batch, none._column_block_index(), torch.Generator()), batch)
    half = Autoencoder(9, modality_dropout=0.5, block_slices=slices)
    blanked = (half._drop_blocks(batch, half._column_block_index(), torch.Generator().manual_seed(0)) == 0)
    assert 0.35 < blanked.any(dim=1).float().mean().item() < 0.65


def test_input_errors():
    unfit = Autoencoder(10, modality_dropout=0.3)  # parameters are checked by fit, not the constructor
    with pytest.raises(ValueError, match="block_slices"):
        unfit.fit(np.zeros((8, 10), np.float32))
    with pytest.raises(ValueError, match="do not fit inside"):
        Autoencoder(10, modality_dropout=0.3, block_slices={"a": slice(0, 11)}).fit(np.zeros((8, 10)))
    with pytest.raises(ClipretError, match="not trained"):
        small().transform(tiny_data())
    model = small(epochs=1).fit(tiny_data())
    with pytest.raises(ClipretError, match=r"shape \(N, 12\)"):
        model.transform(np.zeros((3, 5)))


def test_import_stays_light():
    import subprocess

    code = "import sys, clipret.embedding.autoencoder, clipret.embedding.fusion, clipret.embedding.analysis, " \
           "clipret.search.metrics; print(any(m in sys.modules for m in ('torch', 'sklearn', 'umap')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def clusters(n_per=15, d=12, seed=0):
    """Three tight clusters around random centres: every clip's neighbours are its cluster's clips."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * 3
    return (np.repeat(centres, n_per, axis=0) + rng.normal(size=(3 * n_per, d)) * 0.3).astype(np.float32)


def test_neighbours_objective_keeps_the_input_neighbourhoods():
    from clipret.embedding.neighbours import knn_overlap

    X = clusters()
    untrained = small(epochs=0, objective="neighbours").fit(X)
    model = small(epochs=40, objective="neighbours", lr=1e-2, batch_size=64).fit(X)
    assert model.loss_history_[-1] < 0.5 * model.loss_history_[0]
    # the 14 other clips of a clip's cluster are its nearest in the latent space too
    labels = np.repeat(np.arange(3), 15)
    from clipret.embedding.neighbours import knn_indices

    assert np.mean(labels[knn_indices(model.transform(X), 10)] == labels[:, None]) == 1.0
    assert knn_overlap(X, model.transform(X), 10) > knn_overlap(X, untrained.transform(X), 10)


def test_early_stopping_keeps_the_best_held_out_epoch(tmp_path):
    X = clusters()
    model = small(epochs=30, objective="neighbours", lr=1e-2, batch_size=64, validation_fraction=0.2,
                  eval_every=5, patience=10).fit(X)
    scores = dict(model.validation_history_)
    assert list(scores) == sorted(scores) and set(scores) <= {0, 5, 10, 15, 20, 25, 30}
    assert model.best_epoch_ == max(scores, key=lambda e: (scores[e], -e))  # first epoch with the best score
    # the kept weights are the best epoch's: scoring them again gives the best score
    held_out = model._split(len(X))[1]
    assert len(held_out) == 9
    assert model._validation_score(X, held_out) == pytest.approx(scores[model.best_epoch_])
    model.save(tmp_path / "ae")
    loaded = Autoencoder.load(tmp_path / "ae")
    assert loaded.best_epoch_ == model.best_epoch_ and loaded.config()["objective"] == "neighbours"
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="objective"):
        Autoencoder(4, objective="contrastive-magic").fit(np.zeros((8, 4), np.float32))


def test_residual_encoder_starts_at_the_inputs_own_geometry_and_round_trips(tmp_path):
    X = clusters(n_per=5)  # 15 rows: fewer than the latent size, so the principal axes keep everything
    model = Autoencoder(12, latent_dim=16, hidden=(8,), epochs=0, architecture="residual",
                        objective="neighbours").fit(X)
    Z = model.transform(X)
    centred = X - X.mean(axis=0)
    np.testing.assert_allclose(Z @ Z.T, centred @ centred.T, rtol=1e-4, atol=1e-3)  # same dot products
    trained = Autoencoder(12, latent_dim=16, hidden=(8,), epochs=5, architecture="residual", objective="neighbours",
                          modality_dropout=0.5, block_slices={"a": slice(0, 6), "b": slice(6, 12)}, lr=1e-2,
                          batch_size=64).fit(X)
    trained.save(tmp_path / "res")
    loaded = Autoencoder.load(tmp_path / "res")
    assert loaded.config()["architecture"] == "residual"
    np.testing.assert_array_equal(loaded.transform(X), trained.transform(X))
    with pytest.raises(ValueError, match="architecture"):
        Autoencoder(4, architecture="transformer").fit(np.zeros((8, 4), np.float32))


# ---- the scikit-learn estimator contract ----------------------------------------------------------

def test_sklearn_contract_params_stored_unchanged_clone_and_round_trip():
    from sklearn.base import BaseEstimator, clone
    from sklearn.utils.estimator_checks import check_get_params_invariance, check_no_attributes_set_in_init

    # the parameter names are exactly what sklearn's own BaseEstimator finds in the signature
    assert Autoencoder._get_param_names() == BaseEstimator._get_param_names.__func__(Autoencoder)
    assert len(Autoencoder._get_param_names()) == 22
    slices = {"a": slice(0, 6), "b": slice(6, 12)}
    hidden = [16, 8]  # a list stays a list: the constructor converts nothing
    model = small(epochs="2", modality_dropout=0.5, block_slices=slices, objective="neighbours")
    model.set_params(hidden=hidden, lr=1e-2)
    params = model.get_params()
    assert params["hidden"] is hidden and params["block_slices"] is slices and params["epochs"] == "2"
    assert params["lr"] == 1e-2 and params["input_dim"] == 12 and params["device"] == "cpu"
    check_no_attributes_set_in_init("Autoencoder", small())
    check_get_params_invariance("Autoencoder", model)
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    with pytest.raises(ValueError, match="Invalid parameter 'latent'"):
        model.set_params(latent=3)
    # a fitted attribute exists only after fit, and clone leaves it behind
    assert not hasattr(model, "network_") and not hasattr(model, "loss_history_")
    model.fit(tiny_data())
    assert len(model.loss_history_) == 2 and model.get_params() == params  # fit converted nothing in place
    assert not hasattr(clone(model), "network_")
    assert repr(model).startswith("Autoencoder(") and "latent_dim=4" in repr(model)


def test_saved_config_is_get_params_and_a_new_parameter_needs_no_persistence_code(tmp_path):
    import json

    model = small(epochs=1, noise=0.25).fit(tiny_data())
    model.save(tmp_path / "ae")
    saved = json.loads((tmp_path / "ae" / "config.json").read_text())
    expected = {k: v for k, v in model.get_params().items() if k not in ("device", "progress")}
    expected["hidden"], expected["block_slices"] = [16, 8], {}
    assert {k: saved[k] for k in expected} == expected
    assert set(saved) - set(expected) == {"loss_history", "fit_seconds", "best_epoch", "validation_history"}
    assert Autoencoder.load(tmp_path / "ae").get_params() == {**model.get_params(), "hidden": (16, 8),
                                                              "block_slices": {}}

    class Wider(Autoencoder):  # a new parameter: in the signature, stored; save and load need nothing more
        def __init__(self, input_dim, latent_dim=4, hidden=(16, 8), epochs=1, extra_scale: float = 1.0):
            super().__init__(input_dim, latent_dim=latent_dim, hidden=hidden, epochs=epochs)
            self.extra_scale = extra_scale

    wide = Wider(12, extra_scale=3.5).fit(tiny_data())
    wide.save(tmp_path / "wide")
    assert json.loads((tmp_path / "wide" / "config.json").read_text())["extra_scale"] == 3.5
    loaded = Wider.load(tmp_path / "wide")
    assert loaded.extra_scale == 3.5
    np.testing.assert_array_equal(loaded.transform(tiny_data()), wide.transform(tiny_data()))


def test_an_artifact_with_an_unknown_setting_is_refused(tmp_path):
    import json

    small(epochs=1).fit(tiny_data()).save(tmp_path / "ae")
    config = json.loads((tmp_path / "ae" / "config.json").read_text())
    (tmp_path / "ae" / "config.json").write_text(json.dumps({**config, "warp_factor": 9}))
    with pytest.raises(ClipretError, match="warp_factor"):
        Autoencoder.load(tmp_path / "ae")


def test_an_artifact_saved_before_the_newer_settings_loads_with_their_defaults(tmp_path):
    import json

    model = small(epochs=1).fit(tiny_data())
    model.save(tmp_path / "ae")
    config = json.loads((tmp_path / "ae" / "config.json").read_text())
    for key in ("objective", "weight_decay", "noise", "architecture", "best_epoch", "validation_history"):
        del config[key]  # the first saved format had none of these
    (tmp_path / "ae" / "config.json").write_text(json.dumps(config))
    loaded = Autoencoder.load(tmp_path / "ae")
    assert (loaded.objective, loaded.architecture, loaded.best_epoch_) == ("reconstruction", "paper", 1)
    np.testing.assert_array_equal(loaded.transform(tiny_data()), model.transform(tiny_data()))


def test_networks_are_module_level_and_picklable():
    import pickle

    from clipret.embedding import networks

    model = small(epochs=1, architecture="residual").fit(tiny_data())
    assert type(model.network_) is networks.ResidualNet
    assert type(model.network_.encoder) is networks.ResidualEncoder
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.transform(tiny_data()), model.transform(tiny_data()))
    assert type(small(epochs=0).fit(tiny_data()).network_) is networks.AutoencoderNet
