"""The vocabulary of an index's vector spaces: what can be searched, the per-modality vectors, and how
modality weights are written ("audio:1,video:0.5": in share links and on the command line)."""

import math
import re

SPACES = ("fused", "raw", "pca")  # the searchable spaces: autoencoder latent and the two baselines
MODALITIES = ("audio", "video", "lyrics")  # the per-modality named vectors every profile stores


def parse_weights(text: str) -> tuple[tuple[str, float], ...]:
    """"audio:1,video:0.5" → (("audio", 1.0), ("video", 0.5)); malformed or negative entries are dropped,
    weights above 1 are capped at 1, and all-zero weights mean no weights."""
    pairs: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition(":")
        name = name.strip().lower()
        try:
            weight = float(value)
        except ValueError:
            continue
        if re.fullmatch(r"[a-z][a-z0-9_]*", name) and math.isfinite(weight) and weight >= 0:
            pairs[name] = min(weight, 1.0)
    if not any(pairs.values()):
        return ()
    return tuple(pairs.items())
