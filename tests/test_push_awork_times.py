"""The "push awork times" flow end to end, against the simulators over HTTP, under Prefect."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from flows.import_moco_projects import import_moco_projects
from flows.push_awork_times import push_awork_times
from models import clock
from models.store import Store, open_store
from sandbox.core import ServedSimulator
from tests.conftest import Sims
from tests.test_import_moco_projects import crash_on_first_save_of, seed_fields

pytestmark = pytest.mark.usefixtures("prefect_harness")

TODAY = date(2026, 11, 20)
BERLIN = ZoneInfo("Europe/Berlin")
UNASSIGNED = "Nicht zugeordnete Zeiterfassung"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time as an aware datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def office(sims: Sims, settings, monkeypatch) -> dict:
    """A MOCO project imported into awork (tasks Design, Entwicklung), MOCO users Anna (staffed) and Ben (not),
    awork users Anna (e-mail in other case), Ben and Carl (no MOCO account), and an unlinked awork project."""
    monkeypatch.setattr(clock, "today", lambda timezone="UTC": TODAY)
    seed_fields(sims)
    customer = sims.moco.add_company("Pixelwerk GmbH")
    project = sims.moco.add_project(
        "Website", identifier="P1", customer_id=customer["id"], tags=["Sync to awork"], tasks=["Design", "Entwicklung"]
    )
    anna_moco = sims.moco.add_user("Anna", "Schmidt", "anna@pixelwerk.de")
    ben_moco = sims.moco.add_user("Ben", "Weber", "ben@pixelwerk.de")
    sims.moco.add_contract(project["id"], anna_moco["id"])
    import_moco_projects()
    [awork_project] = sims.awork.projects()
    awork_tasks = {t["name"]: t["id"] for t in sims.awork.project_tasks(awork_project["id"])}
    return {
        "moco_project": project,
        "awork_project": awork_project,
        "awork_tasks": awork_tasks,
        "anna_moco": anna_moco,
        "ben_moco": ben_moco,
        "anna": sims.awork.add_user("Anna", "Schmidt", "Anna@Pixelwerk.DE"),
        "ben": sims.awork.add_user("Ben", "Weber", "ben@pixelwerk.de"),
        "carl": sims.awork.add_user("Carl", "Klein", "carl@freelance.example"),
        "other_project": sims.awork.add_project("Intern (nicht verknüpft)", project_key="INT"),
        "design": sims.awork.add_type_of_work("Design"),
        "entwicklung": sims.awork.add_type_of_work("  ENTWICKLUNG "),
        "beratung": sims.awork.add_type_of_work("Beratung"),
    }


def add_entry(sims: Sims, office: dict, user: str = "anna", **fields) -> dict:
    values = {
        "user_id": office[user]["id"],
        "project_id": office["awork_project"]["id"],
        "start": at(TODAY - timedelta(days=3), 9),
        "duration": 3600,
        "type_of_work_id": office["design"]["id"],
    } | fields
    return sims.awork.add_time_entry(**values)


def activity_of(sims: Sims, entry: dict) -> dict:
    [activity] = sims.moco.activities(remote_id=f"awork:{entry['id']}")
    return activity


def moco_task_id(sims: Sims, office: dict, name: str) -> int:
    project = sims.moco.get_project(office["moco_project"]["id"])
    [task_id] = [t["id"] for t in project["tasks"] if t["name"] == name]
    return task_id


def store(settings) -> Store:
    return open_store(settings.database_url)


def test_a_month_of_entries_lands_as_the_right_activities(sims, office):
    from_task = add_entry(
        sims,
        office,
        task_id=office["awork_tasks"]["Design"],
        note="Wireframes",
        type_of_work_id=office["beratung"]["id"],
        start=at(TODAY - timedelta(days=28), 9),
    )
    by_type = add_entry(sims, office, type_of_work_id=office["entwicklung"]["id"], duration=5401, is_billable=False)
    unmatched = [
        add_entry(sims, office, type_of_work_id=office["beratung"]["id"], start=at(TODAY - timedelta(days=d), 14))
        for d in (2, 9)
    ]
    late = add_entry(sims, office, start=at(date(2026, 11, 10), 23, 30), duration=1800)
    after_midnight = add_entry(sims, office, start=at(date(2026, 11, 12), 0, 30), duration=1800)  # 23:30 UTC
    bens = add_entry(sims, office, user="ben", start=at(TODAY - timedelta(days=1), 10))

    summary = push_awork_times()

    assert summary.status == "completed"
    anna, ben = office["anna_moco"]["id"], office["ben_moco"]["id"]
    first = activity_of(sims, from_task)
    assert (first["task"]["id"], first["description"], first["user"]["id"]) == (
        moco_task_id(sims, office, "Design"),
        "Wireframes",
        anna,
    )
    assert first["date"] == str(TODAY - timedelta(days=28)) and first["tag"] == "awork"
    second = activity_of(sims, by_type)
    assert (second["task"]["id"], second["seconds"], second["billable"]) == (
        moco_task_id(sims, office, "Entwicklung"),
        5401,
        False,
    )
    unassigned_id = moco_task_id(sims, office, UNASSIGNED)  # created once for both
    assert [activity_of(sims, e)["task"]["id"] for e in unmatched] == [unassigned_id, unassigned_id]
    assert activity_of(sims, late)["date"] == "2026-11-10"  # 23:30 in Berlin is 22:30 UTC, same local day
    assert activity_of(sims, after_midnight)["date"] == "2026-11-12"  # its UTC date is the 11th
    assert activity_of(sims, bens)["user"]["id"] == ben
    assert ben in {c["user_id"] for c in sims.moco.contracts(office["moco_project"]["id"])}
    assert len(sims.moco.activities()) == 7
    bulk = [e for e in sims.moco.log.entries if e.route == "/activities/bulk" and e.status == 200]
    # created in bulk: one request per user and slice of days, each acting as that user
    assert len(bulk) < 6
    assert {e.headers["x-impersonate-user-id"] for e in bulk} == {str(anna), str(ben)}
    assert all(len({a["user"]["id"] for a in e.response_body}) == 1 for e in bulk)


def test_second_run_sends_zero_writes(sims, office):
    for days in range(1, 20):
        add_entry(sims, office, start=at(TODAY - timedelta(days=days), 8))
    push_awork_times()
    marks = sims.marks()

    summary = push_awork_times()

    assert sims.writes(*marks) == []
    assert summary.planned["unchanged"] == 19


def test_edits_in_awork_update_their_activities(sims, office):
    entries = [add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in range(1, 6)]
    push_awork_times()
    ids = [activity_of(sims, e)["id"] for e in entries]
    sims.awork.update_time_entry(entries[0]["id"], duration=4500)
    sims.awork.update_time_entry(entries[1]["id"], note="Kickoff call")
    sims.awork.update_time_entry(entries[2]["id"], start=at(TODAY - timedelta(days=10), 9))
    sims.awork.update_time_entry(entries[3]["id"], taskId=office["awork_tasks"]["Entwicklung"])
    sims.awork.update_time_entry(entries[4]["id"], isBillable=False)
    marks = sims.marks()

    summary = push_awork_times()

    assert summary.activities_updated == 5
    after = [activity_of(sims, e) for e in entries]
    assert [a["id"] for a in after] == ids  # updated in place
    assert after[0]["seconds"] == 4500
    assert after[1]["description"] == "Kickoff call"
    assert after[2]["date"] == str(TODAY - timedelta(days=10))
    assert after[3]["task"]["id"] == moco_task_id(sims, office, "Entwicklung")
    assert after[4]["billable"] is False
    assert {e.method for e in sims.writes(*marks)} == {"PUT"}


def test_deleted_and_moved_entries_are_removed_from_moco(sims, office):
    kept, deleted, moved = (add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in (1, 2, 3))
    push_awork_times()
    sims.awork.delete_time_entry(deleted["id"])
    sims.awork.update_time_entry(moved["id"], projectId=office["other_project"]["id"])

    summary = push_awork_times()

    assert summary.activities_deleted == 2
    assert [a["remote_id"] for a in sims.moco.activities()] == [f"awork:{kept['id']}"]


def test_billed_activities_are_left_untouched_and_reported(sims, office, settings):
    changed, deleted = (add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in (1, 2))
    push_awork_times()
    for entry in (changed, deleted):
        sims.moco.bill_activity(activity_of(sims, entry)["id"])
    before = sorted((a["id"], a["seconds"]) for a in sims.moco.activities())
    sims.awork.update_time_entry(changed["id"], duration=9999)
    sims.awork.delete_time_entry(deleted["id"])

    summary = push_awork_times()

    assert summary.status == "completed with issues"
    assert sorted((a["id"], a["seconds"]) for a in sims.moco.activities()) == before
    issues = store(settings).open_issues("push-awork-times")
    assert sorted((i.kind, i.object_ref) for i in issues) == sorted(
        [
            ("billed activity", f"awork time entry {changed['id']}"),
            ("billed activity", f"awork time entry {deleted['id']}"),
        ]
    )


def test_unknown_user_and_a_moco_refusal_are_issues_while_the_rest_syncs(sims, office, settings):
    fine = [add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in (1, 2, 3)]
    refused = add_entry(sims, office, start=at(TODAY - timedelta(days=4), 9), note="refused by MOCO")
    carls = add_entry(sims, office, user="carl")

    def is_refused(request) -> bool:
        body = request.body or {}
        items = body.get("activities", [body])
        return any(item.get("remote_id") == f"awork:{refused['id']}" for item in items)

    sims.moco.faults.fail_next(
        2, 422, method="POST", when=is_refused, body={"errors": {"description": ["ist nicht gültig"]}}
    )

    summary = push_awork_times()

    assert summary.status == "completed with issues"
    assert sorted(a["remote_id"] for a in sims.moco.activities()) == sorted(f"awork:{e['id']}" for e in fine)
    issues = {(i.kind, i.object_ref): i.message for i in store(settings).open_issues("push-awork-times")}
    assert ("unknown user", f"awork user {office['carl']['id']}") in issues
    assert "carl@freelance.example" in issues[("unknown user", f"awork user {office['carl']['id']}")]
    assert "ist nicht gültig" in issues[("moco rejected activity", f"awork time entry {refused['id']}")]
    assert carls["id"] not in {a["remote_id"] for a in sims.moco.activities()}

    again = push_awork_times()  # the refusal was transient: the next run creates it and resolves its issue

    assert f"awork:{refused['id']}" in {a["remote_id"] for a in sims.moco.activities()}
    assert [i.kind for i in store(settings).open_issues("push-awork-times")] == ["unknown user"]
    assert again.activities_created == 1


def test_resync_after_the_store_was_wiped_creates_no_duplicate(sims, office, settings):
    for d in range(1, 8):
        add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9))
    push_awork_times()
    store(settings).delete_links("activity", store(settings).links("activity"))
    marks = sims.marks()

    summary = push_awork_times(start=TODAY - timedelta(days=30), end=TODAY)

    assert len(sims.moco.activities()) == 7
    assert sims.writes(*marks) == []  # found by remote_id and linked again
    assert summary.activities_linked == 7
    assert len(store(settings).links("activity")) == 7


def test_resync_after_the_store_was_wiped_also_removes_activities_of_deleted_entries(sims, office, settings):
    kept, deleted = (add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in (1, 2))
    push_awork_times()
    store(settings).delete_links("activity", store(settings).links("activity"))
    sims.awork.delete_time_entry(deleted["id"])

    summary = push_awork_times(start=TODAY - timedelta(days=7), end=TODAY)

    assert summary.activities_deleted == 1
    assert [a["remote_id"] for a in sims.moco.activities()] == [f"awork:{kept['id']}"]


def test_resync_of_a_range_only_touches_that_range(sims, office):
    inside = add_entry(sims, office, start=at(date(2026, 10, 5), 9))
    outside = add_entry(sims, office, start=at(date(2026, 9, 5), 9))

    summary = push_awork_times(start=date(2026, 10, 1), end=date(2026, 10, 31))

    assert (summary.first_day, summary.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert [a["remote_id"] for a in sims.moco.activities()] == [f"awork:{inside['id']}"]
    assert outside["id"]


def test_crash_after_bulk_create_before_the_store_commit_creates_no_duplicate(sims, office, monkeypatch):
    for d in range(1, 6):
        add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9))
    crash_on_first_save_of(monkeypatch, "activity")
    with pytest.raises(Exception):  # noqa: B017 - the run fails, whatever Prefect wraps the crash in
        push_awork_times()
    assert len(sims.moco.activities()) == 5  # the bulk create reached MOCO
    monkeypatch.undo()
    monkeypatch.setattr(clock, "today", lambda timezone="UTC": TODAY)

    summary = push_awork_times()

    assert summary.status == "completed"
    assert len(sims.moco.activities()) == 5 and summary.activities_linked == 5


def test_lost_answer_to_a_bulk_create_is_resolved_by_remote_id(sims, office):
    for d in range(1, 4):
        add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9))
    sims.moco.faults.fail_next(1, 502, method="POST", route="/activities/bulk", after_processing=True)

    summary = push_awork_times()

    assert summary.status == "completed"
    assert len(sims.moco.activities()) == 3


def test_bursts_of_429_and_5xx_lose_nothing_and_double_nothing(sims, office):
    entries = [add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in range(1, 11)]
    sims.moco.faults.fail_next(3, 429)
    sims.awork.faults.fail_next(3, 429)
    sims.moco.faults.fail_next(2, 503, method="POST")
    sims.awork.faults.fail_next(2, 500, method="GET")

    summary = push_awork_times()

    assert summary.status == "completed"
    assert sorted(a["remote_id"] for a in sims.moco.activities()) == sorted(f"awork:{e['id']}" for e in entries)


def test_incremental_run_follows_an_old_entry_edited_since_the_last_run(sims, office):
    old = add_entry(sims, office, start=at(TODAY - timedelta(days=50), 9))
    push_awork_times(start=TODAY - timedelta(days=60), end=TODAY)
    push_awork_times()  # sets the cursor
    sims.awork.update_time_entry(old["id"], duration=7200)

    push_awork_times()

    assert activity_of(sims, old)["seconds"] == 7200


def test_dry_run_writes_nothing(sims, office):
    add_entry(sims, office)
    marks = sims.marks()
    summary = push_awork_times(dry_run=True)
    assert sims.writes(*marks) == [] and summary.planned["activities to create"] == 1


def test_entries_deleted_in_awork_long_ago_lose_their_activities_on_the_next_run(sims, office, settings):
    """awork's webhook reports the deletion to the receiver, which keeps it; the next incremental run deletes the
    activity although the entry is far older than the re-scan, and a billed one stays an issue until unbilled."""
    from connectors.awork import AworkClient, AworkWebhookForm
    from tasks.time_rules import REPORTED_DELETED
    from tasks.webhook_rules import AWORK_PATH, AWORK_TOKEN_HEADER
    from webhooks.receiver import create_app

    old, billed = (add_entry(sims, office, start=at(TODAY - timedelta(days=d), 9)) for d in (200, 300))
    push_awork_times(start=TODAY - timedelta(days=300), end=TODAY)
    push_awork_times()  # sets the cursor
    sims.moco.bill_activity(activity_of(sims, billed)["id"])
    token = SecretStr("hook-token")
    with ServedSimulator(create_app(settings, token, emit=lambda **event: None)) as receiver:
        hook = AworkWebhookForm(
            name="timebridge",
            uri=receiver.url + AWORK_PATH,
            events=["timetracking_deleted"],
            header_name=AWORK_TOKEN_HEADER,
            header_value=token,
        )
        with AworkClient.from_settings(settings) as awork:
            awork.create_webhook(hook)
        for entry in (old, billed):
            sims.awork.delete_time_entry(entry["id"])
        assert sims.awork.deliveries.wait(10)
    assert sorted(store(settings).links(REPORTED_DELETED)) == sorted([old["id"], billed["id"]])

    summary = push_awork_times()

    assert summary.activities_deleted == 1 and summary.status == "completed with issues"
    assert sims.moco.activities(remote_id=f"awork:{old['id']}") == []
    assert activity_of(sims, billed)["billed"] is True
    assert [i.object_ref for i in summary.issues] == [f"awork time entry {billed['id']}"]
    assert list(store(settings).links(REPORTED_DELETED)) == [billed["id"]]  # tried again on every run
    again = push_awork_times()
    assert [i.object_ref for i in again.issues] == [f"awork time entry {billed['id']}"]
    assert [i.object_ref for i in store(settings).open_issues("push-awork-times")] == [
        f"awork time entry {billed['id']}"
    ]


def test_a_safety_net_run_reports_the_writes_the_events_missed(sims, office):
    from prefect.artifacts import Artifact

    add_entry(sims, office)
    missed = push_awork_times(safety_net=True)
    assert missed.missed_by_events == 1  # nothing had pushed the new entry before the schedule's run

    caught_up = push_awork_times(safety_net=True)

    assert caught_up.missed_by_events == 0
    artifact = Artifact.get("push-awork-times-summary")
    assert artifact is not None and {"what": "missed_by_events", "count": 0} in json.loads(str(artifact.data))
    assert "missed_by_events" not in push_awork_times().counts()  # only the schedules' runs report it
