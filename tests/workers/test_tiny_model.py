"""The shipped tiny model: it loads, it is small, and in context it follows the rule of its demonstrations."""

from __future__ import annotations

import random

import pytest
import torch

from demo_search.synthetic import MAX_QUERY_LENGTH, RULES, make_demonstrations, make_heldout
from demo_search.templates import UrialTemplate
from workers.errors import EngineError
from workers.tiny import MODEL_DIR, load_tiny

RULES_FILE = MODEL_DIR.parents[2] / "examples" / "tiny_rules.txt"
QUERIES_PER_RULE = 12
CLOSING_FENCE = "\n```"
TEMPLATE = UrialTemplate()


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    return load_tiny()


def greedy_answers(model, tokenizer, prompts: list[str]) -> list[str]:
    batch = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
    with torch.no_grad():
        output = model.generate(
            **batch, do_sample=False, max_new_tokens=2 * MAX_QUERY_LENGTH + len(CLOSING_FENCE),
            pad_token_id=tokenizer.pad_token_id,
        )
    texts = tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return [text.split(CLOSING_FENCE, 1)[0] for text in texts]


def exact_match_by_rule(tiny, demo_rule_for) -> dict[str, float]:
    """Per target rule, the share of fresh queries answered by that rule when the 4 demonstrations follow
    ``demo_rule_for(rule)``."""
    model, tokenizer = tiny
    rules_text = RULES_FILE.read_text()
    rng = random.Random(7)
    prompts, cases = [], []
    for rule in RULES:
        for held_out in make_heldout(rule, QUERIES_PER_RULE, rng):
            demos = make_demonstrations(demo_rule_for(rule), 4, rng, exclude=frozenset({held_out.query}))
            prompts.append(
                TEMPLATE.render_context(rules_text, demos) + TEMPLATE.render_leaf(rules_text, demos, held_out)
            )
            cases.append((rule, held_out.reference))
    answers = greedy_answers(model, tokenizer, prompts)
    hits: dict[str, list[bool]] = {rule: [] for rule in RULES}
    for (rule, reference), answer in zip(cases, answers, strict=True):
        hits[rule].append(answer == reference)
    return {rule: sum(values) / len(values) for rule, values in hits.items()}


def test_model_directory_is_small_and_complete():
    files = {path.name: path.stat().st_size for path in MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "training_args.json"} <= files.keys()
    assert sum(files.values()) < 5 * 1024 * 1024


def test_loads_in_fp32_with_half_a_million_to_two_million_parameters(tiny):
    model, tokenizer = tiny
    assert 500_000 <= sum(p.numel() for p in model.parameters()) <= 2_000_000
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert len(tokenizer) == model.config.vocab_size == 259


def test_right_rule_demonstrations_are_followed_and_wrong_ones_mislead(tiny):
    # The targets of the model (right >= 0.9, wrong <= 0.1 on average); the table of workers/tiny/README.md
    # (100 queries per cell) has right 0.99-1.00 and wrong 0.00-0.01 for every rule.
    right = exact_match_by_rule(tiny, lambda rule: rule)
    wrong = exact_match_by_rule(tiny, lambda rule: next(r for r in RULES if r != rule))
    mean_right = sum(right.values()) / len(right)
    mean_wrong = sum(wrong.values()) / len(wrong)
    assert min(right.values()) >= 0.75, f"right-rule exact match by rule: {right}"
    assert mean_right >= 0.9, f"right-rule exact match by rule: {right}"
    assert mean_wrong <= 0.1, f"wrong-rule exact match by rule: {wrong}"


def test_missing_model_directory_names_the_training_script(tmp_path):
    with pytest.raises(EngineError, match="scripts/train_tiny_model.py"):
        load_tiny(model_dir=tmp_path / "absent")
