"""The awork simulator over real HTTP; every exchange is checked against the official OpenAPI spec."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.awork import AworkSimulator
from sandbox.core import ServedSimulator, SimError
from tests.contract import OpenApiContract

API_KEY = "awork-sandbox-key"
RATE_LIMIT_HEADERS = (
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit-second",
    "x-ratelimit-remaining-second",
    "x-ratelimit-limit-minute",
    "x-ratelimit-remaining-minute",
)
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def sim() -> AworkSimulator:
    return AworkSimulator(per_second=None, per_minute=None)


@pytest.fixture(scope="module")
def limited_sim() -> AworkSimulator:
    return AworkSimulator(per_second=3)


def _client(simulator: AworkSimulator) -> Iterator[httpx.Client]:
    with ServedSimulator(simulator) as served, httpx.Client(base_url=served.url, timeout=5) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield client


@pytest.fixture(scope="module")
def client(sim: AworkSimulator) -> Iterator[httpx.Client]:
    yield from _client(sim)


@pytest.fixture(scope="module")
def limited_client(limited_sim: AworkSimulator) -> Iterator[httpx.Client]:
    yield from _client(limited_sim)


@pytest.fixture(autouse=True)
def contract(sim: AworkSimulator, limited_sim: AworkSimulator) -> Iterator[None]:
    """After each test, its exchanges with either simulator must match the spec (request and response bodies)."""
    marks = [(simulator, simulator.log.mark()) for simulator in (sim, limited_sim)]
    yield
    for simulator, mark in marks:
        OpenApiContract.awork().assert_exchanges(simulator.log.since(mark))


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["traceId"] == response.headers["Trace-Id"]
    return body["code"]


def invalid_properties(response: httpx.Response) -> list[str]:
    assert error_code(response, 400) == "validation-failed"
    return [problem["property"] for problem in response.json()["validationErrors"]]


def create_project(client: httpx.Client, **body: Any) -> dict[str, Any]:
    return ok(client.post("/projects", json=body))


# --- auth, errors, paging ---------------------------------------------------------------------------------------------
def test_me_is_the_api_user_with_its_workspace(client: httpx.Client) -> None:
    me = ok(client.get("/users/me"))
    assert me["workspace"]["id"]
    assert me["id"] in [user["id"] for user in ok(client.get("/users"))]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", f"Basic {API_KEY}"])
def test_requests_without_a_valid_api_key_are_unauthorized(client: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    request = client.build_request("GET", "/projects", headers=headers)
    if authorization is None:
        del request.headers["Authorization"]
    assert error_code(client.send(request), 401) == "unauthorized"


def test_every_answer_carries_a_trace_id(client: httpx.Client) -> None:
    assert client.get("/typeofwork").headers["Trace-Id"]


def test_pages_carry_awork_headers(client: httpx.Client, sim: AworkSimulator) -> None:
    for n in range(5):
        sim.add_company(f"Paging Co {n}")
    params = {"filterby": "startswith(name,'Paging Co')", "pageSize": 2, "page": 3}
    response = client.get("/companies", params=params)
    assert [company["name"] for company in ok(response)] == ["Paging Co 4"]
    headers = {name: response.headers[name] for name in ("aw-page", "aw-pagesize", "aw-items", "aw-totalitems")}
    assert headers == {"aw-page": "3", "aw-pagesize": "2", "aw-items": "1", "aw-totalitems": "5"}


@pytest.mark.parametrize(("page_size", "expected"), [(None, "10"), (5000, "1000"), (0, "1")])
def test_page_size_defaults_to_10_and_is_clamped(client: httpx.Client, page_size: int | None, expected: str) -> None:
    params = {} if page_size is None else {"pageSize": page_size}
    assert client.get("/typeofwork", params=params).headers["aw-pagesize"] == expected


def test_filterby_on_companies_and_orderby(client: httpx.Client) -> None:
    for name in ("Filter Acme GmbH", "Filter Zeta AG", "Filter Beta KG"):
        ok(client.post("/companies", json={"name": name}))
    found = ok(client.get("/companies", params={"filterBy": "tolower(name) eq 'filter acme gmbh'"}))
    assert [company["name"] for company in found] == ["Filter Acme GmbH"]
    params = {"filterby": "startswith(name,'Filter ')", "OrderBy": "name desc"}
    ordered = ok(client.get("/companies", params=params))
    assert [company["name"] for company in ordered] == ["Filter Zeta AG", "Filter Beta KG", "Filter Acme GmbH"]


def test_filterby_on_projects_by_key(client: httpx.Client) -> None:
    project = create_project(client, name="Keyed", projectKey="FLT-1")
    create_project(client, name="Other keyed", projectKey="FLT-2")
    found = ok(client.get("/projects", params={"filterby": "projectKey eq 'FLT-1'"}))
    assert [each["id"] for each in found] == [project["id"]]


@pytest.mark.parametrize(
    "params",
    [{"filterby": "projectKey eq"}, {"filterby": "noSuchField eq 1"}, {"orderby": "name sideways"}],
)
def test_invalid_filter_or_order_is_400(client: httpx.Client, params: dict[str, str]) -> None:
    create_project(client, name="Something to filter")
    assert error_code(client.get("/projects", params=params), 400) == "invalid-filter-or-order"


def test_users_filter_by_email_in_contact_infos(client: httpx.Client, sim: AworkSimulator) -> None:
    anna = sim.add_user("Anna", "Muster", "anna@pixelwerk.de")
    expr = "userContactInfos/any(c: c/type eq 'email' and tolower(c/value) eq 'anna@pixelwerk.de')"
    users = ok(client.get("/users", params={"filterby": expr}))
    assert [user["id"] for user in users] == [anna["id"]]
    assert users[0]["userContactInfos"][0]["subType"] == "work"


def test_updated_on_filter_finds_changes_since_a_cursor(client: httpx.Client) -> None:
    before = create_project(client, name="Unchanged since cursor")
    changed = create_project(client, name="Changed after cursor")
    cursor = changed["updatedOn"].removesuffix("Z")
    ok(client.put(f"/projects/{changed['id']}", json={"name": "Changed after cursor!"}))
    params = {"filterby": f"updatedOn ge datetime'{cursor}'", "orderby": "updatedOn asc", "pageSize": 1000}
    ids = [project["id"] for project in ok(client.get("/projects", params=params))]
    assert changed["id"] in ids and before["id"] not in ids


def test_missing_entity_in_the_path_is_404(client: httpx.Client) -> None:
    assert error_code(client.get(f"/projects/{UNKNOWN_ID}"), 404) == "not-found"


# --- companies and projects -------------------------------------------------------------------------------------------
def test_company_name_is_required(client: httpx.Client, sim: AworkSimulator) -> None:
    assert invalid_properties(client.post("/companies", json={"name": " ", "industry": "Design"})) == ["Name"]
    with pytest.raises(SimError) as raised:
        sim.add_company("x" * 1001)
    assert raised.value.status == 400


def test_company_update_shows_in_its_projects(client: httpx.Client) -> None:
    company = ok(client.post("/companies", json={"name": "Old Name GmbH"}))
    project = create_project(client, name="Renamed client", companyId=company["id"])
    updated = ok(client.put(f"/companies/{company['id']}", json={"name": "New Name GmbH"}))
    assert updated["updatedOn"] > company["updatedOn"]
    assert updated["resourceVersion"] > company["resourceVersion"]
    assert updated["projectsCount"] == 1
    assert ok(client.get(f"/projects/{project['id']}"))["company"]["name"] == "New Name GmbH"


def test_project_key_is_upper_cased(client: httpx.Client) -> None:
    assert create_project(client, name="Lower key", projectKey="low_key-1")["projectKey"] == "LOW_KEY-1"


def test_malformed_project_key_is_400(client: httpx.Client) -> None:
    assert invalid_properties(client.post("/projects", json={"name": "Bad key", "projectKey": "bad key!"})) == [
        "ProjectKey"
    ]


def test_taken_project_key_is_a_duplication_violation(client: httpx.Client) -> None:
    create_project(client, name="First", projectKey="DUP-1")
    response = client.post("/projects", json={"name": "Second", "projectKey": "dup-1"})
    assert error_code(response, 400) == "duplication-violation"


def test_project_key_is_generated_from_the_name_when_omitted(client: httpx.Client) -> None:
    first = create_project(client, name="Generated Key Project")
    second = create_project(client, name="Generated Key Project")
    assert (first["projectKey"], second["projectKey"]) == ("GKP", "GKP-2")


def test_project_company_must_exist(client: httpx.Client) -> None:
    response = client.post("/projects", json={"name": "Orphan", "companyId": UNKNOWN_ID})
    assert invalid_properties(response) == ["CompanyId"]


def test_project_has_company_status_and_dates(client: httpx.Client, sim: AworkSimulator) -> None:
    company = sim.add_company("Dated GmbH")
    body = {"name": "Dated", "companyId": company["id"], "startDate": "2024-03-01T00:00:00+01:00"}
    project = create_project(client, **body | {"dueDate": "2024-06-30T00:00:00Z"})
    assert project["company"]["id"] == company["id"]
    assert (project["startDate"], project["dueDate"]) == ("2024-02-29T23:00:00Z", "2024-06-30T00:00:00Z")
    assert project["projectStatus"]["type"] == "progress"
    assert (project["members"], project["tags"], project["tasksCount"]) == ([], [], 0)
    assert project["isBillableByDefault"] is True


def test_project_put_replaces_the_form(client: httpx.Client) -> None:
    project = create_project(client, name="Put me", startDate="2024-01-01T00:00:00Z", isBillableByDefault=True)
    updated = ok(client.put(f"/projects/{project['id']}", json={"name": "Put you", "isBillableByDefault": True}))
    assert (updated["name"], updated["startDate"], updated["projectKey"]) == ("Put you", None, project["projectKey"])
    assert updated["resourceVersion"] > project["resourceVersion"]


def test_set_project_key_renames_task_identifiers(client: httpx.Client) -> None:
    project = create_project(client, name="Rekey", projectKey="REKEY")
    task = ok(client.post("/tasks", json={"baseType": "projecttask", "entityId": project["id"], "name": "T"}))
    assert task["taskIdentifier"] == "REKEY-1"
    assert ok(client.post(f"/projects/{project['id']}/setprojectkey", json={"projectKey": "REKEYED"}))
    assert ok(client.get(f"/tasks/{task['id']}"))["taskIdentifier"] == "REKEYED-1"
    response = client.post(f"/projects/{project['id']}/setprojectkey", json={"projectKey": "lower"})
    assert invalid_properties(response) == ["ProjectKey"]


def test_project_from_template_copies_lists_and_tasks(client: httpx.Client, sim: AworkSimulator) -> None:
    template = sim.add_template("Website", task_lists={"Planung": ["Briefing", "Konzept"], "Umsetzung": ["Design"]})
    assert ok(client.get(f"/projecttemplates/{template['id']}"))["name"] == "Website"
    project = create_project(client, name="From template", projectKey="TPL", projectTemplateId=template["id"])
    assert project["createdByProjectTemplateId"] == template["id"]
    assert project["tasksCount"] == 3
    lists = ok(client.get(f"/projects/{project['id']}/tasklists"))
    assert [task_list["name"] for task_list in lists] == ["Planung", "Umsetzung"]
    tasks = ok(client.get(f"/projects/{project['id']}/projecttasks"))
    placed = [(task["taskIdentifier"], task["name"], [each["name"] for each in task["lists"]]) for task in tasks]
    assert placed == [
        ("TPL-1", "Briefing", ["Planung"]),
        ("TPL-2", "Konzept", ["Planung"]),
        ("TPL-3", "Design", ["Umsetzung"]),
    ]


def test_template_and_workflow_exclude_each_other(client: httpx.Client, sim: AworkSimulator) -> None:
    template = sim.add_template("Exclusive")
    body = {"name": "Both", "projectTemplateId": template["id"], "workflowId": UNKNOWN_ID}
    assert invalid_properties(client.post("/projects", json=body)) == ["WorkflowId"]
    unknown = client.post("/projects", json={"name": "No template", "projectTemplateId": UNKNOWN_ID})
    assert invalid_properties(unknown) == ["ProjectTemplateId"]


def test_deleted_project_is_gone(client: httpx.Client) -> None:
    project = create_project(client, name="Short-lived")
    response = client.post(f"/projects/{project['id']}/delete", json={"deleteTimeTrackings": False})
    assert response.status_code == 204
    assert error_code(client.get(f"/projects/{project['id']}"), 404) == "not-found"


# --- task lists and tasks ---------------------------------------------------------------------------------------------
def test_task_list_create_get_rename(client: httpx.Client) -> None:
    project = create_project(client, name="Listed")
    created = ok(client.post(f"/projects/{project['id']}/tasklists", json={"name": "MOCO"}))
    second = ok(client.post(f"/projects/{project['id']}/tasklists", json={"name": "Intern", "order": 7.5}))
    assert (created["order"], second["order"]) == (1, 7.5)
    path = f"/projects/{project['id']}/tasklists/{created['id']}"
    assert ok(client.get(path))["name"] == "MOCO"
    assert ok(client.put(path, json={"name": "MOCO Leistungen"}))["name"] == "MOCO Leistungen"
    assert invalid_properties(client.post(f"/projects/{project['id']}/tasklists", json={"name": " "})) == ["Name"]


def test_task_created_into_a_list(client: httpx.Client, sim: AworkSimulator) -> None:
    project = create_project(client, name="Tasks", projectKey="TSK")
    task_list = ok(client.post(f"/projects/{project['id']}/tasklists", json={"name": "MOCO"}))
    body = {"baseType": "projecttask", "entityId": project["id"], "name": "Konzeption", "plannedDuration": 3600}
    task = ok(client.post("/tasks", json=body | {"lists": [{"id": task_list["id"], "order": 1}]}))
    assert (task["taskNumber"], task["taskIdentifier"], task["projectId"]) == (1, "TSK-1", project["id"])
    assert [(each["id"], each["name"], each["orderOfTask"]) for each in task["lists"]] == [(task_list["id"], "MOCO", 1)]
    assert task["taskStatus"]["type"] == "todo"
    assert task["typeOfWork"]["name"] == "Projektarbeit"
    assert ok(client.get(f"/projects/{project['id']}/tasklists/{task_list['id']}"))["plannedDuration"] == 3600
    assert [each["id"] for each in sim.project_tasks(project["id"])] == [task["id"]]


def test_task_needs_an_existing_project_and_its_own_lists(client: httpx.Client) -> None:
    project = create_project(client, name="Own lists")
    foreign = ok(client.post(f"/projects/{create_project(client, name='Foreign')['id']}/tasklists", json={"name": "X"}))
    body = {"baseType": "projecttask", "entityId": project["id"], "name": "Misplaced"}
    assert invalid_properties(client.post("/tasks", json=body | {"lists": [{"id": foreign["id"]}]})) == ["Lists"]
    assert invalid_properties(client.post("/tasks", json=body | {"entityId": UNKNOWN_ID})) == ["EntityId"]


def test_subtask_is_counted_on_its_parent(client: httpx.Client) -> None:
    project = create_project(client, name="Subtasks")
    body = {"baseType": "projecttask", "entityId": project["id"], "name": "Parent"}
    parent = ok(client.post("/tasks", json=body))
    child = ok(client.post("/tasks", json=body | {"name": "Child", "parentId": parent["id"]}))
    assert (child["isSubtask"], child["correlationId"]) == (True, parent["id"])
    assert ok(client.get(f"/tasks/{parent['id']}"))["numberOfSubtasks"] == 1


def test_private_task_belongs_to_the_api_user(client: httpx.Client) -> None:
    me = ok(client.get("/users/me"))
    task = ok(client.post("/tasks", json={"baseType": "private", "name": "Note to self"}))
    assert (task["userId"], task["projectId"], task["taskIdentifier"]) == (me["id"], None, None)


def test_task_rename_via_put(client: httpx.Client) -> None:
    project = create_project(client, name="Renames")
    task = ok(client.post("/tasks", json={"baseType": "projecttask", "entityId": project["id"], "name": "Old"}))
    renamed = ok(client.put(f"/tasks/{task['id']}", json={"name": "New", "plannedDuration": 1800}))
    assert (renamed["name"], renamed["plannedDuration"]) == ("New", 1800)
    assert renamed["updatedOn"] > task["updatedOn"]
    assert renamed["resourceVersion"] > task["resourceVersion"]
    assert ok(client.get(f"/tasks/{task['id']}"))["name"] == "New"


def test_addtasks_puts_existing_tasks_into_a_list(client: httpx.Client) -> None:
    project = create_project(client, name="Add tasks")
    task_list = ok(client.post(f"/projects/{project['id']}/tasklists", json={"name": "MOCO"}))
    tasks = [
        ok(client.post("/tasks", json={"baseType": "projecttask", "entityId": project["id"], "name": name}))
        for name in ("One", "Two")
    ]
    path = f"/projects/{project['id']}/tasklists/{task_list['id']}/addtasks"
    placed = ok(client.post(path, json=[{"taskId": tasks[0]["id"], "order": 4}, {"taskId": tasks[1]["id"]}]))
    assert placed == [{"id": task_list["id"], "order": 4}, {"id": task_list["id"], "order": 5}]
    assert [each["id"] for each in ok(client.get(f"/tasks/{tasks[1]['id']}"))["lists"]] == [task_list["id"]]
    assert invalid_properties(client.post(path, json=[{"taskId": UNKNOWN_ID}])) == ["TaskId"]


def test_type_of_work_create_and_list(client: httpx.Client) -> None:
    created = ok(client.post("/typeofwork", json={"name": "Beratung", "icon": "forum"}))
    names = [each["name"] for each in ok(client.get("/typeofwork", params={"pageSize": 1000}))]
    assert created["name"] in names and "Projektarbeit" in names


# --- users -----------------------------------------------------------------------------------------------------------
def test_user_by_id_and_its_contact_infos(client: httpx.Client, sim: AworkSimulator) -> None:
    bea = sim.add_user("Bea", "Beispiel", "bea@pixelwerk.de")
    assert ok(client.get(f"/users/{bea['id']}")) == bea
    infos = ok(client.get(f"/users/{bea['id']}/contactinfo"))
    assert [(info["type"], info["subType"], info["value"]) for info in infos] == [("email", "work", "bea@pixelwerk.de")]
    listed = {user["id"]: user for user in ok(client.get("/users", params={"pageSize": 1000}))}
    assert listed[bea["id"]]["userContactInfos"] == infos
    assert error_code(client.get(f"/users/{UNKNOWN_ID}"), 404) == "not-found"


def test_user_without_email_has_no_contact_infos(client: httpx.Client, sim: AworkSimulator) -> None:
    ghost = sim.add_user("No", "Mail", None)
    assert ok(client.get(f"/users/{ghost['id']}"))["userContactInfos"] == []
    assert ok(client.get(f"/users/{ghost['id']}/contactinfo")) == []
    assert ghost["id"] in [user["id"] for user in sim.users()]


# --- time entries -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def work(client: httpx.Client, sim: AworkSimulator) -> dict[str, Any]:
    """A user, a type of work, a billable-by-default project (it has a company) with a task, and a project that
    is not billable by default."""
    billable = sim.add_project("Billable work", company_id=sim.add_company("Billable GmbH")["id"])
    task = ok(client.post("/tasks", json={"baseType": "projecttask", "entityId": billable["id"], "name": "Konzept"}))
    return {
        "user": sim.add_user("Tim", "Tracker", "tim@pixelwerk.de"),
        "type_of_work": sim.add_type_of_work("Konzeption"),
        "billable": billable,
        "task": task,
        "internal": sim.add_project("Internal work"),
    }


def entry_body(work: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A `TimeEntryPostForm` for the module's user and type of work (Berlin time), plus `fields`."""
    body = {"timezone": "Europe/Berlin", "userId": work["user"]["id"], "typeOfWorkId": work["type_of_work"]["id"]}
    return body | fields


