"""Webhooks end to end: the receiver on a real socket turns authenticated deliveries into Prefect events (captured
by Prefect's in-memory events client) and refuses the rest; `timebridge webhooks register | status | unregister`
against the simulators; the simulators deliver their changes to a running receiver, and retry while it is down."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from models.settings import Settings
from sandbox.core import ServedSimulator
from tasks.webhook_rules import moco_signature
from webhooks.receiver import create_app

MOCO_SECRET = "1d608b9d72219b90ff2393a1d3ee0ac0"
AWORK_TOKEN = "awork-hook-token"


class Events:
    """Prefect's `AssertingEventsClient` behind `emit_event`, in whatever thread emits."""

    def __init__(self, worker) -> None:
        self._worker = worker

    def emitted(self) -> list:
        """Everything emitted so far (waits for the events worker to finish; call once, at the end)."""
        self._worker.drain()
        return list(self._worker._client.events)


@pytest.fixture
def events(monkeypatch) -> Iterator[Events]:
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # no temporary server for the worker
        worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    yield Events(worker)


@pytest.fixture
def receiver(events) -> Iterator[ServedSimulator]:
    """The receiver on a loopback port, with a 1 MB limit, our awork token and MOCO's signing key."""
    settings = Settings(_env_file=None, moco_webhook_secret=MOCO_SECRET)
    with ServedSimulator(create_app(settings, SecretStr(AWORK_TOKEN))) as served:
        yield served


def now_ms() -> str:
    return str(int(datetime.now(UTC).timestamp() * 1000))


def post_awork(url: str, delivery: object | bytes, token: str | None = AWORK_TOKEN) -> httpx.Response:
    body = delivery if isinstance(delivery, bytes) else json.dumps(delivery).encode()
    headers = {"Content-Type": "application/json"} | ({"X-Timebridge-Token": token} if token is not None else {})
    return httpx.post(f"{url}/timebridge/awork", content=body, headers=headers, timeout=10)


def post_moco(
    url: str,
    record: object | bytes,
    *,
    target: str = "Project",
    event: str = "update",
    timestamp: str | None = None,
    sign: Callable[[bytes], str] = lambda body: moco_signature(body, SecretStr(MOCO_SECRET)),
) -> httpx.Response:
    body = record if isinstance(record, bytes) else json.dumps(record).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Moco-Target": target,
        "X-Moco-Event": event,
        "X-Moco-Timestamp": timestamp or now_ms(),
        "X-Moco-Signature": sign(body),
        "X-Moco-User-Id": "933000001",
    }
    return httpx.post(f"{url}/timebridge/moco", content=body, headers=headers, timeout=10)


TIME_ENTRY = {
    "eventType": "timetracking_updated",
    "entityType": "timetracking",
    "entityId": "0f6e0c0a-1111-4c4c-9c9c-000000000001",
    "entity": {"id": "0f6e0c0a-1111-4c4c-9c9c-000000000001", "projectId": "p-1", "startDateLocal": "2026-05-04"},
}


def test_a_valid_awork_delivery_emits_its_event(receiver, events):
    response = post_awork(receiver.url, TIME_ENTRY)

    assert response.status_code == 202
    [event] = events.emitted()
    assert event.event == "timebridge.awork.timetracking.updated"
    assert event.resource.id == "timebridge.awork.timetracking.0f6e0c0a-1111-4c4c-9c9c-000000000001"
    assert [(r.id, r.role) for r in event.related] == [("timebridge.awork.project.p-1", "project")]
    assert event.payload["day"] == "2026-05-04"


def test_a_valid_moco_delivery_emits_its_event(receiver, events):
    response = post_moco(receiver.url, {"id": 900000001, "name": "Website"}, target="Project", event="update")

    assert response.status_code == 202
    [event] = events.emitted()
    assert (event.event, event.resource.id) == ("timebridge.moco.project.update", "timebridge.moco.project.900000001")


FIVE_MB = b'{"id": 1, "padding": "' + b"x" * (5 * 1024 * 1024) + b'"}'
HOUR_AGO = str(int(datetime.now(UTC).timestamp() * 1000) - 3_600_000)


@pytest.mark.parametrize(
    ("send", "status"),
    [
        pytest.param(lambda url: post_awork(url, TIME_ENTRY, token="guessed"), 401, id="awork wrong header"),
        pytest.param(lambda url: post_awork(url, TIME_ENTRY, token=None), 401, id="awork no header"),
        pytest.param(lambda url: post_awork(url, b'{"eventType": '), 400, id="awork malformed JSON"),
        pytest.param(lambda url: post_awork(url, {"hello": "world"}), 400, id="awork JSON without event"),
        pytest.param(lambda url: post_awork(url, FIVE_MB), 413, id="awork 5 MB"),
        pytest.param(lambda url: post_moco(url, {"id": 1}, sign=lambda body: "0" * 64), 401, id="moco forged"),
        pytest.param(
            lambda url: post_moco(url, {"id": 1}, sign=lambda body: moco_signature(body, SecretStr("guess"))),
            401,
            id="moco signed with another key",
        ),
        pytest.param(lambda url: post_moco(url, {"id": 1}, timestamp=HOUR_AGO), 401, id="moco replayed an hour on"),
        pytest.param(lambda url: post_moco(url, b"{not json"), 400, id="moco malformed JSON"),
        pytest.param(lambda url: post_moco(url, {"id": 1}, event="archive"), 400, id="moco unknown event"),
        pytest.param(lambda url: post_moco(url, FIVE_MB), 413, id="moco 5 MB"),
    ],
)
def test_a_refused_delivery_emits_nothing_logs_why_and_the_receiver_stays_up(receiver, events, send, status, caplog):
    with caplog.at_level(logging.WARNING, logger="timebridge.webhooks"):
        response = send(receiver.url)

    assert response.status_code == status
    assert f"delivery from 127.0.0.1: {status}" in caplog.text
    assert httpx.get(f"{receiver.url}/health", timeout=5).text == "ok"
    assert post_awork(receiver.url, TIME_ENTRY).status_code == 202  # and still accepts what is valid
    assert [event.event for event in events.emitted()] == ["timebridge.awork.timetracking.updated"]
