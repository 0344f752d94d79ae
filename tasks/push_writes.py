"""Prefect tasks of "push awork times" that write to MOCO: staff users and create the unassigned tasks, then delete,
create (in bulk, per user) and update activities; each safe to run twice."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.runtime import task_run

from connectors.http import ClientError, NotFoundError
from connectors.moco import BULK_MAX, ActivityFields, MocoActivity, MocoClient, chunks
from models.plans import ActivityChange, ActivityDraft, ActivityRemoval, HeldEntry, PushResult, Staffing, TimePlan
from models.settings import get_settings
from models.store import IssueDraft, LinkRecord, open_store
from tasks.idempotent import create_once
from tasks.project_rules import normalize_name
from tasks.shared import RETRY
from tasks.time_rules import ACTIVITY, AWORK_TAG, HELD, PushContext, entry_ref


def apply_plan(plan: TimePlan, context: PushContext) -> tuple[PushResult, PushContext]:
    """Staff and prepare projects, delete first (so an entry that changed hands gets its new activity), then
    create per user in bulk and update, in parallel batches. Returns what was done and the context afterwards
    (staffing, unassigned tasks)."""
    settings = get_settings()
    if plan.hold:
        open_store(settings.database_url).save_links([held_link(h) for h in plan.hold])
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


def held_link(held: HeldEntry) -> LinkRecord:
    return LinkRecord(kind=HELD, source_id=held.entry_id, target_id=held.awork_project_id, source_day=held.day)


def days(drafts: list[ActivityDraft]) -> str:
    """The dates a batch of activities covers, for the names of task runs."""
    dates = sorted({d.date for d in drafts})
    return f"{dates[0]} to {dates[-1]}" if dates else "no days"


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
            find = partial(find_task_id, moco, project_id, name)
            found = find()  # an earlier attempt (or run) may have created it already
            if found is None:
                made, created = create_once(partial(create_task_id, moco, project_id, name), find)
                result.tasks_created += created
                found = made
            known[project_id] = found
    return known, result


def find_task_id(moco: MocoClient, project_id: int, name: str) -> int | None:
    """The id of the project's task of this name (compared as names are), if it has one."""
    wanted = normalize_name(name)
    return next((t.id for t in moco.project_tasks(project_id) if normalize_name(t.name) == wanted), None)


def create_task_id(moco: MocoClient, project_id: int, name: str) -> int:
    return moco.create_task(project_id, name).id


def activities_found(moco: MocoClient, remote_ids: list[str]) -> list[MocoActivity] | None:
    """Our activities with these remote ids, if MOCO has any (None otherwise, for `create_once`)."""
    return moco.activities(remote_ids=remote_ids) or None


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
                    partial(moco.create_activities, user_id, fields),
                    partial(activities_found, moco, list(by_remote_id)),
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
