"""Upwork time in awork: the 90-day backfill of three organisations, the hourly sync of the open weeks, rates on
every entry, crashes, mapping changes, and the status view."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import FlowRunSort
from typer.testing import CliRunner

from cli import app
from flows.backfill_upwork import backfill_upwork
from flows.refresh_upwork import refresh_upwork
from flows.sync_upwork import sync_upwork
from models import clock
from models.settings import get_settings
from models.store import open_store
from models.upwork_store import UpworkStore
from sandbox.upwork import CELL_SECONDS
from tasks import upwork_times
from tasks.shared import upwork_store
from tasks.upwork_status import read_status
from tasks.upwork_time_rules import entry_note, open_weeks
from tests.test_reports import artifacts_of, table
from tests.test_upwork_connection import connect, freelancer_id, org_id

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()
BERLIN = ZoneInfo("Europe/Berlin")


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def contract_id(upwork, title: str) -> str:
    return next(c["id"] for c in upwork.contracts() if c["title"] == title)


@pytest.fixture
def world(upwork, awork_people, sims, monkeypatch):
    """The sandbox's three organisations connected and refreshed; freelancers confirmed; contracts mapped:
    the agency's relaunch, shop and intranet (no work diary), the client's ended landing page, the freelancer's
    UX research; the fixed-price logo redesign mapped too. The clock stands at 15:00 UTC of the seed's today."""
    today = upwork.today()
    monkeypatch.setattr(clock, "utc_now", lambda: datetime.combine(today, time(15), tzinfo=UTC))
    mehmet = sims.awork.add_user("Mehmet", "Yilmaz", "mehmet@pixelwerk.example")
    sims.awork.add_type_of_work("Upwork")
    projects = {name: sims.awork.add_project(name)["id"] for name in ("Relaunch", "Support", "Kampagne")}
    connect(upwork)
    agency, client, solo = (
        org_id(upwork, n) for n in ("Pixelwerk Agency", "Nordlicht Client Org", "Jana Novak (Freelancer)")
    )
    users = {"Jörg": "joerg", "Anna": "anna", "John": "john", "Jana": "jana"}
    for first, key in users.items():
        for org in (agency, solo):
            if first == "Jana" and org == agency or first != "Jana" and org == solo:
                continue
            invoke(
                "upwork",
                "map-user",
                freelancer_id(upwork, first),
                "--org",
                org,
                "--awork-user",
                awork_people[key]["id"],
            )
    invoke("upwork", "map-user", freelancer_id(upwork, "Mehmet"), "--org", client, "--awork-user", mehmet["id"])
    mapped = {
        "Website Relaunch – Frontend": (agency, "Relaunch", ["--pay-rate", "30"]),
        "Onlineshop Wartung": (agency, "Support", []),
        "Intranet Support": (agency, "Support", []),
        "Logo Redesign": (agency, "Relaunch", []),
        "Kampagnen-Landingpage": (client, "Kampagne", ["--bill-rate", "55"]),
        "UX Research": (solo, "Kampagne", []),
    }
    for title, (org, project, extra) in mapped.items():
        invoke(
            "upwork", "map-contract", contract_id(upwork, title), "--org", org, "--project", projects[project], *extra
        )
    return {"today": today, "projects": projects, "orgs": (agency, client, solo), "mehmet": mehmet}


