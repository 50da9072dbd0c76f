"""Turning pydantic's ``ValidationError`` into one line per problem, in the project's words.

Each line names the full key path and what was expected, e.g. ``strategy.beam_width must be >= 1, got 0`` or
``unknown key strategy.beam_widht (did you mean strategy.beam_width?)``. Lines are built from each error's
``type``, ``loc``, ``input`` and ``ctx`` and from the schema itself (the allowed values of a ``Literal``, the
description of a required field), not from pydantic's English text; only an error type this module does not
know falls back to pydantic's message.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from demo_search.config.paths import PATH_ERROR_TYPES

Loc = tuple[str | int, ...]

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values (a section)",
    "model_attributes_type": "a mapping of keys to values (a section)",
}
_COMPARISONS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
                "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


def dotted(loc: Loc) -> str:
    """``("decoding", "stop", 0)`` -> ``"decoding.stop[0]"``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def show(value: Any) -> str:
    """A value as the user wrote it in YAML: ``true``, ``null``, ``'text'``, ``1.5``, ``[1, 2]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The section model of a field annotation (``Section`` or ``Section | None``), else ``None``."""
    candidates = typing.get_args(annotation) or (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _section_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class of the section at ``loc`` (``()`` is the root), or ``None`` when it is not a section."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model = _model_class(model.model_fields[part].annotation)
    return model


def _field_at(root: type[BaseModel], loc: Loc) -> FieldInfo | None:
    if not loc or not isinstance(loc[-1], str):
        return None
    parent = _section_at(root, loc[:-1])
    return parent.model_fields.get(loc[-1]) if parent is not None else None


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return tuple(value for arg in typing.get_args(annotation) for value in _literal_values(arg))


def key_paths(model: type[BaseModel], prefix: Loc = ()) -> Iterator[Loc]:
    """Every key path the schema knows, sections included."""
    for name, info in model.model_fields.items():
        yield (*prefix, name)
        child = _model_class(info.annotation)
        if child is not None:
            yield from key_paths(child, (*prefix, name))


def suggestion(root: type[BaseModel], loc: Loc) -> str | None:
    """The closest valid key path to an unknown key, or ``None``.

    In order: a key of that exact name in another section (``temperature`` -> ``decoding.temperature``), a
    close sibling (``beam_widht`` -> ``strategy.beam_width``), a close key anywhere.
    """
    unknown = str(loc[-1])
    by_name: dict[str, Loc] = {}
    for path in key_paths(root):
        by_name.setdefault(str(path[-1]), path)
    if unknown in by_name:
        return dotted(by_name[unknown])
    parent = _section_at(root, loc[:-1])
    if parent is not None:
        close = difflib.get_close_matches(unknown, list(parent.model_fields), n=1, cutoff=0.6)
        if close:
            return dotted((*loc[:-1], close[0]))
    close = difflib.get_close_matches(unknown, list(by_name), n=1, cutoff=0.8)
    return dotted(by_name[close[0]]) if close else None


def _unknown_key(root: type[BaseModel], error: ErrorDetails, path: str) -> list[str]:
    guess = suggestion(root, error["loc"])
    if guess is not None:
        return [f"unknown key {path} (did you mean {guess}?)"]
    parent = _section_at(root, error["loc"][:-1])
    valid = ", ".join(parent.model_fields) if parent is not None else ""
    return [f"unknown key {path} (valid keys here: {valid})" if valid else f"unknown key {path}"]


def _missing(root: type[BaseModel], error: ErrorDetails, path: str) -> list[str]:
    info = _field_at(root, error["loc"])
    description = info.description if info is not None else None
    return [f"{path} is required: {description}" if description else f"{path} is required"]


def _not_allowed(root: type[BaseModel], error: ErrorDetails, path: str) -> list[str]:
    info = _field_at(root, error["loc"])
    values = _literal_values(info.annotation) if info is not None else ()
    allowed = ", ".join(str(value) for value in values) or error.get("ctx", {}).get("expected", "?")
    return [f"{path} must be one of {allowed}, got {show(error['input'])}"]


def _format_one(root: type[BaseModel], error: ErrorDetails) -> list[str]:
    kind, path, ctx = error["type"], dotted(error["loc"]), error.get("ctx", {})
    handlers: dict[str, Callable[[type[BaseModel], ErrorDetails, str], list[str]]] = {
        "extra_forbidden": _unknown_key, "missing": _missing, "literal_error": _not_allowed,
    }
    if kind in handlers:
        return handlers[kind](root, error, path)
    if kind == "cross_field":
        return list(ctx["problems"])
    if kind in PATH_ERROR_TYPES:
        return [f"{path}: {error['msg']}"]
    if kind in _COMPARISONS:
        bound_key, symbol = _COMPARISONS[kind]
        return [f"{path} must be {symbol} {_number(ctx[bound_key])}, got {show(error['input'])}"]
    if kind in _EXPECTED:
        return [f"{path} must be {_EXPECTED[kind]}, got {show(error['input'])}"]
    if kind == "finite_number":
        return [f"{path} must be a finite number, got {show(error['input'])}"]
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return [f"{path} must not be empty"]
    if kind == "string_pattern_mismatch":
        return [f"{path} must match {ctx['pattern']}, got {show(error['input'])}"]
    if kind in ("range", "invalid_url"):  # our own messages; a database URL may hold a password: not echoed
        return [f"{path} {error['msg']}"]
    if kind == "invalid_regex":
        return [f"{path} {error['msg']}, got {show(error['input'])}"]
    return [f"{path}: {error['msg']}, got {show(error['input'])}"]


def validation_problems(
    root: type[BaseModel], error: ValidationError, where: Callable[[Loc], str | None] = lambda loc: None
) -> list[str]:
    """One line per problem in ``error`` (raised validating ``root``), each prefixed with ``where(loc)``
    when it says where the key was written (``search.yaml:12``, ``override 'x=1'``)."""
    lines = []
    for details in error.errors(include_url=False):
        origin = where(details["loc"])
        lines.extend(f"{origin}: {line}" if origin else line for line in _format_one(root, details))
    return lines
