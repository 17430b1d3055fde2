"""The paper's autoencoder network: fused features (N, D) → Tanh-bounded 256-d embeddings, trained to
reconstruct (the paper) or to keep neighbourhoods (the default encoder); seeded and saveable.

The torch networks live in clipret.embedding.networks, imported only inside the methods that need torch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from clipret.embedding.contrastive import distinct_views
from clipret.embedding.estimator import EstimatorParams
from clipret.errors import ClipretError
from clipret.files import atomic_path, write_json_atomic

TRANSFORM_BATCH = 1024  # rows per forward pass in transform: bounded memory, fast enough
PAPER_HIDDEN = (1024, 1024, 768, 512)


def build_network(input_dim: int, hidden: Sequence[int] = PAPER_HIDDEN, latent_dim: int = 256):
    """The paper's torch module (networks.AutoencoderNet): Listing 1 with the default sizes."""
    from clipret.embedding.networks import AutoencoderNet

    return AutoencoderNet(input_dim, hidden, latent_dim)


def build_residual_network(input_dim: int, hidden: Sequence[int] = (512,), latent_dim: int = 256):
    """The residual encoder's torch module (networks.ResidualNet)."""
    from clipret.embedding.networks import ResidualNet

    return ResidualNet(input_dim, hidden, latent_dim)


OBJECTIVES = ("reconstruction", "neighbours", "contrastive")
ARCHITECTURES = ("paper", "residual")
# how fit converts the parameters it uses (a parameter not listed is used as given)
_INT_PARAMS = ("input_dim", "latent_dim", "epochs", "batch_size", "seed", "patience")
_FLOAT_PARAMS = ("lr", "modality_dropout", "weight_decay", "noise", "temperature", "latent_temperature",
                 "reconstruction_weight", "validation_fraction", "neighbour_weight")


