"""The production path of the README, end to end: a real `prefect server start` (its database in PostgreSQL when
the suite has one), the process work pool, `prefect deploy --all` from a clone of the checkout, a worker, schedules
that fire, manual runs with parameters as the UI creates them, and `timebridge serve` on the same server."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Sims, served_prefect
from tests.prefect_server import PrefectServer, checkout_copy, timebridge_env
from tests.test_import_moco_projects import add_leader_account, seed_fields

BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULED = {"import-moco-projects", "push-awork-times", "sync-upwork", "sync-moco-absences", "reconcile-hours"}


def wait_until(check, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def seed_agency(sims: Sims) -> dict:
    """A flagged MOCO project with a task, one with an unknown template (a sync issue), a MOCO user staffed on
    the first, and the awork users (the projects' leader too) and type of work the push needs."""
    seed_fields(sims)
    add_leader_account(sims)
    customer = sims.moco.add_company("Pixelwerk GmbH")
    project = sims.moco.add_project(
        "Website", identifier="P1", customer_id=customer["id"], tags=["Sync to awork"], tasks=["Design"]
    )
    sims.moco.add_project(
        "Kampagne",
        identifier="P2",
        customer_id=customer["id"],
        tags=["Sync to awork"],
        custom_properties={"awork Projektvorlage": "Kampagne"},
    )
    anna = sims.moco.add_user("Anna", "Schmidt", "anna@pixelwerk.de")
    sims.moco.add_contract(project["id"], anna["id"])
    return {
        "moco_project": project,
        "anna": sims.awork.add_user("Anna", "Schmidt", "anna@pixelwerk.de"),
        "design": sims.awork.add_type_of_work("Design"),
    }


@pytest.fixture
def server(tmp_path) -> Iterator[PrefectServer]:
    """A Prefect server of this test's own: it deploys, pauses and serves deployments."""
    with served_prefect(tmp_path / "prefect-home", f"prefect_e2e_{os.getpid()}") as server:
        yield server


def test_deployed_flows_run_on_workers_and_schedules_fire(server: PrefectServer, sims: Sims, settings, tmp_path):
    agency = seed_agency(sims)
    clone = checkout_copy(tmp_path / "checkout")
    env = timebridge_env()

    server.run(["prefect", "work-pool", "create", "process", "--type", "process"], clone)
    server.run(["prefect", "--no-prompt", "deploy", "--all"], clone, env)
    deployments = server.deployments()
    assert set(deployments) == SCHEDULED | {"backfill-upwork", "review-upwork-mappings", "doctor"}

    # (1) the server's scheduler creates scheduled runs for every deployment with a schedule
    def scheduled_everywhere() -> bool:
        return all(server.flow_runs(deployments[name]["id"], ["SCHEDULED"]) for name in SCHEDULED)

    wait_until(scheduled_everywhere, 60, f"scheduled runs of {sorted(SCHEDULED)}:\n{server.log('server')[-3000:]}")
    assert not server.flow_runs(deployments["backfill-upwork"]["id"], ["SCHEDULED"])
    for deployment in deployments.values():  # keep scheduled runs from racing the manual runs below
        server.api("PATCH", f"/deployments/{deployment['id']}", json={"paused": True})
        for run in server.flow_runs(deployment["id"], ["SCHEDULED"]):
            server.api("DELETE", f"/flow_runs/{run['id']}")

    worker = server.spawn(["prefect", "worker", "start", "--pool", "process", "--limit", "2"], clone, "worker", env)

    # (2) a run created through the API, as the UI's "Run" button does, completes on the worker
    run = server.wait_for_run(server.create_run(deployments["import-moco-projects"]["id"]), timeout=150)
    assert run["state"]["type"] == "COMPLETED", server.log("worker")[-4000:]
    assert run["state"]["name"] == "Completed with issues"  # the unknown template of P2
    assert "1 open sync issue" in run["state"]["message"]
    [awork_project] = sims.awork.projects()
    assert awork_project["name"] == "Website"
    assert sims.moco.get_project(agency["moco_project"]["id"])["custom_properties"]["awork Projekt"].endswith(
        f"/projects/{awork_project['id']}"
    )

    # (3) a push with custom start/end writes exactly that range
    entries = {
        day: sims.awork.add_time_entry(
            user_id=agency["anna"]["id"],
            project_id=awork_project["id"],
            start=datetime(2026, 11, day, 9, tzinfo=BERLIN),
            duration=1800 * day,
            type_of_work_id=agency["design"]["id"],
        )
        for day in range(2, 9)
    }
    push = server.create_run(deployments["push-awork-times"]["id"], {"start": "2026-11-04", "end": "2026-11-06"})
    run = server.wait_for_run(push, timeout=120)
    assert (run["state"]["type"], run["state"]["name"]) == ("COMPLETED", "Completed"), server.log("worker")[-4000:]
    pushed = {a["remote_id"]: a for a in sims.moco.activities()}
    assert sorted(pushed) == sorted(f"awork:{entries[day]['id']}" for day in (4, 5, 6))
    assert {a["date"]: a["seconds"] for a in pushed.values()} == {
        date(2026, 11, day).isoformat(): 1800 * day for day in (4, 5, 6)
    }

    # (4) `timebridge serve` registers the same deployments on the same server and runs them (the worker stopped)
    server.stop_process(worker)
    refused = server.run(["timebridge", "serve"], clone, env, expect_exit=1)
    assert "push-awork-times/push-awork-times is deployed to work pool 'process'" in refused
    server.spawn(["timebridge", "serve", "--replace"], clone, "serve", env)
    wait_until(lambda: "are being served" in server.log("serve"), 60, "`timebridge serve` to register")
    served = server.deployments()
    assert {s["slug"] for s in served["push-awork-times"]["schedules"]} == {"hourly", "nightly-35-days"}
    customer_id = agency["moco_project"]["customer"]["id"]
    sims.moco.add_project("Intranet", identifier="P3", customer_id=customer_id, tags=["Sync to awork"])
    run = server.wait_for_run(server.create_run(served["import-moco-projects"]["id"]), timeout=120)
    assert run["state"]["type"] == "COMPLETED", server.log("serve")[-4000:]
    assert sorted(p["name"] for p in sims.awork.projects()) == ["Intranet", "Website"]

    # (5) a CLI resync beside the served push of the same days: one writer at a time, each entry pushed once
    sims.moco.faults.latency = 0.3  # the first writer holds the push lease for a few seconds
    week = {"start": "2026-11-02", "end": "2026-11-08"}
    served_push = server.create_run(served["push-awork-times"]["id"], week)
    wait_until(lambda: server.api("GET", f"/flow_runs/{served_push}").json()["state"]["type"] == "RUNNING", 60, "push")
    cli = server.run(
        ["timebridge", "run", "push-awork-times", "--start", week["start"], "--end", week["end"]], clone, env
    )
    run = server.wait_for_run(served_push, timeout=120)
    assert run["state"]["type"] == "COMPLETED", server.log("serve")[-4000:]
    assert "push-awork-times 2026-11-02 to 2026-11-08: completed" in " ".join(cli.split())
    pushed = sorted(a["remote_id"] for a in sims.moco.activities())
    assert pushed == sorted(f"awork:{entry['id']}" for entry in entries.values())
