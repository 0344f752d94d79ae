"""The report rules without I/O: reconciliation of awork and MOCO hours, and the margin of Upwork contracts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from tasks.report_rules import (
    AWORK_COLUMNS,
    MARGIN_COLUMNS,
    MOCO_COLUMNS,
    margin_report,
    reconcile,
    reconcile_differences,
    reconcile_report,
    report_window,
    weekly_hours,
)

PROJECT = "P1 Website"
MOCO_USERS = {"anna@pixelwerk.de": "Anna Schmidt", "ben@pixelwerk.de": "Ben Weber"}
MON, TUE, WED = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)
SUNDAY_BEFORE, NEXT_MON = date(2026, 11, 1), date(2026, 11, 9)


def entry(entry_id: str, day: date, seconds: int, user: str = "Anna S.", email: str | None = "Anna@Pixelwerk.DE"):
    return {"entry_id": entry_id, "project": PROJECT, "user": user, "email": email, "day": day, "seconds": seconds}


def activity(
    activity_id: int,
    day: date,
    seconds: int,
    remote: str | None = None,
    user: str = "Anna Schmidt",
    billed: bool = False,
    project: str = PROJECT,
):
    return {
        "activity_id": activity_id,
        "project": project,
        "user": user,
        "day": day,
        "seconds": seconds,
        "billed": billed,
        "remote_id": remote,
    }


def days_of(entries: list[dict], activities: list[dict], issues: dict[str, str] | None = None) -> pd.DataFrame:
    return reconcile(
        pd.DataFrame(entries, columns=AWORK_COLUMNS),
        pd.DataFrame(activities, columns=MOCO_COLUMNS),
        MOCO_USERS,
        issues or {},
    )


def as_rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain tuples (days as ISO strings), for exact comparisons."""
    plain = frame.copy()
    if "day" in plain and pd.api.types.is_datetime64_any_dtype(plain["day"]):
        plain["day"] = plain["day"].dt.strftime("%Y-%m-%d")
    return [tuple(row) for row in plain.itertuples(index=False)]


# report window -------------------------------------------------------------------------------------------------


def test_the_default_window_is_the_last_35_days_up_to_yesterday():
    assert report_window(None, None, date(2026, 11, 20)) == (date(2026, 10, 16), date(2026, 11, 19))


def test_one_date_alone_is_that_day_and_an_explicit_range_is_kept():
    assert report_window(MON, None, date(2026, 11, 20)) == (MON, MON)
    assert report_window(None, TUE, date(2026, 11, 20)) == (TUE, TUE)
    assert report_window(MON, WED, date(2026, 11, 20)) == (MON, WED)


def test_a_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="start 2026-11-04 is after end 2026-11-02"):
        report_window(WED, MON, date(2026, 11, 20))


# reconciliation per project, user and day ----------------------------------------------------------------------


def test_pushed_entries_agree_and_e_mail_case_is_ignored():
    days = days_of(
        [entry("e1", MON, 3600), entry("e2", MON, 1800), entry("e3", TUE, 5401)],
        [activity(1, MON, 3600, "awork:e1"), activity(2, MON, 1800, "awork:e2"), activity(3, TUE, 5401, "awork:e3")],
    )
    assert as_rows(days) == [
        (PROJECT, "Anna Schmidt", "2026-11-02", 5400, 5400, 0, ""),
        (PROJECT, "Anna Schmidt", "2026-11-03", 5401, 5401, 0, ""),
    ]


def test_an_entry_not_pushed_yet_has_an_unknown_cause():
    days = days_of([entry("e1", MON, 3600)], [])
    assert as_rows(days) == [(PROJECT, "Anna Schmidt", "2026-11-02", 3600, 0, 3600, "unknown")]


def test_an_entry_of_a_user_without_moco_account_is_an_unmapped_user():
    days = days_of([entry("e1", MON, 2700, user="Carl Klein", email="carl@freelance.example")], [])
    assert as_rows(days) == [(PROJECT, "Carl Klein", "2026-11-02", 2700, 0, 2700, "unmapped user Carl Klein")]


