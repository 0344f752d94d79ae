"""The `timebridge` command: one module per command group (run, upwork, report, webhooks, status and db, serve),
plus the commands of installed plugins (the sandbox's `sandbox` and `demo`)."""

from __future__ import annotations

import os

import typer

from cli import doctor, report, run, serve, store, upwork, webhooks
from cli.plugins import add_plugin_commands

app = typer.Typer(help="Keeps projects and hours consistent across MOCO, awork and Upwork.", no_args_is_help=True)
app.command()(store.status)
app.command()(serve.serve)
app.command()(doctor.doctor)
add_plugin_commands(app)
app.add_typer(run.app, name="run")
app.add_typer(store.db_app, name="db")
app.add_typer(upwork.app, name="upwork")
app.add_typer(report.app, name="report", help="Reports: awork against MOCO, margin of Upwork contracts.")
app.add_typer(webhooks.app, name="webhooks")


def main() -> None:
    """The `timebridge` entry point: Prefect's analytics off unless set (before a command imports Prefect, which
    reads its settings once), then the command."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry (and no network here)
    app()
