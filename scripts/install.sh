#!/usr/bin/env bash
# Install Citywatch (editable) and its Python dependencies into the current Python; idempotent.
#
# Usage: scripts/install.sh [EXTRA]     e.g. scripts/install.sh test
# torch comes from the local wheel store pip is configured with (no other torch is pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extra=${1:-}
$PY -m pip install -q --disable-pip-version-check -e ".${extra:+[$extra]}"
# ultralytics and trackers depend on the desktop build of OpenCV; servers run the headless one.
# Both install the same `cv2` package, so swap the desktop build out again after each install.
if $PY -m pip show opencv-python >/dev/null 2>&1; then
  headless=$($PY -m pip show opencv-python-headless | awk '/^Version:/ {print $2}')
  $PY -m pip uninstall -y -q opencv-python
  $PY -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "opencv-python-headless==${headless}"
fi
# Plate reading (`citywatch plates read`, the `plates` extra): rapidocr_onnxruntime's metadata asks for
# the desktop OpenCV build, so it is installed without dependencies (the others, onnxruntime, numpy,
# PyYAML, Pillow, tqdm, are already here); then its PP-OCRv4 models are copied into the model store
# ($CITYWATCH_MODEL_DIR, else models/) and checked against models/models.yaml. Both steps skip work already done.
$PY -m pip install -q --disable-pip-version-check --no-deps "rapidocr_onnxruntime==1.4.4" pyclipper shapely six
$PY -m citywatch models import-plates
$PY -c "import cv2, av, onnxruntime, vision, citywatch; print('citywatch installed; OpenCV', cv2.__version__)"
