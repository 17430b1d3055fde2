"""Train an index from cached features: fusion, autoencoder, PCA, KMeans, 2-D maps → artifacts."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from clipret.config import Settings
from clipret.embedding.artifacts import MANIFEST, artifact_dir
from clipret.errors import ClipretError
from clipret.files import write_json_atomic
from clipret.indexing.cache import cache_path, is_current, load_features, load_fingerprint, load_views
from clipret.indexing.payload import record_payload
from clipret.indexing.versions import FINGERPRINTS, save_fingerprints
from clipret.sources.corpus import ClipRecord
from clipret.store.groups import GROUP_FIELD, ROLE_FIELD

PAPER_EPOCHS = 600  # Table 1 of the paper (821 clips: about 26 batches an epoch)
DEFAULT_EPOCHS = PAPER_EPOCHS  # `train` and `build` of real corpora
# The demo build (`build --from demo`, `make run`): 216 clips, 7 batches an epoch. Measured on its
# cached features (seed 0, fused P@10): 150 epochs 0.473, 300 0.440, 600 0.449 without modality
# dropout; the 8M-parameter autoencoder only memorises 216 clips further (MSE 0.15 → 0.0004). One
# epoch costs about 0.3 CPU-s, so 150 epochs save about 2 of the 10 minutes `make run` may take.
DEMO_EPOCHS = 150
# Blanking one block of a sample with this probability while training. On the demo corpus, fused
# P@10 / mAP without → with it: 150 epochs, mean of seeds 0-2, 0.478 / 0.389 → 0.481 / 0.402
# (p = 0.5: 0.479 / 0.404); 600 epochs, seed 0, 0.449 / 0.371 → 0.469 / 0.390.
DEFAULT_MODALITY_DROPOUT = 0.25
# "contrastive" (default): the residual encoder trained without labels to tie each clip's excerpts (its
# cached views) to one another and to the clip, while keeping the clips' neighbourhoods
# (clipret.embedding.contrastive), stopped early on held-out clips; where no clip has views (every clip
# under 10 s, or a cache from before views) it trains as "neighbours": the same network trained only to
# keep each clip's input-space neighbours (docs/evaluation.md); "paper": the paper's exact pipeline,
# plain concatenation of the standardised blocks and the reconstruction autoencoder, no modality dropout.
ENCODERS = ("contrastive", "neighbours", "paper")
DEFAULT_ENCODER = "contrastive"
# The neighbours encoder (chosen on the dev set and the demo without labels: docs/evaluation.md). It
# trains faster than the paper's (lr 1e-3) and whole neighbourhoods need large batches.
NEIGHBOUR_SETTINGS = {"objective": "neighbours", "architecture": "residual", "hidden": (512,), "lr": 1e-3,
                      "temperature": 0.1, "latent_temperature": 0.1, "weight_decay": 0.0, "noise": 0.0,
                      "validation_fraction": 0.15, "eval_every": 5, "patience": 40}
NEIGHBOUR_BATCH = 256
# Chosen on the excerpt set, the dev set and the demo (docs/evaluation.md): at latent temperature 0.1 the
# excerpts of a clip are told apart too sharply (the demo loses to raw), and without the neighbours term
# the blocks that have no views (lyrics, dynamics), the same in every view, take over the space.
CONTRASTIVE_SETTINGS = {**NEIGHBOUR_SETTINGS, "objective": "contrastive", "latent_temperature": 0.5,
                        "neighbour_weight": 1.0}
MIN_CLIPS = 4  # below this nothing (PCA, KMeans, t-SNE, evaluation) is meaningful


@dataclass(frozen=True)
class TrainOptions:
    """How an index is trained; defaults follow the paper (Table 1) unless stated."""

    epochs: int = DEFAULT_EPOCHS  # the most the encoder trains (the neighbours encoder usually stops early)
    seed: int = 0  # seeds the autoencoder, PCA, KMeans and the 2-D maps
    encoder: str = DEFAULT_ENCODER  # one of ENCODERS
    # probability of blanking one block of a training sample; None: the encoder's own default
    # (DEFAULT_MODALITY_DROPOUT for neighbours, 0 for the paper)
    modality_dropout: float | None = None
    weighting: str | None = None  # fusion block weights (fusion.WEIGHTINGS); None: the encoder's default
    batch_size: int = 32
    lr: float = 1e-4
    latent_dim: int = 256
    pca_components: int = 256  # capped by the number of clips
    map_methods: tuple[str, ...] = ("umap", "tsne", "pca")
    max_k: int = 15  # KMeans elbow over k = 2..max_k (capped by the number of clips)
    epochs_reason: str = "the paper's Table 1"  # recorded in the manifest beside the epochs

    def __post_init__(self):
        """Fill the encoder's defaults in, so the options say (and the manifest records) what is used."""
        if self.encoder not in ENCODERS:
            raise ClipretError(f"Unknown encoder {self.encoder!r}: choose one of {', '.join(ENCODERS)}.")
        if self.modality_dropout is None:
            object.__setattr__(self, "modality_dropout",
                               0.0 if self.encoder == "paper" else DEFAULT_MODALITY_DROPOUT)
        if self.weighting is None:
            from clipret.embedding.fusion import DEFAULT_WEIGHTING

            object.__setattr__(self, "weighting", "none" if self.encoder == "paper" else DEFAULT_WEIGHTING)


