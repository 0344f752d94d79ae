"""The awork simulator's absences (`/absences`) over real HTTP; every exchange is checked against the official
OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from sandbox.awork import AworkSimulator
from sandbox.core import ServedSimulator
from tests.contract import OpenApiContract

API_KEY = "awork-sandbox-key"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def sim() -> AworkSimulator:
    return AworkSimulator(per_second=None, per_minute=None)


@pytest.fixture(scope="module")
def client(sim: AworkSimulator) -> Iterator[httpx.Client]:
    with ServedSimulator(sim) as served, httpx.Client(base_url=served.url, timeout=5) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        yield client


@pytest.fixture(autouse=True)
def contract(sim: AworkSimulator) -> Iterator[None]:
    mark = sim.log.mark()
    yield
    OpenApiContract.awork().assert_exchanges(sim.log.since(mark))


@pytest.fixture
def user(sim: AworkSimulator) -> dict[str, Any]:
    return sim.add_user("Ida", "Urlaub", None)


def form(user: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"userId": user["id"], "startOn": "2026-03-02T00:00:00Z", "endOn": "2026-03-06T00:00:00Z"} | fields


def test_an_absence_keeps_whole_days_and_its_halves(client: httpx.Client, user: dict[str, Any]) -> None:
    body = form(user, startOn="2026-03-02T13:45:00Z", isHalfDayOnStart=True, description="Urlaub")
    created = client.post("/absences", json=body).json()
    assert (created["startOn"], created["endOn"]) == ("2026-03-02T00:00:00Z", "2026-03-06T00:00:00Z")
    assert (created["isHalfDayOnStart"], created["isHalfDayOnEnd"], created["isReadOnly"]) == (True, False, False)
    assert created["externalProvider"] is None and created["deletedOn"] is None
    assert client.get(f"/absences/{created['id']}").json() == created


def test_an_external_provider_makes_it_read_only_and_filters_the_list(
    client: httpx.Client, sim: AworkSimulator, user: dict[str, Any]
) -> None:
    ours = client.post("/absences", json=form(user, externalProvider="timebridge-test")).json()
    sim.add_absence(user_id=user["id"], first_day=date(2026, 3, 9), last_day=date(2026, 3, 9))
    assert ours["isReadOnly"] is True
    listed = client.get("/absences", params={"filterby": "externalProvider eq 'timebridge-test'"}).json()
    assert [a["id"] for a in listed] == [ours["id"]]


def test_put_replaces_the_form_and_delete_removes_it(client: httpx.Client, user: dict[str, Any]) -> None:
    created = client.post("/absences", json=form(user, description="Urlaub", isHalfDayOnEnd=True)).json()
    replaced = client.put(f"/absences/{created['id']}", json=form(user, endOn="2026-03-09T00:00:00Z")).json()
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
def test_invalid_absences_are_400(client: httpx.Client, user: dict[str, Any], fields: dict, prop: str) -> None:
    response = client.post("/absences", json=form(user, **fields))
    assert response.status_code == 400, response.text
    assert [problem["property"] for problem in response.json()["validationErrors"]] == [prop]