def times(entry: dict[str, Any]) -> dict[str, Any]:
    """The date/time split and duration of a `TimeTracking`."""
    names = [part + kind for part in ("startDate", "startTime", "endDate", "endTime") for kind in ("Utc", "Local")]
    return {name: entry[name] for name in [*names, "duration"]}


def test_time_entry_posted_in_utc_fields(client: httpx.Client, work: dict[str, Any]) -> None:
    body = {"startDateUtc": "2026-11-10T00:00:00Z", "startTimeUtc": "22:30:00", "duration": 3600, "note": "Late"}
    entry = ok(client.post("/timeentries", json=entry_body(work, projectId=work["billable"]["id"], **body)))
    assert times(entry) == {
        "startDateUtc": "2026-11-10T00:00:00Z",
        "startDateLocal": "2026-11-10T00:00:00+01:00",
        "startTimeUtc": "22:30:00",
        "startTimeLocal": "23:30:00",
        "endDateUtc": "2026-11-10T00:00:00Z",
        "endDateLocal": "2026-11-11T00:00:00+01:00",
        "endTimeUtc": "23:30:00",
        "endTimeLocal": "00:30:00",
        "duration": 3600,
    }
    assert (entry["note"], entry["timezone"], entry["isBilled"]) == ("Late", "Europe/Berlin", False)
    assert (entry["breaks"], entry["isExternal"]) == ([], False)
    assert (entry["userId"], entry["user"]["firstName"]) == (work["user"]["id"], "Tim")
    assert (entry["typeOfWork"]["name"], entry["project"]["name"]) == ("Konzeption", "Billable work")
    assert entry["taskId"] is None and "task" not in entry
    assert entry["createdOn"] == entry["updatedOn"] and entry["resourceVersion"] > 0
    assert ok(client.get(f"/timeentries/{entry['id']}")) == entry


