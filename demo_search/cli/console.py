"""One rich console for the CLI, and logging rendered through it."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def setup_logging(verbose: bool) -> None:
    """Route the library's ``logging`` records to stderr through rich."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("ray", "urllib3", "httpx", "filelock", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
