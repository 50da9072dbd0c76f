"""The CLI's error boundary: what a command prints when it fails, and its exit code.

A user-fixable problem (:class:`~demo_search.errors.DemoSearchError`) prints its summary and one line per problem;
a failure of the store or of the workers prints one line. Neither prints a traceback.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape

from db import StoreError
from demo_search.cli.console import err_console
from demo_search.errors import DemoSearchError
from workers.errors import WorkerError

ENGINE_PACKAGES = frozenset({"torch", "transformers", "tokenizers", "safetensors", "ray", "optuna", "psutil"})
"""What the ``search`` extra installs: needed to run searches and tuning, never to read the store."""

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)."""


def print_error(error: DemoSearchError) -> None:
    """``error: SUMMARY`` and ``  - PROBLEM`` for each problem, on stderr."""
    err_console.print(f"[bold red]error:[/] {escape(error.summary)}")
    for line in error.problems:
        err_console.print(f"  - {line}", markup=False)


def print_failure(error: BaseException | str) -> None:
    """``error: MESSAGE`` on one line of stderr (a message spread over lines is joined)."""
    err_console.print(f"[bold red]error:[/] {escape(' '.join(str(error).split()))}")


@contextmanager
def reported_failures() -> Iterator[None]:
    """Run a command's body; a ``DemoSearchError``, ``StoreError`` or ``WorkerError`` is printed and exits 1, and
    so does a missing engine package (a light install without the ``search`` extra), naming what to install."""
    try:
        yield
    except DemoSearchError as error:
        print_error(error)
        raise typer.Exit(EXIT_FAILED) from None
    except (StoreError, WorkerError) as error:
        print_failure(error)
        raise typer.Exit(EXIT_FAILED) from None
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in ENGINE_PACKAGES:
            raise
        print_failure(f"this command needs the search extra (missing: {error.name}): "
                      'pip install "demo-search[search]"')
        raise typer.Exit(EXIT_FAILED) from None


def _interrupt_on_signals() -> None:
    """Treat SIGTERM (``ray job stop``, ``docker stop``, ``kill``) like Ctrl-C, and both as an interrupt of this
    process only: a child that Ray forks runs Python for a moment before it becomes another program, and a Ctrl-C
    to the process group landing then would print a ``KeyboardInterrupt`` traceback from that child."""
    owner = os.getpid()

    def interrupt(signum: int, frame: object) -> None:
        if os.getpid() == owner:
            raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


@contextmanager
def engine_command(on_interrupt: str) -> Iterator[None]:
    """The boundary of a command that runs engines on Ray (``run``, ``resume``, ``tune``): failures as in
    ``reported_failures``; Ctrl-C or SIGTERM prints ``interrupted: ON_INTERRUPT`` and exits 130 (the search is
    marked interrupted and its lease released on the way out); and whatever happens, the Ray this command started
    and every process it left behind are stopped."""
    _interrupt_on_signals()
    try:
        with reported_failures():
            yield
    except KeyboardInterrupt:
        err_console.print(f"[yellow]interrupted[/]: {escape(on_interrupt)}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        from demo_search.search.cluster import shutdown_ray

        shutdown_ray()


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "engine_command", "print_error", "print_failure", "reported_failures"]
