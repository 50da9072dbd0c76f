"""``custom``: a user's Python function scores each generated answer.

A scorer function follows :class:`ScoreFunction`. It reaches a search in one of two ways:

* passed to ``demo_search.run(config, scorer=fn)`` (or ``resume(name, scorer=fn)``), which sets
  ``scorer: {kind: custom, name: <its name>}``;
* registered by an installed distribution under the entry point group ``demo_search.scorers``
  (``[project.entry-points."demo_search.scorers"] my_scorer = "my_package.scoring:my_scorer"``) and selected in a
  config file by ``scorer: {kind: custom, custom: {name: my_scorer}}``, so the CLI runs it too.

Each function has a name and a version (:class:`ScorerFunction`; wrap a function with :func:`scorer_function` to
give them). A plain function is named by its ``__name__``; its version is its ``version`` attribute, else, for an
entry point, its distribution's version, else ``None`` (unversioned). Both are recorded in the search's
configuration and fingerprint (:func:`with_scorer_identity`), so resuming with another version is refused.

Scoring runs on the driver, like ``match`` and ``judge``: the engines only generate the answers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol

from demo_search.errors import ConfigError
from demo_search.scoring.base import Evaluation, Scorer
from demo_search.types import HeldOutPrompt
from workers.tree import LeafGeneration

if TYPE_CHECKING:
    from demo_search.config import SearchConfig

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "demo_search.scorers"
SCORE_RANGE = (0.0, 1.0)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class ScoreFunction(Protocol):
    """The contract of a custom scorer function: ``fn(prompt, answer, reference) -> float``.

    It is called on the driver once per (candidate set, held-out prompt) pair, after the model answered:

    * ``prompt``: the held-out prompt's query (its last user turn, as the data file gives it);
    * ``answer``: the model's generated answer, cut at the template's stop strings;
    * ``reference``: the prompt's reference answer, or ``None`` when the held-out file gives none.

    It returns a finite number in ``[0.0, 1.0]``, higher is better (e.g. 1.0 for a right answer, 0.0 for a wrong
    one); a candidate set's score is the mean over the prompts. Anything else (a value out of range, not a
    number, or an exception) is stored as that pair's failed evaluation, with the reason, and left out of the
    mean, as for every scorer. It should be deterministic: a resumed search keeps the scores already stored.
    """

    def __call__(self, prompt: str, answer: str, reference: str | None) -> float: ...


@dataclass(frozen=True)
class ScorerFunction:
    """A score function with the name and version recorded in a search's configuration and fingerprint.

    ``name``: letters, digits, ``_``, ``.``, ``-`` (starting with a letter or ``_``); ``version``: any non-empty
    text, or ``None`` (unversioned: only the name is compared on resume). Calling it calls ``function``.
    """

    name: str
    version: str | None
    function: ScoreFunction

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"a scorer function's name must be letters, digits, '_', '.' or '-' (starting with a "
                              f"letter or '_'), got {self.name!r}; name it with scorer_function(name=...)")
        if self.version is not None and (not isinstance(self.version, str) or not self.version):
            raise ConfigError(f"the version of scorer function {self.name!r} must be non-empty text or None, "
                              f"got {self.version!r}")
        if not callable(self.function):
            raise ConfigError(f"scorer function {self.name!r} is not callable: {self.function!r}")

    def __call__(self, prompt: str, answer: str, reference: str | None) -> float:
        return self.function(prompt, answer, reference)


def scorer_function(
    name: str | None = None, *, version: str | None = None
) -> Callable[[ScoreFunction], ScorerFunction]:
    """Decorator naming and versioning a score function::

        @scorer_function(version="2")
        def exact(prompt, answer, reference):
            return float(answer.strip() == reference)

    ``name`` defaults to the function's ``__name__``."""

    def wrap(function: ScoreFunction) -> ScorerFunction:
        return ScorerFunction(name or getattr(function, "__name__", ""), version, function)

    return wrap


def as_scorer_function(
    obj: Any, *, name: str | None = None, default_version: str | None = None
) -> ScorerFunction:
    """``obj`` as a :class:`ScorerFunction`: one passes through (renamed to ``name`` if given); a plain callable is
    named ``name`` or its ``__name__`` and versioned by its ``version`` attribute, else ``default_version``."""
    if isinstance(obj, ScorerFunction):
        return obj if name is None else dataclasses.replace(obj, name=name)
    if not callable(obj):
        raise ConfigError(f"a scorer must be a function (prompt, answer, reference) -> float, got {obj!r}")
    version = getattr(obj, "version", None)
    version = str(version) if version is not None else default_version
    return ScorerFunction(name or getattr(obj, "__name__", ""), version, obj)


