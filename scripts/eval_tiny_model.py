"""Measure how well a tiny model learns the planted rules in context (the table of workers/tiny/README.md).

For every rule ``r`` and fresh random queries ``q``, the prompt is the rules preamble, K demonstrations and
``query_header(q)``; the model decodes greedily until the closing fence and the answer is an exact match when it
equals ``r(q)``. Three kinds of demonstrations:

* ``right``: K demonstrations of ``r``;
* ``wrong``: K demonstrations of one other rule (drawn per query); the target stays ``r(q)``, so a model that
  follows its demonstrations scores near 0;
* ``mixed``: K/2 of ``r`` and K/2 of one other rule, shuffled.

Usage::

    .venv/bin/python scripts/eval_tiny_model.py [--model-dir workers/tiny/model] [--queries 100] [--seed 1234]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from demo_search.synthetic import MAX_QUERY_LENGTH, RULES, make_demonstrations, make_heldout
from demo_search.templates import UrialTemplate
from demo_search.types import Demonstration, HeldOutPrompt

logger = logging.getLogger("eval_tiny_model")

CLOSING_FENCE = "\n```"
TEMPLATE = UrialTemplate()
CONDITIONS = ("right", "wrong", "mixed")
DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "examples" / "tiny_rules.txt"


@dataclass(frozen=True)
class EvalCase:
    """One prompt to answer: the target rule, the demonstration condition, the demonstrations and the query."""

    rule: str
    condition: str
    demonstrations: tuple[Demonstration, ...]
    prompt: HeldOutPrompt


def make_cases(rules: list[str], n_queries: int, n_demos: int, rng: random.Random) -> list[EvalCase]:
    """``n_queries`` cases per rule and condition; demonstrations never repeat their held-out query."""
    cases = []
    for rule in rules:
        others = [other for other in rules if other != rule]
        for condition in CONDITIONS:
            for prompt in make_heldout(rule, n_queries, rng):
                exclude = frozenset({prompt.query})
                other = rng.choice(others)
                if condition == "right":
                    demos = make_demonstrations(rule, n_demos, rng, exclude)
                elif condition == "wrong":
                    demos = make_demonstrations(other, n_demos, rng, exclude)
                else:
                    n_right = n_demos // 2
                    demos = make_demonstrations(rule, n_right, rng, exclude)
                    demos += make_demonstrations(other, n_demos - n_right, rng, exclude)
                    rng.shuffle(demos)
                cases.append(EvalCase(rule, condition, tuple(demos), prompt))
    return cases


def prompt_text(rules_text: str, case: EvalCase) -> str:
    """The prompt of a case as the search renders it: rules and demonstrations, then the query's leaf."""
    return TEMPLATE.render_context(rules_text, case.demonstrations) + TEMPLATE.render_leaf(
        rules_text, case.demonstrations, case.prompt
    )


@torch.no_grad()
def greedy_answers(model, tokenizer, prompts: list[str], batch_size: int = 64) -> list[str]:
    """Greedy answers to ``prompts``, each cut at the closing fence of the answer block."""
    answers = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(
            prompts[start : start + batch_size], return_tensors="pt", padding=True, padding_side="left"
        ).to(model.device)
        output = model.generate(
            **batch,
            do_sample=False,
            max_new_tokens=2 * MAX_QUERY_LENGTH + len(CLOSING_FENCE),
            pad_token_id=tokenizer.pad_token_id,
        )
        for row in output[:, batch["input_ids"].shape[1] :]:
            text = tokenizer.decode(row, skip_special_tokens=True)
            answers.append(text.split(CLOSING_FENCE, 1)[0])
    return answers


def evaluate(model, tokenizer, rules_text: str, rules: list[str], n_queries: int, n_demos: int, seed: int):
    """Exact-match rates as ``{rule: {condition: rate}}`` plus a ``"mean"`` row, on fresh seeded queries."""
    cases = make_cases(rules, n_queries, n_demos, random.Random(seed))
    answers = greedy_answers(model, tokenizer, [prompt_text(rules_text, case) for case in cases])
    hits: dict[str, dict[str, list[bool]]] = {rule: {c: [] for c in CONDITIONS} for rule in rules}
    for case, answer in zip(cases, answers, strict=True):
        hits[case.rule][case.condition].append(answer == case.prompt.reference)
    table = {rule: {c: sum(v) / len(v) for c, v in row.items()} for rule, row in hits.items()}
    table["mean"] = {c: sum(table[rule][c] for rule in rules) / len(rules) for c in CONDITIONS}
    return table


def format_table(table: dict[str, dict[str, float]]) -> str:
    """The table as Markdown: one row per rule, one column per condition."""
    lines = ["| rule | right | wrong | mixed |", "|---|---|---|---|"]
    for rule, row in table.items():
        name = f"**{rule}**" if rule == "mean" else rule
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.2f}" for c in CONDITIONS) + " |")
    return "\n".join(lines)


def main() -> None:
    from transformers import AutoTokenizer, LlamaForCausalLM

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None, help="default: workers.tiny.MODEL_DIR")
    parser.add_argument("--rules-file", type=Path, default=DEFAULT_RULES_FILE)
    parser.add_argument("--queries", type=int, default=100, help="fresh queries per rule and condition")
    parser.add_argument("--demos", type=int, default=4, help="demonstrations per prompt (K)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the table to this JSON file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    if args.model_dir is None:
        from workers.tiny import MODEL_DIR

        args.model_dir = MODEL_DIR
    model = LlamaForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    table = evaluate(
        model, tokenizer, args.rules_file.read_text(), list(RULES), args.queries, args.demos, args.seed
    )
    logger.info("exact match, %d queries per cell, K=%d, seed %d:\n%s", args.queries, args.demos, args.seed,
                format_table(table))
    if args.json is not None:
        args.json.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
