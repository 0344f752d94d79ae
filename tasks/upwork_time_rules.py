"""The rules of Upwork time in awork, as pure functions: diary cells merged into intervals, daily totals where the
diary is missing, which weeks are still open, the rates of a day, and what changes for a contract's day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from connectors.upwork import DiaryCell, TimeReportRow
from models.plans import DAILY_TOTAL, DayChanges, Interval, content_hash
from models.store import IssueDraft
from models.upwork_store import (
    UpworkContract,
    UpworkContractMapping,
    UpworkOrganization,
    UpworkRate,
    UpworkTimeEntry,
    UpworkUserMapping,
)
from tasks.upwork_rules import CLIENT, EARLIEST, FREEZE, RatePeriod, contract_stop, mapping_sync_state, rate_on

CELL = timedelta(minutes=10)


def entry_note(task: str | None, memo: str | None) -> str | None:
    """The awork note of Upwork work: "task: memo", either alone, or None."""
    parts = [part.strip() for part in (task, memo) if part and part.strip()]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return ": ".join(parts) or None


def merge_cells(cells: Sequence[DiaryCell]) -> list[Interval]:
    """Consecutive 10-minute cells with the same memo and task become one interval (a gap, or another memo or
    task, starts a new one)."""
    intervals: list[Interval] = []
    for cell in sorted(cells, key=lambda c: c.start):
        start = cell.start.astimezone(UTC)
        note = entry_note(cell.task, cell.memo)
        last = intervals[-1] if intervals else None
        if last and last.end == start and last.note == note:
            intervals[-1] = Interval(last.start, last.seconds + int(CELL.total_seconds()), note)
        else:
            intervals.append(Interval(start, int(CELL.total_seconds()), note))
    return intervals


def daily_total_intervals(rows: Sequence[TimeReportRow], day: date, zone: ZoneInfo, start_hour: int) -> list[Interval]:
    """Where the diary is not available: each daily row of `contractTimeReport` becomes one interval, stacked one
    after the other from `start_hour` local time (Upwork gives no times of day for them)."""
    start = datetime.combine(day, time(start_hour), tzinfo=zone).astimezone(UTC)
    intervals = []
    for row in rows:
        seconds = round(row.hours * 3600)
        if seconds <= 0:
            continue
        intervals.append(Interval(start, seconds, entry_note(row.task_description, row.memo), DAILY_TOTAL))
        start += timedelta(seconds=seconds)
    return intervals


def open_weeks(now: datetime) -> tuple[date, date]:
    """The Upwork days the hourly sync re-reads: the current week, and the previous one until it freezes on
    Monday 12:00 UTC."""
    now = now.astimezone(UTC)
    monday = now.date() - timedelta(days=now.weekday())
    if now.weekday() == 0 and now.time() < FREEZE:
        monday -= timedelta(days=7)
    return monday, now.date()


def day_windows(first_day: date, last_day: date, days: int) -> list[tuple[date, date]]:
    """The range split into windows of at most `days` days (inclusive bounds)."""
    windows = []
    start = first_day
    while start <= last_day:
        end = min(start + timedelta(days=days - 1), last_day)
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows


def rates_on_day(
    organization_kind: str,
    history: Sequence[RatePeriod],
    pay_rate: Decimal | None,
    bill_rate: Decimal | None,
    day: date,
) -> tuple[Decimal | None, Decimal | None]:
    """(pay rate, bill rate) in effect on a day. The Upwork side comes from the contract's rate history (a client
    pays the Upwork rate, an agency or freelancer bills it); the other side is the rate set on the mapping. Without
    history for the day, the mapping's rate stands for both."""
    upwork_rate = rate_on(history, day)
    if organization_kind == CLIENT:
        return upwork_rate or pay_rate, bill_rate
    return pay_rate, upwork_rate or bill_rate


