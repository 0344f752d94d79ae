"""The store's Upwork tables: connection (encrypted tokens), organisations, freelancers, contracts, rate history,
user and contract mappings, time entries (declared here, migrated by `models/migrations`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from models.secrets import SecretKeyError, TokenCipher
from models.store import Money, UTCDateTime, utcnow
from models.tokens import TokenSet

CONNECTED, NEEDS_REAUTHORIZATION, DISCONNECTED = "connected", "needs re-authorization", "disconnected"
SUGGESTED, CONFIRMED, UNMAPPED = "suggested", "confirmed", "unmapped"
INVITED = "invited"  # mapped to an awork user who has not accepted the invitation yet
ID_LENGTH = 100  # Upwork and awork ids
DISPLAY_TEXT = frozenset({"name", "title", "client_name", "first_name", "last_name", "user_name"})
Row = TypeVar("Row", bound=SQLModel)


def fitted(row: Row) -> Row:
    """The row with Upwork's display text cut to its columns (ending in "…"): a long contract title is stored, not
    refused by PostgreSQL (SQLite does not check lengths). An e-mail longer than its column cannot be a real address
    and is left out; ids are never cut (a cut id would name another record)."""
    for column in row.__table__.columns:  # type: ignore[attr-defined]  # every table model has one
        value, length = getattr(row, column.name), getattr(column.type, "length", None)
        if not (isinstance(value, str) and length and len(value) > length):
            continue
        if column.name in DISPLAY_TEXT:
            setattr(row, column.name, value[: length - 1] + "…")
        elif column.name == "email":
            setattr(row, column.name, None)
    return row


class UpworkConnection(SQLModel, table=True):
    """The Upwork login timebridge acts as; tokens are stored encrypted (`models.secrets`)."""

    __tablename__ = "upwork_connections"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=CONNECTED, max_length=40)
    user_id: str | None = Field(default=None, max_length=ID_LENGTH)
    user_name: str | None = Field(default=None, max_length=200)
    access_token: str | None = Field(default=None, sa_type=Text)  # encrypted
    refresh_token: str | None = Field(default=None, sa_type=Text)  # encrypted
    access_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    connected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UpworkOrganization(SQLModel, table=True):
    __tablename__ = "upwork_organizations"

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    name: str = Field(max_length=300)
    kind: str = Field(max_length=20)  # agency, client, freelancer
    selected: bool = False
    last_refresh_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_sync_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UpworkFreelancer(SQLModel, table=True):
    __tablename__ = "upwork_freelancers"

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    name: str = Field(max_length=300)  # as Upwork shows it: "John S."
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=300)


class UpworkContract(SQLModel, table=True):
    """A contract as one organisation sees it (agency and client of the same contract each have their own)."""

    __tablename__ = "upwork_contracts"

    organization_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    freelancer_id: str = Field(max_length=ID_LENGTH)
    title: str = Field(max_length=500)
    kind: str = Field(max_length=20)  # hourly, fixed
    status: str = Field(max_length=40)  # Upwork's: ACTIVE, PAUSED, ENDED, CANCELLED
    modified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # Upwork's `modifyDate`
    client_name: str | None = Field(default=None, max_length=300)
    start_date: date | None = None
    end_date: date | None = None
    currency: str | None = Field(default=None, max_length=3)


class UpworkRate(SQLModel, table=True):
    """One hourly term of a contract: the rate from `start_date` (to `end_date`, inclusive)."""

    __tablename__ = "upwork_rates"
    __table_args__ = (UniqueConstraint("contract_id", "start_date", name="uq_upwork_rates_contract_start"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(index=True, max_length=ID_LENGTH)
    hourly_rate: Decimal = Field(sa_column=Column(Money(12, 2), nullable=False))
    currency: str = Field(max_length=3)
    start_date: date
    end_date: date | None = None


class UpworkUserMapping(SQLModel, table=True):
    """A freelancer of an organisation and the awork user their time goes to."""

    __tablename__ = "upwork_user_mappings"
    __table_args__ = (
        UniqueConstraint("organization_id", "freelancer_id", name="uq_upwork_user_mappings_org_freelancer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: str = Field(max_length=ID_LENGTH)
    freelancer_id: str = Field(max_length=ID_LENGTH)
    awork_user_id: str | None = Field(default=None, max_length=ID_LENGTH)
    state: str = Field(default=UNMAPPED, max_length=20)  # unmapped, suggested, confirmed
    reason: str | None = Field(default=None, max_length=300)  # why it was suggested
    locked: bool = False  # confirmed mappings are locked until explicitly unlocked
    sync_enabled: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UpworkContractMapping(SQLModel, table=True):
    """A contract and where its time goes in awork, at which pay and bill rate."""

    __tablename__ = "upwork_contract_mappings"

    organization_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    contract_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    awork_project_id: str | None = Field(default=None, max_length=ID_LENGTH)
    awork_task_id: str | None = Field(default=None, max_length=ID_LENGTH)
    awork_type_of_work_id: str | None = Field(default=None, max_length=ID_LENGTH)
    pay_rate: Decimal | None = Field(default=None, sa_column=Column(Money(12, 2), nullable=True))
    bill_rate: Decimal | None = Field(default=None, sa_column=Column(Money(12, 2), nullable=True))
    enabled: bool = False
    # when a sync brought the contract's history (the backfill's days): a contract that starts syncing without it
    # gets it once, on the next sync
    history_synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UpworkTimeEntry(SQLModel, table=True):
    """An awork time entry we created from Upwork: the Upwork interval it comes from (keyed by organisation,
    contract, freelancer, UTC day and interval start), what we wrote, and the pay and bill rate of its day.
    `awork_time_entry_id` is None while the create is under way (a crash leaves it so; the next run adopts or
    creates). `awork_updated_on` is awork's `updatedOn` after our last write: a later one means someone edited it."""

    __tablename__ = "upwork_time_entries"
    __table_args__ = (
        UniqueConstraint(
            "organization_id",
            "contract_id",
            "freelancer_id",
            "day",
            "interval_start",
            name="uq_upwork_time_entries_key",
        ),
        Index("ix_upwork_time_entries_contract_day", "organization_id", "contract_id", "day"),
        Index("ix_upwork_time_entries_awork_id", "awork_time_entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: str = Field(max_length=ID_LENGTH)
    contract_id: str = Field(max_length=ID_LENGTH)
    freelancer_id: str = Field(max_length=ID_LENGTH)
    day: date
    interval_start: datetime = Field(sa_type=UTCDateTime)
    awork_time_entry_id: str | None = Field(default=None, max_length=ID_LENGTH)
    awork_user_id: str = Field(max_length=ID_LENGTH)
    awork_project_id: str = Field(max_length=ID_LENGTH)
    awork_task_id: str | None = Field(default=None, max_length=ID_LENGTH)
    awork_type_of_work_id: str = Field(max_length=ID_LENGTH)
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    duration_seconds: int
    note: str | None = Field(default=None, sa_type=Text)
    source: str = Field(max_length=20)  # "diary" (merged 10-minute cells) or "daily total" (contractTimeReport)
    pay_rate: Decimal | None = Field(default=None, sa_column=Column(Money(12, 2), nullable=True))
    bill_rate: Decimal | None = Field(default=None, sa_column=Column(Money(12, 2), nullable=True))
    currency: str | None = Field(default=None, max_length=10)
    source_hash: str = Field(max_length=64)
    awork_updated_on: datetime | None = Field(default=None, sa_type=UTCDateTime)
    synced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True)
class SyncedEntry:
    """A synced entry with the names the reports show (None where the store does not know them)."""

    entry: UpworkTimeEntry
    organization_name: str | None
    contract_title: str | None
    contract_currency: str | None


class UpworkStore:
    """Reads and writes of the Upwork tables; tokens go through the cipher (never stored in plain text)."""

    def __init__(self, engine: Engine, cipher: TokenCipher | None) -> None:
        self.engine = engine
        self._cipher = cipher

    # connection and tokens ------------------------------------------------------------------------------------
    def connection(self) -> UpworkConnection | None:
        with Session(self.engine) as session:
            return session.exec(select(UpworkConnection).order_by(UpworkConnection.id)).first()  # type: ignore[arg-type]

    def load(self) -> TokenSet | None:
        """The current tokens (TokenKeeper), or None when not connected."""
        connection = self.connection()
        if connection is None or connection.status != CONNECTED:
            return None
        return _tokens(connection, self._require_cipher())

    def save(self, tokens: TokenSet, user_id: str | None = None, user_name: str | None = None) -> None:
        """Store new tokens (a new connection, or who it acts as): the connection is usable again."""
        with self.locked_tokens() as stored:
            stored.save(tokens, user_id, user_name)

    @contextmanager
    def locked_tokens(self) -> Iterator[LockedConnection]:
        """The connection row for a token refresh (TokenKeeper), locked until the block ends: a lock per database in
        this process, then one transaction holding the row (PostgreSQL: `SELECT ... FOR UPDATE`) or the database
        (SQLite: `BEGIN IMMEDIATE`), so refreshes of threads and processes happen one after the other."""
        cipher = self._require_cipher()
        with _process_lock(self.engine), Session(self.engine) as session:
            if self.engine.dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            query = select(UpworkConnection).order_by(UpworkConnection.id).with_for_update()  # type: ignore[arg-type]
            yield LockedConnection(session, session.exec(query).first(), cipher)

    def disconnect(self) -> None:
        """Stop syncing: forget the tokens; organisations, contracts, mappings and synced entries stay."""
        self._set_status(DISCONNECTED)

    def _set_status(self, status: str) -> None:
        with Session(self.engine) as session:
            row = session.exec(select(UpworkConnection)).first()
            if row is None:
                return
            row.status = status
            if status == DISCONNECTED:
                row.access_token = row.refresh_token = None
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    def _require_cipher(self) -> TokenCipher:
        if self._cipher is None:
            raise SecretKeyError("set TIMEBRIDGE_SECRET_KEY (any long random string) to store Upwork tokens encrypted")
        return self._cipher

    # organisations, contracts, freelancers, rates -------------------------------------------------------------
    def organizations(self) -> list[UpworkOrganization]:
        with Session(self.engine) as session:
            return list(session.exec(select(UpworkOrganization).order_by(UpworkOrganization.name)))

    def save_organizations(self, found: Sequence[UpworkOrganization]) -> None:
        """Insert new organisations (selected by default) and refresh names and kinds; selection stays."""
        with Session(self.engine) as session:
            for organization in found:
                row = session.get(UpworkOrganization, organization.id)
                if row is None:
                    row = UpworkOrganization(
                        id=organization.id, name=organization.name, kind=organization.kind, selected=True
                    )
                row.name, row.kind = organization.name, organization.kind
                session.add(fitted(row))
            session.commit()

    def select_organizations(self, ids: Sequence[str], selected: bool) -> list[str]:
        """(De)select organisations for sync; returns the ids not found."""
        missing = []
        with Session(self.engine) as session:
            for organization_id in ids:
                row = session.get(UpworkOrganization, organization_id)
                if row is None:
                    missing.append(organization_id)
                    continue
                row.selected = selected
                session.add(row)
            session.commit()
        return missing

    def mark_refreshed(self, organization_id: str) -> None:
        self._stamp(organization_id, "last_refresh_at")

    def mark_synced(self, organization_id: str) -> None:
        self._stamp(organization_id, "last_sync_at")

    def _stamp(self, organization_id: str, column: str) -> None:
        with Session(self.engine) as session:
            row = session.get(UpworkOrganization, organization_id)
            if row:
                setattr(row, column, utcnow())
                session.add(row)
                session.commit()

    def save_contracts(
        self,
        contracts: Sequence[UpworkContract],
        freelancers: Sequence[UpworkFreelancer],
        rates: Sequence[UpworkRate],
    ) -> None:
        """Upsert contracts, freelancers and rate history (by contract and start date), in one transaction."""
        with Session(self.engine) as session:
            for record in [*contracts, *freelancers]:
                session.merge(fitted(record))
            for rate in rates:
                existing = session.exec(
                    select(UpworkRate).where(
                        UpworkRate.contract_id == rate.contract_id, UpworkRate.start_date == rate.start_date
                    )
                ).first()
                row = existing or UpworkRate(
                    contract_id=rate.contract_id,
                    start_date=rate.start_date,
                    hourly_rate=rate.hourly_rate,
                    currency=rate.currency,
                )
                row.hourly_rate, row.currency, row.end_date = rate.hourly_rate, rate.currency, rate.end_date
                session.add(row)
            session.commit()

    def contracts(self, organization_id: str | None = None) -> list[UpworkContract]:
        query = select(UpworkContract).order_by(UpworkContract.organization_id, UpworkContract.title)
        if organization_id:
            query = query.where(UpworkContract.organization_id == organization_id)
        with Session(self.engine) as session:
            return list(session.exec(query))

    def freelancers(self) -> dict[str, UpworkFreelancer]:
        with Session(self.engine) as session:
            return {f.id: f for f in session.exec(select(UpworkFreelancer))}

    def rates(self, contract_id: str) -> list[UpworkRate]:
        return self.rates_of([contract_id])

    def rates_of(self, contract_ids: Sequence[str]) -> list[UpworkRate]:
        """The rate history of these contracts, in one query."""
        query = select(UpworkRate).where(UpworkRate.contract_id.in_(list(contract_ids)))  # type: ignore[attr-defined]
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(UpworkRate.contract_id), col(UpworkRate.start_date))))

    # mappings ----------------------------------------------------------------------------------------------------
    def user_mappings(self, organization_id: str | None = None) -> list[UpworkUserMapping]:
        query = select(UpworkUserMapping).order_by(UpworkUserMapping.organization_id, UpworkUserMapping.freelancer_id)
        if organization_id:
            query = query.where(UpworkUserMapping.organization_id == organization_id)
        with Session(self.engine) as session:
            return list(session.exec(query))

    def user_mapping(self, organization_id: str, freelancer_id: str) -> UpworkUserMapping | None:
        with Session(self.engine) as session:
            return session.exec(
                select(UpworkUserMapping).where(
                    UpworkUserMapping.organization_id == organization_id,
                    UpworkUserMapping.freelancer_id == freelancer_id,
                )
            ).first()

    def save_user_mapping(self, mapping: UpworkUserMapping) -> None:
        mapping.updated_at = utcnow()
        with Session(self.engine) as session:
            session.merge(mapping)
            session.commit()

    def contract_mappings(self) -> dict[tuple[str, str], UpworkContractMapping]:
        """Contract mappings by (organisation, contract)."""
        with Session(self.engine) as session:
            return {(m.organization_id, m.contract_id): m for m in session.exec(select(UpworkContractMapping))}

    def save_contract_mapping(self, mapping: UpworkContractMapping) -> None:
        mapping.updated_at = utcnow()
        with Session(self.engine) as session:
            session.merge(mapping)
            session.commit()

    def mark_history(self, contracts: Sequence[tuple[str, str]]) -> None:
        """Record that a sync brought the history of these (organisation, contract)s."""
        with Session(self.engine) as session:
            for key in contracts:
                mapping = session.get(UpworkContractMapping, key)
                if mapping is not None:
                    mapping.history_synced_at = utcnow()
                    session.add(mapping)
            session.commit()

    # time entries ------------------------------------------------------------------------------------------------
    def time_entries(
        self,
        organization_id: str | None = None,
        contract_ids: Sequence[str] | None = None,
        days: tuple[date, date] | None = None,
    ) -> list[UpworkTimeEntry]:
        """Our Upwork entries, optionally of an organisation, some contracts, and a range of UTC days."""
        query = select(UpworkTimeEntry).order_by(col(UpworkTimeEntry.start))
        if organization_id:
            query = query.where(UpworkTimeEntry.organization_id == organization_id)
        if contract_ids is not None:
            query = query.where(UpworkTimeEntry.contract_id.in_(list(contract_ids)))  # type: ignore[attr-defined]
        if days:
            query = query.where(UpworkTimeEntry.day >= days[0], UpworkTimeEntry.day <= days[1])
        with Session(self.engine) as session:
            return list(session.exec(query))

    def synced_entries(self, first_day: date, last_day: date) -> list[SyncedEntry]:
        """The entries awork has (synced) on the UTC days `first_day`..`last_day`, with their organisation's name
        and their contract's title and currency where the store knows them."""
        entry, contract, organization = UpworkTimeEntry, UpworkContract, UpworkOrganization
        query = (
            select(entry, col(organization.name), col(contract.title), col(contract.currency))
            .outerjoin(
                contract,
                (col(contract.organization_id) == col(entry.organization_id))
                & (col(contract.id) == col(entry.contract_id)),
            )
            .outerjoin(organization, col(organization.id) == col(entry.organization_id))
            .where(col(entry.awork_time_entry_id).is_not(None), col(entry.day) >= first_day, col(entry.day) <= last_day)
            .order_by(col(entry.start))
        )
        with Session(self.engine) as session:
            return [
                SyncedEntry(entry=row, organization_name=name, contract_title=title, contract_currency=currency)
                for row, name, title, currency in session.exec(query)
            ]

    def save_time_entries(self, entries: Sequence[UpworkTimeEntry]) -> list[UpworkTimeEntry]:
        """Insert or update entries in one transaction; returns them with their ids."""
        with Session(self.engine) as session:
            merged = [session.merge(entry) for entry in entries]
            session.commit()
            for entry in merged:
                session.refresh(entry)
            return merged

    def delete_time_entries(self, ids: Sequence[int]) -> None:
        with Session(self.engine) as session:
            for row_id in ids:
                row = session.get(UpworkTimeEntry, row_id)
                if row is not None:
                    session.delete(row)
            session.commit()


