"""extract --engine ray: the local pool's clips, cache files and features, as a streaming Ray Data pipeline.

clip tasks (the same plan as the local engine: cached clips are never sent)
  → with GPUs: CPU tasks, one clip each: decode + librosa audio + dynamics (the weight-free blocks),
    then an actor pool holding the networks on the GPUs, batches gathered across clips, one forward
    pass per clip;
    without: an actor pool on every core, each actor holding the networks and doing whole clips
  → rows of features (a few KB per clip) back to this process, which writes the per-clip cache
    atomically, exactly as the local engine does, and reports every failure with the same reason.

Ray Data streams: its backpressure keeps only a few batches of frames in the object store, so the
frames of thousands of clips are never in memory together. Only the media must be readable at the
same path on every node; the cache is written here, where `train` will read it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from clipret.config import Settings
from clipret.errors import ClipretError
from clipret.indexing.cache import save_features
from clipret.indexing.extract import ClipOutcome, ClipTask, ExtractReport, fingerprint_cached, plan_extraction
from clipret.sources.corpus import ClipRecord

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
ACTORS_PER_GPU = 2
MAX_INPUT_BLOCKS = 20_000  # one clip per CPU task up to this many clips; beyond, a few per task
RAY_REQUIREMENT = "ray[data]==2.60.0"
# A cluster started with RAY_AUTH_MODE=token (docs/scale.md) refuses a driver without its token.
TOKEN_MISSING = ("The Ray cluster at {address} needs its token: export RAY_AUTH_MODE=token and "
                 "RAY_AUTH_TOKEN_PATH=<a copy of the head's token file, ~/.ray/auth_token on the head> "
                 "(or RAY_AUTH_TOKEN=<the token>), then run this again.")


@dataclass(frozen=True)
class RayOptions:
    """How to run the pipeline; the defaults suit one machine and a cluster alike."""

    address: str | None = None  # a running cluster ("auto", "ray://head:10001"); None = start Ray here
    cpus: int | None = None  # CPUs of a Ray started here (default: this machine's cores); not on a cluster
    model_actors: int | None = None  # actors holding the networks (default: 2 per GPU, else CPUs // threads)
    threads: int | None = None  # BLAS/numba/torch threads per task and actor (default: as a local worker)
    batch_clips: int | None = None  # clips per GPU actor batch (default 4; on CPU an actor takes whole clips
    # one at a time: a batch gains nothing there, each clip having its own forward pass)
    max_retries: int = 3  # reruns of a CPU task whose worker died, before its clip is reported lost


@dataclass(frozen=True)
class StagePlan:
    """Where the networks run and how many copies of them, decided from the cluster's resources."""

    device: str  # "cuda" or "cpu"
    actors: int
    actor_gpus: float
    threads: int  # BLAS, numba and torch threads of every task and actor


def extract_corpus_ray(records: Sequence[ClipRecord], corpus_dir: str | Path, settings: Settings, *,
                       profile: str | None = None, workers: int = 1, timeout_s: float | None = None,
                       shard: tuple[int, int] | None = None, progress: bool = True,
                       on_clip: Callable[[ClipOutcome], None] | None = None,
                       options: RayOptions | None = None, stages: dict | None = None) -> ExtractReport:
    """extract_corpus's contract (same cache, same features, same failure reasons) on Ray.

    `workers` is the local engine's worker count: on a Ray started here, every task and actor gets
    cores // workers BLAS, numba and torch threads, as each local worker does, because the thread
    count changes the last bits of the librosa features and the CNN's floats (measured: up to 2e-6).
    Ray is started only when some clip needs computing, and stopped again when it was started here.
    `stages`, when given, is filled with the pipeline's shape and its summed seconds per stage.
    """
    start = time.monotonic()
    options = options or RayOptions()
    report, tasks = plan_extraction(records, corpus_dir, settings, profile, shard, timeout_s)
    if tasks:
        _compile_librosa_cache()
        with ray_session(options, workers) as resources:
            plan = stage_plan(resources, options, workers)
            stages = {} if stages is None else stages
            stages.update(device=plan.device, actors=plan.actors, cpus=resources.get("CPU", 0),
                          gpus=resources.get("GPU", 0), decode_s=0.0, cpu_s=0.0, neural_s=0.0, nodes=Counter())
            for outcome in _progress(_run_pipeline(tasks, plan, options, stages), len(tasks), progress,
                                     report.profile):
                report.record(outcome)
                if on_clip is not None:
                    on_clip(outcome)
            if options.address:  # on a cluster: which machines did the work (one that did none lacks something)
                print(clips_per_node(stages["nodes"]))
    fingerprint_cached(report, timeout_s, progress)
    report.seconds = time.monotonic() - start
    return report