class ContractTarget(BaseModel):
    """A syncing contract of an organisation and where its time goes in awork, with what its rates need."""

    organization_id: str
    organization_kind: str
    contract_id: str
    title: str
    freelancer_id: str
    awork_user_id: str
    awork_project_id: str
    awork_task_id: str | None = None
    awork_type_of_work_id: str
    pay_rate: Decimal | None = None
    bill_rate: Decimal | None = None
    currency: str | None = None
    rate_history: list[tuple[Decimal, date, date | None]] = []
    last_day: date | None = None  # a paused, ended or cancelled contract: the end of the week it stopped in
    has_history: bool = True  # False until a sync brought its history (the backfill's days)

    def syncs_on(self, day: date) -> bool:
        """Whether the contract's time of this UTC day syncs (none after the week it stopped in)."""
        return self.last_day is None or day <= self.last_day

    def rates_on(self, day: date) -> tuple[Decimal | None, Decimal | None]:
        history = [RatePeriod(rate, start, end) for rate, start, end in self.rate_history]
        return rates_on_day(self.organization_kind, history, self.pay_rate, self.bill_rate, day)


def contract_targets(
    organizations: Sequence[UpworkOrganization],
    contracts: Sequence[UpworkContract],
    contract_mappings: dict[tuple[str, str], UpworkContractMapping],
    user_mappings: Sequence[UpworkUserMapping],
    rates: Sequence[UpworkRate],
    default_type_of_work_id: str | None,
) -> tuple[list[ContractTarget], list[IssueDraft]]:
    """The contracts whose time syncs, with their awork target (a paused, ended or cancelled one up to the end of
    the week it stopped in: its `last_day`). A contract given a project but whose freelancer is not confirmed, or
    which has no type of work, is an issue; so is a contract enabled in two organisations (the agency or freelancer
    side syncs it, not the client side, so its hours do not double)."""
    kinds = {o.id: o.kind for o in organizations}
    users = {(m.organization_id, m.freelancer_id): m for m in user_mappings}
    targets: dict[str, ContractTarget] = {}
    issues = []
    vendor_side_first = sorted(contracts, key=lambda c: (kinds.get(c.organization_id) == CLIENT, c.organization_id))
    for contract in vendor_side_first:
        mapping = contract_mappings.get((contract.organization_id, contract.id))
        user = users.get((contract.organization_id, contract.freelancer_id))
        if contract.organization_id not in kinds or mapping is None:
            continue
        syncs, reason = mapping_sync_state(contract, mapping, user, now=EARLIEST)  # `last_day` clips a stop
        ref = f"upwork contract {contract.organization_id}/{contract.id}"
        awork_user_id = user.awork_user_id if user else None
        if not (syncs and awork_user_id and mapping.awork_project_id):  # syncing implies both ids
            if mapping.enabled and mapping.awork_project_id and reason.startswith("freelancer not mapped"):
                issues.append(
                    IssueDraft(
                        kind="unmapped freelancer",
                        object_ref=ref,
                        message=f"{contract.title}: "
                        f"{reason}; confirm one with `timebridge upwork map-user {contract.freelancer_id} "
                        f"--org {contract.organization_id}`",
                    )
                )
            continue
        type_of_work = mapping.awork_type_of_work_id or default_type_of_work_id
        if type_of_work is None:
            issues.append(
                IssueDraft(
                    kind="no type of work",
                    object_ref=ref,
                    message=f"{contract.title}: choose a type of work with "
                    "`timebridge upwork map-contract --type-of-work`, or create the default one in awork",
                )
            )
            continue
        if contract.id in targets:
            issues.append(
                IssueDraft(
                    kind="contract enabled twice",
                    object_ref=ref,
                    message=f"{contract.title} is "
                    f"enabled in organisations {targets[contract.id].organization_id} and {contract.organization_id}; "
                    f"its time syncs via {targets[contract.id].organization_id} only; disable one of them",
                )
            )
            continue
        stop = contract_stop(contract.status, contract.end_date, contract.modified_at)
        targets[contract.id] = ContractTarget(
            organization_id=contract.organization_id,
            organization_kind=kinds[contract.organization_id],
            contract_id=contract.id,
            title=contract.title,
            freelancer_id=contract.freelancer_id,
            awork_user_id=awork_user_id,
            awork_project_id=mapping.awork_project_id,
            awork_task_id=mapping.awork_task_id,
            awork_type_of_work_id=type_of_work,
            pay_rate=mapping.pay_rate,
            bill_rate=mapping.bill_rate,
            currency=contract.currency,
            rate_history=[(r.hourly_rate, r.start_date, r.end_date) for r in rates if r.contract_id == contract.id],
            last_day=stop.last_day if stop else None,
            has_history=mapping.history_synced_at is not None,
        )
    return list(targets.values()), issues


