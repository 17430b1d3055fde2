"""Which space retrieves best on a built index's cached features: blocks alone and together, balanced or not,
the default (neighbours) encoder against the paper's autoencoder; overall, per label, without same-artist hits.

    python -m bench real_music [--data-dir data/realdev] [--collection realdev] [--seeds 3]

Reads the index's manifest for its corpus and profile, retrains every variant from the feature cache (the
genre labels are used only to score), prints the tables and writes artifacts/bench/real_music.json.
`make real-music-eval` builds the real-music dev set's index first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import write_results
from bench.excerpt_set import source_track

METRICS = ("p@10", "map")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench real_music")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("REAL_MUSIC_DATA", "data/realdev")))
    p.add_argument("--collection", default="realdev", help="the alias (or collection) whose index to study")
    p.add_argument("--seeds", type=int, default=3, help="encoders are trained with seeds 0..n-1 and averaged")
    p.add_argument("--name", default="real_music", help="artifacts/bench/<name>.json")
    p.add_argument("--exclude-same-track", action="store_true",
                   help="the excerpt set: leave excerpts of the query's own recording out of its ranking")
    return p.parse_known_args(argv)[0]


def load_index_features(data_dir: Path, collection: str):
    """(settings, profile, TrainingSet, manifest) of the collection's corpus, read from the feature cache."""
    from clipret.config import Settings
    from clipret.embedding.artifacts import read_manifest, resolve_collection
    from clipret.features.profiles import get_profile
    from clipret.indexing.train import load_training_set
    from clipret.sources.corpus import read_clips

    settings = replace(Settings.from_env(), data_dir=data_dir)
    name = resolve_collection(settings, collection)
    manifest = read_manifest(settings, name)
    profile = get_profile(manifest["profile"])
    corpus = Path(manifest["corpus"])
    data = load_training_set(read_clips(corpus), corpus, settings, profile)
    return settings, profile, data, manifest


def media_artists(paths: list[Path]) -> list[str]:
    """The ARTIST tag of each file ("" where there is none): the dev set's only artist information."""
    import av

    artists = []
    for path in paths:
        try:
            with av.open(str(path)) as container:
                tags = {k.lower(): v for k, v in container.metadata.items()}
                for stream in container.streams:
                    tags.update({k.lower(): v for k, v in stream.metadata.items()})
        except (OSError, av.FFmpegError):
            tags = {}
        artists.append(tags.get("artist", "").strip())
    return artists


def fused_input(data, blocks, weighting: str) -> tuple[np.ndarray, object]:
    from clipret.embedding.fusion import FeatureFusion

    fusion = FeatureFusion(blocks, weighting=weighting).fit(data.features)
    return fusion.transform(data.features), fusion


def encoder_space(X: np.ndarray, fusion, encoder: str, n_clips: int, epochs: int, seed: int,
                  views: np.ndarray | None = None) -> tuple:
    """(latent (N, 256), info) of the named encoder trained on X (and the clips' views) as `indexer train` would."""
    from clipret.embedding.autoencoder import Autoencoder
    from clipret.indexing.train import TrainOptions, encoder_settings

    options = TrainOptions(encoder=encoder, epochs=epochs, seed=seed)
    start = time.perf_counter()
    model = Autoencoder(X.shape[1], **encoder_settings(options, n_clips), block_slices=fusion.block_slices_)
    model.fit(X, views if encoder == "contrastive" else None)
    info = {"seconds": round(time.perf_counter() - start, 1), "epochs_run": len(model.loss_history_),
            "best_epoch": model.best_epoch_}
    return model.transform(X), info


def mfcc_baseline(data, profile) -> np.ndarray:
    """13 MFCC means + stds of the 257 audio features, standardised (a plain baseline)."""
    audio = next(b for b in profile.blocks if b.name == "audio")
    wanted = [f"mfcc_{i}_{s}" for i in range(1, 14) for s in ("mean", "std")]
    cols = [audio.columns.index(c) for c in wanted]
    rows = np.stack([f["audio"][cols] if f.get("audio") is not None else np.zeros(len(cols)) for f in data.features])
    return (rows - rows.mean(0)) / np.where(rows.std(0) > 0, rows.std(0), 1)


