"""The MOCO simulator against real MOCO traffic (`moco-recorded-responses.json`, recorded 2022 by moco-wrapper).

Every recording is replayed as an equivalent request (same method and path template, the recorded body and query
with the recording account's ids mapped to seeded ones, impersonating a staffed user where the recording
impersonated another user) and the answers are compared: status code; the body's keys and JSON value types at
every level, list items included (`tests.shapes`: int and float differ, MOCO sends `100.0`; a null on either side
matches anything, so the official OpenAPI spec, which every exchange must also match, decides where ours may be
null); pagination header names; Content-Type.

Deliberate differences, each listed below with its reason: recorded endpoints the simulator does not serve
(`NOT_SERVED`), and keys today's MOCO documents that the 2022 recordings predate (`DOCUMENTED_SINCE`). Values of
recorded keys not reproduced: `deal` of `TestProject.test_create_with_deal` stays null, deals are not simulated.
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
from tests.shapes import shape_differences

KEY = "moco-sandbox-key"
RECORDED = json.loads((SPEC_DIR / "moco-recorded-responses.json").read_text(encoding="utf-8"))
# Recorded endpoints (method, path template) the simulator deliberately does not serve, with the reason; replaying
# one must fail. None so far: the recordings hold only endpoints a MOCO/awork sync uses, and all are simulated.
NOT_SERVED: dict[tuple[str, str], str] = {}
# Keys of today's MOCO that the 2022 recordings predate (moco.md and the spec's schemas list them), by the resource
# of the recorded path (its last named segment); the simulator returns them although no recording shows them.
DOCUMENTED_SINCE = {
    "projects": ("retainer", "budget_monthly", "tasks[].description"),  # moco.md §3 example, spec `Project`
    "tasks": ("description",),  # moco.md §4, spec `Task`
    "activities": ("worked_seconds", "invoice_id"),  # moco.md §6 (worked_seconds since 2025-09), spec `Activity`
    "companies": ("active",),  # moco.md §7, spec `Company`
}
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


def not_served(recording: dict[str, Any]) -> list[pytest.MarkDecorator]:
    """A strict xfail for a recording of a `NOT_SERVED` endpoint: it must not pass unnoticed once served."""
    reason = NOT_SERVED.get((recording["request"]["method"], recording["request"]["path"]))
    return [pytest.mark.xfail(strict=True, reason=f"not simulated: {reason}")] if reason else []


RECORDINGS = [pytest.param(r, id=r["source"], marks=not_served(r)) for r in RECORDED["recordings"]]


@pytest.fixture(scope="module")
def served() -> Iterator[ServedSimulator]:
    simulator = MocoSimulator(api_keys=(KEY,), rate_limit=None, task_templates=TASK_TEMPLATES)
    simulator.add_company("Lieferant KG", type="supplier")
    simulator.add_company("Verband e.V.", type="organization")
    with ServedSimulator(simulator) as running:
        yield running


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


def resource(template: str) -> str:
    """The resource a path template addresses: `/projects/{id}/tasks/{id}` -> `tasks`."""
    return next(segment for segment in reversed(template.split("/")) if segment != "{id}")


def undocumented(differences: list[str], template: str) -> list[str]:
    """The shape differences left once the keys `DOCUMENTED_SINCE` the recordings are allowed in our answer."""
    keys = DOCUMENTED_SINCE.get(resource(template), ())
    allowed = {f"{root}{key}: not recorded" for root in ("$.", "$[].") for key in keys}
    return [difference for difference in differences if difference not in allowed]


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
        assert undocumented(shape_differences(recorded["body"], response.json()), request["path"]) == []
    assert [name for name in PAGINATION_HEADERS if name in recorded["headers"]] == [
        name for name in PAGINATION_HEADERS if name in response.headers
    ]
    if "Content-Type" in recorded["headers"]:
        assert response.headers["Content-Type"] == recorded["headers"]["Content-Type"]
