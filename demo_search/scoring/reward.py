"""``reward``: generated answers scored by a sequence-classification reward model (transformers, CPU by default).

The model's input is the conversation (the prompt's earlier turns, its query, and the generated answer): with the
reward tokenizer's chat template when it has one, else the turns' texts joined by blank lines
(``"query\\n\\nanswer"``). The score is

* the model's single logit, for a model with one label (the usual reward-model head), or
* the log-probability of label 1 (the positive class), for a model with two labels;

a model with more labels is refused. Inputs longer than the model's context are failed evaluations (never
truncated). Batches are right-padded, so every score equals the one its input gets alone (up to float rounding).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from demo_search.errors import DemoSearchError
from demo_search.scoring.base import Evaluation, Scorer
from demo_search.types import HeldOutPrompt
from workers.tree import LeafGeneration

if TYPE_CHECKING:
    from demo_search.config import RewardConfig

logger = logging.getLogger(__name__)

_UNBOUNDED_LENGTH = 10**9  # tokenizers without a known limit report a huge model_max_length


class RewardModelError(DemoSearchError):
    """The reward model cannot be loaded or used (missing files, unsupported head, no padding token)."""


def reward_input(tokenizer: Any, prompt: HeldOutPrompt, answer: str) -> tuple[str, bool]:
    """The text the reward model reads for ``answer`` to ``prompt``, and whether to add special tokens (BOS).

    With a chat template: user/assistant messages for every turn, the answer as the last assistant message
    (the template's special tokens are in the text, so none are added). Without: the texts joined by blank lines.
    """
    texts = [text for turn in prompt.history for text in (turn.query, turn.answer)] + [prompt.query, answer]
    if getattr(tokenizer, "chat_template", None):
        roles = ("user", "assistant")
        messages = [{"role": roles[i % 2], "content": text} for i, text in enumerate(texts)]
        return tokenizer.apply_chat_template(messages, tokenize=False), False
    return "\n\n".join(texts), True


class RewardScorer(Scorer):
    """Scores generated answers with the reward model in directory ``model`` (higher is better).

    ``batch_size`` inputs run at once (sorted by length to limit padding); ``device`` and ``dtype`` say where and
    how the model runs. Raises ``RewardModelError`` when the model cannot be loaded or has more than two labels.
    """

    engine_call = "generate"

    def __init__(
        self, model: str | os.PathLike[str], *, batch_size: int = 8, device: str = "cpu", dtype: str = "float32"
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype) or not torch_dtype.is_floating_point:
            raise RewardModelError(f"reward model dtype must name a torch floating point type, got {dtype!r}")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model)
            loaded = AutoModelForSequenceClassification.from_pretrained(model, dtype=torch_dtype)
        except (OSError, ValueError) as exc:
            raise RewardModelError(
                f"could not load a sequence-classification reward model from {model}",
                [f"scorer.reward.model: {type(exc).__name__}: {exc}"],
            ) from exc
        self._model = loaded.to(device).eval()
        self._device = torch.device(device)
        self._batch_size = batch_size
        self._num_labels = int(self._model.config.num_labels)
        if self._num_labels not in (1, 2):
            raise RewardModelError(
                f"the reward model {model} has {self._num_labels} labels",
                ["scorer.reward.model: expected a reward head with 1 label (the reward) or 2 (label 1 = preferred)"],
            )
        self._use_pad_token(model)
        self._max_length = self._context_length()
        logger.info(
            "loaded reward model %s (%d label(s), context %d) on %s", model, self._num_labels, self._max_length, device
        )

    @classmethod
    def from_config(cls, config: RewardConfig) -> RewardScorer:
        """The scorer that ``scorer.reward`` describes."""
        from demo_search.config.paths import model_directory

        return cls(model_directory(config.model))

    @property
    def tokenizer(self) -> Any:
        """The reward model's tokenizer (right padding)."""
        return self._tokenizer

    @property
    def max_length(self) -> int:
        """The longest input, in tokens, the reward model reads."""
        return self._max_length

    def evaluate(self, items: Sequence[LeafGeneration], prompts: Mapping[str, HeldOutPrompt]) -> list[Evaluation]:
        encoded = [self._encode(prompts[item.leaf_id], item.text) for item in items]
        fitting = [i for i, ids in enumerate(encoded) if len(ids) <= self._max_length]
        scores = dict(zip(fitting, self.score_ids([encoded[i] for i in fitting])))
        evaluations = []
        for i, item in enumerate(items):
            if i in scores:
                detail = {"n_tokens": len(encoded[i]), "finish_reason": item.finish_reason}
                evaluations.append(Evaluation(item.leaf_id, scores[i], output=item.text, detail=detail))
            else:
                error = (
                    f"reward input of {len(encoded[i])} tokens exceeds the reward model's context of {self._max_length}"
                )
                evaluations.append(Evaluation(item.leaf_id, None, output=item.text, error=error))
        return evaluations

    def score_ids(self, inputs: Sequence[Sequence[int]]) -> list[float]:
        """The reward of each token-id sequence, in input order, batched by length."""
        import torch

        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        scores: dict[int, float] = {}
        with torch.inference_mode():
            for start in range(0, len(order), self._batch_size):
                chunk = order[start : start + self._batch_size]
                batch = self._tokenizer.pad(
                    {"input_ids": [list(inputs[i]) for i in chunk]}, padding=True, return_tensors="pt"
                ).to(self._device)
                logits = self._model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                values = logits[:, 0] if self._num_labels == 1 else logits.float().log_softmax(-1)[:, 1]
                scores.update(zip(chunk, values.float().tolist()))
        return [scores[i] for i in range(len(inputs))]

    def _encode(self, prompt: HeldOutPrompt, answer: str) -> list[int]:
        text, add_special_tokens = reward_input(self._tokenizer, prompt, answer)
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens)

    def _use_pad_token(self, model: str | os.PathLike[str]) -> None:
        """Pad on the right with one id that the model's head also knows as padding (its config's, else the
        tokenizer's pad, else its EOS), so the head reads each input's last real token.

        (The head takes the rightmost token that is not the pad id; when the pad id is the EOS id, an input that
        ends with EOS is read at the token before it, batched or not.)"""
        config, tokenizer = self._model.config, self._tokenizer
        candidates = (config.pad_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id)
        pad_id = next((i for i in candidates if i is not None), None)
        if pad_id is None:
            raise RewardModelError(
                f"the reward model {model} defines no pad or EOS token id, so its inputs cannot be batched",
                ["set pad_token_id in its config.json"],
            )
        config.pad_token_id = pad_id
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad_id)
        tokenizer.padding_side = "right"

    def _context_length(self) -> int:
        limits = [getattr(self._model.config, "max_position_embeddings", None), self._tokenizer.model_max_length]
        known = [int(x) for x in limits if isinstance(x, int) and 0 < x < _UNBOUNDED_LENGTH]
        if not known:
            raise RewardModelError(
                "the reward model states no context length (max_position_embeddings or tokenizer model_max_length)"
            )
        return min(known)


__all__ = ["RewardModelError", "RewardScorer", "reward_input"]
