"""What follows MOCO over time in the import: project members, deactivated and deleted tasks, projects archived or
unflagged, renamed customers. End to end against the simulators over HTTP, under Prefect."""

from __future__ import annotations

import pytest

from flows.import_moco_projects import import_moco_projects
from models.store import open_store
from tests.conftest import Sims
from tests.test_import_moco_projects import seed_fields

pytestmark = pytest.mark.usefixtures("prefect_harness")

CLOSED = " (geschlossen in MOCO)"


@pytest.fixture
def team(sims: Sims, settings) -> dict:
    """A flagged MOCO project led by Lena, Anna staffed; all three (and Ben, not staffed) have awork accounts."""
    seed_fields(sims)
    people = {}
    for first, last in (("Lena", "Fischer"), ("Anna", "Schmidt"), ("Ben", "Weber")):
        email = f"{first.lower()}@pixelwerk.de"
        people[f"{first.lower()}_moco"] = sims.moco.add_user(first, last, email)
        people[first.lower()] = sims.awork.add_user(first, last, email.upper())  # e-mails match in any case
    customer = sims.moco.add_company("Pixelwerk GmbH")
    project = sims.moco.add_project(
        "Website",
        identifier="P1",
        customer_id=customer["id"],
        tags=["Sync to awork"],
        tasks=["Design", "Entwicklung"],
        leader_id=people["lena_moco"]["id"],
    )
    sims.moco.add_contract(project["id"], people["anna_moco"]["id"])
    return people | {"project": project, "customer": customer}


def awork_project_of(sims: Sims) -> dict:
    [project] = sims.awork.projects()
    return project


def members(sims: Sims) -> dict[str, bool]:
    """The awork project's members by first name, and whether each is the responsible one."""
    return {m["firstName"]: m["isResponsible"] for m in sims.awork.project_members(awork_project_of(sims)["id"])}


def test_leader_and_staff_become_members(sims, team):
    summary = import_moco_projects()

    assert summary.status == "completed"
    assert members(sims) == {"Lena": True, "Anna": False}
    assert summary.members_added == 2


def test_staffing_changes_follow_and_members_added_in_awork_stay(sims, team):
    import_moco_projects()
    awork_id = awork_project_of(sims)["id"]
    carl = sims.awork.add_user("Carl", "Klein", "carl@freelance.example")
    sims.awork.add_project_member(awork_id, carl["id"])
    moco_id = team["project"]["id"]
    sims.moco.set_staffing(moco_id, team["anna_moco"]["id"], active=False)
    sims.moco.add_contract(moco_id, team["ben_moco"]["id"])
    sims.moco.update_project(moco_id, leader_id=team["anna_moco"]["id"])

    summary = import_moco_projects()

    # Anna leads now (not staffed, still the leader), Lena's contract stays, Ben joined, Carl was added by hand
    assert members(sims) == {"Lena": False, "Anna": True, "Ben": False, "Carl": False}
    assert (summary.members_added, summary.members_updated, summary.members_removed) == (1, 2, 0)

    sims.moco.set_staffing(moco_id, team["ben_moco"]["id"], active=False)
    import_moco_projects()

    assert members(sims) == {"Lena": False, "Anna": True, "Carl": False}


def test_second_run_reads_no_members_and_writes_nothing(sims, team):
    import_moco_projects()
    marks = sims.marks()

    summary = import_moco_projects()

    assert sims.writes(*marks) == []
    assert summary.planned["unchanged"] == 1
    assert not [e for e in sims.awork.log.since(marks[1]) if e.route.endswith("/members")]