@pytest.mark.parametrize(
    ("start", "expected"),
    [  # (startDateUtc, startTimeUtc, startDateLocal, startTimeLocal)
        ({"startDateUtc": "2026-11-10T22:30:00Z"}, ("2026-11-10", "22:30:00", "2026-11-10", "23:30:00")),
        ({"startDateUtc": "2026-11-11T00:30:00+01:00"}, ("2026-11-10", "23:30:00", "2026-11-11", "00:30:00")),
        (
            {"startDateLocal": "2026-11-10T00:00:00Z", "startTimeLocal": "23:30:00"},
            ("2026-11-10", "22:30:00", "2026-11-10", "23:30:00"),
        ),
        (
            {"startDateLocal": "2026-11-11T00:00:00+01:00", "startTimeLocal": "00:30"},
            ("2026-11-10", "23:30:00", "2026-11-11", "00:30:00"),
        ),
        (
            {"startDateLocal": "2026-07-01T00:00:00Z", "startTimeLocal": "01:59:59.5"},
            ("2026-06-30", "23:59:59.5000000", "2026-07-01", "01:59:59.5000000"),
        ),
    ],
)
def test_time_entry_start_is_split_into_utc_and_local_date_and_time(
    client: httpx.Client, work: dict[str, Any], start: dict[str, str], expected: tuple[str, ...]
) -> None:
    entry = ok(client.post("/timeentries", json=entry_body(work, duration=900, **start)))
    offset = "+02:00" if expected[2].startswith("2026-07") else "+01:00"
    assert (entry["startDateUtc"], entry["startTimeUtc"], entry["startDateLocal"], entry["startTimeLocal"]) == (
        f"{expected[0]}T00:00:00Z",
        expected[1],
        f"{expected[2]}T00:00:00{offset}",
        expected[3],
    )


