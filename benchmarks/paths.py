"""Where benchmarks find the paper's data and keep their cache and results."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DATA_DIR = Path(os.environ.get("DEMO_SEARCH_BENCH_DATA", REPO_DIR / "data" / "icl-alignment"))
CACHE_DIR = Path(os.environ.get("DEMO_SEARCH_BENCH_CACHE", PACKAGE_DIR / ".cache"))
RESULTS_FILE = PACKAGE_DIR / "RESULTS.md"
