"""Tests of the OpenAPI contract checker against the official MOCO and awork specs."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import LoggedRequest
from tests.contract import SPEC_DIR, ContractViolation, OpenApiContract, load_spec

RECORDINGS = json.loads((SPEC_DIR / "moco-recorded-responses.json").read_text())["recordings"]
AWORK_PROJECT = {
    "id": "0d3a6e58-6c1e-4a43-9d7c-0f7f1d1b2c3a",
    "name": "Website relaunch",
    "isPrivate": False,
    "description": None,
    "startDate": "2024-01-01T00:00:00Z",
    "dueDate": None,
    "companyId": None,
    "timeBudget": 36000,
    "projectKey": "WEB",
    "createdOn": "2024-01-01T09:30:00.123Z",
    "resourceVersion": 3,
    "tags": [],
}


@pytest.fixture(scope="module")
def moco() -> OpenApiContract:
    return OpenApiContract.moco()


@pytest.fixture(scope="module")
def awork() -> OpenApiContract:
    return OpenApiContract.awork()


def recording(source: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in RECORDINGS if r["source"] == source))


def moco_project() -> dict[str, Any]:
    """A real MOCO project body (answer to POST /projects)."""
    return recording("TestProject.test_create_full.json#0")["response"]["body"]


def logged(method: str, path: str, status: int, response_body: object, body: object = None) -> LoggedRequest:
    return LoggedRequest(
        method=method,
        path=path,
        route=None,
        query={},
        headers={},
        body=body,
        status=status,
        response_body=response_body,
        response_headers={},
        at=0.0,
    )


# --- loading ----------------------------------------------------------------------------------------------------


def test_specs_load_once_and_report_timings(capsys: pytest.CaptureFixture[str]) -> None:
    timings = {}
    for name in ("moco", "awork"):
        path = (SPEC_DIR / f"{name}-openapi.json").resolve()
        start = time.perf_counter()
        load_spec.__wrapped__(path)
        timings[name] = time.perf_counter() - start
    with capsys.disabled():
        print("\nspec load times: " + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in timings.items()))
    assert OpenApiContract.moco() is OpenApiContract.moco()
    assert OpenApiContract.awork() is OpenApiContract.awork()
    loaded = load_spec((SPEC_DIR / "awork-openapi.json").resolve())  # shared, but for the documented operations
    assert OpenApiContract.awork().spec["components"] is loaded["components"]
    assert (
        "post" in OpenApiContract.awork().spec["paths"]["/invitations"]
        and "post" not in loaded["paths"]["/invitations"]
    )


# --- path matching ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/v1/projects/assigned", "/projects/assigned"),
        ("GET", "/api/v1/projects/123", "/projects/{id}"),
        ("GET", "/api/v1/projects.json", "/projects"),
        ("POST", "/api/v1/projects/123/tasks.json", "/projects/{project_id}/tasks"),
        ("GET", "/api/v1/invoices/5.pdf", "/invoices/{id}.pdf"),
        ("GET", "/api/v1/invoices/5", "/invoices/{id}"),
        ("GET", "/projects/123/contracts/7", "/projects/{project_id}/contracts/{id}"),
    ],
)
def test_moco_path_matching(moco: OpenApiContract, method: str, path: str, template: str) -> None:
    assert moco.find_operation(method, path)[0] == template


def test_awork_literal_segment_beats_parameter(awork: OpenApiContract) -> None:
    assert awork.find_operation("GET", "/api/v1/users/me")[0] == "/users/me"
    assert awork.find_operation("GET", "/api/v1/users/42")[0] == "/users/{userId}"
    assert awork.find_operation("POST", "/api/v1/projects/42/delete")[0] == "/projects/{projectId}/delete"


def test_unknown_operation(moco: OpenApiContract) -> None:
    assert moco.find_operation("PATCH", "/api/v1/projects") is None
    assert moco.response_errors("GET", "/api/v1/nope", 200, {}) == ["no operation in the spec for GET /api/v1/nope"]
    assert moco.request_errors("post", "/api/v1/nope", {}) == ["no operation in the spec for POST /api/v1/nope"]


# --- MOCO ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rec", RECORDINGS, ids=[r["source"] for r in RECORDINGS])
def test_moco_recorded_exchange_matches_spec(moco: OpenApiContract, rec: dict[str, Any]) -> None:
    request, response = rec["request"], rec["response"]
    body = response["body"] if response["body"] != "" else None  # the simulator logs "no body" as None
    path = "/api/v1" + request["recorded_path"]
    assert moco.check_exchange(request["method"], path, request["body"], response["status"], body) == []


def test_moco_project_customer_oneof_is_unsatisfiable_when_strict() -> None:
    strict = OpenApiContract(SPEC_DIR / "moco-openapi.json", strict_one_of=True)
    errors = strict.response_errors("POST", "/api/v1/projects", 200, moco_project())
    assert len(errors) == 1
    assert errors[0].startswith("response $.customer: ")
    assert "more than one oneOf alternative" in errors[0]


def test_moco_wrong_types_are_named_by_json_path(moco: OpenApiContract) -> None:
    project = moco_project()
    project["name"] = 5
    project["tasks"][0]["name"] = None
    errors = moco.response_errors("GET", "/api/v1/projects/1", 200, project)
    assert errors == [
        "response $.name: 5 is not of type 'string'",
        "response $.tasks[0].name: None is not of type 'string' (not nullable)",
    ]


def test_moco_missing_required_and_list_items(moco: OpenApiContract) -> None:
    project = moco_project()
    del project["customer"]
    errors = moco.response_errors("GET", "/api/v1/projects", 200, [moco_project(), project])
    assert errors == ["response $[1]: 'customer' is a required property"]


def test_moco_nullable_allof_and_enum(moco: OpenApiContract) -> None:
    project = moco_project() | {"deal": None, "billing_variant": None, "project_group": None}
    assert moco.response_errors("GET", "/api/v1/projects/1", 200, project) == []
    project |= {"deal": {"id": "x"}, "billing_variant": "hourly"}
    errors = moco.response_errors("GET", "/api/v1/projects/1", 200, project)
    assert [error.split(":")[0] for error in errors] == ["response $.billing_variant", "response $.deal.id"]


def test_moco_date_formats_are_checked(moco: OpenApiContract) -> None:
    project = moco_project() | {"finish_date": "2020-02-30", "created_at": "2022-04-17 06:46:20"}
    errors = moco.response_errors("GET", "/api/v1/projects/1", 200, project)
    assert errors == [
        "response $.created_at: '2022-04-17 06:46:20' is not a 'date-time'",
        "response $.finish_date: '2020-02-30' is not a 'date'",
    ]


def test_moco_undeclared_status_or_missing_body_is_not_checked(moco: OpenApiContract) -> None:
    assert moco.response_errors("DELETE", "/api/v1/activities/1", 204, None) == []  # spec declares only 200
    assert moco.response_errors("DELETE", "/api/v1/projects/1", 200, None) == []  # real MOCO: 200, empty body
    assert moco.response_errors("GET", "/api/v1/projects/1", 404, {"anything": 1}) == []  # 404: no schema


def test_moco_error_body_schema(moco: OpenApiContract) -> None:
    assert moco.response_errors("POST", "/api/v1/projects", 401, {"message": "Unauthorized"}) == []
    assert moco.response_errors("POST", "/api/v1/projects", 401, {"error": "nope"}) == [
        "response $: 'message' is a required property"
    ]


def test_moco_request_body(moco: OpenApiContract) -> None:
    body = recording("TestProject.test_create_full.json#0")["request"]["body"]
    assert moco.request_errors("POST", "/api/v1/projects", body) == []
    assert moco.request_errors("POST", "/api/v1/projects", body | {"leader_id": "me"}) == [
        "request $.leader_id: 'me' is not of type 'integer'"
    ]
    assert moco.request_errors("POST", "/api/v1/projects", None) == ["request body is required but none was sent"]
    assert moco.request_errors("GET", "/api/v1/projects", None) == []


# --- awork --------------------------------------------------------------------------------------------------------


def test_awork_project_list(awork: OpenApiContract) -> None:
    assert awork.spec["components"]["schemas"]["Project"]["required"] == ["name"]
    assert awork.response_errors("GET", "/api/v1/projects", 200, [{"name": "Minimal"}]) == []
    assert awork.response_errors("GET", "/api/v1/projects", 200, [AWORK_PROJECT]) == []
    errors = awork.response_errors("GET", "/api/v1/projects", 200, [AWORK_PROJECT | {"name": 5}])
    assert errors == ["response $[0].name: 5 is not of type 'string'"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"externalId": "x"}, "response $[0]: Additional properties are not allowed ('externalId' was unexpected)"),
        ({"projectType": None}, "response $[0].projectType: None is not of type 'object' (not nullable)"),
        ({"startDate": "2024-01-01T00:00:00"}, "response $[0].startDate: '2024-01-01T00:00:00' is not a 'date-time'"),
        ({"id": "42"}, "response $[0].id: '42' is not a 'uuid'"),
    ],
)
def test_awork_project_quirks(awork: OpenApiContract, change: dict[str, Any], error: str) -> None:
    assert awork.response_errors("GET", "/api/v1/projects", 200, [AWORK_PROJECT | change]) == [error]


def test_awork_create_project_request(awork: OpenApiContract) -> None:
    assert awork.request_errors("POST", "/api/v1/projects", {"name": "Website relaunch"}) == []
    assert awork.request_errors("POST", "/api/v1/projects", {"isPrivate": True}) == [
        "request $: 'name' is a required property"
    ]
    assert awork.request_errors("POST", "/api/v1/projects", {"name": "x", "id": AWORK_PROJECT["id"]}) == [
        "request $: Additional properties are not allowed ('id' was unexpected)"
    ]


def test_awork_read_only_property_must_not_be_sent(awork: OpenApiContract) -> None:
    errors = awork.request_errors(
        "POST", "/api/v1/absences", {"userId": AWORK_PROJECT["id"], "isSingleDayAbsence": True}
    )
    assert errors == ["request $.isSingleDayAbsence: Tried to write read-only property with True"]


def test_awork_error_response(awork: OpenApiContract) -> None:
    error = {"code": "not-found", "description": "Project not found", "link": "https://developers.awork.com"}
    assert awork.response_errors("GET", "/api/v1/projects/1", 404, error) == []
    assert awork.response_errors("GET", "/api/v1/projects/1", 404, {"message": "Not found"}) == [
        "response $: 'code' is a required property",
        "response $: 'description' is a required property",
        "response $: 'link' is a required property",
        "response $: Additional properties are not allowed ('message' was unexpected)",
    ]


# --- generic OpenAPI behaviour, on a small spec ---------------------------------------------------------------------

TINY_SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "tiny", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": {"$ref": "#/c/LabelledThing"}}}
                        },
                    }
                }
            }
        },
        "/things/{id}": {
            "get": {
                "responses": {
                    "2XX": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/c/Thing"}}}},
                    "default": {
                        "description": "error",
                        "content": {"application/json": {"schema": {"$ref": "#/c/Error"}}},
                    },
                }
            },
            "put": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/c/Thing"}}}},
                "responses": {"204": {"description": "updated"}},
            },
        },
    },
    "c": {
        "Thing": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "name": {"type": "string", "example": 5},
                "owner": {"$ref": "#/c/Ref", "nullable": True},
                "kind": {"type": "string", "enum": [f"kind-{n}" for n in range(100)]},
            },
        },
        "Ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
        "LabelledThing": {
            "allOf": [
                {"$ref": "#/c/Thing"},
                {
                    "type": "object",
                    "properties": {
                        "labels": {"type": "object", "additionalProperties": {"$ref": "#/c/Ref"}},
                        "extra": {"type": "object", "additionalProperties": True},
                        "either": {"oneOf": [{"$ref": "#/c/Ref"}, {"$ref": "#/c/Error"}]},
                    },
                },
            ]
        },
        "Error": {"type": "object", "required": ["message"]},
    },
}


@pytest.fixture
def tiny(tmp_path: Path) -> OpenApiContract:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY_SPEC))
    return OpenApiContract(path, base_path="/v2")


def test_read_only_required_only_in_responses(tiny: OpenApiContract) -> None:
    assert tiny.request_errors("PUT", "/v2/things/1", {"name": "a"}) == []
    assert tiny.response_errors("GET", "/v2/things/1", 200, {"name": "a"}) == [
        "response $: 'id' is a required property"
    ]


def test_nullable_ref_and_status_fallbacks(tiny: OpenApiContract) -> None:
    assert tiny.response_errors("GET", "/v2/things/1", 201, {"id": 1, "name": "a", "owner": None}) == []
    assert tiny.response_errors("GET", "/v2/things/1", 200, {"id": 1, "name": "a", "owner": {}}) == [
        "response $.owner: 'id' is a required property"
    ]
    assert tiny.response_errors("GET", "/v2/things/1", 404, {}) == ["response $: 'message' is a required property"]


def test_check_exchange_prefixes_and_skips_reads(tiny: OpenApiContract) -> None:
    assert tiny.check_exchange("PUT", "/v2/things/1", {"name": 1}, 204, None) == [
        "PUT /v2/things/1 204: request $.name: 1 is not of type 'string'"
    ]
    assert tiny.check_exchange("GET", "/v2/things/1", {"name": 1}, 200, {"id": 1, "name": "a"}) == []


def test_long_messages_are_truncated(tiny: OpenApiContract) -> None:
    (error,) = tiny.response_errors("GET", "/v2/things/1", 200, {"id": 1, "name": "a", "kind": "other"})
    assert error.startswith("response $.kind: 'other' is not one of ['kind-0', ")
    assert len(error) == 300
    assert error.endswith("…")


# --- key sets -----------------------------------------------------------------------------------------------------


def test_key_errors_name_missing_required_and_undefined_keys(tiny: OpenApiContract) -> None:
    body = {"id": 1, "owner": {"id": 2, "nick": "x"}, "colour": "red"}
    assert tiny.response_errors("GET", "/v2/things/1", 200, body) == ["response $: 'name' is a required property"]
    assert tiny.response_key_errors("GET", "/v2/things/1", 200, body) == [
        "response $: required key 'name' missing",
        "response $.owner.nick: key not defined by the spec",
        "response $.colour: key not defined by the spec",
    ]


def test_key_errors_merge_all_of_and_follow_maps_and_the_closest_one_of(tiny: OpenApiContract) -> None:
    thing = {"id": 1, "name": "a", "extra": {"anything": [1]}, "either": {"message": "a Ref has no message"}}
    labelled = thing | {"labels": {"x": {"id": 1}, "y": {"id": 2, "z": 0}}}
    assert tiny.response_key_errors("GET", "/v2/things", 200, [thing, labelled]) == [
        "response $[1].labels.y.z: key not defined by the spec"
    ]


def test_key_errors_without_schema_body_or_operation(tiny: OpenApiContract) -> None:
    assert tiny.response_key_errors("PUT", "/v2/things/1", 204, None) == []
    assert tiny.response_key_errors("GET", "/v2/things/1", 200, None) == []
    assert tiny.response_key_errors("GET", "/v2/nope", 200, {}) == ["no operation in the spec for GET /v2/nope"]


def test_key_errors_see_undefined_keys_where_the_spec_allows_any(moco: OpenApiContract) -> None:
    profile = {"id": 1, "first_name": "Michael", "firstname": "Michael"}
    assert moco.response_errors("GET", "/api/v1/profile", 200, profile) == []
    assert moco.response_key_errors("GET", "/api/v1/profile", 200, profile) == [
        "response $.firstname: key not defined by the spec"
    ]


def test_key_errors_of_a_real_moco_body_follow_all_of_and_one_of(moco: OpenApiContract) -> None:
    project = moco_project()
    assert moco.response_key_errors("GET", "/api/v1/projects/1", 200, project) == []
    project |= {"deal": {"id": 1, "name": "Relaunch", "stage": "won"}}
    project["customer"] |= {"vip": True}
    assert moco.response_key_errors("GET", "/api/v1/projects/1", 200, project) == [
        "response $.customer.vip: key not defined by the spec",
        "response $.deal.stage: key not defined by the spec",
    ]


# --- assert_exchanges ---------------------------------------------------------------------------------------------


def test_assert_exchanges_passes_on_valid_traffic(moco: OpenApiContract) -> None:
    moco.assert_exchanges(
        [
            logged("GET", "/api/v1/projects/1", 200, moco_project()),
            logged("DELETE", "/api/v1/activities/1", 204, None),
            logged("POST", "/api/v1/projects", 500, {"oops": True}, body={"name": "x"}),
            logged("GET", "/api/v1/projects", 429, {"message": "Too many requests"}),
        ]
    )


def test_assert_exchanges_lists_deduplicated_errors(moco: OpenApiContract) -> None:
    bad = moco_project() | {"name": 5}
    exchanges = [logged("GET", "/api/v1/projects/1", 200, bad)] * 2 + [
        logged("POST", "/api/v1/projects", 200, moco_project(), body={"name": 7}),
        logged("GET", "/api/v1/nope", 404, {"message": "Not found"}),
    ]
    with pytest.raises(ContractViolation) as raised:
        moco.assert_exchanges(exchanges)
    assert str(raised.value).splitlines() == [
        "3 contract violation(s):",
        "GET /api/v1/projects/1 200: response $.name: 5 is not of type 'string'",
        "POST /api/v1/projects 200: request $.name: 7 is not of type 'string'",
        "GET /api/v1/nope 404: no operation in the spec for GET /api/v1/nope",
    ]


def test_assert_exchanges_caps_the_listing(moco: OpenApiContract) -> None:
    exchanges = [logged("GET", f"/api/v1/projects/{n}", 200, {"id": n}) for n in range(40)]
    with pytest.raises(ContractViolation) as raised:
        moco.assert_exchanges(exchanges)
    lines = str(raised.value).splitlines()
    assert lines[0] == "240 contract violation(s):"
    assert len(lines) == 32
    assert lines[-1] == "... and 210 more"