def test_a_user_without_e_mail_is_unmapped_too():
    days = days_of([entry("e1", MON, 600, user="Dora", email=None)], [])
    assert days["cause"].tolist() == ["unmapped user Dora"]


def test_an_entry_with_an_open_sync_issue_names_the_issue():
    issues = {"awork time entry e1": "MOCO refused the activity for awork time entry e1: description invalid"}
    days = days_of([entry("e1", MON, 1800)], [], issues)
    assert days["cause"].tolist() == [
        "open sync issue: MOCO refused the activity for awork time entry e1: description invalid"
    ]


def test_a_billed_activity_whose_entry_changed_is_a_billed_activity_even_with_its_issue_open():
    issues = {"awork time entry e1": "awork time entry e1: changed in awork, but its MOCO activity 1 is billed"}
    days = days_of([entry("e1", MON, 7200)], [activity(1, MON, 3600, "awork:e1", billed=True)], issues)
    assert as_rows(days) == [(PROJECT, "Anna Schmidt", "2026-11-02", 7200, 3600, 3600, "billed activity")]


def test_a_billed_activity_that_agrees_is_no_difference():
    days = days_of([entry("e1", MON, 3600)], [activity(1, MON, 3600, "awork:e1", billed=True)])
    assert as_rows(days) == [(PROJECT, "Anna Schmidt", "2026-11-02", 3600, 3600, 0, "")]


@pytest.mark.parametrize(
    "remote",
    [None, "", "jira:PROJ-1", "awork:deleted-or-elsewhere"],
    ids=["entered in MOCO", "empty remote id", "another service", "entry not on a linked project"],
)
def test_activities_without_an_entry_on_the_synced_projects_are_outside(remote):
    days = days_of([], [activity(1, MON, 900, remote, user="Ben Weber")])
    assert as_rows(days) == [
        (PROJECT, "Ben Weber", "2026-11-02", 0, 900, -900, "entry outside the synced projects"),
    ]


def test_an_entry_moved_to_another_day_differs_on_both_days():
    days = days_of([entry("e1", TUE, 3600)], [activity(1, MON, 3600, "awork:e1")])
    assert as_rows(days) == [
        (PROJECT, "Anna Schmidt", "2026-11-02", 0, 3600, -3600, "unknown"),
        (PROJECT, "Anna Schmidt", "2026-11-03", 3600, 0, 3600, "unknown"),
    ]


def test_an_entry_whose_user_changed_differs_for_both_users():
    ben = entry("e1", MON, 3600, user="Ben W.", email="ben@pixelwerk.de")
    days = days_of([ben], [activity(1, MON, 3600, "awork:e1", billed=True)])
    assert as_rows(days) == [
        (PROJECT, "Anna Schmidt", "2026-11-02", 0, 3600, -3600, "billed activity"),
        (PROJECT, "Ben Weber", "2026-11-02", 3600, 0, 3600, "billed activity"),
    ]


def test_a_second_activity_for_the_same_entry_is_counted_and_differs():
    days = days_of([entry("e1", MON, 3600)], [activity(1, MON, 3600, "awork:e1"), activity(2, MON, 3600, "awork:e1")])
    assert as_rows(days) == [(PROJECT, "Anna Schmidt", "2026-11-02", 3600, 7200, -3600, "unknown")]


def test_several_causes_on_one_day_are_listed_once_each_in_order():
    issues = {"awork time entry e2": "refused"}
    days = days_of(
        [entry("e1", MON, 3600), entry("e2", MON, 600), entry("e3", MON, 60)],
        [activity(1, MON, 1800, "awork:e1", billed=True), activity(7, MON, 300), activity(8, MON, 120)],
        issues,
    )
    assert as_rows(days) == [
        (
            PROJECT,
            "Anna Schmidt",
            "2026-11-02",
            4260,
            2220,
            2040,
            "billed activity; entry outside the synced projects; open sync issue: refused; unknown",
        )
    ]


def test_differences_that_cancel_out_on_a_day_leave_that_day_agreeing():
    days = days_of([entry("e1", MON, 900)], [activity(1, MON, 900)])
    assert as_rows(days) == [(PROJECT, "Anna Schmidt", "2026-11-02", 900, 900, 0, "")]


