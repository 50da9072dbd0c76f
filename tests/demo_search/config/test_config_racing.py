"""``strategy.racing``: off by default and invisible to the fingerprint; on, it counts and needs a bounded scorer."""

from __future__ import annotations

import pytest

from demo_search.assembly import build_scorer, race_settings
from demo_search.config import compute_fingerprint, diff_fingerprints, load_config
from demo_search.errors import ConfigError
from tests.demo_search.config.config_files import BASE, write

MATCH = ["scorer.kind=match"]


def test_racing_is_off_by_default_and_off_changes_neither_the_fingerprint_nor_the_driver(workspace):
    config = load_config(write(workspace, BASE), MATCH)
    assert config.strategy.racing.enabled is False
    fingerprint = compute_fingerprint(config)
    assert not any(part.startswith("strategy.racing") for part in fingerprint.parts)
    tuned = load_config(write(workspace, BASE), [*MATCH, "strategy.racing.delta=0.2", "strategy.racing.first_prompts=4"])
    assert compute_fingerprint(tuned) == fingerprint  # settings of a race that does not run change nothing
    assert race_settings(config, build_scorer(config)) is None


def test_turning_racing_on_changes_the_fingerprint_and_builds_the_race(workspace):
    off = compute_fingerprint(load_config(write(workspace, BASE), MATCH))
    config = load_config(write(workspace, BASE), [*MATCH, "strategy.racing.enabled=true", "strategy.kind=beam",
                                                  "strategy.beam_width=3", "seed=7"])
    assert "strategy.racing.enabled" in diff_fingerprints(off.parts, compute_fingerprint(config))
    settings = race_settings(config, build_scorer(config))
    assert (settings.delta, settings.first_prompts, settings.round_prompts) == (0.05, 8, 8)
    assert (settings.score_range, settings.survivors, settings.seed) == ((0.0, 1.0), 3, 7)


@pytest.mark.parametrize(("overrides", "message"), [
    (["scorer.kind=loglik"], "no known bounds"),
    ([*MATCH, "strategy.kind=random"], "greedy and beam"),
    ([*MATCH, "strategy.racing.delta=1.0"], "delta"),
    ([*MATCH, "strategy.racing.round_prompts=0"], "round_prompts"),
])
def test_racing_settings_that_cannot_work_are_refused(workspace, overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config(write(workspace, BASE), ["strategy.racing.enabled=true", *overrides])
    assert message in str(error.value) + " ".join(error.value.problems)
