"""Train the bundled tiny model (workers/tiny/model): a small byte-level Llama that learns rules in context.

Every training document is the URIAL template (a short rules preamble, then ``# Query:`` / ``# Answer:`` blocks)
where all Q/A pairs follow one hidden rule of ``demo_search.synthetic.RULES``, drawn per document. The model sees
no rule name, so to answer the later pairs it must infer the rule from the earlier ones. The loss is on the answer
blocks only (the answer and its closing fence); queries are random, so predicting them teaches nothing.

All settings are the argparse defaults below; they, the seed and the final evaluation table are saved into the
model directory (``training_args.json``, ``evaluation.json``). Reproduce the shipped model with::

    .venv/bin/python scripts/train_tiny_model.py

(2 CPU threads, about 25 minutes), then ``scripts/eval_tiny_model.py`` for the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

import torch

from demo_search.synthetic import MAX_QUERY_LENGTH, MIN_QUERY_LENGTH, RULES, random_query
from demo_search.templates import UrialTemplate
from demo_search.templates.urial import BLOCK_SEPARATOR
from demo_search.types import Demonstration, HeldOutPrompt
from eval_tiny_model import DEFAULT_RULES_FILE, evaluate, format_table
from workers.tiny import MODEL_DIR, build_byte_tokenizer, tiny_llama_config

logger = logging.getLogger("train_tiny_model")

IGNORE_INDEX = -100
REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = UrialTemplate()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="model directory to write")
    parser.add_argument("--rules-file", type=Path, default=DEFAULT_RULES_FILE, help="rules preamble of every doc")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-from", type=Path, default=None,
                        help="continue from this saved model directory instead of a random initialisation "
                             "(its architecture wins over --layers/--hidden/...)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; on a shared, oversubscribed CPU one thread ran ~6x faster than two")
    # model
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--intermediate", type=int, default=384)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=4)
    # data
    parser.add_argument("--seq-len", type=int, default=320, help="tokens per document: rules + as many pairs as fit")
    parser.add_argument("--loss-on", choices=("answers", "all"), default="answers")
    parser.add_argument("--min-query-length", type=int, default=MIN_QUERY_LENGTH,
                        help="shortest training query (shorter queries give more, simpler pairs per document)")
    parser.add_argument("--rule-weights", type=_rule_weights, default=None,
                        help="how often each rule's documents are drawn, e.g. copy=3,reverse=3,shift=3 (rules not "
                             "named weigh 1; default: uniform)")
    # optimisation
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--max-minutes", type=float, default=25.0,
                        help="wall-clock budget: the schedule decays by max(step / steps, elapsed / budget), and "
                             "training stops at whichever ends first (the steps done are saved)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--min-lr-ratio", type=float, default=0.1, help="cosine decay ends at lr * this")
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                        help="torch.compile the training forward/backward (~2.4x faster here after ~2 min)")
    parser.add_argument("--bf16-autocast", action=argparse.BooleanOptionalAction, default=True,
                        help="bf16 matmuls while training (weights and saved model stay fp32)")
    # monitoring and final evaluation
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=400)
    parser.add_argument("--eval-queries", type=int, default=100, help="fresh queries per rule and condition")
    parser.add_argument("--eval-seed", type=int, default=1234)
    parser.add_argument("--save-every", type=int, default=0,
                        help="also save the model to --out every this many steps (0: only at the end)")
    return parser.parse_args(argv)


def _rule_weights(text: str) -> dict[str, float]:
    weights = dict.fromkeys(RULES, 1.0)
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in RULES:
            raise argparse.ArgumentTypeError(f"expected RULE=WEIGHT with RULE in {', '.join(RULES)}, got {item!r}")
        weights[name.strip()] = float(value)
    return weights


def encode_pair(tokenizer, rules_text: str, demo: Demonstration, loss_on: str) -> tuple[list[int], list[int]]:
    """Ids and labels of one block as ``render_context`` writes it: the query header (no loss), the answer with its
    closing fence (loss) and the blank line before the next block (no loss); ``loss_on="all"`` scores all."""
    prompt = HeldOutPrompt.create(demo.query, reference=demo.answer)
    ids: list[int] = []
    labels: list[int] = []
    for text, scored in (
        (TEMPLATE.render_leaf(rules_text, (), prompt), False),
        (TEMPLATE.render_target(rules_text, (), prompt), True),
        (BLOCK_SEPARATOR, False),
    ):
        segment = tokenizer.encode(text, add_special_tokens=False)
        ids += segment
        labels += segment if scored or loss_on == "all" else [IGNORE_INDEX] * len(segment)
    return ids, labels


def build_document(
    tokenizer, rules_text: str, rule: str, seq_len: int, rng: random.Random, loss_on: str,
    min_query_length: int = MIN_QUERY_LENGTH,
):
    """Ids, labels and demonstrations of one document: the rules, then as many Q/A pairs of ``rule`` as fit in
    ``seq_len`` tokens.

    The document is what the search feeds the model, ``render_context(rules, demos)`` of the URIAL template,
    tokenized segment by segment; labels are ``IGNORE_INDEX`` where there is no loss.
    """
    ids = tokenizer.encode(TEMPLATE.render_context(rules_text, ()), add_special_tokens=False)
    labels = list(ids) if loss_on == "all" else [IGNORE_INDEX] * len(ids)
    demos: list[Demonstration] = []
    while True:
        query = random_query(rng, min_query_length, MAX_QUERY_LENGTH)
        if any(query == d.query for d in demos):
            continue
        demo = Demonstration.single(query, RULES[rule](query))
        pair_ids, pair_labels = encode_pair(tokenizer, rules_text, demo, loss_on)
        if len(ids) + len(pair_ids) > seq_len:
            return ids, labels, demos
        demos.append(demo)
        ids += pair_ids
        labels += pair_labels


def check_segmentation(tokenizer, rules_text: str, seq_len: int) -> None:
    """Fail fast unless a training document is token for token the template's context for its demonstrations."""
    ids, _, demos = build_document(tokenizer, rules_text, "reverse", seq_len, random.Random(0), "all")
    expected = tokenizer.encode(TEMPLATE.render_context(rules_text, demos), add_special_tokens=False)
    if not demos or ids != expected:
        raise RuntimeError("training documents differ from UrialTemplate.render_context; fix build_document")


