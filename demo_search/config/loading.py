"""Loading a ``SearchConfig``: YAML file -> environment -> overrides -> validation -> one ``ConfigError``.

Where the database URL comes from, first match wins: an explicit override (``--db`` or
``database.url=...``), then ``$DEMO_SEARCH_DB``, then ``database.url`` in the file, then the default
``sqlite:///./demo_search.db``. The environment beats the file so that one config file can be run against the
database of each deployment (e.g. PostgreSQL in docker-compose) without editing it.

Relative paths in the file resolve against the file's directory; the loaded config holds absolute paths.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from demo_search.config.database import DB_ENV
from demo_search.config.overrides import Override, apply_overrides, parse_overrides
from demo_search.config.problems import Loc, validation_problems
from demo_search.config.schema import SearchConfig
from demo_search.config.yaml_source import KeyPath, YamlDocument, parse_yaml, read_yaml_file
from demo_search.errors import ConfigError

logger = logging.getLogger(__name__)

_EXAMPLE = "name: my-search\ndata: {pool: {path: pool.jsonl}, heldout: {path: heldout.jsonl}}"


def _origins(document: YamlDocument, source: str, overrides: Sequence[Override]) -> dict[KeyPath, str]:
    """Key path -> where it was last set, for prefixing messages."""
    origins = {path: f"{source}:{line}" for path, line in document.lines.items()}
    for override in overrides:
        for path in [p for p in origins if p[: len(override.path)] == override.path]:
            del origins[path]
        origins[override.path] = override.label
        for end in range(1, len(override.path)):
            origins.setdefault(override.path[:end], override.label)  # sections the override created
    return origins


def _locator(origins: Mapping[KeyPath, str]) -> Callable[[Loc], str | None]:
    """Where the innermost written key of ``loc`` came from."""

    def where(loc: Loc) -> str | None:
        keys = tuple(str(part) for part in loc)
        for end in range(len(keys), 0, -1):
            if keys[:end] in origins:
                return origins[keys[:end]]
        return None

    return where


def _with_environment(overrides: list[Override]) -> list[Override]:
    """``$DEMO_SEARCH_DB`` as the first override, unless an explicit override sets the database URL."""
    url = os.environ.get(DB_ENV)
    if not url:
        return overrides
    explicit = any(override.path[:2] == ("database", "url") or override.path == ("database",) for override in overrides)
    if explicit:
        logger.debug("%s is set but an explicit database URL overrides it", DB_ENV)
        return overrides
    return [Override(("database", "url"), url, f"environment {DB_ENV}"), *overrides]


def config_from_document(
    document: YamlDocument, *, source: str, base_dir: Path, overrides: Sequence[str | Override] = ()
) -> SearchConfig:
    """Validate a parsed document with ``overrides`` applied; every problem goes into one ``ConfigError``."""
    summary = f"invalid configuration in {source}"
    if document.data is None:
        raise ConfigError(summary, [f"{source} is empty; a config needs at least:\n{_EXAMPLE}"])
    if not isinstance(document.data, dict):
        kind = "a list" if isinstance(document.data, list) else f"a single value ({document.data!r})"
        raise ConfigError(summary, [f"{source}: the top level must be a mapping of keys to values, got {kind}"])
    parsed = _with_environment(parse_overrides(overrides))
    raw = apply_overrides(document.data, parsed)
    problems = list(document.duplicates)
    try:
        config = SearchConfig.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as error:
        problems += validation_problems(SearchConfig, error, _locator(_origins(document, source, parsed)))
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ConfigError(f"{summary} ({count})", problems)
    return config


def load_config(path: str | Path, overrides: Sequence[str | Override] = ()) -> SearchConfig:
    """Read the YAML file at ``path`` and validate it with ``overrides`` (``"key.path=value"`` strings or
    :class:`Override` objects, e.g. from :func:`shortcut_overrides`) applied in order.

    Raises ``ConfigError`` with every problem found: unreadable file, YAML syntax (``file:line:column``),
    duplicate keys, unknown keys (with the closest valid one), wrong types, out-of-range values, missing files.
    """
    path = Path(path)
    document = read_yaml_file(path)
    return config_from_document(document, source=str(path), base_dir=path.resolve().parent, overrides=overrides)


def load_config_data(
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    base_dir: str | Path | None = None,
    overrides: Sequence[str | Override] = (),
) -> SearchConfig:
    """Like :func:`load_config` for a configuration already read into a mapping (e.g. a ``dict`` written in a
    notebook); relative paths resolve against ``base_dir`` (default: the working directory)."""
    return config_from_document(YamlDocument(copy.deepcopy(dict(data))), source=source,
                                base_dir=Path(base_dir or Path.cwd()).resolve(), overrides=overrides)


def load_stored_config(
    data: Mapping[str, Any], *, source: str, overrides: Sequence[str | Override] = ()
) -> SearchConfig:
    """Validate a configuration stored as ``SearchConfig.model_dump(mode="json")`` (paths already absolute), with
    ``overrides`` applied: how ``resume`` and ``tune`` get back the configuration a search ran with."""
    return load_config_data(data, source=source, overrides=overrides)


def load_config_text(
    text: str, *, source: str = "<config>", base_dir: str | Path | None = None, overrides: Sequence[str | Override] = ()
) -> SearchConfig:
    """Like :func:`load_config` for YAML text (e.g. a config stored with a search); relative paths resolve
    against ``base_dir`` (default: the working directory)."""
    document = parse_yaml(text, source)
    return config_from_document(document, source=source, base_dir=Path(base_dir or Path.cwd()).resolve(),
                                overrides=overrides)
