"""Prefect tasks of the reports: read awork, MOCO and the store into frames; write CSV and PNG; publish the
artifacts. The figures themselves come from the pure rules in `tasks.report_rules`."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from connectors.awork import AworkClient, AworkUser
from connectors.moco import MocoClient, MocoProject, MocoUser
from models.settings import get_settings
from models.store import open_store
from tasks.report_rules import AWORK_COLUMNS, MARGIN_COLUMNS, MOCO_COLUMNS, TOTAL
from tasks.shared import RETRY, upwork_store
from tasks.time_rules import SyncWindow, local_date

PUSH_FLOW = "push-awork-times"
MAX_BARS = 30  # a margin chart shows at most this many contracts (projects, organisations)


class ReconcileContext(BaseModel):
    """What the reconciliation needs besides the hours: names on both sides and the open push issues."""

    projects: dict[str, str]  # linked awork project id -> MOCO project name
    moco_projects: dict[int, str]  # linked MOCO project id -> name
    moco_users: dict[int, str]  # MOCO user id -> name
    moco_user_by_email: dict[str, str]  # lower-case e-mail -> MOCO user name
    awork_users: dict[str, AworkUser]
    issues: dict[str, str]  # open sync issues of the push: object ref -> message


class ReportFiles(BaseModel):
    """Where a report was written."""

    csv: str
    png: str
    differences_csv: str | None = None


def project_name(project: MocoProject) -> str:
    return f"{project.identifier} {project.name}" if project.identifier else project.name


def user_name(user: MocoUser) -> str:
    return f"{user.firstname} {user.lastname}".strip() or f"MOCO user {user.id}"


@task(name="read-report-context", cache_policy=NO_CACHE, **RETRY)
def read_reconcile_context() -> ReconcileContext:
    """The linked projects (names from MOCO), both sides' users and the push's open sync issues."""
    settings = get_settings()
    store = open_store(settings.database_url)
    project_links = store.links("project")
    with MocoClient.from_settings(settings) as moco, AworkClient.from_settings(settings) as awork:
        moco_projects = moco.projects_by_ids([int(moco_id) for moco_id in project_links]) if project_links else []
        moco_users = [u for u in moco.users() if u.active]
        awork_users = awork.users()
    return ReconcileContext(
        projects={project_links[str(p.id)].target_id: project_name(p) for p in moco_projects},
        moco_projects={p.id: project_name(p) for p in moco_projects},
        moco_users={u.id: user_name(u) for u in moco_users},
        moco_user_by_email={u.email.strip().lower(): user_name(u) for u in moco_users if u.email},
        awork_users={u.id: u for u in awork_users},
        issues={i.object_ref: i.message for i in store.open_issues(PUSH_FLOW)},
    )


@task(name="read-awork-hours", cache_policy=NO_CACHE, **RETRY)
def read_awork_hours(first_day: date, last_day: date, context: ReconcileContext) -> pd.DataFrame:
    """awork time entries on linked projects whose local date lies in the days (AWORK_COLUMNS)."""
    settings = get_settings()
    days = SyncWindow(first_day=first_day, last_day=last_day)
    start, end = days.utc_bounds()
    with AworkClient.from_settings(settings) as awork:
        entries = awork.time_entries(starting_from=start, starting_before=end)
    rows = []
    for entry in entries:
        day = local_date(entry, settings.timezone)
        project = context.projects.get(entry.project_id or "")
        if project is None or day is None or not days.contains(day):
            continue
        user = context.awork_users.get(entry.user_id or "")
        name = user.name if user else f"awork user {entry.user_id}"
        rows.append((entry.id, project, name, user.email if user else None, day, max(0, entry.duration or 0)))
    get_run_logger().info("read %d awork time entries on linked projects (%s to %s)", len(rows), first_day, last_day)
    return pd.DataFrame(rows, columns=AWORK_COLUMNS)


@task(name="read-moco-hours", cache_policy=NO_CACHE, **RETRY)
def read_moco_hours(first_day: date, last_day: date, context: ReconcileContext) -> pd.DataFrame:
    """Every MOCO activity of the linked projects on the days, ours or not (MOCO_COLUMNS; 100 per page)."""
    rows = []
    with MocoClient.from_settings(get_settings()) as moco:
        for project_id, project in context.moco_projects.items():
            for activity in moco.activities_between(first_day, last_day, project_id=project_id):
                user = context.moco_users.get(activity.user.id, f"MOCO user {activity.user.id}")
                rows.append(
                    (activity.id, project, user, activity.date, activity.seconds, activity.billed, activity.remote_id)
                )
    get_run_logger().info("read %d MOCO activities of linked projects (%s to %s)", len(rows), first_day, last_day)
    return pd.DataFrame(rows, columns=MOCO_COLUMNS)


@task(name="read-upwork-entries", cache_policy=NO_CACHE, **RETRY)
def read_upwork_entries(first_day: date, last_day: date) -> pd.DataFrame:
    """The stored entries synced from Upwork (those awork has) of the UTC days, with organisation, contract and
    awork project names and the rates of their day (MARGIN_COLUMNS)."""
    settings = get_settings()
    stored = upwork_store(settings).synced_entries(first_day, last_day)
    projects: dict[str, str] = {}
    if stored:
        with AworkClient.from_settings(settings) as awork:
            projects = {p.id: p.name for p in awork.projects()}
    get_run_logger().info("read %d stored Upwork entries (%s to %s)", len(stored), first_day, last_day)
    rows = [
        (
            s.organization_name or s.entry.organization_id,
            f"{s.contract_title or s.entry.contract_id} ({s.entry.contract_id})",
            projects.get(s.entry.awork_project_id, s.entry.awork_project_id),
            s.entry.day,
            s.entry.duration_seconds,
            s.entry.pay_rate,
            s.entry.bill_rate,
            s.entry.currency or s.contract_currency,
        )
        for s in stored
    ]
    return pd.DataFrame(rows, columns=MARGIN_COLUMNS)


# files ---------------------------------------------------------------------------------------------------------


def report_path(name: str, suffix: str) -> Path:
    folder = Path(get_settings().report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / f"{name}{suffix}").resolve()


def save_chart(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)  # no display: render with Agg whatever backend pyplot would pick
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def hours_chart(weekly: pd.DataFrame, title: str) -> Figure:
    """Bars of hours per ISO week, awork beside MOCO."""
    figure = Figure(figsize=(min(20.0, max(6.0, 0.7 * len(weekly) + 2)), 4))
    axes = figure.add_subplot()
    positions = range(len(weekly))
    axes.bar([p - 0.2 for p in positions], weekly["awork_hours"], width=0.4, label="awork", color="#4c72b0")
    axes.bar([p + 0.2 for p in positions], weekly["moco_hours"], width=0.4, label="MOCO", color="#dd8452")
    axes.set_xticks(list(positions), [f"week of {w}" for w in weekly["week"]], rotation=30, ha="right")
    axes.set_ylabel("hours")
    axes.set_title(title)
    axes.legend()
    return figure


def margin_chart(report: pd.DataFrame, label_columns: Sequence[str], title: str) -> Figure:
    """Horizontal bars of the margin of each row, the largest `MAX_BARS` (by amount) when there are more; totals
    and rows without a margin are left out."""
    rows = report[report[label_columns[0]].ne(TOTAL) & report["margin"].notna()]
    if len(rows) > MAX_BARS:
        title = f"{title} (the {MAX_BARS} largest of {len(rows)})"
        rows = rows.sort_values("margin", key=lambda margin: margin.map(abs), ascending=False).head(MAX_BARS)
    labels = [" / ".join(str(v) for v in values if v) for values in rows[list(label_columns)].itertuples(index=False)]
    margins = [float(m) for m in rows["margin"]]
    figure = Figure(figsize=(9, 0.35 * len(rows) + 1.8))
    axes = figure.add_subplot()
    axes.barh(labels, margins, color=["#55a868" if m >= 0 else "#c44e52" for m in margins])
    axes.axvline(0, color="black", linewidth=0.8)
    axes.invert_yaxis()
    axes.set_xlabel("margin (bill revenue - pay cost)")
    axes.set_title(title)
    return figure


@task(name="write-reconcile-report", cache_policy=NO_CACHE)
def write_reconcile_files(
    report: pd.DataFrame, differences: pd.DataFrame, weekly: pd.DataFrame, name: str, by: str, title: str
) -> ReportFiles:
    """The report (`<name>-by-<by>.csv`) and its differences as CSV, and the weekly hours chart as PNG."""
    files = ReportFiles(
        csv=str(report_path(f"{name}-by-{by}", ".csv")),
        differences_csv=str(report_path(f"{name}-differences", ".csv")),
        png=str(report_path(f"{name}-weekly", ".png")),
    )
    report.to_csv(files.csv, index=False)
    differences.to_csv(files.differences_csv, index=False)
    save_chart(hours_chart(weekly, title), Path(files.png))
    return files


@task(name="write-margin-report", cache_policy=NO_CACHE)
def write_margin_files(report: pd.DataFrame, label_columns: list[str], name: str, title: str) -> ReportFiles:
    """The margin report as CSV and its margin chart as PNG."""
    files = ReportFiles(csv=str(report_path(name, ".csv")), png=str(report_path(name, ".png")))
    report.to_csv(files.csv, index=False)
    save_chart(margin_chart(report, label_columns, title), Path(files.png))
    return files


# artifacts -----------------------------------------------------------------------------------------------------


def table_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A report's rows as JSON values (money as strings with its cents, empty as null)."""
    return json.loads(frame.to_json(orient="records", default_handler=str))


