"""Prefect tasks that bring Upwork time into awork: which contracts sync, and one organisation's window of days
read from Upwork (work diary, else daily totals), compared with our entries and applied to awork."""

from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from connectors.awork import AworkClient, AworkTimeEntry, AworkTimeEntryForm
from connectors.http import ClientError, NotFoundError
from connectors.upwork import TimeReportRow
from models.plans import DayChanges, RunResult
from models.settings import Settings, get_settings
from models.store import IssueDraft, utcnow
from models.upwork_store import UpworkContract, UpworkStore, UpworkTimeEntry
from tasks.idempotent import create_once
from tasks.shared import RETRY, upwork_client, upwork_store
from tasks.upwork_time_rules import (
    ContractTarget,
    UpworkWindow,
    as_utc,
    contract_targets,
    daily_total_intervals,
    draft_entry,
    merge_cells,
    plan_day,
)

SAVE_EVERY = 50  # created entries recorded per store transaction (a crash leaves at most this many to adopt)


class UpworkTargets(RunResult):
    """The syncing contracts, by organisation, and the issues of those that cannot sync."""

    by_organization: dict[str, list[ContractTarget]] = {}
    checked_refs: list[str] = []


class UpworkTimeResult(RunResult):
    """What a window did (or, in a dry run, would do)."""

    contract_days: int = 0
    entries_created: int = 0
    entries_updated: int = 0
    entries_deleted: int = 0
    entries_unchanged: int = 0
    rates_updated: int = 0
    days_held: int = 0
    checked_refs: list[str] = []


def contract_ref(contract: UpworkContract) -> str:
    return f"upwork contract {contract.organization_id}/{contract.id}"


def day_ref(organization_id: str, contract_id: str, day: date) -> str:
    return f"upwork contract {organization_id}/{contract_id} day {day.isoformat()}"


@task(name="read-upwork-targets", cache_policy=NO_CACHE, **RETRY)
def read_upwork_targets(organization_ids: list[str] | None) -> UpworkTargets:
    """The selected organisations' syncing contracts (from the store) and the awork type of work to default to."""
    settings = get_settings()
    store = upwork_store(settings)
    organizations = [
        o for o in store.organizations() if o.selected and (organization_ids is None or o.id in organization_ids)
    ]
    with AworkClient.from_settings(settings) as awork:
        default = next((t.id for t in awork.types_of_work() if t.name == settings.upwork_type_of_work), None)
    contracts = [c for o in organizations for c in store.contracts(o.id)]
    rates = store.rates_of(sorted({c.id for c in contracts}))
    targets, issues = contract_targets(
        organizations, contracts, store.contract_mappings(), store.user_mappings(), rates, default
    )
    by_organization: dict[str, list[ContractTarget]] = {o.id: [] for o in organizations}
    for target in targets:
        by_organization[target.organization_id].append(target)
    return UpworkTargets(
        by_organization=by_organization, issues=issues, checked_refs=[contract_ref(c) for c in contracts]
    )


@task(
    name="sync-upwork-window",
    cache_policy=NO_CACHE,
    task_run_name="{window.organization_name}: {window.first_day} to {window.last_day}",
    **RETRY,
)
def sync_upwork_window(window: UpworkWindow, dry_run: bool) -> UpworkTimeResult:
    """One organisation's window of days: read its syncing contracts' time from Upwork, plan each contract's day
    against our entries, and apply the changes to awork (not in a dry run)."""
    organization_id, first_day, last_day = window.organization_id, window.first_day, window.last_day
    settings = get_settings()
    store = upwork_store(settings)
    by_contract = {t.contract_id: t for t in window.targets}

    def syncs(contract_id: str, day: date) -> bool:
        return contract_id in by_contract and by_contract[contract_id].syncs_on(day)

    with upwork_client(settings, store) as upwork:
        worked: dict[tuple[str, date], list[TimeReportRow]] = defaultdict(list)
        for row in upwork.time_report(organization_id, first_day, last_day, sorted(by_contract)):
            if syncs(row.contract.id, row.date_worked_on) and row.hours > 0:
                worked[(row.contract.id, row.date_worked_on)].append(row)
        diaries = upwork.work_diaries(organization_id, sorted(worked))
    stored: dict[tuple[str, date], list[UpworkTimeEntry]] = defaultdict(list)
    for entry in store.time_entries(organization_id, sorted(by_contract), (first_day, last_day)):
        if syncs(entry.contract_id, entry.day):  # entries after a contract stopped are left as they are
            stored[(entry.contract_id, entry.day)].append(entry)
    zone = ZoneInfo(settings.timezone)
    plans: dict[tuple[str, date], DayChanges] = {}
    for contract_id, day in sorted(set(worked) | set(stored)):
        intervals = merge_cells(diaries.get((contract_id, day), [])) or daily_total_intervals(
            worked.get((contract_id, day), []), day, zone, settings.upwork_daily_total_start_hour
        )
        drafts = [draft_entry(by_contract[contract_id], day, interval) for interval in intervals]
        plans[(contract_id, day)] = plan_day(drafts, stored.get((contract_id, day), []))
    result = UpworkTimeResult(
        contract_days=len(worked),
        checked_refs=[day_ref(organization_id, contract_id, day) for contract_id, day in plans],
    )
    if dry_run:
        for changes in plans.values():
            result = result.merge(_planned(changes))
        return result
    applied = DayApplier(settings, store, organization_id).apply(plans)
    get_run_logger().info(
        "%s %s..%s: %s",
        window.organization_name,
        first_day,
        last_day,
        {**applied.counts(), "issues": len(applied.issues)},
    )
    return result.merge(applied)


