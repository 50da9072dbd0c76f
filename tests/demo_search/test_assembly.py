"""Runtime parts built from a configuration (``demo_search.assembly``), and the one seed rule of search and tuning."""

from __future__ import annotations

import pytest

from demo_search.assembly import build_strategy, build_template, decoding_params, engine_spec
from demo_search.config import SearchConfig
from demo_search.scoring.match import MatchScorer
from demo_search.tuning.objective import TrialObjective
from demo_search.tuning.prompt import TuningPrompt
from demo_search.tuning.space import SEARCH_SETTINGS, SearchSpace
from demo_search.types import Demonstration, HeldOutPrompt
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
    greedy = config(tmp_path, strategy={"min_delta": 0.25})
    assert build_strategy(greedy.strategy, greedy.seed).min_delta == 0.25
    beam = config(tmp_path, strategy={"kind": "beam", "beam_width": 3, "min_delta": 0.1})
    assert build_strategy(beam.strategy, beam.seed).width == 3


def test_decoding_params_carry_every_decoding_field(tmp_path) -> None:
    decoding = {"temperature": 0.5, "top_p": 0.9, "top_k": 40, "repetition_penalty": 1.15, "max_tokens": 64,
                "stop": ["# Query"], "seed": 3}
    assert decoding_params(config(tmp_path, decoding=decoding)) == DecodingParams(
        temperature=0.5, top_p=0.9, top_k=40, repetition_penalty=1.15, max_tokens=64, stop=("# Query",), seed=3
    )


def test_engine_spec_follows_model_and_workers(tmp_path, hub_model) -> None:
    model = {"path": hub_model.repo_id, "revision": "main", "engine": "vllm", "dtype": "bfloat16",
             "max_context": 4096, "batch_size": 4, "tensor_parallel_size": 2,
             "options": {"gpu_memory_utilization": 0.8}}
    spec = engine_spec(config(tmp_path, model=model, workers={"gpus_per_worker": 2.0}))
    assert (spec.kind, spec.model, spec.revision, spec.dtype, spec.device) == (
        "vllm", hub_model.repo_id, "main", "bfloat16", "cuda"
    )
    assert (spec.max_context, spec.batch_size) == (4096, 4)
    assert spec.options == {"gpu_memory_utilization": 0.8, "tensor_parallel_size": 2}
    default = engine_spec(config(tmp_path))
    assert (default.device, default.dtype, default.revision) == ("cpu", "auto", None)


@pytest.mark.parametrize(
    ("gpus", "options", "expected"),
    [
        (0.5, {}, {"gpu_memory_utilization": 0.45}),
        (0.25, {}, {"gpu_memory_utilization": 0.225}),
        (1.0, {}, {}),
        (0.5, {"gpu_memory_utilization": 0.4}, {"gpu_memory_utilization": 0.4}),
        (0.5, {"kv_cache_memory_bytes": 1 << 30}, {"kv_cache_memory_bytes": 1 << 30}),
    ],
)
def test_a_fraction_of_a_gpu_gets_that_fraction_of_vllms_memory_share(tmp_path, hub_model, gpus, options,
                                                                        expected) -> None:
    model = {"path": hub_model.repo_id, "engine": "vllm", "options": options}
    assert engine_spec(config(tmp_path, model=model, workers={"gpus_per_worker": gpus})).options == expected

