"""The webhooks' path as the README runs it, for tests/test_webhook_reaction.py and bench/webhook_latency.py: the
simulators on sockets, a real `prefect server start` whose scheduler is off (only events start runs), `prefect
deploy --all` from a copy of the checkout, a `process` worker, the receiver (`timebridge webhooks serve`), and our
webhooks registered in both simulators with `timebridge webhooks register`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from sandbox.awork import AworkSimulator
from sandbox.core import ServedSimulator, _free_port
from sandbox.moco import MocoSimulator
from tests.conftest import Sims
from tests.prefect_server import PrefectServer, checkout_copy, fresh_database
from tests.test_import_moco_projects import add_leader_account, seed_fields

KEY = "webhook-stack-key"
ANNA = "anna@pixelwerk.de"


@dataclass
class Stack:
    server: PrefectServer
    moco: MocoSimulator
    awork: AworkSimulator
    env: dict[str, str]  # the TIMEBRIDGE_* settings of the worker and the receiver
    deployments: dict[str, dict]

    def runs(self, deployment: str) -> list[dict]:
        """The flow runs of a deployment, in any state."""
        return self.server.flow_runs(self.deployments[deployment]["id"])

    def logs(self) -> str:
        """The end of the receiver's and the worker's logs, for a failing assertion."""
        return "\n".join(f"--- {name}\n{self.server.log(name)[-3000:]}" for name in ("receiver", "worker"))


def wait_for(check: Callable[[], object], timeout: float, poll: float = 0.25) -> float | None:
    """Seconds until `check()` is true, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(poll)
    return None


@contextmanager
def reacting_stack(
    home: Path,
    database_name: str,
    seed: Callable[[MocoSimulator, AworkSimulator], None],
    worker_query_seconds: int = 2,
    moco_rate_limit: int | None = None,
) -> Iterator[Stack]:
    """Simulators seeded by `seed` (before any webhook is registered), then the server, the deployments, the
    worker and the receiver. `moco_rate_limit` (requests per 120 s) sets MOCO's plan, in the simulator and our
    client; None: unlimited (awork's limits are off either way)."""
    home.mkdir(parents=True, exist_ok=True)
    moco = MocoSimulator(api_keys=[KEY], rate_limit=moco_rate_limit)
    awork = AworkSimulator(api_keys=[KEY], per_second=None, per_minute=None)
    seed(moco, awork)
    with ExitStack() as stack:
        moco_url = stack.enter_context(ServedSimulator(moco)).url
        awork_url = stack.enter_context(ServedSimulator(awork)).url
        env = {
            "TIMEBRIDGE_DATABASE_URL": f"sqlite:///{home}/timebridge.db",
            "TIMEBRIDGE_MOCO_BASE_URL": moco_url,
            "TIMEBRIDGE_MOCO_API_KEY": KEY,
            "TIMEBRIDGE_AWORK_BASE_URL": awork_url,
            "TIMEBRIDGE_AWORK_API_KEY": KEY,
            "TIMEBRIDGE_AWORK_APP_URL": "https://test.awork.com",
            "TIMEBRIDGE_SECRET_KEY": "webhook-stack-secret-key",
            "TIMEBRIDGE_MOCO_WEBHOOK_SECRET": moco.webhook_secret,
            "TIMEBRIDGE_SHARED_RATE_LIMITS": "false",
            "TIMEBRIDGE_MOCO_RATE_LIMIT": str(moco_rate_limit or 100_000),
            "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_SECOND": "100000",
            "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_MINUTE": "1000000",
        }
        database = stack.enter_context(fresh_database(os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL"), database_name))
        server = PrefectServer(home, database)
        server.env["PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED"] = "false"  # no scheduled run: events only
        stack.callback(server.stop)
        server.start()
        clone = checkout_copy(home / "checkout")
        server.run(["prefect", "work-pool", "create", "process", "--type", "process"], clone)
        server.run(["prefect", "--no-prompt", "deploy", "--all"], clone, env)
        port = _free_port("127.0.0.1")
        server.run(["timebridge", "webhooks", "register", "--public-url", f"http://127.0.0.1:{port}"], clone, env)
        receiver = ["timebridge", "webhooks", "serve", "--host", "127.0.0.1", "--port", str(port)]
        server.spawn(receiver, clone, "receiver", env)
        if wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), 60) is None:
            raise RuntimeError(f"the receiver did not start: {server.log('receiver')[-3000:]}")
        worker_env = env | {"PREFECT_WORKER_QUERY_SECONDS": str(worker_query_seconds)}
        server.spawn(["prefect", "worker", "start", "--pool", "process", "--limit", "3"], clone, "worker", worker_env)
        yield Stack(server=server, moco=moco, awork=awork, env=env, deployments=server.deployments())


def seed_office(moco: MocoSimulator, awork: AworkSimulator) -> None:
    """A MOCO project with a task and Anna staffed, not yet flagged for sync; Anna and a type of work in awork."""
    seed_fields(Sims(moco, awork, "", ""))
    add_leader_account(Sims(moco, awork, "", ""))
    customer = moco.add_company("Pixelwerk GmbH")
    project = moco.add_project("Website", identifier="P1", customer_id=customer["id"], tasks=["Design"])
    moco.add_contract(project["id"], moco.add_user("Anna", "Schmidt", ANNA)["id"])
    awork.add_user("Anna", "Schmidt", ANNA)
    awork.add_type_of_work("Design")


def flag_for_sync(stack: Stack) -> tuple[dict, float | None]:
    """Flag the office's MOCO project for sync (its webhook is all that starts the import): the awork project made
    of it, and how many seconds that took (None: not within 90 s)."""
    [project] = stack.moco.projects()
    stack.moco.update_project(project["id"], tags=["Sync to awork"])
    delay = wait_for(stack.awork.projects, 90)
    return (stack.awork.projects() or [{}])[0], delay


def entry_form(stack: Stack, project: dict, start: datetime, seconds: int) -> dict:
    [anna] = [u for u in stack.awork.users() if u["firstName"] == "Anna"]
    kind = stack.awork.types_of_work()[0]["id"]
    return {
        "user_id": anna["id"],
        "project_id": project["id"],
        "start": start,
        "duration": seconds,
        "type_of_work_id": kind,
    }


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
