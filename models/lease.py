"""Writer leases: one writer per scope at a time, whoever starts the run (CLI, deployment, worker on any host).

A lease is a row of `writer_leases` (migration 0005), taken atomically (insert, or take over an expired row), kept
alive by a heartbeat thread and deleted on exit. A crashed holder's lease expires after its time to live. On
PostgreSQL the database's clock decides (hosts' clocks may differ); on SQLite, one host's clock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from models.store import UTCDateTime, table_of, upsert, utcnow

log = logging.getLogger(__name__)


class WriterLease(SQLModel, table=True):
    """Who writes a scope now, and until when their lease holds unless they renew it."""

    __tablename__ = "writer_leases"

    scope: str = Field(primary_key=True, max_length=80)
    holder: str = Field(max_length=64)  # a token unique to one acquisition
    label: str = Field(max_length=300)  # who: flow run, process and host, for people
    acquired_at: datetime = Field(sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


LEASES = table_of(WriterLease)


class LeaseHeldError(RuntimeError):
    """Another run holds the scope and did not let go within the wait: names it, since when and until when."""

    def __init__(self, scope: str, label: str, acquired_at: datetime, expires_at: datetime, waited: float) -> None:
        self.scope, self.label, self.waited = scope, label, waited
        self.acquired_at, self.expires_at = acquired_at, expires_at
        until = (
            f"{expires_at:%H:%M} UTC" if expires_at.date() == acquired_at.date() else f"{expires_at:%Y-%m-%d %H:%M} UTC"
        )
        super().__init__(
            f"{scope} is already being written by {label} since {acquired_at:%Y-%m-%d %H:%M} UTC (lease until "
            f"{until}); this run waited {waited:.{0 if waited >= 10 else 1}f} s and stops: try again when it has "
            "finished"
        )

    def __reduce__(self) -> tuple[type[LeaseHeldError], tuple[str, str, datetime, datetime, float]]:
        # Prefect pickles a failed run's exception; rebuild it from its fields, not from the message
        return type(self), (self.scope, self.label, self.acquired_at, self.expires_at, self.waited)


class LeaseLostError(RuntimeError):
    """The lease expired or another run took it over while this run still wrote."""


class Lease:
    """A held writer lease; `lost` turns true when a heartbeat finds the row gone or taken over."""

    def __init__(self, scope: str, holder: str, label: str, acquired_at: datetime, expires_at: datetime) -> None:
        self.scope, self.holder, self.label = scope, holder, label
        self.acquired_at, self.expires_at = acquired_at, expires_at
        self.lost = False

    def check(self) -> None:
        """Raise LeaseLostError if the lease was lost (call it between batches before writing more)."""
        if self.lost:
            raise LeaseLostError(
                f"the writer lease on {self.scope} held by {self.label} was lost (it expired or another run took "
                "it over); stop writing and run again"
            )


@contextmanager
def writer_lease(
    engine: Engine, scope: str, label: str, *, wait_seconds: float, ttl_seconds: float, poll_seconds: float = 1.0
) -> Iterator[Lease]:
    """Hold the writer lease of `scope` for the block, waiting up to `wait_seconds` for a current holder (then
    LeaseHeldError). A heartbeat renews it every ttl/3; if it was lost anyway, leaving the block without an error
    raises LeaseLostError. On exit the lease is released."""
    if ttl_seconds <= 0:
        raise ValueError(f"a writer lease needs a positive time to live, not {ttl_seconds}")
    if not 0 < len(scope) <= 80:
        raise ValueError(f"a writer lease scope has 1 to 80 characters: {scope!r}")
    lease = _acquire(engine, scope, label[:300], wait_seconds, ttl_seconds, poll_seconds)
    stop = threading.Event()
    heartbeat = threading.Thread(
        target=_heartbeat, args=(engine, lease, ttl_seconds, stop), name=f"lease heartbeat {scope}", daemon=True
    )
    heartbeat.start()
    try:
        yield lease
    finally:
        stop.set()
        heartbeat.join(timeout=max(ttl_seconds, 5.0))
        _release(engine, lease)
    lease.check()  # reached only when the block ended without an error


def _acquire(engine: Engine, scope: str, label: str, wait: float, ttl: float, poll: float) -> Lease:
    holder = uuid.uuid4().hex
    started = time.monotonic()
    while True:
        with engine.begin() as connection:
            now = _now(connection)
            expires = now + timedelta(seconds=ttl)
            insert = upsert(engine, LEASES)
            row = {"holder": holder, "label": label, "acquired_at": now, "heartbeat_at": now, "expires_at": expires}
            statement = insert.values(scope=scope, **row).on_conflict_do_update(
                index_elements=["scope"],
                set_=row,
                where=LEASES.c.expires_at < now,
            )
            # RETURNING answers whether this statement wrote the row (rowcount is not reliable for an INSERT)
            if connection.execute(statement.returning(LEASES.c.holder)).scalar_one_or_none() == holder:
                return Lease(scope, holder, label, now, expires)
            current = connection.execute(select(LEASES).where(LEASES.c.scope == scope)).first()
        waited = time.monotonic() - started
        if current is not None and waited >= wait:
            raise LeaseHeldError(scope, current.label, current.acquired_at, current.expires_at, waited)
        time.sleep(max(0.0, min(poll, wait - waited)))


def _heartbeat(engine: Engine, lease: Lease, ttl: float, stop: threading.Event) -> None:
    """Renew the lease every ttl/3 while it is ours; mark it lost when the row is gone or someone else's."""
    while not stop.wait(ttl / 3):
        try:
            with engine.begin() as connection:
                now = _now(connection)
                renewed = connection.execute(
                    update(LEASES)
                    .where(LEASES.c.scope == lease.scope, LEASES.c.holder == lease.holder)
                    .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl))
                ).rowcount
        except Exception:  # the database may come back before the lease expires
            log.warning("could not renew the writer lease on %s", lease.scope, exc_info=True)
            if utcnow() >= lease.expires_at:
                lease.lost = True
            continue
        if renewed != 1:
            lease.lost = True
            log.error("the writer lease on %s was taken over or removed while %s held it", lease.scope, lease.label)
            return
        lease.expires_at = now + timedelta(seconds=ttl)


def _release(engine: Engine, lease: Lease) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(delete(LEASES).where(LEASES.c.scope == lease.scope, LEASES.c.holder == lease.holder))
    except Exception:  # never hide the run's own outcome; the lease then expires after its time to live
        log.warning("could not release the writer lease on %s; it expires at %s", lease.scope, lease.expires_at)


def _now(connection: Connection) -> datetime:
    """The time leases are compared in: the database's on PostgreSQL, this host's on SQLite."""
    if connection.dialect.name == "postgresql":
        return connection.execute(select(func.now())).scalar_one().astimezone(UTC)
    return utcnow()