def study(data, profile, epochs: int, seeds: int) -> tuple[dict, dict, dict]:
    """({space: X}, {space: description}, {encoder: info}): every space the tables of docs/evaluation.md compare."""
    from clipret.embedding.neighbours import knn_overlap
    from clipret.embedding.pca import PCAProjection

    present = [b for b in profile.blocks if any(f.get(b.name) is not None for f in data.features)]
    spaces, notes, infos = {}, {}, {}
    for block in present:
        spaces[f"{block.name} alone"], _ = fused_input(data, [block], "none")
        notes[f"{block.name} alone"] = f"{block.dim} standardised columns"
    X_plain, f_plain = fused_input(data, present, "none")
    X_bal, f_bal = fused_input(data, present, "modality")
    spaces["raw, unweighted"], notes["raw, unweighted"] = X_plain, "every block standardised, concatenated"
    spaces["raw"], notes["raw"] = X_bal, "balanced: each modality scaled to equal weight (default)"
    n_components = min(256, len(X_bal))
    spaces["pca"] = PCAProjection(n_components, 0).fit(X_bal).transform(X_bal)
    notes["pca"] = f"{n_components} components of raw"
    if any(b.name == "audio" for b in present):
        spaces["mfcc 13 means + stds"], notes["mfcc 13 means + stds"] = mfcc_baseline(data, profile), "baseline"
    from clipret.indexing.train import fused_views

    views = fused_views(f_bal, data)
    for encoder, X, fusion in (("neighbours", X_bal, f_bal), ("contrastive", X_bal, f_bal),
                               ("paper", X_plain, f_plain)):
        runs = [encoder_space(X, fusion, encoder, len(X), epochs, seed, views) for seed in range(seeds)]
        for seed, (Z, _) in enumerate(runs):
            spaces[f"fused ({encoder}) seed {seed}"] = Z
        infos[encoder] = {"runs": [info for _, info in runs],
                          "knn10_overlap_with_its_input": [round(knn_overlap(X, Z, 10), 3) for Z, _ in runs]}
    return spaces, notes, infos


def seed_means(result: dict, seeds: int) -> dict:
    """Collapse 'fused (x) seed i' rows into 'fused (x)': the mean and the spread over seeds."""
    out = {}
    for name, metrics in result.items():
        if " seed " not in name:
            out[name] = {m: round(metrics[m], 3) for m in metrics}
            continue
        base = name.split(" seed ")[0]
        if base in out:
            continue
        rows = [result[f"{base} seed {s}"] for s in range(seeds)]
        out[base] = {m: round(float(np.mean([r[m] for r in rows])), 3) for m in metrics}
        out[base].update({f"{m} min..max": [round(min(r[m] for r in rows), 3), round(max(r[m] for r in rows), 3)]
                          for m in METRICS})
    return out


def print_table(title: str, rows: dict) -> None:
    print(f"\n{title}")
    print(f"{'space':<28}" + "".join(f"{m:>9}" for m in ("p@5", "p@10", "ndcg@10", "map")))
    for name, m in rows.items():
        print(f"{name:<28}" + "".join(f"{m.get(k, float('nan')):>9.3f}" for k in ("p@5", "p@10", "ndcg@10", "map")))


def main(argv: list[str] | None = None) -> None:
    from clipret.errors import ClipretError
    from clipret.search.metrics import evaluate_spaces

    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings, profile, data, manifest = load_index_features(args.data_dir, args.collection)
    except ClipretError as exc:
        print(f"skipped: no index '{args.collection}' in {args.data_dir} ({exc}); `make real-music-eval` "
              "builds the real-music dev set's")
        return
    genres = [r.genre for r in data.records]
    epochs = int(manifest["training"]["epochs"])
    spaces, notes, infos = study(data, profile, epochs, args.seeds)
    tracks = [f"{r.genre}/{source_track(Path(r.path).stem)}" for r in data.records]
    same_track = {"artists": tracks, "exclude_same_artist": True} if args.exclude_same_track else {}
    overall = evaluate_spaces(spaces, genres, per_genre=True, **same_track)
    table = seed_means(overall["spaces"], args.seeds)
    per_label = {g: seed_means(s, args.seeds) for g, s in overall["per_genre"].items()}
    artists = media_artists([r.media_path(Path(manifest["corpus"])) for r in data.records])
    known = sum(bool(a) for a in artists)
    results = {"collection": manifest["collection"], "n_clips": len(genres), "genre_counts": overall["genre_counts"],
               "epochs_max": epochs, "seeds": args.seeds, "spaces": table, "notes": notes, "encoders": infos,
               "per_label": per_label, "artists_known": known}
    if args.exclude_same_track:
        results["source_tracks"] = len(set(tracks))
    excluded = f", excerpts of the query's own track ({len(set(tracks))} tracks) left out" if same_track else ""
    print_table(f"{manifest['collection']}: {len(genres)} clips, leave-one-out, relevant = same label{excluded}",
                table)
    if known and not same_track:
        excl = evaluate_spaces(spaces, genres, artists=artists, exclude_same_artist=True)
        results["exclude_same_artist"] = seed_means(excl["spaces"], args.seeds)
        print_table(f"excluding same-artist results ({known} of {len(genres)} clips have an artist tag)",
                    results["exclude_same_artist"])
    for genre, rows in per_label.items():
        keep = {k: v for k, v in rows.items()
                if k in ("raw", "fused (neighbours)", "fused (contrastive)", "fused (paper)", "random")}
        print_table(f"label {genre} ({overall['genre_counts'][genre]} clips)", keep)
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    write_results(args.name, results)


if __name__ == "__main__":
    main()
