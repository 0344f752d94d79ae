"""Prefect tasks of "push awork times": read both sides, then staff, create (in bulk), update and delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from connectors.awork import AworkClient, AworkTimeEntry
from connectors.http import ClientError, NotFoundError
from connectors.moco import BULK_MAX, ActivityFields, MocoActivity, MocoClient, chunks
from models.plans import ActivityChange, ActivityDraft, ActivityRemoval, PushResult, Staffing, remote_id
from models.settings import get_settings
from models.store import IssueDraft, LinkRecord, open_store
from tasks.idempotent import create_once
from tasks.project_rules import normalize_name
from tasks.shared import RETRY
from tasks.time_rules import AWORK_TAG, LinkedProject, PushContext, SyncWindow, entry_ref, local_date

ACTIVITY = "activity"
REMOTE_PREFIX = remote_id("")


@task(name="read-push-context", cache_policy=NO_CACHE, **RETRY)
def read_push_context() -> PushContext:
    """Linked projects (tasks and staffing from MOCO), the import's task links, and both sides' users."""
    settings = get_settings()
    store = open_store(settings.database_url)
    project_links = store.links("project")
    task_links = store.links("task")
    with MocoClient.from_settings(settings) as moco, AworkClient.from_settings(settings) as awork:
        moco_projects = moco.projects_by_ids([int(moco_id) for moco_id in project_links]) if project_links else []
        moco_users = moco.users()
        awork_users = awork.users()
        types_of_work = {t.id: t.name for t in awork.types_of_work() if t.name}
    projects = {}
    for project in moco_projects:
        tasks_by_name: dict[str, int] = {}
        for moco_task in project.tasks:
            if moco_task.active:
                tasks_by_name.setdefault(normalize_name(moco_task.name), moco_task.id)
        projects[project_links[str(project.id)].target_id] = LinkedProject(
            moco_id=project.id,
            tasks_by_name=tasks_by_name,
            unassigned_task_id=tasks_by_name.get(normalize_name(settings.moco_unassigned_task_name)),
            staffed={c.user_id for c in project.contracts if c.active},
        )
    return PushContext(
        projects=projects,
        moco_task_for_awork_task={link.target_id: int(moco_id) for moco_id, link in task_links.items()},
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
def read_time_entries(days: SyncWindow) -> list[AworkTimeEntry]:
    """Entries whose local date lies in the given days (1000 per page)."""
    settings = get_settings()
    start, end = days.utc_bounds()
    with AworkClient.from_settings(settings) as awork:
        entries = awork.time_entries(starting_from=start, starting_before=end)
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


@task(name="prepare-moco-projects", cache_policy=NO_CACHE, **RETRY)
def prepare_projects(
    staff: Sequence[Staffing], unassigned_task_projects: Sequence[int], context: PushContext
) -> tuple[dict[int, int], PushResult]:
    """Staff users on projects, and create each needed project's task for unassigned time once. Returns the
    unassigned task ids by MOCO project. Safe to run twice: a retry re-reads the staffing first, and the task is
    looked up by name before it is created."""
    settings = get_settings()
    result = PushResult()
    known = {p.moco_id: p.unassigned_task_id for p in context.projects.values() if p.unassigned_task_id}
    name = settings.moco_unassigned_task_name
    with MocoClient.from_settings(settings) as moco:
        if is_retry() and staff:
            projects = moco.projects_by_ids(sorted({s.moco_project_id for s in staff}))
            staffed = {(p.id, c.user_id) for p in projects for c in p.contracts if c.active}
            staff = [s for s in staff if (s.moco_project_id, s.user_id) not in staffed]
        for staffing in staff:
            try:
                moco.create_contract(staffing.moco_project_id, staffing.user_id)
                result.users_staffed += 1
            except ClientError as error:
                result.issues.append(
                    IssueDraft(
                        kind="staffing failed",
                        object_ref=f"moco project {staffing.moco_project_id}",
                        message=f"MOCO user {staffing.user_id} could not be staffed on MOCO project "
                        f"{staffing.moco_project_id}: {error.message}",
                    )
                )
        for project_id in unassigned_task_projects:
            if project_id in known:
                continue

            def find(project_id: int = project_id) -> int | None:
                tasks = moco.project_tasks(project_id)
                return next((t.id for t in tasks if normalize_name(t.name) == normalize_name(name)), None)

            task_id = find()  # an earlier attempt (or run) may have created it already
            if task_id is None:
                task_id, created = create_once(lambda p=project_id: moco.create_task(p, name).id, find)
                result.tasks_created += created
            known[project_id] = task_id
    return known, result


def is_retry() -> bool:
    """Whether this task run is a Prefect retry (an earlier attempt may have written part of its batch)."""
    return (task_run.run_count or 1) > 1


def activity_fields(draft: ActivityDraft, unassigned_tasks: dict[int, int]) -> ActivityFields:
    """The activity to write for a draft (the unassigned task filled in)."""
    return ActivityFields(
        date=draft.date,
        project_id=draft.moco_project_id,
        task_id=draft.task_id or unassigned_tasks[draft.moco_project_id],
        seconds=draft.seconds,
        description=draft.description,
        billable=draft.billable,
        tag=AWORK_TAG,
        remote_id=draft.remote_id,
        remote_url=draft.remote_url,
    )


def activity_link(draft: ActivityDraft, activity_id: int) -> LinkRecord:
    return LinkRecord(
        kind=ACTIVITY,
        source_id=draft.entry_id,
        target_id=str(activity_id),
        parent_id=str(draft.user_id),
        source_hash=draft.hash,
        source_day=draft.date,
    )


def moco_refused(entry_id: str, error: ClientError) -> IssueDraft:
    return IssueDraft(
        kind="moco rejected activity",
        object_ref=entry_ref(entry_id),
        message=f"MOCO refused the activity for awork time entry {entry_id}: {error.message}",
    )


@task(name="create-activities", cache_policy=NO_CACHE, **RETRY)
def create_activities(user_id: int, drafts: list[ActivityDraft], unassigned_tasks: dict[int, int]) -> PushResult:
    """Create one user's new activities in bulk (100 per request, as that user); a lost answer is resolved by
    looking the activities up by remote_id, a refused bulk by creating its items one by one. Safe to run twice:
    drafts an earlier attempt created (linked with the same hash, or, on a retry, found in MOCO by remote_id) are
    linked, never sent again."""
    settings = get_settings()
    store = open_store(settings.database_url)
    result = PushResult()
    done = store.links(ACTIVITY, source_ids=[d.entry_id for d in drafts])
    drafts = [d for d in drafts if not ((link := done.get(d.entry_id)) and link.source_hash == d.hash)]
    with MocoClient.from_settings(settings) as moco:
        if is_retry() and drafts:
            found = {a.remote_id: a for a in moco.activities(remote_ids=[d.remote_id for d in drafts])}
            adopted = [activity_link(d, found[d.remote_id].id) for d in drafts if d.remote_id in found]
            store.save_links(adopted)
            result.activities_linked += len(adopted)
            drafts = [d for d in drafts if d.remote_id not in found]
        for chunk in chunks(drafts, BULK_MAX):
            fields = [activity_fields(d, unassigned_tasks) for d in chunk]
            by_remote_id = {d.remote_id: d for d in chunk}
            try:
                created, _ = create_once(
                    lambda f=fields: moco.create_activities(user_id, f),
                    lambda ids=list(by_remote_id): moco.activities(remote_ids=ids) or None,
                )
            except ClientError:
                created = []
                for draft, one in zip(chunk, fields, strict=True):
                    try:
                        created.append(moco.create_activity(user_id, one))
                    except ClientError as error:
                        result.issues.append(moco_refused(draft.entry_id, error))
            links = [activity_link(by_remote_id[a.remote_id], a.id) for a in created if a.remote_id in by_remote_id]
            store.save_links(links)
            result.activities_created += len(links)
    return result


@task(name="update-activities", cache_policy=NO_CACHE, **RETRY)
def update_activities(
    changes: list[ActivityChange], adopted: list[ActivityChange], unassigned_tasks: dict[int, int]
) -> PushResult:
    """Update changed activities (as their owner) and link the ones found already right."""
    settings = get_settings()
    store = open_store(settings.database_url)
    result = PushResult(activities_linked=len(adopted))
    links = [activity_link(change.draft, change.activity_id) for change in adopted]
    with MocoClient.from_settings(settings) as moco:
        for change in changes:
            try:
                moco.update_activity(
                    change.draft.user_id, change.activity_id, activity_fields(change.draft, unassigned_tasks)
                )
            except ClientError as error:
                result.issues.append(moco_refused(change.draft.entry_id, error))
                continue
            links.append(activity_link(change.draft, change.activity_id))
            result.activities_updated += 1
    store.save_links(links)
    return result


@task(name="delete-activities", cache_policy=NO_CACHE, **RETRY)
def delete_activities(removals: list[ActivityRemoval], forget: list[str]) -> PushResult:
    """Delete activities whose entries are gone (or moved away), and drop their links."""
    settings = get_settings()
    store = open_store(settings.database_url)
    result = PushResult()
    dropped = list(forget)
    with MocoClient.from_settings(settings) as moco:
        for removal in removals:
            try:
                moco.delete_activity(removal.user_id, removal.activity_id)
                result.activities_deleted += 1
            except NotFoundError:
                pass  # already gone
            except ClientError as error:
                result.issues.append(moco_refused(removal.entry_id, error))
                continue
            dropped.append(removal.entry_id)
    store.delete_links(ACTIVITY, dropped)
    return result


def missing_entries(
    links: Mapping[str, object], entries: Sequence[AworkTimeEntry], ours: Sequence[MocoActivity] = ()
) -> list[str]:
    """Entries we linked, or have activities for, that are not among those read: deleted, or moved away."""
    seen = {entry.id for entry in entries}
    known = set(links) | {a.remote_id.removeprefix(REMOTE_PREFIX) for a in ours if a.remote_id}
    return sorted(entry_id for entry_id in known if entry_id not in seen)
