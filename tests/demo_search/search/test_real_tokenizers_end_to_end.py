"""``validate`` and a one-step search, end to end, on a random-weight model of each real tokenizer's vocabulary.

For each tokenizer of ``tests/support/real_tokenizers.py`` (Llama-3 BPE, Qwen2, Mistral-7B-v0.1's SentencePiece
with ``legacy`` true and false, Mistral tekken, GPT-NeoX) a tiny random Llama with that vocabulary is put into the
session's offline Hugging Face cache under a hub id (``tests/support/hf_cache.py``), so the model is found the way
a user's ``hf download`` is found. ``demo-search validate`` must pass, and ``demo-search run`` (in this process,
on this process's Ray, transformers engine) must store a one-step greedy loglik search: the base set and one set
per candidate, every (set, prompt) pair scored. The tokenizer the driver loads (the model's own, by hub id) and the
units it hands to the engine actors are recorded, and every prompt in those units must be that tokenizer's
whole-string tokenization of the prompt's text (on this data, tokenizing the prompt's pieces one by one and
joining them would differ for GPT-NeoX and Mistral v1 ``legacy`` on every prompt).
``tests/demo_search/templates/test_whole_string_ids.py`` checks the same property on the shared URIAL + MT-Bench
data without an engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import demo_search.search.session
from demo_search.assembly import build_template
from demo_search.config import load_config
from demo_search.inputs import load_inputs, load_tokenizer
from demo_search.search.candidates import set_key
from demo_search.search.lease import LeaseCheckedDispatcher
from demo_search.templates import ordered_demonstrations
from tests.support import harness
from tests.support.harness import SearchData, SearchDb
from tests.support.hf_cache import cache_random_model
from tests.support.real_tokenizers import REAL_TOKENIZERS, write_tokenizer_dir
from workers.units import WorkUnit

pytestmark = pytest.mark.slow

MODEL_SIZES = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
)
"""Tiny on purpose: the embedding is vocabulary x hidden (150k x 32 fp32 is 19 MB, tied with the output layer)."""

CANDIDATES = 2
PROMPTS = 3
SETS = 1 + CANDIDATES
"""Step 0 scores the base set (the fixed demonstrations), step 1 the base set plus each candidate."""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> SearchData:
    """Pool (one upper-case and one reversing demonstration), three held-out prompts, rules and two fixed
    demonstrations; the model entry is replaced by a hub id per test."""
    harness.ray_address()
    root = tmp_path_factory.mktemp("real-tokenizers")
    return harness.write_search_data(root / "data", root / "unused-model", per_rule=1, prompts=PROMPTS)


@dataclass
class DriverView:
    """What the search driver of this process used: the tokenizer it loaded and every unit it handed to its
    dispatcher (and so to the engine actors)."""

    tokenizers: list[Any] = field(default_factory=list)
    units: list[WorkUnit] = field(default_factory=list)


@pytest.fixture
def driver_view(monkeypatch: pytest.MonkeyPatch) -> DriverView:
    view = DriverView()

    def recording_load_tokenizer(config):
        view.tokenizers.append(load_tokenizer(config))
        return view.tokenizers[-1]

    class RecordingDispatcher(LeaseCheckedDispatcher):
        def run(self, units) -> Iterator:
            view.units.extend(units)
            return super().run(units)

    monkeypatch.setattr(demo_search.search.session, "load_tokenizer", recording_load_tokenizer)
    monkeypatch.setattr(demo_search.search.session, "LeaseCheckedDispatcher", RecordingDispatcher)
    return view


def hub_model_of(name: str, root: Path) -> str:
    """A random tiny Llama with tokenizer ``name``'s vocabulary in the session's Hugging Face cache; its hub id."""
    tokenizer_dir = write_tokenizer_dir(name, root / f"tokenizer-{name}")
    return cache_random_model(f"tests-org/tiny-{name}", tokenizer_dir, **MODEL_SIZES).repo_id


def assert_whole_string_ids(config_path: Path, view: DriverView) -> int:
    """Every prompt the driver sent (loglik: prompt and reference) is its tokenizer's ids of the prompt's whole
    text, special tokens added as that tokenizer adds them; returns how many prompts were checked."""
    config = load_config(config_path)
    [tokenizer] = view.tokenizers
    assert tokenizer.name_or_path == config.model.path, "the model's own tokenizer, loaded by hub id"
    inputs = load_inputs(config, tokenizer=tokenizer).raise_if_errors()
    template = build_template(config, tokenizer)
    added_by_key = {set_key(()): ()} | {set_key((demo.id,)): (demo,) for demo in inputs.candidates}
    prompts = {prompt.id: prompt for prompt in inputs.heldout.items}
    checked = 0
    for unit in view.units:
        assert unit.kind == "score", unit.unit_id
        for branch in unit.tree.branches:
            demos = ordered_demonstrations((), added_by_key[branch.branch_id], inputs.fixed, config.template.position)
            for leaf in unit.tree.leaves:
                text = template.render_prompt(inputs.rules, demos, prompts[leaf.leaf_id], with_target=True)
                expected = tokenizer(text, split_special_tokens=True)["input_ids"]
                sent = unit.tree.full_prompt(branch, leaf, with_target=True)
                assert list(sent) == expected, f"{config.model.path} {leaf.leaf_id}: sent ids differ from whole string"
                assert leaf.target_ids, "a loglik prompt has reference tokens to score"
                checked += 1
    return checked


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
def test_validate_and_a_one_step_search_run_on_a_random_model_of_the_vocabulary(
    name: str, files: SearchData, tmp_path: Path, driver_view: DriverView
) -> None:
    repo_id = hub_model_of(name, tmp_path)
    db = tmp_path / "search.db"
    search = f"real-{name}"
    config = harness.write_config(
        tmp_path / "search.yaml", files, name=search, db=db,
        model={"path": repo_id, "revision": "main", "engine": "transformers", "batch_size": 4},
        strategy={"max_steps": 1},
    )

    validated = harness.invoke("validate", str(config))
    assert validated.exit_code == 0, validated.output
    assert "ok: configuration and data are valid" in " ".join(validated.output.split())

    result = harness.invoke("run", str(config))
    assert result.exit_code == 0, result.output
    assert f"this run computed {SETS * PROMPTS} (set, prompt) pair(s)" in result.output

    stored = SearchDb(db, search)
    assert stored.status() == "finished"
    assert [row[0] for row in stored.trajectory()] == [0, 1]
    candidates = stored.candidates()
    assert sorted(row[0] for row in candidates) == [0] + [1] * CANDIDATES
    assert {row[4] for row in candidates} == {"scored"}, candidates
    evaluations = stored.evaluations()
    assert len(evaluations) == SETS * PROMPTS == stored.evaluation_count()
    assert all(score is not None and math.isfinite(score) for score in evaluations.values()), evaluations
    assert stored.rows_per_set() == {key: PROMPTS for key, _ in evaluations}

    assert assert_whole_string_ids(config, driver_view) == SETS * PROMPTS
