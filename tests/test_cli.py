"""The `timebridge` command and the demo, as a user runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from cli import app
from sandbox.demo import run_demo
from tests.conftest import AWORK_KEY, MOCO_KEY
from tests.test_import_moco_projects import add_leader_account, seed_fields

runner = CliRunner()


@pytest.mark.usefixtures("prefect_harness")
def test_run_import_prints_the_summary_and_status_shows_the_run(sims, settings):
    seed_fields(sims)
    add_leader_account(sims)
    customer = sims.moco.add_company("Pixelwerk GmbH")
    sims.moco.add_project("Website", identifier="P1", customer_id=customer["id"], tags=["Sync to awork"], tasks=["A"])
    sims.moco.add_project(
        "Retainer",
        identifier="P2",
        customer_id=customer["id"],
        tags=["Sync to awork"],
        custom_properties={"awork Projektvorlage": "Retainer"},
    )

    dry = runner.invoke(app, ["run", "import-moco-projects", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "projects to create" in dry.output and sims.awork.projects() == []

    result = runner.invoke(app, ["run", "import-moco-projects"])
    assert result.exit_code == 0, result.output
    assert "completed with issues" in result.output and "unknown template" in result.output
    assert [p["name"] for p in sims.awork.projects()] == ["Website"]

    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "import-moco-projects" in status.output and "1 open sync issue" in status.output
    for secret in (MOCO_KEY, AWORK_KEY):
        assert secret not in result.output + status.output + dry.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_run_exits_non_zero(sims, settings, monkeypatch):
    monkeypatch.setenv("TIMEBRIDGE_MOCO_API_KEY", "wrong-key")
    from models.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["run", "import-moco-projects"])
    assert result.exit_code == 1
    assert "failed" in result.output and "Unauthorized" in result.output
    assert "wrong-key" not in result.output


def test_db_upgrade_creates_the_store(tmp_path, monkeypatch):
    from models.settings import get_settings

    monkeypatch.setenv("TIMEBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path}/new.db")
    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "upgrade"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new.db").exists() and "up to date" in result.output


@pytest.mark.usefixtures("prefect_harness")
def test_demo_prints_what_it_created_and_a_quiet_second_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("MOCO_BASE_URL", "MOCO_API_KEY", "AWORK_BASE_URL", "AWORK_API_KEY", "AWORK_APP_URL", "DATABASE_URL"):
        monkeypatch.delenv(f"TIMEBRIDGE_{name}", raising=False)
    monkeypatch.setenv("TIMEBRIDGE_SHARED_RATE_LIMITS", "false")  # the harness is a Prefect API: limits stay local
    console = Console(record=True, width=200)
    run_demo(console)
    output = console.export_text()
    assert "created project P24001 Website Relaunch" in output
    assert "created task P24002 / Kreation" in output
    assert "unknown template" in output
    assert "6 project members arrived in awork (MOCO leaders and staff) on 4 projects" in output
    assert "staffing the push added in MOCO followed into awork: 9 members added" in output
    assert "activities created" in output and "Max Klein <max@freelance.example> has no" in output
    assert "import MOCO projects: completed with issues, 3 read requests, 0 write requests" in output
    assert "push awork times: completed with issues" in output
    assert "connected to Upwork as Alex S." in output and "mapped Intranet Support -> awork project INTRA" in output
    assert "unmapped freelancer: Kampagnen-Landingpage" in output  # Mehmet has no awork user to suggest
    assert "backfill Upwork: completed with issues" in output and "entries created" in output
    assert "4 absences arrived in awork" in output and "Skiurlaub" in output
    assert output.count(", 0 write requests") == 4


@pytest.mark.usefixtures("prefect_harness")
def test_run_push_resyncs_a_range(sims, settings):
    seed_fields(sims)
    customer = sims.moco.add_company("Pixelwerk GmbH")
    project = sims.moco.add_project("Website", identifier="P1", customer_id=customer["id"], tags=["Sync to awork"])
    user = sims.moco.add_user("Anna", "Schmidt", "anna@pixelwerk.de")
    sims.moco.add_contract(project["id"], user["id"])
    assert runner.invoke(app, ["run", "import-moco-projects"]).exit_code == 0
    [awork_project] = sims.awork.projects()
    anna = sims.awork.add_user("Anna", "Schmidt", "anna@pixelwerk.de")
    for day in (5, 20):
        sims.awork.add_time_entry(
            user_id=anna["id"],
            project_id=awork_project["id"],
            start=datetime(2026, 10, day, 9, tzinfo=UTC),
            duration=600,
        )

    result = runner.invoke(app, ["run", "push-awork-times", "--start", "2026-10-01", "--end", "2026-10-10"])

    assert result.exit_code == 0, result.output
    assert "2026-10-01 to 2026-10-10: completed" in " ".join(result.output.split())
    assert [a["date"] for a in sims.moco.activities()] == ["2026-10-05"]


def test_prefect_yaml_declares_the_push_deployment_with_a_nightly_resync():
    config = yaml.safe_load(Path(__file__).parent.parent.joinpath("prefect.yaml").read_text())
    [deployment] = [d for d in config["deployments"] if d["name"] == "push-awork-times"]
    assert deployment["entrypoint"] == "flows/push_awork_times.py:push_awork_times"
    hourly, nightly = deployment["schedules"]
    assert hourly["interval"] == 3600 and hourly["parameters"] == {"safety_net": True}
    assert nightly["cron"] == "30 2 * * *" and nightly["parameters"] == {"last_days": 35, "safety_net": True}
    assert deployment["concurrency_limit"]["limit"] == 1


def test_prefect_yaml_declares_the_upwork_deployments():
    config = yaml.safe_load(Path(__file__).parent.parent.joinpath("prefect.yaml").read_text())
    by_name = {d["name"]: d for d in config["deployments"]}
    sync, backfill = by_name["sync-upwork"], by_name["backfill-upwork"]
    assert sync["entrypoint"] == "flows/sync_upwork.py:sync_upwork" and sync["schedules"][0]["interval"] == 3600
    assert backfill["entrypoint"] == "flows/backfill_upwork.py:backfill_upwork" and "schedules" not in backfill
    assert backfill["parameters"] == {"start": None, "end": None, "organization_ids": None, "dry_run": False}
    assert sync["concurrency_limit"]["limit"] == backfill["concurrency_limit"]["limit"] == 1
    from flows.deployments import deployments

    assert {"sync-upwork", "backfill-upwork"} <= {d.name for d in deployments()}


def test_prefect_yaml_declares_the_import_deployment():
    config = yaml.safe_load(Path(__file__).parent.parent.joinpath("prefect.yaml").read_text())
    [deployment] = [d for d in config["deployments"] if d["name"] == "import-moco-projects"]
    assert deployment["entrypoint"] == "flows/import_moco_projects.py:import_moco_projects"
    assert deployment["schedules"][0]["interval"] == 3600
    assert deployment["concurrency_limit"]["limit"] == 1
    assert deployment["work_pool"]["name"] == "process"
