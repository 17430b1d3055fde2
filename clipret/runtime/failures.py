"""What a worker's failure means, for every pool: the one sentence a user reads, and when to distrust
librosa's compiled code.

A worker can fail a task four ways (clipret.runtime.workers.WorkerFailed.kind): killed by a signal, an
exit, a step past its time limit, or memory past its cap. While decoding, that is the file's fault and
the sentence says so as clipret.media.decode does; after decoding it is the extraction's. Two deaths in
a row by the same signal outside decoding are the mark of a corrupt numba cache (two processes that
once compiled at the same time): the cache is then rebuilt, once at a time, under its lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clipret.errors import ClipretError
from clipret.features import jit_cache
from clipret.media.decode import decode_failure_message

_rebuild_lock = threading.Lock()


@dataclass(frozen=True)
class TaskLimits:
    """The limits a task ran under, for the sentences that name them."""

    decode_timeout_s: float  # the decoding step's wall-clock limit
    extract_timeout_s: float  # the feature step's wall-clock limit
    memory_mb: int  # what a task may add to a warm worker's memory


def what_went_wrong(exc, limits: TaskLimits) -> str:
    """The end of a sentence for a task whose worker failed after decoding: 'took longer than 300 s',
    'needed more than 4096 MB of memory', 'crashed (killed by SIGSEGV)'."""
    if exc.kind == "timeout":
        return f"took longer than {limits.extract_timeout_s:g} s"
    if exc.kind == "memory":
        return f"needed more than {limits.memory_mb} MB of memory"
    return f"crashed ({'killed by ' if exc.kind.startswith('SIG') else ''}{exc.kind})"


def decode_failure(path, exc, limits: TaskLimits) -> str | None:
    """The decoding sentence when the worker failed while decoding `path`, else None."""
    if exc.phase != "decode":
        return None
    return decode_failure_message(path, exc.kind, limits.decode_timeout_s, limits.memory_mb)


def exception_reason(exc: BaseException) -> str:
    """A task's exception as the reason its clip failed: a ClipretError's own sentence, else its type too."""
    return str(exc) if isinstance(exc, ClipretError) else f"{type(exc).__name__}: {exc}"


def same_signal_twice(deaths: Sequence[tuple[str, str]]) -> bool:
    """Whether the last two worker deaths, (kind, phase) each, were by the same signal outside decoding."""
    if len(deaths) < 2:
        return False
    (kind_a, _), (kind_b, phase_b) = deaths[-2], deaths[-1]
    return kind_a == kind_b and kind_b.startswith("SIG") and phase_b != "decode"


def rebuild_compiled_code(reason: str, log: Callable[[str], None] | None = None) -> None:
    """Rebuild librosa's numba cache (under its own lock; one rebuild at a time in this process)."""
    with _rebuild_lock:
        jit_cache.rebuild(reason, log=log)
