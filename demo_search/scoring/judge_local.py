"""A judge model run in this process through the project's own engines (``workers.engines.create_engine``).

Each judge conversation is rendered with the judge tokenizer's chat template when it has one (system and user
messages, then the generation prompt), else as plain text (:data:`PLAIN_FORMAT`). All requests of a call go to
the engine as one prefix tree: the token ids the rendered prompts share at their start (the MT-Bench
instruction) are the tree's prefix, computed once, and each request's remaining ids are a leaf. Each prompt is
tokenized whole, so the ids an engine sees are exactly those of the rendered text. Decoding is greedy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from demo_search.scoring.judge_backend import JudgeBackend, JudgeError, JudgeReply
from demo_search.scoring.judge_prompt import JudgeRequest
from workers.decoding import DecodingParams
from workers.engine import Engine
from workers.errors import WorkerError
from workers.spec import EngineKind, EngineSpec
from workers.tree import Branch, Leaf, PrefixTree

logger = logging.getLogger(__name__)

PLAIN_FORMAT = "{system}\n\n### User:\n{user}\n\n### Assistant:\n"
"""How a conversation is written for a judge whose tokenizer has no chat template."""

_BRANCH_ID = "judge"


def render_judge_prompt(tokenizer: Any, request: JudgeRequest) -> tuple[str, bool]:
    """The judge prompt text, and whether the tokenizer should add its special tokens (BOS) when encoding it.

    With a chat template the rendered text already holds the template's special tokens, so none are added.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(request.messages(), tokenize=False, add_generation_prompt=True)
        return text, False
    return PLAIN_FORMAT.format(system=request.system, user=request.user), True


def shared_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading ids all ``sequences`` share, leaving every sequence at least one id of its own."""
    shortest = min(len(ids) for ids in sequences)
    first = sequences[0]
    length = 0
    while length < shortest - 1 and all(ids[length] == first[length] for ids in sequences):
        length += 1
    return length


class LocalJudgeBackend(JudgeBackend):
    """Judges with ``engine`` (any ``workers`` engine) and the judge model's ``tokenizer``.

    ``max_tokens`` bounds each judgement. A request whose prompt plus ``max_tokens`` does not fit the engine's
    context fails alone (its reply carries the error); an engine failure fails the whole call with
    ``JudgeError``. ``close()`` closes the engine when the backend built it (``from_model``).
    """

    def __init__(self, engine: Engine, tokenizer: Any, *, max_tokens: int = 2048, name: str = "local judge") -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self._engine = engine
        self._tokenizer = tokenizer
        self._params = DecodingParams(temperature=0.0, max_tokens=max_tokens)
        self._name = name
        self._owns_engine = False

    @classmethod
    def from_model(
        cls,
        model: str | os.PathLike[str],
        *,
        max_tokens: int = 2048,
        kind: EngineKind = "transformers",
        dtype: str = "float32",
        device: str = "cpu",
        batch_size: int = 8,
        max_context: int | None = None,
    ) -> LocalJudgeBackend:
        """Load the judge model directory ``model`` (its tokenizer, and an engine of ``kind`` on it)."""
        from transformers import AutoTokenizer

        from workers.engines import create_engine

        spec = EngineSpec(
            kind=kind, model=str(model), dtype=dtype, device=device, max_context=max_context, batch_size=batch_size
        )
        try:
            tokenizer = AutoTokenizer.from_pretrained(spec.model)
            engine = create_engine(spec)
        except (OSError, ValueError, WorkerError) as exc:
            raise JudgeError(
                f"could not load the judge model {spec.model}",
                [f"scorer.judge.model: {type(exc).__name__}: {exc}"],
            ) from exc
        backend = cls(engine, tokenizer, max_tokens=max_tokens, name=f"local {kind} judge {spec.model}")
        backend._owns_engine = True
        return backend

    @property
    def name(self) -> str:
        return self._name

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        too_long: dict[str, str] = {}
        fitting: dict[str, tuple[int, ...]] = {}
        limit = self._engine.max_context
        for request in requests:
            ids = self._encode(request)
            need = len(ids) + self._params.max_tokens
            if need > limit:
                too_long[request.request_id] = (
                    f"judge prompt of {len(ids)} tokens + max_tokens {self._params.max_tokens} exceeds the judge's "
                    f"context of {limit} tokens"
                )
            else:
                fitting[request.request_id] = ids
        answers = self._generate(fitting) if fitting else {}
        return [
            JudgeReply(r.request_id, answers[r.request_id])
            if r.request_id in answers
            else JudgeReply(r.request_id, None, error=too_long[r.request_id])
            for r in requests
        ]

    def close(self) -> None:
        if self._owns_engine:
            self._engine.close()

    def _encode(self, request: JudgeRequest) -> tuple[int, ...]:
        try:
            text, add_special_tokens = render_judge_prompt(self._tokenizer, request)
        except Exception as exc:  # a Jinja template can raise anything (e.g. "system role not supported")
            raise JudgeError(
                f"the chat template of {self._name} cannot render a judge conversation",
                [f"{type(exc).__name__}: {exc}"],
            ) from exc
        return tuple(self._tokenizer.encode(text, add_special_tokens=add_special_tokens))

    def _generate(self, prompts: dict[str, tuple[int, ...]]) -> dict[str, str]:
        """Greedy answers for ``prompts`` (request id -> ids), as one prefix tree."""
        shared = shared_prefix_length(list(prompts.values()))
        if shared == 0:  # no common start (or one-token prompts): each prompt carries its own prefix
            trees = [_tree({rid: ids}, len(ids) - 1) for rid, ids in prompts.items()]
        else:
            trees = [_tree(prompts, shared)]
        answers: dict[str, str] = {}
        for tree in trees:
            try:
                result = self._engine.generate(tree, self._params)
            except WorkerError as exc:
                raise JudgeError(
                    f"{self._name} failed on {len(tree.leaves)} judge request(s)", [f"{type(exc).__name__}: {exc}"]
                ) from exc
            answers.update((g.leaf_id, g.text) for g in result.generations)
            logger.debug("%s judged %d request(s): %s", self._name, len(tree.leaves), result.stats)
        return answers


def _tree(prompts: dict[str, tuple[int, ...]], shared: int) -> PrefixTree:
    first = next(iter(prompts.values()))
    leaves = tuple(Leaf(rid, ids[shared:]) for rid, ids in prompts.items())
    return PrefixTree(prefix_ids=first[:shared], branches=(Branch(_BRANCH_ID, ()),), leaves=leaves)


__all__ = ["PLAIN_FORMAT", "LocalJudgeBackend", "render_judge_prompt", "shared_prefix_length"]
