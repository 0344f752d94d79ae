"""The store on SQLite always, and on PostgreSQL when TIMEBRIDGE_TEST_POSTGRES_URL is set (CI sets it)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import StatementError

from models.migrate import head, upgrade
from models.store import IssueDraft, LinkRecord, Store, engine_for, open_store
from models.upwork_store import (
    UpworkContract,
    UpworkContractMapping,
    UpworkFreelancer,
    UpworkOrganization,
    UpworkRate,
    UpworkStore,
    UpworkTimeEntry,
)

POSTGRES_URL = os.environ.get("TIMEBRIDGE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL schema (dropped afterwards) whose sessions
    answer in a non-UTC time zone, as a production server may."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL store tests need TIMEBRIDGE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/db)"
        )
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    options = quote(f"-csearch_path={schema} -cTimeZone=America/Los_Angeles", safe="")
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options={options}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def run_together(count: int, work: Callable[[int], None]) -> None:
    """Run `work(i)` in `count` threads released at the same moment; re-raise the first error."""
    barrier, errors = threading.Barrier(count), []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Iterator[Store]:
    with database_url(request.param, tmp_path) as url:
        yield open_store(url)


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


def test_cursor_set_from_another_time_zone_comes_back_equal_in_utc(store, monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        moment = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Kolkata"))
        store.set_cursor("push", moment)
        value = store.cursor("push")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert value == moment
    assert value.tzinfo is UTC


def test_a_naive_datetime_is_taken_as_utc(store):
    store.set_cursor("push", datetime(2026, 11, 23, 10, 30))
    assert store.cursor("push") == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def test_upwork_instants_come_back_in_utc_and_money_exactly(store):
    upwork = UpworkStore(store.engine, cipher=None)
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)  # the night Berlin moves to summer time
    upwork.save_contracts(
        [],
        [],
        [
            UpworkRate(
                contract_id="c1", hourly_rate=Decimal("1234567890.12"), currency="USD", start_date=date(2026, 1, 1)
            )
        ],
    )
    upwork.save_contract_mapping(
        UpworkContractMapping(
            organization_id="o1", contract_id="c1", pay_rate=Decimal("0.10"), bill_rate=Decimal("0.125")
        )
    )
    [saved] = upwork.save_time_entries(
        [
            UpworkTimeEntry(
                organization_id="o1",
                contract_id="c1",
                freelancer_id="f1",
                day=date(2026, 3, 29),
                interval_start=start,
                awork_user_id="u1",
                awork_project_id="p1",
                awork_type_of_work_id="w1",
                start=start,
                end=start + timedelta(hours=2),
                duration_seconds=7200,
                source="diary",
                pay_rate=Decimal("-0.01"),
                bill_rate=Decimal("9999999999.99"),
                source_hash="h",
            )
        ]
    )
    [entry] = upwork.time_entries()
    assert (entry.start, entry.end, entry.interval_start) == (start, start + timedelta(hours=2), start)
    assert {entry.start.tzinfo, entry.end.tzinfo, entry.synced_at.tzinfo, saved.start.tzinfo} == {UTC}
    assert (str(entry.pay_rate), str(entry.bill_rate)) == ("-0.01", "9999999999.99")
    assert str(upwork.rates("c1")[0].hourly_rate) == "1234567890.12"
    mapping = upwork.contract_mappings()[("o1", "c1")]
    assert (str(mapping.pay_rate), str(mapping.bill_rate)) == ("0.10", "0.13")  # half away from zero, as PostgreSQL
    assert mapping.updated_at.tzinfo is UTC


def test_upwork_text_longer_than_its_column_is_cut_and_an_impossible_email_left_out(store):
    upwork = UpworkStore(store.engine, cipher=None)
    title, name = "Relaunch " * 80, "J" * 400
    contract = UpworkContract(
        organization_id="o1", id="c1", freelancer_id="f1", title=title, kind="hourly", status="ACTIVE"
    )
    freelancer = UpworkFreelancer(id="f1", name=name, email=f"{'x' * 300}@example.com")
    upwork.save_contracts([contract], [freelancer], [])
    upwork.save_organizations([UpworkOrganization(id="o1", name=name, kind="agency")])

    [stored] = upwork.contracts()
    assert stored.title == title[:499] + "…" and len(stored.title) == 500
    assert upwork.freelancers()["f1"].name == "J" * 299 + "…" and upwork.freelancers()["f1"].email is None
    assert upwork.organizations()[0].name == "J" * 299 + "…"


def test_an_amount_too_large_for_its_column_is_refused(store):
    upwork = UpworkStore(store.engine, cipher=None)
    with pytest.raises(StatementError):
        upwork.save_contract_mapping(
            UpworkContractMapping(organization_id="o1", contract_id="c1", pay_rate=Decimal("10000000000.00"))
        )


def test_links_saved_by_concurrent_writers_never_collide(store):
    def save(writer: int) -> None:
        for _ in range(5):
            store.save_links([LinkRecord(kind="activity", source_id=str(i), target_id=f"w{writer}") for i in range(40)])

    run_together(4, save)
    links = store.links("activity")
    assert len(links) == 40
    assert len({link.target_id for link in links.values()}) == 1  # each save is one transaction: one writer won


def test_the_same_issue_recorded_by_concurrent_runs_is_open_once(store):
    issue = IssueDraft(kind="unknown user", object_ref="awork user 9", message="no MOCO account")

    run_together(4, lambda _: store.record_issues("push", [issue], checked=[]))
    [open_issue] = store.open_issues("push")
    assert open_issue.occurrences == 4
    store.record_issues("push", [])
    store.record_issues("push", [issue])
    assert [i.occurrences for i in store.open_issues("push")] == [1]  # a resolved issue that comes back is new


def test_runs_raising_and_resolving_an_issue_at_once_leave_at_most_one_open(store):
    issue = IssueDraft(kind="unknown user", object_ref="awork user 9", message="no MOCO account")

    def record(run: int) -> None:
        for _ in range(10):
            store.record_issues("push", [issue] if run % 2 else [])  # reads the open issues, then writes

    run_together(4, record)
    assert len(store.open_issues("push")) <= 1


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


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0005_keeps_one_open_issue_of_duplicates_and_money_exact(backend, tmp_path):
    with database_url(backend, tmp_path) as url:
        engine = engine_for(url)
        upgrade(engine, "0004")
        now = "2026-01-01 00:00:00"
        with engine.begin() as connection:
            for resolved in (None, None, now):
                connection.execute(
                    text(
                        "INSERT INTO sync_issues (flow, kind, object_ref, message, first_seen, last_seen, occurrences, "
                        "resolved_at) VALUES ('push', 'k', 'o', 'm', :now, :now, 1, :resolved)"
                    ),
                    {"now": now, "resolved": resolved},
                )
            connection.execute(
                text(
                    "INSERT INTO upwork_rates (contract_id, hourly_rate, currency, start_date) "
                    "VALUES ('c1', 12.35, 'USD', '2026-01-01')"
                )
            )
        upgrade(engine)
        store = Store(engine)
        assert len(store.open_issues("push")) == 1
        assert str(UpworkStore(engine, cipher=None).rates("c1")[0].hourly_rate) == "12.35"


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_opening_a_fresh_store_at_once_migrate_it_once(backend, tmp_path):
    with database_url(backend, tmp_path) as url:
        code = "import sys; from models.store import open_store; open_store(sys.argv[1])"
        processes = [
            subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        errors = [process.communicate(timeout=60)[1] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], errors
        with engine_for(url).connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head()]


def test_runs_are_recorded(store):
    run_id = store.start_run("import", dry_run=True)
    store.finish_run(run_id, "completed", {"projects created": 3})
    [run] = store.recent_runs()
    assert (run.flow, run.status, run.dry_run, run.summary) == ("import", "completed", True, {"projects created": 3})
    assert run.finished_at is not None
