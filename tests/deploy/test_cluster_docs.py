"""The README's cluster section matches the deployment files: the services, ports and files it names exist, and
every `demo-search`, `ray` and `docker compose` command it shows is accepted by the real command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from compose_testing import REPO, check_command, published_ports, rendered

HEADING = "## Running on a Ray cluster"
PLACES = (REPO / "README.md",)
COMPOSE_OPTIONS_WITH_VALUE = {"-f", "--file", "-p", "--project-name", "--env-file", "--profile", "--scale"}
FILE_NAME = re.compile(r"^[\w.-]*/?[\w./-]*\.(?:ya?ml|md|toml|example|Dockerfile)$|^[\w-]+/[\w./-]*$")


def cluster_section() -> tuple[Path, str]:
    """The section under HEADING, from the first of PLACES that has it, up to the next heading of its level."""
    for place in PLACES:
        text = place.read_text() if place.exists() else ""
        start = text.find(HEADING + "\n")
        if start >= 0:
            following = re.search(r"^## ", text[start + len(HEADING):], re.MULTILINE)
            end = start + len(HEADING) + following.start() if following else len(text)
            return place, text[start:end]
    pytest.fail(f"no section {HEADING!r} in {' or '.join(str(p.relative_to(REPO)) for p in PLACES)}")


PLACE, SECTION = cluster_section()
SERVICES = rendered()["services"]


def shell_lines() -> list[str]:
    """Command lines of the section's fenced code blocks, comments removed."""
    lines = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", SECTION, re.DOTALL):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(shlex.join(words))
    return lines


def inline_code() -> list[str]:
    """The section's `inline code` spans outside fenced blocks, a span broken over lines joined with a space."""
    prose = re.sub(r"```.*?```", "", SECTION, flags=re.DOTALL)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def commands() -> list[list[str]]:
    """Every `demo-search`, `ray` or `docker compose` command the section shows, as words (VAR=value prefixes
    dropped)."""
    found = []
    for text in [*shell_lines(), *inline_code()]:
        words = shlex.split(text)
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words.pop(0)
        if words[:1] in (["demo-search"], ["ray"]) or words[:2] == ["docker", "compose"]:
            found.append(words)
    return found


def compose_subcommand(words: list[str]) -> tuple[str, list[str]]:
    """The subcommand of a `docker compose` command line and the words after it."""
    rest = words[2:]
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in COMPOSE_OPTIONS_WITH_VALUE else rest[1:]
    return (rest[0], rest[1:]) if rest else ("", [])


def exec_in_service(words: list[str]) -> tuple[str, list[str]] | None:
    """(service, command) of a `docker compose exec SERVICE COMMAND...` line; None for any other line."""
    if words[:2] != ["docker", "compose"]:
        return None
    subcommand, rest = compose_subcommand(words)
    return (rest[0], rest[1:]) if subcommand == "exec" and rest else None


def test_the_section_shows_how_to_bring_up_submit_watch_stop_and_export() -> None:
    shown = [shlex.join(words) for words in commands()]
    shown += [shlex.join(inner) for _, inner in filter(None, map(exec_in_service, commands()))]
    for needed in ("docker compose up", "demo-search submit", "ray job logs", "ray job stop", "demo-search status",
                   "demo-search export"):
        assert any(line.startswith(needed) for line in shown), (
            f"{PLACE.name}: the cluster section never shows `{needed}`")
    assert "cp .env.example .env" in SECTION, f"{PLACE.name}: the cluster section must start from .env.example"


def test_every_command_shown_runs() -> None:
    shown = commands()
    assert shown, f"{PLACE.name}: the cluster section shows no command"
    for words in shown:
        where = f"{PLACE.name} `{shlex.join(words)}`"
        if words[0] != "docker":
            check_command(words, where)
        elif executed := exec_in_service(words):
            service_name, inner = executed
            assert service_name in SERVICES, f"{where}: docker-compose.yml has no service {service_name!r}"
            check_command(inner, where)


def test_every_service_scaled_or_named_exists() -> None:
    named = re.findall(r"--scale[ =]([\w-]+)=", " ".join(shlex.join(w) for w in commands()))
    named += re.findall(r"^\| `([\w-]+)` \|", SECTION, re.MULTILINE)  # the services table
    assert named, f"{PLACE.name}: the cluster section names no service"
    for name in named:
        assert name in SERVICES, f"{PLACE.name} names service {name!r}; docker-compose.yml has {sorted(SERVICES)}"


def test_every_local_url_is_a_published_port() -> None:
    published = {host for spec in SERVICES.values() for host, _ in published_ports(spec)}
    ports = re.findall(r"https?://(?:localhost|127\.0\.0\.1):(\d+)", SECTION)
    assert ports, f"{PLACE.name}: the cluster section gives no local URL (the dashboard)"
    for port in ports:
        assert port in published, f"{PLACE.name} sends readers to port {port}, which no service publishes ({published})"


def test_every_file_named_exists() -> None:
    names = [span for span in inline_code() if FILE_NAME.match(span)]
    assert names, f"{PLACE.name}: the cluster section names no file"
    for name in names:
        assert (REPO / name).exists(), f"{PLACE.name} names `{name}`, which is not in the repository"
