"""One search step's work as a prefix tree of token ids.

Every prompt of a step is ``prefix + branch + leaf`` (see the README, "How it works"): the shared prefix (rules and the
demonstrations already chosen), one branch per candidate (the candidate demonstration, plus fixed
demonstrations placed after it), and one leaf per held-out prompt (query and answer header, optionally
followed by a target span, the reference answer, whose tokens are scored).

The driver tokenizes every prompt as one whole string and cuts the tree at the longest common token prefixes, so
``full_prompt`` is exactly the whole string's ids and the prefix is token-identical in every prompt; engines only
ever see ids.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Leaf:
    """A held-out prompt under a branch: ``prompt_ids`` then, for scoring, ``target_ids``."""

    leaf_id: str
    prompt_ids: tuple[int, ...]
    target_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.prompt_ids:
            raise ValueError(f"leaf {self.leaf_id!r}: prompt_ids must not be empty")


@dataclass(frozen=True)
class Branch:
    """One candidate's segment, placed between the shared prefix and the leaves."""

    branch_id: str
    token_ids: tuple[int, ...]


@dataclass(frozen=True)
class PrefixTree:
    """The work of (part of) a step: every branch is combined with every leaf.

    Requests are ordered branch-major, leaf-minor; engines return results in that order.
    """

    prefix_ids: tuple[int, ...]
    branches: tuple[Branch, ...]
    leaves: tuple[Leaf, ...]

    def __post_init__(self) -> None:
        if not self.prefix_ids:
            raise ValueError("prefix_ids must not be empty (it holds at least the BOS token or the rules)")
        for name, ids in (("branches", [b.branch_id for b in self.branches]), ("leaves", [x.leaf_id for x in self.leaves])):
            if len(set(ids)) != len(ids):
                raise ValueError(f"{name} ids must be unique, got duplicates in {ids}")

    def full_prompt(self, branch: Branch, leaf: Leaf, *, with_target: bool) -> tuple[int, ...]:
        """The whole prompt of one request, as a naive evaluator would send it."""
        tail = leaf.target_ids if with_target else ()
        return self.prefix_ids + branch.token_ids + leaf.prompt_ids + tail

    def trie_bound(self, *, with_target: bool) -> int:
        """The fewest tokens any evaluator must compute: ``|P| + sum_c |B_c| + sum_c sum_q |L_q|``."""
        leaf_tokens = sum(len(x.prompt_ids) + (len(x.target_ids) if with_target else 0) for x in self.leaves)
        return len(self.prefix_ids) + sum(len(b.token_ids) for b in self.branches) + len(self.branches) * leaf_tokens

    def naive_total(self, *, with_target: bool) -> int:
        """Tokens computed when every full prompt is sent independently with no cache."""
        return sum(
            len(self.full_prompt(b, x, with_target=with_target)) for b in self.branches for x in self.leaves
        )


@dataclass(frozen=True)
class TokenCounts:
    """Per-request accounting: ``prompt_tokens == computed_tokens + cached_tokens``."""

    prompt_tokens: int
    computed_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class LeafScore:
    """Log-probabilities of a leaf's target tokens, given prefix + branch + leaf prompt."""

    branch_id: str
    leaf_id: str
    token_logprobs: tuple[float, ...]
    tokens: TokenCounts

    @property
    def sum_logprob(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def count(self) -> int:
        return len(self.token_logprobs)

    @property
    def mean_logprob(self) -> float:
        return self.sum_logprob / self.count if self.count else float("nan")


@dataclass(frozen=True)
class LeafGeneration:
    """An answer generated for one leaf. ``finish_reason`` is ``"stop"`` (stop string or EOS) or ``"length"``."""

    branch_id: str
    leaf_id: str
    text: str
    token_ids: tuple[int, ...]
    finish_reason: str
    tokens: TokenCounts


@dataclass(frozen=True)
class CallStats:
    """Per-call totals so callers can compare with ``PrefixTree.trie_bound`` and ``naive_total``."""

    wall_time_s: float
    prompt_tokens: int
    computed_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class ScoreResult:
    scores: tuple[LeafScore, ...]
    stats: CallStats


@dataclass(frozen=True)
class GenerateResult:
    generations: tuple[LeafGeneration, ...]
    stats: CallStats


def call_stats(wall_time_s: float, counts: list[TokenCounts] | tuple[TokenCounts, ...]) -> CallStats:
    return CallStats(
        wall_time_s=wall_time_s,
        prompt_tokens=sum(c.prompt_tokens for c in counts),
        computed_tokens=sum(c.computed_tokens for c in counts),
        cached_tokens=sum(c.cached_tokens for c in counts),
    )


__all__ = [
    "Branch",
    "CallStats",
    "GenerateResult",
    "Leaf",
    "LeafGeneration",
    "LeafScore",
    "PrefixTree",
    "ScoreResult",
    "TokenCounts",
    "call_stats",
]
