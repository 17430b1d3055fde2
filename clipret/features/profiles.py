"""Extractor profiles: which extractor fills each feature block, in which order, from which decode.

`paper` is the seed's exact models (hub weights, internet needed once); `portable`, the default,
runs anywhere with nothing but `pip install`. An index records its profile, and a query is always
embedded with the profile that built the index it searches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clipret.errors import ClipretError
from clipret.media.decode import DecodedClip, DecodeOptions


@dataclass(frozen=True)
class BlockSpec:
    """One block of the fused feature vector."""

    name: str  # "audio", "video", "dynamics", "lyrics" (unique within a profile)
    modality: str  # "audio" | "video" | "lyrics" (dynamics is a "video" block)
    dim: int
    columns: tuple[str, ...]  # one name per value


@dataclass(frozen=True)
class Profile:
    """A fixed block layout and the decode that feeds its extractors."""

    name: str  # "portable" | "paper"
    version: int  # bumped when the layout or an extractor changes: cached features of another version are stale
    blocks: tuple[BlockSpec, ...]  # fixed order = concatenation order
    decode_options: DecodeOptions  # what decode() must produce for this profile's extractors

    @property
    def dim(self) -> int:
        return sum(block.dim for block in self.blocks)


# profile -> ((block name, extractor name), ...) in concatenation order
_LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    # v2: + aisfx, a pretrained audio CNN (real-music dev set, P@10 of the portable space 0.356 → 0.418)
    # v3: aisfx blocks side by side instead of overlapping by half (half its time at real length)
    "portable": (("audio", "librosa_257"), ("aisfx", "aisfx"), ("video", "efficientnet_lite0"),
                 ("dynamics", "dynamics"), ("lyrics", "minilm")),
    "paper": (("audio", "librosa_257"), ("video", "slow_r50"), ("lyrics", "bert_cls")),
}
_VERSIONS = {"portable": 3, "paper": 1}
_DECODE_OPTIONS = {
    # 16 evenly spaced single frames for the 2-D CNN; dense 8 fps thumbs for cuts and motion
    "portable": DecodeOptions(n_segments=16, frames_per_segment=1, segment_stride=1, short_side=256,
                              thumb_fps=8.0),
    # slow_r50's 8x8 input: 4 evenly spaced clips of 8 frames, every 8th frame; no dynamics block
    "paper": DecodeOptions(n_segments=4, frames_per_segment=8, segment_stride=8, short_side=256,
                           thumb_fps=1.0),
}


def profile_names() -> list[str]:
    return list(_LAYOUTS)


def profile_version(name: str) -> int:
    """The layout version of profile `name` (1 for an unknown name: the cache then keys on the name alone)."""
    return _VERSIONS.get(name, 1)


def layout(name: str) -> tuple[tuple[str, str], ...]:
    """((block name, extractor name), ...) of profile `name`, in concatenation order."""
    get_profile(name)  # a clear error for an unknown name
    return _LAYOUTS[name]


def get_profile(name: str) -> Profile:
    """The profile `name`; ClipretError naming the known ones otherwise."""
    from clipret.features.registry import EXTRACTORS

    if name not in _LAYOUTS:
        raise ClipretError(f"Unknown profile {name!r}; choose one of: {', '.join(_LAYOUTS)}.")
    blocks = []
    for block, extractor in _LAYOUTS[name]:
        cls = EXTRACTORS[extractor]
        blocks.append(BlockSpec(name=block, modality=cls.modality, dim=cls.dim, columns=tuple(cls.columns)))
    return Profile(name=name, version=_VERSIONS[name], blocks=tuple(blocks), decode_options=_DECODE_OPTIONS[name])


def extract_clip(decoded: DecodedClip | None, lyrics: str, profile: Profile | str, device: str = "cpu",
                 modalities: tuple[str, ...] | None = None) -> dict[str, np.ndarray | None]:
    """{block name: (dim,) float32, or None where the modality is missing} for one clip (only the blocks
    of `modalities` when given: a query extracts its audio and its video blocks in parallel; `decoded` may
    then be None when only the lyrics are asked for)."""
    return extract_clips([(decoded, lyrics)], profile, device, modalities)[0]


def extract_clips(items: list[tuple[DecodedClip, str]], profile: Profile | str, device: str = "cpu",
                  modalities: tuple[str, ...] | None = None) -> list[dict[str, np.ndarray | None]]:
    """extract_clip for many clips, each neural extractor running batched forward passes over all of them."""
    return [features for features, _ in _extract(items, profile, device, modalities, with_views=False)]


def extract_clip_views(decoded: DecodedClip, lyrics: str, profile: Profile | str, device: str = "cpu"
                       ) -> tuple[dict[str, np.ndarray | None], dict[str, np.ndarray]]:
    """extract_clip's blocks and their views ({block: (N_VIEWS, dim)} of the blocks that have them:
    clipret.features.views), what the index's feature cache keeps."""
    return _extract([(decoded, lyrics)], profile, device, None, with_views=True)[0]


def _extract(items: list[tuple[DecodedClip, str]], profile: Profile | str, device: str,
             modalities: tuple[str, ...] | None, with_views: bool):
    from clipret.features.registry import EXTRACTORS, get_extractor

    profile = get_profile(profile) if isinstance(profile, str) else profile
    results: list[tuple[dict[str, np.ndarray | None], dict[str, np.ndarray]]] = [({}, {}) for _ in items]
    for block, extractor_name in _LAYOUTS[profile.name]:
        if modalities is not None and EXTRACTORS[extractor_name].modality not in modalities:
            continue
        extractor = get_extractor(extractor_name, device)
        is_text = extractor.modality == "lyrics"
        inputs = [(lyrics or "") if is_text else decoded for decoded, lyrics in items]
        outputs = (extractor.extract_batch_views(inputs) if with_views
                   else [(vector, None) for vector in extractor.extract_batch(inputs)])
        for (features, views), (vector, block_views) in zip(results, outputs, strict=True):
            features[block] = vector
            if block_views is not None:
                views[block] = block_views
    return results
