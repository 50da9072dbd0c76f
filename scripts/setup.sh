#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install demo-search into it.
# torch is pinned to the local CPU build (2.13.0) first, so nothing pulls the CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[${EXTRAS:-dev}]"
