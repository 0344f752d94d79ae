"""Prefect tasks of "refresh Upwork": organisations, contracts, freelancers and rates into the store, and
suggestions for the user and contract mappings (never applied without confirmation)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from connectors.awork import AworkClient
from connectors.upwork import UpworkContractInfo
from models.settings import get_settings
from models.upwork_store import (
    CONFIRMED,
    SUGGESTED,
    UNMAPPED,
    UpworkContract,
    UpworkContractMapping,
    UpworkFreelancer,
    UpworkOrganization,
    UpworkRate,
    UpworkStore,
    UpworkUserMapping,
)
from tasks.shared import RETRY, upwork_client, upwork_store
from tasks.upwork_mappings import accept_invitation
from tasks.upwork_rules import (
    CLIENT,
    Person,
    RatePeriod,
    default_rates,
    organization_kind,
    rate_on,
    suggest_awork_user,
)

LOOKBACK_DAYS = 90


class OrganizationRefresh(BaseModel):
    organization_id: str
    contracts: int = 0
    new_contracts: int = 0
    freelancers: int = 0
    suggestions: int = 0


@task(name="refresh-upwork-organizations", cache_policy=NO_CACHE, **RETRY)
def refresh_organizations() -> list[UpworkOrganization]:
    """The organisations the connection can act for, with their kind; new ones are selected for sync."""
    settings = get_settings()
    store = upwork_store(settings)
    with upwork_client(settings, store) as upwork:
        found = [
            UpworkOrganization(id=o.id, name=o.name, kind=organization_kind(o.type, o.legacy_type))
            for o in upwork.organizations()
        ]
    store.save_organizations(found)
    return store.organizations()


@task(name="read-awork-people", cache_policy=NO_CACHE, **RETRY)
def read_awork_people() -> list[Person]:
    """awork users as the matching sees them."""
    with AworkClient.from_settings(get_settings()) as awork:
        return [
            Person(u.id, u.first_name or "", u.last_name or "", u.email, joined=u.status.invitation_accepted)
            for u in awork.users()
        ]


@task(
    name="refresh-upwork-organization",
    cache_policy=NO_CACHE,
    task_run_name="refresh-upwork-{organization.name}",
    **RETRY,
)
def refresh_organization(
    organization: UpworkOrganization, awork_people: list[Person], today: date, lookback_days: int = LOOKBACK_DAYS
) -> OrganizationRefresh:
    """An organisation's contracts (those with time in the last `lookback_days`, and a vendor's own list),
    freelancers and rate history; mapping suggestions for new or unconfirmed freelancers; pre-filled rates for new
    contracts."""
    settings = get_settings()
    store = upwork_store(settings)
    with upwork_client(settings, store) as upwork:
        ids = {
            row.contract.id for row in upwork.time_report(organization.id, today - timedelta(days=lookback_days), today)
        }
        if organization.kind != CLIENT:
            ids |= set(upwork.vendor_contract_ids(organization.id))
        infos = upwork.contracts(organization.id, sorted(ids))
    known = {c.id for c in store.contracts(organization.id)}
    contracts, freelancers, rates = contract_records(organization.id, infos)
    store.save_contracts(contracts, freelancers, rates)
    result = OrganizationRefresh(
        organization_id=organization.id,
        contracts=len(contracts),
        new_contracts=len([c for c in contracts if c.id not in known]),
        freelancers=len(freelancers),
    )
    for freelancer in freelancers:
        result.suggestions += suggest_mapping(store, organization.id, freelancer, awork_people)
    mappings = store.contract_mappings()
    for contract in contracts:
        if (organization.id, contract.id) not in mappings:
            current = rate_on(
                [RatePeriod(r.hourly_rate, r.start_date, r.end_date) for r in rates if r.contract_id == contract.id],
                today,
            )
            pay, bill = default_rates(organization.kind, current or latest_rate(rates, contract.id))
            store.save_contract_mapping(
                UpworkContractMapping(
                    contract_id=contract.id, organization_id=organization.id, pay_rate=pay, bill_rate=bill
                )
            )
    store.mark_refreshed(organization.id)
    get_run_logger().info(
        "%s: %d contracts (%d new), %d freelancers",
        organization.name,
        result.contracts,
        result.new_contracts,
        result.freelancers,
    )
    return result


def contract_records(
    organization_id: str, infos: list[UpworkContractInfo]
) -> tuple[list[UpworkContract], list[UpworkFreelancer], list[UpworkRate]]:
    """Our records of Upwork's contract details: contracts, their freelancers, and the hourly terms as rate history."""
    contracts, freelancers, rates = [], {}, []
    for info in infos:
        contracts.append(
            UpworkContract(
                id=info.id,
                organization_id=organization_id,
                freelancer_id=info.freelancer.id,
                title=info.title,
                kind="hourly" if info.is_hourly else "fixed",
                status=info.status,
                modified_at=info.modify_date,
                client_name=info.client_organization.name if info.client_organization else None,
                start_date=info.start_date,
                end_date=info.end_date,
                currency=info.terms.hourly_terms[0].hourly_rate.currency
                if info.is_hourly and info.terms and info.terms.hourly_terms
                else None,
            )
        )
        person = info.freelancer
        freelancers[person.id] = UpworkFreelancer(
            id=person.id,
            name=person.name or "",
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
        )
        for term in (info.terms.hourly_terms or []) if info.terms else []:
            rates.append(
                UpworkRate(
                    contract_id=info.id,
                    hourly_rate=term.hourly_rate.raw_value,
                    currency=term.hourly_rate.currency,
                    start_date=term.start_date or info.start_date or date.min,
                    end_date=term.end_date,
                )
            )
    return contracts, list(freelancers.values()), rates


def latest_rate(rates: list[UpworkRate], contract_id: str) -> Decimal | None:
    own = sorted((r for r in rates if r.contract_id == contract_id), key=lambda r: r.start_date)
    return own[-1].hourly_rate if own else None


def suggest_mapping(
    store: UpworkStore, organization_id: str, freelancer: UpworkFreelancer, awork_people: list[Person]
) -> bool:
    """Suggest an awork user for a freelancer of an organisation, unless a mapping is confirmed or locked.
    Returns whether a suggestion was (re)made. New contracts of a mapped freelancer need nothing: the mapping is
    per organisation and freelancer."""
    mapping = store.user_mapping(organization_id, freelancer.id) or UpworkUserMapping(
        organization_id=organization_id, freelancer_id=freelancer.id
    )
    if accept_invitation(mapping, awork_people):
        store.save_user_mapping(mapping)
    if mapping.locked or mapping.state == CONFIRMED:
        return False
    person = Person(
        freelancer.id, freelancer.first_name or "", freelancer.last_name or "", freelancer.email, freelancer.name
    )
    suggestion = suggest_awork_user(person, awork_people)
    mapping.awork_user_id = suggestion.awork_user_id
    mapping.state = SUGGESTED if suggestion.awork_user_id else UNMAPPED
    mapping.reason = suggestion.reason
    store.save_user_mapping(mapping)
    return suggestion.awork_user_id is not None
