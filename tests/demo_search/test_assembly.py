"""Runtime parts built from a configuration (``demo_search.assembly``), and the one seed rule of search and tuning."""

from __future__ import annotations

import pytest

from demo_search.assembly import build_strategy, build_template, decoding_params
from demo_search.config import SearchConfig
from demo_search.tuning.objective import TrialObjective
from demo_search.tuning.prompt import TuningPrompt
from demo_search.tuning.space import SEARCH_SETTINGS, SearchSpace
from demo_search.types import Demonstration, HeldOutPrompt
from demo_search.scoring.match import MatchScorer
from workers.decoding import DecodingParams
from workers.tiny import build_byte_tokenizer


def config(tmp_path, **sections) -> SearchConfig:
    for name in ("pool.jsonl", "heldout.jsonl"):
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    data = {"pool": {"path": str(tmp_path / "pool.jsonl")}, "heldout": {"path": str(tmp_path / "heldout.jsonl")}}
    return SearchConfig.model_validate({"name": "s", "data": data, **sections})


@pytest.mark.parametrize(("seed", "decoding_seed", "expected"), [(7, None, 7), (7, 3, 3), (0, None, 0)])
def test_decoding_is_seeded_with_decoding_seed_else_the_search_seed(tmp_path, seed, decoding_seed, expected) -> None:
    sampled = config(tmp_path, seed=seed, decoding={"temperature": 0.7, "top_p": 0.9, "seed": decoding_seed})

    assert decoding_params(sampled) == DecodingParams(temperature=0.7, top_p=0.9, seed=expected)


def test_the_tuning_baseline_trial_sends_exactly_what_the_search_sends(tmp_path) -> None:
    # The bug this guards: with seed: null and temperature > 0 the search sent seed None and the tuning's
    # "search's own settings" trial sent the search's seed, so the baseline was not what the search had run.
    sampled = config(tmp_path, seed=11, decoding={"temperature": 0.8, "max_tokens": 8, "stop": ["\n\n"]},
                     tuning={"enabled": False})
    template = build_template(sampled, None)
    searched = template.generation_params(decoding_params(sampled))

    space = SearchSpace.from_config(sampled.tuning.ranges, decoding_params(sampled))
    baseline = next(t for t in space.first_trials(urial_settings=True) if t.label == SEARCH_SETTINGS)
    prompts = (HeldOutPrompt.create("dog", "DOG"),)
    tuned = TuningPrompt("rules", (Demonstration.single("abc", "ABC"),), prompts, origin="a test")
    objective = TrialObjective(tuned.tree(template, build_byte_tokenizer()), template, MatchScorer("exact"),
                               tuned.prompts_by_id)

    assert objective.unit(0, space.decoding(baseline.params)).params == searched
    assert searched.seed == 11 and searched.stop == ("\n\n", *template.stop_strings)


def test_min_delta_goes_to_the_search_strategies_only(tmp_path) -> None:
    greedy = build_strategy(config(tmp_path, strategy={"min_delta": 0.25}))
    assert greedy.min_delta == 0.25
    assert build_strategy(config(tmp_path, strategy={"kind": "beam", "beam_width": 3, "min_delta": 0.1})).width == 3