def make_batch(tokenizer, rules_text: str, args: argparse.Namespace, rng: random.Random):
    """``batch_size`` documents, each of a rule drawn by ``--rule-weights``, right-padded to exactly ``seq_len``
    tokens (one shape for every step, so the compiled model never recompiles)."""
    rules = list(RULES)
    weights = [args.rule_weights[rule] for rule in rules] if args.rule_weights else None
    input_ids = torch.full((args.batch_size, args.seq_len), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((args.batch_size, args.seq_len), IGNORE_INDEX, dtype=torch.long)
    for row in range(args.batch_size):
        ids, labs, _ = build_document(
            tokenizer, rules_text, rng.choices(rules, weights)[0], args.seq_len, rng, args.loss_on,
            args.min_query_length,
        )
        # Right padding needs no attention mask: causal attention never lets a real token see a later pad.
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
    return input_ids, labels


def learning_rate(step: int, progress: float, args: argparse.Namespace) -> float:
    """Linear warm-up over the first steps, then cosine decay to ``lr * min_lr_ratio`` as progress reaches 1."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    progress = min(1.0, progress)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args: argparse.Namespace) -> None:
    from transformers import LlamaForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    rules_text = args.rules_file.read_text()
    tokenizer = build_byte_tokenizer()
    check_segmentation(tokenizer, rules_text, args.seq_len)

    config = tiny_llama_config(
        len(tokenizer),
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
    )
    if args.init_from is not None:
        model = LlamaForCausalLM.from_pretrained(args.init_from, dtype=torch.float32)
        config = model.config
        logger.info("continuing from %s", args.init_from)
    else:
        model = LlamaForCausalLM(config).to(torch.float32)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("model: %d parameters, %s", n_params, config.to_diff_dict())

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), fused=True,
    )

    forward = torch.compile(model) if args.compile else model
    start = time.monotonic()
    budget = args.max_minutes * 60
    running_loss = 0.0
    steps_done = 0
    while steps_done < args.steps and time.monotonic() - start < budget:
        step = steps_done
        progress = max(step / args.steps, (time.monotonic() - start) / budget)
        lr = learning_rate(step, progress, args)
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr
        input_ids, labels = make_batch(tokenizer, rules_text, args, rng)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16_autocast):
            loss = forward(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        steps_done += 1
        running_loss += loss.item()
        if steps_done % args.log_every == 0:
            logger.info("step %d loss %.4f lr %.2e progress %.2f %.0fs", steps_done, running_loss / args.log_every,
                        lr, progress, time.monotonic() - start)
            running_loss = 0.0
        if args.eval_every and steps_done % args.eval_every == 0:
            model.eval()
            table = evaluate(model, tokenizer, rules_text, list(RULES), 10, 4, args.eval_seed + steps_done)
            logger.info("step %d quick eval (10 queries per cell):\n%s", steps_done, format_table(table))
        if args.save_every and steps_done % args.save_every == 0:
            save(model, tokenizer, args, steps_done, time.monotonic() - start)
    train_seconds = time.monotonic() - start
    save(model, tokenizer, args, steps_done, train_seconds)
    model.eval()
    table = evaluate(model, tokenizer, rules_text, list(RULES), args.eval_queries, 4, args.eval_seed)
    (args.out / "evaluation.json").write_text(
        json.dumps({"queries_per_cell": args.eval_queries, "demos": 4, "seed": args.eval_seed, "table": table},
                   indent=2) + "\n"
    )
    logger.info("final evaluation (%d queries per cell, K=4):\n%s", args.eval_queries, format_table(table))


def save(model, tokenizer, args: argparse.Namespace, steps_done: int, train_seconds: float) -> None:
    """Write the model, its tokenizer and ``training_args.json`` (settings, steps done, the chain of runs) to
    ``--out``."""
    model.generation_config.pad_token_id = model.config.pad_token_id
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    settings = {key: _portable(value) for key, value in vars(args).items()}
    settings.update(
        parameters=model.num_parameters(), steps_done=steps_done, train_seconds=round(train_seconds), rules=list(RULES)
    )
    if args.init_from is not None and (args.init_from / "training_args.json").is_file():
        # Keep the whole chain of runs that made this model.
        settings["init_from_training_args"] = json.loads((args.init_from / "training_args.json").read_text())
    (args.out / "training_args.json").write_text(json.dumps(settings, indent=2) + "\n")
    logger.info("saved %s after %d steps, %.0fs of training", args.out, steps_done, train_seconds)


def _portable(value):
    """Paths inside the repository as repository-relative strings, so the saved settings hold no local paths."""
    if not isinstance(value, Path):
        return value
    value = value.resolve()
    return str(value.relative_to(REPO_ROOT)) if value.is_relative_to(REPO_ROOT) else str(value)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(parse_args())


if __name__ == "__main__":
    main()
