"""Near real time, end to end: changes in the simulators reach the other side through their webhooks, the receiver,
Prefect events and the deployments' triggers (tests/webhook_stack.py), with the server's scheduler off, so no
scheduled run helps. One stack for the whole module (about 3 minutes). Prefect's server runs on PostgreSQL
(TIMEBRIDGE_TEST_POSTGRES_URL); without it the module is skipped: on SQLite the server sometimes locks its database
under events and triggers, and a trigger's action then waits past the 60 s the tests allow (as production needs
PostgreSQL for Prefect's database beside more than one worker, README "Deployment")."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.prefect_server import TERMINAL
from tests.webhook_stack import Stack, entry_form, flag_for_sync, reacting_stack, seed_office, wait_for

PUSH, IMPORT = "push-awork-times", "import-moco-projects"
pytestmark = pytest.mark.skipif(
    not os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL"),
    reason="the webhook reaction end to end needs PostgreSQL for Prefect's database: set TIMEBRIDGE_TEST_POSTGRES_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/db)",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with reacting_stack(tmp_path_factory.mktemp("reaction"), f"prefect_reaction_{os.getpid()}", seed_office) as found:
        yield found


@pytest.fixture(scope="module")
def linked(stack: Stack) -> tuple[dict, float | None]:
    return flag_for_sync(stack)


def started_by_events(runs: list[dict]) -> bool:
    """Whether every run was created by the deployment's trigger, none by a schedule (the scheduler is off, and
    the schedules' runs would carry `safety_net`)."""
    return bool(runs) and all(not (r["auto_scheduled"] or r["parameters"]["safety_net"]) for r in runs)


def settled(stack: Stack, deployment: str) -> bool:
    return all(r["state"]["type"] in TERMINAL for r in stack.runs(deployment))


def test_a_moco_project_flagged_for_sync_appears_in_awork_within_60_s(stack, linked):
    project, delay = linked

    assert delay is not None and delay < 60, stack.logs()
    assert project["name"] == "Website"
    assert started_by_events(stack.runs(IMPORT))


def test_an_awork_entry_created_edited_and_deleted_reaches_moco_each_time_within_60_s(stack, linked):
    project, _ = linked
    start = datetime.now(UTC) - timedelta(days=100)  # older than the push's re-scan: its deletion comes by webhook
    entry = stack.awork.add_time_entry(**entry_form(stack, project, start, 3600))

    def seconds() -> list[int]:
        return [a["seconds"] for a in stack.moco.activities(remote_id=f"awork:{entry['id']}")]

    created = wait_for(lambda: seconds() == [3600], 60)
    assert created is not None, stack.logs()
    stack.awork.update_time_entry(entry["id"], duration=5400)
    edited = wait_for(lambda: seconds() == [5400], 60)
    assert edited is not None, stack.logs()
    stack.awork.delete_time_entry(entry["id"])
    deleted = wait_for(lambda: seconds() == [], 60)
    assert deleted is not None, stack.logs()
    assert started_by_events(stack.runs(PUSH))


def test_a_burst_of_500_entry_changes_runs_a_handful_of_pushes_and_moco_ends_exactly_right(stack, linked):
    project, _ = linked
    assert wait_for(lambda: settled(stack, PUSH), 60) is not None
    before = {r["id"] for r in stack.runs(PUSH)}
    today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    entries: list[dict] = []
    seconds: dict[str, int] = {}
    began = time.monotonic()
    for change in range(500):  # 300 new entries, 150 of them edited, 50 others deleted, over 40 seconds
        time.sleep(max(0.0, began + change * 0.08 - time.monotonic()))
        if change < 300:
            start = today - timedelta(days=change % 20, minutes=change)
            entries.append(stack.awork.add_time_entry(**entry_form(stack, project, start, 600 + change)))
            seconds[entries[-1]["id"]] = 600 + change
        elif change < 450:
            edited = entries[change - 300]["id"]
            stack.awork.update_time_entry(edited, duration=7200)
            seconds[edited] = 7200
        else:
            gone = entries[change - 300]["id"]
            stack.awork.delete_time_entry(gone)
            del seconds[gone]
    assert time.monotonic() - began < 60

    def moco_right() -> bool:
        activities = stack.moco.activities()
        return len(activities) == len(seconds) and {a["remote_id"]: a["seconds"] for a in activities} == {
            f"awork:{entry_id}": value for entry_id, value in seconds.items()
        }

    assert wait_for(moco_right, 90, poll=1) is not None, stack.logs()
    runs = [r for r in stack.runs(PUSH) if r["id"] not in before]  # the last ones may still be queued: no-ops
    assert 2 <= len(runs) <= 8, [r["state"]["name"] for r in runs]  # one per trigger window, not 500
    assert started_by_events(runs)
    assert not {r["state"]["type"] for r in runs} & {"FAILED", "CRASHED", "CANCELLED"}
