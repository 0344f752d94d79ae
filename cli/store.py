"""`timebridge status` and `timebridge db upgrade`: what the store knows, and its schema."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.console import console, counts_table
from models.settings import get_settings

db_app = typer.Typer(help="The store's schema.")


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
        console.print(counts_table("cursors", {c.name: c.value.isoformat() for c in cursors}))
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
