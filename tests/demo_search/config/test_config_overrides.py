"""``--set key=value`` overrides and the CLI shortcuts (``demo_search.config.overrides``)."""

from __future__ import annotations

import pytest

from demo_search.config import apply_overrides, load_config, shortcut_overrides
from demo_search.errors import ConfigError
from tests.demo_search.config.config_files import BASE, problems_of, write


def test_overrides_set_nested_values_lists_and_nulls_in_order(workspace):
    path = write(workspace, BASE.replace("{path: model}", "{path: model, max_context: 512}"))
    config = load_config(path, [
        "strategy.kind=beam",
        "strategy.beam_width=2",
        "strategy.beam_width=4",
        "decoding.stop=['# Query', '\\n\\n']",
        "model.max_context=null",
        "model.engine=vllm",
        "model.options.gpu_memory_utilization=0.8",
        "scorer.match.mode=normalized",
    ])
    assert (config.strategy.kind, config.strategy.beam_width) == ("beam", 4)
    assert config.decoding.stop == ("# Query", "\\n\\n")
    assert config.model.max_context is None
    assert config.model.options == {"gpu_memory_utilization": 0.8}
    assert config.scorer.match.mode == "normalized"


def test_misspelt_override_key_gets_did_you_mean_and_names_the_override(workspace):
    path = write(workspace, BASE)
    assert problems_of(path, ["strategy.beam_widht=2", "decodng.temperature=0.5"]) == (
        "override 'strategy.beam_widht=2': unknown key strategy.beam_widht (did you mean strategy.beam_width?)",
        "override 'decodng.temperature=0.5': unknown key decodng (did you mean decoding?)",
    )


def test_out_of_range_override_names_the_override(workspace):
    path = write(workspace, BASE + "decoding: {top_p: 0.9}\n")
    assert problems_of(path, ["decoding.top_p=2"]) == (
        "override 'decoding.top_p=2': decoding.top_p must be in (0, 1], got 2.0",
    )


def test_malformed_overrides_are_reported_together(workspace):
    path = write(workspace, BASE)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["strategy.kind", "=3", "name.first=x", "decoding.stop=[unclosed"])
    assert caught.value.problems[:2] == (
        "override 'strategy.kind': expected KEY=VALUE with a dotted key, e.g. strategy.beam_width=3",
        "override '=3': expected KEY=VALUE with a dotted key, e.g. strategy.beam_width=3",
    )
    assert caught.value.problems[2].startswith("override 'decoding.stop=[unclosed': the value is not valid YAML")


def test_override_below_a_single_value_is_reported():
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"name": "quick"}, ["name.first=x"])
    assert caught.value.problems == (
        "override 'name.first=x': name is a single value ('quick'), not a section with keys",
    )


def test_apply_overrides_leaves_the_input_unchanged():
    raw = {"strategy": {"kind": "greedy"}}
    assert apply_overrides(raw, ["strategy.kind=beam", "seed=7"]) == {"strategy": {"kind": "beam"}, "seed": 7}
    assert raw == {"strategy": {"kind": "greedy"}}


def test_cli_shortcuts_are_overrides_with_values_used_as_given(workspace):
    path = write(workspace, BASE)
    config = load_config(path, shortcut_overrides(name="2024", db="sqlite:////tmp/x.db", workers=3))
    assert (config.name, config.database.url, config.workers.count) == ("2024", "sqlite:////tmp/x.db", 3)
    assert problems_of(path, shortcut_overrides(workers="0")) == (
        "--workers: workers.count: must be a whole number >= 1, or auto, got 0",
    )
    assert load_config(path, shortcut_overrides(workers="auto")).workers.count == "auto"