def registered_scorer_function(name: str) -> ScorerFunction:
    """The function registered as ``name`` under the entry point group ``demo_search.scorers``.

    Raises a one-line ``ConfigError`` when no installed distribution registers it, or it cannot be loaded."""
    found = [entry for entry in metadata.entry_points(group=ENTRY_POINT_GROUP) if entry.name == name]
    if not found:
        raise ConfigError(
            f"scorer.custom.name: no scorer function named {name!r}: pass it to demo_search.run(config, scorer=...) "
            f"or register it under the entry point group {ENTRY_POINT_GROUP!r} "
            f"({_installed_names()})"
        )
    entry = found[0]
    try:
        loaded = entry.load()
    except Exception as error:  # noqa: BLE001 - any import failure of the user's package is reported the same way
        raise ConfigError(f"scorer.custom.name: the entry point {name!r} ({entry.value}) could not be loaded: "
                          f"{type(error).__name__}: {error}") from error
    dist_version = entry.dist.version if entry.dist is not None else None
    return as_scorer_function(loaded, name=name, default_version=dist_version)


def _installed_names() -> str:
    names = sorted({entry.name for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)})
    return f"registered: {', '.join(names)}" if names else "none is registered"


def find_scorer_function(name: str, given: ScorerFunction | None = None) -> ScorerFunction:
    """The function a ``custom`` scorer named ``name`` runs: ``given`` (passed by the caller, e.g. to
    ``demo_search.run``), else the one registered under that name (:func:`registered_scorer_function`)."""
    return given if given is not None else registered_scorer_function(name)


def with_scorer_identity(config: SearchConfig, function: ScorerFunction) -> SearchConfig:
    """``config`` with ``scorer.custom`` naming ``function`` and its version: what a search records and
    fingerprints, so that a later run with another function or version differs. A different version written in
    the configuration is replaced (with a warning): the function's own is the truth."""
    custom = config.scorer.custom
    if custom.version is not None and custom.version != function.version:
        logger.warning("scorer.custom.version is %r but scorer function %r is version %r: recording %r",
                       custom.version, function.name, function.version, function.version)
    identity = custom.model_copy(update={"name": function.name, "version": function.version})
    return config.model_copy(update={"scorer": config.scorer.model_copy(update={"custom": identity})})


def identify_custom_scorer(config: SearchConfig, given: ScorerFunction | None = None) -> SearchConfig:
    """``config`` as a search records it: with a ``custom`` scorer, :func:`with_scorer_identity` of the function it
    runs (``given``, else the registered one); any other configuration as it is."""
    if config.scorer.kind != "custom":
        if given is not None:
            raise ConfigError(f"a scorer function ({given.name!r}) was given, but search {config.name!r} scores with "
                              f"{config.scorer.kind!r}, not with a custom scorer")
        return config
    return with_scorer_identity(config, find_scorer_function(config.scorer.custom.name, given))


def check_recorded_identity(config: SearchConfig, function: ScorerFunction) -> None:
    """Raise a ``ConfigError`` unless ``function`` is the scorer ``config`` recorded (its name and version)."""
    custom = config.scorer.custom
    if (custom.name, custom.version) != (function.name, function.version):
        raise ConfigError(
            f"scorer.custom: search {config.name!r} ran scorer function {custom.name!r} version {custom.version!r}, "
            f"but the one found is {function.name!r} version {function.version!r}"
        )


class CustomScorer(Scorer):
    """Scores each generated answer with ``function`` (see :class:`ScoreFunction` for the contract)."""

    engine_call = "generate"

    def __init__(self, function: ScorerFunction) -> None:
        self.function = function
        self._warned = False

    def evaluate(
        self, items: Sequence[LeafGeneration], prompts: Mapping[str, HeldOutPrompt]  # type: ignore[override]
    ) -> list[Evaluation]:
        evaluations = []
        for item in items:
            prompt = prompts[item.leaf_id]
            detail = {"finish_reason": item.finish_reason}
            score, error = self._score(prompt, item.text)
            evaluations.append(Evaluation(item.leaf_id, score, output=item.text, error=error, detail=detail))
        return evaluations

    def _score(self, prompt: HeldOutPrompt, answer: str) -> tuple[float | None, str | None]:
        where = f"scorer function {self.function.name!r}"
        try:
            value = self.function(prompt.query, answer, prompt.reference)
        except Exception as error:  # noqa: BLE001 - the user's code: a failure is this pair's failed evaluation
            return None, self._failed(f"{where} raised {type(error).__name__}: {error}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None, self._failed(f"{where} returned {type(value).__name__} {value!r}, not a number")
        low, high = SCORE_RANGE
        if not math.isfinite(value) or not low <= value <= high:
            return None, self._failed(f"{where} returned {value!r}, outside [{low}, {high}]")
        return float(value), None

    def _failed(self, reason: str) -> str:
        if not self._warned:
            logger.warning("%s (stored as a failed evaluation; later failures are stored without a warning)", reason)
            self._warned = True
        return reason


__all__ = [
    "ENTRY_POINT_GROUP",
    "SCORE_RANGE",
    "CustomScorer",
    "ScoreFunction",
    "ScorerFunction",
    "as_scorer_function",
    "check_recorded_identity",
    "find_scorer_function",
    "identify_custom_scorer",
    "registered_scorer_function",
    "scorer_function",
    "with_scorer_identity",
]
