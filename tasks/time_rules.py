"""The rules of "push awork times", as pure functions: window, local date, user, task, activity, the plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from connectors.awork import AworkTimeEntry, AworkUser
from connectors.moco import MocoActivity
from models.plans import (
    ActivityChange,
    ActivityDraft,
    ActivityRemoval,
    HeldEntry,
    Staffing,
    TimePlan,
    remote_id,
)
from models.store import IssueDraft, Link
from tasks.project_rules import normalize_name, project_ref, reopened_task_name

AWORK_TAG = "awork"
ACTIVITY = "activity"  # the store's links of awork time entries to MOCO activities
HELD = "held_entry"  # awork time entry -> awork project: held back while its MOCO project is closed
CAUGHT_UP = "push_project"  # awork project -> MOCO project: its entries since the sync start were pushed once
# awork time entries awork's webhook reported deleted, kept by the receiver until the push has deleted their
# activities (whatever their age: the re-scan finds deletions of the last 35 days only)
REPORTED_DELETED = "reported_deleted_entry"
REMOTE_PREFIX = remote_id("")  # of our MOCO activities' remote_id


class SyncWindow(BaseModel):
    """The local dates a run covers (inclusive), and whether it is a resync of an explicit range."""

    first_day: date
    last_day: date
    explicit: bool = False

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def slices(self, days: int) -> list[SyncWindow]:
        """Consecutive parts of at most `days` days, oldest first."""
        parts = []
        first = self.first_day
        while first <= self.last_day:
            last = min(first + timedelta(days=days - 1), self.last_day)
            parts.append(SyncWindow(first_day=first, last_day=last, explicit=self.explicit))
            first = last + timedelta(days=1)
        return parts

    def starting(self, since: date | None) -> SyncWindow:
        """The window without the days before `since` (empty when it ends before)."""
        return self.model_copy(update={"first_day": max(self.first_day, since)}) if since else self

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """UTC instants that surely include every entry whose local date lies in the window (any time zone)."""
        start = datetime.combine(self.first_day - timedelta(days=1), time(), tzinfo=UTC)
        end = datetime.combine(self.last_day + timedelta(days=2), time(), tzinfo=UTC)
        return start, end


def explicit_days(start: date | None, end: date | None) -> tuple[date, date] | None:
    """The days `start`..`end` (inclusive; one of them alone means that day), or None when neither is given."""
    if start is None:
        return None if end is None else (end, end)
    last = end or start
    if start > last:
        raise ValueError(f"start {start} is after end {last}")
    return start, last


def sync_window(start: date | None, end: date | None, today: date, rescan_days: int) -> SyncWindow:
    """An explicit range (a resync), or the last `rescan_days` days up to today (the incremental default)."""
    days = explicit_days(start, end)
    if days is None:
        return SyncWindow(first_day=today - timedelta(days=rescan_days), last_day=today)
    return SyncWindow(first_day=days[0], last_day=days[1], explicit=True)


def zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def local_date(entry: AworkTimeEntry, default_timezone: str) -> date | None:
    """The date of the entry's start in its own time zone (an entry at 23:30 in Berlin is on that Berlin date)."""
    start = entry.start_utc
    return start.astimezone(zone(entry.timezone, default_timezone)).date() if start else None


class LinkedProject(BaseModel):
    """What the rules need to know of a MOCO project linked to an awork project."""

    moco_id: int
    tasks_by_name: dict[str, int] = Field(default_factory=dict)  # normalized name -> active MOCO task id
    unassigned_task_id: int | None = None
    staffed: set[int] = Field(default_factory=set)  # MOCO user ids with an active contract


