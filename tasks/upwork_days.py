"""The body the two Upwork time flows share (`backfill-upwork`, `sync-upwork`): sync a range of UTC days,
organisation by organisation and window by window, then record the run and publish its summary, issues and the
status view."""

from __future__ import annotations

from datetime import date, timedelta

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
from tasks.upwork_time_rules import UpworkWindow, sync_windows
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
    flow_name: str,
    first_day: date,
    last_day: date,
    organization_ids: list[str] | None,
    dry_run: bool,
    with_history: bool = False,
) -> UpworkTimeSummary:
    """Sync the days `first_day`..`last_day` (UTC) of the selected organisations' syncing contracts, window by
    window (one task each, a few in parallel), following the progress. `with_history`: also the history (the
    backfill's days) of contracts that have none yet. Contracts whose history a run covered are recorded so."""
    settings = get_settings()
    upwork = upwork_store(settings)
    total = UpworkTimeSummary(dry_run=dry_run, first_day=first_day, last_day=last_day)
    with recorded_run(flow_name, dry_run=dry_run, writes=UPWORK_SCOPE, issue_flow=ISSUES) as run:
        issue = connection_issue(upwork)
        if issue:
            total.issues.append(issue)
        else:
            targets = read_upwork_targets(organization_ids)
            syncing = [t for contracts in targets.by_organization.values() for t in contracts]
            history_first = clock.today() - timedelta(days=settings.upwork_backfill_days - 1)
            windows = sync_windows(
                syncing,
                {o.id: o.name for o in upwork.organizations()},
                (first_day, last_day),
                settings.upwork_window_days,
                history_first if with_history else None,
            )
            progress = RunProgress(f"{flow_name}-progress", len(windows), f"{flow_name} {first_day} to {last_day}")
            futures = {sync_upwork_window.submit(window, dry_run): window for window in windows}
            result = UpworkTimeResult(issues=targets.issues, checked_refs=[CONNECTION, *targets.checked_refs])
            done: list[UpworkWindow] = []
            for future in as_completed(list(futures)):
                result = result.merge(future.result())
                done.append(futures[future])
                progress.advance(what=progress_line(windows, done, result))
            total = UpworkTimeSummary(**result.model_dump(), dry_run=dry_run, first_day=first_day, last_day=last_day)
            if not dry_run:
                for organization_id in targets.by_organization:
                    upwork.mark_synced(organization_id)
                if with_history or first_day <= history_first:
                    upwork.mark_history([(t.organization_id, t.contract_id) for t in syncing if not t.has_history])
        run.finish(total.counts(), total.issues, total.checked_refs or [CONNECTION])
    total.status = run.status
    publish_upwork_status(clock.today())
    get_run_logger().info("%s (%s to %s): %s", total.status, first_day, last_day, run.counts)
    return run.final_state(total)  # type: ignore[return-value]  # callers get the summary, the UI the state


def progress_line(windows: list[UpworkWindow], done: list[UpworkWindow], result: UpworkTimeResult) -> str:
    """What a run has done so far, for the progress artifact: organisations and windows finished, contract-days
    read, entries written."""
    organizations = {w.organization_name for w in windows}
    unfinished = {w.organization_name for w in windows if w not in done}
    return (
        f"organisations {len(organizations - unfinished)} of {len(organizations)} · "
        f"windows {len(done)} of {len(windows)} · contract-days {result.contract_days} · "
        f"entries {result.entries_created} created, {result.entries_updated} updated, "
        f"{result.entries_deleted} deleted, {result.entries_unchanged} unchanged"
    )
