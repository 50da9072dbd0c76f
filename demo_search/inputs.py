"""Everything a search reads besides its config: rules, fixed demonstrations, pool, held-out and test prompts,
and the model's tokenizer and config (from a local directory or the Hugging Face cache; never the weights).

Shared by ``demo-search validate`` (which reports every problem and writes nothing) and the driver (which
refuses to start on any error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo_search.config import SearchConfig
from demo_search.config.paths import model_directory
from demo_search.data import LoadResult, Problem, load_heldout, load_pool
from demo_search.data.problems import Severity
from demo_search.errors import ConfigError, DataError
from demo_search.templates.tokenization import count_tokens
from demo_search.templates.urial import parse_urial
from demo_search.types import Demonstration, HeldOutPrompt
from workers.model_source import ModelSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchInputs:
    """The loaded inputs of a search; ``problems`` holds every error and warning found while loading."""

    rules: str
    fixed: tuple[Demonstration, ...]
    pool: LoadResult[Demonstration]
    heldout: LoadResult[HeldOutPrompt]
    tokenizer: Any | None
    problems: tuple[Problem, ...]
    test: LoadResult[HeldOutPrompt] | None = None
    """The test prompts (``data.test``), never used for selection; ``None`` without a test split."""

    @property
    def candidates(self) -> tuple[Demonstration, ...]:
        """The pool items a search may add: the pool without the fixed demonstrations (those are always in)."""
        fixed_ids = {demo.id for demo in self.fixed}
        return tuple(demo for demo in self.pool.items if demo.id not in fixed_ids)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    def raise_if_errors(self) -> SearchInputs:
        if self.errors:
            raise DataError(f"{len(self.errors)} problem(s) in the search inputs", [str(p) for p in self.errors])
        return self


@dataclass(frozen=True)
class ModelFiles:
    """What the driver reads of the model under search: its tokenizer and its config, never its weights."""

    tokenizer: Any
    config: Any
    """The model's ``transformers.PretrainedConfig`` (context window, sliding window)."""


def model_source(config: SearchConfig) -> ModelSource:
    """Where ``model.path`` (at ``model.revision``) is loaded from: a local directory, or a hub id in the cache."""
    return ModelSource(model_directory(config.model.path), config.model.revision)


def load_model_files(config: SearchConfig) -> ModelFiles:
    """The model's tokenizer and config, from its local directory or through the Hugging Face cache.

    Raises ``ConfigError`` with one line naming the model (and revision), the cache searched and how to fetch
    it when they cannot be loaded: ``validate`` and ``run`` call this before any actor starts.
    """
    from transformers import AutoTokenizer

    return ModelFiles(_load(config, AutoTokenizer, "tokenizer"), load_model_config(config))


def load_model_config(config: SearchConfig) -> Any:
    """The model's ``transformers.PretrainedConfig`` (see ``load_model_files``)."""
    from transformers import AutoConfig

    return _load(config, AutoConfig, "config")


def load_tokenizer(config: SearchConfig) -> Any:
    """The model's tokenizer; its config is loaded too, so a missing model fails here (see ``load_model_files``)."""
    return load_model_files(config).tokenizer


def _load(config: SearchConfig, auto_class: Any, what: str) -> Any:
    source = model_source(config)
    options = {"local_files_only": True} if source.is_local else source.load_kwargs()
    try:
        return auto_class.from_pretrained(source.location, **options)
    except (OSError, ValueError) as error:
        raise ConfigError(source.not_found(what, error)) from None


def load_inputs(config: SearchConfig, *, tokenizer: Any | None = None) -> SearchInputs:
    """Load rules, fixed demonstrations, pool and held-out prompts, collecting every problem.

    Rules: ``template.rules_file`` read as text (when it is a URIAL prompt file with demonstrations, only its
    rules preamble); without one, the preamble of a URIAL ``template.fixed_demos_file``; else no rules.
    """
    counter = (lambda text: count_tokens(tokenizer, text)) if tokenizer is not None else None
    budget = config.data.max_item_tokens if counter is not None else None
    problems: list[Problem] = []
    if config.data.max_item_tokens is not None and counter is None:
        problems.append(_warning(config.model.path, "model tokenizer not available here; data.max_item_tokens not checked"))

    fixed: tuple[Demonstration, ...] = ()
    fixed_rules = ""
    if config.template.fixed_demos_file is not None:
        fixed_result = load_pool(config.template.fixed_demos_file)
        problems.extend(fixed_result.problems)
        fixed = fixed_result.items
        if fixed_result.format == "urial":
            fixed_rules = parse_urial(Path(config.template.fixed_demos_file).read_text(encoding="utf-8")).rules

    rules = fixed_rules
    if config.template.rules_file is not None:
        text = Path(config.template.rules_file).read_text(encoding="utf-8")
        rules = parse_urial(text, str(config.template.rules_file)).rules if "\n# Query:" in text else text

    pool = load_pool(
        config.data.pool.path, config.data.pool.format, turns=config.data.pool.turns,
        max_item_tokens=budget, count_tokens=counter,
    )
    heldout = load_heldout(
        config.data.heldout.path, config.data.heldout.format, turns=config.data.heldout.turns,
        max_item_tokens=budget, count_tokens=counter,
    )
    problems.extend(pool.problems)
    problems.extend(heldout.problems)
    test = None
    if config.data.test is not None:
        test = load_heldout(
            config.data.test.path, config.data.test.format, turns=config.data.test.turns,
            max_item_tokens=budget, count_tokens=counter,
        )
        problems.extend(test.problems)

    fixed_ids = {demo.id for demo in fixed}
    overlap = [demo.source for demo in pool.items if demo.id in fixed_ids]
    if overlap:
        problems.append(
            _warning(
                str(config.data.pool.path),
                f"{len(overlap)} pool item(s) are fixed demonstrations and are not candidates: {', '.join(overlap)}",
            )
        )
    if not [demo for demo in pool.items if demo.id not in fixed_ids] and pool.items:
        problems.append(_error(str(config.data.pool.path), "every pool item is a fixed demonstration: no candidates"))
    if config.scorer.needs_references:
        splits = [("held-out", config.data.heldout.path, heldout)]
        if test is not None and config.data.test is not None:
            splits.append(("test", config.data.test.path, test))
        for what, path, split in splits:
            missing = [p.source for p in split.items if p.reference is None]
            if missing:
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                problems.append(
                    _error(str(path), f"scorer.kind {config.scorer.kind!r} needs a reference on every {what} prompt; missing at {shown}")
                )
    return SearchInputs(rules, fixed, pool, heldout, tokenizer, tuple(problems), test)


def _error(path: str, message: str) -> Problem:
    return Problem(path=path, line=None, field=None, message=message)


def _warning(path: str, message: str) -> Problem:
    return Problem(path=path, line=None, field=None, message=message, severity=Severity.WARNING)
