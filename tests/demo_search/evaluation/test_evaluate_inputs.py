"""``demo-search evaluate`` refuses bad input with one clear line before any engine starts: a missing prompt file,
an export that is not JSON or not an export, a missing prompt set; and the paired t statistics it prints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from demo_search.evaluation.statistics import paired_difference, t_central_probability, t_critical
from tests.support import harness

T_TABLE = {1: 12.706204736, 2: 4.302652730, 4: 2.776445105, 9: 2.262157163, 30: 2.042272456, 120: 1.979930405}
"""Two-sided 95% critical values of Student's t, from published tables."""


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_critical_values_match_the_tables(df: int, expected: float) -> None:
    assert t_critical(df) == pytest.approx(expected, abs=1e-8)
    assert t_central_probability(expected, df) == pytest.approx(0.95, abs=1e-9)


def test_a_paired_difference_skips_prompts_either_side_failed() -> None:
    first, second = [0.5, 1.0, None, 2.0, 0.0], [1.0, 1.0, 3.0, 3.0, None]
    diffs = [0.5, 0.0, 1.0]
    difference = paired_difference(first, second)
    mean = sum(diffs) / 3
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2 / 3)
    assert (difference.n, difference.mean, difference.stderr) == (3, pytest.approx(mean), pytest.approx(se))
    assert (difference.low, difference.high) == pytest.approx((mean - T_TABLE[2] * se, mean + T_TABLE[2] * se))
    assert paired_difference([1.0], [2.0]).low is None  # one pair: no interval
    assert paired_difference([None], [2.0]) is None


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    model = harness.random_model_dir(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("evaluate-inputs")
    files = harness.write_search_data(root / "data", model, prompts=2)
    return harness.write_config(root / "search.yaml", files, name="x", db=root / "x.db"), files.heldout


def _error_line(*args: str) -> str:
    result = harness.invoke("evaluate", *args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_missing_prompt_file_is_one_line(config: tuple[Path, Path], tmp_path: Path) -> None:
    path, heldout = config
    line = _error_line(str(tmp_path / "nope.json"), "--on", str(heldout), "--config", str(path))
    assert line == f"error: {tmp_path / 'nope.json'}: no such file (give an export, a URIAL prompt file, or 'base')"


def test_an_unreadable_export_is_one_line(config: tuple[Path, Path], tmp_path: Path) -> None:
    path, heldout = config
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "demo-search.export", ', encoding="utf-8")
    assert _error_line(str(broken), "--on", str(heldout), "--config", str(path)).startswith(
        f"error: {broken}: not a readable export: invalid JSON"
    )
    other = tmp_path / "other.json"
    other.write_text('{"format": "something else"}', encoding="utf-8")
    line = _error_line("base", str(other), "--on", str(heldout), "--config", str(path))
    assert line.startswith(f"error: {other}: not a readable export: the export document does not match its schema")


def test_a_missing_prompt_set_is_one_line(config: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = config
    assert _error_line("base", "--on", str(tmp_path / "none.jsonl"), "--config", str(path)) == (
        f"error: {tmp_path / 'none.jsonl'}: no such prompt file"
    )
