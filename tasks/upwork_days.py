"""The body the two Upwork time flows share (`backfill-upwork`, `sync-upwork`): sync a range of UTC days,
organisation by organisation and window by window, then record the run and publish its summary, issues and the
status view."""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger
from prefect.futures import as_completed

from models import clock
from models.settings import get_settings
from models.store import IssueDraft
from models.upwork_store import CONNECTED, UpworkStore
from tasks.progress import RunProgress
from tasks.runs import UPWORK_SCOPE, recorded_run
from tasks.shared import upwork_store
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
    upwork = upwork_store(settings)
    total = UpworkTimeSummary(dry_run=dry_run, first_day=first_day, last_day=last_day)
    with recorded_run(flow_name, dry_run=dry_run, writes=UPWORK_SCOPE, issue_flow=ISSUES) as run:
        issue = connection_issue(upwork)
        if issue:
            total.issues.append(issue)
        else:
            targets = read_upwork_targets(organization_ids)
            windows = day_windows(first_day, last_day, settings.upwork_window_days)
            names = {o.id: o.name for o in upwork.organizations()}
            progress = RunProgress(
                f"{flow_name}-progress",
                len(targets.by_organization) * len(windows),
                f"{flow_name} {first_day} to {last_day}: organisation windows synced",
            )
            futures = [
                sync_upwork_window.with_options(
                    task_run_name=f"upwork {names.get(organization_id, organization_id)} {first} to {last}"
                ).submit(organization_id, contracts, first, last, dry_run)
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
        run.finish(total.counts(), total.issues, total.checked_refs or [CONNECTION])
    total.status = run.status
    publish_upwork_status(clock.today())
    get_run_logger().info("%s (%s to %s): %s", total.status, first_day, last_day, run.counts)
    return run.final_state(total)  # type: ignore[return-value]  # callers get the summary, the UI the state
