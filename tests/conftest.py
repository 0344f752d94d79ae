"""Shared fixtures: simulators served over real HTTP, settings pointing at them, Prefect's test harness, and a
check that every exchange of a test conforms to the official OpenAPI specs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from models.settings import Settings, get_settings  # noqa: E402
from sandbox.awork import AworkSimulator  # noqa: E402
from sandbox.core import ServedSimulator  # noqa: E402
from sandbox.moco import MocoSimulator  # noqa: E402
from tests.contract import OpenApiContract  # noqa: E402
from tests.prefect_server import PrefectServer, fresh_database  # noqa: E402

MOCO_KEY = "moco-test-key"
AWORK_KEY = "awork-test-key"
AWORK_APP_URL = "https://test.awork.com"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting one costs ~15 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@contextmanager
def served_prefect(home: Path, name: str) -> Iterator[PrefectServer]:
    """`prefect server start` with its own home and database (PostgreSQL when the suite has one)."""
    home.mkdir(parents=True, exist_ok=True)
    with fresh_database(os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL"), name[:60].lower()) as database:
        server = PrefectServer(home, database).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    """A real Prefect server shared by the tests that need one (schedules, workers, limits shared between
    processes); a test that changes its deployments starts its own with `served_prefect`."""
    with served_prefect(tmp_path_factory.mktemp("prefect-home"), f"prefect_{os.getpid()}") as server:
        yield server


@dataclass
class Sims:
    moco: MocoSimulator
    awork: AworkSimulator
    moco_url: str
    awork_url: str

    def writes(self, moco_mark: int = 0, awork_mark: int = 0) -> list:
        """Successful write requests to either simulator since the marks."""
        return self.moco.log.writes(moco_mark) + self.awork.log.writes(awork_mark)

    def marks(self) -> tuple[int, int]:
        return self.moco.log.mark(), self.awork.log.mark()


@pytest.fixture
def sims() -> Iterator[Sims]:
    """Fresh MOCO and awork simulators (no rate limits unless a test sets them), served on loopback; after the
    test, every request and response they logged must conform to the official OpenAPI specs."""
    moco = MocoSimulator(api_keys=[MOCO_KEY], rate_limit=None)
    awork = AworkSimulator(api_keys=[AWORK_KEY], per_second=None, per_minute=None)
    with ServedSimulator(moco) as moco_server, ServedSimulator(awork) as awork_server:
        yield Sims(moco, awork, moco_server.url, awork_server.url)
    OpenApiContract.moco().assert_exchanges(moco.log.entries)
    OpenApiContract.awork().assert_exchanges(awork.log.entries)


@pytest.fixture
def settings(sims: Sims, tmp_path, monkeypatch) -> Iterator[Settings]:
    """Settings pointing at the simulators and a fresh SQLite store; quick retries, no client-side throttling."""
    values = {
        "TIMEBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/timebridge.db",
        "TIMEBRIDGE_MOCO_BASE_URL": sims.moco_url,
        "TIMEBRIDGE_MOCO_API_KEY": MOCO_KEY,
        "TIMEBRIDGE_AWORK_BASE_URL": sims.awork_url,
        "TIMEBRIDGE_AWORK_API_KEY": AWORK_KEY,
        "TIMEBRIDGE_AWORK_APP_URL": AWORK_APP_URL,
        "TIMEBRIDGE_MOCO_RATE_LIMIT": "100000",
        "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_SECOND": "100000",
        "TIMEBRIDGE_AWORK_RATE_LIMIT_PER_MINUTE": "1000000",
        "TIMEBRIDGE_HTTP_BACKOFF_SECONDS": "0.01",
        "TIMEBRIDGE_HTTP_BACKOFF_MAX_SECONDS": "0.05",
        "TIMEBRIDGE_HTTP_RETRY_AFTER_MAX_SECONDS": "0.05",
        "TIMEBRIDGE_HTTP_TIMEOUT_SECONDS": "10",
        "TIMEBRIDGE_SHARED_RATE_LIMITS": "false",  # the test harness's API is a server, but limits are local here
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


UPWORK_CLIENT_ID = "upwork-test-client"
UPWORK_CLIENT_SECRET = "upwork-test-secret"
UPWORK_REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture
def upwork(settings, monkeypatch):
    """An Upwork simulator (its documented 10 requests per second) and the settings pointing at it."""
    from datetime import UTC, datetime

    from sandbox.upwork import UpworkSimulator

    simulator = UpworkSimulator(
        client_id=UPWORK_CLIENT_ID, client_secret=UPWORK_CLIENT_SECRET, redirect_uris=(UPWORK_REDIRECT,)
    )
    simulator.seed_demo(datetime.now(UTC).date())
    with ServedSimulator(simulator) as server:
        base = server.url
        for name, value in {
            "UPWORK_GRAPHQL_URL": f"{base}/graphql",
            "UPWORK_TOKEN_URL": f"{base}/api/v3/oauth2/token",
            "UPWORK_AUTHORIZE_URL": f"{base}/ab/account-security/oauth2/authorize",
            "UPWORK_CLIENT_ID": UPWORK_CLIENT_ID,
            "UPWORK_CLIENT_SECRET": UPWORK_CLIENT_SECRET,
            "UPWORK_REDIRECT_URI": UPWORK_REDIRECT,
            "SECRET_KEY": "test-secret-key-for-token-encryption",
        }.items():
            monkeypatch.setenv(f"TIMEBRIDGE_{name}", value)
        get_settings.cache_clear()
        yield simulator
    get_settings.cache_clear()


@pytest.fixture
def awork_people(sims) -> dict[str, dict]:
    """awork users for the Upwork freelancers: Jörg with another e-mail spelling, John Smith (Upwork has no
    e-mail for him), Anna twice (so no guess)."""
    return {
        "joerg": sims.awork.add_user("Joerg", "Mueller", "j.mueller@pixelwerk.example"),
        "john": sims.awork.add_user("John", "Smith", "john@pixelwerk.example"),
        "anna": sims.awork.add_user("Anna", "Schmidt", "anna.schmidt@pixelwerk.example"),
        "anna2": sims.awork.add_user("Anna", "Schulze", None),
        "jana": sims.awork.add_user("Jana", "Novak", "jana@novak.example"),
    }
