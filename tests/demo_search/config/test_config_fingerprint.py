"""The configuration fingerprint a resume compares (``demo_search.config.fingerprint``)."""

from __future__ import annotations

import pytest

from demo_search.config import Fingerprint, compute_fingerprint, diff_fingerprints, load_config
from demo_search.config import fingerprint as fingerprint_module
from demo_search.errors import ConfigError
from tests.demo_search.config.config_files import BASE, write


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
    first, second = compute_fingerprint(load_config(one)), compute_fingerprint(load_config(two))
    assert first == second
    assert len(first.digest) == 64 and int(first.digest, 16) >= 0
    assert first == compute_fingerprint(load_config(one))


def test_fingerprint_ignores_name_database_workers_steps_budget_failure_policy_and_batching(workspace):
    base = compute_fingerprint(load_config(write(workspace, BASE)))
    changed = compute_fingerprint(load_config(write(workspace, BASE), [
        "name=other", "database.url=sqlite:///elsewhere.db", "workers.count=8", "workers.gpus_per_worker=1",
        "workers.cpus_per_worker=4", "strategy.max_steps=10", "strategy.budget.max_evaluations=100",
        "strategy.budget.max_wall_time_s=60", "model.batch_size=32", "strategy.on_failed_candidate=skip",
    ]))
    assert changed == base


def test_fingerprint_names_a_changed_result_field(workspace):
    path = write(workspace, BASE)
    old = compute_fingerprint(load_config(path))
    new = compute_fingerprint(load_config(path, ["decoding.temperature=0.7", "template.position=after_fixed"]))
    assert new.digest != old.digest
    assert diff_fingerprints(old.parts, new) == ["decoding.temperature", "template.position"]


def test_fingerprint_follows_data_file_contents_not_their_location(workspace):
    path = write(workspace, BASE)
    old = compute_fingerprint(load_config(path))
    (workspace / "moved").mkdir()
    (workspace / "moved" / "pool.jsonl").write_bytes((workspace / "pool.jsonl").read_bytes())
    assert compute_fingerprint(load_config(path, ["data.pool.path=moved/pool.jsonl"])) == old
    (workspace / "pool.jsonl").write_text('{"instruction": "a", "output": "changed"}\n', encoding="utf-8")
    new = compute_fingerprint(load_config(path))
    assert diff_fingerprints(old.parts, new) == ["data.pool.path (contents)"]


def test_fingerprint_follows_optional_files_and_model_contents(workspace):
    (workspace / "rules.txt").write_text("Be helpful.\n", encoding="utf-8")
    path = write(workspace, BASE)
    old = compute_fingerprint(load_config(path))
    with_rules = compute_fingerprint(load_config(path, ["template.rules_file=rules.txt"]))
    assert diff_fingerprints(old.parts, with_rules) == ["template.rules_file (contents)"]
    (workspace / "model" / "model.safetensors").write_bytes(b"\x01" * 64)
    assert diff_fingerprints(old.parts, compute_fingerprint(load_config(path))) == ["model.path (contents)"]


def test_large_model_files_are_fingerprinted_by_size_and_both_ends(workspace, monkeypatch):
    monkeypatch.setattr(fingerprint_module, "FULL_HASH_LIMIT", 16)
    monkeypatch.setattr(fingerprint_module, "SAMPLE_BYTES", 8)
    path = write(workspace, BASE)
    old = compute_fingerprint(load_config(path))
    (workspace / "model" / "model.safetensors").write_bytes(b"\x00" * 63 + b"\x01")
    assert diff_fingerprints(old.parts, compute_fingerprint(load_config(path))) == ["model.path (contents)"]


def test_fingerprint_covers_only_the_selected_scorer(workspace):
    path = write(workspace, BASE)
    old = compute_fingerprint(load_config(path))
    assert compute_fingerprint(load_config(path, ["scorer.judge.model_name=gpt-4", "scorer.match.mode=contains"])) == old
    judge = ["scorer.kind=judge", "scorer.judge.base_url=http://localhost:8000/v1", "scorer.judge.model_name=gpt-4"]
    as_judge = compute_fingerprint(load_config(path, judge))
    moved = load_config(path, [*judge, "scorer.judge.base_url=http://other:8000/v1", "scorer.judge.timeout_s=5"])
    assert compute_fingerprint(moved) == as_judge
    renamed = compute_fingerprint(load_config(path, [*judge, "scorer.judge.model_name=gpt-4o"]))
    assert diff_fingerprints(as_judge.parts, renamed) == ["scorer.judge.model_name"]
    # The judge's settings left at their defaults (max_tokens) add nothing to the difference the kind makes.
    assert diff_fingerprints(old.parts, as_judge) == ["scorer.judge.model_name", "scorer.kind"]


