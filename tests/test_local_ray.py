"""The test-support Ray starter retries a start that timed out, and only that."""

from __future__ import annotations

import pytest

from tests.support import local_ray


def test_a_start_that_timed_out_is_tried_again_after_cleaning_up_and_other_errors_are_raised_at_once():
    calls: list[str] = []

    def flaky_start() -> None:
        calls.append("start")
        if calls.count("start") < local_ray.START_ATTEMPTS:
            raise Exception("The current node timed out during startup. This could happen because ...")

    local_ray._with_retries(flaky_start, cleanup=lambda: calls.append("cleanup"))
    assert calls == ["start", "cleanup"] * (local_ray.START_ATTEMPTS - 1) + ["start"]

    def always_timing_out() -> None:
        raise Exception("The current node timed out during startup.")

    with pytest.raises(Exception, match="timed out during startup"):
        local_ray._with_retries(always_timing_out, cleanup=lambda: None)

    def broken() -> None:
        calls.append("broken")
        raise ValueError("num_cpus must be positive")

    calls.clear()
    with pytest.raises(ValueError):
        local_ray._with_retries(broken, cleanup=lambda: calls.append("cleanup"))
    assert calls == ["broken"]
