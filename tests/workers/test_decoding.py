"""``DecodingParams``: its checks and the helpers that add stops."""

from __future__ import annotations

import pytest

from workers.decoding import DecodingParams


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(top_p=1.5), r"top_p must be in \(0, 1\], got 1.5"),
        (dict(stop=("",)), "stop strings must not be empty"),
        (dict(stop_token_ids=(3, -1)), "stop_token_ids must be token ids .*, got -1"),
        (dict(stop_token_ids=(True,)), "stop_token_ids must be token ids .*, got True"),
        (dict(stop_token_ids=("7",)), "stop_token_ids must be token ids .*, got '7'"),
    ],
)
def test_decoding_params_refuse_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecodingParams(**kwargs)


def test_stop_token_ids_are_kept_as_a_tuple():
    assert DecodingParams(stop_token_ids=[5, 0]).stop_token_ids == (5, 0)


def test_with_stop_token_ids_appends_each_id_once_and_keeps_the_rest():
    params = DecodingParams(temperature=0.5, stop=("x",), seed=3, stop_token_ids=(9,))
    extended = params.with_stop_token_ids(4, 9, 4, 2)
    assert extended.stop_token_ids == (9, 4, 2)
    assert extended == DecodingParams(temperature=0.5, stop=("x",), seed=3, stop_token_ids=(9, 4, 2))
    assert params.stop_token_ids == (9,)


def test_with_stop_keeps_the_stop_token_ids():
    assert DecodingParams(stop_token_ids=(1,)).with_stop("a").stop_token_ids == (1,)
