"""What every benchmark shares: timing and writing its figures to artifacts/bench/."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

ARTIFACTS = Path("artifacts/bench")


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of `repeat` wall-clock runs of fn(), in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def write_results(name: str, results: dict) -> Path:
    """Save figures with the machine they were measured on; print them as JSON."""
    import os

    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "processor": platform.processor() or platform.machine()}, **results}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return path
