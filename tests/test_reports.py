"""The reports end to end: reconciliation of awork against MOCO after real pushes, and the margin of Upwork
contracts from the store; flows under Prefect, the CLI, the CSV and PNG files and the artifacts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from sqlmodel import Session
from typer.testing import CliRunner

from cli import app
from flows.import_moco_projects import import_moco_projects
from flows.push_awork_times import push_awork_times
from flows.reconcile_hours import reconcile_hours
from models import clock
from models.settings import get_settings
from models.store import open_store
from models.upwork_store import UpworkContract, UpworkOrganization, UpworkTimeEntry
from tests.conftest import Sims
from tests.test_import_moco_projects import seed_fields
from tests.test_push_awork_times import at

pytestmark = pytest.mark.usefixtures("prefect_harness")

TODAY = date(2026, 11, 20)
PROJECT = "P1 Website"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch) -> None:
    """The report tables on one line each, whatever terminal (or none) the test process has."""
    from cli import report as cli_report

    monkeypatch.setattr(cli_report.console, "_width", 250)


@pytest.fixture
def report_dir(settings, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "reports"
    monkeypatch.setenv("TIMEBRIDGE_REPORT_DIR", str(folder))
    get_settings.cache_clear()
    return folder


@pytest.fixture
def pushed(sims: Sims, settings, report_dir, monkeypatch) -> dict:
    """A linked MOCO project with Anna and Ben, pushed from awork, then known differences: a billed activity whose
    entry changed, an entry MOCO refused (an open sync issue), an entry of Carl (no MOCO user), an activity entered
    in MOCO directly, an entry not pushed yet; plus entries that must not count (an unlinked awork project, today)."""
    monkeypatch.setattr(clock, "today", lambda timezone="UTC": TODAY)
    seed_fields(sims)
    customer = sims.moco.add_company("Pixelwerk GmbH")
    project = sims.moco.add_project(
        "Website", identifier="P1", customer_id=customer["id"], tags=["Sync to awork"], tasks=["Design"]
    )
    anna_moco = sims.moco.add_user("Anna", "Schmidt", "anna@pixelwerk.de")
    ben_moco = sims.moco.add_user("Ben", "Weber", "ben@pixelwerk.de")
    for user in (anna_moco, ben_moco):
        sims.moco.add_contract(project["id"], user["id"])
    import_moco_projects()
    [awork_project] = sims.awork.projects()
    design = sims.awork.add_type_of_work("Design")
    anna = sims.awork.add_user("Anna", "Schmidt", "Anna@Pixelwerk.DE")
    ben = sims.awork.add_user("Ben", "Weber", "ben@pixelwerk.de")
    carl = sims.awork.add_user("Carl", "Klein", "carl@freelance.example")
    unlinked = sims.awork.add_project("Intern", project_key="INT")

    def track(user: dict, day: date, seconds: int, project_id: str = awork_project["id"], hour: int = 9) -> dict:
        start = at(day, hour)
        fields = {"user_id": user["id"], "project_id": project_id, "type_of_work_id": design["id"]}
        return sims.awork.add_time_entry(start=start, duration=seconds, **fields)

    track(anna, date(2026, 11, 2), 3600)
    track(anna, date(2026, 11, 3), 5400)
    billed = track(anna, date(2026, 11, 4), 3600)
    refused = track(ben, date(2026, 11, 5), 1800, hour=23)  # 22:00 UTC: still the 5th in Berlin
    track(carl, date(2026, 11, 5), 2700)
    track(anna, date(2026, 11, 6), 7200, project_id=unlinked["id"])
    track(anna, TODAY, 3600)  # pushed, but today is not in the default report range

    def is_refused(request) -> bool:
        body = request.body or {}
        return any(item.get("remote_id") == f"awork:{refused['id']}" for item in body.get("activities", [body]))

    sims.moco.faults.fail_next(
        2, 422, method="POST", when=is_refused, body={"errors": {"description": ["ist nicht gültig"]}}
    )
    push_awork_times()
    [billed_activity] = sims.moco.activities(remote_id=f"awork:{billed['id']}")
    sims.moco.bill_activity(billed_activity["id"])
    sims.awork.update_time_entry(billed["id"], duration=7200)
    sims.moco.add_activity(
        user_id=ben_moco["id"],
        project_id=project["id"],
        task_id=billed_activity["task"]["id"],
        date=date(2026, 11, 6),
        seconds=900,
        description="Telefonat, direkt in MOCO",
    )
    track(ben, date(2026, 11, 10), 3600)  # not pushed yet
    [issue] = [i for i in open_store(settings.database_url).open_issues("push-awork-times") if "refused" in i.message]
    return {"refused_issue": f"open sync issue: {issue.message}"}


def expected_differences(pushed: dict) -> list[tuple]:
    return [
        (PROJECT, "Anna Schmidt", "2026-11-04", 2.0, 1.0, 1.0, "billed activity"),
        (PROJECT, "Ben Weber", "2026-11-05", 0.5, 0.0, 0.5, pushed["refused_issue"]),
        (PROJECT, "Ben Weber", "2026-11-06", 0.0, 0.25, -0.25, "entry outside the synced projects"),
        (PROJECT, "Ben Weber", "2026-11-10", 1.0, 0.0, 1.0, "unknown"),
        (PROJECT, "Carl Klein", "2026-11-05", 0.75, 0.0, 0.75, "unmapped user Carl Klein"),
    ]


def csv_rows(path: str | Path) -> list[tuple]:
    """A CSV's rows exactly as written (text)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [tuple(row) for row in frame.itertuples(index=False)]


