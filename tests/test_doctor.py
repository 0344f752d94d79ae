"""`timebridge doctor` and the flow `doctor` against the simulators seeded as the demo does: a correct setup is all
well, and each broken piece is named with its fix."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from cli import app
from models.migrate import head, upgrade
from models.settings import get_settings
from models.store import engine_for, open_store
from sandbox.awork import AworkSimulator
from sandbox.core import ServedSimulator, _free_port
from sandbox.demo import seed_demo, seed_demo_people
from sandbox.moco import MocoSimulator
from sandbox.upwork import UpworkSimulator
from tests.conftest import AWORK_KEY, MOCO_KEY, Sims
from tests.contract import OpenApiContract
from tests.test_upwork_connection import connect

runner = CliRunner()
READ_ONLY_KEY = "moco-read-only-key"
MOCO_PLAN = 1200  # the demo account's plan: unlimited


@pytest.fixture
def sims() -> Iterator[Sims]:
    """The simulators seeded as the demo does, with what the demo leaves broken on purpose fixed: awork gets the
    template 'Retainer' the MOCO field offers, and the workspace is the one the test settings' app URL names. MOCO
    enforces (and names) the unlimited plan's limit and knows a read-only key too."""
    moco = MocoSimulator(api_keys=[MOCO_KEY], read_only_keys=[READ_ONLY_KEY], rate_limit=MOCO_PLAN)
    awork = AworkSimulator(api_keys=[AWORK_KEY], per_second=None, per_minute=None)
    seed_demo(moco, awork)
    seed_demo_people(moco, awork)
    awork.add_template("Retainer")
    awork.workspace["url"] = "test"  # https://test.awork.com, the app URL of the test settings
    with ServedSimulator(moco) as moco_server, ServedSimulator(awork) as awork_server:
        yield Sims(moco, awork, moco_server.url, awork_server.url)
    OpenApiContract.moco().assert_exchanges(moco.log.entries)
    OpenApiContract.awork().assert_exchanges(awork.log.entries)


