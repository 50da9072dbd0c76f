"""A trial's work unit (the whole prompt as the shared prefix) and how its answers become the trial's score."""

from __future__ import annotations

import pytest

from demo_search.scoring.loglik import LoglikScorer
from demo_search.scoring.match import MatchScorer
from demo_search.templates import UrialTemplate
from demo_search.templates.urial import ANSWER_CLOSE
from demo_search.tuning.errors import TuningError
from demo_search.tuning.objective import TrialObjective
from demo_search.tuning.prompt import TuningPrompt, prompt_key
from demo_search.types import Demonstration, HeldOutPrompt
from workers.decoding import DecodingParams
from workers.tiny import build_byte_tokenizer
from workers.tree import GenerateResult, LeafGeneration, TokenCounts, call_stats
from workers.units import UnitResult

RULES = "# Instruction\n\nAnswer each query by the rule the examples follow."
DEMOS = (Demonstration.single("abc", "ABC"), Demonstration.single("xyz", "XYZ"))
PROMPTS = (HeldOutPrompt.create("dog", "DOG"), HeldOutPrompt.create("cat", "CAT"), HeldOutPrompt.create("owl", "OWL"))
TEMPLATE = UrialTemplate()


@pytest.fixture(scope="module")
def tokenizer():
    return build_byte_tokenizer()


def prompt(prompts: tuple[HeldOutPrompt, ...] = PROMPTS) -> TuningPrompt:
    return TuningPrompt(RULES, DEMOS, prompts, origin="a test")


def objective(tokenizer, prompts: tuple[HeldOutPrompt, ...] = PROMPTS) -> TrialObjective:
    tuned = prompt(prompts)
    return TrialObjective(tuned.tree(TEMPLATE, tokenizer), TEMPLATE, MatchScorer("exact"), tuned.prompts_by_id)


def answered(texts: dict[str, str], branch: str) -> UnitResult:
    counts = TokenCounts(prompt_tokens=10, computed_tokens=3, cached_tokens=7)
    generations = tuple(
        LeafGeneration(branch, leaf, text, (1, 2), "stop", counts) for leaf, text in texts.items()
    )
    result = GenerateResult(generations, call_stats(0.1, [counts] * len(generations)))
    return UnitResult("trial-4", True, result, None, 1, "engine-0")


def test_a_trial_asks_no_prompt_that_follows_another(tokenizer) -> None:
    # MT-Bench's turn 2 is asked after the model's own turn-1 answer, which a one-generation trial does not have
    follow_up = HeldOutPrompt.create("And in capitals?", category="writing", follows=PROMPTS[0].id)
    tree = prompt((*PROMPTS, follow_up)).tree(TEMPLATE, tokenizer)
    assert [leaf.leaf_id for leaf in tree.leaves] == [p.id for p in PROMPTS]


def test_the_whole_prompt_is_the_shared_prefix_of_every_trial(tokenizer) -> None:
    tuned = prompt()
    tree = tuned.tree(TEMPLATE, tokenizer)
    unit = objective(tokenizer).unit(4, DecodingParams(temperature=0.7, stop=("\n\n\n",), seed=1))

    context = TEMPLATE.render_context(RULES, DEMOS)
    # the prefix is the prompts' longest common token prefix: the context and the start every leaf shares
    assert tokenizer.decode(list(tree.prefix_ids), skip_special_tokens=True) == context + "# Query:\n```\n"
    assert [(b.branch_id, b.token_ids) for b in tree.branches] == [(tuned.key, ())]
    assert [leaf.leaf_id for leaf in tree.leaves] == [p.id for p in PROMPTS]
    assert (unit.unit_id, unit.kind, unit.tree) == ("trial-4", "generate", tree)
    assert unit.params == DecodingParams(temperature=0.7, stop=("\n\n\n", *TEMPLATE.stop_strings), seed=1)
    assert tuned.key == prompt_key(RULES, [d.id for d in DEMOS]) != prompt_key(RULES, [DEMOS[1].id, DEMOS[0].id])


def test_answers_are_cut_out_of_their_fence_and_matched(tokenizer) -> None:
    ids = [p.id for p in PROMPTS]
    texts = {ids[0]: "DOG" + ANSWER_CLOSE + "\n\n", ids[1]: "CAT" + ANSWER_CLOSE, ids[2]: "OWLS" + ANSWER_CLOSE}

    score = objective(tokenizer).score(answered(texts, prompt().key))

    assert score.valid and score.error is None
    assert (score.aggregate.mean, score.aggregate.n, score.aggregate.n_failed) == (pytest.approx(2 / 3), 3, 0)


def test_a_failed_unit_is_a_failed_trial(tokenizer) -> None:
    failed = UnitResult("trial-4", False, None, "EngineError: CUDA out of memory", 3, "engine-1")

    score = objective(tokenizer).score(failed)

    assert not score.valid
    assert score.error == "engine failure after 3 attempt(s): EngineError: CUDA out of memory"


def test_a_trial_whose_every_evaluation_failed_has_no_score(tokenizer) -> None:
    unreferenced = tuple(HeldOutPrompt.create(p.query) for p in PROMPTS)
    texts = {p.id: "DOG" + ANSWER_CLOSE for p in unreferenced}

    score = objective(tokenizer, unreferenced).score(answered(texts, prompt(unreferenced).key))

    assert not score.valid
    assert score.error == "all 3 evaluation(s) failed, e.g. prompt has no reference"


def test_a_prompt_that_cannot_fit_the_context_window_is_refused(tokenizer) -> None:
    tuned = objective(tokenizer)
    needed = len(tuned.tree.prefix_ids) + max(len(leaf.prompt_ids) for leaf in tuned.tree.leaves) + 16

    tuned.check_fits(needed, 16)
    with pytest.raises(TuningError, match=f"needs {needed} tokens \\(with max_tokens=16\\) but the context window"):
        tuned.check_fits(needed - 1, 16)


def test_a_scorer_that_does_not_generate_cannot_be_tuned_for(tokenizer) -> None:
    tuned = prompt()
    with pytest.raises(ValueError, match="LoglikScorer does not score generated answers"):
        TrialObjective(tuned.tree(TEMPLATE, tokenizer), TEMPLATE, LoglikScorer(), tuned.prompts_by_id)
