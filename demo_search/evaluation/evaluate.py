"""Score prompts (exports, URIAL prompt files, the base prompt) on any prompt set with any scorer: the logic of
``demo-search evaluate``, usable from Python.

The model, engine, template, scorer and decoding come from a search configuration; each prompt is evaluated as a
fixed demonstration set (its rules and demonstrations in prompt order), one unit per prompt on the engine actors,
with the search's own pipeline (``demo_search.evaluation.sets``). Nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from demo_search.assembly import build_scorer, build_template, context_window, decoding_params
from demo_search.config import SearchConfig
from demo_search.data import load_heldout
from demo_search.errors import DataError
from demo_search.evaluation.report import EvaluationReport, PairedDifference, PromptScore
from demo_search.evaluation.sets import Dispatcher, MemorySink, SetJob, SetOutcome, score_sets
from demo_search.evaluation.sources import BASE, PromptSource, base_source, read_source
from demo_search.evaluation.statistics import CONFIDENCE, paired_difference
from demo_search.inputs import load_inputs, load_tokenizer
from demo_search.search.candidates import CandidateSet
from demo_search.search.cluster import RayOptions, open_dispatcher
from demo_search.search.problem import SearchProblem
from demo_search.templates import PromptTemplate
from demo_search.types import HeldOutPrompt

logger = logging.getLogger(__name__)


def load_prompt_set(path: Path, *, needs_references: bool, scorer: str) -> tuple[HeldOutPrompt, ...]:
    """The prompts of ``path`` (any held-out format); ``DataError`` when it is unreadable, empty, or lacks the
    references the scorer needs."""
    if not path.exists():
        raise DataError(f"{path}: no such prompt file")
    prompts = load_heldout(path).raise_if_errors().items
    if not prompts:
        raise DataError(f"{path}: no prompts in the file")
    missing = [p.source for p in prompts if p.reference is None]
    if needs_references and missing:
        raise DataError(f"{path}: scorer {scorer!r} needs a reference on every prompt; missing at {missing[0]}"
                        + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    return prompts


def evaluate(
    config: SearchConfig,
    prompts: Sequence[str],
    *,
    on: Path,
    ray_options: RayOptions = RayOptions(),
    dispatcher: Dispatcher | None = None,
    confidence: float = CONFIDENCE,
) -> EvaluationReport:
    """Score each of ``prompts`` (export or URIAL files, or ``base``) on the prompt set ``on`` with ``config``'s
    model, template, scorer and decoding; the engine actors are started from ``config`` unless a ``dispatcher``
    is given. Differences are paired over the prompts both scored, each later argument minus each earlier one."""
    if not prompts:
        raise DataError("no prompt to evaluate: give exports, URIAL prompt files or base")
    file_sources = {label: read_source(label) for label in prompts if label != BASE}
    prompt_set = load_prompt_set(on, needs_references=config.scorer.needs_references, scorer=config.scorer.kind)
    tokenizer = load_tokenizer(config)
    if BASE in prompts:
        inputs = load_inputs(config, tokenizer=tokenizer).raise_if_errors()
        file_sources[BASE] = base_source(inputs.rules, inputs.fixed)
    sources = [file_sources[label] for label in prompts]
    template = build_template(config, tokenizer)
    max_context = context_window(config)
    jobs = [
        SetJob(f"prompt{index}", _problem(config, source, prompt_set, template, tokenizer, max_context),
               CandidateSet(()), MemorySink())
        for index, source in enumerate(sources)
    ]
    scorer = build_scorer(config)
    try:
        with nullcontext(dispatcher) if dispatcher is not None else open_dispatcher(config, ray_options) as running:
            outcomes = score_sets(
                jobs, dispatcher=running, scorer=scorer, decoding=template.generation_params(decoding_params(config))
            )
    finally:
        scorer.close()
    results = [
        _result(source, job, outcome, prompt_set) for source, job, outcome in zip(sources, jobs, outcomes, strict=True)
    ]
    return EvaluationReport(
        prompts_file=str(on),
        prompt_ids=[p.id for p in prompt_set],
        scorer=config.scorer.kind,
        confidence=confidence,
        results=results,
        differences=_differences(results, confidence),
    )


def _problem(
    config: SearchConfig,
    source: PromptSource,
    prompts: tuple[HeldOutPrompt, ...],
    template: PromptTemplate,
    tokenizer: Any,
    max_context: int,
) -> SearchProblem:
    """The prompt ``source`` as a search problem whose base set is the whole prompt: its demonstrations fixed."""
    return SearchProblem(
        template=template, tokenizer=tokenizer, rules=source.rules, fixed=source.demonstrations, pool=(),
        prompts=prompts, position=config.template.position, max_context=max_context,
    )


def _result(
    source: PromptSource, job: SetJob, outcome: SetOutcome, prompts: tuple[HeldOutPrompt, ...]
) -> PromptScore:
    rows = {row.prompt_id: row for row in job.sink.rows(job.candidate.key)}
    aggregate = outcome.aggregate
    if outcome.not_scored is not None:
        logger.warning("%s: not scored (%s)", source.label, outcome.not_scored)
    return PromptScore(
        label=source.label,
        kind=source.kind,
        demonstrations=len(source.demonstrations),
        mean=aggregate.mean if aggregate.valid else None,
        stderr=aggregate.stderr if aggregate.valid else None,
        n=aggregate.n,
        n_failed=aggregate.n_failed,
        not_scored=outcome.not_scored,
        scores=[rows[p.id].score if p.id in rows else None for p in prompts],
    )


def _differences(results: Sequence[PromptScore], confidence: float) -> list[PairedDifference]:
    rows = []
    for i, first in enumerate(results):
        for second in results[i + 1 :]:
            difference = paired_difference(first.scores, second.scores, confidence)
            rows.append(PairedDifference(
                first=first.label, second=second.label,
                mean=None if difference is None else difference.mean,
                stderr=None if difference is None else difference.stderr,
                n=0 if difference is None else difference.n,
                ci_low=None if difference is None else difference.low,
                ci_high=None if difference is None else difference.high,
            ))
    return rows


__all__ = ["evaluate", "load_prompt_set"]
