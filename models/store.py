"""The store: links between objects on both sides (with source hashes), cursors, sync issues and run records.

SQLModel tables on SQLite by default, PostgreSQL (psycopg) in production. The tables declared here (and in
`models.upwork_store`, `models.lease`) are the schema's one source: the Alembic migrations in `models/migrations` are
generated from them (`models.migrate.revision`), and apply it (`timebridge db upgrade`, also when a store is opened).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    delete,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlmodel import Field, Session, SQLModel, col, create_engine, select


def utcnow() -> datetime:
    """Now, in UTC (instants are stored in UTC)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant that always comes back timezone-aware in UTC, on SQLite (which keeps no offset) and PostgreSQL
    (which answers in the session's time zone). Aware values are converted to UTC on the way in; a naive value is
    taken to be UTC already (instants are stored in UTC), never the local or the session's time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact decimal amount: NUMERIC(precision, scale) on PostgreSQL, whole cents (units of the scale) in an
    integer on SQLite, whose NUMERIC would go through float. Values are rounded half away from zero to the scale,
    as PostgreSQL does; one too large for the precision is refused on both."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 12, scale: int = 2) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision, self.scale = precision, scale

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(Integer() if dialect.name == "sqlite" else Numeric(self.precision, self.scale))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Decimal | int | None:
        if value is None:
            return None
        limit = Decimal(10) ** (self.precision - self.scale)
        amount = Decimal(value)
        exact = (
            amount.quantize(Decimal(1).scaleb(-self.scale), rounding=ROUND_HALF_UP) if amount.is_finite() else amount
        )
        if not exact.is_finite() or abs(exact) >= limit:
            raise ValueError(f"the amount {value} does not fit {self.precision} digits with {self.scale} decimals")
        return int(exact.scaleb(self.scale)) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that reads and writes. On SQLite it begins with BEGIN IMMEDIATE: the Python driver would run
    the reads before the first write outside any transaction, and the write lock taken up front waits its turn
    (the busy timeout) instead of failing with "database is locked" when upgraded from a read lock."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a SQLModel table class."""
    return model.metadata.tables[str(model.__tablename__)]


def upsert(engine: Engine, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that takes `.on_conflict_do_update(...)` on this engine's dialect (SQLite or PostgreSQL)."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {dialect}")


class Link(SQLModel, table=True):
    """One object we created or linked: its id on the source side, on the target side, and the hash of the source
    fields we last wrote (an unchanged hash means no write)."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", name="uq_links_kind_source"),
        Index("ix_links_kind_source_day", "kind", "source_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40, index=True)  # project, company, task_list, task, activity, ...
    source_id: str = Field(max_length=200)
    target_id: str = Field(max_length=200)
    parent_id: str | None = Field(default=None, max_length=200, index=True)  # e.g. the MOCO project of a task
    source_hash: str | None = Field(default=None, max_length=64)
    source_day: date | None = None  # the day the source belongs to (an activity's date), for windowed re-scans
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Cursor(SQLModel, table=True):
    """Where an incremental read continues next time."""

    __tablename__ = "cursors"

    name: str = Field(primary_key=True, max_length=200)
    value: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SyncIssue(SQLModel, table=True):
    """A skipped item: what, why, since when; resolved automatically when a later run gets it through. At most
    one open issue per flow, kind and object (a partial unique index, migration 0005)."""

    __tablename__ = "sync_issues"
    __table_args__ = (
        Index(
            "uq_sync_issues_open",
            "flow",
            "kind",
            "object_ref",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=80, index=True)
    kind: str = Field(max_length=80)
    object_ref: str = Field(max_length=300, index=True)
    message: str = Field(sa_type=Text)
    first_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    occurrences: int = 1
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RunRecord(SQLModel, table=True):
    """One flow run as the store saw it: when, how it ended, and its counts."""

    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=80, index=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="running", max_length=40)
    dry_run: bool = False
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LinkRecord(BaseModel):
    """A link to save (a plain model, so tasks can return it)."""

    kind: str
    source_id: str
    target_id: str
    parent_id: str | None = None
    source_hash: str | None = None
    source_day: date | None = None


class IssueDraft(BaseModel):
    """A sync issue raised by a plan or an apply step."""

    kind: str
    object_ref: str
    message: str


class Store:
    """Reads and writes of the store; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # links -----------------------------------------------------------------------------------------------------
    def links(
        self,
        kind: str,
        *,
        source_ids: Iterable[str] | None = None,
        parent_ids: Iterable[str] | None = None,
        days: tuple[date, date] | None = None,
    ) -> dict[str, Link]:
        """The links of one kind (optionally only some sources, those under some parents, or those whose source day
        lies in an inclusive range), by source id."""
        query = select(Link).where(Link.kind == kind)
        if days is not None:
            query = query.where(Link.source_day >= days[0], Link.source_day <= days[1])  # type: ignore[operator]
        if source_ids is not None:
            query = query.where(Link.source_id.in_(list(source_ids)))  # type: ignore[attr-defined]
        if parent_ids is not None:
            query = query.where(Link.parent_id.in_(list(parent_ids)))  # type: ignore[union-attr]
        with Session(self.engine) as session:
            return {link.source_id: link for link in session.exec(query)}

    def save_links(self, records: Sequence[LinkRecord]) -> None:
        """Insert or update links by (kind, source id), in one transaction; an upsert, so runs writing the same
        link at once never collide (the later write wins)."""
        if not records:
            return
        now = utcnow()
        latest = {(r.kind, r.source_id): r.model_dump() | {"updated_at": now} for r in records}  # the last one wins
        table = table_of(Link)
        insert = upsert(self.engine, table)
        changed = ("target_id", "parent_id", "source_hash", "source_day", "updated_at")
        statement = insert.on_conflict_do_update(
            index_elements=["kind", "source_id"], set_={name: insert.excluded[name] for name in changed}
        )
        with self.engine.begin() as connection:  # rows in key order: concurrent upserts lock them in one order
            connection.execute(statement, [latest[key] for key in sorted(latest)])

    def delete_links(self, kind: str, source_ids: Iterable[str]) -> None:
        ids = list(source_ids)
        if not ids:
            return
        with self.engine.begin() as connection:  # one statement: a link another run deleted first is no error
            connection.execute(delete(Link).where(col(Link.kind) == kind, col(Link.source_id).in_(ids)))

    # cursors ---------------------------------------------------------------------------------------------------
    def cursor(self, name: str) -> datetime | None:
        with Session(self.engine) as session:
            row = session.get(Cursor, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: datetime) -> None:
        """Move a cursor (an upsert: the later of two concurrent writes wins, neither fails)."""
        insert = upsert(self.engine, table_of(Cursor))
        statement = insert.values(name=name, value=value, updated_at=utcnow())  # UTCDateTime makes it UTC
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    def cursors(self) -> list[Cursor]:
        with Session(self.engine) as session:
            return list(session.exec(select(Cursor).order_by(Cursor.name)))

    # sync issues -----------------------------------------------------------------------------------------------
    def record_issues(self, flow: str, raised: Sequence[IssueDraft], checked: Iterable[str] | None = None) -> None:
        """Open or refresh the raised issues; resolve open issues of this flow that were checked in this run (all
        of the flow's open issues when `checked` is None) and not raised again. Runs recording the same issue at
        once share one open issue (an upsert on the open-issue index)."""
        now = utcnow()
        raised_keys = {(i.kind, i.object_ref) for i in raised}
        checked_refs = None if checked is None else set(checked)
        table = table_of(SyncIssue)
        insert = upsert(self.engine, table)
        refresh = insert.on_conflict_do_update(
            index_elements=["flow", "kind", "object_ref"],
            index_where=table.c.resolved_at.is_(None),
            set_={
                "message": insert.excluded.message,
                "last_seen": insert.excluded.last_seen,
                "occurrences": table.c.occurrences + 1,
            },
        )
        with writing(self.engine) as connection:
            for issue in sorted(raised, key=lambda i: (i.kind, i.object_ref)):  # one each: raised twice counts twice
                row = issue.model_dump() | {"flow": flow, "first_seen": now, "last_seen": now, "occurrences": 1}
                connection.execute(refresh, row)
            open_rows = connection.execute(
                select(table.c.id, table.c.kind, table.c.object_ref).where(
                    table.c.flow == flow,
                    table.c.resolved_at.is_(None),
                )
            ).all()
            resolved = [
                row.id
                for row in open_rows
                if (checked_refs is None or row.object_ref in checked_refs)
                and (row.kind, row.object_ref) not in raised_keys
            ]
            if resolved:
                connection.execute(
                    update(table).where(table.c.id.in_(resolved), table.c.resolved_at.is_(None)).values(resolved_at=now)
                )

    def open_issues(self, flow: str | None = None) -> list[SyncIssue]:
        query = select(SyncIssue).where(SyncIssue.resolved_at.is_(None))  # type: ignore[union-attr]
        if flow:
            query = query.where(SyncIssue.flow == flow)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(SyncIssue.flow, SyncIssue.object_ref)))

    # runs ------------------------------------------------------------------------------------------------------
    def start_run(self, flow: str, dry_run: bool = False) -> int:
        with Session(self.engine) as session:
            run = RunRecord(flow=flow, dry_run=dry_run)
            session.add(run)
            session.commit()
            if run.id is None:
                raise RuntimeError(f"the store gave the run record of {flow} no id; is the runs table intact?")
            return run.id

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        with Session(self.engine) as session:
            run = session.get(RunRecord, run_id)
            if run is None:
                return
            run.status, run.summary, run.finished_at = status, summary, utcnow()
            session.add(run)
            session.commit()

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        with Session(self.engine) as session:
            query = select(RunRecord).order_by(RunRecord.id.desc()).limit(limit)  # type: ignore[union-attr]
            return list(session.exec(query))


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per database URL per process; SQLite files get their folder created."""
    with _engines_lock:
        if url not in _engines:
            parsed = make_url(url)
            kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            _engines[url] = create_engine(url, **kwargs)
        return _engines[url]


_upgraded: set[str] = set()
_upgrade_lock = threading.Lock()


def open_store(url: str) -> Store:
    """The store at `url`, migrated to the latest schema (once per process; `upgrade` itself makes processes
    take turns)."""
    from models.migrate import upgrade

    engine = engine_for(url)
    if url not in _upgraded:
        with _upgrade_lock:
            if url not in _upgraded:
                upgrade(engine)
                _upgraded.add(url)  # only once it succeeded: a failed upgrade is tried again next time
    return Store(engine)
