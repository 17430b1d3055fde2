"""extract --engine ray on a real two-node Ray cluster: both nodes do clips, the cache matches the local engine's.

A head and a second node are separate `ray start` processes, one CPU each, on two loopback addresses
(Ray replaces 127.0.0.1 by the machine's outward address, so the nodes get 127.0.0.2 and 127.0.0.3),
with token authentication as docs/scale.md sets it up. A third process, `clipret extract --engine ray
--ray-address`, is the driver; it ships no code, so the nodes run the installed clipret. With one CPU
per node, the pipeline's two whole-clip actors (one CPU each) sit one on each node, and the summary's
per-node clip counts show that both did clips; the local engine's cache of the same corpus is the
reference, file for file. Every process the nodes started is stopped afterwards, failed test or not.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")  # a dependency of Ray

HEAD_IP, NODE_IP = "127.0.0.2", "127.0.0.3"
BIN = Path(sys.executable).parent  # the venv's `ray` and `clipret`
START_S = 120  # one `ray start`; it takes about 5 s


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]  # what every process of the cluster, and its driver, runs with (the token too)
    root: Path  # the nodes' temp dirs and the driver's working directory: the repository is on no path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """6 demo clips of 2 s (metal, soul; some with lyrics), old enough to be stamped (cache.SETTLE_NS)."""
    from clipret.indexing.cache import SETTLE_NS
    from clipret.sources.demo import generate_demo_corpus

    out = tmp_path_factory.mktemp("cluster-corpus")
    generate_demo_corpus(out, per_genre=3, seconds=2, genres=("metal", "soul"), progress=False)
    time.sleep(SETTLE_NS / 1e9)  # else the first engine writes no stamp and the second one does
    return out


@pytest.fixture(scope="module")
def cluster():
    root = Path(tempfile.mkdtemp(prefix="rc"))  # short: Ray's unix sockets live in --temp-dir (107-byte limit)
    token = root / "token"
    token.write_text(secrets.token_hex(32))  # what `ray get-auth-token --generate` writes, without touching ~/.ray
    env = {**_without_ray(os.environ), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        port, client_port = _free_port(), _free_port()
    except OSError as exc:  # only 127.0.0.1 is loopback on some systems (macOS)
        shutil.rmtree(root)
        pytest.skip(f"no loopback address {HEAD_IP} for a Ray node here ({exc})")
    sessions: list[int] = []
    try:
        head = _ray_start(env, root, sessions, "h", "--head", f"--port={port}", f"--node-ip-address={HEAD_IP}",
                          f"--ray-client-server-port={client_port}", "--include-dashboard=false",
                          "--disable-usage-stats")
        if head:
            pytest.skip(f"Ray cannot start a head node on {HEAD_IP} here: {head}")
        second = _ray_start(env, root, sessions, "n", f"--address={HEAD_IP}:{port}", f"--node-ip-address={NODE_IP}")
        assert not second, f"the second node did not join: {second}"
        yield Cluster(f"{HEAD_IP}:{port}", env, root)
    finally:
        left = _stop(sessions)
        shutil.rmtree(root, ignore_errors=True)
    assert not left, f"Ray processes left running: {left}"


@pytest.fixture(scope="module")
def both(corpus, cluster, tmp_path_factory):
    """(local features dir, ray features dir, the Ray driver's stdout)."""
    local, on_ray = tmp_path_factory.mktemp("local-data"), tmp_path_factory.mktemp("ray-data")
    # as many local workers as cores: one thread each, as each one-CPU task of the cluster has
    _clipret(local, corpus, "--workers", str(os.cpu_count() or 1), env=_without_ray(os.environ), cwd=cluster.root)
    run = _clipret(on_ray, corpus, "--engine", "ray", "--ray-address", cluster.address, env=cluster.env,
                   cwd=cluster.root)
    return local / "features", on_ray / "features", run.stdout


def test_the_cluster_caches_what_the_local_engine_caches_bit_for_bit(both, corpus):
    from clipret.sources.corpus import read_clips

    local, on_ray, stdout = both
    assert re.search(r"^Features \(\w+\): 6 extracted, 0 cached, 0 failed", stdout, re.MULTILINE), stdout
    files = sorted(p.relative_to(local) for p in local.rglob("*.npz"))
    assert len(files) == len(read_clips(corpus)) == 6
    assert sorted(p.relative_to(on_ray) for p in on_ray.rglob("*.npz")) == files
    for name in files:
        with np.load(local / name) as a, np.load(on_ray / name) as b:
            assert sorted(a.files) == sorted(b.files), name  # the same blocks present, and absent
            assert any(key.startswith("block:") for key in a.files)
            for key in a.files:
                assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), (name, key)
            assert str(a["stamp"]), name  # stamped by both (the corpus had settled)
        assert (local / name).read_bytes() == (on_ray / name).read_bytes(), name


