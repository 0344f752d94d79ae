"""`timebridge report …`: awork against MOCO (reconcile) and the margin of Upwork contracts, run as flows in this
process; prints the report as a table and where its CSV and PNG are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.console import call_flow, console

app = typer.Typer(
    help="Reports: awork against MOCO, margin of Upwork contracts (CSV, PNG, Prefect artifacts).", no_args_is_help=True
)

Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="A date, YYYY-MM-DD.")]


class ReconcileBy(StrEnum):
    project = "project"
    user = "user"
    day = "day"
    week = "week"


class MarginBy(StrEnum):
    contract = "contract"
    project = "project"
    organisation = "organisation"


WRAPPED = ("cause", "missing_rates")  # long texts wrap; keys and figures stay on one line
FIGURES = {
    *("awork_hours", "moco_hours", "difference", "differences"),
    *("entries", "hours", "pay_cost", "revenue", "margin", "margin_percent"),
}


def rows_table(title: str, rows: Sequence[dict[str, Any]]) -> Table:
    """Report rows as a rich table: figures right-aligned, a total line bold."""
    table = Table(title=title)
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(
            column.replace("_", " "), justify="right" if column in FIGURES else "left", no_wrap=column not in WRAPPED
        )
    for row in rows:
        cells = ["" if row[c] is None else str(row[c]) for c in columns]
        table.add_row(*cells, style="bold" if cells and cells[0] == "total" else None)
    return table


def print_files(files: Any) -> None:
    for path in (files.csv, files.differences_csv, files.png):
        if path:
            console.print(f"  wrote {path}", soft_wrap=True, markup=False)


@app.command("reconcile")
def reconcile(
    start: Day = None,
    end: Day = None,
    by: Annotated[ReconcileBy, typer.Option(help="One line per project, user, day or week.")] = ReconcileBy.project,
) -> None:
    """Hours of the linked projects in awork against MOCO (default: the last 35 days up to yesterday), with each
    difference's cause and whether the two sides agree."""
    from flows.reconcile_hours import reconcile_hours, total_line

    summary = call_flow(
        "reconcile-hours",
        lambda: reconcile_hours(start=start and start.date(), end=end and end.date(), by=by.value),
    )
    console.print(
        rows_table(f"awork against MOCO per {summary.by}, {summary.first_day} to {summary.last_day}", summary.rows)
    )
    if summary.difference_rows:
        console.print(rows_table("differences per project, user and day", summary.difference_rows))
    console.print(total_line(summary).replace("**", ""))
    print_files(summary.files)


@app.command("upwork-margin")
def upwork_margin(
    start: Day = None,
    end: Day = None,
    by: Annotated[MarginBy, typer.Option(help="One line per contract, awork project or organisation.")] = (
        MarginBy.contract
    ),
) -> None:
    """Hours, pay cost, billed revenue and margin of the time synced from Upwork (default: the last 35 days up to
    yesterday), per currency."""
    from flows.upwork_margin import totals_line
    from flows.upwork_margin import upwork_margin as margin_flow

    summary = call_flow(
        "upwork-margin", lambda: margin_flow(start=start and start.date(), end=end and end.date(), by=by.value)
    )
    console.print(
        rows_table(f"Upwork margin per {summary.by}, {summary.first_day} to {summary.last_day}", summary.rows)
    )
    console.print(totals_line(summary).replace("**", ""))
    print_files(summary.files)
