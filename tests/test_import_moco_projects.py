"""The "import MOCO projects" flow end to end, against the simulators over HTTP, under Prefect."""

from __future__ import annotations

import pytest

from flows.import_moco_projects import import_moco_projects
from models.store import Store, open_store
from tests.conftest import AWORK_APP_URL, Sims

pytestmark = pytest.mark.usefixtures("prefect_harness")

TAG = ["Sync to awork"]


def seed_fields(sims: Sims) -> None:
    sims.moco.define_custom_property("Sync zu awork", "Boolean")
    sims.moco.define_custom_property("awork Projekt", "Link")
    sims.moco.define_custom_property("awork Projektvorlage", "Select", defaults=["Website", "Kampagne", "Retainer"])


@pytest.fixture
def agency(sims: Sims, settings) -> dict:
    """Three flagged MOCO projects (tag, Yes/No field, template), one not flagged; awork has the template and one
    of the customers as a company already, and an account for the projects' leader (the MOCO key's user)."""
    seed_fields(sims)
    add_leader_account(sims)
    template = sims.awork.add_template("Website", task_lists={"Konzept": ["Kickoff"]})
    existing_company = sims.awork.add_company("nordlicht ag")
    pixelwerk = sims.moco.add_company("Pixelwerk GmbH")
    nordlicht = sims.moco.add_company("Nordlicht AG")
    website = sims.moco.add_project(
        "Website Relaunch",
        identifier="P24001",
        customer_id=pixelwerk["id"],
        tags=TAG,
        custom_properties={"awork Projektvorlage": "Website"},
        start_date="2026-01-05",
        finish_date="2026-06-30",
        tasks=["Projektleitung", "Design", "Entwicklung"],
    )
    campaign = sims.moco.add_project(
        "Frühjahrskampagne",
        identifier="P24002",
        customer_id=nordlicht["id"],
        custom_properties={"Sync zu awork": "1"},
        tasks=["Kreation", "Mediaplanung"],
    )
    shop = sims.moco.add_project("Shop", identifier="p 24/003", customer_id=pixelwerk["id"], tags=TAG)
    sims.moco.add_project("Intern", identifier="P24004", customer_id=pixelwerk["id"], tasks=["Schulung"])
    return {
        "template": template,
        "company": existing_company,
        "website": website,
        "campaign": campaign,
        "shop": shop,
    }


def add_leader_account(sims: Sims) -> dict:
    """An awork account for the MOCO key's user, who leads the projects the simulator seeds."""
    leader = next(u for u in sims.moco.users() if u["id"] == sims.moco.api_user_id)
    return sims.awork.add_user(leader["firstname"], leader["lastname"], leader["email"])


def awork_project(sims: Sims, key: str) -> dict:
    [project] = [p for p in sims.awork.projects() if p.get("projectKey") == key]
    return project


def moco_list_tasks(sims: Sims, project_id: str) -> list[str]:
    """Names of the tasks in the project's task list `MOCO`, in list order."""
    [moco_list] = [tl for tl in sims.awork.task_lists(project_id) if tl["name"] == "MOCO"]
    tasks = [t for t in sims.awork.project_tasks(project_id) for ref in t["lists"] if ref["id"] == moco_list["id"]]
    return [t["name"] for t in sorted(tasks, key=lambda t: next(r["order"] for r in t["lists"]))]


def named(name: str):
    """A fault condition: the request creates something of this name."""
    return lambda request: (request.body or {}).get("name") == name


def refuse_once(sims: Sims, route: str, description: str, when=None) -> None:
    """awork answers the next POST to `route` (that `when` accepts) with a 422 validation error."""
    body = {"code": "validation-failed", "description": description, "link": "https://developers.awork.com"}
    sims.awork.faults.fail_next(1, 422, method="POST", route=route, when=when, body=body)


def store(settings) -> Store:
    return open_store(settings.database_url)


def test_first_run_creates_projects_companies_lists_and_tasks_and_writes_links_back(sims, agency):
    summary = import_moco_projects()

    assert summary.status == "completed"
    assert sorted(p["projectKey"] for p in sims.awork.projects()) == ["P-24-003", "P24001", "P24002"]
    website = awork_project(sims, "P24001")
    assert website["name"] == "Website Relaunch"
    assert website["startDate"].startswith("2026-01-05") and website["dueDate"].startswith("2026-06-30")
    assert website["company"]["name"] == "Pixelwerk GmbH"
    assert website["createdByProjectTemplateId"] == agency["template"]["id"]
    assert sorted(tl["name"] for tl in sims.awork.task_lists(website["id"])) == ["Konzept", "MOCO"]
    assert moco_list_tasks(sims, website["id"]) == ["Projektleitung", "Design", "Entwicklung"]
    campaign = awork_project(sims, "P24002")
    assert campaign["company"]["id"] == agency["company"]["id"]  # found by name, case-insensitively
    assert moco_list_tasks(sims, campaign["id"]) == ["Kreation", "Mediaplanung"]
    assert moco_list_tasks(sims, awork_project(sims, "P-24-003")["id"]) == []
    assert sorted(c["name"] for c in sims.awork.companies()) == ["Pixelwerk GmbH", "nordlicht ag"]
    for moco_id, key in ((agency["website"]["id"], "P24001"), (agency["campaign"]["id"], "P24002")):
        link = sims.moco.get_project(moco_id)["custom_properties"]["awork Projekt"]
        assert link == f"{AWORK_APP_URL}/projects/{awork_project(sims, key)['id']}"
    assert (summary.projects_created, summary.tasks_created, summary.companies_created) == (3, 5, 1)


