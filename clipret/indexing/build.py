"""The whole chain in one call: corpus → extract → train → push → evaluate, with a summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipret.config import Settings
from clipret.errors import ClipretError
from clipret.indexing.train import TrainOptions
from clipret.sources.corpus import read_clips

SOURCES = ("demo", "folder", "playlists", "corpus")
DEMO_PER_GENRE = 24  # DESIGN.md: the demo index is about 9 genres × 24 clips × 20 s
DEMO_SECONDS = 20.0


def default_epochs(source: str | None) -> tuple[int, str]:
    """(autoencoder epochs, why) for a build from `source` (None: `train` on any corpus)."""
    from clipret.indexing.train import DEFAULT_EPOCHS, DEMO_EPOCHS

    if source == "demo":
        return DEMO_EPOCHS, ("demo default: on the 216-clip demo corpus 150 epochs retrieve as well as the "
                             "paper's 600 and keep `make run` within its 10 minutes (--epochs 600 for the paper)")
    return DEFAULT_EPOCHS, "the paper's Table 1"


@dataclass
class BuildSummary:
    collection: str
    corpus_dir: str
    n_corpus: int  # clips in the corpus
    n_indexed: int  # clips in the new collection
    skipped: dict[str, str] = field(default_factory=dict)  # clip_id → why it is not indexed
    timings: dict[str, float] = field(default_factory=dict)  # stage → seconds
    evaluation: dict[str, Any] = field(default_factory=dict)  # evaluate --json's object
    notes: list[str] = field(default_factory=list)  # sources left out before the corpus (downloads, files)


def prepare_corpus(settings: Settings, source: str, path: str | Path | None = None, *,
                   per_genre: int = DEMO_PER_GENRE, seconds: float = DEMO_SECONDS, seed: int = 0,
                   workers: int = 1, progress: bool = True) -> tuple[Path, list[str]]:
    """(the corpus folder for `source`, notes on what was left out); the folder is created under
    corpora_dir, or reused when already complete."""
    if source == "demo":
        out = Path(path) if path else settings.corpora_dir / f"demo-{per_genre}x{seconds:g}s-seed{seed}"
        if not _complete(out):
            from clipret.sources.demo import generate_demo_corpus

            generate_demo_corpus(out, per_genre=per_genre, seconds=seconds, seed=seed, workers=workers,
                                 progress=progress)
        return out, []
    if path is None:
        raise ClipretError(f"build --from {source} needs --path (a folder, a CSV or a corpus folder).")
    if source == "folder":
        from clipret.sources.folder import corpus_from_folder, slug

        out = settings.corpora_dir / slug(Path(path).resolve().name)
        corpus = corpus_from_folder(path, out)
        return out, [f"{p}: {why}" for p, why in corpus.ignored]
    if source == "playlists":
        from clipret.sources.playlists import download_playlists

        out = settings.corpora_dir / "playlists"
        return out, download_playlists(path, out, progress=progress).failures
    if source == "corpus":
        return Path(path), []
    raise ClipretError(f"Unknown source {source!r}: choose one of {', '.join(SOURCES)}.")


def build_index(settings: Settings, source: str = "demo", path: str | Path | None = None, *,
                per_genre: int = DEMO_PER_GENRE, seconds: float = DEMO_SECONDS, profile: str | None = None,
                workers: int = 1, options: TrainOptions | None = None, alias: str | None = None,
                progress: bool = True, engine: str = "local", ray_address: str | None = None) -> BuildSummary:
    """Build a new collection and move the alias to it; on any failure the alias stays where it was.

    `engine` extracts: "local" (a process pool here) or "ray" (Ray at `ray_address`, or started here)."""
    from clipret.indexing.engines import extract_with_engine
    from clipret.indexing.evaluate import evaluate_serving, headline
    from clipret.indexing.push import push_index
    from clipret.indexing.train import train_index
    from clipret.store import ClipStore

    if options is None:
        epochs, reason = default_epochs(source)
        options = TrainOptions(epochs=epochs, epochs_reason=reason)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    corpus_dir, notes = prepare_corpus(settings, source, path, per_genre=per_genre, seconds=seconds,
                                seed=options.seed, workers=workers, progress=progress)
    records = read_clips(corpus_dir)
    timings["corpus"], clock = _lap(clock)
    report = extract_with_engine(engine, records, corpus_dir, settings, ray_address=ray_address,
                                 profile=profile, workers=workers, progress=progress)
    timings["extract"], clock = _lap(clock)
    trained = train_index(settings, records, corpus_dir, profile=profile, alias=alias, options=options,
                          progress=progress)
    timings["train"], clock = _lap(clock)
    with ClipStore(settings) as store:
        push_index(store, settings, trained.collection, alias=alias, progress=progress)
        timings["push"], clock = _lap(clock)
        result = evaluate_serving(store, settings, alias)
        timings["evaluate"], clock = _lap(clock)
    skipped = {**report.failed, **trained.manifest.get("skipped", {})}
    return BuildSummary(trained.collection, str(corpus_dir), len(records), trained.manifest["n_clips"],
                        skipped, timings, headline(result), notes)


def format_summary(summary: BuildSummary) -> str:
    from clipret.indexing.evaluate import format_table

    lines = [f"Built {summary.collection}: {summary.n_indexed} of {summary.n_corpus} clips indexed "
             f"(corpus {summary.corpus_dir})."]
    if summary.notes:
        lines.append(f"Not in the corpus ({len(summary.notes)}):")
        lines += [f"  {note}" for note in summary.notes]
    if summary.skipped:
        lines.append(f"Skipped {len(summary.skipped)}:")
        lines += [f"  {clip_id}: {why}" for clip_id, why in sorted(summary.skipped.items())]
    lines.append("Time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.timings.items())
                 + f" (total {sum(summary.timings.values()):.1f} s)")
    lines.append("Evaluation (leave-one-out, relevant = same genre):")
    lines.append(format_table(summary.evaluation.get("spaces", {})))
    return "\n".join(lines)


def _complete(corpus_dir: Path) -> bool:
    """A corpus folder whose records and media all exist (a crashed generation is redone)."""
    try:
        records = read_clips(corpus_dir)
    except ClipretError:
        return False
    return bool(records) and all(r.media_path(corpus_dir).is_file() for r in records)


def _lap(start: float) -> tuple[float, float]:
    now = time.monotonic()
    return round(now - start, 3), now
