"""The judge prompts demo-search sends for MT-Bench, compared with the ones FastChat itself builds.

The expected prompts come from FastChat's own ``judge_prompts.jsonl`` (tests/data/fastchat, see its README),
chosen and formatted by FastChat's rules, restated here from ``fastchat/llm_judge``: ``gen_judgment.py``'s
``make_judge_single`` picks ``single-math-v1`` for the categories in ``NEED_REF_CATS`` and ``single-v1`` for the
others (``-multi-turn`` for turn 2), and ``common.py``'s ``run_judge_single`` sends the template's
``system_prompt`` and ``prompt_template.format(...)`` with ``question``/``answer`` (turn 1) or
``question_1``/``question_2``/``answer_1``/``answer_2`` (turn 2), plus ``ref_answer_1`` (and ``ref_answer_2``
for turn 2) for the reference-based ones. The questions are the vendored MT-Bench file, loaded by the project's
loader; turn 2 is filled with the (fake) model's turn-1 answer by the same function the search uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from demo_search.data import load_heldout
from demo_search.scoring.judge import JudgeScorer
from demo_search.scoring.judge_prompt import JudgeRequest
from demo_search.search.turns import filled
from demo_search.types import HeldOutPrompt
from tests.paper_data import PAPER_DATA
from tests.support.judges import RecordingJudge
from workers.tree import LeafGeneration, TokenCounts

FASTCHAT_PROMPTS = Path(__file__).resolve().parents[2] / "data" / "fastchat" / "judge_prompts.jsonl"
NEED_REF_CATS = ["math", "reasoning", "coding", "arena-hard-200"]
"""FastChat's ``NEED_REF_CATS`` (fastchat/llm_judge/common.py)."""

QUESTIONS = PAPER_DATA / "mt_bench_question.jsonl"


def fastchat_templates() -> dict[str, dict[str, Any]]:
    lines = FASTCHAT_PROMPTS.read_text(encoding="utf-8").splitlines()
    return {record["name"]: record for record in map(json.loads, lines)}


def mt_bench_questions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def one_question_per_category() -> list[dict[str, Any]]:
    """For each category, its first question with a reference answer when it has one (so the categories FastChat
    grades without a reference are shown one that has a reference: it must not be used), else its first."""
    chosen: dict[str, dict[str, Any]] = {}
    for question in mt_bench_questions():
        current = chosen.get(question["category"])
        if current is None or ("reference" not in current and "reference" in question):
            chosen[question["category"]] = question
    return list(chosen.values())


def fastchat_prompt(question: Mapping[str, Any], answers: Sequence[str], *, turn: int) -> tuple[str, str]:
    """(system prompt, user prompt) as FastChat's ``run_judge_single`` builds them for ``turn`` 1 or 2."""
    ref_based = question["category"] in NEED_REF_CATS
    name = ("single-math-v1" if ref_based else "single-v1") + ("-multi-turn" if turn == 2 else "")
    template = fastchat_templates()[name]
    kwargs = {}
    if ref_based:
        kwargs["ref_answer_1"] = question["reference"][0]
        if turn == 2:
            kwargs["ref_answer_2"] = question["reference"][1]
    if turn == 2:
        user = template["prompt_template"].format(
            question_1=question["turns"][0],
            question_2=question["turns"][1],
            answer_1=answers[0],
            answer_2=answers[1],
            **kwargs,
        )
    else:
        user = template["prompt_template"].format(question=question["turns"][0], answer=answers[0], **kwargs)
    return template["system_prompt"], user


def judge_request(prompt: HeldOutPrompt, answer: str, prompts: Mapping[str, HeldOutPrompt]) -> JudgeRequest:
    """The request the project's judge scorer sends for ``answer`` to ``prompt``."""
    backend = RecordingJudge()
    generation = LeafGeneration("set", prompt.id, answer, (), "stop", TokenCounts(1, 1, 0))
    (evaluation,) = JudgeScorer(backend).evaluate([generation], prompts)
    assert evaluation.score == 5.0
    (request,) = backend.requests
    return request


@pytest.fixture(scope="module")
def loaded() -> dict[int, tuple[HeldOutPrompt, HeldOutPrompt]]:
    """Each question id with its turn-1 and turn-2 prompts, as the project loads them."""
    prompts = load_heldout(QUESTIONS, "mtbench", turns="both").raise_if_errors().items
    ids = [question["question_id"] for question in mt_bench_questions()]
    return dict(zip(ids, zip(prompts[0::2], prompts[1::2])))


def test_the_chosen_questions_cover_every_category_and_the_reference_cases() -> None:
    chosen = one_question_per_category()
    assert sorted(q["category"] for q in chosen) == sorted(
        ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"]
    )
    unused_references = [q["category"] for q in chosen if "reference" in q and q["category"] not in NEED_REF_CATS]
    assert sorted(unused_references) == ["extraction", "roleplay", "stem"]
    assert all("reference" in q for q in chosen if q["category"] in NEED_REF_CATS)


@pytest.mark.parametrize("question", one_question_per_category(), ids=lambda q: f"{q['category']}-{q['question_id']}")
def test_turn_one_prompts_are_fastchats(question: dict[str, Any], loaded) -> None:
    first, _ = loaded[question["question_id"]]
    answer = f"My answer to question {question['question_id']}:\nline two {{not a field}}"
    request = judge_request(first, answer, {first.id: first})

    assert (request.system, request.user) == fastchat_prompt(question, [answer], turn=1)
    ref_based = question["category"] in NEED_REF_CATS
    assert request.template == ("single-math-v1" if ref_based else "single-v1")


@pytest.mark.parametrize("question", one_question_per_category(), ids=lambda q: f"{q['category']}-{q['question_id']}")
def test_turn_two_prompts_are_fastchats_with_the_models_own_turn_one_answer(question: dict[str, Any], loaded) -> None:
    first, second = loaded[question["question_id"]]
    answers = [f"Turn-one answer the model gave to {question['question_id']}.", "Its turn-two answer."]
    prompts = {first.id: first, second.id: second}
    asked = filled(second, prompts, {first.id: answers[0]}.get)
    assert asked is not None
    request = judge_request(asked, answers[1], {**prompts, asked.id: asked})

    assert (request.system, request.user) == fastchat_prompt(question, answers, turn=2)
    ref_based = question["category"] in NEED_REF_CATS
    assert request.template == ("single-math-v1-multi-turn" if ref_based else "single-v1-multi-turn")
    if "reference" in question:
        # the reference answer of turn 1 is never shown as the assistant's turn-1 answer
        assistant_part = request.user.split("<|The Start of Assistant A's Conversation with User|>")[1]
        assert question["reference"][0] not in assistant_part
