"""A pretrained audio embedding: aisfx's sound-effect CNN (Ma & Lerch, ISMIR 2022), 512-d per clip.

The weights (`checkpoint.pth`, CC BY 4.0) ship inside the PyPI wheel `aisfx==0.1.2` (code MIT). That
package pins numpy 1.23 and librosa 0.9, and its loader unpickles a whole checkpoint, which torch >= 2.6
refuses: it is installed with `pip install --no-deps`, never imported, and its checkpoint is read here with
`torch.load(weights_only=True)` into this module's own definition of the network (strict key match).

A clip's vector: several excerpts spread over the (analysed part of the) track, each cut into 2.3 s
spectrogram blocks side by side; the network's 512-d output per block, averaged over all blocks.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from clipret.errors import ModelUnavailable
from clipret.features.base import BaseExtractor, resolve_device

MODEL_SR = 44100  # aisfx's input rate; our decoded 22050 Hz audio is resampled to it
N_FFT = 2048  # aisfx's spectrogram: 2048-sample windows, hop 1024 (23 ms), 96 HTK mel bands, 0-22050 Hz
HOP = 1024
N_MELS = 96
SPEC_MAX = 9.457798957824707  # aisfx's 'original' min-max normalisation: (log spec - 0) / SPEC_MAX
BLOCK_FRAMES = 100  # one embedding per 100 frames (2.32 s)
# Blocks side by side, not overlapping by half as in the ISMIR paper: half the network's work (about 1 s
# of a 4-minute clip's CPU), embeddings at cosine 0.9995 to the overlapping ones (profile v3)
BLOCK_HOP = BLOCK_FRAMES
N_EXCERPTS = 4  # excerpts per track, evenly spread (start, ..., end) ...
EXCERPT_SECONDS = 15.0  # ... of this length: 60 s of a long track are embedded
WIDTH = 64  # channels of the first conv block (64, 128, 256, 512)
DIM = 8 * WIDTH  # 512
BATCH_BLOCKS = 64  # spectrogram blocks per forward pass


def checkpoint_path() -> Path:
    """Where pip put aisfx's checkpoint.pth (the package itself is not imported)."""
    spec = importlib.util.find_spec("aisfx")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("The aisfx weights are not installed: run "
                               "`pip install --no-deps -r requirements-nodeps.txt` (or `make setup`).")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "checkpoint.pth"
    if not path.is_file():
        raise ModelUnavailable(f"{path} is missing: reinstall aisfx with `pip install --no-deps aisfx==0.1.2`.")
    return path


