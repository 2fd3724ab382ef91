#!/usr/bin/env bash
# One call on the lent GPU machine: every GPU figure of the README's "On a GPU", in order, inside
# one command's time (BUDGET seconds, default 560, under the device tool's 600 s limit).
#
#   1. speed:   MiniGoogLeNet and the lesson-01 ResNet, float32 and bfloat16, XLA, steps_per_execution 1 and 32
#   2. clr:     the CLR article's protocol on full Fashion-MNIST, as many of its 96 epochs as fit
#   3. lessons: each lesson's default run under JAX, side by side, with whatever time is left
#
# Each writes its JSON to $OUT after every row (benchmarks/gpu_path.py), so a cut leaves its figures;
# the machine's description and versions go to $OUT/machine.txt, all output to $OUT/session.log.
# The machine has JAX but no Keras, Jupyter or network: carry `.whl` (wheels, see the device tool's
# README) and `build/data` (python scripts/build_datasets.py fashion_mnist_full). SPEED_ARGS, CLR_ARGS
# and LESSONS_ARGS add to (or override) each command's arguments; try it on a CPU at tiny sizes first:
#   SPEED_ARGS="--models small_cnn --dataset synthetic --steps-per-execution 1 2 --warmup-batches 2 --batches 4" \
#   CLR_ARGS="--model small_cnn --dataset synthetic --subset 128 --epochs 2" LESSONS_ARGS="--params ci" \
#   BUDGET=300 bash benchmarks/gpu_session.sh
set -u
cd "$(dirname "$0")/.."
END=$((SECONDS + ${BUDGET:-560}))
export OUT=${OUT:-build/gpu}
mkdir -p "$OUT"
exec > >(tee "$OUT/session.log") 2>&1

if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_session: the carried wheels did not install"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1

{
    date -u +"%Y-%m-%d %H:%M UTC"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
    python3 -c 'import sys, jax, jaxlib, keras, numpy
print("python", sys.version.split()[0], "| keras", keras.__version__, "| jax", jax.__version__,
      "| jaxlib", jaxlib.__version__, "| numpy", numpy.__version__, "| devices", jax.devices())'
} | tee "$OUT/machine.txt"

# Compilation is not what speed measures (it warms up first): a cache lets steps_per_execution 32
# reuse the program that 1 compiled, which saves device minutes only.
JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
    python3 benchmarks/gpu_path.py speed --models mini_googlenet resnet --precisions float32 mixed_bfloat16 \
    --jit on --steps-per-execution 1 32 --time-limit "${SPEED_S:-120}" ${SPEED_ARGS:-}
python3 benchmarks/gpu_path.py clr --time-limit "${CLR_S:-140}" ${CLR_ARGS:-}
left=$((END - SECONDS))
if [ "$left" -gt 30 ]; then
    python3 benchmarks/gpu_path.py lessons --time-limit "$((left - 10))" ${LESSONS_ARGS:-}
else
    echo "gpu_session: ${left} s left, too little for the lessons"
fi
