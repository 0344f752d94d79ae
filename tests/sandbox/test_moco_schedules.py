"""The MOCO simulator's absences (`/schedules`) over real HTTP; every exchange is checked against the official
OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.core import ServedSimulator
from sandbox.moco import MocoSimulator
from tests.contract import OpenApiContract

KEY = "moco-schedules-key"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedSimulator]:
    with ServedSimulator(MocoSimulator(api_keys=(KEY,), rate_limit=None)) as running:
        yield running


@pytest.fixture(scope="module")
def api(served: ServedSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Token token={KEY}"}) as client:
        yield client


@pytest.fixture(autouse=True)
def spec_checked(sim: MocoSimulator) -> Iterator[None]:
    mark = sim.log.mark()
    yield
    OpenApiContract.moco().assert_exchanges(sim.log.since(mark))


@pytest.fixture
def user(sim: MocoSimulator) -> int:
    """A fresh user; tests filter by it to see only their own absences."""
    return sim.add_user("Ida", "Urlaub", f"ida{len(sim.users())}@pixelwerk.de")["id"]


def ok(response: httpx.Response) -> object:
    assert response.status_code == 200, response.text
    return response.json()


def test_create_answers_the_absence_with_its_kind_and_user(api: httpx.Client, user: int) -> None:
    body = {"date": "2026-07-06", "user_id": user, "absence_code": "4", "comment": "Sommer", "am": True, "pm": False}
    created = ok(api.post("/schedules", json=body))
    assert isinstance(created, dict)
    assert (created["date"], created["comment"], created["am"], created["pm"]) == ("2026-07-06", "Sommer", True, False)
    assert created["assignment"]["code"] == "4" and created["assignment"]["name"] == "Urlaub"
    assert created["assignment"]["type"] == "Absence" and created["user"]["id"] == user
    assert ok(api.get(f"/schedules/{created['id']}")) == created


def test_list_filters_by_days_user_and_kind(api: httpx.Client, sim: MocoSimulator, user: int) -> None:
    for day, code in (("2026-03-02", "4"), ("2026-03-03", "3"), ("2026-03-09", "4"), ("2026-04-01", "5")):
        sim.add_absence(user_id=user, date=day, absence_code=code)
    mine = {"user_id": user}

    def days(**params: str | int) -> list[str]:
        listed = ok(api.get("/schedules", params=mine | params))
        assert isinstance(listed, list)
        return [item["date"] for item in listed]

    assert days() == ["2026-03-02", "2026-03-03", "2026-03-09", "2026-04-01"]
    assert days(**{"from": "2026-03-03", "to": "2026-03-31"}) == ["2026-03-03", "2026-03-09"]
    assert days(absence_code="4") == ["2026-03-02", "2026-03-09"]
    assert days(absence_code="3,5") == ["2026-03-03", "2026-04-01"]


def test_updated_after_reports_changes_but_not_deletions(api: httpx.Client, sim: MocoSimulator, user: int) -> None:
    kept = sim.add_absence(user_id=user, date="2026-05-04")
    deleted = sim.add_absence(user_id=user, date="2026-05-05")
    since = datetime.fromisoformat(kept["updated_at"]) + timedelta(seconds=1)
    changed = ok(api.put(f"/schedules/{kept['id']}", json={"absence_code": "3", "comment": "krank"}))
    assert isinstance(changed, dict) and changed["assignment"]["name"] == "Krankheit"
    gone = ok(api.delete(f"/schedules/{deleted['id']}"))
    assert isinstance(gone, dict) and gone["id"] == deleted["id"]
    after = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = ok(api.get("/schedules", params={"user_id": user, "updated_after": after}))
    assert [item["id"] for item in listed] == [kept["id"]]  # type: ignore[union-attr]
    assert api.get(f"/schedules/{deleted['id']}").status_code == 404


def test_a_taken_half_day_is_rejected_unless_overwritten(api: httpx.Client, sim: MocoSimulator, user: int) -> None:
    sim.add_absence(user_id=user, date="2026-06-01", am=True, pm=False)
    body = {"date": "2026-06-01", "user_id": user, "absence_code": "3", "am": False}
    afternoon = ok(api.post("/schedules", json=body))
    assert isinstance(afternoon, dict)
    again = api.post("/schedules", json={"date": "2026-06-01", "user_id": user, "absence_code": "4"})
    assert again.status_code == 422 and again.json() == {"errors": {"date": ["has already been taken"]}}
    body = {"date": "2026-06-01", "user_id": user, "absence_code": "4", "overwrite": True}
    ok(api.post("/schedules", json=body))
    listed = ok(api.get("/schedules", params={"user_id": user, "from": "2026-06-01", "to": "2026-06-01"}))
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
    created = ok(api.post("/schedules", json={"date": "2026-08-03", "absence_code": "5"}))
    assert isinstance(created, dict) and created["user"]["id"] == sim.api_user_id