def test_projects_are_compared_separately():
    days = days_of([entry("e1", MON, 3600)], [activity(1, MON, 3600, "awork:e1", project="P2 Retainer")])
    assert as_rows(days) == [
        (PROJECT, "Anna Schmidt", "2026-11-02", 3600, 0, 3600, "unknown"),
        ("P2 Retainer", "Anna Schmidt", "2026-11-02", 0, 3600, -3600, "unknown"),
    ]


# the report per project, user, day, week; the total line ------------------------------------------------------


@pytest.fixture
def mixed_days() -> pd.DataFrame:
    """Anna agrees on Monday, differs on Tuesday (billed); Carl is unmapped on Sunday before; Ben has a MOCO-only
    activity next Monday."""
    return days_of(
        [
            entry("e1", MON, 3600),
            entry("e2", TUE, 7200),
            entry("e3", SUNDAY_BEFORE, 1800, user="Carl Klein", email="carl@x.example"),
        ],
        [
            activity(1, MON, 3600, "awork:e1"),
            activity(2, TUE, 5400, "awork:e2", billed=True),
            activity(3, NEXT_MON, 1000, user="Ben Weber"),
        ],
    )


def test_report_by_project_sums_hours_and_counts_the_differing_days(mixed_days):
    report = reconcile_report(mixed_days, "project")
    causes = "billed activity; entry outside the synced projects; unmapped user Carl Klein"
    assert as_rows(report) == [
        (PROJECT, 3.5, 2.78, 0.72, 3, causes, False),
        ("total", 3.5, 2.78, 0.72, 3, "", False),
    ]


def test_report_by_user(mixed_days):
    assert as_rows(reconcile_report(mixed_days, "user")) == [
        ("Anna Schmidt", 3.0, 2.5, 0.5, 1, "billed activity", False),
        ("Ben Weber", 0.0, 0.28, -0.28, 1, "entry outside the synced projects", False),
        ("Carl Klein", 0.5, 0.0, 0.5, 1, "unmapped user Carl Klein", False),
        ("total", 3.5, 2.78, 0.72, 3, "", False),
    ]


def test_report_by_day(mixed_days):
    assert as_rows(reconcile_report(mixed_days, "day")) == [
        ("2026-11-01", 0.5, 0.0, 0.5, 1, "unmapped user Carl Klein", False),
        ("2026-11-02", 1.0, 1.0, 0.0, 0, "", True),
        ("2026-11-03", 2.0, 1.5, 0.5, 1, "billed activity", False),
        ("2026-11-09", 0.0, 0.28, -0.28, 1, "entry outside the synced projects", False),
        ("total", 3.5, 2.78, 0.72, 3, "", False),
    ]


def test_report_by_iso_week_starting_monday(mixed_days):
    assert as_rows(reconcile_report(mixed_days, "week")) == [
        ("2026-10-26", 0.5, 0.0, 0.5, 1, "unmapped user Carl Klein", False),
        ("2026-11-02", 3.0, 2.5, 0.5, 1, "billed activity", False),
        ("2026-11-09", 0.0, 0.28, -0.28, 1, "entry outside the synced projects", False),
        ("total", 3.5, 2.78, 0.72, 3, "", False),
    ]


def test_weekly_hours_for_the_chart(mixed_days):
    assert as_rows(weekly_hours(mixed_days)) == [
        ("2026-10-26", 0.5, 0.0),
        ("2026-11-02", 3.0, 2.5),
        ("2026-11-09", 0.0, 0.28),
    ]


def test_differences_list_every_differing_day_with_its_cause(mixed_days):
    assert list(reconcile_differences(mixed_days).columns) == [
        "project",
        "user",
        "day",
        "awork_hours",
        "moco_hours",
        "difference",
        "cause",
    ]
    assert as_rows(reconcile_differences(mixed_days)) == [
        (PROJECT, "Anna Schmidt", "2026-11-03", 2.0, 1.5, 0.5, "billed activity"),
        (PROJECT, "Ben Weber", "2026-11-09", 0.0, 0.28, -0.28, "entry outside the synced projects"),
        (PROJECT, "Carl Klein", "2026-11-01", 0.5, 0.0, 0.5, "unmapped user Carl Klein"),
    ]


