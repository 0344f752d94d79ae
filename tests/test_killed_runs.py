"""A run killed with SIGKILL in the middle of its writes (what a worker's crash does to the flow-run process):
its writer lease expires, and the next run loses nothing and doubles nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from models.settings import get_settings
from tasks.shared import upwork_store
from tests.prefect_server import PrefectServer, timebridge_env
from tests.test_one_writer import nine_days_of_entries, shared_store  # noqa: F401 - the fixture
from tests.test_push_awork_times import (
    TODAY,
    office,  # noqa: F401 - the fixture
)
from tests.test_upwork_backfill import (
    awork_entries,
    expected_entries,
    world,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.usefixtures("prefect_harness")
TIMEBRIDGE = Path(sys.executable).parent / "timebridge"
LEASE = {"TIMEBRIDGE_LEASE_TTL_SECONDS": "3", "TIMEBRIDGE_LEASE_WAIT_SECONDS": "60"}


def run_killed_midway(command: list[str], env: dict[str, str], written) -> None:
    """Start `timebridge <command>` and SIGKILL it once `written()` is true (some of its writes have landed)."""
    process = subprocess.Popen([str(TIMEBRIDGE), *command], env=env, start_new_session=True)
    deadline = time.monotonic() + 180
    while not written():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no write landed within 3 minutes"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def run_to_the_end(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([str(TIMEBRIDGE), *command], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_push_killed_midway_then_run_again_loses_and_doubles_nothing(
    shared_store,  # noqa: F811 - the fixture
    sims,
    office,  # noqa: F811 - the fixture
    prefect_server: PrefectServer,
):
    entries = nine_days_of_entries(sims, office)
    env = {**prefect_server.env, **timebridge_env(), **LEASE}
    resync = ["run", "push-awork-times", "--start", str(TODAY - timedelta(days=9)), "--end", str(TODAY)]
    sims.moco.faults.latency = 0.3

    run_killed_midway(resync, env, lambda: 0 < len(sims.moco.activities()) < len(entries))
    sims.moco.faults.latency = 0.0
    run_to_the_end(resync, env)

    activities = sims.moco.activities()
    assert sorted(a["remote_id"] for a in activities) == sorted(f"awork:{e['id']}" for e in entries)


def test_a_backfill_killed_midway_then_run_again_loses_and_doubles_nothing(
    world,  # noqa: F811 - the fixture
    upwork,
    awork_people,
    sims,
    prefect_server: PrefectServer,
):
    env = {**prefect_server.env, **timebridge_env(), **LEASE}
    today = world["today"]
    backfill = ["run", "backfill-upwork", "--start", str(today - timedelta(days=89)), "--end", str(today)]
    sims.awork.faults.latency = 0.05

    run_killed_midway(backfill, env, lambda: len(sims.awork.time_entries()) > 20)
    killed_at = len(sims.awork.time_entries())
    sims.awork.faults.latency = 0.0
    run_to_the_end(backfill, env)

    expected = expected_entries(upwork, world, awork_people)
    assert killed_at < len(expected)
    assert awork_entries(sims) == expected and len(sims.awork.time_entries()) == len(expected)
    stored = upwork_store(get_settings()).time_entries()
    assert sorted(e["id"] for e in sims.awork.time_entries()) == sorted(e.awork_time_entry_id for e in stored)
