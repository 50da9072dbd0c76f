"""``loglik``: mean log-probability per reference token."""

from __future__ import annotations

from demo_search.scoring.base import Evaluation, Scorer


class LoglikScorer(Scorer):
    """Scores a prompt by the mean log-probability of its reference answer's tokens (engine ``score``)."""

    engine_call = "score"

    @property
    def needs_references(self) -> bool:
        return True

    def evaluate(self, items, prompts):
        evaluations = []
        for item in items:
            if item.count == 0:
                evaluations.append(Evaluation(item.leaf_id, None, error="no reference tokens to score"))
            else:
                evaluations.append(
                    Evaluation(item.leaf_id, item.mean_logprob, detail={"sum_logprob": item.sum_logprob, "n_tokens": item.count})
                )
        return evaluations