def expected_entries(upwork, world, awork_people, titles=None, last_day=None) -> dict[tuple, tuple]:
    """What awork should hold, computed from the simulator's cells: (user, project, start) -> (seconds, note)."""
    users = {"Jörg": awork_people["joerg"]["id"], "Anna": awork_people["anna"]["id"]}
    users |= {"John": awork_people["john"]["id"], "Jana": awork_people["jana"]["id"], "Mehmet": world["mehmet"]["id"]}
    targets = {
        "Website Relaunch – Frontend": ("Jörg", "Relaunch"),
        "Onlineshop Wartung": ("Anna", "Support"),
        "Intranet Support": ("John", "Support"),
        "Kampagnen-Landingpage": ("Mehmet", "Kampagne"),
        "UX Research": ("Jana", "Kampagne"),
    }
    first_day = world["today"] - timedelta(days=89)
    expected = {}
    for title, (person, project) in targets.items():
        if titles is not None and title not in titles:
            continue
        contract = upwork._contracts[contract_id(upwork, title)]
        last = last_day or world["today"]
        cells = sorted(
            (t, c) for t, c in contract.cells.items() if first_day <= datetime.fromtimestamp(t, UTC).date() <= last
        )
        if not contract.diary_available:  # daily totals per (task, memo), stacked from 09:00 Berlin
            by_day: dict[date, dict[tuple, int]] = {}
            for instant, cell in cells:
                day = datetime.fromtimestamp(instant, UTC).date()
                by_day.setdefault(day, {}).setdefault((cell.task, cell.memo), 0)
                by_day[day][(cell.task, cell.memo)] += 1
            for day, groups in by_day.items():
                start = datetime.combine(day, time(9), tzinfo=BERLIN).astimezone(UTC)
                for (task, memo), count in groups.items():
                    key = (users[person], world["projects"][project], start)
                    expected[key] = (count * CELL_SECONDS, entry_note(task, memo))
                    start += timedelta(seconds=count * CELL_SECONDS)
            continue
        run_start, run_cells, run_cell = None, 0, None
        for instant, cell in cells + [(None, None)]:
            if run_cell is not None and (
                instant is None or instant != run_start + run_cells * CELL_SECONDS or (cell.task, cell.memo) != run_cell
            ):
                key = (users[person], world["projects"][project], datetime.fromtimestamp(run_start, UTC))
                expected[key] = (run_cells * CELL_SECONDS, entry_note(*run_cell))
                run_start = None
            if instant is None:
                break
            if run_start is None:
                run_start, run_cells, run_cell = instant, 1, (cell.task, cell.memo)
            else:
                run_cells += 1
    return expected


def awork_entries(sims) -> dict[tuple, tuple]:
    found = {}
    for entry in sims.awork.time_entries():
        start = datetime.fromisoformat(entry["startDateUtc"]).date()
        moment = datetime.combine(start, time.fromisoformat(entry["startTimeUtc"][:8]), tzinfo=UTC)
        found[(entry["userId"], entry["projectId"], moment)] = (entry["duration"], entry.get("note"))
    return found


def report_margin_matches_the_awork_entries(world, awork_people, sims, monkeypatch, change: date) -> None:
    """The margin report of the relaunch contract from the stored entries equals its awork entries at the rates of
    their days (bill 45, from the rate change 50; pay 30)."""
    from flows import upwork_margin as margin_module

    monkeypatch.setenv("TIMEBRIDGE_REPORT_DIR", str(Path(get_settings().database_url.split("///")[1]).parent / "r"))
    get_settings.cache_clear()
    summary = margin_module.upwork_margin(start=world["today"] - timedelta(days=89), end=world["today"])
    [row] = [r for r in summary.rows if str(list(r.values())[1]).startswith("Website Relaunch")]
    ours = [
        e
        for e in sims.awork.time_entries()
        if e["userId"] == awork_people["joerg"]["id"] and e["projectId"] == world["projects"]["Relaunch"]
    ]
    hours = sum(Decimal(e["duration"]) / 3600 for e in ours)
    revenue = sum(
        Decimal(e["duration"]) / 3600 * (50 if date.fromisoformat(e["startDateUtc"][:10]) >= change else 45)
        for e in ours
    )
    cents = Decimal("0.01")
    values = list(row.values())
    assert values[3:8] == [
        len(ours),
        str(hours.quantize(cents)),
        str((hours * 30).quantize(cents)),
        str(revenue.quantize(cents)),
        str((revenue - hours * 30).quantize(cents)),
    ]