def test_a_week_whose_days_compensate_still_reports_its_differing_days():
    days = days_of([entry("e1", TUE, 3600)], [activity(1, MON, 3600, "awork:e1")])
    assert as_rows(reconcile_report(days, "week")) == [
        ("2026-11-02", 1.0, 1.0, 0.0, 2, "unknown", False),
        ("total", 1.0, 1.0, 0.0, 2, "", False),
    ]


def test_the_total_line_agrees_when_every_day_agrees():
    days = days_of([entry("e1", MON, 3600)], [activity(1, MON, 3600, "awork:e1")])
    assert as_rows(reconcile_report(days, "project"))[-1] == ("total", 1.0, 1.0, 0.0, 0, "", True)
    assert reconcile_differences(days).empty


def test_nothing_on_either_side_agrees():
    days = days_of([], [])
    assert as_rows(reconcile_report(days, "week")) == [("total", 0.0, 0.0, 0.0, 0, "", True)]
    assert weekly_hours(days).empty


def test_an_unknown_grouping_is_refused(mixed_days):
    with pytest.raises(ValueError, match="cannot report by 'month': choose one of project, user, day, week"):
        reconcile_report(mixed_days, "month")


# margin of Upwork contracts ------------------------------------------------------------------------------------


def upwork_entry(
    seconds: int,
    pay: object,
    bill: object,
    currency: str | None = "USD",
    organisation: str = "Pixel Agency",
    contract: str = "Website support (C1)",
    project: str = "Website",
    day: date = MON,
) -> dict:
    return {
        "organisation": organisation,
        "contract": contract,
        "project": project,
        "day": day,
        "seconds": seconds,
        "pay_rate": pay,
        "bill_rate": bill,
        "currency": currency,
    }


def margin(entries: list[dict], by: str) -> list[tuple]:
    return as_rows(margin_report(pd.DataFrame(entries, columns=MARGIN_COLUMNS), by))


def D(value: str) -> Decimal:  # noqa: N802 - reads like the literal it stands for
    return Decimal(value)


def test_a_contract_costs_hours_times_pay_rate_and_earns_hours_times_bill_rate():
    rows = margin([upwork_entry(3600, D("40.00"), D("65.50")), upwork_entry(5400, D("40.00"), D("65.50"))], "contract")
    assert rows == [
        (
            "Pixel Agency",
            "Website support (C1)",
            "USD",
            2,
            D("2.50"),
            D("100.00"),
            D("163.75"),
            D("63.75"),
            D("38.9"),
            "",
        ),
        ("total", "", "USD", 2, D("2.50"), D("100.00"), D("163.75"), D("63.75"), D("38.9"), ""),
    ]


def test_the_rates_in_effect_each_day_apply_to_that_day():
    rows = margin(
        [upwork_entry(3600, D("40.00"), D("60.00"), day=MON), upwork_entry(3600, D("45.00"), D("70.00"), day=TUE)],
        "contract",
    )
    assert rows[0][3:9] == (2, D("2.00"), D("85.00"), D("130.00"), D("45.00"), D("34.6"))


def test_money_is_summed_exactly_and_rounded_half_up_to_cents():
    # 1000 s at 50.00 = 13.888...; 1800 s at 10.25 = 5.125 (half up: 5.13, not 5.12)
    rows = margin([upwork_entry(1000, D("10.25"), D("50.00")), upwork_entry(800, D("10.25"), D("50.00"))], "contract")
    assert rows[0][4:8] == (D("0.50"), D("5.13"), D("25.00"), D("19.87"))
    assert margin([upwork_entry(1000, D("0.00"), D("50.00"))], "contract")[0][4:8] == (
        D("0.28"),
        D("0.00"),
        D("13.89"),
        D("13.89"),
    )


def test_float_rates_give_the_same_cents():
    rows = margin([upwork_entry(3600, 40.1, 65.3), upwork_entry(1800, 40.1, 65.3)], "contract")
    assert rows[0][4:8] == (D("1.50"), D("60.15"), D("97.95"), D("37.80"))


