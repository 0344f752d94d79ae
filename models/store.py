"""The store: links between objects on both sides (with source hashes), cursors, sync issues and run records.

SQLModel tables on SQLite by default, PostgreSQL (psycopg) in production; the schema is created and evolved by the
Alembic migrations in `models/migrations` (`timebridge db upgrade`, also applied when a store is opened).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Field, Session, SQLModel, create_engine, select


def utcnow() -> datetime:
    """Now, in UTC (instants are stored in UTC)."""
    return datetime.now(UTC)


class Link(SQLModel, table=True):
    """One object we created or linked: its id on the source side, on the target side, and the hash of the source
    fields we last wrote (an unchanged hash means no write)."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("kind", "source_id", name="uq_links_kind_source"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40, index=True)  # project, company, task_list, task, activity, ...
    source_id: str = Field(max_length=200)
    target_id: str = Field(max_length=200)
    parent_id: str | None = Field(default=None, max_length=200, index=True)  # e.g. the MOCO project of a task
    source_hash: str | None = Field(default=None, max_length=64)
    source_day: date | None = None  # the day the source belongs to (an activity's date), for windowed re-scans
    updated_at: datetime = Field(default_factory=utcnow)


class Cursor(SQLModel, table=True):
    """Where an incremental read continues next time."""

    __tablename__ = "cursors"

    name: str = Field(primary_key=True, max_length=200)
    value: datetime
    updated_at: datetime = Field(default_factory=utcnow)


class SyncIssue(SQLModel, table=True):
    """A skipped item: what, why, since when; resolved automatically when a later run gets it through."""

    __tablename__ = "sync_issues"

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=80, index=True)
    kind: str = Field(max_length=80)
    object_ref: str = Field(max_length=300, index=True)
    message: str
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    occurrences: int = 1
    resolved_at: datetime | None = None


class RunRecord(SQLModel, table=True):
    """One flow run as the store saw it: when, how it ended, and its counts."""

    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=80, index=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
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
        """Insert or update links by (kind, source id), in one transaction."""
        if not records:
            return
        with Session(self.engine) as session:
            for kind in {r.kind for r in records}:
                ids = [r.source_id for r in records if r.kind == kind]
                existing = {
                    link.source_id: link
                    for link in session.exec(
                        select(Link).where(Link.kind == kind, Link.source_id.in_(ids))  # type: ignore[attr-defined]
                    )
                }
                for record in (r for r in records if r.kind == kind):
                    link = existing.get(record.source_id) or Link(kind=kind, source_id=record.source_id, target_id="")
                    link.target_id = record.target_id
                    link.parent_id = record.parent_id
                    link.source_hash = record.source_hash
                    link.source_day = record.source_day
                    link.updated_at = utcnow()
                    session.add(link)
                    existing[record.source_id] = link
            session.commit()

    def delete_links(self, kind: str, source_ids: Iterable[str]) -> None:
        ids = list(source_ids)
        if not ids:
            return
        with Session(self.engine) as session:
            for link in session.exec(select(Link).where(Link.kind == kind, Link.source_id.in_(ids))):  # type: ignore[attr-defined]
                session.delete(link)
            session.commit()

    # cursors ---------------------------------------------------------------------------------------------------
    def cursor(self, name: str) -> datetime | None:
        with Session(self.engine) as session:
            row = session.get(Cursor, name)
            return row.value if row else None

    def set_cursor(self, name: str, value: datetime) -> None:
        with Session(self.engine) as session:
            row = session.get(Cursor, name) or Cursor(name=name, value=value)
            row.value = value.astimezone(UTC)
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    def cursors(self) -> list[Cursor]:
        with Session(self.engine) as session:
            return list(session.exec(select(Cursor).order_by(Cursor.name)))

    # sync issues -----------------------------------------------------------------------------------------------
    def record_issues(self, flow: str, raised: Sequence[IssueDraft], checked: Iterable[str] | None = None) -> None:
        """Open or refresh the raised issues; resolve open issues of this flow that were checked in this run (all
        of the flow's open issues when `checked` is None) and not raised again."""
        now = utcnow()
        raised_keys = {(i.kind, i.object_ref) for i in raised}
        checked_refs = None if checked is None else set(checked)
        with Session(self.engine) as session:
            open_rows = session.exec(
                select(SyncIssue).where(SyncIssue.flow == flow, SyncIssue.resolved_at.is_(None))  # type: ignore[union-attr]
            ).all()
            by_key = {(row.kind, row.object_ref): row for row in open_rows}
            for issue in raised:
                row = by_key.get((issue.kind, issue.object_ref))
                if row:
                    row.message, row.last_seen, row.occurrences = issue.message, now, row.occurrences + 1
                else:
                    row = SyncIssue(flow=flow, kind=issue.kind, object_ref=issue.object_ref, message=issue.message)
                    by_key[(issue.kind, issue.object_ref)] = row
                session.add(row)
            for row in open_rows:
                in_scope = checked_refs is None or row.object_ref in checked_refs
                if in_scope and (row.kind, row.object_ref) not in raised_keys:
                    row.resolved_at = now
                    session.add(row)
            session.commit()

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
            assert run.id is not None
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


def open_store(url: str) -> Store:
    """The store at `url`, migrated to the latest schema (once per process)."""
    from models.migrate import upgrade

    engine = engine_for(url)
    with _engines_lock:
        needs_upgrade = url not in _upgraded
        _upgraded.add(url)
    if needs_upgrade:
        upgrade(engine)
    return Store(engine)
