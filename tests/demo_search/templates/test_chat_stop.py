"""A chat-template prompt's answer ends at the template's end-of-turn token, on both engines.

The model is ``tests.support.chat_model``'s scripted one: after ChatML's generation prompt greedy decoding writes
``OK!``, then ``<|im_end|>`` (a control token that is not the model's EOS), then runs on. The config, the prompt
template and the decoding parameters are built as a search builds them (``template.chat_template`` inline, since
the tokenizer has no chat template). Engines decode without control tokens, so ``<|im_end|>`` only ends the answer
as a stop token id: without it the answer runs on to ``max_tokens``, which the first test shows.

The vLLM case is marked ``vllm`` (its own lane, ``bash .ci/vllm-lane.sh``) and skipped where vLLM is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from demo_search.assembly import build_template, decoding_params
from demo_search.config import load_config
from demo_search.templates import PromptTemplate
from demo_search.types import Demonstration, HeldOutPrompt
from tests.support.chat_model import CHATML, IM_END, REPLY, build_chat_model_dir
from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.spec import EngineSpec
from workers.tree import Branch, Leaf, PrefixTree

MAX_TOKENS = 24
RULES = "Answer briefly."
DEMOS = (Demonstration.single("Ready?", "Yes."), Demonstration.single("Go on", "Done."))
PROMPTS = (HeldOutPrompt.create("Say OK", reference=REPLY), HeldOutPrompt.create("Again", reference=REPLY))
VLLM_OPTIONS = {"block_size": 32, "enforce_eager": True}


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_chat_model_dir(tmp_path_factory.mktemp("chat-model"))


@pytest.fixture(scope="module")
def tokenizer(chat_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(chat_model)


@pytest.fixture(scope="module")
def config(chat_model: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("chat-config")
    (root / "pool.jsonl").write_text('{"prompt": "a", "response": "b"}\n', encoding="utf-8")
    (root / "heldout.jsonl").write_text('{"prompt": "q", "reference": "OK!"}\n', encoding="utf-8")
    document = {
        "name": "chat-stop",
        "model": {"path": str(chat_model)},
        "template": {"kind": "chat", "chat_template": CHATML},
        "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}},
        "scorer": {"kind": "match"},
        "decoding": {"max_tokens": MAX_TOKENS},
    }
    path = root / "search.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(path)


@pytest.fixture(scope="module")
def template(config, tokenizer) -> PromptTemplate:
    return build_template(config, tokenizer)


@pytest.fixture(scope="module")
def tree(template: PromptTemplate, tokenizer) -> PrefixTree:
    """One branch (the two demonstrations), the held-out prompts as leaves; ids of each whole prompt string,
    split at their longest common prefix."""
    prompts = [tokenizer.encode(template.render_prompt(RULES, DEMOS, p), add_special_tokens=False) for p in PROMPTS]
    shared = next(
        (i for i, ids in enumerate(zip(*prompts, strict=False)) if len(set(ids)) > 1), min(map(len, prompts))
    )
    leaves = tuple(Leaf(p.id, tuple(ids[shared:]), ()) for p, ids in zip(PROMPTS, prompts, strict=True))
    return PrefixTree(tuple(prompts[0][:shared]), (Branch("demos", ()),), leaves)


def assert_stops_at_the_end_of_turn(engine: Engine, template: PromptTemplate, config, tree, tokenizer) -> None:
    params = template.generation_params(decoding_params(config))
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    assert params.stop_token_ids == (im_end, tokenizer.eos_token_id) and params.max_tokens == MAX_TOKENS
    generations = engine.generate(tree, params).generations
    assert len(generations) == len(PROMPTS)
    for generation in generations:
        assert generation.finish_reason == "stop"
        assert generation.token_ids[-1] == im_end and im_end not in generation.token_ids[:-1]
        assert len(generation.token_ids) == len(REPLY) + 1 < MAX_TOKENS
        assert generation.text == REPLY  # the answer ends before the end-of-turn
        assert template.extract_answer(generation.text) == REPLY


def test_without_stop_token_ids_the_answer_runs_past_the_end_of_turn(chat_model, template, tree) -> None:
    """What happened before: the end-of-turn text as a stop string never matches decoded text."""
    from workers.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(chat_model, max_context=512)
    params = DecodingParams(max_tokens=MAX_TOKENS, stop=template.stop_strings)
    assert template.stop_strings == (IM_END,)
    for generation in engine.generate(tree, params).generations:
        assert (generation.finish_reason, len(generation.token_ids)) == ("length", MAX_TOKENS)
        assert generation.text.startswith(REPLY + "\n" + REPLY)


def test_the_transformers_engine_stops_at_the_end_of_turn(chat_model, template, config, tree, tokenizer) -> None:
    from workers.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(chat_model, max_context=512)
    assert_stops_at_the_end_of_turn(engine, template, config, tree, tokenizer)


@pytest.mark.vllm
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed: bash .ci/vllm-lane.sh")
def test_the_vllm_engine_stops_at_the_end_of_turn(chat_model, template, config, tree, tokenizer) -> None:
    from workers.engines.vllm_engine import VLLMEngine

    spec = EngineSpec(kind="vllm", model=str(chat_model), max_context=512, options=dict(VLLM_OPTIONS))
    engine = VLLMEngine.from_spec(spec)
    try:
        assert_stops_at_the_end_of_turn(engine, template, config, tree, tokenizer)
    finally:
        engine.close()