@dataclass
class Setup:
    sims: Sims
    upwork: UpworkSimulator
    monkeypatch: pytest.MonkeyPatch
    tmp_path: object

    def set(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(f"TIMEBRIDGE_{name}", value)
        get_settings.cache_clear()


@pytest.fixture
def no_prefect_server() -> Iterator[None]:
    """No PREFECT_API_URL (whatever the session's Prefect harness set): flows would use a temporary local API."""
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


@pytest.fixture
def setup(sims, settings, upwork, monkeypatch, tmp_path, no_prefect_server) -> Setup:
    """A correct setup: the rate limit of the account's plan, the store migrated, Upwork connected."""
    done = Setup(sims, upwork, monkeypatch, tmp_path)
    done.set("MOCO_RATE_LIMIT", str(MOCO_PLAN))
    open_store(get_settings().database_url)
    connect(upwork)
    return done


def doctor() -> tuple[int, list[str]]:
    result = runner.invoke(app, ["doctor"])
    for secret in (MOCO_KEY, READ_ONLY_KEY, AWORK_KEY, "upwork-test-secret"):
        assert secret not in result.output
    return result.exit_code, result.output.splitlines()


def test_a_correct_setup_is_all_well(setup):
    code, lines = doctor()

    assert code == 0, "\n".join(lines)
    assert lines == [
        "OK      MOCO API key: valid, full access (acts as MOCO user 933000001)",
        "OK      MOCO rate limit: the account's unlimited plan allows 1200 requests per 2 minutes, as configured",
        "OK      MOCO field 'awork Projekt': Link field on projects",
        "OK      MOCO field 'Sync zu awork': Yes/No field on projects",
        "OK      MOCO field 'awork Projektvorlage': Single choice field; its options 'Website', 'Kampagne', "
        "'Retainer' name awork project templates",
        "OK      MOCO sync tag: 4 project(s) carry the tag 'Sync to awork'; 1 project(s) have 'Sync zu awork' set to "
        "yes",
        "OK      awork API key: valid (workspace 'Sandbox Agency')",
        "OK      awork app URL: https://test.awork.com",
        "OK      MOCO users in awork: all 6 active MOCO users have an awork account",
        "INFO    awork users in MOCO: 1 awork user(s) without a MOCO account (normal for freelancers; their time is "
        "not pushed to MOCO): Max Klein (max@freelance.example)",
        f"OK      store: sqlite:///{setup.tmp_path}/timebridge.db, schema at the latest revision {head()}",
        "OK      Upwork connection: connected as Alex S.; 3 organisation(s) selected",
        "INFO    Prefect API: no Prefect server configured (PREFECT_API_URL is not set): flows run with `timebridge "
        "run`, none on a schedule",
        "        fix: for schedules, start a Prefect server and set PREFECT_API_URL (README, Deployment)",
        "all is well",
    ]


def new_store(setup: Setup, revision: str | None = None) -> None:
    """Point the settings at a new SQLite store, migrated up to `revision` (None: not at all)."""
    url = f"sqlite:///{setup.tmp_path}/other.db"
    setup.set("DATABASE_URL", url)
    if revision:
        upgrade(engine_for(url), revision)


def unflag_projects(setup: Setup) -> None:
    """No project carries the sync tag or has the sync field set to yes."""
    for project in setup.sims.moco.projects():
        setup.sims.moco.update_project(project["id"], tags=[], custom_properties={"Sync zu awork": "false"})


def retype_link_field(setup: Setup) -> None:
    setup.sims.moco.remove_custom_property("awork Projekt")
    setup.sims.moco.define_custom_property("awork Projekt", "String")


def expire_upwork_refresh_token(setup: Setup) -> None:
    setup.upwork.revoke_refresh_tokens()
    setup.upwork.advance(25 * 3600)  # the access token expired too: the next call needs the refresh token


def disconnect_upwork(setup: Setup) -> None:
    assert runner.invoke(app, ["upwork", "disconnect"]).exit_code == 0


BROKEN: dict[str, tuple[Callable[[Setup], None], list[str]]] = {
    "bad MOCO key": (
        lambda s: s.set("MOCO_API_KEY", "wrong-key"),
        [
            "PROBLEM MOCO API key: refused (401: Unauthorized)",
            "        fix: create an account API key with full access in MOCO (Settings > Extensions > API & Webhooks) "
            "and set TIMEBRIDGE_MOCO_API_KEY to it",
        ],
    ),
    "read-only MOCO key": (
        lambda s: s.set("MOCO_API_KEY", READ_ONLY_KEY),
        [
            "PROBLEM MOCO API key: valid but read-only: the import writes the awork link to MOCO projects and the push "
            "writes activities",
            "        fix: create an account API key with full access in MOCO (Settings > Extensions > API & Webhooks) "
            "and set TIMEBRIDGE_MOCO_API_KEY to it",
        ],
    ),
    "rate limit above the plan": (
        lambda s: s.set("MOCO_RATE_LIMIT", "2400"),
        [
            "PROBLEM MOCO rate limit: the account's unlimited plan allows 1200 requests per 2 minutes, but timebridge "
            "sends at most 2400 requests per 2 minutes: MOCO will refuse requests (429) and runs slow down",
            "        fix: set TIMEBRIDGE_MOCO_RATE_LIMIT=1200 and TIMEBRIDGE_MOCO_RATE_WINDOW_SECONDS=120",
        ],
    ),
    "custom field missing": (
        lambda s: s.sims.moco.remove_custom_property("Sync zu awork"),
        [
            "PROBLEM MOCO field 'Sync zu awork': projects have no custom field of this name",
            "        fix: create the project custom field 'Sync zu awork' of type Yes/No in MOCO (Settings > Custom "
            "fields), or set TIMEBRIDGE_MOCO_SYNC_FIELD to the name of yours",
        ],
    ),
    "custom field of the wrong type": (
        retype_link_field,
        [
            "PROBLEM MOCO field 'awork Projekt': is of type Single-line text, the sync needs Link",
            "        fix: MOCO cannot change a field's type: rename this field and create 'awork Projekt' anew as Link",
        ],
    ),
    "template option naming no awork template": (
        lambda s: s.sims.moco.update_custom_property("awork Projektvorlage", defaults=["Website", "Kampagne", "Event"]),
        [
            "PROBLEM MOCO field 'awork Projektvorlage': options naming no awork project template: 'Event'",
            "        fix: create those templates in awork or change the options to templates awork has ('Website', "
            "'Kampagne', 'Retainer')",
        ],
    ),
    "template option with a stray space": (
        lambda s: s.sims.moco.update_custom_property("awork Projektvorlage", defaults=["Website ", "Kampagne"]),
        [
            "PROBLEM MOCO field 'awork Projektvorlage': options with stray spaces: 'Website '",
            "        fix: remove the leading, trailing or double spaces of the options in MOCO (Settings > Custom "
            "fields)",
        ],
    ),
    "nothing flagged for sync": (
        unflag_projects,
        [
            "PROBLEM MOCO sync tag: no active project carries the tag 'Sync to awork' or has 'Sync zu awork' set to "
            "yes",
            "        fix: tag the MOCO projects to sync with 'Sync to awork', or set TIMEBRIDGE_MOCO_SYNC_TAG to the "
            "tag they carry",
        ],
    ),
    "bad awork key": (
        lambda s: s.set("AWORK_API_KEY", "wrong-key"),
        [
            "PROBLEM awork API key: refused (401: The request is not authorized. Send 'Authorization: Bearer <api "
            "key>'.)",
            "        fix: create an API key in awork (Settings > Integrations > API) and set TIMEBRIDGE_AWORK_API_KEY "
            "to it",
        ],
    ),
    "missing app URL": (
        lambda s: s.set("AWORK_APP_URL", ""),
        [
            "PROBLEM awork app URL: TIMEBRIDGE_AWORK_APP_URL is not set: the import cannot write awork links back "
            "to MOCO",
            "        fix: set TIMEBRIDGE_AWORK_APP_URL=https://test.awork.com",
        ],
    ),
    "app URL of another workspace": (
        lambda s: s.set("AWORK_APP_URL", "https://other.awork.com"),
        [
            "PROBLEM awork app URL: https://other.awork.com is not the workspace's address https://test.awork.com: "
            "links in MOCO would lead elsewhere",
            "        fix: set TIMEBRIDGE_AWORK_APP_URL=https://test.awork.com",
        ],
    ),
    "MOCO user without awork account": (
        lambda s: s.sims.moco.add_user("Paul", "Meyer", "paul@pixelwerk.de"),
        [
            "PROBLEM MOCO users in awork: 1 MOCO user(s) without an awork account of the same e-mail: Paul Meyer "
            "(paul@pixelwerk.de)",
            "        fix: invite them to awork with their MOCO e-mail (or correct the e-mail on one side); deactivate "
            "MOCO users who have left",
        ],
    ),
    "Upwork never connected": (
        lambda s: new_store(s, "head"),
        [
            "PROBLEM Upwork connection: not connected",
            "        fix: run `timebridge upwork connect` and approve the access at Upwork",
        ],
    ),
    "Upwork disconnected": (
        disconnect_upwork,
        [
            "PROBLEM Upwork connection: disconnected: the Upwork flows stop with 'upwork not connected'",
            "        fix: run `timebridge upwork connect` again, or unset TIMEBRIDGE_UPWORK_CLIENT_ID if Upwork is no "
            "longer used",
        ],
    ),
    "Upwork needs re-authorization": (
        expire_upwork_refresh_token,
        [
            "PROBLEM Upwork connection: needs re-authorization: Upwork refused the refresh token (expired or revoked)",
            "        fix: run `timebridge upwork connect` again (mappings and synced entries are kept)",
        ],
    ),
    "store not migrated": (
        lambda s: new_store(s, "0005"),
        [
            "PROBLEM store: sqlite:///{tmp}/other.db is at revision 0005, timebridge needs {head}",
            "        fix: run `timebridge db upgrade`",
        ],
    ),
    "store never migrated": (
        lambda s: new_store(s),
        [
            "PROBLEM store: sqlite:///{tmp}/other.db has no timebridge tables yet",
            "        fix: run `timebridge db upgrade`",
            "INFO    Upwork connection: not checked: the store is not ready (see 'store')",
        ],
    ),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_a_broken_piece_is_named_with_its_fix(setup, broken):
    breaks, expected = BROKEN[broken]
    breaks(setup)

    code, lines = doctor()

    assert code == 1, "\n".join(lines)
    shown = "\n".join(lines)
    for line in expected:
        assert line.format(tmp=setup.tmp_path, head=head()) in lines, shown
    assert lines[-1] == "1 problem(s) to fix", shown


def test_an_unreachable_database_names_the_store_and_hides_its_password(setup):
    setup.set("DATABASE_URL", f"postgresql+psycopg://timebridge:secret@127.0.0.1:{_free_port('127.0.0.1')}/x")

    code, lines = doctor()

    assert code == 1
    store = next(line for line in lines if line.startswith("PROBLEM store: "))
    assert "cannot open postgresql+psycopg://timebridge:***@127.0.0.1" in store and "secret" not in "\n".join(lines)


def test_an_unreachable_prefect_api_is_a_problem(setup):
    url = f"http://127.0.0.1:{_free_port('127.0.0.1')}/api"
    with temporary_settings(updates={PREFECT_API_URL: url}):
        code, lines = doctor()

    assert code == 1
    assert any(line.startswith(f"PROBLEM Prefect API: {url} does not answer: ") for line in lines), lines
    assert "        fix: start the Prefect server (`prefect server start`) or correct PREFECT_API_URL" in lines


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_lists_the_checks_in_its_artifact(sims, settings, upwork, monkeypatch):
    from flows.doctor import doctor as doctor_flow

    monkeypatch.setenv("TIMEBRIDGE_MOCO_RATE_LIMIT", str(MOCO_PLAN))
    get_settings.cache_clear()
    open_store(get_settings().database_url)
    sims.moco.add_user("Paul", "Meyer", "paul@pixelwerk.de")

    state = doctor_flow(return_state=True)

    assert state.is_failed()
    with get_client(sync_client=True) as client:
        artifact = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["doctor"])))[0]
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    statuses = {row["check"]: row["status"] for row in rows}
    assert statuses["MOCO API key"] == statuses["awork API key"] == statuses["store"] == "OK"
    assert statuses["MOCO users in awork"] == "PROBLEM"
    assert statuses["Upwork connection"] == "PROBLEM"  # configured, never connected
    paul = next(row for row in rows if row["check"] == "MOCO users in awork")
    assert "Paul Meyer (paul@pixelwerk.de)" in paul["detail"] and paul["fix"].startswith("invite them to awork")
    summary = state.result(raise_on_failure=False)
    assert rows == [{"check": c.name, "status": c.status, "detail": c.detail, "fix": c.fix} for c in summary.checks]
    assert summary.problems[:2] == ["MOCO users in awork", "Upwork connection"]
    assert all(name.startswith("deployment ") for name in summary.problems[2:])  # none on the harness's API


