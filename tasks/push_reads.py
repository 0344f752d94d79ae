"""Prefect tasks of "push awork times" that read: the context (linked projects, users), awork time entries of a
slice of days or changed since the cursor, and what a part of the run needs to be planned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from connectors.awork import AworkClient, AworkTimeEntry
from connectors.http import NotFoundError
from connectors.moco import MocoActivity, MocoClient
from models.settings import get_settings
from models.store import Link, Store, open_store
from tasks.import_projects import import_names
from tasks.project_rules import is_in_scope, normalize_name
from tasks.shared import RETRY
from tasks.time_rules import (
    ACTIVITY,
    AWORK_TAG,
    HELD,
    REMOTE_PREFIX,
    LinkedProject,
    PushContext,
    SyncWindow,
    activities_to_read,
    local_date,
)


class PartReads(BaseModel):
    """What planning one part of a push needs: its entries (with those that moved in), their links, the entries
    awork confirms deleted, and our MOCO activities of them."""

    entries: list[AworkTimeEntry]
    links: dict[str, Link]
    gone: list[str]
    activities: list[MocoActivity]
    held: dict[str, Link]  # entries held back before (on closed projects)


def read_part(
    store: Store,
    entries: list[AworkTimeEntry],
    context: PushContext,
    days: SyncWindow | None,
    reported_deleted: Sequence[str] = (),
) -> PartReads:
    """Read what a part of the run needs: its entries' links (and, for a slice of days, the links of those days,
    to find deleted entries; for a resync also our MOCO activities of those days, in case links were lost; and the
    links of entries awork reported deleted), what awork says of missing entries, and our MOCO activities."""
    links = store.links(ACTIVITY, days=(days.first_day, days.last_day)) if days else {}
    links.update(store.links(ACTIVITY, source_ids=[e.id for e in entries] + list(reported_deleted)))
    ours = read_our_activities_between(days) if days and days.explicit else []
    gone, moved = confirm_deleted(missing_entries(links, entries, ours))
    entries = entries + moved
    remote_ids, ids = activities_to_read(entries, links, gone, context)
    known = {a.remote_id for a in ours}
    activities = read_moco_activities([r for r in remote_ids if r not in known], ids) + ours
    on_closed = [e.id for e in entries if e.project_id in context.closed_projects]
    held = store.links(HELD, source_ids=on_closed) if on_closed else {}
    return PartReads(entries=entries, links=links, gone=gone, activities=activities, held=held)


@task(name="read-push-context", cache_policy=NO_CACHE, **RETRY)
def read_push_context() -> PushContext:
    """Linked projects (tasks and staffing from MOCO; archived or unflagged ones are closed), the import's task
    links of tasks still active in MOCO, and both sides' users."""
    settings = get_settings()
    names = import_names(settings)
    store = open_store(settings.database_url)
    project_links = store.links("project")
    task_links = store.links("task")
    with MocoClient.from_settings(settings) as moco, AworkClient.from_settings(settings) as awork:
        moco_projects = moco.projects_by_ids([int(moco_id) for moco_id in project_links]) if project_links else []
        moco_users = moco.users()
        awork_users = awork.users()
        types_of_work = {t.id: t.name for t in awork.types_of_work() if t.name}
    projects = {}
    closed: set[str] = set()
    for project in moco_projects:
        awork_id = project_links[str(project.id)].target_id
        if not (project.active and is_in_scope(project, names)):
            closed.add(awork_id)
        tasks_by_name: dict[str, int] = {}
        for moco_task in project.tasks:
            if moco_task.active:
                tasks_by_name.setdefault(normalize_name(moco_task.name), moco_task.id)
        projects[awork_id] = LinkedProject(
            moco_id=project.id,
            tasks_by_name=tasks_by_name,
            unassigned_task_id=tasks_by_name.get(normalize_name(settings.moco_unassigned_task_name)),
            staffed={c.user_id for c in project.contracts if c.active},
        )
    active_tasks = {t.id for p in moco_projects for t in p.tasks if t.active}
    return PushContext(
        projects=projects,
        moco_task_for_awork_task={
            link.target_id: int(moco_id) for moco_id, link in task_links.items() if int(moco_id) in active_tasks
        },
        closed_projects=closed,
        closed_tasks={int(moco_id) for moco_id in task_links if int(moco_id) not in active_tasks},
        sync_since=settings.sync_since,
        moco_user_by_email={u.email.strip().lower(): u.id for u in moco_users if u.email and u.active},
        awork_users={u.id: u for u in awork_users},
        types_of_work=types_of_work,
        app_url=settings.awork_app_url,
        default_timezone=settings.timezone,
        auto_staff=settings.moco_auto_staff,
    )


