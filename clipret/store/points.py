"""A stored clip: its point id, the vectors and payload to store, and a hit as a search returns it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_NAMESPACE = uuid.UUID("6c1b7a52-4d0f-5c55-9b8e-2f3c1e0a9d41")  # fixed: point ids are stable across builds


def point_id(clip_id: str) -> str:
    """The Qdrant point id of a clip: UUID5 of its clip id."""
    return str(uuid.uuid5(_NAMESPACE, clip_id))


@dataclass
class ClipPoint:
    """One clip to store: its named vectors and payload."""

    clip_id: str
    vectors: dict[str, np.ndarray]  # vector name -> (d,)
    payload: dict[str, Any]


@dataclass
class Hit:
    """One stored clip as a search returns it."""

    clip_id: str
    score: float
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray] | None = field(default=None, repr=False)
