"""The encoders' training cost at collection scale: N = 1,000 and 10,000 synthetic clips of the portable
layout's width (2,165 columns, 4 views each), the default settings of `clipret build`.

    python -m bench encoder_scale [--sizes 1000,10000] [--epochs 600]

Rows are random (unit scale, as standardised features are), so early stopping stops where it would on
structureless data; the figures that travel are the seconds per epoch and the whole fit as `build` runs
it. Written to artifacts/bench/encoder_scale.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import write_results

INPUT_DIM = 2165  # the portable profile's fused width: 257 + 512 + 1000 + 12 + 384
N_VIEWS = 4


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, D), views (n, 4, D)): clip rows plus excerpts that scatter around them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, INPUT_DIM), dtype=np.float32)
    views = X[:, None, :] + 0.5 * rng.standard_normal((n, N_VIEWS, INPUT_DIM), dtype=np.float32)
    return X, views


def fit_once(X: np.ndarray, views: np.ndarray, encoder: str, epochs: int) -> dict:
    from clipret.embedding.autoencoder import Autoencoder
    from clipret.indexing.train import TrainOptions, encoder_settings

    slices = {"audio": slice(0, 769), "video": slice(769, 1781), "lyrics": slice(1781, INPUT_DIM)}
    settings = encoder_settings(TrainOptions(encoder=encoder, epochs=epochs), len(X))
    start = time.perf_counter()
    model = Autoencoder(INPUT_DIM, **settings, block_slices=slices).fit(X, views if encoder == "contrastive" else None)
    seconds = time.perf_counter() - start
    run = len(model.loss_history_)
    return {"fit_s": round(seconds, 1), "epochs_run": run, "best_epoch": model.best_epoch_,
            "seconds_per_epoch": round(seconds / max(run, 1), 3)}


def main(argv: list[str] | None = None) -> None:
    import os

    import torch

    p = argparse.ArgumentParser(prog="python -m bench encoder_scale")
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--epochs", type=int, default=600, help="the most a fit trains (build's default)")
    args = p.parse_args(argv or [])
    results = {"input_dim": INPUT_DIM, "views": N_VIEWS, "torch_threads": torch.get_num_threads(),
               "load_average_1min_before": round(os.getloadavg()[0], 2)}
    for n in (int(s) for s in args.sizes.split(",")):
        X, views = synthetic(n)
        for encoder in ("neighbours", "contrastive"):
            results[f"{encoder}_N{n}"] = row = fit_once(X, views, encoder, args.epochs)
            print(f"N={n} {encoder}: {row}", flush=True)
    write_results("encoder_scale", results)


if __name__ == "__main__":
    main()
