"""What the two Upwork time flows share: work through organisations and windows of days, then record the run,
publish its summary, issues and the status view."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import get_run_logger
from prefect.futures import as_completed

from flows.progress import RunProgress
from models.settings import get_settings
from models.store import IssueDraft, open_store
from models.upwork_store import CONNECTED, UpworkStore
from tasks.runs import finish_run, publish_run
from tasks.upwork_refresh import upwork_store
from tasks.upwork_status import publish_upwork_status
from tasks.upwork_time_rules import day_windows
from tasks.upwork_times import UpworkTimeResult, read_upwork_targets, sync_upwork_window

ISSUES = "upwork-time"  # both flows raise and resolve the same sync issues
CONNECTION = "upwork connection"


class UpworkTimeSummary(UpworkTimeResult):
    """A run's return value: what it did over which days, and how it ended."""

    status: str = "completed"
    dry_run: bool = False
    first_day: date | None = None
    last_day: date | None = None


def utc_now() -> datetime:
    """Now (tests freeze it)."""
    return datetime.now(UTC)


def connection_issue(store: UpworkStore) -> IssueDraft | None:
    """Why nothing can be read from Upwork, if so (disconnected, or the refresh token was refused)."""
    connection = store.connection()
    if connection is not None and connection.status == CONNECTED:
        return None
    state = connection.status if connection else "not connected"
    return IssueDraft(
        kind="upwork not connected",
        object_ref=CONNECTION,
        message=f"Upwork is {state}: nothing was synced; run `timebridge upwork connect` (entries already in "
        "awork stay)",
    )


def sync_days(
    flow_name: str, first_day: date, last_day: date, organization_ids: list[str] | None, dry_run: bool
) -> UpworkTimeSummary:
    """Sync the days `first_day`..`last_day` (UTC) of the selected organisations' syncing contracts, window by
    window (one task each, a few in parallel), following the progress."""
    settings = get_settings()
    store = open_store(settings.database_url)
    upwork = upwork_store(settings)
    run_id = store.start_run(flow_name, dry_run=dry_run)
    total = UpworkTimeSummary(dry_run=dry_run, first_day=first_day, last_day=last_day)
    try:
        issue = connection_issue(upwork)
        if issue:
            total.issues.append(issue)
        else:
            targets = read_upwork_targets(organization_ids)
            windows = day_windows(first_day, last_day, settings.upwork_window_days)
            progress = RunProgress(f"{flow_name}-progress", len(targets.by_organization) * len(windows), "windows")
            futures = [
                sync_upwork_window.submit(organization_id, contracts, first, last, dry_run)
                for organization_id, contracts in targets.by_organization.items()
                for first, last in windows
            ]
            result = UpworkTimeResult(issues=targets.issues, checked_refs=[CONNECTION, *targets.checked_refs])
            for future in as_completed(futures):
                result = result.merge(future.result())
                progress.advance()
            total = UpworkTimeSummary(**result.model_dump(), dry_run=dry_run, first_day=first_day, last_day=last_day)
            if not dry_run:
                for organization_id in targets.by_organization:
                    upwork.mark_synced(organization_id)
    except BaseException:
        finish_run(store, run_id, ISSUES, {}, [], None, failed=True)
        raise
    counts = total.counts()
    total.status = finish_run(store, run_id, ISSUES, counts, total.issues, total.checked_refs or [CONNECTION])
    publish_run(flow_name, counts, total.issues, total.status)
    publish_upwork_status(utc_now().date())
    get_run_logger().info("%s (%s to %s): %s", total.status, first_day, last_day, counts)
    return total
