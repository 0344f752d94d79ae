"""The webhook rules without I/O: MOCO's signature (the documented test vector), awork's header, the replay
window, the events deliveries become, and which webhooks `register` creates, updates or deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors.awork import AworkWebhook, AworkWebhookForm
from connectors.moco import MocoWebHook
from tasks.time_rules import REPORTED_DELETED
from tasks.webhook_rules import (
    AWORK_EVENTS,
    MalformedDelivery,
    awork_event,
    awork_token_valid,
    moco_event,
    moco_signature,
    moco_signature_valid,
    plan_awork_webhook,
    plan_moco_web_hooks,
    reported_deletion,
    timestamp_fresh,
)

VECTOR_KEY = SecretStr("1d608b9d72219b90ff2393a1d3ee0ac0")
VECTOR_BODY = b'{"id":111,"description":"a description"}'
VECTOR_SIGNATURE = "bf027a86207ef1ca1cb76f5a536b41a14287ab1a0fd5b33bfe86924bc2f48fd1"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def test_the_moco_signature_is_the_documented_test_vector():
    assert moco_signature(VECTOR_BODY, VECTOR_KEY) == VECTOR_SIGNATURE
    assert moco_signature_valid(VECTOR_BODY, VECTOR_SIGNATURE.upper(), VECTOR_KEY)


@pytest.mark.parametrize(
    ("body", "signature", "key"),
    [
        (VECTOR_BODY + b" ", VECTOR_SIGNATURE, VECTOR_KEY),  # the body changed
        (VECTOR_BODY, VECTOR_SIGNATURE[:-1] + "0", VECTOR_KEY),  # forged
        (VECTOR_BODY, None, VECTOR_KEY),
        (VECTOR_BODY, "", VECTOR_KEY),
        (VECTOR_BODY, VECTOR_SIGNATURE, SecretStr("another key")),
        (VECTOR_BODY, moco_signature(VECTOR_BODY, SecretStr("")), SecretStr("")),  # no secret configured: never
    ],
)
def test_a_moco_signature_that_does_not_fit_is_refused(body, signature, key):
    assert not moco_signature_valid(body, signature, key)


@pytest.mark.parametrize(
    ("given", "token", "valid"),
    [
        ("s3cret", SecretStr("s3cret"), True),
        ("s3cret ", SecretStr("s3cret"), False),
        ("other", SecretStr("s3cret"), False),
        (None, SecretStr("s3cret"), False),
        ("", SecretStr(""), False),  # no token configured: never
        ("anything", None, False),
    ],
)
def test_the_awork_header_must_be_our_token(given, token, valid):
    assert awork_token_valid(given, token) is valid


@pytest.mark.parametrize(
    ("sent", "fresh"),
    [
        (NOW, True),
        (NOW - timedelta(seconds=599), True),
        (NOW + timedelta(seconds=30), True),  # clocks differ a little
        (NOW - timedelta(seconds=601), False),  # a replay
        (NOW + timedelta(hours=1), False),
    ],
)
def test_the_moco_timestamp_must_lie_in_the_window(sent, fresh):
    assert timestamp_fresh(str(int(sent.timestamp() * 1000)), NOW, 600) is fresh


@pytest.mark.parametrize("timestamp", [None, "", "yesterday", "-5"])
def test_a_missing_or_garbled_moco_timestamp_is_not_fresh(timestamp):
    assert not timestamp_fresh(timestamp, NOW, 600)


def test_an_awork_time_entry_delivery_becomes_an_event_with_its_ids_and_day():
    delivery = {
        "eventType": "timetracking_updated",
        "entityId": "e-1",
        "entityType": "timetracking",
        "entity": {"id": "e-1", "projectId": "p-1", "userId": "u-1", "startDateLocal": "2026-05-04T00:00:00"},
    }
    event = awork_event(delivery)
    assert event.event == "timebridge.awork.timetracking.updated"
    assert event.resource == {"prefect.resource.id": "timebridge.awork.timetracking.e-1"}
    assert event.related == [
        {"prefect.resource.id": "timebridge.awork.project.p-1", "prefect.resource.role": "project"},
        {"prefect.resource.id": "timebridge.awork.user.u-1", "prefect.resource.role": "user"},
    ]
    assert event.payload == {"event_type": "timetracking_updated", "entity_id": "e-1", "day": "2026-05-04"}


def test_an_awork_project_event_keeps_the_rest_of_its_event_type_as_the_action():
    event = awork_event({"eventType": "project_status_changed", "entityId": "p-1", "entity": {"id": "p-1"}})
    assert (event.event, event.related) == ("timebridge.awork.project.status_changed", [])


@pytest.mark.parametrize(
    "delivery",
    [
        [],
        "text",
        {"entityId": "e-1"},
        {"eventType": "timetracking_added"},
        {"eventType": "nounderscore", "entityId": 1},
    ],
)
def test_an_awork_delivery_without_event_type_or_entity_is_malformed(delivery):
    with pytest.raises(MalformedDelivery):
        awork_event(delivery)


def test_a_moco_activity_delivery_relates_its_project_and_user():
    record = {"id": 7, "date": "2026-05-04", "project": {"id": 3}, "user": {"id": 9}}
    event = moco_event("Activity", "update", record, {"x-moco-origin": "api"})
    assert event.event == "timebridge.moco.activity.update"
    assert event.resource == {"prefect.resource.id": "timebridge.moco.activity.7"}
    assert [related["prefect.resource.id"] for related in event.related] == [
        "timebridge.moco.project.3",
        "timebridge.moco.user.9",
    ]
    assert event.payload == {"target": "Activity", "event": "update", "id": 7, "day": "2026-05-04", "origin": "api"}


def test_a_moco_delete_carries_only_the_id():
    event = moco_event("Project", "delete", {"id": 900000001}, {})
    assert event.event == "timebridge.moco.project.delete"
    assert event.resource == {"prefect.resource.id": "timebridge.moco.project.900000001"}
    assert event.related == []


def test_a_namespaced_moco_target_becomes_one_name_segment():
    event = moco_event("User::AbsenceRequest", "create", {"id": 1}, {})
    assert event.event == "timebridge.moco.user_absencerequest.create"


@pytest.mark.parametrize(
    ("target", "action", "record"),
    [(None, "create", {"id": 1}), ("Project", "archive", {"id": 1}), ("Project", "create", {}), ("Task", "create", [])],
)
def test_a_moco_delivery_without_target_event_or_id_is_malformed(target, action, record):
    with pytest.raises(MalformedDelivery):
        moco_event(target, action, record, {})


# --- registration plans -------------------------------------------------------------------------------------------
FORM = AworkWebhookForm(
    name="timebridge",
    uri="https://hooks.example.com/timebridge/awork",
    events=list(AWORK_EVENTS),
    header_name="X-Timebridge-Token",
    header_value=SecretStr("token"),
)


def awork_hook(hook_id: str, **changes) -> AworkWebhook:
    fields = {"id": hook_id, **FORM.body(), **changes}
    return AworkWebhook.model_validate(fields)


def test_awork_without_our_webhook_gets_one():
    foreign = awork_hook("x", name="Slack", uri="https://hooks.slack.com/x")
    assert plan_awork_webhook([foreign], FORM).model_dump() == {"create": True, "update": None, "delete": []}


def test_our_awork_webhook_as_it_should_be_is_left_alone():
    assert plan_awork_webhook([awork_hook("a")], FORM).model_dump() == {"create": False, "update": None, "delete": []}


@pytest.mark.parametrize(
    "changes",
    [
        {"uri": "https://old-host.example.com/timebridge/awork"},
        {"isActive": False},  # paused by awork after failures
        {"authentication": "X-Timebridge-Token=old"},
        {"events": "timetracking_added"},
        {"name": "renamed by someone"},
    ],
)
def test_our_awork_webhook_that_differs_is_updated(changes):
    assert plan_awork_webhook([awork_hook("a", **changes)], FORM).update == "a"


def test_a_second_awork_webhook_of_ours_is_deleted_and_the_fitting_one_kept():
    moved = awork_hook("old", uri="https://old.example.com/timebridge/awork")
    plan = plan_awork_webhook([moved, awork_hook("a")], FORM)
    assert plan.model_dump() == {"create": False, "update": None, "delete": ["old"]}


URL = "https://hooks.example.com/timebridge/moco"


def moco_hooks(url: str = URL, **changes) -> list[MocoWebHook]:
    targets = [(t, e) for t in ("Project", "Task", "Contract", "Schedule") for e in ("create", "update", "delete")]
    return [
        MocoWebHook(id=n, target=target, event=event, hook=url, **changes) for n, (target, event) in enumerate(targets)
    ]


def test_moco_gets_a_web_hook_per_target_and_event():
    plan = plan_moco_web_hooks([MocoWebHook(id=99, target="Activity", event="create", hook="https://x/other")], URL)
    assert len(plan.create) == 12 and ("Schedule", "delete") in plan.create
    assert (plan.update, plan.enable, plan.delete) == ([], [], [])  # the foreign one stays


def test_our_moco_web_hooks_as_they_should_be_are_left_alone():
    assert plan_moco_web_hooks(moco_hooks(), URL).model_dump() == {
        "create": [],
        "update": [],
        "enable": [],
        "delete": [],
    }


def test_our_moco_web_hooks_on_an_old_url_are_moved_and_disabled_ones_enabled():
    plan = plan_moco_web_hooks(moco_hooks("https://old.example.com/timebridge/moco", disabled=True), URL)
    assert (len(plan.update), len(plan.enable), plan.create, plan.delete) == (12, 12, [], [])


def test_our_moco_web_hooks_for_other_targets_and_duplicates_are_deleted():
    extra = [
        MocoWebHook(id=100, target="Activity", event="create", hook=URL),
        MocoWebHook(id=101, target="Project", event="create", hook=URL),
    ]
    plan = plan_moco_web_hooks(moco_hooks() + extra, URL)
    assert sorted(plan.delete) == [100, 101] and plan.create == []


def test_only_a_deleted_time_entry_is_kept_as_a_reported_deletion():
    deleted = {"eventType": "timetracking_deleted", "entityId": "e-1", "entity": {"startDateLocal": "2025-01-31"}}
    kept = reported_deletion(awork_event(deleted))
    assert kept is not None
    assert (kept.kind, kept.source_id, kept.source_day) == (REPORTED_DELETED, "e-1", datetime(2025, 1, 31).date())
    without_day = reported_deletion(awork_event({"eventType": "timetracking_deleted", "entityId": "e-2"}))
    assert without_day is not None and without_day.source_day is None
    for event_type in ("timetracking_updated", "timetracking_added", "absence_deleted", "project_deleted"):
        assert reported_deletion(awork_event({"eventType": event_type, "entityId": "e-1"})) is None
    assert reported_deletion(moco_event("Activity", "delete", {"id": 7}, {})) is None
