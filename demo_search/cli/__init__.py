"""The ``demo-search`` command line (typer + rich)."""

from demo_search.cli.app import app

__all__ = ["app"]