def test_a_moco_user_without_awork_account_is_an_issue_until_one_exists(sims, team, settings):
    nina_moco = sims.moco.add_user("Nina", "Berg", "nina@pixelwerk.de")
    sims.moco.add_contract(team["project"]["id"], nina_moco["id"])

    summary = import_moco_projects()

    assert summary.status == "completed with issues"
    [issue] = open_store(settings.database_url).open_issues("import-moco-projects")
    assert issue.kind == "unknown awork user" and "nina@pixelwerk.de" in issue.message
    assert members(sims) == {"Lena": True, "Anna": False}

    sims.awork.add_user("Nina", "Berg", "nina@pixelwerk.de")
    again = import_moco_projects()

    assert again.status == "completed"
    assert members(sims) == {"Lena": True, "Anna": False, "Nina": False}
    assert open_store(settings.database_url).open_issues("import-moco-projects") == []


def awork_task(sims: Sims, name: str) -> dict:
    [found] = [t for t in sims.awork.project_tasks(awork_project_of(sims)["id"]) if t["name"].startswith(name)]
    return found


def test_deactivated_and_deleted_moco_tasks_close_their_awork_tasks(sims, team):
    import_moco_projects()
    moco_id = team["project"]["id"]
    design, development = sims.moco.get_project(moco_id)["tasks"]
    sims.moco.update_task(moco_id, design["id"], active=False)
    sims.moco.remove_task(moco_id, development["id"])

    summary = import_moco_projects()

    for name in ("Design", "Entwicklung"):
        closed = awork_task(sims, name)
        assert closed["name"] == f"{name}{CLOSED}"
        assert closed["taskStatus"]["type"] == "done"
    assert summary.tasks_closed == 2
    marks = sims.marks()
    import_moco_projects()
    assert sims.writes(*marks) == []

    sims.moco.update_task(moco_id, design["id"], active=True)
    import_moco_projects()

    reopened = awork_task(sims, "Design")
    assert (reopened["name"], reopened["taskStatus"]["type"]) == ("Design", "todo")


def test_archived_or_unflagged_projects_are_closed_and_reopened_when_back(sims, team, settings):
    other = sims.moco.add_project(
        "Shop", identifier="P2", customer_id=team["customer"]["id"], custom_properties={"Sync zu awork": "1"}
    )
    import_moco_projects()
    by_key = {p["projectKey"]: p["id"] for p in sims.awork.projects()}
    sims.moco.update_project(team["project"]["id"], active=False)  # archived
    sims.moco.update_project(other["id"], custom_properties={"Sync zu awork": "0"})  # unflagged

    summary = import_moco_projects()

    assert {key: sims.awork.project(i)["projectStatus"]["type"] for key, i in by_key.items()} == {
        "P1": "closed",
        "P2": "closed",
    }
    assert summary.projects_closed == 2
    marks = sims.marks()
    import_moco_projects()
    assert sims.writes(*marks) == []

    sims.moco.update_project(other["id"], custom_properties={"Sync zu awork": "1"})
    again = import_moco_projects()

    assert sims.awork.project(by_key["P2"])["projectStatus"]["type"] == "progress"
    assert sims.awork.project(by_key["P1"])["projectStatus"]["type"] == "closed"
    assert again.projects_reopened == 1


def test_a_renamed_customer_renames_the_company_we_created_only(sims, team):
    nordlicht_awork = sims.awork.add_company("Nordlicht AG")
    nordlicht = sims.moco.add_company("Nordlicht AG")
    sims.moco.add_project("Kampagne", identifier="P3", customer_id=nordlicht["id"], tags=["Sync to awork"])
    import_moco_projects()
    sims.moco.update_company(team["customer"]["id"], name="Pixelwerk Digital GmbH")
    sims.moco.update_company(nordlicht["id"], name="Nordlicht Gruppe AG")

    summary = import_moco_projects()

    assert sorted(c["name"] for c in sims.awork.companies()) == ["Nordlicht AG", "Pixelwerk Digital GmbH"]
    assert summary.companies_renamed == 1
    assert sims.awork.project(awork_project_of_key(sims, "P3"))["company"]["id"] == nordlicht_awork["id"]


def awork_project_of_key(sims: Sims, key: str) -> str:
    [found] = [p["id"] for p in sims.awork.projects() if p["projectKey"] == key]
    return found