def _planned(changes: DayChanges) -> UpworkTimeResult:
    return UpworkTimeResult(
        entries_created=len(changes.create) + len(changes.resume),
        entries_updated=len(changes.update),
        entries_deleted=len(changes.delete),
        entries_unchanged=changes.unchanged,
        rates_updated=len(changes.rates),
    )


class DayApplier:
    """Applies planned days to awork and the store: a day whose entries someone changed in awork since we wrote
    them is held (a sync issue, nothing overwritten); deletions and updates first, then creations, recorded before
    (pending) and after (with the awork id), so a crash in between is adopted, not doubled, on the next run."""

    def __init__(self, settings: Settings, store: UpworkStore, organization_id: str) -> None:
        self.settings = settings
        self.store = store
        self.organization_id = organization_id
        self.current: dict[str, AworkTimeEntry] = {}  # awork's view of the entries about to be updated

    def apply(self, plans: dict[tuple[str, date], DayChanges]) -> UpworkTimeResult:
        result = UpworkTimeResult()
        creates: list[UpworkTimeEntry] = []
        resumes: list[UpworkTimeEntry] = []
        with AworkClient.from_settings(self.settings) as awork:
            for (contract_id, day), changes in plans.items():
                if changes.touches_awork_entries:
                    issue = self._edited_in_awork(awork, changes, day_ref(self.organization_id, contract_id, day))
                    if issue:
                        result = result.merge(UpworkTimeResult(days_held=1, issues=[issue]))
                        continue
                result = result.merge(self._change(awork, changes))
                creates += changes.create
                resumes += changes.resume
            result = result.merge(self._create(awork, creates, resumes))
        return result

    def _edited_in_awork(self, awork: AworkClient, changes: DayChanges, ref: str) -> IssueDraft | None:
        """A sync issue when an entry of the day we would change was edited, billed or deleted in awork."""
        for entry in changes.update + changes.delete:
            if not entry.awork_time_entry_id:
                continue
            try:
                current = awork.time_entry(entry.awork_time_entry_id)
            except NotFoundError:
                return _held(ref, f"awork entry {entry.awork_time_entry_id} was deleted in awork")
            if current.updated_on and entry.awork_updated_on and current.updated_on > as_utc(entry.awork_updated_on):
                return _held(
                    ref, f"awork entry {entry.awork_time_entry_id} was edited in awork on {current.updated_on}"
                )
            if current.is_billed:
                return _held(ref, f"awork entry {entry.awork_time_entry_id} is billed")
            self.current[current.id] = current
        return None

    def _change(self, awork: AworkClient, changes: DayChanges) -> UpworkTimeResult:
        for entry in changes.delete:
            if entry.awork_time_entry_id:
                with suppress(NotFoundError):  # already gone: the outcome we want
                    awork.delete_time_entry(entry.awork_time_entry_id)
        if changes.delete:
            self.store.delete_time_entries([e.id for e in changes.delete if e.id is not None])
        updated = []
        for entry in changes.update:
            current = self.current[entry.awork_time_entry_id or ""]
            written = awork.update_time_entry(current.id, _form(entry, current.timezone, current))
            updated.append(_written(entry, written))
        self.store.save_time_entries(updated + changes.rates)
        return UpworkTimeResult(
            entries_deleted=len(changes.delete),
            entries_updated=len(changes.update),
            rates_updated=len(changes.rates),
            entries_unchanged=changes.unchanged,
        )

    def _create(
        self, awork: AworkClient, creates: list[UpworkTimeEntry], resumes: list[UpworkTimeEntry]
    ) -> UpworkTimeResult:
        """Record the new entries as pending, then create each in awork (or adopt the one a crashed run created)."""
        pending = self.store.save_time_entries(creates) + resumes
        found = _EntryFinder(awork, self.store, {e.id for e in resumes})
        result = UpworkTimeResult()
        done: list[UpworkTimeEntry] = []
        for entry in pending:
            form = _form(entry, self.settings.timezone)
            try:
                written = (
                    found.adopt(entry)
                    or create_once(
                        partial(awork.create_time_entry, form),
                        partial(found.search, entry, fresh=True),
                    )[0]
                )
            except ClientError as error:  # awork refused this one entry: report it, go on
                self.store.delete_time_entries([entry.id] if entry.id else [])
                ref = day_ref(entry.organization_id, entry.contract_id, entry.day)
                result.issues.append(IssueDraft(kind="awork refused entry", object_ref=ref, message=str(error)))
                continue
            done.append(_written(entry, written))
            if len(done) >= SAVE_EVERY:
                self.store.save_time_entries(done)
                result.entries_created += len(done)
                done = []
        self.store.save_time_entries(done)
        result.entries_created += len(done)
        return result


