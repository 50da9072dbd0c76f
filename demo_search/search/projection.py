"""What a search will cost, before it runs: evaluations, prompt tokens, generated tokens, judge calls and dollars.

The step sizes come from the search's own :class:`~demo_search.search.strategies.Strategy`, replayed with every
candidate tied (so the survivors are the first proposals in pool order): the number of candidate sets per step is
exact for greedy, random and one-shot ranking, and for beam search once a step has at least ``width`` sets. Pool
items that do not fit the context window even alone are left out, as the search skips them.

Token counts are measured on the real prompts where they are known and estimated where they depend on choices the
search has not made yet:

* the base step is the real prefix tree of the base set;
* a later step's request is the base set's request for the same prompt plus the tokens its demonstrations add to
  the context: measured for the item a candidate adds (the context with and without it), the pool's mean for each
  demonstration chosen in earlier steps;
* follow-up prompts (MT-Bench's turn 2) carry the reference answer of the earlier turn in place of the answer the
  model will generate (an empty one where there is no reference);
* ``trie`` counts what a prefix-caching engine must compute at least (the prefix once, each surviving set's
  chosen demonstrations once, each candidate's added item once, every leaf under every candidate); ``naive``
  counts every whole prompt.

Generated tokens and judge tokens are upper bounds: every answer ``decoding.max_tokens`` long, every judgement
``scorer.judge.max_tokens`` long. Judge prompts are counted with the searched model's tokenizer (the judge's own
is unknown), with the graded answer at its upper bound. The price, when ``scorer.judge.price`` is set, is the
price of those bounds: the most the judge can cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from demo_search.config import JudgePrice
from demo_search.scoring.judge_prompt import build_judge_request
from demo_search.search.candidates import BASE_PROPOSAL, Aggregate, ScoredSet, rank
from demo_search.search.problem import SearchProblem
from demo_search.search.strategies import Strategy
from demo_search.search.turns import filled
from demo_search.templates.tokenization import count_tokens
from demo_search.types import HeldOutPrompt


@dataclass(frozen=True)
class JudgeSettings:
    """What the projection needs of a judge scorer."""

    max_tokens: int
    price: JudgePrice | None = None


@dataclass(frozen=True)
class StepCost:
    """The projected cost of one step (step 0: the base set)."""

    step: int
    candidates: int
    evaluations: int
    trie_tokens: int
    naive_tokens: int
    generated_tokens: int = 0
    judge_calls: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    usd: float | None = None

    def __add__(self, other: StepCost) -> StepCost:
        usd = None if self.usd is None or other.usd is None else self.usd + other.usd
        return StepCost(
            step=-1, candidates=self.candidates + other.candidates, evaluations=self.evaluations + other.evaluations,
            trie_tokens=self.trie_tokens + other.trie_tokens, naive_tokens=self.naive_tokens + other.naive_tokens,
            generated_tokens=self.generated_tokens + other.generated_tokens,
            judge_calls=self.judge_calls + other.judge_calls,
            judge_input_tokens=self.judge_input_tokens + other.judge_input_tokens,
            judge_output_tokens=self.judge_output_tokens + other.judge_output_tokens, usd=usd,
        )


    def raced_floor(self, *, first_prompts: int, leaders: int) -> StepCost:
        """The least this step can cost when it races its candidates (``strategy.racing``): every candidate on the
        first round's ``first_prompts`` prompts and only the ``leaders`` (the beam width) on all of them; tokens,
        judge calls and dollars scaled alike. The base step does not race."""
        prompts = self.evaluations // self.candidates
        if self.step == 0 or self.candidates <= leaders or first_prompts >= prompts:
            return self
        evaluations = self.candidates * first_prompts + leaders * (prompts - first_prompts)
        share = evaluations / self.evaluations
        return StepCost(
            self.step, self.candidates, evaluations, math.ceil(self.trie_tokens * share),
            math.ceil(self.naive_tokens * share), math.ceil(self.generated_tokens * share),
            evaluations if self.judge_calls else 0, math.ceil(self.judge_input_tokens * share),
            math.ceil(self.judge_output_tokens * share), None if self.usd is None else self.usd * share,
        )


@dataclass(frozen=True)
class Projection:
    """Every step's projected cost, and the total over the whole search."""

    steps: tuple[StepCost, ...]

    def raced_floor(self, *, first_prompts: int, leaders: int) -> Projection:
        """Every step at its least when raced (:meth:`StepCost.raced_floor`)."""
        return Projection(tuple(s.raced_floor(first_prompts=first_prompts, leaders=leaders) for s in self.steps))

    @property
    def total(self) -> StepCost:
        total = self.steps[0]
        for step in self.steps[1:]:
            total = total + step
        return total


