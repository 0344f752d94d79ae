"""The pure rules of the MOCO project import."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.moco import MocoProject
from models.plans import DELETED_TASK_HASH, CustomerRef, TaskDraft
from models.store import IssueDraft, Link
from tasks.project_rules import (
    ImportLinks,
    ImportNames,
    awork_project_url,
    closed_task_name,
    draft_project,
    is_in_scope,
    member_changes,
    normalize_name,
    parse_awork_link,
    plan_import,
    project_key,
    project_steps,
    reopened_task_name,
    wanted_members,
)

NAMES = ImportNames()
APP = "https://acme.awork.com"
AWORK_ID = "3f2c1a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f"


def moco_project(**fields) -> MocoProject:
    base = {
        "id": 1,
        "identifier": "P001",
        "name": "Website",
        "customer": {"id": 7, "name": "Pixelwerk GmbH"},
        "tags": ["Sync to awork"],
        "tasks": [{"id": 11, "name": "Design"}, {"id": 12, "name": "Entwicklung"}],
    }
    return MocoProject.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("identifier", "key"),
    [
        ("P001", "P001"),
        ("p1903-003", "P1903-003"),
        ("P 24/001", "P-24-001"),
        ("Über_Projekt", "UEBER_PROJEKT"),
        ("  Straße 5 ", "STRASSE-5"),
        ("Café", "CAFE"),
        ("A" * 32, "A" * 32),
        ("A" * 33, None),
        ("///", None),
        ("", None),
        (None, None),
    ],
)
def test_project_key_fits_awork_rule(identifier, key):
    assert project_key(identifier) == key


@given(st.text(max_size=60))
def test_project_key_is_always_a_valid_awork_key_or_none(identifier):
    key = project_key(identifier)
    assert key is None or (1 <= len(key) <= 32 and all(c.isascii() and (c.isalnum() or c in "-_") for c in key))
    assert key is None or key == key.upper()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"{APP}/projects/{AWORK_ID}", AWORK_ID),
        (f"{APP}/projects/{AWORK_ID}/details", AWORK_ID),
        (f"{APP}/projects/{AWORK_ID.upper()}?tab=tasks", AWORK_ID),
        ("https://acme.awork.com/projects/", None),
        ("acme.awork.com/projects/" + AWORK_ID, None),
        ("see awork", None),
        (42, None),
    ],
)
def test_parse_awork_link(value, expected):
    assert parse_awork_link(value) == expected


def test_url_round_trips_through_the_parser():
    assert parse_awork_link(awork_project_url(APP + "/", AWORK_ID)) == AWORK_ID


@pytest.mark.parametrize(
    ("tags", "field", "in_scope"),
    [(["Sync to awork"], None, True), ([], "1", True), ([], "true", True), ([], "0", False), (["Other"], None, False)],
)
def test_scope_by_tag_or_yes_no_field(tags, field, in_scope):
    props = {"Sync zu awork": field} if field is not None else {}
    assert is_in_scope(moco_project(tags=tags, custom_properties=props), NAMES) is in_scope


def test_names_compare_up_to_case_spacing_and_unicode_form():
    assert normalize_name("  Café   Design ") == normalize_name("CAFE\u0301 design")


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"custom_properties": {"awork Projektvorlage": "Nope"}}, "unknown template"),
        ({"identifier": "X" * 40}, "invalid project key"),
        ({"customer": None}, "missing customer"),
        ({"custom_properties": {"awork Projekt": "awork.com/p/1"}}, "malformed awork link"),
    ],
)
def test_bad_input_becomes_a_sync_issue(fields, kind):
    result = draft_project(moco_project(**fields), {"website": "t1"}, NAMES)
    assert isinstance(result, IssueDraft)
    assert result.kind == kind
    assert result.object_ref == "moco project 1"


def test_unknown_template_does_not_block_an_already_linked_project():
    props = {"awork Projektvorlage": "Nope", "awork Projekt": f"{APP}/projects/{AWORK_ID}"}
    draft = draft_project(moco_project(custom_properties=props), {}, NAMES)
    assert not isinstance(draft, IssueDraft)
    assert draft.linked_awork_id == AWORK_ID


def test_the_push_flows_unassigned_task_is_not_mirrored_to_awork():
    tasks = [{"id": 11, "name": "Design"}, {"id": 19, "name": "Nicht zugeordnete Zeiterfassung"}]
    draft = draft_project(moco_project(tasks=tasks), {}, NAMES)
    assert [t.name for t in draft.tasks] == ["Design"]


def test_draft_carries_template_dates_and_tasks():
    project = moco_project(
        custom_properties={"awork Projektvorlage": " website "}, start_date="2026-01-01", finish_date="2026-02-01"
    )
    draft = draft_project(project, {"website": "t1"}, NAMES)
    assert draft.template_id == "t1"
    assert (draft.start_date, draft.due_date) == (date(2026, 1, 1), date(2026, 2, 1))
    assert [t.name for t in draft.tasks] == ["Design", "Entwicklung"]


def link(kind: str, source: str, target: str, hash_: str | None, parent: str | None = None) -> Link:
    return Link(kind=kind, source_id=source, target_id=target, source_hash=hash_, parent_id=parent)


def test_new_project_is_created_with_all_tasks_and_its_link_written_back():
    draft = draft_project(moco_project(), {}, NAMES)
    steps = project_steps(draft, None, {}, False, APP)
    assert steps.create_project and steps.write_back_link and steps.ensure_task_list
    assert [t.moco_id for t in steps.create_tasks] == [11, 12]


def test_synced_project_is_a_noop():
    url = f"{APP}/projects/{AWORK_ID}"
    draft = draft_project(moco_project(custom_properties={"awork Projekt": url}), {}, NAMES)
    tasks = {str(t.moco_id): link("task", str(t.moco_id), f"a{t.moco_id}", t.hash, "1") for t in draft.tasks}
    members = link("project_members", "1", AWORK_ID, draft.members_hash(AWORK_ID))
    steps = project_steps(draft, link("project", "1", AWORK_ID, draft.hash), tasks, True, APP, members_link=members)
    assert steps.is_noop


def test_changes_update_the_project_and_rename_and_add_tasks():
    url = f"{APP}/projects/{AWORK_ID}"
    old = draft_project(moco_project(custom_properties={"awork Projekt": url}), {}, NAMES)
    tasks = {str(t.moco_id): link("task", str(t.moco_id), f"a{t.moco_id}", t.hash, "1") for t in old.tasks}
    renamed = [{"id": 11, "name": "UX Design"}, {"id": 12, "name": "Entwicklung"}, {"id": 13, "name": "QA"}]
    new = draft_project(
        moco_project(name="Website 2", tasks=renamed, custom_properties={"awork Projekt": url}), {}, NAMES
    )
    steps = project_steps(new, link("project", "1", AWORK_ID, old.hash), tasks, True, APP)
    assert steps.update_project and not steps.create_project and not steps.write_back_link
    assert steps.rename_tasks == [TaskDraft(moco_id=11, name="UX Design")]
    assert steps.create_tasks == [TaskDraft(moco_id=13, name="QA")]


def test_prefilled_link_links_instead_of_creating():
    draft = draft_project(moco_project(custom_properties={"awork Projekt": f"{APP}/projects/{AWORK_ID}"}), {}, NAMES)
    steps = project_steps(draft, None, {}, False, APP)
    assert steps.link_existing and not steps.create_project
    assert steps.awork_project_id == AWORK_ID
    assert not steps.write_back_link


def test_plan_skips_unflagged_reports_issues_and_duplicate_keys():
    projects = [
        moco_project(id=1, identifier="P 1"),
        moco_project(id=2, identifier="P-1"),  # same awork key as project 1
        moco_project(id=3, tags=[]),  # not flagged
        moco_project(id=4, identifier="P4", customer=None),
    ]
    plan = plan_import(projects, {}, ImportLinks(), NAMES, APP)
    assert [p.draft.moco_id for p in plan.projects] == [1]
    assert sorted((i.object_ref, i.kind) for i in plan.issues) == [
        ("moco project 2", "invalid project key"),
        ("moco project 4", "missing customer"),
    ]
    assert plan.checked_refs == ["moco project 1", "moco project 2", "moco project 4"]
    assert plan.counts()["projects to create"] == 1


# --- project members ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wanted", "current", "ours", "add", "update", "remove"),
    [
        ({"lena": True, "anna": False}, {}, set(), {"lena": True, "anna": False}, {}, []),  # first sync
        ({"lena": True}, {"lena": True}, {"lena"}, {}, {}, []),  # in line
        ({"lena": True}, {"lena": True, "anna": False}, {"lena", "anna"}, {}, {}, ["anna"]),  # contract ended
        ({"lena": True}, {"lena": True, "carl": False}, {"lena"}, {}, {}, []),  # added by hand: stays
        ({"anna": True, "lena": False}, {"lena": True, "anna": False}, set(), {}, {"lena": False, "anna": True}, []),
        ({"anna": True}, {"carl": True}, set(), {"anna": True}, {"carl": False}, []),  # MOCO names the leader
        ({"anna": False}, {"carl": True}, set(), {"anna": False}, {}, []),  # no leader known: carl keeps the flag
        ({}, {"lena": True}, {"lena"}, {}, {}, ["lena"]),  # nobody left in MOCO
    ],
)
def test_member_changes(wanted, current, ours, add, update, remove):
    changes = member_changes(wanted, current, ours)
    assert (changes.add, changes.update, changes.remove) == (add, update, remove)


@pytest.mark.parametrize(
    ("leader", "staff", "wanted", "missing"),
    [
        (1, [1, 2], {"a1": True, "a2": False}, []),
        (None, [2], {"a2": False}, []),
        (1, [3], {"a1": True}, [3]),  # no awork account
        (1, [4], {"a1": True}, []),  # deactivated in MOCO (no e-mail known): left out
    ],
)
def test_wanted_members_match_by_email(leader, staff, wanted, missing):
    draft = draft_project(moco_project(leader={"id": leader} if leader else None), {}, NAMES)
    draft = draft.model_copy(update={"staff_ids": staff})
    moco_emails = {1: "Lena@Pixelwerk.de", 2: "anna@pixelwerk.de", 3: "nina@pixelwerk.de"}
    awork_users = {"lena@pixelwerk.de": "a1", "anna@pixelwerk.de": "a2"}
    assert wanted_members(draft, moco_emails, awork_users) == (wanted, missing)


def test_members_resync_only_when_leader_staff_or_link_change():
    contracts = [{"id": 1, "user_id": 5, "active": True}, {"id": 2, "user_id": 6, "active": False}]
    draft = draft_project(moco_project(leader={"id": 5}, contracts=contracts), {}, NAMES)
    assert (draft.leader_id, draft.staff_ids) == (5, [5])
    synced = link("project_members", "1", AWORK_ID, draft.members_hash(AWORK_ID))
    url = f"{APP}/projects/{AWORK_ID}"
    linked = draft.model_copy(update={"linked_awork_id": AWORK_ID, "moco_link_value": url})
    assert not project_steps(linked, None, {}, True, APP, members_link=synced).sync_members
    staffed = linked.model_copy(update={"staff_ids": [5, 6]})
    assert project_steps(staffed, None, {}, True, APP, members_link=synced).sync_members
    other = "00000000-0000-4000-8000-000000000001"
    relinked = linked.model_copy(update={"linked_awork_id": other})
    assert project_steps(relinked, None, {}, True, APP, members_link=synced).sync_members


# --- what closes ----------------------------------------------------------------------------------------------------
def linked_tasks(tasks: list[TaskDraft]) -> dict[str, Link]:
    return {str(t.moco_id): link("task", str(t.moco_id), f"a{t.moco_id}", t.hash, "1") for t in tasks}


@pytest.mark.parametrize(
    ("moco_tasks", "create", "rename", "close", "close_deleted"),
    [
        ([{"id": 11, "name": "Design"}, {"id": 12, "name": "Entwicklung"}], [], [], [], []),
        ([{"id": 11, "name": "Design", "active": False}, {"id": 12, "name": "Entwicklung"}], [], [], [11], []),
        ([{"id": 11, "name": "Design"}], [], [], [], [12]),  # deleted in MOCO
        (
            [
                {"id": 11, "name": "Design"},
                {"id": 12, "name": "Entwicklung"},
                {"id": 13, "name": "QA", "active": False},
            ],
            [],
            [],
            [],
            [],
        ),  # never mirrored while inactive
        ([{"id": 11, "name": "Design"}, {"id": 12, "name": "Entwicklung"}, {"id": 13, "name": "QA"}], [13], [], [], []),
    ],
)
def test_which_tasks_close(moco_tasks, create, rename, close, close_deleted):
    before = draft_project(moco_project(), {}, NAMES)
    draft = draft_project(moco_project(tasks=moco_tasks), {}, NAMES)
    steps = project_steps(draft, None, linked_tasks(before.tasks), True, APP)
    assert [t.moco_id for t in steps.create_tasks] == create
    assert [t.moco_id for t in steps.rename_tasks] == rename
    assert [t.moco_id for t in steps.close_tasks] == close
    assert steps.close_deleted_tasks == close_deleted


def test_closed_tasks_stay_closed_and_come_back_when_active_again():
    closed = draft_project(moco_project(tasks=[{"id": 11, "name": "Design", "active": False}]), {}, NAMES)
    links = linked_tasks(closed.tasks) | {"12": link("task", "12", "a12", DELETED_TASK_HASH, "1")}
    assert not project_steps(closed, None, links, True, APP).close_tasks  # done once
    assert project_steps(closed, None, links, True, APP).close_deleted_tasks == []
    active = draft_project(moco_project(tasks=[{"id": 11, "name": "Design"}]), {}, NAMES)
    assert [t.moco_id for t in project_steps(active, None, links, True, APP).rename_tasks] == [11]


@pytest.mark.parametrize(
    ("name", "closed", "reopened"),
    [
        ("Design", "Design (geschlossen in MOCO)", "Design"),
        ("Design (geschlossen in MOCO)", "Design (geschlossen in MOCO)", "Design"),
    ],
)
def test_closed_task_names(name, closed, reopened):
    assert closed_task_name(name) == closed
    assert reopened_task_name(closed_task_name(name)) == reopened


def test_projects_that_left_the_scope_close_once_and_reopen_when_back():
    links = ImportLinks(
        projects={
            "1": link("project", "1", "aw1", None),
            "2": link("project", "2", "aw2", None),
            "3": link("project", "3", "aw3", None),
        },
        closed={"3": link("project_closed", "3", "aw3", None)},
    )
    projects = [moco_project(id=1, identifier="P1"), moco_project(id=2, identifier="P2", tags=[])]
    plan = plan_import(projects, {}, links, NAMES, APP)
    assert [(c.moco_id, c.awork_project_id) for c in plan.close_projects] == [(2, "aw2")]  # 3 is closed already
    back = plan_import([*projects, moco_project(id=3, identifier="P3")], {}, links, NAMES, APP)
    assert [p.draft.moco_id for p in back.projects if p.steps.reopen_project] == [3]


def test_only_companies_we_created_follow_a_renamed_customer():
    created = link("company", "7", "c7", CustomerRef(moco_id=7, name="Pixelwerk GmbH").hash)
    found = link("company", "8", "c8", None)
    projects = [
        moco_project(id=1, identifier="P1", customer={"id": 7, "name": "Pixelwerk Digital"}),
        moco_project(id=2, identifier="P2", customer={"id": 8, "name": "Nordlicht Gruppe"}),
    ]
    plan = plan_import(projects, {}, ImportLinks(companies={"7": created, "8": found}), NAMES, APP)
    assert plan.rename_companies == [CustomerRef(moco_id=7, name="Pixelwerk Digital")]