def test_backfill_of_three_organisations_lands_the_expected_entries_and_rates(
    upwork, world, awork_people, sims, monkeypatch
):
    summary = backfill_upwork()
    assert summary.status == "completed", summary.issues
    expected = expected_entries(upwork, world, awork_people)
    assert awork_entries(sims) == expected
    assert summary.entries_created == len(expected) == len(sims.awork.time_entries())
    types = {t["name"]: t["id"] for t in sims.awork.types_of_work()}
    assert {e["typeOfWorkId"] for e in sims.awork.time_entries()} == {types["Upwork"]}

    stored = upwork_store(get_settings()).time_entries()
    assert len(stored) == len(expected) and all(e.awork_time_entry_id for e in stored)
    relaunch = contract_id(upwork, "Website Relaunch – Frontend")
    change = world["today"] - timedelta(days=30)
    for entry in stored:
        if entry.contract_id == relaunch:  # agency: bills the Upwork rate of the day, pays the mapping's rate
            assert entry.bill_rate == (Decimal("50") if entry.day >= change else Decimal("45"))
            assert entry.pay_rate == Decimal("30")
        if entry.contract_id == contract_id(upwork, "Kampagnen-Landingpage"):  # client: pays the Upwork rate
            assert (entry.pay_rate, entry.bill_rate) == (Decimal("35"), Decimal("55"))
        if entry.contract_id == contract_id(upwork, "Intranet Support"):
            assert entry.source == "daily total"
    assert {e.contract_id for e in stored if e.day < change} >= {relaunch}

    report_margin_matches_the_awork_entries(world, awork_people, sims, monkeypatch, change)

    mark = sims.awork.log.mark()
    again = backfill_upwork()
    assert sims.awork.log.writes(mark) == [] and again.entries_unchanged == len(expected)
    resync = backfill_upwork(start=world["today"] - timedelta(days=20), end=world["today"] - timedelta(days=10))
    assert sims.awork.log.writes(mark) == [] and resync.entries_created == 0


def test_fixed_price_disabled_and_unsynced_freelancer_bring_no_time(upwork, world, awork_people, sims):
    agency = world["orgs"][0]
    invoke("upwork", "map-contract", contract_id(upwork, "Onlineshop Wartung"), "--org", agency, "--disable")
    invoke("upwork", "map-user", freelancer_id(upwork, "John"), "--org", agency, "--no-sync")
    backfill_upwork()
    kept = {"Website Relaunch – Frontend", "Kampagnen-Landingpage", "UX Research"}
    assert awork_entries(sims) == expected_entries(upwork, world, awork_people, kept)


def test_disconnect_keeps_every_entry(upwork, world, sims):
    backfill_upwork()
    before = sims.awork.time_entries()
    invoke("upwork", "disconnect")
    summary = sync_upwork()
    assert summary.status == "completed with issues" and summary.issues[0].kind == "upwork not connected"
    assert sims.awork.time_entries() == before and len(upwork_store(get_settings()).time_entries()) == len(before)


def freeze(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: moment)


def last_wednesday(today: date) -> date:
    """The latest Wednesday before today (its week and the one before have seeded work every weekday)."""
    return today - timedelta(days=(today.weekday() - 2) % 7 or 7)


def entries_of(sims, user_id: str, day: date) -> list[tuple[datetime, int, str | None]]:
    found = [(start, *values) for (user, _, start), values in awork_entries(sims).items() if user == user_id]
    return sorted(f for f in found if f[0].date() == day)


def test_hourly_sync_corrects_an_open_day_and_leaves_a_frozen_week_alone(
    upwork, world, awork_people, sims, monkeypatch
):
    wednesday = last_wednesday(world["today"])
    freeze(monkeypatch, datetime.combine(wednesday, time(20), tzinfo=UTC))
    backfill_upwork()
    relaunch, joerg = contract_id(upwork, "Website Relaunch – Frontend"), awork_people["joerg"]["id"]
    tuesday, frozen_tuesday = wednesday - timedelta(days=1), wednesday - timedelta(days=8)
    before_frozen = entries_of(sims, joerg, frozen_tuesday)
    upwork.edit_work(relaunch, tuesday, 3)  # 30 minutes left of the morning; the afternoon is gone
    upwork.edit_work(relaunch, frozen_tuesday, 2)

    summary = sync_upwork()
    assert summary.status == "completed", summary.issues
    assert (summary.first_day, summary.last_day) == (wednesday - timedelta(days=2), wednesday)
    assert (summary.entries_updated, summary.entries_deleted, summary.entries_created) == (1, 1, 0)
    morning = datetime.combine(tuesday, time(8), tzinfo=UTC)
    assert entries_of(sims, joerg, tuesday) == [(morning, 1800, "Frontend: Header-Komponente umgebaut")]
    assert entries_of(sims, joerg, frozen_tuesday) == before_frozen  # the frozen week is not re-read

    backfill_upwork(start=frozen_tuesday, end=frozen_tuesday)  # a resync of a frozen day is a manual run
    assert awork_entries(sims) == expected_entries(upwork, world, awork_people, last_day=wednesday)