def test_time_entry_posted_in_local_fields_with_an_end(client: httpx.Client, work: dict[str, Any]) -> None:
    body = {"startDateLocal": "2026-11-11T00:00:00Z", "startTimeLocal": "00:30:00", "endTimeLocal": "01:15:00"}
    entry = ok(client.post("/timeentries", json=entry_body(work, duration=1, **body)))
    assert (entry["startDateUtc"], entry["startTimeUtc"], entry["duration"]) == (
        "2026-11-10T00:00:00Z",
        "23:30:00",
        2700,
    )
    body = {"endDateUtc": "2026-11-12T00:00:00Z", "endTimeUtc": "10:00:00", "duration": 1800}
    entry = ok(client.post("/timeentries", json=entry_body(work, **body)))
    assert (entry["startTimeUtc"], entry["startTimeLocal"], entry["endTimeLocal"]) == (
        "09:30:00",
        "10:30:00",
        "11:00:00",
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"userId": UNKNOWN_ID}, ["UserId"]),
        ({"typeOfWorkId": UNKNOWN_ID}, ["TypeOfWorkId"]),
        ({"projectId": UNKNOWN_ID}, ["ProjectId"]),
        ({"taskId": UNKNOWN_ID}, ["TaskId"]),
        ({"timezone": "Mars/Olympus_Mons"}, ["Timezone"]),
        ({"timezone": " "}, ["Timezone"]),
        ({"startTimeUtc": "25:00:00"}, ["StartTimeUtc"]),
        ({"duration": -1}, ["Duration"]),
        ({"duration": None}, ["Duration"]),
        ({"startDateUtc": None}, ["StartDateUtc"]),
        ({"startDateLocal": "2026-11-10T00:00:00Z"}, ["StartDateLocal"]),
        ({"endDateUtc": "2026-11-09T00:00:00Z", "endTimeUtc": "10:00:00"}, ["EndDateUtc"]),
    ],
)
def test_invalid_time_entry_is_400(
    client: httpx.Client, work: dict[str, Any], fields: dict[str, Any], expected: list[str]
) -> None:
    body = entry_body(work, startDateUtc="2026-11-10T00:00:00Z", startTimeUtc="09:00:00", duration=60) | fields
    assert invalid_properties(client.post("/timeentries", json=body)) == expected


def test_time_entry_task_must_belong_to_its_project(client: httpx.Client, work: dict[str, Any]) -> None:
    start = {"startDateUtc": "2026-11-10T09:00:00Z", "duration": 60, "taskId": work["task"]["id"]}
    foreign = entry_body(work, projectId=work["internal"]["id"], **start)
    assert invalid_properties(client.post("/timeentries", json=foreign)) == ["TaskId"]
    entry = ok(client.post("/timeentries", json=entry_body(work, **start)))
    assert (entry["projectId"], entry["task"]["name"]) == (work["billable"]["id"], "Konzept")
    assert entry["task"]["taskIdentifier"] == f"{work['billable']['projectKey']}-1"
    assert entry["task"]["project"]["id"] == work["billable"]["id"]


@pytest.mark.parametrize(
    ("project", "is_billable", "expected"),
    [("billable", None, True), ("internal", None, False), ("billable", False, False), ("internal", True, True)],
)
def test_time_entry_billability_defaults_to_the_project(
    client: httpx.Client, work: dict[str, Any], project: str, is_billable: bool | None, expected: bool
) -> None:
    body = entry_body(work, projectId=work[project]["id"], startDateUtc="2026-11-10T09:00:00Z", duration=60)
    if is_billable is not None:
        body["isBillable"] = is_billable
    assert ok(client.post("/timeentries", json=body))["isBillable"] is expected


def test_time_entry_filters_on_project_user_and_start(client: httpx.Client, sim: AworkSimulator) -> None:
    project = sim.add_project("Filtered times")
    other = sim.add_user("Other", "User", "other@pixelwerk.de")
    user = sim.add_user("Filter", "User", "filter@pixelwerk.de")
    starts = ["2031-01-01T09:00:00+01:00", "2031-01-31T23:30:00+01:00", "2031-02-01T00:30:00+01:00"]
    entries = [
        sim.add_time_entry(user_id=user["id"], start=datetime.fromisoformat(s), duration=600, project_id=project["id"])
        for s in starts
    ]
    ids = [entry["id"] for entry in entries]
    sim.add_time_entry(user_id=other["id"], start=datetime(2031, 1, 15, 9, tzinfo=UTC), duration=60)
    january = "startDateUtc ge datetime'2031-01-01T00:00:00' and startDateUtc le datetime'2031-01-31T23:59:59'"
    found = ok(client.get("/timeentries", params={"filterby": f"{january} and userId eq guid'{user['id']}'"}))
    assert [entry["id"] for entry in found] == ids  # the third starts 2031-01-31 23:30 UTC
    local = f"startDateLocal ge datetime'2031-02-01T00:00:00' and projectId eq guid'{project['id'].upper()}'"
    assert [entry["id"] for entry in ok(client.get("/timeentries", params={"filterby": local}))] == ids[2:]
    params = {"orderby": "startTimeUtc desc", "pageSize": 2, "page": 1}
    response = client.get(f"/projects/{project['id']}/timeentries", params=params)
    assert [entry["id"] for entry in ok(response)] == [ids[2], ids[1]]
    assert (response.headers["aw-totalitems"], response.headers["aw-items"]) == ("3", "2")
    no_task = {"filterby": "task/name eq 'Konzept'"}
    assert ok(client.get(f"/projects/{project['id']}/timeentries", params=no_task)) == []
    assert error_code(client.get(f"/projects/{UNKNOWN_ID}/timeentries"), 404) == "not-found"


