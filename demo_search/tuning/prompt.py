"""The prompt a tuning study generates with: rules and demonstrations in prompt order, and the held-out prompts.

Either a search's best demonstration set, read from the store (the chosen set of its last recorded step plus the
fixed demonstrations stored with it, placed as the search placed them), or the demonstrations of an export
document. The held-out prompts are always the search's own, from the store. Every trial's unit is the same prefix
tree: the whole context is the shared prefix (cached once per actor), one empty branch, one leaf per prompt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from db import Store
from demo_search.best_set import best_set
from demo_search.exports.model import ExportDocument
from demo_search.search.turns import first_round
from demo_search.templates import LaidOutBranch, PromptTemplate, StepLayout, build_prefix_tree
from demo_search.tuning.errors import TuningError
from demo_search.types import Demonstration, HeldOutPrompt
from workers.tree import PrefixTree

KEY_LENGTH = 12


@dataclass(frozen=True)
class TuningPrompt:
    """Rules and demonstrations (prompt order) tuned for, the held-out prompts, and where they came from."""

    rules: str
    demonstrations: tuple[Demonstration, ...]
    heldout: tuple[HeldOutPrompt, ...]
    origin: str

    @property
    def demo_ids(self) -> tuple[str, ...]:
        return tuple(demo.id for demo in self.demonstrations)

    @cached_property
    def key(self) -> str:
        """What names the study of this prompt: see :func:`prompt_key`."""
        return prompt_key(self.rules, self.demo_ids)

    @cached_property
    def prompts_by_id(self) -> dict[str, HeldOutPrompt]:
        return {prompt.id: prompt for prompt in self.heldout}

    def tree(self, template: PromptTemplate, tokenizer: Any) -> PrefixTree:
        """Rules and every demonstration as the shared prefix, one empty branch (id ``key``), one leaf per prompt
        that follows no other (a trial generates once, so MT-Bench's turn 2, asked after the model's own turn-1
        answer, is left out)."""
        layout = StepLayout(prefix=self.demonstrations, branches=(LaidOutBranch(self.key, ()),))
        prompts = first_round(self.heldout)
        return build_prefix_tree(template, tokenizer, self.rules, layout, prompts, with_targets=False)


def prompt_key(rules: str, demo_ids: Sequence[str]) -> str:
    """A short hash of the rules and the demonstration ids in prompt order."""
    text = json.dumps([rules, list(demo_ids)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def best_set_prompt(store: Store, name: str) -> TuningPrompt:
    """The best demonstration set of search ``name`` (see :mod:`demo_search.best_set`)."""
    best = best_set(store, name)
    if best is None:
        raise TuningError(
            f"search {name!r} has no recorded step yet, so it has no best demonstration set to tune for",
            [f"run or resume it (`demo-search resume {name}`) until its base set is scored, or pass --from-export"],
        )
    return TuningPrompt(
        rules=best.rules,
        demonstrations=best.demonstrations,
        heldout=heldout_prompts(store, name),
        origin=f"the best set of search {name!r} (step {best.step.step_index}, score {best.step.score:.4f})",
    )


def export_prompt(document: Mapping[str, Any], store: Store, name: str, *, source: str) -> TuningPrompt:
    """The rules and demonstrations of an export document (``ExportError`` if it breaks the export's schema), with
    the held-out prompts of search ``name``; ``source`` names the document in messages."""
    export = ExportDocument.from_payload(document)
    return TuningPrompt(
        rules=export.template.rules,
        demonstrations=export.demonstrations_in_prompt_order(),
        heldout=heldout_prompts(store, name),
        origin=f"the demonstrations of {source} (exported from search {export.search.name!r})",
    )


def heldout_prompts(store: Store, name: str) -> tuple[HeldOutPrompt, ...]:
    """The held-out prompts stored with search ``name``, in file order."""
    prompts = tuple(HeldOutPrompt.from_payload(item.payload) for item in store.heldout_prompts(name))
    if not prompts:
        raise TuningError(f"search {name!r} has no held-out prompts stored", ["tuning scores trials on them"])
    return prompts


__all__ = ["TuningPrompt", "best_set_prompt", "export_prompt", "heldout_prompts", "prompt_key"]
