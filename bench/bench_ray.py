"""The Ray pipeline against the local process pool on the same demo corpus: clips/s, ratio, limiting stage.

    python -m bench ray                                          # 12 clips x 10 s, both engines
    python -m bench ray --clips 48 --seconds 240 --engine ray --out /some/dir/ray.json   # a GPU box

Both engines extract the same records into fresh data folders (nothing cached). `ray_total_s` counts
starting Ray on this machine; `ray_pipeline_s` starts the clock once Ray is up, as on a running
cluster. The limiting stage comes from the seconds each stage spent per clip and how many copies of
it ran at once (CPU task slots for decode + audio + dynamics, actors for the networks).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import ARTIFACTS, write_results


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench ray")
    p.add_argument("--clips", type=int, default=12, help="clips in the corpus (demo genres in turn)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each clip (240 = a song)")
    p.add_argument("--engine", choices=("both", "ray", "local"), default="both")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local pool processes (default: one per core); Ray matches their torch threads")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return p.parse_args(argv or [])


def demo_corpus(clips: int, seconds: float, workers: int) -> tuple[Path, list]:
    """(folder, the first `clips` records) of a demo corpus kept under artifacts/bench/ for reruns."""
    from clipret.sources.corpus import GENRES, read_clips
    from clipret.sources.demo import generate_demo_corpus

    per_genre = math.ceil(clips / len(GENRES))
    folder = ARTIFACTS / "ray-corpus" / f"demo-{per_genre}x{seconds:g}s"
    try:
        records = read_clips(folder)
    except Exception:  # noqa: BLE001 - absent or half-written: render it (again)
        shutil.rmtree(folder, ignore_errors=True)
        records = generate_demo_corpus(folder, per_genre=per_genre, seconds=seconds, workers=workers,
                                       progress=False)
    order = sorted(records, key=lambda r: (int(r.clip_id.rsplit("-", 1)[1]), r.genre))  # genres in turn
    return folder.resolve(), order[:clips]


def run_local(records, corpus: Path, workers: int) -> dict:
    from clipret.config import Settings
    from clipret.indexing.extract import extract_corpus

    with tempfile.TemporaryDirectory() as data:
        start = time.perf_counter()
        report = extract_corpus(records, corpus, Settings(data_dir=Path(data)), workers=workers, progress=False)
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "clips_per_s": round(len(report.computed) / seconds, 3),
            "computed": len(report.computed), "failed": report.failed}


def run_ray(records, corpus: Path, workers: int) -> dict:
    from clipret.config import Settings
    from clipret.indexing.ray_engine import RayOptions, extract_corpus_ray, ray_session

    start = time.perf_counter()
    with ray_session(RayOptions(), workers), tempfile.TemporaryDirectory() as data:
        started = time.perf_counter()
        stages: dict = {}
        report = extract_corpus_ray(records, corpus, Settings(data_dir=Path(data)), workers=workers,
                                    progress=False, stages=stages)
        done = time.perf_counter()
    n = max(1, len(report.computed))
    pipeline = done - started
    return {"total_s": round(time.perf_counter() - start, 2), "ray_start_s": round(started - start, 2),
            "pipeline_s": round(pipeline, 2), "clips_per_s": round(len(report.computed) / pipeline, 3),
            "computed": len(report.computed), "failed": report.failed, **limiting_stage(stages, n)}


def limiting_stage(stages: dict, n: int) -> dict:
    """Seconds per clip of each stage, the clips/s each could sustain with its copies, and the slower one
    (without GPUs, one stage: actors doing whole clips)."""
    decode, cpu, neural = (stages[k] / n for k in ("decode_s", "cpu_s", "neural_s"))
    per_clip = {"decode": round(decode, 3), "audio_dynamics": round(cpu, 3), "networks": round(neural, 3)}
    if stages["device"] == "cpu":
        capacity = {"whole_clip_actors": stages["actors"] / (decode + cpu + neural) if neural else math.inf}
        slots = 0.0
    else:
        slots = max(1.0, stages["cpus"] - stages["actors"])  # each actor holds one logical CPU
        capacity = {"cpu_tasks": slots / (decode + cpu) if decode + cpu else math.inf,
                    "model_actors": stages["actors"] / neural if neural else math.inf}
    return {"device": stages["device"], "actors": stages["actors"], "cpu_task_slots": slots,
            "per_clip_s": per_clip, "stage_capacity_clips_per_s": {k: round(v, 2) for k, v in capacity.items()},
            "limiting_stage": min(capacity, key=capacity.get)}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    corpus, records = demo_corpus(args.clips, args.seconds, args.workers)
    results = {"clips": len(records), "seconds_per_clip": args.seconds, "workers": args.workers,
               "note": "figures from one run; on a shared machine compare the ratio, not the seconds"}
    if args.engine in ("both", "local"):
        results["local"] = run_local(records, corpus, args.workers)
    if args.engine in ("both", "ray"):
        results["ray"] = run_ray(records, corpus, args.workers)
    if args.engine == "both":
        local_s = results["local"]["seconds"]
        results["ray_over_local"] = {"pipeline": round(results["ray"]["pipeline_s"] / local_s, 3),
                                     "with_ray_start": round(results["ray"]["total_s"] / local_s, 3)}
    path = write_results("ray", results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, args.out)
