"""The store on SQLite always, and on PostgreSQL when TIMEBRIDGE_TEST_POSTGRES_URL is set (CI sets it)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text

from models.migrate import upgrade
from models.store import IssueDraft, LinkRecord, Store, open_store

POSTGRES_URL = os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Store:
    if request.param == "sqlite":
        yield open_store(f"sqlite:///{tmp_path}/store.db")
        return
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL store tests need TIMEBRIDGE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/db)"
        )
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    yield open_store(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_migration_creates_every_table(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"links", "cursors", "sync_issues", "runs", "alembic_version"} <= tables


def test_upgrade_twice_is_harmless(store):
    upgrade(store.engine)
    assert store.links("project") == {}


def test_links_upsert_by_kind_and_source(store):
    store.save_links([LinkRecord(kind="project", source_id="1", target_id="a", source_hash="h1")])
    store.save_links(
        [
            LinkRecord(kind="project", source_id="1", target_id="a", source_hash="h2"),
            LinkRecord(kind="task", source_id="1", target_id="t", parent_id="1"),
        ]
    )
    projects = store.links("project")
    assert list(projects) == ["1"]
    assert projects["1"].source_hash == "h2"
    assert store.links("task", parent_ids=["1"])["1"].target_id == "t"
    assert store.links("task", parent_ids=["2"]) == {}
    assert list(store.links("project", source_ids=["1", "9"])) == ["1"]


def test_delete_links(store):
    store.save_links([LinkRecord(kind="activity", source_id=s, target_id=s) for s in ("1", "2")])
    store.delete_links("activity", ["1"])
    assert list(store.links("activity")) == ["2"]


def test_cursor_round_trips_in_utc(store):
    assert store.cursor("push") is None
    moment = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    store.set_cursor("push", moment)
    assert store.cursor("push") == moment
    assert [c.name for c in store.cursors()] == ["push"]


def test_issues_open_refresh_and_resolve(store):
    first = IssueDraft(kind="unknown template", object_ref="moco project 1", message="no template X")
    second = IssueDraft(kind="missing customer", object_ref="moco project 2", message="no customer")
    store.record_issues("import", [first, second])
    store.record_issues("import", [first.model_copy(update={"message": "still no template X"})])
    open_issues = store.open_issues("import")
    assert [(i.object_ref, i.occurrences, i.message) for i in open_issues] == [
        ("moco project 1", 2, "still no template X")
    ]


def test_issues_outside_the_checked_scope_stay_open(store):
    issue = IssueDraft(kind="unknown user", object_ref="awork user 9", message="no MOCO account")
    store.record_issues("push", [issue])
    store.record_issues("push", [], checked=["awork user 1"])
    assert len(store.open_issues("push")) == 1
    store.record_issues("push", [], checked=["awork user 9"])
    assert store.open_issues("push") == []


def test_runs_are_recorded(store):
    run_id = store.start_run("import", dry_run=True)
    store.finish_run(run_id, "completed", {"projects created": 3})
    [run] = store.recent_runs()
    assert (run.flow, run.status, run.dry_run, run.summary) == ("import", "completed", True, {"projects created": 3})
    assert run.finished_at is not None