class _EntryFinder:
    """Finds the awork entry a create left without an answer (or a crashed run left unrecorded): same user,
    project, start and duration, not recorded for another interval. Reads a day's entries once for the creates a
    crashed run left, and afresh after each lost answer."""

    def __init__(self, awork: AworkClient, store: UpworkStore, resumed_ids: set[int | None]) -> None:
        self.awork = awork
        self.store = store
        self.resumed_ids = resumed_ids
        self.days: dict[date, list[AworkTimeEntry]] = {}

    def adopt(self, entry: UpworkTimeEntry) -> AworkTimeEntry | None:
        """The awork entry of a create a crashed run left unrecorded, if it got that far."""
        return self.search(entry) if entry.id in self.resumed_ids else None

    def search(self, entry: UpworkTimeEntry, fresh: bool = False) -> AworkTimeEntry | None:
        start = as_utc(entry.start)
        day = start.date()
        if fresh or day not in self.days:
            first = datetime.combine(day, time(), tzinfo=UTC)
            self.days[day] = self.awork.time_entries(starting_from=first, starting_before=first + timedelta(days=1))
        recorded = {e.awork_time_entry_id for e in self.store.time_entries(entry.organization_id, days=(day, day))}
        for candidate in self.days[day]:
            if (
                candidate.id not in recorded
                and candidate.user_id == entry.awork_user_id
                and candidate.project_id == entry.awork_project_id
                and candidate.start_utc == start
                and candidate.duration == entry.duration_seconds
            ):
                return candidate
        return None


def _form(entry: UpworkTimeEntry, timezone: str, current: AworkTimeEntry | None = None) -> AworkTimeEntryForm:
    """The awork form of an entry; for an update, the fields we do not own keep their current values."""
    return AworkTimeEntryForm(
        user_id=entry.awork_user_id,
        project_id=entry.awork_project_id,
        task_id=entry.awork_task_id,
        type_of_work_id=entry.awork_type_of_work_id,
        note=entry.note,
        start=as_utc(entry.start),
        duration=entry.duration_seconds,
        timezone=timezone,
        is_billable=current.is_billable if current else None,
        is_billed=current.is_billed if current else None,
    )


def _written(entry: UpworkTimeEntry, written: AworkTimeEntry) -> UpworkTimeEntry:
    entry.awork_time_entry_id = written.id
    entry.awork_updated_on = written.updated_on
    entry.synced_at = utcnow()  # when we wrote it: real time, compared with awork's updatedOn
    return entry


def _held(ref: str, why: str) -> IssueDraft:
    return IssueDraft(
        kind="edited in awork",
        object_ref=ref,
        message=f"Upwork changed this day, but {why} since timebridge wrote it; the day is left as it is in awork "
        "(correct it there by hand)",
    )