@dataclass
class TrainingSet:
    """The clips that have features, in corpus order, and the ones that do not (with reasons)."""

    records: list[ClipRecord]
    features: list[dict[str, np.ndarray | None]]
    durations: list[float]
    skipped: dict[str, str] = field(default_factory=dict)
    fingerprints: list[np.ndarray | None] = field(default_factory=list)  # Chromaprint, None where there is none
    views: list[dict[str, np.ndarray]] = field(default_factory=list)  # {block: (N_VIEWS, dim)} where cached


@dataclass
class TrainedIndex:
    collection: str
    directory: Path
    manifest: dict[str, Any]


def new_collection_name(settings: Settings, alias: str) -> str:
    """`<alias>_<UTC timestamp>`; names sort by build time (ClipStore.prune relies on it)."""
    base = f"{alias}_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    name, n = base, 1
    while artifact_dir(settings, name).exists():
        name, n = f"{base}_{n}", n + 1
    return name


def load_training_set(records: Sequence[ClipRecord], corpus_dir: str | Path, settings: Settings,
                      profile) -> TrainingSet:
    """Read the cached features of `records`; a clip without a current cache entry is skipped."""
    names = tuple(b.name for b in profile.blocks)
    out = TrainingSet([], [], [])
    for record in records:
        media = record.media_path(corpus_dir)
        path = cache_path(settings.features_dir, profile.name, record.clip_id)
        if not media.is_file():
            out.skipped[record.clip_id] = f"media file not found: {media}"
        elif not path.is_file():
            out.skipped[record.clip_id] = "no features (extraction failed or was not run)"
        elif not is_current(path, media, record.lyrics, profile.name).current:
            out.skipped[record.clip_id] = "features are stale (media or lyrics changed): run extract again"
        else:
            features, duration = load_features(path, names)
            out.records.append(record)
            out.features.append(features)
            out.durations.append(duration)
            out.fingerprints.append(load_fingerprint(path))
            out.views.append(load_views(path, names))
    return out


def train_index(settings: Settings, records: Sequence[ClipRecord], corpus_dir: str | Path, *,
                profile: str | None = None, alias: str | None = None,
                options: TrainOptions = TrainOptions(), progress: bool = True) -> TrainedIndex:
    """Fit everything on the cached features of `records` and write the artifacts of a new collection."""
    from clipret.features.profiles import get_profile

    prof = get_profile(profile or settings.profile)
    alias = alias or settings.collection
    data = load_training_set(records, corpus_dir, settings, prof)
    if len(data.records) < MIN_CLIPS:
        raise ClipretError(f"Only {len(data.records)} clips have features (need {MIN_CLIPS}+): run "
                           f"`clipret extract` first. Skipped: {_first(data.skipped)}")
    timings: dict[str, float] = {}
    models, spaces = _fit_models(data, prof, options, timings, progress)
    analysis = _analyse(spaces, options, timings)
    timings["evaluate"], evaluation = _timed(lambda: _evaluate(spaces, data.records))
    name = new_collection_name(settings, alias)
    payloads = clip_payloads(data, Path(corpus_dir), analysis, prof.name, settings)
    manifest = _manifest(name, alias, prof, data, options, models, analysis, evaluation, timings, corpus_dir)
    manifest["versions"].update(group_counts(payloads))
    directory = _write_artifacts(settings, name, models, analysis, spaces, data, payloads, manifest)
    return TrainedIndex(name, directory, manifest)


def encoder_settings(options: TrainOptions, n_clips: int) -> dict[str, Any]:
    """The Autoencoder's keyword arguments for options.encoder."""
    common = {"latent_dim": options.latent_dim, "epochs": options.epochs, "seed": options.seed,
              "modality_dropout": options.modality_dropout}
    if options.encoder == "paper":
        return {**common, "objective": "reconstruction", "batch_size": options.batch_size, "lr": options.lr}
    settings = CONTRASTIVE_SETTINGS if options.encoder == "contrastive" else NEIGHBOUR_SETTINGS
    return {**common, **settings, "batch_size": min(NEIGHBOUR_BATCH, max(n_clips, 1))}


