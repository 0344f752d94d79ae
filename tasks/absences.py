"""Prefect tasks of "sync MOCO absences": read MOCO's absences (whole ranges), both sides' users and our awork
absences, and write the plan to awork; each safe to run twice."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from connectors.awork import AworkAbsence, AworkAbsenceForm, AworkClient
from connectors.http import ClientError, NotFoundError
from connectors.moco import MocoClient, MocoSchedule, MocoUser
from models.settings import get_settings
from models.store import IssueDraft, Store, open_store
from tasks.absence_rules import (
    ABSENCE,
    PROVIDER,
    AbsenceDraft,
    AbsencePlan,
    AbsenceRange,
    AbsenceResult,
    absence_days,
    absence_ref,
    awork_users_by_email,
    merge_days,
    open_edges,
)
from tasks.idempotent import create_once
from tasks.push_writes import is_retry
from tasks.shared import RETRY

WIDEN_DAYS = 31  # a range going on beyond the days read is followed this many days at a time
MAX_WIDENINGS = 24  # ... for at most two years each way


class AbsenceContext(BaseModel):
    """Both sides' people and our awork absences, for one run."""

    moco_users: dict[int, MocoUser]
    awork_user_by_email: dict[str, str]
    ours: list[AworkAbsence]  # every awork absence with our `externalProvider`


class MocoRanges(BaseModel):
    """MOCO's absence ranges, and the days read to see each of them whole."""

    ranges: list[AbsenceRange]
    first_day: date
    last_day: date


@task(name="read-absence-context", cache_policy=NO_CACHE, **RETRY)
def read_absence_context() -> AbsenceContext:
    """Active MOCO users, awork users by e-mail, and our awork absences (one filtered list)."""
    settings = get_settings()
    with MocoClient.from_settings(settings) as moco, AworkClient.from_settings(settings) as awork:
        moco_users = {user.id: user for user in moco.users() if user.active}
        by_email = awork_users_by_email(awork.users())
        ours = awork.absences(external_provider=PROVIDER)
    return AbsenceContext(moco_users=moco_users, awork_user_by_email=by_email, ours=ours)


@task(name="read-changed-moco-absences", cache_policy=NO_CACHE, **RETRY)
def read_changed_days(since: datetime, not_before: date | None) -> list[date]:
    """The days of MOCO absences created or changed after `since` (none before `not_before`)."""
    with MocoClient.from_settings(get_settings()) as moco:
        changed = moco.schedules(updated_after=since)
    return sorted({s.date for s in changed if not_before is None or s.date >= not_before})


@task(
    name="read-moco-absences",
    cache_policy=NO_CACHE,
    task_run_name="read-moco-absences {first_day} to {last_day}",
    **RETRY,
)
def read_moco_ranges(first_day: date, last_day: date, not_before: date | None) -> MocoRanges:
    """MOCO's absences on the days, merged into ranges; the read goes on, a month at a time, while a range may
    continue beyond it (never before `not_before`), so every range is seen whole."""
    with MocoClient.from_settings(get_settings()) as moco:
        schedules = moco.schedules(first_day, last_day)
        for _ in range(MAX_WIDENINGS):
            before, after = open_edges(merge_days(absence_days(schedules, not_before)), first_day, last_day)
            before = before and (not_before is None or first_day > not_before)
            if not (before or after):
                break
            if before:
                earlier = first_day - timedelta(days=WIDEN_DAYS)
                earlier = max(earlier, not_before) if not_before else earlier
                schedules += moco.schedules(earlier, first_day - timedelta(days=1))
                first_day = earlier
            if after:
                later = last_day + timedelta(days=WIDEN_DAYS)
                schedules += moco.schedules(last_day + timedelta(days=1), later)
                last_day = later
    ranges = merge_days(absence_days(unique(schedules), not_before))
    get_run_logger().info("read %d MOCO absence ranges (%s to %s)", len(ranges), first_day, last_day)
    return MocoRanges(ranges=ranges, first_day=first_day, last_day=last_day)


def unique(schedules: list[MocoSchedule]) -> list[MocoSchedule]:
    """Each absence once (reads of adjacent days never overlap, but an absence may move between them)."""
    return list({schedule.id: schedule for schedule in schedules}.values())


def found_by_content(awork: AworkClient, form: AworkAbsenceForm) -> AworkAbsence | None:
    """Our awork absence that already says what the form says (an earlier attempt wrote it), if any."""
    return next((a for a in awork.absences(external_provider=PROVIDER) if form.is_set_on(a)), None)


def awork_refused(draft_key: str, error: ClientError) -> IssueDraft:
    return IssueDraft(
        kind="awork rejected absence",
        object_ref=absence_ref(draft_key),
        message=f"awork refused the absence of MOCO range {draft_key}: {error.message}",
    )


@task(name="write-awork-absences", cache_policy=NO_CACHE, **RETRY)
def apply_absence_plan(plan: AbsencePlan) -> AbsenceResult:
    """Delete first (a range whose first day moved gets its new absence), then create, update and link; each
    write's link is saved at once. Safe to run twice: drafts already linked with their hash are skipped, and on a
    retry (or a lost answer) an absence that already says the same is linked instead of created again."""
    settings = get_settings()
    store = open_store(settings.database_url)
    result = AbsenceResult()
    dropped = list(plan.forget)
    with AworkClient.from_settings(settings) as awork:
        for removal in plan.delete:
            try:
                awork.delete_absence(removal.absence_id)
                result.absences_deleted += 1
            except NotFoundError:
                pass  # already gone
            except ClientError as error:
                result.issues.append(awork_refused(removal.key or removal.absence_id, error))
                continue
            if removal.key:
                dropped.append(removal.key)
        store.delete_links(ABSENCE, dropped)
        done = store.links(ABSENCE, source_ids=[d.key for d in plan.create])
        for draft in plan.create:
            if (link := done.get(draft.key)) and link.source_hash == draft.hash:
                continue
            result = result.merge(create_absence(awork, store, draft))
        for change in plan.update:
            try:
                awork.update_absence(change.absence_id, change.draft.form)
            except ClientError as error:
                result.issues.append(awork_refused(change.draft.key, error))
                continue
            store.save_links([change.draft.link(change.absence_id)])
            result.absences_updated += 1
        store.save_links([change.draft.link(change.absence_id) for change in plan.adopt])
        result.absences_linked += len(plan.adopt)
    return result


def create_absence(awork: AworkClient, store: Store, draft: AbsenceDraft) -> AbsenceResult:
    """Create one absence (or, on a retry or a lost answer, link the one an earlier attempt created)."""
    result = AbsenceResult()
    find = partial(found_by_content, awork, draft.form)
    try:
        existing = find() if is_retry() else None
        if existing is None:
            absence, created = create_once(partial(awork.create_absence, draft.form), find)
        else:
            absence, created = existing, False
    except ClientError as error:
        result.issues.append(awork_refused(draft.key, error))
        return result
    store.save_links([draft.link(absence.id)])
    if created:
        result.absences_created += 1
    else:
        result.absences_linked += 1
    return result
