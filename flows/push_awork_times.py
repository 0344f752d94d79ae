"""Flow "push awork times": awork time entries on linked projects become MOCO activities; edits and deletions
follow; any date range can be resynced."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from prefect import flow, get_run_logger
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from connectors.awork import AworkTimeEntry
from models import clock
from models.plans import ActivityDraft, PushResult, TimePlan
from models.settings import get_settings
from models.store import IssueDraft, Store
from tasks.push_times import (
    ACTIVITY,
    confirm_deleted,
    create_activities,
    delete_activities,
    missing_entries,
    prepare_projects,
    read_changed_entries,
    read_moco_activities,
    read_our_activities_between,
    read_push_context,
    read_time_entries,
    update_activities,
)
from tasks.runs import PUSH_SCOPE, recorded_run
from tasks.time_rules import PushContext, SyncWindow, activities_to_read, plan_push, sync_window

FLOW_NAME = "push-awork-times"
FLOW_TIMEOUT_SECONDS = 3 * 3600  # a resync of a year at MOCO's standard rate limit fits; a hung run does not


class PushSummary(PushResult):
    """The flow's return value: what was planned and done, over which dates, and how the run ended."""

    status: str = "completed"
    dry_run: bool = False
    first_day: date | None = None
    last_day: date | None = None
    planned: dict[str, int] = {}


@flow(name=FLOW_NAME, task_runner=ThreadPoolTaskRunner(max_workers=4), timeout_seconds=FLOW_TIMEOUT_SECONDS)
def push_awork_times(
    start: date | None = None, end: date | None = None, dry_run: bool = False, last_days: int | None = None
) -> PushSummary:
    """Push awork time entries of linked projects to MOCO as activities (user by e-mail, task by link, type of work
    or the unassigned task; local date; seconds; billable), and follow edits and deletions.

    Without dates the run is incremental: entries changed since the last run (with an overlap) plus a re-scan of
    the last 35 days to find deletions. With `start`/`end` it resyncs that range of local dates; `last_days`
    resyncs the last that many days up to today (what the nightly schedule does)."""
    settings = get_settings()
    with recorded_run(FLOW_NAME, dry_run=dry_run, writes=PUSH_SCOPE) as run:
        started = clock.utc_now()
        current_day = clock.today(settings.timezone)
        if last_days is not None:
            start, end = current_day - timedelta(days=last_days), current_day
        window = sync_window(start, end, current_day, settings.push_rescan_days)
        cursor = None if window.explicit else run.store.cursor(FLOW_NAME)
        context = read_push_context()
        progress = Progress(dry_run=dry_run)
        for part in window.slices(settings.push_slice_days):  # bounded memory: one slice of days at a time
            entries = read_time_entries(part)
            context = progress.add(plan_part(run.store, entries, context, part), context)
        if not window.explicit:  # the first run's "last run" is now: the overlap is read either way
            since = (cursor or started) - timedelta(minutes=settings.push_cursor_overlap_minutes)
            changed = read_changed_entries(since, window)
            context = progress.add(plan_part(run.store, changed, context, None), context)
        if not dry_run and not window.explicit:
            run.store.set_cursor(FLOW_NAME, started)
        summary = progress.summary(window)
        run.finish(summary.planned if dry_run else summary.counts(), summary.issues, progress.checked_refs)
    summary.status = run.status
    get_run_logger().info("%s (%s to %s): %s", summary.status, window.first_day, window.last_day, run.counts)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state


class Progress:
    """What the run's parts planned and did, added up."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.planned: Counter[str] = Counter()
        self.applied = PushResult()
        self.issues: list[IssueDraft] = []
        self.checked_refs: list[str] = []

    def add(self, plan: TimePlan, context: PushContext) -> PushContext:
        """Apply one part's plan (unless dry run); returns the context as it is afterwards (staffing, tasks)."""
        self.planned.update(plan.counts())
        self.issues += plan.issues
        self.checked_refs += plan.checked_refs
        if self.dry_run:
            return context
        applied, context = apply_plan(plan, context)
        self.applied = self.applied.merge(applied)
        self.issues += applied.issues
        return context

    def summary(self, window: SyncWindow) -> PushSummary:
        return PushSummary(
            **self.applied.model_dump(exclude={"issues"}),
            issues=self.issues,
            dry_run=self.dry_run,
            first_day=window.first_day,
            last_day=window.last_day,
            planned=dict(self.planned),
        )


def plan_part(store: Store, entries: list[AworkTimeEntry], context: PushContext, days: SyncWindow | None) -> TimePlan:
    """Plan a part of the run: its entries, their links (and, for a slice of days, the links of those days, to
    find deleted entries; for a resync also our MOCO activities of those days, in case links were lost), what
    awork says of missing entries, and our MOCO activities."""
    links = store.links(ACTIVITY, days=(days.first_day, days.last_day)) if days else {}
    links.update(store.links(ACTIVITY, source_ids=[e.id for e in entries]))
    ours = read_our_activities_between(days) if days and days.explicit else []
    gone, moved = confirm_deleted(missing_entries(links, entries, ours))
    entries = entries + moved
    remote_ids, ids = activities_to_read(entries, links, gone, context)
    known = {a.remote_id for a in ours}
    activities = read_moco_activities([r for r in remote_ids if r not in known], ids) + ours
    return plan_push(entries, links, gone, activities, context)


def apply_plan(plan: TimePlan, context: PushContext) -> tuple[PushResult, PushContext]:
    """Staff and prepare projects, delete first (so an entry that changed hands gets its new activity), then
    create per user in bulk and update, in parallel batches."""
    settings = get_settings()
    unassigned_tasks, total = prepare_projects(plan.staff, plan.unassigned_task_projects, context)
    context = context.after_preparing(plan.staff, unassigned_tasks)
    if plan.delete or plan.forget:
        total = total.merge(delete_activities(plan.delete, plan.forget))
    by_user: dict[int, list[ActivityDraft]] = {}
    for draft in plan.create:
        by_user.setdefault(draft.user_id, []).append(draft)
    emails = {user_id: email for email, user_id in context.moco_user_by_email.items()}
    futures = [
        create_activities.with_options(
            task_run_name=f"create-activities {emails.get(user, user)} {days(drafts)}"
        ).submit(user, drafts, unassigned_tasks)
        for user, drafts in sorted(by_user.items())
    ]
    size = settings.push_batch_size
    for i in range(0, max(len(plan.update), len(plan.adopt)), size):
        changes, adopted = plan.update[i : i + size], plan.adopt[i : i + size]
        name = f"update-activities {days([c.draft for c in changes + adopted])}"
        futures.append(update_activities.with_options(task_run_name=name).submit(changes, adopted, unassigned_tasks))
    wait(futures)
    for future in futures:
        total = total.merge(future.result())
    return total, context


def days(drafts: list[ActivityDraft]) -> str:
    """The dates a batch of activities covers, for the names of task runs."""
    dates = sorted({d.date for d in drafts})
    return f"{dates[0]} to {dates[-1]}" if dates else "no days"