def build_embedding_net():
    """aisfx's EmbeddingNet (the DCASE 'Cnn_9layers' body): 4 double-conv blocks, mean over frequency,
    max over time. Input (batch, 100 frames, 96 mels) → (batch, 512)."""
    import torch
    from torch import nn

    class ConvBlock(nn.Module):
        def __init__(self, cin: int, cout: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

        def forward(self, x, pool):
            x = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
            return nn.functional.max_pool2d(x, kernel_size=pool)

    class EmbeddingNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = WIDTH
            self.conv_block1, self.conv_block2 = ConvBlock(1, w), ConvBlock(w, 2 * w)
            self.conv_block3, self.conv_block4 = ConvBlock(2 * w, 4 * w), ConvBlock(4 * w, 8 * w)

        def forward(self, spec):  # (b, time, mels)
            x = spec.unsqueeze(1)
            x = self.conv_block1(x, (2, 2))
            x = self.conv_block2(x, (2, 2))
            x = self.conv_block3(x, (2, 2))
            x = self.conv_block4(x, (1, 1))  # (b, 512, time', mels')
            return x.mean(dim=3).amax(dim=2)  # (b, 512)

    return EmbeddingNet()


@functools.lru_cache(maxsize=2)
def load_network(device: str = "cpu"):
    """The embedding network with aisfx's weights (its classifier heads are dropped), in eval mode."""
    import torch

    # the checkpoint pickles (state dict, {dataset: (numpy int64 index, n classes)}): allow just those
    # numpy scalar types (saved under numpy 1's module name) besides tensors
    allowed = [(np._core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]
    try:
        with torch.serialization.safe_globals(allowed):
            weights, _datasets = torch.load(checkpoint_path(), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelUnavailable(f"cannot read aisfx's checkpoint ({exc}): reinstall aisfx==0.1.2 --no-deps.") \
            from exc
    prefix = "embedding_net."
    state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    net = build_embedding_net()
    net.load_state_dict(state, strict=True)
    # channels-last convolutions: a quarter less time on CPU, the same outputs to 1e-6
    return net.to(device).eval().to(memory_format=torch.channels_last)


def excerpt_spans(n_samples: int, sr: int, n_excerpts: int = N_EXCERPTS,
                  seconds: float = EXCERPT_SECONDS) -> list[tuple[int, int]]:
    """[(start, stop)] sample ranges: the whole signal when it is short, else n evenly spread excerpts
    (the first at the start, the last ending at the end)."""
    length = int(round(seconds * sr))
    if n_samples <= n_excerpts * length:
        return [(0, n_samples)]
    starts = np.linspace(0, n_samples - length, n_excerpts).round().astype(int)
    return [(int(s), int(s) + length) for s in starts]


def log_mel(y: np.ndarray, sr: int) -> np.ndarray:
    """(frames, 96) float32: aisfx's normalised log-mel spectrogram of mono `y` (resampled to 44.1 kHz)."""
    import librosa

    if sr != MODEL_SR:
        y = librosa.resample(np.asarray(y, np.float32), orig_sr=sr, target_sr=MODEL_SR)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    y = y / (peak if peak > 0 else 1.0)
    mel = librosa.feature.melspectrogram(y=y, sr=MODEL_SR, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
                                         n_mels=N_MELS, fmin=0.0, fmax=MODEL_SR / 2, htk=True, norm=1.0,
                                         power=2.0)  # (96, frames)
    return (np.log10(mel * 10000.0 + 1.0) / SPEC_MAX).T.astype(np.float32)


def spectrogram_blocks(spec: np.ndarray) -> np.ndarray:
    """(n_blocks, 100, 96): consecutive 100-frame blocks (a tail under 100 frames is left out); a
    spectrogram shorter than one block is zero-padded."""
    n = len(spec)
    if n < BLOCK_FRAMES:
        spec = np.vstack([spec, np.zeros((BLOCK_FRAMES - n, spec.shape[1]), spec.dtype)])
        n = BLOCK_FRAMES
    starts = range(0, n - BLOCK_FRAMES + 1, BLOCK_HOP)
    return np.stack([spec[s:s + BLOCK_FRAMES] for s in starts])


class AisfxAudio(BaseExtractor):
    """Mean aisfx embedding over blocks of several excerpts of the clip's audio; None without audio."""

    name = "aisfx"
    modality = "audio"
    dim = DIM
    columns = tuple(f"aisfx_{i}" for i in range(DIM))

    def __init__(self, device: str = "cpu"):
        self.device = resolve_device(device)

    def extract_batch(self, items: list) -> list[np.ndarray | None]:
        return [whole for whole, _ in self.extract_batch_views(items)]

    def extract_batch_views(self, items: list) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        return [self._embed(clip.audio, clip.sample_rate) if clip.has_audio else (None, None) for clip in items]

    def _embed(self, audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(the mean embedding over every block, the mean over the blocks starting in each view)."""
        import torch

        from clipret.features.views import long_enough, mean_by_view, view_labels

        spans = excerpt_spans(len(audio), sr)
        per_span = [spectrogram_blocks(log_mel(audio[a:b], sr)) for a, b in spans]
        blocks = np.concatenate(per_span)  # (n_blocks, 100, 96)
        block_samples = BLOCK_HOP * HOP * sr / MODEL_SR  # a block's hop, in samples of `audio`
        starts = np.concatenate([a + block_samples * np.arange(len(b)) for (a, _), b in zip(spans, per_span,
                                                                                             strict=True)])
        net = load_network(self.device)
        parts = []
        with torch.inference_mode():
            for s in range(0, len(blocks), BATCH_BLOCKS):
                parts.append(net(torch.from_numpy(blocks[s:s + BATCH_BLOCKS]).to(self.device)).cpu().numpy())
        embeddings = np.concatenate(parts)
        labels = view_labels(starts, len(audio)) if long_enough(len(audio) / sr) else None
        return self._finish(embeddings.mean(axis=0)), self._finish_views(mean_by_view(embeddings, labels))