class PushContext(BaseModel):
    """Both sides' reference data for one push run."""

    projects: dict[str, LinkedProject]  # by awork project id
    moco_task_for_awork_task: dict[str, int]  # tasks the import created in awork, back to their MOCO task
    moco_user_by_email: dict[str, int]  # lower-cased e-mail -> MOCO user id
    awork_users: dict[str, AworkUser]
    types_of_work: dict[str, str] = Field(default_factory=dict)  # awork type of work id -> name
    app_url: str
    default_timezone: str = "Europe/Berlin"
    auto_staff: bool = True
    closed_projects: set[str] = Field(default_factory=set)  # awork ids whose MOCO project is archived or unflagged
    closed_tasks: set[int] = Field(default_factory=set)  # linked MOCO tasks deactivated or deleted in MOCO
    sync_since: date | None = None  # no entry before this local date is pushed

    def carries(self, entry: AworkTimeEntry) -> bool:
        """Whether the entry lies on or after the sync start (entries before it are never pushed, nor touched)."""
        day = local_date(entry, self.default_timezone)
        return self.sync_since is None or day is None or day >= self.sync_since

    def open_projects(self) -> dict[str, LinkedProject]:
        return {key: project for key, project in self.projects.items() if key not in self.closed_projects}

    def after_preparing(self, staffed: Iterable[Staffing], unassigned_tasks: Mapping[int, int]) -> PushContext:
        """The context once users were staffed and unassigned tasks created (for the run's next parts)."""
        staffed_by_project: dict[int, set[int]] = {}
        for staffing in staffed:
            staffed_by_project.setdefault(staffing.moco_project_id, set()).add(staffing.user_id)
        projects = {
            awork_id: project.model_copy(
                update={
                    "staffed": project.staffed | staffed_by_project.get(project.moco_id, set()),
                    "unassigned_task_id": project.unassigned_task_id or unassigned_tasks.get(project.moco_id),
                }
            )
            for awork_id, project in self.projects.items()
        }
        return self.model_copy(update={"projects": projects})


def type_of_work_name(entry: AworkTimeEntry, types_of_work: Mapping[str, str]) -> str | None:
    """The entry's type of work ("Tätigkeit"), as embedded in the entry or from the workspace's list."""
    if entry.type_of_work and entry.type_of_work.name:
        return entry.type_of_work.name
    return types_of_work.get(entry.type_of_work_id or "")


def match_task(
    entry: AworkTimeEntry,
    project: LinkedProject,
    moco_task_for_awork_task: Mapping[str, int],
    types_of_work: Mapping[str, str] | None = None,
) -> int | None:
    """Which MOCO task an entry books to: the linked task when its awork task came from MOCO, else the task named
    like its type of work (case, spacing and Unicode form ignored), else None (the project's unassigned task)."""
    if entry.task_id and (task_id := moco_task_for_awork_task.get(entry.task_id)):
        return task_id
    type_of_work = type_of_work_name(entry, types_of_work or {})
    if type_of_work:
        return project.tasks_by_name.get(normalize_name(type_of_work))
    return None


def description(entry: AworkTimeEntry, types_of_work: Mapping[str, str] | None = None) -> str:
    """The note, else the awork task's name (without the mark of a task closed in MOCO), else the type of work."""
    task_name = reopened_task_name(entry.task.name) if entry.task and entry.task.name else None
    for text in (entry.note, task_name, type_of_work_name(entry, types_of_work or {})):
        if text and text.strip():
            return text.strip()
    return ""


def settled_deletions(reported: Iterable[str], gone: Iterable[str], still_linked: Iterable[str]) -> list[str]:
    """The reported deletions a push is done with: entries whose activity link is gone (deleted, or never ours),
    and entries awork still has (nothing to delete). An entry deleted in awork whose activity is still linked (MOCO
    refused: billed) stays reported, so each run tries again while its sync issue stays open."""
    pending = set(gone) & set(still_linked)
    return sorted(entry_id for entry_id in set(reported) if entry_id not in pending)


def entry_ref(entry_id: str) -> str:
    return f"awork time entry {entry_id}"


def user_ref(user_id: str | None) -> str:
    return f"awork user {user_id}"


def draft_activity(entry: AworkTimeEntry, context: PushContext) -> ActivityDraft | IssueDraft | None:
    """The MOCO activity an entry should be; a sync issue when it cannot be; None when its project is not linked."""
    project = context.projects.get(entry.project_id or "")
    if project is None:
        return None
    user = context.awork_users.get(entry.user_id or "")
    email = user.email if user else None
    moco_user = context.moco_user_by_email.get(email.strip().lower()) if email else None
    if moco_user is None:
        who = f"{user.name} <{email}>" if user and email else (user.name if user else f"id {entry.user_id}")
        reason = "has no e-mail address" if user and not email else "has no MOCO account with that e-mail"
        return IssueDraft(
            kind="unknown user",
            object_ref=user_ref(entry.user_id),
            message=f"awork user {who} {reason}; their time is not pushed until a MOCO user has the same e-mail",
        )
    if moco_user not in project.staffed and not context.auto_staff:
        return IssueDraft(
            kind="user not staffed",
            object_ref=entry_ref(entry.id),
            message=f"MOCO user {moco_user} is not staffed on MOCO project {project.moco_id}; staff them there "
            f"(or turn on TIMEBRIDGE_MOCO_AUTO_STAFF)",
        )
    day = local_date(entry, context.default_timezone)
    if day is None or entry.duration is None:
        return IssueDraft(
            kind="malformed time entry",
            object_ref=entry_ref(entry.id),
            message=f"awork time entry {entry.id} has no start or no duration",
        )
    return ActivityDraft(
        entry_id=entry.id,
        user_id=moco_user,
        moco_project_id=project.moco_id,
        task_id=match_task(entry, project, context.moco_task_for_awork_task, context.types_of_work),
        date=day,
        seconds=max(0, entry.duration),
        description=description(entry, context.types_of_work),
        billable=entry.is_billable,
        remote_url=f"{context.app_url.rstrip('/')}/projects/{entry.project_id}/times" if context.app_url else None,
    )


