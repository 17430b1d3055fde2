"""The paper's autoencoder network: fused features (N, D) → Tanh-bounded 256-d embeddings, trained to
reconstruct (the paper) or to keep neighbourhoods (the default encoder); seeded and saveable."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from clipret.errors import ClipretError
from clipret.files import atomic_path, write_json_atomic

# Layer names of the paper's Listing 1, in order (its odd "encoder22"/"decoder11" kept on purpose).
PAPER_ENCODER_NAMES = ("encoder0", "encoder1", "encoder2", "encoder22", "encoder3")
PAPER_DECODER_NAMES = ("decoder0", "decoder11", "decoder1", "decoder2", "decoder3")
TRANSFORM_BATCH = 1024  # rows per forward pass in transform: bounded memory, fast enough


def build_network(input_dim: int, hidden: Sequence[int] = (1024, 1024, 768, 512), latent_dim: int = 256):
    """The torch module: .encoder D→…→latent (Tanh after each Linear), .decoder mirror (no Tanh at the end).

    With the default sizes this is exactly the paper's Listing 1: 10 Linear layers, 9 Tanh.
    """
    from collections import OrderedDict

    from torch import nn

    sizes = [int(input_dim), *map(int, hidden), int(latent_dim)]
    n = len(sizes) - 1
    enc_names = PAPER_ENCODER_NAMES if n == 5 else tuple(f"encoder{i}" for i in range(n))
    dec_names = PAPER_DECODER_NAMES if n == 5 else tuple(f"decoder{i}" for i in range(n))
    encoder, decoder = OrderedDict(), OrderedDict()
    for i in range(n):
        encoder[enc_names[i]] = nn.Linear(sizes[i], sizes[i + 1])
        encoder[f"activation{i}"] = nn.Tanh()  # includes the latent: embeddings live in [-1, 1]
    back = sizes[::-1]
    for i in range(n):
        decoder[dec_names[i]] = nn.Linear(back[i], back[i + 1])
        if i < n - 1:  # the reconstruction of standardised features is unbounded
            decoder[f"activation{i}"] = nn.Tanh()

    class AutoencoderNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(encoder)
            self.decoder = nn.Sequential(decoder)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    return AutoencoderNet()


def build_residual_network(input_dim: int, hidden: Sequence[int] = (512,), latent_dim: int = 256):
    """.encoder: x → proj(x) + mlp(x), a linear map (set to the input's principal axes before training) plus a
    Tanh MLP whose last layer starts at zero, so training starts from the input's own geometry; .decoder: one
    Linear back to the input (used only with a reconstruction term)."""
    from torch import nn

    sizes = [int(input_dim), *map(int, hidden), int(latent_dim)]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)

    class ResidualEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(sizes[0], sizes[-1])
            self.mlp = nn.Sequential(*layers)

        def forward(self, x):
            return self.proj(x) + self.mlp(x)

    class ResidualNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = ResidualEncoder()
            self.decoder = nn.Linear(sizes[-1], sizes[0])

        def forward(self, x):
            return self.decoder(self.encoder(x))

    return ResidualNet()


def _network(architecture: str, input_dim: int, hidden: Sequence[int], latent_dim: int):
    if architecture == "residual":
        return build_residual_network(input_dim, hidden, latent_dim)
    return build_network(input_dim, hidden, latent_dim)


def _set_principal_axes(network, X: np.ndarray) -> None:
    """proj(x) = (x - mean) @ V[:latent]: the input's top principal axes (zero rows past its rank)."""
    import torch

    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X.astype(np.float64) - mean, full_matrices=False)  # (min(N, D), D)
    weight = np.zeros(tuple(network.encoder.proj.weight.shape))  # (latent, D)
    k = min(len(vt), len(weight))
    weight[:k] = vt[:k]
    with torch.no_grad():
        network.encoder.proj.weight.copy_(torch.from_numpy(weight))
        network.encoder.proj.bias.copy_(torch.from_numpy(-(weight @ mean)))


OBJECTIVES = ("reconstruction", "neighbours")
ARCHITECTURES = ("paper", "residual")


