"""Finding stop strings as tokens arrive, decoding only a short tail of each answer at every step.

Decoding an answer's whole text after every new token costs O(max_tokens) per step, O(max_tokens²) per answer.
A stop string that was not in the text one step ago can only appear in the text the new token made visible, plus
at most ``longest stop - 1`` characters before it; so each step decodes only the last few tokens. The tail is
taken long enough that, after dropping its first token (whose decoding may differ from its decoding in context:
a leading space dropped, half of a multi-byte character) and the last ``UNSETTLED_TOKENS`` tokens (whose bytes may
only now have completed a character), it still holds ``longest stop`` characters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from workers.engines.sampling import find_stop

UNSETTLED_TOKENS = 4
"""Tokens at the end whose text may have become visible only with the newest token (a UTF-8 character is at most
4 bytes, so at most 3 earlier tokens can wait for the newest one to complete it)."""


def stop_in_tail(
    generated: Sequence[int], stops: tuple[str, ...], detokenize: Callable[[list[int]], str]
) -> bool:
    """Whether the text of ``generated`` holds one of ``stops``, assuming the text before the newest token did not.

    Decodes a tail of ``generated`` that grows (doubling) until it is long enough, or all of it; the caller
    confirms a hit on the whole text (``find_stop``), so a tail can only cost a second look, never a wrong cut.
    """
    if not stops:
        return False
    longest = max(len(stop) for stop in stops)
    take = longest + UNSETTLED_TOKENS + 1
    while True:
        start = max(0, len(generated) - take)
        tail = list(generated[start:])
        if find_stop(detokenize(tail), stops) is not None:
            return True
        if start == 0:
            return False
        settled = tail[1 : len(tail) - UNSETTLED_TOKENS]
        if len(detokenize(settled)) >= longest:
            return False
        take *= 2
