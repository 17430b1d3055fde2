"""How long the demo corpus takes: 9 genres x 10 clips x 15 s with two workers (goal: under a minute)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import write_results

PER_GENRE, SECONDS, WORKERS = 10, 15.0, 2


def main() -> None:
    from clipret.sources.demo import generate_demo_corpus

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        records = generate_demo_corpus(tmp, per_genre=PER_GENRE, seconds=SECONDS, workers=WORKERS,
                                       progress=False)
        total = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (Path(tmp) / "media").iterdir())
    write_results("demo_corpus", {
        "clips": len(records), "seconds_per_clip": SECONDS, "workers": WORKERS,
        "total_s": round(total, 2), "per_clip_s": round(total / len(records), 3),
        "realtime_factor": round(len(records) * SECONDS / total, 1), "media_mb": round(size / 2**20, 1),
    })


if __name__ == "__main__":
    main()