def test_a_day_edited_in_awork_first_is_reported_not_overwritten(upwork, world, awork_people, sims, monkeypatch):
    wednesday = last_wednesday(world["today"])
    freeze(monkeypatch, datetime.combine(wednesday, time(20), tzinfo=UTC))
    backfill_upwork()
    relaunch, joerg = contract_id(upwork, "Website Relaunch – Frontend"), awork_people["joerg"]["id"]
    tuesday, monday = wednesday - timedelta(days=1), wednesday - timedelta(days=2)
    store = upwork_store(get_settings())
    ours = [e for e in store.time_entries(contract_ids=[relaunch], days=(tuesday, tuesday))]
    sims.awork.update_time_entry(ours[0].awork_time_entry_id, note="Header fertig (von Hand)")
    upwork.edit_work(relaunch, tuesday, 3)
    upwork.edit_work(relaunch, monday, 4)

    summary = sync_upwork()
    assert summary.status == "completed with issues" and summary.days_held == 1
    [issue] = summary.issues
    assert issue.kind == "edited in awork" and issue.object_ref.endswith(f"/{relaunch} day {tuesday}")
    assert [e[2] for e in entries_of(sims, joerg, tuesday)][0] == "Header fertig (von Hand)"
    assert len(entries_of(sims, joerg, tuesday)) == 2  # nothing of that day was changed or deleted
    assert [e[1] for e in entries_of(sims, joerg, monday)] == [2400]  # the rest of the run went on
    open_issues = open_store(get_settings().database_url).open_issues("upwork-time")
    assert [i.kind for i in open_issues] == ["edited in awork"]


def test_a_changed_contract_project_moves_new_entries_only(upwork, world, awork_people, sims, monkeypatch):
    wednesday = last_wednesday(world["today"])
    freeze(monkeypatch, datetime.combine(wednesday, time(20), tzinfo=UTC))
    backfill_upwork()
    relaunch, joerg = contract_id(upwork, "Website Relaunch – Frontend"), awork_people["joerg"]["id"]
    on_relaunch = [k for k in awork_entries(sims) if k[:2] == (joerg, world["projects"]["Relaunch"])]
    invoke("upwork", "map-contract", relaunch, "--org", world["orgs"][0], "--project", world["projects"]["Support"])
    evening = datetime.combine(wednesday, time(18), tzinfo=UTC)
    upwork.add_work(relaunch, evening, 3, memo="Deployment", task="Frontend")

    summary = sync_upwork()
    assert summary.entries_created == 1 and summary.entries_updated == 0
    assert awork_entries(sims)[(joerg, world["projects"]["Support"], evening)] == (1800, "Frontend: Deployment")
    assert [k for k in awork_entries(sims) if k[:2] == (joerg, world["projects"]["Relaunch"])] == on_relaunch


class Crash(RuntimeError):
    pass


