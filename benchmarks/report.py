"""Results as markdown: a machine line, the command, the date, and tables; each benchmark owns one section of
``RESULTS.md`` (between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``) that a new run replaces."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.paths import RESULTS_FILE

HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by its benchmark (`python -m benchmarks NAME`); re-running one replaces its section.\n"
)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> str:
    """CPU model, core count, memory, Python, torch, and the load average (1/5/15 min) right now."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}; load average {load_average()}"
    )


def command_line() -> str:
    return "python -m benchmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def section(name: str, title: str, body: str, *, machine_line: str) -> str:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!-- {name}:start -->\n## {title}\n\n"
        f"* machine: {machine_line}\n* command: `{command_line()}`\n* date: {date}\n\n{body.strip()}\n"
        f"<!-- {name}:end -->\n"
    )


def write_section(name: str, text: str, path: Path = RESULTS_FILE) -> None:
    """Replace (or append) benchmark ``name``'s section, keeping sections in name order."""
    current = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->\n", re.S)
    sections = {m.group(1): m.group(0) for m in pattern.finditer(current)}
    sections[name] = text
    head = pattern.sub("", current).rstrip() + "\n\n"
    path.write_text(head + "\n".join(sections[k] for k in sorted(sections)), encoding="utf-8")