def project_search(
    problem: SearchProblem,
    strategy: Strategy,
    *,
    max_steps: int,
    with_targets: bool,
    max_new_tokens: int,
    skipped_items: Sequence[str] = (),
    judge: JudgeSettings | None = None,
) -> Projection:
    """The projected cost of every step of a search of ``problem`` with ``strategy`` (see the module docstring).

    ``with_targets``: the scorer reads reference log-likelihoods (nothing generated); else every evaluation
    generates up to ``max_new_tokens``. ``skipped_items``: pool items the search skips (too long alone).
    ``judge``: set when every evaluation is judged.
    """
    prompts = _projection_prompts(problem.prompts)
    base = problem.step_tree([BASE_PROPOSAL.candidate], with_targets=with_targets, prompts=prompts)
    skipped = set(skipped_items)
    pool_ids = [item for item in problem.pool_ids if item not in skipped]
    added_tokens = _demonstration_tokens(problem, pool_ids)
    mean_demo = sum(added_tokens.values()) / len(added_tokens) if added_tokens else 0.0
    prefix = len(base.prefix_ids)
    leaf_tokens = base.naive_total(with_target=with_targets) - len(prompts) * prefix
    judge_input = _judge_input_tokens(problem, prompts, max_new_tokens) if judge is not None else 0

    def step_cost(step: int, candidates: int, trie: int, naive: int) -> StepCost:
        evaluations = candidates * len(prompts)
        generated = 0 if with_targets else evaluations * max_new_tokens
        if judge is None:
            return StepCost(step, candidates, evaluations, trie, naive, generated)
        calls, read, written = evaluations, candidates * judge_input, evaluations * judge.max_tokens
        usd = None if judge.price is None else judge.price.usd(read, written)
        return StepCost(step, candidates, evaluations, trie, naive, generated, calls, read, written, usd)

    costs = [step_cost(0, 1, base.trie_bound(with_target=with_targets), base.naive_total(with_target=with_targets))]
    beams = [BASE_PROPOSAL.scored(Aggregate.of([0.0]))]
    history: list[list[ScoredSet]] = []
    for step in range(1, max_steps + 1):
        proposals = strategy.propose(step, beams, pool_ids, history)
        if not proposals:
            break
        chosen = len(proposals[0].candidate.demo_ids) - 1
        added = sum(added_tokens[p.candidate.added] for p in proposals)
        parents = {p.candidate.demo_ids[:-1] for p in proposals}
        context = chosen * mean_demo
        trie = prefix + len(parents) * context + added + len(proposals) * leaf_tokens
        naive = len(proposals) * len(prompts) * (prefix + context) + len(prompts) * added + len(proposals) * leaf_tokens
        costs.append(step_cost(step, len(proposals), math.ceil(trie), math.ceil(naive)))
        ranked = rank([proposal.scored(Aggregate.of([0.0])) for proposal in proposals])
        history.append(ranked)
        beams = strategy.survivors(ranked)
    return Projection(tuple(costs))


def _demonstration_tokens(problem: SearchProblem, pool_ids: Sequence[str]) -> dict[str, int]:
    """How many tokens each pool item adds to the base context (rules and fixed demonstrations)."""
    base = count_tokens(problem.tokenizer, problem.template.render_context(problem.rules, problem.fixed))
    return {
        item: count_tokens(
            problem.tokenizer, problem.template.render_context(problem.rules, (*problem.fixed, problem.demos_by_id[item]))
        ) - base
        for item in pool_ids
    }


def _projection_prompts(prompts: Sequence[HeldOutPrompt]) -> tuple[HeldOutPrompt, ...]:
    """Every held-out prompt, follow-ups filled with the reference of the turn they follow (or an empty answer)."""
    by_id = {prompt.id: prompt for prompt in prompts}

    def stand_in(prompt_id: str) -> str:
        return by_id[prompt_id].reference or "" if prompt_id in by_id else ""

    ready = (filled(prompt, by_id, stand_in) for prompt in prompts)
    return tuple(prompt for prompt in ready if prompt is not None)


def _judge_input_tokens(problem: SearchProblem, prompts: Sequence[HeldOutPrompt], answer_tokens: int) -> int:
    """The judge prompt tokens of one candidate set's judgements: every prompt's request with an empty answer, plus
    the graded answer at its upper bound."""
    by_id = {prompt.id: prompt for prompt in prompts}
    total = 0
    for prompt in prompts:
        request = build_judge_request(prompt.id, prompt, "", prompts=by_id)
        total += count_tokens(problem.tokenizer, request.system) + count_tokens(problem.tokenizer, request.user)
        total += answer_tokens
    return total


__all__ = ["JudgeSettings", "Projection", "StepCost", "project_search"]
