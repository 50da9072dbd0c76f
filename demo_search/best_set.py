"""The best demonstration set of a stored search, rebuilt from the store alone.

The best set is the chosen set of the search's last recorded step (in beam search it may extend a beam other
than the previous step's choice, so its own demonstration ids are read, not the chain of chosen items), plus the
fixed demonstrations stored with the search, placed where the search placed them. Export and tuning both start
from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import cast

from db import Step, Store
from demo_search.templates import InsertionPosition, ordered_demonstrations
from demo_search.types import Demonstration


@dataclass(frozen=True)
class BestSet:
    """The best set of search ``name``: ``selected`` in the order the steps added them, ``fixed`` as stored."""

    name: str
    rules: str
    position: InsertionPosition
    selected: tuple[Demonstration, ...]
    fixed: tuple[Demonstration, ...]
    step: Step
    """The last recorded step, whose chosen set this is."""

    @cached_property
    def demonstrations(self) -> tuple[Demonstration, ...]:
        """Every demonstration of the prompt, in prompt order."""
        return ordered_demonstrations(self.selected, (), self.fixed, self.position)

    @property
    def demo_ids(self) -> tuple[str, ...]:
        """The ids of :attr:`demonstrations`, in prompt order."""
        return tuple(demo.id for demo in self.demonstrations)

    def step_of(self, demo_id: str) -> int | None:
        """The step that added ``demo_id`` (step k adds the k-th selected demonstration); ``None`` for a fixed one."""
        steps = {demo.id: index for index, demo in enumerate(self.selected, start=1)}
        return steps.get(demo_id)


def best_set(store: Store, name: str) -> BestSet | None:
    """The best set of search ``name``; ``None`` while no step is recorded (not even the base set's).

    Raises the store's ``SearchNotFoundError`` when there is no such search.
    """
    search = store.get_search(name)
    steps = store.steps(name)
    if not steps:
        return None
    last = steps[-1]
    chosen = next(c for c in store.candidates_of_step(name, last.step_index) if c.set_key == last.set_key)
    pool = {item.item_id: Demonstration.from_payload(item.payload) for item in store.pool_items(name)}
    return BestSet(
        name=name,
        rules=search.rules,
        position=cast(InsertionPosition, search.config["template"]["position"]),
        selected=tuple(pool[demo_id] for demo_id in chosen.demo_ids),
        fixed=tuple(Demonstration.from_payload(payload) for payload in search.fixed_demos),
        step=last,
    )


__all__ = ["BestSet", "best_set"]
