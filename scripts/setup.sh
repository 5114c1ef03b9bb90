#!/usr/bin/env bash
# Create .venv and install alphago-lite with its test and benchmark extras.
# torch is installed first, pinned, so that pip does not pull a multi-GB CUDA build on CPU machines
# that carry the CPU wheel locally; set TORCH_SPEC to choose another build (e.g. TORCH_SPEC=torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -m pip install -q -e ".[test,bench]"
echo "alphago-lite installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
