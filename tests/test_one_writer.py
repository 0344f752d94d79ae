"""One writer per scope, whoever starts the run: two pushes at once in two processes, a backfill beside the
Upwork sync. The second run waits for the writer lease, then stops naming the holder; nothing is written twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from flows.backfill_upwork import backfill_upwork
from flows.sync_upwork import sync_upwork
from models.lease import LeaseHeldError, WriterLease
from models.settings import get_settings
from models.store import engine_for
from tasks.runs import UPWORK_SCOPE
from tasks.shared import upwork_store
from tests.prefect_server import PrefectServer, fresh_database, timebridge_env
from tests.test_push_awork_times import (
    TODAY,
    add_entry,
    at,
    office,  # noqa: F401 - the fixture
)
from tests.test_upwork_backfill import world  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("prefect_harness")
TIMEBRIDGE = Path(sys.executable).parent / "timebridge"


@pytest.fixture
def shared_store(settings, monkeypatch, tmp_path):
    """The store on PostgreSQL when the suite has one (else the SQLite file), for processes to share (ask for it
    before the fixtures that fill the store)."""
    postgres = os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL")
    with fresh_database(postgres, f"store_{os.getpid()}_{tmp_path.name}"[:60].lower(), "postgresql+psycopg") as url:
        if url:
            monkeypatch.setenv("TIMEBRIDGE_DATABASE_URL", url)
            get_settings.cache_clear()
        yield get_settings().database_url


def nine_days_of_entries(sims, office) -> list[dict]:  # noqa: F811 - the fixture's value
    """117 five-minute awork entries of one user, 13 a day on the 9 days before TODAY."""
    return [
        add_entry(sims, office, start=at(TODAY - timedelta(days=d), 8) + timedelta(minutes=10 * i), duration=300)
        for d in range(1, 10)
        for i in range(13)
    ]


def test_two_pushes_at_once_in_two_processes_write_each_activity_once(
    shared_store,
    sims,
    office,  # noqa: F811 - the fixture
    prefect_server: PrefectServer,
):
    entries = nine_days_of_entries(sims, office)
    sims.moco.faults.latency = 0.4  # each run holds its lease for several seconds
    env = {**prefect_server.env, **timebridge_env(), "TIMEBRIDGE_LEASE_WAIT_SECONDS": "2"}
    command = [
        str(TIMEBRIDGE),
        "run",
        "push-awork-times",
        "--start",
        str(TODAY - timedelta(days=9)),
        "--end",
        str(TODAY - timedelta(days=1)),
    ]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = [run.communicate(timeout=240)[0].decode() for run in runs]

    activities = sims.moco.activities()
    assert sorted(a["remote_id"] for a in activities) == sorted(f"awork:{e['id']}" for e in entries)
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 1], outputs
    winner, loser = (outputs[0], outputs[1]) if runs[0].returncode == 0 else (outputs[1], outputs[0])
    [winner_run] = re.findall(r"Beginning flow run '([^']+)'", winner)
    assert f"already being written by push-awork-times flow run '{winner_run}'" in loser
    assert "push-awork-times failed:" in loser


def lease_holder(scope: str) -> str | None:
    """Who holds the writer lease of a scope now, as the store has it."""
    with Session(engine_for(get_settings().database_url)) as session:
        lease = session.get(WriterLease, scope)
        return lease.label if lease else None


def test_a_backfill_beside_the_upwork_sync_waits_then_names_it(world, upwork, sims, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TIMEBRIDGE_LEASE_WAIT_SECONDS", "0.5")
    get_settings.cache_clear()
    upwork.faults.latency = 1.5  # the sync holds the Upwork lease for several seconds
    outcome: dict[str, object] = {}

    def sync() -> None:
        outcome["sync"] = sync_upwork()

    syncing = threading.Thread(target=sync)
    syncing.start()
    while not lease_holder(UPWORK_SCOPE) and syncing.is_alive():  # the sync holds the Upwork lease
        threading.Event().wait(0.05)
    with pytest.raises(LeaseHeldError, match="already being written by sync-upwork flow run"):
        backfill_upwork()
    syncing.join(timeout=120)
    upwork.faults.latency = 0.0

    summary = backfill_upwork()  # after the sync: the backfill runs and doubles nothing the sync wrote

    assert outcome["sync"].status.startswith("completed")
    assert summary.status.startswith("completed")
    stored = upwork_store(get_settings()).time_entries()
    assert sorted(e["id"] for e in sims.awork.time_entries()) == sorted(e.awork_time_entry_id for e in stored)
