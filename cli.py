"""The `timebridge` command: run flows, status, serve deployments, the sandbox, the demo, database upgrades."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry (and no network here)

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cli_report import report_app  # noqa: E402
from cli_upwork import app as upwork_app  # noqa: E402
from flows.console import counts_table, run_flow  # noqa: E402
from models.settings import get_settings  # noqa: E402

app = typer.Typer(help="Keeps projects and hours consistent across MOCO, awork and Upwork.", no_args_is_help=True)
run_app = typer.Typer(help="Run a flow now, in this process (Prefect's local API unless PREFECT_API_URL is set).")
db_app = typer.Typer(help="The store's schema.")
app.add_typer(run_app, name="run")
app.add_typer(db_app, name="db")
app.add_typer(upwork_app, name="upwork")
app.add_typer(report_app, name="report", help="Reports: awork against MOCO, margin of Upwork contracts.")
console = Console()


DryRun = Annotated[bool, typer.Option("--dry-run", help="Plan only; change nothing.")]
Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="A local date, YYYY-MM-DD.")]


@run_app.command("import-moco-projects")
def run_import_moco_projects(dry_run: DryRun = False) -> None:
    """MOCO projects flagged for sync become awork projects (customer, template, task list MOCO, tasks)."""
    from flows.import_moco_projects import import_moco_projects

    run_flow(console, "import-moco-projects", lambda: import_moco_projects(dry_run=dry_run), dry_run)


@run_app.command("push-awork-times")
def run_push_awork_times(start: Day = None, end: Day = None, dry_run: DryRun = False) -> None:
    """awork time entries on linked projects become MOCO activities: incremental, or a resync of start..end."""
    from flows.push_awork_times import push_awork_times

    run_flow(
        console,
        "push-awork-times",
        lambda: push_awork_times(start=start and start.date(), end=end and end.date(), dry_run=dry_run),
        dry_run,
        lambda summary: f"push-awork-times {summary.first_day} to {summary.last_day}: {summary.status}",
    )


Org = Annotated[list[str] | None, typer.Option("--org", help="An Upwork organisation id (repeat for several).")]


@run_app.command("backfill-upwork")
def run_backfill_upwork(start: Day = None, end: Day = None, org: Org = None, dry_run: DryRun = False) -> None:
    """Upwork hours of the syncing contracts become awork time entries: the last 90 days, or start..end (UTC)."""
    from flows.backfill_upwork import backfill_upwork

    with progress_bar():
        run_flow(
            console,
            "backfill-upwork",
            lambda: backfill_upwork(
                start=start and start.date(), end=end and end.date(), organization_ids=org, dry_run=dry_run
            ),
            title=lambda summary: f"backfill-upwork {summary.first_day} to {summary.last_day}: {summary.status}",
        )


@run_app.command("sync-upwork")
def run_sync_upwork(org: Org = None, dry_run: DryRun = False) -> None:
    """What the hourly deployment does: refresh, then sync the Upwork weeks that are still open."""
    from flows.sync_upwork import sync_upwork

    with progress_bar():
        run_flow(
            console,
            "sync-upwork",
            lambda: sync_upwork(organization_ids=org, dry_run=dry_run),
            title=lambda summary: f"sync-upwork {summary.first_day} to {summary.last_day}: {summary.status}",
        )


@contextmanager
def progress_bar() -> Iterator[None]:
    """A terminal progress bar following the run's progress (the Prefect UI shows the same as an artifact)."""
    from rich.progress import Progress

    from tasks.progress import listening

    with Progress(console=console, transient=True) as bar:
        task_id = bar.add_task("starting", total=None)

        def show(done: int, total: int, what: str) -> None:
            bar.update(task_id, completed=done, total=total, description=what)

        with listening(show):
            yield


@app.command()
def status() -> None:
    """Last runs, cursors and open sync issues from the store."""
    from models.store import open_store

    store = open_store(get_settings().database_url)
    runs = Table(title="last runs")
    for column in ("flow", "started (UTC)", "status", "dry run", "summary"):
        runs.add_column(column)
    for run in store.recent_runs(10):
        summary = ", ".join(f"{k}={v}" for k, v in run.summary.items() if v)
        runs.add_row(run.flow, f"{run.started_at:%Y-%m-%d %H:%M}", run.status, "yes" if run.dry_run else "", summary)
    console.print(runs)
    cursors = store.cursors()
    if cursors:
        console.print(counts_table("cursors", {c.name: c.value.isoformat() for c in cursors}))  # type: ignore[dict-item]
    issues = store.open_issues()
    console.print(f"{len(issues)} open sync issue(s)")
    for issue in issues:
        since = f"{issue.first_seen:%Y-%m-%d}"
        console.print(f"  [yellow]{issue.flow}[/] {issue.kind} ({issue.object_ref}, since {since}): {issue.message}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the latest schema."""
    from models.migrate import upgrade
    from models.store import engine_for

    url = get_settings().database_url
    upgrade(engine_for(url))
    console.print(f"store at {engine_for(url).url.render_as_string(hide_password=True)} is up to date", soft_wrap=True)


@app.command()
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


@app.command()
def sandbox(
    moco_port: int = typer.Option(8801, help="Port of the MOCO simulator."),
    awork_port: int = typer.Option(8802, help="Port of the awork simulator."),
    upwork_port: int = typer.Option(8803, help="Port of the Upwork simulator."),
    rate_limits: bool = typer.Option(True, help="Enforce the APIs' documented rate limits."),
) -> None:
    """Serve the simulators on loopback with demo data, until interrupted."""
    from sandbox.demo import start_sandbox

    with start_sandbox(moco_port, awork_port, upwork_port, rate_limits) as sims:
        console.print("Simulators are running. Point timebridge at them with:")
        for name, value in sims.environment().items():
            console.print(f"  export {name}={value}")
        console.print("Ctrl-C stops them.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command()
def demo() -> None:
    """Start the simulators with demo data, run the flows end to end, and print what they did."""
    from sandbox.demo import run_demo

    run_demo(console)
