"""demo_search: greedy demonstration search for in-context alignment of base LLMs.

The Python API (:mod:`demo_search.api`) is available from the package itself: ``demo_search.run``, ``resume``,
``load``, ``export``, ``scorer_function`` and the result types. They are imported on first use, so
``import demo_search`` stays light (no torch, no Ray) until a search runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demo_search.api import (
        CandidateResult,
        Candidates,
        Evaluations,
        PandasMissingError,
        PromptEvaluation,
        ScoreFunction,
        ScorerFunction,
        SearchResult,
        Trajectory,
        TrajectoryStep,
        export,
        load,
        resume,
        run,
        scorer_function,
    )

_API = frozenset({
    "CandidateResult",
    "Candidates",
    "Evaluations",
    "PandasMissingError",
    "PromptEvaluation",
    "ScoreFunction",
    "ScorerFunction",
    "SearchResult",
    "Trajectory",
    "TrajectoryStep",
    "export",
    "load",
    "resume",
    "run",
    "scorer_function",
})

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("demo_search.api"), name)
    raise AttributeError(f"module 'demo_search' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