def test_second_run_sends_zero_write_requests(sims, agency):
    import_moco_projects()
    moco_mark, awork_mark = sims.marks()

    summary = import_moco_projects()

    assert sims.writes(moco_mark, awork_mark) == []
    assert summary.planned["unchanged"] == 3
    reads = len(sims.moco.log.since(moco_mark)) + len(sims.awork.log.since(awork_mark))
    assert reads <= 4  # two MOCO pages (tag, Yes/No field) and the template list


def test_dry_run_plans_without_writing(sims, agency, settings):
    moco_mark, awork_mark = sims.marks()

    summary = import_moco_projects(dry_run=True)

    assert sims.writes(moco_mark, awork_mark) == []
    assert summary.dry_run and summary.planned["projects to create"] == 3
    assert summary.planned["tasks to create"] == 5
    assert store(settings).recent_runs(1)[0].dry_run


def test_prefilled_awork_link_links_the_existing_project(sims, agency):
    existing = sims.awork.add_project("Website (alt)", project_key="WEB")
    link = f"{AWORK_APP_URL}/projects/{existing['id']}"
    sims.moco.update_project(agency["website"]["id"], custom_properties={"awork Projekt": link})

    summary = import_moco_projects()

    assert summary.projects_linked == 1 and summary.projects_created == 2
    assert "P24001" not in {p.get("projectKey") for p in sims.awork.projects()}
    linked = sims.awork.project(existing["id"])
    assert linked["name"] == "Website Relaunch"  # MOCO is where projects are born: its fields win
    assert moco_list_tasks(sims, existing["id"]) == ["Projektleitung", "Design", "Entwicklung"]
    assert sims.moco.get_project(agency["website"]["id"])["custom_properties"]["awork Projekt"] == link


def test_moco_changes_follow_on_the_next_run(sims, agency):
    import_moco_projects()
    website_id = agency["website"]["id"]
    other_customer = sims.moco.add_company("Stadtwerke Kiel")
    sims.moco.update_project(
        website_id,
        name="Website Relaunch 2026",
        start_date="2026-02-01",
        finish_date="2026-09-30",
        customer_id=other_customer["id"],
    )
    design = next(t for t in sims.moco.get_project(website_id)["tasks"] if t["name"] == "Design")
    sims.moco.update_task(website_id, design["id"], name="UX Design")
    sims.moco.add_task(website_id, "Testing")
    moco_mark, awork_mark = sims.marks()

    summary = import_moco_projects()

    website = awork_project(sims, "P24001")
    assert website["name"] == "Website Relaunch 2026"
    assert website["startDate"].startswith("2026-02-01") and website["dueDate"].startswith("2026-09-30")
    assert website["company"]["name"] == "Stadtwerke Kiel"
    assert moco_list_tasks(sims, website["id"]) == ["Projektleitung", "UX Design", "Entwicklung", "Testing"]
    assert len(sims.awork.projects()) == 3
    assert (summary.projects_updated, summary.tasks_renamed, summary.tasks_created) == (1, 1, 1)
    assert len(sims.writes(moco_mark, awork_mark)) == 4  # company, project, task rename, task create


def test_bad_input_is_reported_and_the_rest_syncs(sims, agency, settings):
    pixelwerk = agency["website"]["customer"]["id"]
    sims.moco.add_project(
        "Retainer",
        identifier="P24010",
        customer_id=pixelwerk,
        tags=TAG,
        custom_properties={"awork Projektvorlage": "Retainer"},
    )
    sims.moco.add_project("Lang", identifier="P-2026-0001-MARKETING-KAMPAGNE-HERBST", customer_id=pixelwerk, tags=TAG)
    orphan = sims.moco.add_project("Ohne Kunde", identifier="P24012", customer_id=pixelwerk, tags=TAG)
    sims.moco.faults.corrupt_next(lambda page: drop_customer(page, orphan["id"]), route="/projects")
    sims.moco.add_project(
        "Kaputter Link",
        identifier="P24013",
        customer_id=pixelwerk,
        tags=TAG,
        custom_properties={"awork Projekt": "https://test.awork.com/projekte/42"},
    )
    refuse_once(
        sims, "/projects", "Shop is not allowed", when=lambda request: (request.body or {}).get("name") == "Shop"
    )

    summary = import_moco_projects()

    assert summary.status == "completed with issues"
    assert sorted(p["projectKey"] for p in sims.awork.projects()) == ["P24001", "P24002"]
    kinds = sorted(issue.kind for issue in store(settings).open_issues("import-moco-projects"))
    assert kinds == [
        "awork rejected",
        "invalid project key",
        "malformed awork link",
        "missing customer",
        "unknown template",
    ]
    shop_issue = next(i for i in summary.issues if i.kind == "awork rejected")
    assert "Shop is not allowed" in shop_issue.message

    sims.awork.add_template("Retainer")
    again = import_moco_projects()

    # the template now exists and the customer is back in the payload: both sync, their issues are resolved
    assert {p["name"] for p in sims.awork.projects()} >= {"Shop", "Retainer", "Ohne Kunde"}
    open_kinds = sorted(i.kind for i in store(settings).open_issues("import-moco-projects"))
    assert open_kinds == ["invalid project key", "malformed awork link"]
    assert again.status == "completed with issues"


