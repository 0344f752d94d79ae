"""Prefect retries of write tasks never repeat a write blindly: what an earlier attempt did is looked up first."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest

from flows.push_awork_times import push_awork_times
from tests.test_push_awork_times import (
    TODAY,
    UNASSIGNED,
    add_entry,
    at,
    office,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def from_the(nth: int):
    """A fault condition true from the nth matching request on."""
    seen = count(1)
    return lambda request: next(seen) >= nth


def test_a_failed_second_bulk_retried_by_prefect_doubles_nothing(sims, office, settings):  # noqa: F811
    entries = [
        add_entry(sims, office, start=at(TODAY - timedelta(days=2), 6) + timedelta(minutes=5 * i), duration=240)
        for i in range(150)
    ]  # one user, one week: two bulk requests of 100 and 50
    sims.moco.faults.fail_next(
        settings.http_max_attempts, 503, method="POST", route="/activities/bulk", when=from_the(2)
    )  # the second bulk fails until the HTTP retries give up: the task fails and Prefect retries it

    summary = push_awork_times()

    activities = sims.moco.activities()
    assert summary.status == "completed"
    assert len(activities) == 150
    assert sorted(a["remote_id"] for a in activities) == sorted(f"awork:{e['id']}" for e in entries)
    bulks = [e for e in sims.moco.log.entries if e.route == "/activities/bulk" and e.status == 200]
    assert len(bulks) == 2  # the first bulk was not sent again


def test_a_retry_after_the_unassigned_task_was_created_creates_it_once(sims, office, settings):  # noqa: F811
    add_entry(sims, office, type_of_work_id=office["beratung"]["id"])  # matches no MOCO task: unassigned
    project_id = office["moco_project"]["id"]
    sims.moco.faults.fail_next(1, 502, method="POST", route="/projects/{project_id}/tasks", after_processing=True)
    sims.moco.faults.fail_next(
        settings.http_max_attempts, 503, method="GET", route="/projects/{project_id}/tasks"
    )  # the lookup after the lost answer fails too: the task fails after creating, and Prefect retries it

    summary = push_awork_times()

    tasks = [t for t in sims.moco.get_project(project_id)["tasks"] if t["name"] == UNASSIGNED]
    assert summary.status == "completed"
    assert len(tasks) == 1
    [activity] = sims.moco.activities()
    assert activity["task"]["id"] == tasks[0]["id"]
