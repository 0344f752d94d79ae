"""The Upwork status view: per organisation and contract what is syncing, from the store (and awork's project
names), for `timebridge upwork status` and the table artifacts every Upwork run publishes."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from connectors.awork import AworkClient
from models import clock
from models.settings import get_settings
from models.upwork_store import (
    UpworkContract,
    UpworkContractMapping,
    UpworkFreelancer,
    UpworkOrganization,
    UpworkTimeEntry,
    UpworkUserMapping,
)
from tasks.shared import RETRY, upwork_store
from tasks.upwork_rules import mapping_sync_state
from tasks.upwork_time_rules import as_utc

RECENT = 10
Row = dict[str, str | int | float]  # column name -> value


class StatusView(BaseModel):
    """Rows of the status tables (column name -> value, all strings or numbers)."""

    organizations: list[Row] = []
    contracts: list[Row] = []
    recent_entries: list[Row] = []

    def tables(self) -> dict[str, list[Row]]:
        """The tables by title: organisations, the contracts of each organisation (without that column, so each
        table fits common widths), recent entries."""
        by_organization: dict[str, list[Row]] = {}
        for row in self.contracts:
            columns = {name: value for name, value in row.items() if name != "organisation"}
            by_organization.setdefault(f"contracts: {row['organisation']}", []).append(columns)
        return {"organisations": self.organizations, **by_organization, "recent entries": self.recent_entries}


def status_view(
    organizations: Sequence[UpworkOrganization],
    contracts: Sequence[UpworkContract],
    contract_mappings: dict[tuple[str, str], UpworkContractMapping],
    user_mappings: Sequence[UpworkUserMapping],
    freelancers: dict[str, UpworkFreelancer],
    entries: Sequence[UpworkTimeEntry],
    project_names: dict[str, str],
    today: date,
    now: datetime,
    zone: ZoneInfo,
) -> StatusView:
    """Per organisation: name, type, last refresh, last sync, active contracts. Per hourly contract: organisation,
    title, freelancer, awork project, whether it syncs at `now` (else why), hours synced today (UTC) and in all.
    The last 10 entries of each contract (local date and time, freelancer, hours). Only entries in awork count."""
    users = {(m.organization_id, m.freelancer_id): m for m in user_mappings}
    by_contract: dict[tuple[str, str], list[UpworkTimeEntry]] = defaultdict(list)
    for entry in entries:
        if entry.awork_time_entry_id:
            by_contract[(entry.organization_id, entry.contract_id)].append(entry)
    view = StatusView()
    for organization in organizations:
        own = [c for c in contracts if c.organization_id == organization.id]
        view.organizations.append(
            {
                "organisation": organization.name,
                "type": organization.kind,
                "last refresh": _when(organization.last_refresh_at, zone),
                "last sync": _when(organization.last_sync_at, zone),
                "active contracts": sum(1 for c in own if c.status == "ACTIVE"),
            }
        )
        for contract in own:
            if contract.kind != "hourly":
                continue
            key = (organization.id, contract.id)
            mapping = contract_mappings.get(key) or UpworkContractMapping(
                organization_id=organization.id, contract_id=contract.id
            )
            _, state = mapping_sync_state(contract, mapping, users.get((organization.id, contract.freelancer_id)), now)
            synced = sorted(by_contract.get(key, []), key=lambda e: as_utc(e.start))
            freelancer = freelancers.get(contract.freelancer_id)
            name = freelancer.name if freelancer else contract.freelancer_id
            view.contracts.append(
                {
                    "organisation": organization.name,
                    "contract": contract.title,
                    "freelancer": name,
                    "awork project": project_names.get(mapping.awork_project_id or "", mapping.awork_project_id or ""),
                    "sync": state,
                    "hours today": _hours(e for e in synced if as_utc(e.synced_at).date() == today),
                    "hours": _hours(synced),
                }
            )
            for entry in synced[-RECENT:][::-1]:
                start, end = as_utc(entry.start).astimezone(zone), as_utc(entry.end).astimezone(zone)
                view.recent_entries.append(
                    {
                        "contract": contract.title,
                        "date": start.date().isoformat(),
                        "time": f"{start:%H:%M}-{end:%H:%M}",
                        "freelancer": name,
                        "hours": round(entry.duration_seconds / 3600, 2),
                    }
                )
    return view


def _hours(entries: Iterable[UpworkTimeEntry]) -> float:
    return round(sum(e.duration_seconds for e in entries) / 3600, 2)


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return as_utc(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "never"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def read_status(today: date) -> StatusView:
    """The status view of the selected organisations, from the store and awork's project names: whether each
    contract syncs now (the clock's), hours synced on `today`."""
    settings = get_settings()
    store = upwork_store(settings)
    organizations = [o for o in store.organizations() if o.selected]
    contracts = [c for o in organizations for c in store.contracts(o.id)]
    with AworkClient.from_settings(settings) as awork:
        project_names = {p.id: p.name for p in awork.projects()}
    return status_view(
        organizations,
        contracts,
        store.contract_mappings(),
        store.user_mappings(),
        store.freelancers(),
        store.time_entries(),
        project_names,
        today,
        clock.utc_now(),
        ZoneInfo(settings.timezone),
    )


@task(name="publish-upwork-status", cache_policy=NO_CACHE, **RETRY)
def publish_upwork_status(today: date) -> StatusView:
    """The status view as three table artifacts (organisations, contracts, recent entries)."""
    view = read_status(today)
    for title, rows in view.tables().items():
        key = "upwork-status-" + "-".join(re.findall(r"[a-z0-9]+", _ascii(title).lower()))
        create_table_artifact(table=rows, key=key, description=f"Upwork status: {title}")
    return view