def test_a_crash_mid_backfill_then_a_rerun_doubles_nothing_and_misses_nothing(
    upwork, world, awork_people, sims, monkeypatch
):
    original = UpworkStore.save_time_entries
    saves = []

    def crashing(self, entries):
        if any(e.awork_time_entry_id for e in entries):
            saves.append(len(entries))
            if len(saves) == 3:
                raise Crash("killed after creating entries in awork, before recording them")
        return original(self, entries)

    monkeypatch.setattr(upwork_times, "SAVE_EVERY", 7)
    monkeypatch.setattr(UpworkStore, "save_time_entries", crashing)
    sims.awork.faults.fail_next(2, 502, method="POST", route="/timeentries", after_processing=True)  # lost answers
    with pytest.raises(Exception):  # noqa: B017 - the run fails, whatever Prefect wraps the crash in
        backfill_upwork()
    assert any(e.awork_time_entry_id is None for e in upwork_store(get_settings()).time_entries())

    monkeypatch.setattr(UpworkStore, "save_time_entries", original)
    summary = backfill_upwork()
    expected = expected_entries(upwork, world, awork_people)
    assert summary.status == "completed" and awork_entries(sims) == expected
    assert len(sims.awork.time_entries()) == len(expected)
    assert all(e.awork_time_entry_id for e in upwork_store(get_settings()).time_entries())


def test_the_status_view_equals_the_entries_in_awork(upwork, world, awork_people, sims):
    output = invoke("run", "backfill-upwork", "--org", world["orgs"][0], "--org", world["orgs"][1])
    assert "entries created" in output and "backfill-upwork" in output
    view = read_status(world["today"])
    entries = sims.awork.time_entries()
    users = {key: person["id"] for key, person in awork_people.items()} | {"mehmet": world["mehmet"]["id"]}
    who = {
        ("Pixelwerk Agency", "Website Relaunch – Frontend"): "joerg",
        ("Pixelwerk Agency", "Onlineshop Wartung"): "anna",
        ("Pixelwerk Agency", "Intranet Support"): "john",
        ("Nordlicht Client Org", "Kampagnen-Landingpage"): "mehmet",
    }
    assert len(view.contracts) == 8  # hourly contracts of the three organisations
    for row in view.contracts:
        person = who.get((row["organisation"], row["contract"]))
        seconds = sum(
            e["duration"]
            for e in entries
            if e["userId"] == users.get(person) and e["project"]["name"] == row["awork project"]
        )
        assert row["hours"] == row["hours today"] == round(seconds / 3600, 2), row
        assert (seconds > 0) == (person is not None), row
    agency = next(r for r in view.organizations if r["organisation"] == "Pixelwerk Agency")
    assert agency["active contracts"] == 4 and agency["last sync"] != "never"
    recent = [r for r in view.recent_entries if r["contract"] == "Onlineshop Wartung"]
    anna = sorted(
        (e for e in entries if e["userId"] == awork_people["anna"]["id"]),
        key=lambda e: (e["startDateUtc"], e["startTimeUtc"]),
    )
    assert len(recent) == 10 and recent[0]["hours"] == round(anna[-1]["duration"] / 3600, 2)
    assert recent[0]["date"] == anna[-1]["startDateLocal"][:10]
    printed = invoke("upwork", "status")
    assert "Onlineshop" in printed and "Pixelwerk" in printed and "connected" in printed


def test_the_prefect_ui_names_windows_by_organisation_and_shows_what_is_done(upwork, world, sims):
    backfill_upwork()
    run_id = latest_run("backfill-upwork")
    today = world["today"]
    windows = [(today - timedelta(days=days), today - timedelta(days=days - 29)) for days in (89, 59, 29)]
    with get_client(sync_client=True) as client:
        names = {
            t.name for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        }
    agency, solo = "Pixelwerk Agency", "Jana Novak (Freelancer)"
    assert {f"{org}: {first} to {last}" for org in (agency, solo) for first, last in windows} <= names
    assert f"Nordlicht Client Org: {windows[2][0]} to {windows[2][1]}" not in names  # its contract ended before

    artifacts = artifacts_of(run_id)
    stored = upwork_store(get_settings()).time_entries()
    progress = artifacts["backfill-upwork-progress"]
    assert progress.data == 100.0
    assert progress.description == (
        f"organisations 3 of 3 · windows 8 of 8 · contract-days {len({(e.contract_id, e.day) for e in stored})} · "
        f"entries {len(sims.awork.time_entries())} created, 0 updated, 0 deleted, 0 unchanged"
    )
    contracts = table(artifacts["upwork-status-contracts-pixelwerk-agency"])
    assert [row[0] for row in contracts] == [
        "Intranet Support",
        "Kampagnen-Landingpage",
        "Onlineshop Wartung",
        "Website Relaunch – Frontend",
    ]
    assert all(len(" | ".join(map(str, row))) <= 100 for row in contracts)  # fits beside Prefect's sidebar
    assert {"upwork-status-organisations", "upwork-status-recent-entries"} <= set(artifacts)


