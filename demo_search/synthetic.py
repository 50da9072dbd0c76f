"""Planted-rule tasks: tiny string transformations whose demonstrations make a small model follow one rule.

Every task is a hidden rule (upper-case, reverse, copy, ...) applied to a short random lower-case query. A prompt
whose demonstrations all follow rule ``r`` makes the bundled tiny model (``workers.tiny``) answer new queries by
``r``; demonstrations of another rule make it follow that other rule. So the best demonstrations for held-out
prompts of rule ``r`` are known in advance, which lets a test or the quickstart check that a search finds them.

All randomness comes from the ``random.Random`` the caller passes, so a seed fixes every query.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Sequence
from pathlib import Path

from demo_search.errors import DataError
from demo_search.types import Demonstration, HeldOutPrompt

QUERY_ALPHABET = string.ascii_lowercase
MIN_QUERY_LENGTH = 3
MAX_QUERY_LENGTH = 6


def _shift_char(char: str) -> str:
    for alphabet in (string.ascii_lowercase, string.ascii_uppercase):
        index = alphabet.find(char)
        if index >= 0:
            return alphabet[(index + 1) % len(alphabet)]
    return char


def copy(text: str) -> str:
    """The query unchanged: ``abc -> abc``."""
    return text


def upper(text: str) -> str:
    """Upper-case: ``abc -> ABC``."""
    return text.upper()


def reverse(text: str) -> str:
    """Characters in reverse order: ``abc -> cba``."""
    return text[::-1]


def shift(text: str) -> str:
    """Every letter replaced by the next one, ``z`` wrapping to ``a``: ``abz -> bca``."""
    return "".join(_shift_char(char) for char in text)


def double(text: str) -> str:
    """Every character written twice: ``abc -> aabbcc``."""
    return "".join(char * 2 for char in text)


RULES: dict[str, Callable[[str], str]] = {
    "copy": copy,
    "upper": upper,
    "reverse": reverse,
    "shift": shift,
    "double": double,
}
"""The planted rules by name, in a fixed order."""


def rule_function(rule: str) -> Callable[[str], str]:
    """The function of the rule named ``rule``; a :class:`DataError` lists the known names otherwise."""
    try:
        return RULES[rule]
    except KeyError:
        raise DataError(
            f"unknown synthetic rule {rule!r}", [f"expected one of {', '.join(RULES)} (demo_search.synthetic.RULES)"]
        ) from None


def random_query(
    rng: random.Random, min_length: int = MIN_QUERY_LENGTH, max_length: int = MAX_QUERY_LENGTH
) -> str:
    """A random lower-case string whose length is uniform in ``[min_length, max_length]``."""
    if not 1 <= min_length <= max_length:
        raise DataError(
            "invalid query length range",
            [f"expected 1 <= min_length <= max_length, got min_length={min_length}, max_length={max_length}"],
        )
    length = rng.randint(min_length, max_length)
    return "".join(rng.choice(QUERY_ALPHABET) for _ in range(length))


def distinct_queries(rng: random.Random, n: int, exclude: frozenset[str] = frozenset()) -> list[str]:
    """``n`` different random queries, none of them in ``exclude``."""
    queries: list[str] = []
    seen = set(exclude)
    while len(queries) < n:
        query = random_query(rng)
        if query not in seen:
            seen.add(query)
            queries.append(query)
    return queries


def make_demonstrations(
    rule: str, n: int, rng: random.Random, exclude: frozenset[str] = frozenset()
) -> list[Demonstration]:
    """``n`` one-turn demonstrations of ``rule`` on different random queries (none of them in ``exclude``)."""
    function = rule_function(rule)
    return [
        Demonstration.single(query, function(query), source=f"synthetic:{rule}")
        for query in distinct_queries(rng, n, exclude)
    ]


def make_heldout(
    rule: str, n: int, rng: random.Random, exclude: frozenset[str] = frozenset()
) -> list[HeldOutPrompt]:
    """``n`` held-out prompts on different random queries, each with ``rule(query)`` as its reference answer.

    ``category`` is the rule's name, so results can be grouped by rule.
    """
    function = rule_function(rule)
    return [
        HeldOutPrompt.create(query, reference=function(query), category=rule, source=f"synthetic:{rule}")
        for query in distinct_queries(rng, n, exclude)
    ]


def planted_task(
    rule: str, rng: random.Random, *, right: int, wrong: int, noisy: int, heldout: int
) -> tuple[list[tuple[Demonstration, str]], list[HeldOutPrompt]]:
    """A planted search task: ``heldout`` prompts of ``rule`` and a shuffled pool of labelled demonstrations.

    The pool holds ``right`` demonstrations of ``rule`` (label ``"right"``), ``wrong`` of every other rule
    (``"wrong:<rule>"``) and ``noisy`` ones (``"noisy"``: random queries with unrelated random answers).
    No pool query is a held-out query. A search should choose only ``"right"`` items.
    """
    prompts = make_heldout(rule, heldout, rng)
    used = frozenset(p.query for p in prompts)
    pool = [(demo, "right") for demo in make_demonstrations(rule, right, rng, used)]
    for other in RULES:
        if other != rule:
            pool += [(demo, f"wrong:{other}") for demo in make_demonstrations(other, wrong, rng, used)]
    for query in distinct_queries(rng, noisy, used | {demo.query for demo, _ in pool}):
        unrelated = random_query(rng)  # an answer that has nothing to do with its query
        pool.append((Demonstration.single(query, unrelated, source=f"synthetic:{rule}:noisy"), "noisy"))
    rng.shuffle(pool)
    return pool, prompts


def write_task_files(
    directory: Path, pool: Sequence[tuple[Demonstration, str]], prompts: Sequence[HeldOutPrompt]
) -> tuple[Path, Path]:
    """Write a planted task as ``pool.jsonl`` (alpaca records with their ``kind`` label, which the loader ignores)
    and ``heldout.jsonl`` (prompt/reference records) in ``directory``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    pool_file, heldout_file = directory / "pool.jsonl", directory / "heldout.jsonl"
    pool_file.write_text(
        "".join(json.dumps({"instruction": d.query, "output": d.answer, "kind": kind}) + "\n" for d, kind in pool),
        encoding="utf-8",
    )
    heldout_file.write_text(
        "".join(json.dumps({"prompt": p.query, "reference": p.reference}) + "\n" for p in prompts), encoding="utf-8"
    )
    return pool_file, heldout_file


__all__ = [
    "MAX_QUERY_LENGTH",
    "MIN_QUERY_LENGTH",
    "QUERY_ALPHABET",
    "RULES",
    "copy",
    "distinct_queries",
    "double",
    "make_demonstrations",
    "make_heldout",
    "planted_task",
    "random_query",
    "reverse",
    "write_task_files",
    "rule_function",
    "shift",
    "upper",
]