def as_text(rows: list[tuple]) -> list[tuple]:
    """Expected rows as the CSV writes them (empty for None)."""
    return [tuple("" if value is None else str(value) for value in row) for row in rows]


def table(artifact) -> list[tuple]:
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return [tuple(row.values()) for row in rows]


def artifacts_of(flow_run_id) -> dict:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in found}


def test_reconcile_lists_every_difference_with_its_cause_and_the_total(pushed, settings, report_dir):
    state = reconcile_hours(by="week", return_state=True)
    summary = state.result()

    assert (summary.first_day, summary.last_day) == (date(2026, 10, 16), date(2026, 11, 19))
    assert summary.status == "completed with differences"
    assert (summary.awork_hours, summary.moco_hours, summary.difference) == (6.75, 3.75, 3.0)
    assert (summary.differences, summary.agree) == (5, False)
    causes = f"billed activity; entry outside the synced projects; {pushed['refused_issue']}; unmapped user Carl Klein"
    expected_report = [
        ("2026-11-02", 5.75, 3.75, 2.0, 4, causes, False),
        ("2026-11-09", 1.0, 0.0, 1.0, 1, "unknown", False),
        ("total", 6.75, 3.75, 3.0, 5, "", False),
    ]
    assert [tuple(row.values()) for row in summary.rows] == expected_report
    assert [tuple(row.values()) for row in summary.difference_rows] == expected_differences(pushed)
    assert pushed["refused_issue"].startswith("open sync issue: MOCO refused the activity for awork time entry")

    # the files: CSV with the same figures, the differences, the weekly chart
    assert summary.files.csv == str(report_dir / "reconcile-2026-10-16-to-2026-11-19-by-week.csv")
    assert csv_rows(summary.files.csv) == as_text(expected_report)
    assert csv_rows(summary.files.differences_csv) == as_text(expected_differences(pushed))
    assert Path(summary.files.png).read_bytes().startswith(PNG_MAGIC)

    # the artifacts: the rows as a table, the total line and the chart in markdown
    artifacts = artifacts_of(state.state_details.flow_run_id)
    assert artifacts["reconcile-hours-report"].type == "table"
    assert table(artifacts["reconcile-hours-report"]) == expected_report
    chart = artifacts["reconcile-hours-chart"].data
    assert "**total: awork and MOCO differ**: awork 6.75 h, MOCO 3.75 h, difference 3.00 h on 5" in chart
    assert "![awork against MOCO, 2026-10-16 to 2026-11-19](data:image/png;base64,iVBORw0KGgo" in chart
    assert "| P1 Website | Carl Klein | 2026-11-05 | 0.75 | 0.0 | 0.75 | unmapped user Carl Klein |" in chart
    assert summary.files.png in chart

    # the run is recorded in the store
    [run] = [r for r in open_store(settings.database_url).recent_runs() if r.flow == "reconcile-hours"]
    assert (run.status, run.summary["agree"], run.summary["differing project-user-days"]) == (
        "completed with differences",
        False,
        5,
    )


