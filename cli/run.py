"""`timebridge run …`: a flow now, in this process, with its summary table (and a progress bar for Upwork)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer

from cli.console import console, run_flow

app = typer.Typer(help="Run a flow now, in this process (Prefect's local API unless PREFECT_API_URL is set).")

DryRun = Annotated[bool, typer.Option("--dry-run", help="Plan only; change nothing.")]
SafetyNet = Annotated[
    bool, typer.Option("--safety-net", help="Run as the schedules do: report the writes the webhooks' events missed.")
]
Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="A local date, YYYY-MM-DD.")]


@app.command("import-moco-projects")
def run_import_moco_projects(dry_run: DryRun = False, safety_net: SafetyNet = False) -> None:
    """MOCO projects flagged for sync become awork projects (customer, template, task list MOCO, tasks)."""
    from flows.import_moco_projects import import_moco_projects

    run_flow("import-moco-projects", lambda: import_moco_projects(dry_run=dry_run, safety_net=safety_net), dry_run)


@app.command("push-awork-times")
def run_push_awork_times(
    start: Day = None, end: Day = None, dry_run: DryRun = False, safety_net: SafetyNet = False
) -> None:
    """awork time entries on linked projects become MOCO activities: incremental, or a resync of start..end."""
    from flows.push_awork_times import push_awork_times

    run_flow(
        "push-awork-times",
        lambda: push_awork_times(
            start=start and start.date(), end=end and end.date(), dry_run=dry_run, safety_net=safety_net
        ),
        dry_run,
        lambda summary: f"push-awork-times {summary.first_day} to {summary.last_day}: {summary.status}",
    )


@app.command("sync-moco-absences")
def run_sync_moco_absences(
    start: Day = None, end: Day = None, dry_run: DryRun = False, safety_net: SafetyNet = False
) -> None:
    """MOCO absences become awork absences: those new or changed since the first run, or the range start..end."""
    from flows.sync_moco_absences import sync_moco_absences

    run_flow(
        "sync-moco-absences",
        lambda: sync_moco_absences(
            start=start and start.date(), end=end and end.date(), dry_run=dry_run, safety_net=safety_net
        ),
        dry_run,
        lambda summary: f"sync-moco-absences {summary.first_day} to {summary.last_day}: {summary.status}",
    )


Org = Annotated[list[str] | None, typer.Option("--org", help="An Upwork organisation id (repeat for several).")]


@app.command("backfill-upwork")
def run_backfill_upwork(start: Day = None, end: Day = None, org: Org = None, dry_run: DryRun = False) -> None:
    """Upwork hours of the syncing contracts become awork time entries: the last 90 days, or start..end (UTC)."""
    from flows.backfill_upwork import backfill_upwork

    with progress_bar():
        run_flow(
            "backfill-upwork",
            lambda: backfill_upwork(
                start=start and start.date(), end=end and end.date(), organization_ids=org, dry_run=dry_run
            ),
            title=lambda summary: f"backfill-upwork {summary.first_day} to {summary.last_day}: {summary.status}",
        )


@app.command("sync-upwork")
def run_sync_upwork(org: Org = None, dry_run: DryRun = False) -> None:
    """What the hourly deployment does: refresh, then sync the Upwork weeks that are still open."""
    from flows.sync_upwork import sync_upwork

    with progress_bar():
        run_flow(
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
