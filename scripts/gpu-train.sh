#!/bin/sh
# On the GPU machine (the session's `device` tool), after scripts/gpu-stage.sh here: trains the
# reader with Keras' JAX backend on freshly rendered plates (one rendering process per core; the
# plates-ar crops stay in ../shared, which does not travel: rendered plates only). Arguments go to
# `python -m convert.train_reader`. For example, with .gpu carried:
#     scripts/gpu-train.sh --samples 200000 --epochs 12 --batch-size 256 --lr 3e-3 --max-minutes 5
# (--max-minutes stops training within the machine's 10-minute command limit, best epoch kept).
# Writes $OUT/reader/: model.keras (the best epoch's, saved as each one ends), report.json (float
# figures and the command that exports it here, where TensorFlow is), history.csv, curves.png.
set -e
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/gpu-site .gpu/whl/*.whl
mkdir -p /usr/share/fonts/plate-edge && cp .gpu/fonts/* /usr/share/fonts/plate-edge/
export PYTHONPATH="/tmp/gpu-site:$PWD/src:$PWD" KERAS_BACKEND="${KERAS_BACKEND:-jax}" PYTHONUNBUFFERED=1
python3 -c 'import jax; print("jax", jax.__version__, jax.devices())'
python3 -m convert.train_reader --workers "$(nproc)" --cache '' --out "${OUT:-runs}/reader" "$@"
