"""Command-line overrides: ``dotted.key=value`` settings applied to the raw config before validation.

The value is read as YAML (``3`` is a number, ``[a, b]`` a list, ``null`` or nothing clears an optional key),
so an override means exactly what the same line would mean in the file. Overrides are applied in order and
create missing sections; a key the config does not know is reported by validation like a misspelt key in the
file (``unknown key strategy.beam_widht (did you mean strategy.beam_width?)``).

The typed CLI shortcuts (``--name``, ``--db``, ``--workers``) are overrides too (:func:`shortcut_overrides`);
their values are used as given, not read as YAML.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from demo_search.config.yaml_source import KeyPath, parse_yaml_value
from demo_search.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


@dataclass(frozen=True)
class Override:
    """Set ``path`` to ``value``; ``label`` names where it came from in messages (``--set x=1``, ``--db``)."""

    path: KeyPath
    value: Any
    label: str

    @property
    def key(self) -> str:
        return ".".join(self.path)


def parse_override(text: str) -> Override:
    """``"strategy.beam_width=3"`` -> ``Override(("strategy", "beam_width"), 3, ...)``."""
    key, separator, value_text = text.partition("=")
    key = key.strip()
    if not separator or not _KEY.match(key):
        raise ConfigError("invalid override", [
            f"override {text!r}: expected KEY=VALUE with a dotted key, e.g. strategy.beam_width=3"
        ])
    try:
        value = parse_yaml_value(value_text)
    except yaml.YAMLError as error:
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError("invalid override", [f"override {text!r}: the value is not valid YAML ({reason})"]) from None
    return Override(path=tuple(key.split(".")), value=value, label=f"override {text!r}")


def shortcut_overrides(
    *, name: str | None = None, db: str | None = None, workers: str | int | None = None
) -> list[Override]:
    """The CLI's typed options as overrides: ``--name`` -> ``name``, ``--db`` -> ``database.url``,
    ``--workers`` -> ``workers.count`` (a number, or ``auto``). Options left as ``None`` are not overridden."""
    if isinstance(workers, str) and workers.strip().lstrip("-").isdigit():
        workers = int(workers)
    shortcuts = [
        ("--name", ("name",), name),
        ("--db", ("database", "url"), db),
        ("--workers", ("workers", "count"), workers),
    ]
    return [Override(path=path, value=value, label=label) for label, path, value in shortcuts if value is not None]


def _set(raw: dict[str, Any], override: Override) -> str | None:
    node = raw
    for depth, key in enumerate(override.path[:-1]):
        child = node.setdefault(key, {})
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            section = ".".join(override.path[: depth + 1])
            return f"{override.label}: {section} is a single value ({child!r}), not a section with keys"
        node = child
    node[override.path[-1]] = copy.deepcopy(override.value)
    return None


def parse_overrides(items: Sequence[str | Override]) -> list[Override]:
    """Parse every ``KEY=VALUE`` string (``Override`` objects pass through); one ``ConfigError`` lists all the
    malformed ones."""
    parsed: list[Override] = []
    problems: list[str] = []
    for item in items:
        try:
            parsed.append(item if isinstance(item, Override) else parse_override(item))
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError("invalid overrides", problems)
    return parsed


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str | Override]) -> dict[str, Any]:
    """A copy of ``raw`` with each override applied in order (strings are parsed with :func:`parse_override`).

    Raises ``ConfigError`` listing every override that is malformed or that would put a key under a single value.
    """
    result = copy.deepcopy(dict(raw))
    problems = [problem for override in parse_overrides(overrides) if (problem := _set(result, override))]
    if problems:
        raise ConfigError("invalid overrides", problems)
    return result
