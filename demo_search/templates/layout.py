"""Where demonstrations go in a search step's prompts: the shared prefix or a branch.

A branch tries ``added`` demonstration(s) (usually one candidate) on top of the demonstrations it has already
``selected`` (greedy search: the same for every branch; beam search: its beam's). Fixed demonstrations (e.g.
URIAL's three) keep their place relative to them:

* ``before_fixed`` (the paper): rules, selected..., added..., fixed...
* ``after_fixed``:              rules, fixed..., selected..., added...

The shared prefix holds the demonstrations every branch has in the same places: the longest common run of the
branches' ``selected`` lists (all of it in greedy search), preceded by the fixed ones when they come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from demo_search.types import Demonstration

InsertionPosition = Literal["before_fixed", "after_fixed"]
INSERTION_POSITIONS: tuple[str, ...] = get_args(InsertionPosition)


@dataclass(frozen=True)
class BranchPlan:
    """One branch of a step: ``added`` tried on top of ``selected`` (both in prompt order)."""

    branch_id: str
    selected: tuple[Demonstration, ...]
    added: tuple[Demonstration, ...]


@dataclass(frozen=True)
class LaidOutBranch:
    """A branch's demonstrations after the shared prefix, in prompt order."""

    branch_id: str
    demonstrations: tuple[Demonstration, ...]


@dataclass(frozen=True)
class StepLayout:
    """The demonstrations of a step's shared prefix and of each branch; ``prefix + branch`` is a full prompt's list."""

    prefix: tuple[Demonstration, ...]
    branches: tuple[LaidOutBranch, ...]

    def demonstrations(self, branch: LaidOutBranch) -> tuple[Demonstration, ...]:
        return self.prefix + branch.demonstrations


def ordered_demonstrations(
    selected: Sequence[Demonstration],
    added: Sequence[Demonstration],
    fixed: Sequence[Demonstration],
    position: InsertionPosition,
) -> tuple[Demonstration, ...]:
    """All demonstrations of one prompt in prompt order."""
    _check_position(position)
    if position == "before_fixed":
        return (*selected, *added, *fixed)
    return (*fixed, *selected, *added)


def candidate_plans(selected: Sequence[Demonstration], candidates: Sequence[Demonstration]) -> tuple[BranchPlan, ...]:
    """Greedy search: one branch per candidate, named by the candidate's id, all on the same ``selected``."""
    return tuple(BranchPlan(branch_id=c.id, selected=tuple(selected), added=(c,)) for c in candidates)


def layout_step(
    plans: Sequence[BranchPlan], fixed: Sequence[Demonstration], position: InsertionPosition
) -> StepLayout:
    """Split every plan's demonstrations into the shared prefix and its branch (see the module docstring)."""
    _check_position(position)
    if not plans:
        raise ValueError("a step needs at least one branch plan")
    common = _common_run([plan.selected for plan in plans])
    fixed = tuple(fixed)
    branches = []
    for plan in plans:
        own = plan.selected[len(common) :] + plan.added
        branches.append(LaidOutBranch(plan.branch_id, own + fixed if position == "before_fixed" else own))
    prefix = common if position == "before_fixed" else fixed + common
    return StepLayout(prefix=prefix, branches=tuple(branches))


def _common_run(lists: Sequence[tuple[Demonstration, ...]]) -> tuple[Demonstration, ...]:
    first = lists[0]
    length = 0
    while length < len(first) and all(len(other) > length and other[length].id == first[length].id for other in lists):
        length += 1
    return first[:length]


def _check_position(position: str) -> None:
    if position not in INSERTION_POSITIONS:
        raise ValueError(f"insertion position must be one of {', '.join(INSERTION_POSITIONS)}, got {position!r}")


__all__ = [
    "INSERTION_POSITIONS",
    "BranchPlan",
    "InsertionPosition",
    "LaidOutBranch",
    "StepLayout",
    "candidate_plans",
    "layout_step",
    "ordered_demonstrations",
]
