"""Queries by a new 4-minute file as a user meets them: the first, the second and the warm ones.

    python -m bench query [--queries 5] [--halves]

After the app's start (`SearchEngine.warm_up`, both query workers warm), several files one after another,
each a different path holding the 4-minute 854×480 clip of `python -m bench real_length` (generated once).
Each query is paired with a plain decode of the same file just before it (bench_real_length's reference:
every frame, one thread), so each ratio compares like with like on a machine whose speed drifts. A query
is split into its steps: the extraction in the workers, the embedding and the search. `--halves` also
times the query's audio and video halves one at a time in this process (one thread each): the longer
one is the floor of a query whose halves run side by side. Written to artifacts/bench/query.json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_real_length import HEIGHT, LYRICS, SECONDS, WIDTH, make_corpus, plain_decode, small_index
from bench.common import write_results


def timed_query(engine, path: Path) -> dict:
    """One query by `path`, in the steps the engine reports, in seconds."""
    marks = [("start", time.perf_counter())]
    query = engine.query_from_file(path, lyrics=LYRICS, on_step=lambda step: marks.append((step, time.perf_counter())))
    marks.append(("search", time.perf_counter()))
    engine.search(query, k=10)
    end = time.perf_counter()
    gaps = [b - a for (_, a), (_, b) in zip(marks[1:-1], marks[2:], strict=True)]
    steps = dict(zip(("index", "extract", "embed"), gaps, strict=True))
    return {"total_s": end - marks[0][1], **{f"{k}_s": v for k, v in steps.items()}, "search_s": end - marks[-1][1]}


def halves(path: Path) -> dict:
    """The audio and the video half of a query, one after the other in this process, one thread each."""
    import torch

    from clipret.features.profiles import get_profile
    from clipret.features.warm import warm_worker
    from clipret.runtime.query_pool import extract_half

    profile = get_profile("portable")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        warm_worker(profile.name)
        out = {}
        for stream in ("audio", "video"):
            start = time.perf_counter()
            extract_half(str(path), None, profile.name, profile.decode_options, stream)
            out[f"{stream}_half_s"] = round(time.perf_counter() - start, 2)
        return out
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> None:
    from clipret.config import Settings
    from clipret.features import jit_cache
    from clipret.search.engine import SearchEngine

    p = argparse.ArgumentParser(prog="python -m bench query")
    p.add_argument("--queries", type=int, default=5, help="files queried one after another (at least 3)")
    p.add_argument("--halves", action="store_true", help="also time the audio and video halves alone")
    args = p.parse_args(argv or [])
    jit_cache.ensure_ready(log=print)
    source = make_corpus(1)[0]
    engine = SearchEngine(Settings(data_dir=small_index()))
    start = time.perf_counter()
    engine.warm_up(wait=True)  # as the app does when it starts
    warm_up_s = time.perf_counter() - start
    rows = []
    with tempfile.TemporaryDirectory(prefix="clipret-bench-query-") as tmp:
        for i in range(max(3, args.queries)):
            path = Path(tmp) / f"upload{i}.mp4"  # a new file each time, as each upload is
            shutil.copyfile(source, path)
            start = time.perf_counter()
            plain_decode(path)
            reference = time.perf_counter() - start
            row = timed_query(engine, path)
            rows.append({"plain_decode_s": reference, **row, "ratio": row["total_s"] / reference})
            print(f"query {i + 1}: {row['total_s']:.2f} s, plain decode {reference:.2f} s, "
                  f"{row['total_s'] / reference:.2f}×", flush=True)
        extra = halves(source) if args.halves else {}
    engine.store.close()
    warm = rows[2:]
    warm_ratio = statistics.median(r["ratio"] for r in warm)
    write_results("query", {
        "clip": f"{SECONDS / 60:g} min {WIDTH}x{HEIGHT} 30 fps H.264+AAC (bench real_length's), small demo index",
        "warm_up_s": round(warm_up_s, 1),
        "queries": [{k: round(v, 2) for k, v in r.items()} for r in rows],
        "first_over_plain_decode": round(rows[0]["ratio"], 2),
        "second_over_plain_decode": round(rows[1]["ratio"], 2),
        "warm_over_plain_decode": round(warm_ratio, 2),  # the median of the third and later
        "second_over_warm": round(rows[1]["ratio"] / warm_ratio, 2),
        **extra,
    })


if __name__ == "__main__":
    main()