def activities_to_read(
    entries: Iterable[AworkTimeEntry], links: Mapping[str, Link], gone: Iterable[str], context: PushContext
) -> tuple[list[str], list[int]]:
    """Which of our MOCO activities the plan must see: by remote_id for entries without a link (a crashed run or
    a wiped store may have created them), by id for linked entries that changed, moved away or were deleted."""
    remote_ids: list[str] = []
    ids: list[int] = []
    for entry in entries:
        if not context.carries(entry) or entry.project_id in context.closed_projects:
            continue
        draft = draft_activity(entry, context)
        link = links.get(entry.id)
        if isinstance(draft, IssueDraft):
            continue
        if link is None:
            if draft is not None:
                remote_ids.append(remote_id(entry.id))
        elif draft is None or link.source_hash != draft.hash:
            ids.append(int(link.target_id))
    ids += [int(links[entry_id].target_id) for entry_id in gone if entry_id in links]
    return remote_ids, ids


def plan_push(
    entries: Iterable[AworkTimeEntry],
    links: Mapping[str, Link],
    gone: Iterable[str],
    moco_activities: Iterable[MocoActivity],
    context: PushContext,
    held: Mapping[str, Link] | None = None,
) -> TimePlan:
    """Compare entries with the store's links and MOCO's activities of ours: what to create, update, delete.

    `links` are the activity links of the entries and of the window; `gone` the linked entries awork confirmed
    deleted; `moco_activities` ours as MOCO has them now (see `activities_to_read`), to adopt what a crashed run
    created and to leave billed activities alone. Entries before the sync start are left alone; entries on closed
    projects are held back (`held`: those held before, which are not reported again)."""
    plan = TimePlan()
    activities = list(moco_activities)
    by_remote_id = {a.remote_id: a for a in activities if a.remote_id}
    by_id = {a.id: a for a in activities}
    staffing: set[tuple[int, int]] = set()
    for entry in entries:
        if not context.carries(entry):
            continue
        plan.checked_refs += [entry_ref(entry.id), user_ref(entry.user_id)]
        draft = draft_activity(entry, context)
        link = links.get(entry.id)
        if link and isinstance(draft, ActivityDraft) and link.source_hash == draft.hash:
            plan.unchanged += 1
            continue
        if entry.project_id in context.closed_projects:
            plan.hold.append(
                HeldEntry(
                    entry_id=entry.id,
                    awork_project_id=entry.project_id or "",
                    day=local_date(entry, context.default_timezone) or date.min,
                    reported=entry.id in (held or {}),
                )
            )
            continue
        if isinstance(draft, IssueDraft):
            plan.issues.append(draft)
            continue
        current = by_id.get(int(link.target_id)) if link else by_remote_id.get(remote_id(entry.id))
        if draft is None:  # the entry's project is not linked (any more)
            if current:
                plan_removal(plan, current, entry.id, "moved to an awork project that is not linked to MOCO")
            continue
        if current and current.billed:
            plan.issues.append(billed_issue(current, entry.id, "changed in awork"))
            continue
        if draft.task_id is None:
            plan.unassigned_task_projects.append(draft.moco_project_id)
        if draft.user_id not in context.projects[entry.project_id or ""].staffed:
            staffing.add((draft.moco_project_id, draft.user_id))
        if current is None:  # new, or its activity was deleted in MOCO: (re)create it
            plan.create.append(draft)
        elif current.user.id != draft.user_id:  # an activity cannot change hands: delete it, create the new one
            plan_removal(plan, current, entry.id, "the awork entry moved to another user")
            plan.create.append(draft)
        elif (not link or current.task.id in context.closed_tasks) and matches(current, draft, context.closed_tasks):
            # found, or booked on a task closed in MOCO since and otherwise unchanged: it stays as it is
            plan.adopt.append(ActivityChange(activity_id=current.id, draft=draft))
        else:
            plan.update.append(ActivityChange(activity_id=current.id, draft=draft))
    for entry_id in sorted(set(gone)):
        plan.checked_refs.append(entry_ref(entry_id))
        link = links.get(entry_id)
        current = by_id.get(int(link.target_id)) if link else by_remote_id.get(remote_id(entry_id))
        if current is None:
            plan.forget.append(entry_id)  # gone on both sides
        else:
            plan_removal(plan, current, entry_id, "deleted in awork")
    plan.staff = [Staffing(moco_project_id=p, user_id=u) for p, u in sorted(staffing)]
    plan.unassigned_task_projects = sorted(set(plan.unassigned_task_projects))
    return plan