@contextlib.contextmanager
def ray_session(options: RayOptions, workers: int = 1) -> Iterator[dict[str, float]]:
    """Yield the cluster's resources: a Ray already initialised in this process, the cluster at
    options.address, or a local Ray on this machine's cores (shut down on the way out), whose
    workers get a local pool worker's thread variables (`workers` as the local engine's)."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray.cluster_resources()
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from offline machines
    try:
        if options.address:  # no working_dir or py_modules: every node imports its installed clipret
            ray.init(address=options.address, log_to_driver=False, logging_level="WARNING")
        else:
            cpus = options.cpus or os.cpu_count() or 1
            ray.init(num_cpus=cpus, num_gpus=_local_gpus(), include_dashboard=False, log_to_driver=False,
                     logging_level="WARNING", runtime_env={"env_vars": _local_worker_env(options, workers)})
    except (ConnectionError, getattr(ray.exceptions, "AuthenticationError", ConnectionError)) as exc:
        if _token_refused(exc):
            raise ClipretError(TOKEN_MISSING.format(address=options.address)) from None
        raise ClipretError(f"Could not reach the Ray cluster at {options.address} ({exc}); start it with "
                           "`ray start --head` (or `ray up`) or fix --ray-address.") from None
    try:
        yield ray.cluster_resources()
    finally:
        ray.shutdown()


def _token_refused(exc: BaseException | None) -> bool:
    """Whether joining failed on Ray's token check. Ray raises AuthenticationError itself when this process
    is in token mode without a token, but a cluster refusing a missing or wrong token surfaces, after Ray's
    retries, as a ConnectionError whose cause only names it."""
    while exc is not None:
        if type(exc).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def clips_per_node(nodes: Counter) -> str:
    """The summary line of where a cluster's clips were done: 'Clips per Ray node: 10.0.0.5 12, 10.0.0.6 11'."""
    return "Clips per Ray node: " + ", ".join(f"{node} {count}" for node, count in sorted(nodes.items()))


