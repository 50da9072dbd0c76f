"""The light core: ``status``, ``list``, ``export`` and ``db upgrade`` run without the ``search`` extra; ``validate`` and
``run``, which load the model's tokenizer, say in one line what to install.

Each command runs in a fresh interpreter in which importing torch, transformers, tokenizers, safetensors, Ray,
Optuna or vLLM fails, as it would where only ``pip install demo-search`` (no extras) was done, against a store
written by the full install.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo_search.cli.stored import StoredSearch, write_stored_search

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver

HEAVY = ("torch", "transformers", "tokenizers", "safetensors", "ray", "optuna", "vllm", "psutil")
WITHOUT_EXTRAS = f"""
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {HEAVY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Missing())
from demo_search.cli import app
app(sys.argv[1:], prog_name="demo-search")
"""


def without_extras(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, *args], cwd=cwd, text=True, capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONPATH": str(Path.cwd())},
                          timeout=120)


@pytest.fixture()
def stored(tmp_path: Path) -> StoredSearch:
    return write_stored_search(tmp_path / "search")


def test_reading_commands_need_no_engine_packages(stored: StoredSearch, tmp_path: Path) -> None:
    listed = without_extras("list", "--db", stored.url, cwd=tmp_path)
    status = without_extras("status", stored.name, "--db", stored.url, cwd=tmp_path)
    exported = without_extras("export", stored.name, "--db", stored.url, "-o", str(tmp_path / "best.json"),
                              cwd=tmp_path)

    for result in (listed, status, exported):
        assert result.returncode == 0, result.stdout + result.stderr
    assert stored.name in listed.stdout
    assert "finished; 3 step(s) recorded" in status.stdout
    document = json.loads((tmp_path / "best.json").read_text(encoding="utf-8"))
    assert [demo["id"] for demo in document["demonstrations"] if demo["id"] in stored.chosen] == list(stored.chosen)


def test_db_upgrade_needs_no_engine_packages_and_validate_names_what_to_install(
    stored: StoredSearch, tmp_path: Path
) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgraded = without_extras("db", "upgrade", "--db", fresh, cwd=tmp_path)
    validated = without_extras("validate", str(stored.db.parent / f"{stored.name}.yaml"), cwd=tmp_path)

    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert validated.returncode == 1, validated.stdout + validated.stderr
    assert "Traceback" not in validated.stderr
    assert 'needs the search extra (missing: transformers): pip install "demo-search[search]"' in validated.stderr


def test_running_a_search_without_the_extra_names_what_to_install(stored: StoredSearch, tmp_path: Path) -> None:
    result = without_extras("run", str(stored.db.parent / f"{stored.name}.yaml"), "--db", f"sqlite:///{tmp_path / 'r.db'}",
                            cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert 'pip install "demo-search[search]"' in result.stderr