class UpworkWindow(BaseModel):
    """A window of days of one organisation and the contracts synced in it (one Prefect task)."""

    organization_id: str
    organization_name: str
    first_day: date
    last_day: date
    targets: list[ContractTarget]


def sync_windows(
    targets: Sequence[ContractTarget],
    names: dict[str, str],
    days: tuple[date, date],
    window_days: int,
    history_first: date | None = None,
) -> list[UpworkWindow]:
    """The windows of a run: the days `days` of every target, and (from `history_first`, up to the day before) the
    history of the targets that have none yet; each window with the targets that still sync on its first day and
    only when it has any."""
    first_day, last_day = days
    ranges = [(day_windows(first_day, last_day, window_days), False)]
    if history_first is not None:
        ranges.append((day_windows(history_first, first_day - timedelta(days=1), window_days), True))
    windows = []
    for organization_id in sorted({t.organization_id for t in targets}, key=lambda o: names.get(o, o)):
        for windows_of_range, history in ranges:
            for first, last in windows_of_range:
                syncing = [
                    t
                    for t in targets
                    if t.organization_id == organization_id and t.syncs_on(first) and not (history and t.has_history)
                ]
                if syncing:
                    name = names.get(organization_id, organization_id)
                    windows.append(
                        UpworkWindow(
                            organization_id=organization_id,
                            organization_name=name,
                            first_day=first,
                            last_day=last,
                            targets=syncing,
                        )
                    )
    return windows


def interval_hash(interval: Interval) -> str:
    """What an entry takes from Upwork (start, duration, note): an unchanged hash means no awork write."""
    return content_hash(interval.start.isoformat(), interval.seconds, interval.note)


def draft_entry(target: ContractTarget, day: date, interval: Interval) -> UpworkTimeEntry:
    """The entry an interval should become, with the contract's current mapping and the rates of its day."""
    pay, bill = target.rates_on(day)
    return UpworkTimeEntry(
        organization_id=target.organization_id,
        contract_id=target.contract_id,
        freelancer_id=target.freelancer_id,
        day=day,
        interval_start=interval.start,
        awork_user_id=target.awork_user_id,
        awork_project_id=target.awork_project_id,
        awork_task_id=target.awork_task_id,
        awork_type_of_work_id=target.awork_type_of_work_id,
        start=interval.start,
        end=interval.end,
        duration_seconds=interval.seconds,
        note=interval.note,
        source=interval.source,
        pay_rate=pay,
        bill_rate=bill,
        currency=target.currency,
        source_hash=interval_hash(interval),
    )


def plan_day(drafts: Sequence[UpworkTimeEntry], stored: Sequence[UpworkTimeEntry]) -> DayChanges:
    """Compare a contract's day as Upwork has it now (`drafts`) with the entries we keep for it (`stored`),
    interval by interval (keyed by the interval's start)."""
    changes = DayChanges()
    kept = {as_utc(e.interval_start): e for e in stored}
    for draft in drafts:
        current = kept.pop(as_utc(draft.interval_start), None)
        if current is None:
            changes.create.append(draft)
        elif current.awork_time_entry_id is None:
            changes.resume.append(_carry(current, draft))
        elif current.source_hash != draft.source_hash:
            changes.update.append(_carry(current, draft))
        elif (current.pay_rate, current.bill_rate) != (draft.pay_rate, draft.bill_rate):
            changes.rates.append(_carry(current, draft))
        else:
            changes.unchanged += 1
    changes.delete = list(kept.values())
    return changes


def _carry(current: UpworkTimeEntry, draft: UpworkTimeEntry) -> UpworkTimeEntry:
    """The stored entry with Upwork's new interval and rates; its awork target stays."""
    upwork_fields = ("start", "end", "duration_seconds", "note", "source", "pay_rate", "bill_rate", "source_hash")
    return UpworkTimeEntry(**(current.model_dump() | {name: getattr(draft, name) for name in upwork_fields}))


def as_utc(moment: datetime) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite gives them back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
