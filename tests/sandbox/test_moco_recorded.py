"""The MOCO simulator against real MOCO traffic (`moco-recorded-responses.json`, recorded 2022 by moco-wrapper).

Each recording of an endpoint the simulator implements is replayed as an equivalent request (same method and path
template, the recorded body and query with the recording account's ids mapped to seeded ones, impersonating a
staffed user where the recording impersonated another user) and the answers are compared: status code; every key
of the recorded body, of its nested objects and of list items (against our item of the same company `type`, else
our first item) is present in ours with the same JSON type where both are non-null (int and float differ: MOCO
sends `100.0`); pagination header names; Content-Type.

Recorded keys deliberately not reproduced: `deal.id` and `deal.name` of `TestProject.test_create_with_deal` - deals
are not simulated, so `deal` stays null (the comparison skips values that are null on either side).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.core import ServedSimulator
from sandbox.moco import MocoSimulator
from tests.contract import SPEC_DIR, OpenApiContract

KEY = "moco-sandbox-key"
RECORDED = json.loads((SPEC_DIR / "moco-recorded-responses.json").read_text(encoding="utf-8"))
SIMULATED = ("/projects", "/companies", "/session", "/users", "/account/custom_properties", "/activities")
PAGINATION_HEADERS = ("X-Page", "X-Per-Page", "X-Total")
TASK_TEMPLATES = ("Projektleitung", "Entwicklung", "Grafik")  # the recording account's default tasks
# Which seeded record a recorded id stands for: by the path segment before `{id}`, or by the body/query key.
RESOURCE_OF_SEGMENT = {
    "projects": "project",
    "tasks": "task",
    "companies": "company",
    "users": "user",
    "contracts": "contract",
    "activities": "activity",
}
RESOURCE_OF_KEY = {
    "customer_id": "company",
    "company_id": "company",
    "leader_id": "api_user",
    "project_id": "project",
    "task_id": "task",
}
KEY_USER_ID = RECORDED["key_user_id"]  # a recorded `user_id` of another user stands for the seeded unstaffed user


def simulated(recording: dict[str, Any]) -> bool:
    return recording["request"]["path"].startswith(SIMULATED)


RECORDINGS = [pytest.param(r, id=r["source"]) for r in RECORDED["recordings"] if simulated(r)]


@pytest.fixture(scope="module")
def served() -> Iterator[ServedSimulator]:
    simulator = MocoSimulator(api_keys=(KEY,), rate_limit=None, task_templates=TASK_TEMPLATES)
    simulator.add_company("Lieferant KG", type="supplier")
    simulator.add_company("Verband e.V.", type="organization")
    with ServedSimulator(simulator) as running:
        yield running


@pytest.fixture(scope="module")
def sim(served: ServedSimulator) -> MocoSimulator:
    assert isinstance(served.app, MocoSimulator)
    return served.app


@pytest.fixture(autouse=True)
def spec_checked(sim: MocoSimulator) -> Iterator[None]:
    mark = sim.log.mark()
    yield
    OpenApiContract.moco().assert_exchanges(sim.log.since(mark))


@pytest.fixture
def seeded(sim: MocoSimulator) -> dict[str, int]:
    """Fresh records for a recording's ids to point at: `user` is not staffed on the project, `staff` is (its
    contract is `contract`)."""
    company = sim.add_company("Beispiel GmbH")["id"]
    project = sim.add_project("Website", customer_id=company, tasks=TASK_TEMPLATES)["id"]
    staff = sim.add_user("Sam", "Staff", "sam.staff@example.org")["id"]
    return {
        "company": company,
        "project": project,
        "task": sim.add_task(project, "Konzeption")["id"],
        "user": sim.add_user("Nina", "Neu", "nina.neu@example.org")["id"],
        "staff": staff,
        "contract": sim.add_contract(project, staff)["id"],
        "api_user": sim.api_user_id,
    }


def seed_activity(sim: MocoSimulator, seeded: dict[str, int]) -> None:
    """An activity of the key's user in the recorded date range, for the activity recordings only (tracked hours
    would make the recorded task delete fail)."""
    activity = sim.add_activity(
        user_id=sim.api_user_id, project_id=seeded["project"], task_id=seeded["task"], date="2020-01-01", seconds=3600
    )
    seeded["activity"] = activity["id"]


def concrete_path(template: str, seeded: dict[str, int]) -> str:
    """`/projects/{id}/tasks/{id}` with each `{id}` replaced by the seeded record of the segment before it."""
    segments = template.split("/")
    for index, segment in enumerate(segments):
        if segment == "{id}":
            segments[index] = str(seeded[RESOURCE_OF_SEGMENT[segments[index - 1]]])
    return "/".join(segments)


def mapped_id(key: str, value: Any, seeded: dict[str, int]) -> Any:
    """A recorded body or query value, with a recording account's id replaced by the seeded one it stands for."""
    if key == "user_id":
        return seeded["api_user" if value == KEY_USER_ID else "user"]
    return seeded[RESOURCE_OF_KEY[key]] if key in RESOURCE_OF_KEY else value


