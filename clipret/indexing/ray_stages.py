"""The two stages of the Ray pipeline, run on Ray's workers: CPU tasks, then a pool of model actors.

Both stages compute exactly what `extract.extract_one` computes, block by block, with the same
functions and the same error texts; they only split the work. Rows are plain dicts (strings,
numbers, pickled bytes), so Ray Data never has to understand a DecodedClip.

`decode_clip_row` (a CPU task per clip): decode (in a child process, as everywhere), then the
weight-free blocks (librosa audio, dynamics). Only what the networks read travels on.
`NeuralBlocks` (an actor; one model load per actor): the neural blocks (video CNN, lyrics encoder)
for a batch of clips gathered across clips, one forward pass per clip, so each clip's floats are
those of the local engine (a batch of padded texts changes MiniLM's; tested).
`WholeClips` (an actor, on a cluster without GPUs): both stages for each clip, in one process.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import replace

import numpy as np

from clipret.errors import ClipretError, ModelUnavailable
from clipret.features import jit_cache
from clipret.features.fingerprint import audio_fingerprint
from clipret.features.profiles import get_profile, layout
from clipret.features.registry import EXTRACTORS, get_extractor
from clipret.media.decode import for_task
from clipret.runtime.failures import exception_reason
from clipret.runtime.workers import decode_here

# Extractors without weights, run in the CPU tasks; every other extractor of a layout runs in the actors.
CPU_EXTRACTORS = frozenset({"librosa_257", "dynamics"})
NOTHING_EXTRACTED = "no audio, video or lyrics could be extracted"  # extract_one's reason, word for word


def decode_clip_row(row: dict) -> dict:
    """A ClipTask's fields → the row the actors take: CPU blocks done, frames pickled, or a failure."""
    out, done = cpu_stage(row)
    if done is not None:
        out["payload"] = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def cpu_stage(row: dict) -> tuple[dict, dict | None]:
    """Decode and the weight-free blocks of one clip: (the row without its payload, what the networks
    need: {"blocks", "error", "clip"}, None when decoding failed).

    Blocks run in layout order and stop at the first error, as extract_one's would; an error is kept
    with its block's position, since a neural block before it may fail first (and then wins).
    """
    from clipret.features.registry import get_extractor
    start = time.monotonic()
    out = {"clip_id": row["clip_id"], "cache_path": row["cache_path"], "key": row["key"], "stamp": row["stamp"],
           "lyrics": row["lyrics"], "profile": row["profile"], "reason": "", "fatal": False,
           "duration_s": 0.0, "payload": b"", "decode_s": 0.0, "cpu_s": 0.0}
    blocks: dict[str, np.ndarray | None] = {}
    views: dict[str, np.ndarray] = {}
    error: tuple[int, str] | None = None
    done = None
    try:
        _load_librosa_cache()
        prof = get_profile(row["profile"])
        # in this process, as a local pool worker decodes: a Ray worker is already a process of its own,
        # whose crash costs a retry, not the run (a child per clip would cost an interpreter start)
        decoded = decode_here(row["media_path"], for_task(prof.decode_options, row["timeout_s"], int(row["threads"])))
        out["decode_s"] = time.monotonic() - start
        for position, (block, name) in enumerate(layout(row["profile"])):
            if name not in CPU_EXTRACTORS:
                continue
            try:
                blocks[block], block_views = get_extractor(name).extract_views(decoded)
                if block_views is not None:
                    views[block] = block_views
            except ModelUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - the clip fails, the corpus goes on
                error = (position, exception_reason(exc))
                break
    except ModelUnavailable as exc:
        out.update(reason=str(exc), fatal=True)
    except Exception as exc:  # noqa: BLE001 - decoding failed: nothing goes to the actors
        out["reason"] = exception_reason(exc)
    else:
        out["duration_s"] = float(decoded.duration_s)
        done = {"blocks": blocks, "views": views, "error": error, "clip": for_networks(decoded, prof.name),
                "fingerprint": audio_fingerprint(decoded.audio, decoded.sample_rate)}
    out["seconds"] = time.monotonic() - start
    out["cpu_s"] = out["seconds"] - out["decode_s"] if out["decode_s"] else 0.0
    return out, done


_librosa_cache_loaded = False


def _load_librosa_cache() -> None:
    """Once per worker process: point numba at clipret's cache, compiled (under its lock) if this node
    has none yet; numba then reads the compiled functions it needs."""
    global _librosa_cache_loaded
    if _librosa_cache_loaded:
        return
    jit_cache.ensure_ready()
    _librosa_cache_loaded = True


