#!/usr/bin/env bash
# Set everything up and run the quickstart search on the embedded defaults: the bundled tiny model on the
# transformers engine, local Ray, SQLite. Prints the trajectory and writes runs/quickstart/best.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEMO_SEARCH_DB="${DEMO_SEARCH_DB:-sqlite:///runs/quickstart/demo_search.db}"
mkdir -p runs/quickstart
name="quickstart-$(date +%Y%m%d-%H%M%S)"
.venv/bin/demo-search run examples/quickstart.yaml --name "$name" -o runs/quickstart/best.json
echo "best demonstration set: $(pwd)/runs/quickstart/best.json  (search '$name' in $DEMO_SEARCH_DB)"