def test_time_entry_put_replaces_and_moves_updated_on(client: httpx.Client, work: dict[str, Any]) -> None:
    body = entry_body(work, projectId=work["billable"]["id"], note="First", isBilled=True)
    body |= {"startDateUtc": "2026-11-10T08:00:00Z", "duration": 600}
    untouched = ok(client.post("/timeentries", json=body))
    entry = ok(client.post("/timeentries", json=body))
    cursor = entry["updatedOn"].removesuffix("Z")
    put = {"timezone": "America/New_York", "typeOfWorkId": work["type_of_work"]["id"], "duration": 1200}
    updated = ok(client.put(f"/timeentries/{entry['id']}", json=put | {"taskId": work["task"]["id"]}))
    assert updated["updatedOn"] > entry["updatedOn"] and updated["resourceVersion"] > entry["resourceVersion"]
    assert (updated["startTimeUtc"], updated["startTimeLocal"], updated["duration"]) == ("08:00:00", "03:00:00", 1200)
    assert (updated["note"], updated["isBilled"], updated["userId"]) == (None, False, work["user"]["id"])
    assert (updated["projectId"], updated["isBillable"]) == (work["billable"]["id"], True)  # from the task
    again = ok(client.put(f"/timeentries/{entry['id']}", json=put | {"startDateUtc": "2026-11-11T07:00:00Z"}))
    assert (again["startDateUtc"], again["taskId"], again["projectId"]) == ("2026-11-11T00:00:00Z", None, None)
    params = {"filterby": f"updatedOn ge datetime'{cursor}'", "orderby": "updatedOn asc", "pageSize": 1000}
    changed = [each["id"] for each in ok(client.get("/timeentries", params=params))]
    assert entry["id"] in changed and untouched["id"] not in changed
    unknown_project = put | {"projectId": UNKNOWN_ID}
    assert invalid_properties(client.put(f"/timeentries/{entry['id']}", json=unknown_project)) == ["ProjectId"]
    assert error_code(client.put(f"/timeentries/{UNKNOWN_ID}", json=put), 404) == "not-found"


