"""Why an Upwork contract does (not) sync: the troubleshooting list, in order, as a pure function of what the store
knows about the contract (`ContractFacts`), and the read that gathers those facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from models.store import RunRecord, SyncIssue, open_store
from models.upwork_store import (
    CONFIRMED,
    CONNECTED,
    UpworkContract,
    UpworkContractMapping,
    UpworkOrganization,
    UpworkStore,
    UpworkUserMapping,
)
from tasks.upwork_rules import contract_stop
from tasks.upwork_times import contract_ref

UPWORK_FLOWS = ("sync-upwork", "backfill-upwork")
WINDOW_DAYS = 90  # the sync window of a backfill
RECENT_RUNS = 100  # how far back the last Upwork run is looked for


@dataclass(frozen=True)
class ContractFacts:
    """What the store knows about one contract of one organisation."""

    contract: UpworkContract
    organization: UpworkOrganization | None
    connection_status: str | None
    mapping: UpworkContractMapping | None
    freelancer: UpworkUserMapping | None
    window: tuple[date, date]
    synced_entries: int  # our entries of the contract in the window that awork has
    last_run: RunRecord | None  # the last sync-upwork or backfill-upwork run
    open_issues: Sequence[SyncIssue]  # open issues of this contract (or one of its days)


@dataclass(frozen=True)
class Condition:
    name: str
    holds: bool
    detail: str


def why(facts: ContractFacts) -> list[Condition]:
    """Every condition of the troubleshooting list, in order: organisation selected and connected, freelancer
    mapped and syncing, contract hourly, enabled, mapped to a project, active, entries in the window, last run,
    open sync issues."""
    contract, org, mapping, person = facts.contract, facts.organization, facts.mapping, facts.freelancer
    first, last = facts.window
    run = facts.last_run
    stop = contract_stop(contract.status, contract.end_date, contract.modified_at)
    return [
        Condition(
            "organisation selected and connected",
            bool(org and org.selected and facts.connection_status == CONNECTED),
            "unknown organisation; run `timebridge upwork refresh`"
            if org is None
            else f"{org.name} is {'selected' if org.selected else 'not selected (`upwork orgs --select`)'}, "
            f"Upwork {facts.connection_status or 'not connected'}",
        ),
        Condition(
            "freelancer mapped and syncing",
            bool(person and person.state == CONFIRMED and person.sync_enabled),
            "no mapping; run `timebridge upwork refresh`"
            if person is None
            else f"{person.state} -> {person.awork_user_id or 'nobody'}, sync {'on' if person.sync_enabled else 'off'}",
        ),
        Condition("contract hourly", contract.kind == "hourly", f"{contract.kind}"),
        Condition("enabled", bool(mapping and mapping.enabled), "yes" if mapping and mapping.enabled else "disabled"),
        Condition(
            "mapped to a project",
            bool(mapping and mapping.awork_project_id),
            f"awork project {mapping.awork_project_id}" if mapping and mapping.awork_project_id else "no awork project",
        ),
        Condition("active", stop is None, stop.reason if stop else "active"),
        Condition(
            "entries in the window",
            facts.synced_entries > 0,
            f"{facts.synced_entries} synced entries from {first} to {last}",
        ),
        Condition(
            "last run",
            run is not None and run.status != "failed",
            "no sync-upwork or backfill-upwork run yet"
            if run is None
            else f"{run.flow} {run.started_at:%Y-%m-%d %H:%M} UTC: {run.status}",
        ),
        Condition(
            "open sync issues",
            not facts.open_issues,
            "; ".join(f"{issue.kind}: {issue.message}" for issue in facts.open_issues) or "none",
        ),
    ]


def first_failing(conditions: Sequence[Condition]) -> Condition | None:
    return next((condition for condition in conditions if not condition.holds), None)


def read_facts(store: UpworkStore, database_url: str, contract: UpworkContract, today: date) -> ContractFacts:
    """Gather a contract's facts from the store and the last runs."""
    connection = store.connection()
    first = today - timedelta(days=WINDOW_DAYS)
    entries = store.time_entries(contract.organization_id, [contract.id], (first, today))
    runs = open_store(database_url)
    last_run = next((run for run in runs.recent_runs(RECENT_RUNS) if run.flow in UPWORK_FLOWS), None)
    ref = contract_ref(contract)
    day_prefix = f"{ref} day "
    return ContractFacts(
        contract=contract,
        organization=next((o for o in store.organizations() if o.id == contract.organization_id), None),
        connection_status=connection.status if connection else None,
        mapping=store.contract_mappings().get((contract.organization_id, contract.id)),
        freelancer=store.user_mapping(contract.organization_id, contract.freelancer_id),
        window=(first, today),
        synced_entries=sum(1 for entry in entries if entry.awork_time_entry_id),
        last_run=last_run,
        open_issues=[i for i in runs.open_issues() if i.object_ref == ref or i.object_ref.startswith(day_prefix)],
    )
