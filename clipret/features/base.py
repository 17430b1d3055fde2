"""The one small interface every feature extractor has, and helpers they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Concept:
    """Words a person might type for what one output column measures: a text query that matches
    `phrase` asks for clips high on that column (sign +1) or low on it (sign -1)."""

    phrase: str  # "grand piano", "fast tempo"
    column: int  # index into the extractor's output
    sign: float = 1.0
    measure: str = ""  # the column's name when the phrase describes a measurement ("bpm"); "" for a class


@runtime_checkable
class Extractor(Protocol):
    """Turns one clip's modality into a fixed-size float32 vector, or None when it is missing.

    Audio and video extractors take a `clipret.media.decode.DecodedClip`; lyrics extractors take a str.
    """

    name: str  # registry key, e.g. "efficientnet_lite0"
    modality: str  # "audio" | "video" | "lyrics"
    dim: int
    columns: tuple[str, ...]  # one name per output value, len == dim

    def extract(self, item: Any) -> np.ndarray | None: ...

    def extract_batch(self, items: list[Any]) -> list[np.ndarray | None]: ...


class BaseExtractor:
    """Default `extract_batch` (one item at a time) and output checks; neural extractors batch.

    A subclass overrides `extract` (numpy extractors) or `extract_batch` (neural ones), and gets the other.
    """

    name: str = ""
    modality: str = ""
    dim: int = 0
    columns: tuple[str, ...] = ()

    @classmethod
    def concepts(cls) -> tuple[Concept, ...]:
        """The named things this extractor's columns measure, for text search (none by default: a
        learned embedding's columns have no names)."""
        return ()

    def extract(self, item: Any) -> np.ndarray | None:
        return self.extract_batch([item])[0]

    def extract_batch(self, items: list[Any]) -> list[np.ndarray | None]:
        return [self.extract(item) for item in items]

    def extract_views(self, item: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(the whole-clip vector, its views: (N_VIEWS, dim) or None; clipret.features.views). An extractor
        whose columns have a meaning over an excerpt overrides this or extract_batch_views; by default a
        block has no views."""
        return self.extract_batch_views([item])[0]

    def extract_batch_views(self, items: list[Any]) -> list[tuple[np.ndarray | None, np.ndarray | None]]:
        if type(self).extract_views is not BaseExtractor.extract_views:
            return [self.extract_views(item) for item in items]
        return [(vector, None) for vector in self.extract_batch(items)]

    def _finish(self, vector: np.ndarray) -> np.ndarray:
        """(dim,) float32 with every non-finite value replaced, so a freak input never poisons an index."""
        vector = np.nan_to_num(np.asarray(vector, dtype=np.float64).reshape(-1), nan=0.0,
                               posinf=0.0, neginf=0.0).astype(np.float32)
        if vector.shape != (self.dim,):
            raise ValueError(f"{self.name}: produced {vector.shape[0]} values, expected {self.dim}.")
        return vector

    def _finish_views(self, views: np.ndarray | None) -> np.ndarray | None:
        """(N_VIEWS, dim) float32, each row checked as _finish checks a vector; None stays None."""
        return None if views is None else np.stack([self._finish(row) for row in views])


def descriptor_concepts(columns: tuple[str, ...], descriptors: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
                        ) -> tuple[Concept, ...]:
    """Concepts from {column name: (words for a high value, words for a low value)}."""
    concepts = []
    for name, (high, low) in descriptors.items():
        column = columns.index(name)
        concepts += [Concept(p, column, 1.0, name) for p in high] + [Concept(p, column, -1.0, name) for p in low]
    return tuple(concepts)


def resolve_device(device: str) -> str:
    """'cpu', 'cuda' or 'cuda:N'; a clear error instead of a torch traceback for anything else."""
    if device == "cpu" or device == "cuda" or device.startswith("cuda:"):
        return device
    raise ValueError(f"device must be 'cpu' or 'cuda' (got {device!r}).")


def host_reachable(host: str, port: int = 443, timeout_s: float = 3.0) -> bool:
    """Whether a TCP connection to host:port opens within timeout_s: a model download is worth trying.

    Offline machines fail here in at most timeout_s, instead of hanging in a download library's
    retries. Behind an HTTPS proxy only the proxy can tell, so then the download is tried.
    """
    import os
    import socket

    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