def test_deleted_time_entry_disappears(client: httpx.Client, work: dict[str, Any]) -> None:
    body = entry_body(work, startDateUtc="2026-11-10T08:00:00Z", duration=600, isBilled=True)
    entry = ok(client.post("/timeentries", json=body))
    response = client.delete(f"/timeentries/{entry['id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert error_code(client.get(f"/timeentries/{entry['id']}"), 404) == "not-found"
    listed = ok(client.get("/timeentries", params={"filterby": f"id eq guid'{entry['id']}'"}))
    assert listed == []
    assert error_code(client.delete(f"/timeentries/{entry['id']}"), 404) == "not-found"


def test_deleting_a_project_keeps_or_deletes_its_time_entries(client: httpx.Client, sim: AworkSimulator) -> None:
    user = sim.add_user("Del", "Eter", None)
    kept, dropped = sim.add_project("Keeps times"), sim.add_project("Drops times")
    start = datetime(2026, 11, 10, 9, tzinfo=UTC)
    one = sim.add_time_entry(user_id=user["id"], start=start, duration=60, project_id=kept["id"])
    two = sim.add_time_entry(user_id=user["id"], start=start, duration=60, project_id=dropped["id"])
    assert client.post(f"/projects/{kept['id']}/delete").status_code == 204
    assert client.post(f"/projects/{dropped['id']}/delete", json={"deleteTimeTrackings": True}).status_code == 204
    orphan = ok(client.get(f"/timeentries/{one['id']}"))
    assert (orphan["projectId"], "project" in orphan) == (None, False)
    assert orphan["updatedOn"] > one["updatedOn"]
    assert error_code(client.get(f"/timeentries/{two['id']}"), 404) == "not-found"


def test_direct_time_entry_api(sim: AworkSimulator, work: dict[str, Any]) -> None:
    project = sim.add_project("Direct times")
    start = datetime(2026, 11, 11, 8, 15, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2026-11-10 23:15 UTC
    entry = sim.add_time_entry(user_id=work["user"]["id"], start=start, duration=5400, project_id=project["id"])
    assert (entry["startDateUtc"], entry["startTimeUtc"]) == ("2026-11-10T00:00:00Z", "23:15:00")
    assert (entry["startDateLocal"], entry["startTimeLocal"]) == ("2026-11-11T00:00:00+01:00", "00:15:00")
    assert (entry["typeOfWorkId"], entry["isBillable"]) == (sim.types_of_work()[0]["id"], False)
    assert sim.project(project["id"])["trackedDuration"] == 5400
    later = start + timedelta(hours=1)
    updated = sim.update_time_entry(entry["id"], start=later, duration=60, note="Moved", isBillable=True)
    assert (updated["startTimeUtc"], updated["duration"]) == ("00:15:00", 60)
    assert (updated["note"], updated["isBillable"]) == ("Moved", True)
    assert updated["updatedOn"] > entry["updatedOn"]
    assert sim.project(project["id"])["trackedDuration"] == 60
    assert [each for each in sim.time_entries() if each["id"] == entry["id"]] == [updated]
    with pytest.raises(TypeError):
        sim.update_time_entry(entry["id"], colour="red")
    with pytest.raises(ValueError):
        sim.add_time_entry(user_id=work["user"]["id"], start=datetime(2026, 11, 11), duration=60)
    with pytest.raises(SimError):
        sim.add_time_entry(user_id=UNKNOWN_ID, start=start, duration=60)
    sim.delete_time_entry(entry["id"])
    assert entry["id"] not in [each["id"] for each in sim.time_entries()]
    assert sim.project(project["id"])["trackedDuration"] == 0


# --- direct API, limits, faults ---------------------------------------------------------------------------------------
def test_direct_api_creates_and_updates_projects(sim: AworkSimulator) -> None:
    company = sim.add_company("Direct GmbH")
    project = sim.add_project("Direct", project_key="dir-1", company_id=company["id"], start_date=date(2024, 1, 2))
    assert (project["projectKey"], project["startDate"]) == ("DIR-1", "2024-01-02T00:00:00Z")
    updated = sim.update_project(project["id"], name="Direct renamed", dueDate=date(2024, 2, 1), projectKey="DIR-2")
    assert (updated["name"], updated["dueDate"], updated["projectKey"]) == (
        "Direct renamed",
        "2024-02-01T00:00:00Z",
        "DIR-2",
    )
    assert updated["startDate"] == "2024-01-02T00:00:00Z"
    assert sim.project(project["id"]) == updated
    assert project["id"] in [each["id"] for each in sim.projects()]
    assert company["id"] in [each["id"] for each in sim.companies()]


def test_rate_limit_answers_429_with_the_documented_headers(limited_client: httpx.Client) -> None:
    statuses = [limited_client.get("/typeofwork").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = limited_client.get("/typeofwork")
    assert error_code(refused, 429)
    headers = {name: refused.headers[name] for name in RATE_LIMIT_HEADERS}
    assert headers["ratelimit-limit"] == headers["x-ratelimit-limit-second"] == "3"
    assert headers["x-ratelimit-limit-minute"] == "1000"
    assert headers["ratelimit-remaining"] == "0"
    assert headers["ratelimit-reset"] == "1"


def test_injected_faults_answer_server_errors_then_recover(client: httpx.Client, sim: AworkSimulator) -> None:
    sim.faults.fail_next(2, 503)
    assert [error_code(client.get("/projects"), 503) for _ in range(2)] == ["server-error", "server-error"]
    assert client.get("/projects").status_code == 200


# --- the product's endpoints: the keys of the spec's schemas ----------------------------------------------------------
# Every endpoint `connectors/awork.py` calls, by the simulator's route template.
PRODUCT_ENDPOINTS = (
    ("GET", "/projecttemplates"),
    ("POST", "/companies"),
    ("GET", "/companies"),
    ("POST", "/projects"),
    ("GET", "/projects"),
    ("GET", "/projects/{projectId}"),
    ("PUT", "/projects/{projectId}"),
    ("POST", "/projects/{projectId}/tasklists"),
    ("GET", "/projects/{projectId}/tasklists"),
    ("POST", "/tasks"),
    ("GET", "/projects/{projectId}/projecttasks"),
    ("PUT", "/tasks/{taskId}"),
    ("GET", "/users"),
    ("GET", "/typeofwork"),
    ("POST", "/timeentries"),
    ("GET", "/timeentries"),
    ("GET", "/timeentries/{timeEntryId}"),
    ("PUT", "/timeentries/{timeEntryId}"),
    ("DELETE", "/timeentries/{timeEntryId}"),
    ("POST", "/absences"),
    ("GET", "/absences"),
    ("PUT", "/absences/{absenceId}"),
    ("DELETE", "/absences/{absenceId}"),
)
TASK_FORM = ("name", "description", "isPrio", "startOn", "dueOn", "laneOrder", "plannedDuration")


@pytest.fixture(scope="module")
def product_exchanges(client: httpx.Client, sim: AworkSimulator) -> dict[tuple[str, str], Any]:
    """One exchange per `PRODUCT_ENDPOINTS` entry, the requests shaped as `connectors/awork.py` sends them (lists
    filtered to the records made here, so that each shows item keys), by (method, route)."""
    mark, since = sim.log.mark(), datetime.now(UTC) - timedelta(minutes=1)
    template = sim.add_template("Keys template", task_lists={"MOCO Leistungen": ["Konzeption"]})
    user, type_of_work = sim.add_user("Kai", "Keys", "kai@pixelwerk.de"), sim.add_type_of_work("Keys work")
    ok(client.get("/projecttemplates", params={"pageSize": 1000}))
    company = ok(client.post("/companies", json={"name": "Keys GmbH"}))
    ok(client.get("/companies", params={"filterby": "tolower(name) eq 'keys gmbh'", "pageSize": 1000}))
    form = {"name": "Keys", "startDate": "2026-01-01T00:00:00Z", "dueDate": None, "companyId": company["id"]}
    project = ok(client.post("/projects", json=form | {"projectKey": "KEYS", "projectTemplateId": template["id"]}))
    ok(client.get("/projects", params={"filterby": "projectKey eq 'KEYS'", "pageSize": 1000}))
    project_path = f"/projects/{project['id']}"
    ok(client.get(project_path))
    kept = {name: project[name] for name in ("isPrivate", "description", "timeBudget", "isBillableByDefault", "color")}
    ok(client.put(project_path, json=kept | form | {"name": "Keys renamed"}))
    task_list = ok(client.post(f"{project_path}/tasklists", json={"name": "MOCO"}))
    ok(client.get(f"{project_path}/tasklists", params={"pageSize": 1000}))
    body = {"baseType": "projecttask", "entityId": project["id"], "name": "Entwicklung"}
    task = ok(client.post("/tasks", json=body | {"lists": [{"id": task_list["id"], "order": 1.0}]}))
    ok(client.get(f"{project_path}/projecttasks", params={"pageSize": 1000}))
    ok(client.put(f"/tasks/{task['id']}", json={name: task[name] for name in TASK_FORM} | {"name": "Dev"}))
    ok(client.get("/users", params={"pageSize": 1000}))
    ok(client.get("/typeofwork", params={"pageSize": 1000}))
    entry = {"userId": user["id"], "projectId": project["id"], "taskId": task["id"], "typeOfWorkId": type_of_work["id"]}
    entry |= {"note": "Keys", "startDateUtc": "2026-01-05T00:00:00Z", "startTimeUtc": "09:00:00", "duration": 3600}
    entry |= {"timezone": "Europe/Berlin", "isBillable": True}
    created = ok(client.post("/timeentries", json=entry))
    filterby = f"updatedOn ge datetime'{since.strftime('%Y-%m-%dT%H:%M:%S')}'"
    ok(client.get("/timeentries", params={"filterby": filterby, "pageSize": 1000}))
    ok(client.get(f"/timeentries/{created['id']}"))
    ok(client.put(f"/timeentries/{created['id']}", json=entry | {"duration": 1800}))
    assert client.delete(f"/timeentries/{created['id']}").status_code == 204
    absence = {"userId": user["id"], "startOn": "2026-01-05T00:00:00Z", "endOn": "2026-01-09T00:00:00Z"}
    absence |= {"description": "Urlaub", "externalProvider": "keys", "isHalfDayOnStart": False, "isHalfDayOnEnd": True}
    made = ok(client.post("/absences", json=absence))
    ok(client.get("/absences", params={"filterby": "externalProvider eq 'keys'", "pageSize": 1000}))
    ok(client.put(f"/absences/{made['id']}", json=absence | {"description": "Urlaub: Ski"}))
    assert client.delete(f"/absences/{made['id']}").status_code == 204
    return {(exchange.method, exchange.route): exchange for exchange in sim.log.since(mark)}


@pytest.mark.parametrize(("method", "route"), PRODUCT_ENDPOINTS)
def test_product_endpoint_answers_with_the_keys_of_the_spec(
    product_exchanges: dict[tuple[str, str], Any], method: str, route: str
) -> None:
    exchange = product_exchanges[method, route]
    assert exchange.response_body or method == "DELETE"  # a list shows item keys only when it has items
    contract = OpenApiContract.awork()
    assert contract.response_key_errors(method, exchange.path, exchange.status, exchange.response_body) == []
    contract.assert_exchanges([exchange])


# --- invitations ------------------------------------------------------------------------------------------------------
def test_an_invitation_makes_a_pending_user_until_the_code_is_accepted(client: httpx.Client) -> None:
    workspace = ok(client.get("/users/me"))["workspace"]["id"]
    body = {"workspaceId": workspace, "email": "carla@ncnstn.example", "firstName": "Carla", "lastName": "Creative"}
    invitation = ok(client.post("/invitations", json=body))
    user = ok(client.get(f"/users/{invitation['userId']}"))
    assert user["status"]["invitationAccepted"] is False
    assert [c["value"] for c in user["userContactInfos"]] == ["carla@ncnstn.example"]
    assert error_code(client.post("/invitations", json=body | {"email": "CARLA@ncnstn.example"}), 400) == (
        "duplication-violation"
    )

    accepted = client.post("/invitations/accept", json={"invitationCode": invitation["invitationCode"]})
    assert accepted.status_code == 200 and accepted.content == b""
    assert ok(client.get(f"/users/{invitation['userId']}"))["status"]["invitationAccepted"] is True
    again = client.post("/invitations/accept", json={"invitationCode": invitation["invitationCode"]})
    assert invalid_properties(again) == ["InvitationCode"]


def test_an_invitation_needs_this_workspace_and_an_email(client: httpx.Client) -> None:
    assert invalid_properties(
        client.post("/invitations", json={"workspaceId": UNKNOWN_ID, "email": "x@y.example"})
    ) == ["WorkspaceId"]
    workspace = ok(client.get("/users/me"))["workspace"]["id"]
    assert invalid_properties(client.post("/invitations", json={"workspaceId": workspace})) == ["Email"]


def test_accept_invitation_is_the_invitees_click(sim: AworkSimulator, client: httpx.Client) -> None:
    workspace = ok(client.get("/users/me"))["workspace"]["id"]
    invited = ok(client.post("/invitations", json={"workspaceId": workspace, "email": "dana@ncnstn.example"}))
    assert sim.accept_invitation("Dana@ncnstn.example")["id"] == invited["userId"]
    with pytest.raises(SimError):
        sim.accept_invitation("dana@ncnstn.example")


# --- absences ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def absentee(sim: AworkSimulator) -> dict[str, Any]:
    return sim.add_user("Ida", "Urlaub", None)


def absence_form(absentee: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"userId": absentee["id"], "startOn": "2026-03-02T00:00:00Z", "endOn": "2026-03-06T00:00:00Z"} | fields


def test_an_absence_keeps_whole_days_and_its_halves(client: httpx.Client, absentee: dict[str, Any]) -> None:
    body = absence_form(absentee, startOn="2026-03-02T13:45:00Z", isHalfDayOnStart=True, description="Urlaub")
    created = client.post("/absences", json=body).json()
    assert (created["startOn"], created["endOn"]) == ("2026-03-02T00:00:00Z", "2026-03-06T00:00:00Z")
    assert (created["isHalfDayOnStart"], created["isHalfDayOnEnd"], created["isReadOnly"]) == (True, False, False)
    assert created["externalProvider"] is None and created["deletedOn"] is None
    assert client.get(f"/absences/{created['id']}").json() == created


def test_an_external_provider_makes_it_read_only_and_filters_the_list(
    client: httpx.Client, sim: AworkSimulator, absentee: dict[str, Any]
) -> None:
    ours = client.post("/absences", json=absence_form(absentee, externalProvider="timebridge-test")).json()
    sim.add_absence(user_id=absentee["id"], first_day=date(2026, 3, 9), last_day=date(2026, 3, 9))
    assert ours["isReadOnly"] is True
    listed = client.get("/absences", params={"filterby": "externalProvider eq 'timebridge-test'"}).json()
    assert [a["id"] for a in listed] == [ours["id"]]


def test_put_replaces_the_form_and_delete_removes_it(client: httpx.Client, absentee: dict[str, Any]) -> None:
    created = client.post("/absences", json=absence_form(absentee, description="Urlaub", isHalfDayOnEnd=True)).json()
    longer = absence_form(absentee, endOn="2026-03-09T00:00:00Z")
    replaced = client.put(f"/absences/{created['id']}", json=longer).json()
    assert (replaced["endOn"], replaced["description"], replaced["isHalfDayOnEnd"]) == (
        "2026-03-09T00:00:00Z",
        None,
        False,
    )
    assert replaced["updatedOn"] > created["updatedOn"]
    assert client.delete(f"/absences/{created['id']}").status_code == 204
    assert client.get(f"/absences/{created['id']}").status_code == 404
    assert created["id"] not in {a["id"] for a in client.get("/absences", params={"pageSize": 1000}).json()}


@pytest.mark.parametrize(
    ("fields", "prop"),
    [
        ({"endOn": "2026-03-01T00:00:00Z"}, "EndOn"),
        ({"userId": UNKNOWN_ID}, "UserId"),
    ],
)
def test_invalid_absences_are_400(client: httpx.Client, absentee: dict[str, Any], fields: dict, prop: str) -> None:
    response = client.post("/absences", json=absence_form(absentee, **fields))
    assert response.status_code == 400, response.text
    assert [problem["property"] for problem in response.json()["validationErrors"]] == [prop]


# --- webhooks -------------------------------------------------------------------------------------------------------
NOWHERE = "http://127.0.0.1:9/hook"  # nothing listens there: every delivery fails with ConnectError
WEBHOOK = {
    "name": "n8n: time",
    "uri": NOWHERE,
    "events": "timetracking_added,project_added",
    "isActive": True,
    "authenticationType": "header",
    "authentication": "X-Token=abc",
}


def test_webhooks_are_created_listed_updated_and_deleted(client):
    created = ok(client.post("/webhooks", json=WEBHOOK | {"isActive": False}))
    assert created["receiverType"] == "custom" and created["lastFailureReason"] is None
    assert created["id"] in [hook["id"] for hook in ok(client.get("/webhooks"))]
    assert "timetracking_deleted" in ok(client.get("/webhooks/eventtypes"))

    updated = ok(client.put(f"/webhooks/{created['id']}", json=WEBHOOK | {"isActive": False, "name": "renamed"}))
    assert (updated["name"], updated["authentication"]) == ("renamed", "X-Token=abc")

    assert client.delete(f"/webhooks/{created['id']}").status_code == 204
    assert error_code(client.get(f"/webhooks/{created['id']}"), 404) == "not-found"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"events": "timetracking_added,tea_time"}, "Events"),
        ({"authentication": "no-equals-sign"}, "Authentication"),
        ({"authenticationType": "basic"}, "AuthenticationType"),
    ],
)
def test_a_webhook_with_unknown_events_or_a_bad_authentication_is_refused(client, changes, problem):
    assert invalid_properties(client.post("/webhooks", json=WEBHOOK | changes)) == [problem]


