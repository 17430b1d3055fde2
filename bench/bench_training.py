"""Training-stage cost at the demo corpus's size: autoencoder epochs, embedding, elbow, maps, evaluation."""

from __future__ import annotations

import time

import numpy as np

from bench.common import best_of, write_results

N_CLIPS = 216  # the demo corpus: 9 genres x 24 clips
INPUT_DIMS = {"portable": 2165, "paper": 1425}  # fused D of each profile (portable v2: 257 + 512 + 1000 + 12 + 384)
EPOCHS_TIMED = 3


def bench_autoencoder(X: np.ndarray) -> dict:
    """Seconds per epoch (best of 3 fits), the 600-epoch projection, and embedding times."""
    from clipret.embedding.autoencoder import Autoencoder

    def fit_seconds(epochs: int, **kw) -> float:
        return best_of(lambda: Autoencoder(X.shape[1], epochs=epochs, **kw).fit(X), 3)

    # the difference of two fits cancels the network's construction and initialisation
    per_epoch = (fit_seconds(1 + EPOCHS_TIMED) - fit_seconds(1)) / EPOCHS_TIMED
    slices = {"a": slice(0, 257), "b": slice(257, X.shape[1])}
    per_epoch_dropout = (fit_seconds(1 + EPOCHS_TIMED, modality_dropout=0.3, block_slices=slices)
                         - fit_seconds(1, modality_dropout=0.3, block_slices=slices)) / EPOCHS_TIMED
    from clipret.indexing.train import TrainOptions, encoder_settings

    neighbours = encoder_settings(TrainOptions(), len(X))
    neighbours.update(validation_fraction=0.0, modality_dropout=0.3)

    def neighbours_seconds(epochs: int) -> float:
        return best_of(lambda: Autoencoder(X.shape[1], **{**neighbours, "epochs": epochs},
                                           block_slices=slices).fit(X), 3)

    per_epoch_neighbours = (neighbours_seconds(1 + EPOCHS_TIMED) - neighbours_seconds(1)) / EPOCHS_TIMED
    model = Autoencoder(X.shape[1], epochs=1).fit(X)
    return {"seconds_per_epoch": round(per_epoch, 4),
            "seconds_per_epoch_neighbours_encoder": round(per_epoch_neighbours, 4),
            "seconds_per_epoch_modality_dropout": round(per_epoch_dropout, 4),
            "projected_600_epochs_s": round(600 * per_epoch, 1),
            "embed_all_s": round(best_of(lambda: model.transform(X), 5), 5),
            "embed_one_clip_s": round(best_of(lambda: model.transform(X[:1]), 5), 5)}


def bench_analysis(Z: np.ndarray, genres: list[str]) -> dict:
    from clipret.embedding.analysis import elbow_kmeans, maps_2d
    from clipret.search.metrics import evaluate_spaces

    out = {"elbow_kmeans_k2_15_s": round(best_of(lambda: elbow_kmeans(Z), 1), 3)}
    start = time.perf_counter()
    maps_2d(Z, methods=("umap",))
    out["umap_first_call_s"] = round(time.perf_counter() - start, 3)  # includes numba compilation
    for method in ("umap", "tsne", "pca"):
        out[f"{method}_s"] = round(best_of(lambda m=method: maps_2d(Z, methods=(m,)), 1), 3)
    spaces = {"fused": Z, "raw": np.random.default_rng(1).normal(size=(len(Z), INPUT_DIMS["portable"]))}
    out["evaluate_2_spaces_per_genre_s"] = round(
        best_of(lambda: evaluate_spaces(spaces, genres, per_genre=True), 3), 4)
    return out


def main() -> None:
    import os

    import torch

    load_before = round(os.getloadavg()[0], 2)  # other work on the machine inflates every figure
    rng = np.random.default_rng(0)
    genres = [f"g{i % 9}" for i in range(N_CLIPS)]
    results = {"n_clips": N_CLIPS, "device": "cpu", "torch_threads": torch.get_num_threads(),
               "epochs_timed": EPOCHS_TIMED}
    threads = torch.get_num_threads()
    for profile, dim in INPUT_DIMS.items():
        X = rng.normal(size=(N_CLIPS, dim)).astype(np.float32)  # standardised features: unit scale
        # one thread can beat several on a busy machine (no spinning threads fighting for cores)
        for n_threads in sorted({1, threads}):
            torch.set_num_threads(n_threads)
            results[f"autoencoder_{profile}_D{dim}_threads{n_threads}"] = bench_autoencoder(X)
    torch.set_num_threads(threads)
    Z = np.tanh(rng.normal(size=(N_CLIPS, 256))).astype(np.float32)
    results["analysis_N216_latent256"] = bench_analysis(Z, genres)
    results["load_average_1min"] = {"before": load_before, "after": round(os.getloadavg()[0], 2)}
    write_results("training", results)


if __name__ == "__main__":
    main()
