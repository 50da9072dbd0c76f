"""``demo_search.run`` and ``demo_search.resume``: the CLI's ``run`` and ``resume`` for Python callers.

Both go through ``demo_search.pipeline`` (the search, then the decoding tuning when ``tuning.enabled``), as the
commands do, and return the search as :func:`demo_search.load` reads it afterwards. Progress is reported by
``logging`` (``logging.basicConfig(level=logging.INFO)`` shows the steps) or by a ``progress`` sink.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from demo_search.api.reading import load
from demo_search.api.records import SearchResult
from demo_search.config import (
    Override,
    SearchConfig,
    load_config,
    load_config_data,
    resolve_database_url,
)
from demo_search.errors import ConfigError
from demo_search.scoring.custom import ScoreFunction, ScorerFunction, as_scorer_function
from demo_search.search.progress import ProgressSink

ConfigSource = str | os.PathLike[str] | Mapping[str, Any] | SearchConfig
"""A YAML file's path, the configuration as a mapping (what the file would hold), or a loaded ``SearchConfig``."""


def run(
    config: ConfigSource,
    *,
    scorer: ScoreFunction | ScorerFunction | None = None,
    db: str | None = None,
    address: str | None = None,
    progress: ProgressSink | None = None,
    **overrides: Any,
) -> SearchResult:
    """Run (or continue) a search, as ``demo-search run CONFIG`` does, and return it as :func:`load` reads it.

    * ``config``: a YAML file's path, a mapping holding what the file would (relative paths resolve against the
      working directory), or a ``SearchConfig``;
    * ``overrides``: the CLI's ``--set`` keys, dotted (``**{"strategy.max_steps": 2}``) or with ``__`` for the
      dots (``strategy__max_steps=2``); values are used as given, not read as YAML;
    * ``scorer``: a score function (see ``demo_search.scoring.custom.ScoreFunction``), which becomes the search's
      ``custom`` scorer under its name and version;
    * ``db``: the database URL (as ``--db``); ``address``: the Ray cluster to join (as ``--address``);
    * ``progress``: a ``demo_search.search.progress.ProgressSink`` told of every unit (default: none).

    Raises ``ConfigError`` for an invalid configuration or override, ``ResumeRefusedError`` when a search of that
    name exists with another configuration (or another scorer function or version), and what the search raises.
    """
    function = as_scorer_function(scorer) if scorer is not None else None
    given = [*_keyword_overrides(overrides), *_shortcuts(db=db, scorer=function)]
    loaded = _load(config, given)
    from demo_search import pipeline
    from demo_search.search.cluster import RayOptions

    pipeline.run(loaded, progress=progress, ray_options=RayOptions(address=address), scorer_function=function)
    return load(loaded.name, db=loaded.database.url)


def resume(
    name: str,
    *,
    db: str | None = None,
    scorer: ScoreFunction | ScorerFunction | None = None,
    address: str | None = None,
    progress: ProgressSink | None = None,
) -> SearchResult:
    """Continue the stored search ``name`` with the configuration stored with it, as ``demo-search resume`` does,
    evaluating only what is not stored yet; returns it as :func:`load` reads it.

    A search whose scorer was a function given to :func:`run` needs the function again (``scorer``); a resume with
    another function name or version is refused (``ResumeRefusedError``)."""
    url = resolve_database_url(db)
    function = as_scorer_function(scorer) if scorer is not None else None
    from demo_search import pipeline
    from demo_search.search.cluster import RayOptions

    pipeline.resume(name, url, progress=progress, ray_options=RayOptions(address=address), scorer_function=function)
    return load(name, db=url)


def _load(config: ConfigSource, overrides: list[Override]) -> SearchConfig:
    if isinstance(config, SearchConfig):
        # Keep the URL it was loaded with: validating it again must not let $DEMO_SEARCH_DB win over it.
        kept = Override(("database", "url"), config.database.url, "the SearchConfig's database.url")
        return load_config_data(config.stored_form(hide_password=False), source="the SearchConfig given to run()",
                                overrides=[kept, *overrides])
    if isinstance(config, Mapping):
        return load_config_data(config, source="the configuration given to run()", overrides=overrides)
    if isinstance(config, str | os.PathLike):
        return load_config(Path(config), overrides)
    raise ConfigError(f"run() takes a config file path, a mapping or a SearchConfig, got {type(config).__name__}")


def _keyword_overrides(overrides: Mapping[str, Any]) -> list[Override]:
    """``strategy__max_steps=2`` and ``**{"strategy.max_steps": 2}`` as overrides of ``strategy.max_steps``."""
    return [
        Override(tuple(key.replace("__", ".").split(".")), _value(value), f"run() argument {key}={value!r}")
        for key, value in overrides.items()
    ]


def _value(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _shortcuts(*, db: str | None, scorer: ScorerFunction | None) -> list[Override]:
    shortcuts = []
    if db is not None:
        shortcuts.append(Override(("database", "url"), db, "run(db=...)"))
    if scorer is not None:
        label = f"run(scorer={scorer.name})"
        shortcuts.append(Override(("scorer", "kind"), "custom", label))
        shortcuts.append(Override(("scorer", "custom"), {"name": scorer.name, "version": scorer.version}, label))
    return shortcuts


__all__ = ["ConfigSource", "resume", "run"]
