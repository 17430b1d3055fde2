"""Run the indexer CLI in a child process with a fault point, to kill it there with SIGKILL.

`python tests/_fault_helpers.py FAULTS MARKER [indexer arguments…]` runs `clipret.cli.main` unchanged,
except for the comma-separated FAULTS ("none" for none):
- pause-before-manifest: `train` touches MARKER and sleeps just before it writes manifest.json (the
  last artifact) into its temporary folder;
- pause-mid-push: `push` stores 4 points, touches MARKER and sleeps (a half-filled new collection);
- pause-before-swap: `push` has stored every point, touches MARKER and sleeps before the alias swap;
- fast-maps: the 2-D maps are all PCA (UMAP and t-SNE cost seconds that these tests do not need).
The test waits for MARKER, then kills the process: the fault lands at a known point, every time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAUSE_S = 300  # longer than any test waits: the process is killed during the pause


def clean_env() -> dict[str, str]:
    """This environment without the deployment settings a developer's shell may have set."""
    env = dict(os.environ)
    for name in ("CLIPRET_PROFILE", "CLIPRET_COLLECTION", "QDRANT_URL", "QDRANT_API_KEY"):
        env.pop(name, None)
    return env


def start_indexer(data_dir: Path, *args: str, faults: str = "none", marker: Path | None = None
                  ) -> subprocess.Popen:
    """`clipret --data-dir D --quiet ARGS` in a child process, with FAULTS installed."""
    env = clean_env()
    command = [sys.executable, __file__, faults, str(marker or os.devnull),
               "--data-dir", str(data_dir), "--quiet", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_indexer(data_dir: Path, *args: str, faults: str = "none", timeout: float = 300
                ) -> subprocess.CompletedProcess:
    process = start_indexer(data_dir, *args, faults=faults)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_for(condition, process: subprocess.Popen, timeout: float = 180, what: str = "") -> None:
    """Poll `condition()` every 20 ms until true; fail if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the indexer exited ({process.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            kill(process)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill(process: subprocess.Popen) -> int:
    """SIGKILL: no handler, no finally, no atexit runs in the victim."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    return process.returncode


# -- in the child --------------------------------------------------------------------------------
def _pause(marker: Path) -> None:
    marker.touch()
    time.sleep(PAUSE_S)


def _install(faults: set[str], marker: Path) -> None:
    if "fast-maps" in faults:
        import clipret.embedding.analysis as analysis

        original_maps = analysis.maps_2d

        def maps_2d(Z, methods=("umap", "tsne", "pca"), seed=0):
            pca = original_maps(Z, methods=("pca",), seed=seed)["pca"]
            return {m: pca for m in methods}

        analysis.maps_2d = maps_2d
    if "pause-before-manifest" in faults:
        import clipret.indexing.train as train

        original_write = train.write_json_atomic

        def write_json_atomic(path, obj):
            if Path(path).name == train.MANIFEST:
                _pause(marker)
            original_write(path, obj)

        train.write_json_atomic = write_json_atomic
    from clipret.store import ClipStore

    if "pause-mid-push" in faults:
        original_upsert = ClipStore.upsert

        def upsert(self, collection, points, batch_size=64):
            points = list(points)
            written = original_upsert(self, collection, points[:4], batch_size=4)
            _pause(marker)
            return written + original_upsert(self, collection, points[4:], batch_size)

        ClipStore.upsert = upsert
    if "pause-before-swap" in faults:
        original_swap = ClipStore.swap_alias

        def swap_alias(self, alias, collection):
            _pause(marker)
            original_swap(self, alias, collection)

        ClipStore.swap_alias = swap_alias


if __name__ == "__main__":
    _install(set(sys.argv[1].split(",")), Path(sys.argv[2]))
    from clipret.cli import main

    sys.exit(main(sys.argv[3:]))
