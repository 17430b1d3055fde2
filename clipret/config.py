"""Deployment settings (paths, URLs, keys) read from the environment, and the data-dir layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROFILE = "portable"
DEFAULT_COLLECTION = "clips"


@dataclass(frozen=True)
class Settings:
    """Where clipret keeps its data and which store it talks to."""

    data_dir: Path = Path("data")  # everything generated: corpora, feature cache, models, embedded Qdrant
    profile: str = DEFAULT_PROFILE  # extractor profile used when building a new index
    collection: str = DEFAULT_COLLECTION  # Qdrant alias the app serves and the indexer moves
    qdrant_url: str | None = None  # a Qdrant server; None = embedded store under data_dir/qdrant
    qdrant_api_key: str | None = None  # only with qdrant_url
    public_url: str | None = None  # base of share links, e.g. https://clipret.example.org

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))  # accept str too

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read CLIPRET_DATA_DIR, CLIPRET_PROFILE, CLIPRET_COLLECTION, QDRANT_URL, QDRANT_API_KEY,
        CLIPRET_PUBLIC_URL; unset or empty values keep the defaults."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            data_dir=Path(get("CLIPRET_DATA_DIR") or "data"),
            profile=get("CLIPRET_PROFILE") or DEFAULT_PROFILE,
            collection=get("CLIPRET_COLLECTION") or DEFAULT_COLLECTION,
            qdrant_url=get("QDRANT_URL"),
            qdrant_api_key=get("QDRANT_API_KEY"),
            public_url=get("CLIPRET_PUBLIC_URL"),
        )

    # The data-dir layout, in one place.
    @property
    def corpora_dir(self) -> Path:
        return self.data_dir / "corpora"  # <name>/clips.jsonl + <name>/media/

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "features"  # <profile>/<clip_id>.npz, the per-clip cache

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"  # <collection>/manifest.json + fitted models

    def stored_media_path(self, path: str | Path) -> str:
        """How a payload records a media file: relative to the data dir when inside it, so an index
        still plays its clips when the data dir is mounted elsewhere (Docker's /data)."""
        path = Path(path).resolve()
        try:
            return str(path.relative_to(self.data_dir.resolve()))
        except ValueError:
            return str(path)

    def media_file(self, stored: str) -> Path:
        """The file a payload's media_path names (the inverse of stored_media_path)."""
        path = Path(stored)
        return path if path.is_absolute() else self.data_dir / path

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"  # the embedded store's folder
