"""The torch networks behind clipret.embedding.autoencoder.Autoencoder, at module level (picklable, importable
by name). This module imports torch: the estimator modules import it only inside the methods that train or
run a network, so `import clipret.embedding.autoencoder` stays light.

Each network draws its initial weights from torch's global RNG in the same order as it always has, so the
same seed gives the same weights (the Autoencoder seeds that RNG inside torch.random.fork_rng).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

# Layer names of the paper's Listing 1, in order (its odd "encoder22"/"decoder11" kept on purpose).
PAPER_ENCODER_NAMES = ("encoder0", "encoder1", "encoder2", "encoder22", "encoder3")
PAPER_DECODER_NAMES = ("decoder0", "decoder11", "decoder1", "decoder2", "decoder3")
PAPER_HIDDEN = (1024, 1024, 768, 512)


def _sizes(input_dim: int, hidden: Sequence[int], latent_dim: int) -> list[int]:
    return [int(input_dim), *map(int, hidden), int(latent_dim)]


class AutoencoderNet(nn.Module):
    """.encoder D→…→latent (Tanh after each Linear), .decoder mirror (no Tanh at the end).

    With the default sizes this is exactly the paper's Listing 1: 10 Linear layers, 9 Tanh.
    """

    def __init__(self, input_dim: int, hidden: Sequence[int] = PAPER_HIDDEN, latent_dim: int = 256):
        super().__init__()
        sizes = _sizes(input_dim, hidden, latent_dim)
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
        self.encoder = nn.Sequential(encoder)
        self.decoder = nn.Sequential(decoder)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class ResidualEncoder(nn.Module):
    """x → proj(x) + mlp(x): a linear map (set to the input's principal axes before training, see
    set_principal_axes) plus a Tanh MLP whose last layer starts at zero, so training starts from the
    input's own geometry."""

    def __init__(self, input_dim: int, hidden: Sequence[int] = (512,), latent_dim: int = 256):
        super().__init__()
        sizes = _sizes(input_dim, hidden, latent_dim)
        layers = []  # built before proj: the RNG draws (hence the seeded weights) in their historical order
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.Tanh())
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.proj = nn.Linear(sizes[0], sizes[-1])
        self.mlp = nn.Sequential(*layers)

    def forward(self, x):
        return self.proj(x) + self.mlp(x)


class ResidualNet(nn.Module):
    """.encoder: a ResidualEncoder; .decoder: one Linear back to the input (used only with a
    reconstruction term)."""

    def __init__(self, input_dim: int, hidden: Sequence[int] = (512,), latent_dim: int = 256):
        super().__init__()
        self.encoder = ResidualEncoder(input_dim, hidden, latent_dim)
        self.decoder = nn.Linear(int(latent_dim), int(input_dim))

    def forward(self, x):
        return self.decoder(self.encoder(x))


NETWORKS = {"paper": AutoencoderNet, "residual": ResidualNet}  # Autoencoder(architecture=…) → network


def build(architecture: str, input_dim: int, hidden: Sequence[int], latent_dim: int) -> nn.Module:
    return NETWORKS[architecture](input_dim, hidden, latent_dim)


def set_principal_axes(network: ResidualNet, X: np.ndarray) -> None:
    """proj(x) = (x - mean) @ V[:latent]: the input's top principal axes (zero rows past its rank)."""
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X.astype(np.float64) - mean, full_matrices=False)  # (min(N, D), D)
    weight = np.zeros(tuple(network.encoder.proj.weight.shape))  # (latent, D)
    k = min(len(vt), len(weight))
    weight[:k] = vt[:k]
    with torch.no_grad():
        network.encoder.proj.weight.copy_(torch.from_numpy(weight))
        network.encoder.proj.bias.copy_(torch.from_numpy(-(weight @ mean)))
