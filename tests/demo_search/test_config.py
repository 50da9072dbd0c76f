"""SearchConfig: loading, error messages, overrides, database URL precedence and the fingerprint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

import workers.tiny
from demo_search.config import (
    DB_ENV,
    DEFAULT_DB_URL,
    SearchConfig,
    apply_overrides,
    diff_fingerprints,
    load_config,
    load_config_text,
    shortcut_overrides,
)
from demo_search.config import fingerprint as fingerprint_module
from demo_search.errors import ConfigError
from workers.decoding import DecodingParams

BASE = """\
name: quick
model: {path: model}
data:
  pool: {path: pool.jsonl}
  heldout: {path: heldout.jsonl}
"""


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pool.jsonl").write_text('{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    (tmp_path / "heldout.jsonl").write_text('{"prompt": "q", "reference": "r"}\n', encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"\x00" * 64)
    return tmp_path


def write(directory: Path, text: str, name: str = "search.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, overrides=()) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    return caught.value.problems


def line_of(path: Path, needle: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# --- loading a valid file -------------------------------------------------------------------------------------


def test_minimal_file_gets_defaults_and_absolute_paths(workspace):
    config = load_config(write(workspace, BASE))
    assert config.name == "quick"
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.data.heldout.path == str(workspace / "heldout.jsonl")
    assert config.model.path == str(workspace / "model")
    assert (config.strategy.kind, config.strategy.beam_width, config.strategy.max_steps) == ("greedy", 1, 3)
    assert (config.scorer.kind, config.template.position) == ("loglik", "before_fixed")
    assert config.database.url == DEFAULT_DB_URL


def test_relative_paths_resolve_against_the_config_file_not_the_working_directory(workspace, tmp_path, monkeypatch):
    conf = workspace / "conf"
    conf.mkdir()
    (workspace / "rules.txt").write_text("Be helpful.\n", encoding="utf-8")
    path = write(conf, """\
        name: quick
        model: {path: ../model}
        template: {rules_file: ../rules.txt}
        data: {pool: {path: ../pool.jsonl}, heldout: {path: ../heldout.jsonl}}
        """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / path.relative_to(tmp_path))
    assert config.template.rules_file == str(workspace / "rules.txt")
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.model.path == str(workspace / "model")


def test_exponent_numbers_read_as_floats(workspace):
    config = load_config(write(workspace, BASE + "strategy: {min_delta: 1e-3}\ndecoding: {temperature: 5E-1}\n"))
    assert config.strategy.min_delta == pytest.approx(0.001)
    assert config.decoding.temperature == pytest.approx(0.5)


def test_config_is_frozen(workspace):
    config = load_config(write(workspace, BASE))
    with pytest.raises(ValidationError):
        config.decoding.temperature = 1.0  # type: ignore[misc]


# --- one line per problem, naming the key path ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("strategy: {beam_width: 0}", "strategy.beam_width must be >= 1, got 0"),
        ("decoding: {top_p: 1.5}", "decoding.top_p must be in (0, 1], got 1.5"),
        ("decoding: {repetition_penalty: 0.0}", "decoding.repetition_penalty must be > 0, got 0.0"),
        ("decoding: {temperature: -0.5}", "decoding.temperature must be >= 0, got -0.5"),
        ("strategy: {kind: gready}", "strategy.kind must be one of greedy, beam, random, one_shot, got 'gready'"),
        ("template: {position: middle}", "template.position must be one of before_fixed, after_fixed, got 'middle'"),
        ("decoding: {max_tokens: many}", "decoding.max_tokens must be an integer, got 'many'"),
        ("strategy: {max_steps: true}", "strategy.max_steps must be an integer, got true"),
        ("decoding: {top_k: 2.5}", "decoding.top_k must be an integer, got 2.5"),
        ("decoding: {stop: '# Query'}", "decoding.stop must be a list, got '# Query'"),
        ("decoding: {stop: ['']}", "decoding.stop[0] must not be empty"),
        ("strategy: [greedy]", "strategy must be a mapping of keys to values (a section), got ['greedy']"),
        ("strategy: {min_delta: .nan}", "strategy.min_delta must be a finite number, got nan"),
        ("seed: -1", "seed must be >= 0, got -1"),
    ],
)
def test_invalid_value_is_reported_with_key_path_file_and_line(workspace, section, expected):
    path = write(workspace, BASE + section + "\n")
    line = len(BASE.splitlines()) + 1
    assert problems_of(path) == (f"{path}:{line}: {expected}",)


def test_every_problem_is_reported_at_once(workspace):
    path = write(workspace, BASE + "strategy: {kind: gready, beam_width: 0}\ndecoding: {top_p: 1.5}\nwokers: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = [problem.split(": ", 1)[1] for problem in caught.value.problems]
    assert sorted(problems) == sorted([
        "strategy.kind must be one of greedy, beam, random, one_shot, got 'gready'",
        "strategy.beam_width must be >= 1, got 0",
        "decoding.top_p must be in (0, 1], got 1.5",
        "unknown key wokers (did you mean workers?)",
    ])
    assert caught.value.summary == f"invalid configuration in {path} (4 problems)"
    assert "Traceback" not in str(caught.value) and "pydantic" not in str(caught.value)


def test_misspelt_nested_key_suggests_the_closest_valid_key(workspace):
    path = write(workspace, BASE + "strategy:\n  kind: beam\n  beam_widht: 3\n")
    assert problems_of(path) == (
        f"{path}:{line_of(path, 'beam_widht')}: unknown key strategy.beam_widht (did you mean strategy.beam_width?)",
    )


def test_misspelt_top_level_key_suggests_the_closest_valid_key(workspace):
    path = write(workspace, BASE + "scorr: {kind: match}\n")
    assert problems_of(path) == (f"{path}:6: unknown key scorr (did you mean scorer?)",)


def test_key_in_the_wrong_section_suggests_where_it_belongs(workspace):
    path = write(workspace, BASE + "temperature: 0.7\n")
    assert problems_of(path) == (f"{path}:6: unknown key temperature (did you mean decoding.temperature?)",)


def test_unknown_key_without_a_close_match_lists_the_valid_keys(workspace):
    path = write(workspace, BASE + "workers: {colour: blue}\n")
    assert problems_of(path) == (
        f"{path}:6: unknown key workers.colour (valid keys here: count, gpus_per_worker, cpus_per_worker, "
            "resources, max_restarts, placement_timeout_s)",
    )


def test_missing_required_keys_say_what_is_expected(workspace):
    path = write(workspace, "model: {path: model}\ndata: {pool: {path: pool.jsonl}}\n")
    assert problems_of(path) == (
        "name is required: the search name (letters, digits, '_', '.', '-')",
        f"{path}:2: data.heldout is required: the held-out prompts, as {{path: ...}}",
    )


def test_missing_data_file_is_reported_with_its_key_path(workspace):
    path = write(workspace, BASE.replace("pool.jsonl", "nowhere/pool.jsonl"))
    assert problems_of(path) == (f"{path}:4: data.pool.path: file not found: {workspace / 'nowhere' / 'pool.jsonl'}",)


def test_directory_given_as_data_file_is_reported(workspace):
    path = write(workspace, BASE.replace("pool.jsonl", "model"))
    assert problems_of(path) == (f"{path}:4: data.pool.path: not a regular file: {workspace / 'model'}",)


def test_invalid_name_is_reported(workspace):
    path = write(workspace, BASE.replace("name: quick", "name: my search"))
    assert problems_of(path) == (f"{path}:1: name must match ^[A-Za-z0-9_.-]+$, got 'my search'",)


def test_duplicate_keys_are_reported(workspace):
    path = write(workspace, BASE + "seed: 1\nseed: 2\n")
    assert problems_of(path) == (f"{path}:7: duplicate key seed (first written on line 6)",)


def test_invalid_regex_pattern_is_reported(workspace):
    path = write(workspace, BASE + "scorer: {kind: match, match: {mode: regex, pattern: '(unclosed'}}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:6: scorer.match.pattern is not a valid regular expression: ")
    assert problem.endswith(", got '(unclosed'")


def test_bad_database_url_does_not_echo_the_value(workspace):
    path = write(workspace, BASE + "database: {url: 'secret-password-not-a-url'}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:6: database.url is not a database URL (expected e.g. sqlite:///")
    assert "secret" not in problem


# --- reading the file ------------------------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column(workspace):
    path = write(workspace, "name: quick\nstrategy:\n  kind: [greedy\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:4:1: YAML syntax error: ")
    assert caught.value.summary == f"cannot read {path}"


def test_empty_file_is_a_clear_error(workspace):
    path = write(workspace, "# nothing yet\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path} is empty; a config needs at least:\nname: ")


def test_top_level_list_is_a_clear_error(workspace):
    path = write(workspace, "- name: quick\n")
    assert problems_of(path) == (f"{path}: the top level must be a mapping of keys to values, got a list",)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*absent.yaml"):
        load_config(tmp_path / "absent.yaml")


def test_invalid_utf8_names_the_line(workspace):
    path = workspace / "search.yaml"
    path.write_bytes(BASE.encode() + b"seed: \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == (f"{path}:6: invalid UTF-8 (byte {len(BASE) + 6})",)


# --- checks across fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("strategy: {kind: greedy, beam_width: 3}",
         ["strategy.beam_width is 3 but strategy.kind is 'greedy'; only kind beam keeps more than one set per step "
          "(set strategy.kind: beam, or strategy.beam_width: 1)"]),
        ("scorer: {kind: judge, judge: {backend: http}}",
         ["scorer.judge.base_url is required when scorer.judge.backend is http",
          "scorer.judge.model_name is required when scorer.judge.backend is http"]),
        ("scorer: {kind: judge, judge: {backend: local}}",
         ["scorer.judge.model is required when scorer.judge.backend is local"]),
        ("scorer: {kind: reward}", ["scorer.reward.model is required when scorer.kind is reward"]),
        ("scorer: {match: {mode: exact, pattern: 'x+'}}",
         ["scorer.match.pattern is only used with scorer.match.mode regex, but the mode is 'exact'"]),
    ],
)
def test_cross_field_problems_name_the_keys(workspace, section, expected):
    path = write(workspace, BASE + section + "\n")
    assert problems_of(path) == tuple(f"{path}:6: {line}" for line in expected)


def test_tensor_parallel_needs_vllm_and_enough_gpus(workspace):
    path = write(workspace, BASE.replace("{path: model}", "{path: model, tensor_parallel_size: 2}"))
    assert problems_of(path) == (
        "model.tensor_parallel_size is 2 but only engine vllm splits a model across GPUs "
        "(model.engine is 'transformers')",
        "workers.gpus_per_worker must be >= model.tensor_parallel_size (2), got 0",
    )


def test_settings_of_an_unselected_scorer_are_not_required(workspace):
    config = load_config(write(workspace, BASE + "scorer: {kind: loglik, judge: {backend: http}}\n"))
    assert config.scorer.judge.base_url is None


def test_scorer_says_whether_it_needs_references(workspace):
    config = load_config(write(workspace, BASE + "scorer: {kind: match}\n"))
    assert config.scorer.needs_references and config.scorer.generates
    judge = "scorer: {kind: judge, judge: {base_url: http://x, model_name: m}}\n"
    config = load_config(write(workspace, BASE + judge))
    assert not config.scorer.needs_references


# --- model locations ----------------------------------------------------------------------------------------------


def test_hub_id_is_kept_and_not_checked_on_disk(workspace):
    config = load_config(write(workspace, BASE.replace("{path: model}", "{path: meta-llama/Llama-2-7b-hf}")))
    assert config.model.path == "meta-llama/Llama-2-7b-hf"
    assert config.engine_spec().model == "meta-llama/Llama-2-7b-hf"


def test_missing_local_model_directory_is_reported(workspace):
    path = write(workspace, BASE.replace("{path: model}", "{path: ./models/llama}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: model.path: model directory not found: {workspace / 'models' / 'llama'} ")


def test_directory_without_config_json_is_not_a_model(workspace):
    (workspace / "empty").mkdir()
    path = write(workspace, BASE.replace("{path: model}", "{path: empty}"))
    assert problems_of(path) == (
        f"{path}:2: model.path: {workspace / 'empty'} is not a model directory (expected a directory holding "
        "config.json)",
    )


def test_tiny_alias_means_the_bundled_model(workspace, monkeypatch):
    monkeypatch.setattr(workers.tiny, "MODEL_DIR", workspace / "model")
    config = load_config(write(workspace, BASE.replace("model: {path: model}\n", "")))
    assert config.model.path == "tiny"
    assert config.engine_spec().model == str(workspace / "model")


def test_missing_bundled_model_is_reported(workspace, monkeypatch):
    monkeypatch.setattr(workers.tiny, "MODEL_DIR", workspace / "no-model")
    path = write(workspace, BASE.replace("{path: model}", "{path: tiny}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: model.path: the bundled tiny model is missing at {workspace / 'no-model'}")


# --- overrides ------------------------------------------------------------------------------------------------------


def test_overrides_set_nested_values_lists_and_nulls_in_order(workspace):
    path = write(workspace, BASE.replace("{path: model}", "{path: model, max_context: 512}"))
    config = load_config(path, [
        "strategy.kind=beam",
        "strategy.beam_width=2",
        "strategy.beam_width=4",
        "decoding.stop=['# Query', '\\n\\n']",
        "model.max_context=null",
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


# --- database URL precedence ---------------------------------------------------------------------------------------


def test_database_url_precedence_db_option_then_environment_then_file_then_default(workspace, monkeypatch):
    plain = write(workspace, BASE, "plain.yaml")
    with_url = write(workspace, BASE + "database: {url: 'sqlite:///file.db'}\n", "with_url.yaml")
    assert load_config(plain).database.url == DEFAULT_DB_URL
    assert load_config(with_url).database.url == "sqlite:///file.db"
    monkeypatch.setenv(DB_ENV, "sqlite:///env.db")
    assert load_config(plain).database.url == "sqlite:///env.db"
    assert load_config(with_url).database.url == "sqlite:///env.db"
    assert load_config(with_url, shortcut_overrides(db="sqlite:///flag.db")).database.url == "sqlite:///flag.db"
    assert load_config(with_url, ["database.url=sqlite:///set.db"]).database.url == "sqlite:///set.db"


def test_invalid_database_url_from_environment_names_the_variable(workspace, monkeypatch):
    monkeypatch.setenv(DB_ENV, "nonsense")
    (problem,) = problems_of(write(workspace, BASE))
    assert problem.startswith(f"environment {DB_ENV}: database.url is not a database URL")


def test_database_password_is_hidden_in_yaml_and_repr(workspace):
    config = load_config(write(workspace, BASE), ["database.url=postgresql+psycopg://ds:hunter2@db:5432/ds"])
    assert "hunter2" not in config.to_yaml() and "hunter2" not in repr(config)
    assert "postgresql+psycopg://ds:***@db:5432/ds" in config.to_yaml()
    assert "hunter2" in config.to_yaml(hide_password=False)


# --- conversions -------------------------------------------------------------------------------------------------------


def test_to_decoding_params_carries_every_decoding_field(workspace):
    path = write(workspace, BASE + "decoding: {temperature: 0.5, top_p: 0.9, top_k: 40, repetition_penalty: 1.15,"
                                   " max_tokens: 64, stop: ['# Query'], seed: 3}\n")
    assert load_config(path).to_decoding_params() == DecodingParams(
        temperature=0.5, top_p=0.9, top_k=40, repetition_penalty=1.15, max_tokens=64, stop=("# Query",), seed=3
    )


def test_engine_spec_follows_model_and_workers(workspace):
    path = write(workspace, BASE.replace(
        "{path: model}",
        "{path: model, engine: vllm, dtype: bfloat16, max_context: 4096, batch_size: 4, tensor_parallel_size: 2,"
        " options: {gpu_memory_utilization: 0.8}}",
    ) + "workers: {gpus_per_worker: 2}\n")
    spec = load_config(path).engine_spec()
    assert (spec.kind, spec.model, spec.dtype, spec.device) == ("vllm", str(workspace / "model"), "bfloat16", "cuda")
    assert (spec.max_context, spec.batch_size) == (4096, 4)
    assert spec.options == {"gpu_memory_utilization": 0.8, "tensor_parallel_size": 2}
    assert load_config(write(workspace, BASE)).engine_spec().device == "cpu"


def test_to_yaml_reads_back_to_an_equal_config(workspace, tmp_path):
    config = load_config(write(workspace, BASE + "strategy: {kind: beam, beam_width: 2}\ndecoding: {stop: [x]}\n"))
    assert load_config_text(config.to_yaml(), base_dir=tmp_path / "anywhere") == config


# --- fingerprint ------------------------------------------------------------------------------------------------------


def test_fingerprint_is_stable_across_key_order_and_equal_configs(workspace):
    one = write(workspace, BASE + "decoding: {temperature: 0.5, top_p: 0.9}\n", "one.yaml")
    two = write(workspace, """\
        decoding: {top_p: 0.9, temperature: 0.5}
        data:
          heldout: {path: heldout.jsonl}
          pool: {path: pool.jsonl}
        model: {path: model}
        name: quick
        """, "two.yaml")
    first, second = load_config(one).fingerprint(), load_config(two).fingerprint()
    assert first == second
    assert len(first.digest) == 64 and int(first.digest, 16) >= 0
    assert first == load_config(one).fingerprint()


def test_fingerprint_ignores_name_database_workers_steps_budget_and_batching(workspace):
    base = load_config(write(workspace, BASE)).fingerprint()
    changed = load_config(write(workspace, BASE), [
        "name=other", "database.url=sqlite:///elsewhere.db", "workers.count=8", "workers.gpus_per_worker=1",
        "workers.cpus_per_worker=4", "strategy.max_steps=10", "strategy.budget.max_evaluations=100",
        "strategy.budget.max_wall_time_s=60", "model.batch_size=32",
    ]).fingerprint()
    assert changed == base


def test_fingerprint_names_a_changed_result_field(workspace):
    path = write(workspace, BASE)
    old = load_config(path).fingerprint()
    new = load_config(path, ["decoding.temperature=0.7", "template.position=after_fixed"]).fingerprint()
    assert new.digest != old.digest
    assert diff_fingerprints(old.parts, new.parts) == ["decoding.temperature", "template.position"]


def test_fingerprint_follows_data_file_contents_not_their_location(workspace):
    path = write(workspace, BASE)
    old = load_config(path).fingerprint()
    (workspace / "moved").mkdir()
    (workspace / "moved" / "pool.jsonl").write_bytes((workspace / "pool.jsonl").read_bytes())
    assert load_config(path, ["data.pool.path=moved/pool.jsonl"]).fingerprint() == old
    (workspace / "pool.jsonl").write_text('{"instruction": "a", "output": "changed"}\n', encoding="utf-8")
    new = load_config(path).fingerprint()
    assert diff_fingerprints(old.parts, new.parts) == ["data.pool.path (contents)"]


def test_fingerprint_follows_optional_files_and_model_contents(workspace):
    (workspace / "rules.txt").write_text("Be helpful.\n", encoding="utf-8")
    path = write(workspace, BASE)
    old = load_config(path).fingerprint()
    with_rules = load_config(path, ["template.rules_file=rules.txt"]).fingerprint()
    assert diff_fingerprints(old.parts, with_rules.parts) == ["template.rules_file (contents)"]
    (workspace / "model" / "model.safetensors").write_bytes(b"\x01" * 64)
    assert diff_fingerprints(old.parts, load_config(path).fingerprint().parts) == ["model.path (contents)"]


def test_large_model_files_are_fingerprinted_by_size_and_both_ends(workspace, monkeypatch):
    monkeypatch.setattr(fingerprint_module, "FULL_HASH_LIMIT", 16)
    monkeypatch.setattr(fingerprint_module, "SAMPLE_BYTES", 8)
    path = write(workspace, BASE)
    old = load_config(path).fingerprint()
    (workspace / "model" / "model.safetensors").write_bytes(b"\x00" * 63 + b"\x01")
    assert diff_fingerprints(old.parts, load_config(path).fingerprint().parts) == ["model.path (contents)"]


def test_fingerprint_covers_only_the_selected_scorer(workspace):
    path = write(workspace, BASE)
    old = load_config(path).fingerprint()
    assert load_config(path, ["scorer.judge.model_name=gpt-4", "scorer.match.mode=contains"]).fingerprint() == old
    judge = ["scorer.kind=judge", "scorer.judge.base_url=http://localhost:8000/v1", "scorer.judge.model_name=gpt-4"]
    as_judge = load_config(path, judge).fingerprint()
    moved = load_config(path, [*judge, "scorer.judge.base_url=http://other:8000/v1", "scorer.judge.timeout_s=5"])
    assert moved.fingerprint() == as_judge
    renamed = load_config(path, [*judge, "scorer.judge.model_name=gpt-4o"]).fingerprint()
    assert diff_fingerprints(as_judge.parts, renamed.parts) == ["scorer.judge.model_name"]
    assert {"scorer.kind", "scorer.judge.model_name", "scorer.judge.max_tokens"} <= set(
        diff_fingerprints(old.parts, as_judge.parts)
    )


def test_fingerprint_of_a_vanished_file_is_a_config_error(workspace):
    config = load_config(write(workspace, BASE))
    (workspace / "heldout.jsonl").unlink()
    with pytest.raises(ConfigError) as caught:
        config.fingerprint()
    assert caught.value.problems == (f"data.heldout.path: file not found: {workspace / 'heldout.jsonl'}",)


def test_diff_fingerprints_names_keys_present_on_one_side_only():
    old = {"a": "1", "b": "2", "model.path (contents)": "3"}
    new = {"a": "1", "b": "9", "model.path (hub id)": "4"}
    assert diff_fingerprints(old, new) == ["b", "model.path (contents)", "model.path (hub id)"]
    assert diff_fingerprints(old, dict(old)) == []


def test_search_config_can_be_built_in_code_with_defaults(workspace):
    config = SearchConfig.model_validate(
        {"name": "coded", "model": {"path": "model"},
         "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}}},
        context={"base_dir": workspace},
    )
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.to_decoding_params() == DecodingParams()
