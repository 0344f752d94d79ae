"""The MOCO simulator over real HTTP, spoken to with plain httpx; every exchange is checked against the official
OpenAPI spec after each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.core import ServedSimulator
from sandbox.moco import MocoSimulator
from tests.contract import OpenApiContract

KEY = "moco-sandbox-key"
SYNC = "Sync to awork"  # Boolean
AWORK_LINK = "awork project"  # Link
SECTOR = "Sector"  # Select
NOTES = "Notes"  # String


@pytest.fixture(scope="module")
def served() -> Iterator[ServedSimulator]:
    simulator = MocoSimulator(api_keys=(KEY,), rate_limit=None)
    simulator.define_custom_property(SYNC, "Boolean")
    simulator.define_custom_property(AWORK_LINK, "Link")
    simulator.define_custom_property(SECTOR, "Select", defaults=["Automotive", "Pharma"])
    simulator.define_custom_property(NOTES, "String")
    with ServedSimulator(simulator) as running:
        yield running


@pytest.fixture(scope="module")
def sim(served: ServedSimulator) -> MocoSimulator:
    assert isinstance(served.app, MocoSimulator)
    return served.app


@pytest.fixture(scope="module")
def api(served: ServedSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Token token={KEY}"}) as client:
        yield client


@pytest.fixture(autouse=True)
def spec_checked(sim: MocoSimulator) -> Iterator[None]:
    """Every request a test sends, and the answer, must match the official OpenAPI spec."""
    mark = sim.log.mark()
    yield
    OpenApiContract.moco().assert_exchanges(sim.log.since(mark))


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


def test_select_value_outside_options_is_ignored(api: httpx.Client, sim: MocoSimulator, customer: int) -> None:
    project = sim.add_project("Select", customer_id=customer, custom_properties={SECTOR: "Automotive"})
    response = api.patch(f"/projects/{project['id']}", json={"custom_properties": {SECTOR: "Mining"}})
    assert response.status_code == 200
    assert response.json()["custom_properties"] == {SECTOR: "Automotive"}
    assert response.json()["updated_at"] == project["updated_at"]  # nothing changed


@pytest.mark.parametrize("link", ["ftp://example.org/file", "not a url", "https://"])
def test_invalid_link_is_rejected(api: httpx.Client, sim: MocoSimulator, customer: int, link: str) -> None:
    project = sim.add_project("Link", customer_id=customer)
    response = api.put(f"/projects/{project['id']}", json={"name": "Renamed", "custom_properties": {AWORK_LINK: link}})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["custom_properties"]
    assert sim.get_project(project["id"]) == project  # all or nothing


@pytest.mark.parametrize("link", ["http://example.org", "mailto:pm@example.org", "tel:+4930123"])
def test_valid_link_schemes_are_accepted(api: httpx.Client, sim: MocoSimulator, customer: int, link: str) -> None:
    project = sim.add_project("Link", customer_id=customer)
    response = api.put(f"/projects/{project['id']}", json={"custom_properties": {AWORK_LINK: link}})
    assert response.json()["custom_properties"] == {AWORK_LINK: link}


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
