"""Upwork token refresh under concurrency: threads and processes holding an expired access token refresh it once,
against a simulator whose rotated refresh tokens die at once; SQLite always, PostgreSQL when
TIMEBRIDGE_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from connectors.http import AmbiguousWriteError
from connectors.upwork import UpworkClient
from models.settings import get_settings
from models.tokens import TokenSet
from models.upwork_store import CONNECTED, NEEDS_REAUTHORIZATION, UpworkStore
from sandbox.upwork import TOKEN_PATH
from tasks.shared import upwork_store

POSTGRES_URL = os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parent.parent
DAY = 24 * 3600

WORKER = """
import sys, time
from pathlib import Path
from connectors.upwork import UpworkClient
from models.secrets import TokenCipher
from models.settings import get_settings
from models.store import open_store
from models.upwork_store import UpworkStore

settings = get_settings()
store = UpworkStore(open_store(settings.database_url).engine, TokenCipher(settings.secret_key))
print("ready", flush=True)
while not Path(sys.argv[1]).exists():
    time.sleep(0.005)
with UpworkClient.from_settings(settings, tokens=store) as upwork:
    print(upwork.current_user().id, flush=True)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, upwork, monkeypatch) -> Iterator[UpworkStore]:
    """The Upwork store (a SQLite file, or a fresh PostgreSQL schema) the settings point at, on a simulator with
    strict rotation (a refresh token works once) and no rate limit."""
    upwork.rotated_refresh_grace = 0
    upwork.limits.clear()
    if request.param == "sqlite":
        yield upwork_store(get_settings())
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TIMEBRIDGE_TEST_POSTGRES_URL")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    monkeypatch.setenv("TIMEBRIDGE_DATABASE_URL", f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    get_settings.cache_clear()
    yield upwork_store(get_settings())
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def connect_without_browser(
    upwork, store: UpworkStore | None = None, expires_in: timedelta = timedelta(hours=24)
) -> TokenSet:
    """Connect without the browser: a token pair from the simulator, stored as expiring in `expires_in`."""
    issued = upwork.issue_tokens()
    tokens = TokenSet(
        access_token=SecretStr(issued["access_token"]),
        refresh_token=SecretStr(issued["refresh_token"]),
        expires_at=datetime.now(UTC) + expires_in,
    )
    (store or upwork_store(get_settings())).save(tokens)
    return tokens


def refreshes(upwork, mark: int) -> list:
    return [e for e in upwork.log.since(mark) if e.path == TOKEN_PATH]


@pytest.mark.parametrize("known_expired", [True, False], ids=["expired-in-store", "refused-with-401"])
def test_eight_threads_with_an_expired_token_refresh_it_once(upwork, store, known_expired):
    connect_without_browser(upwork, store, timedelta(minutes=-1) if known_expired else timedelta(hours=1))
    upwork.advance(DAY + 3600)  # the access token has expired at Upwork
    upwork.faults.latency = 0.05  # a slow token endpoint: the others arrive while the first refresh is under way
    mark = upwork.log.mark()
    start = threading.Barrier(8)

    def query() -> str:
        with UpworkClient.from_settings(get_settings(), tokens=upwork_store(get_settings())) as client:
            start.wait(timeout=10)
            return client.current_user().id

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: query(), range(8)))

    assert users == [upwork.me.id] * 8
    [refresh] = refreshes(upwork, mark)
    assert refresh.status == 200
    assert store.connection().status == CONNECTED
    assert store.load().refresh_token.get_secret_value() == refresh.response_body["refresh_token"]


def test_two_processes_with_an_expired_token_refresh_it_once(upwork, store, tmp_path):
    connect_without_browser(upwork, store, timedelta(minutes=-1))
    upwork.advance(DAY + 3600)
    upwork.faults.latency = 0.1
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(go)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.communicate(timeout=30)
    mark = upwork.log.mark()
    go.touch()  # both at once
    outputs = [worker.communicate(timeout=60) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == [upwork.me.id] * 2
    [refresh] = refreshes(upwork, mark)
    assert store.connection().status == CONNECTED
    assert store.load().refresh_token.get_secret_value() == refresh.response_body["refresh_token"]


def test_a_refused_refresh_token_marks_the_connection_only_while_it_is_still_stored(upwork, store):
    old = connect_without_browser(upwork, store)
    fresh = connect_without_browser(upwork, store)  # meanwhile another caller stored a new pair
    with store.locked_tokens() as stored:
        stored.needs_reauthorization(old.refresh_token)
    assert store.connection().status == CONNECTED
    with store.locked_tokens() as stored:
        stored.needs_reauthorization(fresh.refresh_token)
    assert store.connection().status == NEEDS_REAUTHORIZATION


def test_a_token_refresh_without_a_clear_answer_is_not_repeated(upwork, store):
    connect_without_browser(upwork, store, timedelta(minutes=-1))
    upwork.faults.fail_next(1, 502, route=TOKEN_PATH, after_processing=True)  # rotated, but the answer is lost
    mark = upwork.log.mark()
    with UpworkClient.from_settings(get_settings(), tokens=store) as client, pytest.raises(AmbiguousWriteError):
        client.current_user()
    assert len(refreshes(upwork, mark)) == 1
