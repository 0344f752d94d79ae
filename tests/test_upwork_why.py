"""`upwork why`: the troubleshooting list as a pure function, one case per condition (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from models.store import RunRecord, SyncIssue
from models.upwork_store import (
    CONFIRMED,
    CONNECTED,
    DISCONNECTED,
    SUGGESTED,
    UpworkContract,
    UpworkContractMapping,
    UpworkOrganization,
    UpworkUserMapping,
)
from tasks.upwork_why import ContractFacts, first_failing, why

CONTRACT = UpworkContract(
    organization_id="o1", id="c1", freelancer_id="f1", title="Relaunch", kind="hourly", status="ACTIVE"
)
SYNCING = ContractFacts(
    contract=CONTRACT,
    organization=UpworkOrganization(id="o1", name="Pixelwerk", kind="agency", selected=True),
    connection_status=CONNECTED,
    mapping=UpworkContractMapping(organization_id="o1", contract_id="c1", awork_project_id="p1", enabled=True),
    freelancer=UpworkUserMapping(organization_id="o1", freelancer_id="f1", awork_user_id="u1", state=CONFIRMED),
    window=(date(2026, 1, 1), date(2026, 3, 31)),
    synced_entries=12,
    last_run=RunRecord(flow="sync-upwork", started_at=datetime(2026, 3, 31, 9, tzinfo=UTC), status="completed"),
    open_issues=[],
)


def test_a_syncing_contract_passes_every_condition_in_order():
    conditions = why(SYNCING)
    assert first_failing(conditions) is None
    assert [c.name for c in conditions] == [
        "organisation selected and connected",
        "freelancer mapped and syncing",
        "contract hourly",
        "enabled",
        "mapped to a project",
        "active",
        "entries in the window",
        "last run",
        "open sync issues",
    ]
    assert conditions[7].detail == "sync-upwork 2026-03-31 09:00 UTC: completed"


def with_mapping(**changes) -> UpworkContractMapping:
    return SYNCING.mapping.model_copy(update=changes)


def with_contract(**changes) -> UpworkContract:
    return CONTRACT.model_copy(update=changes)


@pytest.mark.parametrize(
    ("facts", "failing", "detail"),
    [
        (replace(SYNCING, organization=None), "organisation selected and connected", "unknown organisation"),
        (
            replace(SYNCING, organization=SYNCING.organization.model_copy(update={"selected": False})),
            "organisation selected and connected",
            "not selected",
        ),
        (replace(SYNCING, connection_status=DISCONNECTED), "organisation selected and connected", "disconnected"),
        (
            replace(SYNCING, freelancer=SYNCING.freelancer.model_copy(update={"state": SUGGESTED})),
            "freelancer mapped and syncing",
            "suggested -> u1",
        ),
        (
            replace(SYNCING, freelancer=SYNCING.freelancer.model_copy(update={"sync_enabled": False})),
            "freelancer mapped and syncing",
            "sync off",
        ),
        (replace(SYNCING, contract=with_contract(kind="fixed")), "contract hourly", "fixed"),
        (replace(SYNCING, mapping=with_mapping(enabled=False)), "enabled", "disabled"),
        (replace(SYNCING, mapping=with_mapping(awork_project_id=None)), "mapped to a project", "no awork project"),
        (
            replace(SYNCING, contract=with_contract(status="ENDED", end_date=date(2026, 2, 27))),
            "active",
            "ended on 2026-02-27",
        ),
        (replace(SYNCING, contract=with_contract(status="PAUSED")), "active", "paused"),
        (replace(SYNCING, synced_entries=0), "entries in the window", "0 synced entries from 2026-01-01 to 2026-03-31"),
        (replace(SYNCING, last_run=None), "last run", "no sync-upwork or backfill-upwork run yet"),
        (
            replace(SYNCING, last_run=SYNCING.last_run.model_copy(update={"status": "failed"})),
            "last run",
            "failed",
        ),
        (
            replace(
                SYNCING,
                open_issues=[SyncIssue(flow="upwork", kind="day held", object_ref="c1", message="edited in awork")],
            ),
            "open sync issues",
            "day held: edited in awork",
        ),
    ],
)
def test_the_first_failing_condition_is_named_with_why(facts, failing, detail):
    first = first_failing(why(facts))
    assert first is not None and first.name == failing and detail in first.detail


def test_a_contract_without_mapping_fails_at_enabled_and_lists_the_later_failures_too():
    conditions = why(replace(SYNCING, mapping=None, synced_entries=0))
    assert [c.name for c in conditions if not c.holds] == ["enabled", "mapped to a project", "entries in the window"]
