"""Toy searches for driver tests: labelled demonstrations, a store holding the search, and drivers over it.

A toy pool item ``a`` is the one-turn demonstration "pick a" -> "item a"; held-out prompts are "question <i>"
with reference "reference <i>". The URIAL template and the bundled byte tokenizer turn them into the same
prefix trees a real search builds, so the driver runs unchanged; only the dispatcher is a fake
(``tests.support.fake_dispatcher``), and it scores a set from the ``pick <label>`` lines its prompt holds.

The search is created in the store the way ``run_search`` creates one (config, pool and held-out prompts),
with a stored config that names the strategy, so the invariant check (``tests.support.search_invariants``)
knows how many sets survive each step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any, Literal

from db import Candidate, Evaluation, Step, Store, StoredItem
from demo_search.assembly import build_strategy
from demo_search.config import StrategyConfig
from demo_search.scoring.base import Scorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.search.budget import Budget
from demo_search.search.driver import SearchDriver
from demo_search.search.ledger import NoLedger
from demo_search.search.problem import SearchProblem
from demo_search.search.racing import RaceSettings
from demo_search.search.step_failures import FailedCandidatePolicy
from demo_search.search.strategies import Strategy
from demo_search.templates import UrialTemplate
from demo_search.types import Demonstration, HeldOutPrompt
from tests.support.fake_dispatcher import FakeDispatcher, ScoreTable
from workers.decoding import DecodingParams

Kind = Literal["greedy", "beam", "random", "one_shot"]

RULES = "# Instruction\n\nPick the item the query names."
MAX_CONTEXT = 100_000


@cache
def byte_tokenizer() -> Any:
    """The bundled tiny model's byte-level tokenizer (built in memory, no model needed)."""
    from workers.tiny import build_byte_tokenizer

    return build_byte_tokenizer()


def toy_demonstration(label: str) -> Demonstration:
    return Demonstration.single(f"pick {label}", f"item {label}", source=f"toy:{label}")


def toy_problem(labels: Sequence[str] = "abcd", *, prompts: int = 3) -> SearchProblem:
    """A pool of one toy demonstration per label (in ``labels`` order, the pool file order; a string is a sequence
    of one-letter labels) and ``prompts``
    held-out prompts with references; no fixed demonstrations."""
    return SearchProblem(
        template=UrialTemplate(),
        tokenizer=byte_tokenizer(),
        rules=RULES,
        fixed=(),
        pool=tuple(toy_demonstration(label) for label in labels),
        prompts=tuple(HeldOutPrompt.create(f"question {i}", f"reference {i}") for i in range(prompts)),
        position="before_fixed",
        max_context=MAX_CONTEXT,
    )


def strategy_of(kind: Kind, *, beam_width: int = 1, seed: int = 0, min_delta: float = 0.0) -> Strategy:
    """The strategy a config with ``strategy.kind: kind`` runs."""
    return build_strategy(StrategyConfig(kind=kind, beam_width=beam_width, min_delta=min_delta), seed)


