"""Webhooks end to end: the receiver on a real socket turns authenticated deliveries into Prefect events (captured
by Prefect's in-memory events client) and refuses the rest; `timebridge webhooks register | status | unregister`
against the simulators; the simulators deliver their changes to a running receiver, and retry while it is down."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from models.settings import Settings
from sandbox.core import ServedSimulator, _free_port
from tasks.webhook_rules import moco_signature
from webhooks.receiver import create_app

MOCO_SECRET = "1d608b9d72219b90ff2393a1d3ee0ac0"
AWORK_TOKEN = "awork-hook-token"


class Events:
    """Stands in for Prefect's events worker behind `prefect.events.emit_event`, which still builds and checks each
    event (names, resources, size) and hands it over here instead of to a server; thread-safe (list appends)."""

    def __init__(self) -> None:
        from prefect.events.clients import AssertingEventsClient

        self.client_type = AssertingEventsClient  # a client emit_event sends to
        self.events: list = []

    def send(self, event) -> None:
        self.events.append(event)

    def emitted(self) -> list:
        return list(self.events)


@pytest.fixture
def events(monkeypatch) -> Events:
    from prefect.events.worker import EventsWorker

    captured = Events()
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: captured)
    return captured


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


# --- registration ---------------------------------------------------------------------------------------------------
PUBLIC_URL = "https://hooks.example.com/tb"


@pytest.fixture
def hook_settings(settings, monkeypatch, sims):
    """Settings pointing at the simulators, with a secret key (to store the awork token) and MOCO's signing key."""
    from models.settings import get_settings

    monkeypatch.setenv("TIMEBRIDGE_SECRET_KEY", "test-secret-key-for-webhooks")
    monkeypatch.setenv("TIMEBRIDGE_MOCO_WEBHOOK_SECRET", sims.moco.webhook_secret)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def cli(monkeypatch):
    """`timebridge …` in this process, printing wide (tables do not wrap)."""
    from typer.testing import CliRunner

    from cli import app
    from cli.console import console

    monkeypatch.setattr(console, "width", 250)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    return run


def foreign_webhooks(hook_settings) -> None:
    """A Slack webhook in awork and an accounting web hook in MOCO that are not ours."""
    from connectors.awork import AworkClient, AworkWebhookForm
    from connectors.moco import MocoClient

    slack = AworkWebhookForm(
        name="Slack", uri="https://hooks.slack.com/x", events=["task_added"], header_name="X", header_value="y"
    )
    with AworkClient.from_settings(hook_settings) as awork, MocoClient.from_settings(hook_settings) as moco:
        awork.create_webhook(slack)
        moco.create_web_hook("Activity", "create", "https://accounting.example.com/moco")


def test_register_twice_keeps_one_set_of_webhooks_and_status_shows_them(sims, hook_settings, cli):
    foreign_webhooks(hook_settings)

    first = cli("webhooks", "register", "--public-url", PUBLIC_URL)
    mark = sims.marks()
    second = cli("webhooks", "register", "--public-url", PUBLIC_URL)

    assert "created" in first and "│ created │     1 │" in first and "│ created │    12 │" in first
    assert sims.writes(*mark) == []  # the second call changed nothing
    assert "unchanged" in second
    status = cli("webhooks", "status")
    assert f"{PUBLIC_URL}/timebridge/awork" in status and "timetracking_added, timetracking_updated" in status
    assert status.count(f"{PUBLIC_URL}/timebridge/moco") == 12
    assert "Schedule delete" in status and "Project update" in status
    assert "slack" not in status and "accounting" not in status


def test_register_with_a_new_public_url_moves_our_webhooks(sims, hook_settings, cli):
    cli("webhooks", "register", "--public-url", PUBLIC_URL)

    moved = cli("webhooks", "register", "--public-url", "https://new-host.example.com")

    assert "│ updated │     1 │" in moved and "│ updated │    12 │" in moved
    status = cli("webhooks", "status")
    assert PUBLIC_URL not in status and status.count("https://new-host.example.com/timebridge/") == 13


