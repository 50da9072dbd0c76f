"""``demo-search dashboard``: serve the read-only web dashboard of a database."""

from __future__ import annotations

from typing import Annotated

import typer

from demo_search.cli.failures import EXIT_FAILED, print_failure, reported_failures
from demo_search.cli.options import DbOption
from demo_search.config import resolve_database_url

DASHBOARD_PACKAGES = frozenset({"starlette", "uvicorn", "plotly", "anyio"})
"""What the ``dashboard`` extra installs."""


def dashboard(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; the default serves this machine only.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
) -> None:
    """Serve a read-only web dashboard of the searches: progress, trajectories, candidates and answers."""
    with reported_failures():
        try:
            from demo_search.dashboard.server import serve
        except ModuleNotFoundError as error:
            if (error.name or "").partition(".")[0] not in DASHBOARD_PACKAGES:
                raise
            print_failure(
                f"the dashboard needs the dashboard extra (missing: {error.name}): "
                'pip install "demo-search[dashboard]"'
            )
            raise typer.Exit(EXIT_FAILED) from None
        try:
            serve(resolve_database_url(db), host=host, port=port)
        except KeyboardInterrupt:
            pass