def test_fingerprint_of_a_vanished_file_is_a_config_error(workspace):
    config = load_config(write(workspace, BASE))
    (workspace / "heldout.jsonl").unlink()
    with pytest.raises(ConfigError) as caught:
        compute_fingerprint(config)
    assert caught.value.problems == (f"data.heldout.path: file not found: {workspace / 'heldout.jsonl'}",)


def test_diff_fingerprints_names_keys_present_on_one_side_only():
    old = {"a": "1", "b": "2", "model.path (contents)": "3"}
    new = Fingerprint(digest="x", parts={"a": "1", "b": "9", "model.path (hub id)": "4"})
    assert diff_fingerprints(old, new) == ["b", "model.path (contents)", "model.path (hub id)"]
    assert diff_fingerprints(old, Fingerprint(digest="y", parts=dict(old))) == []


def test_a_setting_added_after_a_search_was_stored_matches_it_only_at_its_default(workspace):
    """A search stored by an earlier version has no part for a setting added since: at its default the
    setting is no difference (the search resumes), set to anything else it is."""
    current = compute_fingerprint(load_config(write(workspace, BASE)))
    stored_before = {k: v for k, v in current.parts.items() if k != "decoding.temperature"}
    assert current.defaults["decoding.temperature"] == current.parts["decoding.temperature"]
    assert diff_fingerprints(stored_before, current) == []
    changed = compute_fingerprint(load_config(write(workspace, BASE + "decoding:\n  temperature: 0.7\n")))
    assert diff_fingerprints(stored_before, changed) == ["decoding.temperature"]
    # A part the stored search has and the current config lacks is always a difference.
    assert diff_fingerprints({**current.parts, "template.retired": "h"}, current) == ["template.retired"]


def test_a_hub_models_revision_counts_only_when_set(workspace):
    hub = BASE.replace("{path: model}", "{path: org/name}")
    unset = compute_fingerprint(load_config(write(workspace, hub)))
    stored_before_the_key = {k: v for k, v in unset.parts.items() if k != "model.revision"}
    assert diff_fingerprints(stored_before_the_key, unset) == []  # searches stored before the key existed resume
    pinned = compute_fingerprint(load_config(write(workspace, hub.replace("org/name}", "org/name, revision: v2}"))))
    assert diff_fingerprints(unset.parts, pinned) == ["model.revision"]
    assert diff_fingerprints(stored_before_the_key, pinned) == ["model.revision"]


def test_a_test_split_is_no_part_when_unset_and_a_difference_when_set_or_changed(workspace):
    """Configurations without ``data.test`` keep the parts (so the digest) they had before the key existed;
    a test file is fingerprinted by its contents like the held-out file; when it is scored is no difference."""
    without = compute_fingerprint(load_config(write(workspace, BASE)))
    assert not [key for key in without.parts if key.startswith("data.test")]
    every_step_off = compute_fingerprint(load_config(write(workspace, BASE), ["data.test_every_step=false"]))
    assert every_step_off == without

    (workspace / "test.jsonl").write_text('{"prompt": "q", "reference": "a"}\n', encoding="utf-8")
    with_test = BASE + "  test: {path: test.jsonl}\n"
    tested = compute_fingerprint(load_config(write(workspace, with_test)))
    assert diff_fingerprints(without.parts, tested) == ["data.test.path (contents)"]
    assert diff_fingerprints(tested.parts, without) == [
        "data.test.format", "data.test.path (contents)", "data.test.turns"
    ]
    (workspace / "test.jsonl").write_text('{"prompt": "q", "reference": "changed"}\n', encoding="utf-8")
    changed = compute_fingerprint(load_config(write(workspace, with_test)))
    assert diff_fingerprints(tested.parts, changed) == ["data.test.path (contents)"]
