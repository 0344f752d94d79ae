"""API rate limits shared by every process through the Prefect server: two limiters (two processes, as far as
the limit knows) stay inside one limit together, and three flows run at once without a single 429."""

from __future__ import annotations

import subprocess
import sys
import threading
from contextvars import copy_context
from datetime import date, timedelta
from pathlib import Path

import httpx
from prefect.settings import PREFECT_API_URL, temporary_settings

from connectors.http import RateLimit, RateLimiter
from sandbox.core import ServedSimulator, SlidingWindowLimit
from sandbox.moco import MocoSimulator
from tests.conftest import MOCO_KEY, Sims
from tests.prefect_server import PrefectServer, timebridge_env
from tests.test_import_moco_projects import seed_fields

TIMEBRIDGE = Path(sys.executable).parent / "timebridge"


def hammer(url: str, limiter: RateLimiter, requests: int) -> None:
    """What one process does: `requests` reads as fast as its limiter lets it."""
    with httpx.Client(headers={"Authorization": f"Token token={MOCO_KEY}"}) as http:
        for _ in range(requests):
            limiter.acquire()
            http.get(f"{url}/users")


def two_processes_worth(url: str, shared_api: str | None) -> None:
    limit = [RateLimit(40, 5.0)]  # scaled down from MOCO's 120 per 2 minutes, so the test takes seconds
    threads = [
        threading.Thread(target=copy_context().run, args=(hammer, url, RateLimiter(limit, shared_api=shared_api), 30))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def test_two_limiters_share_one_limit_through_the_prefect_server(prefect_server: PrefectServer):
    moco = MocoSimulator(api_keys=[MOCO_KEY], rate_limit=40, rate_window=5.0)
    with ServedSimulator(moco) as served, temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        two_processes_worth(served.url, shared_api="moco")
        shared = sum(entry.status == 429 for entry in moco.log.entries)
        sent_shared = len(moco.log.entries)
        moco.log.clear()
        two_processes_worth(served.url, shared_api=None)
        alone = sum(entry.status == 429 for entry in moco.log.entries)
        limits = prefect_server.api("POST", "/v2/concurrency_limits/filter", json={}).json()

    assert alone > 0  # each process alone keeps its own budget: together they overrun the API
    assert shared == 0 and sent_shared == 60
    assert ("timebridge-moco-40-per-5s", 3) in [(c["name"], c["limit"]) for c in limits]


def test_three_flows_at_once_get_no_429(prefect_server: PrefectServer, sims: Sims, settings, monkeypatch):
    """The import, a push resync and the reconciliation report in three processes, against simulators that
    enforce limits (scaled down so the test takes under a minute) and settings that say the same limits."""
    limits = {
        "TIMEBRIDGE_MOCO_RATE_LIMIT": "36",
        "TIMEBRIDGE_MOCO_RATE_WINDOW_SECONDS": "20",
        "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_SECOND": "8",
        "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_MINUTE": "180",
        "TIMEBRIDGE_SHARED_RATE_LIMITS": "true",
    }
    sims.moco.limits.append(SlidingWindowLimit(36, 20.0))
    sims.awork.limits.extend([SlidingWindowLimit(8, 1.0), SlidingWindowLimit(180, 60.0)])
    seed_fields(sims)
    customer = sims.moco.add_company("Pixelwerk GmbH")
    for number in range(1, 13):
        sims.moco.add_project(
            f"Projekt {number}",
            identifier=f"P{number}",
            customer_id=customer["id"],
            tags=["Sync to awork"],
            tasks=["Design", "Entwicklung"],
        )
    env = {**prefect_server.env, **timebridge_env(), **limits}
    last = date(2026, 11, 20)
    commands = [
        ["run", "import-moco-projects"],
        ["run", "push-awork-times", "--start", str(last - timedelta(days=6)), "--end", str(last)],
        ["report", "reconcile", "--start", str(last - timedelta(days=6)), "--end", str(last)],
    ]
    runs = [
        subprocess.Popen([str(TIMEBRIDGE), *c], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for c in commands
    ]
    outputs = [run.communicate(timeout=240)[0].decode() for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    answered = sims.moco.log.entries + sims.awork.log.entries
    assert sum(entry.status == 429 for entry in answered) == 0
    assert len(sims.awork.projects()) == 12
    assert len(answered) > 60  # more than either limit allows in its window: the flows had to wait their turn
