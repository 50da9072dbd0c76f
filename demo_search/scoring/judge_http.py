"""A judge behind an OpenAI-compatible ``/v1/chat/completions`` endpoint (GPT-4-class APIs, ``vllm serve``, ...).

Each request is sent with temperature 0 and ``max_tokens``; up to ``concurrency`` requests are in flight at once
(a thread pool over one ``httpx.Client``). A request is retried, up to ``RetryPolicy.max_retries`` times, after a
connection error, a timeout, HTTP 429 or HTTP 5xx, sleeping an exponentially growing, jittered delay between
tries (or the server's ``Retry-After``, when it sends one, capped by ``max_delay_s``). Any other HTTP error
(400, 401, 404, ...) and a 200 response without a message fail the request at once. A request that still fails
gets a ``JudgeReply`` with the error; if every request of a call fails, ``JudgeError`` is raised instead.

The API key is read from the environment variable ``api_key_env`` when the backend is built and sent as
``Authorization: Bearer <key>``. An endpoint on this machine (localhost, 127.0.0.0/8, ::1) may run without a key
(as ``vllm serve`` does by default); any other endpoint without a key is a ``JudgeError``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from demo_search.scoring.judge_backend import JudgeBackend, JudgeError, JudgeReply
from demo_search.scoring.judge_prompt import JudgeRequest

logger = logging.getLogger(__name__)

_BODY_EXCERPT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again.

    Before retry ``k`` (1-based) the client sleeps ``d = min(max_delay_s, base_delay_s * 2 ** (k - 1))`` scaled by
    a random factor in ``[0.5, 1]`` ("equal jitter": clients that failed together do not retry together).
    """

    max_retries: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if not 0.0 <= self.base_delay_s <= self.max_delay_s:
            raise ValueError(
                f"retry delays need 0 <= base_delay_s <= max_delay_s, got {self.base_delay_s} and {self.max_delay_s}"
            )

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def ceiling(self, retry: int) -> float:
        """The un-jittered delay before retry ``retry`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry - 1))

    def delay(self, retry: int, rng: random.Random) -> float:
        """The delay before retry ``retry`` (1-based): ``ceiling(retry)`` times a factor drawn from [0.5, 1]."""
        return self.ceiling(retry) * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class _Failure:
    message: str
    retryable: bool
    retry_after_s: float | None = None


@dataclass(frozen=True)
class _Answer:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None


def is_local_endpoint(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost`` or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpJudgeBackend(JudgeBackend):
    """Sends judge conversations to ``{base_url}/chat/completions`` as model ``model_name``.

    ``base_url`` is the API root including its version, e.g. ``https://api.openai.com/v1`` or
    ``http://127.0.0.1:8000/v1``. ``timeout_s`` bounds each try (connect, send, and each wait for data).
    ``seed`` fixes the retry jitter (for tests). Raises ``JudgeError`` when the URL is not http(s) or the key is
    missing for a remote endpoint.
    """

    def __init__(
        self,
        base_url: str,
        model_name: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_tokens: int = 2048,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise JudgeError(
                f"the judge endpoint {base_url!r} is not an http(s) URL",
                ["scorer.judge.base_url: expected e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1"],
            )
        if concurrency < 1 or max_tokens < 1 or not timeout_s > 0:
            raise ValueError(
                "concurrency and max_tokens must be >= 1 and timeout_s > 0, "
                f"got {concurrency}, {max_tokens}, {timeout_s}"
            )
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model_name = model_name
        self._max_tokens = max_tokens
        self._retry = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif is_local_endpoint(base_url):
            logger.info("$%s is not set; sending judge requests to %s without a key", api_key_env, self._url)
        else:
            raise JudgeError(
                f"the environment variable {api_key_env} is not set, "
                f"and the judge endpoint {self._url} needs an API key",
                [f"export {api_key_env}=<your key>, or set scorer.judge.api_key_env to the variable that holds it"],
            )
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="judge-http")

    @property
    def url(self) -> str:
        """The chat-completions URL requests are posted to."""
        return self._url

    @property
    def name(self) -> str:
        return f"http {self._model_name} at {self._url}"

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        replies = list(self._pool.map(self._judge_one, requests))
        if replies and not any(reply.ok for reply in replies):
            last = replies[-1]
            raise JudgeError(
                f"the judge endpoint {self._url} failed all {len(replies)} request(s) of this call",
                [
                    f"last error (after {last.attempts} attempt(s)): {last.error}",
                    f"check that the server is up and that scorer.judge.base_url and model_name "
                    f"({self._model_name!r}) are right",
                ],
            )
        return replies

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    # -- one request -----------------------------------------------------------------------------------------

    def _judge_one(self, request: JudgeRequest) -> JudgeReply:
        body = {
            "model": self._model_name,
            "messages": request.messages(),
            "temperature": 0.0,
            "max_tokens": self._max_tokens,
        }
        attempts = self._retry.max_attempts
        attempt = 0
        while True:
            attempt += 1
            outcome = self._post(body)
            if isinstance(outcome, _Answer):
                return JudgeReply(
                    request.request_id,
                    outcome.text,
                    attempts=attempt,
                    prompt_tokens=outcome.prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                )
            if not outcome.retryable or attempt == attempts:
                logger.warning(
                    "judge request %s failed after %d attempt(s): %s", request.request_id, attempt, outcome.message
                )
                return JudgeReply(request.request_id, None, error=outcome.message, attempts=attempt)
            delay = self._delay(attempt, outcome.retry_after_s)
            logger.warning(
                "judge request %s: attempt %d/%d failed (%s); retrying in %.2f s",
                request.request_id, attempt, attempts, outcome.message, delay,
            )
            time.sleep(delay)

    def _delay(self, retry: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self._retry.max_delay_s)
        with self._rng_lock:
            return self._retry.delay(retry, self._rng)

    def _post(self, body: dict[str, Any]) -> _Answer | _Failure:
        try:
            response = self._client.post(self._url, json=body)
        except httpx.TimeoutException as exc:
            return _Failure(f"timed out ({type(exc).__name__}) posting to {self._url}", retryable=True)
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            return _Failure(f"{type(exc).__name__} posting to {self._url}: {exc}", retryable=True)
        except httpx.HTTPError as exc:
            return _Failure(f"{type(exc).__name__} posting to {self._url}: {exc}", retryable=False)
        status = response.status_code
        if status != 200:
            retryable = status == 429 or status >= 500
            message = f"HTTP {status} from {self._url}: {response.text[:_BODY_EXCERPT]}"
            return _Failure(message, retryable, _retry_after(response) if retryable else None)
        return _read_answer(response, self._url)


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds, when it is a number (the HTTP-date form is ignored)."""
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _read_answer(response: httpx.Response, url: str) -> _Answer | _Failure:
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        excerpt = response.text[:_BODY_EXCERPT]
        message = f"malformed chat completion from {url} ({type(exc).__name__}: {exc}): {excerpt}"
        return _Failure(message, retryable=False)
    if not isinstance(content, str):
        return _Failure(f"chat completion from {url} has no message content (got {content!r})", retryable=False)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return _Answer(content, usage.get("prompt_tokens"), usage.get("completion_tokens"))


__all__ = ["HttpJudgeBackend", "RetryPolicy", "is_local_endpoint"]
