"""The CLI's terminal output: one console, tables of counts and rows, and running a flow with its summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from models.store import IssueDraft

console = Console()


def counts_table(title: str, counts: Mapping[str, object]) -> Table:
    """A two-column table of a run's counts."""
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in counts.items():
        table.add_row(key.replace("_", " "), str(value))
    return table


def print_rows(tables: Mapping[str, Sequence[Mapping[str, object]]]) -> None:
    """Print tables given as rows of column -> value (empty ones are left out)."""
    for title, rows in tables.items():
        if not rows:
            continue
        table = Table(title=title)
        for column in rows[0]:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(value) for value in row.values()))
        console.print(table)


def print_issues(issues: Sequence[IssueDraft]) -> None:
    for issue in issues:
        console.print(f"  [yellow]sync issue[/] {issue.kind}: {issue.message}")


def call_flow(name: str, call: Callable[[], Any]) -> Any:
    """Run a flow in this process and return its result; exit 1 (saying why) when the run failed."""
    try:
        return call()
    except Exception as error:  # the run is recorded as failed in the store and in Prefect
        console.print(f"[red]{name} failed:[/] {error}")
        raise typer.Exit(1) from error


def run_flow(
    name: str,
    call: Callable[[], Any],
    dry_run: bool = False,
    title: Callable[[Any], str] | None = None,
) -> None:
    """Run a flow in this process, print its summary and issues; exit 1 (saying why) when the run failed."""
    summary = call_flow(name, call)
    counts = summary.planned if dry_run else summary.counts()
    console.print(counts_table(title(summary) if title else f"{name}: {summary.status}", counts))
    print_issues(summary.issues)