def stage_plan(resources: dict[str, float], options: RayOptions, workers: int = 1) -> StagePlan:
    """With GPUs, two actors sharing each GPU (an actor also resamples audio and resizes frames on its
    CPU, which one actor alone would serialise; features then differ from CPU ones in the last bits)
    behind CPU tasks; without, one actor per `threads` CPUs, each doing whole clips (WholeClips)."""
    gpus = int(resources.get("GPU", 0))
    threads = worker_threads(options, workers)
    if gpus:
        actors = options.model_actors or ACTORS_PER_GPU * gpus
        return StagePlan("cuda", actors, min(1.0, gpus / actors), threads)
    cpus = int(resources.get("CPU", 1))
    return StagePlan("cpu", options.model_actors or max(1, cpus // threads), 0.0, threads)


def worker_threads(options: RayOptions, workers: int) -> int:
    """Threads of each task and actor: on a Ray started here a local worker's share of the cores, on a
    cluster one (what Ray gives a one-CPU task)."""
    return options.threads or (1 if options.address else max(1, (os.cpu_count() or 1) // max(1, workers)))


def _run_pipeline(tasks: list[ClipTask], plan: StagePlan, options: RayOptions,
                  stages: dict) -> Iterator[ClipOutcome]:
    """Yield one outcome per task, in completion order; clips whose blocks Ray gave up on are 'lost'."""
    import ray.data

    from clipret.indexing.ray_stages import NeuralBlocks, WholeClips, decode_clip_row

    _quiet_ray_data()
    rows = [{**asdict(task), "threads": plan.threads} for task in tasks]
    actor_args = {"fn_constructor_kwargs": {"device": plan.device, "threads": plan.threads},
                  "batch_format": "numpy", "compute": ray.data.ActorPoolStrategy(size=plan.actors), "num_cpus": 1,
                  "max_task_retries": options.max_retries}
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter bounding the retries of a task whose worker died (its
        # default retries forever), only the deprecated remote-args keywords.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), MAX_INPUT_BLOCKS))
        if plan.device == "cuda":  # CPU tasks feed batches gathered across clips to the GPU actors
            dataset = (dataset.map(decode_clip_row, num_cpus=1, max_retries=options.max_retries)
                       .map_batches(NeuralBlocks, batch_size=options.batch_clips or 4, num_gpus=plan.actor_gpus,
                                    **actor_args))
        else:  # no accelerator: whole clips in actors on every core
            dataset = dataset.map_batches(WholeClips, batch_size=1, **actor_args)
    seen = set()
    for row in dataset.iter_rows():
        seen.add(row["clip_id"])
        stages["nodes"][str(row["node"])] += 1
        for stage in ("decode_s", "cpu_s", "neural_s"):
            stages[stage] += float(row[stage])
        yield _store(row)
    for task in tasks:
        if task.clip_id not in seen:
            yield ClipOutcome(task.clip_id, False, f"lost: a Ray worker died on it {options.max_retries + 1} "
                                                   "times (out of memory?); run again")


def _store(row: dict) -> ClipOutcome:
    """Write a finished row's features to the cache (atomically); its outcome as extract_one's."""
    from clipret.runtime.failures import exception_reason

    clip_id, seconds = str(row["clip_id"]), float(row["seconds"])
    if row["reason"]:
        return ClipOutcome(clip_id, False, str(row["reason"]), seconds, fatal=bool(row["fatal"]))
    try:
        finished = pickle.loads(row["features"])
        save_features(Path(row["cache_path"]), finished["blocks"], str(row["key"]), float(row["duration_s"]),
                      str(row["stamp"]), finished["fingerprint"], finished["views"])
    except Exception as exc:  # noqa: BLE001 - a clip that cannot be cached is a failed clip
        return ClipOutcome(clip_id, False, exception_reason(exc), seconds)
    return ClipOutcome(clip_id, True, "", seconds)


def _progress(outcomes: Iterator[ClipOutcome], total: int, progress: bool, profile: str):
    from tqdm import tqdm

    with tqdm(total=total, desc=f"extract ({profile}, ray)", unit="clip", disable=not progress) as bar:
        for outcome in outcomes:
            if not outcome.ok:
                bar.write(f"  skipped {outcome.clip_id}: {outcome.reason}")
            bar.update(1)
            yield outcome


def _quiet_ray_data() -> None:
    """Our progress bar instead of Ray Data's; lost blocks reported per clip instead of failing the run."""
    import logging

    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.max_errored_blocks = -1  # a clip that kills its worker max_retries times is reported 'lost'
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "bars disabled": ours are on


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ClipretError(f"--engine ray needs Ray: pip install '{RAY_REQUIREMENT}'.") from None
    return ray


def _local_gpus() -> int:
    """CUDA devices on this machine (Ray's own detection needs NVML, which containers may lack)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _local_worker_env(options: RayOptions, workers: int) -> dict[str, str]:
    """A local Ray's worker environment, set once for all its workers (a per-stage environment would
    keep Ray from reusing its warm workers): a local pool worker's thread variables (Ray would set
    OMP_NUM_THREADS=1) and its malloc settings. clipret reaches Ray's workers as the installed package."""
    from clipret.runtime.workers import MALLOC_ENV

    threads = str(worker_threads(options, workers))
    return {**{name: threads for name in THREAD_VARIABLES},
            **{name: os.environ.get(name, value) for name, value in MALLOC_ENV.items()}}


def _compile_librosa_cache() -> None:
    """librosa's numba cache compiled here, once, under its lock (clipret.features.jit_cache), before any task
    of a local Ray loads it; on a cluster each node's first task does the same under that node's lock."""
    try:
        from clipret.features import jit_cache
    except ImportError:  # a clipret without its own numba cache
        return
    jit_cache.ensure_ready(log=print)
