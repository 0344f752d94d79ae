"""Flow "sync MOCO absences": MOCO absences of users matched by e-mail become awork absences, consecutive working
days of one kind as one range; changes and deletions in MOCO follow; absences entered in awork are never touched."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger

from models import clock
from models.plans import SafetyNetFigure
from models.settings import Settings, get_settings
from models.store import Store
from tasks.absence_rules import ABSENCE, AbsencePlan, AbsenceResult, absence_window, plan_absences
from tasks.absences import (
    apply_absence_plan,
    read_absence_context,
    read_changed_days,
    read_moco_ranges,
)
from tasks.runs import ABSENCE_SCOPE, recorded_run
from tasks.shared import thread_pool

FLOW_NAME = "sync-moco-absences"
CARRIED_SINCE = f"{FLOW_NAME}: carried since"  # the store's cursor of the first run (what was there stays out)
FLOW_TIMEOUT_SECONDS = 3600


class AbsenceSummary(AbsenceResult, SafetyNetFigure):
    """The flow's return value: what was planned and done, over which days, and how the run ended."""

    status: str = "completed"
    dry_run: bool = False
    first_day: date | None = None
    last_day: date | None = None
    planned: dict[str, int] = {}


@flow(name=FLOW_NAME, task_runner=thread_pool(2), timeout_seconds=FLOW_TIMEOUT_SECONDS)
def sync_moco_absences(
    start: date | None = None,
    end: date | None = None,
    dry_run: bool = False,
    safety_net: bool = False,
) -> AbsenceSummary:
    """Carry MOCO absences to awork: per user (matched by e-mail) and kind, consecutive working days (a weekend
    between them does not split them) become one awork absence with its half days, described by the kind and the
    comments, marked as ours (`externalProvider`). Changes and deletions in MOCO follow.

    Without dates the run is incremental, like awork's own add-on: only absences new or changed since the first run
    (or since TIMEBRIDGE_SYNC_SINCE) are carried, and the days from TIMEBRIDGE_PUSH_RESCAN_DAYS ago to a year ahead
    are re-read to follow changes and deletions. With `start`/`end` it carries that range, whatever its age. No
    absence before TIMEBRIDGE_SYNC_SINCE is ever carried.

    `safety_net` (set by the schedule beside the webhooks' triggers) reports the writes the run had to make as
    "missed by events"."""
    settings = get_settings()
    with recorded_run(FLOW_NAME, dry_run=dry_run, writes=ABSENCE_SCOPE) as run:
        started = clock.utc_now().replace(microsecond=0)  # MOCO's timestamps have whole seconds
        window = absence_window(
            start, end, clock.today(settings.timezone), settings.push_rescan_days, settings.sync_since
        )
        carry_since = None if window.explicit else carried_since(run.store, settings, started)
        if carry_since is not None:
            cursor = run.store.cursor(FLOW_NAME)
            changed_since = carry_since
            if cursor is not None:
                changed_since = max(carry_since, cursor - timedelta(minutes=settings.push_cursor_overlap_minutes))
            window = window.widened(read_changed_days(changed_since, settings.sync_since), settings.sync_since)
        plan = AbsencePlan()
        if window.first_day <= window.last_day:  # an explicit range before TIMEBRIDGE_SYNC_SINCE is empty
            context = read_absence_context()
            ours_here = [a for a in context.ours if a.first_day <= window.last_day and window.first_day <= a.last_day]
            read = window.widened([day for a in ours_here for day in (a.first_day, a.last_day)], settings.sync_since)
            moco = read_moco_ranges(read.first_day, read.last_day, settings.sync_since)
            links = run.store.links(ABSENCE, days=(moco.first_day, moco.last_day))
            plan = plan_absences(
                moco.ranges,
                window,
                context.ours,
                links,
                context.moco_users,
                context.awork_user_by_email,
                carry_since,
            )
        applied = AbsenceResult() if dry_run else apply_absence_plan(plan)
        if not dry_run:
            if run.store.cursor(CARRIED_SINCE) is None:
                run.store.set_cursor(CARRIED_SINCE, started)
            if not window.explicit:
                run.store.set_cursor(FLOW_NAME, started)
        summary = AbsenceSummary(
            **applied.model_dump(exclude={"issues"}),
            issues=plan.issues + applied.issues,
            dry_run=dry_run,
            first_day=window.first_day,
            last_day=window.last_day,
            planned=plan.counts(),
        )
        summary.absences_unchanged, summary.absences_not_carried = plan.unchanged, plan.not_carried
        summary.missed_by_events = summary.writes() if safety_net and not dry_run else None
        run.finish(summary.planned if dry_run else summary.counts(), summary.issues, plan.checked_refs)
    summary.status = run.status
    get_run_logger().info("%s (%s to %s): %s", summary.status, window.first_day, window.last_day, run.counts)
    return run.final_state(summary)  # type: ignore[return-value]  # callers get the summary, the UI the state


def carried_since(store: Store, settings: Settings, started: datetime) -> datetime:
    """From when on new or changed absences are carried: TIMEBRIDGE_SYNC_SINCE (its local midnight), else the
    first run (this one, if it is the first)."""
    if settings.sync_since is not None:
        midnight = datetime.combine(settings.sync_since, time(), tzinfo=ZoneInfo(settings.timezone))
        return midnight.astimezone(UTC)
    return store.cursor(CARRIED_SINCE) or started