def latest_run(flow_name: str):
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), sort=FlowRunSort.START_TIME_DESC, limit=1
        )
    return run.id


def test_a_contract_ended_mid_window_brings_its_earlier_hours_and_nothing_after_its_last_open_week(
    upwork, world, awork_people, sims, monkeypatch
):
    shop = contract_id(upwork, "Onlineshop Wartung")
    ended = world["today"] - timedelta(days=1)  # its last day of work
    upwork.set_status(shop, "ENDED", end=ended)
    refresh_upwork()
    mark = upwork.log.mark()
    sync_upwork()  # its last week is open: still read
    assert shop in time_reads(upwork, mark)
    assert row_of(read_status(world["today"]), "Onlineshop Wartung")["sync"].endswith(f"(ended on {ended})")

    freeze(monkeypatch, datetime.combine(world["today"] + timedelta(days=21), time(15), tzinfo=UTC))
    summary = backfill_upwork()  # the 90 days up to three weeks later: the end lies mid-window
    assert summary.status == "completed", summary.issues
    assert awork_entries(sims) == expected_entries(upwork, world, awork_people)  # its hours up to the end arrived
    mark = upwork.log.mark()
    sync_upwork()
    assert shop not in time_reads(upwork, mark)  # once its last week froze, nothing of it is read
    assert row_of(read_status(world["today"]), "Onlineshop Wartung")["sync"] == f"ended on {ended}"


def time_reads(upwork, mark: int) -> str:
    """The contracts the time queries since `mark` asked Upwork about (ids in their variables)."""
    queries = [e.body for e in upwork.log.since(mark) if isinstance(e.body, dict) and "query" in e.body]
    return " ".join(
        json.dumps(q["variables"]) for q in queries if "contractTimeReport" in q["query"] or "workDiary" in q["query"]
    )


def row_of(view, title: str) -> dict:
    return next(r for r in view.contracts if r["contract"] == title)


def test_a_contract_enabled_after_the_first_backfill_gets_its_history_on_the_next_sync_once(
    upwork, world, awork_people, sims
):
    research, solo = contract_id(upwork, "UX Research"), world["orgs"][2]
    invoke("upwork", "map-contract", research, "--org", solo, "--disable")
    backfill_upwork()
    others = {"Website Relaunch – Frontend", "Onlineshop Wartung", "Intranet Support", "Kampagnen-Landingpage"}
    assert awork_entries(sims) == expected_entries(upwork, world, awork_people, others)
    invoke("upwork", "map-contract", research, "--org", solo, "--enable")

    first = sync_upwork()
    assert awork_entries(sims) == expected_entries(upwork, world, awork_people)  # its 60 seeded days arrived
    assert first.entries_created == len(expected_entries(upwork, world, awork_people, {"UX Research"}))
    mark, writes = upwork.log.mark(), sims.awork.log.mark()
    again = sync_upwork()
    assert again.entries_created == 0 and sims.awork.log.writes(writes) == []
    week_start = open_weeks(clock.utc_now())[0].isoformat()
    assert all(start >= week_start for start in read_starts(upwork, mark))  # only the open weeks were read again


def read_starts(upwork, mark: int) -> list[str]:
    """The first days of the time report ranges of syncing contracts asked for since `mark` (not the refresh's)."""
    filters = [
        e.body["variables"]["filter"]
        for e in upwork.log.since(mark)
        if isinstance(e.body, dict) and "contractTimeReport" in e.body.get("query", "")
    ]
    return [f["timeReportDate_bt"]["rangeStart"] for f in filters if f.get("contractIds")]
