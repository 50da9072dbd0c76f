"""The typer application: global options and the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from demo_search.cli.console import console, setup_logging
from demo_search.version import __version__

app = typer.Typer(
    name="demo-search",
    help="Greedy demonstration search for in-context alignment of base LLMs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help and usage errors: flags as flags (rich's panels show "<bool>"), one line each
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"demo-search {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    setup_logging(verbose)


def _register() -> None:
    from demo_search.cli.database import db_app, list_searches
    from demo_search.cli.report import export, status
    from demo_search.cli.run import resume, run
    from demo_search.cli.submit import submit
    from demo_search.cli.tune import tune
    from demo_search.cli.validate import validate

    app.command("validate")(validate)
    app.command("run")(run)
    app.command("resume")(resume)
    app.command("submit")(submit)
    app.command("status")(status)
    app.command("export")(export)
    app.command("tune")(tune)
    app.command("list")(list_searches)
    app.add_typer(db_app, name="db")
    app.command("dashboard")(__import__("demo_search.cli.dashboard", fromlist=["dashboard"]).dashboard)


_register()