@pytest.mark.usefixtures("prefect_harness")
def test_deployments_and_their_schedules_on_the_prefect_server(settings):
    from flows.deployments import deployment_specs, deployments
    from tasks.doctor import read_prefect
    from tasks.shared import in_sync

    specs = deployment_specs()
    ids = [in_sync(deployment.apply()) for deployment in deployments()]
    try:
        assert {check.status for check in read_prefect(specs)} == {"OK"}
        with get_client(sync_client=True) as client:
            push = client.read_deployment_by_name("push-awork-times/push-awork-times")
            hourly = next(s.id for s in push.schedules if s.slug == "hourly")
            client.delete_deployment_schedule(push.id, hourly)
            reconcile = client.read_deployment_by_name("reconcile-hours/reconcile-hours")
            client.update_deployment_schedule(reconcile.id, reconcile.schedules[0].id, active=False)
            client.delete_deployment(client.read_deployment_by_name("sync-upwork/sync-upwork").id)

        problems = {c.name: (c.detail, c.fix) for c in read_prefect(specs) if c.status == "PROBLEM"}
    finally:
        with get_client(sync_client=True) as client:
            for deployment_id in ids:
                with suppress(ObjectNotFound):  # sync-upwork's is gone already
                    client.delete_deployment(deployment_id)

    redeploy = "deploy again: `prefect --no-prompt deploy --all` in the checkout (workers), or `timebridge serve`"
    assert problems == {
        "deployment push-awork-times": ("schedule(s) missing: hourly", redeploy),
        "deployment sync-upwork": ("not on the Prefect server", redeploy),
        "deployment reconcile-hours": (
            "schedule(s) paused: nightly",
            "activate them in the Prefect UI (the deployment's schedules)",
        ),
    }