@task(
    name="read-awork-time-entries",
    cache_policy=NO_CACHE,
    task_run_name="read-awork-time-entries {days.first_day} to {days.last_day}",
    **RETRY,
)
def read_time_entries(days: SyncWindow, project_id: str | None = None) -> list[AworkTimeEntry]:
    """Entries (of one awork project, if given) whose local date lies in the given days (1000 per page)."""
    settings = get_settings()
    start, end = days.utc_bounds()
    with AworkClient.from_settings(settings) as awork:
        entries = awork.time_entries(starting_from=start, starting_before=end, project_id=project_id)
    kept = [e for e in entries if (day := local_date(e, settings.timezone)) and days.contains(day)]
    get_run_logger().info("read %d awork time entries (%s to %s)", len(kept), days.first_day, days.last_day)
    return kept


@task(name="read-changed-awork-time-entries", cache_policy=NO_CACHE, **RETRY)
def read_changed_entries(since: datetime, window: SyncWindow) -> list[AworkTimeEntry]:
    """Entries changed since `since` whose local date lies outside the window (the window's own are read anyway)."""
    settings = get_settings()
    with AworkClient.from_settings(settings) as awork:
        entries = awork.time_entries_updated_since(since)
    return [e for e in entries if not ((day := local_date(e, settings.timezone)) and window.contains(day))]


@task(name="confirm-deleted-entries", cache_policy=NO_CACHE, **RETRY)
def confirm_deleted(entry_ids: Sequence[str]) -> tuple[list[str], list[AworkTimeEntry]]:
    """Of linked entries no longer in the window: those awork confirms deleted, and those that only moved."""
    gone: list[str] = []
    moved: list[AworkTimeEntry] = []
    if not entry_ids:
        return gone, moved
    with AworkClient.from_settings(get_settings()) as awork:
        for entry_id in entry_ids:
            try:
                moved.append(awork.time_entry(entry_id))
            except NotFoundError:
                gone.append(entry_id)
    return gone, moved


@task(name="read-moco-activities", cache_policy=NO_CACHE, **RETRY)
def read_moco_activities(remote_ids: Sequence[str], ids: Sequence[int]) -> list[MocoActivity]:
    """Our activities as MOCO has them now (100 remote ids or ids per request)."""
    if not remote_ids and not ids:
        return []
    with MocoClient.from_settings(get_settings()) as moco:
        return moco.activities(remote_ids=remote_ids, ids=ids)


@task(name="read-moco-activities-of-days", cache_policy=NO_CACHE, **RETRY)
def read_our_activities_between(days: SyncWindow) -> list[MocoActivity]:
    """Our activities (tag `awork`) on the given days, to find those of entries deleted while the store had no
    link to them (a resync reconciles the whole range)."""
    with MocoClient.from_settings(get_settings()) as moco:
        found = moco.activities_between(days.first_day, days.last_day, tag=AWORK_TAG)
    return [a for a in found if a.remote_id and a.remote_id.startswith(REMOTE_PREFIX)]


def missing_entries(
    links: Mapping[str, object], entries: Sequence[AworkTimeEntry], ours: Sequence[MocoActivity] = ()
) -> list[str]:
    """Entries we linked, or have activities for, that are not among those read: deleted, or moved away."""
    seen = {entry.id for entry in entries}
    known = set(links) | {a.remote_id.removeprefix(REMOTE_PREFIX) for a in ours if a.remote_id}
    return sorted(entry_id for entry_id in known if entry_id not in seen)