def markdown_table(frame: pd.DataFrame, limit: int = 50) -> str:
    """A frame as a markdown table (the first `limit` rows, then how many more are in the CSV)."""
    rows = table_rows(frame.head(limit))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for row in rows:
        cells = ("" if row[c] is None else str(row[c]).replace("|", "/") for c in frame.columns)
        lines.append("| " + " | ".join(cells) + " |")
    if len(frame) > limit:
        lines.append(f"\n... and {len(frame) - limit} more rows in the CSV")
    return "\n".join(lines)


def publish_report(flow: str, title: str, report: pd.DataFrame, files: ReportFiles, sections: Sequence[str]) -> None:
    """A table artifact of the report's rows, and a markdown artifact with the title, the chart (embedded as a PNG
    data URI), the given sections and where the files are."""
    create_table_artifact(table=table_rows(report), key=f"{flow}-report", description=title)
    chart = base64.b64encode(Path(files.png).read_bytes()).decode("ascii")
    paths = [f"- `{path}`" for path in (files.csv, files.differences_csv, files.png) if path]
    markdown = "\n\n".join(
        [f"# {title}", *sections, f"![{title}](data:image/png;base64,{chart})", "Files:\n" + "\n".join(paths)]
    )
    create_markdown_artifact(markdown=markdown + "\n", key=f"{flow}-chart", description=title)
