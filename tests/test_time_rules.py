"""The pure rules of "push awork times"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.awork import AworkTimeEntry, AworkUser
from connectors.moco import MocoActivity
from models.store import IssueDraft, Link
from tasks.time_rules import (
    LinkedProject,
    PushContext,
    activities_to_read,
    catch_up_days,
    description,
    draft_activity,
    held_issues,
    local_date,
    match_task,
    plan_push,
    settled_deletions,
    sync_window,
)

AWORK_PROJECT = "11111111-1111-4111-8111-111111111111"
OTHER_PROJECT = "22222222-2222-4222-8222-222222222222"
ANNA = "33333333-3333-4333-8333-333333333333"
BEN = "44444444-4444-4444-8444-444444444444"


def entry(entry_id: str = "e1", *, start: datetime | None = None, **fields) -> AworkTimeEntry:
    start = start or datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    base = {
        "id": entry_id,
        "userId": ANNA,
        "projectId": AWORK_PROJECT,
        "typeOfWorkId": "tow",
        "typeOfWork": {"id": "tow", "name": "Design"},
        "duration": 5400,
        "isBillable": True,
        "timezone": "Europe/Berlin",
        "startDateUtc": start.strftime("%Y-%m-%dT00:00:00Z"),
        "startTimeUtc": start.strftime("%H:%M:%S"),
        "note": "Wireframes",
    }
    return AworkTimeEntry.model_validate({**base, **fields})


def context(**changes) -> PushContext:
    base = PushContext(
        projects={
            AWORK_PROJECT: LinkedProject(
                moco_id=100,
                tasks_by_name={"design": 11, "entwicklung": 12},
                staffed={500},
            )
        },
        moco_task_for_awork_task={"awork-task-12": 12},
        moco_user_by_email={"anna@pixelwerk.de": 500, "ben@pixelwerk.de": 501},
        awork_users={
            ANNA: AworkUser.model_validate(
                {"id": ANNA, "firstName": "Anna", "userContactInfos": [{"type": "email", "value": "Anna@Pixelwerk.de"}]}
            ),
            BEN: AworkUser.model_validate(
                {"id": BEN, "firstName": "Ben", "userContactInfos": [{"type": "email", "value": "ben@pixelwerk.de"}]}
            ),
        },
        app_url="https://acme.awork.com",
    )
    return base.model_copy(update=changes)


def activity(activity_id: int = 9000, *, entry_id: str = "e1", user: int = 500, **fields) -> MocoActivity:
    base = {
        "id": activity_id,
        "date": "2026-11-10",
        "seconds": 5400,
        "description": "Wireframes",
        "billable": True,
        "billed": False,
        "remote_id": f"awork:{entry_id}",
        "project": {"id": 100, "name": "Website"},
        "task": {"id": 11, "name": "Design"},
        "user": {"id": user},
    }
    return MocoActivity.model_validate({**base, **fields})


def link_for(entry_id: str, activity_id: int, draft_hash: str | None, day: date = date(2026, 11, 10)) -> Link:
    return Link(kind="activity", source_id=entry_id, target_id=str(activity_id), source_hash=draft_hash, source_day=day)


@pytest.mark.parametrize(
    ("utc", "zone_name", "local"),
    [
        (datetime(2026, 11, 10, 22, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 11, 10)),  # 23:30 Berlin
        (datetime(2026, 11, 10, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 11, 11)),  # 00:30 Berlin
        (datetime(2026, 7, 10, 22, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 7, 11)),  # summer time: 00:30
        (datetime(2026, 11, 11, 3, 0, tzinfo=UTC), "America/New_York", date(2026, 11, 10)),
        (datetime(2026, 11, 10, 22, 30, tzinfo=UTC), "Not/AZone", date(2026, 11, 10)),  # falls back to the default
    ],
)
def test_local_date_is_the_start_date_in_the_entrys_own_zone(utc, zone_name, local):
    assert local_date(entry(start=utc, timezone=zone_name), "Europe/Berlin") == local


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.sampled_from(["Europe/Berlin", "UTC", "Asia/Tokyo", "America/Los_Angeles"]),
)
def test_local_date_is_within_a_day_of_the_utc_date(moment, zone_name):
    start = moment.replace(tzinfo=UTC, microsecond=0)
    assert abs((local_date(entry(start=start, timezone=zone_name), "UTC") - start.date()).days) <= 1


@pytest.mark.parametrize(
    ("fields", "task"),
    [
        ({"taskId": "awork-task-12"}, 12),  # the task came from MOCO
        ({"typeOfWork": {"id": "t", "name": "  DESIGN "}}, 11),  # type of work named like a MOCO task
        ({"typeOfWork": {"id": "t", "name": "Entwicklung"}}, 12),
        ({"typeOfWork": {"id": "t", "name": "Beratung"}}, None),  # unassigned
        ({"taskId": "some-awork-task", "typeOfWork": {"id": "t", "name": "Sales"}}, None),
    ],
)
def test_match_task(fields, task):
    project = context().projects[AWORK_PROJECT]
    assert match_task(entry(**fields), project, context().moco_task_for_awork_task) == task


def test_type_of_work_matches_up_to_unicode_form():
    project = LinkedProject(moco_id=1, tasks_by_name={"café": 7})
    assert match_task(entry(typeOfWork={"id": "t", "name": "CAFE\u0301"}), project, {}) == 7


def test_description_is_note_else_task_else_type_of_work():
    assert description(entry(note="Call")) == "Call"
    assert description(entry(note=" ", task={"id": "t", "name": "Sitemap"})) == "Sitemap"
    assert description(entry(note=None)) == "Design"


def test_draft_carries_user_date_seconds_and_billability():
    draft = draft_activity(entry(isBillable=False, duration=5401), context())
    assert (draft.user_id, draft.moco_project_id, draft.task_id) == (500, 100, 11)
    assert (draft.date, draft.seconds, draft.billable) == (date(2026, 11, 10), 5401, False)
    assert draft.remote_id == "awork:e1"


def test_entry_on_an_unlinked_project_has_no_draft():
    assert draft_activity(entry(projectId=OTHER_PROJECT), context()) is None


def test_user_without_moco_account_is_a_sync_issue_naming_them():
    ctx = context(moco_user_by_email={})
    issue = draft_activity(entry(), ctx)
    assert isinstance(issue, IssueDraft) and issue.kind == "unknown user"
    assert "Anna@Pixelwerk.de" in issue.message and issue.object_ref == f"awork user {ANNA}"


def test_unstaffed_user_is_an_issue_only_without_auto_staff():
    assert isinstance(draft_activity(entry(userId=BEN), context(auto_staff=False)), IssueDraft)
    assert draft_activity(entry(userId=BEN), context()).user_id == 501


def test_windows():
    today = date(2026, 11, 23)
    incremental = sync_window(None, None, today, 35)
    assert (incremental.first_day, incremental.last_day, incremental.explicit) == (date(2026, 10, 19), today, False)
    resync = sync_window(date(2026, 10, 1), date(2026, 10, 31), today, 35)
    assert resync.explicit and resync.contains(date(2026, 10, 31)) and not resync.contains(date(2026, 11, 1))
    start, end = resync.utc_bounds()
    assert start <= datetime(2026, 10, 1, tzinfo=UTC) - timedelta(hours=14)
    with pytest.raises(ValueError):
        sync_window(date(2026, 11, 2), date(2026, 11, 1), today, 35)


def test_new_entries_are_created_and_unstaffed_users_staffed():
    plan = plan_push(
        [entry("e1"), entry("e2", userId=BEN, typeOfWork={"id": "t", "name": "Sales"})], {}, [], [], context()
    )
    assert [d.entry_id for d in plan.create] == ["e1", "e2"]
    assert [(s.moco_project_id, s.user_id) for s in plan.staff] == [(100, 501)]
    assert plan.unassigned_task_projects == [100]


def test_unchanged_entries_need_nothing_and_no_moco_read():
    draft = draft_activity(entry(), context())
    links = {"e1": link_for("e1", 9000, draft.hash)}
    assert activities_to_read([entry()], links, [], context()) == ([], [])
    plan = plan_push([entry()], links, [], [], context())
    assert plan.unchanged == 1 and plan.counts()["activities to create"] == 0


def test_found_by_remote_id_is_adopted_not_created():
    remote_ids, _ = activities_to_read([entry()], {}, [], context())
    assert remote_ids == ["awork:e1"]
    plan = plan_push([entry()], {}, [], [activity()], context())
    assert [c.activity_id for c in plan.adopt] == [9000] and not plan.create


def test_found_by_remote_id_but_different_is_updated():
    plan = plan_push([entry(duration=7200)], {}, [], [activity()], context())
    assert [c.activity_id for c in plan.update] == [9000]


def test_changed_entry_updates_its_activity():
    links = {"e1": link_for("e1", 9000, "old")}
    assert activities_to_read([entry(note="new")], links, [], context()) == ([], [9000])
    plan = plan_push([entry(note="new")], links, [], [activity()], context())
    assert plan.update[0].draft.description == "new"


def test_deleted_entry_deletes_its_activity_and_moved_entry_too():
    links = {"e1": link_for("e1", 9000, "h"), "e2": link_for("e2", 9001, "h")}
    current = [activity(9000), activity(9001, entry_id="e2")]
    plan = plan_push([entry("e2", projectId=OTHER_PROJECT)], links, ["e1"], current, context())
    assert sorted(r.activity_id for r in plan.delete) == [9000, 9001]


def test_billed_activity_is_never_changed_but_reported():
    links = {"e1": link_for("e1", 9000, "old"), "e2": link_for("e2", 9001, "h")}
    current = [activity(9000, billed=True), activity(9001, entry_id="e2", billed=True)]
    plan = plan_push([entry(note="changed")], links, ["e2"], current, context())
    assert not plan.update and not plan.delete
    assert sorted(i.object_ref for i in plan.issues) == ["awork time entry e1", "awork time entry e2"]
    assert all(i.kind == "billed activity" for i in plan.issues)


def test_entry_that_changed_hands_is_deleted_and_created_for_the_new_user():
    links = {"e1": link_for("e1", 9000, "old")}
    plan = plan_push([entry(userId=BEN)], links, [], [activity(9000, user=500)], context())
    assert [r.activity_id for r in plan.delete] == [9000]
    assert [d.user_id for d in plan.create] == [501]


def test_gone_on_both_sides_only_forgets_the_link():
    plan = plan_push([], {"e1": link_for("e1", 9000, "h")}, ["e1"], [], context())
    assert plan.forget == ["e1"] and not plan.delete


def test_window_slices_cover_every_day_once():
    window = sync_window(date(2026, 10, 1), date(2026, 10, 20), date(2026, 11, 1), 35)
    parts = window.slices(7)
    assert [(p.first_day.day, p.last_day.day) for p in parts] == [(1, 7), (8, 14), (15, 20)]
    assert all(p.explicit for p in parts)


def test_context_after_preparing_knows_the_new_staff_and_tasks():
    from models.plans import Staffing

    after = context().after_preparing([Staffing(moco_project_id=100, user_id=501)], {100: 77})
    assert after.projects[AWORK_PROJECT].staffed == {500, 501}
    assert after.projects[AWORK_PROJECT].unassigned_task_id == 77
    assert not plan_push([entry(userId=BEN)], {}, [], [], after).staff


def test_type_of_work_comes_from_the_workspace_list_when_the_entry_does_not_embed_it():
    bare = entry(typeOfWork=None, typeOfWorkId="tow-dev", note=None)
    project = context().projects[AWORK_PROJECT]
    assert match_task(bare, project, {}, {"tow-dev": "Entwicklung"}) == 12
    assert description(bare, {"tow-dev": "Entwicklung"}) == "Entwicklung"


# --- closed tasks and projects, sync start, catch-ups ----------------------------------------------------------------
def test_an_activity_on_a_task_closed_in_moco_stays_and_new_time_goes_elsewhere():
    closed = context(moco_task_for_awork_task={}, closed_tasks={12})  # awork-task-12's MOCO task is closed
    booked = entry("e1", taskId="awork-task-12", note=None, task={"id": "awork-task-12", "name": "Design"})
    old_link = link_for("e1", 9000, "hash of the draft on task 12")
    plan = plan_push(
        [booked], {"e1": old_link}, [], [activity(task={"id": 12, "name": "Design"}, description="Design")], closed
    )
    assert [a.activity_id for a in plan.adopt] == [9000] and plan.update == []  # no write, only the new hash
    fresh = entry("e2", taskId="awork-task-12", typeOfWork={"id": "tow", "name": "Beratung"})
    assert [d.task_id for d in plan_push([fresh], {}, [], [], closed).create] == [None]  # the unassigned task


def test_description_drops_the_mark_of_a_closed_task():
    closed_task = entry(note=None, task={"id": "t", "name": "Design (geschlossen in MOCO)"})
    assert description(closed_task) == "Design"


@pytest.mark.parametrize(
    ("linked", "held_before", "held", "reported"),
    [
        (False, False, 1, [False]),  # new time on a closed project: held and reported
        (False, True, 1, [True]),  # held by an earlier run: not reported again
        (True, False, 0, []),  # pushed before and unchanged: nothing to hold
    ],
)
def test_time_on_a_closed_project_is_held_back(linked, held_before, held, reported):
    closed = context(closed_projects={AWORK_PROJECT})
    new = entry("e1")
    draft = draft_activity(new, closed)
    links = {"e1": link_for("e1", 9000, draft.hash)} if linked else {}
    held_links = {"e1": Link(kind="held_entry", source_id="e1", target_id=AWORK_PROJECT)} if held_before else {}
    plan = plan_push([new], links, [], [], closed, held_links)
    assert (plan.create, plan.update, len(plan.hold)) == ([], [], held)
    assert [h.reported for h in plan.hold] == reported
    issues = held_issues(plan.hold, closed)
    assert [i.object_ref for i in issues] == (["moco project 100"] if reported == [False] else [])


def test_entries_before_the_sync_start_are_left_alone():
    start = context(sync_since=date(2026, 11, 10))
    before, on = entry("e1", start=datetime(2026, 11, 9, 9, tzinfo=UTC)), entry("e2")
    plan = plan_push([before, on], {}, [], [], start)
    assert [d.entry_id for d in plan.create] == ["e2"] and plan.checked_refs[0] == "awork time entry e2"
    window = sync_window(None, None, date(2026, 11, 20), 35).starting(date(2026, 11, 10))
    assert (window.first_day, window.last_day) == (date(2026, 11, 10), date(2026, 11, 20))
    assert sync_window(None, None, date(2026, 11, 20), 35).starting(date(2026, 12, 1)).slices(7) == []


@pytest.mark.parametrize(
    ("caught_up", "held_day", "closed", "since", "expected"),
    [
        (True, None, False, None, None),  # caught up, nothing held: the window covers it
        (False, None, False, None, date(2025, 11, 20)),  # newly linked: from the default day
        (False, None, False, date(2026, 6, 1), date(2026, 6, 1)),  # ... not before the sync start
        (True, date(2026, 8, 1), False, None, date(2026, 8, 1)),  # open again: from its first held entry
        (True, date(2026, 8, 1), True, None, None),  # still closed: nothing yet
        (True, date(2026, 11, 1), False, None, None),  # held inside the window: the window pushes it
        (False, None, False, date(2026, 11, 1), None),  # the sync start lies in the window
    ],
)
def test_catch_up_days(caught_up, held_day, closed, since, expected):
    ctx = context(closed_projects={AWORK_PROJECT} if closed else set(), sync_since=since)
    window = sync_window(None, None, date(2026, 11, 20), 35)
    held = [Link(kind="held_entry", source_id="e1", target_id=AWORK_PROJECT, source_day=held_day)] if held_day else []
    markers = {AWORK_PROJECT: Link(kind="push_project", source_id=AWORK_PROJECT, target_id="100")} if caught_up else {}
    parts = catch_up_days(ctx, held, markers, date(2025, 11, 20), window)
    if expected is None:
        assert parts == {}
    else:
        assert (parts[AWORK_PROJECT].first_day, parts[AWORK_PROJECT].last_day) == (expected, date(2026, 10, 15))


def test_a_reported_deletion_is_settled_unless_awork_confirms_it_and_its_activity_is_still_linked():
    reported = ["deleted", "billed", "never-ours", "still-in-awork"]
    gone = ["deleted", "billed"]  # awork answered 404 (never-ours had no link to ask about)
    still_linked = ["billed", "still-in-awork"]  # MOCO refused to delete the billed one
    assert settled_deletions(reported, gone, still_linked) == ["deleted", "never-ours", "still-in-awork"]
    assert settled_deletions([], gone, still_linked) == []
