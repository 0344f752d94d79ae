"""The MOCO simulator over real HTTP, spoken to with plain httpx; every exchange is checked against the official
OpenAPI spec after each test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.core import ServedSimulator
from sandbox.moco import NOT_STAFFED, MocoSimulator
from tests.contract import OpenApiContract

KEY = "moco-sandbox-key"
SYNC = "Sync to awork"  # Boolean
AWORK_LINK = "awork project"  # Link
SECTOR = "Sector"  # Select
NOTES = "Notes"  # String
CHANNELS = "Channels"  # MultiSelect
GO_LIVE = "Go-live"  # Date
CUSTOMER_SINCE = "Customer since"  # Date, of companies


@pytest.fixture(scope="module")
def served() -> Iterator[ServedSimulator]:
    simulator = MocoSimulator(api_keys=(KEY,), rate_limit=None)
    simulator.define_custom_property(SYNC, "Boolean")
    simulator.define_custom_property(AWORK_LINK, "Link")
    simulator.define_custom_property(SECTOR, "Select", defaults=["Automotive", "Pharma"])
    simulator.define_custom_property(NOTES, "String")
    simulator.define_custom_property(CHANNELS, "MultiSelect", defaults=["Web", "Print", "Social"])
    simulator.define_custom_property(GO_LIVE, "Date")
    simulator.define_custom_property(CUSTOMER_SINCE, "Date", entity="Company")
    with ServedSimulator(simulator) as running:
        yield running


@pytest.fixture(scope="module")
def api(served: ServedSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Token token={KEY}"}) as client:
        yield client


@pytest.fixture(autouse=True)
def spec_checked(sim: MocoSimulator, request: pytest.FixtureRequest) -> Iterator[None]:
    """Every request a test sends, and the answer, must match the official OpenAPI spec (only the answers for tests
    using `off_spec_requests`)."""
    mark = sim.log.mark()
    yield
    exchanges = sim.log.since(mark)
    if "off_spec_requests" in request.fixturenames:
        exchanges = [dataclasses.replace(exchange, body=None) for exchange in exchanges]
    OpenApiContract.moco().assert_exchanges(exchanges)


@pytest.fixture
def off_spec_requests() -> None:
    """Marks a test that deliberately sends requests the spec forbids (an unknown `remote_service`, a malformed
    date, 101 bulk items) to see the simulator reject them: its request bodies are not checked, its answers are."""


@pytest.fixture
def customer(sim: MocoSimulator) -> int:
    """A fresh customer; list tests filter by it to see only their own projects."""
    return sim.add_company("Kunde GmbH")["id"]


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


# --- auth, routing, errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [f"Token token={KEY}", f"Bearer {KEY}"])
def test_session_accepts_token_and_bearer_keys(api: httpx.Client, sim: MocoSimulator, authorization: str) -> None:
    response = api.get("/session", headers={"Authorization": authorization})
    assert response.status_code == 200
    assert response.json()["id"] == sim.api_user_id
    assert response.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("authorization", ["Token token=wrong-key", "Basic bW9jbw==", None])
def test_unknown_or_missing_key_is_unauthorized(served: ServedSimulator, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{served.url}/projects", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_rails_json_suffix_is_accepted(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project = sim.add_project("Suffix", customer_id=customer)
    assert api.get(f"/projects/{project['id']}.json").json() == project
    assert ids(api.get("/projects.json", params={"company_id": customer})) == [project["id"]]


def test_unknown_project_is_not_found(api: httpx.Client) -> None:
    response = api.get("/projects/1")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}


def test_injected_5xx_burst_then_success(api: httpx.Client, sim: MocoSimulator) -> None:
    sim.faults.fail_next(2, 503)
    responses = [api.get("/session") for _ in range(3)]
    assert [response.status_code for response in responses] == [503, 503, 200]
    assert responses[0].json() == {"message": "Service Unavailable"}


def test_rate_limit_answers_429_with_retry_after() -> None:
    simulator = MocoSimulator(api_keys=(KEY,), rate_limit=3, rate_window=60)
    with ServedSimulator(simulator) as running:
        headers = {"Authorization": f"Bearer {KEY}"}
        responses = [httpx.get(f"{running.url}/session", headers=headers) for _ in range(4)]
    assert [response.status_code for response in responses] == [200, 200, 200, 429]
    assert responses[3].json() == {"message": "Too many requests"}
    assert 0 < int(responses[3].headers["Retry-After"]) <= 60
    OpenApiContract.moco().assert_exchanges(simulator.log.entries)


@pytest.mark.parametrize(("rate_limit", "named"), [(120, "120"), (1200, "1200"), (None, None)])
def test_answers_name_the_enforced_rate_limit(rate_limit: int | None, named: str | None) -> None:
    simulator = MocoSimulator(api_keys=(KEY,), rate_limit=rate_limit)
    with ServedSimulator(simulator) as running:
        response = httpx.get(f"{running.url}/session", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    assert response.headers.get("X-RateLimit-Limit") == named
    OpenApiContract.moco().assert_exchanges(simulator.log.entries)


def test_a_read_only_key_reads_and_is_refused_every_write() -> None:
    simulator = MocoSimulator(api_keys=(KEY,), read_only_keys=("read-only-key",), rate_limit=None)
    with ServedSimulator(simulator) as running:
        read_only = {"Authorization": "Token token=read-only-key"}
        read = httpx.get(f"{running.url}/projects", headers=read_only)
        refused = httpx.post(f"{running.url}/activities", json={}, headers=read_only)
        full = httpx.post(f"{running.url}/activities", json={}, headers={"Authorization": f"Token token={KEY}"})
    assert read.status_code == 200
    assert (refused.status_code, refused.json()) == (403, {"errors": ["Access denied"]})
    assert full.status_code == 422 and simulator.activities() == []
    OpenApiContract.moco().assert_exchanges(simulator.log.entries)


# --- pagination -------------------------------------------------------------------------------------------------


def test_pages_carry_headers_and_link_only_while_more_follow(
    api: httpx.Client, sim: MocoSimulator, customer: int
) -> None:
    created = [sim.add_project(f"Page {n}", customer_id=customer)["id"] for n in range(5)]
    response = api.get("/projects", params={"company_id": customer, "per_page": 2})
    seen, pages = ids(response), [response]
    while "link" in response.headers:
        url, rel = response.headers["link"].split("; ")
        assert rel == 'rel="next"'
        response = api.get(url.strip("<>"))
        seen += ids(response)
        pages.append(response)
    assert seen == created
    assert [(r.headers["x-page"], r.headers["x-per-page"], r.headers["x-total"]) for r in pages] == [
        ("1", "2", "5"),
        ("2", "2", "5"),
        ("3", "2", "5"),
    ]
    first_link = pages[0].headers["link"]
    assert first_link.startswith(f"<http://{api.base_url.host}:{api.base_url.port}/api/v1/projects?")
    assert f"company_id={customer}" in first_link and "page=2" in first_link


def test_per_page_above_100_is_clamped(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    sim.add_project("Clamp", customer_id=customer)
    response = api.get("/projects", params={"company_id": customer, "per_page": 500})
    assert response.headers["x-per-page"] == "100"
    assert response.headers["x-total"] == "1"
    assert "link" not in response.headers


# --- project filters --------------------------------------------------------------------------------------------


def test_tags_filter_requires_all_tags_exactly(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    both = sim.add_project("Both", customer_id=customer, tags=["Sync", "Retainer"])["id"]
    sim.add_project("One", customer_id=customer, tags=["Sync"])
    assert ids(api.get("/projects", params={"company_id": customer, "tags": "Sync, Retainer"})) == [both]
    assert ids(api.get("/projects", params={"company_id": customer, "tags": "sync"})) == []


@pytest.mark.parametrize(("value", "expected"), [("true", "yes"), ("false", "no")])
def test_boolean_custom_property_filter(
    api: httpx.Client, sim: MocoSimulator, customer: int, value: str, expected: str
) -> None:
    projects = {
        "yes": sim.add_project("Yes", customer_id=customer, custom_properties={SYNC: True})["id"],
        "no": sim.add_project("No", customer_id=customer, custom_properties={SYNC: "0"})["id"],
        "unset": sim.add_project("Unset", customer_id=customer)["id"],
    }
    response = api.get("/projects", params={"company_id": customer, f"custom_properties[{SYNC}]": value})
    assert ids(response) == [projects[expected]]


def test_link_and_select_custom_property_filters_match_exactly(
    api: httpx.Client, sim: MocoSimulator, customer: int
) -> None:
    url = "https://app.awork.com/projects/42"
    linked = sim.add_project("Linked", customer_id=customer, custom_properties={AWORK_LINK: url})["id"]
    pharma = sim.add_project("Pharma", customer_id=customer, custom_properties={SECTOR: "Pharma"})["id"]
    query = {"company_id": customer}
    assert ids(api.get("/projects", params=query | {f"custom_properties[{AWORK_LINK}]": url})) == [linked]
    assert ids(api.get("/projects", params=query | {f"custom_properties[{AWORK_LINK}]": url + "/"})) == []
    assert ids(api.get("/projects", params=query | {f"custom_properties[{SECTOR}]": "Pharma"})) == [pharma]


def test_unknown_custom_property_filter_gives_empty_result(
    api: httpx.Client, sim: MocoSimulator, customer: int
) -> None:
    sim.add_project("Any", customer_id=customer)
    response = api.get("/projects", params={"company_id": customer, "custom_properties[No such field]": "x"})
    assert ids(response) == []
    assert response.headers["x-total"] == "0"


def test_updated_after_is_strictly_later(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    changed = sim.add_project("Changed", customer_id=customer)["id"]
    unchanged = sim.add_project("Unchanged", customer_id=customer)
    api.put(f"/projects/{changed}", json={"name": "Changed again"})
    query = {"company_id": customer, "updated_after": unchanged["updated_at"]}
    assert ids(api.get("/projects", params=query)) == [changed]


def test_ids_and_identifier_filters(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    first, second, third = (sim.add_project(name, customer_id=customer) for name in ("A", "B", "C"))
    assert ids(api.get("/projects", params={"ids": f"{first['id']},{third['id']}"})) == [first["id"], third["id"]]
    assert ids(api.get("/projects", params={"identifier": second["identifier"]})) == [second["id"]]


def test_archived_projects_only_with_include_archived(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    active = sim.add_project("Active", customer_id=customer)["id"]
    archived = sim.add_project("Archived", customer_id=customer, active=False)["id"]
    assert ids(api.get("/projects", params={"company_id": customer})) == [active]
    assert ids(api.get("/projects", params={"company_id": customer, "include_archived": "true"})) == [active, archived]


# --- project writes ---------------------------------------------------------------------------------------------


def test_create_project_answers_200_with_moco_shapes(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    payload = {"name": "Relaunch", "currency": "EUR", "company_id": customer, "budget": 100, "tags": ["b", "a"]}
    response = api.post("/projects", json=payload | {"custom_properties": {SYNC: "true"}})
    assert response.status_code == 200
    project = response.json()
    assert project["identifier"].startswith("P")
    assert (project["budget"], project["hourly_rate"]) == (100.0, 0.0)
    assert isinstance(project["budget"], float)
    assert project["tags"] == project["labels"] == ["a", "b"]
    assert project["customer"] == {"id": customer, "name": "Kunde GmbH"}
    assert project["leader"]["id"] == project["contracts"][0]["user_id"] == sim.api_user_id
    assert project["custom_properties"] == {SYNC: "1"}
    assert "start_date" not in project
    assert sim.get_project(project["id"]) == project


def test_create_project_without_name_or_customer_is_rejected(api: httpx.Client) -> None:
    response = api.post("/projects", json={"currency": "EUR"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"name", "customer"}


def test_custom_properties_are_merged_on_update(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    values = {SYNC: True, SECTOR: "Automotive"}
    project = sim.add_project("Merge", customer_id=customer, custom_properties=values)
    written = {AWORK_LINK: "https://app.awork.com/projects/7", "Unknown field": "ignored"}
    response = api.put(f"/projects/{project['id']}", json={"custom_properties": written})
    assert response.status_code == 200
    assert response.json()["custom_properties"] == {SYNC: "1", SECTOR: "Automotive", AWORK_LINK: written[AWORK_LINK]}
    assert response.json()["updated_at"] > project["updated_at"]


@pytest.mark.parametrize(
    ("field", "written", "stored"),
    [
        (SYNC, "1", "1"),
        (SYNC, "0", "0"),
        (SYNC, True, "1"),
        (SYNC, "false", "0"),
        (SECTOR, "Pharma", "Pharma"),
        (CHANNELS, ["Web", "Bogus", "Print"], ["Web", "Print"]),
        (CHANNELS, "Social", ["Social"]),
        (CHANNELS, [], []),
        (GO_LIVE, "2021-12-31", "2021-12-31"),
        (GO_LIVE, "", ""),
        (NOTES, "Rückruf bis Freitag", "Rückruf bis Freitag"),
        (NOTES, 4711, "4711"),
        (AWORK_LINK, "http://example.org", "http://example.org"),
        (AWORK_LINK, "mailto:pm@example.org", "mailto:pm@example.org"),
        (AWORK_LINK, "tel:+4930123", "tel:+4930123"),
    ],
)
def test_custom_property_values_are_stored_as_moco_encodes_them(
    api: httpx.Client, sim: MocoSimulator, customer: int, field: str, written: object, stored: object
) -> None:
    project = sim.add_project("Custom", customer_id=customer, custom_properties={CHANNELS: ["Web"]})
    response = api.put(f"/projects/{project['id']}", json={"custom_properties": {field: written}})
    assert response.status_code == 200
    assert response.json()["custom_properties"] == {CHANNELS: ["Web"]} | {field: stored}


@pytest.mark.parametrize(
    "written",
    [
        {"No such field": "x"},
        {CUSTOMER_SINCE: "not a date"},  # a field of companies, unknown to projects
        {SECTOR: "Mining"},
        {SECTOR: 5},
        {CHANNELS: ["Bogus"]},
        {SECTOR: None},
    ],
)
def test_unknown_fields_options_and_nulls_are_ignored(
    api: httpx.Client, sim: MocoSimulator, customer: int, written: dict
) -> None:
    values = {SECTOR: "Automotive", CHANNELS: ["Web"]}
    project = sim.add_project("Ignored", customer_id=customer, custom_properties=values)
    response = api.patch(f"/projects/{project['id']}", json={"custom_properties": written})
    assert response.status_code == 200
    assert response.json()["custom_properties"] == values
    assert response.json()["updated_at"] == project["updated_at"]  # nothing changed


NOT_A_BOOLEAN = f"{SYNC} must be a boolean (true/false or 1/0)"
NOT_A_DATE = f"{GO_LIVE} is not a valid date"
NOT_A_LINK = f"{AWORK_LINK} must be a valid URL with scheme http, https, mailto or tel"
NOT_A_STRING = f"{NOTES} must be a string"


@pytest.mark.parametrize(
    ("written", "messages"),
    [
        ({SYNC: "yes"}, [NOT_A_BOOLEAN]),
        ({SYNC: 2}, [NOT_A_BOOLEAN]),
        ({GO_LIVE: "31.12.2021"}, [NOT_A_DATE]),
        ({GO_LIVE: "2021-02-30"}, [NOT_A_DATE]),
        ({GO_LIVE: 20211231}, [NOT_A_DATE]),
        ({NOTES: {"text": "x"}}, [NOT_A_STRING]),
        ({NOTES: True}, [NOT_A_STRING]),
        ({AWORK_LINK: "ftp://example.org/file"}, [NOT_A_LINK]),
        ({AWORK_LINK: "not a url"}, [NOT_A_LINK]),
        ({AWORK_LINK: "https://"}, [NOT_A_LINK]),
        ({SYNC: "ja", GO_LIVE: "morgen"}, [NOT_A_BOOLEAN, NOT_A_DATE]),
    ],
)
def test_invalid_custom_property_values_are_rejected_with_field_errors(
    api: httpx.Client, sim: MocoSimulator, customer: int, written: dict, messages: list[str]
) -> None:
    project = sim.add_project("Invalid", customer_id=customer)
    payload = {"name": "Renamed", "custom_properties": written | {SECTOR: "Pharma"}}
    response = api.put(f"/projects/{project['id']}", json=payload)
    assert (response.status_code, response.json()) == (422, {"errors": {"custom_properties": messages}})
    assert sim.get_project(project["id"]) == project  # all or nothing


@pytest.mark.parametrize("written", [[SYNC], f"{SYNC}=1"])
def test_custom_properties_must_be_an_object(
    api: httpx.Client, sim: MocoSimulator, customer: int, written: object, off_spec_requests: None
) -> None:
    project = sim.add_project("Not an object", customer_id=customer)
    response = api.put(f"/projects/{project['id']}", json={"custom_properties": written})
    assert response.status_code == 422
    assert response.json() == {"errors": {"custom_properties": ["must be an object keyed by custom field name"]}}


def test_project_create_with_an_invalid_custom_property_creates_nothing(api: httpx.Client, customer: int) -> None:
    payload = {"name": "Neu", "currency": "EUR", "company_id": customer, "custom_properties": {GO_LIVE: "bald"}}
    response = api.post("/projects", json=payload)
    assert (response.status_code, response.json()) == (422, {"errors": {"custom_properties": [NOT_A_DATE]}})
    assert ids(api.get("/projects", params={"company_id": customer})) == []


def test_company_custom_properties_are_validated_alike(api: httpx.Client, customer: int) -> None:
    rejected = api.put(f"/companies/{customer}", json={"custom_properties": {CUSTOMER_SINCE: "01.01.2020"}})
    assert rejected.status_code == 422
    assert rejected.json() == {"errors": {"custom_properties": [f"{CUSTOMER_SINCE} is not a valid date"]}}
    written = {CUSTOMER_SINCE: "2020-01-01", SYNC: "1"}  # SYNC is a field of projects: ignored on companies
    accepted = api.put(f"/companies/{customer}", json={"custom_properties": written})
    assert accepted.json()["custom_properties"] == {CUSTOMER_SINCE: "2020-01-01"}


@pytest.mark.parametrize(("size", "status"), [(11_000, 200), (13_000, 422)])
def test_custom_properties_are_limited_to_12_kb(
    api: httpx.Client, sim: MocoSimulator, customer: int, size: int, status: int
) -> None:
    project = sim.add_project("Big", customer_id=customer)
    response = api.put(f"/projects/{project['id']}", json={"custom_properties": {NOTES: "x" * size}})
    assert response.status_code == status


def test_delete_project_answers_200_with_empty_body(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project = sim.add_project("Doomed", customer_id=customer, tasks=["Dev"])
    response = api.delete(f"/projects/{project['id']}")
    assert (response.status_code, response.content) == (200, b"")
    assert api.get(f"/projects/{project['id']}").status_code == 404


# --- tasks ------------------------------------------------------------------------------------------------------


def test_task_lifecycle_bumps_project_updated_at(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project_id = sim.add_project("Tasks", customer_id=customer)["id"]
    tasks_url = f"/projects/{project_id}/tasks"
    stamps = [sim.get_project(project_id)["updated_at"]]

    created = api.post(tasks_url, json={"name": "Design", "budget": 500, "hourly_rate": 20})
    assert created.status_code == 200
    task = created.json()
    assert (task["budget"], task["hourly_rate"], task["billable"], task["active"]) == (500.0, 20.0, True, True)
    stamps.append(sim.get_project(project_id)["updated_at"])

    updated = api.put(f"{tasks_url}/{task['id']}", json={"active": False})
    assert updated.json()["active"] is False
    assert ids(api.get(tasks_url)) == [task["id"]]
    stamps.append(sim.get_project(project_id)["updated_at"])

    assert api.delete(f"{tasks_url}/{task['id']}").status_code == 204
    assert api.get(f"{tasks_url}/{task['id']}").status_code == 404
    stamps.append(sim.get_project(project_id)["updated_at"])
    assert stamps == sorted(set(stamps))  # every change moved the project's updated_at forward


def test_task_with_blank_name_is_rejected(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project_id = sim.add_project("Tasks", customer_id=customer)["id"]
    response = api.post(f"/projects/{project_id}/tasks", json={"name": " "})
    assert response.status_code == 422
    assert response.json() == {"errors": {"name": ["can't be blank"]}}


def test_project_embeds_its_tasks(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project_id = sim.add_project("Embedded", customer_id=customer, tasks=["Dev"])["id"]
    task = sim.add_task(project_id, "QA", billable=False)
    embedded = api.get(f"/projects/{project_id}").json()["tasks"]
    assert [(t["name"], t["billable"]) for t in embedded] == [("Dev", True), ("QA", False)]
    assert embedded[1]["id"] == task["id"]


# --- companies, users, custom property definitions --------------------------------------------------------------


def test_create_company_with_defaults(api: httpx.Client) -> None:
    response = api.post("/companies", json={"name": "Neukunde AG", "type": "customer"})
    assert response.status_code == 200
    company = response.json()
    assert (company["currency"], company["identifier"][0], company["projects"]) == ("EUR", "K", [])
    assert company["active"] is True
    assert api.get(f"/companies/{company['id']}").json() == company


def test_create_company_needs_a_valid_type(api: httpx.Client) -> None:
    response = api.post("/companies", json={"name": "Typlos"})
    assert response.status_code == 422
    assert response.json() == {"errors": {"type": ["is not included in the list"]}}


def test_companies_filter_by_type_and_term(api: httpx.Client, sim: MocoSimulator) -> None:
    supplier = sim.add_company("Zulieferer Unikat", type="supplier")["id"]
    assert supplier in ids(api.get("/companies", params={"type": "supplier"}))
    assert supplier not in ids(api.get("/companies", params={"type": "customer"}))
    assert ids(api.get("/companies", params={"term": "zulieferer unikat"})) == [supplier]


def test_update_company(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    response = api.put(f"/companies/{customer}", json={"name": "Umbenannt GmbH", "tags": ["VIP"]})
    assert (response.json()["name"], response.json()["tags"]) == ("Umbenannt GmbH", ["VIP"])


def test_users_filter_by_email_case_insensitively(api: httpx.Client, sim: MocoSimulator) -> None:
    user = sim.add_user("Anna", "Berg", "Anna.Berg@Pixelwerk.de")
    assert user["email"] == "anna.berg@pixelwerk.de"
    assert ids(api.get("/users", params={"email": "ANNA.BERG@pixelwerk.de"})) == [user["id"]]
    assert api.get(f"/users/{user['id']}").json() == user


def test_profile_is_the_key_users(api: httpx.Client, sim: MocoSimulator) -> None:
    profile = api.get("/profile").json()
    assert (profile["id"], profile["full_name"], profile["first_name"], profile["last_name"]) == (
        sim.api_user_id,
        "API User",
        "API",
        "User",
    )
    assert (profile["email"], profile["active"], profile["external"]) == ("api.user@moco-sandbox.example", True, False)
    operation = OpenApiContract.moco().spec["paths"]["/profile"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(profile) == set(schema["properties"])  # nothing recorded: exactly the spec's keys


def test_profile_is_the_impersonated_users(api: httpx.Client, sim: MocoSimulator) -> None:
    user = sim.add_user("Ida", "Imper", "ida.imper@pixelwerk.de")
    profile = api.get("/profile", headers={"X-IMPERSONATE-USER-ID": str(user["id"])}).json()
    assert (profile["id"], profile["full_name"], profile["email"]) == (user["id"], "Ida Imper", user["email"])
    assert (profile["unit"], profile["created_at"]) == (user["unit"], user["created_at"])


def test_deactivated_users_only_with_include_archived(api: httpx.Client, sim: MocoSimulator) -> None:
    former = sim.add_user("Ex", "Kollege", "ex.kollege@pixelwerk.de", active=False)["id"]
    assert ids(api.get("/users", params={"email": "ex.kollege@pixelwerk.de"})) == []
    assert ids(api.get("/users", params={"email": "ex.kollege@pixelwerk.de", "include_archived": "true"})) == [former]


def test_custom_property_definitions_by_entity(api: httpx.Client, sim: MocoSimulator) -> None:
    sim.define_custom_property("Kostenstelle", "String", entity="Company")
    definitions = api.get("/account/custom_properties", params={"entity": "Project"}).json()
    assert {(d["name"], d["kind"]) for d in definitions} >= {(SYNC, "Boolean"), (SECTOR, "Select")}
    assert {d["entity"] for d in definitions} == {"Project"}
    assert next(d for d in definitions if d["name"] == SECTOR)["defaults"] == ["Automotive", "Pharma"]


def test_custom_property_options_change_and_a_definition_goes(api: httpx.Client, sim: MocoSimulator) -> None:
    sim.define_custom_property("Vorlage", "Select", defaults=["A"])
    sim.update_custom_property("Vorlage", defaults=["A", "B "])

    def definitions() -> dict[str, list[str]]:
        return {d["name"]: d["defaults"] for d in api.get("/account/custom_properties").json()}

    assert definitions()["Vorlage"] == ["A", "B "]
    sim.remove_custom_property("Vorlage")
    assert "Vorlage" not in definitions()
    with pytest.raises(ValueError, match="only name and defaults"):
        sim.update_custom_property(SECTOR, kind="String")


# --- project contracts (staffing) -------------------------------------------------------------------------------


def test_contract_lifecycle_bumps_project_updated_at(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project_id = sim.add_project("Staffing", customer_id=customer)["id"]
    user = sim.add_user("Lena", "Lauf", "lena.lauf@pixelwerk.de")
    contracts_url = f"/projects/{project_id}/contracts"
    stamps = [sim.get_project(project_id)["updated_at"]]

    payload = {"user_id": user["id"], "billable": False, "budget": 9900, "hourly_rate": 100}
    created = api.post(contracts_url, json=payload)
    assert created.status_code == 200
    contract = created.json()
    assert (contract["user_id"], contract["firstname"], contract["lastname"]) == (user["id"], "Lena", "Lauf")
    assert (contract["billable"], contract["active"], contract["budget"], contract["hourly_rate"]) == (
        False,
        True,
        9900.0,
        100.0,
    )
    assert api.get(f"{contracts_url}/{contract['id']}").json() == contract
    embedded = sim.get_project(project_id)["contracts"]
    assert [c["user_id"] for c in embedded] == [sim.api_user_id, user["id"]]
    assert "created_at" not in embedded[1]
    assert [c["user_id"] for c in api.get(contracts_url).json()] == [sim.api_user_id, user["id"]]
    stamps.append(sim.get_project(project_id)["updated_at"])

    updated = api.put(f"{contracts_url}/{contract['id']}", json={"active": False, "user_id": sim.api_user_id})
    assert (updated.json()["active"], updated.json()["user_id"]) == (False, user["id"])  # user_id cannot change
    assert [c["user_id"] for c in api.get(contracts_url).json()] == [sim.api_user_id]  # active people only
    assert api.get(f"{contracts_url}/{contract['id']}").json()["active"] is False
    stamps.append(sim.get_project(project_id)["updated_at"])

    deleted = api.delete(f"{contracts_url}/{contract['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.get(f"{contracts_url}/{contract['id']}").status_code == 404
    assert [c["user_id"] for c in sim.contracts(project_id)] == [sim.api_user_id]
    stamps.append(sim.get_project(project_id)["updated_at"])
    assert stamps == sorted(set(stamps))  # every staffing change moved the project's updated_at forward


def test_duplicate_or_unknown_user_cannot_be_staffed(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project_id = sim.add_project("Staffing", customer_id=customer)["id"]
    user_id = sim.add_user("Doppelt", "Besetzt", "doppelt@pixelwerk.de")["id"]
    contracts_url = f"/projects/{project_id}/contracts"
    assert api.post(contracts_url, json={"user_id": user_id}).status_code == 200
    duplicate = api.post(contracts_url, json={"user_id": user_id})
    assert duplicate.status_code == 422
    assert duplicate.json() == {"errors": {"user_id": ["has already been taken"]}}
    assert api.post(contracts_url, json={"user_id": sim.api_user_id}).status_code == 422  # the leader is staffed
    unknown = api.post(contracts_url, json={"user_id": 1})
    assert (unknown.status_code, unknown.json()) == (422, {"errors": {"user": ["is invalid"]}})
    assert len(sim.contracts(project_id)) == 2


# --- activities -------------------------------------------------------------------------------------------------


@dataclass
class Booking:
    """A project with a task and a staffed user (besides the API user, its leader)."""

    customer: int
    project: int
    task: int
    user: int

    def activity(self, **fields: object) -> dict:
        return {"date": "2024-03-01", "project_id": self.project, "task_id": self.task, "seconds": 3600} | fields

    @property
    def as_user(self) -> dict[str, str]:
        return {"X-IMPERSONATE-USER-ID": str(self.user)}


@pytest.fixture
def booking(sim: MocoSimulator, customer: int) -> Booking:
    project = sim.add_project("Zeiten", customer_id=customer, tasks=["Entwicklung"])
    user = sim.add_user("Tom", "Takt", "tom.takt@pixelwerk.de")["id"]
    sim.add_contract(project["id"], user)
    return Booking(customer, project["id"], project["tasks"][0]["id"], user)


def test_create_activity_for_the_key_user(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    response = api.post("/activities", json=booking.activity(seconds=4500, description="Konzept"))
    assert response.status_code == 200
    activity = response.json()
    assert activity["user"] == {"id": sim.api_user_id, "firstname": "API", "lastname": "User"}
    assert (activity["date"], activity["hours"], activity["seconds"], activity["worked_seconds"]) == (
        "2024-03-01",
        1.25,
        4500,
        4500,
    )
    assert (activity["billed"], activity["invoice_id"], activity["billable"]) == (False, None, True)
    unset = ("tag", "remote_service", "remote_id", "remote_url", "timer_started_at")
    assert [activity[key] for key in unset] == ["", "", None, None, None]
    assert activity["project"] == {"id": booking.project, "name": "Zeiten", "billable": True}
    assert activity["task"] == {"id": booking.task, "name": "Entwicklung", "billable": True}
    assert activity["customer"] == {"id": booking.customer, "name": "Kunde GmbH"}
    assert activity["created_at"] == activity["updated_at"]
    assert api.get(f"/activities/{activity['id']}").json() == activity


def test_create_activity_for_the_impersonated_user(api: httpx.Client, booking: Booking) -> None:
    response = api.post("/activities", json=booking.activity(description=""), headers=booking.as_user)
    assert response.status_code == 200
    assert response.json()["user"] == {"id": booking.user, "firstname": "Tom", "lastname": "Takt"}
    assert response.json()["description"] == ""


def test_hourly_rate_is_shown_to_the_key_user_only(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    created = api.post("/activities", json=booking.activity(), headers=booking.as_user).json()
    assert "hourly_rate" not in created
    assert "hourly_rate" not in api.get(f"/activities/{created['id']}", headers=booking.as_user).json()
    assert api.get(f"/activities/{created['id']}").json()["hourly_rate"] == 0.0
    assert sim.activities(project_id=booking.project)[0]["hourly_rate"] == 0.0


@pytest.mark.parametrize("impersonated", ["1", "abc"])
def test_impersonating_an_unknown_user_is_denied(api: httpx.Client, booking: Booking, impersonated: str) -> None:
    response = api.post("/activities", json=booking.activity(), headers={"X-IMPERSONATE-USER-ID": impersonated})
    assert (response.status_code, response.json()) == (403, {"errors": ["Access denied"]})


def test_unstaffed_user_cannot_book(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    outsider = sim.add_user("Nicht", "Besetzt", "nicht.besetzt@pixelwerk.de")["id"]
    headers = {"X-IMPERSONATE-USER-ID": str(outsider)}
    response = api.post("/activities", json=booking.activity(), headers=headers)
    assert (response.status_code, response.json()) == (422, {"errors": {"project": [NOT_STAFFED]}})
    assert sim.activities(project_id=booking.project) == []


@pytest.mark.parametrize("task", ["other project", "inactive", "missing"])
def test_task_must_be_an_active_task_of_the_project(
    api: httpx.Client, sim: MocoSimulator, booking: Booking, task: str
) -> None:
    task_ids = {
        "other project": sim.add_project("Andere", customer_id=booking.customer, tasks=["X"])["tasks"][0]["id"],
        "inactive": sim.add_task(booking.project, "Gesperrt", active=False)["id"],
        "missing": None,
    }
    payload = booking.activity(task_id=task_ids[task])
    if task_ids[task] is None:
        del payload["task_id"]
    response = api.post("/activities", json=payload)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["task"]


def test_archived_or_unknown_project_is_rejected(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    unknown = api.post("/activities", json=booking.activity(project_id=1))
    assert unknown.status_code == 422 and "project" in unknown.json()["errors"]
    sim.update_project(booking.project, active=False)
    archived = api.post("/activities", json=booking.activity())
    assert (archived.status_code, archived.json()) == (422, {"errors": {"project": ["is archived"]}})


def test_unknown_remote_service_is_rejected(api: httpx.Client, booking: Booking, off_spec_requests: None) -> None:
    response = api.post("/activities", json=booking.activity(remote_service="awork", remote_id="awork:1"))
    assert response.status_code == 422
    assert response.json() == {"errors": {"remote_service": ["is not included in the list"]}}


def test_remote_id_and_url_are_accepted_without_a_service(api: httpx.Client, booking: Booking) -> None:
    url = "https://app.awork.com/time-tracking/1"
    response = api.post("/activities", json=booking.activity(remote_id="awork:1", remote_url=url))
    assert response.status_code == 200
    assert (response.json()["remote_service"], response.json()["remote_id"], response.json()["remote_url"]) == (
        "",
        "awork:1",
        url,
    )
    jira = api.post("/activities", json=booking.activity(remote_service="jira", remote_id="PROJ-1"))
    assert jira.json()["remote_service"] == "jira"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"date": "01.03.2024"}, {"date": ["is not a valid date"]}),
        ({"date": "2024-02-30"}, {"date": ["is not a valid date"]}),
        ({"date": None}, {"date": ["can't be blank"]}),
        ({"seconds": -60}, {"seconds": ["must be greater than or equal to 0"]}),
    ],
)
def test_malformed_date_or_negative_seconds_is_rejected(
    api: httpx.Client, booking: Booking, off_spec_requests: None, fields: dict, error: dict
) -> None:
    response = api.post("/activities", json=booking.activity(**fields))
    assert (response.status_code, response.json()) == (422, {"errors": error})


def test_deprecated_hours_are_converted_to_seconds(api: httpx.Client, booking: Booking) -> None:
    payload = booking.activity(hours=2.3)
    del payload["seconds"]
    created = api.post("/activities", json=payload).json()
    assert (created["seconds"], created["hours"]) == (8280, 2.3)
    both = api.post("/activities", json=booking.activity(seconds=600, hours=5)).json()
    assert (both["seconds"], both["hours"]) == (600, 0.17)  # seconds win, hours rounded to 2 decimals
    updated = api.put(f"/activities/{created['id']}", json={"hours": 0.5}).json()
    assert (updated["seconds"], updated["hours"]) == (1800, 0.5)


# --- bulk -------------------------------------------------------------------------------------------------------


def test_bulk_creates_activities_for_the_acting_user(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    items = [booking.activity(date=f"2024-03-0{day}", remote_id=f"awork:{day}", tag="awork") for day in (1, 2, 3)]
    response = api.post("/activities/bulk", json={"activities": items}, headers=booking.as_user)
    assert response.status_code == 200
    created = response.json()
    assert [a["remote_id"] for a in created] == ["awork:1", "awork:2", "awork:3"]
    assert {a["user"]["id"] for a in created} == {booking.user}
    assert sim.activities(project_id=booking.project, tag="awork") == [a | {"hourly_rate": 0.0} for a in created]


def test_bulk_of_more_than_100_is_rejected(
    api: httpx.Client, sim: MocoSimulator, booking: Booking, off_spec_requests: None
) -> None:
    response = api.post("/activities/bulk", json={"activities": [booking.activity()] * 101})
    assert response.status_code == 422
    assert isinstance(response.json()["errors"], list)
    assert sim.activities(project_id=booking.project) == []
    assert api.post("/activities/bulk", json={"activities": [booking.activity()] * 100}).status_code == 200


def test_bulk_is_all_or_nothing(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    other_task = sim.add_project("Andere", customer_id=booking.customer, tasks=["X"])["tasks"][0]["id"]
    items = [booking.activity(), booking.activity(task_id=other_task), booking.activity(seconds=-1)]
    response = api.post("/activities/bulk", json={"activities": items})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"activities[1].task", "activities[2].seconds"}
    assert sim.activities(project_id=booking.project) == []


def test_bulk_needs_an_activities_array_sent_as_json(api: httpx.Client, off_spec_requests: None) -> None:
    assert api.post("/activities/bulk", json={"activities": {}}).json() == {"message": "Invalid payload"}
    response = api.post("/activities/bulk", content=b'{"activities": []}', headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.content) == (415, b"")


# --- activity lists ---------------------------------------------------------------------------------------------


def test_activity_list_filters(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    def add(user: int, day: str, **fields: object) -> int:
        return sim.add_activity(
            user_id=user, project_id=booking.project, task_id=booking.task, date=day, seconds=900, **fields
        )["id"]

    me = sim.api_user_id
    first = add(me, "2024-03-01", remote_id="awork:1", tag="awork", description="Konzept Startseite")
    second = add(booking.user, "2024-03-15", remote_id="awork:2", tag="awork")
    third = add(booking.user, "2024-03-31", remote_id="awork:3", tag="intern", billable=False)
    fourth = add(me, "2024-04-01", description="Review")
    sim.bill_activity(fourth)

    def listed(**params: object) -> list[int]:
        return ids(api.get("/activities", params={"project_id": booking.project, **params}))

    assert listed() == [first, second, third, fourth]
    assert listed(**{"from": "2024-03-15", "to": "2024-03-31"}) == [second, third]
    assert listed(to="2024-03-01") == [first]
    assert listed(user_id=booking.user) == [second, third]
    assert listed(task_id=booking.task, company_id=booking.customer) == [first, second, third, fourth]
    assert listed(remote_id="awork:1, awork:3,awork:9") == [first, third]
    assert listed(remote_id="awork") == []  # exact match only
    assert listed(tag="awork") == [first, second]
    assert listed(tag="intern,awork") == [first, second, third]
    assert listed(ids=f"{fourth},{second}") == [second, fourth]
    assert listed(billable="false") == [third]
    assert listed(billed="true") == [fourth]
    assert listed(term="startseite") == [first]
    assert ids(api.get("/activities", params={"remote_id": "awork:2", "project_id": booking.project})) == [second]
    other = sim.add_project("Andere", customer_id=booking.customer, tasks=["X"])["id"]
    assert ids(api.get("/activities", params={"project_id": other})) == []


def test_activities_are_paginated_by_date_then_id(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    days = ["2024-05-03", "2024-05-01", "2024-05-02", "2024-05-01", "2024-05-04"]
    created = [
        sim.add_activity(user_id=booking.user, project_id=booking.project, task_id=booking.task, date=day, seconds=60)
        for day in days
    ]
    expected = [a["id"] for a in sorted(created, key=lambda a: (a["date"], a["id"]))]
    response = api.get("/activities", params={"project_id": booking.project, "per_page": 2})
    seen, totals = ids(response), [response.headers["x-total"]]
    while "link" in response.headers:
        response = api.get(response.headers["link"].split(";")[0].strip("<>"))
        seen += ids(response)
        totals.append(response.headers["x-total"])
    assert seen == expected
    assert totals == ["5", "5", "5"]


def test_updated_after_reports_changes_but_not_deletions(
    api: httpx.Client, sim: MocoSimulator, booking: Booking
) -> None:
    first, second, third = (api.post("/activities", json=booking.activity()).json() for _ in range(3))
    cursor = third["updated_at"]
    assert api.patch(f"/activities/{first['id']}", json={"description": "geändert"}).status_code == 200
    assert api.delete(f"/activities/{second['id']}").status_code == 204
    changed = ids(api.get("/activities", params={"project_id": booking.project, "updated_after": cursor}))
    assert changed == [first["id"]]
    assert ids(api.get("/activities", params={"project_id": booking.project})) == [first["id"], third["id"]]


# --- activity updates and deletes -------------------------------------------------------------------------------


def test_update_activity_with_put_and_patch(api: httpx.Client, booking: Booking) -> None:
    activity = api.post("/activities", json=booking.activity(tag="awork")).json()
    put = api.put(f"/activities/{activity['id']}", json=booking.activity(seconds=5400, description="Neu"))
    assert put.status_code == 200
    assert (put.json()["seconds"], put.json()["hours"], put.json()["description"]) == (5400, 1.5, "Neu")
    assert put.json()["tag"] == "awork"  # fields not sent stay
    assert put.json()["updated_at"] > activity["updated_at"]
    patched = api.patch(f"/activities/{activity['id']}", json={"date": "2024-03-02", "billable": False}).json()
    assert (patched["date"], patched["billable"], patched["seconds"]) == ("2024-03-02", False, 5400)
    assert patched["updated_at"] > put.json()["updated_at"]
    unchanged = api.patch(f"/activities/{activity['id']}", json={"billable": False}).json()
    assert unchanged["updated_at"] == patched["updated_at"]  # no change, no new timestamp
    invalid = api.patch(f"/activities/{activity['id']}", json={"task_id": 1})
    assert invalid.status_code == 422
    assert api.get(f"/activities/{activity['id']}").json() == unchanged


def test_only_the_owner_may_change_an_activity(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    activity = api.post("/activities", json=booking.activity(), headers=booking.as_user).json()
    url = f"/activities/{activity['id']}"
    for response in (api.patch(url, json={"description": "fremd"}), api.delete(url)):
        assert (response.status_code, response.json()) == (403, {"errors": ["Access denied"]})
    assert api.patch(url, json={"description": "eigen"}, headers=booking.as_user).json()["description"] == "eigen"
    assert api.delete(url, headers=booking.as_user).status_code == 204


def test_billed_activity_cannot_be_changed_or_deleted(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    activity = api.post("/activities", json=booking.activity()).json()
    billed = sim.bill_activity(activity["id"])
    assert billed["billed"] is True and isinstance(billed["invoice_id"], int)
    url = f"/activities/{activity['id']}"
    for response in (api.put(url, json={"seconds": 60}), api.patch(url, json={"seconds": 60}), api.delete(url)):
        assert response.status_code == 422
        assert list(response.json()["errors"]) == ["base"]
    assert api.get(url).json() == billed


def test_deleted_activity_is_gone(api: httpx.Client, sim: MocoSimulator, booking: Booking) -> None:
    activity = api.post("/activities", json=booking.activity(remote_id="awork:gone")).json()
    response = api.delete(f"/activities/{activity['id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert api.get(f"/activities/{activity['id']}").status_code == 404
    assert ids(api.get("/activities", params={"remote_id": "awork:gone"})) == []
    assert sim.activities(remote_id="awork:gone") == []


def test_tracked_hours_protect_contract_task_and_project(
    api: httpx.Client, sim: MocoSimulator, booking: Booking
) -> None:
    api.post("/activities", json=booking.activity(), headers=booking.as_user)
    contract = next(c for c in sim.contracts(booking.project) if c["user_id"] == booking.user)
    assert api.delete(f"/projects/{booking.project}/contracts/{contract['id']}").status_code == 422
    assert api.delete(f"/projects/{booking.project}/tasks/{booking.task}").status_code == 422
    assert api.delete(f"/projects/{booking.project}").status_code == 422
    assert len(sim.activities(project_id=booking.project)) == 1


def test_python_api_filters_by_field_equality(sim: MocoSimulator, booking: Booking) -> None:
    kept = sim.add_activity(
        user_id=booking.user, project_id=booking.project, task_id=booking.task, date="2024-06-01", seconds=60
    )
    assert sim.activities(user_id=booking.user, project_id=booking.project) == [kept]
    assert kept in sim.activities()
    assert {user["id"] for user in sim.users()} >= {sim.api_user_id, booking.user}
    with pytest.raises(ValueError, match="unknown activity fields"):
        sim.activities(no_such_field=1)


# --- absences (schedules) ---------------------------------------------------------------------------------------------
def schedule_json(response: httpx.Response) -> object:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def absentee(sim: MocoSimulator) -> int:
    """A fresh user; the absence tests filter by it to see only their own absences."""
    return sim.add_user("Ida", "Urlaub", f"ida{len(sim.users())}@pixelwerk.de")["id"]


def test_create_answers_the_absence_with_its_kind_and_user(api: httpx.Client, absentee: int) -> None:
    body = {"date": "2026-07-06", "user_id": absentee, "absence_code": "4", "comment": "Sommer", "pm": False}
    created = schedule_json(api.post("/schedules", json=body))
    assert isinstance(created, dict)
    assert (created["date"], created["comment"], created["am"], created["pm"]) == ("2026-07-06", "Sommer", True, False)
    assert created["assignment"]["code"] == "4" and created["assignment"]["name"] == "Urlaub"
    assert created["assignment"]["type"] == "Absence" and created["user"]["id"] == absentee
    assert schedule_json(api.get(f"/schedules/{created['id']}")) == created


def test_list_filters_by_days_user_and_kind(api: httpx.Client, sim: MocoSimulator, absentee: int) -> None:
    for day, code in (("2026-03-02", "4"), ("2026-03-03", "3"), ("2026-03-09", "4"), ("2026-04-01", "5")):
        sim.add_absence(user_id=absentee, date=day, absence_code=code)
    mine = {"user_id": absentee}

    def days(**params: str | int) -> list[str]:
        listed = schedule_json(api.get("/schedules", params=mine | params))
        assert isinstance(listed, list)
        return [item["date"] for item in listed]

    assert days() == ["2026-03-02", "2026-03-03", "2026-03-09", "2026-04-01"]
    assert days(**{"from": "2026-03-03", "to": "2026-03-31"}) == ["2026-03-03", "2026-03-09"]
    assert days(absence_code="4") == ["2026-03-02", "2026-03-09"]
    assert days(absence_code="3,5") == ["2026-03-03", "2026-04-01"]


def test_absences_updated_after_are_listed_but_not_deleted_ones(
    api: httpx.Client, sim: MocoSimulator, absentee: int
) -> None:
    kept = sim.add_absence(user_id=absentee, date="2026-05-04")
    deleted = sim.add_absence(user_id=absentee, date="2026-05-05")
    since = datetime.fromisoformat(kept["updated_at"]) + timedelta(seconds=1)
    changed = schedule_json(api.put(f"/schedules/{kept['id']}", json={"absence_code": "3", "comment": "krank"}))
    assert isinstance(changed, dict) and changed["assignment"]["name"] == "Krankheit"
    gone = schedule_json(api.delete(f"/schedules/{deleted['id']}"))
    assert isinstance(gone, dict) and gone["id"] == deleted["id"]
    after = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = schedule_json(api.get("/schedules", params={"user_id": absentee, "updated_after": after}))
    assert [item["id"] for item in listed] == [kept["id"]]  # type: ignore[union-attr]
    assert api.get(f"/schedules/{deleted['id']}").status_code == 404


def test_a_taken_half_day_is_rejected_unless_overwritten(api: httpx.Client, sim: MocoSimulator, absentee: int) -> None:
    sim.add_absence(user_id=absentee, date="2026-06-01", am=True, pm=False)
    body = {"date": "2026-06-01", "user_id": absentee, "absence_code": "3", "am": False}
    afternoon = schedule_json(api.post("/schedules", json=body))
    assert isinstance(afternoon, dict)
    again = api.post("/schedules", json={"date": "2026-06-01", "user_id": absentee, "absence_code": "4"})
    assert again.status_code == 422 and again.json() == {"errors": {"date": ["has already been taken"]}}
    body = {"date": "2026-06-01", "user_id": absentee, "absence_code": "4", "overwrite": True}
    schedule_json(api.post("/schedules", json=body))
    that_day = {"user_id": absentee, "from": "2026-06-01", "to": "2026-06-01"}
    listed = schedule_json(api.get("/schedules", params=that_day))
    assert [(i["assignment"]["code"], i["am"], i["pm"]) for i in listed] == [("4", True, True)]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"absence_code": "4"}, "date"),
        ({"date": "2026-06-02"}, "absence_code"),
        ({"date": "2026-06-02", "absence_code": "9"}, "absence_code"),
        ({"date": "2026-06-02", "absence_code": "4", "am": False, "pm": False}, "base"),
        ({"date": "2026-06-02", "absence_code": "4", "user_id": 1}, "user"),
    ],
)
def test_invalid_absences_are_rejected_with_field_errors(api: httpx.Client, body: dict, field: str) -> None:
    response = api.post("/schedules", json=body)
    assert response.status_code == 422 and field in response.json()["errors"]


def test_without_user_id_the_absence_is_the_acting_users(api: httpx.Client, sim: MocoSimulator) -> None:
    created = schedule_json(api.post("/schedules", json={"date": "2026-08-03", "absence_code": "5"}))
    assert isinstance(created, dict) and created["user"]["id"] == sim.api_user_id


# --- web hooks ------------------------------------------------------------------------------------------------------
NOWHERE = "http://127.0.0.1:9/hook"  # nothing listens there: every delivery fails with ConnectError


def test_web_hooks_are_created_moved_disabled_enabled_and_deleted(api: httpx.Client) -> None:
    created = api.post("/account/web_hooks", json={"target": "Project", "event": "update", "hook": NOWHERE}).json()
    assert (created["target"], created["event"], created["disabled"]) == ("Project", "update", False)
    hook_id = created["id"]
    assert hook_id in ids(api.get("/account/web_hooks"))

    moved = api.put(f"/account/web_hooks/{hook_id}", json={"hook": "https://example.org/new"}).json()
    assert (moved["hook"], moved["target"]) == ("https://example.org/new", "Project")
    assert api.put(f"/account/web_hooks/{hook_id}/disable").json()["disabled"] is True
    assert api.put(f"/account/web_hooks/{hook_id}/enable").json()["disabled_at"] is None

    assert api.delete(f"/account/web_hooks/{hook_id}").json()["id"] == hook_id
    assert api.get(f"/account/web_hooks/{hook_id}").status_code == 404


def test_a_web_hook_needs_a_known_target_and_event_and_a_url(api: httpx.Client, off_spec_requests: None) -> None:
    response = api.post("/account/web_hooks", json={"target": "Spaceship", "event": "launch", "hook": "ftp://x"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"target", "event", "hook"}


def test_a_deleted_task_is_delivered_signed_with_only_its_id(
    api: httpx.Client, sim: MocoSimulator, customer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac
    import json

    monkeypatch.setattr(sim.deliveries, "max_attempts", 1)
    project = sim.add_project("Hooked", customer_id=customer, tasks=["Design"])
    task_id = project["tasks"][0]["id"]
    hook = api.post("/account/web_hooks", json={"target": "Task", "event": "delete", "hook": NOWHERE}).json()

    assert api.delete(f"/projects/{project['id']}/tasks/{task_id}").status_code == 204
    assert sim.deliveries.wait(10)

    [attempt] = [a for a in sim.deliveries.attempts if json.loads(a.body) == {"id": task_id}]
    signature = hmac.new(sim.webhook_secret.encode(), attempt.body, hashlib.sha256).hexdigest()
    assert attempt.headers["X-Moco-Signature"] == signature
    assert (attempt.headers["X-Moco-Target"], attempt.headers["X-Moco-Event"]) == ("Task", "delete")
    assert attempt.headers["X-Moco-Origin"] == "api" and attempt.headers["X-Moco-Timestamp"].isdigit()
    api.delete(f"/account/web_hooks/{hook['id']}")


def test_absences_created_and_deleted_are_delivered_to_schedule_web_hooks(
    api: httpx.Client, sim: MocoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setattr(sim.deliveries, "max_attempts", 1)
    hooks = [
        api.post("/account/web_hooks", json={"target": "Schedule", "event": event, "hook": NOWHERE}).json()
        for event in ("create", "delete")
    ]
    user_id = sim.users()[0]["id"]
    created = api.post("/schedules", json={"date": "2026-03-02", "absence_code": "4", "user_id": user_id})
    assert created.status_code == 200, created.text
    assert api.delete(f"/schedules/{created.json()['id']}").status_code == 200
    assert sim.deliveries.wait(10)

    attempts = [a for a in sim.deliveries.attempts if a.headers["X-Moco-Target"] == "Schedule"]
    delivered = [(a.headers["X-Moco-Event"], json.loads(a.body)) for a in attempts]
    absence_id = created.json()["id"]
    assert [(event, body["id"]) for event, body in delivered] == [("create", absence_id), ("delete", absence_id)]
    assert delivered[0][1]["date"] == "2026-03-02" and delivered[1][1] == {"id": absence_id}
    for hook in hooks:
        api.delete(f"/account/web_hooks/{hook['id']}")


def test_archive_and_unarchive_a_project(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project = sim.add_project("Archivable", customer_id=customer)["id"]
    archived = api.put(f"/projects/{project}/archive")
    assert archived.status_code == 200 and archived.json()["active"] is False
    assert ids(api.get("/projects", params={"company_id": customer})) == []
    unarchived = api.put(f"/projects/{project}/unarchive")
    assert unarchived.status_code == 200 and unarchived.json()["active"] is True
    assert ids(api.get("/projects", params={"company_id": customer})) == [project]


def test_project_embeds_its_leader_and_ended_staffing(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    lena = sim.add_user("Lena", "Leitung", "lena.leitung@example.com")["id"]
    anna = sim.add_user("Anna", "Staff", "anna.staff@example.com")["id"]
    project = sim.add_project("Led", customer_id=customer, leader_id=lena)["id"]
    sim.add_contract(project, anna)
    sim.set_staffing(project, anna, active=False)
    body = api.get(f"/projects/{project}").json()
    assert body["leader"]["id"] == lena
    assert [(c["user_id"], c["active"]) for c in body["contracts"]] == [(lena, True), (anna, False)]
    assert [c["user_id"] for c in api.get(f"/projects/{project}/contracts").json()] == [lena]
