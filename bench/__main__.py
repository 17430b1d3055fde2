"""Run every benchmark module bench/bench_*.py (each has a `main()`), or those named on the command line.

    python -m bench                 # all
    python -m bench features store  # bench_features.py and bench_store.py only
    python -m bench ray --clips 48  # one benchmark with its own options (bench_ray.py)
Each benchmark prints its figures and writes them to artifacts/bench/<name>.json.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    options = [a for i, a in enumerate(argv) if any(b.startswith("-") for b in argv[:i + 1])]
    argv = argv[:len(argv) - len(options)]  # names first, then one benchmark's own options
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv or n in argv]
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        module.main(options) if options else module.main()
        print(f"({name}: {time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
