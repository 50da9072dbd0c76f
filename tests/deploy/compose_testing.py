"""This repository's deployment files as the deploy tests read them: the compose file (raw and interpolated with
.env.example's settings), the services built here, and the check that a command line names a real entry point."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from deploy_files import (
    CommandTree,
    DeployFileError,
    click_root,
    console_script,
    dotenv_names,
    interpolate,
    resolve_command,
)

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
TEST_PASSWORD = "compose-test-password"
TEST_RAY_TOKEN = "0123456789abcdef"

# Console scripts whose entry point is a plain function wrapping a click group: the group to parse commands with.
# The module must be the console script's own (checked), so this cannot drift from the installed package.
CLICK_GROUPS = {"ray": "ray.scripts.scripts:cli"}


def load_compose() -> dict:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), f"{COMPOSE_FILE} must hold a mapping, got {type(document).__name__}"
    return document


COMPOSE = load_compose()


def example_environment() -> dict[str, str]:
    """The settings of .env.example, with the secrets a user must fill in filled in."""
    return {**dotenv_names(ENV_EXAMPLE), "POSTGRES_PASSWORD": TEST_PASSWORD, "RAY_AUTH_TOKEN": TEST_RAY_TOKEN}


def rendered() -> dict:
    """The compose file as Compose sees it with .env.example's settings."""
    return interpolate(COMPOSE, example_environment())


def builds() -> list[tuple[str, Path, Path]]:
    """(service, context, Dockerfile) of every service built from this repository."""
    found = []
    for name, spec in COMPOSE["services"].items():
        build = spec.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = (REPO / build.get("context", ".")).resolve()
        found.append((name, context, context / build.get("dockerfile", "Dockerfile")))
    return found


def command_words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def published_ports(spec: dict) -> list[tuple[str, str]]:
    """(host port, container port) of each port a rendered service publishes, short or long syntax."""
    ports = []
    for port in spec.get("ports", []):
        if isinstance(port, dict):
            ports.append((str(port.get("published", "")), str(port["target"])))
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        ports.append((parts[-2] if len(parts) > 1 else "", parts[-1]))
    return ports


def root_command(script: str) -> CommandTree:
    """The click tree of console script ``script``: ours as pyproject.toml declares it, others as installed."""
    ours = PYPROJECT["project"]["scripts"]
    if script in ours:
        return click_root(script, ours[script])
    entry_point = console_script(script)
    reference = CLICK_GROUPS.get(script, entry_point.value)
    assert reference.partition(":")[0] == entry_point.module, (
        f"CLICK_GROUPS[{script!r}] = {reference} is not in the console script's module {entry_point.module}")
    return click_root(script, reference)


def check_command(words: list[str], where: str) -> None:
    """``words`` must be a console script of ours or of an installed distribution, accepted by its click tree."""
    assert words, f"{where}: empty command"
    try:
        resolve_command(root_command(words[0]), words[1:], program=words[0])
    except DeployFileError as error:
        pytest.fail(f"{where}: {error}")