def test_a_missing_rate_leaves_the_figure_empty_and_says_so():
    rows = margin(
        [upwork_entry(3600, None, D("50.00")), upwork_entry(1800, D("30.00"), D("50.00"))],
        "contract",
    )
    assert rows[0] == (
        "Pixel Agency",
        "Website support (C1)",
        "USD",
        2,
        D("1.50"),
        None,
        D("75.00"),
        None,
        None,
        "pay rate missing on 1 entry",
    )


def test_missing_both_rates_on_several_entries():
    rows = margin([upwork_entry(3600, None, None), upwork_entry(3600, None, None)], "contract")
    assert rows[0][3:] == (
        2,
        D("2.00"),
        None,
        None,
        None,
        None,
        "pay rate missing on 2 entries; bill rate missing on 2 entries",
    )


def test_a_negative_margin():
    rows = margin([upwork_entry(7200, D("50.00"), D("40.00"))], "contract")
    assert rows[0][4:9] == (D("2.00"), D("100.00"), D("80.00"), D("-20.00"), D("-25.0"))


def test_a_zero_revenue_has_no_margin_percentage():
    assert margin([upwork_entry(3600, D("10.00"), D("0.00"))], "contract")[0][7:9] == (D("-10.00"), None)


def test_currencies_are_never_added_up():
    rows = margin(
        [
            upwork_entry(3600, D("40.00"), D("60.00"), currency="USD"),
            upwork_entry(3600, D("30.00"), D("50.00"), currency="EUR", contract="App (C2)"),
            upwork_entry(1800, D("20.00"), D("30.00"), currency="EUR", contract="App (C2)"),
            upwork_entry(3600, D("10.00"), D("20.00"), currency=None, contract="Ops (C3)"),
        ],
        "organisation",
    )
    assert rows == [
        ("Pixel Agency", "", 1, D("1.00"), D("10.00"), D("20.00"), D("10.00"), D("50.0"), ""),
        ("Pixel Agency", "EUR", 2, D("1.50"), D("40.00"), D("65.00"), D("25.00"), D("38.5"), ""),
        ("Pixel Agency", "USD", 1, D("1.00"), D("40.00"), D("60.00"), D("20.00"), D("33.3"), ""),
        ("total", "", 1, D("1.00"), D("10.00"), D("20.00"), D("10.00"), D("50.0"), ""),
        ("total", "EUR", 2, D("1.50"), D("40.00"), D("65.00"), D("25.00"), D("38.5"), ""),
        ("total", "USD", 1, D("1.00"), D("40.00"), D("60.00"), D("20.00"), D("33.3"), ""),
    ]


def test_report_per_project_adds_up_contracts_of_several_organisations():
    rows = margin(
        [
            upwork_entry(3600, D("40.00"), D("60.00")),
            upwork_entry(3600, D("35.00"), D("55.00"), organisation="Acme Client", contract="Ops (C3)"),
            upwork_entry(1800, D("20.00"), D("30.00"), project="App"),
        ],
        "project",
    )
    assert rows == [
        ("App", "USD", 1, D("0.50"), D("10.00"), D("15.00"), D("5.00"), D("33.3"), ""),
        ("Website", "USD", 2, D("2.00"), D("75.00"), D("115.00"), D("40.00"), D("34.8"), ""),
        ("total", "USD", 3, D("2.50"), D("85.00"), D("130.00"), D("45.00"), D("34.6"), ""),
    ]


def test_a_total_with_a_missing_rate_is_empty_too():
    rows = margin(
        [upwork_entry(3600, D("40.00"), D("60.00")), upwork_entry(3600, None, D("60.00"), contract="App (C2)")],
        "contract",
    )
    assert rows[-1] == ("total", "", "USD", 2, D("2.00"), None, D("120.00"), None, None, "pay rate missing on 1 entry")


def test_no_entries_no_rows():
    assert margin([], "contract") == []


def test_an_unknown_margin_grouping_is_refused():
    with pytest.raises(ValueError, match="choose one of contract, project, organisation"):
        margin([], "freelancer")