def mapped_ids(values: dict[str, Any] | None, seeded: dict[str, int]) -> dict[str, Any] | None:
    """The recorded body or query with the recording account's ids replaced by seeded ones."""
    if values is None:
        return None
    return {key: mapped_id(key, value, seeded) for key, value in values.items()}


def json_type(value: Any) -> str:
    for python_type, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python_type):
            return name
    return "array" if isinstance(value, list) else "object"


def partner(recorded_item: Any, ours: list[Any]) -> Any:
    """Our list item to compare a recorded one with: the first of the same company `type`, else our first."""
    kind = recorded_item.get("type") if isinstance(recorded_item, dict) else None
    return next((item for item in ours if isinstance(item, dict) and item.get("type") == kind), ours[0])


def shape_differences(recorded: Any, ours: Any, where: str = "$") -> list[str]:
    """Recorded keys we lack and JSON types that differ (where both values are non-null), recursively."""
    if recorded is None or ours is None:
        return []
    if json_type(recorded) != json_type(ours):
        return [f"{where}: recorded {json_type(recorded)} {recorded!r}, ours {json_type(ours)} {ours!r}"]
    if isinstance(recorded, dict):
        return object_differences(recorded, ours, where)
    if isinstance(recorded, list):
        return list_differences(recorded, ours, where)
    return []


def object_differences(recorded: dict[str, Any], ours: dict[str, Any], where: str) -> list[str]:
    differences = []
    for key, value in recorded.items():
        if key in ours:
            differences += shape_differences(value, ours[key], f"{where}.{key}")
        else:
            differences.append(f"{where}.{key}: missing")
    return differences


def list_differences(recorded: list[Any], ours: list[Any], where: str) -> list[str]:
    if recorded and not ours:
        return [f"{where}: recorded {len(recorded)} item(s), ours none"]
    differences = []
    for index, item in enumerate(recorded):
        differences += shape_differences(item, partner(item, ours), f"{where}[{index}]")
    return differences


@pytest.mark.parametrize("recording", RECORDINGS)
def test_simulator_answers_like_real_moco(
    served: ServedSimulator, sim: MocoSimulator, seeded: dict[str, int], recording: dict
) -> None:
    request, recorded = recording["request"], recording["response"]
    if request["path"].startswith("/activities"):
        seed_activity(sim, seeded)
    headers = {"Authorization": f"Token token={KEY}"}
    if request["impersonate"] == "other":
        headers["X-IMPERSONATE-USER-ID"] = str(seeded["staff"])
    response = httpx.request(
        request["method"],
        served.url + concrete_path(request["path"], seeded),
        params=mapped_ids(request["query"], seeded),
        json=mapped_ids(request["body"], seeded),
        headers=headers,
    )
    assert response.status_code == recorded["status"], response.text
    if recorded["body"] == "":
        assert response.content == b""
    else:
        assert shape_differences(recorded["body"], response.json()) == []
    assert [name for name in PAGINATION_HEADERS if name in recorded["headers"]] == [
        name for name in PAGINATION_HEADERS if name in response.headers
    ]
    if "Content-Type" in recorded["headers"]:
        assert response.headers["Content-Type"] == recorded["headers"]["Content-Type"]
