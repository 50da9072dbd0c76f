"""Building the export document of a search (:class:`ExportDocument`), and its URIAL prompt file.

Everything comes from the database (the configuration, rules, fixed demonstrations and pool stored with the
search, and its steps), so an export needs none of the original files. The ``decoding.tuned`` section is the
caller's to give (``demo_search.tuning.results`` reads it from the store): export knows nothing of tuning.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from db import Search, Step, Store
from demo_search.best_set import BestSet, best_set
from demo_search.exports.model import (
    FORMAT,
    FORMAT_VERSION,
    ChatMessage,
    ChatPromptSection,
    DecodingSection,
    DecodingSettings,
    ExportDemonstration,
    ExportDocument,
    ExportError,
    ModelSection,
    PromptSection,
    Provenance,
    RacingRow,
    SearchSection,
    Spent,
    TemplateSection,
    TestScore,
    TrajectoryRow,
    TunedDecoding,
    TurnPayload,
)
from demo_search.search.budget import judge_usd
from demo_search.search.candidates import Aggregate
from demo_search.split_scores import stored_test_scores
from demo_search.templates import UrialPrompt, UrialTemplate, render_urial
from demo_search.templates.chat_template import context_messages
from demo_search.templates.urial import query_header
from demo_search.version import __version__

QUERY_PLACEHOLDER = "{query}"
DECODING_KEYS = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "stop", "seed")


def _spent(store: Store, search: Search) -> Spent:
    summary = store.search_summary(search.name)
    read, written = summary.judge_prompt_tokens, summary.judge_completion_tokens
    return Spent(evaluations=summary.evaluations, computed_tokens=summary.computed_tokens, judge_prompt_tokens=read,
                 judge_completion_tokens=written, judge_usd=judge_usd(search.config, read, written))


def build_export(store: Store, name: str, *, tuned: TunedDecoding | None = None) -> ExportDocument:
    """The export document of search ``name``; ``tuned`` is its ``decoding.tuned`` section (``None``: untuned)."""
    best = best_set(store, name)
    if best is None:
        raise ExportError(
            f"search {name!r} has no recorded step yet", ["run or resume it until the base set is scored"]
        )
    search = store.get_search(name)
    config = search.config
    template = UrialTemplate()
    tests = stored_test_scores(store, name)
    return ExportDocument(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        search=SearchSection(
            name=search.name,
            status=search.status.value,
            strategy=dict(config["strategy"]),
            scorer=_active_scorer(config["scorer"]),
            stop_reason=search.stop_reason,
            spent=_spent(store, search),
        ),
        model=ModelSection(
            path=str(config["model"]["path"]),
            engine=config["model"]["engine"],
            dtype=config["model"]["dtype"],
            max_context=config["model"].get("max_context"),
        ),
        template=TemplateSection(
            kind=config["template"]["kind"],
            position=best.position,
            rules=best.rules,
            stop=list(template.stop_strings) if config["template"]["kind"] == "urial" else [],
        ),
        demonstrations=_demonstrations(best),
        decoding=DecodingSection(
            searched=DecodingSettings(**{key: config["decoding"][key] for key in DECODING_KEYS}), tuned=tuned
        ),
        trajectory=[_trajectory_row(store, name, step, tests.get(step.step_index)) for step in store.steps(name)],
        prompt=_prompt(config["template"], best, template),
        provenance=Provenance(
            demo_search_version=__version__,
            config_fingerprint=search.fingerprint,
            engine=config["model"]["engine"],
            created_at=_iso(search.created_at),
            finished_at=_iso(search.finished_at) if search.finished_at else None,
            exported_at=_iso(datetime.now(UTC)),
        ),
    )


def export_to_urial(document: ExportDocument) -> str:
    """A URIAL prompt file with the export's rules and demonstrations in prompt order."""
    return render_urial(
        UrialPrompt(rules=document.template.rules, demonstrations=document.demonstrations_in_prompt_order())
    )


def _demonstrations(best: BestSet) -> list[ExportDemonstration]:
    return [
        ExportDemonstration(
            id=demo.id,
            role="fixed" if best.step_of(demo.id) is None else "selected",
            step=best.step_of(demo.id),
            source=demo.source,
            turns=[TurnPayload(query=turn.query, answer=turn.answer) for turn in demo.turns],
        )
        for demo in best.demonstrations
    ]


def _prompt(
    template_config: dict[str, Any], best: BestSet, template: UrialTemplate
) -> PromptSection | ChatPromptSection:
    """A URIAL search's rendered prompt; a chat-template search's messages (its model's chat template renders them)."""
    if template_config["kind"] == "chat":
        messages = [ChatMessage(**message) for message in context_messages(best.rules, best.demonstrations)]
        given = template_config.get("chat_template")
        return ChatPromptSection(messages=messages, **({"chat_template": given} if given is not None else {}))
    text = template.render_context(best.rules, best.demonstrations)
    return PromptSection(text=text, query_template=query_header(QUERY_PLACEHOLDER))


def _active_scorer(scorer: dict[str, Any]) -> dict[str, Any]:
    kind = scorer["kind"]
    options = scorer.get(kind) or {}
    return {"kind": kind, **({kind: options} if options else {})}


def _trajectory_row(store: Store, name: str, step: Step, test: Aggregate | None) -> TrajectoryRow:
    candidates = store.candidates_of_step(name, step.step_index)
    chosen = next((c for c in candidates if c.set_key == step.set_key), None)
    return TrajectoryRow(
        step=step.step_index,
        chosen=step.item_id,
        score=step.score,
        stderr=step.stderr,
        n=chosen.n_scored if chosen else 0,
        runner_up=step.runner_up_item_id,
        runner_up_score=step.runner_up_score,
        candidates=len(candidates),
        skipped=sum(1 for c in candidates if c.status.value == "skipped"),
        **({} if test is None else {"test": TestScore(
            score=test.mean if test.valid else None, stderr=test.stderr if test.valid else None, n=test.n
        )}),
        **({"racing": _racing_row(step.racing)} if step.racing else {}),
    )


def _racing_row(racing: Mapping[str, Any]) -> RacingRow:
    """The race summary a step recorded (``demo_search.search.racing``) as the export shows it."""
    return RacingRow(
        eliminated=len(racing["eliminated"]),
        evaluations=racing["evaluations"],
        exhaustive_evaluations=racing["exhaustive_evaluations"],
        saved_evaluations=racing["saved_evaluations"],
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = ["build_export", "export_to_urial"]