def test_a_webhook_failing_more_than_ten_times_in_a_row_is_paused_with_its_last_failure(client, sim, monkeypatch):
    monkeypatch.setattr(sim.deliveries, "backoff", 0.001)
    webhook = ok(client.post("/webhooks", json=WEBHOOK))

    sim.add_project("Delivered nowhere")  # as a user would, in awork's UI
    assert sim.deliveries.wait(10)

    paused = ok(client.get(f"/webhooks/{webhook['id']}"))
    assert (paused["isActive"], paused["lastFailureReason"]) == (False, "ConnectError")
    logs = ok(client.get(f"/webhooks/{webhook['id']}/logs", params={"pageSize": 100}))
    assert len(logs) == 11 and {log["reason"] for log in logs} == {"ConnectError"}
    assert json.loads(logs[0]["message"])["eventType"] == "project_added"
    client.delete(f"/webhooks/{webhook['id']}")


def test_absence_changes_are_delivered_to_webhooks_subscribed_to_them(client, sim, absentee, monkeypatch):
    monkeypatch.setattr(sim.deliveries, "max_attempts", 1)
    webhook = ok(client.post("/webhooks", json=WEBHOOK | {"events": "absence_added,absence_updated,absence_deleted"}))

    absence = ok(client.post("/absences", json=absence_form(absentee, description="Urlaub")))
    ok(client.put(f"/absences/{absence['id']}", json=absence_form(absentee, description="Urlaub: Ski")))
    assert client.delete(f"/absences/{absence['id']}").status_code == 204
    assert sim.deliveries.wait(10)

    delivered = [json.loads(a.body) for a in sim.deliveries.attempts]
    absences = [d for d in delivered if d["eventType"].startswith("absence_")]
    assert [(d["eventType"], d["entity"]["id"], d["entity"]["description"]) for d in absences] == [
        ("absence_added", absence["id"], "Urlaub"),
        ("absence_updated", absence["id"], "Urlaub: Ski"),
        ("absence_deleted", absence["id"], "Urlaub: Ski"),
    ]
    client.delete(f"/webhooks/{webhook['id']}")


