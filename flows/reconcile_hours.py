"""Flow "reconcile hours": awork against MOCO, hours per project, user and day on the linked projects; every
difference with its cause where known, and whether the two sides agree. Writes CSV and PNG, publishes artifacts."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel

from models import clock
from models.settings import get_settings
from tasks.report_rules import (
    RECONCILE_BY,
    TOTAL,
    check_choice,
    reconcile,
    reconcile_differences,
    reconcile_report,
    report_window,
    weekly_hours,
)
from tasks.reports import (
    ReportFiles,
    markdown_table,
    publish_report,
    read_awork_hours,
    read_moco_hours,
    read_reconcile_context,
    table_rows,
    write_reconcile_files,
)
from tasks.runs import recorded_run

FLOW_NAME = "reconcile-hours"


class ReconcileSummary(BaseModel):
    """The flow's return value: the range, the total line, the report's rows, its differences and its files."""

    status: str
    first_day: date
    last_day: date
    by: str
    awork_hours: float
    moco_hours: float
    difference: float
    differences: int
    agree: bool
    rows: list[dict[str, Any]]
    difference_rows: list[dict[str, Any]]
    files: ReportFiles

    def counts(self) -> dict[str, Any]:
        return {
            "awork hours": self.awork_hours,
            "MOCO hours": self.moco_hours,
            "difference": self.difference,
            "differing project-user-days": self.differences,
            "agree": self.agree,
        }


@flow(name=FLOW_NAME, timeout_seconds=3600)
def reconcile_hours(start: date | None = None, end: date | None = None, by: str = "project") -> ReconcileSummary:
    """Compare the hours of the linked projects in awork and in MOCO per project, user and day (local dates
    `start`..`end`, by default the last 35 days up to yesterday), report them per project, user, day or week, and
    name each difference's cause: a billed activity, an open sync issue, an unmapped user, an entry outside the
    synced projects, or unknown (e.g. not pushed yet)."""
    settings = get_settings()
    with recorded_run(FLOW_NAME, publish=False) as run:
        check_choice(by, RECONCILE_BY)
        first, last = report_window(start, end, clock.today(settings.timezone))
        context = read_reconcile_context()
        days = reconcile(
            read_awork_hours(first, last, context),
            read_moco_hours(first, last, context),
            context.moco_user_by_email,
            context.issues,
        )
        report = reconcile_report(days, by)
        differences = reconcile_differences(days)
        title = f"awork against MOCO, {first} to {last}"
        name = f"reconcile-{first}-to-{last}"
        files = write_reconcile_files(report, differences, weekly_hours(days), name, by, title)
        total = report.iloc[-1]
        summary = ReconcileSummary(
            status="completed" if total["agree"] else "completed with differences",
            first_day=first,
            last_day=last,
            by=by,
            awork_hours=float(total["awork_hours"]),
            moco_hours=float(total["moco_hours"]),
            difference=float(total["difference"]),
            differences=int(total["differences"]),
            agree=bool(total["agree"]),
            rows=table_rows(report),
            difference_rows=table_rows(differences),
            files=files,
        )
        run.finish(summary.counts(), status=summary.status)
    publish_report(FLOW_NAME, title, report, files, [total_line(summary), markdown_table(differences)])
    get_run_logger().info("%s (%s to %s): %s", summary.status, first, last, summary.counts())
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state


def total_line(summary: ReconcileSummary) -> str:
    """The report's last line in words."""
    verdict = "awork and MOCO agree" if summary.agree else "awork and MOCO differ"
    return (
        f"**{TOTAL}: {verdict}**: awork {summary.awork_hours:.2f} h, MOCO {summary.moco_hours:.2f} h, difference "
        f"{summary.difference:.2f} h on {summary.differences} project-user-day(s)."
    )
