"""Flow "upwork margin": hours, pay cost, billed revenue and margin of the time synced from Upwork, per contract,
awork project or organisation, from the stored entries and the rates of their day. Writes CSV and PNG, publishes
artifacts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from pydantic import BaseModel

from models import clock
from tasks.report_rules import MARGIN_BY, TOTAL, check_choice, margin_report, report_window
from tasks.reports import ReportFiles, publish_report, read_upwork_entries, table_rows, write_margin_files
from tasks.runs import recorded_run

FLOW_NAME = "upwork-margin"


class MarginSummary(BaseModel):
    """The flow's return value: the range, the report's rows (a total line per currency last) and its files."""

    status: str = "completed"
    first_day: date
    last_day: date
    by: str
    entries: int
    rows: list[dict[str, Any]]
    files: ReportFiles

    def totals(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row[MARGIN_BY[self.by][0]] == TOTAL]


@flow(name=FLOW_NAME, timeout_seconds=3600)
def upwork_margin(start: date | None = None, end: date | None = None, by: str = "contract") -> MarginSummary:
    """Margin of the Upwork time synced to awork on the UTC days `start`..`end` (by default the last 35 days up to
    yesterday), per contract, project or organisation and currency: hours, pay cost (hours x pay rate), revenue
    (hours x bill rate) and margin; entries without a rate leave their group's figure empty and are flagged."""
    with recorded_run(FLOW_NAME, publish=False) as run:
        check_choice(by, MARGIN_BY)
        first, last = report_window(start, end, clock.today())
        entries: pd.DataFrame = read_upwork_entries(first, last)
        report = margin_report(entries, by)
        title = f"Upwork margin per {by}, {first} to {last}"
        labels = [*MARGIN_BY[by], "currency"]
        files = write_margin_files(report, labels, f"upwork-margin-{first}-to-{last}-by-{by}", title)
        summary = MarginSummary(
            first_day=first, last_day=last, by=by, entries=len(entries), rows=table_rows(report), files=files
        )
        run.finish({"entries": summary.entries, "totals": summary.totals()}, status=summary.status)
    publish_report(FLOW_NAME, title, report, files, [totals_line(summary)])
    get_run_logger().info("%s (%s to %s): %d entries", summary.status, first, last, summary.entries)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state


def totals_line(summary: MarginSummary) -> str:
    """The total lines in words, one per currency."""
    if not summary.totals():
        return f"**{TOTAL}**: no time synced from Upwork in this range."
    parts = [
        f"{row['currency'] or 'no currency'}: {row['hours']} h, pay cost {row['pay_cost'] or 'n/a'}, revenue "
        f"{row['revenue'] or 'n/a'}, margin {row['margin'] or 'n/a'}"
        for row in summary.totals()
    ]
    return f"**{TOTAL}** ({summary.entries} entries): " + "; ".join(parts)
