"""The models are the schema's one source: the migrations build exactly what they declare (SQLite always, PostgreSQL
when TIMEBRIDGE_TEST_POSTGRES_URL is set), the comparison notices each kind of drift, and a migration generated
from the models holds only what changed."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text, create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeEngine
from sqlmodel.sql.sqltypes import AutoString

import models.migrate
from models.migrate import head, main, revision, upgrade
from models.schema import AUTOGENERATE_OPTIONS, METADATA
from models.store import Money, UTCDateTime
from tests.test_store import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def migrated(request, tmp_path) -> Iterator[Engine]:
    """A fresh database, upgraded by the migrations."""
    with database_url(request.param, tmp_path) as url:
        engine = create_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def migrations_copy(tmp_path, monkeypatch) -> Path:
    """The migrations copied aside, so generated revisions land there and not in the checkout."""
    copy = tmp_path / "migrations"
    shutil.copytree(models.migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(models.migrate, "MIGRATIONS", copy)
    return copy


def differences(engine: Engine, metadata: MetaData = METADATA) -> set[tuple[str, ...]]:
    """What autogenerate would change to make the database match `metadata`: (operation, table or index, column)."""
    with engine.connect() as connection:
        found = compare_metadata(MigrationContext.configure(connection, opts=AUTOGENERATE_OPTIONS), metadata)
    flat = [step for item in found for step in (item if isinstance(item, list) else [item])]
    return {_describe(step) for step in flat}


def _describe(step: tuple[Any, ...]) -> tuple[str, ...]:
    """One difference as (operation, table, column) or (operation, index or constraint name)."""
    operation = step[0]
    if operation.startswith("modify_"):  # (operation, schema, table, column, ...)
        return operation, step[2], step[3]
    return operation, step[1].name


def statements(migration: Path) -> dict[str, list[str]]:
    """The statements of a migration's upgrade and downgrade, as source."""
    functions = [node for node in ast.parse(migration.read_text()).body if isinstance(node, ast.FunctionDef)]
    return {function.name: [ast.unparse(statement) for statement in function.body] for function in functions}


def test_the_migrations_build_the_schema_the_models_declare(migrated):
    assert differences(migrated) == set()


def test_the_primary_keys_are_the_models(migrated):
    # Alembic's comparison leaves primary keys out
    inspector = inspect(migrated)
    assert {name: inspector.get_pk_constraint(name)["constrained_columns"] for name in METADATA.tables} == {
        name: [column.name for column in table.primary_key] for name, table in METADATA.tables.items()
    }


@dataclass
class Drift:
    """A change to a copy of the models, what the comparison must report for it, and why SQLite cannot tell."""

    change: Callable[[MetaData], None]
    expected: set[tuple[str, ...]]
    not_on_sqlite: str | None = None


def _set_type(table: str, column: str, type_: TypeEngine[Any]) -> Callable[[MetaData], None]:
    def change(metadata: MetaData) -> None:
        metadata.tables[table].c[column].type = type_

    return change


def _make_parent_required(metadata: MetaData) -> None:
    metadata.tables["links"].c.parent_id.nullable = False


def _without(table: str, name: str) -> Callable[[MetaData], None]:
    def change(metadata: MetaData) -> None:
        found = metadata.tables[table]
        found.indexes = {index for index in found.indexes if index.name != name}
        found.constraints = {constraint for constraint in found.constraints if constraint.name != name}

    return change


def _open_issues_are_closed_ones(metadata: MetaData) -> None:
    _without("sync_issues", "uq_sync_issues_open")(metadata)
    issues, closed = metadata.tables["sync_issues"], text("resolved_at IS NOT NULL")
    columns = (issues.c.flow, issues.c.kind, issues.c.object_ref)
    Index("uq_sync_issues_open", *columns, unique=True, sqlite_where=closed, postgresql_where=closed)


DRIFTS = {
    "string length": Drift(_set_type("links", "kind", String(41)), {("modify_type", "links", "kind")}),
    "unbounded string": Drift(
        _set_type("upwork_contracts", "title", String()), {("modify_type", "upwork_contracts", "title")}
    ),
    "text as string": Drift(
        _set_type("sync_issues", "message", String(300)), {("modify_type", "sync_issues", "message")}
    ),
    "nullability": Drift(_make_parent_required, {("modify_nullable", "links", "parent_id")}),
    "index": Drift(_without("links", "ix_links_kind_source_day"), {("remove_index", "ix_links_kind_source_day")}),
    "unique constraint": Drift(
        _without("links", "uq_links_kind_source"), {("remove_constraint", "uq_links_kind_source")}
    ),
    "partial index predicate": Drift(
        _open_issues_are_closed_ones, {("remove_index", "uq_sync_issues_open"), ("add_index", "uq_sync_issues_open")}
    ),
    "numeric precision": Drift(
        _set_type("upwork_rates", "hourly_rate", Money(14, 2)),
        {("modify_type", "upwork_rates", "hourly_rate")},
        not_on_sqlite="Money keeps whole cents in an INTEGER on SQLite: no precision to compare",
    ),
    "time zone flag": Drift(
        _set_type("cursors", "value", DateTime(timezone=False)),
        {("modify_type", "cursors", "value")},
        not_on_sqlite="SQLite's DATETIME keeps no time zone flag",
    ),
}


@pytest.mark.parametrize("drift", DRIFTS.values(), ids=DRIFTS.keys())
def test_the_comparison_reports_each_kind_of_drift(migrated, drift):
    if drift.not_on_sqlite and migrated.dialect.name == "sqlite":
        pytest.skip(drift.not_on_sqlite)
    models = MetaData()
    for table in METADATA.sorted_tables:
        table.to_metadata(models)
    drift.change(models)
    assert differences(migrated, models) == drift.expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_revision_from_unchanged_models_is_empty(backend, tmp_path, migrations_copy):
    previous = head()
    with database_url(backend, tmp_path) as url:  # on SQLite, the command as typed: a temporary database
        main(["revision", "nothing changed", *(["--url", url] if backend == "postgresql" else [])])
    [migration] = (migrations_copy / "versions").glob(f"{head()}_nothing_changed.py")
    assert f'down_revision = "{previous}"' in migration.read_text()
    assert statements(migration) == {"upgrade": ["pass"], "downgrade": ["pass"]}


@pytest.fixture
def new_table() -> Iterator[Table]:
    """A table added to the models while a test runs: each of our column types and a partial unique index."""
    table = Table(
        "schema_probe",
        METADATA,
        Column("id", Integer, primary_key=True),
        Column("name", AutoString(length=40), nullable=False),
        Column("note", Text),
        Column("amount", Money(12, 2), nullable=False),
        Column("seen_at", UTCDateTime, nullable=False),
        Column("closed_at", UTCDateTime),
    )
    still_open = text("closed_at IS NULL")
    Index("uq_schema_probe_open", table.c.name, unique=True, sqlite_where=still_open, postgresql_where=still_open)
    yield table
    METADATA.remove(table)


def test_a_revision_holds_the_model_change_and_applies_as_declared(migrated, migrations_copy, new_table):
    migration = revision(migrated, "a probe table")
    assert all("schema_probe" in statement for statement in statements(migration)["upgrade"])
    source = migration.read_text()
    assert "import models.store" in source and "models.store.Money(precision=12, scale=2)" in source
    assert "sa.String(length=40)" in source and "models.store.UTCDateTime(" in source
    upgrade(migrated)
    assert differences(migrated) == set()
