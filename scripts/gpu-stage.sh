#!/bin/sh
# Here, before a GPU run: fills .gpu/ (git-ignored) with what the GPU machine lacks for training the
# reader with Keras' JAX backend (it has JAX, PyTorch, NumPy, OpenCV, Pillow and Matplotlib, but no
# TensorFlow, no Keras, no network): wheels for its Python 3.12 (Keras and what plate_edge imports
# that it lacks), at the versions of our training venv, and the renderer's fonts. Then see
# scripts/gpu-train.sh.
set -e
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
rm -rf .gpu && mkdir -p .gpu/whl .gpu/fonts
pins=$("$PY" -m pip freeze 2>/dev/null | grep -i -E \
    '^(keras|namex|optree|pydantic|pydantic.core|annotated.types|typing.inspection|paho.mqtt|rapidfuzz)==')
# shellcheck disable=SC2086
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .gpu/whl $pins
"$PY" - <<'PYEOF'
import shutil
from convert import worldplates
fonts = {f for kind in ("us", "din", "wide", "serif", "deco") for f in worldplates._fonts(kind)}
for f in fonts:
    shutil.copy(f, ".gpu/fonts/")
print(f".gpu/: {len(fonts)} fonts")
PYEOF
ls .gpu/whl
du -sh .gpu
