"""`timebridge serve`: the deployments of prefect.yaml, served in this process with their schedules."""

from __future__ import annotations

import os

import typer

from cli.console import console


def serve(
    replace: bool = typer.Option(
        False, "--replace", help="Take over deployments that `prefect deploy` put on a work pool (deletes those)."
    ),
) -> None:
    """Serve the deployments of prefect.yaml in this process with their schedules (needs `prefect server start`
    and PREFECT_API_URL: the ephemeral API never schedules). Schedules stay active when serve stops (a service).
    Deployments that workers run (`prefect deploy`) are left alone unless --replace."""
    from prefect import serve as prefect_serve

    from flows.deployments import delete_deployments, deployments, pool_deployments

    if not os.environ.get("PREFECT_API_URL"):
        console.print("[yellow]PREFECT_API_URL is not set: schedules need a running `prefect server start`.[/]")
    served = deployments()
    on_pools = pool_deployments(served)
    if on_pools and not replace:
        for name, (_, pool) in on_pools.items():
            console.print(f"{name} is deployed to work pool '{pool}' and run by its workers")
        console.print(
            "[red]Not serving:[/] stop the workers and run `timebridge serve --replace`, or keep the workers."
        )
        raise typer.Exit(1)
    delete_deployments([deployment_id for deployment_id, _ in on_pools.values()])
    prefect_serve(*served, limit=4, pause_on_shutdown=False)