class Autoencoder(EstimatorParams):
    """Estimator around the paper's network, trained with one of two objectives.

    objective="reconstruction" is the paper's: MSE between input and decoder output, Adam, lr 1e-4,
    batch 32, 600 epochs. objective="neighbours" trains the same encoder to keep each clip's neighbours:
    KL between the softmax of the input rows' cosines (temperature) and the latent rows' cosines
    (latent_temperature), over the rows of each mini-batch; reconstruction_weight adds the paper's MSE.
    objective="contrastive" is self-supervised (as COLA and BYOL-A treat excerpts of one recording): two
    views of each clip of a mini-batch (two of its excerpts, or an excerpt and the whole clip: fit's
    `views`) are a positive pair and the batch's other clips the negatives, InfoNCE over their latent
    cosines / latent_temperature, both ways; neighbour_weight adds the neighbours loss on whole clips.

    modality_dropout=p: each training sample, with probability p, has one of its blocks (chosen
    uniformly from `block_slices`) set to 0 — the standardised mean, as a missing modality — in the
    input, while the loss still targets the full input. noise: Gaussian noise of that std added to the
    input (denoising). weight_decay: Adam's L2 penalty. validation_fraction > 0 holds that share of the
    rows out of the gradient; every eval_every epochs the model is scored on them (neighbours: how many
    of each held-out clip's 10 nearest input-space neighbours the latent keeps; contrastive: minus the
    InfoNCE loss of fixed pairs of held-out clips' excerpts; reconstruction: minus the
    held-out MSE) and the best epoch's weights are kept; training stops after `patience` epochs without
    improvement (0: never early). No labels are used. Same data + seed → same weights on the same
    machine (torch's global RNG is left as it was).

    A scikit-learn style estimator (clipret.embedding.estimator): the constructor stores its arguments as
    given, fit validates and converts them; fit (or load) sets network_, loss_history_ (mean loss per
    epoch), fit_seconds_, best_epoch_ and validation_history_ ([(epoch, score)]). device and progress
    say how to run, not what is learned: they are not saved.
    """

    RUNTIME_PARAMS = ("device", "progress")

    def __init__(self, input_dim: int, latent_dim: int = 256, hidden: Sequence[int] = PAPER_HIDDEN,
                 epochs: int = 600, batch_size: int = 32, lr: float = 1e-4, seed: int = 0,
                 modality_dropout: float = 0.0, block_slices: Mapping[str, slice] | None = None,
                 device: str = "cpu", progress: bool = False, objective: str = "reconstruction",
                 weight_decay: float = 0.0, noise: float = 0.0, temperature: float = 0.1,
                 latent_temperature: float = 0.1, reconstruction_weight: float = 0.0,
                 validation_fraction: float = 0.0, eval_every: int = 5, patience: int = 0,
                 architecture: str = "paper", neighbour_weight: float = 0.0):
        self.input_dim = input_dim
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.modality_dropout = modality_dropout
        self.block_slices = block_slices
        self.device = device
        self.progress = progress
        self.objective = objective
        self.weight_decay = weight_decay
        self.noise = noise
        self.temperature = temperature
        self.latent_temperature = latent_temperature
        self.reconstruction_weight = reconstruction_weight
        self.validation_fraction = validation_fraction
        self.eval_every = eval_every
        self.patience = patience
        self.architecture = architecture
        self.neighbour_weight = neighbour_weight

    def _checked(self) -> SimpleNamespace:
        """The parameters validated and converted as training uses them (ints, floats, a tuple of hidden
        sizes, {name: slice}); raises ValueError for a bad one. The estimator itself is left unchanged.
        Reads Autoencoder's own parameters, so a subclass may narrow or widen its signature."""
        p = SimpleNamespace(**{name: getattr(self, name) for name in Autoencoder._get_param_names()})
        for name in _INT_PARAMS:
            setattr(p, name, int(getattr(p, name)))
        for name in _FLOAT_PARAMS:
            setattr(p, name, float(getattr(p, name)))
        p.hidden = tuple(int(h) for h in p.hidden)
        p.eval_every = max(1, int(p.eval_every))
        p.block_slices = {k: slice(s.start, s.stop) for k, s in (p.block_slices or {}).items()}
        if not 0.0 <= p.modality_dropout <= 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1], got {p.modality_dropout}")
        if p.modality_dropout > 0 and not p.block_slices:
            raise ValueError("modality_dropout needs block_slices (FeatureFusion.block_slices_)")
        if p.epochs < 0 or p.batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {p.epochs}, {p.batch_size}")
        if p.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {p.architecture!r}")
        if p.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {p.objective!r}")
        if not 0.0 <= p.validation_fraction < 1.0 or p.temperature <= 0 or p.latent_temperature <= 0:
            raise ValueError("need 0 <= validation_fraction < 1 and positive temperatures")
        for name, cols in p.block_slices.items():
            if not 0 <= cols.start < cols.stop <= p.input_dim:
                raise ValueError(f"block {name!r} columns {cols} do not fit inside {p.input_dim} inputs")
        return p

    def fit(self, X: np.ndarray, views: np.ndarray | None = None) -> Autoencoder:
        """Train on X (N, input_dim); sets network_, loss_history_ (mean loss per epoch), fit_seconds_,
        best_epoch_ and validation_history_ ([(epoch, score)], empty without validation).

        views: (N, n_views, input_dim) fused excerpts of each clip (FeatureFusion.transform_views; a clip
        without excerpts repeats its row of X), for the contrastive objective, which needs them."""
        import torch

        from clipret.embedding import networks

        p = self._checked()
        X = self._check_input(X)
        self._views = self._check_views(X, views, p)
        if len(X) == 0:
            raise ClipretError("cannot train the autoencoder on zero clips")
        start = time.perf_counter()
        _check_device(p.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p.seed)  # weight initialisation, without touching the caller's RNG
            network = networks.build(p.architecture, p.input_dim, p.hidden, p.latent_dim)
        train_rows, val_rows = self._split(len(X), p)
        if p.architecture == "residual":  # unsupervised, like the pca baseline: all rows
            networks.set_principal_axes(network, X)
        network = network.to(p.device)
        generator = torch.Generator().manual_seed(p.seed)  # shuffling and dropout draws, on CPU
        optimizer = torch.optim.Adam(network.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        data = torch.from_numpy(X).to(p.device)
        self.network_ = network
        history, validation, best = [], [], (-np.inf, 0, None)  # (score, epoch, state)
        reference = self._input_neighbours(X, val_rows, p)  # fixed while the encoder learns: once per fit
        if len(val_rows):  # the starting point is a candidate too (the residual encoder starts at PCA)
            validation.append((0, self._validation_score(X, val_rows, p, reference)))
            best = (validation[0][1], 0, {k: v.detach().clone() for k, v in network.state_dict().items()})
        epochs = range(p.epochs)
        if p.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc=f"encoder ({p.objective})", unit="epoch")
        for epoch in epochs:
            network.train()
            history.append(self._train_epoch(network, optimizer, data, torch.from_numpy(train_rows), generator, p))
            if len(val_rows) and ((epoch + 1) % p.eval_every == 0 or epoch + 1 == p.epochs):
                score = self._validation_score(X, val_rows, p, reference)
                validation.append((epoch + 1, score))
                if score > best[0]:
                    best = (score, epoch + 1, {k: v.detach().clone() for k, v in network.state_dict().items()})
                elif p.patience and epoch + 1 - best[1] >= p.patience:
                    break
            if p.progress:
                epochs.set_postfix(loss=f"{history[-1]:.4f}", refresh=False)
        if p.progress:
            epochs.close()
        if best[2] is not None:
            network.load_state_dict(best[2])
        self.best_epoch_ = best[1] if best[2] is not None else len(history)
        self.network_, self.loss_history_, self.validation_history_ = network.eval(), history, validation
        self.fit_seconds_ = time.perf_counter() - start
        del self._views
        return self

    def _split(self, n: int, p: SimpleNamespace | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, held-out rows): a seeded share held out, at least 4 rows on each side."""
        p = p or self._checked()
        n_val = int(round(p.validation_fraction * n))
        if n_val < 4 or n - n_val < 4:
            return np.arange(n), np.arange(0)
        order = np.random.default_rng(p.seed).permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    @staticmethod
    def _input_neighbours(X: np.ndarray, val_rows: np.ndarray, p: SimpleNamespace) -> np.ndarray | None:
        """The held-out clips' 10 nearest neighbours in the input, which the neighbour scores compare to."""
        from clipret.embedding.neighbours import knn_indices

        if not len(val_rows) or p.objective not in ("neighbours", "contrastive"):
            return None
        return knn_indices(X, 10, val_rows)

    def _validation_score(self, X: np.ndarray, val_rows: np.ndarray, p: SimpleNamespace | None = None,
                          reference: np.ndarray | None = None) -> float:
        """Higher is better: kept input-space neighbours (neighbours) or minus MSE (reconstruction).

        With modality dropout, the neighbours score is the mean of two overlaps with the input space's
        10 nearest: held-out clips as they are, and with one block blanked (a query missing a modality).
        """
        p = p or self._checked()
        if p.objective == "contrastive":
            from clipret.embedding.contrastive import held_out_contrast

            with_views = val_rows[distinct_views(self._views[val_rows])]
            if len(with_views) >= 2:
                return held_out_contrast(self.transform, X[with_views], self._views[with_views],
                                         p.latent_temperature)
        if p.objective in ("neighbours", "contrastive"):
            from clipret.embedding.neighbours import knn_overlap

            full = knn_overlap(X, self.transform(X), k=10, queries=val_rows, reference=reference)
            if p.modality_dropout <= 0 or len(p.block_slices) < 2:
                return full
            blanked = X.copy()
            blocks = list(p.block_slices.values())
            rng = np.random.default_rng(p.seed)
            for row in val_rows:
                blanked[row, blocks[rng.integers(len(blocks))]] = 0.0
            return 0.5 * (full + knn_overlap(X, self.transform(blanked), k=10, queries=val_rows, reference=reference))
        return -float(np.mean((self.reconstruct(X[val_rows]) - X[val_rows]) ** 2))

    def _train_epoch(self, network, optimizer, data, rows, generator, p: SimpleNamespace) -> float:
        """One pass over shuffled mini-batches of `rows` of data; returns the epoch's mean per-sample loss."""
        import torch

        column_block = self._column_block_index(p).to(data.device)  # (D,) block number, -1 outside blocks
        views = None if self._views is None else torch.from_numpy(self._views).to(data.device)
        total = 0.0
        for idx in rows[torch.randperm(len(rows), generator=generator)].split(p.batch_size):
            if p.objective != "reconstruction" and len(idx) < 3:
                continue  # a neighbourhood (or a contrast) needs a query and at least two others
            target = data[idx.to(data.device)]
            optimizer.zero_grad()
            if p.objective == "contrastive":
                from clipret.embedding.contrastive import info_nce, view_pair

                first, second = view_pair(views[idx.to(data.device)], target, generator)
                latent = [network.encoder(self._augment(x, column_block, generator, p)) for x in (first, second)]
                loss = info_nce(latent[0], latent[1], p.latent_temperature)
                if p.neighbour_weight > 0:
                    loss = loss + p.neighbour_weight * self._loss(network, target, target, p)
            else:
                loss = self._loss(network, self._augment(target, column_block, generator, p), target, p)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        return total / len(rows)

    def _augment(self, batch, column_block, generator, p: SimpleNamespace):
        """The batch with modality dropout and input noise, as a training sample sees it."""
        import torch

        inputs = self._drop_blocks(batch, column_block, generator, p)
        if p.noise > 0:
            inputs = inputs + p.noise * torch.randn(inputs.shape, generator=generator).to(inputs.device)
        return inputs

    def _loss(self, network, inputs, target, p: SimpleNamespace):
        import torch

        if p.objective == "reconstruction":
            return torch.nn.functional.mse_loss(network(inputs), target)
        from clipret.embedding.neighbours import neighbour_loss, neighbour_targets

        latent = network.encoder(inputs)
        loss = neighbour_loss(latent, neighbour_targets(target, p.temperature), p.latent_temperature)
        if p.reconstruction_weight > 0:
            loss = loss + p.reconstruction_weight * torch.nn.functional.mse_loss(network.decoder(latent), target)
        return loss

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(N, latent_dim) float32 encoder outputs, in eval mode without gradients, in batches."""
        import torch

        self._check_fitted()
        X = self._check_input(X)
        self.network_.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(X), TRANSFORM_BATCH):
                batch = torch.from_numpy(X[start:start + TRANSFORM_BATCH]).to(self.device)
                out.append(self.network_.encoder(batch).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, int(self.latent_dim)), np.float32)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """(N, input_dim) float32 decoder(encoder(X)): what the loss compares with X."""
        import torch

        self._check_fitted()
        X = self._check_input(X)
        with torch.no_grad():
            parts = [self.network_(torch.from_numpy(X[s:s + TRANSFORM_BATCH]).to(self.device)).cpu().numpy()
                     for s in range(0, len(X), TRANSFORM_BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, int(self.input_dim)), np.float32)

    # ---- persistence ---------------------------------------------------------------------------
    # config.json: every parameter of get_params() but RUNTIME_PARAMS, then what fit recorded
    _ENCODE = {"hidden": lambda hidden: [int(h) for h in hidden],
               "block_slices": lambda slices: {k: [s.start, s.stop] for k, s in (slices or {}).items()}}
    _DECODE = {"hidden": tuple, "block_slices": lambda saved: {k: slice(a, b) for k, (a, b) in saved.items()}}
    _FITTED_KEYS = ("loss_history", "fit_seconds", "best_epoch", "validation_history")

    def config(self) -> dict[str, Any]:
        """The saved parameters, JSON-ready: get_params() less device and progress."""
        return self._saved_params(self._ENCODE)

    def save(self, directory: str | Path) -> Path:
        """config.json (parameters + loss history) and weights.pt (state dict) in `directory`."""
        import torch

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "weights.pt") as tmp:
            torch.save(self.network_.state_dict(), tmp)
        write_json_atomic(directory / "config.json", {
            **self.config(), "loss_history": self.loss_history_, "fit_seconds": self.fit_seconds_,
            "best_epoch": self.best_epoch_, "validation_history": self.validation_history_})
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Autoencoder:
        import torch

        from clipret.embedding import networks

        directory = Path(directory)
        _check_device(device)
        try:
            config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
            state = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
            params = cls._params_from_config(config, cls._FITTED_KEYS, cls._DECODE)
            history = config["loss_history"]
        except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError) as exc:
            raise ClipretError(
                f"cannot load the autoencoder from {directory}: {exc}; rebuild the index") from exc
        if "device" in cls._get_param_names():  # a subclass may not take it
            params["device"] = device
        model = cls(**params)
        p = model._checked()
        network = networks.build(p.architecture, p.input_dim, p.hidden, p.latent_dim)
        network.load_state_dict(state)
        model.network_, model.loss_history_ = network.to(device).eval(), history
        model.fit_seconds_ = config.get("fit_seconds", 0.0)
        model.best_epoch_ = config.get("best_epoch", len(history))
        model.validation_history_ = [tuple(v) for v in config.get("validation_history", [])]
        return model

    # ---- helpers -------------------------------------------------------------------------------
    def _check_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        input_dim = int(self.input_dim)
        if X.ndim != 2 or X.shape[1] != input_dim:
            raise ClipretError(f"autoencoder input must have shape (N, {input_dim}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ClipretError("autoencoder input contains NaN or infinite values")
        return np.ascontiguousarray(X, dtype=np.float32)

    def _check_views(self, X: np.ndarray, views: np.ndarray | None, p: SimpleNamespace) -> np.ndarray | None:
        if views is None:
            if p.objective == "contrastive":
                raise ClipretError("the contrastive encoder needs each clip's views: fit(X, views)")
            return None
        views = np.asarray(views)
        if views.ndim != 3 or views.shape[0] != len(X) or views.shape[2] != X.shape[1] or views.shape[1] < 1:
            raise ClipretError(f"views must have shape ({len(X)}, n_views, {X.shape[1]}), got {views.shape}")
        if not np.all(np.isfinite(views)):
            raise ClipretError("autoencoder views contain NaN or infinite values")
        return np.ascontiguousarray(views, dtype=np.float32)

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ClipretError("the autoencoder is not trained: call fit() or load() first")

    def _column_block_index(self, p: SimpleNamespace | None = None):
        import torch

        p = p or self._checked()
        index = torch.full((p.input_dim,), -1, dtype=torch.long)
        for number, cols in enumerate(p.block_slices.values()):
            index[cols] = number
        return index

    def _drop_blocks(self, batch, column_block, generator, p: SimpleNamespace | None = None):
        """Blank one random block per sample with probability p (draws on CPU, so any device is seeded)."""
        import torch

        p = p or self._checked()
        if p.modality_dropout <= 0:
            return batch
        n = len(batch)
        hit = (torch.rand(n, generator=generator) < p.modality_dropout).to(batch.device)  # (n,)
        choice = torch.randint(len(p.block_slices), (n,), generator=generator).to(batch.device)  # (n,)
        blank = hit[:, None] & (column_block[None, :] == choice[:, None])  # (n, D)
        return batch.masked_fill(blank, 0.0)


def _check_device(device: str) -> None:
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ClipretError(f"device {device!r} asked for, but torch sees no CUDA GPU: use device='cpu'")