def test_reconcile_from_the_cli_per_project_and_a_range_that_agrees(pushed, report_dir):
    result = runner.invoke(app, ["report", "reconcile", "--start", "2026-11-01", "--end", "2026-11-10"])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "awork and MOCO differ: awork 6.75 h, MOCO 3.75 h, difference 3.00 h on 5" in output
    assert "│ total │ 6.75 │ 3.75 │ 3.0 │ 5 │ │ False │" in output
    assert "│ P1 Website │ Carl Klein │ 2026-11-05 │ 0.75 │ 0.0 │ 0.75 │ unmapped user Carl Klein │" in output
    assert "│ P1 Website │ Ben Weber │ 2026-11-06 │ 0.0 │ 0.25 │ -0.25 │ entry outside the synced projects │" in output
    by_project = report_dir / "reconcile-2026-11-01-to-2026-11-10-by-project.csv"
    assert str(by_project) in output
    causes = "billed activity; entry outside the synced projects; {}; unknown; unmapped user Carl Klein"
    assert csv_rows(by_project) == as_text(
        [
            (PROJECT, 6.75, 3.75, 3.0, 5, causes.format(pushed["refused_issue"]), False),
            ("total", 6.75, 3.75, 3.0, 5, "", False),
        ]
    )

    agreeing = runner.invoke(
        app, ["report", "reconcile", "--start", "2026-11-02", "--end", "2026-11-03", "--by", "user"]
    )

    assert agreeing.exit_code == 0, agreeing.output
    assert "awork and MOCO agree: awork 2.50 h, MOCO 2.50 h, difference 0.00 h on 0" in " ".join(
        agreeing.output.split()
    )
    assert csv_rows(report_dir / "reconcile-2026-11-02-to-2026-11-03-by-user.csv") == as_text(
        [("Anna Schmidt", 2.5, 2.5, 0.0, 0, "", True), ("total", 2.5, 2.5, 0.0, 0, "", True)]
    )


def test_reconcile_refuses_an_unknown_grouping_and_records_the_failed_run(sims, settings, report_dir):
    result = runner.invoke(app, ["report", "reconcile", "--by", "month"])
    assert result.exit_code == 2 and "month" in result.output

    with pytest.raises(ValueError, match="cannot report by 'month'"):
        reconcile_hours(by="month")
    [run] = open_store(settings.database_url).recent_runs(1)
    assert (run.flow, run.status) == ("reconcile-hours", "failed")


# margin of Upwork contracts ------------------------------------------------------------------------------------


@pytest.fixture
def upwork_entries(sims: Sims, settings, report_dir) -> None:
    """Two organisations' contracts in the store, with entries synced to awork at the rates of their days: a rate
    change, a missing pay rate, a second currency, an entry still being created and one outside the range."""
    website = sims.awork.add_project("Website Relaunch", project_key="WEB")
    app_project = sims.awork.add_project("App", project_key="APP")
    store = open_store(settings.database_url)
    with Session(store.engine) as session:
        session.add(UpworkOrganization(id="org-agency", name="Pixel Agency", kind="agency"))
        session.add(UpworkOrganization(id="org-client", name="Acme Client", kind="client"))
        for organisation, contract, title, currency in (
            ("org-agency", "c1", "Website support", "USD"),
            ("org-agency", "c2", "App build", "EUR"),
            ("org-client", "c3", "Operations", "EUR"),
        ):
            session.add(
                UpworkContract(
                    organization_id=organisation,
                    id=contract,
                    freelancer_id="f1",
                    title=title,
                    kind="hourly",
                    status="active",
                    currency=currency,
                )
            )
        for n, (organisation, contract, project, day, seconds, pay, bill, currency, synced) in enumerate(
            [
                ("org-agency", "c1", website, date(2026, 11, 2), 3600, "40.00", "65.50", "USD", True),
                ("org-agency", "c1", website, date(2026, 11, 3), 5400, "45.00", "70.00", "USD", True),
                ("org-agency", "c1", website, date(2026, 11, 4), 9999, "45.00", "70.00", "USD", False),
                ("org-agency", "c2", app_project, date(2026, 11, 3), 1000, None, "50.00", "EUR", True),
                ("org-client", "c3", website, date(2026, 11, 5), 1800, "10.25", "30.00", None, True),
                ("org-client", "c3", website, date(2026, 10, 30), 3600, "10.00", "30.00", "EUR", True),
            ]
        ):
            start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            session.add(
                UpworkTimeEntry(
                    organization_id=organisation,
                    contract_id=contract,
                    freelancer_id="f1",
                    day=day,
                    interval_start=start,
                    awork_time_entry_id=f"awork-{n}" if synced else None,
                    awork_user_id="u1",
                    awork_project_id=project["id"],
                    awork_type_of_work_id="t1",
                    start=start,
                    end=start + timedelta(seconds=seconds),
                    duration_seconds=seconds,
                    source="diary",
                    pay_rate=Decimal(pay) if pay else None,
                    bill_rate=Decimal(bill),
                    currency=currency,
                    source_hash=f"h{n}",
                )
            )
        session.commit()