def test_a_refused_company_holds_back_only_its_customers_projects(sims, agency, settings):
    refuse_once(sims, "/companies", "Company name blocked")

    summary = import_moco_projects()

    assert summary.status == "completed with issues"
    assert [p["projectKey"] for p in sims.awork.projects()] == ["P24002"]  # Nordlicht's company exists in awork
    issues = {(i.kind, i.object_ref): i.message for i in store(settings).open_issues("import-moco-projects")}
    customer = agency["website"]["customer"]["id"]
    assert "Company name blocked" in issues[("awork rejected company", f"moco customer {customer}")]
    website, shop = (f"moco project {agency[name]['id']}" for name in ("website", "shop"))
    assert issues[("missing awork company", website)] == (
        "MOCO project P24001 'Website Relaunch' waits for an awork company for its customer 'Pixelwerk GmbH' "
        "(see the issue 'awork rejected company')"
    )
    assert ("missing awork company", shop) in issues

    again = import_moco_projects()

    assert sorted(p["projectKey"] for p in sims.awork.projects()) == ["P-24-003", "P24001", "P24002"]
    assert store(settings).open_issues("import-moco-projects") == []
    assert again.status == "completed"


def drop_customer(page: list[dict], project_id: int) -> list[dict]:
    """A malformed MOCO payload: the project comes without its customer."""
    return [{k: v for k, v in p.items() if k != "customer" or p["id"] != project_id} for p in page]


class Crash(RuntimeError):
    """Stands for the process dying at this point."""


def crash_on_first_save_of(monkeypatch, kind: str) -> None:
    """Make the first store commit of links of this kind crash (the remote write before it has happened)."""
    original = Store.save_links

    def save_links(self, records):
        if any(record.kind == kind for record in records):
            raise Crash(f"killed after writing a {kind} remotely, before the store commit")
        return original(self, records)

    monkeypatch.setattr(Store, "save_links", save_links)


@pytest.mark.parametrize("kind", ["company", "project", "task"])
def test_crash_before_the_store_commit_creates_no_duplicate(sims, agency, monkeypatch, kind):
    crash_on_first_save_of(monkeypatch, kind)
    with pytest.raises(Exception):  # noqa: B017 - the run fails, whatever Prefect wraps the crash in
        import_moco_projects()
    monkeypatch.undo()  # the process restarts, without the fault

    summary = import_moco_projects()

    assert summary.status == "completed"
    assert sorted(p["projectKey"] for p in sims.awork.projects()) == ["P-24-003", "P24001", "P24002"]
    assert sorted(c["name"] for c in sims.awork.companies()) == ["Pixelwerk GmbH", "nordlicht ag"]
    website = awork_project(sims, "P24001")
    assert moco_list_tasks(sims, website["id"]) == ["Projektleitung", "Design", "Entwicklung"]
    assert [tl["name"] for tl in sims.awork.task_lists(website["id"])].count("MOCO") == 1


def test_lost_answers_to_creates_do_not_double(sims, agency):
    for route in ("/projects", "/tasks", "/companies"):
        sims.awork.faults.fail_next(1, 502, method="POST", route=route, after_processing=True)

    summary = import_moco_projects()

    assert summary.status == "completed"
    assert len(sims.awork.projects()) == 3
    assert len(sims.awork.companies()) == 2
    assert moco_list_tasks(sims, awork_project(sims, "P24001")["id"]) == ["Projektleitung", "Design", "Entwicklung"]


def test_bursts_of_429_and_5xx_still_complete_without_doubles(sims, agency):
    sims.moco.faults.fail_next(3, 429)
    sims.awork.faults.fail_next(4, 429)
    sims.moco.faults.fail_next(2, 503, method="PUT")
    sims.awork.faults.fail_next(3, 503)
    sims.awork.faults.fail_next(2, 500, method="GET")

    summary = import_moco_projects()

    assert summary.status == "completed"
    assert sorted(p["projectKey"] for p in sims.awork.projects()) == ["P-24-003", "P24001", "P24002"]
    assert moco_list_tasks(sims, awork_project(sims, "P24002")["id"]) == ["Kreation", "Mediaplanung"]
    statuses = {e.status for e in sims.moco.log.entries + sims.awork.log.entries}
    assert {429, 503, 500} <= statuses
