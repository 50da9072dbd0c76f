"""The judge backend interface: something that answers judge conversations (an HTTP endpoint, a local model)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from demo_search.errors import DemoSearchError
from demo_search.scoring.judge_prompt import JudgeRequest


class JudgeError(DemoSearchError):
    """The judge cannot work at all: its endpoint is unreachable, its key is missing, its model cannot load."""


@dataclass(frozen=True)
class JudgeReply:
    """The judge's answer to one request: ``text`` when it answered, else ``error`` (after every retry).

    ``attempts`` counts the tries it took (1 when the first succeeded). ``prompt_tokens`` and
    ``completion_tokens`` are the judge's own token counts, when it reports them.
    """

    request_id: str
    text: str | None
    error: str | None = None
    attempts: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.error is None):
            raise ValueError(
                f"judge reply {self.request_id!r} must carry exactly one of text and error, "
                f"got text={self.text!r}, error={self.error!r}"
            )

    @property
    def ok(self) -> bool:
        return self.text is not None


class JudgeBackend(ABC):
    """Answers judge conversations with deterministic (greedy, temperature 0) decoding.

    Contract of ``judge_many``:
    * it returns exactly one ``JudgeReply`` per request, in request order, with the request's id;
    * a request that fails (after the backend's retries, if it has any) gets a reply with ``error`` set, and
      the other requests go on;
    * it raises ``JudgeError`` only when the backend cannot work at all, e.g. when every request of the call
      failed because its endpoint cannot be reached; the message names the endpoint or model and the last error.
    ``close()`` releases clients, threads and models; a closed backend is not used again.
    """

    @abstractmethod
    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """One reply per request, in order (see the class contract)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Which judge this is, for logs and stored details (e.g. ``http gpt-4-turbo at https://...``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Default: nothing."""


__all__ = ["JudgeBackend", "JudgeError", "JudgeReply"]