def test_margin_per_contract_from_the_stored_entries_and_their_rates(upwork_entries, report_dir):
    from flows.upwork_margin import upwork_margin

    state = upwork_margin(start=date(2026, 11, 1), end=date(2026, 11, 30), return_state=True)
    summary = state.result()

    expected = [
        ("Acme Client", "Operations (c3)", "EUR", 1, "0.50", "5.13", "15.00", "9.87", "65.8", ""),
        ("Pixel Agency", "App build (c2)", "EUR", 1, "0.28", None, "13.89", None, None, "pay rate missing on 1 entry"),
        ("Pixel Agency", "Website support (c1)", "USD", 2, "2.50", "107.50", "170.50", "63.00", "37.0", ""),
        ("total", "", "EUR", 2, "0.78", None, "28.89", None, None, "pay rate missing on 1 entry"),
        ("total", "", "USD", 2, "2.50", "107.50", "170.50", "63.00", "37.0", ""),
    ]
    assert [tuple(row.values()) for row in summary.rows] == expected
    assert summary.entries == 4
    assert summary.files.csv == str(report_dir / "upwork-margin-2026-11-01-to-2026-11-30-by-contract.csv")
    assert csv_rows(summary.files.csv) == as_text(expected)
    assert Path(summary.files.png).read_bytes().startswith(PNG_MAGIC)
    artifacts = artifacts_of(state.state_details.flow_run_id)
    assert table(artifacts["upwork-margin-report"]) == expected
    chart = artifacts["upwork-margin-chart"].data
    assert "EUR: 0.78 h, pay cost n/a, revenue 28.89, margin n/a; USD: 2.50 h, pay cost 107.50" in chart
    assert "data:image/png;base64,iVBORw0KGgo" in chart


def test_margin_per_project_and_organisation_from_the_cli(upwork_entries, report_dir):
    by_project = runner.invoke(
        app, ["report", "upwork-margin", "--start", "2026-11-01", "--end", "2026-11-30", "--by", "project"]
    )

    assert by_project.exit_code == 0, by_project.output
    output = " ".join(by_project.output.split())
    assert "│ Website Relaunch │ USD │ 2 │ 2.50 │ 107.50 │ 170.50 │ 63.00 │ 37.0 │ │" in output
    assert "│ total │ EUR │ 2 │ 0.78 │ │ 28.89 │ │ │ pay rate missing on 1 entry │" in output
    assert csv_rows(report_dir / "upwork-margin-2026-11-01-to-2026-11-30-by-project.csv") == [
        ("App", "EUR", "1", "0.28", "", "13.89", "", "", "pay rate missing on 1 entry"),
        ("Website Relaunch", "EUR", "1", "0.50", "5.13", "15.00", "9.87", "65.8", ""),
        ("Website Relaunch", "USD", "2", "2.50", "107.50", "170.50", "63.00", "37.0", ""),
        ("total", "EUR", "2", "0.78", "", "28.89", "", "", "pay rate missing on 1 entry"),
        ("total", "USD", "2", "2.50", "107.50", "170.50", "63.00", "37.0", ""),
    ]

    by_organisation = runner.invoke(
        app, ["report", "upwork-margin", "--start", "2026-10-30", "--end", "2026-11-05", "--by", "organisation"]
    )

    assert by_organisation.exit_code == 0, by_organisation.output
    path = report_dir / "upwork-margin-2026-10-30-to-2026-11-05-by-organisation.csv"
    assert str(path) in by_organisation.output
    assert csv_rows(path) == [
        ("Acme Client", "EUR", "2", "1.50", "15.13", "45.00", "29.87", "66.4", ""),
        ("Pixel Agency", "EUR", "1", "0.28", "", "13.89", "", "", "pay rate missing on 1 entry"),
        ("Pixel Agency", "USD", "2", "2.50", "107.50", "170.50", "63.00", "37.0", ""),
        ("total", "EUR", "3", "1.78", "", "58.89", "", "", "pay rate missing on 1 entry"),
        ("total", "USD", "2", "2.50", "107.50", "170.50", "63.00", "37.0", ""),
    ]
