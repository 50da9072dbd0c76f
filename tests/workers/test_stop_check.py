"""Stop strings found from a short tail of each answer: the same first stop as a whole-text search, linear work."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.workers.engine_contract import build_tree
from workers.decoding import DecodingParams
from workers.engines.sampling import find_stop
from workers.engines.stop_check import stop_in_tail
from workers.engines.transformers_engine import TransformersEngine
from workers.tree import PrefixTree

GREEDY_TOKENS = 24


class ByteDecoder:
    """Byte-level detokenizer (token id = byte) counting the tokens it has decoded."""

    def __init__(self) -> None:
        self.decoded_tokens = 0

    def __call__(self, ids: list[int]) -> str:
        self.decoded_tokens += len(ids)
        return bytes(ids).decode("utf-8", errors="replace")


def first_stop_step(ids: Sequence[int], stops: tuple[str, ...], check) -> int | None:
    """The number of tokens after which ``check`` first reports a stop, feeding ``ids`` one at a time."""
    for count in range(1, len(ids) + 1):
        if check(list(ids[:count])):
            return count
    return None


def whole_text_step(ids: Sequence[int], stops: tuple[str, ...]) -> int | None:
    decode = ByteDecoder()
    return first_stop_step(ids, stops, lambda generated: find_stop(decode(generated), stops) is not None)


def tail_step(ids: Sequence[int], stops: tuple[str, ...]) -> int | None:
    decode = ByteDecoder()
    return first_stop_step(ids, stops, lambda generated: stop_in_tail(generated, stops, decode))


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("xxxxxxxxxxxxxxxxxxxxab yy", ("ab",), 22),  # split over the two tokens 'a' and 'b'
        ("ab and more text after it", ("ab",), 2),  # at the very start
        ("S", ("S",), 1),  # the first token alone
        ("a long answer that holds a much longer stop string", ("longer stop string", "zz"), 50),
        ("plain text, multi-byte: caf\u00e9! and on", ("\u00e9!",), 30),  # 'é' is two byte tokens
        ("no stop in here at all", ("never",), None),
    ],
)
def test_the_tail_finds_the_same_first_stop_as_the_whole_text(
    text: str, stops: tuple[str, ...], expected: int | None
) -> None:
    ids = list(text.encode("utf-8"))
    assert whole_text_step(ids, stops) == expected
    assert tail_step(ids, stops) == expected


def test_each_step_decodes_a_bounded_tail_not_the_whole_answer() -> None:
    ids = list(("word " * 400).encode()) + list(b"STOP")
    decode = ByteDecoder()
    assert first_stop_step(ids, ("STOP",), lambda generated: stop_in_tail(generated, ("STOP",), decode)) == len(ids)
    per_step = decode.decoded_tokens / len(ids)
    assert per_step <= 2 * (len("STOP") + 5)  # two decodes of the first tail; the whole text would be ~1,000


def test_no_stop_strings_decode_nothing() -> None:
    decode = ByteDecoder()
    assert not stop_in_tail([1, 2, 3], (), decode)
    assert decode.decoded_tokens == 0


# -- through the engine ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(random_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(random_model_dir, batch_size=3)


@pytest.fixture(scope="module")
def tree() -> PrefixTree:
    leaves = ((5, 0), (9, 0), (3, 0), (6, 0))
    return build_tree(tuple(range(3, 259)), seed=5, prefix=12, branches=(4, 7), leaves=leaves)


@pytest.fixture(scope="module")
def tokenizer(random_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(random_model_dir)


def printable(tokenizer, token_ids: Sequence[int]) -> str | None:
    """The text of ``token_ids`` when each of them is one printable ASCII character, else ``None``."""
    texts = [tokenizer.decode([token], skip_special_tokens=True) for token in token_ids]
    ok = all(len(t) == 1 and t.isascii() and t.isprintable() for t in texts)
    return "".join(texts) if ok else None


def answers(engine: TransformersEngine, tree: PrefixTree):
    """Every greedy answer of ``tree`` with its request as a one-leaf tree."""
    for generation in engine.generate(tree, DecodingParams(max_tokens=GREEDY_TOKENS)).generations:
        branch = next(b for b in tree.branches if b.branch_id == generation.branch_id)
        leaf = next(x for x in tree.leaves if x.leaf_id == generation.leaf_id)
        yield generation, PrefixTree(tree.prefix_ids, (branch,), (leaf,))


def test_a_stop_string_at_the_very_start_of_the_answer_ends_it_with_empty_text(
    engine: TransformersEngine, tree: PrefixTree, tokenizer
) -> None:
    for answer, single in answers(engine, tree):
        first = printable(tokenizer, answer.token_ids[:1])
        if first is None:
            continue
        stopped = engine.generate(single, DecodingParams(max_tokens=GREEDY_TOKENS, stop=(first,))).generations[0]
        assert (stopped.text, stopped.finish_reason, stopped.token_ids) == ("", "stop", answer.token_ids[:1])
        return
    pytest.fail("no greedy answer starts with a printable ASCII token; pick another tree seed")


def test_a_stop_string_split_over_two_tokens_ends_the_answer_at_its_second_token(
    engine: TransformersEngine, tree: PrefixTree, tokenizer
) -> None:
    for answer, single in answers(engine, tree):
        for at in range(1, len(answer.token_ids) - 1):
            stop = printable(tokenizer, answer.token_ids[at : at + 2])
            before = tokenizer.decode(list(answer.token_ids[:at]), skip_special_tokens=True)
            if stop is None or stop in before + stop[0]:
                continue
            params = DecodingParams(max_tokens=GREEDY_TOKENS, stop=(stop,))
            stopped = engine.generate(single, params).generations[0]
            assert (stopped.text, stopped.finish_reason) == (before, "stop")
            assert stopped.token_ids == answer.token_ids[: at + 2]
            return
    pytest.fail("no greedy answer holds two printable ASCII tokens in a row; pick another tree seed")
