"""Flow "sync Upwork" (hourly): refresh the organisations, then re-read the Upwork weeks that are still open and
correct our awork entries of the days that changed; a contract that started syncing since gets its history."""

from __future__ import annotations

from prefect import flow

from models import clock
from models.settings import get_settings
from tasks.shared import thread_pool, upwork_store
from tasks.upwork_days import UpworkTimeSummary, connection_issue, sync_days
from tasks.upwork_refresh import read_awork_people, refresh_organization, refresh_organizations
from tasks.upwork_time_rules import open_weeks

FLOW_NAME = "sync-upwork"
DISCOVERY_DAYS = 14  # new contracts are found from the time of the open weeks (and a vendor's contract list)


@flow(name=FLOW_NAME, task_runner=thread_pool(3), timeout_seconds=3600)
def sync_upwork(organization_ids: list[str] | None = None, dry_run: bool = False) -> UpworkTimeSummary:
    """Refresh contracts, freelancers and rates of the selected organisations (all, or those given), then sync the
    current Upwork week and the previous one until it freezes (Monday 12:00 UTC). A day that changed in Upwork is
    corrected in awork unless its entries were edited there since we wrote them (a sync issue). A contract mapped or
    enabled since the last backfill gets its history (the backfill's days, 90 by default) once, with this run."""
    now = clock.utc_now()
    if connection_issue(upwork_store(get_settings())) is None:
        organizations = [o for o in refresh_organizations() if o.selected]
        people = read_awork_people()
        for organization in organizations:
            if organization_ids is None or organization.id in organization_ids:
                refresh_organization(organization, people, now.date(), DISCOVERY_DAYS)
    first, last = open_weeks(now)
    return sync_days(FLOW_NAME, first, last, organization_ids, dry_run, with_history=True)