def test_unregister_removes_ours_and_leaves_foreign_webhooks(sims, hook_settings, cli):
    from connectors.awork import AworkClient
    from connectors.moco import MocoClient

    foreign_webhooks(hook_settings)
    cli("webhooks", "register", "--public-url", PUBLIC_URL)

    removed = cli("webhooks", "unregister")

    assert "│ awork │     1 │" in removed and "│ moco  │    12 │" in removed
    with AworkClient.from_settings(hook_settings) as awork, MocoClient.from_settings(hook_settings) as moco:
        assert [hook.name for hook in awork.webhooks()] == ["Slack"]
        assert [hook.hook for hook in moco.web_hooks()] == ["https://accounting.example.com/moco"]
    assert "No webhooks of timebridge" in cli("webhooks", "status")


# --- deliveries from the simulators ---------------------------------------------------------------------------------
def serve_receiver(hook_settings, port: int = 0) -> ServedSimulator:
    """The receiver as `timebridge webhooks serve` builds it: the stored awork token, MOCO's key from the settings."""
    from tasks.webhooks import awork_webhook_token

    return ServedSimulator(create_app(hook_settings, awork_webhook_token(hook_settings)), port=port)


def new_time_entry(sims, hook_settings):
    """A time entry created through the awork API, as a user's app would."""
    from connectors.awork import AworkClient, AworkTimeEntryForm

    user = sims.awork.add_user("Anna", "Schmidt", "anna@pixelwerk.example")
    project = sims.awork.add_project("Website")
    form = AworkTimeEntryForm(
        user_id=user["id"],
        project_id=project["id"],
        type_of_work_id=sims.awork.types_of_work()[0]["id"],
        start=datetime(2026, 5, 4, 9, 0, tzinfo=UTC),
        duration=5400,
        timezone="Europe/Berlin",
    )
    with AworkClient.from_settings(hook_settings) as awork:
        return awork.create_time_entry(form), project


def test_a_change_in_awork_reaches_the_running_receiver_as_a_verified_delivery(sims, hook_settings, cli, events):
    port = _free_port("127.0.0.1")
    cli("webhooks", "register", "--public-url", f"http://127.0.0.1:{port}")  # generates and stores the token
    with serve_receiver(hook_settings, port=port):
        entry, project = new_time_entry(sims, hook_settings)
        assert sims.awork.deliveries.wait(10)

    assert [(json.loads(a.body)["eventType"], a.status) for a in sims.awork.deliveries.attempts] == [
        ("project_added", 202),
        ("timetracking_added", 202),
    ]
    event = events.emitted()[-1]
    assert event.event == "timebridge.awork.timetracking.added"
    assert event.resource.id == f"timebridge.awork.timetracking.{entry.id}"
    assert [r.id for r in event.related][0] == f"timebridge.awork.project.{project['id']}"
    assert event.payload["day"] == "2026-05-04"


def test_a_change_in_moco_reaches_the_running_receiver_signed(sims, hook_settings, cli, events):
    from connectors.moco import MocoClient

    project = sims.moco.add_project("Website", customer_id=sims.moco.add_company("Kunde")["id"])
    with serve_receiver(hook_settings) as receiver:
        cli("webhooks", "register", "--public-url", receiver.url)
        with MocoClient.from_settings(hook_settings) as moco:
            task = moco.create_task(project["id"], "Design")
        assert sims.moco.deliveries.wait(10)

    [attempt] = sims.moco.deliveries.attempts
    assert attempt.status == 202 and attempt.headers["X-Moco-Origin"] == "api"
    [event] = events.emitted()
    assert (event.event, event.resource.id) == ("timebridge.moco.task.create", f"timebridge.moco.task.{task.id}")


def test_while_the_receiver_is_down_the_simulator_retries_until_it_is_back(sims, hook_settings, cli, events):
    port = _free_port("127.0.0.1")
    cli("webhooks", "register", "--public-url", f"http://127.0.0.1:{port}")
    sims.awork.deliveries.backoff = 0.1  # then 0.2, 0.4, ...

    def entry_attempts():
        return [a for a in sims.awork.deliveries.attempts if json.loads(a.body)["eventType"] == "timetracking_added"]

    new_time_entry(sims, hook_settings)
    deadline = time.monotonic() + 10
    while len(entry_attempts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [a.reason for a in entry_attempts()[:2]] == ["ConnectError", "ConnectError"]
    assert "ConnectError" in cli("webhooks", "status")  # awork's lastFailureReason

    with serve_receiver(hook_settings, port=port):
        assert sims.awork.deliveries.wait(15)

    last = entry_attempts()[-1]
    assert last.status == 202 and last.attempt > 2
    assert sorted(e.event for e in events.emitted()) == [
        "timebridge.awork.project.added",
        "timebridge.awork.timetracking.added",
    ]
