"""``judge``: MT-Bench-style single-answer grading of generated answers, 1 to 10, by a judge model.

A judge reply without a parsable rating in 1..10 is a *failed judgement*: an ``Evaluation`` with ``score=None``
and ``error="unparsable judgement: ..."``, stored and counted but excluded from the mean, never scored 0. A
request the judge backend could not answer (after its retries) fails the same way with ``"judge request
failed: ..."``. The rating format and the prompts are described in :mod:`demo_search.scoring.judge_prompt`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from db.records import JUDGE_COMPLETION_TOKENS, JUDGE_PROMPT_TOKENS
from demo_search.scoring.base import Evaluation, Scorer
from demo_search.scoring.judge_backend import JudgeBackend, JudgeError, JudgeReply
from demo_search.scoring.judge_prompt import JudgeRequest, build_judge_request, parse_rating
from demo_search.types import HeldOutPrompt
from workers.tree import LeafGeneration

if TYPE_CHECKING:
    from demo_search.config import JudgeConfig

logger = logging.getLogger(__name__)

_EXCERPT = 200


class JudgeScorer(Scorer):
    """Rates each generated answer with ``backend`` (an HTTP endpoint or a local model); higher is better.

    ``use_reference``: judge the prompts FastChat grades against a reference (its categories, see
    :func:`~demo_search.scoring.judge_prompt.uses_reference`) with MT-Bench's reference-guided template.
    ``accept_single_brackets``: accept MT-Bench's fallback rating form ``[n]`` when the reply has no ``[[n]]``.
    Each evaluation's ``output`` is the judged answer; its ``detail`` holds the judge reply, the rating (when
    there is one), the template and the number of attempts. The scorer closes its backend on ``close()``.
    """

    engine_call = "generate"
    score_range = (1.0, 10.0)

    def __init__(
        self, backend: JudgeBackend, *, use_reference: bool = True, accept_single_brackets: bool = True
    ) -> None:
        self.backend = backend
        self.use_reference = use_reference
        self.accept_single_brackets = accept_single_brackets

    @classmethod
    def from_config(cls, config: JudgeConfig) -> JudgeScorer:
        """The scorer that ``scorer.judge`` describes (``backend: http`` or ``local``)."""
        if config.backend == "http":
            from demo_search.scoring.judge_http import HttpJudgeBackend, RetryPolicy

            backend: JudgeBackend = HttpJudgeBackend(
                config.base_url,
                config.model_name,
                api_key_env=config.api_key_env,
                timeout_s=config.timeout_s,
                max_tokens=config.max_tokens,
                concurrency=config.concurrency,
                retry=RetryPolicy(max_retries=config.max_retries),
            )
        else:
            from demo_search.config.paths import model_directory
            from demo_search.scoring.judge_local import LocalJudgeBackend

            backend = LocalJudgeBackend.from_model(model_directory(config.model), max_tokens=config.max_tokens)
        return cls(backend)

    def evaluate(self, items: Sequence[LeafGeneration], prompts: Mapping[str, HeldOutPrompt]) -> list[Evaluation]:
        requests = [self._request(item, prompts) for item in items]
        replies = self.backend.judge_many(requests) if requests else []
        if len(replies) != len(requests) or any(q.request_id != r.request_id for q, r in zip(requests, replies)):
            raise JudgeError(
                f"{self.backend.name} broke the backend contract",
                [
                    f"expected replies to requests {[q.request_id for q in requests]}, "
                    f"got {[r.request_id for r in replies]}"
                ],
            )
        evaluations = [self._evaluation(item, q, r) for item, q, r in zip(items, requests, replies)]
        failed = sum(e.score is None for e in evaluations)
        if failed:
            logger.info("%d of %d judgements failed (%s)", failed, len(evaluations), self.backend.name)
        return evaluations

    def close(self) -> None:
        self.backend.close()

    def _request(self, item: LeafGeneration, prompts: Mapping[str, HeldOutPrompt]) -> JudgeRequest:
        request_id = f"{item.branch_id}/{item.leaf_id}"
        return build_judge_request(
            request_id, prompts[item.leaf_id], item.text, prompts=prompts, use_reference=self.use_reference
        )

    def _evaluation(self, item: LeafGeneration, request: JudgeRequest, reply: JudgeReply) -> Evaluation:
        detail = {"template": request.template, "attempts": reply.attempts, "finish_reason": item.finish_reason}
        if reply.prompt_tokens is not None or reply.completion_tokens is not None:
            detail.update({JUDGE_PROMPT_TOKENS: reply.prompt_tokens, JUDGE_COMPLETION_TOKENS: reply.completion_tokens})
        if reply.text is None:
            error = f"judge request failed: {reply.error}"
            return Evaluation(item.leaf_id, None, output=item.text, error=error, detail=detail)
        detail["judge_reply"] = reply.text
        rating = parse_rating(reply.text, accept_single_brackets=self.accept_single_brackets)
        if rating.value is None:
            excerpt = reply.text[-_EXCERPT:].strip()
            error = f"unparsable judgement: {rating.problem} in the judge reply (ends with {excerpt!r})"
            return Evaluation(item.leaf_id, None, output=item.text, error=error, detail=detail)
        detail.update(rating=rating.value, rating_form=rating.form)
        return Evaluation(item.leaf_id, rating.value, output=item.text, detail=detail)


__all__ = ["JudgeError", "JudgeScorer"]
