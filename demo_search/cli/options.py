"""Options and arguments that several commands share (typer ``Annotated`` types)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

NameArg = Annotated[str, typer.Argument(help="The search name.", show_default=False)]
ConfigArg = Annotated[Path, typer.Argument(help="The search configuration (YAML).", show_default=False)]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override a key: --set strategy.max_steps=4 (repeatable).")
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $DEMO_SEARCH_DB, else the config's database.url where there is a config, "
        "else sqlite:///./demo_search.db).",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    str | None, typer.Option("--workers", help="Engine actors: a number, or auto (fill the cluster).")
]
AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="Ray cluster to use: auto or ray://HOST:PORT (default: $RAY_ADDRESS, else local)."),
]
ExportOutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Also export the best set as JSON here.")
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document instead of tables (schema: python -m "
                                "demo_search.cli.json_views COMMAND)."),
]