class LockedConnection:
    """The connection row inside the transaction of `UpworkStore.locked_tokens` (LockedTokens); a write commits
    it and so ends the lock."""

    def __init__(self, session: Session, row: UpworkConnection | None, cipher: TokenCipher) -> None:
        self._session, self._row, self._cipher = session, row, cipher

    @property
    def tokens(self) -> TokenSet | None:
        return _tokens(self._row, self._cipher)

    def save(self, tokens: TokenSet, user_id: str | None = None, user_name: str | None = None) -> None:
        """Store new (rotated) tokens: the connection is usable again."""
        row = self._row or UpworkConnection(connected_at=utcnow())
        if row.status != CONNECTED:
            row.connected_at = utcnow()
        row.status = CONNECTED
        row.access_token = self._cipher.encrypt(tokens.access_token)
        row.refresh_token = self._cipher.encrypt(tokens.refresh_token)
        row.access_expires_at = tokens.expires_at
        row.user_id = user_id or row.user_id
        row.user_name = user_name or row.user_name
        row.updated_at = utcnow()
        self._session.add(fitted(row))
        self._session.commit()

    def needs_reauthorization(self, refused: SecretStr) -> None:
        """Upwork refused this refresh token: mark the connection, unless the stored refresh token is another one by
        now (compare-and-set); tokens, mappings and entries stay."""
        row, current = self._row, self.tokens
        if row is None or current is None or current.refresh_token.get_secret_value() != refused.get_secret_value():
            return
        row.status = NEEDS_REAUTHORIZATION
        row.updated_at = utcnow()
        self._session.add(row)
        self._session.commit()


_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(engine: Engine) -> threading.Lock:
    """One lock per database in this process: threads queue here rather than in the database."""
    with _process_locks_guard:
        return _process_locks.setdefault(str(engine.url), threading.Lock())


def _tokens(row: UpworkConnection | None, cipher: TokenCipher) -> TokenSet | None:
    if row is None or row.status != CONNECTED or not row.refresh_token:
        return None
    return TokenSet(
        access_token=cipher.decrypt(row.access_token or ""),
        refresh_token=cipher.decrypt(row.refresh_token),
        expires_at=_aware(row.access_expires_at),
    )


def _aware(moment: datetime | None) -> datetime:
    """A stored expiry (already aware UTC: `UTCDateTime`), or the epoch when none is stored (expired)."""
    return datetime.fromtimestamp(0, UTC) if moment is None else moment
