"""The MOCO simulator against real MOCO traffic (`moco-recorded-responses.json`, recorded 2022 by moco-wrapper).

Each recording of an endpoint the simulator implements is replayed as an equivalent request (same method and path
template, the recorded body and query with the recording account's ids mapped to seeded ones) and the answers are
compared: status code; every key of the recorded body, of its nested objects and of list items (against our item of
the same company `type`, else our first item) is present in ours with the same JSON type where both are non-null
(int and float differ: MOCO sends `100.0`); pagination header names; Content-Type.

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
SIMULATED = ("/projects", "/companies", "/session", "/users", "/account/custom_properties")
NOT_YET_SIMULATED = ("/contracts",)
PAGINATION_HEADERS = ("X-Page", "X-Per-Page", "X-Total")
TASK_TEMPLATES = ("Projektleitung", "Entwicklung", "Grafik")  # the recording account's default tasks
# Which seeded record a recorded id stands for: by the path segment before `{id}`, or by the body/query key.
RESOURCE_OF_SEGMENT = {"projects": "project", "tasks": "task", "companies": "company", "users": "user"}
RESOURCE_OF_KEY = {"customer_id": "company", "company_id": "company", "leader_id": "api_user", "user_id": "api_user"}


def simulated(recording: dict[str, Any]) -> bool:
    path = recording["request"]["path"]
    return path.startswith(SIMULATED) and not any(part in path for part in NOT_YET_SIMULATED)


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
    """Fresh records for a recording's ids to point at."""
    company = sim.add_company("Beispiel GmbH")["id"]
    project = sim.add_project("Website", customer_id=company, tasks=TASK_TEMPLATES)["id"]
    return {
        "company": company,
        "project": project,
        "task": sim.add_task(project, "Konzeption")["id"],
        "user": sim.add_user("Nina", "Neu", "nina.neu@example.org")["id"],
        "api_user": sim.api_user_id,
    }


def concrete_path(template: str, seeded: dict[str, int]) -> str:
    """`/projects/{id}/tasks/{id}` with each `{id}` replaced by the seeded record of the segment before it."""
    segments = template.split("/")
    for index, segment in enumerate(segments):
        if segment == "{id}":
            segments[index] = str(seeded[RESOURCE_OF_SEGMENT[segments[index - 1]]])
    return "/".join(segments)


def mapped_ids(values: dict[str, Any] | None, seeded: dict[str, int]) -> dict[str, Any] | None:
    """The recorded body or query with the recording account's ids replaced by seeded ones."""
    if values is None:
        return None
    return {key: seeded[RESOURCE_OF_KEY[key]] if key in RESOURCE_OF_KEY else value for key, value in values.items()}


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
def test_simulator_answers_like_real_moco(served: ServedSimulator, seeded: dict[str, int], recording: dict) -> None:
    request, recorded = recording["request"], recording["response"]
    response = httpx.request(
        request["method"],
        served.url + concrete_path(request["path"], seeded),
        params=mapped_ids(request["query"], seeded),
        json=mapped_ids(request["body"], seeded),
        headers={"Authorization": f"Token token={KEY}"},
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