class Autoencoder:
    """Estimator around the paper's network, trained with one of two objectives.

    objective="reconstruction" is the paper's: MSE between input and decoder output, Adam, lr 1e-4,
    batch 32, 600 epochs. objective="neighbours" trains the same encoder to keep each clip's neighbours:
    KL between the softmax of the input rows' cosines (temperature) and the latent rows' cosines
    (latent_temperature), over the rows of each mini-batch; reconstruction_weight adds the paper's MSE.

    modality_dropout=p: each training sample, with probability p, has one of its blocks (chosen
    uniformly from `block_slices`) set to 0 — the standardised mean, as a missing modality — in the
    input, while the loss still targets the full input. noise: Gaussian noise of that std added to the
    input (denoising). weight_decay: Adam's L2 penalty. validation_fraction > 0 holds that share of the
    rows out of the gradient; every eval_every epochs the model is scored on them (neighbours: how many
    of each held-out clip's 10 nearest input-space neighbours the latent keeps; reconstruction: minus the
    held-out MSE) and the best epoch's weights are kept; training stops after `patience` epochs without
    improvement (0: never early). No labels are used. Same data + seed → same weights on the same
    machine (torch's global RNG is left as it was).
    """

    def __init__(self, input_dim: int, latent_dim: int = 256, hidden: Sequence[int] = (1024, 1024, 768, 512),
                 epochs: int = 600, batch_size: int = 32, lr: float = 1e-4, seed: int = 0,
                 modality_dropout: float = 0.0, block_slices: Mapping[str, slice] | None = None,
                 device: str = "cpu", progress: bool = False, objective: str = "reconstruction",
                 weight_decay: float = 0.0, noise: float = 0.0, temperature: float = 0.1,
                 latent_temperature: float = 0.1, reconstruction_weight: float = 0.0,
                 validation_fraction: float = 0.0, eval_every: int = 5, patience: int = 0,
                 architecture: str = "paper"):
        if not 0.0 <= modality_dropout <= 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1], got {modality_dropout}")
        if modality_dropout > 0 and not block_slices:
            raise ValueError("modality_dropout needs block_slices (FeatureFusion.block_slices_)")
        if epochs < 0 or batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if not 0.0 <= validation_fraction < 1.0 or temperature <= 0 or latent_temperature <= 0:
            raise ValueError("need 0 <= validation_fraction < 1 and positive temperatures")
        self.input_dim, self.latent_dim, self.hidden = int(input_dim), int(latent_dim), tuple(hidden)
        self.epochs, self.batch_size, self.lr, self.seed = int(epochs), int(batch_size), float(lr), int(seed)
        self.modality_dropout = float(modality_dropout)
        self.block_slices = {k: slice(s.start, s.stop) for k, s in (block_slices or {}).items()}
        for name, cols in self.block_slices.items():
            if not 0 <= cols.start < cols.stop <= self.input_dim:
                raise ValueError(f"block {name!r} columns {cols} do not fit inside {self.input_dim} inputs")
        self.objective, self.weight_decay, self.noise = objective, float(weight_decay), float(noise)
        self.temperature, self.latent_temperature = float(temperature), float(latent_temperature)
        self.reconstruction_weight = float(reconstruction_weight)
        self.validation_fraction, self.eval_every = float(validation_fraction), max(1, int(eval_every))
        self.patience, self.architecture = int(patience), architecture
        self.device, self.progress = device, progress

    def fit(self, X: np.ndarray) -> Autoencoder:
        """Train on X (N, input_dim); sets network_, loss_history_ (mean loss per epoch), fit_seconds_,
        best_epoch_ and validation_history_ ([(epoch, score)], empty without validation)."""
        import torch

        X = self._check_input(X)
        if len(X) == 0:
            raise ClipretError("cannot train the autoencoder on zero clips")
        start = time.perf_counter()
        _check_device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # weight initialisation, without touching the caller's RNG
            network = _network(self.architecture, self.input_dim, self.hidden, self.latent_dim)
        train_rows, val_rows = self._split(len(X))
        if self.architecture == "residual":  # unsupervised, like the pca baseline: all rows
            _set_principal_axes(network, X)
        network = network.to(self.device)
        generator = torch.Generator().manual_seed(self.seed)  # shuffling and dropout draws, on CPU
        optimizer = torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        data = torch.from_numpy(X).to(self.device)
        self.network_ = network
        history, validation, best = [], [], (-np.inf, 0, None)  # (score, epoch, state)
        if len(val_rows):  # the starting point is a candidate too (the residual encoder starts at PCA)
            validation.append((0, self._validation_score(X, val_rows)))
            best = (validation[0][1], 0, {k: v.detach().clone() for k, v in network.state_dict().items()})
        epochs = range(self.epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc=f"encoder ({self.objective})", unit="epoch")
        for epoch in epochs:
            network.train()
            history.append(self._train_epoch(network, optimizer, data[torch.from_numpy(train_rows)], generator))
            if len(val_rows) and ((epoch + 1) % self.eval_every == 0 or epoch + 1 == self.epochs):
                score = self._validation_score(X, val_rows)
                validation.append((epoch + 1, score))
                if score > best[0]:
                    best = (score, epoch + 1, {k: v.detach().clone() for k, v in network.state_dict().items()})
                elif self.patience and epoch + 1 - best[1] >= self.patience:
                    break
            if self.progress:
                epochs.set_postfix(loss=f"{history[-1]:.4f}", refresh=False)
        if self.progress:
            epochs.close()
        if best[2] is not None:
            network.load_state_dict(best[2])
        self.best_epoch_ = best[1] if best[2] is not None else len(history)
        self.network_, self.loss_history_, self.validation_history_ = network.eval(), history, validation
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, held-out rows): a seeded share held out, at least 4 rows on each side."""
        n_val = int(round(self.validation_fraction * n))
        if n_val < 4 or n - n_val < 4:
            return np.arange(n), np.arange(0)
        order = np.random.default_rng(self.seed).permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _validation_score(self, X: np.ndarray, val_rows: np.ndarray) -> float:
        """Higher is better: kept input-space neighbours (neighbours) or minus MSE (reconstruction).

        With modality dropout, the neighbours score is the mean of two overlaps with the input space's
        10 nearest: held-out clips as they are, and with one block blanked (a query missing a modality).
        """
        if self.objective == "neighbours":
            from clipret.embedding.neighbours import knn_overlap

            full = knn_overlap(X, self.transform(X), k=10, queries=val_rows)
            if self.modality_dropout <= 0 or len(self.block_slices) < 2:
                return full
            blanked = X.copy()
            blocks = list(self.block_slices.values())
            rng = np.random.default_rng(self.seed)
            for row in val_rows:
                blanked[row, blocks[rng.integers(len(blocks))]] = 0.0
            return 0.5 * (full + knn_overlap(X, self.transform(blanked), k=10, queries=val_rows))
        return -float(np.mean((self.reconstruct(X[val_rows]) - X[val_rows]) ** 2))

    def _train_epoch(self, network, optimizer, data, generator) -> float:
        """One pass over shuffled mini-batches; returns the epoch's mean per-sample loss."""
        import torch

        column_block = self._column_block_index().to(data.device)  # (D,) block number, -1 outside blocks
        total = 0.0
        for idx in torch.randperm(len(data), generator=generator).split(self.batch_size):
            if self.objective == "neighbours" and len(idx) < 3:
                continue  # a neighbourhood needs a query and at least two others
            target = data[idx.to(data.device)]
            inputs = self._drop_blocks(target, column_block, generator)
            if self.noise > 0:
                inputs = inputs + self.noise * torch.randn(inputs.shape, generator=generator).to(inputs.device)
            optimizer.zero_grad()
            loss = self._loss(network, inputs, target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        return total / len(data)

    def _loss(self, network, inputs, target):
        import torch

        if self.objective == "reconstruction":
            return torch.nn.functional.mse_loss(network(inputs), target)
        from clipret.embedding.neighbours import neighbour_loss, neighbour_targets

        latent = network.encoder(inputs)
        loss = neighbour_loss(latent, neighbour_targets(target, self.temperature), self.latent_temperature)
        if self.reconstruction_weight > 0:
            loss = loss + self.reconstruction_weight * torch.nn.functional.mse_loss(network.decoder(latent), target)
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
        return np.concatenate(out) if out else np.zeros((0, self.latent_dim), np.float32)

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
        return np.concatenate(parts) if parts else np.zeros((0, self.input_dim), np.float32)

    # ---- persistence ---------------------------------------------------------------------------
    def config(self) -> dict:
        return {"input_dim": self.input_dim, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "seed": self.seed,
                "modality_dropout": self.modality_dropout,
                "block_slices": {k: [s.start, s.stop] for k, s in self.block_slices.items()},
                "objective": self.objective, "weight_decay": self.weight_decay, "noise": self.noise,
                "temperature": self.temperature, "latent_temperature": self.latent_temperature,
                "reconstruction_weight": self.reconstruction_weight,
                "validation_fraction": self.validation_fraction, "eval_every": self.eval_every,
                "patience": self.patience, "architecture": self.architecture}

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

        directory = Path(directory)
        _check_device(device)
        try:
            config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
            state = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ClipretError(
                f"cannot load the autoencoder from {directory}: {exc}; rebuild the index") from exc
        slices = {k: slice(a, b) for k, (a, b) in config.pop("block_slices").items()}
        history, seconds = config.pop("loss_history"), config.pop("fit_seconds", 0.0)
        best_epoch = config.pop("best_epoch", len(history))
        validation = [tuple(v) for v in config.pop("validation_history", [])]
        model = cls(**config, block_slices=slices, device=device)
        network = _network(model.architecture, model.input_dim, model.hidden, model.latent_dim)
        network.load_state_dict(state)
        model.network_, model.loss_history_, model.fit_seconds_ = network.to(device).eval(), history, seconds
        model.best_epoch_, model.validation_history_ = best_epoch, validation
        return model

    # ---- helpers -------------------------------------------------------------------------------
    def _check_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ClipretError(f"autoencoder input must have shape (N, {self.input_dim}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ClipretError("autoencoder input contains NaN or infinite values")
        return np.ascontiguousarray(X, dtype=np.float32)

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ClipretError("the autoencoder is not trained: call fit() or load() first")

    def _column_block_index(self):
        import torch

        index = torch.full((self.input_dim,), -1, dtype=torch.long)
        for number, cols in enumerate(self.block_slices.values()):
            index[cols] = number
        return index

    def _drop_blocks(self, batch, column_block, generator):
        """Blank one random block per sample with probability p (draws on CPU, so any device is seeded)."""
        import torch

        if self.modality_dropout <= 0:
            return batch
        n = len(batch)
        hit = (torch.rand(n, generator=generator) < self.modality_dropout).to(batch.device)  # (n,)
        choice = torch.randint(len(self.block_slices), (n,), generator=generator).to(batch.device)  # (n,)
        blank = hit[:, None] & (column_block[None, :] == choice[:, None])  # (n, D)
        return batch.masked_fill(blank, 0.0)


def _check_device(device: str) -> None:
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ClipretError(f"device {device!r} asked for, but torch sees no CUDA GPU: use device='cpu'")