def held_issues(held: Iterable[HeldEntry], context: PushContext) -> list[IssueDraft]:
    """One report per closed project of the time entries held back on it for the first time (a run that meets no
    new time there reports nothing; the issue stays open until the project is open again)."""
    new: dict[str, dict[str, date]] = {}
    for entry in held:
        if not entry.reported:
            new.setdefault(entry.awork_project_id, {})[entry.entry_id] = entry.day
    issues = []
    for key, entries in sorted(new.items()):
        moco_id, days = context.projects[key].moco_id, sorted(entries.values())
        issues.append(
            IssueDraft(
                kind="project closed",
                object_ref=project_ref(moco_id),
                message=f"MOCO project {moco_id} is archived or no longer flagged for sync: {len(entries)} new awork "
                f"time entries on it ({days[0]} to {days[-1]}) are held back; they are pushed on the first run after "
                f"it is active and flagged again",
            )
        )
    return issues


def catch_up_days(
    context: PushContext,
    held: Iterable[Link],
    caught_up: Mapping[str, Link],
    first_link_day: date,
    window: SyncWindow,
) -> dict[str, SyncWindow]:
    """The days before the window whose entries open projects still need, by awork project: a project linked
    since the last run, from `first_link_day`; a project open again, from its first held-back entry. Never before
    the sync start."""
    starts: dict[str, date] = {}
    open_projects = context.open_projects()
    for key in open_projects:
        if key not in caught_up:
            starts[key] = first_link_day
    for link in held:
        if link.target_id in open_projects and link.source_day:
            starts[link.target_id] = min(starts.get(link.target_id, link.source_day), link.source_day)
    last_day = window.first_day - timedelta(days=1)
    parts = {
        key: SyncWindow(first_day=day, last_day=last_day).starting(context.sync_since) for key, day in starts.items()
    }
    return {key: days for key, days in sorted(parts.items()) if days.first_day <= days.last_day}


def plan_removal(plan: TimePlan, activity: MocoActivity, entry_id: str, reason: str) -> None:
    """Delete an activity of ours, unless it is billed (then it stays, reported)."""
    if activity.billed:
        plan.issues.append(billed_issue(activity, entry_id, reason))
    else:
        plan.delete.append(
            ActivityRemoval(activity_id=activity.id, user_id=activity.user.id, entry_id=entry_id, reason=reason)
        )


def matches(activity: MocoActivity, draft: ActivityDraft, closed_tasks: Iterable[int] = ()) -> bool:
    """Whether an activity already says what the draft says (the unassigned task matches any task, and any task
    matches an activity on a task closed in MOCO)."""
    return (
        activity.date == draft.date
        and activity.project.id == draft.moco_project_id
        and (draft.task_id is None or activity.task.id == draft.task_id or activity.task.id in set(closed_tasks))
        and activity.seconds == draft.seconds
        and (activity.description or "") == draft.description
        and activity.billable == draft.billable
    )


def billed_issue(activity: MocoActivity, entry_id: str, what: str) -> IssueDraft:
    return IssueDraft(
        kind="billed activity",
        object_ref=entry_ref(entry_id),
        message=f"awork time entry {entry_id}: {what}, but its MOCO activity {activity.id} of {activity.date} is "
        f"billed and is left as it is; correct the invoice in MOCO if needed",
    )
