"""Reading config YAML: the raw mapping plus the line each key was written on, for messages.

The loader is PyYAML's safe loader with one change: numbers in exponent form without a dot (``1e-3``, ``5E4``)
read as floats, as YAML 1.2 and every user expects (YAML 1.1 reads them as strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from demo_search.errors import ConfigError

KeyPath = tuple[str, ...]


class _ConfigLoader(yaml.SafeLoader):
    """Safe loader that also reads ``1e-3`` as a float."""


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document: ``data`` and, for each key path of a mapping, the 1-based line it was written on."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicates: tuple[str, ...] = ()


def _syntax_error(source: str, error: yaml.YAMLError) -> ConfigError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    detail = f"{problem} ({context})" if context else problem
    return ConfigError(f"cannot read {source}", [f"{where}: YAML syntax error: {detail}"])


def _walk(node: yaml.Node, path: KeyPath, source: str, lines: dict[KeyPath, int], duplicates: list[str]) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        dotted = ".".join((*path, key))
        if key in seen:
            duplicates.append(f"{source}:{line}: duplicate key {dotted} (first written on line {seen[key]})")
        seen.setdefault(key, line)
        lines.setdefault((*path, key), line)
        _walk(value_node, (*path, key), source, lines, duplicates)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; syntax errors become a ``ConfigError`` naming ``source:line:column``."""
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise _syntax_error(source, error) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    duplicates: list[str] = []
    if node is not None:
        _walk(node, (), source, lines, duplicates)
    return YamlDocument(data=data, lines=lines, duplicates=tuple(duplicates))


def parse_yaml_value(text: str) -> Any:
    """A single value written in YAML (a scalar, a ``[list]`` or a ``{mapping}``), read like the config file."""
    return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - _ConfigLoader is a SafeLoader


def read_yaml_file(path: Path) -> YamlDocument:
    """Read and parse a config file; unreadable files become a ``ConfigError``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory, not a YAML file: {path}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(f"cannot read {path}", [f"{path}:{line}: invalid UTF-8 (byte {error.start})"]) from None
    return parse_yaml(text, str(path))
