"""The pure rules of Upwork time: cells into intervals, daily totals, open weeks, windows, rates, day plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.upwork import DiaryCell, NamedRef, TimeReportRow
from models.plans import DAILY_TOTAL, Interval
from models.upwork_store import (
    CONFIRMED,
    UpworkContract,
    UpworkContractMapping,
    UpworkOrganization,
    UpworkRate,
    UpworkUserMapping,
)
from tasks.upwork_rules import ContractStop, RatePeriod, contract_sync_state
from tasks.upwork_time_rules import (
    ContractTarget,
    contract_targets,
    daily_total_intervals,
    day_windows,
    draft_entry,
    entry_note,
    merge_cells,
    open_weeks,
    plan_day,
    rates_on_day,
    sync_windows,
)

NINE = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
WEDNESDAY = date(2026, 11, 18)


def cells(start: datetime, count: int, memo: str = "m", task: str | None = None) -> list[DiaryCell]:
    return [DiaryCell(start=start + timedelta(minutes=10 * i), memo=memo, task=task) for i in range(count)]


def test_consecutive_cells_with_the_same_memo_and_task_merge():
    day = cells(NINE, 6, "Header") + cells(NINE + timedelta(hours=1), 2, "Header")  # one hour, then 20 minutes
    day += cells(NINE + timedelta(hours=3), 3, "Header") + cells(NINE + timedelta(hours=3, minutes=30), 2, "Review")
    day += cells(NINE + timedelta(hours=4), 1, "Review", task="QA")
    assert merge_cells(list(reversed(day))) == [
        Interval(NINE, 4800, "Header"),
        Interval(NINE + timedelta(hours=3), 1800, "Header"),
        Interval(NINE + timedelta(hours=3, minutes=30), 1200, "Review"),
        Interval(NINE + timedelta(hours=4), 600, "QA: Review"),
    ]
    assert merge_cells([]) == []


@given(st.lists(st.integers(min_value=0, max_value=143), unique=True))
def test_merged_intervals_cover_exactly_the_cells(slots):
    day = [DiaryCell(start=NINE.replace(hour=0) + timedelta(minutes=10 * s), memo="x") for s in slots]
    intervals = merge_cells(day)
    assert sum(i.seconds for i in intervals) == 600 * len(slots)
    assert all(a.end < b.start for a, b in zip(intervals, intervals[1:], strict=False))  # gaps between them


@pytest.mark.parametrize(
    ("task", "memo", "note"),
    [("Frontend", "Header", "Frontend: Header"), (None, "Header", "Header"), ("QA", "", "QA"), (None, "  ", None)],
)
def test_entry_note(task, memo, note):
    assert entry_note(task, memo) == note


def test_daily_totals_are_stacked_from_the_local_start_hour():
    def row(hours: float, memo: str, task: str | None = None) -> TimeReportRow:
        return TimeReportRow(
            dateWorkedOn=date(2026, 7, 1),
            totalHoursWorked=hours,
            memo=memo,
            taskDescription=task,
            contract=NamedRef(id="c"),
        )

    intervals = daily_total_intervals(
        [row(1.5, "Support", "Tickets"), row(0.0, "nothing"), row(1 / 6, "Jour fixe")],
        date(2026, 7, 1),
        ZoneInfo("Europe/Berlin"),
        9,
    )
    seven_utc = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 in Berlin (summer time)
    assert intervals == [
        Interval(seven_utc, 5400, "Tickets: Support", DAILY_TOTAL),
        Interval(seven_utc + timedelta(seconds=5400), 600, "Jour fixe", DAILY_TOTAL),
    ]


@pytest.mark.parametrize(
    ("now", "first", "last"),
    [
        (datetime(2026, 11, 18, 20, 0, tzinfo=UTC), date(2026, 11, 16), date(2026, 11, 18)),  # Wednesday
        (datetime(2026, 11, 16, 11, 59, tzinfo=UTC), date(2026, 11, 9), date(2026, 11, 16)),  # Monday before noon
        (datetime(2026, 11, 16, 12, 0, tzinfo=UTC), date(2026, 11, 16), date(2026, 11, 16)),  # frozen at noon
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), date(2026, 11, 16), date(2026, 11, 22)),  # Sunday night
        (datetime(2026, 11, 16, 12, 30, tzinfo=ZoneInfo("Europe/Berlin")), date(2026, 11, 9), date(2026, 11, 16)),
        (datetime(2026, 11, 16, 13, 30, tzinfo=ZoneInfo("Europe/Berlin")), date(2026, 11, 16), date(2026, 11, 16)),
    ],
)
def test_open_weeks(now, first, last):
    assert open_weeks(now) == (first, last)


@given(
    st.dates(date(2024, 1, 1), date(2028, 12, 31)),
    st.datetimes(datetime(2024, 1, 1), datetime(2029, 1, 1), timezones=st.just(UTC)),
)
def test_a_stopped_contract_syncs_exactly_while_its_last_week_is_open(stop_day, now):
    """The hourly sync re-reads the open weeks: a stopped contract is still "syncing" exactly when they reach the
    week it stopped in, so its status and what the sync reads agree."""
    stop = ContractStop("ended", stop_day)
    syncs, _ = contract_sync_state("hourly", True, "p", "confirmed", True, stop, now)
    first, _ = open_weeks(now)
    assert syncs == (first <= stop.last_day)


def test_day_windows():
    assert day_windows(date(2026, 1, 1), date(2026, 3, 31), 30) == [
        (date(2026, 1, 1), date(2026, 1, 30)),
        (date(2026, 1, 31), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 31)),
    ]
    assert day_windows(date(2026, 1, 2), date(2026, 1, 1), 30) == []


def test_rates_of_a_day_follow_the_history_on_the_upwork_side():
    history = [
        RatePeriod(Decimal("45"), date(2026, 1, 1), date(2026, 5, 31)),
        RatePeriod(Decimal("50"), date(2026, 6, 1)),
    ]
    pay, bill = Decimal("30"), Decimal("70")
    assert rates_on_day("agency", history, pay, bill, date(2026, 5, 31)) == (pay, Decimal("45"))
    assert rates_on_day("agency", history, pay, bill, date(2026, 6, 1)) == (pay, Decimal("50"))
    assert rates_on_day("freelancer", history, None, None, date(2026, 6, 1)) == (None, Decimal("50"))
    assert rates_on_day("client", history, pay, bill, date(2026, 2, 1)) == (Decimal("45"), bill)
    assert rates_on_day("client", [], pay, bill, date(2026, 2, 1)) == (pay, bill)


def target(**changes) -> ContractTarget:
    values = dict(
        organization_id="org",
        organization_kind="agency",
        contract_id="c1",
        title="Relaunch",
        freelancer_id="f1",
        awork_user_id="u1",
        awork_project_id="p1",
        awork_type_of_work_id="t1",
        pay_rate=Decimal("30"),
        rate_history=[(Decimal("45"), date(2026, 1, 1), None)],
    )
    return ContractTarget(**(values | changes))


def test_a_day_plan_creates_updates_deletes_and_keeps():
    day = NINE.date()
    stored = [
        draft_entry(target(), day, Interval(NINE, 3600, "kept")),
        draft_entry(target(), day, Interval(NINE + timedelta(hours=2), 1800, "longer now")),
        draft_entry(target(), day, Interval(NINE + timedelta(hours=4), 600, "gone")),
        draft_entry(target(), day, Interval(NINE + timedelta(hours=6), 600, "crashed")),
    ]
    for index, entry in enumerate(stored[:3]):
        entry.id, entry.awork_time_entry_id = index + 1, f"a{index}"
    stored[3].id = 4  # recorded before the create, never after: a crash in between
    moved = target(awork_project_id="p2", rate_history=[(Decimal("48"), date(2026, 1, 1), None)])
    drafts = [
        draft_entry(moved, day, Interval(NINE, 3600, "kept")),  # the project mapping changed: the entry stays
        draft_entry(moved, day, Interval(NINE + timedelta(hours=2), 2400, "longer now")),
        draft_entry(moved, day, Interval(NINE + timedelta(hours=6), 600, "crashed")),
        draft_entry(moved, day, Interval(NINE + timedelta(hours=8), 1200, "new")),
    ]
    changes = plan_day(drafts, stored)
    assert [e.note for e in changes.create] == ["new"] and changes.create[0].awork_project_id == "p2"
    assert [(e.awork_time_entry_id, e.duration_seconds, e.awork_project_id) for e in changes.update] == [
        ("a1", 2400, "p1")
    ]
    assert [e.awork_time_entry_id for e in changes.delete] == ["a2"]
    assert [e.id for e in changes.resume] == [4]
    assert [(e.awork_time_entry_id, e.bill_rate) for e in changes.rates] == [("a0", Decimal("48"))]
    assert changes.unchanged == 0 and changes.touches_awork_entries and changes.writes == 4

    written = draft_entry(moved, day, Interval(NINE, 3600, "kept"))
    written.awork_time_entry_id = "a9"
    again = plan_day(drafts[:1], [written])
    assert (again.unchanged, again.writes, again.touches_awork_entries) == (1, 0, False)


def test_which_contracts_sync_and_the_issues_of_those_that_cannot():
    orgs = [
        UpworkOrganization(id="ag", name="Agency", kind="agency"),
        UpworkOrganization(id="cl", name="Client", kind="client"),
    ]

    def contract(org: str, cid: str, kind: str = "hourly", freelancer: str = "f1") -> UpworkContract:
        return UpworkContract(
            organization_id=org, id=cid, freelancer_id=freelancer, title=cid, kind=kind, status="ACTIVE"
        )

    contracts = [
        contract("cl", "shared"),
        contract("ag", "shared"),
        contract("ag", "fixed", kind="fixed"),
        contract("ag", "unconfirmed", freelancer="f2"),
        contract("ag", "disabled"),
        contract("ag", "no-type"),
    ]
    mappings = {
        (c.organization_id, c.id): UpworkContractMapping(
            organization_id=c.organization_id,
            contract_id=c.id,
            awork_project_id="p",
            enabled=c.id != "disabled",
            awork_type_of_work_id="custom" if c.id != "no-type" else None,
        )
        for c in contracts
    }
    users = [
        UpworkUserMapping(organization_id=o, freelancer_id="f1", awork_user_id="u1", state=CONFIRMED)
        for o in ("ag", "cl")
    ]
    users.append(UpworkUserMapping(organization_id="ag", freelancer_id="f2", awork_user_id="u2", state="suggested"))
    rates = [UpworkRate(contract_id="shared", hourly_rate=Decimal("40"), currency="USD", start_date=date(2026, 1, 1))]

    targets, issues = contract_targets(orgs, contracts, mappings, users, rates, None)
    assert [(t.organization_id, t.contract_id) for t in targets] == [("ag", "shared")]  # the agency side wins
    assert targets[0].rates_on(date(2026, 2, 1)) == (None, Decimal("40"))
    assert sorted((i.kind, i.object_ref) for i in issues) == [
        ("contract enabled twice", "upwork contract cl/shared"),
        ("no type of work", "upwork contract ag/no-type"),
        ("unmapped freelancer", "upwork contract ag/unconfirmed"),
    ]
    with_default, _ = contract_targets(orgs, contracts, mappings, users, rates, "upwork-type")
    assert {t.contract_id: t.awork_type_of_work_id for t in with_default} == {
        "shared": "custom",
        "no-type": "upwork-type",
    }


def test_an_ended_contract_is_a_target_up_to_the_end_of_the_week_it_ended_in():
    org = UpworkOrganization(id="ag", name="Agency", kind="agency")
    ended = UpworkContract(
        organization_id="ag", id="c", freelancer_id="f", title="c", kind="hourly", status="ENDED", end_date=WEDNESDAY
    )
    mapping = UpworkContractMapping(organization_id="ag", contract_id="c", awork_project_id="p", enabled=True)
    user = UpworkUserMapping(organization_id="ag", freelancer_id="f", awork_user_id="u", state=CONFIRMED)
    [target], issues = contract_targets([org], [ended], {("ag", "c"): mapping}, [user], [], "t")
    assert issues == [] and target.last_day == date(2026, 11, 22)
    assert target.syncs_on(date(2026, 11, 22)) and not target.syncs_on(date(2026, 11, 23))


def test_windows_bring_the_history_of_new_contracts_and_nothing_after_a_stop():
    def target(contract_id: str, **kw) -> ContractTarget:
        return ContractTarget(
            organization_id="ag",
            organization_kind="agency",
            contract_id=contract_id,
            title=contract_id,
            freelancer_id="f",
            awork_user_id="u",
            awork_project_id="p",
            awork_type_of_work_id="t",
            **kw,
        )

    known, new, ended = target("known"), target("new", has_history=False), target("ended", last_day=date(2026, 9, 6))
    windows = sync_windows(
        [known, new, ended], {"ag": "Agency"}, (date(2026, 11, 16), date(2026, 11, 18)), 30, date(2026, 8, 20)
    )
    assert [(w.organization_name, w.first_day, w.last_day, [t.contract_id for t in w.targets]) for w in windows] == [
        ("Agency", date(2026, 11, 16), date(2026, 11, 18), ["known", "new"]),  # the open weeks
        ("Agency", date(2026, 8, 20), date(2026, 9, 18), ["new"]),  # history: only the new contract's
        ("Agency", date(2026, 9, 19), date(2026, 10, 18), ["new"]),
        ("Agency", date(2026, 10, 19), date(2026, 11, 15), ["new"]),
    ]
    backfill = sync_windows([known, ended], {}, (date(2026, 8, 1), date(2026, 10, 29)), 30)
    assert [(w.organization_name, w.first_day, [t.contract_id for t in w.targets]) for w in backfill] == [
        ("ag", date(2026, 8, 1), ["known", "ended"]),
        ("ag", date(2026, 8, 31), ["known", "ended"]),  # the task reads the ended one up to 2026-09-06
        ("ag", date(2026, 9, 30), ["known"]),
    ]
