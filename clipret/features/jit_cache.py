"""The numba cache of librosa's compiled code: clipret's own folder, compiled once, under a lock.

librosa's ``@guvectorize(cache=True)`` functions write two cache files per compiled variant with
separate renames (numba issue 10128, librosa issue 1998): two fresh processes compiling at once can
leave a mismatched pair that crashes every later process in ``librosa.beat.beat_track``. So every
process that may run librosa points NUMBA_CACHE_DIR at a folder clipret owns (`configure`, before
numba is imported) and calls `ensure_ready` before its first extraction: the first caller compiles
everything clipret's audio features use, in a child process, under an exclusive file lock, then
writes a completeness marker; later callers see the marker and only read. A folder without a valid
marker is emptied and compiled again under the same lock, and `rebuild` does so on demand (after
workers died twice the same way).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import filelock
import platformdirs

from clipret.errors import ClipretError
from clipret.files import write_json_atomic

MARKER = "clipret-complete.json"  # written last: the folder holds a complete, consistent cache
LOCK = ".lock"  # filelock.ReadWriteLock: exclusive to compile or remove, shared while a process loads the cache
LOCK_FILES = (LOCK, ".filelock-")  # the lock, its SQLite side files, filelock's links beside it: never emptied
COMPILE_TIMEOUT_S = 900.0  # a cold compile takes ~20-60 s on 2 busy cores

COMPILING_ENV = "CLIPRET_JIT_COMPILING"  # set in the compiling child: it must not wait for its parent's lock

_ready_in_process: str | None = None  # the cache folder this process has checked (the fast path)
_loading = False  # this process holds the shared lock (it must not ask for the exclusive one)


def cache_dir() -> Path:
    """$NUMBA_CACHE_DIR when set, else $CLIPRET_CACHE_DIR/numba/<env>, else <user cache>/clipret/numba/<env>
    (platformdirs' user cache folder: $XDG_CACHE_HOME or ~/.cache on Linux), where <env> names this Python
    environment: two checkouts, each with its own virtual environment, then keep a cache each instead of
    recompiling over each other's marker."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]).expanduser().resolve()
    env = hashlib.sha1(os.path.realpath(sys.prefix).encode()).hexdigest()[:12]
    if os.environ.get("CLIPRET_CACHE_DIR"):
        return Path(os.environ["CLIPRET_CACHE_DIR"]).expanduser().resolve() / "numba" / env
    return Path(platformdirs.user_cache_dir("clipret", appauthor=False)).expanduser().resolve() / "numba" / env


def configure() -> Path:
    """Point numba (now, and every child process through the environment) at clipret's cache folder."""
    folder = cache_dir()
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba.core.config" in sys.modules:  # numba read its settings already: read them again
        sys.modules["numba.core.config"].reload_config()
    return folder


def fingerprint() -> dict[str, str]:
    """What the compiled code depends on: Python, numba, librosa, and where librosa's sources are (and
    when they were written: numba recompiles, and so writes, when a source file changes)."""
    from importlib import metadata, util

    spec = util.find_spec("librosa")
    root = Path(spec.origin).parent if spec and spec.origin else Path()
    newest = max((p.stat().st_mtime_ns for p in root.rglob("*.py")), default=0)
    return {"python": sys.version.split()[0], "executable": sys.executable,
            "numba": metadata.version("numba"), "librosa": metadata.version("librosa"),
            "librosa_dir": str(root), "librosa_sources_mtime_ns": str(newest)}


def is_complete(folder: Path | None = None) -> bool:
    """Whether `folder` holds a complete cache compiled for this very Python, numba and librosa."""
    marker = (folder or cache_dir()) / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fingerprint()
    except (OSError, ValueError, AttributeError):
        return False


def ensure_ready(log=None) -> bool:
    """Configure, and compile the cache once under the exclusive lock if it is not complete yet.
    True when this call compiled it. `log` (e.g. print) hears what is done, when something is."""
    global _ready_in_process
    folder = configure()
    if os.environ.get(COMPILING_ENV) or _loading:
        return False
    if _ready_in_process == str(folder) and (folder / MARKER).is_file():
        return False
    compiled = False
    if not is_complete(folder):
        with _locked(folder, exclusive=True):
            if not is_complete(folder):  # another process may have finished while we waited
                _compile(folder, log, "the numba cache is missing or incomplete")
                compiled = True
    _ready_in_process = str(folder)
    return compiled


def rebuild(reason: str, log=None) -> None:
    """Remove the cache and compile it again, under the exclusive lock (`reason` is said in `log`)."""
    global _ready_in_process
    folder = configure()
    with _locked(folder, exclusive=True):
        _compile(folder, log, reason)
    _ready_in_process = str(folder)


@contextlib.contextmanager
def loading():
    """Hold the shared lock while this process loads the compiled code (no one rebuilds meanwhile)."""
    global _loading
    folder = configure()
    with _locked(folder, exclusive=False):
        _loading = True
        try:
            yield folder
        finally:
            _loading = False


# -- under the exclusive lock ------------------------------------------------------------------
def _compile(folder: Path, log, reason: str) -> None:
    """Empty `folder`, compile in a fresh child process (a crash there is a message, not ours), mark."""
    say = log or (lambda _msg: None)
    start = time.monotonic()
    say(f"Compiling librosa's numba cache in {folder} ({reason}); other processes wait for it.")
    _empty(folder)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder), COMPILING_ENV: "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "clipret.features.warm"], env=env, capture_output=True,
                              text=True, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ClipretError(f"Compiling librosa's numba cache took longer than {COMPILE_TIMEOUT_S:g} s: "
                           "check the machine's load and try again.") from None
    if done.returncode != 0:
        _empty(folder)
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ClipretError(f"Compiling librosa's numba cache in {folder} failed (exit {done.returncode}: "
                           f"{tail[0]}): check that librosa and numba are installed correctly.")
    marker = {"fingerprint": fingerprint(), "compiled_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seconds": round(time.monotonic() - start, 1), "reason": reason}
    write_json_atomic(folder / MARKER, marker)
    say(f"Compiled librosa's numba cache in {time.monotonic() - start:.1f} s.")


def _empty(folder: Path) -> None:
    """Remove everything in `folder` but the lock (a bad cache is removed, never trusted)."""
    for entry in folder.iterdir():
        if entry.name.startswith(LOCK_FILES):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(folder: Path, *, exclusive: bool):
    """Hold the folder's lock, exclusive or shared, across processes (waits as long as it takes). A new
    instance each time: two holds in one process conflict as two processes' would."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.ReadWriteLock(folder / LOCK, is_singleton=False)
    try:
        with lock.write_lock() if exclusive else lock.read_lock():
            yield
    finally:
        lock.close()


