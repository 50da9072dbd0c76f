"""The judge scorer: MT-Bench prompts and rating parsing, the HTTP backend against a real local server that
rates by a rule, and the local backend on a tiny random model through the transformers engine."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from demo_search.config import JudgeConfig
from demo_search.scoring.judge import JudgeError, JudgeScorer
from demo_search.scoring.judge_backend import JudgeBackend, JudgeReply
from demo_search.scoring.judge_http import HttpJudgeBackend, RetryPolicy, is_local_endpoint
from demo_search.scoring.judge_local import PLAIN_FORMAT, LocalJudgeBackend, render_judge_prompt, shared_prefix_length
from demo_search.scoring.judge_prompt import SYSTEM_PROMPT, build_judge_request, parse_rating
from demo_search.search.candidates import Aggregate
from demo_search.types import HeldOutPrompt, Turn
from workers.tree import LeafGeneration, TokenCounts

# MT-Bench's templates as FastChat ships them (llm_judge/data/judge_prompts.jsonl), to check the texts sent.
MT_BENCH_SINGLE_V1 = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a "
    "short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a "
    "scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n"
    "[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)
MT_BENCH_SINGLE_MATH_V1 = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider correctness and helpfulness. You "
    "will be given a reference answer and the assistant's answer. Begin your evaluation by comparing the assistant's "
    "answer with the reference answer. Identify and correct any mistakes. Be as objective as possible. After "
    "providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "
    "\"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n{question}\n\n[The Start of Reference Answer]\n"
    "{ref_answer_1}\n[The End of Reference Answer]\n\n[The Start of Assistant's Answer]\n{answer}\n"
    "[The End of Assistant's Answer]"
)
MT_BENCH_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user "
    "question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, "
    "depth, creativity, and level of detail of the response. You evaluation should focus on the assistant's answer to "
    "the second user question. Begin your evaluation by providing a short explanation. Be as objective as possible. "
    "After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this "
    "format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n"
)
MT_BENCH_MULTI_TURN = (
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n{answer_1}"
    "\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with User|>"
)

COUNTS = TokenCounts(1, 1, 0)
FAST_RETRY = RetryPolicy(max_retries=3, base_delay_s=0.05, max_delay_s=1.0)


def generation(leaf_id: str, text: str) -> LeafGeneration:
    return LeafGeneration("cand", leaf_id, text, (), "stop", COUNTS)


def prompt(pid: str, query: str, reference: str | None = None) -> HeldOutPrompt:
    return HeldOutPrompt(id=pid, query=query, reference=reference)


# ------------------------------------------------------------------------------------------- a judge server


_QUESTION = re.compile(r"\[Question\]\n(.*?)\n\n\[The Start of", re.S)
_REFERENCE = re.compile(r"\[The Start of Reference Answer\]\n(.*?)\n\[The End of Reference Answer\]", re.S)
_ANSWER = re.compile(r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S)


@dataclass
class JudgeServerLog:
    """What the server saw: per question, the times of its hits; and headers, bodies and concurrency."""

    hits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    authorizations: list[str | None] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    """Set when the test ends: frees the requests the server holds without a reply."""

    def attempts(self) -> Counter:
        return Counter({question: len(times) for question, times in self.hits.items()})


class RuleJudgeHandler(BaseHTTPRequestHandler):
    """OpenAI chat completions that rate by a rule: [[9]] when the answer contains the reference, [[2]] when it
    does not, [[5]] without reference. Questions with a marker word misbehave:
    GARBAGE (no rating), SINGLE ([7] only), ELEVEN ([[11]]), FLAKY (HTTP 500 twice, then a rating),
    ALWAYS500, SLOW (the first try gets no reply until the test ends, so the client's timeout fires whatever the
    machine's load), RATELIMIT (429 with Retry-After: 0 once),
    BADREQUEST (HTTP 400), NOCHOICES (a 200 without choices). Every request first waits ``delay_s``."""

    protocol_version = "HTTP/1.1"
    log: JudgeServerLog
    delay_s = 0.0
    held_s = 120.0
    """The longest a held request waits for ``release`` (a bound for a test that forgets to release it)."""

    def log_message(self, format, *args):  # noqa: A002 - keep the test output clean
        pass

    def do_POST(self):
        log = self.log
        with log.lock:
            log.inflight += 1
            log.max_inflight = max(log.max_inflight, log.inflight)
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before this reply
        finally:
            with log.lock:
                log.inflight -= 1

    def _answer(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        question = _QUESTION.search(user).group(1)
        with self.log.lock:
            self.log.hits[question].append(time.monotonic())
            self.log.authorizations.append(self.headers.get("Authorization"))
            self.log.bodies.append(body)
            attempt = len(self.log.hits[question])
        time.sleep(self.delay_s)
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": f"no route {self.path}"})
        if "SLOW" in question and attempt == 1:
            self.log.release.wait(self.held_s)
        if "FLAKY" in question and attempt <= 2 or "ALWAYS500" in question:
            return self._send(500, {"error": "internal error"})
        if "RATELIMIT" in question and attempt == 1:
            return self._send(429, {"error": "rate limited"}, {"Retry-After": "0"})
        if "BADREQUEST" in question:
            return self._send(400, {"error": "bad request"})
        if "NOCHOICES" in question:
            return self._send(200, {"id": "chatcmpl-test", "choices": []})
        content = self._judgement(question, user)
        self._send(200, {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(user.split()), "completion_tokens": len(content.split())},
        })

    @staticmethod
    def _judgement(question: str, user: str) -> str:
        if "GARBAGE" in question:
            return "The answer is fine but I will not give a number."
        if "SINGLE" in question:
            return "Decent answer. Rating: [7]"
        if "ELEVEN" in question:
            return "Better than perfect. Rating: [[11]]"
        answer = _ANSWER.search(user).group(1)
        reference = _REFERENCE.search(user)
        if reference is None:
            rating = 5
        else:
            rating = 9 if reference.group(1) in answer else 2
        return f'The format is "[[rating]]". The answer was checked. Rating: [[{rating}]]'

    def _send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@dataclass
class JudgeServer:
    base_url: str
    log: JudgeServerLog
    handler: type[RuleJudgeHandler]


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    log = JudgeServerLog()
    handler = type("Handler", (RuleJudgeHandler,), {"log": log})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield JudgeServer(f"http://127.0.0.1:{server.server_address[1]}/v1", log, handler)
    finally:
        log.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def http_scorer(server: JudgeServer, **backend_options) -> JudgeScorer:
    options = dict(timeout_s=5.0, concurrency=4, retry=FAST_RETRY, seed=0, max_tokens=64)
    options.update(backend_options)
    return JudgeScorer(HttpJudgeBackend(server.base_url, "rule-judge", **options))


# ------------------------------------------------------------------------------------- prompts and ratings


def test_single_answer_prompts_are_mt_bench_texts():
    plain = build_judge_request("r", prompt("p", "Why is the sky blue?"), "Rayleigh scattering.")
    assert plain.system == SYSTEM_PROMPT == "You are a helpful assistant."
    assert plain.user == MT_BENCH_SINGLE_V1.format(question="Why is the sky blue?", answer="Rayleigh scattering.")
    assert plain.template == "single-v1"
    guided = build_judge_request("r", prompt("p", "2+2?", "4"), "It is 4.")
    assert guided.user == MT_BENCH_SINGLE_MATH_V1.format(question="2+2?", ref_answer_1="4", answer="It is 4.")
    assert guided.template == "single-math-v1"
    unguided = build_judge_request("r", prompt("p", "2+2?", "4"), "It is 4.", use_reference=False)
    assert unguided.template == "single-v1" and "Reference" not in unguided.user
    assert plain.messages() == [{"role": "system", "content": plain.system}, {"role": "user", "content": plain.user}]


def test_multi_turn_prompts_follow_mt_bench_and_extend_to_more_turns():
    two = HeldOutPrompt(id="m", query="And in French?", history=(Turn("Say hello.", "Hello!"),))
    request = build_judge_request("r", two, "Bonjour !")
    assert request.template == "single-v1-multi-turn"
    assert request.system == MT_BENCH_MULTI_TURN_SYSTEM
    assert request.user == MT_BENCH_MULTI_TURN.format(
        question_1="Say hello.", answer_1="Hello!", question_2="And in French?", answer_2="Bonjour !"
    )
    three = HeldOutPrompt(id="m3", query="Q3", reference="R3", history=(Turn("Q1", "A1"), Turn("Q2", "A2")))
    request = build_judge_request("r", three, "A3")
    assert request.template == "single-math-v1-multi-turn"
    assert "answer to the third question" in request.system
    assert request.user.startswith("<|The Start of Reference Answer|>\n\n### User:\nQ1\n\n### Reference answer:\nA1")
    assert "### User:\nQ3\n\n### Reference answer:\nR3\n\n<|The End of Reference Answer|>\n\n\n" in request.user
    assert request.user.endswith(
        "### User:\nQ3\n\n### Assistant A:\nA3\n\n<|The End of Assistant A's Conversation with User|>"
    )


def test_only_fastchats_reference_categories_are_graded_against_the_reference():
    def template(category: str | None, reference: str | None) -> str:
        asked = HeldOutPrompt(id="p", query="2+2?", reference=reference, category=category)
        return build_judge_request("r", asked, "4").template

    assert [template(c, "4") for c in ("math", "reasoning", "coding", "arena-hard-200")] == ["single-math-v1"] * 4
    assert [template(c, "4") for c in ("writing", "roleplay", "extraction", "stem", "humanities")] == ["single-v1"] * 5
    assert template("Math", "4") == "single-v1"  # FastChat compares the category exactly
    assert template("math", None) == "single-v1"  # no reference to show (MT-Bench's one coding question without)
    assert template(None, "4") == "single-math-v1"  # formats without categories: graded against their reference


def test_turn_two_is_graded_against_both_references_and_shows_the_models_own_turn_one_answer():
    first = HeldOutPrompt.create("2+2?", reference="4", category="math")
    second = HeldOutPrompt.create("Times 3?", reference="12", category="math", follows=first.id)
    asked = dataclasses.replace(second, history=(Turn("2+2?", "It is 5."),))
    request = build_judge_request("r", asked, "15", prompts={first.id: first, second.id: second})
    assert request.template == "single-math-v1-multi-turn"
    assert request.user == (
        "<|The Start of Reference Answer|>\n\n### User:\n2+2?\n\n### Reference answer:\n4\n\n### User:\nTimes 3?\n\n"
        "### Reference answer:\n12\n\n<|The End of Reference Answer|>\n\n\n"
        + MT_BENCH_MULTI_TURN.format(question_1="2+2?", answer_1="It is 5.", question_2="Times 3?", answer_2="15")
    )
    unreferenced_first = dataclasses.replace(first, reference=None)
    request = build_judge_request("r", asked, "15", prompts={first.id: unreferenced_first})
    assert request.template == "single-v1-multi-turn" and request.system == MT_BENCH_MULTI_TURN_SYSTEM
    assert build_judge_request("r", asked, "15").template == "single-v1-multi-turn"  # turn 1 unknown: no reference


def test_a_follow_up_whose_history_was_not_filled_is_refused():
    first = HeldOutPrompt.create("Write a haiku.", category="writing")
    second = HeldOutPrompt.create("Now in French.", category="writing", follows=first.id)
    with pytest.raises(ValueError, match="its history was not filled"):
        build_judge_request("r", second, "Bonjour", prompts={first.id: first})


def test_judgements_may_be_2048_tokens_long_by_default():
    assert JudgeConfig(base_url="http://localhost:1", model_name="m").max_tokens == 2048
    assert inspect.signature(HttpJudgeBackend).parameters["max_tokens"].default == 2048
    assert inspect.signature(LocalJudgeBackend).parameters["max_tokens"].default == 2048


@pytest.mark.parametrize(
    ("reply", "value", "form"),
    [
        ("Good. Rating: [[8]]", 8.0, "[[rating]]"),
        ("Rating: [[ 7.5 ]]", 7.5, "[[rating]]"),
        ('Use the format "[[rating]]", e.g. "Rating: [[5]]". My verdict: [[3]]', 3.0, "[[rating]]"),
        ("Rating: [[10]] and see note [2]", 10.0, "[[rating]]"),
        ("Rating: [6]", 6.0, "[rating]"),
        ("Rating: [[1]]", 1.0, "[[rating]]"),
        ("First impression: [[4]]. After checking the reference: Rating: [[6]]", 6.0, "[[rating]]"),
        ("Rating: [3], on reflection [7]", 7.0, "[rating]"),
    ],
)
def test_parse_rating_takes_the_last_double_bracket_rating_else_single_brackets(reply, value, form):
    parsed = parse_rating(reply)
    assert (parsed.value, parsed.form, parsed.problem) == (value, form, None)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("No number here.", 'no rating in the form "[[rating]]" or "[rating]"'),
        ("Rating: [[11]]", "rating 11 is outside 1..10"),
        ("Rating: [[0]]", "rating 0 is outside 1..10"),
        ("Rating: [[rating]]", 'no rating in the form "[[rating]]" or "[rating]"'),
    ],
)
def test_parse_rating_rejects_missing_and_out_of_range_ratings(reply, problem):
    parsed = parse_rating(reply)
    assert parsed.value is None and parsed.problem == problem


def test_single_bracket_fallback_can_be_turned_off():
    assert parse_rating("Rating: [6]", accept_single_brackets=False).value is None
    assert parse_rating("Rating: [6]", accept_single_brackets=False).problem == 'no rating in the form "[[rating]]"'


# ---------------------------------------------------------------------------------------------- HTTP judge


def test_http_judge_rates_by_the_servers_rule(judge_server, no_key):
    prompts = {
        "a": prompt("a", "Capital of France?", "Paris"),
        "b": prompt("b", "Capital of Italy?", "Rome"),
        "c": prompt("c", "Write a haiku."),
    }
    items = [generation("a", "It is Paris."), generation("b", "Milan, I think."), generation("c", "Leaves fall softly")]
    with_scorer = http_scorer(judge_server, max_tokens=77)
    try:
        evaluations = with_scorer.evaluate(items, prompts)
    finally:
        with_scorer.close()
    assert [e.score for e in evaluations] == [9.0, 2.0, 5.0]
    assert [e.output for e in evaluations] == [item.text for item in items]
    assert [e.detail["template"] for e in evaluations] == ["single-math-v1", "single-math-v1", "single-v1"]
    assert all(e.error is None and e.detail["attempts"] == 1 for e in evaluations)
    assert evaluations[0].detail["rating"] == 9.0 and evaluations[0].detail["judge_reply"].endswith("Rating: [[9]]")
    assert evaluations[0].detail["judge_completion_tokens"] > 0
    sent = {b["messages"][1]["content"]: b for b in judge_server.log.bodies}
    expected = build_judge_request("x", prompts["a"], "It is Paris.")
    body = sent[expected.user]
    assert body["messages"] == expected.messages()
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("rule-judge", 0.0, 77)


def test_unparsable_judgements_are_failed_counted_and_left_out_of_the_mean(judge_server, no_key):
    prompts = {p.id: p for p in [prompt("ok1", "Q1", "yes"), prompt("bad", "GARBAGE Q"), prompt("ok2", "Q2", "yes"),
                                 prompt("big", "ELEVEN Q"), prompt("one", "SINGLE Q")]}
    items = [generation(pid, "yes indeed") for pid in prompts]
    evaluations = http_scorer(judge_server).evaluate(items, prompts)
    by_id = {e.prompt_id: e for e in evaluations}
    assert by_id["ok1"].score == by_id["ok2"].score == 9.0
    assert by_id["one"].score == 7.0 and by_id["one"].detail["rating_form"] == "[rating]"
    for failed in ("bad", "big"):
        assert by_id[failed].score is None and by_id[failed].error.startswith("unparsable judgement: ")
        assert by_id[failed].detail["judge_reply"] and "rating" not in by_id[failed].detail
    assert "outside 1..10" in by_id["big"].error
    scores = [e.score for e in evaluations if e.score is not None]
    aggregate = Aggregate.of(scores, n_failed=sum(e.score is None for e in evaluations))
    assert (aggregate.mean, aggregate.n, aggregate.n_failed) == (pytest.approx(25 / 3), 3, 2)


def test_server_errors_are_retried_with_growing_jittered_delays(judge_server, no_key):
    prompts = {"f": prompt("f", "FLAKY question", "x"), "n": prompt("n", "normal question", "x")}
    evaluations = http_scorer(judge_server).evaluate([generation("f", "x"), generation("n", "y")], prompts)
    assert [e.score for e in evaluations] == [9.0, 2.0]
    assert [e.detail["attempts"] for e in evaluations] == [3, 1]
    times = judge_server.log.hits["FLAKY question"]
    assert len(times) == 3 and judge_server.log.attempts()["normal question"] == 1
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    # Jitter keeps each delay in [ceiling / 2, ceiling]: 0.05 s then 0.1 s.
    assert gaps[0] >= FAST_RETRY.ceiling(1) / 2 and gaps[1] >= FAST_RETRY.ceiling(2) / 2


def test_retry_delays_grow_exponentially_up_to_the_cap():
    import random

    policy = RetryPolicy(max_retries=10, base_delay_s=0.5, max_delay_s=3.0)
    assert [policy.ceiling(k) for k in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    rng = random.Random(1)
    drawn = [(k, policy.delay(k, rng)) for k in range(1, 6) for _ in range(20)]
    assert all(policy.ceiling(k) / 2 <= delay <= policy.ceiling(k) for k, delay in drawn)
    assert len({delay for _, delay in drawn}) > 90  # jittered, not constant
    with pytest.raises(ValueError, match="max_retries must be >= 0"):
        RetryPolicy(max_retries=-1)


def test_a_timeout_is_retried(judge_server, no_key):
    # The first try is never answered, so it times out; a retry is answered at once, though on a loaded machine a
    # retry may time out too before one gets through: at least one retry, within the policy's limit.
    (evaluation,) = http_scorer(judge_server, timeout_s=1.0).evaluate(
        [generation("s", "x")], {"s": prompt("s", "SLOW question", "x")}
    )
    assert evaluation.score == 9.0 and evaluation.error is None
    assert 2 <= evaluation.detail["attempts"] <= FAST_RETRY.max_attempts
    assert judge_server.log.attempts()["SLOW question"] >= 2


def test_rate_limit_is_retried_after_the_servers_delay(judge_server, no_key):
    (evaluation,) = http_scorer(judge_server).evaluate([generation("r", "x")], {"r": prompt("r", "RATELIMIT q", "x")})
    assert evaluation.score == 9.0 and evaluation.detail["attempts"] == 2


def test_client_errors_are_not_retried_and_fail_only_their_request(judge_server, no_key):
    prompts = {
        "bad": prompt("bad", "BADREQUEST q"), "down": prompt("down", "ALWAYS500 q"), "ok": prompt("ok", "q", "x"),
        "empty": prompt("empty", "NOCHOICES q"),
    }
    bad, down, ok, empty = http_scorer(judge_server).evaluate([generation(pid, "x") for pid in prompts], prompts)
    assert bad.score is None and bad.error.startswith("judge request failed: HTTP 400") and bad.detail["attempts"] == 1
    assert down.score is None and "HTTP 500" in down.error and down.detail["attempts"] == FAST_RETRY.max_attempts
    assert empty.score is None and "malformed chat completion" in empty.error and empty.detail["attempts"] == 1
    assert ok.score == 9.0
    assert judge_server.log.attempts() == Counter({"BADREQUEST q": 1, "ALWAYS500 q": 4, "q": 1, "NOCHOICES q": 1})


def test_every_request_failing_raises_judge_error(judge_server, no_key):
    prompts = {"d1": prompt("d1", "ALWAYS500 one"), "d2": prompt("d2", "ALWAYS500 two")}
    scorer = http_scorer(judge_server, retry=RetryPolicy(max_retries=1, base_delay_s=0.01))
    with pytest.raises(JudgeError, match=r"failed all 2 request\(s\)") as raised:
        scorer.evaluate([generation("d1", "x"), generation("d2", "x")], prompts)
    assert judge_server.base_url + "/chat/completions" in str(raised.value) and "HTTP 500" in str(raised.value)


def test_an_unreachable_endpoint_raises_judge_error_naming_the_url(no_key):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    scorer = JudgeScorer(HttpJudgeBackend(url, "m", retry=RetryPolicy(max_retries=2, base_delay_s=0.01), timeout_s=2.0))
    with pytest.raises(JudgeError) as raised:
        scorer.evaluate([generation("a", "x")], {"a": prompt("a", "q")})
    message = str(raised.value)
    assert f"{url}/chat/completions" in message and "ConnectError" in message and "after 3 attempt(s)" in message


def test_concurrency_limit_is_respected(judge_server, no_key):
    judge_server.handler.delay_s = 0.15
    prompts = {f"p{i}": prompt(f"p{i}", f"question {i}", "x") for i in range(12)}
    evaluations = http_scorer(judge_server, concurrency=3).evaluate([generation(p, "x") for p in prompts], prompts)
    assert [e.score for e in evaluations] == [9.0] * 12
    assert 2 <= judge_server.log.max_inflight <= 3


def test_api_key_is_sent_from_the_named_environment_variable(judge_server, monkeypatch):
    monkeypatch.setenv("DEMO_JUDGE_KEY", "sk-test-123")
    scorer = http_scorer(judge_server, api_key_env="DEMO_JUDGE_KEY")
    scorer.evaluate([generation("a", "x")], {"a": prompt("a", "q")})
    assert judge_server.log.authorizations == ["Bearer sk-test-123"]


def test_a_local_endpoint_needs_no_key_but_a_remote_one_does(judge_server, monkeypatch):
    monkeypatch.delenv("DEMO_JUDGE_KEY", raising=False)
    http_scorer(judge_server, api_key_env="DEMO_JUDGE_KEY").evaluate([generation("a", "x")], {"a": prompt("a", "q")})
    assert judge_server.log.authorizations == [None]
    with pytest.raises(JudgeError, match="environment variable DEMO_JUDGE_KEY is not set") as raised:
        HttpJudgeBackend("https://judge.example.com/v1", "gpt-4-turbo", api_key_env="DEMO_JUDGE_KEY")
    assert "scorer.judge.api_key_env" in str(raised.value)
    assert is_local_endpoint("http://localhost:8000/v1") and is_local_endpoint("http://[::1]:8000/v1")
    assert not is_local_endpoint("https://api.openai.com/v1")


def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(JudgeError, match="scorer.judge.base_url"):
        HttpJudgeBackend("ftp://127.0.0.1/v1", "m")


def test_scorer_is_built_from_the_judge_config(judge_server, no_key):
    config = JudgeConfig(backend="http", base_url=judge_server.base_url, model_name="rule-judge", max_retries=0,
                         concurrency=2, timeout_s=5.0, max_tokens=32)
    scorer = JudgeScorer.from_config(config)
    try:
        (evaluation,) = scorer.evaluate([generation("a", "yes")], {"a": prompt("a", "q", "yes")})
    finally:
        scorer.close()
    assert evaluation.score == 9.0
    assert judge_server.log.bodies[0]["max_tokens"] == 32 and judge_server.log.bodies[0]["model"] == "rule-judge"
    assert scorer.backend.name == f"http rule-judge at {judge_server.base_url}/chat/completions"


class _ShortChangingBackend(JudgeBackend):
    """Answers only the first request: breaks the backend contract on purpose."""

    name = "short-changing judge"

    def judge_many(self, requests):
        return [JudgeReply(requests[0].request_id, "Rating: [[4]]")]


def test_a_backend_that_breaks_its_contract_is_a_judge_error():
    prompts = {"a": prompt("a", "q1"), "b": prompt("b", "q2")}
    scorer = JudgeScorer(_ShortChangingBackend())
    assert scorer.evaluate([], prompts) == []
    with pytest.raises(JudgeError, match="short-changing judge broke the backend contract"):
        scorer.evaluate([generation("a", "x"), generation("b", "y")], prompts)


# --------------------------------------------------------------------------------------------- local judge


@pytest.fixture(scope="module")
def judge_model_dir(tmp_path_factory) -> Path:
    import torch

    from workers.tiny import build_random_model_dir

    torch.set_num_threads(2)
    return build_random_model_dir(
        tmp_path_factory.mktemp("random-judge"), seed=3, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1536, initializer_range=0.2,
    )


def test_judge_prompt_uses_the_chat_template_when_there_is_one():
    from workers.tiny import build_byte_tokenizer

    request = build_judge_request("r", prompt("p", "q"), "a")
    tokenizer = build_byte_tokenizer()
    plain = PLAIN_FORMAT.format(system=request.system, user=request.user)
    assert render_judge_prompt(tokenizer, request) == (plain, True)
    tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    assert render_judge_prompt(tokenizer, request) == (f"<system>{SYSTEM_PROMPT}<user>{request.user}<assistant>", False)


def test_shared_prefix_leaves_every_prompt_one_token_of_its_own():
    assert shared_prefix_length([(1, 2, 3, 4), (1, 2, 3, 5), (1, 2, 9)]) == 2
    assert shared_prefix_length([(1, 2, 3)]) == 2
    assert shared_prefix_length([(1, 2), (1, 2, 3)]) == 1
    assert shared_prefix_length([(1, 2), (7, 2)]) == 0


def test_local_judge_answers_like_the_engine_on_each_whole_prompt(judge_model_dir):
    from transformers import AutoTokenizer

    from workers.decoding import DecodingParams
    from workers.engines.transformers_engine import TransformersEngine
    from workers.tree import Branch, Leaf, PrefixTree

    engine = TransformersEngine(judge_model_dir, batch_size=4)
    tokenizer = AutoTokenizer.from_pretrained(judge_model_dir)
    backend = LocalJudgeBackend(engine, tokenizer, max_tokens=6)
    prompts = {
        "a": prompt("a", "Capital of France?", "Paris"), "b": prompt("b", "Say hi."), "c": prompt("c", "2+2?", "4")
    }
    items = [generation("a", "Paris."), generation("b", "Hello!"), generation("c", "x" * 900)]
    evaluations = JudgeScorer(backend).evaluate(items, prompts)
    # The random model writes no rating: each judgement is a failed one, with the reply kept.
    assert all(e.score is None and e.error.startswith("unparsable judgement: ") for e in evaluations[:2])
    # The third prompt (about 1.7k tokens) does not fit the judge's 1536-token context: it fails alone.
    assert evaluations[2].error.startswith("judge request failed: judge prompt of ")
    assert "exceeds the judge's context of 1536 tokens" in evaluations[2].error
    for item, evaluation in zip(items[:2], evaluations[:2]):
        text, _ = render_judge_prompt(tokenizer, build_judge_request("x", prompts[item.leaf_id], item.text))
        ids = tuple(tokenizer.encode(text))
        alone = TransformersEngine(judge_model_dir, batch_size=1).generate(
            PrefixTree(ids[:1], (Branch("b", ()),), (Leaf("l", ids[1:]),)), DecodingParams(max_tokens=6)
        )
        assert evaluation.detail["judge_reply"] == alone.generations[0].text


def test_local_judge_is_built_from_the_judge_config(judge_model_dir):
    config = JudgeConfig(backend="local", model=str(judge_model_dir), max_tokens=4)
    scorer = JudgeScorer.from_config(config)
    try:
        (evaluation,) = scorer.evaluate([generation("a", "Paris.")], {"a": prompt("a", "Capital?", "Paris")})
    finally:
        scorer.close()
    assert evaluation.score is None and evaluation.error.startswith("unparsable judgement")
    assert scorer.backend.name == f"local transformers judge {judge_model_dir}"