# --- project members, roles and statuses ----------------------------------------------------------------------------
def default_role(client: httpx.Client) -> dict[str, Any]:
    return next(role for role in ok(client.get("/projectroles")) if role["isDefault"])


def test_project_members_are_added_updated_and_removed(client: httpx.Client, sim: AworkSimulator) -> None:
    project = create_project(client, name="Team project")
    lena, anna = (sim.add_user(first, "Muster", f"{first}@team.example") for first in ("lena", "anna"))
    role = default_role(client)["id"]
    members = f"/projects/{project['id']}"
    added = ok(
        client.post(
            f"{members}/addprojectmember", json={"userId": lena["id"], "projectRoleId": role, "isResponsible": True}
        )
    )
    assert (added["userId"], added["isResponsible"], added["projectRoleName"]) == (lena["id"], True, "Member")
    ok(client.post(f"{members}/addprojectmember", json={"userId": anna["id"], "projectRoleId": role}))
    assert [(m["firstName"], m["isResponsible"]) for m in ok(client.get(f"{members}/members"))] == [
        ("lena", True),
        ("anna", False),
    ]
    assert [m["userId"] for m in ok(client.get(f"/projects/{project['id']}"))["members"]] == [lena["id"], anna["id"]]
    ok(client.post(f"{members}/updateprojectmember", json={"userId": lena["id"], "projectRoleId": role}))
    ok(
        client.post(
            f"{members}/updateprojectmember", json={"userId": anna["id"], "projectRoleId": role, "isResponsible": True}
        )
    )
    response = client.post(f"{members}/removeprojectmember", json={"userId": lena["id"]})
    assert response.status_code == 204
    assert [(m["firstName"], m["isResponsible"]) for m in ok(client.get(f"{members}/members"))] == [("anna", True)]


def test_a_member_is_added_once_and_only_one_is_responsible(client: httpx.Client, sim: AworkSimulator) -> None:
    project = create_project(client, name="Strict team")
    lena, anna = (sim.add_user(first, "Strikt", f"{first}@strict.example") for first in ("lena", "anna"))
    role = default_role(client)["id"]
    path = f"/projects/{project['id']}"
    ok(
        client.post(
            f"{path}/addprojectmember", json={"userId": lena["id"], "projectRoleId": role, "isResponsible": True}
        )
    )
    again = client.post(f"{path}/addprojectmember", json={"userId": lena["id"], "projectRoleId": role})
    assert error_code(again, 400) == "duplication-violation"
    second = {"userId": anna["id"], "projectRoleId": role, "isResponsible": True}
    assert invalid_properties(client.post(f"{path}/addprojectmember", json=second)) == ["IsResponsible"]
    unknown = {"userId": UNKNOWN_ID, "projectRoleId": role}
    assert invalid_properties(client.post(f"{path}/addprojectmember", json=unknown)) == ["UserId"]
    assert invalid_properties(client.post(f"{path}/removeprojectmember", json={"userId": anna["id"]})) == ["UserId"]


def test_project_status_changes_close_and_reopen(client: httpx.Client) -> None:
    project = create_project(client, name="Closing time")
    statuses = {s["type"]: s["id"] for s in ok(client.get(f"/projects/{project['id']}/projectstatuses"))}
    assert set(statuses) == {"not-started", "progress", "closed"}
    assert [s["id"] for s in ok(client.get("/projectstatuses"))] == list(statuses.values())
    change = f"/projects/{project['id']}/changestatus"
    assert client.post(change, json={"projectStatusId": statuses["closed"]}).status_code == 204
    closed = ok(client.get(f"/projects/{project['id']}"))
    assert (closed["projectStatus"]["type"], closed["closedOn"] is not None) == ("closed", True)
    assert client.post(change, json={"projectStatusId": statuses["progress"]}).status_code == 204
    reopened = ok(client.get(f"/projects/{project['id']}"))
    assert (reopened["projectStatus"]["type"], reopened["closedOn"]) == ("progress", None)
    assert invalid_properties(client.post(change, json={"projectStatusId": UNKNOWN_ID})) == ["ProjectStatusId"]


def test_task_statuses_change_in_one_request(client: httpx.Client) -> None:
    project = create_project(client, name="Task states")
    other = create_project(client, name="Other states")
    task = ok(client.post("/tasks", json={"baseType": "projecttask", "entityId": project["id"], "name": "T"}))
    statuses = {s["type"]: s["id"] for s in ok(client.get(f"/projects/{project['id']}/taskstatuses"))}
    assert set(statuses) == {"todo", "progress", "done"} and task["taskStatus"]["type"] == "todo"
    response = client.post("/tasks/changestatuses", json=[{"taskId": task["id"], "statusId": statuses["done"]}])
    assert response.status_code == 204
    done = ok(client.get(f"/tasks/{task['id']}"))
    assert (done["taskStatus"]["type"], done["closedOn"] is not None) == ("done", True)
    foreign = next(s["id"] for s in ok(client.get(f"/projects/{other['id']}/taskstatuses")) if s["type"] == "todo")
    wrong = client.post("/tasks/changestatuses", json=[{"taskId": task["id"], "statusId": foreign}])
    assert invalid_properties(wrong) == ["TaskStatusId"]


def test_project_time_entries_filter_by_start(client: httpx.Client, sim: AworkSimulator) -> None:
    project = create_project(client, name="Timed")
    user = sim.add_user("Tim", "Tracker", "tim@timed.example")
    for day in (1, 20):
        sim.add_time_entry(
            user_id=user["id"], project_id=project["id"], start=datetime(2026, 3, day, 9, tzinfo=UTC), duration=600
        )
    params = {"filterby": "startDateUtc ge datetime'2026-03-10T00:00:00'", "pageSize": 100}
    entries = ok(client.get(f"/projects/{project['id']}/timeentries", params=params))
    assert [e["startDateUtc"] for e in entries] == ["2026-03-20T00:00:00Z"]
