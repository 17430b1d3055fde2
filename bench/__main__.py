"""Run every benchmark module bench/bench_*.py (each has a `main()`), or those named on the command line.

    python -m bench                 # all
    python -m bench features store  # bench_features.py and bench_store.py only
    python -m bench ray --clips 48  # one benchmark with its own options (bench_ray.py)
Each benchmark prints its figures and writes them to artifacts/bench/<name>.json.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    short = [n.removeprefix("bench_") for n in names]
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip() + "\n\nBenchmarks: " + " ".join(short))
        return 0
    options = [a for i, a in enumerate(argv) if any(b.startswith("-") for b in argv[:i + 1])]
    argv = argv[:len(argv) - len(options)]  # names first, then one benchmark's own options
    unknown = [a for a in argv if a.removeprefix("bench_") not in short]
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}: choose from {' '.join(short)}.", file=sys.stderr)
        return 2
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv or n in argv]
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        if options and not inspect.signature(module.main).parameters:
            print(f"{name} takes no options (given: {' '.join(options)}).", file=sys.stderr)
            return 2
        module.main(options) if options else module.main()
        print(f"({name}: {time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
