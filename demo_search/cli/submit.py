"""``demo-search submit CONFIG``: run a whole search on a Ray cluster as a Ray Job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from demo_search.cli.console import console, err_console
from demo_search.cli.failures import EXIT_FAILED, print_error
from demo_search.cli.options import ConfigArg, DbOption, SetOption, WorkersOption
from demo_search.config import load_config, shortcut_overrides
from demo_search.errors import DemoSearchError
from demo_search.jobs import dashboard_address, follow_job, job_status, parse_resources, plan_job, submit_job


def submit(
    config_path: ConfigArg,
    overrides: SetOption = None,
    name: Annotated[str | None, typer.Option("--name", help="Search name (overrides the config).")] = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="The cluster's job server (dashboard), http://HEAD:8265 "
                                       "(default: $RAY_ADDRESS if it is an http:// URL, else http://127.0.0.1:8265)."),
    ] = None,
    working_dir: Annotated[
        Path | None,
        typer.Option("--working-dir", help="Directory uploaded as the job's working directory; it must hold the "
                                           "config and its data (default: the config file's directory)."),
    ] = None,
    entrypoint_num_cpus: Annotated[
        float | None, typer.Option("--entrypoint-num-cpus", help="CPUs reserved for the driver process.")
    ] = None,
    entrypoint_resources: Annotated[
        list[str] | None,
        typer.Option("--entrypoint-resource", help="A custom resource the driver needs, NAME=AMOUNT (repeatable), "
                                                   "e.g. to pin it to a node that offers it."),
    ] = None,
    submission_id: Annotated[str | None, typer.Option("--submission-id", help="Job id to use (default: Ray's).")] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Stream the job's logs until it ends; exit 1 unless it succeeded.")
    ] = False,
) -> None:
    """Submit a search as a Ray Job; `ray job status/logs/stop` then work as usual, and submitting the same
    configuration again continues a stopped search."""
    try:
        config = load_config(config_path, [*(overrides or ()), *shortcut_overrides(name=name, workers=workers)])
        request = plan_job(
            config_path, config, overrides=overrides or (), name=name, workers=workers, db=db,
            working_dir=working_dir, entrypoint_num_cpus=entrypoint_num_cpus,
            entrypoint_resources=parse_resources(entrypoint_resources or ()),
        )
        server = dashboard_address(address)
        job_id = submit_job(request, server, submission_id=submission_id)
    except DemoSearchError as error:
        print_error(error)
        raise typer.Exit(EXIT_FAILED) from None
    console.print(f"[bold green]submitted[/] search {request.search_name} as Ray job [bold]{job_id}[/] to {server}")
    console.print(f"  follow its logs: ray job logs --address {server} --follow {job_id}")
    console.print(f"  status / stop:   ray job status --address {server} {job_id}  |  ray job stop ... {job_id}")
    console.print(f"  progress:        demo-search status {request.search_name}   (a stopped search continues "
                  "when the same config is submitted again)")
    if not follow:
        return
    for line in follow_job(server, job_id):
        err_console.print(line, markup=False, highlight=False)
    status = job_status(server, job_id)
    console.print(f"job {job_id}: {status}")
    if status != "SUCCEEDED":
        raise typer.Exit(1)
