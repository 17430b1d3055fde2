"""The one registry of feature extractors: name → class, and the process-wide instance of each."""

from __future__ import annotations

import functools

from clipret.errors import ClipretError
from clipret.features.audio import LibrosaAudio
from clipret.features.base import BaseExtractor, Extractor
from clipret.features.dynamics import Dynamics
from clipret.features.learned_audio import AisfxAudio
from clipret.features.lyrics import BertCLS, MiniLM
from clipret.features.video import EfficientNetLite0, SlowR50

# name -> class; a new backbone is one class and one entry here.
EXTRACTORS: dict[str, type[BaseExtractor]] = {
    cls.name: cls for cls in (LibrosaAudio, AisfxAudio, EfficientNetLite0, SlowR50, Dynamics, MiniLM, BertCLS)
}


@functools.cache
def get_extractor(name: str, device: str = "cpu") -> Extractor:
    """The process-wide extractor `name` on `device` (its model loads on first use, once)."""
    try:
        cls = EXTRACTORS[name]
    except KeyError:
        raise ClipretError(f"Unknown feature extractor {name!r}; known: {', '.join(EXTRACTORS)}.") from None
    return cls(device=device)