def _fit_models(data: TrainingSet, prof, options: TrainOptions, timings: dict, progress: bool):
    from clipret.embedding.autoencoder import Autoencoder
    from clipret.embedding.contrastive import distinct_views
    from clipret.embedding.fusion import FeatureFusion
    from clipret.embedding.pca import PCAProjection

    start = time.monotonic()
    fusion = FeatureFusion(prof.blocks, weighting=options.weighting).fit(data.features)
    X = fusion.transform(data.features)  # (N, D) standardised and weighted, missing block = 0
    timings["fuse"] = time.monotonic() - start
    settings, trained = encoder_settings(options, len(X)), options.encoder
    views = fused_views(fusion, data) if settings["objective"] == "contrastive" else None
    # No clip has excerpts (every clip under 10 s, or a cache from before views): train as "neighbours".
    if views is not None and not distinct_views(views).any():
        trained, views = "neighbours", None
        settings = encoder_settings(replace(options, encoder=trained), len(X))
    ae = Autoencoder(X.shape[1], **settings, block_slices=fusion.block_slices_, progress=progress)
    timings["autoencoder"], _ = _timed(lambda: ae.fit(X, views))
    Z = ae.transform(X)  # (N, latent)
    timings["pca"], pca = _timed(lambda: PCAProjection(options.pca_components, options.seed).fit(X))
    spaces = {"fused": Z, "raw": X, "pca": pca.transform(X), **fusion.modality_vectors(X)}
    return {"fusion": fusion, "autoencoder": ae, "pca": pca, "encoder_trained": trained}, spaces


def fused_views(fusion, data: TrainingSet) -> np.ndarray:
    """(N, N_VIEWS, D): every clip's cached views, fused as its features are."""
    from clipret.features.views import N_VIEWS

    views = data.views or [{} for _ in data.features]
    return fusion.transform_views(data.features, views, N_VIEWS)[0]


def _analyse(spaces: dict[str, np.ndarray], options: TrainOptions, timings: dict) -> dict[str, Any]:
    """KMeans (elbow) and the 2-D maps of the fused space; PCA maps of the raw and pca spaces."""
    from clipret.embedding.analysis import elbow_kmeans, maps_2d

    n = len(spaces["fused"])
    k_range = range(2, max(3, min(options.max_k + 1, n)))
    timings["kmeans"], kmeans = _timed(lambda: elbow_kmeans(spaces["fused"], k_range, seed=options.seed))
    start = time.monotonic()
    maps = {f"map_{m}": xy for m, xy in maps_2d(spaces["fused"], methods=options.map_methods,
                                                 seed=options.seed).items()}
    maps["map_raw_pca"] = maps_2d(spaces["raw"], methods=("pca",), seed=options.seed)["pca"]
    maps["map_pca_pca"] = maps_2d(spaces["pca"], methods=("pca",), seed=options.seed)["pca"]
    timings["maps"] = time.monotonic() - start
    return {"kmeans": kmeans, "maps": maps}


def _evaluate(spaces: dict[str, np.ndarray], records: Sequence[ClipRecord]) -> dict[str, Any]:
    from clipret.indexing.evaluate import ordered
    from clipret.search.metrics import evaluate_spaces

    result = evaluate_spaces(spaces, [r.genre for r in records], per_genre=True)
    result["spaces"] = ordered(result["spaces"])
    return result


def clip_payloads(data: TrainingSet, corpus_dir: Path, analysis: dict[str, Any], profile: str,
                  settings: Settings) -> list[dict]:
    """The Qdrant payload of every clip (DESIGN.md: Qdrant)."""
    from clipret.indexing.versions import version_groups

    labels = analysis["kmeans"].labels
    ids = [r.clip_id for r in data.records]
    groups = version_groups(dict(zip(ids, data.fingerprints, strict=True)),
                            dict(zip(ids, data.durations, strict=True)))
    payloads = []
    for i, (record, duration) in enumerate(zip(data.records, data.durations, strict=True)):
        payload = record_payload(record, corpus_dir, profile, duration, settings)
        payload[GROUP_FIELD], payload[ROLE_FIELD] = groups[record.clip_id]
        payload["cluster"] = int(labels[i])
        payload.update({key: [float(x) for x in xy[i]] for key, xy in analysis["maps"].items()})
        payloads.append(payload)
    return payloads