def test_both_nodes_extracted_clips(both):
    *_, stdout = both
    line = re.search(r"^Clips per Ray node: (.*)$", stdout, re.MULTILINE)
    assert line, stdout
    counts = {node: int(n) for node, n in (pair.split() for pair in line.group(1).split(", "))}
    assert set(counts) == {HEAD_IP, NODE_IP} and min(counts.values()) > 0, counts
    assert sum(counts.values()) == 6


@pytest.mark.parametrize("auth", [{},  # the cluster refuses the driver (after one try: see below)
                                  {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": "/nonexistent/token"}],
                         ids=["no-token", "token-file-missing"])  # Ray refuses to try
def test_a_driver_without_the_token_is_told_what_to_export(cluster, corpus, tmp_path, auth):
    # one refused try instead of Ray's 20 (the answer is the same)
    env = {**_without_ray(cluster.env), "RAY_gcs_server_port_wait_time_s": "1", **auth}
    run = _clipret(tmp_path, corpus, "--engine", "ray", "--ray-address", cluster.address, env=env, cwd=cluster.root,
                   check=False)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: The Ray cluster at {cluster.address} needs its token: export RAY_AUTH_MODE=token and "
        "RAY_AUTH_TOKEN_PATH="), run.stderr[-3000:]
    assert not (tmp_path / "features").exists()


def _ray_start(env: dict, root: Path, sessions: list[int], temp: str, *args: str) -> str:
    """`ray start` with one CPU and its own temp dir, in a session of its own (its daemons stay in it, which
    is how _stop finds them); "" once started, else the end of its output."""
    log = root / f"ray-start-{temp}.log"
    with open(log, "w") as out:
        start = subprocess.Popen([str(BIN / "ray"), "start", "--num-cpus=1", f"--temp-dir={root / temp}", *args],
                                 env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    sessions.append(start.pid)
    try:
        code = start.wait(START_S)
    except subprocess.TimeoutExpired:
        code = "timeout"
    return "" if code == 0 else f"exit {code}: {log.read_text()[-1500:]}"


def _stop(sessions: list[int]) -> list[str]:
    """SIGKILL every process of these sessions, as `ray stop --force` does; the pids of any still there.

    Not `ray stop --force` itself: it stops every Ray on the machine, including one someone else is using."""
    processes = _in_sessions(sessions)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(processes, timeout=15)
    return [str(p.pid) for p in _in_sessions(sessions) if _alive(p)]


def _in_sessions(sessions: list[int]) -> list:
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):  # gone meanwhile
            if os.getsid(process.pid) in sessions:
                found.append(process)
    return found


def _alive(process) -> bool:
    with contextlib.suppress(psutil.Error):
        return process.status() != psutil.STATUS_ZOMBIE
    return False


def _clipret(data_dir: Path, corpus: Path, *args: str, env: dict, cwd: Path, check: bool = True):
    run = subprocess.run([str(BIN / "clipret"), "--data-dir", str(data_dir), "--quiet", "extract", "--corpus",
                          str(corpus), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if check:
        assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    return run


def _without_ray(env) -> dict[str, str]:
    """The environment without Ray's variables: no token, no RAY_ADDRESS of the caller's."""
    return {name: value for name, value in env.items() if not name.startswith("RAY_")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HEAD_IP, 0))
        return s.getsockname()[1]
