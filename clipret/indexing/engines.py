"""Which engine extracts: `local` (a process pool on this machine) or `ray` (a Ray cluster, or Ray here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clipret.config import Settings
from clipret.errors import ClipretError
from clipret.indexing.extract import ExtractReport
from clipret.sources.corpus import ClipRecord

ENGINES = ("local", "ray")


def extract_with_engine(engine: str, records: Sequence[ClipRecord], corpus_dir: str | Path, settings: Settings,
                        *, ray_address: str | None = None, **kwargs) -> ExtractReport:
    """extract_corpus on `engine`; kwargs are extract_corpus's (profile, workers, timeout_s, shard, ...)."""
    if engine == "local":
        if ray_address:
            raise ClipretError("--ray-address needs --engine ray (the local engine runs on this machine).")
        from clipret.indexing.extract import extract_corpus

        return extract_corpus(records, corpus_dir, settings, **kwargs)
    if engine == "ray":
        from clipret.indexing.ray_engine import RayOptions, extract_corpus_ray

        return extract_corpus_ray(records, corpus_dir, settings, options=RayOptions(address=ray_address),
                                  **kwargs)
    raise ClipretError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
