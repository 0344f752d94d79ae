"""Flow "backfill Upwork": the hours of every syncing Upwork contract over a range of days (the last 90 by
default) as awork time entries, with the pay and bill rate of each day stored beside them."""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow

from models import clock
from models.settings import get_settings
from tasks.shared import thread_pool
from tasks.upwork_days import UpworkTimeSummary, sync_days

FLOW_NAME = "backfill-upwork"


@flow(name=FLOW_NAME, task_runner=thread_pool(3), timeout_seconds=6 * 3600)
def backfill_upwork(
    start: date | None = None,
    end: date | None = None,
    organization_ids: list[str] | None = None,
    dry_run: bool = False,
) -> UpworkTimeSummary:
    """Bring the Upwork days `start`..`end` (UTC; default: the last 90 days up to today) of the selected
    organisations (all, or those given) into awork, window by window. Work diary cells merged into intervals,
    daily totals where there is no diary; nothing is doubled on a re-run or a resync of any range."""
    today = clock.today()
    last = end or today
    first = start or last - timedelta(days=get_settings().upwork_backfill_days - 1)
    return sync_days(FLOW_NAME, first, last, organization_ids, dry_run)
