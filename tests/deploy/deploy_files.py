"""Readers for the deployment files, for tests that check them without Docker.

* :func:`parse_dockerfile` — a Dockerfile as instructions (known keywords only, line continuations joined, comments
  and parser directives skipped); :func:`copy_sources` and :func:`pip_extras` read COPY and ``pip install`` lines.
* :func:`string_values`, :func:`interpolations`, :func:`interpolate` — Compose's ``${VAR}``, ``${VAR:-default}``,
  ``${VAR:?error}`` and ``$$`` escapes in the values of a loaded file; :func:`dotenv_names` — an env file's settings.
* :class:`DockerIgnore` — whether a path of the build context is excluded by ``.dockerignore``.
* :func:`resolve_command` — a command line parsed by the click (or typer) command tree of its console script, so
  an unknown subcommand or option fails the way it would at run time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import typer

INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
_DIRECTIVE = re.compile(r"#\s*(syntax|escape|check)\s*=", re.IGNORECASE)


class DeployFileError(ValueError):
    """A deployment file that Docker or Compose would reject; the message names the file and line."""


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case), its arguments as written, its first line."""

    keyword: str
    arguments: str
    line: int


def parse_dockerfile(path: Path) -> list[Instruction]:
    """The instructions of the Dockerfile at ``path``; raises :class:`DeployFileError` naming ``path:line`` for an
    unknown instruction, a continuation left open at the end, or a first instruction other than ``ARG``/``FROM``."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    leading = True  # parser directives are only read before anything else
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        directive = _DIRECTIVE.match(stripped) if leading else None
        if directive:
            if directive.group(1).lower() == "escape" and stripped.partition("=")[2].strip() != "\\":
                raise DeployFileError(f"{path}:{number}: only the default escape character \\ is supported")
            continue
        leading = False
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        instructions.append(_instruction(path, " ".join(part for part in pending if part), start))
        pending = []
    if pending:
        raise DeployFileError(f"{path}:{start}: the instruction continued with '\\' never ends")
    stage_start = next((i for i in instructions if i.keyword != "ARG"), None)
    if stage_start is None or stage_start.keyword != "FROM":
        where = f"{path}:{stage_start.line}" if stage_start else str(path)
        raise DeployFileError(f"{where}: the first instruction after the leading ARGs must be FROM")
    return instructions


def _instruction(path: Path, text: str, line: int) -> Instruction:
    keyword, _, arguments = text.partition(" ")
    if keyword.upper() not in INSTRUCTIONS:
        raise DeployFileError(f"{path}:{line}: unknown instruction {keyword!r}; expected one of "
                              f"{', '.join(sorted(INSTRUCTIONS))}")
    if not arguments.strip():
        raise DeployFileError(f"{path}:{line}: {keyword.upper()} has no arguments")
    return Instruction(keyword.upper(), arguments.strip(), line)


def copy_sources(instruction: Instruction) -> list[str]:
    """The context paths a COPY or ADD reads (none for ``--from=`` copies, which read another image or stage)."""
    words = _exec_form(instruction) or shlex.split(instruction.arguments)
    flags = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    if len(paths) < 2:
        raise DeployFileError(f"line {instruction.line}: {instruction.keyword} needs at least a source and a "
                              f"destination, got {instruction.arguments!r}")
    if any(flag.startswith("--from=") for flag in flags):
        return []
    return paths[:-1]


def _exec_form(instruction: Instruction) -> list[str] | None:
    if not instruction.arguments.startswith("["):
        return None
    try:
        words = json.loads(instruction.arguments)
    except json.JSONDecodeError as error:
        raise DeployFileError(f"line {instruction.line}: {instruction.keyword} in JSON form does not parse: "
                              f"{error}") from None
    return [str(word) for word in words]


_PIP_INSTALL = re.compile(r"\bpip3?\s+install\b([^&;|]*)")
_LOCAL_EXTRAS = re.compile(r"""(?:^|\s)["']?\.\[([^\]]*)\]["']?""")


def pip_extras(instruction: Instruction) -> list[set[str]]:
    """The extras of each ``pip install ".[a,b]"`` of this project in a RUN instruction, one set per install."""
    if instruction.keyword != "RUN":
        return []
    found = []
    for install in _PIP_INSTALL.finditer(instruction.arguments):
        for extras in _LOCAL_EXTRAS.finditer(install.group(1)):
            found.append({extra.strip() for extra in extras.group(1).split(",") if extra.strip()})
    return found


@dataclass(frozen=True)
class Interpolation:
    """One ``${...}`` or ``$VAR`` of a Compose value: the variable, its operator (``:-``, ``-``, ``:?``, ``?`` or
    empty) and the operand (default value or error message)."""

    name: str
    operator: str
    operand: str


_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<operand>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>))"
)


