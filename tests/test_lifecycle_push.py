"""What the push does when MOCO closes things: time on a deactivated task, on an archived or unflagged project, before
the sync start date, and on an awork project linked later. End to end against the simulators, under Prefect."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from flows.import_moco_projects import import_moco_projects
from flows.push_awork_times import push_awork_times
from models.settings import get_settings
from models.store import open_store
from tests import test_push_awork_times
from tests.conftest import AWORK_APP_URL, Sims
from tests.test_push_awork_times import TODAY, UNASSIGNED, activity_of, add_entry, at, moco_task_id

pytestmark = pytest.mark.usefixtures("prefect_harness")

office = test_push_awork_times.office  # the push tests' office: a MOCO project imported into awork, its people


def moco_refusals(sims: Sims) -> list:
    return [e for e in sims.moco.log.entries if e.route.startswith("/activities") and e.status == 422]


def test_time_on_a_deactivated_task_goes_to_the_name_match_or_unassigned(sims, office):
    design_task = office["awork_tasks"]["Design"]
    before = add_entry(sims, office, task_id=design_task, start=at(TODAY - timedelta(days=5), 9))
    push_awork_times()
    moco_design = moco_task_id(sims, office, "Design")
    sims.moco.update_task(office["moco_project"]["id"], moco_design, active=False)
    import_moco_projects()
    assert sims.awork.task(design_task)["taskStatus"]["type"] == "done"
    by_type = add_entry(sims, office, task_id=design_task, type_of_work_id=office["entwicklung"]["id"])
    unmatched = add_entry(sims, office, task_id=design_task, type_of_work_id=office["beratung"]["id"])
    marks = sims.marks()

    summary = push_awork_times()

    assert summary.status == "completed" and moco_refusals(sims) == []
    assert activity_of(sims, by_type)["task"]["id"] == moco_task_id(sims, office, "Entwicklung")
    assert activity_of(sims, unmatched)["task"]["id"] == moco_task_id(sims, office, UNASSIGNED)
    assert activity_of(sims, before)["task"]["id"] == moco_design  # booked before: it stays where it is
    assert not [w for w in sims.writes(*marks) if f"/activities/{activity_of(sims, before)['id']}" in w.path]
    marks = sims.marks()
    push_awork_times()
    assert sims.writes(*marks) == []


def test_time_on_an_unflagged_project_is_reported_once_and_pushed_when_flagged_again(sims, office, settings):
    moco_id = office["moco_project"]["id"]
    sims.moco.update_project(moco_id, tags=[])  # no longer flagged
    recent = add_entry(sims, office, start=at(TODAY - timedelta(days=2), 9))
    old = add_entry(sims, office, start=at(TODAY - timedelta(days=60), 9))  # outside the re-scan window

    first = push_awork_times()

    assert sims.moco.activities() == []
    assert [(i.kind, i.object_ref) for i in first.issues] == [("project closed", f"moco project {moco_id}")]
    assert "2 new awork time entries" in first.issues[0].message
    marks = sims.marks()
    second = push_awork_times()
    assert second.issues == [] and second.status == "completed"
    assert sims.writes(*marks) == []
    assert [i.kind for i in open_store(settings.database_url).open_issues("push-awork-times")] == ["project closed"]

    sims.moco.update_project(moco_id, tags=["Sync to awork"])
    again = push_awork_times()

    assert again.status == "completed"
    assert {a["remote_id"] for a in sims.moco.activities()} == {f"awork:{recent['id']}", f"awork:{old['id']}"}
    assert open_store(settings.database_url).open_issues("push-awork-times") == []


def test_an_archived_project_holds_back_edits_and_new_time(sims, office):
    pushed = add_entry(sims, office, start=at(TODAY - timedelta(days=3), 9))
    push_awork_times()
    sims.moco.update_project(office["moco_project"]["id"], active=False)  # archived
    sims.awork.update_time_entry(pushed["id"], duration=7200)

    summary = push_awork_times()

    assert activity_of(sims, pushed)["seconds"] == 3600
    assert summary.planned["entries held back"] == 1 and summary.issues[0].kind == "project closed"

    sims.moco.update_project(office["moco_project"]["id"], active=True)
    push_awork_times()
    assert activity_of(sims, pushed)["seconds"] == 7200


def since(monkeypatch, day: date) -> None:
    monkeypatch.setenv("TIMEBRIDGE_SYNC_SINCE", day.isoformat())
    get_settings.cache_clear()


def test_nothing_before_the_sync_start_date_is_pushed(sims, office, monkeypatch):
    since(monkeypatch, TODAY - timedelta(days=10))
    kept_out = add_entry(sims, office, start=at(TODAY - timedelta(days=11), 9))
    pushed = add_entry(sims, office, start=at(TODAY - timedelta(days=10), 9))

    push_awork_times()
    push_awork_times(start=TODAY - timedelta(days=30), end=TODAY)  # a resync does not reach before it either

    assert [a["remote_id"] for a in sims.moco.activities()] == [f"awork:{pushed['id']}"]
    assert sims.moco.activities(remote_id=f"awork:{kept_out['id']}") == []


def test_linking_an_existing_awork_project_pushes_its_entries_since_the_start_date(sims, office, monkeypatch):
    push_awork_times()  # the office's project is caught up; the cursor is set
    since(monkeypatch, TODAY - timedelta(days=100))
    existing = sims.awork.add_project("Relaunch (in awork begonnen)", project_key="REL")
    entries = {
        days: add_entry(sims, office, project_id=existing["id"], start=at(TODAY - timedelta(days=days), 9))
        for days in (120, 90, 3)
    }
    customer = office["moco_project"]["customer"]["id"]
    link = f"{AWORK_APP_URL}/projects/{existing['id']}"
    sims.moco.add_project(
        "Relaunch",
        identifier="P2",
        customer_id=customer,
        tags=["Sync to awork"],
        custom_properties={"awork Projekt": link},
    )
    import_moco_projects()
    sims.moco.add_contract(sims.moco.projects()[-1]["id"], office["anna_moco"]["id"])

    summary = push_awork_times()

    assert summary.status == "completed"
    pushed = {a["remote_id"] for a in sims.moco.activities()}
    assert pushed == {f"awork:{entries[90]['id']}", f"awork:{entries[3]['id']}"}
    marks = sims.marks()
    push_awork_times()
    assert sims.writes(*marks) == []
