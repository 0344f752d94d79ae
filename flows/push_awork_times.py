"""Flow "push awork times": awork time entries on linked projects become MOCO activities; edits and deletions
follow; any date range can be resynced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from prefect import flow, get_run_logger

from connectors.awork import AworkTimeEntry
from models import clock
from models.plans import PushResult, PushTotals, SafetyNetFigure
from models.settings import get_settings
from models.store import Link, LinkRecord, Store
from tasks.project_rules import project_ref
from tasks.push_reads import read_changed_entries, read_part, read_push_context, read_time_entries
from tasks.push_writes import apply_plan
from tasks.runs import PUSH_SCOPE, recorded_run
from tasks.shared import thread_pool
from tasks.time_rules import (
    ACTIVITY,
    CAUGHT_UP,
    HELD,
    REPORTED_DELETED,
    PushContext,
    SyncWindow,
    catch_up_days,
    held_issues,
    plan_push,
    settled_deletions,
    sync_window,
)

FLOW_NAME = "push-awork-times"
FLOW_TIMEOUT_SECONDS = 3 * 3600  # a resync of a year at MOCO's standard rate limit fits; a hung run does not


class PushSummary(PushResult, SafetyNetFigure):
    """The flow's return value: what was planned and done, over which dates, and how the run ended."""

    status: str = "completed"
    dry_run: bool = False
    first_day: date | None = None
    last_day: date | None = None
    planned: dict[str, int] = {}


@flow(name=FLOW_NAME, task_runner=thread_pool(4), timeout_seconds=FLOW_TIMEOUT_SECONDS)
def push_awork_times(
    start: date | None = None,
    end: date | None = None,
    dry_run: bool = False,
    last_days: int | None = None,
    safety_net: bool = False,
) -> PushSummary:
    """Push awork time entries of linked projects to MOCO as activities (user by e-mail, task by link, type of work
    or the unassigned task; local date; seconds; billable), and follow edits and deletions.

    Without dates the run is incremental: entries changed since the last run (with an overlap) plus a re-scan of
    the last 35 days to find deletions. With `start`/`end` it resyncs that range of local dates; `last_days`
    resyncs the last that many days up to today (what the nightly schedule does). Nothing before
    `TIMEBRIDGE_SYNC_SINCE` is pushed. Entries on projects whose MOCO project is archived or unflagged are held
    back (reported once); a project linked or opened again since the last run gets its entries from before the
    window too (since the sync start, at most `TIMEBRIDGE_PUSH_LINK_CATCHUP_DAYS` back; held-back ones all).
    Entries awork's webhook reported deleted lose their activities in the next incremental run, whatever their age.

    `safety_net` (set by the schedules beside the webhooks' triggers) reports the writes the run had to make as
    "missed by events"."""
    settings = get_settings()
    with recorded_run(FLOW_NAME, dry_run=dry_run, writes=PUSH_SCOPE) as run:
        started = clock.utc_now()
        current_day = clock.today(settings.timezone)
        if last_days is not None:
            start, end = current_day - timedelta(days=last_days), current_day
        window = sync_window(start, end, current_day, settings.push_rescan_days).starting(settings.sync_since)
        cursor = None if window.explicit else run.store.cursor(FLOW_NAME)
        context = read_push_context()
        totals = PushTotals()
        for part in window.slices(settings.push_slice_days):  # bounded memory: one slice of days at a time
            context = push_part(run.store, read_time_entries(part), part, context, totals, dry_run)
        held = run.store.links(HELD)
        if not window.explicit:  # a resync touches its range only
            first_link_day = current_day - timedelta(days=settings.push_link_catchup_days)
            caught_up = run.store.links(CAUGHT_UP)
            for project_id, days in catch_up_days(context, held.values(), caught_up, first_link_day, window).items():
                entries = read_time_entries(days, project_id)  # linked or open again: entries before the window
                context = push_part(run.store, entries, None, context, totals, dry_run)
            # the first run's "last run" is now: the overlap is read either way
            since = (cursor or started) - timedelta(minutes=settings.push_cursor_overlap_minutes)
            changed = read_changed_entries(since, window)
            push_part(run.store, changed, None, context, totals, dry_run, list(run.store.links(REPORTED_DELETED)))
        if not dry_run and not window.explicit:
            run.store.set_cursor(FLOW_NAME, started)
            record_open_projects(run.store, context, held)
        totals.checked_refs += [project_ref(p.moco_id) for p in context.open_projects().values()]
        summary = PushSummary(
            **totals.applied.model_dump(exclude={"issues"}),
            issues=totals.issues + held_issues(totals.held, context),
            dry_run=dry_run,
            first_day=window.first_day,
            last_day=window.last_day,
            planned=totals.planned,
        )
        summary.missed_by_events = summary.writes() if safety_net and not dry_run else None
        run.finish(summary.planned if dry_run else summary.counts(), summary.issues, totals.checked_refs)
    summary.status = run.status
    get_run_logger().info("%s (%s to %s): %s", summary.status, window.first_day, window.last_day, run.counts)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state


def record_open_projects(store: Store, context: PushContext, held: dict[str, Link]) -> None:
    """Once a run got through: open projects are caught up, and their held-back entries are pushed."""
    open_projects = context.open_projects()
    store.save_links(
        [LinkRecord(kind=CAUGHT_UP, source_id=key, target_id=str(p.moco_id)) for key, p in open_projects.items()]
    )
    store.delete_links(HELD, [entry_id for entry_id, link in held.items() if link.target_id in open_projects])


def push_part(
    store: Store,
    entries: list[AworkTimeEntry],
    days: SyncWindow | None,
    context: PushContext,
    totals: PushTotals,
    dry_run: bool,
    reported_deleted: Sequence[str] = (),
) -> PushContext:
    """One part of the run (a slice of days, or the entries changed outside the window, with those awork reported
    deleted): read what its entries need, plan (pure), apply unless dry run. Returns the context as it is
    afterwards (staffing, tasks)."""
    found = read_part(store, entries, context, days, reported_deleted)
    plan = plan_push(found.entries, found.links, found.gone, found.activities, context, found.held)
    totals.add_plan(plan)
    if dry_run:
        return context
    applied, context = apply_plan(plan, context)
    totals.add_result(applied)
    if reported_deleted:
        still_linked = store.links(ACTIVITY, source_ids=reported_deleted)
        store.delete_links(REPORTED_DELETED, settled_deletions(reported_deleted, found.gone, still_linked))
    return context