def for_networks(decoded, profile: str):
    """The decoded clip without what no network reads: the thumbs (only dynamics reads them), and the
    audio or frames when no network of the profile takes that modality (4-minute audio is ~20 MB)."""
    modalities = {EXTRACTORS[name].modality for _, name in layout(profile) if name not in CPU_EXTRACTORS}
    return replace(decoded, thumbs=None, thumb_times=None,
                   audio=decoded.audio if "audio" in modalities else None,
                   frames=decoded.frames if "video" in modalities else None,
                   frame_times=decoded.frame_times if "video" in modalities else None)


class NeuralBlocks:
    """An actor holding the profile's networks (loaded once, on the first batch) on `device`."""

    def __init__(self, device: str = "cpu", threads: int = 1):
        import ray
        import torch

        self.device = device
        self.node = ray.util.get_node_ip_address()  # the node as `ray start` names it, for the per-node counts
        torch.set_num_threads(int(threads))  # a local worker's thread count: the same floats
        _load_librosa_cache()  # audio networks resample and take spectrograms with librosa

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        return _columns([self._finish(row) for row in _rows(batch)])

    def _finish(self, row: dict, done: dict | None = None) -> dict:
        """The output row of `row`; `done` is its CPU stage's result when it is at hand (else its payload)."""
        start = time.monotonic()
        out = {"clip_id": str(row["clip_id"]), "cache_path": str(row["cache_path"]), "key": str(row["key"]),
               "stamp": str(row["stamp"]),
               "duration_s": float(row["duration_s"]), "reason": str(row["reason"]),
               "fatal": bool(row["fatal"]), "features": b"", "decode_s": float(row["decode_s"]),
               "cpu_s": float(row["cpu_s"]), "neural_s": 0.0, "node": self.node}
        if not out["reason"]:
            try:
                done = done if done is not None else pickle.loads(row["payload"])
                features, views = self._neural_blocks(row, done)
                out["features"] = pickle.dumps({"blocks": features, "views": views,
                                                "fingerprint": done["fingerprint"]}, protocol=pickle.HIGHEST_PROTOCOL)
            except ModelUnavailable as exc:
                out.update(reason=str(exc), fatal=True)
            except _CpuBlockFailed as exc:
                out["reason"] = exc.reason
            except Exception as exc:  # noqa: BLE001 - one clip fails, the batch goes on
                out["reason"] = exception_reason(exc)
        out["neural_s"] = time.monotonic() - start
        out["seconds"] = float(row["seconds"]) + out["neural_s"]
        return out

    def _neural_blocks(self, row: dict, done: dict) -> tuple[dict[str, np.ndarray | None], dict[str, np.ndarray]]:
        """Every block in layout order (the CPU ones already done) and the blocks' views; raises what
        extract_one would raise."""
        failed_at, reason = done["error"] or (None, "")
        features: dict[str, np.ndarray | None] = {}
        views = dict(done["views"])
        for position, (block, name) in enumerate(layout(str(row["profile"]))):
            if failed_at is not None and position >= failed_at:
                raise _CpuBlockFailed(reason)
            if name in CPU_EXTRACTORS:
                features[block] = done["blocks"][block]
                continue
            extractor = get_extractor(name, self.device)
            item = str(row["lyrics"]) if extractor.modality == "lyrics" else done["clip"]
            features[block], block_views = extractor.extract_views(item)  # this clip's own forward pass
            if block_views is not None:
                views[block] = block_views
        if all(v is None for v in features.values()):
            raise ClipretError(NOTHING_EXTRACTED)
        return features, views


class WholeClips(NeuralBlocks):
    """An actor doing a clip's every stage (decode, CPU blocks, networks), for a cluster without GPUs.

    Split in CPU tasks and model actors, the networks' share of a clip (about a third on CPU) must get
    its own slice of the cores, and one stage always waits for the other (measured on 2 cores: 1.29x
    the local pool); whole clips in as many actors as the cores hold keep every core busy, as the local
    pool does, and each actor still loads the models once.
    """

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        return _columns([self._finish(*cpu_stage(row)) for row in _rows(batch)])  # the clip never pickled


def _rows(batch: dict[str, np.ndarray]) -> list[dict]:
    return [{key: batch[key][i] for key in batch} for i in range(len(batch["clip_id"]))]


def _columns(rows: list[dict]) -> dict[str, list]:
    return {key: [row[key] for row in rows] for key in _OUTPUT_COLUMNS}


class _CpuBlockFailed(Exception):
    """A CPU block failed before any neural block could: its reason stands, word for word."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_OUTPUT_COLUMNS = ("clip_id", "cache_path", "key", "stamp", "duration_s", "reason", "fatal", "seconds", "features",
                   "decode_s", "cpu_s", "neural_s",  # seconds per stage, for the benchmark
                   "node")  # the node whose actor finished the clip: the clips per node that extract reports
