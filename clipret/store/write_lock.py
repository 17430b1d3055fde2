"""The lock an index write takes: held only while the write runs, waited for in turn, never by a reader.

A write (an added clip's upsert and records, a build's push and alias swap) takes seconds to minutes; the
slow work before it (download, decode, extract, embed, train) runs without the lock. A second writer waits
its turn and says once for whom; a holder past WRITE_WAIT_S is taken to be stuck, and the waiter gives up
with a sentence that names it. Readers never take this lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from clipret.errors import StoreUnavailable
from clipret.files import file_lock, write_json_atomic

WRITE_WAIT_S = 1800.0  # a write of 50k clips takes minutes; a holder past half an hour is stuck


def say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class WriteLock:
    """One writer at a time across processes (an flock on `path`), re-entrant within a thread; the holder is
    described in `<path>.owner` so that a waiter can say for whom it waits."""

    def __init__(self, path: Path, *, timeout_s: float = WRITE_WAIT_S,
                 say: Callable[[str], None] = say_on_stderr):
        self.path, self.timeout_s, self.say = Path(path), float(timeout_s), say
        self.owner_path = self.path.with_name(self.path.name + ".owner")
        self._lock = file_lock(self.path)
        self._threads = threading.RLock()  # threads of one process take turns too
        self._depth = 0

    @contextlib.contextmanager
    def hold(self, purpose: str | None = None) -> Iterator[None]:
        """Hold the lock for the block (re-entrant: an inner hold of the same thread is free)."""
        if not self._threads.acquire(timeout=self.timeout_s if self.timeout_s >= 0 else -1):
            raise self._unavailable(self.timeout_s)
        try:
            if self._depth == 0:
                self._acquire(purpose or _this_command())
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._lock.release()
        finally:
            self._threads.release()

    def holder(self) -> str:
        """The holder in words, as it described itself ("another process" when it has not yet)."""
        try:
            owner = json.loads(self.owner_path.read_text(encoding="utf-8"))
            since = time.strftime("%H:%M:%S", time.localtime(float(owner["since"])))
            return f"pid {owner['pid']} on {owner['host']}, `{owner['purpose']}`, writing since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def _acquire(self, purpose: str) -> None:
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            self.say(f"Waiting for the index's writer to finish ({self.holder()}) …")
            waited = time.monotonic()
            try:
                self._lock.acquire(timeout=self.timeout_s)
            except filelock.Timeout:
                raise self._unavailable(time.monotonic() - waited) from None
        write_json_atomic(self.owner_path, {"pid": os.getpid(), "host": socket.gethostname(),
                                            "purpose": purpose, "since": time.time()})

    def _unavailable(self, waited_s: float) -> StoreUnavailable:
        return StoreUnavailable(
            f"The index at {self.path.parent} is in use by another process writing to it ({self.holder()}; "
            f"waited {waited_s:.1f} s). Wait for it to finish or stop it, or run a Qdrant server "
            "(docker compose up qdrant) and set QDRANT_URL.")


def _this_command() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return shlex.join([name, *sys.argv[1:]])[:200]
