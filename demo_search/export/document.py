"""The export document: a search's best demonstration set as versioned, schema-validated JSON (or a URIAL file).

Everything comes from the database (the configuration, rules, fixed demonstrations and pool stored with the
search, and its steps), so an export needs none of the original files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from db import Step, Store
from demo_search.errors import DemoSearchError
from demo_search.templates import UrialPrompt, UrialTemplate, ordered_demonstrations, render_urial
from demo_search.templates.urial import query_header
from demo_search.types import Demonstration, Turn
from demo_search.version import __version__

FORMAT = "demo-search.export"
FORMAT_VERSION = 1
QUERY_PLACEHOLDER = "{query}"


class ExportError(DemoSearchError):
    """A search cannot be exported, or an export document is invalid."""


@cache
def export_schema() -> dict[str, Any]:
    """The JSON Schema every export validates against (shipped as ``demo_search/export/schema.json``)."""
    return json.loads(resources.files("demo_search.export").joinpath("schema.json").read_text(encoding="utf-8"))


def validate_export(document: dict[str, Any]) -> None:
    """Raise ``ExportError`` listing every schema violation (by JSON path) of ``document``."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(export_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise ExportError(
            "the export document does not match its schema",
            [f"{e.json_path}: {e.message}" for e in errors],
        )


def demonstration_from_payload(payload: dict[str, Any]) -> Demonstration:
    turns = tuple(Turn(t["query"], t["answer"]) for t in payload["turns"])
    return Demonstration(id=payload["id"], turns=turns, source=payload.get("source", ""))


def build_export(store: Store, name: str, *, tuned: dict[str, Any] | None = None) -> dict[str, Any]:
    """The export document of search ``name``, validated against the schema.

    ``decoding.tuned`` is ``tuned`` when given, else the stored result of tuning this very prompt (rules and
    demonstrations), if any (see ``demo-search tune``).
    """
    search = store.get_search(name)
    steps = store.steps(name)
    if not steps:
        raise ExportError(
            f"search {name!r} has no recorded step yet", ["run or resume it until the base set is scored"]
        )
    pool = {item.item_id: demonstration_from_payload(dict(item.payload)) for item in store.pool_items(name)}
    fixed = tuple(demonstration_from_payload(dict(p)) for p in search.fixed_demos)
    last = steps[-1]
    best = next(c for c in store.candidates_of_step(name, last.step_index) if c.set_key == last.set_key)
    # The best set's own ids: in beam search it may extend a beam other than the previous step's choice.
    selected = tuple(pool[i] for i in best.demo_ids)
    config = search.config
    position = config["template"]["position"]
    prompt_order = ordered_demonstrations(selected, (), fixed, position)
    step_of = {item_id: index for index, item_id in enumerate(best.demo_ids, start=1)}  # step k adds the k-th
    if tuned is None:
        from demo_search.tuning.results import export_section, tuned_for_prompt  # the tuning package reads exports

        stored = tuned_for_prompt(store, name, search.rules, [demo.id for demo in prompt_order])
        tuned = export_section(stored) if stored is not None else None
    template = UrialTemplate()
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "search": {
            "name": search.name,
            "status": search.status.value,
            "strategy": dict(config["strategy"]),
            "scorer": _active_scorer(config["scorer"]),
            "stop_reason": search.stop_reason,
        },
        "model": {
            "path": str(config["model"]["path"]),
            "engine": config["model"]["engine"],
            "dtype": config["model"]["dtype"],
            "max_context": config["model"].get("max_context"),
        },
        "template": {
            "kind": config["template"]["kind"],
            "position": position,
            "rules": search.rules,
            "stop": list(template.stop_strings) if config["template"]["kind"] == "urial" else [],
        },
        "demonstrations": [
            {
                "id": demo.id,
                "role": "selected" if demo.id in step_of else "fixed",
                "step": step_of.get(demo.id),
                "source": demo.source,
                "turns": [{"query": t.query, "answer": t.answer} for t in demo.turns],
            }
            for demo in prompt_order
        ],
        "decoding": {"searched": _decoding(config["decoding"]), "tuned": tuned},
        "trajectory": [_trajectory_row(store, name, s) for s in steps],
        "prompt": _prompt(config, search.rules, prompt_order, template),
        "provenance": {
            "demo_search_version": __version__,
            "config_fingerprint": search.fingerprint,
            "engine": config["model"]["engine"],
            "created_at": _iso(search.created_at),
            "finished_at": _iso(search.finished_at) if search.finished_at else None,
            "exported_at": _iso(datetime.now(UTC)),
        },
    }
    validate_export(document)
    return document


def export_to_urial(document: dict[str, Any]) -> str:
    """A URIAL prompt file with the export's rules and demonstrations in prompt order."""
    validate_export(document)
    demos = tuple(
        Demonstration(id=d["id"], turns=tuple(Turn(t["query"], t["answer"]) for t in d["turns"]), source=d.get("source", ""))
        for d in document["demonstrations"]
    )
    return render_urial(UrialPrompt(rules=document["template"]["rules"], demonstrations=demos))


def _prompt(config: dict[str, Any], rules: str, demos: tuple[Demonstration, ...], template: UrialTemplate) -> dict:
    if config["template"]["kind"] != "urial":
        # A chat prompt is rendered by the model's own chat template; export the URIAL rendering as the text.
        return {"text": template.render_context(rules, demos)}
    return {"text": template.render_context(rules, demos), "query_template": query_header(QUERY_PLACEHOLDER)}


def _active_scorer(scorer: dict[str, Any]) -> dict[str, Any]:
    kind = scorer["kind"]
    options = scorer.get(kind) or {}
    return {"kind": kind, **({kind: options} if options else {})}


def _decoding(decoding: dict[str, Any]) -> dict[str, Any]:
    keys = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "stop", "seed")
    return {k: (list(decoding[k]) if k == "stop" else decoding[k]) for k in keys}


def _trajectory_row(store: Store, name: str, step: Step) -> dict[str, Any]:
    candidates = store.candidates_of_step(name, step.step_index)
    chosen = next((c for c in candidates if c.set_key == step.set_key), None)
    return {
        "step": step.step_index,
        "chosen": step.item_id,
        "score": step.score,
        "stderr": step.stderr,
        "n": chosen.n_scored if chosen else 0,
        "runner_up": step.runner_up_item_id,
        "runner_up_score": step.runner_up_score,
        "candidates": len(candidates),
        "skipped": sum(1 for c in candidates if c.status.value == "skipped"),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = ["ExportError", "build_export", "export_schema", "export_to_urial", "validate_export"]
