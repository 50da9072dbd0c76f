"""The test scores of a stored search (``data.test``): per recorded step, its chosen set's mean ± SE over the test
prompts, read from the store's test evaluations (``demo_search.search.test_split`` writes them).

``status``, the export and the dashboard show them beside the validation score the step was chosen on; reading
them needs only the store.
"""

from __future__ import annotations

from db import Store
from demo_search.search.candidates import Aggregate


def stored_test_scores(store: Store, name: str) -> dict[int, Aggregate]:
    """Per step index, the test aggregate of that step's chosen set (failed pairs counted, not averaged); steps
    whose set has no test evaluation are absent, and so is everything when the search has no test prompts."""
    if not store.test_prompts(name):
        return {}
    scores: dict[int, Aggregate] = {}
    for step in store.steps(name):
        rows = store.test_evaluations_for(name, step.set_key)
        if rows:
            values = [row.score for row in rows if row.score is not None]
            scores[step.step_index] = Aggregate.of(values, n_failed=len(rows) - len(values))
    return scores

__all__ = ["stored_test_scores"]
