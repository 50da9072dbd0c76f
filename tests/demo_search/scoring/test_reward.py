"""The reward scorer on tiny random ``LlamaForSequenceClassification`` models built here (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from demo_search.scoring.reward import RewardModelError, RewardScorer, reward_input
from demo_search.types import HeldOutPrompt, Turn
from tests.workers.fakes import RANDOM_MODEL_CONFIG
from workers.tiny import build_byte_tokenizer, tiny_llama_config
from workers.tree import LeafGeneration, TokenCounts

torch.set_num_threads(2)

SMALL = {**RANDOM_MODEL_CONFIG, "max_position_embeddings": 256}  # the random tiny Llama of the engine tests


def build_reward_model(path: Path, *, num_labels: int = 1, seed: int = 0, chat_template: str | None = None) -> Path:
    from transformers import LlamaForSequenceClassification

    tokenizer = build_byte_tokenizer()
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = tiny_llama_config(len(tokenizer), num_labels=num_labels, **SMALL)
    torch.manual_seed(seed)
    LlamaForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory) -> Path:
    return build_reward_model(tmp_path_factory.mktemp("reward-1-label"))


@pytest.fixture(scope="module")
def scorer(reward_dir) -> RewardScorer:
    return RewardScorer(reward_dir, batch_size=4)


COUNTS = TokenCounts(1, 1, 0)
PROMPTS = {
    f"p{i}": HeldOutPrompt(id=f"p{i}", query=query)
    for i, query in enumerate(["Name a colour.", "What is two plus two?", "Reverse 'abc'.", "Say hi."])
}
ANSWERS = ["Blue.", "Four, because two and two make four.", "cba", "Hi there! How can I help you today?", "Red", "5"]


def generations(answers=ANSWERS):
    return [LeafGeneration("c", f"p{i % len(PROMPTS)}", a, (), "stop", COUNTS) for i, a in enumerate(answers)]


def test_scores_are_deterministic_and_differ_between_answers(scorer, reward_dir):
    first = scorer.evaluate(generations(), PROMPTS)
    again = RewardScorer(reward_dir, batch_size=4).evaluate(generations(), PROMPTS)
    assert [e.score for e in first] == [e.score for e in again]
    assert all(e.error is None and e.output == a for e, a in zip(first, ANSWERS))
    assert len({round(e.score, 6) for e in first}) == len(ANSWERS)
    # The same prompt with two answers: the answer changes the reward.
    blue, red = scorer.evaluate(generations(["Blue.", "Red"]), {"p0": PROMPTS["p0"], "p1": PROMPTS["p0"]})
    assert blue.score != pytest.approx(red.score, abs=1e-4)


def test_a_batch_scores_like_each_input_alone(scorer, reward_dir):
    batched = [e.score for e in scorer.evaluate(generations(), PROMPTS)]
    single = RewardScorer(reward_dir, batch_size=1)
    alone = [single.evaluate([g], PROMPTS)[0].score for g in generations()]
    assert batched == pytest.approx(alone, abs=1e-5)
    assert batched != pytest.approx(alone[::-1], abs=1e-5)


def test_score_is_the_logit_of_the_plain_text_input(scorer, reward_dir):
    from transformers import AutoModelForSequenceClassification

    prompt = HeldOutPrompt(id="h", query="And now?", history=(Turn("First?", "One."),))
    text, add_special = reward_input(build_byte_tokenizer(), prompt, "Two.")
    assert (text, add_special) == ("First?\n\nOne.\n\nAnd now?\n\nTwo.", True)
    model = AutoModelForSequenceClassification.from_pretrained(reward_dir).eval()
    ids = build_byte_tokenizer().encode(text)
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([ids])).logits[0, 0].item()
    (evaluation,) = scorer.evaluate([LeafGeneration("c", "h", "Two.", (), "stop", COUNTS)], {"h": prompt})
    assert evaluation.score == pytest.approx(expected, abs=1e-5) and evaluation.detail["n_tokens"] == len(ids)


def test_chat_template_renders_the_conversation(tmp_path):
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    path = build_reward_model(tmp_path / "chat", chat_template=template)
    scorer = RewardScorer(path)
    text, add_special = reward_input(scorer.tokenizer, PROMPTS["p0"], "Blue.")
    assert (text, add_special) == ("<user>Name a colour.\n<assistant>Blue.\n", False)
    (evaluation,) = scorer.evaluate(generations(["Blue."]), PROMPTS)
    assert evaluation.score is not None and evaluation.detail["n_tokens"] == len(text.encode())


def test_two_label_model_scores_the_log_probability_of_label_one(tmp_path):
    scorer = RewardScorer(build_reward_model(tmp_path / "two", num_labels=2), batch_size=3)
    scores = [e.score for e in scorer.evaluate(generations(), PROMPTS)]
    assert all(s < 0.0 for s in scores) and len(set(scores)) == len(scores)
    texts = [reward_input(scorer.tokenizer, PROMPTS[g.leaf_id], g.text)[0] for g in generations()]
    alone = [scorer.score_ids([scorer.tokenizer.encode(text)])[0] for text in texts]
    assert scores == pytest.approx(alone, abs=1e-5)


def test_input_longer_than_the_context_is_a_failed_evaluation_not_truncated(scorer):
    items = generations(["x" * 300, "short"])
    too_long, ok = scorer.evaluate(items, PROMPTS)
    assert too_long.score is None and "exceeds the reward model's context of 256" in too_long.error
    assert ok.score is not None and ok.error is None


def test_more_than_two_labels_is_refused(tmp_path):
    with pytest.raises(RewardModelError, match="has 3 labels"):
        RewardScorer(build_reward_model(tmp_path / "three", num_labels=3))


def test_missing_model_directory_names_the_config_key(tmp_path):
    with pytest.raises(RewardModelError, match="scorer.reward.model"):
        RewardScorer(tmp_path / "absent")
