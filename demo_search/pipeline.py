"""What ``demo-search run`` and ``resume`` do (and ``demo_search.run`` and ``resume``, the Python API): run the
search, then tune its decoding when ``tuning.enabled``.

The search (``demo_search.search``) and the tuning (``demo_search.tuning``) know nothing of each other; this module
puts them in order.
"""

from __future__ import annotations

from demo_search.config import SearchConfig
from demo_search.scoring.custom import ScorerFunction, identify_custom_scorer
from demo_search.search.cluster import RayOptions
from demo_search.search.driver import SearchOutcome
from demo_search.search.progress import ProgressSink
from demo_search.search.session import run_search, stored_config
from demo_search.tuning.session import tune_after_search
from demo_search.tuning.tuner import TuningProgress


def run(
    config: SearchConfig,
    *,
    progress: ProgressSink | None = None,
    tuning_progress: TuningProgress | None = None,
    ray_options: RayOptions = RayOptions(),
    scorer_function: ScorerFunction | None = None,
) -> SearchOutcome:
    """Run (or continue) the search ``config`` describes; then, with ``tuning.enabled``, tune the decoding
    parameters of its best set. A ``custom`` scorer runs ``scorer_function`` when given, else the function
    registered under its name."""
    config = identify_custom_scorer(config, scorer_function)
    outcome = run_search(config, progress=progress, ray_options=ray_options, scorer_function=scorer_function)
    if config.tuning.enabled:
        tune_after_search(config, progress=tuning_progress, ray_options=ray_options, scorer_function=scorer_function)
    return outcome


def resume(
    name: str,
    database_url: str,
    *,
    progress: ProgressSink | None = None,
    tuning_progress: TuningProgress | None = None,
    ray_options: RayOptions = RayOptions(),
    scorer_function: ScorerFunction | None = None,
) -> SearchOutcome:
    """Continue the stored search ``name`` with the configuration stored with it (then tune, as ``run``)."""
    config = stored_config(name, database_url)
    return run(config, progress=progress, tuning_progress=tuning_progress, ray_options=ray_options,
               scorer_function=scorer_function)