@dataclass
class ToySearch:
    """The toy search ``name`` in ``store``: builds drivers and fake dispatchers for it, and reads it back.

    Create one with ``ToySearch.create``. Every driver it builds runs the same strategy over the same problem
    (what a resume with an unchanged configuration does); ``max_steps``, ``min_delta``, the budget and
    ``on_failed_candidate`` are the driver's arguments, as they may differ between runs.
    """

    store: Store
    name: str
    problem: SearchProblem
    kind: Kind = "greedy"
    beam_width: int = 1
    seed: int = 0
    scorer_factory: Callable[[], Scorer] = LoglikScorer

    @classmethod
    def create(
        cls,
        store: Store,
        name: str,
        problem: SearchProblem,
        *,
        kind: Kind = "greedy",
        beam_width: int = 1,
        seed: int = 0,
        scorer_factory: Callable[[], Scorer] = LoglikScorer,
        config_sections: dict[str, Any] | None = None,
    ) -> ToySearch:
        """Store a new search as ``run_search`` does: its config (with ``config_sections`` added), rules, pool and
        held-out prompts."""
        config = {"name": name, "seed": seed, "strategy": {"kind": kind, "beam_width": beam_width},
                  **(config_sections or {})}
        store.create_search(name, config=config, fingerprint="toy", fingerprint_parts={}, rules=problem.rules,
                            pool_items=_stored(problem.pool), heldout_prompts=_stored(problem.prompts))
        return cls(store, name, problem, kind, beam_width, seed, scorer_factory)

    # -- running ---------------------------------------------------------------------------------------------

    def dispatcher(self, table: ScoreTable, **options: Any) -> FakeDispatcher:
        """A fake dispatcher scoring this search's sets from ``table`` (``options``: see ``FakeDispatcher``)."""
        return FakeDispatcher(self.problem.tokenizer, table, [p.id for p in self.problem.prompts], **options)

    def driver(
        self,
        dispatcher: FakeDispatcher,
        *,
        max_steps: int = 2,
        min_delta: float = -1.0,
        budget: Budget = Budget(),
        decoding: DecodingParams = DecodingParams(max_tokens=16),
        on_failed_candidate: FailedCandidatePolicy = "fail",
        racing: RaceSettings | None = None,
        ledger: NoLedger = NoLedger(),
    ) -> SearchDriver:
        return SearchDriver(
            name=self.name,
            store=self.store,
            dispatcher=dispatcher,
            problem=self.problem,
            strategy=strategy_of(self.kind, beam_width=self.beam_width, seed=self.seed, min_delta=min_delta),
            scorer=self.scorer_factory(),
            decoding=decoding,
            max_steps=max_steps,
            budget=budget,
            on_failed_candidate=on_failed_candidate,
            racing=racing,
            ledger=ledger,
        )

    # -- reading back ----------------------------------------------------------------------------------------

    def label(self, demo_id: str) -> str:
        (label,) = (d.query.removeprefix("pick ") for d in self.problem.pool if d.id == demo_id)
        return label

    def labels(self, demo_ids: Sequence[str]) -> str:
        """The labels of ``demo_ids`` joined in order (``""`` for the base set)."""
        return "".join(self.label(i) for i in demo_ids)

    def candidates(self, step: int) -> dict[str, Candidate]:
        """The candidates recorded for ``step``, by the labels of their sets in order."""
        return {self.labels(c.demo_ids): c for c in self.store.candidates_of_step(self.name, step)}

    def chosen(self) -> list[str]:
        """Per recorded step, the labels of the chosen set in order."""
        result = []
        for step in self.store.steps(self.name):
            by_key = {c.set_key: c for c in self.store.candidates_of_step(self.name, step.step_index)}
            result.append(self.labels(by_key[step.set_key].demo_ids))
        return result

    def stored_rows(self) -> StoredRows:
        """Everything the driver wrote for this search, without timestamps, to compare two searches."""
        steps = tuple(replace(s, created_at=None) for s in self.store.steps(self.name))
        candidates = []
        step = 0
        while found := self.store.candidates_of_step(self.name, step):
            candidates.extend(found)
            step += 1
        evaluations = tuple(
            replace(e, created_at=None)
            for c in candidates
            for e in self.store.evaluations_for(self.name, c.set_key)
        )
        return StoredRows(steps, tuple(candidates), evaluations)


@dataclass(frozen=True)
class StoredRows:
    """A search's steps, candidates (by step, then set key) and evaluations (by candidate, then prompt)."""

    steps: tuple[Step, ...]
    candidates: tuple[Candidate, ...]
    evaluations: tuple[Evaluation, ...]


def _stored(items: Sequence[Demonstration | HeldOutPrompt]) -> list[StoredItem]:
    return [StoredItem(item_id=item.id, position=i, payload=asdict(item)) for i, item in enumerate(items)]