def string_values(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a loaded YAML document with its key path (``services.postgres.ports[0]``); keys are not
    included: Compose interpolates values only."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from string_values(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from string_values(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def interpolations(value: str) -> list[Interpolation]:
    """Every variable ``value`` interpolates, in order (``$$`` is a literal ``$`` and names nothing); a ``$`` that
    starts none of these forms raises :class:`DeployFileError`, as Compose rejects it."""
    found = []
    for match in _INTERPOLATION.finditer(value):
        if match.group("invalid") is not None:
            raise DeployFileError(f"invalid interpolation at {value[match.start():match.start() + 20]!r}"
                                  " (write $$ for a literal $)")
        if not match.group("escaped"):
            found.append(Interpolation(match.group("braced") or match.group("named"),
                                       match.group("operator") or "", match.group("operand") or ""))
    return found


def interpolate(node: object, environment: Mapping[str, str]) -> object:
    """A copy of the loaded YAML ``node`` with every string value interpolated as Compose does; a required
    variable (``:?`` / ``?``) without a value raises :class:`DeployFileError` with the file's own message."""
    if isinstance(node, dict):
        return {key: interpolate(value, environment) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, environment) for value in node]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            raise DeployFileError(f"invalid interpolation at {node[match.start():match.start() + 20]!r}")
        name = match.group("braced") or match.group("named")
        operator, operand = match.group("operator") or "", match.group("operand") or ""
        value = environment.get(name)
        missing = value is None or (operator.startswith(":") and value == "")
        if missing and operator.endswith("?"):
            raise DeployFileError(f"required variable {name} is missing a value: {operand}")
        if missing and operator.endswith("-"):
            return operand
        return value or ""

    return _INTERPOLATION.sub(replace, node)


def dotenv_names(path: Path) -> dict[str, str]:
    """The ``NAME=value`` settings of an env file (comments and blank lines skipped, quotes around values removed)."""
    settings = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise DeployFileError(f"{path}:{number}: expected NAME=value, got {raw!r}")
        settings[name.strip()] = value.strip().strip("'\"")
    return settings


@dataclass(frozen=True)
class DockerIgnore:
    """The rules of a ``.dockerignore``: patterns relative to the context root (``*`` and ``?`` stay within one
    path segment, ``**`` spans any number), ``!`` re-includes, the last matching rule wins, and excluding a
    directory excludes everything in it."""

    rules: tuple[tuple[bool, re.Pattern[str]], ...]

    @classmethod
    def from_file(cls, path: Path) -> DockerIgnore:
        rules = []
        for raw in path.read_text().splitlines() if path.exists() else []:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/")
            rules.append((include, re.compile(_pattern_regex(pattern))))
        return cls(tuple(rules))

    def excludes(self, relative_path: str) -> bool:
        """Whether the context path ``relative_path`` (POSIX, relative to the context root) is left out."""
        parts = Path(relative_path).as_posix().strip("/").split("/")
        candidates = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
        excluded = False
        for include, regex in self.rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                excluded = not include
        return excluded


def _pattern_regex(pattern: str) -> str:
    regex, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif pattern[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif pattern[index] == "?":
            regex, index = regex + "[^/]", index + 1
        else:
            regex, index = regex + re.escape(pattern[index]), index + 1
    return regex


# Typer ships its own copy of click: its commands are not click.Command instances and its errors derive from
# typer.TyperException, so a command tree is read through the methods both share.
CommandTree = Any
_USAGE_ERRORS = (click.ClickException, typer.TyperException)


def click_root(script: str, reference: str) -> CommandTree:
    """The command tree behind ``reference`` (``module:attribute``, a click command or a typer app)."""
    module_name, _, attribute = reference.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_command(target)
    if isinstance(target, click.Command):
        return target
    raise DeployFileError(f"{reference} (console script {script}) is neither a click command nor a typer app")


def console_script(name: str) -> importlib.metadata.EntryPoint:
    """The installed console script ``name``; raises :class:`DeployFileError` when no distribution provides it."""
    scripts = importlib.metadata.entry_points(group="console_scripts").select(name=name)
    if not scripts:
        raise DeployFileError(f"no installed distribution provides the console script {name!r}")
    return next(iter(scripts))


def resolve_command(root: CommandTree, argv: list[str], program: str | None = None) -> Any:
    """Parse ``argv`` (without the program name) through the command tree under ``root``: each word before the
    leaf must name a subcommand of its group, and the leaf must accept the remaining options and arguments.
    Raises :class:`DeployFileError` saying which word is wrong; returns the leaf's parsed context."""
    command, path, words = root, [program or root.name or "?"], list(argv)
    while hasattr(command, "list_commands"):  # a group
        context = command.context_class(command, info_name=path[-1])
        subcommands = ", ".join(command.list_commands(context))
        if not words or words[0].startswith("-"):
            raise DeployFileError(f"`{' '.join(path)}` is a command group: name one of its subcommands ({subcommands})")
        name = words.pop(0)
        subcommand = command.get_command(context, name)
        if subcommand is None:
            raise DeployFileError(f"`{' '.join(path)}` has no subcommand {name!r}; it has {subcommands}")
        command, path = subcommand, [*path, name]
    try:
        return command.make_context(" ".join(path), list(words))  # click consumes the list it parses
    except _USAGE_ERRORS as error:
        raise DeployFileError(f"`{' '.join(path)} {' '.join(words)}`: {error.format_message()}") from None
