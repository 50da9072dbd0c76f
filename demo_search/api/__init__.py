"""The Python API: run, resume, read and export searches from a notebook or a script.

``import demo_search`` gives these names (lazily, so importing it pulls in neither torch nor Ray)::

    import demo_search as ds

    result = ds.run("search.yaml", scorer=my_function, strategy__max_steps=2)   # demo-search run
    result = ds.resume("my-search", db="sqlite:///search.db")                    # demo-search resume
    result = ds.load("my-search", db="sqlite:///search.db")                      # typed values
    result.evaluations.to_pandas()                                               # needs pandas
    document = ds.export("my-search", db="sqlite:///search.db", path="best.json")  # demo-search export

A custom scorer is a function ``(prompt, answer, reference) -> float in [0, 1]``
(:class:`~demo_search.scoring.custom.ScoreFunction`), named and versioned with :func:`scorer_function`.
"""

from demo_search.api.reading import export, load
from demo_search.api.records import (
    CandidateResult,
    Candidates,
    Evaluations,
    PandasMissingError,
    PromptEvaluation,
    SearchResult,
    Trajectory,
    TrajectoryStep,
)
from demo_search.api.running import resume, run
from demo_search.scoring.custom import ScoreFunction, ScorerFunction, scorer_function

__all__ = [
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
]
