"""Judge backends for tests that need no judge model."""

from __future__ import annotations

from collections.abc import Sequence

from demo_search.scoring.judge_backend import JudgeBackend, JudgeReply
from demo_search.scoring.judge_prompt import JudgeRequest


class RecordingJudge(JudgeBackend):
    """Rates every answer 5 and keeps the requests (``requests``), so a test can read the prompts it was sent."""

    def __init__(self) -> None:
        self.requests: list[JudgeRequest] = []

    @property
    def name(self) -> str:
        return "recording judge"

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        self.requests.extend(requests)
        return [JudgeReply(request.request_id, "Rating: [[5]]") for request in requests]


__all__ = ["RecordingJudge"]