def _manifest(name, alias, prof, data, options, models, analysis, evaluation, timings, corpus_dir) -> dict:
    ae, pca, kmeans = models["autoencoder"], models["pca"], analysis["kmeans"]
    losses = [float(x) for x in getattr(ae, "loss_history_", [])]
    genres: dict[str, int] = {}
    for record in data.records:
        genres[record.genre] = genres.get(record.genre, 0) + 1
    sizes = {"fused": options.latent_dim, "raw": models["fusion"].dim, "pca": pca.dim}
    sizes.update({m: int(v.shape[1]) for m, v in models["fusion"].modality_vectors(
        np.zeros((1, models["fusion"].dim), np.float32)).items()})
    return {
        "collection": name, "alias": alias, "profile": prof.name,
        "blocks": [{"name": b.name, "modality": b.modality, "dim": int(b.dim)} for b in prof.blocks],
        "vector_sizes": sizes, "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": str(Path(corpus_dir).resolve()), "n_clips": len(data.records), "genres": genres,
        "skipped": data.skipped,
        "training": {**asdict(options), "final_loss": losses[-1] if losses else None, "loss_history": losses,
                     "encoder_settings": {k: v for k, v in ae.config().items() if k != "block_slices"},
                     "clips_with_views": sum(bool(v) for v in data.views),
                     "encoder_trained": models["encoder_trained"],  # "neighbours" where no clip has views
                     "epochs_run": len(losses), "best_epoch": getattr(ae, "best_epoch_", len(losses)),
                     "validation_history": getattr(ae, "validation_history_", []),
                     "seconds_per_epoch": timings["autoencoder"] / max(1, len(losses))},
        "fusion": {"weighting": models["fusion"].weighting,
                   "block_weights": dict(models["fusion"].block_weights_)},
        "pca": {"n_components": pca.dim,
                "explained_variance": float(np.sum(pca.explained_variance_ratio_))},
        "kmeans": {"k": int(kmeans.k), "inertias": {str(k): float(v) for k, v in kmeans.inertias.items()}},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "evaluation": evaluation, "packages": package_versions(), "versions": versions_summary(data),
    }


def group_counts(payloads: list[dict]) -> dict[str, int]:
    """{"groups": songs with more than one version, "versions": the clips in them}."""
    from collections import Counter

    sizes = Counter(p[GROUP_FIELD] for p in payloads)
    return {"groups": sum(n > 1 for n in sizes.values()), "versions": sum(n for n in sizes.values() if n > 1)}


def versions_summary(data: TrainingSet) -> dict[str, Any]:
    """How many clips were fingerprinted and grouped (what `info` and the Index page report)."""
    from clipret.features.fingerprint import fingerprint_unavailable

    return {"fingerprinted": sum(fp is not None for fp in data.fingerprints),
            "chromaprint": "missing" if fingerprint_unavailable() else "ok"}


def package_versions() -> dict[str, str]:
    from importlib import metadata

    import clipret

    versions = {"clipret": clipret.__version__}
    for name in ("torch", "numpy", "scikit-learn", "umap-learn", "librosa", "av", "timm",
                 "sentence-transformers", "transformers", "qdrant-client"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _write_artifacts(settings, name, models, analysis, spaces, data, payloads, manifest) -> Path:
    """Write into a temporary folder, then rename: a crash never leaves a half-written index."""
    final = artifact_dir(settings, name)
    tmp = final.parent / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        models["fusion"].save(tmp / "fusion")
        save_fingerprints(tmp / FINGERPRINTS, {r.clip_id: fp for r, fp in zip(data.records, data.fingerprints,
                                                                               strict=True)})
        models["autoencoder"].save(tmp / "autoencoder")
        models["pca"].save(tmp / "pca")
        np.savez(tmp / "kmeans.npz", centers=np.asarray(analysis["kmeans"].centers, np.float32))
        np.savez(tmp / "embeddings.npz", clip_ids=np.array([r.clip_id for r in data.records]),
                 **{k: np.asarray(v, np.float32) for k, v in spaces.items()})
        write_json_atomic(tmp / "payloads.json", payloads)
        write_json_atomic(tmp / MANIFEST, manifest)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _timed(fn):
    start = time.monotonic()
    result = fn()
    return time.monotonic() - start, result


def _first(skipped: dict[str, str], n: int = 3) -> str:
    items = [f"{k} ({v})" for k, v in list(skipped.items())[:n]]
    return "; ".join(items) + (" …" if len(skipped) > n else "") if items else "none"
